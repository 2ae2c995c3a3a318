"""Sending stored messages: claim the due ones in one short transaction, talk to the mail server outside any
transaction, record the outcomes in another.

A claim leases the rows (``next_attempt_at`` moves past the time the batch can take), so a worker that dies
mid-send leaves them to be sent again: delivery is at least once, and a message the server accepted is never
sent again. Failed sends are retried with exponential backoff and full jitter until the maximum age; then the
message stays ``failed``. Several workers share the work with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from omniloom.customers import service as customers
from omniloom.engagement.mailer import Mailer, SmtpMailer, SmtpServer
from omniloom.engagement.models import Message
from omniloom.engagement.notifications import record_messages
from omniloom.engagement.rendering import Branding
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings
from omniloom.webhooks.retries import RetryPolicy

log = logging.getLogger("omniloom.engagement")
CLAIM_BATCH = 20
RETRYABLE = ("queued", "failed")


@dataclass(frozen=True)
class Claimed:
    """A leased message with everything needed to send it and to record that it was."""

    id: str
    customer_id: str | None
    template: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    attempts: int
    created_at: datetime
    order_id: str | None
    location: str | None
    sales_channel: str | None


@dataclass(frozen=True)
class Outcome:
    message: Claimed
    error: str | None

    @property
    def sent(self) -> bool:
        return self.error is None


def claim_due(session: Session, *, clock: Clock, lease: timedelta, limit: int = CLAIM_BATCH) -> list[Claimed]:
    """Lease the messages due now to this worker and count the attempt."""
    now = clock.now()
    rows = list(session.scalars(
        select(Message).where(Message.next_attempt_at <= now, Message.status.in_(RETRYABLE),
                              Message.recipient.is_not(None))
        .order_by(Message.next_attempt_at, Message.id).limit(limit).with_for_update(skip_locked=True)))
    for row in rows:
        row.attempts += 1
        row.last_attempt_at = now
        row.next_attempt_at = now + lease
    session.flush()
    return [Claimed(id=row.id, customer_id=row.customer_id, template=row.template, recipient=row.recipient or "",
                    subject=row.subject, body_text=row.body_text, body_html=row.body_html, attempts=row.attempts,
                    created_at=row.created_at, order_id=row.order_id, location=row.location,
                    sales_channel=row.sales_channel) for row in rows]


def compose(message: Claimed, *, sender: Address, now: datetime) -> EmailMessage:
    """The email of a stored message: plain text with an HTML alternative, the same Message-ID on every attempt."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = f"<{message.id}@{sender.domain}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    mail.set_content(message.body_text)
    mail.add_alternative(message.body_html, subtype="html")
    return mail


def record_outcomes(session: Session, outcomes: Sequence[Outcome], *, clock: Clock, policy: RetryPolicy,
                    rng: random.Random) -> int:
    """Mark sent ones sent (and on the customer's timeline); schedule the next try of the others, or give up."""
    now = clock.now()
    sent = 0
    for outcome in outcomes:
        message = outcome.message
        values: dict[str, object]
        if outcome.sent:
            values = {"status": "sent", "error": None, "next_attempt_at": None, "sent_at": now}
        else:
            due = policy.next_attempt(now=now, attempts=message.attempts, retrying_since=message.created_at, rng=rng)
            values = {"status": "failed", "error": outcome.error, "next_attempt_at": due}
        # Only a message still waiting: another worker whose lease ran out may have recorded it already.
        result = session.execute(update(Message).where(Message.id == message.id, Message.status.in_(RETRYABLE))
                                 .values(**values))
        changed = cast("CursorResult[Any]", result).rowcount
        if changed and outcome.sent:
            sent += 1
            _on_timeline(session, message, sent_at=now, clock=clock)
    return sent


def _on_timeline(session: Session, message: Claimed, *, sent_at: datetime, clock: Clock) -> None:
    if message.customer_id is None:
        return
    customers.record_message_sent(
        session, customer_id=message.customer_id, message_id=message.id, channel=message.sales_channel or "email",
        sent_at=sent_at, properties={"message_id": message.id, "template": message.template,
                                     "order_id": message.order_id, "location": message.location},
        clock=clock)


class Notifications:
    """The worker's engagement jobs: record the messages new events call for, then send what is due.

    Without ``OMNILOOM_SMTP_HOST`` and ``OMNILOOM_MAIL_FROM`` nothing is sent: each message is stored as
    ``skipped`` with the setting that is missing.
    """

    def __init__(self, database: Database, clock: Clock, *, settings: Settings, mailer: Mailer | None = None,
                 rng: random.Random | None = None) -> None:
        self.database = database
        self.clock = clock
        self.branding = Branding(name=settings.brand_name, color=settings.brand_color)
        server = SmtpServer.from_settings(settings)
        self.mailer = mailer or (SmtpMailer(server) if server else None)
        self.sender = (Address(display_name=settings.mail_from.name, addr_spec=settings.mail_from.email)
                       if settings.mail_from else None)
        self.mail_off = mail_off_reason(settings, has_mailer=self.mailer is not None)
        self.policy = RetryPolicy(base_seconds=settings.mail_backoff_base_seconds,
                                  cap_seconds=settings.mail_backoff_cap_seconds,
                                  max_age_seconds=settings.mail_max_age_seconds)
        # Longer than a batch can take, so a lease never runs out while its worker is still sending.
        self.lease = timedelta(seconds=CLAIM_BATCH * settings.smtp_timeout_seconds * 2 + 60)
        self.rng = rng or random.Random()

    def record_new(self) -> int:
        """Store the messages that newly numbered events call for; returns how many."""
        with self.database.write() as session:
            return record_messages(session, branding=self.branding, mail_off=self.mail_off, clock=self.clock)

    def send_due(self) -> int:
        """Send one batch of due messages; returns how many the mail server accepted."""
        if self.mailer is None or self.sender is None:
            return 0
        with self.database.write() as session:
            claimed = claim_due(session, clock=self.clock, lease=self.lease)
        if not claimed:
            return 0
        now = self.clock.now()
        errors = self.mailer.send([compose(message, sender=self.sender, now=now) for message in claimed])
        outcomes = [Outcome(message, error) for message, error in zip(claimed, errors, strict=True)]
        for outcome in outcomes:
            if not outcome.sent:  # the detail, which may name the address, is kept on the message only
                log.info("message %s (%s) was not sent, attempt %d: %s", outcome.message.id,
                         outcome.message.template, outcome.message.attempts, (outcome.error or "").split(":")[0])
        with self.database.write() as session:
            return record_outcomes(session, outcomes, clock=self.clock, policy=self.policy, rng=self.rng)


def mail_off_reason(settings: Settings, *, has_mailer: bool) -> str | None:
    """Why no email can be sent with these settings, or None when it can."""
    if not has_mailer:
        return "email is off: OMNILOOM_SMTP_HOST is not set"
    if settings.mail_from is None:
        return "email is off: OMNILOOM_MAIL_FROM is not set"
    return None
