"""Customer tables: profiles, the identity graph, the event timeline, purchases, merges, consent, loyalty, CLV.

Rows that can move between profiles when profiles merge (identifiers, events, purchases, consent records, loyalty
entries) carry ``profile_id`` (where they belong now) and ``origin_profile_id`` (the profile they first belonged to),
so that undoing a merge can give every row back to the profile it came from. It is only ever searched together with
``profile_id`` (whose indexes serve that), so it has no index of its own: fewer index writes per event.

``customer_events.profile_id`` has no foreign key: events are only stored on a profile read in the same transaction
(``service.store_events``, ``record_message_sent``) or moved to a merge's survivor, and profiles are never deleted
(an erasure keeps the row), so the key would only cost a lookup and a row lock per stored event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, BigIntKey, JSONData, UTCDateTime


class CustomerProfile(Base):
    """One person. ``merged_into`` points at the surviving profile once this one has been merged away."""

    __tablename__ = "customer_profiles"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("customer_profiles.id"), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomerIdentifier(Base):
    """A normalised identifier (``email``, ``phone``, ``device``, ``loyalty``, ``external``) and whose it is."""

    __tablename__ = "customer_identifiers"
    # Most identifiers of a batch get a new last_seen_at: room on each page keeps those updates HOT (no index writes).
    __table_args__ = (UniqueConstraint("kind", "value"), {"postgresql_with": {"fillfactor": 80}})

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(320))
    profile_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"), index=True)
    origin_profile_id: Mapped[str] = mapped_column(String(40))
    verified: Mapped[bool] = mapped_column(default=False)
    shared: Mapped[bool] = mapped_column(default=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomerEvent(Base):
    """One thing a person did on a channel; ``identifiers`` keeps what the channel sent, as sent."""

    __tablename__ = "customer_events"
    __table_args__ = (Index("ix_customer_events_profile_time", "profile_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    profile_id: Mapped[str] = mapped_column(String(40))  # no foreign key: see the module's notes
    origin_profile_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)


class CustomerPurchase(Base):
    """A completed order from any channel, once per (channel, order id): the input of RFM, loyalty and CLV."""

    __tablename__ = "customer_purchases"
    __table_args__ = (UniqueConstraint("channel", "order_id"),
                      Index("ix_customer_purchases_profile_time", "profile_id", "occurred_at"))

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"))
    origin_profile_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(120))
    event_id: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    items: Mapped[int] = mapped_column(default=0)


class CustomerMerge(Base):
    """The audit of one merge decision: ``merged`` (undoable), ``refused`` by a guard rule, or ``undone``."""

    __tablename__ = "customer_merges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"), index=True)
    merged_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(String(400))
    identifiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONData, default=list)
    members: Mapped[list[str]] = mapped_column(JSONData, default=list)
    event_id: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomerSeparation(Base):
    """Two profiles a person said are different (an undone merge): they are never merged again."""

    __tablename__ = "customer_separations"

    profile_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    other_profile_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentRecord(Base):
    """One consent decision; the current consent per purpose is the latest record."""

    __tablename__ = "customer_consents"
    __table_args__ = (Index("ix_customer_consents_profile_purpose", "profile_id", "purpose"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"))
    origin_profile_id: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(40))
    granted: Mapped[bool]
    channel: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoyaltyAccount(Base):
    """The points balance of one profile, changed only by conditional updates next to a ledger entry."""

    __tablename__ = "loyalty_accounts"

    profile_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoyaltyEntry(Base):
    """One line of the points ledger: ``earn`` (positive), ``redeem`` (negative) or ``adjust``."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (UniqueConstraint("kind", "reference"),
                      Index("ix_loyalty_entries_profile_time", "profile_id", "occurred_at"))

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"))
    origin_profile_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    points: Mapped[int]
    channel: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(160))
    spend_amount: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str | None] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoyaltyProgram(Base):
    """The earning rules and tiers (one row, ``default``)."""

    __tablename__ = "loyalty_programs"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    points_per_unit: Mapped[int]
    channel_multipliers: Mapped[dict[str, float]] = mapped_column(JSONData, default=dict)
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONData, default=list)
    tier_window_days: Mapped[int] = mapped_column(default=365)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClvModel(Base):
    """A fitted BG/NBD + Gamma-Gamma model and the RFM score boundaries of the same population."""

    __tablename__ = "clv_models"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    calibration_end: Mapped[datetime] = mapped_column(UTCDateTime())
    time_unit: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    horizon: Mapped[int]
    bgnbd: Mapped[dict[str, float]] = mapped_column(JSONData)
    gamma_gamma: Mapped[dict[str, float]] = mapped_column(JSONData)
    rfm_boundaries: Mapped[dict[str, list[float]]] = mapped_column(JSONData)
    customers: Mapped[int]
    repeat_customers: Mapped[int]
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
