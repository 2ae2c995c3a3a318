"""Webhook delivery: numbered outbox events fan out to matching subscriptions, then each is POSTed until a 2xx.

Fan-out reads the numbered outbox after a single cursor row, locked for the transaction that inserts the deliveries
and moves the cursor, so each event creates exactly one delivery per matching subscription even with several
workers. Delivery claims due rows in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite
writers queue), makes the HTTP calls outside any transaction and records the outcomes in another. A claim leases
the row for ``CLAIM_SECONDS``: a worker that dies mid-call leaves it to be sent again, with the same event id.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import OutboxEvent
from omniloom.webhooks.models import RelayCursor, WebhookDelivery, WebhookSubscription
from omniloom.webhooks.patterns import matches
from omniloom.webhooks.retries import RetryPolicy
from omniloom.webhooks.schemas import event_body
from omniloom.webhooks.signing import SIGNATURE_HEADER, sign

log = logging.getLogger("omniloom.webhooks")
FAN_OUT_BATCH = 500
CLAIM_BATCH = 32
SENDERS = 8
CLAIM_SECONDS = 300  # > CLAIM_BATCH / SENDERS calls of at most 60 s (the largest timeout allowed)
CURSOR = "webhooks"


@dataclass(frozen=True)
class Attempt:
    """A claimed delivery with everything needed to send it, read in the claiming transaction."""

    delivery_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes
    attempts: int
    retrying_since: datetime


@dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def claim_cursor(session: Session, name: str) -> RelayCursor | None:
    """The relay cursor ``name``, locked for this transaction; None while another worker holds it."""
    statement = select(RelayCursor).where(RelayCursor.name == name).with_for_update(skip_locked=True)
    return session.scalars(statement).one_or_none()


def fan_out(session: Session, *, clock: Clock, batch: int = FAN_OUT_BATCH) -> int:
    """Create a pending delivery per matching active subscription for the next numbered events; returns how many."""
    cursor = claim_cursor(session, CURSOR)
    if cursor is None:
        return 0
    subscriptions = session.execute(
        select(WebhookSubscription.id, WebhookSubscription.events).where(WebhookSubscription.active)).all()
    if not subscriptions:
        # Nobody listens: skip what is numbered so far instead of reading it.
        cursor.position = session.scalar(select(func.max(OutboxEvent.position))) or cursor.position
        return 0
    events = session.execute(
        select(OutboxEvent.position, OutboxEvent.event_id, OutboxEvent.type)
        .where(OutboxEvent.position > cursor.position).order_by(OutboxEvent.position).limit(batch)).all()
    if not events:
        return 0
    now = clock.now()
    rows = [{"id": new_id("whd"), "subscription_id": subscription.id, "event_id": event.event_id,
             "event_type": event.type, "status": "pending", "attempts": 0, "created_at": now,
             "retrying_since": now, "next_attempt_at": now}
            for event in events for subscription in subscriptions if matches(subscription.events, event.type)]
    if rows:
        session.execute(insert(WebhookDelivery), rows)
    cursor.position = events[-1].position
    return len(rows)


def claim_due(session: Session, *, clock: Clock, limit: int = CLAIM_BATCH) -> list[Attempt]:
    """Lease the deliveries due now (of active subscriptions) to this worker and count the attempt."""
    now = clock.now()
    ids = list(session.scalars(
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
               WebhookSubscription.active)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)))
    if not ids:
        return []
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(
        attempts=WebhookDelivery.attempts + 1, last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)))
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.retrying_since,
               WebhookSubscription.url, WebhookSubscription.secret, OutboxEvent)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(OutboxEvent, OutboxEvent.event_id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)).all()
    return [Attempt(delivery_id=row.id, url=row.url, secret=row.secret, event_id=row.OutboxEvent.event_id,
                    event_type=row.OutboxEvent.type, body=event_body(row.OutboxEvent), attempts=row.attempts,
                    retrying_since=row.retrying_since) for row in rows]


def send(client: httpx.Client, attempt: Attempt, *, clock: Clock) -> Outcome:
    """POST the signed event; any 2xx answer delivers it. Never raises: a failure is the outcome."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(attempt.body, secret=attempt.secret, timestamp=int(clock.now().timestamp())),
        "Omniloom-Event-Id": attempt.event_id,
        "Omniloom-Event-Type": attempt.event_type,
    }
    try:
        with client.stream("POST", attempt.url, content=attempt.body, headers=headers) as response:
            status_code = response.status_code  # the answer's body is never read
    except Exception as error:  # refused, timed out, bad TLS, bad address: all mean "try again later"
        return Outcome(attempt, None, f"{type(error).__name__}: {error}"[:500])
    return Outcome(attempt, status_code, None if 200 <= status_code < 300 else f"HTTP {status_code}")


def record_outcomes(session: Session, outcomes: Sequence[Outcome], *, clock: Clock, policy: RetryPolicy,
                    rng: random.Random) -> int:
    """Mark delivered ones delivered, schedule the next attempt of the others or mark them dead; returns delivered."""
    now = clock.now()
    for outcome in outcomes:
        values: dict[str, object] = {"last_status_code": outcome.status_code, "last_error": outcome.error}
        if outcome.delivered:
            values.update(status="delivered", next_attempt_at=None, delivered_at=now)
        else:
            due = policy.next_attempt(now=now, attempts=outcome.attempt.attempts,
                                      retrying_since=outcome.attempt.retrying_since, rng=rng)
            values.update(status="pending" if due else "dead", next_attempt_at=due)
        # Only a row still pending: another worker that re-claimed an expired lease may have delivered it already.
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == outcome.attempt.delivery_id,
                                                      WebhookDelivery.status == "pending").values(**values))
    return sum(outcome.delivered for outcome in outcomes)


class WebhookDispatcher:
    """The worker's webhook jobs: fan out new events, then deliver what is due (several calls at once)."""

    def __init__(self, database: Database, clock: Clock, *, policy: RetryPolicy, timeout_seconds: float,
                 rng: random.Random | None = None) -> None:
        self.database = database
        self.clock = clock
        self.policy = policy
        self.rng = rng or random.Random()
        self.client = httpx.Client(timeout=timeout_seconds, follow_redirects=False,
                                   headers={"User-Agent": "Omniloom-Webhooks/1"})
        self.senders = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="omniloom-webhook")

    def fan_out(self) -> int:
        """Create the deliveries of newly numbered events; returns how many."""
        with self.database.write() as session:
            return fan_out(session, clock=self.clock)

    def deliver_due(self) -> int:
        """Send one batch of due deliveries; returns how many were delivered."""
        with self.database.write() as session:
            attempts = claim_due(session, clock=self.clock)
        if not attempts:
            return 0
        outcomes = list(self.senders.map(lambda attempt: send(self.client, attempt, clock=self.clock), attempts))
        for outcome in outcomes:
            if not outcome.delivered:
                log.info("webhook delivery %s of %s to %s failed: %s", outcome.attempt.delivery_id,
                         outcome.attempt.event_id, outcome.attempt.url, outcome.error)
        with self.database.write() as session:
            return record_outcomes(session, outcomes, clock=self.clock, policy=self.policy, rng=self.rng)

    def close(self) -> None:
        """Stop the sender threads and close connections."""
        self.senders.shutdown(wait=True)
        self.client.close()
