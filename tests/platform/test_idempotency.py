"""One effect per Idempotency-Key: replays return the first outcome, even under concurrent duplicates."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.errors import Conflict, InvalidInput
from omniloom.platform.idempotency import Outcome, run_once


class Charged(outbox.DomainEvent):
    event_type = "test.charged"
    amount: int

    def subject(self) -> str:
        return "test"


def charge(amount: int, clock: FrozenClock):  # type: ignore[no-untyped-def]
    def effect(session: Session) -> Outcome:
        event_id = outbox.record(session, Charged(amount=amount), clock=clock)
        return Outcome(201, {"event": event_id, "amount": amount})
    return effect


def effects(database: Database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(outbox.OutboxEvent)) or 0


def test_same_key_same_body_replays_the_first_outcome(database: Database, clock: FrozenClock) -> None:
    first = run_once(database, scope="channel:web", key="k-1", body={"a": 1}, clock=clock, effect=charge(5, clock))
    again = run_once(database, scope="channel:web", key="k-1", body={"a": 1}, clock=clock, effect=charge(5, clock))
    assert (first.status_code, first.replayed) == (201, False)
    assert (again.status_code, again.body, again.replayed) == (201, first.body, True)
    assert effects(database) == 1


def test_keys_are_scoped_per_caller(database: Database, clock: FrozenClock) -> None:
    run_once(database, scope="channel:web", key="k-1", body={}, clock=clock, effect=charge(5, clock))
    other = run_once(database, scope="channel:app", key="k-1", body={}, clock=clock, effect=charge(5, clock))
    assert other.replayed is False
    assert effects(database) == 2


def test_same_key_different_body_is_422(database: Database, clock: FrozenClock) -> None:
    run_once(database, scope="s", key="k-1", body={"a": 1}, clock=clock, effect=charge(5, clock))
    with pytest.raises(InvalidInput) as raised:
        run_once(database, scope="s", key="k-1", body={"a": 2}, clock=clock, effect=charge(5, clock))
    assert raised.value.errors[0].field == "Idempotency-Key"
    assert effects(database) == 1


def test_an_error_outcome_is_stored_and_replayed(database: Database, clock: FrozenClock) -> None:
    def refuse(session: Session) -> Outcome:
        outbox.record(session, Charged(amount=1), clock=clock)
        raise Conflict("out of stock")

    with pytest.raises(Conflict):
        run_once(database, scope="s", key="k-err", body={}, clock=clock, effect=refuse)
    replay = run_once(database, scope="s", key="k-err", body={}, clock=clock, effect=charge(5, clock))
    assert replay.status_code == 409 and replay.replayed
    assert replay.body["detail"] == "out of stock"
    assert effects(database) == 0


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_key_length_is_checked(database: Database, clock: FrozenClock, key: str) -> None:
    with pytest.raises(InvalidInput):
        run_once(database, scope="s", key=key, body={}, clock=clock, effect=charge(5, clock))
    assert effects(database) == 0


def test_concurrent_duplicates_run_the_effect_once(fresh_database: Database, clock: FrozenClock) -> None:
    outcomes: list[Outcome] = []
    barrier = threading.Barrier(12)

    def call() -> None:
        barrier.wait()
        outcomes.append(run_once(fresh_database, scope="s", key="same", body={"x": 1}, clock=clock,
                                 effect=charge(7, clock)))

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 12
    assert len({o.body["event"] for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert effects(fresh_database) == 1
