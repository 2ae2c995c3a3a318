"""The change log channel connectors poll: ``GET /changes?since=``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.factories import make_channel, make_product


def number_events(database: Database) -> None:
    with database.write() as session:
        outbox.assign_positions(session)


def test_changes_lists_numbered_events_after_a_position(
    admin: TestClient, database: Database, clock: FrozenClock
) -> None:
    with database.write() as session:
        make_channel(session, code="web", clock=clock)
    number_events(database)
    clock.advance(minutes=1)
    assert admin.put("/price-lists/WEB-EUR/prices/SKU-1", json={"amount": 1}).status_code == 404
    with database.write() as session:
        product = make_product(session, skus=("SKU-1",), clock=clock)
    admin.put("/price-lists/WEB-EUR/prices/SKU-1", json={"amount": 1500})

    unnumbered = admin.get("/changes", params={"since": 2}).json()
    assert unnumbered == {"items": [], "next_cursor": None}
    number_events(database)
    page = admin.get("/changes", params={"since": 2}).json()

    assert [(item["position"], item["type"], item["subject"]) for item in page["items"]] == [
        (3, "product.created", f"product:{product.id}"),
        (4, "variant.created", "sku:SKU-1"),
        (5, "price_list.created", "price_list:DEFAULT-EUR"),
        (6, "price.changed", "sku:SKU-1"),
        (7, "price.changed", "sku:SKU-1"),
    ]
    last = page["items"][-1]
    assert last["event_id"].startswith("evt_")
    assert {key: last[key] for key in ("payload", "occurred_at")} == {
        "payload": {"price_list": "WEB-EUR", "sku": "SKU-1", "amount": 1500, "currency": "EUR",
                    "compare_at_amount": None},
        "occurred_at": "2026-11-30T10:01:00Z"}
    assert page["next_cursor"] is None


def test_changes_are_paged_by_position(admin: TestClient, database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        for code in ("a", "b", "c", "d", "e"):
            make_channel(session, code=code, clock=clock)
    number_events(database)

    first = admin.get("/changes", params={"limit": 4}).json()
    second = admin.get("/changes", params={"limit": 4, "since": first["next_cursor"]}).json()
    third = admin.get("/changes", params={"limit": 4, "since": second["next_cursor"]}).json()

    def positions(page: dict[str, Any]) -> list[int]:
        return [item["position"] for item in page["items"]]

    assert (positions(first), first["next_cursor"]) == ([1, 2, 3, 4], "4")
    assert (positions(second), second["next_cursor"]) == ([5, 6, 7, 8], "8")
    assert (positions(third), third["next_cursor"]) == ([9, 10], None)
    assert [item["type"] for item in first["items"]] == [
        "price_list.created", "channel.created", "price_list.created", "channel.created"]


def test_changes_are_for_admin_only(client: TestClient, api_as: Callable[[str], TestClient]) -> None:
    assert client.get("/api/v1/changes").status_code == 401
    for role in ("channel:web", "store:AMS-01"):
        assert api_as(role).get("/changes").status_code == 403


def test_a_negative_position_is_refused(admin: TestClient) -> None:
    response = admin.get("/changes", params={"since": -1})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "since", "message": "Input should be greater than or equal to 0"}]
