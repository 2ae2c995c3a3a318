"""A marketplace that behaves like a real one, for tests and demos (``omniloom simulate marketplace``).

It takes listing and stock pushes and checks them, sells what is listed and in stock when told to
(``POST /_simulate/orders``), offers its orders for pulling until they are acknowledged, expects tracking before each
order's ship-by time (``GET /_simulate/late-shipments`` names the late ones), rate-limits (429 with Retry-After), and
can be told to fail: ``POST /_simulate/faults {"fail_next": N}`` answers 503 to the next N calls,
``{"throttle_next": N, "retry_after": S}`` 429 to the next N (``"path": "/orders/"`` narrows either to calls under
that path). Paths under ``/_simulate`` are its control panel: never
rate-limited, never failing, no key needed. Everything is kept in memory.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import uvicorn
from fastapi import Body, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from omniloom.platform.clock import Clock, SystemClock

AVAILABILITIES = ("in_stock", "out_of_stock", "backorder")
CONTROL_PREFIX = "/_simulate"
DEFAULT_ADDRESS = {"name": "Marketplace Buyer", "line1": "Stationsplein 1", "city": "Utrecht",
                   "postal_code": "3511 ED", "country": "NL"}


@dataclass
class SimulatedOrder:
    id: str
    created_at: datetime
    ship_by: datetime
    currency: str
    lines: list[dict[str, Any]]
    customer: dict[str, Any]
    shipping_address: dict[str, Any]
    status: str = "new"  # new → acknowledged; cancelled
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancellation: dict[str, Any] | None = None

    def pulled(self) -> dict[str, Any]:
        return {"id": self.id, "created_at": self.created_at.isoformat(), "ship_by": self.ship_by.isoformat(),
                "currency": self.currency, "lines": self.lines, "customer": self.customer,
                "shipping_address": self.shipping_address}

    def view(self) -> dict[str, Any]:
        return {**self.pulled(), "status": self.status, "shipments": list(self.shipments.values()),
                "cancellation": self.cancellation}


class Marketplace:
    """The marketplace's books and behaviour (thread-safe); ``app()`` serves them over HTTP."""

    def __init__(self, *, clock: Clock | None = None, token: str | None = None, currency: str = "EUR",
                 handling_hours: float = 48.0, rate_limit: int | None = None, rate_window_seconds: float = 1.0
                 ) -> None:
        self.clock = clock or SystemClock()
        self.token = token
        self.currency = currency
        self.handling = timedelta(hours=handling_hours)
        self.rate_limit, self.rate_window = rate_limit, rate_window_seconds
        self.offers: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, SimulatedOrder] = {}
        self.log: list[dict[str, Any]] = []
        self.fail_next, self.fail_status, self.throttle_next, self.retry_after = 0, 503, 0, 1
        self.fault_path = "/"
        self._window: tuple[float, int] = (0.0, 0)
        self._sequence = 1000
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ admission

    def admit(self, path: str, authorization: str | None) -> tuple[int, dict[str, str]] | None:
        """Whether a call to the marketplace API gets through: None, or the refusal's status and headers."""
        with self.lock:
            if self.token is not None and authorization != f"Bearer {self.token}":
                return 401, {}
            if not path.startswith(self.fault_path):
                return self._rate_limited()
            if self.throttle_next:
                self.throttle_next -= 1
                return 429, {"Retry-After": str(self.retry_after)}
            if self.fail_next:
                self.fail_next -= 1
                return self.fail_status, {}
            return self._rate_limited()

    def _rate_limited(self) -> tuple[int, dict[str, str]] | None:
        if self.rate_limit is None:
            return None
        now = time.monotonic()
        start, count = self._window
        if now - start >= self.rate_window:
            start, count = now, 0
        if count >= self.rate_limit:
            return 429, {"Retry-After": str(max(1, int(self.rate_window - (now - start)) + 1))}
        self._window = (start, count + 1)
        return None

    def faults(self, *, fail_next: int | None, status: int | None, throttle_next: int | None,
               retry_after: int | None, path: str | None = None) -> dict[str, Any]:
        """Fail (``status``, 503 by default) or throttle the next calls, only those under ``path`` if given."""
        with self.lock:
            if path is not None:
                self.fault_path = path
            if fail_next is not None:
                self.fail_next = fail_next
            if status is not None:
                self.fail_status = status
            if throttle_next is not None:
                self.throttle_next = throttle_next
            if retry_after is not None:
                self.retry_after = retry_after
            return {"fail_next": self.fail_next, "status": self.fail_status, "throttle_next": self.throttle_next,
                    "retry_after": self.retry_after, "path": self.fault_path}

    # ------------------------------------------------------------------ listings and stock

    def take_listings(self, listings: list[Any], removed: list[Any]) -> dict[str, Any]:
        rejected, accepted = [], 0
        with self.lock:
            for listing in listings:
                problem = self._listing_problem(listing)
                if problem:
                    rejected.append({"id": listing.get("id") if isinstance(listing, dict) else None,
                                     "reason": problem})
                    continue
                self.offers[listing["id"]] = {**listing, "listing_id": listing.get("listing_id") or
                                              f"L-{listing['id']}"}
                accepted += 1
            gone = [sku for sku in removed if isinstance(sku, str) and self.offers.pop(sku, None) is not None]
        return {"accepted": accepted, "removed": len(gone), "rejected": rejected}

    def _listing_problem(self, listing: Any) -> str | None:
        if not isinstance(listing, dict):
            return "a listing is an object"
        if not isinstance(listing.get("id"), str) or not 1 <= len(listing["id"]) <= 50:
            return "id: required, at most 50 characters"
        if not isinstance(listing.get("title"), str) or not 1 <= len(listing["title"]) <= 150:
            return "title: required, at most 150 characters"
        return self._offer_problem(listing)

    def _offer_problem(self, offer: dict[str, Any]) -> str | None:
        price, sale = offer.get("price"), offer.get("sale_price")
        if not isinstance(price, int) or isinstance(price, bool) or price <= 0:
            return "price: a positive amount in minor units"
        if sale is not None and (not isinstance(sale, int) or not 0 < sale < price):
            return "sale_price: a positive amount below price"
        if offer.get("currency") != self.currency:
            return f"currency: this marketplace sells in {self.currency}"
        if offer.get("availability") not in AVAILABILITIES:
            return "availability: one of " + ", ".join(AVAILABILITIES)
        quantity = offer.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            return "quantity: a whole number, zero or more"
        return None

    def take_offers(self, offers: list[Any]) -> dict[str, Any]:
        rejected, accepted = [], 0
        with self.lock:
            for offer in offers:
                sku = offer.get("id") if isinstance(offer, dict) else None
                problem = "not listed" if not isinstance(sku, str) or sku not in self.offers \
                    else self._offer_problem(offer)
                if problem or not isinstance(sku, str):
                    rejected.append({"id": sku, "reason": problem})
                    continue
                self.offers[sku].update({key: offer.get(key) for key in
                                         ("quantity", "availability", "price", "sale_price", "currency")})
                accepted += 1
        return {"accepted": accepted, "rejected": rejected}

    # ------------------------------------------------------------------ orders

    def sell(self, lines: list[dict[str, Any]], *, customer: dict[str, Any] | None,
             address: dict[str, Any] | None, allow_unlisted: bool) -> SimulatedOrder:
        """A shopper buys: listed, in-stock items only (or, with ``allow_unlisted``, a listing Omniloom never
        sent, priced by the line). Raises ValueError with the reason when it cannot be sold."""
        with self.lock:
            sold = [self._sold_line(index, line, allow_unlisted) for index, line in enumerate(lines)]
            for line in sold:
                offer = self.offers.get(line.get("sku") or "")
                if offer is not None:
                    offer["quantity"] -= line["quantity"]
                    if offer["quantity"] == 0:
                        offer["availability"] = "out_of_stock"
            self._sequence += 1
            now = self.clock.now()
            order = SimulatedOrder(id=f"MP-{self._sequence}", created_at=now, ship_by=now + self.handling,
                                   currency=self.currency, lines=sold,
                                   customer=customer or {"name": "Marketplace Buyer",
                                                         "email": f"buyer{self._sequence}@marketplace.example"},
                                   shipping_address=address or dict(DEFAULT_ADDRESS))
            self.orders[order.id] = order
            return order

    def _sold_line(self, index: int, line: dict[str, Any], allow_unlisted: bool) -> dict[str, Any]:
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or quantity < 1:
            raise ValueError(f"lines[{index}].quantity: a whole number of at least 1")
        sku = line.get("sku")
        if sku is None:
            listing_id = line.get("listing_id")
            if not (allow_unlisted and isinstance(listing_id, str) and isinstance(line.get("unit_price"), int)):
                raise ValueError(f"lines[{index}]: name a listed sku (or a listing_id and unit_price with "
                                 "allow_unlisted)")
            return {"listing_id": listing_id, "quantity": quantity, "unit_price": line["unit_price"]}
        offer = self.offers.get(sku)
        if offer is None:
            raise ValueError(f"lines[{index}].sku: '{sku}' is not listed")
        if offer["availability"] != "in_stock" or offer["quantity"] < quantity:
            raise ValueError(f"lines[{index}].sku: only {offer['quantity']} of '{sku}' in stock")
        price = offer["sale_price"] if offer.get("sale_price") is not None else offer["price"]
        return {"listing_id": offer["listing_id"], "sku": sku, "quantity": quantity, "unit_price": price}

    def new_orders(self) -> list[dict[str, Any]]:
        with self.lock:
            return [order.pulled() for order in self.orders.values() if order.status == "new"]

    def acknowledge(self, ids: list[Any]) -> dict[str, list[str]]:
        acknowledged, unknown = [], []
        with self.lock:
            for order_id in ids:
                order = self.orders.get(str(order_id))
                if order is None:
                    unknown.append(str(order_id))
                    continue
                if order.status == "new":
                    order.status = "acknowledged"
                acknowledged.append(order.id)
        return {"acknowledged": acknowledged, "unknown": unknown}

    def ship(self, order_id: str, shipment: ShipmentIn) -> tuple[int, dict[str, Any]]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, {"detail": f"order '{order_id}' does not exist"}
            if order.status == "cancelled":
                return 409, {"detail": f"order '{order_id}' is cancelled"}
            if shipment.shipment_id in order.shipments:
                return 200, order.shipments[shipment.shipment_id]
            received = self.clock.now()
            order.shipments[shipment.shipment_id] = {
                **shipment.model_dump(mode="json"), "received_at": received.isoformat(),
                "late": received > order.ship_by}
            return 201, order.shipments[shipment.shipment_id]

    def cancel(self, order_id: str, reason: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, {"detail": f"order '{order_id}' does not exist"}
            if order.shipments:
                return 409, {"detail": f"order '{order_id}' has shipped"}
            if order.cancellation is None:
                order.status = "cancelled"
                order.cancellation = {"reason": reason, "received_at": self.clock.now().isoformat()}
            return 200, order.view()

    def late_shipments(self) -> list[dict[str, Any]]:
        """Orders not shipped by their ship-by time, and shipments reported after it."""
        now = self.clock.now()
        late = []
        with self.lock:
            for order in self.orders.values():
                if order.status == "cancelled":
                    continue
                if not order.shipments and now > order.ship_by:
                    late.append({"order_id": order.id, "ship_by": order.ship_by.isoformat(),
                                 "reason": "no tracking by the ship-by time"})
                late.extend({"order_id": order.id, "ship_by": order.ship_by.isoformat(),
                             "shipment_id": shipment["shipment_id"], "reason": "tracking after the ship-by time"}
                            for shipment in order.shipments.values() if shipment["late"])
        return late

    def record(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.log.append({"method": method, "path": path, "status": status})

    def app(self) -> FastAPI:
        """The HTTP face of this marketplace."""
        return _app(self)


class ShipmentLine(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class ShipmentIn(BaseModel):
    shipment_id: str = Field(min_length=1, max_length=100)
    carrier: str = Field(min_length=1, max_length=100)
    tracking_number: str = Field(min_length=1, max_length=120)
    shipped_at: datetime
    lines: list[ShipmentLine] = Field(min_length=1)


class CancellationIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class FaultsIn(BaseModel):
    fail_next: int | None = Field(None, ge=0)
    status: int | None = Field(None, ge=500, le=599)
    throttle_next: int | None = Field(None, ge=0)
    retry_after: int | None = Field(None, ge=0, le=3600)
    path: str | None = Field(None, pattern=r"^/", description="Only calls to paths starting with this fail.")


class SellIn(BaseModel):
    lines: list[dict[str, Any]] = Field(min_length=1)
    customer: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None
    allow_unlisted: bool = False


def _list_of(body: Any, key: str) -> list[Any] | None:
    value = body.get(key, []) if isinstance(body, dict) else None
    return value if isinstance(value, list) else None


def _app(market: Marketplace) -> FastAPI:
    app = FastAPI(title="Marketplace simulator", openapi_url=None, docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def admission(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if path.startswith(CONTROL_PREFIX):
            return await call_next(request)
        refused = market.admit(path, request.headers.get("authorization"))
        if refused is not None:
            market.record(request.method, path, refused[0])
            return JSONResponse({"detail": "refused"}, status_code=refused[0], headers=refused[1])
        response = await call_next(request)
        market.record(request.method, path, response.status_code)
        return response

    @app.post("/listings")
    def listings(body: Annotated[Any, Body()]) -> JSONResponse:
        items, removed = _list_of(body, "listings"), _list_of(body, "removed")
        if items is None or removed is None:
            return JSONResponse({"detail": "send {'listings': [...], 'removed': [...]}"}, status_code=400)
        return JSONResponse(market.take_listings(items, removed))

    @app.post("/stock")
    def stock(body: Annotated[Any, Body()]) -> JSONResponse:
        offers = _list_of(body, "offers")
        if offers is None:
            return JSONResponse({"detail": "send {'offers': [...]}"}, status_code=400)
        return JSONResponse(market.take_offers(offers))

    @app.get("/orders")
    def orders() -> dict[str, Any]:
        return {"orders": market.new_orders()}

    @app.post("/orders/acknowledgements")
    def acknowledge(body: Annotated[Any, Body()]) -> JSONResponse:
        ids = _list_of(body, "ids")
        if ids is None:
            return JSONResponse({"detail": "send {'ids': [...]}"}, status_code=400)
        return JSONResponse(market.acknowledge(ids))

    @app.post("/orders/{order_id}/shipments")
    def ship(order_id: str, shipment: ShipmentIn) -> JSONResponse:
        status, body = market.ship(order_id, shipment)
        return JSONResponse(body, status_code=status)

    @app.post("/orders/{order_id}/cancellation")
    def cancel(order_id: str, cancellation: CancellationIn) -> JSONResponse:
        status, body = market.cancel(order_id, cancellation.reason)
        return JSONResponse(body, status_code=status)

    @app.post(CONTROL_PREFIX + "/orders", status_code=201)
    def sell(data: SellIn) -> JSONResponse:
        try:
            order = market.sell(data.lines, customer=data.customer, address=data.shipping_address,
                                allow_unlisted=data.allow_unlisted)
        except ValueError as error:
            return JSONResponse({"detail": str(error)}, status_code=409)
        return JSONResponse(order.view(), status_code=201)

    @app.get(CONTROL_PREFIX + "/orders")
    def all_orders() -> dict[str, Any]:
        with market.lock:
            return {"orders": [order.view() for order in market.orders.values()]}

    @app.get(CONTROL_PREFIX + "/offers")
    def offers() -> dict[str, Any]:
        with market.lock:
            return {"offers": [dict(offer) for offer in market.offers.values()]}

    @app.get(CONTROL_PREFIX + "/late-shipments")
    def late() -> dict[str, Any]:
        return {"late": market.late_shipments()}

    @app.get(CONTROL_PREFIX + "/log")
    def log() -> dict[str, Any]:
        with market.lock:
            return {"requests": list(market.log)}

    @app.post(CONTROL_PREFIX + "/faults")
    def faults(data: FaultsIn) -> dict[str, Any]:
        return market.faults(fail_next=data.fail_next, status=data.status, throttle_next=data.throttle_next,
                             retry_after=data.retry_after, path=data.path)

    return app


class MarketplaceServer:
    """Serves a marketplace on a thread (port 0 picks a free port); ``stop()`` shuts it down."""

    def __init__(self, marketplace: Marketplace, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.marketplace = marketplace
        config = uvicorn.Config(marketplace.app(), host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="marketplace-simulator", daemon=True)

    def start(self, timeout_seconds: float = 10.0) -> MarketplaceServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_seconds
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the marketplace simulator did not start")
            time.sleep(0.01)
        return self

    @property
    def url(self) -> str:
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def parse_rate(value: str) -> tuple[int, float]:
    """``"10/s"``, ``"100/min"`` or ``"5"`` (per second) → (requests, window seconds)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*", value)
    if not match or int(match.group(1)) < 1:
        raise ValueError("write the rate limit as N/s or N/min")
    return int(match.group(1)), 60.0 if (match.group(2) or "s").startswith("m") else 1.0
