"""Catch-ups of one channel from several connections at once: every change numbered once, none lost."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.syndication import deltas, service
from tests.factories import admin_headers
from tests.inventory.test_concurrency import run_together
from tests.syndication import feed_catalog

SKUS = ("MUG-1", "TEE-RED-L", "TEE-RED-M")


def test_concurrent_catch_ups_number_each_change_once(fresh_database: Database, clock: FrozenClock,
                                                      app_for: Callable[[Database], TestClient]) -> None:
    admin = TestClient(app_for(fresh_database).app, base_url="http://testserver/api/v1",
                       raise_server_exceptions=False)
    admin.headers.update(admin_headers(fresh_database, clock=clock))
    feed_catalog.build(admin)
    with fresh_database.write() as session:
        cursor = deltas.catch_up(session, "google", clock=clock)

    def change_and_catch_up(index: int) -> None:
        sku = SKUS[index % len(SKUS)]
        response = admin.put(f"/price-lists/ADS-EUR/prices/{sku}", json={"amount": 500 + index})
        assert response.status_code == 200, response.text
        with fresh_database.write() as session:
            deltas.catch_up(session, "google", clock=clock)

    assert run_together(6, change_and_catch_up) == []

    with fresh_database.write() as session:
        changes, _ = deltas.changes_since(session, channel_code="google", cursor=cursor, clock=clock)
        sequences = session.execute(text("SELECT sequence FROM feed_rows WHERE channel_code = 'google'")).scalars()
        numbered = sorted(sequences)
    assert sorted(change.sku for change in changes) == sorted(SKUS)
    assert len(numbered) == len(set(numbered)), numbered
    final_prices = {change.sku: change.item.price for change in changes if change.item}
    with fresh_database.read() as session:
        current = {item.id: item.price for item in service.feed_items(session, channel_code="google")}
    assert final_prices == current
