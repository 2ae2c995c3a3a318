"""Concurrent catalog writes on a database with real commits: no duplicate SKU, one default price list."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from omniloom.catalog import service
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.pricing import service as pricing
from tests.factories import admin_headers, gtin_for

WRITERS = 6


def run_together(action: Callable[[int], int]) -> list[int]:
    """Run ``action(n)`` for each writer at the same moment; returns the status codes."""
    barrier = threading.Barrier(WRITERS)
    results: list[int] = []

    def run(index: int) -> None:
        barrier.wait()
        results.append(action(index))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


def product(sku: str, *, currency: str = "EUR") -> dict[str, Any]:
    return {"title": f"Product {sku}", "variants": [
        {"sku": sku, "gtin": gtin_for(sku), "price": {"amount": 1000, "currency": currency}}]}


def test_one_of_several_concurrent_creations_of_a_sku_wins(
    fresh_database: Database, app_for: Callable[[Database], TestClient], clock: FrozenClock
) -> None:
    api, headers = app_for(fresh_database), admin_headers(fresh_database, clock=clock)

    statuses = run_together(
        lambda _: api.post("/api/v1/products", json=product("RACE-1"), headers=headers).status_code)

    assert statuses == [201] + [409] * (WRITERS - 1)
    with fresh_database.read() as session:
        products, _ = service.list_products(session, limit=50)
        assert [[variant.sku for variant in item.variants] for item in products] == [["RACE-1"]]


def test_concurrent_products_in_a_new_currency_share_one_default_list(
    fresh_database: Database, app_for: Callable[[Database], TestClient], clock: FrozenClock
) -> None:
    api, headers = app_for(fresh_database), admin_headers(fresh_database, clock=clock)

    statuses = run_together(lambda index: api.post(
        "/api/v1/products", json=product(f"NEW-{index}", currency="IDR"), headers=headers).status_code)

    assert statuses == [201] * WRITERS
    with fresh_database.read() as session:
        lists, _ = pricing.list_price_lists(session, limit=50)
        assert [(item.code, item.is_default) for item in lists] == [("DEFAULT-IDR", True)]
        prices, _ = pricing.list_prices(session, price_list_code="DEFAULT-IDR", limit=50)
        assert [(price.sku, price.amount) for price in prices] == [(f"NEW-{n}", 1000) for n in range(WRITERS)]
