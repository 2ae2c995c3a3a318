"""Which messages the numbered outbox calls for, recorded once per event and template.

The ``engagement`` consumer reads ``fulfillment.created`` (a pickup or curbside order: tell the store) and
``fulfillment.ready_for_pickup`` (tell the customer), and ``customer.erased`` (forget the person's addresses).
Each message is rendered and stored here, in the transaction that moves the consumer's cursor; it is sent later,
outside any transaction. A message that cannot go out (no address, email switched off, the order gone) is
stored as ``skipped`` with the reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omniloom.catalog import service as catalog
from omniloom.catalog.errors import VariantNotFound
from omniloom.customers.events import CustomerErased
from omniloom.engagement.models import Message
from omniloom.engagement.rendering import Branding, Rendered, TemplateName, local_time, method_label, render
from omniloom.fulfillment.events import FulfilledLine, FulfillmentCreated, FulfillmentReadyForPickup
from omniloom.inventory import service as inventory
from omniloom.orders import service as orders
from omniloom.platform import outbox
from omniloom.platform.clock import Clock
from omniloom.platform.errors import OmniloomError
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import OutboxEvent

CONSUMER = "engagement"
EVENT_TYPES = (FulfillmentCreated.event_type, FulfillmentReadyForPickup.event_type, CustomerErased.event_type)
COLLECTED_METHODS = frozenset({"pickup", "curbside"})
BATCH = 100
ERASED = "erased"


class StoreFacts(Protocol):
    """What a message says about a location (an inventory location row)."""

    code: str
    name: str
    address: dict[str, Any]


@dataclass(frozen=True)
class Draft:
    """A message about to be stored: to whom, what, and why it will not be sent if it will not."""

    template: TemplateName
    rendered: Rendered
    recipient: str | None
    skip_reason: str | None
    customer_id: str | None
    order_id: str
    location: str
    sales_channel: str


def record_messages(session: Session, *, branding: Branding, mail_off: str | None, clock: Clock,
                    limit: int = BATCH) -> int:
    """Store the messages of the next events after the ``engagement`` cursor and move it; returns how many.
    ``mail_off`` is why email cannot be sent at all (every message is then skipped with it), or None."""
    batch = outbox.events_after(session, consumer=CONSUMER, types=EVENT_TYPES, limit=limit)
    if batch is None:
        return 0
    stored = _stored_keys(session, [event.event_id for event in batch.events])
    recorded = 0
    for event in batch.events:
        if event.type == CustomerErased.event_type:
            forget_customer(session, profile_ids=CustomerErased.model_validate(event.payload).profile_ids)
            continue
        draft = draft_for(session, event, branding=branding)
        if draft is None or (event.event_id, draft.template) in stored:
            continue
        session.add(_message(draft, event_id=event.event_id, mail_off=mail_off, now=clock.now()))
        recorded += 1
    session.flush()
    outbox.advance(session, consumer=CONSUMER, position=batch.through)
    return recorded


def _stored_keys(session: Session, event_ids: Sequence[str]) -> set[tuple[str, str]]:
    if not event_ids:
        return set()
    rows = session.execute(select(Message.event_id, Message.template).where(Message.event_id.in_(event_ids)))
    return {(row.event_id, row.template) for row in rows}


def _message(draft: Draft, *, event_id: str, mail_off: str | None, now: datetime) -> Message:
    skip_reason = draft.skip_reason or mail_off
    return Message(
        id=new_id("msg"), customer_id=draft.customer_id, channel="email", template=draft.template,
        recipient=draft.recipient, subject=draft.rendered.subject, body_text=draft.rendered.text,
        body_html=draft.rendered.html, status="skipped" if skip_reason else "queued", error=skip_reason,
        attempts=0, event_id=event_id, order_id=draft.order_id, location=draft.location,
        sales_channel=draft.sales_channel, created_at=now, next_attempt_at=None if skip_reason else now)


def draft_for(session: Session, event: OutboxEvent, *, branding: Branding) -> Draft | None:
    """The message an event calls for, or None (a shipment needs no store notice)."""
    if event.type == FulfillmentReadyForPickup.event_type:
        return pickup_ready(session, FulfillmentReadyForPickup.model_validate(event.payload), branding=branding)
    created = FulfillmentCreated.model_validate(event.payload)
    if created.method not in COLLECTED_METHODS:
        return None
    return store_new_pickup(session, created, branding=branding)


def pickup_ready(session: Session, event: FulfillmentReadyForPickup, *, branding: Branding) -> Draft:
    """Tell the customer their order waits at the store, until when, and what is in it."""
    try:
        contact = orders.order_contact(session, event.order_id)
        store = inventory.get_location(session, event.location)
    except OmniloomError as error:
        return _unpreparable("pickup_ready", event, reason=error.detail)
    context = {"order_number": event.order_id, "method": event.method, "method_label": method_label(event.method),
               "name": contact.name, "store": _store(store), "items": _items(session, event.lines),
               "pickup_until": local_time(event.pickup_expires_at, store.timezone)}
    recipient, problem = _address(contact.email, missing="the order has no email address for the customer")
    return Draft(template="pickup_ready", rendered=render("pickup_ready", context, branding=branding),
                 recipient=recipient, skip_reason=problem, customer_id=contact.customer_id,
                 order_id=event.order_id, location=event.location, sales_channel=event.channel)


def store_new_pickup(session: Session, event: FulfillmentCreated, *, branding: Branding) -> Draft:
    """Tell the store a pickup or curbside order is coming: what to prepare and by when."""
    try:
        store = inventory.get_location(session, event.location)
    except OmniloomError as error:
        return _unpreparable("store_new_pickup", event, reason=error.detail)
    ready_by = local_time(event.promised_ready_at, store.timezone) if event.promised_ready_at else None
    context = {"order_number": event.order_id, "method": event.method, "method_label": method_label(event.method),
               "store": _store(store), "items": _items(session, event.lines), "ready_by": ready_by,
               "sales_channel": event.channel}
    recipient, problem = _address(store.email, missing=f"location {store.code} has no email address")
    return Draft(template="store_new_pickup", rendered=render("store_new_pickup", context, branding=branding),
                 recipient=recipient, skip_reason=problem, customer_id=None, order_id=event.order_id,
                 location=event.location, sales_channel=event.channel)


def _unpreparable(template: TemplateName, event: FulfillmentCreated | FulfillmentReadyForPickup, *,
                  reason: str) -> Draft:
    return Draft(template=template, rendered=Rendered(subject="", text="", html=""), recipient=None,
                 skip_reason=f"could not be prepared: {reason}", customer_id=None, order_id=event.order_id,
                 location=event.location, sales_channel=event.channel)


def _address(address: str | None, *, missing: str) -> tuple[str | None, str | None]:
    """The normalised address and None, or what is wrong with it."""
    if not address:
        return None, missing
    try:
        return validate_email(address, check_deliverability=False).normalized, None
    except EmailNotValidError as error:
        return address, f"the email address is not valid: {error}"


def _store(location: StoreFacts) -> dict[str, Any]:
    address = location.address
    city = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    lines = [address.get("line1"), address.get("line2"), city, address.get("country")]
    return {"code": location.code, "name": location.name, "address": [line for line in lines if line]}


def _items(session: Session, lines: Sequence[FulfilledLine]) -> list[dict[str, Any]]:
    return [{"sku": line.sku, "quantity": line.quantity, "title": _title(session, line.sku)} for line in lines]


def _title(session: Session, sku: str) -> str:
    try:
        variant = catalog.get_variant(session, sku)
    except VariantNotFound:
        return sku
    title = catalog.get_product(session, variant.product_id).title
    options = ", ".join(f"{name} {value}" for name, value in sorted(variant.options.items()))
    return f"{title} ({options})" if options else title


def forget_customer(session: Session, *, profile_ids: Sequence[str]) -> None:
    """Drop the erased person's addresses and the text written to them; what was still to be sent is not sent."""
    session.flush()  # messages recorded earlier in this batch are forgotten too
    mine = Message.customer_id.in_(profile_ids)
    session.execute(update(Message).where(mine, Message.next_attempt_at.is_not(None))
                    .values(status="skipped", error="the customer was erased before it was sent",
                            next_attempt_at=None))
    session.execute(update(Message).where(mine).values(recipient=ERASED, body_text="", body_html=""))
    session.execute(update(Message).where(mine, Message.error.is_not(None), Message.status != "skipped")
                    .values(error=ERASED))

