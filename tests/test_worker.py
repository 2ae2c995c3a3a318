"""The worker's tick: lapsed reservations end and their units return; committed events get positions."""

from omniloom.inventory import schemas, service
from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.worker import Worker
from tests.factories import make_channel, make_product
from tests.inventory.helpers import make_location, receive


def test_a_tick_expires_lapsed_reservations_and_numbers_events(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        make_location(session, code="ST-1", clock=clock)
        make_product(session, skus=("MUG-1",), clock=clock)
        make_channel(session, code="web", location_codes=["ST-1"], clock=clock)
        receive(session, sku="MUG-1", location="ST-1", quantity=5, clock=clock)
        held = service.reserve(session, channel="web", lines=[schemas.ReservationLineIn(sku="MUG-1", quantity=3)],
                               ttl_seconds=60, actor="test", clock=clock)
    worker = Worker(database, clock, interval_seconds=0.01)

    first = worker.tick()
    assert first.reservations_expired == 0 and first.events_numbered > 0
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
