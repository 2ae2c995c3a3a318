"""Request and response bodies of the channel registry."""

from __future__ import annotations

import string
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from omniloom.platform.money import CurrencyCode

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
ChannelType = Literal["web", "app", "pos", "marketplace", "social", "ads"]
CHANNEL_TYPES: tuple[ChannelType, ...] = ("web", "app", "pos", "marketplace", "social", "ads")

# Placeholders a feed template may use; ``options[...]`` and ``attributes[...]`` take a name in brackets.
TEMPLATE_FIELDS = frozenset({
    "sku", "product_id", "variant_id", "gtin", "mpn", "title", "description", "brand", "category", "listing_id",
    "channel",
})
TEMPLATE_MAPPINGS = frozenset({"options", "attributes"})


def check_template(template: str) -> str:
    """Return ``template`` if every ``{placeholder}`` in it is a known feed field, else raise ValueError."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"is not a valid template ({error}); write literal braces as {{{{ and }}}}") from None
    for _literal, field_name, _spec, _conversion in parts:
        if field_name is not None:
            _check_placeholder(field_name)
    return template


def _check_placeholder(field_name: str) -> None:
    base, bracket, rest = field_name.partition("[")
    known = base in TEMPLATE_MAPPINGS and bool(bracket) and rest.endswith("]") and len(rest) > 1
    if not (known or field_name in TEMPLATE_FIELDS):
        allowed = ", ".join(sorted(TEMPLATE_FIELDS)) + ", options[NAME], attributes[NAME]"
        raise ValueError(f"unknown placeholder {{{field_name}}}; use one of {allowed}")


def check_web_address(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) address, else raise ValueError."""
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise ValueError("must be an absolute http:// or https:// address")
    return url


Code = Annotated[str, Field(pattern=CODE_PATTERN, examples=["web"])]
LinkTemplate = Annotated[
    str, Field(min_length=1, max_length=2000), AfterValidator(check_template), AfterValidator(check_web_address)
]
TitleTemplate = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(check_template)]
WebAddress = Annotated[str, Field(max_length=2000), AfterValidator(check_web_address)]
Label = Annotated[str, Field(min_length=1, max_length=300)]


class FeedExclusions(BaseModel):
    """Items kept out of the channel's feed."""

    model_config = ConfigDict(extra="forbid")

    skus: list[Label] = Field(default_factory=list)
    brands: list[Label] = Field(default_factory=list)
    categories: list[Label] = Field(
        default_factory=list, description="A category leaves out itself and everything under it "
                                          "(`Apparel` also leaves out `Apparel > Tops`).")
    out_of_stock: bool = Field(default=False, description="Leave out what the channel cannot sell now.")
    below_amount: Annotated[int | None, Field(ge=0, le=10**15)] = Field(
        default=None, description="Leave out items selling for less than this, in minor units of the channel's "
                                  "currency (cheap items whose margin a marketplace's fees would eat).")
    min_margin_percent: Annotated[float | None, Field(ge=0, lt=100)] = Field(
        default=None, description="Leave out items whose margin, (price − cost) ÷ price at the price the channel "
                                  "sells at, is below this percentage. Items without a cost in the channel's "
                                  "currency stay in (their margin is unknown).")


class FeedSettings(BaseModel):
    """How the channel's feed is built from the one catalog."""

    model_config = ConfigDict(extra="forbid")

    link_template: LinkTemplate = Field(examples=["https://shop.example.com/p/{sku}?utm_source=google"])
    image_base: WebAddress | None = None
    title_template: TitleTemplate | None = Field(default=None, examples=["{brand} {title} {options[colour]}"])
    attribute_map: dict[Label, Label] = Field(default_factory=dict)
    category_map: dict[Label, Label] = Field(default_factory=dict)
    exclusions: FeedExclusions = Field(default_factory=FeedExclusions)
    low_stock_threshold: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=5, description="Delta feeds send a stock change only when it crosses this level (or zero): "
                               "quantities below it are sent exactly, larger ones only when they fall below it.")


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    type: ChannelType
    currency: CurrencyCode
    price_list: Code
    location_codes: list[Code] = Field(default_factory=list, description="Locations it sells from, preferred first.")
    safety_stock: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    max_exposed: Annotated[int | None, Field(ge=0, le=1_000_000_000)] = None
    allow_backorder: bool = False
    feed_settings: FeedSettings | None = None

    @field_validator("location_codes")
    @classmethod
    def _distinct_locations(cls, codes: list[str]) -> list[str]:
        return _distinct(codes)


class ChannelUpdate(BaseModel):
    """Only the fields sent are changed; ``max_exposed`` and ``feed_settings`` may be set to null."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    type: ChannelType | None = None
    currency: CurrencyCode | None = None
    price_list: Code | None = None
    location_codes: list[Code] | None = None
    safety_stock: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    max_exposed: Annotated[int | None, Field(ge=0, le=1_000_000_000)] = None
    allow_backorder: bool | None = None
    active: bool | None = None
    feed_settings: FeedSettings | None = None

    @field_validator("name", "type", "currency", "price_list", "location_codes", "safety_stock",
                     "allow_backorder", "active", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value

    @field_validator("location_codes")
    @classmethod
    def _distinct_locations(cls, codes: list[str] | None) -> list[str] | None:
        return None if codes is None else _distinct(codes)


def _distinct(codes: list[str]) -> list[str]:
    if len(set(codes)) != len(codes):
        raise ValueError("lists a location more than once")
    return codes


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name: str
    type: ChannelType
    currency: str
    price_list: str
    location_codes: list[str]
    safety_stock: int
    max_exposed: int | None
    allow_backorder: bool
    active: bool
    feed_settings: FeedSettings | None
    created_at: datetime
    updated_at: datetime

    @field_validator("feed_settings", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or None


class Change(BaseModel):
    """One numbered entry of the change log."""

    model_config = ConfigDict(from_attributes=True)

    position: int
    event_id: str
    type: str
    subject: str
    payload: dict[str, Any]
    occurred_at: datetime
