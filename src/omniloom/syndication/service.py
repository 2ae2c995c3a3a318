"""Each channel's copy of the one catalog: its items, built from catalog, price list and stock in one streamed query.

A feed never holds the catalog in memory: the rows come from the database in batches (a server-side cursor on
PostgreSQL) and each batch is enriched with its media (and, when asked, its stock per store) in one query more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from string import Formatter
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from sqlalchemy import Select, select
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
    """``feed_items`` of a channel already read, a batch at a time (each batch costs one query more)."""
    builder = _Builder(channel)
    for batch in _batches(session, source_statement(session, channel, skus)):
        media = catalog.media_of_products(session, {row.product_id for row in batch})
        stores = _stores(session, channel, batch) if with_stores else {}
        items = [builder.item(row, media.get(row.product_id, ()), stores.get(row.sku, ())) for row in batch]
        yield [item for item in items if item is not None]


def store_stock(session: Session, channel: Channel, skus: Sequence[str]) -> dict[str, list[LocationShare]]:
    """Each SKU's share at each of the channel's stores (for the local inventory feed)."""
    return inventory.stock_by_location(session, policy=channel.policy, skus=skus, type="store")


class SourceRow(NamedTuple):
    """One row of a channel's source query (a plain tuple: reading its fields is cheap, and a feed reads millions)."""

    sku: str
    variant_id: str
    product_id: str
    gtin: str | None
    mpn: str | None
    options: dict[str, str] | None
    weight_grams: int | None
    title: str
    description: str | None
    brand: str | None
    category: str | None
    attributes: dict[str, Any] | None
    listing_id: str | None
    listing_title: str | None
    listing_description: str | None
    listing_category: str | None
    listing_attributes: dict[str, Any] | None
    listing_excluded: bool
    amount: int | None
    compare_at_amount: int | None
    available: int | None


_VARIANT_FIELDS = SourceRow._fields[:-3]


def source_statement(session: Session, channel: Channel, skus: Sequence[str] | None = None) -> Select[Any]:
    """The one query behind a channel's items: variants with product, listing, price and channel stock, by SKU,
    in the columns of ``SourceRow``."""
    variants = catalog.feed_variants(channel_code=channel.code)
    _currency, prices = pricing.feed_prices(session, price_list_code=channel.price_list, skus=skus)
    stock = inventory.feed_stock(channel.policy, skus=skus)
    statement = (
        select(*[variants.c[name] for name in _VARIANT_FIELDS], prices.c.amount, prices.c.compare_at_amount,
               stock.c.available)
        .outerjoin(prices, prices.c.sku == variants.c.sku)
        .outerjoin(stock, stock.c.sku == variants.c.sku)
        .order_by(in_code_point_order(variants.c.sku, session.get_bind().dialect.name))
    )
    return statement if skus is None else statement.where(variants.c.sku.in_(skus))


def _batches(session: Session, statement: Select[Any]) -> Iterator[list[SourceRow]]:
    rows = iter(session.execute(statement, execution_options={"yield_per": BATCH}))
    make = SourceRow._make
    while batch := [make(row) for row in islice(rows, BATCH)]:
        yield batch


def _stores(session: Session, channel: Channel, batch: Sequence[SourceRow]) -> dict[str, tuple[str, ...]]:
    return inventory.pickup_locations(session, policy=channel.policy, skus=[row.sku for row in batch])


class _Template:
    """A title or link template, parsed once: literal text and the row values its placeholders stand for."""

    def __init__(self, text: str, *, channel_code: str, for_links: bool) -> None:
        self.parts = [(literal, _placeholder(name, channel_code) if name is not None else None)
                      for literal, name, _spec, _conversion in Formatter().parse(text)]
        self.for_links = for_links

    def render(self, row: Any) -> str:
        text = []
        for literal, value_of in self.parts:
            text.append(literal)
            if value_of is not None:
                value = value_of(row)
                text.append(quote(value, safe="") if self.for_links and value else value)
        return "".join(text)


def _placeholder(name: str, channel_code: str) -> Callable[[Any], str]:
    """What a placeholder (``sku``, ``options[colour]``, ...) reads from a source row; missing values are empty."""
    base, _, rest = name.partition("[")
    key = rest[:-1]
    if base == "options":
        return lambda row: str((row.options or {}).get(key, ""))
    if base == "attributes":
        return lambda row: _texts(row.attributes).get(key, "")
    if base == "channel":
        return lambda row: channel_code
    return lambda row: getattr(row, base) or ""


class _Builder:
    """Turns the source rows of one channel into feed items, applying its templates, mappings and exclusions."""

    def __init__(self, channel: Channel) -> None:
        settings = channel.settings
        self.channel = channel
        self.title_template = (_Template(settings.title_template, channel_code=channel.code, for_links=False)
                               if settings.title_template else None)
        self.link_template = _Template(settings.link_template, channel_code=channel.code, for_links=True)
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
        self.excludes_by_name = bool(self.excluded_skus or self.excluded_brands or self.excluded_categories)
        self.cap = channel.policy.max_exposed

    def item(self, row: SourceRow, media: Sequence[str], pickup_stores: Sequence[str]) -> FeedItem | None:
        """The feed item of one source row, or None when the channel's exclusions leave it out."""
        if row.listing_excluded or (self.excludes_by_name and self._excluded(row)):
            return None
        quantity = row.available or 0
        if self.cap is not None and quantity > self.cap:
            quantity = self.cap
        if quantity == 0 and self.drop_out_of_stock and not self.channel.allow_backorder:
            return None
        if self.below_amount is not None and (row.amount is None or row.amount < self.below_amount):
            return None
        images = [self._image(url) for url in media] if self.image_base else media
        category = row.listing_category or self.category_map.get(row.category or "")
        return FeedItem(
            id=row.sku, item_group_id=row.product_id, listing_id=row.listing_id,
            title=_one_line(self.title_template.render(row)) if self.title_template and not row.listing_title
            else (row.listing_title or row.title),
            description=row.listing_description or row.description or "",
            link=self.link_template.render(row),
            currency=self.channel.currency,
            price=row.compare_at_amount if row.compare_at_amount is not None else row.amount,
            sale_price=row.amount if row.compare_at_amount is not None else None,
            availability="in_stock" if quantity > 0 else "backorder" if self.channel.allow_backorder
            else "out_of_stock",
            quantity=quantity, brand=row.brand, gtin=row.gtin, mpn=row.mpn, product_type=row.category,
            google_product_category=category, image_link=images[0] if images else None,
            additional_image_links=list(images[1:11]), attributes=self._attributes(row),
            shipping_weight_grams=row.weight_grams, pickup_stores=tuple(pickup_stores),
        )

    def _excluded(self, row: SourceRow) -> bool:
        if row.sku in self.excluded_skus:
            return True
        if row.brand and row.brand.casefold() in self.excluded_brands:
            return True
        category = row.category or ""
        return any(category == name or category.startswith(name + " > ") for name in self.excluded_categories)

    def _attributes(self, row: SourceRow) -> dict[str, str]:
        """The channel's variant attributes: product attributes, then options, then the listing's own."""
        found: dict[str, str] = {}
        for source in (row.attributes, row.options, row.listing_attributes):
            if not source:
                continue
            for name, value in source.items():
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
