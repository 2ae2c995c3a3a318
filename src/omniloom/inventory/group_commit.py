"""Group commit of reservations: the ones a process receives at the same moment share one transaction.

Requests wait in a queue; one thread at a time takes everything waiting (up to ``max_batch``) and reserves it
with ``service.reserve_together``. On PostgreSQL that is two statements, each committing on its own
(``Database.autocommit``, no BEGIN or COMMIT round trips): one read of the channels' policies and the levels, then one
statement that takes every unit and writes every reservation, line and event, or writes nothing at all. On SQLite it
is the same work in one transaction. While that batch commits, the next one gathers, so a lone request is never
delayed and a busy process makes fewer, larger transactions. Each reservation still stands alone: an order the
batch cannot settle (too little stock in the read, another writer took the units, an unexpected error before the
commit) is reserved alone afterwards, exactly as ``service.reserve`` does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from typing import Any

from omniloom.inventory import schemas, service
from omniloom.inventory.service import ReservationAnswer, ReservationOrder
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database, outcome_unknown

MAX_BATCH = 64
GATHER_SECONDS = 0.002
"""How long a batch waits for company when the one before it had some (not when it was alone or full)."""
log = logging.getLogger("omniloom.reservations")

_Waiting = tuple[ReservationOrder, "asyncio.Future[schemas.Reservation]"]
_Answered = tuple["asyncio.Future[Any]", "schemas.Reservation | BaseException"]


class ReservationBatcher:
    """Reserves concurrent orders of one process in shared transactions; safe to use from any event loop."""

    def __init__(self, database: Database, clock: Clock, *, max_batch: int = MAX_BATCH,
                 gather_seconds: float = GATHER_SECONDS) -> None:
        self.database = database
        self.clock = clock
        self.max_batch = max_batch
        self.gather_seconds = gather_seconds
        self._waiting: deque[_Waiting] = deque()
        self._lock = threading.Lock()
        self._draining = False

    async def reserve(self, order: ReservationOrder) -> schemas.Reservation:
        """Reserve ``order`` together with whatever else is waiting; raises what ``service.reserve`` raises."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[schemas.Reservation] = loop.create_future()
        with self._lock:
            self._waiting.append((order, future))
            start = not self._draining
            self._draining = True
        if start:
            try:
                loop.run_in_executor(None, self._drain)
            except RuntimeError:  # the loop is shutting down: let the next request start the drain
                with self._lock:
                    self._draining = False
                raise
        return await future

    def _drain(self) -> None:
        """Settle batches until nothing waits (runs on one worker thread at a time)."""
        busy = False
        while True:
            if busy:  # the last batch had company: give the next one a moment to fill (cheaper per reservation)
                time.sleep(self.gather_seconds)
            with self._lock:
                if not self._waiting:
                    self._draining = False
                    return
                batch = [self._waiting.popleft() for _ in range(min(self.max_batch, len(self._waiting)))]
            busy = 1 < len(batch) < self.max_batch
            answers = self.settle([order for order, _ in batch])
            by_loop: dict[asyncio.AbstractEventLoop, list[_Answered]] = {}
            for (_, future), answer in zip(batch, answers, strict=True):
                by_loop.setdefault(future.get_loop(), []).append((future, answer))
            for loop, answered in by_loop.items():  # one wake-up of each loop for the whole batch
                with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
                    loop.call_soon_threadsafe(_resolve, answered)

    def settle(self, orders: list[ReservationOrder]) -> list[schemas.Reservation | BaseException]:
        """Reserve ``orders`` in one transaction where possible, the rest one by one; a result or error each."""
        answers: list[ReservationAnswer] | None = None
        committing = False
        try:
            with self.database.autocommit() as session:
                answers = service.reserve_together(session, orders, clock=self.clock)
                committing = True
        except service.HoldsTaken:
            answers = None
        except Exception as error:
            if committing or (self.database.commits_each_statement and outcome_unknown(error)):
                # the commit, or the connection while a statement committing on its own ran, failed: whether it
                # took effect is unknown, so never redo it
                return [error] * len(orders)
            log.exception("a batch of %d reservations failed; reserving them one by one", len(orders))
            answers = None
        settled: list[schemas.Reservation | BaseException] = []
        for order, answer in zip(orders, answers or [None] * len(orders), strict=True):
            settled.append(answer if answer is not None else self._reserve_alone(order))
        return settled

    def _reserve_alone(self, order: ReservationOrder) -> schemas.Reservation | BaseException:
        try:
            with self.database.write() as session:
                return service.reserve(session, channel=order.channel, lines=order.lines,
                                       ttl_seconds=order.ttl_seconds, actor=order.actor, clock=self.clock,
                                       reference=order.reference)
        except Exception as error:
            return error


def _resolve(answered: list[_Answered]) -> None:
    for future, answer in answered:
        if future.done():  # the request was cancelled (its client went away)
            continue
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)
