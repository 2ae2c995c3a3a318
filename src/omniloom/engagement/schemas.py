"""Response bodies of the engagement API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MessageStatus = Literal["queued", "sent", "failed", "skipped"]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str | None = Field(description="The customer written to; null for a message to a store.")
    channel: Literal["email"]
    template: str = Field(examples=["pickup_ready"])
    recipient: str | None = Field(description="The address written to (personal data); null when there was none.")
    subject: str
    status: MessageStatus
    error: str | None = Field(description="Why it was skipped, or why the last attempt failed.")
    attempts: int
    event_id: str = Field(description="The outbox event the message was made for (one message per template).")
    order_id: str | None
    location: str | None
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When it is tried (again); null once final.")
    sent_at: datetime | None
