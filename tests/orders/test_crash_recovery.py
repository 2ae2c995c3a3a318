"""A server killed with SIGKILL in the middle of a burst of checkouts: after a restart and the hold's expiry, every
order a client was told about exists, no stock stays allocated or reserved without an order, and no money is kept
for an order that was never written."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from omniloom.orders import carts
from omniloom.platform.auth import create_api_key
from omniloom.platform.clock import SystemClock
from omniloom.platform.db import Database
from omniloom.pricing import service as pricing
from tests.cli.test_commands import OMNILOOM, free_port, run
from tests.conftest import DatabaseFactory
from tests.factories import make_channel, make_product
from tests.inventory.helpers import make_location, receive
from tests.orders.conftest import NEAR_LEEUWARDEN, pay

CARTS = 60
STOCK = 100
HOLD_SECONDS = 2


def _shop(database: Database) -> tuple[str, list[str]]:
    clock = SystemClock()
    with database.write() as session:
        make_location(session, code="WH-1", clock=clock, capabilities=("ship",), type="warehouse")
        make_product(session, skus=("HOT",), clock=clock)
        channel = make_channel(session, code="web", location_codes=["WH-1"], clock=clock)
        pricing.set_price(session, price_list_code=channel.price_list, sku="HOT", amount=1000, compare_at_amount=None,
                          clock=clock)
        receive(session, sku="HOT", location="WH-1", quantity=STOCK, clock=clock)
        secret = create_api_key(session, role="admin", name="crash test", clock=clock)[1]
        cart_ids = []
        for _ in range(CARTS):
            cart, _ = carts.open_cart(session, channel="web", customer_id=None, clock=clock)
            carts.add_line(session, cart=cart, sku="HOT", quantity=1, channel="web", clock=clock)
            cart_ids.append(cart.id)
    return secret, cart_ids


def _start(url: str, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "OMNILOOM_DATABASE_URL": url, "OMNILOOM_CHECKOUT_HOLD_SECONDS": str(HOLD_SECONDS)}
    server = subprocess.Popen([OMNILOOM, "serve", "--port", str(port), "--no-worker"], env=environment, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    os.killpg(server.pid, signal.SIGKILL)
    pytest.fail("the server did not start")


def test_a_killed_server_loses_no_paid_order_and_leaves_nothing_behind(database_factory: DatabaseFactory,
                                                                       tmp_path: Path) -> None:
    url = database_factory.create()
    database = Database(database_factory.engine_for(url))
    secret, cart_ids = _shop(database)
    port = free_port()
    server = _start(url, port, tmp_path)
    confirmed: list[str] = []
    lock = threading.Lock()

    def buy(cart_id: str) -> None:
        try:
            response = httpx.post(f"http://127.0.0.1:{port}/api/v1/carts/{cart_id}/checkout", timeout=10,
                                  headers={"Authorization": f"Bearer {secret}"},
                                  json={"channel": "web", "payment": pay(),
                                        "fulfillment": {"method": "ship", "address": NEAR_LEEUWARDEN}})
        except httpx.TransportError:
            return
        if response.status_code == 201:
            with lock:
                confirmed.append(response.json()["id"])

    threads = [threading.Thread(target=buy, args=(cart_id,)) for cart_id in cart_ids]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(confirmed) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(10)
    for thread in threads:
        thread.join(30)
    assert 5 <= len(confirmed) < CARTS, "the kill must land in the middle of the burst"

    time.sleep(HOLD_SECONDS + 1)
    restarted = _start(url, port, tmp_path)
    try:
        cleanup = run(url, "worker", "--once", cwd=tmp_path,
                      env={"OMNILOOM_CHECKOUT_HOLD_SECONDS": str(HOLD_SECONDS)})
        assert cleanup.returncode == 0, cleanup.stderr
        for order_id in confirmed:
            answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/orders/{order_id}",
                               headers={"Authorization": f"Bearer {secret}"})
            assert answer.status_code == 200 and answer.json()["status"] == "placed"
    finally:
        os.killpg(restarted.pid, signal.SIGKILL)
        restarted.wait(10)

    with database.read() as session:
        orders, allocated, reserved, on_hand = session.execute(text(
            "SELECT (SELECT count(*) FROM orders), allocated, reserved, on_hand FROM inventory_levels")).one()
        kept = session.execute(text("SELECT coalesce(sum(captured - refunded), 0) FROM test_provider_charges")).scalar()
        paid = session.execute(text("SELECT coalesce(sum(captured - refunded), 0) FROM payments")).scalar()
        charging = session.execute(text("SELECT count(*) FROM checkout_attempts WHERE status = 'charging'")).scalar()
    assert orders >= len(confirmed)
    assert (allocated, reserved, on_hand) == (orders, 0, STOCK)
    assert kept == paid == orders * 1000
    assert charging == 0
