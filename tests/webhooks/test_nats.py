"""Events published to the local NATS JetStream server (127.0.0.1:4222), read back with their ids.

These tests need the server that CI starts; they fail when it is unreachable.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass

import nats
import pytest
from nats.js.errors import NotFoundError

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.webhooks.jetstream import STREAM, JetStreamPublisher, Message
from omniloom.worker import Worker
from tests.webhooks.conftest import FAST_RETRIES, FulfillmentShipped, OrderCancelled, OrderCreated, record

pytestmark = pytest.mark.nats
NATS_URL = "nats://127.0.0.1:4222"
NOBODY = "nats://127.0.0.1:1"


@dataclass(frozen=True)
class Stored:
    subject: str
    message_id: str
    body: dict[str, object]


async def _last_sequence() -> int:
    client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1,
                                reconnect_time_wait=0.1)
    try:
        return (await client.jetstream().stream_info(STREAM)).state.last_seq
    except NotFoundError:
        return 0
    finally:
        await client.close()


async def _stored_after(sequence: int) -> list[Stored]:
    client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1,
                                reconnect_time_wait=0.1)
    try:
        jetstream = client.jetstream()
        last = (await jetstream.stream_info(STREAM)).state.last_seq
        stored = []
        for number in range(sequence + 1, last + 1):
            message = await jetstream.get_msg(STREAM, number)
            stored.append(Stored(message.subject or "", (message.headers or {}).get("Nats-Msg-Id", ""),
                                 json.loads(message.data or b"{}")))
        return stored
    finally:
        await client.close()


def stored_after(sequence: int, event_ids: list[str]) -> list[Stored]:
    """Messages of the stream after ``sequence`` that carry one of ``event_ids`` (other runs may publish too)."""
    return [message for message in asyncio.run(_stored_after(sequence)) if message.message_id in event_ids]


def worker_for(database: Database, clock: FrozenClock, url: str) -> Worker:
    return Worker(database, clock, interval_seconds=0.01, settings=FAST_RETRIES.model_copy(update={"nats_url": url}))


@pytest.fixture
def nats_worker(database: Database, clock: FrozenClock) -> Iterator[Worker]:
    worker = worker_for(database, clock, NATS_URL)
    yield worker
    worker.close()


def test_every_numbered_event_is_published_once_with_its_id_as_message_id(
        database: Database, clock: FrozenClock, nats_worker: Worker) -> None:
    start = asyncio.run(_last_sequence())
    ids = record(database, clock, OrderCreated(order_id="o-1", total=4200), OrderCancelled(order_id="o-1"),
                 FulfillmentShipped(fulfillment_id="f-1"))

    assert nats_worker.tick().events_published == 3
    assert nats_worker.tick().events_published == 0

    stored = stored_after(start, ids)
    assert [(message.subject, message.message_id) for message in stored] == [
        ("omniloom.order.created", ids[0]), ("omniloom.order.cancelled", ids[1]),
        ("omniloom.fulfillment.shipped", ids[2])]
    assert stored[0].body == {"id": ids[0], "type": "order.created", "version": 1,
                              "occurred_at": "2026-11-30T10:00:00Z", "subject": "order:o-1",
                              "data": {"order_id": "o-1", "total": 4200}}


def test_a_message_published_again_is_kept_once(database: Database, clock: FrozenClock) -> None:
    start = asyncio.run(_last_sequence())
    (event_id,) = record(database, clock, OrderCreated(order_id="o-2", total=100))
    message = Message(event_id, "omniloom.order.created", b'{"id":"' + event_id.encode() + b'"}')
    publisher = JetStreamPublisher(NATS_URL)
    try:
        assert publisher.publish([message]) == 1
        assert publisher.publish([message]) == 1  # as after a crash before the cursor moved
    finally:
        publisher.close()

    assert [stored.message_id for stored in stored_after(start, [event_id])] == [event_id]


def test_events_wait_while_nats_is_down_and_none_is_skipped(database: Database, clock: FrozenClock) -> None:
    start = asyncio.run(_last_sequence())
    ids = record(database, clock, OrderCreated(order_id="o-3", total=100), OrderCancelled(order_id="o-3"))
    down = worker_for(database, clock, NOBODY)
    try:
        assert down.tick().events_published == 0
        assert down.tick().events_published == 0
    finally:
        down.close()
    ids += record(database, clock, OrderCreated(order_id="o-4", total=100))

    back = worker_for(database, clock, NATS_URL)
    try:
        assert back.tick().events_published == 3
    finally:
        back.close()

    assert [stored.message_id for stored in stored_after(start, ids)] == ids
