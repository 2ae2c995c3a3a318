"""The worker's tick: lapsed reservations end and their units return; committed events get positions and are
relayed to webhook subscribers (see tests/webhooks for delivery and NATS)."""

import threading
import time
from collections.abc import Iterator

import pytest

from omniloom.inventory import schemas, service
from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings
from omniloom.worker import Worker
from tests.factories import make_channel, make_product
from tests.inventory.helpers import make_location, receive


@pytest.fixture
def worker(database: Database, clock: FrozenClock) -> Iterator[Worker]:
    runner = Worker(database, clock, interval_seconds=0.01, settings=Settings(database_url="sqlite://"))
    yield runner
    runner.close()


def test_a_tick_expires_lapsed_reservations_and_numbers_events(database: Database, clock: FrozenClock,
                                                               worker: Worker) -> None:
    with database.write() as session:
        make_location(session, code="ST-1", clock=clock)
        make_product(session, skus=("MUG-1",), clock=clock)
        make_channel(session, code="web", location_codes=["ST-1"], clock=clock)
        receive(session, sku="MUG-1", location="ST-1", quantity=5, clock=clock)
        held = service.reserve(session, channel="web", lines=[schemas.ReservationLineIn(sku="MUG-1", quantity=3)],
                               ttl_seconds=60, actor="test", clock=clock)

    first = worker.tick()
    assert first.reservations_expired == 0 and first.events_numbered > 0
    assert (first.deliveries_created, first.webhooks_delivered, first.events_published) == (0, 0, 0)
    assert worker.tick().busy is False

    clock.advance(seconds=61)
    second = worker.tick()
    assert second.reservations_expired == 1
    assert second.events_numbered == 1
    with database.read() as session:
        assert service.get_reservation(session, reservation_id=held.id, clock=clock).status == "expired"
        assert service.channel_availability(session, sku="MUG-1", channel="web", clock=clock).available == 5
        last = outbox.changes_since(session, cursor=0, limit=1000)[-1]
    assert last.type == "reservation.expired"


def test_run_ticks_until_stopped_then_releases_its_connections(fresh_database: Database, clock: FrozenClock) -> None:
    worker = Worker(fresh_database, clock, interval_seconds=0.01, settings=Settings(database_url="sqlite://"))
    with fresh_database.write() as session:
        make_location(session, code="ST-1", clock=clock)
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,))

    runner.start()
    numbered: list[str] = []
    for _ in range(500):
        with fresh_database.read() as session:
            numbered = [event.type for event in outbox.changes_since(session, cursor=0, limit=10)]
        if numbered:
            break
        time.sleep(0.01)
    stop.set()
    runner.join(timeout=10)

    assert numbered == ["location.created"]
    assert not runner.is_alive()
    assert worker.webhooks.client.is_closed
