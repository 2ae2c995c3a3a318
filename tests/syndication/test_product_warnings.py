"""Saving a product answers with what each channel's feed would object to, without refusing the save."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

FEED = {"link_template": "https://shop.example.com/p/{sku}"}
TEE = {"title": "Tee", "brand": "Loom", "variants": [
    {"sku": "TEE-M", "gtin": "4006381333931", "options": {"size": "M"}, "price": {"amount": 1999, "currency": "EUR"}},
    {"sku": "TEE-L", "options": {"size": "L"}, "price": {"amount": 1999, "currency": "EUR"}},
]}


def add_channel(admin: TestClient, code: str, type: str, *, feed: bool = True) -> None:
    assert admin.post("/price-lists", json={"code": f"{code.upper()}-EUR", "currency": "EUR"}).status_code == 201
    body: dict[str, Any] = {"code": code, "name": f"{code} channel", "type": type, "currency": "EUR",
                            "price_list": f"{code.upper()}-EUR"}
    if feed:
        body["feed_settings"] = FEED
    created = admin.post("/channels", json=body)
    assert created.status_code == 201, created.text


def warning(channel: str, sku: str, attribute: str, message: str, severity: str = "error") -> dict[str, str]:
    return {"channel": channel, "sku": sku, "severity": severity, "attribute": attribute, "message": message}


@pytest.fixture
def channels(admin: TestClient) -> None:
    """Google Shopping (ads) and Meta (social) with feeds; a web shop without one; a paused marketplace."""
    add_channel(admin, "google", "ads")
    add_channel(admin, "meta", "social")
    add_channel(admin, "web", "web", feed=False)
    add_channel(admin, "bol", "marketplace")
    assert admin.patch("/channels/bol", json={"active": False}).status_code == 200


def test_without_channel_feeds_a_product_saves_with_no_warnings(admin: TestClient) -> None:
    add_channel(admin, "web", "web", feed=False)
    created = admin.post("/products", json=TEE)
    assert created.status_code == 201, created.text
    assert created.json()["channel_warnings"] == []


@pytest.mark.usefixtures("channels")
def test_a_new_product_hears_what_each_channel_with_a_feed_would_object_to(admin: TestClient) -> None:
    created = admin.post("/products", json=TEE)
    assert created.status_code == 201, created.text
    product = created.json()
    assert [variant["sku"] for variant in product["variants"]] == ["TEE-M", "TEE-L"]
    assert product["channel_warnings"] == [
        warning("google", "TEE-L", "description", "description is missing; Google requires it"),
        warning("google", "TEE-L", "image_link", "image_link is missing; Google requires it"),
        warning("google", "TEE-L", "identifier_exists",
                "the item has no gtin and no brand with mpn, so identifier_exists is sent as no; Google requires the "
                "GTIN of a new product that has one", "warning"),
        warning("google", "TEE-M", "description", "description is missing; Google requires it"),
        warning("google", "TEE-M", "image_link", "image_link is missing; Google requires it"),
        warning("meta", "TEE-L", "description", "description is missing; Meta requires it"),
        warning("meta", "TEE-L", "image_link", "image_link is missing; Meta requires it"),
        warning("meta", "TEE-M", "description", "description is missing; Meta requires it"),
        warning("meta", "TEE-M", "image_link", "image_link is missing; Meta requires it"),
    ]
    stored = admin.get(f"/products/{product['id']}")
    assert stored.status_code == 200
    assert stored.json()["title"] == "Tee"
    assert stored.json()["channel_warnings"] == []


@pytest.mark.usefixtures("channels")
def test_fixing_the_product_clears_its_warnings(admin: TestClient) -> None:
    product = admin.post("/products", json=TEE).json()
    changed = admin.patch(f"/products/{product['id']}", json={
        "description": "A soft cotton tee.", "media": [{"url": "https://cdn.example.com/tee.jpg"}]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["channel_warnings"] == [
        warning("google", "TEE-L", "identifier_exists",
                "the item has no gtin and no brand with mpn, so identifier_exists is sent as no; Google requires the "
                "GTIN of a new product that has one", "warning"),
    ]


@pytest.mark.usefixtures("channels")
def test_a_change_one_channel_refuses_is_saved_and_reported_for_that_channel_only(admin: TestClient) -> None:
    product = admin.post("/products", json={**TEE, "description": "A soft cotton tee.",
                                            "media": [{"url": "https://cdn.example.com/tee.jpg"}],
                                            "variants": TEE["variants"][:1]}).json()
    long_title = "Loom organic cotton tee " * 7
    changed = admin.patch(f"/products/{product['id']}", json={"title": long_title,
                                                             "attributes": {"gender": "men"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["channel_warnings"] == [
        warning("google", "TEE-M", "title", f"title is {len(long_title)} characters; Google allows at most 150"),
        warning("google", "TEE-M", "gender", "gender is 'men'; Google accepts 'male', 'female' or 'unisex'"),
        warning("meta", "TEE-M", "gender", "gender is 'men'; Meta accepts 'male', 'female' or 'unisex'"),
    ]
    assert admin.get(f"/products/{product['id']}").json()["title"] == long_title


@pytest.mark.usefixtures("channels")
def test_a_refused_save_is_still_a_problem_response(admin: TestClient) -> None:
    refused = admin.post("/products", json={**TEE, "variants": [{**TEE["variants"][0], "gtin": "4006381333932"}]})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert admin.get("/products").json()["items"] == []


def test_a_channel_in_another_currency_reports_the_missing_price(admin: TestClient) -> None:
    assert admin.post("/price-lists", json={"code": "US-USD", "currency": "USD"}).status_code == 201
    created = admin.post("/channels", json={"code": "google-us", "name": "Google US", "type": "ads", "currency": "USD",
                                            "price_list": "US-USD", "feed_settings": FEED})
    assert created.status_code == 201, created.text
    product = admin.post("/products", json={**TEE, "description": "A soft cotton tee.",
                                            "media": [{"url": "https://cdn.example.com/tee.jpg"}],
                                            "variants": TEE["variants"][:1]})
    assert product.status_code == 201, product.text
    assert product.json()["channel_warnings"] == [
        warning("google-us", "TEE-M", "price", "price is missing; the SKU has no price on the channel's price list "
                                               "and Google requires one"),
    ]
    priced = admin.put("/price-lists/US-USD/prices/TEE-M", json={"amount": 2199})
    assert priced.status_code == 200, priced.text
    again = admin.patch(f"/products/{product.json()['id']}", json={"brand": "Loom"})
    assert again.status_code == 200, again.text
    assert again.json()["channel_warnings"] == []
