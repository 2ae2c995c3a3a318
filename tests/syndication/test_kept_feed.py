"""A channel checked against Google's rules writes its full Google feeds from the rows its change tracking keeps.

Those rows must say exactly what a feed built from the catalog says, whatever changed in between: the reference is
a marketplace channel with the same settings, whose Google feeds are always built item by item.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.syndication import deltas
from omniloom.syndication.exports import FeedExport
from omniloom.syndication.feeds import FeedCount
from omniloom.syndication.formats import FormatName
from omniloom.syndication.service import feed_channel, feed_items
from tests.syndication import feed_catalog

# No {channel} in the link, so that both channels' rows are alike.
SETTINGS = {**feed_catalog.FEED_SETTINGS, "link_template": "https://shop.example.com/p/{sku}?utm_medium=cpc"}
LONG_TITLE = "Scarf " + "x" * 160


@pytest.fixture
def product_ids(admin: TestClient) -> dict[str, str]:
    ids = feed_catalog.build(admin)
    assert admin.patch("/channels/google", json={"feed_settings": SETTINGS}).status_code == 200
    built = admin.post("/channels", json={
        "code": "built", "name": "Built item by item", "type": "marketplace", "currency": "EUR",
        "price_list": "ADS-EUR", "location_codes": ["WH-1", "AMS-01", "LWR-01"], "feed_settings": SETTINGS})
    assert built.status_code == 201, built.text
    return ids


def export(database: Database, clock: FrozenClock, tmp_path: Path, channel: str, format_name: FormatName,
           since: str | None = None) -> tuple[str, FeedCount]:
    feed = FeedExport(database, channel, format_name, clock=clock, since=since, preparation_minutes=60)
    out = tmp_path / f"{channel}.{format_name}"
    count = feed.write(out, advance=lambda _items: None)
    return out.read_text(encoding="utf-8"), count


def cursors(database: Database, clock: FrozenClock) -> dict[str, str]:
    return {channel: FeedExport(database, channel, "google_tsv", clock=clock, since=None,
                                preparation_minutes=60).cursor for channel in ("google", "built")}


def assert_kept_delta_equals_built(database: Database, clock: FrozenClock, tmp_path: Path,
                                   since: dict[str, str]) -> None:
    for format_name in ("google_tsv", "google_xml"):
        kept, kept_count = export(database, clock, tmp_path, "google", format_name, since["google"])
        built, built_count = export(database, clock, tmp_path, "built", format_name, since["built"])
        assert items_of(kept, format_name) == items_of(built, format_name)
        assert (kept_count.written, kept_count.deleted) == (built_count.written, built_count.deleted)
        assert kept_count.written + kept_count.deleted > 0  # every change of these tests shows in the feed


def items_of(feed: str, format_name: FormatName) -> str:
    """The feed without the XML header, which names the channel."""
    return feed.split("</description>\n", 1)[1] if format_name == "google_xml" else feed


def assert_kept_equals_built(database: Database, clock: FrozenClock, tmp_path: Path) -> None:
    for format_name in ("google_tsv", "google_xml"):
        kept, kept_count = export(database, clock, tmp_path, "google", format_name)
        built, built_count = export(database, clock, tmp_path, "built", format_name)
        assert items_of(kept, format_name) == items_of(built, format_name)
        assert (kept_count.written, kept_count.left_out) == (built_count.written, built_count.left_out)
    with database.read() as session:
        assert deltas.keeps_google_rows(session, feed_channel(session, "google"))
        assert not deltas.keeps_google_rows(session, feed_channel(session, "built"))


def move(admin: TestClient, sku: str, location: str, quantity: int) -> None:
    response = admin.post("/inventory/movements", json={"sku": sku, "location": location, "quantity": quantity,
                                                       "reason": "adjustment"})
    assert response.status_code == 201, response.text


def create_scarf(admin: TestClient, title: str = "Scarf") -> str:
    created = admin.post("/products", json={
        "title": title, "description": "Wool scarf", "brand": "Loom", "category": "Apparel > Scarves",
        "media": [{"url": "https://cdn.example.com/scarf.jpg"}],
        "variants": [{"sku": "SCARF-1", "mpn": "LM-SC-1", "price": {"amount": 2999, "currency": "EUR"}}]})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def ok(response: httpx.Response) -> None:
    assert response.status_code in (200, 201), response.text


def retitle(admin: TestClient) -> None:
    for channel in ("google", "built"):
        ok(admin.patch(f"/channels/{channel}", json={"feed_settings": {
            **SETTINGS, "title_template": "{title} ({options[size]})"}}))


CHANGES: dict[str, Callable[[TestClient, dict[str, str]], object]] = {
    "a price": lambda admin, _: ok(admin.put("/price-lists/ADS-EUR/prices/TEE-RED-M", json={"amount": 1799})),
    "a sale ending": lambda admin, _: ok(admin.put("/price-lists/ADS-EUR/prices/TEE-RED-L", json={"amount": 1999})),
    "a sell-out": lambda admin, _: (move(admin, "TEE-RED-M", "WH-1", -10), move(admin, "TEE-RED-M", "AMS-01", -2)),
    "a new product": lambda admin, _: create_scarf(admin),
    "an archived product": lambda admin, ids: ok(admin.patch(f"/products/{ids['mug']}",
                                                             json={"status": "archived"})),
    "the channel's title template": lambda admin, _: retitle(admin),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_kept_feed_and_delta_say_what_built_ones_say_after(
        admin: TestClient, product_ids: dict[str, str], database: Database, clock: FrozenClock, tmp_path: Path,
        change: str) -> None:
    assert_kept_equals_built(database, clock, tmp_path)  # the first export keeps the rows
    since = cursors(database, clock)

    CHANGES[change](admin, product_ids)

    assert_kept_equals_built(database, clock, tmp_path)
    assert_kept_delta_equals_built(database, clock, tmp_path, since)


def test_an_item_with_errors_is_counted_left_out_until_it_is_mended(
        admin: TestClient, product_ids: dict[str, str], database: Database, clock: FrozenClock,
        tmp_path: Path) -> None:
    assert_kept_equals_built(database, clock, tmp_path)
    scarf = create_scarf(admin, LONG_TITLE)

    feed, count = export(database, clock, tmp_path, "google", "google_tsv")
    assert "SCARF-1" not in feed
    assert (count.written, count.left_out) == (3, 1)
    assert_kept_equals_built(database, clock, tmp_path)

    assert admin.patch(f"/products/{scarf}", json={"title": "Scarf"}).status_code == 200
    feed, count = export(database, clock, tmp_path, "google", "google_tsv")
    assert "SCARF-1\t" in feed
    assert (count.written, count.left_out) == (4, 0)
    assert_kept_equals_built(database, clock, tmp_path)


def test_an_item_left_out_for_errors_never_shows_as_a_change(
        admin: TestClient, product_ids: dict[str, str]) -> None:
    cursor = admin.get("/channels/google/feed", params={"format": "json"}).headers["Omniloom-Feed-Cursor"]
    create_scarf(admin, LONG_TITLE)

    response = admin.get("/channels/google/feed", params={"format": "json", "since": cursor})

    assert response.json()["items"] == []
    assert response.headers["Omniloom-Feed-Cursor"] == cursor


def test_rows_kept_in_an_older_form_are_written_again_without_new_changes(
        admin: TestClient, product_ids: dict[str, str], database: Database, clock: FrozenClock,
        tmp_path: Path) -> None:
    create_scarf(admin, LONG_TITLE)
    cursor = admin.get("/channels/google/feed", params={"format": "json"}).headers["Omniloom-Feed-Cursor"]
    with database.write() as session:  # rows as a tracker of an earlier version left them
        session.execute(text("UPDATE feed_states SET row_form = 0 WHERE channel_code = 'google'"))
        session.execute(text("UPDATE feed_rows SET google_row = NULL, has_errors = :no WHERE channel_code = 'google'"),
                        {"no": False})
    with database.read() as session:
        assert not deltas.keeps_google_rows(session, feed_channel(session, "google"))

    _feed, count = export(database, clock, tmp_path, "google", "google_tsv")

    assert (count.written, count.left_out) == (3, 1)
    assert_kept_equals_built(database, clock, tmp_path)
    response = admin.get("/channels/google/feed", params={"format": "json", "since": cursor})
    assert response.json()["items"] == []
    assert response.headers["Omniloom-Feed-Cursor"] == cursor


def test_an_items_pickup_stores_are_the_channels_pickup_locations_with_stock_for_it(
        admin: TestClient, product_ids: dict[str, str], database: Database) -> None:
    ok(admin.post("/locations", json=feed_catalog.location("AAA-02", "store", ["pickup"], 52.1)))
    ok(admin.patch("/channels/google", json={"location_codes": ["WH-1", "AMS-01", "LWR-01", "AAA-02"]}))
    move(admin, "TEE-RED-M", "AAA-02", 4)

    def pickup() -> dict[str, tuple[str, ...]]:
        with database.read() as session:
            return {item.id: item.pickup_stores for item in feed_items(session, channel_code="google",
                                                                         with_stores=True)}

    # WH-1 ships only and LWR-01 takes returns only: neither is a pickup store, whatever they hold.
    assert pickup() == {"MUG-1": (), "TEE-RED-L": ("AMS-01",), "TEE-RED-M": ("AAA-02", "AMS-01")}
    ok(admin.patch("/channels/google", json={"safety_stock": 1}))  # AMS-01 has one TEE-RED-L: none to promise
    assert pickup() == {"MUG-1": (), "TEE-RED-L": (), "TEE-RED-M": ("AAA-02", "AMS-01")}
    ok(admin.patch("/channels/google", json={"location_codes": ["WH-1", "AMS-01", "LWR-01"]}))
    assert pickup() == {"MUG-1": (), "TEE-RED-L": (), "TEE-RED-M": ("AMS-01",)}
