"""The background worker: cleans up after checkouts whose process died, expires stale reservations and uncollected
pickups, numbers committed outbox events, emails customers and stores about them, relays them to webhook
subscribers and NATS JetStream, syncs channels through their connectors and keeps every channel's feed deltas
current, tick after tick."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from omniloom.engagement.delivery import Notifications
from omniloom.fulfillment import service as fulfillment
from omniloom.inventory import service as inventory
from omniloom.orders import checkout
from omniloom.orders import service as orders
from omniloom.platform import outbox
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings, get_settings
from omniloom.syndication import deltas
from omniloom.syndication.connectors.sync import sync_due
from omniloom.webhooks.dispatch import WebhookDispatcher
from omniloom.webhooks.jetstream import JetStreamPublisher, JetStreamRelay
from omniloom.webhooks.retries import RetryPolicy

log = logging.getLogger("omniloom.worker")
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class TickReport:
    reservations_expired: int
    events_numbered: int
    checkouts_abandoned: int = 0
    pickups_expired: int = 0
    deliveries_created: int = 0
    webhooks_delivered: int = 0
    events_published: int = 0
    messages_recorded: int = 0
    messages_sent: int = 0
    channels_synced: int = 0
    feeds_updated: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.reservations_expired or self.events_numbered or self.checkouts_abandoned
                    or self.pickups_expired or self.deliveries_created
                    or self.webhooks_delivered or self.events_published
                    or self.messages_recorded or self.messages_sent or self.channels_synced
                    or self.feeds_updated)


class Worker:
    """Runs each job in its own transaction; several workers may run at once (jobs claim rows with SKIP LOCKED).

    ``settings`` (the process settings by default) give the webhook timeouts and retry schedule, the NATS
    server to publish to, if any, and the mail server.
    """

    def __init__(self, database: Database, clock: Clock, *, interval_seconds: float,
                 settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        self.settings = settings
        self.database = database
        self.clock = clock
        self.interval = interval_seconds
        policy = RetryPolicy(base_seconds=settings.webhook_backoff_base_seconds,
                             cap_seconds=settings.webhook_backoff_cap_seconds,
                             max_age_seconds=settings.webhook_max_age_seconds)
        self.webhooks = WebhookDispatcher(database, clock, policy=policy,
                                          timeout_seconds=settings.webhook_timeout_seconds)
        self.jetstream = (JetStreamRelay(database, JetStreamPublisher(settings.nats_url))
                          if settings.nats_url else None)
        self.notifications = Notifications(database, clock, settings=settings)

    def tick(self) -> TickReport:
        """Run every job once."""
        with self.database.write() as session:
            abandoned = checkout.settle_abandoned(session, settings=self.settings, clock=self.clock)
        with self.database.write() as session:
            expired = inventory.expire_reservations(session, clock=self.clock)
        with self.database.write() as session:
            uncollected = len(fulfillment.expire_uncollected(
                session, settings=orders.fulfillment_settings(self.settings), clock=self.clock))
        with self.database.write() as session:
            numbered = outbox.assign_positions(session)
        recorded = self.notifications.record_new()
        sent = self.notifications.send_due()
        created = self.webhooks.fan_out()
        delivered = self.webhooks.deliver_due()
        published = self.jetstream.publish_pending() if self.jetstream else 0
        synced = len(sync_due(self.database, self.clock, settings=self.settings))
        feeds_updated = deltas.catch_up_all(self.database, clock=self.clock)
        return TickReport(reservations_expired=expired, events_numbered=numbered, checkouts_abandoned=abandoned,
                          pickups_expired=uncollected, deliveries_created=created,
                          webhooks_delivered=delivered, events_published=published, messages_recorded=recorded,
                          messages_sent=sent, channels_synced=synced,
                          feeds_updated=feeds_updated)

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; a failing tick is logged and retried with growing pauses."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    report = self.tick()
                    failures = 0
                except Exception:
                    failures += 1
                    log.exception("worker tick failed (%d in a row)", failures)
                    stop.wait(min(MAX_BACKOFF_SECONDS, self.interval * 2**failures))
                    continue
                if report.busy:
                    log.info("settled %d abandoned checkouts, expired %d reservations and %d pickups, numbered %d "
                             "events, created %d webhook deliveries, delivered %d, published %d events to NATS, "
                             "recorded %d messages, sent %d, synced %d channels, updated %d feeds",
                             report.checkouts_abandoned, report.reservations_expired, report.pickups_expired,
                             report.events_numbered, report.deliveries_created, report.webhooks_delivered,
                             report.events_published, report.messages_recorded, report.messages_sent,
                             report.channels_synced, report.feeds_updated)
                else:
                    stop.wait(self.interval)
        finally:
            self.close()

    def close(self) -> None:
        """Release the HTTP connections, sender threads and the NATS connection."""
        self.webhooks.close()
        if self.jetstream:
            self.jetstream.close()
