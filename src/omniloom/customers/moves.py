"""Moving a profile's rows when profiles merge, and giving them back when a merge is undone."""

from __future__ import annotations

from collections.abc import Collection
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


def ensure_loyalty_account(session: Session, profile_id: str, *, now: datetime) -> None:
    """Create the (empty) points account of ``profile_id`` unless it exists."""
    exists = session.scalar(select(LoyaltyAccount.profile_id).where(LoyaltyAccount.profile_id == profile_id))
    if exists is None:
        session.execute(insert(LoyaltyAccount), {"profile_id": profile_id, "balance": 0, "updated_at": now})


def move_loyalty_balance(session: Session, *, source: str, target: str, now: datetime) -> None:
    """Add the points of ``source`` to ``target`` (locking ``source``'s account first)."""
    balance = session.scalar(select(LoyaltyAccount.balance).where(LoyaltyAccount.profile_id == source)
                             .with_for_update())
    if not balance:
        return
    ensure_loyalty_account(session, target, now=now)
    session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id == source)
                    .values(balance=0, updated_at=now))
    session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id == target)
                    .values(balance=LoyaltyAccount.balance + balance, updated_at=now))


def return_rows(session: Session, *, origins: Collection[str], holder: str, owner: str, now: datetime) -> None:
    """Give the rows that started on ``origins`` and now sit with ``holder`` back to ``owner``."""
    for table in MOVABLE_TABLES:
        session.execute(update(table).where(table.c.profile_id == holder, table.c.origin_profile_id.in_(origins))
                        .values(profile_id=owner))
    for profile_id in (holder, owner):
        ensure_loyalty_account(session, profile_id, now=now)
        total = session.scalar(select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
                               .where(LoyaltyEntry.profile_id == profile_id))
        session.execute(update(LoyaltyAccount).where(LoyaltyAccount.profile_id == profile_id)
                        .values(balance=total, updated_at=now))
