"""The omnichannel journeys end to end through HTTP: pickup, curbside, marketplace import, returns, cancellation,
re-routing — and who may see and do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.customers.conftest import event, send
from tests.factories import recorded_events
from tests.inventory.helpers import levels
from tests.orders.conftest import NEAR_LEEUWARDEN, cart_with, checkout, collect, ship_to

pytestmark = pytest.mark.usefixtures("shop")


def move(api: TestClient, fulfillment_id: str, to: str, **extra: Any) -> Any:
    return api.post(f"/fulfillments/{fulfillment_id}/transitions", json={"to": to, **extra})


def test_buy_online_pick_up_in_store(admin: TestClient, api_as: Callable[[str], TestClient], database: Database,
                                     clock: FrozenClock) -> None:
    customer = send(admin, event(email="bo@example.com"))["customer_ids"][0]
    order = checkout(admin, cart_with(admin, "web", ("TEE-M", 2), customer_id=customer), "web",
                     collect("AMS-01")).json()
    store = api_as("store:AMS-01")
    queue = store.get("/fulfillments").json()["items"]
    assert [(f["order_id"], f["status"]) for f in queue] == [(order["id"], "allocated")]
    job = queue[0]["id"]
    assert move(store, job, "picking").status_code == 200
    ready = move(store, job, "ready_for_pickup").json()["fulfillments"][0]
    assert ready["ready_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert ready["pickup_expires_at"] == (clock.now() + timedelta(hours=72)).isoformat().replace("+00:00", "Z")
    with database.read() as session:
        notified = recorded_events(session, types=["fulfillment.ready_for_pickup"])
    assert [e.payload["order_id"] for e in notified] == [order["id"]]
    done = move(store, job, "picked_up").json()
    assert done["status"] == "fulfilled"
    assert levels(database)[("TEE-M", "AMS-01")] == (0, 0, 0)
    problem = assert_problem(move(store, job, "picking"), 409, "transition-not-allowed")
    assert problem["current_status"] == "picked_up" and "picked_up" in problem["detail"]
    sla = store.get("/fulfillments/sla").json()
    assert (sla["ready"], sla["on_time"]) == (1, 1)


def test_curbside_check_in_goes_to_the_top_of_the_queue(admin: TestClient, api_as: Callable[[str], TestClient],
                                                        clock: FrozenClock) -> None:
    first = checkout(admin, cart_with(admin, "web", ("TEE-M", 1)), "web", collect("AMS-01")).json()
    clock.advance(minutes=5)
    second = checkout(admin, cart_with(admin, "app", ("MUG", 1)), "app", collect("AMS-01", "curbside")).json()
    store = api_as("store:AMS-01")
    assert [f["order_id"] for f in store.get("/fulfillments").json()["items"]] == [first["id"], second["id"]]
    arrived = store.post(f"/fulfillments/{second['fulfillments'][0]['id']}/checkin", json={"parking_spot": "P3"})
    assert arrived.status_code == 200 and arrived.json()["parking_spot"] == "P3"
    assert [f["order_id"] for f in store.get("/fulfillments").json()["items"]] == [second["id"], first["id"]]
    assert_problem(store.post(f"/fulfillments/{first['fulfillments'][0]['id']}/checkin",
                              json={"parking_spot": "P4"}), 409, "transition-not-allowed")


def test_uncollected_pickups_expire_and_restock(admin: TestClient, database: Database, clock: FrozenClock) -> None:
    from omniloom.fulfillment import service as fulfillment
    from omniloom.orders.service import fulfillment_settings
    from omniloom.platform.settings import Settings

    order = checkout(admin, cart_with(admin, "web", ("TEE-M", 1)), "web", collect("AMS-01")).json()
    job = order["fulfillments"][0]["id"]
    move(admin, job, "picking")
    move(admin, job, "ready_for_pickup")
    clock.advance(hours=73)
    with database.write() as session:
        expired = fulfillment.expire_uncollected(session, settings=fulfillment_settings(Settings()), clock=clock)
    assert [row.id for row in expired] == [job]
    assert levels(database)[("TEE-M", "AMS-01")] == (2, 0, 0)
    assert admin.get(f"/fulfillments/{job}").json()["status"] == "expired"


def test_ship_with_tracking_records_the_event_for_the_channel(admin: TestClient, database: Database) -> None:
    order = checkout(admin, cart_with(admin, "web", ("TEE-L", 1)), "web", ship_to()).json()
    job = order["fulfillments"][0]["id"]
    move(admin, job, "picking")
    move(admin, job, "packed")
    assert_problem(move(admin, job, "shipped"), 422, "validation")
    shipped = move(admin, job, "shipped", carrier="PostNL", tracking_number="3SABCD123456789")
    assert shipped.json()["fulfillments"][0]["tracking_number"] == "3SABCD123456789"
    with database.read() as session:
        event_payload = recorded_events(session, types=["fulfillment.shipped"])[0].payload
    assert (event_payload["channel"], event_payload["carrier"], event_payload["tracking_number"]) == (
        "web", "PostNL", "3SABCD123456789")
    assert event_payload["lines"] == [{"sku": "TEE-L", "quantity": 1}]


def test_a_rejected_fulfillment_is_rerouted(admin: TestClient, database: Database) -> None:
    order = checkout(admin, cart_with(admin, "web", ("TEE-L", 1)), "web", ship_to()).json()
    job = order["fulfillments"][0]
    assert job["location"] == "LWR-01"
    assert_problem(move(admin, job["id"], "rejected"), 422, "validation")
    after = move(admin, job["id"], "rejected", reason="not on the shelf").json()
    statuses = sorted((f["location"], f["status"]) for f in after["fulfillments"])
    assert statuses == [("LWR-01", "rejected"), ("WH-1", "allocated")]
    new = next(f for f in after["fulfillments"] if f["location"] == "WH-1")
    assert new["routing_reason"].startswith("re-routed after LWR-01 rejected it")
    assert levels(database)[("TEE-L", "LWR-01")] == (1, 0, 0)
    assert levels(database)[("TEE-L", "WH-1")] == (10, 0, 1)


def test_marketplace_order_with_an_unknown_listing_is_held_then_released(
        admin: TestClient, api_as: Callable[[str], TestClient], database: Database) -> None:
    bol = api_as("channel:bol")
    body = {"channel": "bol", "external_id": "BOL-1001", "customer": {"email": "koper@example.com"},
            "lines": [{"listing_id": "L-NOPE", "quantity": 1, "unit_price": 2399}],
            "fulfillment": ship_to()}
    held = bol.post("/orders", json=body)
    assert held.status_code == 202, held.text
    order = held.json()
    assert order["status"] == "on_hold" and "L-NOPE" in order["hold_reason"]
    again = bol.post("/orders", json=body)
    assert again.status_code == 200 and again.json()["id"] == order["id"]
    assert_problem(api_as("channel:web").post("/orders", json=body), 403, "forbidden")
    assert_problem(bol.post("/orders", json={**body, "external_id": "BOL-1002", "currency": "XYZ"}),
                   422, "validation")
    assert admin.put("/channels/bol/listings/TEE-M", json={"listing_id": "L-NOPE"}).status_code == 200
    released = admin.post(f"/orders/{order['id']}/release", json={})
    assert released.status_code == 200, released.text
    placed = released.json()
    assert (placed["status"], placed["hold_reason"]) == ("placed", None)
    assert [(line["sku"], line["unit_price"]["amount"]) for line in placed["lines"]] == [("TEE-M", 2399)]
    assert [f["location"] for f in placed["fulfillments"]] == ["WH-1"]
    assert levels(database)[("TEE-M", "WH-1")] == (10, 0, 1)
    assert admin.get("/customers", params={"email": "koper@example.com"}).json()["items"][0]["id"] == \
        placed["customer_id"]


def test_buy_online_return_in_a_store(admin: TestClient, database: Database) -> None:
    order = checkout(admin, cart_with(admin, "web", ("MUG", 3)), "web", ship_to()).json()
    job = order["fulfillments"][0]["id"]
    for step in ("picking", "packed"):
        move(admin, job, step)
    move(admin, job, "shipped", carrier="DHL", tracking_number="JVGL0001")
    before = levels(database)[("MUG", "AMS-01")]
    body = {"order_id": order["id"], "location": "AMS-01",
            "lines": [{"sku": "MUG", "quantity": 1, "condition": "resellable"},
                      {"sku": "MUG", "quantity": 1, "condition": "damaged"}]}
    returned = admin.post("/returns", json=body, headers={"Idempotency-Key": "ret-1"})
    assert returned.status_code == 201, returned.text
    assert returned.json()["refund"] == {"amount": 2400, "currency": "EUR", "status": "refunded"}
    assert levels(database)[("MUG", "AMS-01")] == (before[0] + 1, 0, 0)
    again = admin.post("/returns", json=body, headers={"Idempotency-Key": "ret-1"})
    assert again.json()["id"] == returned.json()["id"]
    too_many = {**body, "lines": [{"sku": "MUG", "quantity": 2, "condition": "resellable"}]}
    assert_problem(admin.post("/returns", json=too_many), 422, "validation")
    assert_problem(admin.post("/returns", json={**body, "location": "WH-1"}), 422, "validation")
    paid = admin.get(f"/orders/{order['id']}").json()["payments"][0]
    assert (paid["captured"]["amount"], paid["refunded"]["amount"]) == (3600, 2400)


def test_cancel_before_shipment_releases_stock_and_refunds(admin: TestClient, database: Database) -> None:
    before = levels(database)
    order = checkout(admin, cart_with(admin, "web", ("TEE-M", 1), ("TEE-L", 1)), "web", ship_to()).json()
    cancelled = admin.post(f"/orders/{order['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert {f["status"] for f in body["fulfillments"]} == {"cancelled"}
    assert body["payments"][0]["refunded"] == body["payments"][0]["captured"]
    assert levels(database) == before


def test_nobody_sees_or_moves_what_is_not_theirs(admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    anna, bram = send(admin, event(email="anna@example.com"), event(email="bram@example.com"))["customer_ids"]
    as_anna, as_bram = api_as(f"customer:{anna}"), api_as(f"customer:{bram}")
    cart_id = cart_with(as_anna, "web", ("TEE-L", 1))
    assert_problem(as_bram.get(f"/carts/{cart_id}"), 404, "cart-not-found")
    assert_problem(as_bram.get(f"/customers/{anna}/cart"), 403, "forbidden")
    order = checkout(as_anna, cart_id, "web", collect("LWR-01", "curbside")).json()
    assert as_anna.get(f"/orders/{order['id']}").status_code == 200
    assert_problem(as_bram.get(f"/orders/{order['id']}"), 404, "order-not-found")
    assert [o["id"] for o in as_bram.get("/orders").json()["items"]] == []
    job = order["fulfillments"][0]["id"]
    assert_problem(move(api_as("store:AMS-01"), job, "picking"), 404, "fulfillment-not-found")
    assert_problem(api_as("store:AMS-01").get("/fulfillments", params={"location": "LWR-01"}), 403, "forbidden")
    assert move(api_as("store:LWR-01"), job, "picking").status_code == 200
    assert as_anna.post(f"/fulfillments/{job}/checkin", json={"parking_spot": "7"}).status_code == 200
    assert_problem(as_bram.post(f"/fulfillments/{job}/checkin", json={"parking_spot": "7"}), 404,
                   "fulfillment-not-found")
    assert_problem(api_as("channel:app").get(f"/orders/{order['id']}"), 404, "order-not-found")


def test_erasing_a_customer_also_erases_their_order_contact_and_address(admin: TestClient,
                                                                        database: Database) -> None:
    from tests.customers.test_privacy_api import _holding

    address = {**NEAR_LEEUWARDEN, "name": "Jildou Hoekstra", "line1": "Tuinen 77"}
    cart_id = cart_with(admin, "web", ("MUG", 1))
    order = checkout(admin, cart_id, "web", ship_to(address),
                     customer={"email": "jildou.hoekstra@example.com", "name": "Jildou Hoekstra"}).json()
    personal = ["jildou.hoekstra@example.com", "Jildou Hoekstra", "Tuinen 77"]
    assert _holding(database, personal)
    assert admin.delete(f"/customers/{order['customer_id']}").status_code == 204
    assert _holding(database, personal) == []
    kept = admin.get(f"/orders/{order['id']}").json()
    assert kept["total"] == {"amount": 1200, "currency": "EUR"} and kept["lines"][0]["sku"] == "MUG"
