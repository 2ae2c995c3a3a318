"""Per-channel listings: listing ids and overrides, who may set them, and the lookups order import uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.catalog import service
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import assert_problem, counts
from tests.factories import make_channel, make_product, recorded_events


@pytest.fixture
def catalog(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        make_product(session, skus=("TEE-S", "TEE-M", "TEE-L"), clock=clock)
        make_channel(session, code="amazon", type="marketplace", clock=clock)
        make_channel(session, code="web", clock=clock)




@pytest.mark.usefixtures("catalog")
def test_put_listing_creates_then_replaces_the_overrides(admin: TestClient) -> None:
    response = admin.put("/channels/amazon/listings/TEE-M", json={
        "listing_id": "B0TEE-M", "title": "Tee M (Amazon)", "description": "Cotton tee",
        "category": "Clothing > Shirts", "attributes": {"bullet_1": "soft"}})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "channel": "amazon", "sku": "TEE-M", "listing_id": "B0TEE-M", "title": "Tee M (Amazon)",
        "description": "Cotton tee", "category": "Clothing > Shirts", "attributes": {"bullet_1": "soft"},
        "excluded": False, "updated_at": "2026-11-30T10:00:00Z"}

    replaced = admin.put("/channels/amazon/listings/TEE-M", json={"listing_id": "B0TEE-M", "excluded": True}).json()
    assert replaced == {"channel": "amazon", "sku": "TEE-M", "listing_id": "B0TEE-M", "title": None,
                        "description": None, "category": None, "attributes": {}, "excluded": True,
                        "updated_at": "2026-11-30T10:00:00Z"}


@pytest.mark.usefixtures("catalog")
def test_listing_changes_are_recorded_once_per_change(admin: TestClient, database: Database) -> None:
    with database.write() as session:
        already = len(recorded_events(session))
    admin.put("/channels/amazon/listings/TEE-M", json={"listing_id": "B0TEE-M"})
    admin.put("/channels/amazon/listings/TEE-M", json={"listing_id": "B0TEE-M"})
    admin.put("/channels/amazon/listings/TEE-M", json={"listing_id": "B0TEE-M", "excluded": True})

    with database.write() as session:
        events = recorded_events(session)[already:]
    assert [(event.type, event.subject, event.payload) for event in events] == [
        ("listing.changed", "sku:TEE-M", {
            "channel": "amazon", "sku": "TEE-M", "listing_id": "B0TEE-M", "excluded": False,
            "changes": {"listing_id": "B0TEE-M", "title": None, "description": None, "category": None,
                        "attributes": {}, "excluded": False}}),
        ("listing.changed", "sku:TEE-M", {
            "channel": "amazon", "sku": "TEE-M", "listing_id": "B0TEE-M", "excluded": True,
            "changes": {"excluded": True}}),
    ]


@pytest.mark.usefixtures("catalog")
def test_a_listing_id_is_unique_per_channel(admin: TestClient, database: Database) -> None:
    admin.put("/channels/amazon/listings/TEE-M", json={"listing_id": "B0TEE"})
    before = counts(database)

    body = assert_problem(admin.put("/channels/amazon/listings/TEE-L", json={"listing_id": "B0TEE"}), 409,
                   "listing-id-taken")
    assert body["errors"] == [{"field": "listing_id",
                               "message": "listing id 'B0TEE' is already used on channel 'amazon' by SKU 'TEE-M'"}]
    assert counts(database) == before
    assert admin.put("/channels/web/listings/TEE-L", json={"listing_id": "B0TEE"}).status_code == 200


@pytest.mark.usefixtures("catalog")
def test_unknown_channel_or_sku_is_a_404_naming_it(admin: TestClient, database: Database) -> None:
    before = counts(database)
    assert assert_problem(admin.put("/channels/ebay/listings/TEE-M", json={}), 404, "channel-not-found")["detail"] == (
        "channel 'ebay' does not exist")
    assert assert_problem(admin.put("/channels/amazon/listings/NOPE", json={}), 404, "sku-not-found")["detail"] == (
        "SKU 'NOPE' does not exist")
    assert assert_problem(admin.get("/channels/ebay/listings"), 404, "channel-not-found")["channel"] == "ebay"
    assert counts(database) == before


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize(("body", "field", "message"), [
    ({"listing_id": "x" * 121}, "listing_id", "String should have at most 120 characters"),
    ({"title": "t" * 301}, "title", "String should have at most 300 characters"),
    ({"excluded": "perhaps"}, "excluded", "Input should be a valid boolean, unable to interpret input"),
    ({"images": []}, "images", "Extra inputs are not permitted"),
])
def test_bad_listing_input_is_refused(admin: TestClient, database: Database, body: dict[str, Any], field: str,
                                      message: str) -> None:
    before = counts(database)
    assert assert_problem(admin.put("/channels/amazon/listings/TEE-M", json=body), 422, "validation")["errors"] == [
        {"field": field, "message": message}]
    assert counts(database) == before


@pytest.mark.usefixtures("catalog")
def test_only_admin_or_the_channel_itself_manages_its_listings(
    client: TestClient, api_as: Callable[[str], TestClient], database: Database
) -> None:
    before = counts(database)
    assert assert_problem(client.put("/api/v1/channels/amazon/listings/TEE-M", json={}), 401, "unauthenticated")
    for role in ("channel:web", "store:AMS-01", "customer:cus_1"):
        assert assert_problem(api_as(role).put("/channels/amazon/listings/TEE-M", json={}), 403, "forbidden")
        assert assert_problem(api_as(role).get("/channels/amazon/listings"), 403, "forbidden")
    assert counts(database) == before

    amazon = api_as("channel:amazon")
    assert amazon.put("/channels/amazon/listings/TEE-M", json={"listing_id": "B1"}).status_code == 200
    assert [item["sku"] for item in amazon.get("/channels/amazon/listings").json()["items"]] == ["TEE-M"]


@pytest.mark.usefixtures("catalog")
def test_listings_are_paginated_by_sku(admin: TestClient) -> None:
    for sku in ("TEE-S", "TEE-M", "TEE-L"):
        admin.put(f"/channels/amazon/listings/{sku}", json={"listing_id": f"B-{sku}"})

    first = admin.get("/channels/amazon/listings", params={"limit": 2}).json()
    second = admin.get("/channels/amazon/listings", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [item["sku"] for item in first["items"]] == ["TEE-L", "TEE-M"]
    assert [item["sku"] for item in second["items"]] == ["TEE-S"]
    assert second["next_cursor"] is None
    assert admin.get("/channels/web/listings").json() == {"items": [], "next_cursor": None}


@pytest.mark.usefixtures("catalog")
def test_service_lookups_by_sku_and_by_listing_id(admin: TestClient, database: Database) -> None:
    admin.put("/channels/amazon/listings/TEE-M", json={"listing_id": "B0TEE-M", "title": "Amazon title"})

    with database.read() as session:
        listing = service.listing_for(session, channel_code="amazon", sku="TEE-M")
        assert listing is not None
        assert (listing.listing_id, listing.title) == ("B0TEE-M", "Amazon title")
        assert service.listing_for(session, channel_code="web", sku="TEE-M") is None
        assert service.sku_for_listing(session, channel_code="amazon", listing_id="B0TEE-M") == "TEE-M"
        assert service.sku_for_listing(session, channel_code="web", listing_id="B0TEE-M") is None
        assert service.sku_for_listing(session, channel_code="amazon", listing_id="B0OTHER") is None
