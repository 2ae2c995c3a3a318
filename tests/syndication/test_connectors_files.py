"""The file connector, SFTP-style: feeds written to ``outgoing/``, order CSVs read from ``inbox/`` and moved to
``processed/`` once imported, shipments written back."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omniloom.syndication.connectors.files import ORDER_COLUMNS
from tests.syndication.conftest import BOL_FEED, Syncer, move

pytestmark = pytest.mark.usefixtures("shop")
ADDRESS = ["Jan Jansen", "jan@example.com", "", "Nieuwestad 1", "", "Leeuwarden", "8911 CK", "NL"]


def rows_of(folder: Path, pattern: str) -> list[list[dict[str, str]]]:
    """The rows of each file matching ``pattern``, oldest file first."""
    files = sorted(folder.glob(pattern))
    return [list(csv.DictReader(path.open(encoding="utf-8", newline=""))) for path in files]


@pytest.fixture
def exchange(admin: TestClient, tmp_path: Path) -> Path:
    folder = tmp_path / "bol-exchange"
    assert admin.patch("/channels/bol", json={"feed_settings": BOL_FEED}).status_code == 200
    put = admin.put("/channels/bol/connector", json={"type": "file", "settings": {"folder": str(folder)}})
    assert put.status_code == 200, put.text
    return folder


def test_file_round_trip(admin: TestClient, exchange: Path, sync: Syncer) -> None:
    assert sync().listings_pushed == 3
    [listings] = rows_of(exchange / "outgoing", "listings-*.csv")
    assert [(row["action"], row["id"], row["title"], row["price"], row["currency"], row["quantity"],
             row["availability"], row["link"]) for row in listings] == [
        ("upsert", sku, "Loom product TEE-M", str(price), "EUR", "10", "in_stock",
         f"https://shop.example.com/p/{sku}") for sku, price in (("MUG", 1200), ("TEE-L", 2500), ("TEE-M", 2500))]
    assert list((exchange / "outgoing").glob(".*")) == [], "no partial files left behind"

    inbox = exchange / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    with (inbox / "orders-0001.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_COLUMNS)
        writer.writerow(["BOL-F-1", "EUR", "TEE-L", "", "1", "2399", *ADDRESS])
        writer.writerow(["BOL-F-1", "EUR", "MUG", "", "2", "1200", *ADDRESS])
        writer.writerow(["BOL-F-2", "EUR", "", "L-UNKNOWN", "1", "999", *ADDRESS])
        writer.writerow(["BOL-F-3", "EUR", "MUG", "", "two", "1200", *ADDRESS])
    report = sync()
    assert (report.orders_pulled, report.orders_imported, report.orders_held, report.dead_lettered,
            report.orders_acknowledged) == (3, 1, 1, 1, 3)
    assert list(inbox.iterdir()) == [] and [path.name for path in (exchange / "processed").iterdir()] == [
        "orders-0001.csv"]
    orders = {order["external_id"]: order for order in
              admin.get("/orders", params={"channel": "bol"}).json()["items"]}
    assert sorted(orders) == ["BOL-F-1", "BOL-F-2"]
    placed = orders["BOL-F-1"]
    assert [(line["sku"], line["quantity"], line["unit_price"]["amount"]) for line in placed["lines"]] == [
        ("TEE-L", 1, 2399), ("MUG", 2, 1200)]
    assert orders["BOL-F-2"]["status"] == "on_hold" and "L-UNKNOWN" in orders["BOL-F-2"]["hold_reason"]
    [letter] = admin.get("/channels/bol/connector/dead-letters").json()["items"]
    assert (letter["kind"], letter["subject"]) == ("order", "BOL-F-3")
    assert letter["reason"].startswith("lines[0].quantity: Input should be a valid integer")

    job = placed["fulfillments"][0]["id"]
    move(admin, job, "picking", "packed")
    move(admin, job, "shipped", carrier="PostNL", tracking_number="3SFILE0001")
    assert admin.put("/price-lists/BOL-EUR/prices/TEE-M", json={"amount": 2199}).status_code == 200
    report = sync()
    assert (report.tracking_pushed, report.stock_updates_pushed, report.listings_pushed, report.orders_pulled) == (
        1, 1, 0, 0)
    [shipment] = rows_of(exchange / "outgoing", "shipments-*.csv")
    assert [(row["order_id"], row["shipment_id"], row["carrier"], row["tracking_number"], row["sku"],
             row["quantity"]) for row in shipment] == [
        ("BOL-F-1", job, "PostNL", "3SFILE0001", "TEE-L", "1"), ("BOL-F-1", job, "PostNL", "3SFILE0001", "MUG", "2")]
    [stock] = rows_of(exchange / "outgoing", "stock-*.csv")
    assert stock == [{"id": "TEE-M", "quantity": "10", "availability": "in_stock", "price": "2199",
                      "sale_price": "", "currency": "EUR"}]

    again = sync()
    assert (again.tracking_pushed, again.orders_pulled, again.stock_updates_pushed) == (0, 0, 0)
    assert len(admin.get("/orders", params={"channel": "bol"}).json()["items"]) == 2
