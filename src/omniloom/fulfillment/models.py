"""Fulfillment tables: who ships or hands over which lines of an order, from where, and how far it got."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, BigIntKey, JSONData, UTCDateTime


class Fulfillment(Base):
    """One shipment or hand-over from one location; ``status`` follows the method's state machine."""

    __tablename__ = "fulfillments"
    __table_args__ = (Index("ix_fulfillments_location_status", "location", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(String(64))
    source_location: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(30))
    routing_reason: Mapped[str] = mapped_column(String(500))
    destination: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    carrier: Mapped[str | None] = mapped_column(String(80))
    tracking_number: Mapped[str | None] = mapped_column(String(120))
    parking_spot: Mapped[str | None] = mapped_column(String(40))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    promised_ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pickup_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_locations: Mapped[list[str]] = mapped_column(JSONData, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FulfillmentLine(Base):
    __tablename__ = "fulfillment_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    fulfillment_id: Mapped[str] = mapped_column(ForeignKey("fulfillments.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
