"""Reservations made together: one transaction for several orders, planned one after another, never oversold."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from omniloom.inventory import service
from omniloom.inventory.errors import InsufficientStock
from omniloom.inventory.group_commit import ReservationBatcher
from omniloom.inventory.schemas import Reservation, ReservationLineIn
from omniloom.inventory.service import ReservationOrder
from omniloom.platform.auth import create_api_key
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database, make_engine
from omniloom.platform.errors import InvalidInput
from tests.conftest import START
from tests.inventory.helpers import active_line_units, event_payloads, levels, receive
from tests.inventory.test_concurrency import stock_two_locations

SKU = "HOT-1"


def order(quantity: int, *, sku: str = SKU, channel: str = "web", location: str | None = None,
          reference: str | None = None) -> ReservationOrder:
    return ReservationOrder(channel=channel, lines=[ReservationLineIn(sku=sku, quantity=quantity, location=location)],
                            ttl_seconds=600, actor="test", reference=reference)


def held(answer: object) -> list[tuple[str, str, int]]:
    assert isinstance(answer, Reservation), answer
    return [(line.sku, line.location, line.quantity) for line in answer.lines]


@pytest.fixture
def stocked(world: Database, clock: FrozenClock) -> Database:
    """TEE-M: 10 at WH-1, 4 at AMS-01; MUG: 3 at AMS-01."""
    with world.write() as session:
        receive(session, sku="TEE-M", location="WH-1", quantity=10, clock=clock)
        receive(session, sku="TEE-M", location="AMS-01", quantity=4, clock=clock)
        receive(session, sku="MUG", location="AMS-01", quantity=3, clock=clock)
    return world


def test_orders_reserved_together_are_planned_one_after_another(stocked: Database, clock: FrozenClock) -> None:
    orders = [
        order(8, sku="TEE-M"),                      # WH-1 has 10
        order(1, sku="TEE-M", channel="market"),    # WH-1 has 2 left, all of it market's safety stock
        order(4, sku="TEE-M"),                      # the 2 left at WH-1, then 2 of AMS-01's 4
        order(1, sku="TEE-M", channel="nowhere"),
        order(3, sku="MUG", reference="order-7"),
        order(1, sku="MUG"),                        # the 3 mugs went to the order before
        order(1, sku="TEE-M", channel="web", location="UTR-02"),
    ]

    with stocked.write() as session:
        answers = service.reserve_together(session, orders, clock=clock)

    assert held(answers[0]) == [("TEE-M", "WH-1", 8)]
    assert answers[1] is None
    assert held(answers[2]) == [("TEE-M", "WH-1", 2), ("TEE-M", "AMS-01", 2)]
    assert isinstance(answers[3], InvalidInput)
    assert answers[3].problem()["errors"] == [{"field": "channel", "message": "channel 'nowhere' does not exist"}]
    assert held(answers[4]) == [("MUG", "AMS-01", 3)]
    assert isinstance(answers[4], Reservation) and answers[4].reference == "order-7"
    assert answers[5] is None
    assert isinstance(answers[6], InvalidInput)
    assert answers[6].problem()["errors"] == [
        {"field": "lines[0].location", "message": "'UTR-02' is not a location channel 'web' sells from"}]
    assert levels(stocked) == {("TEE-M", "WH-1"): (10, 10, 0), ("TEE-M", "AMS-01"): (4, 2, 0),
                               ("MUG", "AMS-01"): (3, 3, 0)}
    assert active_line_units(stocked) == {("TEE-M", "WH-1"): 10, ("TEE-M", "AMS-01"): 2, ("MUG", "AMS-01"): 3}
    made = [answers[0], answers[2], answers[4]]
    assert event_payloads(stocked, "reservation.created") == [
        {"reservation_id": reservation.id, "channel": "web", "expires_at": "2026-11-30T10:10:00Z",
         "lines": [line.model_dump() for line in reservation.lines]}
        for reservation in made if isinstance(reservation, Reservation)
    ]
    with stocked.read() as session:
        for reservation in made:
            assert isinstance(reservation, Reservation)
            assert service.get_reservation(session, reservation_id=reservation.id, clock=clock) == reservation


def test_orders_the_batch_cannot_settle_are_reserved_alone(stocked: Database, clock: FrozenClock) -> None:
    batcher = ReservationBatcher(stocked, clock)

    answers = batcher.settle([order(2, sku="MUG"), order(2, sku="MUG"), order(1, sku="TEE-L")])

    assert held(answers[0]) == [("MUG", "AMS-01", 2)]
    assert isinstance(answers[1], InsufficientStock)
    assert answers[1].problem()["lines"] == [{"sku": "MUG", "requested": 2, "available": 1}]
    assert isinstance(answers[2], InsufficientStock)
    assert levels(stocked)[("MUG", "AMS-01")] == (3, 2, 0)
    assert len(event_payloads(stocked, "reservation.created")) == 1


def test_a_batch_with_nothing_to_hold_writes_nothing(stocked: Database, clock: FrozenClock) -> None:
    with stocked.write() as session:
        answers = service.reserve_together(session, [order(1, channel="nowhere"), order(99, sku="MUG")],
                                           clock=clock)

    assert isinstance(answers[0], InvalidInput)
    assert answers[1] is None
    assert levels(stocked)[("MUG", "AMS-01")] == (3, 0, 0)
    assert event_payloads(stocked, "reservation.created") == []


# ------------------------------------------------------------------------------------------ real concurrency


def reserve_concurrently(batcher: ReservationBatcher, orders: list[ReservationOrder]) -> list[object]:
    """Every order at once on one event loop; the reservation or the error of each."""
    async def main() -> list[object]:
        return list(await asyncio.gather(*(batcher.reserve(o) for o in orders), return_exceptions=True))
    return asyncio.run(main())


def test_concurrent_orders_take_exactly_the_stock(fresh_database: Database, clock: FrozenClock) -> None:
    stock_two_locations(fresh_database, clock, each=15)
    batcher = ReservationBatcher(fresh_database, clock, max_batch=8)

    answers = reserve_concurrently(batcher, [order(1) for _ in range(40)])

    made = [answer for answer in answers if isinstance(answer, Reservation)]
    refused = [answer for answer in answers if isinstance(answer, InsufficientStock)]
    assert (len(made), len(refused)) == (30, 10)
    assert len({reservation.id for reservation in made}) == 30
    assert levels(fresh_database) == {(SKU, "L1"): (15, 15, 0), (SKU, "L2"): (15, 15, 0)}
    assert active_line_units(fresh_database) == {(SKU, "L1"): 15, (SKU, "L2"): 15}
    assert sorted(event["reservation_id"] for event in event_payloads(fresh_database, "reservation.created")) \
        == sorted(reservation.id for reservation in made)


def reserve_in_own_process(url: str) -> int:
    """A separate process with its own engine and batcher reserving 30 single units at once; the units it got."""
    engine = make_engine(url, pool_size=2)
    try:
        answers = reserve_concurrently(ReservationBatcher(Database(engine), FrozenClock(START)),
                                       [order(1) for _ in range(30)])
        assert all(isinstance(answer, Reservation | InsufficientStock) for answer in answers), answers
        return sum(isinstance(answer, Reservation) for answer in answers)
    finally:
        engine.dispose()


def test_batching_processes_never_oversell(fresh_database: Database, clock: FrozenClock) -> None:
    stock_two_locations(fresh_database, clock, each=20)
    url = fresh_database.engine.url.render_as_string(hide_password=False)
    fresh_database.engine.dispose()

    with multiprocessing.get_context("fork").Pool(3) as pool:
        taken = pool.map(reserve_in_own_process, [url] * 3)

    assert sum(taken) == 40
    assert levels(fresh_database) == {(SKU, "L1"): (20, 20, 0), (SKU, "L2"): (20, 20, 0)}
    assert active_line_units(fresh_database) == {(SKU, "L1"): 20, (SKU, "L2"): 20}


def test_concurrent_http_reservations_never_oversell(fresh_database: Database, clock: FrozenClock,
                                                      app_for: Callable[[Database], TestClient]) -> None:
    stock_two_locations(fresh_database, clock, each=10)
    with fresh_database.write() as session:
        secret = create_api_key(session, role="channel:web", name="web shop", clock=clock)[1]
    client = app_for(fresh_database)
    statuses: list[int] = []

    def work() -> None:
        for _ in range(4):
            response = client.post("/api/v1/reservations", headers={"Authorization": f"Bearer {secret}"},
                                   json={"channel": "web", "lines": [{"sku": SKU, "quantity": 1}]})
            statuses.append(response.status_code)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201] * 20 + [409] * 12
    assert levels(fresh_database) == {(SKU, "L1"): (10, 10, 0), (SKU, "L2"): (10, 10, 0)}


def test_a_batch_that_lost_its_units_to_another_writer_is_reserved_one_by_one(
        requires_postgres: None, fresh_database: Database, clock: FrozenClock) -> None:
    stock_two_locations(fresh_database, clock, each=5)
    taken, commit = threading.Event(), threading.Event()

    def other_writer() -> None:
        with fresh_database.write() as session:
            service.reserve(session, channel="web", lines=[ReservationLineIn(sku=SKU, quantity=4, location="L1")],
                            ttl_seconds=600, actor="other", clock=clock)
            taken.set()
            commit.wait(timeout=30)

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert taken.wait(timeout=30)
    batcher = ReservationBatcher(fresh_database, clock)
    answers: list[object] = []
    batch = threading.Thread(target=lambda: answers.extend(batcher.settle([
        order(3, location="L1"), order(1, location="L1"), order(2, location="L2")])))
    batch.start()  # it reads 5 free at L1 (the other writer has not committed), then waits for the row lock
    _wait_for_a_lock_wait(fresh_database)
    commit.set()
    writer.join(timeout=30)
    batch.join(timeout=30)

    assert isinstance(answers[0], InsufficientStock)
    assert answers[0].problem()["lines"] == [{"sku": SKU, "requested": 3, "available": 1}]
    assert held(answers[1]) == [(SKU, "L1", 1)]
    assert held(answers[2]) == [(SKU, "L2", 2)]
    # The batch statement, which commits on its own, wrote nothing: L2's units were taken once, by the order alone.
    assert levels(fresh_database) == {(SKU, "L1"): (5, 5, 0), (SKU, "L2"): (5, 2, 0)}
    assert active_line_units(fresh_database) == {(SKU, "L1"): 5, (SKU, "L2"): 2}
    assert len(event_payloads(fresh_database, "reservation.created")) == 3


def test_a_batch_whose_connection_was_lost_is_not_reserved_again(
        requires_postgres: None, fresh_database: Database, clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Its statements commit on their own, so the batch may have been written: redoing it could reserve twice."""
    stock_two_locations(fresh_database, clock, each=5)
    lost = psycopg.OperationalError("server closed the connection unexpectedly")

    def connection_lost(*args: object, **kwargs: object) -> None:
        raise lost

    monkeypatch.setattr(service, "reserve_together", connection_lost)
    answers = ReservationBatcher(fresh_database, clock).settle([order(1), order(2)])

    assert answers == [lost, lost]
    assert levels(fresh_database) == {(SKU, "L1"): (5, 0, 0), (SKU, "L2"): (5, 0, 0)}
    assert event_payloads(fresh_database, "reservation.created") == []


def test_a_batch_the_server_refused_is_reserved_one_by_one(
        fresh_database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error the server answered left nothing behind, so each order is reserved alone."""
    stock_two_locations(fresh_database, clock, each=5)

    def refused(session: object, *args: object, **kwargs: object) -> None:
        with fresh_database.read() as reader:
            reader.execute(text("SELECT 1 / 0"))  # a real error answered by the server

    monkeypatch.setattr(service, "reserve_together", refused)
    answers = ReservationBatcher(fresh_database, clock).settle([order(1), order(2)])

    assert held(answers[0]) == [(SKU, "L1", 1)]
    assert held(answers[1]) == [(SKU, "L1", 2)]
    assert levels(fresh_database)[(SKU, "L1")] == (5, 3, 0)


def _wait_for_a_lock_wait(database: Database) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with database.read() as session:
            if session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock'")):
                return
        time.sleep(0.02)
    raise AssertionError("the batch never waited for the other writer's row lock")
