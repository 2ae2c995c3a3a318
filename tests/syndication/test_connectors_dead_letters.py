"""What the marketplace refuses, or keeps refusing, becomes a dead letter: listed with what, why and when, and
delivered by a retry once the cause is fixed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from tests.checks import assert_problem
from tests.orders.conftest import ship_to
from tests.syndication.conftest import Simulator, Syncer, http_connector, move

pytestmark = pytest.mark.usefixtures("connected")


def letters(admin: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = admin.get("/channels/bol/connector/dead-letters", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_refused_listing_is_a_dead_letter_until_it_is_fixed(connected: TestClient, simulator: Simulator,
                                                              sync: Syncer) -> None:
    too_long = "Stoneware mug " * 12
    assert connected.put("/channels/bol/listings/MUG", json={"title": too_long}).status_code == 200
    report = sync()
    assert (report.listings_pushed, report.dead_lettered) == (2, 1)
    assert sorted(simulator.offers()) == ["TEE-L", "TEE-M"]
    [letter] = letters(connected)
    assert (letter["kind"], letter["subject"], letter["status"], letter["attempts"], letter["payload"]) == (
        "listing", "MUG", "dead", 1, {"sku": "MUG"})
    assert letter["reason"] == "title: required, at most 150 characters"
    assert letter["created_at"] == "2026-11-30T10:00:00Z"
    assert connected.get("/channels/bol/connector").json()["open_dead_letters"] == 1

    retry = connected.post(f"/channels/bol/connector/dead-letters/{letter['id']}/retry")
    problem = assert_problem(retry, 502, "connector-failed")
    assert problem["dead_letter"] == letter["id"] and "at most 150 characters" in problem["detail"]
    assert letters(connected)[0]["attempts"] == 2

    assert connected.put("/channels/bol/listings/MUG", json={"title": "Stoneware mug"}).status_code == 200
    retried = connected.post(f"/channels/bol/connector/dead-letters/{letter['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("resolved", 3)
    assert simulator.offers()["MUG"]["title"] == "Stoneware mug"
    assert_problem(connected.post(f"/channels/bol/connector/dead-letters/{letter['id']}/retry"), 409,
                   "dead-letter-resolved")
    assert letters(connected, status="dead") == []
    assert [item["id"] for item in letters(connected, status="resolved")] == [letter["id"]]
    assert sync().listings_pushed == 0, "the retry recorded what the marketplace now holds"


def test_tracking_the_marketplace_keeps_refusing_goes_to_the_dead_letters_after_the_patience_runs_out(
        connected: TestClient, simulator: Simulator, sync: Syncer, clock: FrozenClock) -> None:
    body = http_connector(simulator.url)
    assert connected.put("/channels/bol/connector", json={**body, "give_up_after_seconds": 600}).status_code == 200
    sync()
    order_id = simulator.sell({"sku": "TEE-L", "quantity": 1}).json()["id"]
    sync()
    order = connected.get("/orders", params={"channel": "bol"}).json()["items"][0]
    job = order["fulfillments"][0]["id"]
    move(connected, job, "picking", "packed")
    move(connected, job, "shipped", carrier="DPD", tracking_number="05212345678")

    simulator.faults(fail_next=1000, path="/orders/MP")
    first = sync()
    assert (first.tracking_pushed, first.dead_lettered) == (0, 0)
    assert first.failures == [f"pushing tracking {order_id}/{job}: POST /orders/{order_id}/shipments: HTTP 503"]
    clock.advance(seconds=300)
    assert sync().dead_lettered == 0, "still within the connector's patience"
    clock.advance(seconds=301)
    given_up = sync()
    assert (given_up.tracking_pushed, given_up.dead_lettered) == (0, 1)
    [letter] = letters(connected)
    assert (letter["kind"], letter["subject"]) == ("tracking", f"{order_id}/{job}")
    assert letter["reason"] == f"kept failing: POST /orders/{order_id}/shipments: HTTP 503"
    assert letter["payload"]["tracking_number"] == "05212345678"
    assert sync().dead_lettered == 0, "the position moved past it: it is not dead-lettered twice"

    simulator.faults(fail_next=0)
    retried = connected.post(f"/channels/bol/connector/dead-letters/{letter['id']}/retry")
    assert retried.status_code == 200, retried.text
    shipments = simulator.orders()[order_id]["shipments"]
    assert [(s["shipment_id"], s["carrier"], s["tracking_number"]) for s in shipments] == [
        (job, "DPD", "05212345678")]


def test_tracking_for_an_order_the_marketplace_does_not_know_is_refused_at_once(
        connected: TestClient, api_as: Callable[[str], TestClient], simulator: Simulator, sync: Syncer) -> None:
    sync()
    bol = api_as("channel:bol")
    body = {"channel": "bol", "external_id": "BOL-PHONE-1", "lines": [{"sku": "MUG", "quantity": 1}],
            "fulfillment": ship_to()}
    order = bol.post("/orders", json=body).json()
    job = order["fulfillments"][0]["id"]
    move(connected, job, "picking", "packed")
    move(connected, job, "shipped", carrier="DHL", tracking_number="JVGL9")
    report = sync()
    assert (report.tracking_pushed, report.dead_lettered, report.failures) == (0, 1, [])
    [letter] = letters(connected)
    assert (letter["kind"], letter["subject"]) == ("tracking", f"BOL-PHONE-1/{job}")
    assert letter["reason"].startswith("POST /orders/BOL-PHONE-1/shipments: HTTP 404")
    assert_problem(connected.post(f"/channels/bol/connector/dead-letters/{letter['id']}/retry"), 502,
                   "connector-failed")
    assert_problem(connected.post("/channels/bol/connector/dead-letters/dlq_nope/retry"), 404,
                   "dead-letter-not-found")
    assert_problem(api_as("channel:bol").get("/channels/bol/connector/dead-letters"), 403, "forbidden")


def test_an_order_that_cannot_be_read_is_kept_and_acknowledged(connected: TestClient, simulator: Simulator,
                                                               sync: Syncer) -> None:
    sync()
    sold = simulator.control.post("/orders", json={"lines": [{"sku": "MUG", "quantity": 1}],
                                                   "shipping_address": {"city": "Utrecht"}})
    order_id = sold.json()["id"]
    report = sync()
    assert (report.orders_pulled, report.orders_imported, report.dead_lettered, report.orders_acknowledged) == (
        1, 0, 1, 1)
    [letter] = letters(connected)
    assert (letter["kind"], letter["subject"]) == ("order", order_id)
    assert "fulfillment.address.line1: Field required" in letter["reason"]
    assert letter["payload"]["order"]["shipping_address"] == {"city": "Utrecht"}
    assert connected.get("/orders", params={"channel": "bol"}).json()["items"] == []
