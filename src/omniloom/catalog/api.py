"""HTTP endpoints of the catalog: products, variants and per-channel listings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from omniloom.catalog import service
from omniloom.catalog.models import Product
from omniloom.catalog.schemas import (
    ChannelWarning,
    ListedPrice,
    ListingOut,
    ListingUpdate,
    ProductCreate,
    ProductOut,
    ProductStatus,
    ProductUpdate,
    VariantCreate,
    VariantDetail,
    VariantOut,
    VariantUpdate,
)
from omniloom.channels import service as channels
from omniloom.platform.auth import Principal
from omniloom.platform.http import (
    DEFAULT_PAGE_LIMIT,
    AdminDep,
    ChannelInPathDep,
    ClockDep,
    CursorQuery,
    DatabaseDep,
    LimitQuery,
    roles,
)
from omniloom.platform.pagination import Page
from omniloom.pricing import service as pricing
from omniloom.syndication import feeds
from omniloom.syndication import service as syndication
from omniloom.syndication.validation import target_for

router = APIRouter(tags=["catalog"])


ReaderDep = Annotated[Principal, roles("admin", "channel", "store", action="read the catalog")]


@router.post("/products", status_code=status.HTTP_201_CREATED, response_model=ProductOut)
def create_product(body: ProductCreate, _: AdminDep, db: DatabaseDep, clock: ClockDep) -> ProductOut:
    """Create a product with its variants; each variant's price goes to its currency's default price list. The
    answer lists what the channels with a feed would object to (``channel_warnings``)."""
    with db.write() as session:
        product = service.create_product(session, body, clock=clock)
        pricing.set_default_prices(session, body.variants, clock=clock)
        return _saved_product_out(session, product)


@router.get("/products", response_model=Page[ProductOut])
def list_products(
    principal: ReaderDep, db: DatabaseDep,
    q: Annotated[str | None, Query(max_length=200, description="Matches title, brand or SKU.")] = None,
    brand: Annotated[str | None, Query(max_length=120)] = None,
    category: Annotated[str | None, Query(max_length=300)] = None,
    status: ProductStatus | None = None,
    limit: LimitQuery = DEFAULT_PAGE_LIMIT, cursor: CursorQuery = None,
) -> Page[ProductOut]:
    """Products in creation order, optionally searched and filtered."""
    with db.read() as session:
        products, next_cursor = service.list_products(session, q=q, brand=brand, category=category,
                                                      status=status, limit=limit, cursor=cursor)
        prices = _listed_prices(session, (variant.sku for product in products for variant in product.variants))
        return Page(items=[ProductOut.build(product, prices, with_cost=principal.is_admin) for product in products],
                    next_cursor=next_cursor)


@router.get("/products/{product_id}", response_model=ProductOut)
def get_product(product_id: str, principal: ReaderDep, db: DatabaseDep) -> ProductOut:
    """One product with its variants, media, options and prices (costs for admin keys only)."""
    with db.read() as session:
        return _product_out(session, service.get_product(session, product_id), with_cost=principal.is_admin)


@router.patch("/products/{product_id}", response_model=ProductOut)
def update_product(product_id: str, body: ProductUpdate, _: AdminDep, db: DatabaseDep,
                   clock: ClockDep) -> ProductOut:
    """Change a product's fields; ``media`` and ``attributes`` replace the stored ones. The answer lists what the
    channels with a feed would object to (``channel_warnings``)."""
    with db.write() as session:
        return _saved_product_out(session, service.update_product(session, product_id, body, clock=clock))


@router.post("/products/{product_id}/variants", status_code=status.HTTP_201_CREATED, response_model=ProductOut)
def add_variant(product_id: str, body: VariantCreate, _: AdminDep, db: DatabaseDep,
                clock: ClockDep) -> ProductOut:
    """Add a variant to a product; answers with the whole product."""
    with db.write() as session:
        service.add_variant(session, product_id, body, clock=clock)
        pricing.set_default_prices(session, [body], clock=clock)
        return _product_out(session, service.get_product(session, product_id), with_cost=True)


@router.get("/variants/{sku:path}", response_model=VariantDetail)
def get_variant(sku: str, principal: ReaderDep, db: DatabaseDep) -> VariantDetail:
    """A variant with its product, its price on every price list and its channel listings."""
    with db.read() as session:
        return _variant_detail(session, sku, principal)


@router.patch("/variants/{sku:path}", response_model=VariantDetail)
def update_variant(sku: str, body: VariantUpdate, principal: AdminDep, db: DatabaseDep,
                   clock: ClockDep) -> VariantDetail:
    """Change a variant's MPN, weight or cost (null clears one); only the fields sent change. The answer is the
    variant as ``GET /variants/{sku}`` gives it."""
    with db.write() as session:
        service.update_variant(session, sku, body, clock=clock)
        return _variant_detail(session, sku, principal)


@router.put("/channels/{code}/listings/{sku:path}", response_model=ListingOut)
def put_listing(code: str, sku: str, body: ListingUpdate, _: ChannelInPathDep, db: DatabaseDep,
                clock: ClockDep) -> ListingOut:
    """Set a channel's listing of a SKU: its listing id there and the fields it overrides."""
    with db.write() as session:
        channels.get_channel(session, code)
        listing = service.set_listing(session, channel_code=code, sku=sku, data=body, clock=clock)
        return ListingOut.build(listing)


@router.get("/channels/{code}/listings", response_model=Page[ListingOut])
def list_listings(code: str, _: ChannelInPathDep, db: DatabaseDep, limit: LimitQuery = DEFAULT_PAGE_LIMIT,
                  cursor: CursorQuery = None) -> Page[ListingOut]:
    """A channel's listings ordered by SKU."""
    with db.read() as session:
        channels.get_channel(session, code)
        listings, next_cursor = service.list_listings(session, channel_code=code, limit=limit, cursor=cursor)
        return Page(items=[ListingOut.build(listing) for listing in listings], next_cursor=next_cursor)


def _listed_prices(session: Session, skus: Iterable[str]) -> dict[str, list[ListedPrice]]:
    return {
        sku: [ListedPrice.model_validate(price.model_dump()) for price in prices]
        for sku, prices in pricing.prices_for_skus(session, skus).items()
    }


def _variant_detail(session: Session, sku: str, principal: Principal) -> VariantDetail:
    variant = service.get_variant(session, sku)
    product = service.get_product(session, variant.product_id)
    listings = service.listings_for_sku(session, sku)
    if principal.kind == "channel":
        listings = [listing for listing in listings if listing.channel_code == principal.subject]
    base = VariantOut.build(variant, _listed_prices(session, [sku]).get(sku, []), with_cost=principal.is_admin)
    return VariantDetail(**base.model_dump(), product_id=product.id, product_title=product.title,
                         product_status=product.status, listings=[ListingOut.build(listing) for listing in listings])


def _product_out(session: Session, product: Product, *, with_cost: bool) -> ProductOut:
    return ProductOut.build(product, _listed_prices(session, (variant.sku for variant in product.variants)),
                            with_cost=with_cost)


def _saved_product_out(session: Session, product: Product) -> ProductOut:
    """The answer to an admin's save, with the channels' warnings."""
    saved = _product_out(session, product, with_cost=True)
    saved.channel_warnings = _channel_warnings(session, [variant.sku for variant in product.variants])
    return saved


def _channel_warnings(session: Session, skus: list[str]) -> list[ChannelWarning]:
    """The problems of these SKUs' feed items on every active channel that has a feed."""
    warnings: list[ChannelWarning] = []
    for code in channels.codes_with_feeds(session):
        channel = syndication.feed_channel(session, code)
        warnings.extend(ChannelWarning(channel=code, sku=problem.sku, severity=problem.severity,
                                       attribute=problem.attribute, message=problem.message)
                        for problem in feeds.feed_issues(session, channel, target=target_for(channel.type),
                                                         skus=skus))
    return warnings
