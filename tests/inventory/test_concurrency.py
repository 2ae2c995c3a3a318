"""Reservations under real concurrency: many threads, real commits, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import text

from omniloom.inventory import service
from omniloom.inventory.errors import InsufficientStock
from omniloom.inventory.schemas import ReservationLineIn
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database, make_engine
from tests.conftest import START
from tests.factories import make_channel, make_product
from tests.inventory.helpers import active_line_units, ledger_sums, levels, make_location, receive

THREADS = 32
SKU = "HOT-1"


def stock_two_locations(database: Database, clock: FrozenClock, *, each: int) -> None:
    with database.write() as session:
        make_location(session, code="L1", clock=clock)
        make_location(session, code="L2", clock=clock)
        make_product(session, skus=(SKU,), clock=clock)
        make_channel(session, code="web", location_codes=["L1", "L2"], clock=clock)
        receive(session, sku=SKU, location="L1", quantity=each, clock=clock)
        receive(session, sku=SKU, location="L2", quantity=each, clock=clock)


def run_together(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Start ``count`` threads at the same moment; the exceptions they died of."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def main(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as error:  # collected and asserted on by the test
            failures.append(error)

    threads = [threading.Thread(target=main, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return failures


def reserve_until_refused(database: Database, clock: FrozenClock, quantity: int) -> int:
    """Reserve ``quantity`` units again and again until refused; the units this caller got."""
    got = 0
    while True:
        try:
            with database.write() as session:
                reservation = service.reserve(session, channel="web", lines=[ReservationLineIn(sku=SKU,
                                              quantity=quantity)], ttl_seconds=300, actor="test", clock=clock)
        except InsufficientStock:
            return got
        got += sum(line.quantity for line in reservation.lines)


def test_many_threads_reserve_exactly_the_stock_and_expiry_returns_every_unit(
        fresh_database: Database, clock: FrozenClock) -> None:
    stock_two_locations(fresh_database, clock, each=50)
    taken = [0] * THREADS

    def work(index: int) -> None:
        # Pairs first (splitting across both locations at the end), then single units until sold out.
        pairs = reserve_until_refused(fresh_database, clock, 2)
        taken[index] = pairs + reserve_until_refused(fresh_database, clock, 1)

    assert run_together(THREADS, work) == []

    assert sum(taken) == 100
    assert levels(fresh_database) == {(SKU, "L1"): (50, 50, 0), (SKU, "L2"): (50, 50, 0)}
    assert active_line_units(fresh_database) == {(SKU, "L1"): 50, (SKU, "L2"): 50}

    clock.advance(seconds=301)
    expired = 0
    while batch := _expire(fresh_database, clock, limit=37):
        expired += batch
    with fresh_database.read() as session:
        statuses = dict(session.execute(text("SELECT status, COUNT(*) FROM reservations GROUP BY status")).all())
    assert statuses == {"expired": expired}
    assert levels(fresh_database) == {(SKU, "L1"): (50, 0, 0), (SKU, "L2"): (50, 0, 0)}
    assert ledger_sums(fresh_database) == {(SKU, "L1"): 50, (SKU, "L2"): 50}


def _expire(database: Database, clock: FrozenClock, *, limit: int) -> int:
    with database.write() as session:
        return service.expire_reservations(session, clock=clock, limit=limit)


def test_a_release_racing_the_expiry_worker_gives_units_back_once(fresh_database: Database,
                                                                  clock: FrozenClock) -> None:
    stock_two_locations(fresh_database, clock, each=5)
    reservation_ids = []
    for _ in range(8):
        with fresh_database.write() as session:
            lines = [ReservationLineIn(sku=SKU, quantity=1)]
            reservation_ids.append(service.reserve(session, channel="web", lines=lines, ttl_seconds=60,
                                                   actor="test", clock=clock).id)
    later = FrozenClock(clock.now() + timedelta(seconds=61))

    def work(index: int) -> None:
        with fresh_database.write() as session:
            if index % 2:
                service.expire_reservations(session, clock=later)
            else:
                service.release_reservation(session, reservation_id=reservation_ids[index // 2], clock=later)

    assert run_together(16, work) == []  # eight releases against eight expiry runs

    assert levels(fresh_database) == {(SKU, "L1"): (5, 0, 0), (SKU, "L2"): (5, 0, 0)}
    with fresh_database.read() as session:
        ended = session.execute(text(
            "SELECT subject, COUNT(*) FROM outbox_events WHERE type IN ('reservation.released', "
            "'reservation.expired') GROUP BY subject")).all()
    assert sorted(ended) == sorted((f"reservation:{rid}", 1) for rid in reservation_ids)


def test_lapsed_holds_never_block_concurrent_buyers(fresh_database: Database, clock: FrozenClock) -> None:
    stock_two_locations(fresh_database, clock, each=10)
    with fresh_database.write() as session:
        service.reserve(session, channel="web", lines=[ReservationLineIn(sku=SKU, quantity=20)], ttl_seconds=60,
                        actor="test", clock=clock)
    clock.advance(seconds=60)
    taken = [0] * 16

    def work(index: int) -> None:
        taken[index] = reserve_until_refused(fresh_database, clock, 1)

    assert run_together(16, work) == []

    assert sum(taken) == 20
    assert levels(fresh_database) == {(SKU, "L1"): (10, 10, 0), (SKU, "L2"): (10, 10, 0)}
    assert active_line_units(fresh_database) == {(SKU, "L1"): 10, (SKU, "L2"): 10}


def reserve_in_own_process(url: str) -> int:
    """A separate process with its own engine reserving single units until refused; the units it got."""
    engine = make_engine(url, pool_size=2)
    try:
        return reserve_until_refused(Database(engine), FrozenClock(START), 1)
    finally:
        engine.dispose()


def test_several_processes_never_oversell(fresh_database: Database, clock: FrozenClock) -> None:
    stock_two_locations(fresh_database, clock, each=20)
    url = fresh_database.engine.url.render_as_string(hide_password=False)
    fresh_database.engine.dispose()

    with multiprocessing.get_context("fork").Pool(4) as pool:
        taken = pool.map(reserve_in_own_process, [url] * 4)

    assert sum(taken) == 40
    assert levels(fresh_database) == {(SKU, "L1"): (20, 20, 0), (SKU, "L2"): (20, 20, 0)}
    assert active_line_units(fresh_database) == {(SKU, "L1"): 20, (SKU, "L2"): 20}


def test_holds_of_the_same_levels_named_in_opposite_orders_never_deadlock(fresh_database: Database,
                                                                          clock: FrozenClock) -> None:
    with fresh_database.write() as session:
        make_location(session, code="L1", clock=clock)
        make_product(session, skus=("PAIR-A", "PAIR-B"), clock=clock)
        make_channel(session, code="web", location_codes=["L1"], clock=clock)
        receive(session, sku="PAIR-A", location="L1", quantity=40, clock=clock)
        receive(session, sku="PAIR-B", location="L1", quantity=40, clock=clock)
    taken = [0] * 16

    def work(index: int) -> None:
        skus = ("PAIR-A", "PAIR-B") if index % 2 else ("PAIR-B", "PAIR-A")
        lines = [ReservationLineIn(sku=sku, quantity=1) for sku in skus]
        while True:
            try:
                with fresh_database.write() as session:
                    service.reserve(session, channel="web", lines=lines, ttl_seconds=300, actor="test", clock=clock)
            except InsufficientStock:
                return
            taken[index] += 1

    assert run_together(16, work) == []

    assert sum(taken) == 40
    assert levels(fresh_database) == {("PAIR-A", "L1"): (40, 40, 0), ("PAIR-B", "L1"): (40, 40, 0)}
    assert active_line_units(fresh_database) == {("PAIR-A", "L1"): 40, ("PAIR-B", "L1"): 40}
    with fresh_database.read() as session:
        created = session.execute(text(
            "SELECT COUNT(*), COUNT(DISTINCT subject) FROM outbox_events WHERE type = 'reservation.created'")).one()
    assert tuple(created) == (40, 40)
