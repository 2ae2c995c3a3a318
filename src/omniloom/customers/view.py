"""The customer 360 view: one person as every channel, the store and customer service see them."""

from __future__ import annotations

from datetime import datetime

from babel.numbers import get_currency_precision
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloom.channels import service as channels
from omniloom.customers import lifetime, loyalty, schemas, service
from omniloom.customers.models import CustomerEvent, CustomerProfile, CustomerPurchase
from omniloom.platform.money import Money

PHYSICAL_CHANNEL_TYPES = frozenset({"pos"})
IN_STORE_EVENTS = frozenset({"store_visit"})
TIMELINE_PAGE = 50


def loyalty_out(session: Session, profile_id: str, *, now: datetime) -> schemas.LoyaltyOut:
    standing = loyalty.standing(session, profile_id=profile_id, now=now)
    spend = (Money(amount=standing.rolling_spend, currency=standing.currency)
             if standing.rolling_spend is not None and standing.currency else None)
    return schemas.LoyaltyOut(balance=standing.balance, tier=standing.tier, rolling_spend=spend,
                              next_tier=standing.next_tier, spend_to_next_tier=standing.spend_to_next_tier)


def _channels_used(session: Session, profile_id: str) -> dict[str, int]:
    rows = session.execute(select(CustomerEvent.channel, func.count()).where(CustomerEvent.profile_id == profile_id)
                           .group_by(CustomerEvent.channel))
    return {row[0]: row[1] for row in rows}


def _in_store(session: Session, profile_id: str) -> bool:
    return session.scalar(select(CustomerEvent.id).where(CustomerEvent.profile_id == profile_id,
                                                         CustomerEvent.type.in_(IN_STORE_EVENTS)).limit(1)) is not None


def traits(session: Session, profile_id: str, history: list[CustomerPurchase], *, now: datetime) -> schemas.Traits:
    """Recency, frequency, monetary, RFM segment, channels, omnichannel and the lifetime-value prediction."""
    used = _channels_used(session, profile_id)
    types = {channel.code: channel.type for channel in channels.list_channels(session, limit=500,
                                                                               codes=sorted(used))[0]}
    physical = _in_store(session, profile_id) or any(types.get(code) in PHYSICAL_CHANNEL_TYPES for code in used)
    digital = any(types.get(code) not in PHYSICAL_CHANNEL_TYPES for code in used)
    bought_on = [purchase.channel for purchase in history]
    preferred = lifetime.most_common(bought_on) or (max(sorted(used), key=lambda c: used[c]) if used else None)
    base = dict(channels=sorted(used), preferred_channel=preferred, omnichannel=physical and digital)
    model = service.latest_clv_model(session)
    if not history:
        return schemas.Traits(first_purchase_at=None, last_purchase_at=None, recency_days=None, frequency=0,
                              monetary=None, rfm=None, segment="prospect", expected_purchases=None,
                              probability_alive=None, expected_value=None, horizon=None, **base)
    currency = lifetime.most_common([purchase.currency for purchase in history]) or history[0].currency
    spend = sum(purchase.amount for purchase in history if purchase.currency == currency)
    last = history[-1].occurred_at
    recency = lifetime.recency_days(last, now)
    purchase_days = len({purchase.occurred_at.date() for purchase in history})
    rfm, segment = None, None
    if model is not None:
        bounds = model.rfm_boundaries
        scores = (lifetime.rfm_score(recency, bounds["recency_days"], lower_is_better=True),
                  lifetime.rfm_score(purchase_days, bounds["frequency"]),
                  lifetime.rfm_score(spend / 10 ** get_currency_precision(currency), bounds["monetary"]))
        rfm, segment = "-".join(str(score) for score in scores), lifetime.segment(scores[0], scores[1])
    prediction = lifetime.predict(model, history, now=now) if model is not None else None
    return schemas.Traits(
        first_purchase_at=history[0].occurred_at, last_purchase_at=last, recency_days=recency,
        frequency=purchase_days, monetary=Money(amount=spend, currency=currency), rfm=rfm, segment=segment,
        expected_purchases=prediction.expected_purchases if prediction else None,
        probability_alive=prediction.probability_alive if prediction else None,
        expected_value=(Money(amount=prediction.expected_value, currency=model.currency)
                        if prediction and model else None),
        horizon=f"{model.horizon} {model.time_unit}s" if model else None, **base)


def customer_360(session: Session, profile: CustomerProfile, *, requested_id: str, now: datetime
                 ) -> schemas.CustomerOut:
    """Everything about the person in one document (events: the newest page)."""
    history = service.purchases(session, profile.id)
    events, next_cursor = service.timeline(session, profile.id, limit=TIMELINE_PAGE, cursor=None)
    return schemas.CustomerOut(
        id=profile.id, merged_into=profile.id if requested_id != profile.id else None,
        merged_ids=service.merged_ids(session, profile.id), created_at=profile.created_at,
        erased=profile.erased_at is not None, attributes=profile.attributes,
        identities=[schemas.IdentityOut.model_validate(row, from_attributes=True)
                    for row in service.identities(session, profile.id)],
        traits=traits(session, profile.id, history, now=now),
        purchases=[purchase_out(row) for row in history],
        events=[event_out(row) for row in events], events_next_cursor=next_cursor,
        consents=[schemas.ConsentOut.model_validate(row, from_attributes=True)
                  for row in service.current_consents(session, profile.id)],
        loyalty=loyalty_out(session, profile.id, now=now))


def purchase_out(row: CustomerPurchase) -> schemas.PurchaseOut:
    return schemas.PurchaseOut(order_id=row.order_id, channel=row.channel, occurred_at=row.occurred_at,
                               total=Money(amount=row.amount, currency=row.currency), items=row.items)


def event_out(row: CustomerEvent) -> schemas.EventOut:
    return schemas.EventOut(id=row.event_id, type=row.type, channel=row.channel, occurred_at=row.occurred_at,
                            properties=row.properties)
