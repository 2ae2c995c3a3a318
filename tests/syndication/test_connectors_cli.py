"""``omniloom connectors sync`` and ``omniloom simulate marketplace`` as a user runs them: real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from omniloom.channels.schemas import FeedSettings
from omniloom.inventory import schemas as inventory_schemas
from omniloom.inventory import service as inventory
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.pricing import service as pricing
from omniloom.syndication.connectors import service
from omniloom.syndication.connectors.schemas import ConnectorIn
from omniloom.syndication.simulator import Marketplace, MarketplaceServer
from tests.cli.test_commands import OMNILOOM, run
from tests.conftest import DatabaseFactory
from tests.factories import make_channel, make_product
from tests.inventory.helpers import location_body, receive

QUIET = {"OMNILOOM_LOG_LEVEL": "WARNING"}


@pytest.fixture
def marketplace() -> Iterator[MarketplaceServer]:
    server = MarketplaceServer(Marketplace()).start()
    yield server
    server.stop()


def connected_database(database_factory: DatabaseFactory, url_of_market: str) -> str:
    """A committed database: one warehouse, one product with stock, a marketplace channel connected to the URL."""
    url = database_factory.create()
    database = Database(database_factory.engine_for(url))
    clock = FrozenClock(datetime.now(UTC))
    with database.write() as session:
        inventory.create_location(session, data=inventory_schemas.LocationCreate.model_validate(
            location_body("WH-1", type="warehouse", capabilities=["ship"])), clock=clock)
        make_product(session, skus=("MUG",), clock=clock)
        channel = make_channel(session, code="bol", type="marketplace", location_codes=["WH-1"], clock=clock)
        channel.feed_settings = FeedSettings(link_template="https://shop.example.com/p/{sku}").model_dump()
        pricing.set_price(session, price_list_code=channel.price_list, sku="MUG", amount=1200,
                          compare_at_amount=None, clock=clock)
        receive(session, sku="MUG", location="WH-1", quantity=4, clock=clock)
        service.configure(session, channel_code="bol", clock=clock, data=ConnectorIn(
            type="http", settings={"base_url": url_of_market, "timeout_seconds": 2}))
    return url


def test_connectors_sync_prints_what_it_did(database_factory: DatabaseFactory, marketplace: MarketplaceServer,
                                            tmp_path: Path) -> None:
    url = connected_database(database_factory, marketplace.url)
    first = run(url, "connectors", "sync", "bol", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "pushed 1 listings, 0 stock and price updates, 0 removals",
        "pulled 0 orders: 0 imported, 0 on hold, 0 already imported; acknowledged 0",
        "pushed 0 shipments and 0 cancellations",
        "dead-lettered 0 (GET /api/v1/channels/bol/connector/dead-letters)"]
    sold = httpx.post(marketplace.url + "/_simulate/orders", json={"lines": [{"sku": "MUG", "quantity": 3}]})
    assert sold.status_code == 201
    second = run(url, "connectors", "sync", "bol", cwd=tmp_path)
    assert second.stdout.splitlines()[1] == "pulled 1 orders: 1 imported, 0 on hold, 0 already imported; " \
                                            "acknowledged 1"

    marketplace.marketplace.faults(fail_next=1000, status=503, throttle_next=None, retry_after=None)
    down = run(url, "connectors", "sync", "bol", cwd=tmp_path, env=QUIET)
    assert down.returncode == 1
    assert down.stderr.strip().splitlines() == [
        "error: pushing the feed: POST /stock: HTTP 503; nothing was lost, the next sync tries again"]

    unknown = run(url, "connectors", "sync", "nope", cwd=tmp_path, env=QUIET)
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "error: channel 'nope' does not exist")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_simulate_marketplace_serves_until_stopped(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([OMNILOOM, "simulate", "marketplace", "--port", str(port), "--token", "t0ken"],
                               cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(base + "/orders", headers={"Authorization": "Bearer t0ken"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline and process.poll() is None, process.stderr
                time.sleep(0.1)
        assert (answer.status_code, answer.json()) == (200, {"orders": []})
        assert httpx.get(base + "/orders").status_code == 401
        refused = httpx.post(base + "/_simulate/orders", json={"lines": [{"sku": "MUG", "quantity": 1}]})
        assert (refused.status_code, refused.json()) == (409, {"detail": "lines[0].sku: 'MUG' is not listed"})
    finally:
        process.terminate()
        process.wait(timeout=20)
    bad = subprocess.run([OMNILOOM, "simulate", "marketplace", "--rate-limit", "fast"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--rate-limit" in bad.stderr
