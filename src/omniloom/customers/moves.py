"""Moving a profile's rows when profiles merge, and giving them back when a merge is undone."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from omniloom.customers.bulk import chunks, member, repoint, update_rows
from omniloom.customers.locks import lock_row_moves
from omniloom.customers.models import (
    ConsentRecord,
    CustomerEvent,
    CustomerIdentifier,
    CustomerProfile,
    CustomerPurchase,
    LoyaltyAccount,
    LoyaltyEntry,
)

_PROFILES = cast(Table, CustomerProfile.__table__)
MOVABLE_TABLES: tuple[Table, ...] = tuple(
    cast(Table, model.__table__)
    for model in (CustomerIdentifier, CustomerEvent, CustomerPurchase, ConsentRecord, LoyaltyEntry)
)


def ensure_loyalty_accounts(session: Session, profile_ids: Sequence[str], *, now: datetime) -> None:
    """Create the (empty) points accounts of these profiles where they do not exist yet."""
    existing = set(session.scalars(select(LoyaltyAccount.profile_id)
                                   .where(LoyaltyAccount.profile_id.in_(profile_ids))))
    missing = [{"profile_id": p, "balance": 0, "updated_at": now} for p in dict.fromkeys(profile_ids)
               if p not in existing]
    if missing:
        session.execute(insert(LoyaltyAccount), missing)


def move_profiles(session: Session, targets: Mapping[str, str], *, now: datetime) -> None:
    """Point every row of each merged profile (and of profiles merged into it) at its survivor, a few statements
    for any number of merges; their points move with them."""
    if not targets:
        return
    lock_row_moves(session)
    sources = sorted(targets)
    update_rows(session, _PROFILES, [{"id": source, "merged_into": targets[source], "updated_at": now}
                                     for source in sources], key="id")
    repoint(session, _PROFILES, "merged_into", targets, updated_at=now)
    for table in MOVABLE_TABLES:
        repoint(session, table, "profile_id", targets)
    balances = [row for chunk in chunks(session, sources) for row in session.execute(
        select(LoyaltyAccount.profile_id, LoyaltyAccount.balance)
        .where(member(session, LoyaltyAccount.profile_id, chunk, "sources"), LoyaltyAccount.balance != 0)
        .order_by(LoyaltyAccount.profile_id).with_for_update())]
    if not balances:
        return
    gained: dict[str, int] = {}
    for row in balances:
        gained[targets[row.profile_id]] = gained.get(targets[row.profile_id], 0) + row.balance
    session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id.in_([row.profile_id for row in balances]))
                    .values(balance=0, updated_at=now))
    ensure_loyalty_accounts(session, list(gained), now=now)
    for profile_id, points in gained.items():
        session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id == profile_id)
                        .values(balance=LoyaltyAccount.balance + points, updated_at=now))


def return_rows(session: Session, *, origins: Collection[str], holder: str, owner: str, now: datetime) -> None:
    """Give the rows that started on ``origins`` and now sit with ``holder`` back to ``owner``."""
    lock_row_moves(session)
    for table in MOVABLE_TABLES:
        session.execute(update(table).where(table.c.profile_id == holder, table.c.origin_profile_id.in_(origins))
                        .values(profile_id=owner))
    ensure_loyalty_accounts(session, [holder, owner], now=now)
    for profile_id in (holder, owner):
        total = session.scalar(select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
                               .where(LoyaltyEntry.profile_id == profile_id))
        session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id == profile_id)
                        .values(balance=total, updated_at=now))
