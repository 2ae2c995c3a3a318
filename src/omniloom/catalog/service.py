"""The catalog: products, variants and each channel's listing of a variant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, Subquery, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from omniloom.catalog.errors import GtinTaken, ListingIdTaken, ProductNotFound, SkuTaken, VariantNotFound
from omniloom.catalog.events import ListingChanged, ProductCreated, ProductUpdated, VariantCreated, VariantUpdated
from omniloom.catalog.gtin import equivalent_forms
from omniloom.catalog.models import ChannelListing, Product, ProductMedia, Variant
from omniloom.catalog.schemas import (
    ListingUpdate,
    MediaIn,
    ProductCreate,
    ProductUpdate,
    VariantCreate,
    VariantUpdate,
)
from omniloom.platform.clock import Clock
from omniloom.platform.errors import Conflict, FieldError, InvalidInput
from omniloom.platform.ids import new_id
from omniloom.platform.money import Money
from omniloom.platform.outbox import record
from omniloom.platform.pagination import paginate

LOOKUP_CHUNK = 500
LISTING_FIELDS = ("listing_id", "title", "description", "category", "attributes", "excluded")


def get_product(session: Session, product_id: str) -> Product:
    """The product with its media and variants; raises ProductNotFound."""
    product = session.scalars(_products().where(Product.id == product_id)).one_or_none()
    if product is None:
        raise ProductNotFound(product_id)
    return product


def list_products(session: Session, *, limit: int, cursor: str | None = None, q: str | None = None,
                  brand: str | None = None, category: str | None = None, status: str | None = None
                  ) -> tuple[Sequence[Product], str | None]:
    """Products in creation order; ``q`` matches title, brand or SKU case-insensitively."""
    statement = _products()
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matching_skus = select(Variant.product_id).where(Variant.sku.ilike(pattern, escape="\\"))
        statement = statement.where(or_(Product.title.ilike(pattern, escape="\\"),
                                        Product.brand.ilike(pattern, escape="\\"), Product.id.in_(matching_skus)))
    for column, value in ((Product.brand, brand), (Product.category, category), (Product.status, status)):
        if value is not None:
            statement = statement.where(column == value)
    return paginate(session, statement, key=Product.id, limit=limit, cursor=cursor)


def create_product(session: Session, data: ProductCreate, *, clock: Clock) -> Product:
    """Create a product with its variants (prices are the pricing module's business)."""
    labels = [f"variants[{index}]" for index in range(len(data.variants))]
    _check_new_variants(session, data.variants, labels=labels, existing_option_names=None)
    now = clock.now()
    product = Product(
        id=new_id("prod"), title=data.title, description=data.description, brand=data.brand,
        category=data.category, attributes=dict(data.attributes), status="active", created_at=now, updated_at=now,
        media=_media_rows(data.media),
        variants=[_variant_row(variant, position, now) for position, variant in enumerate(data.variants)],
    )
    session.add(product)
    _flush_new_variants(session)
    record(session, ProductCreated(product_id=product.id, title=product.title, brand=product.brand,
                                   category=product.category, skus=[v.sku for v in product.variants]), clock=clock)
    _record_variants_created(session, product.variants, clock=clock)
    return product


def add_variant(session: Session, product_id: str, data: VariantCreate, *, clock: Clock) -> Variant:
    """Add one variant to an existing product; its option names must match the other variants'."""
    product = get_product(session, product_id)
    existing_names = {name for variant in product.variants for name in variant.options} if product.variants else None
    _check_new_variants(session, [data], labels=[""], existing_option_names=existing_names)
    now = clock.now()
    position = max((variant.position for variant in product.variants), default=-1) + 1
    variant = _variant_row(data, position, now)
    product.variants.append(variant)
    product.updated_at = now
    _flush_new_variants(session)
    _record_variants_created(session, [variant], clock=clock)
    return variant


def update_product(session: Session, product_id: str, data: ProductUpdate, *, clock: Clock) -> Product:
    """Change the fields sent in ``data``; records ``product.updated`` when anything changed."""
    product = get_product(session, product_id)
    changes: dict[str, Any] = {}
    values = data.model_dump(mode="json", include=data.model_fields_set)
    for name, value in values.items():
        if name == "media":
            if [{"url": m.url, "alt": m.alt} for m in product.media] != value:
                product.media = _media_rows(data.media or [])
                changes[name] = value
        elif getattr(product, name) != value:
            setattr(product, name, value)
            changes[name] = value
    if changes:
        product.updated_at = clock.now()
        record(session, ProductUpdated(product_id=product.id, skus=[v.sku for v in product.variants],
                                       changes=changes), clock=clock)
    return product


def update_variant(session: Session, sku: str, data: VariantUpdate, *, clock: Clock) -> Variant:
    """Change the fields sent in ``data`` (null clears one); records ``variant.updated`` naming the fields that
    changed (names only: events reach channels, which may not see costs)."""
    variant = get_variant(session, sku)
    changed: list[str] = []
    for name in sorted(data.model_fields_set):
        columns = _cost_columns(data.cost) if name == "cost" else {name: getattr(data, name)}
        if any(getattr(variant, column) != value for column, value in columns.items()):
            changed.append(name)
            for column, value in columns.items():
                setattr(variant, column, value)
    if changed:
        variant.updated_at = clock.now()
        record(session, VariantUpdated(sku=variant.sku, product_id=variant.product_id, fields=changed), clock=clock)
    return variant


def get_variant(session: Session, sku: str) -> Variant:
    """The variant with this SKU; raises VariantNotFound."""
    variant = session.scalars(select(Variant).where(Variant.sku == sku)).one_or_none()
    if variant is None:
        raise VariantNotFound(sku)
    return variant


def missing_skus(session: Session, skus: Iterable[str]) -> set[str]:
    """The SKUs among ``skus`` that no variant has."""
    wanted = set(skus)
    found: set[str] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start:start + LOOKUP_CHUNK]
        found.update(session.scalars(select(Variant.sku).where(Variant.sku.in_(chunk))))
    return wanted - found


def set_listing(session: Session, *, channel_code: str, sku: str, data: ListingUpdate, clock: Clock
                ) -> ChannelListing:
    """Replace a channel's listing of a SKU (its listing id and overrides); records ``listing.changed``."""
    get_variant(session, sku)
    if data.listing_id is not None:
        _check_listing_id_free(session, channel_code=channel_code, listing_id=data.listing_id, sku=sku)
    listing = session.get(ChannelListing, (channel_code, sku))
    created = listing is None
    if listing is None:
        listing = ChannelListing(channel_code=channel_code, sku=sku, attributes={}, excluded=False)
        session.add(listing)
    values = data.model_dump(mode="json")
    changes = {name: values[name] for name in LISTING_FIELDS if created or getattr(listing, name) != values[name]}
    for name, value in changes.items():
        setattr(listing, name, value)
    if changes:
        listing.updated_at = clock.now()
        _flush_listing(session, channel_code=channel_code, sku=sku, listing_id=data.listing_id)
        record(session, ListingChanged(channel=channel_code, sku=sku, listing_id=listing.listing_id,
                                       excluded=listing.excluded, changes=changes), clock=clock)
    return listing


def listing_for(session: Session, *, channel_code: str, sku: str) -> ChannelListing | None:
    """The channel's listing of a SKU, or None when it has none."""
    return session.get(ChannelListing, (channel_code, sku))


def sku_for_listing(session: Session, *, channel_code: str, listing_id: str) -> str | None:
    """The SKU a channel's listing id points at, or None."""
    return session.scalar(select(ChannelListing.sku).where(
        ChannelListing.channel_code == channel_code, ChannelListing.listing_id == listing_id))


def list_listings(session: Session, *, channel_code: str, limit: int, cursor: str | None = None
                  ) -> tuple[Sequence[ChannelListing], str | None]:
    """A channel's listings ordered by SKU, one page after ``cursor``."""
    statement = select(ChannelListing).where(ChannelListing.channel_code == channel_code)
    return paginate(session, statement, key=ChannelListing.sku, limit=limit, cursor=cursor)


def listings_for_sku(session: Session, sku: str) -> list[ChannelListing]:
    """Every channel's listing of a SKU, ordered by channel code."""
    return list(session.scalars(
        select(ChannelListing).where(ChannelListing.sku == sku).order_by(ChannelListing.channel_code)))


def feed_variants(*, channel_code: str, dialect: str) -> Subquery:
    """Every active variant with its product's facts, its product's media, the channel's listing overrides and its
    unit cost (one row per variant, columns named for what they are), for a feed query to join prices and stock to
    by ``sku``.

    ``media`` is a JSON array of ``[position, url]`` pairs (in no particular order; null without media): SQLite
    before 3.44 cannot order inside an aggregate. It is looked up per variant, so that a query of a few SKUs reads
    only their products' media."""
    listing = ChannelListing.__table__.alias("listing")
    pair, pairs = ((func.json_build_array, func.json_agg) if dialect == "postgresql"
                   else (func.json_array, func.json_group_array))
    media = (select(pairs(pair(ProductMedia.position, ProductMedia.url)))
             .where(ProductMedia.product_id == Variant.product_id).scalar_subquery())
    return (
        select(Variant.sku, Variant.id.label("variant_id"), Variant.product_id, Variant.gtin, Variant.mpn,
               Variant.options, Variant.weight_grams, Product.title, Product.description, Product.brand,
               Product.category, Product.attributes, media.label("media"), listing.c.listing_id,
               listing.c.title.label("listing_title"), listing.c.description.label("listing_description"),
               listing.c.category.label("listing_category"), listing.c.attributes.label("listing_attributes"),
               func.coalesce(listing.c.excluded, False).label("listing_excluded"), Variant.cost_amount,
               Variant.cost_currency)
        .join_from(Variant, Product, Product.id == Variant.product_id)
        .outerjoin(listing, and_(listing.c.channel_code == channel_code, listing.c.sku == Variant.sku))
        .where(Product.status == "active")
        .subquery("feed_variants")
    )


def active_variant_count(session: Session) -> int:
    """How many variants of active products there are (what a full feed reads)."""
    return session.scalar(select(func.count()).select_from(Variant).join(Product, Product.id == Variant.product_id)
                          .where(Product.status == "active")) or 0


def _products() -> Select[Product]:
    return select(Product).options(selectinload(Product.media), selectinload(Product.variants))


def _media_rows(media: Sequence[MediaIn]) -> list[ProductMedia]:
    return [ProductMedia(position=position, url=item.url, alt=item.alt) for position, item in enumerate(media)]


def _variant_row(data: VariantCreate, position: int, now: Any) -> Variant:
    return Variant(id=new_id("var"), sku=data.sku, gtin=data.gtin, mpn=data.mpn, options=dict(data.options),
                   weight_grams=data.weight_grams, **_cost_columns(data.cost), position=position, created_at=now,
                   updated_at=now)


def _cost_columns(cost: Money | None) -> dict[str, Any]:
    """A variant's cost as its two columns (both null without a cost)."""
    return {"cost_amount": cost.amount if cost else None, "cost_currency": cost.currency if cost else None}


def _record_variants_created(session: Session, variants: Iterable[Variant], *, clock: Clock) -> None:
    for variant in variants:
        record(session, VariantCreated(sku=variant.sku, product_id=variant.product_id, gtin=variant.gtin,
                                       options=variant.options), clock=clock)


def _field(label: str, name: str) -> str:
    return f"{label}.{name}" if label else name


def _check_new_variants(session: Session, variants: Sequence[VariantCreate], *, labels: Sequence[str],
                        existing_option_names: set[str] | None) -> None:
    """Refuse variants whose options differ from their siblings', or whose SKU or GTIN is taken."""
    _check_option_names(variants, labels=labels, expected=existing_option_names)
    _check_skus_free(session, variants, labels=labels)
    _check_gtins_free(session, variants, labels=labels)


def _check_option_names(variants: Sequence[VariantCreate], *, labels: Sequence[str],
                        expected: set[str] | None) -> None:
    names = expected if expected is not None else {name for variant in variants for name in variant.options}
    errors: list[FieldError] = []
    for label, variant in zip(labels, variants, strict=True):
        field = _field(label, "options")
        errors += [FieldError(field, f"lacks option '{name}' that the other variants have")
                   for name in sorted(names - variant.options.keys())]
        errors += [FieldError(field, f"has option '{name}' that the other variants lack")
                   for name in sorted(variant.options.keys() - names)]
    if errors:
        raise InvalidInput.fields(errors)


def _check_skus_free(session: Session, variants: Sequence[VariantCreate], *, labels: Sequence[str]) -> None:
    first_seen: dict[str, str] = {}
    for label, variant in zip(labels, variants, strict=True):
        if variant.sku in first_seen:
            raise SkuTaken(variant.sku, field=_field(label, "sku"),
                           reason=f"is repeated in this request (also {first_seen[variant.sku]})")
        first_seen[variant.sku] = _field(label, "sku")
    taken = set(session.scalars(select(Variant.sku).where(Variant.sku.in_(first_seen))))
    for label, variant in zip(labels, variants, strict=True):
        if variant.sku in taken:
            raise SkuTaken(variant.sku, field=_field(label, "sku"))


def _check_gtins_free(session: Session, variants: Sequence[VariantCreate], *, labels: Sequence[str]) -> None:
    """Refuse a GTIN repeated in the request or held by a variant already, in any of its equivalent spellings."""
    first_seen: dict[str, str] = {}
    for label, variant in zip(labels, variants, strict=True):
        if variant.gtin is None:
            continue
        forms = equivalent_forms(variant.gtin)
        repeated = next((first_seen[form] for form in forms if form in first_seen), None)
        if repeated is not None:
            raise GtinTaken(variant.gtin, field=_field(label, "gtin"), reason=f"is repeated in this request "
                            f"(also {repeated})")
        first_seen.update(dict.fromkeys(forms, _field(label, "gtin")))
    taken = set(session.scalars(select(Variant.gtin).where(Variant.gtin.in_(first_seen))))
    for label, variant in zip(labels, variants, strict=True):
        if variant.gtin is not None and taken.intersection(equivalent_forms(variant.gtin)):
            raise GtinTaken(variant.gtin, field=_field(label, "gtin"))


def _flush_new_variants(session: Session) -> None:
    """Flush; a SKU or GTIN taken by a concurrent writer since the checks is a conflict, not a crash."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("a SKU or GTIN in this request was just taken by another request; retry") from None


def _check_listing_id_free(session: Session, *, channel_code: str, listing_id: str, sku: str) -> None:
    holder = sku_for_listing(session, channel_code=channel_code, listing_id=listing_id)
    if holder is not None and holder != sku:
        raise ListingIdTaken(channel_code=channel_code, listing_id=listing_id, sku=holder)


def _flush_listing(session: Session, *, channel_code: str, sku: str, listing_id: str | None) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"the listing of SKU '{sku}' on channel '{channel_code}' (listing id '{listing_id}') "
                       "was changed by another request at the same time; retry") from None
