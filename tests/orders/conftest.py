"""A small omnichannel retailer for the order tests: a warehouse and two stores, web, app, POS and a marketplace."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.inventory import schemas as inventory_schemas
from omniloom.inventory import service as inventory
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.pricing import service as pricing
from tests.factories import make_channel, make_product
from tests.inventory.helpers import location_body, receive

# code → (latitude, longitude, capabilities, type)
LOCATIONS = {
    "WH-1": (52.0907, 5.1214, ["ship"], "warehouse"),  # Utrecht
    "AMS-01": (52.3731, 4.8922, ["ship", "pickup", "curbside", "returns", "pos"], "store"),  # Amsterdam
    "LWR-01": (53.2012, 5.7999, ["ship", "pickup", "curbside", "returns", "pos"], "store"),  # Leeuwarden
}
SKUS = ("TEE-M", "TEE-L", "MUG")
PRICES = {"TEE-M": 2500, "TEE-L": 2500, "MUG": 1200}
NEAR_LEEUWARDEN = {"line1": "Nieuwestad 1", "city": "Leeuwarden", "postal_code": "8911 CK", "country": "NL",
                   "latitude": 53.2000, "longitude": 5.7900}


@pytest.fixture
def shop(database: Database, clock: FrozenClock) -> Database:
    """Stock: WH-1 10 of each; AMS-01 2 × TEE-M, 1 × MUG; LWR-01 1 × TEE-L. Channels: web (WH-1, AMS-01, LWR-01),
    app (same), pos (AMS-01, LWR-01), bol marketplace (WH-1). Every channel prices TEE 25.00 and MUG 12.00."""
    with database.write() as session:
        for code, (latitude, longitude, capabilities, kind) in LOCATIONS.items():
            body = location_body(code, latitude=latitude, longitude=longitude, capabilities=capabilities, type=kind)
            inventory.create_location(session, data=inventory_schemas.LocationCreate.model_validate(body),
                                      clock=clock)
        make_product(session, skus=SKUS, clock=clock)
        everywhere = list(LOCATIONS)
        for code, kind, where in (("web", "web", everywhere), ("app", "app", everywhere),
                                  ("pos", "pos", ["AMS-01", "LWR-01"]), ("bol", "marketplace", ["WH-1"])):
            channel = make_channel(session, code=code, type=kind, location_codes=where, clock=clock)  # type: ignore[arg-type]
            for sku, amount in PRICES.items():
                pricing.set_price(session, price_list_code=channel.price_list, sku=sku, amount=amount,
                                  compare_at_amount=None, clock=clock)
        for sku in SKUS:
            receive(session, sku=sku, location="WH-1", quantity=10, clock=clock)
        receive(session, sku="TEE-M", location="AMS-01", quantity=2, clock=clock)
        receive(session, sku="MUG", location="AMS-01", quantity=1, clock=clock)
        receive(session, sku="TEE-L", location="LWR-01", quantity=1, clock=clock)
    return database


def pay(token: str = "tok_ok") -> dict[str, str]:
    return {"provider": "test", "token": token}


def ship_to(address: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"method": "ship", "address": address or NEAR_LEEUWARDEN}


def collect(location: str, method: str = "pickup") -> dict[str, Any]:
    return {"method": method, "location": location}


def cart_with(api: TestClient, channel: str, *lines: tuple[str, int], customer_id: str | None = None) -> str:
    """A new cart on ``channel`` holding ``lines``; its id."""
    body: dict[str, Any] = {"channel": channel}
    if customer_id:
        body["customer_id"] = customer_id
    created = api.post("/carts", json=body)
    assert created.status_code in (200, 201), created.text
    cart_id: str = created.json()["id"]
    for sku, quantity in lines:
        added = api.post(f"/carts/{cart_id}/lines", json={"sku": sku, "quantity": quantity})
        assert added.status_code == 200, added.text
    return cart_id


def checkout(api: TestClient, cart_id: str, channel: str, fulfillment: dict[str, Any], token: str = "tok_ok",
             key: str | None = None, **extra: Any) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(f"/carts/{cart_id}/checkout", headers=headers,
                    json={"channel": channel, "fulfillment": fulfillment, "payment": pay(token), **extra})
