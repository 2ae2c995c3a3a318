"""Builders and state snapshots shared by the inventory tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from omniloom.inventory import schemas, service
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.outbox import OutboxEvent
from tests import checks

INVENTORY_TABLES = ("locations", "inventory_levels", "inventory_movements", "reservations", "reservation_lines",
                    "outbox_events")


def location_body(code: str = "AMS-01", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code, "name": f"Store {code}", "type": "store",
        "address": {"line1": "Kalverstraat 1", "city": "Amsterdam", "postal_code": "1012 NX", "country": "NL"},
        "latitude": 52.3731, "longitude": 4.8922, "timezone": "Europe/Amsterdam",
        "opening_hours": {"mon": [["09:00", "12:30"], ["13:30", "18:00"]], "sat": [["10:00", "17:00"]]},
        "capabilities": ["ship", "pickup", "curbside", "returns", "pos"], "priority": 5,
    }
    body.update(overrides)
    return body


def make_location(session: Session, *, code: str, clock: Clock, capabilities: Sequence[str] = ("ship", "pickup"),
                  type: str = "store") -> None:
    """A location with this code, type and capabilities."""
    data = schemas.LocationCreate.model_validate(location_body(code, capabilities=list(capabilities), type=type))
    service.create_location(session, data=data, clock=clock)


def receive(session: Session, *, sku: str, location: str, quantity: int, clock: Clock) -> None:
    """A receipt of ``quantity`` units."""
    service.record_movement(session, sku=sku, location=location, quantity=quantity, reason="receipt",
                            actor="test", clock=clock)


def counts(database: Database, tables: Sequence[str] = INVENTORY_TABLES) -> dict[str, int]:
    """Rows per inventory table: equal before and after a refused request means nothing was written."""
    return checks.counts(database, tables)


def levels(database: Database) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(sku, location code) → (on_hand, reserved, allocated) as stored."""
    with database.read() as session:
        rows = session.execute(text(
            "SELECT l.sku, loc.code, l.on_hand, l.reserved, l.allocated FROM inventory_levels l "
            "JOIN locations loc ON loc.id = l.location_id")).all()
    return {(row[0], row[1]): (row[2], row[3], row[4]) for row in rows}


def ledger_sums(database: Database) -> dict[tuple[str, str], int]:
    """(sku, location code) → the sum of its ledger movements."""
    with database.read() as session:
        rows = session.execute(text(
            "SELECT m.sku, loc.code, SUM(m.quantity) FROM inventory_movements m "
            "JOIN locations loc ON loc.id = m.location_id GROUP BY m.sku, loc.code")).all()
    return {(row[0], row[1]): int(row[2]) for row in rows}


def active_line_units(database: Database) -> dict[tuple[str, str], int]:
    """(sku, location code) → units on lines of active reservations."""
    with database.read() as session:
        rows = session.execute(text(
            "SELECT rl.sku, loc.code, SUM(rl.quantity) FROM reservation_lines rl "
            "JOIN reservations r ON r.id = rl.reservation_id JOIN locations loc ON loc.id = rl.location_id "
            "WHERE r.status = 'active' GROUP BY rl.sku, loc.code")).all()
    return {(row[0], row[1]): int(row[2]) for row in rows}


def event_types(database: Database) -> list[str]:
    with database.read() as session:
        return list(session.scalars(text("SELECT type FROM outbox_events ORDER BY id")))


def event_payloads(database: Database, event_type: str) -> list[dict[str, Any]]:
    with database.read() as session:
        return [event.payload for event in
                session.scalars(select(OutboxEvent).where(OutboxEvent.type == event_type).order_by(OutboxEvent.id))]


def reserve_body(*lines: dict[str, Any], channel: str = "web", ttl_seconds: int | None = 600) -> dict[str, Any]:
    body: dict[str, Any] = {"channel": channel, "lines": list(lines)}
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    return body


def post_movement(client: TestClient, **fields: Any) -> Any:
    body = {"sku": "TEE-M", "location": "AMS-01", "quantity": 10, "reason": "receipt"}
    body.update(fields)
    return client.post("/inventory/movements", json=body)
