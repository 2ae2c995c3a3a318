"""Price lists over HTTP: creation, validation, reading and authorisation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.db import Database
from tests.checks import assert_problem, counts
from tests.factories import recorded_events


def test_create_and_read_a_price_list(admin: TestClient, api_as: Callable[[str], TestClient],
                                      database: Database) -> None:
    response = admin.post("/price-lists", json={"code": "WEB-EUR", "currency": "EUR", "name": "Web shop"})

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"].startswith("prl_")
    assert {key: value for key, value in created.items() if key != "id"} == {
        "code": "WEB-EUR", "name": "Web shop", "currency": "EUR", "is_default": False,
        "created_at": "2026-11-30T10:00:00Z"}
    assert api_as("channel:web").get("/price-lists/WEB-EUR").json() == created
    assert admin.post("/price-lists", json={"code": "US", "currency": "USD"}).json()["name"] == "US"
    with database.write() as session:
        events = recorded_events(session)
    assert [(event.type, event.subject, event.payload) for event in events] == [
        ("price_list.created", "price_list:WEB-EUR", {"code": "WEB-EUR", "currency": "EUR", "is_default": False}),
        ("price_list.created", "price_list:US", {"code": "US", "currency": "USD", "is_default": False}),
    ]


def test_price_lists_are_paginated_by_code(admin: TestClient) -> None:
    for code, currency in (("C", "EUR"), ("A", "USD"), ("B", "ZAR")):
        admin.post("/price-lists", json={"code": code, "currency": currency})

    first = admin.get("/price-lists", params={"limit": 2}).json()
    second = admin.get("/price-lists", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [item["code"] for item in first["items"]] == ["A", "B"]
    assert [(item["code"], item["currency"]) for item in second["items"]] == [("C", "EUR")]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(("body", "errors"), [
    ({"code": "WEB-EUR", "currency": "EURO"}, [{"field": "currency",
                                                "message": "String should have at most 3 characters"}]),
    ({"code": "WEB-EUR", "currency": "ABC"},
     [{"field": "currency", "message": "'ABC' is not an ISO 4217 currency code (e.g. EUR, USD, ZAR, IDR)"}]),
    ({"code": "WEB-EUR", "currency": "eur"},
     [{"field": "currency", "message": "'eur' is not an ISO 4217 currency code (e.g. EUR, USD, ZAR, IDR)"}]),
    ({"code": "web eur", "currency": "EUR"},
     [{"field": "code", "message": "String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$'"}]),
    ({"code": "X" * 65, "currency": "EUR"},
     [{"field": "code", "message": "String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$'"}]),
    ({"code": "WEB-EUR", "currency": "EUR", "name": "n" * 201},
     [{"field": "name", "message": "String should have at most 200 characters"}]),
    ({"code": "DEFAULT-EUR", "currency": "EUR"},
     [{"field": "code", "message": "codes starting with 'DEFAULT-' are reserved for the default price list of "
                                   "each currency"}]),
    ({"currency": "EUR"}, [{"field": "code", "message": "Field required"}]),
])
def test_invalid_price_lists_are_refused(admin: TestClient, database: Database, body: dict[str, Any],
                                         errors: list[dict[str, str]]) -> None:
    before = counts(database)
    assert assert_problem(admin.post("/price-lists", json=body), 422, "validation")["errors"] == errors
    assert counts(database) == before


def test_a_taken_code_is_a_conflict(admin: TestClient, database: Database) -> None:
    admin.post("/price-lists", json={"code": "WEB-EUR", "currency": "EUR"})
    before = counts(database)
    body = assert_problem(admin.post("/price-lists", json={"code": "WEB-EUR", "currency": "USD"}), 409,
                   "price-list-code-taken")
    assert body["errors"] == [{"field": "code", "message": "a price list with code 'WEB-EUR' already exists"}]
    assert counts(database) == before


def test_malformed_json_is_a_400(admin: TestClient, database: Database) -> None:
    before = counts(database)
    assert_problem(admin.post("/price-lists", content=b"[", headers={"content-type": "application/json"}), 400,
            "malformed-request")
    assert counts(database) == before


def test_writes_need_admin_and_reads_need_admin_or_a_channel(
    client: TestClient, api_as: Callable[[str], TestClient], admin: TestClient, database: Database
) -> None:
    before = counts(database)
    assert_problem(client.post("/api/v1/price-lists", json={"code": "X", "currency": "EUR"}), 401, "unauthenticated")
    for role in ("channel:web", "store:AMS-01"):
        assert_problem(api_as(role).post("/price-lists", json={"code": "X", "currency": "EUR"}), 403, "forbidden")
    assert counts(database) == before

    admin.post("/price-lists", json={"code": "X", "currency": "EUR"})
    for role in ("store:AMS-01", "customer:cus_1"):
        assert_problem(api_as(role).get("/price-lists"), 403, "forbidden")
        assert_problem(api_as(role).get("/price-lists/X"), 403, "forbidden")
    assert_problem(client.get("/api/v1/price-lists"), 401, "unauthenticated")
    assert [item["code"] for item in api_as("channel:pos").get("/price-lists").json()["items"]] == ["X"]
    assert_problem(admin.get("/price-lists/NOPE"), 404, "price-list-not-found")
