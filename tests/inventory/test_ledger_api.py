"""The stock ledger over HTTP: movements, cycle counts, levels, their rules, authorisation and events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.inventory import service
from omniloom.inventory.schemas import ReservationLineIn
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.errors import InvalidInput
from tests.checks import assert_problem
from tests.inventory.helpers import counts, event_payloads, ledger_sums, levels, post_movement, receive


def hold(database: Database, clock: FrozenClock, *, sku: str, quantity: int, ttl_seconds: int = 600) -> str:
    with database.write() as session:
        return service.reserve(session, channel="app", lines=[ReservationLineIn(sku=sku, quantity=quantity)],
                               ttl_seconds=ttl_seconds, actor="test", clock=clock).id


def test_the_first_receipt_creates_the_level_and_answers_with_the_movement(world: Database,
                                                                         admin: TestClient) -> None:
    response = post_movement(admin, quantity=12, note="delivery 4711", reference="PO-4711")

    assert response.status_code == 201, response.text
    movement = response.json()
    assert movement.pop("id").startswith("mov_")
    assert movement.pop("actor").startswith("key_")
    assert movement == {"sku": "TEE-M", "location": "AMS-01", "quantity": 12, "reason": "receipt",
                        "note": "delivery 4711", "reference": "PO-4711", "on_hand_after": 12,
                        "created_at": "2026-11-30T10:00:00Z"}
    assert levels(world) == {("TEE-M", "AMS-01"): (12, 0, 0)}
    assert event_payloads(world, "inventory.changed") == [{
        "movement_id": response.json()["id"], "sku": "TEE-M", "location": "AMS-01", "quantity": 12, "on_hand": 12,
        "available": 12, "reason": "receipt",
    }]


def test_every_reason_moves_on_hand_by_its_signed_quantity(world: Database, admin: TestClient) -> None:
    moves = [("receipt", 20), ("damage", -3), ("transfer_out", -5), ("transfer_in", 2), ("return", 1),
             ("adjustment", -4), ("adjustment", 2)]

    answers = [post_movement(admin, reason=reason, quantity=quantity).json()["on_hand_after"]
               for reason, quantity in moves]

    assert answers == [20, 17, 12, 14, 15, 11, 13]
    assert levels(world) == {("TEE-M", "AMS-01"): (13, 0, 0)}
    assert ledger_sums(world) == {("TEE-M", "AMS-01"): 13}
    assert [payload["reason"] for payload in event_payloads(world, "inventory.changed")] == [r for r, _ in moves]


@pytest.mark.parametrize(("reason", "quantity"), [
    ("receipt", -5), ("return", -1), ("transfer_in", -2), ("damage", 3), ("transfer_out", 1),
    ("receipt", 0), ("adjustment", 0),
])
def test_a_quantity_with_the_wrong_sign_or_zero_is_refused(world: Database, admin: TestClient, reason: str,
                                                           quantity: int) -> None:
    post_movement(admin, quantity=10)
    before = counts(world)

    problem = assert_problem(post_movement(admin, reason=reason, quantity=quantity), 422, "validation")

    assert [error["field"] for error in problem["errors"]] == ["quantity"]
    assert counts(world) == before
    assert levels(world) == {("TEE-M", "AMS-01"): (10, 0, 0)}


@pytest.mark.parametrize(("fields", "field"), [
    ({"sku": "NOPE"}, "sku"),
    ({"location": "NOPE"}, "location"),
    ({"reason": "theft"}, "reason"),
    ({"reason": "cycle_count"}, "reason"),
    ({"quantity": "ten"}, "quantity"),
    ({"quantity": 2.5}, "quantity"),
    ({"quantity": 10**9}, "quantity"),
    ({"sku": ""}, "sku"),
    ({"note": "x" * 1001}, "note"),
    ({"warehouse": "WH-1"}, "warehouse"),
])
def test_invalid_movements_are_refused_naming_the_field(world: Database, admin: TestClient,
                                                        fields: dict[str, Any], field: str) -> None:
    before = counts(world)

    problem = assert_problem(post_movement(admin, **fields), 422, "validation")

    assert [error["field"] for error in problem["errors"]] == [field]
    assert counts(world) == before


def test_missing_fields_and_malformed_json_are_refused(world: Database, admin: TestClient) -> None:
    before = counts(world)

    problem = assert_problem(admin.post("/inventory/movements", json={"sku": "TEE-M"}), 422, "validation")
    assert sorted(error["field"] for error in problem["errors"]) == ["location", "quantity", "reason"]
    malformed = admin.post("/inventory/movements", content=b"{sku: 1}", headers={"content-type": "application/json"})
    assert_problem(malformed, 400, "malformed-request")
    assert counts(world) == before


def test_on_hand_never_goes_below_zero(world: Database, admin: TestClient) -> None:
    post_movement(admin, quantity=4)
    before = counts(world)

    problem = assert_problem(post_movement(admin, reason="damage", quantity=-5), 409, "insufficient-on-hand")

    assert problem["detail"] == ("TEE-M at AMS-01: on-hand is 4, and a change of -5 would take it to -1; "
                                 "on-hand cannot go below zero")
    assert (problem["on_hand"], problem["reserved"], problem["allocated"]) == (4, 0, 0)
    assert counts(world) == before
    assert levels(world) == {("TEE-M", "AMS-01"): (4, 0, 0)}


def test_a_negative_movement_without_stock_creates_no_level(world: Database, admin: TestClient) -> None:
    before = counts(world)

    problem = assert_problem(post_movement(admin, reason="adjustment", quantity=-1), 409, "insufficient-on-hand")

    assert problem["on_hand"] == 0
    assert counts(world) == before


def test_on_hand_never_goes_below_the_reserved_units(world: Database, admin: TestClient,
                                                     clock: FrozenClock) -> None:
    post_movement(admin, quantity=10)
    hold(world, clock, sku="TEE-M", quantity=8)
    before = counts(world)

    problem = assert_problem(post_movement(admin, reason="damage", quantity=-3), 409, "insufficient-on-hand")

    assert "would leave 7, fewer than the 8 units reserved or allocated" in problem["detail"]
    assert counts(world) == before
    assert levels(world) == {("TEE-M", "AMS-01"): (10, 8, 0)}
    assert post_movement(admin, reason="damage", quantity=-2).json()["on_hand_after"] == 8


def test_store_keys_move_stock_only_at_their_own_store(world: Database, api_as: Callable[[str], TestClient],
                                                       client: TestClient) -> None:
    before = counts(world)

    assert_problem(post_movement(api_as("store:UTR-02")), 403, "forbidden")
    assert_problem(post_movement(api_as("channel:web")), 403, "forbidden")
    assert_problem(post_movement(api_as("customer:cus_1")), 403, "forbidden")
    assert_problem(client.post("/api/v1/inventory/movements", json={}), 401, "unauthenticated")
    assert counts(world) == before

    own = post_movement(api_as("store:AMS-01"), quantity=3)
    assert own.status_code == 201, own.text
    assert levels(world) == {("TEE-M", "AMS-01"): (3, 0, 0)}


def test_the_ledger_lists_newest_first_with_filters_and_pages(world: Database, admin: TestClient,
                                                              clock: FrozenClock) -> None:
    post_movement(admin, quantity=5)
    clock.advance(minutes=1)
    post_movement(admin, sku="MUG", quantity=7)
    clock.advance(minutes=1)
    post_movement(admin, location="WH-1", quantity=9)
    post_movement(admin, reason="damage", quantity=-1)

    def quantities(**params: Any) -> list[tuple[str, str, int]]:
        answer = admin.get("/inventory/movements", params=params)
        assert answer.status_code == 200, answer.text
        return [(item["sku"], item["location"], item["quantity"]) for item in answer.json()["items"]]

    assert quantities() == [("TEE-M", "AMS-01", -1), ("TEE-M", "WH-1", 9), ("MUG", "AMS-01", 7),
                            ("TEE-M", "AMS-01", 5)]
    assert quantities(sku="TEE-M", location="AMS-01") == [("TEE-M", "AMS-01", -1), ("TEE-M", "AMS-01", 5)]
    assert quantities(location="WH-1") == [("TEE-M", "WH-1", 9)]
    assert quantities(location="NOWHERE") == []
    first = admin.get("/inventory/movements", params={"limit": 3}).json()
    assert len(first["items"]) == 3
    second = admin.get("/inventory/movements", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [item["quantity"] for item in second["items"]] == [5]
    assert second["next_cursor"] is None
    problem = assert_problem(admin.get("/inventory/movements", params={"cursor": "bm90LWEtbnVtYmVy"}), 422,
                             "validation")
    assert problem["errors"][0]["field"] == "cursor"


def test_store_keys_read_only_their_own_ledger_and_levels(world: Database, admin: TestClient,
                                                          api_as: Callable[[str], TestClient]) -> None:
    post_movement(admin, quantity=5)
    post_movement(admin, location="WH-1", quantity=9)
    store = api_as("store:AMS-01")

    assert [item["location"] for item in store.get("/inventory/movements").json()["items"]] == ["AMS-01"]
    assert [item["location"] for item in store.get("/inventory/levels").json()["items"]] == ["AMS-01"]
    assert_problem(store.get("/inventory/movements", params={"location": "WH-1"}), 403, "forbidden")
    assert_problem(store.get("/inventory/levels", params={"location": "WH-1"}), 403, "forbidden")
    assert_problem(api_as("channel:web").get("/inventory/levels"), 403, "forbidden")
    assert_problem(api_as("customer:cus_1").get("/inventory/movements"), 403, "forbidden")


def test_levels_show_on_hand_reserved_allocated_and_available(world: Database, admin: TestClient,
                                                              clock: FrozenClock) -> None:
    post_movement(admin, quantity=10)
    post_movement(admin, sku="MUG", location="WH-1", quantity=4)
    reservation_id = hold(world, clock, sku="TEE-M", quantity=3)
    hold(world, clock, sku="TEE-M", quantity=2, ttl_seconds=60)
    with world.write() as session:
        service.convert_reservation(session, reservation_id=reservation_id, clock=clock)

    def listed(**params: Any) -> list[dict[str, Any]]:
        answer = admin.get("/inventory/levels", params=params)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    tee = {"sku": "TEE-M", "location": "AMS-01", "on_hand": 10, "reserved": 2, "allocated": 3, "available": 5}
    mug = {"sku": "MUG", "location": "WH-1", "on_hand": 4, "reserved": 0, "allocated": 0, "available": 4}
    assert listed() == [tee, mug]
    assert listed(sku="MUG") == [mug]
    assert listed(location="AMS-01", sku="TEE-M") == [tee]
    clock.advance(seconds=60)
    assert listed(sku="TEE-M") == [{**tee, "reserved": 0, "available": 7}]
    page = admin.get("/inventory/levels", params={"limit": 1}).json()
    assert page["items"] == [{**tee, "reserved": 0, "available": 7}]
    assert admin.get("/inventory/levels", params={"limit": 1, "cursor": page["next_cursor"]}).json() == {
        "items": [mug], "next_cursor": None}


def test_a_cycle_count_records_the_difference_as_a_movement(world: Database, admin: TestClient) -> None:
    post_movement(admin, quantity=10)

    response = admin.put("/inventory/levels/AMS-01/TEE-M", json={"on_hand": 7, "reason": "cycle_count",
                                                                  "note": "shelf count"})

    assert response.status_code == 200, response.text
    assert response.json() == {"sku": "TEE-M", "location": "AMS-01", "on_hand": 7, "reserved": 0, "allocated": 0,
                               "available": 7}
    latest = admin.get("/inventory/movements").json()["items"][0]
    assert (latest["reason"], latest["quantity"], latest["on_hand_after"], latest["note"]) == (
        "cycle_count", -3, 7, "shelf count")
    assert ledger_sums(world) == {("TEE-M", "AMS-01"): 7}
    assert event_payloads(world, "inventory.changed")[-1]["reason"] == "cycle_count"


def test_a_cycle_count_matching_the_record_writes_nothing(world: Database, admin: TestClient) -> None:
    post_movement(admin, quantity=10)
    before = counts(world)

    response = admin.put("/inventory/levels/AMS-01/TEE-M", json={"on_hand": 10, "reason": "cycle_count"})

    assert response.status_code == 200
    assert response.json()["on_hand"] == 10
    assert counts(world) == before


def test_a_first_cycle_count_creates_the_level_and_a_count_of_zero_creates_nothing(world: Database,
                                                                                   admin: TestClient) -> None:
    before = counts(world)
    empty = admin.put("/inventory/levels/WH-1/MUG", json={"on_hand": 0, "reason": "cycle_count"})
    assert empty.json() == {"sku": "MUG", "location": "WH-1", "on_hand": 0, "reserved": 0, "allocated": 0,
                            "available": 0}
    assert counts(world) == before

    counted = admin.put("/inventory/levels/WH-1/MUG", json={"on_hand": 6, "reason": "cycle_count"})

    assert counted.json()["on_hand"] == 6
    assert levels(world) == {("MUG", "WH-1"): (6, 0, 0)}
    assert ledger_sums(world) == {("MUG", "WH-1"): 6}


def test_a_cycle_count_below_the_reserved_units_is_refused(world: Database, admin: TestClient,
                                                           clock: FrozenClock) -> None:
    post_movement(admin, quantity=10)
    hold(world, clock, sku="TEE-M", quantity=6)
    before = counts(world)

    response = admin.put("/inventory/levels/AMS-01/TEE-M", json={"on_hand": 5, "reason": "cycle_count"})

    assert_problem(response, 409, "insufficient-on-hand")
    assert counts(world) == before
    assert levels(world) == {("TEE-M", "AMS-01"): (10, 6, 0)}


@pytest.mark.parametrize(("path", "body", "status", "slug", "field"), [
    ("/inventory/levels/NOPE/TEE-M", {"on_hand": 1, "reason": "cycle_count"}, 404, "location-not-found", "location"),
    ("/inventory/levels/AMS-01/NOPE", {"on_hand": 1, "reason": "cycle_count"}, 404, "sku-not-found", "sku"),
    ("/inventory/levels/AMS-01/TEE-M", {"on_hand": -1, "reason": "cycle_count"}, 422, "validation", "on_hand"),
    ("/inventory/levels/AMS-01/TEE-M", {"on_hand": 1, "reason": "receipt"}, 422, "validation", "reason"),
    ("/inventory/levels/AMS-01/TEE-M", {"on_hand": 1}, 422, "validation", "reason"),
])
def test_invalid_cycle_counts_change_nothing(world: Database, admin: TestClient, path: str, body: dict[str, Any],
                                             status: int, slug: str, field: str) -> None:
    before = counts(world)

    problem = assert_problem(admin.put(path, json=body), status, slug)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert counts(world) == before


def test_cycle_counts_need_the_stores_own_key(world: Database, api_as: Callable[[str], TestClient]) -> None:
    body = {"on_hand": 3, "reason": "cycle_count"}
    before = counts(world)

    assert_problem(api_as("store:UTR-02").put("/inventory/levels/AMS-01/TEE-M", json=body), 403, "forbidden")
    assert counts(world) == before

    assert api_as("store:AMS-01").put("/inventory/levels/AMS-01/TEE-M", json=body).status_code == 200
    assert levels(world) == {("TEE-M", "AMS-01"): (3, 0, 0)}


def test_the_service_refuses_a_movement_sign_the_api_would_refuse(world: Database, clock: FrozenClock) -> None:
    with world.write() as session:
        receive(session, sku="MUG", location="WH-1", quantity=2, clock=clock)
    with pytest.raises(InvalidInput, match="must be negative for damage"), world.write() as session:
        service.record_movement(session, sku="MUG", location="WH-1", quantity=1, reason="damage", actor="test",
                                clock=clock)
    assert levels(world) == {("MUG", "WH-1"): (2, 0, 0)}
