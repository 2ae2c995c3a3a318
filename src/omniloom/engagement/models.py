"""Engagement tables: every message sent (or not) to a customer or a store, with its outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, UTCDateTime


class Message(Base):
    """One message made from one event with one template. ``queued`` and ``failed`` ones with a
    ``next_attempt_at`` are tried (again) then; ``sent`` and ``skipped`` ones are final, and so is a ``failed`` one
    without a next attempt. ``recipient`` is personal data."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("event_id", "template"),
        CheckConstraint("status IN ('queued', 'sent', 'failed', 'skipped')", name="status_known"),
        CheckConstraint("status <> 'queued' OR next_attempt_at IS NOT NULL", name="queued_is_scheduled"),
        CheckConstraint("status IN ('queued', 'failed') OR next_attempt_at IS NULL", name="final_is_unscheduled"),
        Index("ix_messages_due", "next_attempt_at", sqlite_where=text("next_attempt_at IS NOT NULL"),
              postgresql_where=text("next_attempt_at IS NOT NULL")),
        Index("ix_messages_customer", "customer_id", "id"),
        Index("ix_messages_status", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    event_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(40))
    location: Mapped[str | None] = mapped_column(String(64))
    sales_channel: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
