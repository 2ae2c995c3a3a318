"""Checkouts under real concurrency (real commits, many threads): never more orders than stock, one order per
idempotency key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from omniloom.platform.auth import create_api_key
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.pricing import service as pricing
from tests.factories import make_channel, make_product
from tests.inventory.helpers import make_location, receive
from tests.inventory.test_concurrency import run_together
from tests.orders.conftest import NEAR_LEEUWARDEN, pay

STOCK = 20


@pytest.fixture
def hot_shop(fresh_database: Database, clock: FrozenClock) -> Database:
    """One SKU with 20 units at one warehouse, sold on ``web``."""
    with fresh_database.write() as session:
        make_location(session, code="WH-1", clock=clock, capabilities=("ship",), type="warehouse")
        make_product(session, skus=("HOT",), clock=clock)
        channel = make_channel(session, code="web", location_codes=["WH-1"], clock=clock)
        pricing.set_price(session, price_list_code=channel.price_list, sku="HOT", amount=1000, compare_at_amount=None,
                          clock=clock)
        receive(session, sku="HOT", location="WH-1", quantity=STOCK, clock=clock)
    return fresh_database


@pytest.fixture
def clients(hot_shop: Database, app_for: Callable[[Database], TestClient], clock: FrozenClock
            ) -> Callable[[], TestClient]:
    with hot_shop.write() as session:
        secret = create_api_key(session, role="admin", name="test", clock=clock)[1]
    app = app_for(hot_shop).app

    def make() -> TestClient:
        client = TestClient(app, base_url="http://testserver/api/v1", raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {secret}"
        return client
    return make


def _cart(api: TestClient) -> str:
    cart_id: str = api.post("/carts", json={"channel": "web"}).json()["id"]
    assert api.post(f"/carts/{cart_id}/lines", json={"sku": "HOT", "quantity": 1}).status_code == 200
    return cart_id


def _body() -> dict[str, object]:
    return {"channel": "web", "fulfillment": {"method": "ship", "address": NEAR_LEEUWARDEN}, "payment": pay()}


def _counters(database: Database) -> tuple[int, int, int, int]:
    with database.read() as session:
        orders, allocated, reserved, payments = session.execute(text(
            "SELECT (SELECT count(*) FROM orders), (SELECT allocated FROM inventory_levels), "
            "(SELECT reserved FROM inventory_levels), (SELECT count(*) FROM payments)")).one()
        return orders, allocated, reserved, payments


def test_fifty_checkouts_for_twenty_units_make_twenty_orders(hot_shop: Database,
                                                             clients: Callable[[], TestClient]) -> None:
    carts = [_cart(clients()) for _ in range(50)]
    statuses: list[int] = []

    def buy(index: int) -> None:
        statuses.append(clients().post(f"/carts/{carts[index]}/checkout", json=_body()).status_code)

    assert run_together(50, buy) == []
    assert sorted(statuses) == [201] * STOCK + [409] * 30
    assert _counters(hot_shop) == (STOCK, STOCK, 0, STOCK)


def test_twenty_requests_with_one_key_make_one_order(hot_shop: Database, clients: Callable[[], TestClient]) -> None:
    cart_id = _cart(clients())
    answers: list[tuple[int, str]] = []

    def buy(_: int) -> None:
        response = clients().post(f"/carts/{cart_id}/checkout", json=_body(), headers={"Idempotency-Key": "same"})
        answers.append((response.status_code, response.json().get("id", response.text)))

    assert run_together(20, buy) == []
    assert {status for status, _ in answers} == {201}
    assert len({order_id for _, order_id in answers}) == 1
    assert _counters(hot_shop) == (1, 1, 0, 1)
