"""Errors of webhook subscriptions and deliveries."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, NotFound


class WebhookNotFound(NotFound):
    slug = "webhook-not-found"
    title = "Webhook subscription not found"

    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"webhook subscription '{webhook_id}' does not exist", webhook=webhook_id)


class DeliveryNotFound(NotFound):
    slug = "webhook-delivery-not-found"
    title = "Webhook delivery not found"

    def __init__(self, webhook_id: str, delivery_id: str) -> None:
        super().__init__(f"webhook subscription '{webhook_id}' has no delivery '{delivery_id}'",
                         webhook=webhook_id, delivery=delivery_id)


class DeliveryNotDead(Conflict):
    slug = "webhook-delivery-not-dead"
    title = "Only a dead delivery can be retried"

    def __init__(self, delivery_id: str, status: str) -> None:
        super().__init__(f"delivery '{delivery_id}' is {status}; only a dead delivery can be retried",
                         delivery=delivery_id, delivery_status=status)
