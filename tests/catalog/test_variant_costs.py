"""A variant's cost: set on creation or by PATCH /variants/{sku}, shown to admin keys only, never in events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.factories import recorded_events


def product(cost: dict[str, Any] | None = None) -> dict[str, Any]:
    variant: dict[str, Any] = {"sku": "MUG-1", "options": {}, "price": {"amount": 1500, "currency": "EUR"}}
    if cost is not None:
        variant["cost"] = cost
    return {"title": "Stoneware mug", "brand": "Loom", "category": "Home", "variants": [variant]}


def variant_state(database: Database) -> tuple[Any, ...]:
    with database.read() as session:
        return tuple(session.execute(text("SELECT cost_amount, cost_currency, mpn, weight_grams, updated_at "
                                          "FROM variants WHERE sku = 'MUG-1'")).one())


def test_admin_sets_a_cost_on_creation_and_sees_it_everywhere(admin: TestClient) -> None:
    created = admin.post("/products", json=product({"amount": 620, "currency": "EUR"}))

    assert created.status_code == 201, created.text
    cost = {"amount": 620, "currency": "EUR"}
    assert created.json()["variants"][0]["cost"] == cost
    assert admin.get(f"/products/{created.json()['id']}").json()["variants"][0]["cost"] == cost
    assert admin.get("/products").json()["items"][0]["variants"][0]["cost"] == cost
    assert admin.get("/variants/MUG-1").json()["cost"] == cost


@pytest.mark.parametrize("role", ["channel:web", "store:AMS-01"])
def test_channel_and_store_keys_never_see_the_cost(admin: TestClient, api_as: Callable[[str], TestClient],
                                                   role: str) -> None:
    product_id = admin.post("/products", json=product({"amount": 620, "currency": "EUR"})).json()["id"]
    reader = api_as(role)

    assert reader.get(f"/products/{product_id}").json()["variants"][0]["cost"] is None
    assert reader.get("/products").json()["items"][0]["variants"][0]["cost"] is None
    assert reader.get("/variants/MUG-1").json()["cost"] is None
    assert "620" not in reader.get("/variants/MUG-1").text


def test_patch_changes_only_the_fields_sent_and_records_their_names(admin: TestClient, database: Database) -> None:
    admin.post("/products", json=product({"amount": 620, "currency": "EUR"}))

    changed = admin.patch("/variants/MUG-1", json={"cost": {"amount": 700, "currency": "EUR"}, "weight_grams": 350})

    assert changed.status_code == 200, changed.text
    assert (changed.json()["cost"], changed.json()["weight_grams"], changed.json()["mpn"]) == (
        {"amount": 700, "currency": "EUR"}, 350, None)
    cleared = admin.patch("/variants/MUG-1", json={"cost": None})
    assert cleared.json()["cost"] is None and cleared.json()["weight_grams"] == 350
    unchanged = admin.patch("/variants/MUG-1", json={"weight_grams": 350})
    assert unchanged.status_code == 200
    with database.write() as session:
        updates = recorded_events(session, types=["variant.updated"])
    assert [(event.subject, event.payload["fields"]) for event in updates] == [
        ("sku:MUG-1", ["cost", "weight_grams"]), ("sku:MUG-1", ["cost"])]
    assert all("700" not in str(event.payload) and "620" not in str(event.payload) for event in updates)


@pytest.mark.parametrize(("body", "field"), [
    ({"cost": {"amount": -1, "currency": "EUR"}}, "cost.amount"),
    ({"cost": {"amount": 100, "currency": "EURO"}}, "cost.currency"),
    ({"cost": {"amount": 100}}, "cost.currency"),
    ({"weight_grams": -5}, "weight_grams"),
    ({"mpn": ""}, "mpn"),
    ({"sku": "OTHER"}, "sku"),
])
def test_bad_variant_changes_are_refused_naming_the_field_and_change_nothing(admin: TestClient, database: Database,
                                                                            body: dict[str, Any], field: str) -> None:
    admin.post("/products", json=product({"amount": 620, "currency": "EUR"}))
    before = variant_state(database)

    problem = assert_problem(admin.patch("/variants/MUG-1", json=body), 422, "validation")

    assert problem["errors"][0]["field"] == field
    assert variant_state(database) == before


def test_a_bad_cost_on_creation_is_refused(admin: TestClient, database: Database) -> None:
    problem = assert_problem(admin.post("/products", json=product({"amount": 620, "currency": "XXXX"})), 422,
                             "validation")

    assert problem["errors"][0]["field"] == "variants[0].cost.currency"


def test_only_admin_changes_a_variant_and_an_unknown_sku_is_a_404(admin: TestClient, database: Database,
                                                                  api_as: Callable[[str], TestClient]) -> None:
    admin.post("/products", json=product({"amount": 620, "currency": "EUR"}))
    before = variant_state(database)

    assert_problem(api_as("channel:web").patch("/variants/MUG-1", json={"cost": None}), 403, "forbidden")
    assert_problem(admin.patch("/variants/NOPE", json={"cost": None}), 404, "sku-not-found")
    assert variant_state(database) == before
