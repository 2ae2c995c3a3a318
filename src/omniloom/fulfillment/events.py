"""Domain events of the fulfillment module (version 1 payloads). Connectors push ``fulfillment.shipped`` back to
the channel the order came from (carrier and tracking number); stores and customers hear about pickups."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from omniloom.platform.outbox import DomainEvent


class FulfilledLine(BaseModel):
    sku: str
    quantity: int


class FulfillmentEvent(DomainEvent):
    fulfillment_id: str
    order_id: str
    channel: str
    method: str
    location: str
    status: str
    lines: list[FulfilledLine]

    def subject(self) -> str:
        return f"order:{self.order_id}"


class FulfillmentCreated(FulfillmentEvent):
    event_type = "fulfillment.created"

    routing_reason: str
    promised_ready_at: datetime | None


class FulfillmentStatusChanged(FulfillmentEvent):
    """Any move of the state machine; the specific events below are recorded as well."""

    event_type = "fulfillment.status_changed"

    previous_status: str


class FulfillmentReadyForPickup(FulfillmentEvent):
    """The customer can come: notify them. ``pickup_expires_at`` ends the pickup window."""

    event_type = "fulfillment.ready_for_pickup"

    ready_at: datetime
    pickup_expires_at: datetime
    promised_ready_at: datetime | None


class FulfillmentShipped(FulfillmentEvent):
    """Handed to the carrier: the channel's connector pushes the tracking back to the marketplace or shop."""

    event_type = "fulfillment.shipped"

    carrier: str
    tracking_number: str
    shipped_at: datetime


class FulfillmentPickedUp(FulfillmentEvent):
    event_type = "fulfillment.picked_up"


class FulfillmentCancelled(FulfillmentEvent):
    event_type = "fulfillment.cancelled"


class FulfillmentExpired(FulfillmentEvent):
    """Not collected in the pickup window: the units went back to the shelf."""

    event_type = "fulfillment.expired"


class FulfillmentRejected(FulfillmentEvent):
    """The location could not fulfil (e.g. the stock was not on the shelf); the order is re-routed."""

    event_type = "fulfillment.rejected"

    reason: str


class CustomerCheckedIn(FulfillmentEvent):
    """A curbside customer arrived: bring the order to the parking spot."""

    event_type = "fulfillment.checked_in"

    parking_spot: str
