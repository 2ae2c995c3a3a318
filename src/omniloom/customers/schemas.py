"""Request and response bodies of the customer API: events, profiles (the 360 view), consent, loyalty, CLV."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from omniloom.platform.money import CurrencyCode, Money

MAX_BATCH = 1000
# The file formats of a customer history import (``omniloom customers import``).
HistoryFormat = Literal["jsonl", "csv"]
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"

EventType = Literal["page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout_started",
                    "order_completed", "store_visit", "email_open", "email_click", "ad_click", "service_contact",
                    "identify"]
Purpose = Literal["email_marketing", "sms_marketing", "push", "personalization", "profiling"]
PURPOSES: tuple[Purpose, ...] = ("email_marketing", "sms_marketing", "push", "personalization", "profiling")
ChannelCode = Annotated[str, Field(pattern=CODE_PATTERN, examples=["web"])]
RawIdentifier = Annotated[str, StringConstraints(min_length=1, max_length=320)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class EventIdentifiers(BaseModel):
    """Whatever identifiers the channel has for the person; normalised before matching."""

    model_config = ConfigDict(extra="forbid")

    email: RawIdentifier | None = None
    phone: RawIdentifier | None = Field(None, description="E.164, or national form in the default region.")
    device_id: RawIdentifier | None = Field(None, description="Cookie, app install or device id.")
    loyalty_id: RawIdentifier | None = None
    external_ids: dict[ChannelCode, RawIdentifier] = Field(
        default_factory=dict, description="Ids other systems give the person: `{\"pos\": \"C-1042\", "
                                          "\"bol\": \"buyer-77\", \"instagram\": \"@anna\"}`.")
    verified: list[Literal["email", "phone"]] = Field(
        default_factory=list, description="Identifiers the sender has verified (e.g. a confirmed login email).")


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="allow")

    sku: Sku
    quantity: int = Field(ge=1, le=100_000)
    unit_price: Money | None = None


class OrderCompletedProperties(BaseModel):
    """``order_completed``: the purchase facts kept even after the person is erased."""

    model_config = ConfigDict(extra="allow")

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    total: Money
    lines: list[OrderLine] = Field(default_factory=list, max_length=500)


class ProductProperties(BaseModel):
    """``product_view``, ``add_to_cart``, ``remove_from_cart``."""

    model_config = ConfigDict(extra="allow")

    sku: Sku
    quantity: int = Field(1, ge=1, le=100_000)


class IdentifyProperties(BaseModel):
    """``identify``: traits of the person (personal data, erased on request)."""

    model_config = ConfigDict(extra="allow")

    name: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None


PROPERTY_MODELS: dict[str, type[BaseModel]] = {
    "order_completed": OrderCompletedProperties, "product_view": ProductProperties,
    "add_to_cart": ProductProperties, "remove_from_cart": ProductProperties, "identify": IdentifyProperties,
}


class EventIn(BaseModel):
    """One event. ``id`` (optional, unique) makes a retried batch harmless: a known id is not stored twice."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = None
    type: EventType
    channel: ChannelCode
    timestamp: AwareDatetime | None = Field(None, description="When it happened (RFC 3339); past times import "
                                                              "history. Default: when received.")
    identifiers: EventIdentifiers = Field(default_factory=EventIdentifiers)
    properties: dict[str, Any] = Field(default_factory=dict)


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_BATCH,
        description=f"Up to {MAX_BATCH} events, each shaped as `EventIn`; each is checked on its own.")


class RejectedEvent(BaseModel):
    index: int
    errors: list[dict[str, str]]


class EventBatchResult(BaseModel):
    accepted: int
    duplicates: int = Field(description="Events whose `id` was already stored (not stored again).")
    customer_ids: list[str | None] = Field(description="One per event, in order: the profile it was assigned to "
                                                       "(null for a rejected event).")
    rejected: list[RejectedEvent]


class IdentityOut(BaseModel):
    kind: str
    value: str
    verified: bool
    shared: bool
    first_seen_at: datetime
    last_seen_at: datetime


class EventOut(BaseModel):
    id: str
    type: str
    channel: str
    occurred_at: datetime
    properties: dict[str, Any]


class PurchaseOut(BaseModel):
    order_id: str
    channel: str
    occurred_at: datetime
    total: Money
    items: int


class ConsentOut(BaseModel):
    purpose: Purpose
    granted: bool
    channel: str | None
    source: str
    recorded_at: datetime


class ConsentHistoryOut(ConsentOut):
    actor: str


class ConsentIn(BaseModel):
    granted: bool
    channel: ChannelCode | None = None
    source: ShortText = Field(examples=["checkout checkbox", "store sign-up form"])


class LoyaltyOut(BaseModel):
    balance: int
    tier: str | None
    rolling_spend: Money | None
    next_tier: str | None = None
    spend_to_next_tier: int | None = None


class LoyaltyEntryOut(BaseModel):
    kind: str
    points: int
    channel: str
    reference: str
    occurred_at: datetime


class LoyaltyStatementOut(LoyaltyOut):
    entries: list[LoyaltyEntryOut]


class RedemptionIn(BaseModel):
    points: int = Field(ge=1, le=100_000_000)
    channel: ChannelCode
    reference: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = Field(
        None, description="The sender's id for this redemption (e.g. a POS receipt); a repeat is refused.")


class RedemptionOut(BaseModel):
    reference: str
    points: int
    balance: int


class Tier(BaseModel):
    name: ShortText
    min_spend: int = Field(ge=0, description="Rolling spend in minor units of the program currency.")


class LoyaltyProgramIn(BaseModel):
    currency: CurrencyCode
    points_per_unit: int = Field(ge=0, le=10_000, description="Points per whole currency unit spent.")
    channel_multipliers: dict[ChannelCode, Annotated[float, Field(ge=0, le=100)]] = Field(default_factory=dict)
    tiers: list[Tier] = Field(default_factory=list, max_length=20)
    tier_window_days: int = Field(365, ge=1, le=3660)


class LoyaltyProgramOut(LoyaltyProgramIn):
    updated_at: datetime


class Traits(BaseModel):
    """Computed from purchases on every channel."""

    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    recency_days: int | None
    frequency: int
    monetary: Money | None
    rfm: str | None = Field(description="RFM scores 1–5 as `R-F-M` (e.g. `5-4-4`), against the population of "
                                        "the latest CLV fit; null before the first fit.")
    segment: str | None
    channels: list[str]
    preferred_channel: str | None
    omnichannel: bool
    expected_purchases: float | None = Field(description="Expected purchases in the next `horizon` periods.")
    probability_alive: float | None
    expected_value: Money | None
    horizon: str | None


class MergeOut(BaseModel):
    id: str
    survivor_id: str
    merged_id: str
    status: Literal["merged", "refused", "undone"]
    cause: str
    identifiers: list[dict[str, Any]]
    created_at: datetime
    undone_at: datetime | None


class CustomerOut(BaseModel):
    """The customer 360 view."""

    id: str
    merged_into: str | None = Field(description="Set when the id asked for was merged away: the surviving "
                                                "profile shown here.")
    merged_ids: list[str] = Field(description="Profiles merged into this one (they resolve here).")
    created_at: datetime
    erased: bool
    attributes: dict[str, Any]
    identities: list[IdentityOut]
    traits: Traits
    purchases: list[PurchaseOut]
    events: list[EventOut]
    events_next_cursor: str | None
    consents: list[ConsentOut]
    loyalty: LoyaltyOut
    cart: dict[str, Any] | None = Field(None, description="The active cart, once carts exist.")


class CustomerSummaryOut(BaseModel):
    id: str
    created_at: datetime
    identities: list[IdentityOut]


class SharedDeviceIn(BaseModel):
    shared: bool


def _end_of_day(value: Any) -> Any:
    """A bare date means the whole of that day (UTC)."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), time.max, tzinfo=UTC)
        except ValueError:
            return value
    return value


class ClvFitIn(BaseModel):
    calibration_end: Annotated[AwareDatetime, BeforeValidator(_end_of_day)] = Field(
        description="Purchases up to this moment calibrate the model; a date (`1997-09-30`) means the end of that "
                    "day, UTC.", examples=["1997-09-30"])
    time_unit: Literal["day", "week", "month"] = "week"
    currency: CurrencyCode | None = Field(
        None, description="Spend currency to model (default: the most used one).")
    horizon: int = Field(52, ge=1, le=1000, description="Prediction horizon in `time_unit`s for the 360 view.")


class BgNbdOut(BaseModel):
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


class GammaGammaOut(BaseModel):
    p: float
    q: float
    gamma: float


class ClvFitOut(BaseModel):
    id: str
    bgnbd: BgNbdOut
    gamma_gamma: GammaGammaOut
    customers: int
    repeat_customers: int
    calibration_end: datetime
    time_unit: str
    currency: str
    horizon: int
    fitted_at: datetime
