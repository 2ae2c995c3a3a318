"""Webhook subscriptions and their deliveries: create, read, change, delete, and retry a dead delivery."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from omniloom.platform.clock import Clock
from omniloom.platform.ids import new_id
from omniloom.platform.pagination import paginate
from omniloom.webhooks.errors import DeliveryNotDead, DeliveryNotFound, WebhookNotFound
from omniloom.webhooks.models import WebhookDelivery, WebhookSubscription
from omniloom.webhooks.schemas import DeliveryStatus, WebhookCreate, WebhookUpdate

SECRET_PREFIX = "whsec_"


def create_webhook(session: Session, data: WebhookCreate, *, clock: Clock) -> WebhookSubscription:
    """Subscribe ``data.url`` to the events named; a secret is generated when none is given."""
    now = clock.now()
    subscription = WebhookSubscription(
        id=new_id("whk"), url=data.url, events=list(data.events),
        secret=data.secret or SECRET_PREFIX + secrets.token_urlsafe(32), active=True, created_at=now, updated_at=now,
    )
    session.add(subscription)
    session.flush()
    return subscription


def get_webhook(session: Session, webhook_id: str) -> WebhookSubscription:
    """The subscription with this id; raises WebhookNotFound."""
    subscription = session.get(WebhookSubscription, webhook_id)
    if subscription is None:
        raise WebhookNotFound(webhook_id)
    return subscription


def list_webhooks(session: Session, *, limit: int, cursor: str | None = None
                  ) -> tuple[Sequence[WebhookSubscription], str | None]:
    """Subscriptions, oldest first, one page after ``cursor``."""
    return paginate(session, select(WebhookSubscription), key=WebhookSubscription.id, limit=limit, cursor=cursor)


def update_webhook(session: Session, webhook_id: str, data: WebhookUpdate, *, clock: Clock) -> WebhookSubscription:
    """Change the fields sent in ``data`` (url, events, active)."""
    subscription = get_webhook(session, webhook_id)
    changed = False
    for name, value in data.model_dump(include=data.model_fields_set).items():
        if getattr(subscription, name) != value:
            setattr(subscription, name, value)
            changed = True
    if changed:
        subscription.updated_at = clock.now()
    return subscription


def delete_webhook(session: Session, webhook_id: str) -> None:
    """Remove the subscription and its deliveries; nothing more is sent to it."""
    subscription = get_webhook(session, webhook_id)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == webhook_id))
    session.delete(subscription)
    session.flush()


def list_deliveries(session: Session, webhook_id: str, *, limit: int, cursor: str | None = None,
                    status: DeliveryStatus | None = None) -> tuple[Sequence[WebhookDelivery], str | None]:
    """The subscription's deliveries, oldest first (optionally only those in one status)."""
    get_webhook(session, webhook_id)
    statement = select(WebhookDelivery).where(WebhookDelivery.subscription_id == webhook_id)
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    return paginate(session, statement, key=WebhookDelivery.id, limit=limit, cursor=cursor)


def retry_delivery(session: Session, webhook_id: str, delivery_id: str, *, clock: Clock) -> WebhookDelivery:
    """Send a dead delivery again from now on, with a fresh backoff schedule and maximum age."""
    delivery = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                      WebhookDelivery.subscription_id == webhook_id).with_for_update()
    ).one_or_none()
    if delivery is None:
        get_webhook(session, webhook_id)
        raise DeliveryNotFound(webhook_id, delivery_id)
    if delivery.status != "dead":
        raise DeliveryNotDead(delivery_id, delivery.status)
    now = clock.now()
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.retrying_since = now
    delivery.next_attempt_at = now
    session.flush()
    return delivery
