"""The feed formats: how one item is written for each kind of channel. Pure code without I/O.

Every writer turns items into text chunks: ``begin`` (header), ``upsert`` (one item; the local inventory feed
writes a row per store), ``delete`` (only in deltas) and ``end``. Tabular formats are written with ``csv`` so that
quotes, separators and line breaks inside values are quoted as the channels' parsers expect; a delta adds a first
column ``action`` (``upsert`` or ``delete``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from math import ceil
from typing import TYPE_CHECKING, Any, Literal, get_args
from xml.sax.saxutils import escape

from babel.numbers import get_currency_precision

from omniloom.syndication.items import VARIANT_ATTRIBUTES, FeedItem

if TYPE_CHECKING:  # the writers only read a share's fields; importing the inventory service costs a CLI's start-up
    from omniloom.inventory.service import LocationShare

FormatName = Literal["google_tsv", "google_xml", "local_inventory", "meta_csv", "marketplace_csv", "json"]
FORMAT_NAMES: tuple[str, ...] = get_args(FormatName)
GOOGLE_NAMESPACE = "http://base.google.com/ns/1.0"
# XML 1.0 allows neither control characters (but tab and line breaks) nor unpaired surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@lru_cache(maxsize=64)
def _digits(currency: str) -> int:
    return int(get_currency_precision(currency))


def decimal_amount(amount: int, currency: str) -> str:
    """Minor units as a decimal string in major units: ``1999, "EUR"`` → ``19.99``."""
    digits = _digits(currency)
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}"


@lru_cache(maxsize=1 << 16)
def price_text(amount: int | None, currency: str) -> str:
    """A price the way Google and Meta want it: ``19.99 EUR``; empty when there is none."""
    return "" if amount is None else f"{decimal_amount(amount, currency)} {currency}"


def pickup_sla(preparation_minutes: int) -> str:
    """Google's ``pickup_sla`` value for a store that prepares a pickup in this many minutes."""
    if preparation_minutes <= 8 * 60:
        return "same day"
    days = ceil(preparation_minutes / (24 * 60))
    return "next day" if days == 1 else f"{days}-day" if days <= 7 else "multi-week"


class Writer:
    """How a feed format writes items; subclasses fill in the parts."""

    media_type = "text/plain; charset=utf-8"
    extension = "txt"
    wants_stores = False
    # Google's formats also write items given as their kept values (``google_values``).
    writes_google_values = False

    def __init__(self, *, delta: bool, channel_code: str) -> None:
        self.delta = delta
        self.channel_code = channel_code

    def begin(self) -> str:
        return ""

    def upsert(self, item: FeedItem, stores: Sequence[LocationShare] = ()) -> str:
        raise NotImplementedError

    def upsert_all(self, items: Sequence[FeedItem], stores: dict[str, list[LocationShare]]) -> str:
        """The text of several items at once."""
        return "".join(self.upsert(item, stores.get(item.id, ())) for item in items)

    def delete(self, item_id: str) -> str:
        raise NotImplementedError

    def end(self) -> str:
        return ""

    def google_rows(self, rows: list[list[Any]]) -> str:
        """The text of several items given as their ``google_values`` (changed in place)."""
        raise NotImplementedError


class _Tabular(Writer):
    """A header row, then one row per item: TSV or CSV written by ``csv``."""

    delimiter = ","
    columns: tuple[str, ...] = ()

    def __init__(self, *, delta: bool, channel_code: str) -> None:
        super().__init__(delta=delta, channel_code=channel_code)
        self.buffer = io.StringIO()
        self.csv = csv.writer(self.buffer, delimiter=self.delimiter, lineterminator="\n")

    def begin(self) -> str:
        return self._rows([("action", *self.columns) if self.delta else self.columns])

    def upsert(self, item: FeedItem, stores: Sequence[LocationShare] = ()) -> str:
        rows = self.values(item, stores)
        return self._rows([("upsert", *row) for row in rows] if self.delta else rows)

    def upsert_all(self, items: Sequence[FeedItem], stores: dict[str, list[LocationShare]]) -> str:
        rows = [row for item in items for row in self.values(item, stores.get(item.id, ()))]
        return self._rows([("upsert", *row) for row in rows] if self.delta else rows)

    def delete(self, item_id: str) -> str:
        return self._rows([("delete", item_id, *[""] * (len(self.columns) - 1))])

    def values(self, item: FeedItem, stores: Sequence[LocationShare]) -> list[Sequence[str]]:
        raise NotImplementedError

    def _rows(self, rows: Sequence[Sequence[str]]) -> str:
        """The rows as text. A row with no separator, quote or line break inside a value is joined directly (what
        ``csv`` would write for it, at a fraction of the cost); any other row goes through ``csv``."""
        delimiter = self.delimiter
        lines = []
        for row in rows:
            line = delimiter.join(row)
            if line.count(delimiter) == len(row) - 1 and '"' not in line and "\n" not in line and "\r" not in line:
                lines.append(line + "\n")
            else:
                self.csv.writerow(row)
                lines.append(self.buffer.getvalue())
                self.buffer.seek(0)
                self.buffer.truncate()
        return "".join(lines)


GOOGLE_COLUMNS = (
    "id", "title", "description", "link", "image_link", "additional_image_link", "availability", "price",
    "sale_price", "brand", "gtin", "mpn", "identifier_exists", "condition", "item_group_id", *VARIANT_ATTRIBUTES,
    "product_type", "google_product_category", "shipping_weight",
)


_NO_VALUES = ("",) * len(VARIANT_ATTRIBUTES)
ADDITIONAL_IMAGES = GOOGLE_COLUMNS.index("additional_image_link")


def google_values(item: FeedItem) -> list[Any]:
    """An item's Google product data, a text per column of ``GOOGLE_COLUMNS`` but the additional image links, which
    are a list of texts. A channel keeps its items in this form (``FeedRow.google_row``)."""
    return [
        item.id, item.title, item.description, item.link, item.image_link or "", item.additional_image_links,
        item.availability, price_text(item.price, item.currency), price_text(item.sale_price, item.currency),
        item.brand or "", item.gtin or "", item.mpn or "", "" if item.identifier_exists else "no", item.condition,
        item.item_group_id, *map(item.attributes.get, VARIANT_ATTRIBUTES, _NO_VALUES),
        item.product_type or "", item.google_product_category or "",
        f"{item.shipping_weight_grams} g" if item.shipping_weight_grams is not None else "",
    ]


class GoogleTsv(_Tabular):
    """Google Merchant Center product data, tab-delimited with quoted fields."""

    delimiter = "\t"
    columns = GOOGLE_COLUMNS
    media_type = "text/tab-separated-values; charset=utf-8"
    extension = "tsv"
    writes_google_values = True

    def values(self, item: FeedItem, stores: Sequence[LocationShare]) -> list[Sequence[str]]:
        return [_cells(google_values(item))]

    def google_rows(self, rows: list[list[Any]]) -> str:
        cells = [_cells(values) for values in rows]
        return self._rows([("upsert", *row) for row in cells] if self.delta else cells)


def _cells(values: list[Any]) -> list[str]:
    """Google values as the cells of a row: the additional image links separated by commas."""
    values[ADDITIONAL_IMAGES] = ",".join(values[ADDITIONAL_IMAGES])
    return values


class LocalInventory(_Tabular):
    """Google's local inventory data: one row per store of the channel, with pickup method and SLA."""

    delimiter = "\t"
    columns = ("store_code", "id", "quantity", "availability", "price", "sale_price", "pickup_method",
               "pickup_sla")
    media_type = "text/tab-separated-values; charset=utf-8"
    extension = "tsv"
    wants_stores = True

    def __init__(self, *, delta: bool, channel_code: str, pickup_sla: str = "same day") -> None:
        super().__init__(delta=delta, channel_code=channel_code)
        self.pickup_sla = pickup_sla

    def values(self, item: FeedItem, stores: Sequence[LocationShare]) -> list[Sequence[str]]:
        price = price_text(item.price, item.currency)
        sale_price = price_text(item.sale_price, item.currency)
        return [(store.location, item.id, str(store.available),
                 "in_stock" if store.available > 0 else "out_of_stock", price, sale_price,
                 "buy" if store.pickup else "not supported", self.pickup_sla if store.pickup else "")
                for store in stores]

    def delete(self, item_id: str) -> str:
        return self._rows([("delete", "", item_id, *[""] * (len(self.columns) - 2))])


META_AVAILABILITY = {"in_stock": "in stock", "out_of_stock": "out of stock", "backorder": "available for order"}


class MetaCsv(_Tabular):
    """Meta (Facebook and Instagram shops) catalog data feed, comma-separated."""

    columns = ("id", "title", "description", "availability", "condition", "price", "link", "image_link", "brand",
               "sale_price", "item_group_id", "google_product_category", "product_type", *VARIANT_ATTRIBUTES,
               "additional_image_link", "gtin", "mpn", "quantity_to_sell_on_facebook", "shipping_weight")
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def values(self, item: FeedItem, stores: Sequence[LocationShare]) -> list[Sequence[str]]:
        attributes = item.attributes
        return [(item.id, item.title, item.description, META_AVAILABILITY[item.availability], item.condition,
                 price_text(item.price, item.currency), item.link, item.image_link or "", item.brand or "",
                 price_text(item.sale_price, item.currency), item.item_group_id,
                 item.google_product_category or "", item.product_type or "",
                 *[attributes.get(name, "") for name in VARIANT_ATTRIBUTES], ",".join(item.additional_image_links),
                 item.gtin or "", item.mpn or "", str(item.quantity),
                 f"{item.shipping_weight_grams} g" if item.shipping_weight_grams is not None else "")]


class MarketplaceCsv(_Tabular):
    """A generic marketplace listing file: plain decimal prices with a currency column, stock as a number."""

    columns = ("sku", "listing_id", "title", "description", "brand", "gtin", "mpn", "category", "price",
               "sale_price", "currency", "quantity", "availability", "link", "image_link", "additional_image_links",
               "item_group_id", "weight_grams", "attributes")
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def values(self, item: FeedItem, stores: Sequence[LocationShare]) -> list[Sequence[str]]:
        return [(item.id, item.listing_id or "", item.title, item.description, item.brand or "", item.gtin or "",
                 item.mpn or "", item.google_product_category or item.product_type or "",
                 "" if item.price is None else decimal_amount(item.price, item.currency),
                 "" if item.sale_price is None else decimal_amount(item.sale_price, item.currency), item.currency,
                 str(item.quantity), item.availability, item.link, item.image_link or "",
                 " ".join(item.additional_image_links), item.item_group_id,
                 "" if item.shipping_weight_grams is None else str(item.shipping_weight_grams),
                 json.dumps(item.attributes, ensure_ascii=False, sort_keys=True) if item.attributes else "")]


def json_item(item: FeedItem) -> dict[str, Any]:
    """One item of the JSON feed: every attribute, amounts as ``{amount, currency}`` in minor units."""
    return {
        "id": item.id, "action": "upsert", "listing_id": item.listing_id, "item_group_id": item.item_group_id,
        "title": item.title, "description": item.description, "link": item.link, "image_link": item.image_link,
        "additional_image_links": item.additional_image_links,
        "price": None if item.price is None else {"amount": item.price, "currency": item.currency},
        "sale_price": None if item.sale_price is None else {"amount": item.sale_price, "currency": item.currency},
        "availability": item.availability, "quantity": item.quantity, "brand": item.brand, "gtin": item.gtin,
        "mpn": item.mpn, "identifier_exists": item.identifier_exists, "condition": item.condition,
        "product_type": item.product_type, "google_product_category": item.google_product_category,
        "attributes": dict(sorted(item.attributes.items())), "shipping_weight_grams": item.shipping_weight_grams,
    }


class JsonFeed(Writer):
    """``{"items": [{"id", "action", ...}]}``, the same for full feeds and deltas."""

    media_type = "application/json"
    extension = "json"

    def __init__(self, *, delta: bool, channel_code: str) -> None:
        super().__init__(delta=delta, channel_code=channel_code)
        self.separator = ""

    def begin(self) -> str:
        return '{"items": ['

    def upsert(self, item: FeedItem, stores: Sequence[LocationShare] = ()) -> str:
        return self._next(json_item(item))

    def delete(self, item_id: str) -> str:
        return self._next({"id": item_id, "action": "delete"})

    def end(self) -> str:
        return "]}\n"

    def _next(self, body: dict[str, Any]) -> str:
        text = self.separator + json.dumps(body, ensure_ascii=False)
        self.separator = ",\n"
        return text


def _xml(text: str) -> str:
    return escape(_NOT_XML.sub("", text))


class GoogleXml(Writer):
    """Google Merchant Center product data as RSS 2.0 with the ``g:`` namespace; a delta item carries
    ``<g:action>``."""

    media_type = "application/rss+xml; charset=utf-8"
    extension = "xml"
    writes_google_values = True

    def __init__(self, *, delta: bool, channel_code: str, site: str = "") -> None:
        super().__init__(delta=delta, channel_code=channel_code)
        self.site = site

    def begin(self) -> str:
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:g="{GOOGLE_NAMESPACE}">\n'
                f"<channel>\n<title>{_xml(self.channel_code)}</title>\n<link>{_xml(self.site)}</link>\n"
                f"<description>Products of channel {_xml(self.channel_code)}</description>\n")

    def upsert(self, item: FeedItem, stores: Sequence[LocationShare] = ()) -> str:
        return self._item(google_values(item))

    def google_rows(self, rows: list[list[Any]]) -> str:
        return "".join(map(self._item, rows))

    def _item(self, values: list[Any]) -> str:
        parts = ["<item>\n"]
        if self.delta:
            parts.append("<g:action>upsert</g:action>\n")
        for name, value in zip(GOOGLE_COLUMNS, values, strict=True):
            if name == "additional_image_link":
                parts.extend(f"<g:{name}>{_xml(url)}</g:{name}>\n" for url in value)
            elif value:
                parts.append(f"<g:{name}>{_xml(value)}</g:{name}>\n")
        parts.append("</item>\n")
        return "".join(parts)

    def delete(self, item_id: str) -> str:
        return f"<item>\n<g:action>delete</g:action>\n<g:id>{_xml(item_id)}</g:id>\n</item>\n"

    def end(self) -> str:
        return "</channel>\n</rss>\n"


WRITERS: dict[str, type[Writer]] = {
    "google_tsv": GoogleTsv, "google_xml": GoogleXml, "local_inventory": LocalInventory, "meta_csv": MetaCsv,
    "marketplace_csv": MarketplaceCsv, "json": JsonFeed,
}


def writer_for(name: FormatName, *, delta: bool, channel_code: str, site: str, preparation_minutes: int) -> Writer:
    """The writer of a format: the XML feed names the shop's ``site``, the local inventory feed states the
    stores' pickup SLA."""
    if name == "local_inventory":
        return LocalInventory(delta=delta, channel_code=channel_code, pickup_sla=pickup_sla(preparation_minutes))
    if name == "google_xml":
        return GoogleXml(delta=delta, channel_code=channel_code, site=site)
    return WRITERS[name](delta=delta, channel_code=channel_code)
