"""A connector through an exchange folder, as SFTP-style integrations work.

``outgoing/`` receives CSV files (listings with an ``action`` column, stock and prices, shipments, cancellations),
each written under a temporary name and renamed when complete, named by kind and a time-ordered id.
``inbox/`` is where the channel drops order CSVs (one row per order line, rows of one order share ``order_id``);
once every order of a file is acknowledged the file moves to ``processed/``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ulid import ULID

from omniloom.syndication.connectors.base import (
    OFFER_FIELDS,
    Cancellation,
    ConnectorRejected,
    ConnectorUnavailable,
    PulledOrder,
    PushResult,
    Shipment,
)
from omniloom.syndication.connectors.schemas import FileSettings
from omniloom.syndication.items import VARIANT_ATTRIBUTES, FeedItem

LISTING_COLUMNS = ("action", "id", "item_group_id", "listing_id", "title", "description", "link", "image_link",
                   "additional_image_links", "brand", "gtin", "mpn", "condition", "product_type",
                   "google_product_category", *VARIANT_ATTRIBUTES, "shipping_weight_grams", "price", "sale_price",
                   "currency", "availability", "quantity")
ORDER_COLUMNS = ("order_id", "currency", "sku", "listing_id", "quantity", "unit_price", "name", "email", "phone",
                 "address_line1", "address_line2", "city", "postal_code", "country")
SHIPMENT_COLUMNS = ("order_id", "shipment_id", "carrier", "tracking_number", "shipped_at", "sku", "quantity")
ADDRESS_FIELDS = {"name": "name", "address_line1": "line1", "address_line2": "line2", "city": "city",
                  "postal_code": "postal_code", "country": "country"}


class FileConnector:
    """Reads and writes the channel's exchange folder (created when missing)."""

    def __init__(self, settings: FileSettings) -> None:
        root = Path(settings.folder)
        self.outgoing, self.inbox, self.processed = root / "outgoing", root / "inbox", root / "processed"
        self._files_of: dict[str, set[str]] = {}  # inbox file → order ids in it, from the last pull

    def push_listings(self, items: Sequence[FeedItem], removed: Sequence[str]) -> PushResult:
        rows = [_listing_row(item) for item in items] + [{"action": "delete", "id": sku} for sku in removed]
        self._write("listings", LISTING_COLUMNS, rows)
        return PushResult()

    def push_stock_and_prices(self, items: Sequence[FeedItem]) -> PushResult:
        self._write("stock", OFFER_FIELDS, ({name: getattr(item, name) for name in OFFER_FIELDS} for item in items))
        return PushResult()

    def pull_orders(self) -> list[PulledOrder]:
        self._files_of.clear()
        try:
            self.inbox.mkdir(parents=True, exist_ok=True)
            files = sorted(path for path in self.inbox.iterdir() if path.suffix.lower() == ".csv" and path.is_file())
        except OSError as error:
            raise ConnectorUnavailable(f"cannot read the inbox: {error.strerror}") from None
        orders: list[PulledOrder] = []
        for path in files:
            found = _orders_in(path.name, _read_text(path))
            self._files_of[path.name] = {order.external_id for order in found}
            orders.extend(found)
        return orders

    def acknowledge_orders(self, external_ids: Sequence[str]) -> None:
        done = set(external_ids)
        try:
            self.processed.mkdir(parents=True, exist_ok=True)
            for name, ids in list(self._files_of.items()):
                if ids <= done:
                    os.replace(self.inbox / name, self.processed / name)
                    del self._files_of[name]
        except OSError as error:
            raise ConnectorUnavailable(f"cannot move an order file to processed/: {error.strerror}") from None

    def push_tracking(self, shipment: Shipment) -> None:
        self._write("shipments", SHIPMENT_COLUMNS, (
            {"order_id": shipment.external_order_id, "shipment_id": shipment.shipment_id,
             "carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
             "shipped_at": shipment.shipped_at.isoformat(), "sku": line.sku, "quantity": line.quantity}
            for line in shipment.lines))

    def push_cancellation(self, cancellation: Cancellation) -> None:
        self._write("cancellations", ("order_id", "reason"),
                    [{"order_id": cancellation.external_order_id, "reason": cancellation.reason}])

    def close(self) -> None:
        self._files_of.clear()

    def _write(self, kind: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Path:
        """Write a complete file under a temporary name, then give it its name: readers never see half a file."""
        target = self.outgoing / f"{kind}-{ULID()}.csv"
        partial = target.with_name("." + target.name + ".part")
        try:
            self.outgoing.mkdir(parents=True, exist_ok=True)
            with partial.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
            os.replace(partial, target)
        except OSError as error:
            raise ConnectorUnavailable(f"cannot write {target.name}: {error.strerror}") from None
        return target


def _listing_row(item: FeedItem) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(item, name) for name in LISTING_COLUMNS
                           if name not in ("action", "additional_image_links", *VARIANT_ATTRIBUTES)}
    row.update(item.attributes)
    row["action"] = "upsert"
    row["additional_image_links"] = ",".join(item.additional_image_links)
    return row


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConnectorRejected(f"{path.name} is not UTF-8 text") from None
    except OSError as error:
        raise ConnectorUnavailable(f"cannot read {path.name}: {error.strerror}") from None


def _orders_in(file_name: str, text: str) -> list[PulledOrder]:
    """The orders of one inbox file, in the marketplace order shape; a file without an ``order_id`` column is one
    order that cannot be read (kept whole, so nothing is lost)."""
    reader = csv.DictReader(io.StringIO(text))
    if "order_id" not in (reader.fieldnames or ()):
        return [PulledOrder(external_id=f"file:{file_name}",
                            data={"file": file_name, "content": text[:50_000],
                                  "error": "the file has no order_id column"})]
    orders: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(reader, start=2):
        values = {key: (value or "").strip() for key, value in row.items() if key}
        order_id = values.get("order_id") or f"file:{file_name}:row {number}"
        order = orders.setdefault(order_id, {
            "id": values.get("order_id") or None, "currency": values.get("currency") or None, "lines": [],
            "source": file_name,
            "customer": {key: values[key] for key in ("name", "email", "phone") if values.get(key)},
            "shipping_address": {field: values[column] for column, field in ADDRESS_FIELDS.items()
                                 if values.get(column)}})
        order["lines"].append({key: values.get(key) or None for key in ("sku", "listing_id", "quantity",
                                                                          "unit_price")})
    return [PulledOrder(external_id=order_id, data=data) for order_id, data in orders.items()]
