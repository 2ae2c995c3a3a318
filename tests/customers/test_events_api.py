"""POST /events: batches from any channel, each event accepted or rejected on its own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.db import Database
from tests.checks import assert_problem, counts
from tests.customers.conftest import event, order, send

pytestmark = pytest.mark.usefixtures("channels")
CUSTOMER_TABLES = ("customer_profiles", "customer_identifiers", "customer_events", "customer_purchases")


def test_a_batch_keeps_valid_events_and_names_what_is_wrong_with_the_others(admin: TestClient,
                                                                              database: Database) -> None:
    result = send(admin,
                  event("page_view", device_id="dev-1"),
                  event("page_view", email="not an address"),
                  event("add_to_cart", device_id="dev-1", properties={"sku": "TEE-M", "quantity": 0}),
                  event("teleport", device_id="dev-1"),
                  event("page_view", channel="nowhere", device_id="dev-1"),
                  event("page_view"),
                  event("product_view", device_id="dev-1", properties={"sku": "TEE-M"}))
    assert result["accepted"] == 2
    assert result["customer_ids"][0] == result["customer_ids"][6]
    assert result["customer_ids"][1:6] == [None] * 5
    fields = {r["index"]: [e["field"] for e in r["errors"]] for r in result["rejected"]}
    assert fields == {1: ["events[1].identifiers.email"], 2: ["events[2].properties.quantity"],
                      3: ["events[3].type"], 4: ["events[4].channel"], 5: ["events[5].identifiers"]}
    assert counts(database, CUSTOMER_TABLES) == {"customer_profiles": 1, "customer_identifiers": 1,
                                                 "customer_events": 2, "customer_purchases": 0}


def test_an_event_keeps_its_identifiers_as_sent_and_only_those_sent(admin: TestClient) -> None:
    sent = [{"email": " Anna@Example.COM ", "phone": "06 1234 5678", "external_ids": {"POS": "C-1"},
             "verified": ["email"]},
            {"device_id": "dev-1", "loyalty_id": "ly 0001", "email": None, "external_ids": {}, "verified": []}]
    result = send(admin, *({"type": "page_view", "channel": "web", "identifiers": identifiers}
                           for identifiers in sent))
    exported = [admin.get(f"/customers/{customer}/export").json()["events"] for customer in result["customer_ids"]]
    assert [events[0]["identifiers"] for events in exported] == [
        sent[0], {"device_id": "dev-1", "loyalty_id": "ly 0001"}]


def test_of_two_refused_identifiers_the_first_in_the_event_schema_is_named(admin: TestClient) -> None:
    result = send(admin, event(email="not an address", loyalty_id="null", external_ids={"pos": "-1"}),
                  event(device_id="unknown", external_ids={"pos": "anonymous", "bol": "null"}))
    assert [[error["field"] for error in rejected["errors"]] for rejected in result["rejected"]] == [
        ["events[0].identifiers.email"], ["events[1].identifiers.device_id"]]


@pytest.mark.parametrize("junk", ["null", "anonymous", "-1", "0000-0000", "  "])
def test_placeholder_identifiers_are_refused_not_linked(admin: TestClient, junk: str) -> None:
    result = send(admin, event(device_id=junk), event(device_id=junk))
    assert result["accepted"] == 0
    assert [r["errors"][0]["field"] for r in result["rejected"]] == ["events[0].identifiers.device_id",
                                                                     "events[1].identifiers.device_id"]


def test_event_ids_make_a_retried_batch_harmless(admin: TestClient, database: Database) -> None:
    batch = [order("A-1", 2500, email="anna@example.com", id="pos-77-1"),
             event("store_visit", "pos", email="anna@example.com", id="pos-77-2")]
    first = send(admin, *batch)
    again = send(admin, *batch)
    assert (first["accepted"], first["duplicates"]) == (2, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert again["customer_ids"] == first["customer_ids"]
    assert counts(database, CUSTOMER_TABLES)["customer_events"] == 2
    assert counts(database, CUSTOMER_TABLES)["customer_purchases"] == 1


def test_the_same_order_reported_twice_is_one_purchase(admin: TestClient) -> None:
    customer = send(admin, order("W-9", 1000, email="a@example.com"),
                    order("W-9", 1000, email="a@example.com"))["customer_ids"][0]
    view = admin.get(f"/customers/{customer}").json()
    assert [p["order_id"] for p in view["purchases"]] == ["W-9"]
    assert len(view["events"]) == 2


def test_historical_events_keep_their_time(admin: TestClient) -> None:
    customer = send(admin, order("OLD-1", 1599, email="old@example.com",
                                 timestamp="2019-03-04T10:00:00Z"))["customer_ids"][0]
    purchase = admin.get(f"/customers/{customer}").json()["purchases"][0]
    assert purchase["occurred_at"] == "2019-03-04T10:00:00Z"
    assert purchase["total"] == {"amount": 1599, "currency": "EUR"}


def test_a_channel_key_sends_events_only_as_its_own_channel(api_as: Callable[[str], TestClient]) -> None:
    pos = api_as("channel:pos")
    result = send(pos, event("store_visit", "pos", loyalty_id="L-1"), event("page_view", "web", device_id="d"))
    assert result["accepted"] == 1
    assert result["rejected"][0]["errors"] == [
        {"field": "events[1].channel", "message": "this key may only send events as channel 'pos'"}]


def test_who_may_send_events(client: TestClient, api_as: Callable[[str], TestClient]) -> None:
    body = {"events": [event(device_id="d")]}
    assert_problem(client.post("/api/v1/events", json=body), 401, "unauthenticated")
    assert_problem(api_as("store:AMS-01").post("/events", json=body), 403, "forbidden")
    assert_problem(api_as("customer:cus_x").post("/events", json=body), 403, "forbidden")


def test_batches_are_limited_to_a_thousand_events(admin: TestClient, database: Database) -> None:
    too_many = {"events": [event(device_id=f"d-{i}") for i in range(1001)]}
    assert_problem(admin.post("/events", json=too_many), 422, "validation")
    assert_problem(admin.post("/events", json={"events": []}), 422, "validation")
    assert counts(database, CUSTOMER_TABLES)["customer_events"] == 0


def test_properties_keep_integers_of_any_size(admin: TestClient) -> None:
    huge = 2**70  # beyond 64 bits, as a client's JSON may carry
    customer = send(admin, event(device_id="d-huge", properties={"path": "/", "views": huge}))["customer_ids"][0]
    events = admin.get(f"/customers/{customer}/events").json()["items"]
    assert [e["properties"] for e in events] == [{"path": "/", "views": huge}]
