"""The order tests' small retailer, its ``bol`` marketplace channel with a feed, and a marketplace simulator on a
real port to connect it to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings
from omniloom.syndication.connectors.sync import SyncReport, sync_channel
from omniloom.syndication.simulator import Marketplace, MarketplaceServer
from tests.orders.conftest import shop

__all__ = ["shop"]  # the order tests' retailer, as a fixture here too
MARKET_TOKEN = "mkt_secret_token_0123456789"
BOL_FEED = {"link_template": "https://shop.example.com/p/{sku}"}


class Simulator:
    """The running marketplace: its books (``market``) and its HTTP address, driven like a test would."""

    def __init__(self, market: Marketplace) -> None:
        self.market = market
        self.server = MarketplaceServer(market).start()
        self.url = self.server.url
        self.control = httpx.Client(base_url=self.url + "/_simulate", timeout=10)

    def sell(self, *lines: dict[str, Any], allow_unlisted: bool = False) -> httpx.Response:
        return self.control.post("/orders", json={"lines": list(lines), "allow_unlisted": allow_unlisted})

    def faults(self, **faults: Any) -> None:
        assert self.control.post("/faults", json=faults).status_code == 200

    def orders(self) -> dict[str, dict[str, Any]]:
        return {order["id"]: order for order in self.control.get("/orders").json()["orders"]}

    def offers(self) -> dict[str, dict[str, Any]]:
        return {offer["id"]: offer for offer in self.control.get("/offers").json()["offers"]}

    def stop(self) -> None:
        self.control.close()
        self.server.stop()


@pytest.fixture
def simulator(clock: FrozenClock) -> Iterator[Simulator]:
    """A marketplace on 127.0.0.1 that wants ``Bearer MARKET_TOKEN``, on the test's clock."""
    running = Simulator(Marketplace(clock=clock, token=MARKET_TOKEN))
    yield running
    running.stop()


def http_connector(url: str, **settings: Any) -> dict[str, Any]:
    return {"type": "http", "settings": {"base_url": url, "headers": {"Authorization": f"Bearer {MARKET_TOKEN}"},
                                         "timeout_seconds": 5, **settings}}


@pytest.fixture
def connected(shop: Database, admin: TestClient, simulator: Simulator) -> TestClient:
    """``bol`` has a feed and an HTTP connector to the simulator; the admin client is returned."""
    assert admin.patch("/channels/bol", json={"feed_settings": BOL_FEED}).status_code == 200
    put = admin.put("/channels/bol/connector", json=http_connector(simulator.url))
    assert put.status_code == 200, put.text
    return admin


class Syncer:
    """Runs ``sync_channel`` on the test's database and clock, noting the pauses instead of sleeping them."""

    def __init__(self, database: Database, clock: FrozenClock, settings: Settings) -> None:
        self.database, self.clock, self.settings = database, clock, settings
        self.pauses: list[float] = []

    def __call__(self, channel: str = "bol") -> SyncReport:
        self.pauses.clear()
        return sync_channel(self.database, channel, self.clock, settings=self.settings, sleep=self.pauses.append)


@pytest.fixture
def sync(database: Database, clock: FrozenClock, settings: Settings) -> Syncer:
    return Syncer(database, clock, settings)


def move(api: TestClient, fulfillment_id: str, *steps: str, **extra: Any) -> dict[str, Any]:
    """Take a fulfillment through ``steps``; the order after the last one."""
    body: dict[str, Any] = {}
    for step in steps:
        response = api.post(f"/fulfillments/{fulfillment_id}/transitions", json={"to": step, **extra})
        assert response.status_code == 200, response.text
        body = response.json()
    return body

