"""Moving a profile's rows when profiles merge, and giving them back when a merge is undone."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from omniloom.customers.models import (
    ConsentRecord,
    CustomerEvent,
    CustomerIdentifier,
    CustomerPurchase,
    LoyaltyAccount,
    LoyaltyEntry,
)

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


def move_loyalty_balance(session: Session, *, source: str, target: str, now: datetime) -> None:
    """Add the points of ``source`` to ``target`` (locking ``source``'s account first)."""
    balance = session.scalar(select(LoyaltyAccount.balance).where(LoyaltyAccount.profile_id == source)
                             .with_for_update())
    if not balance:
        return
    ensure_loyalty_accounts(session, [target], now=now)
    session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id == source)
                    .values(balance=0, updated_at=now))
    session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id == target)
                    .values(balance=LoyaltyAccount.balance + balance, updated_at=now))


def return_rows(session: Session, *, origins: Collection[str], holder: str, owner: str, now: datetime) -> None:
    """Give the rows that started on ``origins`` and now sit with ``holder`` back to ``owner``."""
    for table in MOVABLE_TABLES:
        session.execute(update(table).where(table.c.profile_id == holder, table.c.origin_profile_id.in_(origins))
                        .values(profile_id=owner))
    ensure_loyalty_accounts(session, [holder, owner], now=now)
    for profile_id in (holder, owner):
        total = session.scalar(select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
                               .where(LoyaltyEntry.profile_id == profile_id))
        session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id == profile_id)
                        .values(balance=total, updated_at=now))
