"""Keeping a channel and Omniloom in step through its connector.

One sync: push the feed's changes since the connector's cursor (new or changed listings in full, the rest as
stock-and-price updates, removals), pull the channel's orders and import each through the orders module,
acknowledge them, then push tracking of shipped fulfillments and cancellations from the outbox after the
connector's position.

Every call to the channel happens outside database transactions and is retried with backoff (honouring
``Retry-After``). A cursor moves only past work the channel took, or work kept as a dead letter: work the channel
refuses (4xx) becomes a dead letter at once, work it keeps refusing as unavailable once the failing streak is older
than the connector's ``give_up_after_seconds``. Until then nothing advances, so nothing is lost while it is down.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omniloom.orders import checkout
from omniloom.orders import schemas as order_schemas
from omniloom.orders import service as orders
from omniloom.platform import outbox
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.errors import OmniloomError
from omniloom.platform.http import field_path
from omniloom.platform.settings import Settings, get_settings
from omniloom.syndication import deltas
from omniloom.syndication import service as feeds
from omniloom.syndication.connectors import service
from omniloom.syndication.connectors.base import (
    Cancellation,
    Connector,
    ConnectorRejected,
    ConnectorUnavailable,
    PulledOrder,
    Shipment,
    ShippedLine,
    content_hash,
)
from omniloom.syndication.connectors.errors import ConnectorFailed, SyncInProgress
from omniloom.syndication.connectors.files import FileConnector
from omniloom.syndication.connectors.http import HttpConnector
from omniloom.syndication.connectors.schemas import FileSettings, HttpSettings, SyncReportOut
from omniloom.syndication.connectors.service import ConnectorConfig
from omniloom.syndication.items import FeedItem
from omniloom.syndication.validation import Validator, has_errors, target_for
from omniloom.webhooks.retries import retry_delay

log = logging.getLogger("omniloom.connectors")
T = TypeVar("T")

ATTEMPTS = 4  # calls per piece of work in one sync
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
LONGEST_WAIT_SECONDS = 30.0  # a longer Retry-After ends the sync; the next one is scheduled after it
PUSH_BATCH = 500
EVENT_BATCH = 200
EVENT_TYPES = ("fulfillment.shipped", "order.cancelled")

Sleep = Callable[[float], None]
ConnectorFactory = Callable[[ConnectorConfig], Connector]


def build_connector(config: ConnectorConfig) -> Connector:
    """The connector a configuration describes."""
    if config.type == "file":
        return FileConnector(FileSettings.model_validate(config.settings))
    return HttpConnector(HttpSettings.model_validate(config.settings))


@dataclass
class SyncReport:
    """What one sync did."""

    channel: str
    listings_pushed: int = 0
    stock_updates_pushed: int = 0
    removals_pushed: int = 0
    orders_pulled: int = 0
    orders_imported: int = 0
    orders_held: int = 0
    orders_already_imported: int = 0
    orders_acknowledged: int = 0
    tracking_pushed: int = 0
    cancellations_pushed: int = 0
    dead_lettered: int = 0
    waited_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    retry_after: float | None = None

    def out(self) -> SyncReportOut:
        return SyncReportOut(**{name: getattr(self, name) for name in SyncReportOut.model_fields})

    def summary(self) -> str:
        """One line for people."""
        text = (f"{self.channel}: pushed {self.listings_pushed} listings, {self.stock_updates_pushed} stock and "
                f"price updates, {self.removals_pushed} removals; pulled {self.orders_pulled} orders "
                f"({self.orders_imported} imported, {self.orders_held} on hold, {self.orders_already_imported} "
                f"already imported), acknowledged {self.orders_acknowledged}; pushed {self.tracking_pushed} "
                f"shipments and {self.cancellations_pushed} cancellations; {self.dead_lettered} dead-lettered")
        return text + ("; failed: " + "; ".join(self.failures) if self.failures else "")


class _Stop(Exception):
    """The channel is unavailable: end this sync, keep the cursors where they are."""


def sync_channel(database: Database, channel_code: str, clock: Clock, *, settings: Settings | None = None,
                 sleep: Sleep = time.sleep, connector_for: ConnectorFactory = build_connector,
                 rng: random.Random | None = None) -> SyncReport:
    """Sync one channel through its connector; raises ConnectorNotConfigured, ConnectorDisabled, SyncInProgress."""
    with database.write() as session:
        config = service.take_lease(session, channel_code=channel_code, clock=clock)
    report = SyncReport(channel=channel_code)
    connector: Connector | None = None
    try:
        connector = connector_for(config)
        run = _Run(database, config, connector, clock, settings or get_settings(), sleep, rng or random.Random(),
                   report)
        for what, step in (("pushing the feed", run.push_feed), ("pulling orders", run.pull_orders),
                           ("pushing tracking and cancellations", run.push_events)):
            try:
                step()
            except _Stop:
                break
            except OmniloomError as error:  # e.g. the channel has no feed settings: the other steps still run
                report.failures.append(f"{what}: {error.detail}")
    finally:
        if connector is not None:
            connector.close()
        with database.write() as session:
            service.end_sync(session, channel_code=channel_code, error="; ".join(report.failures) or None,
                             retry_after=report.retry_after, clock=clock)
    log.info("%s", report.summary())
    return report


def sync_due(database: Database, clock: Clock, *, settings: Settings | None = None, sleep: Sleep = time.sleep
             ) -> list[SyncReport]:
    """Sync every channel whose enabled connector is due (the worker's job); a failing channel is logged."""
    with database.read() as session:
        due = service.due_channels(session, clock=clock)
    reports = []
    for channel_code in due:
        try:
            reports.append(sync_channel(database, channel_code, clock, settings=settings, sleep=sleep))
        except SyncInProgress:
            continue
        except Exception:
            log.exception("syncing channel %s failed", channel_code)
    return reports


class _Run:
    """One sync of one channel."""

    def __init__(self, database: Database, config: ConnectorConfig, connector: Connector, clock: Clock,
                 settings: Settings, sleep: Sleep, rng: random.Random, report: SyncReport) -> None:
        self.database, self.config, self.connector, self.clock = database, config, connector, clock
        self.settings, self.sleep, self.rng, self.report = settings, sleep, rng, report
        self.channel = config.channel

    # ------------------------------------------------------------------ calls

    def call(self, what: str, attempt_call: Callable[[], T]) -> T:
        """Call the channel, retrying with backoff; raises ConnectorUnavailable when it stays unavailable."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return attempt_call()
            except ConnectorUnavailable as error:
                wait = error.retry_after if error.retry_after is not None else retry_delay(
                    attempt, base_seconds=BACKOFF_BASE_SECONDS, cap_seconds=BACKOFF_CAP_SECONDS, rng=self.rng)
                if attempt == ATTEMPTS or wait > LONGEST_WAIT_SECONDS:
                    if error.retry_after is not None:
                        self.report.retry_after = error.retry_after
                    raise
                log.info("%s for channel %s: %s; trying again in %.1f s", what, self.channel, error.reason, wait)
                self.sleep(wait)
                self.report.waited_seconds += wait
        raise AssertionError("unreachable")

    def unavailable(self, what: str, error: ConnectorUnavailable) -> bool:
        """Note the failure; True when the streak is old enough that the work goes to the dead letters."""
        self.report.failures.append(f"{what}: {error.reason}")
        return self.config.giving_up(self.clock.now())

    def dead_letter(self, kind: Any, subject: str, payload: dict[str, Any], reason: str) -> None:
        with self.database.write() as session:
            service.add_dead_letter(session, channel_code=self.channel, kind=kind, subject=subject, payload=payload,
                                    reason=reason, clock=self.clock)
        self.report.dead_lettered += 1

    # ------------------------------------------------------------------ feed

    def push_feed(self) -> None:
        """Push what changed since the connector's feed cursor; the cursor moves once the channel has it all."""
        with self.database.write() as session:
            changes, next_cursor = deltas.changes_since(session, channel_code=self.channel,
                                                        cursor=self.config.feed_cursor, clock=self.clock)
            upserts = [change.item for change in changes if change.item is not None]
            removed = [change.sku for change in changes if change.item is None]
            known = service.pushed_hashes(session, channel_code=self.channel, skus=[item.id for item in upserts])
        fingerprints = {item.id: content_hash(item) for item in upserts}
        listings = [item for item in upserts if known.get(item.id) != fingerprints[item.id]]
        offers = [item for item in upserts if known.get(item.id) == fingerprints[item.id]]
        try:
            refused = self._push_batches(listings, removed, offers)
        except ConnectorUnavailable as error:
            if not self.unavailable("pushing the feed", error):
                raise _Stop from None
            refused = {sku: f"kept failing: {error.reason}" for sku in [*fingerprints, *removed]}
        with self.database.write() as session:
            for sku, reason in refused.items():
                service.add_dead_letter(session, channel_code=self.channel, kind="listing", subject=sku,
                                        payload={"sku": sku}, reason=reason, clock=self.clock)
            self.report.dead_lettered += len(refused)
            service.record_pushed(session, channel_code=self.channel,
                                  listed={sku: value for sku, value in fingerprints.items() if sku not in refused},
                                  removed=[sku for sku in [*removed, *refused]], clock=self.clock)
            service.set_feed_cursor(session, channel_code=self.channel, cursor=next_cursor)

    def _push_batches(self, listings: Sequence[FeedItem], removed: Sequence[str], offers: Sequence[FeedItem]
                      ) -> dict[str, str]:
        refused: dict[str, str] = {}
        for start in range(0, max(len(listings), len(removed)), PUSH_BATCH):
            items, gone = listings[start:start + PUSH_BATCH], removed[start:start + PUSH_BATCH]
            refused.update(self._push("pushing listings", partial(self.connector.push_listings, items, gone),
                                      [item.id for item in items] + list(gone)))
            self.report.listings_pushed += len([item for item in items if item.id not in refused])
            self.report.removals_pushed += len([sku for sku in gone if sku not in refused])
        for start in range(0, len(offers), PUSH_BATCH):
            batch = offers[start:start + PUSH_BATCH]
            refused.update(self._push("pushing stock and prices",
                                      partial(self.connector.push_stock_and_prices, batch), [i.id for i in batch]))
            self.report.stock_updates_pushed += len([item for item in batch if item.id not in refused])
        return refused

    def _push(self, what: str, push: Callable[[], Any], skus: Sequence[str]) -> dict[str, str]:
        try:
            result = self.call(what, push)
        except ConnectorRejected as error:
            return dict.fromkeys(skus, error.reason)
        return {sku: reason for sku, reason in result.rejected.items() if sku in set(skus)}

    # ------------------------------------------------------------------ orders

    def pull_orders(self) -> None:
        """Import the channel's new orders and acknowledge them; an order that cannot be read is a dead letter."""
        try:
            pulled = self.call("pulling orders", self.connector.pull_orders)
        except ConnectorUnavailable as error:
            self.unavailable("pulling orders", error)
            raise _Stop from None
        except ConnectorRejected as error:
            self.report.failures.append(f"pulling orders: {error.reason}")
            return
        self.report.orders_pulled = len(pulled)
        taken = [order.external_id for order in pulled if self.import_pulled(order)]
        if not taken:
            return
        try:
            self.call("acknowledging orders", lambda: self.connector.acknowledge_orders(taken))
        except ConnectorUnavailable as error:
            # Not acknowledged: the channel offers them again and importing them again finds them.
            self.unavailable("acknowledging orders", error)
            raise _Stop from None
        except ConnectorRejected as error:
            self.dead_letter("acknowledgement", ",".join(taken), {"ids": taken}, error.reason)
            return
        self.report.orders_acknowledged = len(taken)

    def import_pulled(self, pulled: PulledOrder) -> bool:
        """Import one pulled order (or keep it as a dead letter); True when it may be acknowledged."""
        status, problem = import_order(self.database, self.channel, pulled, settings=self.settings,
                                       clock=self.clock)
        if problem is not None:
            self.dead_letter("order", pulled.external_id or "(no id)", {"order": pulled.data}, problem)
        elif status == 201:
            self.report.orders_imported += 1
        elif status == 202:
            self.report.orders_held += 1
        else:
            self.report.orders_already_imported += 1
        return bool(pulled.external_id)

    # ------------------------------------------------------------------ tracking and cancellations

    def push_events(self) -> None:
        """Push shipments and cancellations of the channel's orders recorded after the connector's position."""
        position = self.config.event_position
        with self.database.write() as session:
            outbox.assign_positions(session)
        while True:
            with self.database.read() as session:
                events = outbox.changes_since(session, cursor=position, limit=EVENT_BATCH, types=EVENT_TYPES)
                work = [(event.position or 0, _work_of(session, self.channel, event.type, event.payload))
                        for event in events]
            for event_position, item in work:
                if item is not None and not self._deliver(item):
                    self._save_position(position)
                    raise _Stop
                position = event_position
            self._save_position(position)
            if len(events) < EVENT_BATCH:
                return

    def _save_position(self, position: int) -> None:
        if position > self.config.event_position:
            with self.database.write() as session:
                service.set_event_position(session, channel_code=self.channel, position=position)

    def _deliver(self, item: Shipment | Cancellation) -> bool:
        """Push one shipment or cancellation; False when the channel is unavailable and the work must wait."""
        kind, subject, push = _push_of(self.connector, item)
        try:
            self.call(f"pushing {kind}", push)
        except ConnectorRejected as error:
            self.dead_letter(kind, subject, item.stored(), error.reason)
            return True
        except ConnectorUnavailable as error:
            if not self.unavailable(f"pushing {kind} {subject}", error):
                return False
            self.dead_letter(kind, subject, item.stored(), f"kept failing: {error.reason}")
            return True
        if kind == "tracking":
            self.report.tracking_pushed += 1
        else:
            self.report.cancellations_pushed += 1
        return True


def _work_of(session: Any, channel: str, event_type: str, payload: dict[str, Any]) -> Shipment | Cancellation | None:
    """What the channel must hear of an outbox event: only about its own imported orders."""
    if payload.get("channel") != channel:
        return None
    if event_type == "order.cancelled":
        external_id = payload.get("external_id")
        return Cancellation(external_order_id=external_id, reason="cancelled by the merchant") if external_id else None
    external_id = orders.get_order(session, payload["order_id"]).external_id
    if external_id is None:
        return None
    return Shipment(external_order_id=external_id, shipment_id=payload["fulfillment_id"],
                    carrier=payload["carrier"], tracking_number=payload["tracking_number"],
                    shipped_at=_parse_time(payload["shipped_at"]),
                    lines=tuple(ShippedLine(line["sku"], line["quantity"]) for line in payload["lines"]))


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _push_of(connector: Connector, item: Shipment | Cancellation) -> tuple[Any, str, Callable[[], None]]:
    if isinstance(item, Shipment):
        return ("tracking", f"{item.external_order_id}/{item.shipment_id}",
                lambda: connector.push_tracking(item))
    return "cancellation", item.external_order_id, lambda: connector.push_cancellation(item)


# ---------------------------------------------------------------------------------------------- order import


class _Line(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sku: str | None = None
    listing_id: str | None = None
    quantity: int
    unit_price: int | None = None


class _Contact(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    email: str | None = None
    phone: str | None = None


class MarketplaceOrder(BaseModel):
    """An order in the marketplace order shape, as connectors hand it over."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    currency: str | None = None
    lines: list[_Line] = Field(min_length=1)
    customer: _Contact = Field(default_factory=_Contact)
    shipping_address: dict[str, Any]


def order_request(channel: str, data: dict[str, Any]) -> order_schemas.OrderIn:
    """The import request of a pulled order; raises ValidationError naming what is wrong with it."""
    order = MarketplaceOrder.model_validate(data)
    return order_schemas.OrderIn.model_validate({
        "channel": channel, "external_id": order.id, "currency": order.currency,
        "customer": order.customer.model_dump(exclude_none=True),
        "lines": [line.model_dump(exclude_none=True) for line in order.lines],
        "fulfillment": {"method": "ship", "address": order.shipping_address}})


def import_order(database: Database, channel: str, pulled: PulledOrder, *, settings: Settings, clock: Clock
                 ) -> tuple[int, str | None]:
    """Import a pulled order through the orders module: (201 placed | 202 on hold | 200 already there, None), or
    (0, why it cannot be imported)."""
    if "error" in pulled.data:
        return 0, str(pulled.data["error"])
    try:
        request = order_request(channel, pulled.data)
    except ValidationError as error:
        return 0, "; ".join(f"{field_path(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                            for e in error.errors()[:5])
    context = checkout.Context(db=database, settings=settings, clock=clock, actor=f"connector:{channel}")
    try:
        return checkout.import_order(context, data=request).status_code, None
    except OmniloomError as error:
        return 0, error.detail


# ---------------------------------------------------------------------------------------------- dead letters


def retry_dead_letter(database: Database, channel_code: str, letter_id: str, clock: Clock, *,
                      settings: Settings | None = None, connector_for: ConnectorFactory = build_connector) -> Any:
    """Try a dead letter once more (one call, no waiting); returns it, delivered, or raises ConnectorFailed with
    the channel's new answer (kept as its reason)."""
    with database.read() as session:
        letter = service.open_dead_letter(session, channel_code=channel_code, letter_id=letter_id)
        config = service.config_of(service.get_connector(session, channel_code))
        kind, payload = letter.kind, dict(letter.payload)
    connector = connector_for(config)
    try:
        error = _redeliver(database, config, connector, kind, payload, clock=clock,
                           settings=settings or get_settings())
    finally:
        connector.close()
    with database.write() as session:
        letter = service.settle_dead_letter(session, channel_code=channel_code, letter_id=letter_id, error=error,
                                            clock=clock)
    if error is not None:
        raise ConnectorFailed(f"channel '{channel_code}' did not take it: {error}", dead_letter=letter_id)
    return letter


def _redeliver(database: Database, config: ConnectorConfig, connector: Connector, kind: str,
               payload: dict[str, Any], *, clock: Clock, settings: Settings) -> str | None:
    try:
        if kind == "listing":
            return _relist(database, config.channel, connector, payload["sku"], clock=clock)
        if kind == "order":
            pulled = PulledOrder(str(payload["order"].get("id") or ""), payload["order"])
            _status, problem = import_order(database, config.channel, pulled, settings=settings, clock=clock)
            if problem is not None:
                return problem
            connector.acknowledge_orders([pulled.external_id])
        elif kind == "acknowledgement":
            connector.acknowledge_orders(payload["ids"])
        elif kind == "tracking":
            connector.push_tracking(Shipment.from_stored(payload))
        else:
            connector.push_cancellation(Cancellation(payload["external_order_id"], payload["reason"]))
    except (ConnectorUnavailable, ConnectorRejected) as error:
        return error.reason
    return None


def _relist(database: Database, channel: str, connector: Connector, sku: str, *, clock: Clock) -> str | None:
    """Push the SKU's listing as the feed shows it now (or its removal, when the feed no longer has it)."""
    with database.read() as session:
        feed = feeds.feed_channel(session, channel)
        validator = Validator(target_for(feed.type), currency=feed.currency)
        items = [item for item in feeds.feed_items(session, channel_code=channel, skus=[sku])
                 if not has_errors(validator.check(item))]
    result = connector.push_listings(items, [] if items else [sku])
    if sku in result.rejected:
        return result.rejected[sku]
    with database.write() as session:
        service.record_pushed(session, channel_code=channel, listed={item.id: content_hash(item) for item in items},
                              removed=[] if items else [sku], clock=clock)
    return None
