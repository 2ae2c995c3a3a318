"""Transactional outbox: domain events are written in the same transaction as the change they describe.

The relay (run by the worker) gives committed events consecutive ``position`` numbers in the order it first
sees them. Positions are assigned by one relay at a time, so a reader paging by position never misses an
event that committed late: that is the change log behind "what changed since cursor X" (feed deltas).

In-process consumers (``engagement``, ``feeds``) read that log with ``events_after``, which locks the consumer's
cursor row for the caller's transaction, and move the cursor with ``advance`` in the same transaction as the
effects of the events they handled: each event is handled once per consumer, even with several workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy import BigInteger, Index, String, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
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


def last_position(session: Session) -> int:
    """The position of the newest numbered event (0 when none is numbered yet)."""
    return session.scalar(select(func.max(OutboxEvent.position))) or 0


def changes_since(session: Session, *, cursor: int, limit: int, types: Sequence[str] | None = None
                  ) -> list[OutboxEvent]:
    """Numbered events after position ``cursor``, oldest first (optionally only some types)."""
    statement = select(OutboxEvent).where(OutboxEvent.position > cursor)
    if types:
        statement = statement.where(OutboxEvent.type.in_(types))
    return list(session.scalars(statement.order_by(OutboxEvent.position).limit(limit)))


class ConsumerCursor(Base):
    """The position of the last numbered outbox event an in-process consumer has handled."""

    __tablename__ = "outbox_consumer_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


@dataclass(frozen=True)
class ConsumerBatch:
    """The events a consumer handles now, and the position its cursor moves to once it has (``through`` may lie
    past the last event: the numbered events in between are of other types)."""

    events: list[OutboxEvent]
    through: int


def events_after(session: Session, *, consumer: str, types: Sequence[str] | None = None, limit: int
                 ) -> ConsumerBatch | None:
    """The next numbered events (of ``types``) after ``consumer``'s cursor, oldest first, with the cursor row locked
    for this transaction (created at 0 on first use); None while another worker holds it. Handle them, then call
    ``advance(session, consumer=..., position=batch.through)`` before committing."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    _create_cursor(session, consumer)
    cursor = session.scalar(select(ConsumerCursor.position).where(ConsumerCursor.name == consumer)
                            .with_for_update(skip_locked=True))
    if cursor is None:
        return None
    # Committed positions form a prefix (one relay numbers them at a time), so reading up to the highest one seen
    # now never passes an event that is still to come.
    ceiling = last_position(session)
    statement = select(OutboxEvent).where(OutboxEvent.position > cursor, OutboxEvent.position <= ceiling)
    if types:
        statement = statement.where(OutboxEvent.type.in_(types))
    events = list(session.scalars(statement.order_by(OutboxEvent.position).limit(limit)))
    through = events[-1].position if len(events) == limit and events[-1].position is not None else ceiling
    return ConsumerBatch(events=events, through=max(through, cursor))


def advance(session: Session, *, consumer: str, position: int) -> None:
    """Move ``consumer``'s cursor forward to ``position`` (never back)."""
    session.execute(update(ConsumerCursor).where(ConsumerCursor.name == consumer, ConsumerCursor.position < position)
                    .values(position=position))


def _create_cursor(session: Session, consumer: str) -> None:
    if session.scalar(select(ConsumerCursor.name).where(ConsumerCursor.name == consumer)) is not None:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(ConsumerCursor).values(name=consumer, position=0).on_conflict_do_nothing())
