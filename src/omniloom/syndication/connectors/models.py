"""Connector tables: each channel's connector and how far it got, what it last sent, and what it could not deliver."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, JSONData, UTCDateTime


class ChannelConnector(Base):
    """One channel's connector: its configuration (secrets included, never shown whole), its feed cursor, the
    outbox position of the last event it pushed, and the lease of the sync running now."""

    __tablename__ = "channel_connectors"
    __table_args__ = (CheckConstraint("type IN ('file', 'http')", name="type_known"),)

    channel_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool]
    settings: Mapped[dict[str, Any]] = mapped_column(JSONData)
    interval_seconds: Mapped[int]
    give_up_after_seconds: Mapped[int]
    feed_cursor: Mapped[str | None] = mapped_column(String(500))
    event_position: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConnectorListing(Base):
    """What the channel was last sent of a SKU's listing (apart from stock and price), as a fingerprint."""

    __tablename__ = "connector_listings"

    channel_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConnectorDeadLetter(Base):
    """Work the channel refused, or kept refusing past the connector's patience: what, why and when."""

    __tablename__ = "connector_dead_letters"
    __table_args__ = (
        CheckConstraint("kind IN ('listing', 'order', 'acknowledgement', 'tracking', 'cancellation')",
                        name="kind_known"),
        CheckConstraint("status IN ('dead', 'resolved')", name="status_known"),
        Index("ix_connector_dead_letters_channel", "channel_code", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData)
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
