"""A connector to a channel's HTTP API, configured by URL templates and auth headers.

Bodies are the marketplace JSON shape: ``{"listings": [...], "removed": [...]}``, ``{"offers": [...]}``,
``{"orders": [...]}``, ``{"ids": [...]}``; a push answers ``{"rejected": [{"id", "reason"}]}`` for items it refused.
Errors name the method and path, never the host, headers or credentials.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from omniloom.syndication.connectors.base import (
    Cancellation,
    ConnectorRejected,
    ConnectorUnavailable,
    PulledOrder,
    PushResult,
    Shipment,
    listing_body,
    offer_body,
)
from omniloom.syndication.connectors.schemas import HttpSettings
from omniloom.syndication.items import FeedItem

USER_AGENT = "Omniloom-Connector/1"
MAX_RETRY_AFTER_SECONDS = 86_400.0


class HttpConnector:
    """Calls the channel's API with ``httpx`` (one pooled client, the configured timeout)."""

    def __init__(self, settings: HttpSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.urls = settings.urls
        auth = httpx.BasicAuth(settings.basic_auth.username, settings.basic_auth.password) \
            if settings.basic_auth else None
        self.client = httpx.Client(base_url=settings.base_url, timeout=settings.timeout_seconds, auth=auth,
                                   headers={"User-Agent": USER_AGENT, **settings.headers}, follow_redirects=False,
                                   transport=transport)

    def push_listings(self, items: Sequence[FeedItem], removed: Sequence[str]) -> PushResult:
        body = {"listings": [listing_body(item) for item in items], "removed": list(removed)}
        return _rejected(self._call("POST", self.urls.listings, body))

    def push_stock_and_prices(self, items: Sequence[FeedItem]) -> PushResult:
        return _rejected(self._call("POST", self.urls.stock, {"offers": [offer_body(item) for item in items]}))

    def pull_orders(self) -> list[PulledOrder]:
        answer = self._call("GET", self.urls.orders, None)
        orders = answer.get("orders") if isinstance(answer, dict) else None
        if not isinstance(orders, list):
            raise ConnectorRejected(f"GET {self.urls.orders}: the answer has no 'orders' list")
        return [PulledOrder(external_id=str(order.get("id", "")) if isinstance(order, dict) else "",
                            data=order if isinstance(order, dict) else {"value": order}) for order in orders]

    def acknowledge_orders(self, external_ids: Sequence[str]) -> None:
        self._call("POST", self.urls.acknowledge, {"ids": list(external_ids)})

    def push_tracking(self, shipment: Shipment) -> None:
        self._call("POST", self._order_path(self.urls.tracking, shipment.external_order_id), shipment.body())

    def push_cancellation(self, cancellation: Cancellation) -> None:
        self._call("POST", self._order_path(self.urls.cancellation, cancellation.external_order_id),
                   {"reason": cancellation.reason})

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _order_path(template: str, order_id: str) -> str:
        return template.format(order_id=quote(order_id, safe=""))

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        try:
            response = self.client.request(method, path, json=body)
        except httpx.HTTPError as error:  # refused, timed out, reset: the channel may answer later
            raise ConnectorUnavailable(f"{method} {path}: {type(error).__name__}") from None
        if response.status_code == 429 or response.status_code == 408 or response.status_code >= 500:
            raise ConnectorUnavailable(f"{method} {path}: HTTP {response.status_code}",
                                       retry_after=retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 400:
            raise ConnectorRejected(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ConnectorRejected(f"{method} {path}: the answer is not JSON") from None


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - (now or datetime.now(UTC))).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


def _rejected(answer: Any) -> PushResult:
    refused = answer.get("rejected", []) if isinstance(answer, dict) else []
    return PushResult(rejected={str(entry.get("id")): str(entry.get("reason", "refused"))[:500]
                                for entry in refused if isinstance(entry, dict)})
