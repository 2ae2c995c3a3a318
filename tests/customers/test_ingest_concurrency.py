"""Events are resolved in one transaction (under the identity lock) and stored in a second: whatever happens to
their profiles in between (a merge, an undone merge, an erasure, another batch storing the same event id), no event
is stranded on a merged-away profile, lost or stored twice. Then the same with threads on PostgreSQL."""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from omniloom.customers import service
from omniloom.customers.intake import PreparedEvent, prepare_batch
from omniloom.customers.models import CustomerEvent, CustomerMerge, CustomerProfile, CustomerPurchase
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.customers.conftest import event
from tests.factories import make_channel

KNOWN = frozenset({"web"})


@pytest.fixture
def db(fresh_database: Database, clock: FrozenClock) -> Database:
    with fresh_database.write() as session:
        make_channel(session, code="web", type="web", clock=clock)
    return fresh_database


def prepared(*raw: dict[str, Any], clock: FrozenClock) -> list[PreparedEvent]:
    events, rejected = prepare_batch(list(raw), received_at=clock.now(), region="NL", only_channel=None,
                                     known_channels=KNOWN)
    assert rejected == []
    return events


def ingest(db: Database, clock: FrozenClock, *raw: dict[str, Any]) -> service.RecordedBatch:
    return service.ingest_events(db, events=prepared(*raw, clock=clock), guards=(), clock=clock)


def resolve_only(db: Database, clock: FrozenClock, *raw: dict[str, Any]) -> service.ResolvedBatch:
    """The first transaction of ``ingest_events``, committed; the events are not stored yet."""
    with db.write() as session:
        return service.resolve_events(session, events=prepared(*raw, clock=clock), guards=(), clock=clock)


def store(db: Database, resolved: service.ResolvedBatch) -> service.RecordedBatch:
    with db.write() as session:
        return service.store_events(session, resolved)


def events_by_id(db: Database) -> dict[str, CustomerEvent]:
    with db.read() as session:
        return {row.event_id: row for row in session.scalars(select(CustomerEvent))}


def stranded(db: Database) -> list[str]:
    """Events sitting on a profile that has been merged away."""
    with db.read() as session:
        return list(session.scalars(select(CustomerEvent.event_id).join(
            CustomerProfile, CustomerProfile.id == CustomerEvent.profile_id)
            .where(CustomerProfile.merged_into.is_not(None))))


def homes_agree(db: Database) -> list[str]:
    """Events not on the profile their origin profile is (or was merged into): should be none."""
    with db.read() as session:
        origins = {row.id: row.merged_into or row.id for row in session.scalars(select(CustomerProfile))}
        return [row.event_id for row in session.scalars(select(CustomerEvent))
                if origins[row.origin_profile_id] != row.profile_id]


def merge_of(db: Database, profile_id: str) -> CustomerMerge:
    with db.read() as session:
        return session.scalars(select(CustomerMerge).where(
            (CustomerMerge.survivor_id == profile_id) | (CustomerMerge.merged_id == profile_id))).one()


def test_events_resolved_before_a_merge_are_stored_on_the_survivor(db: Database, clock: FrozenClock) -> None:
    device = ingest(db, clock, event(id="a", device_id="phone-1")).profile_ids[0]
    email = ingest(db, clock, event(id="b", email="jan@example.com")).profile_ids[0]
    waiting = resolve_only(db, clock, event(id="late-device", device_id="phone-1"),
                           event(id="late-email", email="jan@example.com"))
    linked = ingest(db, clock, event(id="link", device_id="phone-1", email="jan@example.com")).profile_ids[0]
    assert linked in (device, email)

    recorded = store(db, waiting)

    assert recorded.profile_ids == [linked, linked] and recorded.duplicates == set()
    stored = events_by_id(db)
    assert sorted(stored) == ["a", "b", "late-device", "late-email", "link"]
    assert {row.profile_id for row in stored.values()} == {linked}
    assert stored["late-device"].origin_profile_id == device and stored["late-email"].origin_profile_id == email
    assert stranded(db) == [] and homes_agree(db) == []


def test_events_resolved_before_an_undo_go_back_to_the_profile_they_started_on(db: Database,
                                                                              clock: FrozenClock) -> None:
    device = ingest(db, clock, event(id="a", device_id="phone-1")).profile_ids[0]
    email = ingest(db, clock, event(id="b", email="jan@example.com")).profile_ids[0]
    survivor = ingest(db, clock, event(id="link", device_id="phone-1", email="jan@example.com")).profile_ids[0]
    waiting = resolve_only(db, clock, event(id="late-device", device_id="phone-1"),
                           event(id="late-email", email="jan@example.com"))
    with db.write() as session:
        service.undo_merge(session, merge_id=merge_of(db, survivor).id, clock=clock)

    recorded = store(db, waiting)

    assert recorded.profile_ids == [device, email]
    stored = events_by_id(db)
    assert (stored["a"].profile_id, stored["late-device"].profile_id) == (device, device)
    assert (stored["b"].profile_id, stored["late-email"].profile_id) == (email, email)
    assert stranded(db) == [] and homes_agree(db) == []


def test_events_resolved_before_an_erasure_keep_only_their_facts(db: Database, clock: FrozenClock) -> None:
    person = ingest(db, clock, event(id="a", email="jan@example.com")).profile_ids[0]
    waiting = resolve_only(db, clock, event("product_view", id="late", email="jan@example.com",
                                            properties={"sku": "TEE-M", "quantity": 2, "search": "red tee"}))
    with db.write() as session:
        service.erase(session, profile_id=person, clock=clock)

    assert store(db, waiting).profile_ids == [person]

    late = events_by_id(db)["late"]
    assert late.profile_id == person and late.identifiers == {}
    assert late.properties == {"sku": "TEE-M", "quantity": 2}


def test_an_event_id_stored_by_another_batch_in_between_counts_as_a_duplicate(
        db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    resolve_events = service.resolve_events
    other: list[service.RecordedBatch] = []

    def another_batch() -> None:
        with db.write() as session:
            other.append(service.record_events(session, events=prepared(
                order("o-1", email="jan@example.com"), event(id="shared", email="jan@example.com"), clock=clock),
                guards=(), clock=clock))

    def resolve_then_let_another_batch_in(session: Session, **arguments: Any) -> service.ResolvedBatch:
        # once the first transaction has committed, another batch stores two of the same event ids
        monkeypatch.setattr(service, "resolve_events", resolve_events)
        sqlalchemy.event.listen(session, "after_commit", lambda _: another_batch(), once=True)
        return resolve_events(session, **arguments)

    monkeypatch.setattr(service, "resolve_events", resolve_then_let_another_batch_in)
    recorded = ingest(db, clock, event(id="mine", email="jan@example.com"),
                      event(id="shared", email="jan@example.com"), order("o-1", email="jan@example.com"))

    person = other[0].profile_ids[0]
    assert recorded.profile_ids == [person, person, person] and recorded.duplicates == {1, 2}
    assert sorted(events_by_id(db)) == ["mine", "o-1", "shared"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(CustomerPurchase)) == 1


def order(event_id: str, **identifiers: Any) -> dict[str, Any]:
    return event("order_completed", id=event_id, properties={
        "order_id": event_id, "total": {"amount": 1000, "currency": "EUR"}}, **identifiers)


def test_a_merge_waits_for_the_events_being_stored_then_moves_them(
        db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, requires_postgres: None) -> None:
    device = ingest(db, clock, event(id="a", device_id="phone-1")).profile_ids[0]
    email = ingest(db, clock, event(id="b", email="jan@example.com")).profile_ids[0]
    homes = service._homes
    failures: list[BaseException] = []
    linker = threading.Thread(target=run_catching, args=(failures, lambda: ingest(
        db, clock, event(id="link", device_id="phone-1", email="jan@example.com"))))

    def read_homes_then_let_a_merge_start(session: Session, origins: Any) -> Any:
        found = homes(session, origins)  # where the events go, read before the merge below commits
        monkeypatch.setattr(service, "_homes", homes)
        linker.start()
        wait_for(lambda: not linker.is_alive() or waiting_for_an_advisory_lock(db))
        return found

    monkeypatch.setattr(service, "_homes", read_homes_then_let_a_merge_start)
    ingest(db, clock, event(id="late-device", device_id="phone-1"), event(id="late-email", email="jan@example.com"))
    linker.join(timeout=60)

    assert failures == []
    stored = events_by_id(db)
    assert sorted(stored) == ["a", "b", "late-device", "late-email", "link"]
    assert len({row.profile_id for row in stored.values()}) == 1 and stored["a"].profile_id in (device, email)
    assert stranded(db) == [] and homes_agree(db) == []


def test_a_single_transaction_batch_waits_for_events_being_stored_and_counts_them_as_duplicates(
        db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, requires_postgres: None) -> None:
    """``record_events`` (orders, history import) never fails on an event id another batch is storing right now."""
    homes = service._homes
    failures: list[BaseException] = []
    recorded: list[service.RecordedBatch] = []

    def record_the_same_event() -> None:
        with db.write() as session:
            recorded.append(service.record_events(session, events=prepared(
                event(id="shared", email="jan@example.com"), clock=clock), guards=(), clock=clock))

    other = threading.Thread(target=run_catching, args=(failures, record_the_same_event))

    def read_homes_then_let_another_batch_start(session: Session, origins: Any) -> Any:
        found = homes(session, origins)
        monkeypatch.setattr(service, "_homes", homes)
        other.start()
        wait_for(lambda: not other.is_alive() or waiting_for_an_advisory_lock(db))
        return found

    monkeypatch.setattr(service, "_homes", read_homes_then_let_another_batch_start)
    stored = ingest(db, clock, event(id="shared", email="jan@example.com"))
    other.join(timeout=60)

    assert failures == []
    assert recorded[0].duplicates == {0} and recorded[0].profile_ids == stored.profile_ids
    assert sorted(events_by_id(db)) == ["shared"]


def run_catching(failures: list[BaseException], work: Callable[[], object]) -> None:
    try:
        work()
    except BaseException as error:  # reported in the test's thread
        failures.append(error)


def waiting_for_an_advisory_lock(db: Database) -> bool:
    with db.read() as session:
        return bool(session.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")))


def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(6000):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("the condition never came true")


PEOPLE = 12
ROUNDS = 4


def test_batches_merging_profiles_while_others_store_their_events(db: Database, clock: FrozenClock,
                                                                  requires_postgres: None) -> None:
    """Each person first has a device profile and an email profile; threads link them (merging the two) while
    other threads send events for either identifier. Then every merge is undone."""
    for person in range(PEOPLE):
        ingest(db, clock, event(id=f"d-{person}", device_id=f"phone-{person}"),
               event(id=f"e-{person}", email=f"p{person}@example.com"))
    sent = 2 * PEOPLE
    links = [[event(id=f"link-{person}", device_id=f"phone-{person}", email=f"p{person}@example.com")]
             for person in range(PEOPLE)]
    others = [[event(id=f"r{round_}-{side}-{person}", **identifiers(side, person)) for person in range(PEOPLE)]
              for round_ in range(ROUNDS) for side in ("d", "e")]
    batches = [batch for pair in itertools.zip_longest(links, others) for batch in pair if batch is not None]
    sent += sum(map(len, batches))
    failures = run_in_threads([functools.partial(ingest, db, clock, *batch) for batch in batches], threads=4)

    assert failures == []
    assert len(events_by_id(db)) == sent
    assert stranded(db) == [] and homes_agree(db) == []
    with db.read() as session:
        merges = list(session.scalars(select(CustomerMerge).where(CustomerMerge.status == "merged")))
    assert len(merges) == PEOPLE
    for merge in merges:
        with db.write() as session:
            service.undo_merge(session, merge_id=merge.id, clock=clock)
    assert stranded(db) == [] and homes_agree(db) == []
    stored = events_by_id(db)
    for person in range(PEOPLE):  # each side has its own events back
        device_side = {stored[f"d-{person}"].profile_id} | {stored[f"r{r}-d-{person}"].profile_id
                                                            for r in range(ROUNDS)}
        email_side = {stored[f"e-{person}"].profile_id} | {stored[f"r{r}-e-{person}"].profile_id
                                                           for r in range(ROUNDS)}
        assert len(device_side) == len(email_side) == 1 and device_side != email_side


def identifiers(side: str, person: int) -> dict[str, str]:
    return {"device_id": f"phone-{person}"} if side == "d" else {"email": f"p{person}@example.com"}


def run_in_threads(work: list[Callable[[], object]], *, threads: int) -> list[BaseException]:
    """Run the callables on ``threads`` threads, in order; the exceptions they raised."""
    pending = list(reversed(work))
    guard = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        while True:
            with guard:
                if not pending:
                    return
                job = pending.pop()
            run_catching(failures, job)

    started = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=120)
    return failures
