"""HTTP endpoints of webhook subscriptions and their deliveries (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from omniloom.platform.http import DEFAULT_PAGE_LIMIT, AdminDep, ClockDep, CursorQuery, DatabaseDep, LimitQuery
from omniloom.platform.pagination import Page
from omniloom.webhooks import service
from omniloom.webhooks.schemas import (
    DeliveryOut,
    DeliveryStatus,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
def create_webhook(body: WebhookCreate, _: AdminDep, db: DatabaseDep, clock: ClockDep) -> WebhookCreated:
    """Subscribe a URL to events; the response is the only one that shows the signing secret."""
    with db.write() as session:
        return WebhookCreated.model_validate(service.create_webhook(session, body, clock=clock))


@router.get("/webhooks", response_model=Page[WebhookOut])
def list_webhooks(_: AdminDep, db: DatabaseDep, limit: LimitQuery = DEFAULT_PAGE_LIMIT,
                  cursor: CursorQuery = None) -> Page[WebhookOut]:
    """Subscriptions, oldest first."""
    with db.read() as session:
        subscriptions, next_cursor = service.list_webhooks(session, limit=limit, cursor=cursor)
        return Page(items=[WebhookOut.model_validate(item) for item in subscriptions], next_cursor=next_cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, _: AdminDep, db: DatabaseDep) -> WebhookOut:
    """One subscription (without its secret)."""
    with db.read() as session:
        return WebhookOut.model_validate(service.get_webhook(session, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
def update_webhook(webhook_id: str, body: WebhookUpdate, _: AdminDep, db: DatabaseDep,
                   clock: ClockDep) -> WebhookOut:
    """Change the URL, the events or pause (``active: false``) a subscription; only the fields sent change."""
    with db.write() as session:
        return WebhookOut.model_validate(service.update_webhook(session, webhook_id, body, clock=clock))


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_webhook(webhook_id: str, _: AdminDep, db: DatabaseDep) -> Response:
    """Remove a subscription and its deliveries."""
    with db.write() as session:
        service.delete_webhook(session, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(webhook_id: str, _: AdminDep, db: DatabaseDep,
                    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
                    limit: LimitQuery = DEFAULT_PAGE_LIMIT, cursor: CursorQuery = None) -> Page[DeliveryOut]:
    """The subscription's deliveries, oldest first: status, attempts, last answer and next attempt."""
    with db.read() as session:
        deliveries, next_cursor = service.list_deliveries(session, webhook_id, limit=limit, cursor=cursor,
                                                          status=delivery_status)
        return Page(items=[DeliveryOut.model_validate(item) for item in deliveries], next_cursor=next_cursor)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
def retry_delivery(webhook_id: str, delivery_id: str, _: AdminDep, db: DatabaseDep, clock: ClockDep) -> DeliveryOut:
    """Send a dead delivery again (409 unless it is dead); it gets a fresh retry schedule."""
    with db.write() as session:
        return DeliveryOut.model_validate(service.retry_delivery(session, webhook_id, delivery_id, clock=clock))
