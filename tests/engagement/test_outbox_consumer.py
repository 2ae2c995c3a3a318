"""Consumer cursors over the numbered outbox: only the types asked for, in position order, each event once per
consumer, never an event that is not numbered yet; one worker at a time per consumer."""

from __future__ import annotations

import pytest

from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.outbox import DomainEvent


class Pinged(DomainEvent):
    event_type = "test.pinged"
    number: int

    def subject(self) -> str:
        return f"ping:{self.number}"


class Ponged(Pinged):
    event_type = "test.ponged"


def record(database: Database, clock: FrozenClock, *events: DomainEvent, numbered: bool = True) -> None:
    with database.write() as session:
        for event in events:
            outbox.record(session, event, clock=clock)
        if numbered:
            outbox.assign_positions(session)


def take(database: Database, consumer: str, *, limit: int = 10, types: tuple[str, ...] = ("test.pinged",)
         ) -> list[int]:
    """The numbers of the events handed to ``consumer``, its cursor moved past them."""
    with database.write() as session:
        batch = outbox.events_after(session, consumer=consumer, types=types, limit=limit)
        assert batch is not None
        outbox.advance(session, consumer=consumer, position=batch.through)
        return [event.payload["number"] for event in batch.events]


def test_a_consumer_gets_its_types_once_in_order_and_skips_the_rest(database: Database, clock: FrozenClock) -> None:
    record(database, clock, Pinged(number=1), Ponged(number=2), Pinged(number=3), Ponged(number=4))

    assert take(database, "mail") == [1, 3]
    assert take(database, "mail") == []
    record(database, clock, Ponged(number=5), Pinged(number=6))
    assert take(database, "mail") == [6]
    assert take(database, "feeds", types=("test.pinged", "test.ponged")) == [1, 2, 3, 4, 5, 6]


def test_a_full_batch_stops_at_its_last_event(database: Database, clock: FrozenClock) -> None:
    record(database, clock, *(Pinged(number=n) for n in range(1, 6)))

    assert take(database, "mail", limit=2) == [1, 2]
    assert take(database, "mail", limit=2) == [3, 4]
    assert take(database, "mail", limit=2) == [5]


def test_events_not_numbered_yet_wait_for_the_relay(database: Database, clock: FrozenClock) -> None:
    record(database, clock, Pinged(number=1))
    record(database, clock, Pinged(number=2), numbered=False)

    assert take(database, "mail") == [1]
    record(database, clock)
    assert take(database, "mail") == [2]


@pytest.mark.usefixtures("requires_postgres")
def test_a_consumer_held_by_one_worker_is_skipped_by_another(fresh_database: Database, clock: FrozenClock) -> None:
    assert take(fresh_database, "mail") == []  # creates the cursor
    record(fresh_database, clock, Pinged(number=1))

    with fresh_database.write() as first:
        held = outbox.events_after(first, consumer="mail", types=["test.pinged"], limit=10)
        with fresh_database.write() as second:
            assert outbox.events_after(second, consumer="mail", types=["test.pinged"], limit=10) is None
    assert held is not None and [event.payload["number"] for event in held.events] == [1]
