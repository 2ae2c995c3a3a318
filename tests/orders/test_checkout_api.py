"""Carts and checkout through HTTP: one cart across channels, paying, declining, idempotency, routing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.customers.conftest import event, send
from tests.inventory.helpers import levels
from tests.orders.conftest import cart_with, checkout, collect, ship_to

pytestmark = pytest.mark.usefixtures("shop")


def test_a_cart_started_on_the_web_is_paid_at_the_till(admin: TestClient, api_as: Callable[[str], TestClient],
                                                       database: Database) -> None:
    customer = send(admin, event(email="anna@example.com"))["customer_ids"][0]
    web = api_as("channel:web")
    cart_id = cart_with(web, "web", ("TEE-M", 1), ("MUG", 1), customer_id=customer)
    till = api_as("channel:pos")
    at_till = till.get(f"/customers/{customer}/cart").json()
    assert at_till["id"] == cart_id
    assert sorted((line["sku"], line["quantity"], line["added_on"]) for line in at_till["lines"]) == [
        ("MUG", 1, "web"), ("TEE-M", 1, "web")]
    added = till.post(f"/carts/{cart_id}/lines", json={"sku": "TEE-M", "quantity": 1}).json()
    assert added["channel"] == "pos" and added["subtotal"] == {"amount": 6200, "currency": "EUR"}

    response = checkout(till, cart_id, "pos", collect("AMS-01"))
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["channel"], order["status"], order["customer_id"]) == ("pos", "placed", customer)
    assert order["total"] == {"amount": 6200, "currency": "EUR"}
    assert [(f["location"], f["status"]) for f in order["fulfillments"]] == [("AMS-01", "allocated")]
    assert levels(database)[("TEE-M", "AMS-01")] == (2, 0, 2)
    assert till.get(f"/carts/{cart_id}").json()["status"] == "ordered"
    timeline = admin.get(f"/customers/{customer}").json()
    assert [p["order_id"] for p in timeline["purchases"]] == [order["id"]]


def test_a_declined_payment_leaves_no_order_and_no_held_stock(admin: TestClient, database: Database) -> None:
    before = levels(database)
    cart_id = cart_with(admin, "web", ("TEE-L", 2))
    response = checkout(admin, cart_id, "web", ship_to(), token="tok_declined")
    assert_problem(response, 402, "payment-declined")
    assert levels(database) == before
    assert admin.get("/orders").json()["items"] == []
    assert admin.get(f"/carts/{cart_id}").json()["status"] == "active"
    assert_problem(checkout(admin, cart_id, "web", ship_to(), token="tok_error"), 502, "payment-provider-failed")
    assert levels(database) == before


def test_one_idempotency_key_one_order(admin: TestClient, database: Database) -> None:
    cart_id = cart_with(admin, "web", ("MUG", 3))
    first = checkout(admin, cart_id, "web", ship_to(), key="k-1")
    again = checkout(admin, cart_id, "web", ship_to(), key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert_problem(checkout(admin, cart_id, "web", collect("AMS-01"), key="k-1"), 422, "validation")
    assert len(admin.get("/orders").json()["items"]) == 1
    declined_cart = cart_with(admin, "web", ("MUG", 1))
    assert_problem(checkout(admin, declined_cart, "web", ship_to(), token="tok_declined", key="k-2"),
                   402, "payment-declined")
    assert_problem(checkout(admin, declined_cart, "web", ship_to(), token="tok_declined", key="k-2"),
                   402, "payment-declined")


def test_delivery_goes_to_the_cheapest_locations_and_says_why(admin: TestClient) -> None:
    near = checkout(admin, cart_with(admin, "web", ("TEE-L", 1)), "web", ship_to()).json()
    assert [f["location"] for f in near["fulfillments"]] == ["LWR-01"]
    assert near["fulfillments"][0]["routing_reason"]
    # the store near the customer has no more TEE-L: the warehouse ships it
    later = checkout(admin, cart_with(admin, "web", ("TEE-L", 2)), "web", ship_to()).json()
    assert [f["location"] for f in later["fulfillments"]] == ["WH-1"]


def test_pickup_with_a_transfer_when_the_store_lacks_stock(admin: TestClient, database: Database) -> None:
    order = checkout(admin, cart_with(admin, "web", ("TEE-M", 1), ("MUG", 3)), "web", collect("AMS-01")).json()
    parts = sorted((f["location"], f["source_location"] or "", f["status"]) for f in order["fulfillments"])
    assert parts == [("AMS-01", "", "allocated"), ("AMS-01", "WH-1", "in_transit")]
    transfer = next(f for f in order["fulfillments"] if f["source_location"])
    assert "transfer from WH-1 to AMS-01" in transfer["routing_reason"]
    assert transfer["promised_ready_at"] > next(f for f in order["fulfillments"]
                                                if not f["source_location"])["promised_ready_at"]
    arrived = admin.post(f"/fulfillments/{transfer['id']}/transitions", json={"to": "allocated"})
    assert arrived.status_code == 200, arrived.text
    assert levels(database)[("MUG", "WH-1")] == (10 - 2, 0, 0)
    assert levels(database)[("MUG", "AMS-01")] == (1 + 2, 0, 3)


def test_checkout_refuses_bad_input_and_writes_nothing(admin: TestClient, database: Database) -> None:
    before = levels(database)
    cart_id = cart_with(admin, "web", ("TEE-M", 1))
    assert_problem(checkout(admin, cart_id, "web", {"method": "ship"}), 422, "validation")
    assert_problem(checkout(admin, cart_id, "web", {"method": "pickup", "location": "WH-1"}), 422, "validation")
    assert_problem(checkout(admin, cart_id, "web", collect("NOPE")), 422, "validation",
                   [{"field": "fulfillment.location", "message": "location 'NOPE' does not exist"}])
    abroad = {**ship_to(), "address": {**ship_to()["address"], "country": "XX1"}}
    assert_problem(checkout(admin, cart_id, "web", abroad), 422, "validation")
    assert_problem(admin.put(f"/carts/{cart_id}/fulfillment", json={"method": "pickup", "location": "NOPE"}),
                   422, "validation")
    assert_problem(checkout(admin, cart_id, "nowhere", ship_to()), 422, "validation")
    assert_problem(checkout(admin, "crt_missing", "web", ship_to()), 404, "cart-not-found")
    empty = admin.post("/carts", json={"channel": "web"}).json()["id"]
    assert_problem(checkout(admin, empty, "web", ship_to()), 409, "cart-empty")
    too_many = cart_with(admin, "web", ("TEE-L", 50))
    problem = assert_problem(checkout(admin, too_many, "web", ship_to()), 409, "insufficient-stock")
    assert problem["lines"] == [{"sku": "TEE-L", "requested": 50, "available": 11}]
    assert levels(database) == before
    assert admin.get("/orders").json()["items"] == []


def test_a_channel_list_overrides_the_default_price_and_falls_back_to_it(admin: TestClient) -> None:
    created = admin.post("/products", json={"title": "Sok", "brand": "Loom", "variants": [
        {"sku": "SOCK", "price": {"amount": 999, "currency": "EUR"}}]})
    assert created.status_code == 201, created.text
    cart_id = cart_with(admin, "web", ("SOCK", 2))
    assert admin.get(f"/carts/{cart_id}").json()["lines"][0]["unit_price"] == {"amount": 999, "currency": "EUR"}
    web_list = admin.get("/channels/web").json()["price_list"]
    assert admin.put(f"/price-lists/{web_list}/prices/SOCK", json={"amount": 899}).status_code == 200
    assert admin.get(f"/carts/{cart_id}").json()["subtotal"] == {"amount": 1798, "currency": "EUR"}
