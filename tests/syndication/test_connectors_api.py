"""Connector configuration over HTTP: secrets kept but never shown whole, bad settings named, each channel's
connector readable only by that channel and admins; a sync on demand, one at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.syndication.connectors import service
from omniloom.syndication.connectors.errors import SyncInProgress
from tests.checks import assert_problem
from tests.syndication.conftest import MARKET_TOKEN, Simulator, Syncer, http_connector

pytestmark = pytest.mark.usefixtures("shop")
SECRET_HEADER = "Bearer sk_live_0123456789abcdef"


def test_secrets_are_stored_and_shown_masked(admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    body = {"type": "http", "settings": {
        "base_url": "https://api.marketplace.example/v2/", "headers": {"Authorization": SECRET_HEADER, "X-Shop": "42"},
        "basic_auth": {"username": "omniloom", "password": "hunter2-but-longer"},
        "urls": {"tracking": "/shipments/{order_id}"}}}
    put = admin.put("/channels/bol/connector", json=body)
    assert put.status_code == 200, put.text
    shown = put.json()
    assert shown["settings"] == {
        "base_url": "https://api.marketplace.example/v2", "timeout_seconds": 10.0,
        "headers": {"Authorization": "****cdef", "X-Shop": "****"},
        "basic_auth": {"username": "omniloom", "password": "****nger"},
        "urls": {"listings": "/listings", "stock": "/stock", "orders": "/orders",
                 "acknowledge": "/orders/acknowledgements", "tracking": "/shipments/{order_id}",
                 "cancellation": "/orders/{order_id}/cancellation"}}
    assert (shown["type"], shown["enabled"], shown["interval_seconds"], shown["feed_cursor"]) == (
        "http", True, 60, None)
    for reader in (admin, api_as("channel:bol")):
        got = reader.get("/channels/bol/connector")
        assert got.status_code == 200 and got.json()["settings"] == shown["settings"]
        assert "sk_live" not in got.text and "hunter2" not in got.text


def test_a_masked_secret_sent_back_keeps_the_stored_one(admin: TestClient, simulator: Simulator,
                                                        sync: Syncer) -> None:
    assert admin.patch("/channels/bol", json={"feed_settings": {"link_template": "https://x.example/{sku}"}}
                       ).status_code == 200
    admin.put("/channels/bol/connector", json=http_connector(simulator.url))
    shown = admin.get("/channels/bol/connector").json()["settings"]
    assert shown["headers"] == {"Authorization": "****6789"}
    again = admin.put("/channels/bol/connector", json={"type": "http", "settings": shown})
    assert again.status_code == 200, again.text
    assert sync().listings_pushed == 3, "the stored token still opens the marketplace"


def test_secrets_never_reach_the_log(admin: TestClient, simulator: Simulator, sync: Syncer,
                                     caplog: pytest.LogCaptureFixture) -> None:
    admin.patch("/channels/bol", json={"feed_settings": {"link_template": "https://x.example/{sku}"}})
    body = http_connector(simulator.url)
    body["settings"]["headers"] = {"Authorization": SECRET_HEADER}
    admin.put("/channels/bol/connector", json=body)
    with caplog.at_level(logging.DEBUG):
        report = sync()
    assert report.dead_lettered == 3, "the marketplace refuses the wrong token (401) for each listing"
    assert report.failures == ['pulling orders: GET /orders: HTTP 401: {"detail":"refused"}']
    assert SECRET_HEADER not in caplog.text and "sk_live" not in caplog.text and MARKET_TOKEN not in caplog.text
    reasons = {letter["reason"] for letter in
               admin.get("/channels/bol/connector/dead-letters").json()["items"]}
    assert reasons == {"POST /listings: HTTP 401: {\"detail\":\"refused\"}"}


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"type": "http", "settings": {"base_url": "ftp://files.example"}}, "settings.base_url",
     "must be an absolute http:// or https:// address"),
    ({"type": "http", "settings": {"base_url": "https://shop:pw@m.example"}}, "settings.base_url",
     "must not carry credentials: give them as basic_auth or headers, which are kept secret"),
    ({"type": "http", "settings": {"base_url": "https://m.example", "urls": {"tracking": "/shipments"}}},
     "settings.urls.tracking", "must contain {order_id}"),
    ({"type": "http", "settings": {"base_url": "https://m.example", "urls": {"orders": "/orders/{shop}"}}},
     "settings.urls.orders", "unknown placeholder {shop}; allowed: none"),
    ({"type": "http", "settings": {"base_url": "https://m.example", "timeout_seconds": 600}},
     "settings.timeout_seconds", "Input should be less than or equal to 60"),
    ({"type": "http", "settings": {"base_url": "https://m.example", "headers": {"Bad Header": "x"}}},
     "settings.headers.Bad Header.[key]", "String should match pattern '^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$'"),
    ({"type": "file", "settings": {"folder": "exchange/bol"}}, "settings.folder", "must be an absolute path"),
    ({"type": "file", "settings": {"folder": "/srv/bol", "base_url": "https://m.example"}}, "settings.base_url",
     "Extra inputs are not permitted"),
    ({"type": "sftp", "settings": {}}, "type", "Input should be 'file' or 'http'"),
    ({"type": "file", "settings": {"folder": "/srv/bol"}, "interval_seconds": 0}, "interval_seconds",
     "Input should be greater than or equal to 1"),
])
def test_bad_settings_are_a_422_naming_the_field(admin: TestClient, database: Database, body: dict[str, object],
                                                 field: str, message: str) -> None:
    problem = assert_problem(admin.put("/channels/bol/connector", json=body), 422, "validation")
    assert problem["errors"][0] == {"field": field, "message": message}
    assert_problem(admin.get("/channels/bol/connector"), 404, "connector-not-configured")


def test_who_may_see_and_change_a_connector(admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    body = {"type": "file", "settings": {"folder": "/srv/exchange/bol"}}
    assert admin.put("/channels/bol/connector", json=body).status_code == 200
    assert_problem(api_as("channel:web").get("/channels/bol/connector"), 403, "forbidden")
    assert_problem(api_as("store:AMS-01").get("/channels/bol/connector"), 403, "forbidden")
    assert_problem(api_as("channel:bol").put("/channels/bol/connector", json=body), 403, "forbidden")
    assert_problem(api_as("channel:bol").post("/channels/bol/connector/sync"), 403, "forbidden")
    assert_problem(admin.put("/channels/nope/connector", json=body), 404, "channel-not-found")
    assert_problem(admin.get("/channels/web/connector"), 404, "connector-not-configured")


def test_one_sync_at_a_time_and_none_while_disabled(admin: TestClient, database: Database, clock: FrozenClock,
                                                    simulator: Simulator, sync: Syncer) -> None:
    admin.patch("/channels/bol", json={"feed_settings": {"link_template": "https://x.example/{sku}"}})
    admin.put("/channels/bol/connector", json=http_connector(simulator.url))
    with database.write() as session:
        service.take_lease(session, channel_code="bol", clock=clock)
    assert_problem(admin.post("/channels/bol/connector/sync"), 409, "sync-in-progress")
    with pytest.raises(SyncInProgress):
        sync()
    clock.advance(seconds=service.LEASE_SECONDS + 1)
    synced = admin.post("/channels/bol/connector/sync")
    assert synced.status_code == 200, synced.text
    assert (synced.json()["listings_pushed"], synced.json()["failures"]) == (3, [])
    state = admin.get("/channels/bol/connector").json()
    assert (state["last_sync_at"], state["next_sync_at"]) == ("2026-11-30T10:10:01Z", "2026-11-30T10:11:01Z")
    assert state["feed_cursor"] is not None
    admin.put("/channels/bol/connector", json={**http_connector(simulator.url), "enabled": False})
    assert_problem(admin.post("/channels/bol/connector/sync"), 409, "connector-disabled")
