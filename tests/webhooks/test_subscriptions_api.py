"""Webhook subscriptions over HTTP: create, read, change, delete; bad input names the field; admin only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.db import Database
from tests.checks import assert_problem, counts
from tests.webhooks.conftest import SECRET

TABLES = ("webhook_subscriptions", "webhook_deliveries")
URL = "https://erp.example.com/omniloom"


def body(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"url": URL, "events": ["order.created", "fulfillment.*"], "secret": SECRET}
    payload.update(overrides)
    return payload


def test_create_shows_the_secret_once_and_reads_never_show_it(admin: TestClient) -> None:
    response = admin.post("/webhooks", json=body())

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"].startswith("whk_")
    assert {key: value for key, value in created.items() if key != "id"} == {
        "url": URL, "events": ["order.created", "fulfillment.*"], "active": True, "secret": SECRET,
        "created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z"}
    shown = admin.get(f"/webhooks/{created['id']}").json()
    assert shown == {key: value for key, value in created.items() if key != "secret"}
    assert admin.get("/webhooks").json() == {"items": [shown], "next_cursor": None}


def test_a_secret_is_generated_when_none_is_given(admin: TestClient) -> None:
    first = admin.post("/webhooks", json={"url": URL, "events": ["*"]}).json()
    second = admin.post("/webhooks", json={"url": URL, "events": ["*"]}).json()

    assert first["secret"].startswith("whsec_") and len(first["secret"]) == len("whsec_") + 43
    assert first["secret"] != second["secret"]


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"url": "ftp://erp.example.com/x"}, "url", "must be an absolute http:// or https:// address"),
    ({"url": "https://"}, "url", "must be an absolute http:// or https:// address"),
    ({"url": "https://erp.example.com/a b"}, "url", "must be an absolute http:// or https:// address"),
    ({"events": []}, "events", "List should have at least 1 item after validation, not 0"),
    ({"events": ["Order.Created"]}, "events[0]",
     "String should match pattern '^(\\*|[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?)$'"),
    ({"events": ["order.*.created"]}, "events[0]",
     "String should match pattern '^(\\*|[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?)$'"),
    ({"events": ["order.created", "order.created"]}, "events", "lists an event pattern more than once"),
    ({"secret": "too-short"}, "secret", "String should have at least 16 characters"),
    ({"secret": "sixteen chars and a space"}, "secret", "String should match pattern '^[\\x21-\\x7E]+$'"),
    ({"active": False}, "active", "Extra inputs are not permitted"),
])
def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(
        admin: TestClient, database: Database, overrides: dict[str, Any], field: str, message: str) -> None:
    before = counts(database, TABLES)

    response = admin.post("/webhooks", json=body(**overrides))

    assert_problem(response, 422, "validation", [{"field": field, "message": message}])
    assert counts(database, TABLES) == before


def test_missing_fields_are_named(admin: TestClient) -> None:
    response = admin.post("/webhooks", json={})

    assert_problem(response, 422, "validation", [{"field": "url", "message": "Field required"},
                                                 {"field": "events", "message": "Field required"}])


def test_update_changes_only_the_fields_sent(admin: TestClient, clock: Any) -> None:
    created = admin.post("/webhooks", json=body()).json()
    clock.advance(minutes=5)

    response = admin.patch(f"/webhooks/{created['id']}",
                           json={"events": ["order.*"], "active": False, "url": "http://10.0.0.5:8080/in"})

    assert response.status_code == 200, response.text
    assert response.json() == {"id": created["id"], "url": "http://10.0.0.5:8080/in", "events": ["order.*"],
                               "active": False, "created_at": "2026-11-30T10:00:00Z",
                               "updated_at": "2026-11-30T10:05:00Z"}
    unchanged = admin.patch(f"/webhooks/{created['id']}", json={"active": False})
    assert unchanged.json()["updated_at"] == "2026-11-30T10:05:00Z"


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"events": None}, "events", "must not be null"),
    ({"active": None}, "active", "must not be null"),
    ({"url": "mailto:ops@example.com"}, "url", "must be an absolute http:// or https:// address"),
    ({"secret": SECRET}, "secret", "Extra inputs are not permitted"),
])
def test_a_bad_update_is_a_422_and_changes_nothing(admin: TestClient, patch: dict[str, Any], field: str,
                                                   message: str) -> None:
    created = admin.post("/webhooks", json=body()).json()

    response = admin.patch(f"/webhooks/{created['id']}", json=patch)

    assert_problem(response, 422, "validation", [{"field": field, "message": message}])
    assert admin.get(f"/webhooks/{created['id']}").json() == {k: v for k, v in created.items() if k != "secret"}


def test_delete_removes_the_subscription(admin: TestClient, database: Database) -> None:
    created = admin.post("/webhooks", json=body()).json()

    assert admin.delete(f"/webhooks/{created['id']}").status_code == 204

    assert_problem(admin.get(f"/webhooks/{created['id']}"), 404, "webhook-not-found")
    assert_problem(admin.delete(f"/webhooks/{created['id']}"), 404, "webhook-not-found")
    assert counts(database, TABLES) == {"webhook_subscriptions": 0, "webhook_deliveries": 0}


def test_unknown_subscriptions_are_404(admin: TestClient) -> None:
    for response in (admin.get("/webhooks/whk_missing"), admin.patch("/webhooks/whk_missing", json={}),
                     admin.get("/webhooks/whk_missing/deliveries"),
                     admin.post("/webhooks/whk_missing/deliveries/whd_missing/retry")):
        problem = assert_problem(response, 404, "webhook-not-found")
        assert problem["detail"] == "webhook subscription 'whk_missing' does not exist"


def test_the_list_is_paginated(admin: TestClient) -> None:
    ids = [admin.post("/webhooks", json=body(url=f"{URL}/{n}")).json()["id"] for n in range(3)]

    first = admin.get("/webhooks", params={"limit": 2}).json()
    rest = admin.get("/webhooks", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [item["id"] for item in first["items"] + rest["items"]] == ids
    assert rest["next_cursor"] is None


def test_deliveries_filter_must_name_a_status(admin: TestClient) -> None:
    created = admin.post("/webhooks", json=body()).json()

    response = admin.get(f"/webhooks/{created['id']}/deliveries", params={"status": "lost"})

    assert_problem(response, 422, "validation",
                   [{"field": "status", "message": "Input should be 'pending', 'delivered' or 'dead'"}])
    assert admin.get(f"/webhooks/{created['id']}/deliveries").json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/webhooks"), ("get", "/webhooks"), ("get", "/webhooks/whk_1"), ("patch", "/webhooks/whk_1"),
    ("delete", "/webhooks/whk_1"), ("get", "/webhooks/whk_1/deliveries"),
    ("post", "/webhooks/whk_1/deliveries/whd_1/retry"),
])
def test_only_admins_manage_webhooks(api_as: Callable[[str], TestClient], client: TestClient, database: Database,
                                     method: str, path: str) -> None:
    before = counts(database, TABLES)

    anonymous = client.request(method, "/api/v1" + path, json=body())
    store = api_as("store:AMS-01").request(method, path, json=body())
    channel = api_as("channel:web").request(method, path, json=body())

    assert_problem(anonymous, 401, "unauthenticated")
    assert_problem(store, 403, "forbidden")
    assert_problem(channel, 403, "forbidden")
    assert counts(database, TABLES) == before
