"""Request and response bodies of webhook subscriptions, and the event body a subscriber receives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from omniloom.platform.outbox import OutboxEvent
from omniloom.webhooks.patterns import EVENT_PATTERN

DeliveryStatus = Literal["pending", "delivered", "dead"]


def check_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) address, else raise ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError("must be an absolute http:// or https:// address")
    return url


def _distinct(patterns: list[str]) -> list[str]:
    if len(set(patterns)) != len(patterns):
        raise ValueError("lists an event pattern more than once")
    return patterns


WebhookUrl = Annotated[str, Field(max_length=2000, examples=["https://erp.example.com/omniloom"]),
                       AfterValidator(check_url)]
EventPattern = Annotated[str, Field(pattern=EVENT_PATTERN, max_length=80,
                                    description="An event type, `<prefix>.*` for every type under a prefix, or `*`.",
                                    examples=["order.created"])]
EventPatterns = Annotated[list[EventPattern], Field(min_length=1, max_length=50), AfterValidator(_distinct)]
Secret = Annotated[str, Field(min_length=16, max_length=200, pattern=r"^[\x21-\x7E]+$",
                              description="Shared secret that signs deliveries (16-200 visible ASCII characters); "
                                          "generated when omitted. Returned only in the creation response.")]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    events: EventPatterns = Field(examples=[["order.created", "fulfillment.*"]])
    secret: Secret | None = None


class WebhookUpdate(BaseModel):
    """Only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    events: EventPatterns | None = None
    active: bool | None = None

    @field_validator("url", "events", "active", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    """The new subscription with its secret: the only response that ever shows the secret."""

    secret: str


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    webhook_id: str = Field(validation_alias="subscription_id")
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int = Field(description="Attempts since the delivery was created or last retried by hand.")
    created_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="When it is tried next; null once delivered or dead.")
    delivered_at: datetime | None


class EventEnvelope(BaseModel):
    """The JSON body of a webhook delivery and of a NATS message: one domain event."""

    id: str = Field(description="The event id: the same on every retry; deduplicate on it.")
    type: str
    version: int
    occurred_at: datetime
    subject: str
    data: dict[str, Any]


def event_body(event: OutboxEvent) -> bytes:
    """The JSON body that carries the numbered outbox ``event`` to a subscriber or to NATS."""
    envelope = EventEnvelope(id=event.event_id, type=event.type, version=event.version,
                             occurred_at=event.occurred_at, subject=event.subject, data=event.payload)
    return envelope.model_dump_json().encode()
