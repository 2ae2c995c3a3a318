"""Several workers at once (real commits): each event fans out exactly once, and a due delivery is claimed by one
worker only."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import text

from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.webhooks import dispatch, service
from omniloom.webhooks.schemas import WebhookCreate
from tests.webhooks.conftest import OrderCancelled, OrderCreated

WORKERS = 3


def run_together(job: Callable[[], None]) -> None:
    """Run ``job`` on several threads at once; re-raise the first failure."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def run() -> None:
        try:
            barrier.wait()
            job()
        except BaseException as error:
            errors.append(error)
    threads = [threading.Thread(target=run) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_concurrent_fan_out_creates_each_delivery_exactly_once(fresh_database: Database,
                                                               clock: FrozenClock) -> None:
    with fresh_database.write() as session:
        for events in (["order.*"], ["order.cancelled"], ["*"]):
            service.create_webhook(session, WebhookCreate(url="http://127.0.0.1:1/in", events=events), clock=clock)
    for batch in range(6):
        with fresh_database.write() as session:
            for number in range(50):
                order = f"o-{batch}-{number}"
                outbox.record(session, OrderCreated(order_id=order, total=1) if number % 2
                              else OrderCancelled(order_id=order), clock=clock)

    def work() -> None:
        for _ in range(20):
            with fresh_database.write() as session:
                outbox.assign_positions(session, batch=40)
            with fresh_database.write() as session:
                dispatch.fan_out(session, clock=clock, batch=25)

    run_together(work)
    while True:  # a worker that found the cursor taken skipped its turn: finish what is left, one at a time
        with fresh_database.write() as session:
            numbered = outbox.assign_positions(session, batch=40)
        with fresh_database.write() as session:
            if not dispatch.fan_out(session, clock=clock, batch=25) and not numbered:
                break

    with fresh_database.read() as session:
        total, distinct = session.execute(text(
            "SELECT count(*), count(DISTINCT subscription_id || ' ' || event_id) FROM webhook_deliveries")).one()
        unnumbered = session.scalar(text("SELECT count(*) FROM outbox_events WHERE position IS NULL"))
    assert unnumbered == 0
    assert (total, distinct) == (300 + 150 + 300, 300 + 150 + 300)


def test_a_due_delivery_is_claimed_by_one_worker_only(fresh_database: Database, clock: FrozenClock) -> None:
    with fresh_database.write() as session:
        service.create_webhook(session, WebhookCreate(url="http://127.0.0.1:1/in", events=["*"]), clock=clock)
        for number in range(100):
            outbox.record(session, OrderCreated(order_id=f"o-{number}", total=1), clock=clock)
    with fresh_database.write() as session:
        outbox.assign_positions(session)
    with fresh_database.write() as session:
        assert dispatch.fan_out(session, clock=clock) == 100
    claimed: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            with fresh_database.write() as session:
                attempts = dispatch.claim_due(session, clock=clock, limit=7)
            with lock:
                claimed.extend(attempt.delivery_id for attempt in attempts)

    run_together(work)

    assert len(claimed) == len(set(claimed)) == 100
