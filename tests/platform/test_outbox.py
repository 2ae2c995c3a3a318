"""Events commit or roll back with the change; the relay numbers them into a gap-free change log."""

import pytest

from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database


class ThingRenamed(outbox.DomainEvent):
    event_type = "thing.renamed"
    name: str

    def subject(self) -> str:
        return f"thing:{self.name}"


def test_events_commit_with_the_transaction_and_vanish_with_a_rollback(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        outbox.record(session, ThingRenamed(name="kept"), clock=clock)
    with pytest.raises(RuntimeError), database.write() as session:
        outbox.record(session, ThingRenamed(name="lost"), clock=clock)
        raise RuntimeError("the change failed")
    with database.write() as session:
        assert outbox.assign_positions(session) == 1
    with database.read() as session:
        events = outbox.changes_since(session, cursor=0, limit=10)
    assert [(e.type, e.payload, e.subject) for e in events] == [("thing.renamed", {"name": "kept"}, "thing:kept")]


def test_positions_are_consecutive_and_paged_by_cursor(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        for name in "abcde":
            outbox.record(session, ThingRenamed(name=name), clock=clock)
    with database.write() as session:
        assert outbox.assign_positions(session, batch=3) == 3
        assert outbox.assign_positions(session, batch=3) == 2
        assert outbox.assign_positions(session) == 0
    with database.read() as session:
        first = outbox.changes_since(session, cursor=0, limit=2)
        rest = outbox.changes_since(session, cursor=first[-1].position or 0, limit=10)
        only = outbox.changes_since(session, cursor=0, limit=10, types=["other.type"])
    positions = [e.position for e in first + rest]
    assert positions == list(range(positions[0], positions[0] + 5))
    assert [e.payload["name"] for e in first + rest] == list("abcde")
    assert only == []
