"""Two workers sending at the same time: every message goes out exactly once."""

from __future__ import annotations

import threading

from sqlalchemy import text

from omniloom.engagement.delivery import Notifications
from omniloom.fulfillment.events import FulfilledLine, FulfillmentCreated
from omniloom.inventory import schemas as inventory_schemas
from omniloom.inventory import service as inventory
from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.engagement.conftest import Mailbox, mail_settings
from tests.inventory.helpers import location_body

ORDERS = 30


def new_pickups(database: Database, clock: FrozenClock, count: int) -> None:
    with database.write() as session:
        inventory.create_location(session, data=inventory_schemas.LocationCreate.model_validate(
            location_body("AMS-01", email="ams-01@loom.example")), clock=clock)
        for number in range(count):
            outbox.record(session, FulfillmentCreated(
                fulfillment_id=f"ful_{number}", order_id=f"ord_{number:03d}", channel="web", method="pickup",
                location="AMS-01", status="allocated", lines=[FulfilledLine(sku="TEE-M", quantity=1)],
                routing_reason="in stock", promised_ready_at=clock.now()), clock=clock)
        outbox.assign_positions(session)


def test_two_workers_send_each_message_once(fresh_database: Database, clock: FrozenClock, mailbox: Mailbox) -> None:
    new_pickups(fresh_database, clock, ORDERS)
    settings = mail_settings(mailbox)
    workers = [Notifications(fresh_database, clock, settings=settings) for _ in range(2)]
    start = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def run(worker: Notifications) -> None:
        try:
            start.wait()
            idle = 0
            while idle < 3:
                idle = idle + 1 if worker.record_new() + worker.send_due() == 0 else 0
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    ordered = sorted(mail["Subject"].split()[3].rstrip(":") for mail in mailbox.mails)
    assert ordered == [f"ord_{number:03d}" for number in range(ORDERS)]
    assert len({mail["Message-ID"] for mail in mailbox.mails}) == ORDERS
    with fresh_database.read() as session:
        statuses = session.execute(text("SELECT status, count(*) FROM messages GROUP BY status")).all()
    assert [tuple(row) for row in statuses] == [("sent", ORDERS)]
