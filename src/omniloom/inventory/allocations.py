"""Allocated stock after the order: handing it over, moving it between locations, and letting it go.

A converted reservation leaves its units ``allocated`` at a location. From there each unit either leaves the
building (``sale``: on-hand and allocated drop together, one ledger line), travels to another location first
(``transfer_out`` here, ``transfer_in`` there, still allocated), or goes back to free stock (an order cancelled, a
pickup never collected). Every change is one conditional UPDATE whose row count is checked.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omniloom.inventory.errors import AllocationMissing
from omniloom.inventory.events import AllocationReleased, InventoryChanged
from omniloom.inventory.models import InventoryLevel, InventoryMovement, Location
from omniloom.platform.clock import Clock
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import record

_LEVELS = cast(Table, InventoryLevel.__table__)
_MOVEMENTS = cast(Table, InventoryMovement.__table__)
_LOCATIONS = cast(Table, Location.__table__)


def _location_id(session: Session, code: str) -> str:
    location_id: str | None = session.scalar(select(_LOCATIONS.c.id).where(_LOCATIONS.c.code == code))
    if location_id is None:
        raise AllocationMissing(f"location '{code}' does not exist")
    return location_id


def _change(session: Session, *, sku: str, location: str, on_hand: int, allocated: int, now: datetime
            ) -> tuple[str, int, int, int]:
    """Apply the deltas if enough is allocated; returns (location id, on-hand, reserved, allocated) after."""
    location_id = _location_id(session, location)
    row = session.execute(
        update(_LEVELS)
        .where(_LEVELS.c.sku == sku, _LEVELS.c.location_id == location_id,
               _LEVELS.c.allocated + allocated >= 0, _LEVELS.c.on_hand + on_hand >= 0)
        .values(on_hand=_LEVELS.c.on_hand + on_hand, allocated=_LEVELS.c.allocated + allocated, updated_at=now)
        .returning(_LEVELS.c.on_hand, _LEVELS.c.reserved, _LEVELS.c.allocated)
    ).first()
    if row is None:
        raise AllocationMissing(f"{location} has fewer than {abs(allocated)} × {sku} allocated")
    return location_id, row.on_hand, row.reserved, row.allocated


def _ledger(session: Session, *, sku: str, location: str, location_id: str, quantity: int, reason: str,
            on_hand_after: int, available: int, actor: str, reference: str, clock: Clock) -> None:
    movement_id = new_id("mov")
    session.execute(insert(_MOVEMENTS), {
        "id": movement_id, "sku": sku, "location_id": location_id, "quantity": quantity, "reason": reason,
        "note": None, "reference": reference, "actor": actor, "on_hand_after": on_hand_after,
        "created_at": clock.now()})
    record(session, InventoryChanged(movement_id=movement_id, sku=sku, location=location, quantity=quantity,
                                     on_hand=on_hand_after, available=available, reason=reason), clock=clock)


def hand_over(session: Session, *, sku: str, location: str, quantity: int, actor: str, reference: str,
              clock: Clock) -> None:
    """Allocated units leave with the customer or the carrier: a ``sale`` in the ledger."""
    location_id, on_hand, reserved, allocated = _change(session, sku=sku, location=location, on_hand=-quantity,
                                                        allocated=-quantity, now=clock.now())
    _ledger(session, sku=sku, location=location, location_id=location_id, quantity=-quantity, reason="sale",
            on_hand_after=on_hand, available=on_hand - reserved - allocated, actor=actor, reference=reference,
            clock=clock)


def transfer(session: Session, *, sku: str, source: str, target: str, quantity: int, actor: str, reference: str,
             clock: Clock) -> None:
    """Move allocated units from ``source`` to ``target``, where they stay allocated."""
    now = clock.now()
    source_id, on_hand, reserved, allocated = _change(session, sku=sku, location=source, on_hand=-quantity,
                                                      allocated=-quantity, now=now)
    _ledger(session, sku=sku, location=source, location_id=source_id, quantity=-quantity, reason="transfer_out",
            on_hand_after=on_hand, available=on_hand - reserved - allocated, actor=actor, reference=reference,
            clock=clock)
    target_id = _location_id(session, target)
    insert_level = postgresql.insert(_LEVELS) if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert(_LEVELS)
    session.execute(insert_level.values(sku=sku, location_id=target_id, on_hand=0, reserved=0, allocated=0,
                                        updated_at=now).on_conflict_do_nothing(index_elements=["sku", "location_id"]))
    _, on_hand, reserved, allocated = _change(session, sku=sku, location=target, on_hand=quantity,
                                              allocated=quantity, now=now)
    _ledger(session, sku=sku, location=target, location_id=target_id, quantity=quantity, reason="transfer_in",
            on_hand_after=on_hand, available=on_hand - reserved - allocated, actor=actor, reference=reference,
            clock=clock)


def release(session: Session, *, sku: str, location: str, quantity: int, reference: str, clock: Clock) -> None:
    """Give allocated units back to free stock (an order cancelled, a pickup not collected)."""
    _, on_hand, reserved, allocated = _change(session, sku=sku, location=location, on_hand=0, allocated=-quantity,
                                              now=clock.now())
    record(session, AllocationReleased(sku=sku, location=location, quantity=quantity, reference=reference,
                                       available=on_hand - reserved - allocated), clock=clock)
