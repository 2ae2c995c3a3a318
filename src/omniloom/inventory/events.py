"""Domain events of the inventory module (version 1 payloads)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from omniloom.platform.outbox import DomainEvent


class LocationChanged(DomainEvent):
    code: str
    name: str
    type: str
    capabilities: list[str]
    latitude: float
    longitude: float
    active: bool

    def subject(self) -> str:
        return f"location:{self.code}"


class LocationCreated(LocationChanged):
    event_type = "location.created"


class LocationUpdated(LocationChanged):
    event_type = "location.updated"


class InventoryChanged(DomainEvent):
    """On-hand of one SKU at one location moved; ``available`` is on-hand less reserved and allocated."""

    event_type = "inventory.changed"

    movement_id: str
    sku: str
    location: str
    quantity: int
    on_hand: int
    available: int
    reason: str

    def subject(self) -> str:
        return f"sku:{self.sku}"


class HeldLine(BaseModel):
    sku: str
    location: str
    quantity: int


class ReservationEvent(DomainEvent):
    reservation_id: str
    channel: str
    lines: list[HeldLine]

    def subject(self) -> str:
        return f"reservation:{self.reservation_id}"


class ReservationCreated(ReservationEvent):
    event_type = "reservation.created"

    expires_at: datetime


class ReservationReleased(ReservationEvent):
    event_type = "reservation.released"


class ReservationExpired(ReservationEvent):
    event_type = "reservation.expired"


class ReservationConverted(ReservationEvent):
    """The held units became allocated to an order."""

    event_type = "reservation.converted"


class AllocationReleased(DomainEvent):
    """Allocated units went back to free stock (an order cancelled, a pickup not collected)."""

    event_type = "inventory.allocation_released"

    sku: str
    location: str
    quantity: int
    reference: str
    available: int

    def subject(self) -> str:
        return f"sku:{self.sku}"
