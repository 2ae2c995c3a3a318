"""Transactional outbox: domain events are written in the same transaction as the change they describe.

The relay (run by the worker) gives committed events consecutive ``position`` numbers in the order it first
sees them. Positions are assigned by one relay at a time, so a reader paging by position never misses an
event that committed late: that is the change log behind "what changed since cursor X" (feed deltas).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy import BigInteger, Index, String, func, insert, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from omniloom.platform.clock import Clock
from omniloom.platform.db import Base, BigIntKey, JSONData, UTCDateTime
from omniloom.platform.ids import new_id

RELAY_LOCK_KEY = 0x6F6D6E69  # pg advisory lock: one position-assigning relay at a time


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_unpositioned", "id", sqlite_where=text("position IS NULL"),
                            postgresql_where=text("position IS NULL")),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(80))
    version: Mapped[int]
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class DomainEvent(BaseModel):
    """A fact that happened, named in the past tense. Subclasses set ``event_type`` (``inventory.changed``)."""

    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    def subject(self) -> str:
        """What the event is about, e.g. ``sku:TEE-RED-M``: consumers group and deduplicate by it."""
        raise NotImplementedError


def outbox_row(event: DomainEvent, *, clock: Clock) -> dict[str, Any]:
    """The outbox row recording ``event`` (keyed by column name), for a statement that also makes the change."""
    return {"event_id": new_id("evt"), "type": event.event_type, "version": event.version,
            "subject": event.subject(), "payload": event.model_dump(mode="json"), "occurred_at": clock.now()}


def record(session: Session, event: DomainEvent, *, clock: Clock) -> str:
    """Add ``event`` to the outbox inside the caller's transaction; returns its event id."""
    row = outbox_row(event, clock=clock)
    session.execute(insert(OutboxEvent), row)
    event_id: str = row["event_id"]
    return event_id


def assign_positions(session: Session, *, batch: int = 1000) -> int:
    """Number committed, unnumbered events in id order; returns how many were numbered."""
    on_postgres = session.get_bind().dialect.name == "postgresql"
    if on_postgres and not session.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY))):
        return 0
    ids = session.scalars(
        select(OutboxEvent.id).where(OutboxEvent.position.is_(None)).order_by(OutboxEvent.id).limit(batch)
    ).all()
    if not ids:
        return 0
    last = session.scalar(select(func.coalesce(func.max(OutboxEvent.position), 0))) or 0
    session.execute(
        update(OutboxEvent),
        [{"id": event_id, "position": last + offset} for offset, event_id in enumerate(ids, start=1)],
    )
    return len(ids)


def changes_since(session: Session, *, cursor: int, limit: int, types: Sequence[str] | None = None
                  ) -> list[OutboxEvent]:
    """Numbered events after position ``cursor``, oldest first (optionally only some types)."""
    statement = select(OutboxEvent).where(OutboxEvent.position > cursor)
    if types:
        statement = statement.where(OutboxEvent.type.in_(types))
    return list(session.scalars(statement.order_by(OutboxEvent.position).limit(limit)))
