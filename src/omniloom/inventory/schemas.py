"""Request and response bodies of the inventory API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from omniloom.inventory.countries import check_country
from omniloom.inventory.ledger import MovementReason
from omniloom.inventory.opening_hours import TIME_PATTERN, check_intervals

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
MAX_QUANTITY = 100_000_000
MAX_TTL_SECONDS = 7 * 24 * 3600

LocationType = Literal["store", "warehouse", "popup"]
Capability = Literal["ship", "pickup", "curbside", "returns", "pos"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
LocationCode = Annotated[str, Field(pattern=CODE_PATTERN, examples=["AMS-01"],
                                    description="Natural key; letters, digits, `_`, `.`, `-` (up to 64).")]
ChannelCode = Annotated[str, Field(pattern=CODE_PATTERN, examples=["web"])]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64), Field(examples=["TEE-RED-M"])]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(max_length=1000)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=80)]
TimeOfDay = Annotated[str, Field(pattern=TIME_PATTERN, examples=["09:00"])]
StoreEmail = Annotated[EmailStr, Field(description="Where the store hears of new pickup and curbside orders.",
                                      examples=["ams-01@loom.example"])]
Intervals = Annotated[list[tuple[TimeOfDay, TimeOfDay]], AfterValidator(check_intervals)]
OpeningHours = Annotated[
    dict[Weekday, Intervals],
    Field(description='Local opening times per weekday, e.g. `{"mon": [["09:00", "12:30"], ["13:30", "18:00"]]}`; '
                      "a missing day is closed."),
]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. Europe/Amsterdam)") from None
    return name


def _check_capabilities(capabilities: list[Capability]) -> list[Capability]:
    if len(set(capabilities)) != len(capabilities):
        raise ValueError("each capability may appear only once")
    return capabilities


Timezone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_timezone)]
Capabilities = Annotated[list[Capability], AfterValidator(_check_capabilities),
                         Field(description="What the location does: ship, pickup (BOPIS), curbside, returns, pos.")]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Priority = Annotated[int, Field(ge=-1000, le=1000, description="Higher is preferred when routing orders.")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Address(Strict):
    line1: Text
    line2: Text | None = None
    city: Text
    region: Text | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    country: Annotated[str, Field(examples=["NL"], description="ISO 3166-1 alpha-2."),
                       AfterValidator(check_country)]


class LocationCreate(Strict):
    code: LocationCode
    name: Text
    type: LocationType
    address: Address
    latitude: Latitude
    longitude: Longitude
    timezone: Timezone = "UTC"
    opening_hours: OpeningHours = Field(default_factory=dict)
    capabilities: Capabilities
    email: StoreEmail | None = None
    priority: Priority = 0


class LocationUpdate(Strict):
    """Only the fields sent are changed; ``code`` never changes."""

    name: Text | None = None
    type: LocationType | None = None
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    timezone: Timezone | None = None
    opening_hours: OpeningHours | None = None
    capabilities: Capabilities | None = None
    email: StoreEmail | None = None
    priority: Priority | None = None
    active: bool | None = None


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name: str
    type: str
    address: Address
    latitude: float
    longitude: float
    timezone: str
    opening_hours: dict[str, list[tuple[str, str]]]
    capabilities: list[str]
    email: str | None = None
    priority: int
    active: bool
    created_at: datetime
    updated_at: datetime


class MovementCreate(Strict):
    sku: Sku
    location: LocationCode
    quantity: Annotated[int, Field(
        ge=-MAX_QUANTITY, le=MAX_QUANTITY,
        description="The signed change to on-hand, never zero: positive for receipt, return and transfer_in; "
                    "negative for damage and transfer_out; either sign for adjustment. A wrong sign is a 422.",
    )]
    reason: MovementReason
    note: Note | None = None
    reference: Reference | None = None


class Movement(BaseModel):
    id: str
    sku: str
    location: str
    quantity: int
    reason: str
    note: str | None
    reference: str | None
    on_hand_after: int
    actor: str
    created_at: datetime


class CycleCount(Strict):
    on_hand: Annotated[int, Field(ge=0, le=MAX_QUANTITY, description="The counted units.")]
    reason: Literal["cycle_count"]
    note: Note | None = None


class Level(BaseModel):
    sku: str
    location: str
    on_hand: int
    reserved: int = Field(description="Units held by active, unexpired reservations.")
    allocated: int
    available: int


class LocationAvailability(BaseModel):
    location: str
    available: int
    pickup: bool = Field(description="The location offers pickup and has stock for this channel.")
    curbside: bool


class Availability(BaseModel):
    sku: str
    channel: str
    available: int
    locations: list[LocationAvailability]


class ReservationLineIn(Strict):
    sku: Sku
    quantity: Annotated[int, Field(gt=0, le=MAX_QUANTITY)]
    location: LocationCode | None = Field(
        default=None, description="Reserve only here (one of the channel's locations); otherwise the channel's "
                                  "locations are used in their preference order, split if needed.")


class ReservationCreate(Strict):
    channel: ChannelCode
    lines: Annotated[list[ReservationLineIn], Field(min_length=1, max_length=200)]
    ttl_seconds: Annotated[int | None, Field(
        ge=1, le=MAX_TTL_SECONDS, description="Lifetime of the hold in seconds; the server default when absent.",
    )] = None
    reference: Reference | None = None


class ReservationLine(BaseModel):
    sku: str
    location: str
    quantity: int


class Reservation(BaseModel):
    id: str
    status: Literal["active", "released", "expired", "converted"]
    channel: str
    reference: str | None
    expires_at: datetime
    created_at: datetime
    ended_at: datetime | None
    lines: list[ReservationLine]
