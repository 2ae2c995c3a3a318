"""Prices over HTTP and the pricing services other modules call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.money import Money
from omniloom.pricing import service
from omniloom.pricing.errors import PriceListNotFound
from tests.checks import assert_problem, counts
from tests.factories import admin_headers, make_price_list, make_product, recorded_events


@pytest.fixture
def catalog(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        make_product(session, skus=("TEE-S", "TEE-M", "TEE-L"), price=1999, clock=clock)
        make_price_list(session, code="WEB-EUR", clock=clock)
        make_price_list(session, code="US", currency="USD", clock=clock)




@pytest.mark.usefixtures("catalog")
def test_set_a_price_then_change_it(admin: TestClient, database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        already = len(recorded_events(session))

    first = admin.put("/price-lists/WEB-EUR/prices/TEE-M", json={"amount": 2499, "compare_at_amount": 2999})
    clock.advance(hours=1)
    second = admin.put("/price-lists/WEB-EUR/prices/TEE-M", json={"amount": 1999, "currency": "EUR"})
    admin.put("/price-lists/WEB-EUR/prices/TEE-M", json={"amount": 1999})

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"price_list": "WEB-EUR", "sku": "TEE-M", "amount": 2499, "currency": "EUR",
                            "compare_at_amount": 2999, "default_list": False}
    assert second.json() == {"price_list": "WEB-EUR", "sku": "TEE-M", "amount": 1999, "currency": "EUR",
                             "compare_at_amount": None, "default_list": False}
    with database.write() as session:
        events = recorded_events(session)[already:]
    assert [(event.type, event.subject, event.payload["amount"], event.occurred_at.isoformat())
            for event in events] == [
        ("price.changed", "sku:TEE-M", 2499, "2026-11-30T10:00:00+00:00"),
        ("price.changed", "sku:TEE-M", 1999, "2026-11-30T11:00:00+00:00"),
    ]


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize(("body", "errors"), [
    ({"amount": -1}, [{"field": "amount", "message": "Input should be greater than or equal to 0"}]),
    ({"amount": 10.5}, [{"field": "amount",
                         "message": "Input should be a valid integer, got a number with a fractional part"}]),
    ({"amount": "ten"}, [{"field": "amount",
                          "message": "Input should be a valid integer, unable to parse string as an integer"}]),
    ({"amount": 100, "compare_at_amount": 100},
     [{"field": "compare_at_amount", "message": "must be greater than amount (100)"}]),
    ({"amount": 100, "currency": "USD"},
     [{"field": "currency", "message": "wrong currency: price list 'WEB-EUR' is in EUR, not USD"}]),
    ({}, [{"field": "amount", "message": "Field required"}]),
])
def test_bad_prices_are_refused(admin: TestClient, database: Database, body: dict[str, Any],
                                errors: list[dict[str, str]]) -> None:
    before = counts(database)
    assert_problem(admin.put("/price-lists/WEB-EUR/prices/TEE-M", json=body), 422, "validation", errors)
    assert counts(database) == before


@pytest.mark.usefixtures("catalog")
def test_unknown_sku_or_price_list_is_a_404(admin: TestClient, database: Database) -> None:
    before = counts(database)
    assert assert_problem(admin.put("/price-lists/WEB-EUR/prices/NOPE", json={"amount": 1}), 404,
                   "sku-not-found")["detail"] == "SKU 'NOPE' does not exist"
    assert assert_problem(admin.put("/price-lists/NOPE/prices/TEE-M", json={"amount": 1}), 404,
                   "price-list-not-found")["detail"] == "price list 'NOPE' does not exist"
    assert_problem(admin.get("/price-lists/NOPE/prices"), 404, "price-list-not-found")
    assert counts(database) == before


@pytest.mark.usefixtures("catalog")
def test_malformed_json_is_a_400(admin: TestClient, database: Database) -> None:
    before = counts(database)
    assert_problem(admin.put("/price-lists/WEB-EUR/prices/TEE-M", content=b"{'amount': 1}",
                      headers={"content-type": "application/json"}), 400, "malformed-request")
    assert counts(database) == before


@pytest.mark.usefixtures("catalog")
def test_only_admin_sets_prices(client: TestClient, api_as: Callable[[str], TestClient], database: Database) -> None:
    before = counts(database)
    assert_problem(client.put("/api/v1/price-lists/WEB-EUR/prices/TEE-M", json={"amount": 1}), 401, "unauthenticated")
    for role in ("channel:web", "store:AMS-01", "customer:cus_1"):
        assert_problem(api_as(role).put("/price-lists/WEB-EUR/prices/TEE-M", json={"amount": 1}), 403, "forbidden")
    assert counts(database) == before
    assert api_as("channel:web").get("/price-lists/WEB-EUR/prices").json() == {"items": [], "next_cursor": None}


@pytest.mark.usefixtures("catalog")
def test_prices_are_paginated_by_sku(admin: TestClient) -> None:
    for sku, amount in (("TEE-S", 100), ("TEE-M", 200), ("TEE-L", 300)):
        admin.put(f"/price-lists/US/prices/{sku}", json={"amount": amount})

    first = admin.get("/price-lists/US/prices", params={"limit": 2}).json()
    second = admin.get("/price-lists/US/prices", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [(item["sku"], item["amount"], item["currency"]) for item in first["items"]] == [
        ("TEE-L", 300, "USD"), ("TEE-M", 200, "USD")]
    assert [(item["sku"], item["amount"]) for item in second["items"]] == [("TEE-S", 100)]
    assert second["next_cursor"] is None


@pytest.mark.usefixtures("catalog")
def test_price_lookups_for_other_modules(admin: TestClient, database: Database) -> None:
    admin.put("/price-lists/US/prices/TEE-M", json={"amount": 2200})
    admin.put("/price-lists/WEB-EUR/prices/TEE-M", json={"amount": 1800, "compare_at_amount": 1999})

    with database.read() as session:
        assert service.price_for(session, price_list_code="US", sku="TEE-M") == Money(amount=2200, currency="USD")
        assert service.price_for(session, price_list_code="US", sku="TEE-S") is None
        with pytest.raises(PriceListNotFound):
            service.price_for(session, price_list_code="NOPE", sku="TEE-S")
        # a list without its own price for a SKU sells it at its currency's default price
        fallback = service.price_for(session, price_list_code="WEB-EUR", sku="TEE-S")
        prices = service.prices_for_skus(session, ["TEE-M", "TEE-S", "NOPE"])
    assert fallback == Money(amount=prices["TEE-S"][0].amount, currency="EUR")
    assert prices["TEE-S"][0].price_list == "DEFAULT-EUR"
    assert sorted(prices) == ["TEE-M", "TEE-S"]
    assert [(p.price_list, p.amount, p.currency, p.compare_at_amount, p.default_list) for p in prices["TEE-M"]] == [
        ("DEFAULT-EUR", 1999, "EUR", None, True), ("US", 2200, "USD", None, False),
        ("WEB-EUR", 1800, "EUR", 1999, False)]


@pytest.mark.usefixtures("catalog")
def test_default_price_list_is_created_once_per_currency(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        eur = service.default_price_list(session, currency="EUR", clock=clock)
        zar = service.default_price_list(session, currency="ZAR", clock=clock)
        again = service.default_price_list(session, currency="ZAR", clock=clock)
        assert (eur.code, eur.is_default, zar.code, zar.currency, again.id) == (
            "DEFAULT-EUR", True, "DEFAULT-ZAR", "ZAR", zar.id)
        with pytest.raises(ValueError, match="'EURO' is not an ISO 4217 currency code"):
            service.default_price_list(session, currency="EURO", clock=clock)
        with pytest.raises(PriceListNotFound):
            service.get_price_list(session, "NOPE")


def test_concurrent_puts_of_a_new_price_leave_one_row(
    fresh_database: Database, app_for: Callable[[Database], TestClient], clock: FrozenClock
) -> None:
    with fresh_database.write() as session:
        make_product(session, skus=("A", "B"), clock=clock)
        make_price_list(session, code="WEB-EUR", clock=clock)
    api, headers = app_for(fresh_database), admin_headers(fresh_database, clock=clock)
    results: list[int] = []
    barrier = threading.Barrier(6)

    def put(amount: int) -> None:
        barrier.wait()
        response = api.put("/api/v1/price-lists/WEB-EUR/prices/A", json={"amount": amount}, headers=headers)
        results.append(response.status_code)

    threads = [threading.Thread(target=put, args=(100 + n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [200] * 6
    with fresh_database.write() as session:
        rows = service.list_prices(session, price_list_code="WEB-EUR", limit=10)[0]
        changes = recorded_events(session, types=["price.changed"])
    assert [(row.sku, 100 <= row.amount <= 105) for row in rows] == [("A", True)]
    assert 1 <= len([event for event in changes if event.payload["price_list"] == "WEB-EUR"]) <= 6
