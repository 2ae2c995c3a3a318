"""Each channel's copy of the one catalog: its items, built from catalog, price list and stock in one streamed query.

A feed never holds the catalog in memory: the rows come from the database as plain tuples in batches (a server-side
cursor on PostgreSQL), and a batch costs one query more only when the stock per store is wanted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from string import Formatter
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from sqlalchemy import Select, Text, cast, select
from sqlalchemy.orm import Session

from omniloom.catalog import service as catalog
from omniloom.channels import service as channels
from omniloom.channels.schemas import FeedSettings
from omniloom.inventory import service as inventory
from omniloom.inventory.availability import ChannelPolicy
from omniloom.inventory.service import LocationShare
from omniloom.platform.db import in_code_point_order
from omniloom.pricing import service as pricing
from omniloom.syndication.errors import FeedNotConfigured
from omniloom.syndication.items import VARIANT_ATTRIBUTES, FeedItem
from omniloom.syndication.rows import REMEMBERED, JsonTexts, row_batches

BATCH = 2000
# Names merchants give variant attributes, and the feed attribute each one is.
ATTRIBUTE_SYNONYMS = {"colour": "color", "kleur": "color", "warna": "color", "maat": "size", "ukuran": "size",
                      "grootte": "size", "gender": "gender", "age group": "age_group", "agegroup": "age_group"}


@dataclass(frozen=True)
class Channel:
    """What a feed needs to know about its channel."""

    code: str
    type: str
    currency: str
    price_list: str
    allow_backorder: bool
    settings: FeedSettings
    policy: ChannelPolicy

    @property
    def site(self) -> str:
        """The shop the channel's links lead to: the scheme and host of its link template."""
        parts = urlsplit(self.settings.link_template)
        return f"{parts.scheme}://{parts.netloc}/"


def feed_channel(session: Session, code: str) -> Channel:
    """The channel with its feed settings; raises ChannelNotFound, or FeedNotConfigured when it has none."""
    channel = channels.get_channel(session, code)
    if not channel.feed_settings:
        raise FeedNotConfigured(code)
    return Channel(code=channel.code, type=channel.type, currency=channel.currency, price_list=channel.price_list,
                   allow_backorder=channel.allow_backorder,
                   settings=FeedSettings.model_validate(channel.feed_settings),
                   policy=inventory.channel_policy(session, code))


def feed_items(session: Session, *, channel_code: str, skus: Sequence[str] | None = None,
               with_stores: bool = False) -> Iterator[FeedItem]:
    """The channel's items by SKU, leaving out what its exclusions name (not yet validated); ``skus`` narrows
    them, ``with_stores`` fills each item's ``pickup_stores``."""
    channel = feed_channel(session, channel_code)
    for batch in item_batches(session, channel, skus=skus, with_stores=with_stores):
        yield from batch


def item_batches(session: Session, channel: Channel, *, skus: Sequence[str] | None = None,
                 with_stores: bool = False) -> Iterator[list[FeedItem]]:
    """``feed_items`` of a channel already read, a batch at a time (with ``with_stores``, each batch costs one query
    more)."""
    builder = _Builder(channel)
    for batch in source_rows(session, channel, skus):
        stores = _stores(session, channel, batch) if with_stores else {}
        items = [builder.item(row, stores) for row in batch]
        yield [item for item in items if item is not None]


def store_stock(session: Session, channel: Channel, skus: Sequence[str]) -> dict[str, list[LocationShare]]:
    """Each SKU's share at each of the channel's stores (for the local inventory feed)."""
    return inventory.stock_by_location(session, policy=channel.policy, skus=skus, type="store")


class SourceRow(NamedTuple):
    """The columns of a channel's source query, by name. Rows come from the driver as plain tuples in this order
    (reading them is cheap, and a feed reads millions); JSON columns come as their text."""

    sku: str
    variant_id: str
    product_id: str
    gtin: str | None
    mpn: str | None
    options: str | None
    weight_grams: int | None
    title: str
    description: str | None
    brand: str | None
    category: str | None
    attributes: str | None
    media: str | None
    listing_id: str | None
    listing_title: str | None
    listing_description: str | None
    listing_category: str | None
    listing_attributes: str | None
    listing_excluded: bool
    cost_amount: int | None
    cost_currency: str | None
    amount: int | None
    compare_at_amount: int | None
    available: int | None


_VARIANT_FIELDS = SourceRow._fields[:-3]
_JSON_FIELDS = frozenset({"options", "attributes", "media", "listing_attributes"})
_COLUMN = {name: index for index, name in enumerate(SourceRow._fields)}
_PRODUCT_ID = _COLUMN["product_id"]
_OPTIONS = _COLUMN["options"]


def source_statement(session: Session, channel: Channel, skus: Sequence[str] | None = None) -> Select[Any]:
    """The one query behind a channel's items: variants with product, listing, price and channel stock, by SKU,
    in the columns of ``SourceRow``."""
    dialect = session.get_bind().dialect.name
    variants = catalog.feed_variants(channel_code=channel.code, dialect=dialect)
    _currency, prices = pricing.feed_prices(session, price_list_code=channel.price_list, skus=skus)
    stock = inventory.feed_stock(channel.policy, skus=skus)
    statement = (
        select(*[cast(variants.c[name], Text) if name in _JSON_FIELDS else variants.c[name]
                 for name in _VARIANT_FIELDS], prices.c.amount, prices.c.compare_at_amount, stock.c.available)
        .outerjoin(prices, prices.c.sku == variants.c.sku)
        .outerjoin(stock, stock.c.sku == variants.c.sku)
        .order_by(in_code_point_order(variants.c.sku, dialect))
    )
    return statement if skus is None else statement.where(variants.c.sku.in_(skus))


def source_rows(session: Session, channel: Channel, skus: Sequence[str] | None = None
                ) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``source_statement`` as plain tuples in the order of ``SourceRow``, ``BATCH`` at a time."""
    return row_batches(session, source_statement(session, channel, skus), size=BATCH)


def _stores(session: Session, channel: Channel, batch: Sequence[tuple[Any, ...]]) -> dict[str, tuple[str, ...]]:
    return inventory.pickup_locations(session, policy=channel.policy, skus=[row[0] for row in batch])


class _Template:
    """A title or link template, parsed once into a format string and where each placeholder's value comes from:
    a source column, a key of the options or product attributes, or the channel's code."""

    def __init__(self, text: str, *, channel_code: str, for_links: bool, texts: JsonTexts) -> None:
        parts = list(Formatter().parse(text))
        self.format = "".join(literal.replace("{", "{{").replace("}", "}}") + ("{}" if name is not None else "")
                              for literal, name, _spec, _conversion in parts)
        self.fields = [_placeholder(name) for _literal, name, _spec, _conversion in parts if name is not None]
        self.channel_code = channel_code
        self.for_links = for_links
        self.json = texts

    def render(self, row: tuple[Any, ...]) -> str:
        """The text for one source row; missing values are empty, and a link's values are URL-encoded."""
        values = []
        for column, key in self.fields:
            if key is None:
                value = row[column] or "" if column >= 0 else self.channel_code
            elif column == _OPTIONS:
                value = str(self.json[row[column]].get(key, ""))
            else:
                value = _texts(self.json[row[column]]).get(key, "")
            values.append(_url_part(value) if self.for_links else value)
        return self.format.format(*values)


def _placeholder(name: str) -> tuple[int, str | None]:
    """The source column a placeholder (``sku``, ``options[colour]``, ...) reads (-1: the channel's code) and the
    key it reads in a JSON column."""
    base, bracket, rest = name.partition("[")
    return (-1 if base == "channel" else _COLUMN[base]), (rest[:-1] if bracket else None)


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def _url_part(value: str) -> str:
    """A value URL-encoded for a link (what ``quote(value, safe="")`` gives, without its cost for plain values)."""
    if not value or (value.isascii() and value.isalnum()) or _URL_SAFE.fullmatch(value):
        return value
    return quote(value, safe="")


class _Product(NamedTuple):
    """What a channel's items take from their product, worked out once per product."""

    excluded: bool
    description: str
    brand: str | None
    category: str | None
    mapped_category: str | None
    image_link: str | None
    additional_image_links: list[str]
    attributes: dict[str, str]


class _Builder:
    """Turns the source rows of one channel into feed items, applying its templates, mappings and exclusions.

    The product's columns are equal in every row of its variants, so what is made of them is made once per product
    (a bounded memory), as are the attributes of each distinct JSON text."""

    def __init__(self, channel: Channel) -> None:
        settings = channel.settings
        self.currency = channel.currency
        self.allow_backorder = channel.allow_backorder
        self.json = JsonTexts()
        self.title_template = (_Template(settings.title_template, channel_code=channel.code, for_links=False,
                                         texts=self.json) if settings.title_template else None)
        self.link_template = _Template(settings.link_template, channel_code=channel.code, for_links=True,
                                       texts=self.json)
        self.image_base = settings.image_base.rstrip("/") if settings.image_base else None
        self.attribute_names = {**ATTRIBUTE_SYNONYMS, **{name: name for name in VARIANT_ATTRIBUTES},
                                **{key.casefold(): value for key, value in settings.attribute_map.items()}}
        self.feed_names: dict[str, str | None] = {}
        self.category_map = settings.category_map
        exclusions = settings.exclusions
        self.excluded_skus = frozenset(exclusions.skus)
        self.excluded_brands = frozenset(brand.casefold() for brand in exclusions.brands)
        self.excluded_categories = tuple(exclusions.categories)
        self.drop_out_of_stock = exclusions.out_of_stock
        self.below_amount = exclusions.below_amount
        self.min_margin_percent = exclusions.min_margin_percent
        self.cap = channel.policy.max_exposed
        self.products: dict[str, _Product] = {}
        self.mapped: dict[str, dict[str, str]] = {}

    def item(self, row: tuple[Any, ...], stores: Mapping[str, Sequence[str]]) -> FeedItem | None:
        """The feed item of one source row (with the pickup stores of its SKU, if wanted), or None when the
        channel's exclusions leave it out."""
        (sku, _variant_id, product_id, gtin, mpn, options, weight_grams, title, _description, _brand, _category,
         _attributes, _media, listing_id, listing_title, listing_description, listing_category, listing_attributes,
         listing_excluded, cost_amount, cost_currency, amount, compare_at_amount, available) = row
        product = self.products.get(product_id)
        if product is None:
            product = self._product(row)
        if listing_excluded or product.excluded or sku in self.excluded_skus:
            return None
        quantity = available or 0
        if self.cap is not None and quantity > self.cap:
            quantity = self.cap
        if quantity == 0 and self.drop_out_of_stock and not self.allow_backorder:
            return None
        if self.below_amount is not None and (amount is None or amount < self.below_amount):
            return None
        if (self.min_margin_percent is not None and amount and cost_amount is not None
                and cost_currency == self.currency
                and (amount - cost_amount) * 100 < self.min_margin_percent * amount):
            return None
        # Product attributes, then options, then the listing's own: later ones win.
        attributes = {**product.attributes, **self._mapped(options)}
        if listing_attributes:
            attributes.update(self._mapped(listing_attributes))
        on_sale = compare_at_amount is not None
        return FeedItem(  # positionally, in the order of its fields: a feed builds millions

            sku, product_id,
            listing_title or _one_line(self.title_template.render(row)) if self.title_template
            else listing_title or title,
            listing_description or product.description, self.link_template.render(row), self.currency,
            compare_at_amount if on_sale else amount, amount if on_sale else None,
            "in_stock" if quantity > 0 else "backorder" if self.allow_backorder else "out_of_stock",
            quantity, product.brand, gtin, mpn, "new", product.category,
            listing_category or product.mapped_category, product.image_link, list(product.additional_image_links),
            attributes, weight_grams, listing_id, tuple(stores.get(sku, ())),
        )

    def _product(self, row: tuple[Any, ...]) -> _Product:
        product_id, description, brand, category, attributes, media = (
            row[_PRODUCT_ID], row[_COLUMN["description"]], row[_COLUMN["brand"]], row[_COLUMN["category"]],
            row[_COLUMN["attributes"]], row[_COLUMN["media"]])
        urls = [url for _position, url in sorted(json.loads(media), key=itemgetter(0))] if media else []
        images = [self._image(url) for url in urls] if self.image_base else urls
        if len(self.products) >= REMEMBERED:
            self.products.clear()
        product = self.products[product_id] = _Product(
            excluded=self._excluded(brand, category), description=description or "", brand=brand,
            category=category, mapped_category=self.category_map.get(category or ""),
            image_link=images[0] if images else None, additional_image_links=images[1:11],
            attributes=self._mapped(attributes))
        return product

    def _excluded(self, brand: str | None, category: str | None) -> bool:
        if brand and brand.casefold() in self.excluded_brands:
            return True
        category = category or ""
        return any(category == name or category.startswith(name + " > ") for name in self.excluded_categories)

    def _mapped(self, text: str | None) -> dict[str, str]:
        """The channel's variant attributes in one JSON object of values (product attributes, options or the
        listing's), by their feed names."""
        if not text:
            return {}
        found = self.mapped.get(text)
        if found is None:
            if len(self.mapped) >= REMEMBERED:
                self.mapped.clear()
            found = self.mapped[text] = self._feed_attributes(self.json[text])
        return found

    def _feed_attributes(self, values: Mapping[str, Any]) -> dict[str, str]:
        found: dict[str, str] = {}
        for name, value in values.items():
            feed_name = self.feed_names.get(name, "")
            if feed_name == "":
                feed_name = self.feed_names[name] = self.attribute_names.get(name.casefold())
            if feed_name and value and isinstance(value, str | int | float) and not isinstance(value, bool):
                found[feed_name] = str(value)
        return found

    def _image(self, url: str) -> str:
        """The image served from the channel's ``image_base`` (its CDN) instead of the host it is stored on."""
        parts = urlsplit(url)
        return f"{self.image_base}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def _texts(values: Mapping[str, Any] | None) -> dict[str, str]:
    """Attribute values that are text (numbers written out); lists and objects have no place in a feed cell."""
    if not values:
        return {}
    return {name: str(value) for name, value in values.items()
            if isinstance(value, str | int | float) and not isinstance(value, bool)}


def _one_line(text: str) -> str:
    """A built title without the gaps and dangling separators that empty placeholders leave."""
    return " ".join(text.split()).strip(" -–|,/")
