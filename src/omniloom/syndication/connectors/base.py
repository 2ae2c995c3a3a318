"""The one interface every connector offers, what travels through it, and how it fails."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from omniloom.syndication.items import FeedItem

# What a stock-and-price update carries; everything else of an item is its listing.
OFFER_FIELDS = ("id", "quantity", "availability", "price", "sale_price", "currency")
# Fields of local inventory rows, which are no part of a listing.
STORE_FIELDS = ("pickup_stores", "store_code", "pickup_method", "pickup_sla")


class ConnectorUnavailable(Exception):
    """The channel did not take the call now (unreachable, timed out, 5xx, 429): try again later."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ConnectorRejected(Exception):
    """The channel refused the call as it is (4xx): sending it again unchanged will not help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PushResult:
    """Items the channel refused, by SKU, with its reason; the others were taken."""

    rejected: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PulledOrder:
    """An order as the channel gave it: its id there and its data in the marketplace order shape."""

    external_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ShippedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Shipment:
    """A parcel of a channel's order handed to a carrier: what the channel shows its customer."""

    external_order_id: str
    shipment_id: str
    carrier: str
    tracking_number: str
    shipped_at: datetime
    lines: tuple[ShippedLine, ...]

    def body(self) -> dict[str, Any]:
        return {"shipment_id": self.shipment_id, "carrier": self.carrier, "tracking_number": self.tracking_number,
                "shipped_at": self.shipped_at.isoformat(),
                "lines": [{"sku": line.sku, "quantity": line.quantity} for line in self.lines]}

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> Shipment:
        return cls(external_order_id=data["external_order_id"], shipment_id=data["shipment_id"],
                   carrier=data["carrier"], tracking_number=data["tracking_number"],
                   shipped_at=datetime.fromisoformat(data["shipped_at"]),
                   lines=tuple(ShippedLine(line["sku"], line["quantity"]) for line in data["lines"]))

    def stored(self) -> dict[str, Any]:
        return {"external_order_id": self.external_order_id, **self.body()}


@dataclass(frozen=True)
class Cancellation:
    """A channel's order cancelled in Omniloom before anything left."""

    external_order_id: str
    reason: str

    def stored(self) -> dict[str, Any]:
        return {"external_order_id": self.external_order_id, "reason": self.reason}


class Connector(Protocol):
    """Talks to one channel. Every method either succeeds, or raises ConnectorUnavailable / ConnectorRejected."""

    def push_listings(self, items: Sequence[FeedItem], removed: Sequence[str]) -> PushResult:
        """Create or replace these listings and take down the ``removed`` SKUs."""
        ...

    def push_stock_and_prices(self, items: Sequence[FeedItem]) -> PushResult:
        """Update quantity, availability and prices of listings the channel already has."""
        ...

    def pull_orders(self) -> list[PulledOrder]:
        """The channel's orders not yet acknowledged."""
        ...

    def acknowledge_orders(self, external_ids: Sequence[str]) -> None:
        """Tell the channel these orders are safely imported: it stops offering them."""
        ...

    def push_tracking(self, shipment: Shipment) -> None:
        """Report a shipment with its carrier and tracking number (the same shipment twice is one shipment)."""
        ...

    def push_cancellation(self, cancellation: Cancellation) -> None:
        """Report that an order of the channel was cancelled."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def listing_body(item: FeedItem) -> dict[str, Any]:
    """The item as a listing in the marketplace JSON shape (its fields by name, stores left out)."""
    body = dataclasses.asdict(item)
    for name in STORE_FIELDS:
        body.pop(name, None)
    return body


def offer_body(item: FeedItem) -> dict[str, Any]:
    """The stock-and-price part of an item."""
    return {name: getattr(item, name) for name in OFFER_FIELDS}


def content_hash(item: FeedItem) -> str:
    """A fingerprint of what a listing shows apart from stock and price: when it changes the listing is re-sent."""
    content = {name: value for name, value in listing_body(item).items() if name not in OFFER_FIELDS or name == "id"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
