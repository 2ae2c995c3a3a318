"""Numbered outbox events published to NATS JetStream as ``omniloom.<event type>``, in position order.

The relay reads events after its cursor row, publishes them with ``Nats-Msg-Id`` set to the event id (JetStream
drops a copy it has seen within its duplicate window), and moves the cursor past the ones JetStream acknowledged.
When NATS is down nothing moves and the next tick starts from the same event: nothing is skipped. The worker is
synchronous, so the asyncio client lives on one event loop in a dedicated thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import select, update

from omniloom.platform import outbox
from omniloom.platform.db import Database
from omniloom.webhooks.models import RelayCursor
from omniloom.webhooks.schemas import event_body

log = logging.getLogger("omniloom.nats")
STREAM = "OMNILOOM"
SUBJECT_PREFIX = "omniloom."
CURSOR = "nats"
PUBLISH_BATCH = 500


def subject_for(event_type: str) -> str:
    """The NATS subject of an event type: ``order.created`` → ``omniloom.order.created``."""
    return SUBJECT_PREFIX + event_type


@dataclass(frozen=True)
class Message:
    event_id: str
    subject: str
    body: bytes


class JetStreamPublisher:
    """A JetStream connection on its own event-loop thread; it reconnects on the next call after a failure."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout_seconds
        self._client: Client | None = None
        self._jetstream: JetStreamContext | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="omniloom-nats", daemon=True)
        self._thread.start()

    def publish(self, messages: Sequence[Message]) -> int:
        """Publish in order; returns how many JetStream acknowledged (a prefix). Failures are logged, not raised."""
        future = asyncio.run_coroutine_threadsafe(self._publish(messages), self._loop)
        try:
            return future.result(timeout=self.timeout * (len(messages) + 3))
        except TimeoutError:
            future.cancel()
            log.warning("publishing to NATS at %s did not finish in time", self.url)
            return 0

    def close(self) -> None:
        """Close the connection and stop the loop thread."""
        asyncio.run_coroutine_threadsafe(self._disconnect(), self._loop).result(timeout=self.timeout + 1)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _publish(self, messages: Sequence[Message]) -> int:
        acknowledged = 0
        try:
            jetstream = await self._connected()
            for message in messages:
                await jetstream.publish(message.subject, message.body, timeout=self.timeout,
                                        headers={"Nats-Msg-Id": message.event_id})
                acknowledged += 1
        except Exception as error:  # down, timed out, refused: the next tick starts again from here
            log.warning("publishing to NATS at %s failed after %d of %d events: %s: %s", self.url, acknowledged,
                        len(messages), type(error).__name__, error)
            await self._disconnect()
        return acknowledged

    async def _connected(self) -> JetStreamContext:
        if self._client is None or self._client.is_closed or self._jetstream is None:
            # Two quick tries at most (the client's minimum): the next tick tries again anyway.
            self._client = await nats.connect(self.url, connect_timeout=self.timeout, allow_reconnect=False,
                                              max_reconnect_attempts=1, reconnect_time_wait=0.1,
                                              error_cb=_quiet)
            self._jetstream = self._client.jetstream(timeout=self.timeout)
            await ensure_stream(self._jetstream)
        return self._jetstream

    async def _disconnect(self) -> None:
        client, self._client, self._jetstream = self._client, None, None
        if client is not None and not client.is_closed:
            await client.close()


async def _quiet(error: Exception) -> None:
    log.debug("NATS client error: %s: %s", type(error).__name__, error)


async def ensure_stream(jetstream: JetStreamContext) -> None:
    """Create the ``OMNILOOM`` stream (subjects ``omniloom.>``) unless it exists."""
    try:
        await jetstream.stream_info(STREAM)
    except NotFoundError:
        await jetstream.add_stream(name=STREAM, subjects=[SUBJECT_PREFIX + ">"])


class JetStreamRelay:
    """The worker's NATS job: publish the numbered events after the ``nats`` cursor and move it."""

    def __init__(self, database: Database, publisher: JetStreamPublisher, *, batch: int = PUBLISH_BATCH) -> None:
        self.database = database
        self.publisher = publisher
        self.batch = batch

    def publish_pending(self) -> int:
        """Publish one batch of events not yet acknowledged by JetStream; returns how many were."""
        with self.database.read() as session:
            position = session.scalar(select(RelayCursor.position).where(RelayCursor.name == CURSOR)) or 0
            events = outbox.changes_since(session, cursor=position, limit=self.batch)
            messages = [Message(event.event_id, subject_for(event.type), event_body(event)) for event in events]
        published = self.publisher.publish(messages) if messages else 0
        if published:
            last = events[published - 1].position
            with self.database.write() as session:
                session.execute(update(RelayCursor).where(RelayCursor.name == CURSOR, RelayCursor.position < last)
                                .values(position=last))
        return published

    def close(self) -> None:
        """Close the NATS connection."""
        self.publisher.close()
