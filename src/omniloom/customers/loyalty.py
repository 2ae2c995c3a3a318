"""Loyalty: a points ledger per person, earned on purchases from any channel, redeemable on any channel.

The balance changes only together with a ledger entry, by a conditional update (``balance >= points`` for a
redemption), so two channels redeeming the same points at once cannot both succeed. Tiers come from rolling spend.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from babel.numbers import get_currency_precision
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from omniloom.customers.errors import NotEnoughPoints
from omniloom.customers.events import LoyaltyPointsRedeemed
from omniloom.customers.models import CustomerPurchase, LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from omniloom.customers.moves import ensure_loyalty_accounts
from omniloom.customers.schemas import LoyaltyProgramIn
from omniloom.platform.clock import Clock
from omniloom.platform.errors import Conflict, FieldError
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import record

PROGRAM = "default"


@dataclass(frozen=True)
class EarnedPurchase:
    profile_id: str
    origin_profile_id: str
    channel: str
    order_id: str
    amount: int
    currency: str
    occurred_at: datetime


@dataclass(frozen=True)
class Standing:
    balance: int
    tier: str | None
    rolling_spend: int | None
    currency: str | None
    next_tier: str | None
    spend_to_next_tier: int | None


def get_program(session: Session) -> LoyaltyProgram | None:
    """The earning rules and tiers, or None when no program is set up (then nothing is earned)."""
    return session.get(LoyaltyProgram, PROGRAM)


def set_program(session: Session, *, data: LoyaltyProgramIn, clock: Clock) -> LoyaltyProgram:
    """Create or replace the program; it applies to purchases recorded from now on."""
    program = get_program(session)
    values = data.model_dump(mode="json")
    if program is None:
        program = LoyaltyProgram(code=PROGRAM, updated_at=clock.now(), **values)
        session.add(program)
    else:
        for name, value in values.items():
            setattr(program, name, value)
        program.updated_at = clock.now()
    session.flush()
    return program


def points_for(program: LoyaltyProgram, *, amount: int, currency: str, channel: str) -> int:
    """Points a purchase earns: whole currency units × points per unit × the channel's multiplier (rounded down)."""
    if currency != program.currency or amount <= 0:
        return 0
    units = amount / 10 ** get_currency_precision(currency)
    return int(units * program.points_per_unit * program.channel_multipliers.get(channel, 1.0))


def earn(session: Session, purchases: Sequence[EarnedPurchase], *, now: datetime) -> int:
    """Credit the points of newly recorded purchases; returns the points credited."""
    program = get_program(session)
    if program is None or not purchases:
        return 0
    entries = []
    per_profile: dict[str, int] = defaultdict(int)
    for purchase in purchases:
        points = points_for(program, amount=purchase.amount, currency=purchase.currency, channel=purchase.channel)
        if points:
            entries.append({"profile_id": purchase.profile_id, "origin_profile_id": purchase.origin_profile_id,
                            "kind": "earn", "points": points, "channel": purchase.channel,
                            "reference": f"{purchase.channel}:{purchase.order_id}", "spend_amount": purchase.amount,
                            "currency": purchase.currency, "occurred_at": purchase.occurred_at})
            per_profile[purchase.profile_id] += points
    if not entries:
        return 0
    session.execute(insert(LoyaltyEntry), entries)
    ensure_loyalty_accounts(session, list(per_profile), now=now)
    accounts = cast(Table, LoyaltyAccount.__table__)
    session.connection().execute(
        update(accounts).where(accounts.c.profile_id == bindparam("owner"))
        .values(balance=accounts.c.balance + bindparam("points"), updated_at=now),
        [{"owner": profile_id, "points": points} for profile_id, points in per_profile.items()])
    return sum(per_profile.values())


def redeem(session: Session, *, profile_id: str, points: int, channel: str, reference: str | None,
           clock: Clock) -> tuple[str, int]:
    """Spend ``points`` on ``channel``; returns (reference, new balance). Refused when the balance is short."""
    now = clock.now()
    reference = reference or new_id("red")
    duplicate = session.scalar(select(LoyaltyEntry.id).where(LoyaltyEntry.kind == "redeem",
                                                            LoyaltyEntry.reference == reference))
    if duplicate is not None:
        raise Conflict(f"redemption '{reference}' was already made", errors=[FieldError("reference", "already used")])
    taken = session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.profile_id == profile_id, LoyaltyAccount.balance >= points)
        .values(balance=LoyaltyAccount.balance - points, updated_at=now)
        .returning(LoyaltyAccount.balance)
    ).scalar()
    if taken is None:
        balance = session.scalar(select(LoyaltyAccount.balance).where(LoyaltyAccount.profile_id == profile_id)) or 0
        raise NotEnoughPoints(f"the customer has {balance} points; {points} cannot be redeemed",
                              balance=balance, requested=points)
    session.execute(insert(LoyaltyEntry), {
        "profile_id": profile_id, "origin_profile_id": profile_id, "kind": "redeem", "points": -points,
        "channel": channel, "reference": reference, "spend_amount": 0, "currency": None, "occurred_at": now})
    record(session, LoyaltyPointsRedeemed(customer_id=profile_id, points=points, channel=channel,
                                          reference=reference, balance=taken), clock=clock)
    return reference, taken


def standing(session: Session, *, profile_id: str, now: datetime) -> Standing:
    """Balance, tier from spend in the program's rolling window, and what the next tier needs."""
    balance = session.scalar(select(LoyaltyAccount.balance).where(LoyaltyAccount.profile_id == profile_id)) or 0
    program = get_program(session)
    if program is None:
        return Standing(balance, None, None, None, None, None)
    spend = session.scalar(
        select(func.coalesce(func.sum(CustomerPurchase.amount), 0))
        .where(CustomerPurchase.profile_id == profile_id, CustomerPurchase.currency == program.currency,
               CustomerPurchase.occurred_at > now - timedelta(days=program.tier_window_days))
    ) or 0
    tiers = sorted(program.tiers, key=lambda tier: tier["min_spend"])
    reached = [tier for tier in tiers if spend >= tier["min_spend"]]
    ahead = [tier for tier in tiers if spend < tier["min_spend"]]
    return Standing(balance, reached[-1]["name"] if reached else None, spend, program.currency,
                    ahead[0]["name"] if ahead else None, ahead[0]["min_spend"] - spend if ahead else None)


def entries(session: Session, *, profile_id: str, limit: int = 100) -> list[LoyaltyEntry]:
    """The newest ledger lines of a profile."""
    return list(session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.profile_id == profile_id)
                                .order_by(LoyaltyEntry.occurred_at.desc(), LoyaltyEntry.id.desc()).limit(limit)))
