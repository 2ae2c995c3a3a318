"""Pickup and curbside orders by email over real SMTP: the store hears of the new order, the customer hears that it
is ready, exactly once; failures are retried; nothing is dropped silently; a customer reads only their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.settings import Settings
from omniloom.worker import Worker
from tests.checks import assert_problem
from tests.customers.conftest import event, send
from tests.engagement.conftest import (
    BACKOFF_SECONDS,
    Mailbox,
    html_of,
    mail_settings,
    messages,
    move,
    subject_of,
    text_of,
)
from tests.orders.conftest import cart_with, checkout, collect, ship_to

pytestmark = pytest.mark.usefixtures("shop")
STORE_EMAIL = "ams-01@loom.example"


def customer_with_email(admin: TestClient, email: str) -> str:
    customer_id: str = send(admin, event(email=email))["customer_ids"][0]
    return customer_id


def pickup_order(admin: TestClient, *, customer_id: str | None = None, method: str = "pickup", sku: str = "TEE-M",
                 quantity: int = 1, **extra: Any) -> dict[str, Any]:
    """An order collected at AMS-01 (which holds 2 × TEE-M and 1 × MUG)."""
    cart = cart_with(admin, "web", (sku, quantity), customer_id=customer_id)
    response = checkout(admin, cart, "web", collect("AMS-01", method), **extra)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def test_the_store_hears_of_the_order_and_the_customer_that_it_is_ready_exactly_once(
        admin: TestClient, api_as: Callable[[str], TestClient], worker: Worker, mailbox: Mailbox) -> None:
    assert admin.patch("/locations/AMS-01", json={"email": STORE_EMAIL}).json()["email"] == STORE_EMAIL
    customer = customer_with_email(admin, "bo@example.com")
    order = pickup_order(admin, customer_id=customer, quantity=2)

    first = worker.tick()

    assert (first.messages_recorded, first.messages_sent) == (1, 1)
    [store_mail] = mailbox.mails
    assert mailbox.envelopes == [("orders@loom.example", [STORE_EMAIL])]
    assert store_mail["To"] == STORE_EMAIL
    [sender] = store_mail["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Loom & Co", "orders@loom.example")
    assert subject_of(store_mail) == (f"New pickup order {order['id']}: have it ready by Monday 30 November 2026, "
                                     "13:00 (Europe/Amsterdam)")
    assert "2 x Loom product TEE-M (size S0) (TEE-M)" in text_of(store_mail)
    assert "Loom &amp; Co" in html_of(store_mail) and "#aa3355" in html_of(store_mail)

    store = api_as("store:AMS-01")
    move(store, order["fulfillments"][0]["id"], "picking", "ready_for_pickup")
    second = worker.tick()

    assert (second.messages_recorded, second.messages_sent) == (1, 1)
    [ready] = mailbox.to("bo@example.com")
    assert subject_of(ready) == f"Your order {order['id']} is ready for pickup at Store AMS-01"
    assert ready["Message-ID"].endswith("@loom.example>") and ready["Auto-Submitted"] == "auto-generated"
    body = text_of(ready)
    assert order["id"] in body
    assert "Store AMS-01\nKalverstraat 1\n1012 NX Amsterdam\nNL\n" in body
    assert "Please collect it before Thursday 3 December 2026, 11:00 (Europe/Amsterdam)" in body
    assert "2 x Loom product TEE-M (size S0) (TEE-M)" in body
    assert order["id"] in html_of(ready) and "Kalverstraat 1" in html_of(ready)

    third = worker.tick()
    assert (third.messages_recorded, third.messages_sent) == (0, 0)
    assert len(mailbox.mails) == 2

    [sent] = messages(admin, f"/customers/{customer}/messages")
    assert {key: sent[key] for key in ("customer_id", "channel", "template", "recipient", "status", "attempts",
                                       "order_id", "location", "error", "next_attempt_at")} == {
        "customer_id": customer, "channel": "email", "template": "pickup_ready", "recipient": "bo@example.com",
        "status": "sent", "attempts": 1, "order_id": order["id"], "location": "AMS-01", "error": None,
        "next_attempt_at": None}
    assert [m["template"] for m in messages(admin, status="sent")] == ["store_new_pickup", "pickup_ready"]
    timeline = admin.get(f"/customers/{customer}/events").json()["items"]
    assert [(e["type"], e["channel"], e["properties"]) for e in timeline if e["type"] == "message_sent"] == [
        ("message_sent", "web", {"message_id": sent["id"], "template": "pickup_ready", "order_id": order["id"],
                                 "location": "AMS-01"})]


def test_curbside_mails_say_curbside(admin: TestClient, api_as: Callable[[str], TestClient], worker: Worker,
                                     mailbox: Mailbox) -> None:
    admin.patch("/locations/AMS-01", json={"email": STORE_EMAIL})
    order = pickup_order(admin, method="curbside", customer={"email": "Cy@Example.com", "name": "Cy"})
    move(api_as("store:AMS-01"), order["fulfillments"][0]["id"], "picking", "ready_for_pickup")

    worker.tick()

    assert subject_of(mailbox.mails[0]).startswith(f"New curbside pickup order {order['id']}")
    [ready] = mailbox.to("Cy@example.com")
    assert subject_of(ready) == f"Your order {order['id']} is ready for curbside pickup at Store AMS-01"
    assert text_of(ready).startswith("Loom & Co\n\nHello Cy,\n")
    assert "tell us your parking spot" in text_of(ready)


def test_a_shipped_order_sends_nothing(admin: TestClient, worker: Worker, mailbox: Mailbox) -> None:
    admin.patch("/locations/AMS-01", json={"email": STORE_EMAIL})
    checkout(admin, cart_with(admin, "web", ("TEE-L", 1)), "web", ship_to())

    assert worker.tick().messages_recorded == 0
    assert mailbox.mails == [] and messages(admin) == []


def test_a_failed_send_is_retried_after_the_backoff_and_sent_once(
        admin: TestClient, api_as: Callable[[str], TestClient], worker: Worker, mailbox: Mailbox,
        clock: FrozenClock) -> None:
    customer = customer_with_email(admin, "di@example.com")
    order = pickup_order(admin, customer_id=customer)
    move(api_as("store:AMS-01"), order["fulfillments"][0]["id"], "picking", "ready_for_pickup")
    mailbox.stop()

    down = worker.tick()

    assert (down.messages_recorded, down.messages_sent) == (2, 0)
    [failed] = messages(admin, f"/customers/{customer}/messages")
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["error"].startswith("ConnectionRefusedError")
    assert failed["next_attempt_at"] is not None
    assert worker.tick().messages_sent == 0  # not due yet

    mailbox.start()
    clock.advance(seconds=BACKOFF_SECONDS + 1)
    back = worker.tick()

    assert back.messages_sent == 1
    assert len(mailbox.to("di@example.com")) == 1
    [sent] = messages(admin, f"/customers/{customer}/messages")
    assert (sent["status"], sent["attempts"], sent["error"], sent["next_attempt_at"]) == ("sent", 2, None, None)
    clock.advance(hours=2)
    assert worker.tick().messages_sent == 0
    assert len(mailbox.mails) == 1


def test_a_message_that_keeps_failing_stays_failed_after_the_maximum_age(
        admin: TestClient, api_as: Callable[[str], TestClient], worker_for: Callable[[Settings], Worker],
        mailbox: Mailbox, clock: FrozenClock) -> None:
    worker = worker_for(mail_settings(mailbox, mail_max_age_seconds=60))
    customer = customer_with_email(admin, "el@example.com")
    order = pickup_order(admin, customer_id=customer)
    move(api_as("store:AMS-01"), order["fulfillments"][0]["id"], "picking", "ready_for_pickup")
    mailbox.stop()
    worker.tick()
    for _ in range(4):
        clock.advance(seconds=61)
        worker.tick()

    [given_up] = messages(admin, f"/customers/{customer}/messages")
    assert (given_up["status"], given_up["next_attempt_at"]) == ("failed", None)
    attempts = given_up["attempts"]
    mailbox.start()
    clock.advance(hours=1)
    assert worker.tick().messages_sent == 0
    assert mailbox.mails == []
    assert messages(admin, f"/customers/{customer}/messages")[0]["attempts"] == attempts


def test_nothing_is_dropped_silently(admin: TestClient, api_as: Callable[[str], TestClient], worker: Worker,
                                     mailbox: Mailbox) -> None:
    guest = pickup_order(admin)
    typo = pickup_order(admin, customer={"email": "fi@@example.com"})
    store = api_as("store:AMS-01")
    for order in (guest, typo):
        move(store, order["fulfillments"][0]["id"], "picking", "ready_for_pickup")

    report = worker.tick()

    assert (report.messages_recorded, report.messages_sent) == (4, 0)
    assert mailbox.mails == []
    skipped = [(m["template"], m["order_id"], m["recipient"], m["error"]) for m in messages(admin, status="skipped")]
    assert skipped[:2] == [("store_new_pickup", guest["id"], None, "location AMS-01 has no email address"),
                           ("store_new_pickup", typo["id"], None, "location AMS-01 has no email address")]
    assert skipped[2] == ("pickup_ready", guest["id"], None, "the order has no email address for the customer")
    assert skipped[3][:3] == ("pickup_ready", typo["id"], "fi@@example.com")
    assert skipped[3][3].startswith("the email address is not valid")
    assert messages(admin, status="queued") == messages(admin, status="failed") == []


def test_without_a_mail_server_messages_are_recorded_as_skipped(
        admin: TestClient, api_as: Callable[[str], TestClient], worker_for: Callable[[Settings], Worker],
        mailbox: Mailbox) -> None:
    worker = worker_for(Settings(database_url="sqlite://"))
    admin.patch("/locations/AMS-01", json={"email": STORE_EMAIL})
    customer = customer_with_email(admin, "gu@example.com")
    order = pickup_order(admin, customer_id=customer)
    move(api_as("store:AMS-01"), order["fulfillments"][0]["id"], "picking", "ready_for_pickup")

    report = worker.tick()

    assert (report.messages_recorded, report.messages_sent) == (2, 0)
    assert [(m["template"], m["recipient"], m["status"], m["error"]) for m in messages(admin)] == [
        ("store_new_pickup", STORE_EMAIL, "skipped", "email is off: OMNILOOM_SMTP_HOST is not set"),
        ("pickup_ready", "gu@example.com", "skipped", "email is off: OMNILOOM_SMTP_HOST is not set")]
    assert mailbox.mails == []


def test_a_customer_reads_only_their_own_messages(admin: TestClient, api_as: Callable[[str], TestClient],
                                                  worker: Worker) -> None:
    ann = customer_with_email(admin, "ann@example.com")
    ben = customer_with_email(admin, "ben@example.com")
    for customer in (ann, ben):
        order = pickup_order(admin, customer_id=customer)
        move(admin, order["fulfillments"][0]["id"], "picking", "ready_for_pickup")
    worker.tick()
    as_ann = api_as(f"customer:{ann}")

    own = messages(as_ann, f"/customers/{ann}/messages")

    assert [(m["customer_id"], m["recipient"]) for m in own] == [(ann, "ann@example.com")]
    problem = assert_problem(as_ann.get(f"/customers/{ben}/messages"), 403, "forbidden")
    assert "ben@example.com" not in str(problem)
    assert_problem(as_ann.get("/messages"), 403, "forbidden")
    assert_problem(api_as("store:AMS-01").get(f"/customers/{ann}/messages"), 403, "forbidden")
    assert_problem(admin.get("/customers/cus_nobody/messages"), 404, "customer-not-found")
    assert_problem(admin.get("/messages", params={"status": "lost"}), 422, "validation")


def test_messages_page_through(admin: TestClient, worker: Worker) -> None:
    customer = customer_with_email(admin, "jo@example.com")
    for sku in ("TEE-M", "TEE-M", "MUG"):
        pickup_order(admin, customer_id=customer, sku=sku)
    worker.tick()

    first = admin.get("/messages", params={"limit": 2}).json()
    second = admin.get("/messages", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None
    assert len({m["id"] for m in first["items"] + second["items"]}) == 3


def test_erasure_forgets_the_addresses_and_stops_what_was_not_sent(
        admin: TestClient, api_as: Callable[[str], TestClient], worker: Worker, mailbox: Mailbox) -> None:
    customer = customer_with_email(admin, "ka@example.com")
    store = api_as("store:AMS-01")
    sent_order = pickup_order(admin, customer_id=customer)
    move(store, sent_order["fulfillments"][0]["id"], "picking", "ready_for_pickup")
    worker.tick()
    late_order = pickup_order(admin, customer_id=customer)
    move(store, late_order["fulfillments"][0]["id"], "picking", "ready_for_pickup")
    mailbox.stop()
    worker.tick()

    assert admin.delete(f"/customers/{customer}").status_code == 204
    mailbox.start()
    worker.tick()

    assert len(mailbox.mails) == 1
    assert [(m["order_id"], m["recipient"], m["status"]) for m in messages(admin, f"/customers/{customer}/messages")
            ] == [(sent_order["id"], "erased", "sent"), (late_order["id"], "erased", "skipped")]


def test_a_store_email_must_be_an_address(admin: TestClient) -> None:
    assert_problem(admin.patch("/locations/AMS-01", json={"email": "front desk"}), 422, "validation")
    assert admin.get("/locations/AMS-01").json()["email"] is None
