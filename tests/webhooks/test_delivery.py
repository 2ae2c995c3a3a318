"""Fan-out and delivery to real HTTP receivers: signed, retried with backoff until 2xx, dead after the maximum
age and retried by hand, at least once with the same event id."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.webhooks import dispatch
from omniloom.webhooks.signing import verify
from omniloom.worker import Worker
from tests.checks import assert_problem
from tests.conftest import START
from tests.webhooks.conftest import (
    SECRET,
    FulfillmentShipped,
    OrderCancelled,
    OrderCreated,
    Receiver,
    record,
)

Subscribe = Callable[..., dict[str, Any]]
ReceiverFor = Callable[[Callable[[dict[str, str], bytes], int]], Receiver]


def deliveries(admin: TestClient, webhook_id: str, **params: str) -> list[dict[str, Any]]:
    response = admin.get(f"/webhooks/{webhook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_events_fan_out_once_to_each_matching_active_subscription(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe) -> None:
    orders = subscribe("https://a.example.com/in", ["order.*"])
    some = subscribe("https://b.example.com/in", ["order.cancelled", "fulfillment.shipped"])
    paused = subscribe("https://c.example.com/in", ["*"])
    admin.patch(f"/webhooks/{paused['id']}", json={"active": False})
    elsewhere = subscribe("https://d.example.com/in", ["inventory.changed"])
    created, cancelled, shipped = record(database, clock, OrderCreated(order_id="o-1", total=4200),
                                         OrderCancelled(order_id="o-1"), FulfillmentShipped(fulfillment_id="f-1"))

    with database.write() as session:
        outbox.assign_positions(session)
        assert dispatch.fan_out(session, clock=clock) == 4
        assert dispatch.fan_out(session, clock=clock) == 0

    assert [(d["event_id"], d["event_type"]) for d in deliveries(admin, orders["id"])] == [
        (created, "order.created"), (cancelled, "order.cancelled")]
    assert [(d["event_id"], d["event_type"]) for d in deliveries(admin, some["id"])] == [
        (cancelled, "order.cancelled"), (shipped, "fulfillment.shipped")]
    assert deliveries(admin, paused["id"]) == deliveries(admin, elsewhere["id"]) == []
    first = deliveries(admin, orders["id"])[0]
    assert first["id"].startswith("whd_")
    assert {key: value for key, value in first.items() if key != "id"} == {
        "webhook_id": orders["id"], "event_id": created, "event_type": "order.created", "status": "pending",
        "attempts": 0, "created_at": at(START), "last_attempt_at": None, "last_status_code": None,
        "last_error": None, "next_attempt_at": at(START), "delivered_at": None}


def test_a_new_subscription_gets_only_events_fanned_out_after_it(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe, worker: Worker) -> None:
    record(database, clock, OrderCreated(order_id="o-1", total=100))
    assert worker.tick().deliveries_created == 0
    late = subscribe("https://late.example.com/in", ["*"])
    (later,) = record(database, clock, OrderCreated(order_id="o-2", total=200))

    with database.write() as session:
        outbox.assign_positions(session)
        assert dispatch.fan_out(session, clock=clock) == 1

    assert [d["event_id"] for d in deliveries(admin, late["id"])] == [later]


def fail_first_three(headers: dict[str, str], body: bytes, seen: dict[str, int]) -> int:
    event_id = headers["omniloom-event-id"]
    seen[event_id] = seen.get(event_id, 0) + 1
    return 500 if seen[event_id] <= 3 else 204


def test_a_receiver_failing_the_first_three_deliveries_still_receives_every_event_signed(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe, worker: Worker,
        receiver_for: ReceiverFor) -> None:
    seen: dict[str, int] = {}
    receiver = receiver_for(lambda headers, body: fail_first_three(headers, body, seen))
    webhook = subscribe(receiver.url, ["order.*"])
    created, cancelled, _ = record(database, clock, OrderCreated(order_id="o-1", total=4200),
                                   OrderCancelled(order_id="o-1"), FulfillmentShipped(fulfillment_id="f-1"))

    first = worker.tick()

    assert (first.events_numbered, first.deliveries_created, first.webhooks_delivered) == (3, 2, 0)
    pending = deliveries(admin, webhook["id"])
    assert [(d["status"], d["attempts"], d["last_status_code"], d["last_error"]) for d in pending] == [
        ("pending", 1, 500, "HTTP 500"), ("pending", 1, 500, "HTTP 500")]
    for delivery in pending:
        assert START < datetime.fromisoformat(delivery["next_attempt_at"]) <= START + timedelta(seconds=10)
    assert worker.tick().busy is False
    assert len(receiver.requests) == 2

    delivered = []
    for _ in range(3):
        clock.advance(seconds=60)
        delivered.append(worker.tick().webhooks_delivered)

    assert delivered == [0, 0, 2]
    assert [len(receiver.requests_for(event_id)) for event_id in (created, cancelled)] == [4, 4]
    assert len(receiver.requests) == 8
    for event_id, event_type, data in ((created, "order.created", {"order_id": "o-1", "total": 4200}),
                                       (cancelled, "order.cancelled", {"order_id": "o-1"})):
        requests = receiver.requests_for(event_id)
        assert [request.status for request in requests] == [500, 500, 500, 204]
        assert {request.body for request in requests} == {requests[0].body}
        assert json.loads(requests[0].body) == {"id": event_id, "type": event_type, "version": 1,
                                                "occurred_at": "2026-11-30T10:00:00Z", "subject": "order:o-1",
                                                "data": data}
        for request in requests:
            assert request.headers["content-type"] == "application/json"
            assert request.headers["omniloom-event-type"] == event_type
            assert verify(request.headers["omniloom-signature"], request.body, secret=SECRET,
                          now=request.received_at)
    done_at = at(START + timedelta(seconds=180))
    assert [(d["status"], d["attempts"], d["last_status_code"], d["last_error"], d["next_attempt_at"],
             d["delivered_at"]) for d in deliveries(admin, webhook["id"])] == [
        ("delivered", 4, 204, None, None, done_at), ("delivered", 4, 204, None, None, done_at)]
    clock.advance(hours=1)
    assert worker.tick().busy is False
    assert len(receiver.requests) == 8


def test_a_receiver_that_verifies_signatures_rejects_a_tampered_body(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe, worker: Worker,
        receiver_for: ReceiverFor) -> None:
    def verifying(headers: dict[str, str], body: bytes) -> int:
        genuine = verify(headers["omniloom-signature"], body, secret=SECRET, now=int(clock.now().timestamp()))
        return 204 if genuine else 400
    receiver = receiver_for(verifying)
    trusted = subscribe(receiver.url, ["order.created"])
    impostor = subscribe(receiver.url, ["order.created"], secret="whsec_not-the-shared-one")
    (event_id,) = record(database, clock, OrderCreated(order_id="o-9", total=100))

    assert worker.tick().webhooks_delivered == 1

    genuine = next(r for r in receiver.requests if r.status == 204)
    tampered = genuine.body.replace(b'"total":100', b'"total":1')
    assert tampered != genuine.body
    replayed = httpx.post(receiver.url, content=tampered, headers={
        "Content-Type": "application/json", "Omniloom-Signature": genuine.headers["omniloom-signature"],
        "Omniloom-Event-Id": event_id})
    assert replayed.status_code == 400
    assert sorted(request.status for request in receiver.requests) == [204, 400, 400]
    assert [(d["status"], d["last_status_code"]) for d in deliveries(admin, trusted["id"])] == [("delivered", 204)]
    assert [(d["status"], d["last_status_code"]) for d in deliveries(admin, impostor["id"])] == [("pending", 400)]


def test_a_delivery_dies_after_the_maximum_age_and_a_manual_retry_sends_it_again(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe, worker: Worker,
        receiver_for: ReceiverFor) -> None:
    answers = {"status": 503}
    receiver = receiver_for(lambda headers, body: answers["status"])
    webhook = subscribe(receiver.url, ["order.created"])
    (event_id,) = record(database, clock, OrderCreated(order_id="o-1", total=100))

    worker.tick()
    for _ in range(10):  # attempts every 60 s; the delays are at most 60 s, the maximum age is 600 s
        clock.advance(seconds=60)
        worker.tick()

    (dead,) = deliveries(admin, webhook["id"])
    assert (dead["status"], dead["attempts"], dead["last_status_code"], dead["last_error"],
            dead["next_attempt_at"]) == ("dead", 11, 503, "HTTP 503", None)
    assert len(receiver.requests_for(event_id)) == 11
    assert deliveries(admin, webhook["id"], status="dead") == [dead]
    assert deliveries(admin, webhook["id"], status="pending") == []
    clock.advance(hours=1)
    assert worker.tick().busy is False
    assert len(receiver.requests) == 11

    answers["status"] = 200
    retried = admin.post(f"/webhooks/{webhook['id']}/deliveries/{dead['id']}/retry")

    assert retried.status_code == 200, retried.text
    assert {key: retried.json()[key] for key in ("status", "attempts", "next_attempt_at")} == {
        "status": "pending", "attempts": 0, "next_attempt_at": at(clock.now())}
    assert worker.tick().webhooks_delivered == 1
    assert [r.status for r in receiver.requests_for(event_id)] == [503] * 11 + [200]
    (delivered,) = deliveries(admin, webhook["id"])
    assert (delivered["status"], delivered["attempts"], delivered["last_status_code"]) == ("delivered", 1, 200)
    problem = assert_problem(admin.post(f"/webhooks/{webhook['id']}/deliveries/{dead['id']}/retry"), 409,
                             "webhook-delivery-not-dead")
    assert problem["detail"] == f"delivery '{dead['id']}' is delivered; only a dead delivery can be retried"
    missing = assert_problem(admin.post(f"/webhooks/{webhook['id']}/deliveries/whd_missing/retry"), 404,
                             "webhook-delivery-not-found")
    assert missing["detail"] == f"webhook subscription '{webhook['id']}' has no delivery 'whd_missing'"


def test_an_unreachable_receiver_is_retried_with_the_error_recorded(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe, worker: Worker) -> None:
    webhook = subscribe("http://127.0.0.1:1/nobody-listens", ["*"])
    record(database, clock, OrderCreated(order_id="o-1", total=100))

    assert worker.tick().webhooks_delivered == 0

    (delivery,) = deliveries(admin, webhook["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("pending", 1, None)
    assert delivery["last_error"].startswith("ConnectError: ")


def test_a_worker_dying_between_the_call_and_the_record_means_a_redelivery_with_the_same_id(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe, worker: Worker,
        receiver_for: ReceiverFor) -> None:
    receiver = receiver_for(lambda headers, body: 204)
    webhook = subscribe(receiver.url, ["order.created"])
    (event_id,) = record(database, clock, OrderCreated(order_id="o-1", total=100))
    worker.tick()  # numbers, fans out, delivers: one request
    assert len(receiver.requests) == 1
    (event_id_2,) = record(database, clock, OrderCreated(order_id="o-2", total=100))
    with database.write() as session:
        outbox.assign_positions(session)
        dispatch.fan_out(session, clock=clock)
    with database.write() as session:
        (claimed,) = dispatch.claim_due(session, clock=clock)
    with httpx.Client() as client:
        assert dispatch.send(client, claimed, clock=clock).delivered  # ... and the worker dies here

    clock.advance(seconds=dispatch.CLAIM_SECONDS - 1)
    assert worker.tick().webhooks_delivered == 0  # still leased to the dead worker
    clock.advance(seconds=1)
    assert worker.tick().webhooks_delivered == 1

    assert [request.headers["omniloom-event-id"] for request in receiver.requests] == [event_id, event_id_2,
                                                                                       event_id_2]
    assert receiver.requests[1].body == receiver.requests[2].body
    assert [(d["event_id"], d["status"], d["attempts"]) for d in deliveries(admin, webhook["id"])] == [
        (event_id, "delivered", 1), (event_id_2, "delivered", 2)]


def test_a_paused_subscription_keeps_its_pending_deliveries_until_it_resumes(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe, worker: Worker,
        receiver_for: ReceiverFor) -> None:
    answers = {"status": 500}
    receiver = receiver_for(lambda headers, body: answers["status"])
    webhook = subscribe(receiver.url, ["order.*"])
    (before,) = record(database, clock, OrderCreated(order_id="o-1", total=100))
    worker.tick()
    admin.patch(f"/webhooks/{webhook['id']}", json={"active": False})
    record(database, clock, OrderCancelled(order_id="o-1"))  # happens while paused: never owed
    answers["status"] = 202
    clock.advance(seconds=60)

    assert worker.tick().webhooks_delivered == 0
    admin.patch(f"/webhooks/{webhook['id']}", json={"active": True})
    assert worker.tick().webhooks_delivered == 1

    assert [(r.headers["omniloom-event-id"], r.status) for r in receiver.requests] == [(before, 500),
                                                                                       (before, 202)]
    assert [d["event_id"] for d in deliveries(admin, webhook["id"])] == [before]


def test_deleting_a_subscription_removes_its_deliveries(
        database: Database, clock: FrozenClock, admin: TestClient, subscribe: Subscribe, worker: Worker) -> None:
    webhook = subscribe("http://127.0.0.1:1/nobody-listens", ["*"])
    record(database, clock, OrderCreated(order_id="o-1", total=100))
    worker.tick()

    assert admin.delete(f"/webhooks/{webhook['id']}").status_code == 204

    clock.advance(minutes=5)
    assert worker.tick().busy is False
