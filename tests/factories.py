"""Typed factories building catalog, pricing and channel data through the public services."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import func, select, table
from sqlalchemy.orm import Session

from omniloom.catalog import service as catalog
from omniloom.catalog.gtin import check_digit
from omniloom.catalog.models import Product
from omniloom.catalog.schemas import ProductCreate, VariantCreate
from omniloom.channels import service as channels
from omniloom.channels.models import Channel
from omniloom.channels.schemas import ChannelCreate, ChannelType
from omniloom.platform import outbox
from omniloom.platform.auth import create_api_key
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.money import Money
from omniloom.platform.outbox import OutboxEvent
from omniloom.pricing import service as pricing
from omniloom.pricing.models import PriceList
from omniloom.pricing.schemas import PriceListCreate


def valid_gtin13(body12: str) -> str:
    """The GTIN-13 made of ``body12`` and its GS1 check digit."""
    assert len(body12) == 12 and body12.isdigit(), body12
    return body12 + str(check_digit(body12))


def gtin_for(sku: str) -> str:
    """A valid, unrestricted GTIN-13 derived from a SKU (prefix 40, so distinct SKUs get distinct GTINs)."""
    digits = str(int(hashlib.sha256(sku.encode()).hexdigest(), 16))[:10]
    return valid_gtin13("40" + digits)


def make_price_list(session: Session, *, code: str = "WEB-EUR", currency: str = "EUR", clock: Clock) -> PriceList:
    """A price list with this code and currency."""
    return pricing.create_price_list(session, PriceListCreate(code=code, currency=currency), clock=clock)


def make_channel(session: Session, *, code: str = "web", type: ChannelType = "web", currency: str = "EUR",
                 price_list: str | None = None, location_codes: Sequence[str] = (), safety_stock: int = 0,
                 max_exposed: int | None = None, allow_backorder: bool = False, clock: Clock) -> Channel:
    """A channel; without ``price_list`` a list ``<CODE>-<CUR>`` is created for it."""
    if price_list is None:
        price_list = make_price_list(session, code=f"{code.upper()}-{currency}", currency=currency, clock=clock).code
    data = ChannelCreate(code=code, name=f"{code} channel", type=type, currency=currency, price_list=price_list,
                         location_codes=list(location_codes), safety_stock=safety_stock, max_exposed=max_exposed,
                         allow_backorder=allow_backorder)
    return channels.create_channel(session, data, clock=clock)


def make_product(session: Session, *, skus: Sequence[str] = ("SKU-1",), price: int = 1999, currency: str = "EUR",
                 brand: str = "Loom", title: str | None = None, clock: Clock) -> Product:
    """A product with one variant per SKU (valid GTINs, a ``size`` option), priced on the default list."""
    variants = [
        VariantCreate(sku=sku, gtin=gtin_for(sku), options={"size": f"S{index}"},
                      price=Money(amount=price, currency=currency))
        for index, sku in enumerate(skus)
    ]
    data = ProductCreate(title=title or f"{brand} product {skus[0]}", brand=brand, variants=variants)
    product = catalog.create_product(session, data, clock=clock)
    pricing.set_default_prices(session, data.variants, clock=clock)
    return product


CATALOG_TABLES = ("products", "product_media", "variants", "channel_listings", "price_lists", "prices", "channels",
                  "outbox_events")


def row_counts(session: Session, tables: Sequence[str] = CATALOG_TABLES) -> dict[str, int]:
    """How many rows each table holds: compare before and after a refused request."""
    return {name: session.scalar(select(func.count()).select_from(table(name))) or 0 for name in tables}


def recorded_events(session: Session, *, types: Sequence[str] | None = None) -> list[OutboxEvent]:
    """Every event recorded so far (numbered first, as the worker would), oldest first."""
    outbox.assign_positions(session)
    return outbox.changes_since(session, cursor=0, limit=10_000, types=types)


def admin_headers(database: Database, *, clock: Clock) -> dict[str, str]:
    """Request headers carrying a new admin key (for databases outside the per-test fixtures)."""
    with database.write() as session:
        secret = create_api_key(session, role="admin", name="test admin", clock=clock)[1]
    return {"Authorization": f"Bearer {secret}"}
