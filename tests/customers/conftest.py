"""Channels of every kind for the customer tests, and a helper to send events."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.factories import make_channel

CHANNELS = {"web": "web", "app": "app", "pos": "pos", "bol": "marketplace", "insta": "social"}


@pytest.fixture
def channels(database: Database, clock: FrozenClock) -> Database:
    """Channels ``web``, ``app``, ``pos``, ``bol`` (marketplace) and ``insta`` (social)."""
    with database.write() as session:
        for code, kind in CHANNELS.items():
            make_channel(session, code=code, type=kind, clock=clock)  # type: ignore[arg-type]
    return database


def send(api: TestClient, *events: dict[str, Any], status: int = 202) -> dict[str, Any]:
    """POST the events as one batch and return the result."""
    response = api.post("/events", json={"events": list(events)})
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def event(type: str = "page_view", channel: str = "web", **identifiers: Any) -> dict[str, Any]:
    """An event of ``type`` on ``channel`` with these identifiers (``properties=`` and ``timestamp=`` too)."""
    properties = identifiers.pop("properties", {})
    extra = {key: identifiers.pop(key) for key in ("timestamp", "id") if key in identifiers}
    return {"type": type, "channel": channel, "identifiers": identifiers, "properties": properties, **extra}


def order(order_id: str, amount: int, channel: str = "web", currency: str = "EUR", **identifiers: Any
          ) -> dict[str, Any]:
    """An ``order_completed`` event worth ``amount`` minor units."""
    return event("order_completed", channel, properties={
        "order_id": order_id, "total": {"amount": amount, "currency": currency},
        "lines": [{"sku": "TEE-M", "quantity": 1, "unit_price": {"amount": amount, "currency": currency}}]},
        **identifiers)
