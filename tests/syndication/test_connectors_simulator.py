"""The marketplace round trip through the simulator: list → order at the marketplace → import → route → ship →
tracking at the marketplace, with the marketplace failing and rate-limiting in between."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings
from omniloom.worker import Worker
from tests.syndication.conftest import Simulator, Syncer, move

pytestmark = pytest.mark.usefixtures("connected")


def imported(admin: TestClient) -> dict[str, dict[str, Any]]:
    """Omniloom's bol orders by their marketplace id."""
    orders = admin.get("/orders", params={"channel": "bol", "limit": 100}).json()["items"]
    return {order["external_id"]: order for order in orders}


def test_listings_reach_the_marketplace_through_503s(simulator: Simulator, sync: Syncer) -> None:
    simulator.faults(fail_next=2)
    report = sync()
    assert (report.listings_pushed, report.stock_updates_pushed, report.failures) == (3, 0, [])
    assert len(sync.pauses) == 2
    offers = simulator.offers()
    assert {sku: (offer["quantity"], offer["price"], offer["listing_id"]) for sku, offer in offers.items()} == {
        "MUG": (10, 1200, "L-MUG"), "TEE-L": (10, 2500, "L-TEE-L"), "TEE-M": (10, 2500, "L-TEE-M")}
    again = sync()
    assert (again.listings_pushed, again.stock_updates_pushed, again.removals_pushed) == (0, 0, 0)


def test_round_trip_with_the_marketplace_failing_and_throttling(
        connected: TestClient, simulator: Simulator, sync: Syncer, clock: FrozenClock) -> None:
    admin = connected
    assert sync().listings_pushed == 3
    first = simulator.sell({"sku": "TEE-M", "quantity": 2}).json()["id"]
    foreign = simulator.sell({"listing_id": "L-FOREIGN", "quantity": 1, "unit_price": 1999},
                             allow_unlisted=True).json()["id"]
    assert simulator.sell({"sku": "TEE-M", "quantity": 9}).status_code == 409, "only 8 left at the marketplace"

    simulator.faults(throttle_next=1, retry_after=2)
    report = sync()
    assert sync.pauses == [2.0]
    assert (report.orders_pulled, report.orders_imported, report.orders_held, report.orders_acknowledged,
            report.failures) == (2, 1, 1, 2, [])
    orders = imported(admin)
    assert set(orders) == {first, foreign}
    placed = orders[first]
    assert placed["status"] == "placed"
    assert [(line["sku"], line["quantity"], line["unit_price"]["amount"]) for line in placed["lines"]] == [
        ("TEE-M", 2, 2500)]
    assert [(f["location"], f["status"]) for f in placed["fulfillments"]] == [("WH-1", "allocated")]
    assert orders[foreign]["status"] == "on_hold" and "L-FOREIGN" in orders[foreign]["hold_reason"]
    assert {order_id: order["status"] for order_id, order in simulator.orders().items()} == {
        first: "acknowledged", foreign: "acknowledged"}

    # The acknowledgement fails: the order is offered again, and importing it again finds the same order.
    third = simulator.sell({"sku": "MUG", "quantity": 1}).json()["id"]
    simulator.faults(fail_next=4, path="/orders/acknowledgements")
    report = sync()
    assert (report.orders_imported, report.orders_acknowledged) == (1, 0)
    assert report.failures == ["acknowledging orders: POST /orders/acknowledgements: HTTP 503"]
    assert simulator.orders()[third]["status"] == "new"
    report = sync()
    assert (report.orders_pulled, report.orders_imported, report.orders_already_imported,
            report.orders_acknowledged) == (1, 0, 1, 1)
    assert simulator.orders()[third]["status"] == "acknowledged"
    assert sorted(imported(admin)) == sorted([first, foreign, third])

    # Shipped while the marketplace is down: the tracking waits, then arrives once.
    shipments = {}
    for order_id, tracking in ((first, "3SPOSTNL0001"), (third, "3SPOSTNL0003")):
        job = imported(admin)[order_id]["fulfillments"][0]["id"]
        move(admin, job, "picking", "packed")
        move(admin, job, "shipped", carrier="PostNL", tracking_number=tracking)
        shipments[order_id] = (job, tracking)
    simulator.faults(fail_next=1000, path="/")
    down = sync()
    assert down.tracking_pushed == 0 and down.failures == ["pulling orders: GET /orders: HTTP 503"]
    state = admin.get("/channels/bol/connector").json()
    assert (state["last_error"], state["failing_since"]) == ("pulling orders: GET /orders: HTTP 503",
                                                              "2026-11-30T10:00:00Z")
    simulator.faults(fail_next=0, throttle_next=1, retry_after=1, path="/orders/MP")
    report = sync()
    assert (report.tracking_pushed, report.failures, sync.pauses) == (2, [], [1.0])
    assert admin.get("/channels/bol/connector").json()["failing_since"] is None
    at_market = simulator.orders()
    for order_id, (job, tracking) in shipments.items():
        assert [(s["shipment_id"], s["carrier"], s["tracking_number"], s["late"]) for s in
                at_market[order_id]["shipments"]] == [(job, "PostNL", tracking, False)]
    assert at_market[first]["shipments"][0]["lines"] == [{"sku": "TEE-M", "quantity": 2}]
    assert sync().tracking_pushed == 0
    assert all(len(order["shipments"]) == 1 for order_id, order in simulator.orders().items()
               if order_id in shipments)

    # Cancelled in Omniloom before shipping: the marketplace hears it.
    fourth = simulator.sell({"sku": "TEE-L", "quantity": 1}).json()["id"]
    assert sync().orders_imported == 1
    cancelled = admin.post(f"/orders/{imported(admin)[fourth]['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert sync().cancellations_pushed == 1
    assert simulator.orders()[fourth]["status"] == "cancelled"
    assert sorted(imported(admin)) == sorted([first, foreign, third, fourth])

    clock.advance(hours=49)
    late = simulator.control.get("/late-shipments").json()["late"]
    assert [(entry["order_id"], entry["reason"]) for entry in late] == [(foreign, "no tracking by the ship-by time")]


def test_tracking_after_the_deadline_is_reported_late(connected: TestClient, simulator: Simulator, sync: Syncer,
                                                      clock: FrozenClock) -> None:
    sync()
    order_id = simulator.sell({"sku": "MUG", "quantity": 1}).json()["id"]
    sync()
    job = imported(connected)[order_id]["fulfillments"][0]["id"]
    clock.advance(hours=50)
    move(connected, job, "picking", "packed")
    move(connected, job, "shipped", carrier="DHL", tracking_number="JVGL0042")
    assert sync().tracking_pushed == 1
    late = simulator.control.get("/late-shipments").json()["late"]
    assert [(entry["order_id"], entry["shipment_id"], entry["reason"]) for entry in late] == [
        (order_id, job, "tracking after the ship-by time")]


def test_the_worker_syncs_connected_channels_when_they_are_due(
        simulator: Simulator, database: Database, clock: FrozenClock, settings: Settings) -> None:
    worker = Worker(database, clock, interval_seconds=0.01, settings=settings)
    try:
        assert worker.tick().channels_synced == 1
        assert sorted(simulator.offers()) == ["MUG", "TEE-L", "TEE-M"]
        order_id = simulator.sell({"sku": "MUG", "quantity": 1}).json()["id"]
        assert worker.tick().channels_synced == 0, "not due before the connector's interval"
        clock.advance(seconds=60)
        assert worker.tick().channels_synced == 1
    finally:
        worker.close()
    assert simulator.orders()[order_id]["status"] == "acknowledged"
