"""Request and response bodies of the catalog."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from omniloom.catalog.gtin import validate_product_gtin
from omniloom.catalog.models import ChannelListing, Product, Variant
from omniloom.platform.money import MinorUnits, Money

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$"
Sku = Annotated[str, Field(pattern=SKU_PATTERN, examples=["TEE-RED-M"])]
Gtin = Annotated[str, Field(examples=["4006381333931"]), AfterValidator(validate_product_gtin)]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Description = Annotated[str, Field(max_length=20_000)]
Name = Annotated[str, Field(min_length=1, max_length=300)]
OptionName = Annotated[str, Field(min_length=1, max_length=60)]
OptionValue = Annotated[str, Field(min_length=1, max_length=120)]
AttributeName = Annotated[str, Field(min_length=1, max_length=100)]
Attributes = Annotated[dict[AttributeName, Any], Field(max_length=200)]
ProductStatus = Literal["active", "archived"]
Grams = Annotated[int, Field(ge=0, le=1_000_000_000)]
COST_DESCRIPTION = ("What one unit costs the retailer, for margin rules (a channel's feed may leave out items "
                    "below a margin). Only admin keys see it; others read null.")


def check_web_address(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) address, else raise ValueError."""
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise ValueError("must be an absolute http:// or https:// address")
    return url


class MediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(max_length=2000), AfterValidator(check_web_address)]
    alt: Annotated[str, Field(max_length=500)] | None = None


class VariantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    gtin: Gtin | None = None
    mpn: Annotated[str, Field(min_length=1, max_length=70)] | None = None
    options: Annotated[dict[OptionName, OptionValue], Field(max_length=20)] = Field(default_factory=dict)
    price: Money
    compare_at_amount: MinorUnits | None = None
    weight_grams: Grams | None = None
    cost: Money | None = Field(default=None, description=COST_DESCRIPTION)

    @field_validator("compare_at_amount")
    @classmethod
    def _above_price(cls, value: int | None, info: ValidationInfo) -> int | None:
        price = info.data.get("price")
        if value is not None and price is not None and value <= price.amount:
            raise ValueError(f"must be greater than the price amount ({price.amount})")
        return value


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    brand: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    category: Name | None = None
    media: Annotated[list[MediaIn], Field(max_length=50)] = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)
    variants: Annotated[list[VariantCreate], Field(min_length=1, max_length=500)]


class ProductUpdate(BaseModel):
    """Only the fields sent change; ``media`` and ``attributes`` replace the stored ones."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    brand: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    category: Name | None = None
    media: Annotated[list[MediaIn], Field(max_length=50)] | None = None
    attributes: Attributes | None = None
    status: ProductStatus | None = None

    @field_validator("title", "description", "media", "attributes", "status", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class VariantUpdate(BaseModel):
    """Only the fields sent change; null clears one."""

    model_config = ConfigDict(extra="forbid")

    mpn: Annotated[str, Field(min_length=1, max_length=70)] | None = None
    weight_grams: Grams | None = None
    cost: Money | None = Field(default=None, description=COST_DESCRIPTION)


class ListingUpdate(BaseModel):
    """A channel's overrides for one SKU; a PUT replaces them all (fields left out are cleared)."""

    model_config = ConfigDict(extra="forbid")

    listing_id: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    title: Title | None = None
    description: Description | None = None
    category: Name | None = None
    attributes: Attributes = Field(default_factory=dict)
    excluded: bool = False


class MediaOut(BaseModel):
    url: str
    alt: str | None


class OptionOut(BaseModel):
    """An option of a product with its values in the order the variants use them."""

    name: str
    values: list[str]


class ListedPrice(BaseModel):
    """The price of a SKU on one price list."""

    price_list: str
    amount: int
    currency: str
    compare_at_amount: int | None
    default_list: bool


class VariantOut(BaseModel):
    id: str
    sku: str
    gtin: str | None
    mpn: str | None
    options: dict[str, str]
    weight_grams: int | None
    cost: Money | None = Field(description=COST_DESCRIPTION)
    price: Money | None = Field(description="The price on the default price list (first such list).")
    compare_at_amount: int | None
    prices: list[ListedPrice]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, variant: Variant, prices: Sequence[ListedPrice], *, with_cost: bool) -> VariantOut:
        """``with_cost``: whether the reader may see the variant's cost (admin keys only)."""
        default = next((price for price in prices if price.default_list), None)
        cost = Money(amount=variant.cost_amount, currency=variant.cost_currency) \
            if with_cost and variant.cost_amount is not None and variant.cost_currency else None
        return cls(
            id=variant.id, sku=variant.sku, gtin=variant.gtin, mpn=variant.mpn, options=variant.options,
            weight_grams=variant.weight_grams, cost=cost, prices=list(prices),
            price=Money(amount=default.amount, currency=default.currency) if default else None,
            compare_at_amount=default.compare_at_amount if default else None,
            created_at=variant.created_at, updated_at=variant.updated_at,
        )


class ChannelWarning(BaseModel):
    """A channel's objection to a saved variant: with severity ``error`` the variant stays out of that channel's
    feed until it is fixed; the save itself always succeeds."""

    channel: str
    sku: str
    severity: Literal["error", "warning"]
    attribute: str
    message: str


class ProductOut(BaseModel):
    id: str
    title: str
    description: str
    brand: str | None
    category: str | None
    status: ProductStatus
    attributes: dict[str, Any]
    media: list[MediaOut]
    options: list[OptionOut]
    variants: list[VariantOut]
    created_at: datetime
    updated_at: datetime
    channel_warnings: list[ChannelWarning] = Field(
        default_factory=list, description="In the answer to a save (POST /products, PATCH /products/{id}): what each "
        "active channel with a feed would object to in the variants. Empty elsewhere.")

    @classmethod
    def build(cls, product: Product, prices: Mapping[str, Sequence[ListedPrice]], *, with_cost: bool) -> ProductOut:
        return cls(
            id=product.id, title=product.title, description=product.description, brand=product.brand,
            category=product.category, status=product.status,
            attributes=product.attributes,
            media=[MediaOut(url=item.url, alt=item.alt) for item in product.media],
            options=option_summary(variant.options for variant in product.variants),
            variants=[VariantOut.build(variant, prices.get(variant.sku, ()), with_cost=with_cost)
                      for variant in product.variants],
            created_at=product.created_at, updated_at=product.updated_at,
        )


def option_summary(variant_options: Iterable[Mapping[str, str]]) -> list[OptionOut]:
    """Each option name with its distinct values, both in order of first appearance."""
    values: dict[str, list[str]] = {}
    for options in variant_options:
        for name, value in options.items():
            seen = values.setdefault(name, [])
            if value not in seen:
                seen.append(value)
    return [OptionOut(name=name, values=found) for name, found in values.items()]


class ListingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: str = Field(validation_alias="channel_code")
    sku: str
    listing_id: str | None
    title: str | None
    description: str | None
    category: str | None
    attributes: dict[str, Any]
    excluded: bool
    updated_at: datetime

    @classmethod
    def build(cls, listing: ChannelListing) -> ListingOut:
        return cls.model_validate(listing)


class VariantDetail(VariantOut):
    product_id: str
    product_title: str
    product_status: ProductStatus
    listings: list[ListingOut]
