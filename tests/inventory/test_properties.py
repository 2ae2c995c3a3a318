"""Random histories of movements, counts, reservations, releases, conversions, expiries and waiting.

After every step the books must balance: on-hand equals the sum of the ledger (and the model's count), the
counters match the reservation lines, nothing is oversold and no availability is negative or above a cap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from omniloom.inventory import service
from omniloom.inventory.schemas import ReservationLineIn
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.errors import OmniloomError
from tests.conftest import START
from tests.factories import make_channel, make_product
from tests.inventory.helpers import make_location, receive

SKUS = ("P-A", "P-B")
LOCATIONS = ("S1", "S2", "W1")
CHANNELS = {"shop": 0, "mkt": 1}
CAP = 4
INITIAL_STOCK = 5
REASONS = ("receipt", "adjustment", "damage", "return", "transfer_out", "transfer_in")

skus = st.sampled_from(SKUS)
locations = st.sampled_from(LOCATIONS)
receipts = st.tuples(st.just("move"), skus, locations, st.just("receipt"), st.integers(1, 12))
reservation_lines = st.lists(st.tuples(skus, st.integers(1, 3), st.sampled_from((None, None, None, *LOCATIONS))),
                             min_size=1, max_size=2)
reservations = st.tuples(st.just("reserve"), st.sampled_from(sorted(CHANNELS)), reservation_lines,
                         st.integers(1, 120))
steps = st.lists(st.one_of(
    reservations,
    receipts,
    st.tuples(st.just("move"), skus, locations, st.sampled_from(REASONS), st.integers(-6, 12)),
    st.tuples(st.just("count"), skus, locations, st.integers(0, 15)),
    st.tuples(st.just("release"), st.integers(0, 9)),
    st.tuples(st.just("wait"), st.integers(1, 90)),
    st.tuples(st.just("convert"), st.integers(0, 9)),
    st.tuples(st.just("expire")),
), min_size=4, max_size=25)


@dataclass
class History:
    """What one example did, so later steps can refer to its reservations and the model's on-hand."""

    database: Database
    clock: FrozenClock
    reservations: list[str] = field(default_factory=list)
    on_hand: dict[tuple[str, str], int] = field(default_factory=dict)

    def attempt(self, kind: str, action: Callable[[Any], Any]) -> Any:
        """Run ``action(session)`` in its own transaction; an expected refusal leaves nothing behind."""
        try:
            with self.database.write() as session:
                result = action(session)
        except OmniloomError as error:
            assert error.status < 500, error
            event(f"{kind}: refused ({error.slug})")
            return None
        event(f"{kind}: done")
        return result


def play(history: History, step: tuple[Any, ...]) -> None:
    kind, *arguments = step
    clock = history.clock
    if kind == "move":
        sku, location, reason, quantity = arguments
        moved = history.attempt(kind, lambda s: service.record_movement(
            s, sku=sku, location=location, quantity=quantity, reason=reason, actor="prop", clock=clock))
        if moved is not None:
            history.on_hand[(sku, location)] = moved.on_hand_after
    elif kind == "count":
        sku, location, counted = arguments
        level = history.attempt(kind, lambda s: service.set_on_hand(
            s, location=location, sku=sku, on_hand=counted, actor="prop", clock=clock))
        if level is not None:
            history.on_hand[(sku, location)] = counted
    elif kind == "reserve":
        channel, lines, ttl = arguments
        wanted = [ReservationLineIn(sku=sku, quantity=quantity, location=location) for sku, quantity, location in lines]
        made = history.attempt(kind, lambda s: service.reserve(s, channel=channel, lines=wanted, ttl_seconds=ttl,
                                                         actor="prop", clock=clock))
        if made is not None:
            history.reservations.append(made.id)
    elif kind in ("release", "convert") and history.reservations:
        chosen = history.reservations[arguments[0] % len(history.reservations)]
        if kind == "release":
            history.attempt(kind, lambda s: service.release_reservation(s, reservation_id=chosen, clock=clock))
        else:
            history.attempt(kind, lambda s: service.convert_reservation(s, reservation_id=chosen, clock=clock))
    elif kind == "expire":
        history.attempt(kind, lambda s: service.expire_reservations(s, clock=clock))
    elif kind == "wait":
        clock.advance(seconds=arguments[0])


BOOKS = text("""
SELECT l.sku, loc.code, l.on_hand, l.reserved, l.allocated,
       (SELECT COALESCE(SUM(m.quantity), 0) FROM inventory_movements m
         WHERE m.sku = l.sku AND m.location_id = l.location_id) AS ledger,
       (SELECT COALESCE(SUM(rl.quantity), 0) FROM reservation_lines rl JOIN reservations r ON r.id = rl.reservation_id
         WHERE rl.level_id = l.id AND r.status = 'active') AS held,
       (SELECT COALESCE(SUM(rl.quantity), 0) FROM reservation_lines rl JOIN reservations r ON r.id = rl.reservation_id
         WHERE rl.level_id = l.id AND r.status = 'converted') AS converted
FROM inventory_levels l JOIN locations loc ON loc.id = l.location_id
""")


def check_books(history: History) -> None:
    with history.database.read() as session:
        rows = session.execute(BOOKS).all()
        for sku, location, on_hand, reserved, allocated, ledger, held, converted in rows:
            assert on_hand == ledger == history.on_hand.get((sku, location), 0), (sku, location)
            assert min(reserved, allocated) >= 0 and reserved + allocated <= on_hand, (sku, location)
            assert (reserved, allocated) == (held, converted), (sku, location)
        for sku in SKUS:
            for channel in CHANNELS:
                answer = service.channel_availability(session, sku=sku, channel=channel, clock=history.clock)
                assert 0 <= answer.available <= (CAP if channel == "mkt" else answer.available)
                assert all(entry.available >= 0 for entry in answer.locations)
        for location in LOCATIONS:
            listed = service.location_availability(session, location_code=location, clock=history.clock)
            assert all(available >= 0 for _, available in listed)


def build_world(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        for code in LOCATIONS:
            make_location(session, code=code, clock=clock)
        make_product(session, skus=SKUS, clock=clock)
        make_channel(session, code="shop", location_codes=["W1", "S1"], clock=clock)
        make_channel(session, code="mkt", type="marketplace", location_codes=["W1", "S2"], safety_stock=1,
                     max_exposed=CAP, clock=clock)
        for sku in SKUS:
            for location in LOCATIONS:
                receive(session, sku=sku, location=location, quantity=INITIAL_STOCK, clock=clock)


def test_random_histories_keep_the_books_balanced(shared_engine: Engine) -> None:
    with shared_engine.connect() as connection:
        outer = connection.begin()
        database = Database(shared_engine, bind=connection)
        build_world(database, FrozenClock(START))

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(steps)
        def run(history_steps: list[tuple[Any, ...]]) -> None:
            example = connection.begin_nested()
            try:
                history = History(database, FrozenClock(START),
                                  on_hand={(sku, location): INITIAL_STOCK for sku in SKUS for location in LOCATIONS})
                for step in history_steps:
                    play(history, step)
                    check_books(history)
            finally:
                example.rollback()

        run()
        outer.rollback()
