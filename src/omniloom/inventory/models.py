"""Inventory tables: locations, the append-only movement ledger, stock levels and reservations.

``inventory_levels`` holds the counters that concurrent writers change with conditional updates; the
check constraints make overselling impossible even for a buggy writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, BigIntKey, JSONData, UTCDateTime


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    address: Mapped[dict[str, Any]] = mapped_column(JSONData)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    capabilities: Mapped[list[str]] = mapped_column(JSONData, default=list)
    email: Mapped[str | None] = mapped_column(String(320))
    priority: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InventoryLevel(Base):
    """Counters for one SKU at one location, always equal to what the ledger and reservations say."""

    __tablename__ = "inventory_levels"
    __table_args__ = (
        UniqueConstraint("sku", "location_id"),
        Index("ix_inventory_levels_location_sku", "location_id", "sku"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("allocated >= 0", name="allocated_not_negative"),
        CheckConstraint("reserved + allocated <= on_hand", name="never_oversold"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    allocated: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InventoryMovement(Base):
    """One entry of the append-only stock ledger: never updated, never deleted."""

    __tablename__ = "inventory_movements"
    __table_args__ = (Index("ix_inventory_movements_sku_location", "sku", "location_id", "seq"),
                      Index("ix_inventory_movements_location", "location_id", "seq"))

    seq: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    sku: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(80))
    actor: Mapped[str] = mapped_column(String(80))
    on_hand_after: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_active_expiry", "expires_at",
                            sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(80))
    actor: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReservationLine(Base):
    __tablename__ = "reservation_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id", ondelete="CASCADE"), index=True)
    level_id: Mapped[int] = mapped_column(ForeignKey("inventory_levels.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
