"""Products and variants over HTTP: creation, validation, reading, search, changes and their events."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import counts
from tests.factories import make_channel, make_price_list, make_product, recorded_events

ProblemErrors = list[dict[str, str]]


def product_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Linen shirt", "description": "Breathable linen.", "brand": "Loom", "category": "Apparel > Shirts",
        "media": [{"url": "https://img.example.com/shirt-front.jpg", "alt": "front"},
                  {"url": "http://img.example.com/shirt-back.jpg"}],
        "attributes": {"material": "linen", "care": ["wash cold"]},
        "variants": [
            {"sku": "SHIRT-M", "gtin": "4006381333931", "mpn": "LS-100-M", "options": {"size": "M", "colour": "sand"},
             "price": {"amount": 4999, "currency": "EUR"}, "compare_at_amount": 5999, "weight_grams": 240},
            {"sku": "SHIRT-L", "options": {"size": "L", "colour": "sand"},
             "price": {"amount": 5199, "currency": "EUR"}},
        ],
    }
    body.update(overrides)
    return body


def with_variant_change(index: int, **changes: Any) -> dict[str, Any]:
    body = product_body()
    body["variants"] = copy.deepcopy(body["variants"])
    body["variants"][index].update(changes)
    return body



def assert_refused(response: Any, status: int, slug: str, errors: ProblemErrors | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"https://omniloom.dev/problems/{slug}"
    assert problem["status"] == status
    if errors is not None:
        assert problem["errors"] == errors


def test_create_product_answers_with_ids_variants_media_options_and_prices(admin: TestClient) -> None:
    response = admin.post("/products", json=product_body())

    assert response.status_code == 201, response.text
    product = response.json()
    assert product["id"].startswith("prod_")
    assert [variant["id"][:4] for variant in product["variants"]] == ["var_", "var_"]
    assert {key: product[key] for key in ("title", "description", "brand", "category", "status", "attributes")} == {
        "title": "Linen shirt", "description": "Breathable linen.", "brand": "Loom", "category": "Apparel > Shirts",
        "status": "active", "attributes": {"material": "linen", "care": ["wash cold"]},
    }
    assert product["media"] == [{"url": "https://img.example.com/shirt-front.jpg", "alt": "front"},
                                {"url": "http://img.example.com/shirt-back.jpg", "alt": None}]
    assert product["options"] == [{"name": "size", "values": ["M", "L"]}, {"name": "colour", "values": ["sand"]}]
    first, second = product["variants"]
    assert {key: first[key] for key in ("sku", "gtin", "mpn", "options", "weight_grams", "price", "compare_at_amount",
                                        "prices", "created_at")} == {
        "sku": "SHIRT-M", "gtin": "4006381333931", "mpn": "LS-100-M", "options": {"size": "M", "colour": "sand"},
        "weight_grams": 240, "price": {"amount": 4999, "currency": "EUR"}, "compare_at_amount": 5999,
        "prices": [{"price_list": "DEFAULT-EUR", "amount": 4999, "currency": "EUR", "compare_at_amount": 5999,
                    "default_list": True}],
        "created_at": "2026-11-30T10:00:00Z",
    }
    assert (second["sku"], second["gtin"], second["price"]) == ("SHIRT-L", None, {"amount": 5199, "currency": "EUR"})
    assert admin.get(f"/products/{product['id']}").json() == product


def test_variant_prices_go_to_the_default_list_of_their_currency(admin: TestClient) -> None:
    admin.post("/products", json=product_body())
    usd = with_variant_change(0, sku="SHIRT-US", gtin=None, price={"amount": 5500, "currency": "USD"})
    usd["variants"][1].update(sku="SHIRT-US-L", price={"amount": 5700, "currency": "USD"})
    assert admin.post("/products", json=usd).status_code == 201

    lists = admin.get("/price-lists").json()["items"]
    assert [(item["code"], item["currency"], item["is_default"]) for item in lists] == [
        ("DEFAULT-EUR", "EUR", True), ("DEFAULT-USD", "USD", True)]
    assert admin.get("/price-lists/DEFAULT-EUR/prices").json()["items"] == [
        {"price_list": "DEFAULT-EUR", "sku": "SHIRT-L", "amount": 5199, "currency": "EUR", "compare_at_amount": None,
         "default_list": True},
        {"price_list": "DEFAULT-EUR", "sku": "SHIRT-M", "amount": 4999, "currency": "EUR", "compare_at_amount": 5999,
         "default_list": True},
    ]


def test_creating_a_product_records_its_events_in_the_same_transaction(admin: TestClient, database: Database) -> None:
    product = admin.post("/products", json=product_body()).json()

    with database.write() as session:
        events = recorded_events(session)
    assert [(event.position, event.type, event.subject) for event in events] == [
        (1, "product.created", f"product:{product['id']}"),
        (2, "variant.created", "sku:SHIRT-M"),
        (3, "variant.created", "sku:SHIRT-L"),
        (4, "price_list.created", "price_list:DEFAULT-EUR"),
        (5, "price.changed", "sku:SHIRT-M"),
        (6, "price.changed", "sku:SHIRT-L"),
    ]
    assert events[0].payload == {"product_id": product["id"], "title": "Linen shirt", "brand": "Loom",
                                 "category": "Apparel > Shirts", "skus": ["SHIRT-M", "SHIRT-L"]}
    assert events[1].payload == {"sku": "SHIRT-M", "product_id": product["id"], "gtin": "4006381333931",
                                 "options": {"size": "M", "colour": "sand"}}
    assert events[4].payload == {"price_list": "DEFAULT-EUR", "sku": "SHIRT-M", "amount": 4999, "currency": "EUR",
                                 "compare_at_amount": 5999}


@pytest.mark.parametrize(("body", "errors"), [
    (with_variant_change(1, gtin="5901234123450"),
     [{"field": "variants[1].gtin", "message": "check digit should be 7"}]),
    (with_variant_change(0, gtin="40063813339"),
     [{"field": "variants[0].gtin", "message": "must be 8, 12, 13 or 14 digits, not 11"}]),
    (with_variant_change(0, gtin="2000000000008"),
     [{"field": "variants[0].gtin", "message": "is a restricted-circulation number, not a product GTIN"}]),
    (with_variant_change(0, price={"amount": -1, "currency": "EUR"}),
     [{"field": "variants[0].price.amount", "message": "Input should be greater than or equal to 0"}]),
    (with_variant_change(0, price={"amount": 100, "currency": "EUX"}),
     [{"field": "variants[0].price.currency",
       "message": "'EUX' is not an ISO 4217 currency code (e.g. EUR, USD, ZAR, IDR)"}]),
    (with_variant_change(0, price={"amount": 19.99, "currency": "EUR"}),
     [{"field": "variants[0].price.amount",
       "message": "Input should be a valid integer, got a number with a fractional part"}]),
    (with_variant_change(0, compare_at_amount=4999),
     [{"field": "variants[0].compare_at_amount", "message": "must be greater than the price amount (4999)"}]),
    (with_variant_change(0, sku="-SHIRT"),
     [{"field": "variants[0].sku", "message": "String should match pattern '^[A-Za-z0-9][A-Za-z0-9._\\-/]{0,63}$'"}]),
    (with_variant_change(0, sku="S" * 65),
     [{"field": "variants[0].sku", "message": "String should match pattern '^[A-Za-z0-9][A-Za-z0-9._\\-/]{0,63}$'"}]),
    (with_variant_change(0, weight_grams=-5),
     [{"field": "variants[0].weight_grams", "message": "Input should be greater than or equal to 0"}]),
    (product_body(title="T" * 301), [{"field": "title", "message": "String should have at most 300 characters"}]),
    (product_body(title=""), [{"field": "title", "message": "String should have at least 1 character"}]),
    (product_body(media=[{"url": "ftp://img.example.com/a.jpg"}]),
     [{"field": "media[0].url", "message": "must be an absolute http:// or https:// address"}]),
    (product_body(variants=[]), [{"field": "variants", "message": "List should have at least 1 item after validation, "
                                                                  "not 0"}]),
    (product_body(colour="red"), [{"field": "colour", "message": "Extra inputs are not permitted"}]),
])
def test_invalid_products_are_refused_naming_the_field(
    admin: TestClient, database: Database, body: dict[str, Any], errors: ProblemErrors
) -> None:
    before = counts(database)
    assert_refused(admin.post("/products", json=body), 422, "validation", errors)
    assert counts(database) == before


def test_variants_must_share_their_option_names(admin: TestClient, database: Database) -> None:
    body = with_variant_change(1, options={"colour": "sand", "fit": "slim"})
    before = counts(database)
    assert_refused(admin.post("/products", json=body), 422, "validation", [
        {"field": "variants[0].options", "message": "lacks option 'fit' that the other variants have"},
        {"field": "variants[1].options", "message": "lacks option 'size' that the other variants have"},
    ])
    assert counts(database) == before


def test_a_sku_repeated_within_the_request_is_a_conflict(admin: TestClient, database: Database) -> None:
    before = counts(database)
    assert_refused(admin.post("/products", json=with_variant_change(1, sku="SHIRT-M")), 409, "sku-taken", [
        {"field": "variants[1].sku", "message": "SKU 'SHIRT-M' is repeated in this request (also variants[0].sku)"}])
    assert counts(database) == before


def test_an_existing_sku_is_a_conflict(admin: TestClient, database: Database) -> None:
    admin.post("/products", json=product_body())
    before = counts(database)
    body = product_body(variants=[{"sku": "SHIRT-L", "price": {"amount": 1, "currency": "EUR"}}])
    assert_refused(admin.post("/products", json=body), 409, "sku-taken", [
        {"field": "variants[0].sku", "message": "SKU 'SHIRT-L' is already used by another variant"}])
    assert counts(database) == before


@pytest.mark.parametrize("spelling", ["4006381333931", "04006381333931"])
def test_an_existing_gtin_in_any_spelling_is_a_conflict(admin: TestClient, database: Database, spelling: str) -> None:
    admin.post("/products", json=product_body())
    before = counts(database)
    body = product_body(variants=[{"sku": "OTHER", "gtin": spelling, "price": {"amount": 1, "currency": "EUR"}}])
    assert_refused(admin.post("/products", json=body), 409, "gtin-taken", [
        {"field": "variants[0].gtin", "message": f"GTIN '{spelling}' is already used by another variant"}])
    assert counts(database) == before


def test_malformed_json_is_a_400(admin: TestClient, database: Database) -> None:
    before = counts(database)
    response = admin.post("/products", content=b'{"title": ', headers={"content-type": "application/json"})
    assert_refused(response, 400, "malformed-request")
    assert counts(database) == before


def test_writing_products_needs_a_key_and_the_admin_role(
    client: TestClient, api_as: Callable[[str], TestClient], database: Database
) -> None:
    before = counts(database)
    assert_refused(client.post("/api/v1/products", json=product_body()), 401, "unauthenticated")
    for role in ("store:AMS-01", "channel:web", "customer:cus_1"):
        assert_refused(api_as(role).post("/products", json=product_body()), 403, "forbidden")
    assert counts(database) == before


def test_reading_products_is_for_admin_channel_and_store_keys(
    client: TestClient, api_as: Callable[[str], TestClient], admin: TestClient
) -> None:
    product_id = admin.post("/products", json=product_body()).json()["id"]
    assert_refused(client.get(f"/api/v1/products/{product_id}"), 401, "unauthenticated")
    assert_refused(api_as("customer:cus_1").get(f"/products/{product_id}"), 403, "forbidden")
    assert_refused(api_as("customer:cus_1").get("/products"), 403, "forbidden")
    for role in ("channel:web", "store:AMS-01"):
        assert api_as(role).get(f"/products/{product_id}").json()["id"] == product_id
        assert api_as(role).get("/variants/SHIRT-M").json()["product_id"] == product_id


def test_an_unknown_product_is_a_404(admin: TestClient) -> None:
    response = admin.get("/products/prod_missing")
    assert_refused(response, 404, "product-not-found")
    assert response.json()["detail"] == "product 'prod_missing' does not exist"


def test_products_are_paginated_across_pages(admin: TestClient, database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        ids = sorted(make_product(session, skus=(f"P{n}-A", f"P{n}-B"), clock=clock).id for n in range(5))

    pages, cursor = [], None
    while True:
        page = admin.get("/products", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]
    assert_refused(admin.get("/products", params={"cursor": "gA"}), 422, "validation",
                   [{"field": "cursor", "message": "is not a cursor returned by this list"}])
    assert_refused(admin.get("/products", params={"limit": 0}), 422, "validation")


def test_search_matches_title_brand_and_sku_case_insensitively(
    admin: TestClient, database: Database, clock: FrozenClock
) -> None:
    with database.write() as session:
        shirt = make_product(session, skus=("SHIRT-1",), title="Linen Shirt", brand="Loom", clock=clock).id
        boots = make_product(session, skus=("BOOT-9",), title="Rain boots", brand="Puddle_Co", clock=clock).id
        scarf = make_product(session, skus=("WOOL-SCARF",), title="Scarf", brand="Loom", clock=clock).id

    def search(**params: str) -> set[str]:
        return {item["id"] for item in admin.get("/products", params=params).json()["items"]}

    assert search(q="linen") == {shirt}
    assert search(q="PUDDLE") == {boots}
    assert search(q="boot-9") == {boots}
    assert search(q="wool") == {scarf}
    assert search(q="loom") == {shirt, scarf}
    assert search(q="_") == {boots}
    assert search(q="%") == set()
    assert search(brand="Loom") == {shirt, scarf}
    assert search(q="scarf", brand="Puddle_Co") == set()


def test_patch_changes_fields_and_records_product_updated(admin: TestClient, database: Database) -> None:
    product = admin.post("/products", json=product_body()).json()
    with database.write() as session:
        already = len(recorded_events(session))

    response = admin.patch(f"/products/{product['id']}", json={
        "title": "Linen shirt, relaxed", "brand": None, "status": "archived",
        "media": [{"url": "https://img.example.com/new.jpg"}], "attributes": {"material": "linen"}})

    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["title"], updated["brand"], updated["status"], updated["attributes"]) == (
        "Linen shirt, relaxed", None, "archived", {"material": "linen"})
    assert updated["media"] == [{"url": "https://img.example.com/new.jpg", "alt": None}]
    assert updated["variants"] == product["variants"]
    with database.write() as session:
        events = recorded_events(session)[already:]
    assert [(event.type, event.payload) for event in events] == [("product.updated", {
        "product_id": product["id"], "skus": ["SHIRT-M", "SHIRT-L"],
        "changes": {"title": "Linen shirt, relaxed", "brand": None, "status": "archived",
                    "media": [{"url": "https://img.example.com/new.jpg", "alt": None}],
                    "attributes": {"material": "linen"}}})]

    admin.patch(f"/products/{product['id']}", json={"title": "Linen shirt, relaxed"})
    with database.write() as session:
        assert len(recorded_events(session)) == already + 1


@pytest.mark.parametrize(("body", "errors"), [
    ({"status": "deleted"}, [{"field": "status", "message": "Input should be 'active' or 'archived'"}]),
    ({"title": None}, [{"field": "title", "message": "must not be null"}]),
    ({"description": "d" * 20_001},
     [{"field": "description", "message": "String should have at most 20000 characters"}]),
    ({"media": [{"url": "/relative.jpg"}]},
     [{"field": "media[0].url", "message": "must be an absolute http:// or https:// address"}]),
])
def test_patch_refuses_bad_input_and_changes_nothing(
    admin: TestClient, database: Database, body: dict[str, Any], errors: ProblemErrors
) -> None:
    product = admin.post("/products", json=product_body()).json()
    before = counts(database)
    assert_refused(admin.patch(f"/products/{product['id']}", json=body), 422, "validation", errors)
    assert counts(database) == before
    assert admin.get(f"/products/{product['id']}").json() == product


def test_patch_needs_admin_and_an_existing_product(api_as: Callable[[str], TestClient], admin: TestClient) -> None:
    product = admin.post("/products", json=product_body()).json()
    assert_refused(api_as("channel:web").patch(f"/products/{product['id']}", json={"title": "X"}), 403, "forbidden")
    assert_refused(admin.patch("/products/prod_missing", json={"title": "X"}), 404, "product-not-found")
    assert admin.get(f"/products/{product['id']}").json()["title"] == "Linen shirt"


def test_add_variant_prices_it_and_records_events(admin: TestClient, database: Database) -> None:
    product = admin.post("/products", json=product_body()).json()
    with database.write() as session:
        already = len(recorded_events(session))
    variant = {"sku": "SHIRT-XL", "gtin": "5901234123457", "options": {"size": "XL", "colour": "sand"},
               "price": {"amount": 5399, "currency": "EUR"}}

    response = admin.post(f"/products/{product['id']}/variants", json=variant)

    assert response.status_code == 201, response.text
    assert [v["sku"] for v in response.json()["variants"]] == ["SHIRT-M", "SHIRT-L", "SHIRT-XL"]
    assert response.json()["options"] == [{"name": "size", "values": ["M", "L", "XL"]},
                                          {"name": "colour", "values": ["sand"]}]
    assert response.json()["variants"][2]["price"] == {"amount": 5399, "currency": "EUR"}
    with database.write() as session:
        events = recorded_events(session)[already:]
    assert [(event.type, event.subject) for event in events] == [
        ("variant.created", "sku:SHIRT-XL"), ("price.changed", "sku:SHIRT-XL")]


@pytest.mark.parametrize(("variant", "status", "slug", "errors"), [
    ({"sku": "SHIRT-XL", "options": {"size": "XL"}, "price": {"amount": 1, "currency": "EUR"}}, 422, "validation",
     [{"field": "options", "message": "lacks option 'colour' that the other variants have"}]),
    ({"sku": "SHIRT-XL", "options": {"size": "XL", "colour": "sand", "fit": "slim"},
      "price": {"amount": 1, "currency": "EUR"}}, 422, "validation",
     [{"field": "options", "message": "has option 'fit' that the other variants lack"}]),
    ({"sku": "SHIRT-M", "options": {"size": "XL", "colour": "sand"}, "price": {"amount": 1, "currency": "EUR"}},
     409, "sku-taken", [{"field": "sku", "message": "SKU 'SHIRT-M' is already used by another variant"}]),
    ({"sku": "SHIRT-XL", "gtin": "4006381333931", "options": {"size": "XL", "colour": "sand"},
      "price": {"amount": 1, "currency": "EUR"}}, 409, "gtin-taken",
     [{"field": "gtin", "message": "GTIN '4006381333931' is already used by another variant"}]),
    ({"sku": "SHIRT-XL", "gtin": "4006381333932", "options": {"size": "XL", "colour": "sand"},
      "price": {"amount": 1, "currency": "EUR"}}, 422, "validation",
     [{"field": "gtin", "message": "check digit should be 1"}]),
])
def test_add_variant_refuses_bad_variants(
    admin: TestClient, database: Database, variant: dict[str, Any], status: int, slug: str, errors: ProblemErrors
) -> None:
    product = admin.post("/products", json=product_body()).json()
    before = counts(database)
    assert_refused(admin.post(f"/products/{product['id']}/variants", json=variant), status, slug, errors)
    assert counts(database) == before


def test_add_variant_to_an_unknown_product_is_a_404(admin: TestClient, database: Database) -> None:
    before = counts(database)
    variant = {"sku": "X-1", "price": {"amount": 1, "currency": "EUR"}}
    assert_refused(admin.post("/products/prod_missing/variants", json=variant), 404, "product-not-found")
    assert counts(database) == before


def test_get_variant_shows_product_prices_on_every_list_and_listings(
    admin: TestClient, api_as: Callable[[str], TestClient], database: Database, clock: FrozenClock
) -> None:
    product = admin.post("/products", json=product_body()).json()
    with database.write() as session:
        make_price_list(session, code="OUTLET-EUR", clock=clock)
    admin.put("/price-lists/OUTLET-EUR/prices/SHIRT-M", json={"amount": 3999})
    for code in ("web", "amazon"):
        admin.post("/price-lists", json={"code": f"{code.upper()}-EUR", "currency": "EUR"})
        admin.post("/channels", json={"code": code, "name": code, "type": "web", "currency": "EUR",
                                      "price_list": f"{code.upper()}-EUR"})
    admin.put("/channels/web/listings/SHIRT-M", json={"title": "Shirt (web)"})
    admin.put("/channels/amazon/listings/SHIRT-M", json={"listing_id": "B00SHIRT"})

    detail = admin.get("/variants/SHIRT-M").json()

    assert (detail["sku"], detail["product_id"], detail["product_title"], detail["product_status"]) == (
        "SHIRT-M", product["id"], "Linen shirt", "active")
    assert detail["prices"] == [
        {"price_list": "DEFAULT-EUR", "amount": 4999, "currency": "EUR", "compare_at_amount": 5999,
         "default_list": True},
        {"price_list": "OUTLET-EUR", "amount": 3999, "currency": "EUR", "compare_at_amount": None,
         "default_list": False},
    ]
    assert [(item["channel"], item["listing_id"], item["title"]) for item in detail["listings"]] == [
        ("amazon", "B00SHIRT", None), ("web", None, "Shirt (web)")]
    own = api_as("channel:web").get("/variants/SHIRT-M").json()["listings"]
    assert [item["channel"] for item in own] == ["web"]
    assert_refused(admin.get("/variants/NOPE"), 404, "sku-not-found")


def test_skus_with_a_slash_work_in_every_path(admin: TestClient, database: Database, clock: FrozenClock) -> None:
    body = product_body(variants=[{"sku": "BOOK/978-0306", "price": {"amount": 1200, "currency": "EUR"}}])
    assert admin.post("/products", json=body).status_code == 201
    with database.write() as session:
        make_channel(session, code="web", clock=clock)

    assert admin.get("/variants/BOOK%2F978-0306").json()["sku"] == "BOOK/978-0306"
    assert admin.put("/price-lists/WEB-EUR/prices/BOOK%2F978-0306", json={"amount": 1100}).json()["sku"] == (
        "BOOK/978-0306")
    assert admin.put("/channels/web/listings/BOOK/978-0306", json={"listing_id": "L1"}).json()["sku"] == (
        "BOOK/978-0306")
