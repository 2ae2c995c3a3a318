"""Consent with history, the right of access (export) and erasure that leaves no trace of the person."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, Text, inspect, select, text

from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.customers.conftest import event, order, send

pytestmark = pytest.mark.usefixtures("channels")


def test_consent_per_purpose_keeps_its_full_history(admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    customer = send(admin, event(email="c@example.com"))["customer_ids"][0]
    web = api_as("channel:web")
    granted = web.put(f"/customers/{customer}/consents/email_marketing",
                      json={"granted": True, "source": "checkout checkbox"})
    assert granted.status_code == 200 and granted.json()["channel"] == "web"
    store = api_as("store:AMS-01")
    assert store.put(f"/customers/{customer}/consents/email_marketing",
                     json={"granted": False, "channel": "pos", "source": "asked at the till"}).status_code == 200
    assert admin.put(f"/customers/{customer}/consents/profiling",
                     json={"granted": True, "source": "preference centre"}).status_code == 200
    current = {c["purpose"]: c["granted"] for c in admin.get(f"/customers/{customer}").json()["consents"]}
    assert current == {"email_marketing": False, "profiling": True}
    history = admin.get(f"/customers/{customer}/consents").json()["items"]
    assert [(h["purpose"], h["granted"], h["channel"], h["source"]) for h in history] == [
        ("email_marketing", True, "web", "checkout checkbox"), ("email_marketing", False, "pos", "asked at the till"),
        ("profiling", True, None, "preference centre")]
    assert len({h["actor"] for h in history}) == 3


def test_consent_input_is_checked(admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    customer = send(admin, event(email="c@example.com"))["customer_ids"][0]
    assert_problem(admin.put(f"/customers/{customer}/consents/telepathy", json={"granted": True, "source": "x"}),
                   422, "validation")
    assert_problem(admin.put(f"/customers/{customer}/consents/push", json={"granted": "maybe", "source": "x"}),
                   422, "validation", [{"field": "granted", "message": "Input should be a valid boolean, unable to "
                                                                       "interpret input"}])
    assert_problem(api_as("channel:web").put(f"/customers/{customer}/consents/push",
                                             json={"granted": True, "channel": "app", "source": "x"}),
                   403, "forbidden")
    assert admin.get(f"/customers/{customer}/consents").json()["items"] == []


def test_export_holds_everything_about_the_person_and_only_the_person_may_ask(
        admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    first, other = send(admin, event("identify", email="e@example.com", device_id="d-1",
                                     properties={"first_name": "Eelke"}),
                        event(email="someone@example.com"))["customer_ids"]
    second = send(admin, order("P-1", 1250, channel="pos", loyalty_id="FR-5"))["customer_ids"][0]
    send(admin, event("identify", "app", email="e@example.com", loyalty_id="FR-5"))
    admin.put(f"/customers/{first}/consents/push", json={"granted": True, "source": "app prompt"})
    exported = api_as(f"customer:{second}").get(f"/customers/{second}/export")
    assert exported.status_code == 200
    data = exported.json()
    assert data["customer_id"] == first and data["merged_ids"] == [second]
    assert {(i["kind"], i["value"]) for i in data["identities"]} == {
        ("email", "e@example.com"), ("device", "d-1"), ("loyalty", "FR-5")}
    assert data["attributes"] == {"first_name": "Eelke"}
    assert [p["order_id"] for p in data["purchases"]] == ["P-1"]
    assert len(data["events"]) == 3 and [c["purpose"] for c in data["consents"]] == ["push"]
    assert [m["status"] for m in data["merges"]] == ["merged"]
    assert_problem(api_as(f"customer:{other}").get(f"/customers/{first}/export"), 403, "forbidden")
    assert_problem(api_as("store:AMS-01").get(f"/customers/{first}/export"), 403, "forbidden")


def _text_columns(database: Database) -> list[tuple[str, str]]:
    with database.read() as session:
        inspector = inspect(session.get_bind())
        return [(table, column["name"]) for table in inspector.get_table_names()
                for column in inspector.get_columns(table)
                if isinstance(column["type"], String | Text) or "JSON" in type(column["type"]).__name__.upper()]


def _holding(database: Database, values: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, value) for every erased value still found anywhere in the database."""
    found = []
    with database.read() as session:
        for table, column in _text_columns(database):
            for value in values:
                hit = session.execute(text(f'SELECT 1 FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE :v LIMIT 1'),
                                      {"v": f"%{value}%"}).first()
                if hit:
                    found.append((table, column, value))
    return found


def test_erasure_leaves_no_trace_of_the_person_while_sales_totals_stay(
        admin: TestClient, database: Database) -> None:
    admin.put("/loyalty/program", json={"currency": "EUR", "points_per_unit": 1})
    personal = ["wietske.dijkstra@example.com", "+31687654321", "dev-wietske-01", "FRL-77123", "buyer-wietske",
                "Wietske", "Dijkstra", "Kleine Kerkstraat 12"]
    anonymous = send(admin, event("product_view", device_id="dev-wietske-01", properties={"sku": "TEE-M"}))
    customer = anonymous["customer_ids"][0]
    send(admin,
         event("identify", device_id="dev-wietske-01", email="Wietske.Dijkstra@example.com",
               properties={"first_name": "Wietske", "last_name": "Dijkstra",
                           "address": "Kleine Kerkstraat 12, Leeuwarden"}),
         order("P-1", 4500, channel="pos", phone="06 87654321", loyalty_id="frl-77123"),
         event("identify", "pos", phone="+31687654321", email="wietske.dijkstra@example.com"),
         order("B-1", 3000, channel="bol", external_ids={"bol": "buyer-wietske"}, email="wietske.dijkstra@example.com"),
         event("service_contact", "web", email="wietske.dijkstra@example.com",
               properties={"note": "Wietske Dijkstra asked about her parcel"}))
    admin.put(f"/customers/{customer}/consents/email_marketing", json={"granted": True, "source": "web form"})
    assert len(_holding(database, personal)) > 5  # the scan does find the values before erasure
    with database.read() as session:
        totals_before = session.execute(text("SELECT count(*), sum(amount) FROM customer_purchases")).one()

    assert admin.delete(f"/customers/{customer}").status_code == 204

    assert _holding(database, personal) == []
    with database.read() as session:
        assert session.execute(text("SELECT count(*), sum(amount) FROM customer_purchases")).one() == totals_before
        kept = session.execute(select(text("properties")).select_from(text("customer_events"))
                               .where(text("type = 'order_completed'"))).scalars().all()
    assert sorted(json.loads(p)["order_id"] if isinstance(p, str) else p["order_id"] for p in kept) == ["B-1", "P-1"]
    view = admin.get(f"/customers/{customer}").json()
    assert view["erased"] is True and view["identities"] == [] and view["attributes"] == {}
    assert view["traits"]["monetary"] == {"amount": 7500, "currency": "EUR"}
    assert admin.get("/customers", params={"email": "wietske.dijkstra@example.com"}).json()["items"] == []
    assert_problem(admin.put(f"/customers/{customer}/consents/push", json={"granted": True, "source": "x"}),
                   409, "customer-erased")
    # the same email arriving later is a new, unrelated profile
    later = send(admin, event(email="wietske.dijkstra@example.com"))["customer_ids"][0]
    assert later != customer


def test_only_admin_or_the_person_may_erase(admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    customer = send(admin, event(email="keep@example.com"))["customer_ids"][0]
    assert_problem(api_as("store:AMS-01").delete(f"/customers/{customer}"), 403, "forbidden")
    assert_problem(api_as("channel:web").delete(f"/customers/{customer}"), 403, "forbidden")
    assert admin.get("/customers", params={"email": "keep@example.com"}).json()["items"][0]["id"] == customer
    assert api_as(f"customer:{customer}").delete(f"/customers/{customer}").status_code == 204
