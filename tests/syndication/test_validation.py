"""Feed validation: each channel's rules, one case per rule with the offending item and the exact problem."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniloom.catalog.gtin import InvalidGtin, validate_product_gtin
from omniloom.syndication.items import FeedItem, Problem
from omniloom.syndication.validation import TARGETS, Target, Validator, has_errors, target_for

SKU = "TEE-RED-M"


def feed_item(**changes: Any) -> FeedItem:
    """A tee that every target accepts, with ``changes`` applied."""
    item = FeedItem(
        id=SKU, item_group_id="prd_01TEE", title="Loom Cotton Tee – Red M", description="A soft cotton tee.",
        link="https://shop.example.com/p/TEE-RED-M?utm_source=google", currency="EUR", price=1999, sale_price=1499,
        availability="in_stock", quantity=5, brand="Loom", gtin="4006381333931", mpn="LT-100",
        product_type="Apparel > Tees", google_product_category="Apparel & Accessories > Clothing > Shirts & Tops",
        image_link="https://cdn.example.com/img/tee-red.jpg",
        additional_image_links=["https://cdn.example.com/img/tee-red-back.jpg"],
        attributes={"color": "Red", "size": "M", "gender": "unisex", "age_group": "adult", "material": "Cotton",
                    "pattern": "Solid"},
        shipping_weight_grams=220, store_code="AMS-01", pickup_method="buy", pickup_sla="same day",
    )
    return replace(item, **changes)


def problems_of(target: Target, item: FeedItem) -> list[Problem]:
    return Validator(target, currency="EUR").check(item)


def error(attribute: str, message: str) -> Problem:
    return Problem(SKU, "error", attribute, message)


def warning(attribute: str, message: str) -> Problem:
    return Problem(SKU, "warning", attribute, message)


@pytest.mark.parametrize("target", TARGETS)
def test_a_complete_item_has_no_problems(target: Target) -> None:
    assert problems_of(target, feed_item()) == []


GOOGLE_CASES: list[tuple[str, dict[str, Any], list[Problem]]] = [
    ("id required", {"id": ""}, [Problem("", "error", "id", "id is missing; Google requires it")]),
    ("id length", {"id": "T" * 51},
     [Problem("T" * 51, "error", "id", "id is 51 characters; Google allows at most 50")]),
    ("title required", {"title": ""}, [error("title", "title is missing; Google requires it")]),
    ("title length", {"title": "x" * 163}, [error("title", "title is 163 characters; Google allows at most 150")]),
    ("description required", {"description": ""},
     [error("description", "description is missing; Google requires it")]),
    ("description length", {"description": "d" * 5001},
     [error("description", "description is 5001 characters; Google allows at most 5000")]),
    ("item_group_id length", {"item_group_id": "g" * 51},
     [error("item_group_id", "item_group_id is 51 characters; Google allows at most 50")]),
    ("brand length", {"brand": "b" * 71}, [error("brand", "brand is 71 characters; Google allows at most 70")]),
    ("mpn length", {"mpn": "m" * 71}, [error("mpn", "mpn is 71 characters; Google allows at most 70")]),
    ("product_type length", {"product_type": "p" * 751},
     [error("product_type", "product_type is 751 characters; Google allows at most 750")]),
    ("link required", {"link": ""}, [error("link", "link is missing; Google requires it")]),
    ("link scheme", {"link": "ftp://shop.example.com/p/1"},
     [error("link", "link 'ftp://shop.example.com/p/1' is not an absolute http:// or https:// address of ASCII "
                    "characters without spaces")]),
    ("link relative", {"link": "/p/TEE-RED-M"},
     [error("link", "link '/p/TEE-RED-M' is not an absolute http:// or https:// address of ASCII characters "
                    "without spaces")]),
    ("link without host", {"link": "https:///p/1"},
     [error("link", "link 'https:///p/1' is not an absolute http:// or https:// address of ASCII characters "
                    "without spaces")]),
    ("link with a space", {"link": "https://shop.example.com/p/red tee"},
     [error("link", "link 'https://shop.example.com/p/red tee' is not an absolute http:// or https:// address of "
                    "ASCII characters without spaces")]),
    ("link with a character RFC 3986 leaves out", {"link": "https://shop.example.com/p/{sku}"},
     [error("link", "link 'https://shop.example.com/p/{sku}' is not an absolute http:// or https:// address of "
                    "ASCII characters without spaces")]),
    ("link with a scheme only", {"link": "https://"},
     [error("link", "link 'https://' is not an absolute http:// or https:// address of ASCII characters without "
                    "spaces")]),
    ("link length", {"link": "https://shop.example.com/" + "a" * 1976},
     [error("link", "link is 2001 characters; at most 2000 are allowed")]),
    ("image_link required", {"image_link": None}, [error("image_link", "image_link is missing; Google requires it")]),
    ("image_link ASCII", {"image_link": "https://cdn.example.com/img/tée.jpg"},
     [error("image_link", "image_link 'https://cdn.example.com/img/tée.jpg' is not an absolute http:// or https:// "
                          "address of ASCII characters without spaces")]),
    ("additional images count", {"additional_image_links": [f"https://cdn.example.com/{n}.jpg" for n in range(11)]},
     [warning("additional_image_link", "additional_image_link has 11 images; Google takes the first 10")]),
    ("additional image form", {"additional_image_links": ["cdn.example.com/back.jpg"]},
     [warning("additional_image_link", "additional_image_link 'cdn.example.com/back.jpg' is not an absolute http:// "
                                       "or https:// address of ASCII characters without spaces")]),
    ("availability values", {"availability": "preorder"},
     [error("availability", "availability is 'preorder'; Google accepts 'in_stock', 'out_of_stock' or "
                            "'backorder'")]),
    ("backorder needs a date", {"availability": "backorder"},
     [warning("availability", "availability is backorder but the feed gives no availability_date; Google asks for "
                              "the date the item ships")]),
    ("price required", {"price": None, "sale_price": None},
     [error("price", "price is missing; the SKU has no price on the channel's price list and Google requires one")]),
    ("price above zero", {"price": 0, "sale_price": None},
     [error("price", "price is 0.00 EUR; it must be above zero")]),
    ("price currency", {"currency": "USD"}, [error("price", "price is in USD but the feed's currency is EUR")]),
    ("sale_price above zero", {"sale_price": 0},
     [error("sale_price", "sale_price is 0.00 EUR; it must be above zero")]),
    ("sale_price below price", {"sale_price": 1999},
     [warning("sale_price", "sale_price 19.99 EUR is not below price 19.99 EUR; Google shows no sale")]),
    ("condition values", {"condition": "damaged"},
     [error("condition", "condition is 'damaged'; Google accepts 'new', 'refurbished' or 'used'")]),
    ("gtin check digit", {"gtin": "4006381333932"}, [error("gtin", "gtin 4006381333932 check digit should be 1")]),
    ("gtin length", {"gtin": "12345678901"},
     [error("gtin", "gtin 12345678901 must be 8, 12, 13 or 14 digits, not 11")]),
    ("gtin digits", {"gtin": "400638133393X"}, [error("gtin", "gtin 400638133393X must contain digits only")]),
    ("gtin restricted prefix", {"gtin": "2000000000008"},
     [error("gtin", "gtin 2000000000008 is a restricted-circulation number, not a product GTIN")]),
    ("gtin coupon prefix", {"gtin": "9812345678902"},
     [error("gtin", "gtin 9812345678902 is a coupon or refund number, not a product GTIN")]),
    ("gtin all zeros", {"gtin": "00000000"}, [error("gtin", "gtin 00000000 must not be all zeros")]),
    ("mpn needs a brand", {"brand": None},
     [warning("brand", "brand is missing; Google identifies a product by brand together with mpn")]),
    ("identifier_exists", {"gtin": None, "mpn": None},
     [warning("identifier_exists", "the item has no gtin and no brand with mpn, so identifier_exists is sent as no; "
                                   "Google requires the GTIN of a new product that has one")]),
    ("variants need an item group", {"item_group_id": "", "attributes": {"size": "M", "color": "Red"}},
     [error("item_group_id", "item_group_id is missing; Google requires it for variants (the item has color, "
                             "size)")]),
    ("gender values", {"attributes": {"gender": "men"}},
     [error("gender", "gender is 'men'; Google accepts 'male', 'female' or 'unisex'")]),
    ("age_group values", {"attributes": {"age_group": "teen"}},
     [error("age_group", "age_group is 'teen'; Google accepts 'newborn', 'infant', 'toddler', 'kids' or "
                         "'adult'")]),
    ("size length", {"attributes": {"size": "s" * 101}},
     [error("size", "size is 101 characters; Google allows at most 100")]),
    ("color length", {"attributes": {"color": "c" * 101}},
     [error("color", "color is 101 characters; Google allows at most 100")]),
    ("each color's length", {"attributes": {"color": "Red/" + "b" * 41}},
     [error("color", f"color '{'b' * 41}' is 41 characters; Google allows at most 40 for each color")]),
    ("material length", {"attributes": {"material": "m" * 201}},
     [error("material", "material is 201 characters; Google allows at most 200")]),
    ("pattern length", {"attributes": {"pattern": "p" * 101}},
     [error("pattern", "pattern is 101 characters; Google allows at most 100")]),
    ("shipping_weight not negative", {"shipping_weight_grams": -1},
     [error("shipping_weight", "shipping_weight is -1 g; it cannot be negative")]),
    ("shipping_weight limit", {"shipping_weight_grams": 1_200_000},
     [warning("shipping_weight", "shipping_weight is 1200 kg; Google takes at most 1000 kg, so carrier rates do not "
                                 "apply")]),
]


@pytest.mark.parametrize(("changes", "expected"), [case[1:] for case in GOOGLE_CASES],
                         ids=[case[0] for case in GOOGLE_CASES])
def test_google_rule(changes: dict[str, Any], expected: list[Problem]) -> None:
    assert problems_of("google", feed_item(**changes)) == expected


def test_google_accepts_the_limits_themselves_and_values_in_any_case() -> None:
    item = feed_item(id="I" * 50, title="t" * 150, description="d" * 5000, brand="b" * 70, mpn="m" * 70,
                     link="https://shop.example.com/" + "a" * 1975, product_type="p" * 750,
                     additional_image_links=[f"https://cdn.example.com/{n}.jpg" for n in range(10)],
                     attributes={"gender": "Female", "age_group": "KIDS", "color": "Red/Green/" + "b" * 40,
                                 "size": "s" * 100, "material": "m" * 200, "pattern": "p" * 100},
                     shipping_weight_grams=1_000_000)
    assert problems_of("google", item) == []


@pytest.mark.parametrize("link", [
    "http://shop.example.com", "https://shop.example.com:8443/p/TEE-RED-M?utm_source=google&utm_medium=cpc#size",
    "http://[2001:db8::1]/p/1", "https://shop.example.com/p/caf%C3%A9", "https://user@shop.example.com/p/(red)_tee;v=1",
])
def test_web_addresses_rfc_3986_allows_pass(link: str) -> None:
    assert problems_of("google", feed_item(link=link, image_link=link)) == []


def test_used_or_refurbished_items_need_no_identifier() -> None:
    assert problems_of("google", feed_item(gtin=None, mpn=None, condition="used")) == []
    assert problems_of("google", feed_item(gtin=None, mpn=None, brand=None, condition="refurbished")) == []


def test_every_problem_of_an_item_is_reported_in_rule_order() -> None:
    item = feed_item(title="", price=None, sale_price=None, gtin="4006381333932", attributes={"gender": "men"})
    assert problems_of("google", item) == [
        error("title", "title is missing; Google requires it"),
        error("price", "price is missing; the SKU has no price on the channel's price list and Google requires "
                       "one"),
        error("gtin", "gtin 4006381333932 check digit should be 1"),
        error("gender", "gender is 'men'; Google accepts 'male', 'female' or 'unisex'"),
    ]


def test_amounts_are_written_in_the_currency_digits() -> None:
    validator = Validator("google", currency="JPY")
    assert validator.check(feed_item(currency="JPY", price=1500, sale_price=1500)) == [
        warning("sale_price", "sale_price 1500 JPY is not below price 1500 JPY; Google shows no sale"),
    ]


def test_a_duplicate_id_is_an_error_on_its_second_item_only() -> None:
    validator = Validator("google", currency="EUR")
    first, second, other = feed_item(), feed_item(), feed_item(id="TEE-RED-S")
    assert validator.check(first) == []
    assert validator.check(second) == [error("id", "id TEE-RED-M appears more than once in the feed; only its first "
                                                   "item is kept")]
    assert validator.check(other) == []
    assert validator.check(feed_item()) == []


LOCAL_CASES: list[tuple[str, dict[str, Any], list[Problem]]] = [
    ("id required", {"id": ""}, [Problem("", "error", "id", "id is missing; Google local inventory requires it")]),
    ("quantity not negative", {"quantity": -2}, [error("quantity", "quantity is -2; it cannot be negative")]),
    ("no backorder in a store", {"availability": "backorder"},
     [error("availability", "availability is 'backorder'; Google local inventory accepts 'in_stock' or "
                            "'out_of_stock'")]),
    ("in stock has stock", {"quantity": 0},
     [warning("availability", "availability is in_stock but quantity is 0 at store AMS-01")]),
    ("out of stock has none", {"availability": "out_of_stock", "quantity": 3},
     [warning("availability", "availability is out_of_stock but quantity is 3 at store AMS-01")]),
    ("price above zero", {"price": -5, "sale_price": None},
     [error("price", "price is -0.05 EUR; it must be above zero")]),
    ("price currency", {"currency": "GBP"}, [error("price", "price is in GBP but the feed's currency is EUR")]),
    ("pickup_method values", {"pickup_method": "curbside"},
     [error("pickup_method", "pickup_method is 'curbside'; Google accepts 'buy', 'reserve', 'ship to store' or "
                             "'not supported'")]),
    ("pickup_sla values", {"pickup_sla": "tomorrow"},
     [error("pickup_sla", "pickup_sla is 'tomorrow'; Google accepts 'same day', 'next day', '2-day', '3-day', "
                          "'4-day', '5-day', '6-day', '7-day' or 'multi-week'")]),
    ("pickup needs an sla", {"pickup_method": "reserve", "pickup_sla": None},
     [error("pickup_sla", "pickup_sla is missing; Google requires it with pickup_method 'reserve'")]),
]


@pytest.mark.parametrize(("changes", "expected"), [case[1:] for case in LOCAL_CASES],
                         ids=[case[0] for case in LOCAL_CASES])
def test_local_inventory_rule(changes: dict[str, Any], expected: list[Problem]) -> None:
    assert problems_of("local_inventory", feed_item(**changes)) == expected


def test_local_inventory_takes_items_without_price_pickup_or_product_data() -> None:
    item = feed_item(price=None, sale_price=None, pickup_method="not supported", pickup_sla=None, title="",
                     description="", link="", image_link=None, gtin="123", brand=None, mpn=None)
    assert problems_of("local_inventory", item) == []


def test_local_inventory_duplicates_are_per_store() -> None:
    validator = Validator("local_inventory", currency="EUR")
    assert validator.check(feed_item(store_code="AMS-01")) == []
    assert validator.check(feed_item(store_code="UTR-02")) == []
    assert validator.check(feed_item(store_code="UTR-02")) == [
        error("id", "id TEE-RED-M appears more than once at store UTR-02 in the feed; only its first item is kept"),
    ]


META_CASES: list[tuple[str, dict[str, Any], list[Problem]]] = [
    ("id length", {"id": "M" * 101}, [Problem("M" * 101, "error", "id", "id is 101 characters; Meta allows at most "
                                                                          "100")]),
    ("title length", {"title": "t" * 201}, [error("title", "title is 201 characters; Meta allows at most 200")]),
    ("description required", {"description": ""}, [error("description", "description is missing; Meta requires it")]),
    ("description length", {"description": "d" * 10_000},
     [error("description", "description is 10000 characters; Meta allows at most 9999")]),
    ("brand length", {"brand": "b" * 101}, [error("brand", "brand is 101 characters; Meta allows at most 100")]),
    ("an identifier", {"brand": None, "gtin": None, "mpn": None},
     [error("brand", "brand, gtin and mpn are all missing; Meta requires at least one of them")]),
    ("link required", {"link": ""}, [error("link", "link is missing; Meta requires it")]),
    ("additional images count", {"additional_image_links": [f"https://cdn.example.com/{n}.jpg" for n in range(21)]},
     [warning("additional_image_link", "additional_image_link has 21 images; Meta takes the first 20")]),
    ("price required", {"price": None, "sale_price": None},
     [error("price", "price is missing; the SKU has no price on the channel's price list and Meta requires one")]),
    ("condition values", {"condition": "as new"},
     [error("condition", "condition is 'as new'; Meta accepts 'new', 'refurbished' or 'used'")]),
    ("gtin check digit", {"gtin": "036000291453"}, [error("gtin", "gtin 036000291453 check digit should be 2")]),
    ("age_group values", {"attributes": {"age_group": "baby"}},
     [error("age_group", "age_group is 'baby'; Meta accepts 'adult', 'all ages', 'teen', 'kids', 'toddler', "
                         "'infant' or 'newborn'")]),
    ("gender values", {"attributes": {"gender": "women"}},
     [error("gender", "gender is 'women'; Meta accepts 'male', 'female' or 'unisex'")]),
]


@pytest.mark.parametrize(("changes", "expected"), [case[1:] for case in META_CASES],
                         ids=[case[0] for case in META_CASES])
def test_meta_rule(changes: dict[str, Any], expected: list[Problem]) -> None:
    assert problems_of("meta", feed_item(**changes)) == expected


def test_meta_takes_what_google_refuses() -> None:
    item = feed_item(id="M" * 100, title="t" * 200, description="d" * 9999, gtin=None, mpn=None, brand="Loom",
                     availability="backorder", attributes={"age_group": "teen", "color": "c" * 150},
                     additional_image_links=[f"https://cdn.example.com/{n}.jpg" for n in range(20)])
    assert problems_of("meta", item) == []
    assert [problem.attribute for problem in problems_of("google", item)] == [
        "id", "title", "description", "additional_image_link", "availability", "identifier_exists", "age_group",
        "color",
    ]


MARKETPLACE_CASES: list[tuple[str, dict[str, Any], list[Problem]]] = [
    ("title required", {"title": ""}, [error("title", "title is missing; the marketplace requires it")]),
    ("price required", {"price": None, "sale_price": None},
     [error("price", "price is missing; the SKU has no price on the channel's price list and the marketplace "
                     "requires one")]),
    ("quantity not negative", {"quantity": -1}, [error("quantity", "quantity is -1; it cannot be negative")]),
    ("image form", {"image_link": "img/tee.jpg"},
     [error("image_link", "image_link 'img/tee.jpg' is not an absolute http:// or https:// address of ASCII "
                          "characters without spaces")]),
    ("gtin check digit", {"gtin": "96385075"}, [error("gtin", "gtin 96385075 check digit should be 4")]),
]


@pytest.mark.parametrize(("changes", "expected"), [case[1:] for case in MARKETPLACE_CASES],
                         ids=[case[0] for case in MARKETPLACE_CASES])
def test_marketplace_rule(changes: dict[str, Any], expected: list[Problem]) -> None:
    assert problems_of("marketplace", feed_item(**changes)) == expected


def test_the_marketplace_needs_no_link_image_or_description() -> None:
    item = feed_item(link="", image_link=None, description="", brand=None, mpn=None, gtin=None, attributes={})
    assert problems_of("marketplace", item) == []


@given(st.text(alphabet="0123456789", min_size=7, max_size=15) | st.text(max_size=15))
def test_the_gtin_rule_agrees_with_the_catalog(code: str) -> None:
    try:
        validate_product_gtin(code)
        expected: list[Problem] = []
    except InvalidGtin as invalid:
        expected = [error("gtin", f"gtin {code} {invalid}")] if code else []
    assert problems_of("marketplace", feed_item(gtin=code)) == expected


@pytest.mark.parametrize(("channel_type", "target"), [
    ("ads", "google"), ("social", "meta"), ("marketplace", "marketplace"), ("web", "google"), ("app", "google"),
    ("pos", "google"),
])
def test_each_channel_type_has_a_target(channel_type: str, target: Target) -> None:
    assert target_for(channel_type) == target


def test_has_errors_ignores_warnings() -> None:
    assert has_errors([warning("sale_price", "w"), error("gtin", "e")]) is True
    assert has_errors([warning("sale_price", "w")]) is False
    assert has_errors([]) is False


def test_one_validator_checks_each_address_of_a_stream_of_items() -> None:
    validator = Validator("google", currency="EUR")
    good, bad = "https://cdn.example.com/img/tee-red.jpg", "https://cdn.example.com/img/tée.jpg"
    skus = ("TEE-1", "TEE-2", "TEE-3", "TEE-4")
    results = [validator.check(feed_item(id=sku, image_link=image))
               for sku, image in zip(skus, (good, good, bad, good), strict=True)]

    assert [[problem.attribute for problem in problems] for problems in results] == [[], [], ["image_link"], []]
