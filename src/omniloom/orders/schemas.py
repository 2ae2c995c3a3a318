"""Request and response bodies of the orders API: carts, checkout, orders, fulfillments, returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omniloom.platform.money import CurrencyCode, Money

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
MAX_QUANTITY = 10_000

ChannelCode = Annotated[str, Field(pattern=CODE_PATTERN, examples=["web"])]
LocationCode = Annotated[str, Field(pattern=CODE_PATTERN, examples=["AMS-01"])]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64), Field(examples=["TEE-RED-M"])]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Method = Literal["ship", "pickup", "curbside"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Address(Strict):
    name: ShortText | None = None
    line1: ShortText
    line2: ShortText | None = None
    city: ShortText
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["NL"])]
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class FulfillmentChoice(Strict):
    """How the customer gets the goods: delivered (``ship``, with an address), or collected at ``location``."""

    method: Method
    location: LocationCode | None = Field(None, description="The store for pickup and curbside.")
    address: Address | None = Field(None, description="Delivery address for ship.")

    @model_validator(mode="after")
    def _needs(self) -> FulfillmentChoice:
        if self.method == "ship" and self.address is None:
            raise ValueError("address: a delivery needs an address")
        if self.method != "ship" and self.location is None:
            raise ValueError(f"location: {self.method} needs the store's location code")
        return self


# ---------------------------------------------------------------------------------------------- carts


class CartCreate(Strict):
    channel: ChannelCode
    customer_id: Annotated[str, StringConstraints(max_length=40)] | None = None


class CartLineIn(Strict):
    sku: Sku
    quantity: Quantity


class CartLineUpdate(Strict):
    quantity: Quantity


class CartCustomerIn(Strict):
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]


class CartFulfillmentIn(Strict):
    method: Method
    location: LocationCode | None = None


class CartLineOut(BaseModel):
    sku: str
    quantity: int
    unit_price: Money | None = Field(description="From the channel's price list; null when it does not sell the SKU.")
    line_total: Money | None
    available: int = Field(description="Live availability for the cart's fulfillment method (channel-wide for ship, "
                                       "at the chosen store for pickup and curbside).")
    in_stock: bool
    added_on: str = Field(description="The channel the line was added on.")


class CartOut(BaseModel):
    id: str
    channel: str = Field(description="The channel that touched the cart last; prices come from its price list.")
    customer_id: str | None
    status: Literal["active", "merged", "ordered"]
    merged_into: str | None
    fulfillment: CartFulfillmentIn | None
    lines: list[CartLineOut]
    subtotal: Money
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------------------------------------- orders


class PaymentIn(Strict):
    provider: Literal["test"] = "test"
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="A token from the payment provider; never card data.")


class CustomerContact(Strict):
    id: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    name: ShortText | None = None


class CheckoutIn(Strict):
    channel: ChannelCode
    fulfillment: FulfillmentChoice
    payment: PaymentIn
    customer: CustomerContact | None = None


class OrderLineIn(Strict):
    sku: Sku | None = None
    listing_id: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    quantity: Quantity
    unit_price: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Minor units; only imported orders (with `external_id`) may carry the price they sold at.")


class OrderIn(Strict):
    channel: ChannelCode
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    customer: CustomerContact = Field(default_factory=CustomerContact)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=200)
    fulfillment: FulfillmentChoice
    payment: PaymentIn | None = Field(None, description="Needed unless the channel collected the money "
                                                        "(an imported order with `external_id`).")
    currency: CurrencyCode | None = None


class OrderLineOut(BaseModel):
    sku: str | None
    listing_id: str | None
    quantity: int
    unit_price: Money | None
    returned: int
    cancelled: int


class FulfillmentLineOut(BaseModel):
    sku: str
    quantity: int


class FulfillmentOut(BaseModel):
    id: str
    order_id: str
    method: str
    location: str
    source_location: str | None = Field(description="Where stock comes from when it is transferred first.")
    status: str
    lines: list[FulfillmentLineOut]
    routing_reason: str
    carrier: str | None
    tracking_number: str | None
    parking_spot: str | None
    checked_in_at: datetime | None
    promised_ready_at: datetime | None
    ready_at: datetime | None
    pickup_expires_at: datetime | None
    allowed_transitions: list[str]


class PaymentOut(BaseModel):
    provider: str
    status: str
    amount: Money
    captured: Money
    refunded: Money


class OrderOut(BaseModel):
    id: str
    channel: str
    external_id: str | None
    customer_id: str | None
    status: Literal["placed", "on_hold", "fulfilled", "cancelled"]
    hold_reason: str | None
    lines: list[OrderLineOut]
    subtotal: Money
    total: Money
    fulfillments: list[FulfillmentOut]
    payments: list[PaymentOut]
    created_at: datetime
    cancelled_at: datetime | None


class OrderRelease(Strict):
    lines: list[OrderLineIn] | None = Field(None, description="Corrected lines (e.g. a listing id mapped to a SKU).")


class TransitionIn(Strict):
    to: str
    carrier: ShortText | None = None
    tracking_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None \
        = None
    reason: ShortText | None = Field(None, description="Why a location rejects a fulfillment (it is re-routed).")


class CheckinIn(Strict):
    parking_spot: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class ReturnLineIn(Strict):
    sku: Sku
    quantity: Quantity
    condition: Literal["resellable", "damaged"]


class ReturnIn(Strict):
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    location: LocationCode
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    reason: ShortText | None = None
    exchange: list[CartLineIn] | None = Field(None, description="Items to send instead, at the prices paid.")


class RefundOut(BaseModel):
    amount: int
    currency: str
    status: str


class ReturnOut(BaseModel):
    id: str
    order_id: str
    location: str
    refund: RefundOut
    exchange_order_id: str | None
    created_at: datetime
