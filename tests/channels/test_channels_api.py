"""The channel registry over HTTP: registration, validation, who may read what, changes and their events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.channels import service
from omniloom.channels.errors import ChannelNotFound
from omniloom.inventory import service as inventory
from omniloom.inventory.schemas import Address, LocationCreate
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import assert_problem, counts
from tests.factories import make_channel, make_price_list, recorded_events

FEED = {"link_template": "https://shop.example.com/p/{sku}?utm_source=google",
        "title_template": "{brand} {title} {options[colour]}", "attribute_map": {"colour": "color"},
        "category_map": {"Apparel > Shirts": "Apparel & Accessories > Clothing > Shirts & Tops"},
        "exclusions": {"brands": ["NoFeed"]}}


@pytest.fixture
def price_lists(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        make_price_list(session, code="WEB-EUR", currency="EUR", clock=clock)
        make_price_list(session, code="US", currency="USD", clock=clock)


def channel_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": "web", "name": "Web shop", "type": "web", "currency": "EUR",
                            "price_list": "WEB-EUR"}
    body.update(overrides)
    return body


@pytest.mark.usefixtures("price_lists")
def test_create_channel_with_defaults(admin: TestClient) -> None:
    response = admin.post("/channels", json=channel_body())

    assert response.status_code == 201, response.text
    channel = response.json()
    assert channel["id"].startswith("chn_")
    assert {key: value for key, value in channel.items() if key != "id"} == {
        "code": "web", "name": "Web shop", "type": "web", "currency": "EUR", "price_list": "WEB-EUR",
        "location_codes": [], "safety_stock": 0, "max_exposed": None, "allow_backorder": False, "active": True,
        "feed_settings": None, "created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z"}
    assert admin.get("/channels/web").json() == channel


@pytest.mark.usefixtures("price_lists")
def test_create_channel_with_policy_and_feed_settings(admin: TestClient, database: Database) -> None:
    body = channel_body(code="google", type="ads", safety_stock=2, max_exposed=10, allow_backorder=True,
                        feed_settings=FEED)

    channel = admin.post("/channels", json=body).json()

    assert (channel["safety_stock"], channel["max_exposed"], channel["allow_backorder"]) == (2, 10, True)
    assert channel["feed_settings"] == {**FEED, "image_base": None, "low_stock_threshold": 5,
                                        "exclusions": {"skus": [], "brands": ["NoFeed"], "categories": [],
                                                       "out_of_stock": False, "below_amount": None,
                                                       "min_margin_percent": None}}
    with database.write() as session:
        events = recorded_events(session, types=["channel.created"])
    assert [(event.subject, event.payload) for event in events] == [("channel:google", {
        "code": "google", "type": "ads", "currency": "EUR", "price_list": "WEB-EUR", "location_codes": [],
        "safety_stock": 2, "max_exposed": 10, "allow_backorder": True})]


@pytest.mark.usefixtures("price_lists")
@pytest.mark.parametrize(("overrides", "errors"), [
    ({"price_list": "NOPE"}, [{"field": "price_list", "message": "price list 'NOPE' does not exist"}]),
    ({"price_list": "US"}, [{"field": "currency",
                             "message": "wrong currency: the channel sells in EUR but price list 'US' is in USD"}]),
    ({"currency": "EURO"}, [{"field": "currency", "message": "String should have at most 3 characters"}]),
    ({"currency": "XYZ"}, [{"field": "currency",
                            "message": "'XYZ' is not an ISO 4217 currency code (e.g. EUR, USD, ZAR, IDR)"}]),
    ({"type": "print"}, [{"field": "type", "message": "Input should be 'web', 'app', 'pos', 'marketplace', "
                                                      "'social' or 'ads'"}]),
    ({"code": "web shop"}, [{"field": "code", "message": "String should match pattern "
                                                         "'^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$'"}]),
    ({"name": "n" * 201}, [{"field": "name", "message": "String should have at most 200 characters"}]),
    ({"safety_stock": -1}, [{"field": "safety_stock", "message": "Input should be greater than or equal to 0"}]),
    ({"max_exposed": -1}, [{"field": "max_exposed", "message": "Input should be greater than or equal to 0"}]),
    ({"location_codes": ["AMS", "AMS"]}, [{"field": "location_codes",
                                           "message": "lists a location more than once"}]),
    ({"feed_settings": {"link_template": "https://shop.example.com/p/{slug}"}},
     [{"field": "feed_settings.link_template",
       "message": "unknown placeholder {slug}; use one of brand, category, channel, description, gtin, listing_id, "
                  "mpn, product_id, sku, title, variant_id, options[NAME], attributes[NAME]"}]),
    ({"feed_settings": {"link_template": "https://shop.example.com/p/{sku"}},
     [{"field": "feed_settings.link_template",
       "message": "is not a valid template (expected '}' before end of string); write literal braces as {{ and }}"}]),
    ({"feed_settings": {"link_template": "shop.example.com/p/{sku}"}},
     [{"field": "feed_settings.link_template", "message": "must be an absolute http:// or https:// address"}]),
    ({"feed_settings": {"link_template": "https://s.example.com/{sku}", "title_template": "{title} {options}"}},
     [{"field": "feed_settings.title_template",
       "message": "unknown placeholder {options}; use one of brand, category, channel, description, gtin, "
                  "listing_id, mpn, product_id, sku, title, variant_id, options[NAME], attributes[NAME]"}]),
    ({"feed_settings": {"title_template": "{title}"}},
     [{"field": "feed_settings.link_template", "message": "Field required"}]),
    ({"feed_settings": {"link_template": "https://s.example.com/{sku}", "low_stock_threshold": 0}},
     [{"field": "feed_settings.low_stock_threshold", "message": "Input should be greater than or equal to 1"}]),
    ({"feed_settings": {"link_template": "https://s.example.com/{sku}", "exclusions": {"below_amount": -5}}},
     [{"field": "feed_settings.exclusions.below_amount",
       "message": "Input should be greater than or equal to 0"}]),
    ({"feed_settings": {"link_template": "https://s.example.com/{sku}", "exclusions": {"min_margin_percent": 100}}},
     [{"field": "feed_settings.exclusions.min_margin_percent", "message": "Input should be less than 100"}]),
])
def test_invalid_channels_are_refused_naming_the_field(
    admin: TestClient, database: Database, overrides: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    before = counts(database)
    assert_problem(admin.post("/channels", json=channel_body(**overrides)), 422, "validation", errors)
    assert counts(database) == before


@pytest.mark.usefixtures("price_lists")
def test_a_taken_code_is_a_conflict(admin: TestClient, database: Database) -> None:
    admin.post("/channels", json=channel_body())
    before = counts(database)
    refused = assert_problem(admin.post("/channels", json=channel_body(name="Again")), 409, "channel-code-taken")
    assert refused["detail"] == "a channel with code 'web' already exists"
    assert counts(database) == before


@pytest.mark.usefixtures("price_lists")
def test_malformed_json_is_a_400(admin: TestClient, database: Database) -> None:
    before = counts(database)
    assert_problem(admin.post("/channels", content=b"{nope", headers={"content-type": "application/json"}), 400,
            "malformed-request")
    assert counts(database) == before


@pytest.mark.usefixtures("price_lists")
def test_only_admin_registers_channels(
    client: TestClient, api_as: Callable[[str], TestClient], database: Database
) -> None:
    before = counts(database)
    assert_problem(client.post("/api/v1/channels", json=channel_body()), 401, "unauthenticated")
    for role in ("channel:web", "store:AMS-01", "customer:cus_1"):
        assert_problem(api_as(role).post("/channels", json=channel_body()), 403, "forbidden")
    assert counts(database) == before


def test_a_channel_key_reads_only_its_own_channel(
    api_as: Callable[[str], TestClient], admin: TestClient, database: Database, clock: FrozenClock
) -> None:
    with database.write() as session:
        make_channel(session, code="web", clock=clock)
        make_channel(session, code="amazon", type="marketplace", clock=clock)
    web = api_as("channel:web")

    assert web.get("/channels/web").json()["code"] == "web"
    assert_problem(web.get("/channels/amazon"), 403, "forbidden")
    assert [item["code"] for item in web.get("/channels").json()["items"]] == ["web"]
    assert [item["code"] for item in admin.get("/channels").json()["items"]] == ["amazon", "web"]
    assert_problem(api_as("store:AMS-01").get("/channels"), 403, "forbidden")
    assert_problem(api_as("store:AMS-01").get("/channels/web"), 403, "forbidden")
    assert_problem(admin.get("/channels/ebay"), 404, "channel-not-found")


def test_channels_are_paginated_by_code(admin: TestClient, database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        for code in ("pos", "app", "web", "meta", "amazon"):
            make_channel(session, code=code, clock=clock)

    pages, cursor = [], None
    while True:
        page = admin.get("/channels", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        pages.append([item["code"] for item in page["items"]])
        if (cursor := page["next_cursor"]) is None:
            break
    assert pages == [["amazon", "app"], ["meta", "pos"], ["web"]]


def test_patch_changes_policy_and_records_channel_updated(
    admin: TestClient, database: Database, clock: FrozenClock
) -> None:
    with database.write() as session:
        make_channel(session, code="amazon", type="marketplace", max_exposed=5, clock=clock)
        make_price_list(session, code="AMAZON-USD", currency="USD", clock=clock)
        already = len(recorded_events(session))
    clock.advance(minutes=5)

    response = admin.patch("/channels/amazon", json={
        "safety_stock": 3, "max_exposed": None, "currency": "USD", "price_list": "AMAZON-USD",
        "feed_settings": {"link_template": "https://shop.example.com/{sku}"}})

    assert response.status_code == 200, response.text
    channel = response.json()
    assert (channel["safety_stock"], channel["max_exposed"], channel["currency"], channel["price_list"]) == (
        3, None, "USD", "AMAZON-USD")
    assert channel["updated_at"] == "2026-11-30T10:05:00Z"
    feed = {"link_template": "https://shop.example.com/{sku}", "image_base": None, "title_template": None,
            "attribute_map": {}, "category_map": {}, "low_stock_threshold": 5,
            "exclusions": {"skus": [], "brands": [], "categories": [], "out_of_stock": False, "below_amount": None,
                           "min_margin_percent": None}}
    assert channel["feed_settings"] == feed
    admin.patch("/channels/amazon", json={"safety_stock": 3})
    with database.write() as session:
        events = recorded_events(session)[already:]
    assert [(event.type, event.subject, event.payload) for event in events] == [
        ("channel.updated", "channel:amazon", {"code": "amazon", "changes": {
            "safety_stock": 3, "max_exposed": None, "currency": "USD", "price_list": "AMAZON-USD",
            "feed_settings": feed}})]


@pytest.mark.parametrize(("body", "errors"), [
    ({"price_list": "OTHER-USD"},
     [{"field": "currency",
       "message": "wrong currency: the channel sells in EUR but price list 'OTHER-USD' is in USD"}]),
    ({"currency": "USD"},
     [{"field": "currency",
       "message": "wrong currency: the channel sells in USD but price list 'WEB-EUR' is in EUR"}]),
    ({"price_list": "NOPE"}, [{"field": "price_list", "message": "price list 'NOPE' does not exist"}]),
    ({"name": None}, [{"field": "name", "message": "must not be null"}]),
    ({"safety_stock": -2}, [{"field": "safety_stock", "message": "Input should be greater than or equal to 0"}]),
    ({"code": "renamed"}, [{"field": "code", "message": "Extra inputs are not permitted"}]),
])
def test_patch_refuses_bad_input_and_changes_nothing(
    admin: TestClient, database: Database, clock: FrozenClock, body: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    with database.write() as session:
        make_channel(session, code="web", clock=clock)
        make_price_list(session, code="OTHER-USD", currency="USD", clock=clock)
    before, channel = counts(database), admin.get("/channels/web").json()

    assert assert_problem(admin.patch("/channels/web", json=body), 422, "validation")["errors"] == errors
    assert counts(database) == before
    assert admin.get("/channels/web").json() == channel


def test_patch_needs_admin_and_an_existing_channel(
    admin: TestClient, api_as: Callable[[str], TestClient], database: Database, clock: FrozenClock
) -> None:
    with database.write() as session:
        make_channel(session, code="web", clock=clock)
    assert_problem(api_as("channel:web").patch("/channels/web", json={"safety_stock": 9}), 403, "forbidden")
    assert_problem(admin.patch("/channels/ebay", json={"safety_stock": 9}), 404, "channel-not-found")
    assert admin.get("/channels/web").json()["safety_stock"] == 0


def test_get_channel_service_raises_channel_not_found(database: Database) -> None:
    with database.read() as session, pytest.raises(ChannelNotFound) as caught:
        service.get_channel(session, "ghost")
    assert (caught.value.status, caught.value.slug, caught.value.detail) == (
        404, "channel-not-found", "channel 'ghost' does not exist")


@pytest.fixture
def locations(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        for code, kind in (("AMS-01", "store"), ("WH-NL", "warehouse")):
            inventory.create_location(session, data=LocationCreate(
                code=code, name=code, type=kind, latitude=52.37, longitude=4.89, capabilities=["ship"],
                address=Address(line1="Damrak 1", city="Amsterdam", postal_code="1012 LG", country="NL")),
                clock=clock)


@pytest.mark.usefixtures("price_lists", "locations")
def test_location_codes_are_kept_in_preference_order(admin: TestClient) -> None:
    channel = admin.post("/channels", json=channel_body(location_codes=["WH-NL", "AMS-01"])).json()
    assert channel["location_codes"] == ["WH-NL", "AMS-01"]
    patched = admin.patch("/channels/web", json={"location_codes": ["AMS-01"]}).json()
    assert patched["location_codes"] == ["AMS-01"]


@pytest.mark.usefixtures("price_lists", "locations")
def test_unknown_locations_are_refused_naming_each(admin: TestClient, database: Database) -> None:
    before = counts(database)
    body = channel_body(location_codes=["AMS-01", "RTM-01", "WH-NL", "UTR-02"], price_list="US")

    assert assert_problem(admin.post("/channels", json=body), 422, "validation")["errors"] == [
        {"field": "currency", "message": "wrong currency: the channel sells in EUR but price list 'US' is in USD"},
        {"field": "location_codes[1]", "message": "location 'RTM-01' does not exist"},
        {"field": "location_codes[3]", "message": "location 'UTR-02' does not exist"},
    ]
    assert counts(database) == before

    admin.post("/channels", json=channel_body(location_codes=["AMS-01"]))
    response = admin.patch("/channels/web", json={"location_codes": ["WH-NL", "GONE"]})
    refused = assert_problem(response, 422, "validation")
    assert refused["errors"] == [{"field": "location_codes[1]", "message": "location 'GONE' does not exist"}]
    assert admin.get("/channels/web").json()["location_codes"] == ["AMS-01"]
