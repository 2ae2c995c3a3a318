"""Delta feeds: after a cursor, exactly the items whose feed row changed, removals as deletions."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings
from omniloom.worker import Worker
from tests.checks import assert_problem
from tests.syndication import feed_catalog


@pytest.fixture
def product_ids(admin: TestClient) -> dict[str, str]:
    return feed_catalog.build(admin)


def cursor_now(admin: TestClient) -> str:
    response = admin.get("/channels/google/feed", params={"format": "json"})
    assert response.status_code == 200, response.text
    return response.headers["Omniloom-Feed-Cursor"]


def delta(admin: TestClient, since: str) -> tuple[list[dict[str, Any]], str]:
    response = admin.get("/channels/google/feed", params={"format": "json", "since": since})
    assert response.status_code == 200, response.text
    return json.loads(response.text)["items"], response.headers["Omniloom-Feed-Cursor"]


def move(admin: TestClient, sku: str, location: str, quantity: int, reason: str = "adjustment") -> None:
    response = admin.post("/inventory/movements", json={"sku": sku, "location": location, "quantity": quantity,
                                                       "reason": reason})
    assert response.status_code == 201, response.text


@pytest.mark.usefixtures("product_ids")
def test_nothing_changed_means_an_empty_delta_and_the_same_cursor(admin: TestClient) -> None:
    cursor = cursor_now(admin)

    items, next_cursor = delta(admin, cursor)

    assert items == []
    assert next_cursor == cursor


@pytest.mark.usefixtures("product_ids")
def test_a_price_change_sends_that_item_only(admin: TestClient) -> None:
    cursor = cursor_now(admin)
    assert admin.put("/price-lists/ADS-EUR/prices/TEE-RED-M", json={"amount": 1799}).status_code == 200

    items, next_cursor = delta(admin, cursor)

    assert [(item["id"], item["action"], item["price"]) for item in items] == [
        ("TEE-RED-M", "upsert", {"amount": 1799, "currency": "EUR"})]
    assert next_cursor != cursor
    assert delta(admin, next_cursor)[0] == []


@pytest.mark.usefixtures("product_ids")
def test_a_cost_change_across_the_margin_rule_deletes_and_restores_the_item(admin: TestClient) -> None:
    settings = {**feed_catalog.FEED_SETTINGS, "exclusions": {"min_margin_percent": 20}}
    assert admin.patch("/channels/google", json={"feed_settings": settings}).status_code == 200
    cursor = cursor_now(admin)

    assert admin.patch("/variants/TEE-RED-M", json={"cost": {"amount": 1700, "currency": "EUR"}}).status_code == 200
    items, cursor = delta(admin, cursor)
    assert [(item["id"], item["action"]) for item in items] == [("TEE-RED-M", "delete")]

    assert admin.patch("/variants/TEE-RED-M", json={"cost": None}).status_code == 200
    items, cursor = delta(admin, cursor)
    assert [(item["id"], item["action"]) for item in items] == [("TEE-RED-M", "upsert")]
    assert delta(admin, cursor)[0] == []


@pytest.mark.usefixtures("product_ids")
def test_stock_counts_only_when_it_crosses_the_threshold_or_sells_out(admin: TestClient) -> None:
    cursor = cursor_now(admin)
    move(admin, "TEE-RED-M", "WH-1", 5, "receipt")        # 12 → 17: above the threshold (5) both times
    move(admin, "TEE-RED-L", "AMS-01", -1)                # 4 → 3: below the threshold: sent
    move(admin, "TEE-RED-L", "LWR-01", -3)                # 3 → 0: sold out

    items, _ = delta(admin, cursor)

    assert [(item["id"], item["availability"], item["quantity"]) for item in items] == [
        ("TEE-RED-L", "out_of_stock", 0)]


@pytest.mark.usefixtures("product_ids")
def test_new_and_removed_products_and_exclusions(admin: TestClient, product_ids: dict[str, str]) -> None:
    cursor = cursor_now(admin)
    created = admin.post("/products", json={
        "title": "Cap", "description": "Wool cap", "brand": "Loom", "category": "Apparel > Hats",
        "media": [{"url": "https://cdn.example.com/cap.jpg"}],
        "variants": [{"sku": "CAP-1", "gtin": "4000000000006", "price": {"amount": 1299, "currency": "EUR"}}]})
    assert created.status_code == 201, created.text
    assert admin.patch(f"/products/{product_ids['mug']}", json={"status": "archived"}).status_code == 200
    assert admin.put("/channels/google/listings/TEE-RED-L", json={"excluded": True}).status_code == 200

    items, cursor = delta(admin, cursor)

    assert sorted((item["id"], item["action"]) for item in items) == [
        ("CAP-1", "upsert"), ("MUG-1", "delete"), ("TEE-RED-L", "delete")]
    assert admin.put("/channels/google/listings/TEE-RED-L", json={"excluded": False}).status_code == 200
    assert [(item["id"], item["action"]) for item in delta(admin, cursor)[0]] == [("TEE-RED-L", "upsert")]


@pytest.mark.usefixtures("product_ids")
def test_a_channel_setting_change_resends_what_it_changes(admin: TestClient) -> None:
    cursor = cursor_now(admin)
    settings = {**feed_catalog.FEED_SETTINGS, "title_template": "{title} by {brand}"}
    assert admin.patch("/channels/google", json={"feed_settings": settings}).status_code == 200

    items, _ = delta(admin, cursor)

    assert sorted((item["id"], item["title"]) for item in items) == [
        ("MUG-1", "Mug by Kiln"), ("TEE-RED-L", "Tee by Loom"), ("TEE-RED-M", "Tee by Loom")]


@pytest.mark.usefixtures("product_ids")
def test_tabular_deltas_carry_an_action_column(admin: TestClient, product_ids: dict[str, str]) -> None:
    cursor = cursor_now(admin)
    assert admin.put("/price-lists/ADS-EUR/prices/TEE-RED-M", json={"amount": 1799}).status_code == 200
    assert admin.patch(f"/products/{product_ids['mug']}", json={"status": "archived"}).status_code == 200

    response = admin.get("/channels/google/feed", params={"format": "google_tsv", "since": cursor})

    rows = list(csv.DictReader(io.StringIO(response.text), delimiter="\t"))
    assert sorted((row["action"], row["id"], row["price"]) for row in rows) == [
        ("delete", "MUG-1", ""), ("upsert", "TEE-RED-M", "17.99 EUR")]


@pytest.mark.usefixtures("product_ids")
def test_a_cursor_not_handed_out_is_refused_naming_since(admin: TestClient) -> None:
    for bad in ("not-a-cursor!", "OTk5OQ"):  # the second is "9999", past the latest change
        response = admin.get("/channels/google/feed", params={"format": "json", "since": bad})
        assert_problem(response, 422, "validation", [{"field": "since", "message": (
            "is not a cursor this channel's feed returned (Omniloom-Feed-Cursor)")}])


@pytest.mark.usefixtures("product_ids")
def test_bad_requests_name_the_problem(admin: TestClient, api_as: Any) -> None:
    unknown = admin.get("/channels/google/feed", params={"format": "pdf"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "format"
    assert_problem(admin.get("/channels/nope/feed"), 404, "channel-not-found")
    assert admin.post("/channels", json={"code": "pos", "name": "Tills", "type": "pos", "currency": "EUR",
                                         "price_list": "ADS-EUR"}).status_code == 201
    assert_problem(admin.get("/channels/pos/feed"), 409, "feed-not-configured")
    other_channel = api_as("channel:pos")
    assert other_channel.get("/channels/google/feed").status_code == 403
    assert api_as("channel:google").get("/channels/google/feed").status_code == 200


@pytest.mark.usefixtures("product_ids")
def test_the_worker_keeps_the_feed_changes_numbered(admin: TestClient, database: Database,
                                                     clock: FrozenClock) -> None:
    worker = Worker(database, clock, interval_seconds=0.01, settings=Settings(database_url="sqlite://"))
    try:
        assert worker.tick().feeds_updated == 1  # the baseline
        assert worker.tick().feeds_updated == 0
        cursor = cursor_now(admin)
        assert admin.put("/price-lists/ADS-EUR/prices/MUG-1", json={"amount": 799}).status_code == 200
        assert worker.tick().feeds_updated == 1
        assert worker.tick().feeds_updated == 0
    finally:
        worker.close()

    items, _ = delta(admin, cursor)
    assert [(item["id"], item["price"]["amount"]) for item in items] == [("MUG-1", 799)]
