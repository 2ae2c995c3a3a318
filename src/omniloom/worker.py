"""The background worker: expires stale reservations and numbers committed outbox events, tick after tick."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from omniloom.inventory import service as inventory
from omniloom.platform import outbox
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database

log = logging.getLogger("omniloom.worker")
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class TickReport:
    reservations_expired: int
    events_numbered: int

    @property
    def busy(self) -> bool:
        return bool(self.reservations_expired or self.events_numbered)


class Worker:
    """Runs each job in its own transaction; several workers may run at once (jobs claim rows with SKIP LOCKED)."""

    def __init__(self, database: Database, clock: Clock, *, interval_seconds: float) -> None:
        self.database = database
        self.clock = clock
        self.interval = interval_seconds

    def tick(self) -> TickReport:
        """Run every job once."""
        with self.database.write() as session:
            expired = inventory.expire_reservations(session, clock=self.clock)
        with self.database.write() as session:
            numbered = outbox.assign_positions(session)
        return TickReport(reservations_expired=expired, events_numbered=numbered)

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; a failing tick is logged and retried with growing pauses."""
        failures = 0
        while not stop.is_set():
            try:
                report = self.tick()
                failures = 0
            except Exception:
                failures += 1
                log.exception("worker tick failed (%d in a row)", failures)
                stop.wait(min(MAX_BACKOFF_SECONDS, self.interval * 2**failures))
                continue
            if report.busy:
                log.info("expired %d reservations, numbered %d events",
                         report.reservations_expired, report.events_numbered)
            else:
                stop.wait(self.interval)
