"""Domain events of the orders module (version 1 payloads): ids and amounts, no personal data."""

from __future__ import annotations

from pydantic import BaseModel

from omniloom.platform.outbox import DomainEvent


class EventLine(BaseModel):
    sku: str | None
    listing_id: str | None = None
    quantity: int
    unit_price: int | None


class OrderEvent(DomainEvent):
    order_id: str
    channel: str
    external_id: str | None
    customer_id: str | None
    status: str
    currency: str
    total: int

    def subject(self) -> str:
        return f"order:{self.order_id}"


class OrderCreated(OrderEvent):
    event_type = "order.created"

    lines: list[EventLine]


class OrderHeld(OrderEvent):
    """An order that could not be placed as it came (unknown listing, no stock): nothing is lost, it waits."""

    event_type = "order.held"

    hold_reason: str


class OrderReleased(OrderEvent):
    event_type = "order.released"


class OrderCancelled(OrderEvent):
    event_type = "order.cancelled"

    refunded: int


class OrderFulfilled(OrderEvent):
    event_type = "order.fulfilled"


class ReturnCreated(DomainEvent):
    event_type = "return.created"

    return_id: str
    order_id: str
    channel: str
    location: str
    lines: list[EventLine]
    refund_amount: int
    currency: str
    exchange_order_id: str | None

    def subject(self) -> str:
        return f"order:{self.order_id}"
