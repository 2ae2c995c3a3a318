"""Availability per channel and per location: safety stock, caps, channel locations and lapsed holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select

from omniloom.inventory import service
from omniloom.inventory.errors import LocationNotFound, SkuNotFound
from omniloom.inventory.models import InventoryLevel, Location
from omniloom.inventory.schemas import ReservationLineIn
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.factories import make_channel
from tests.inventory.helpers import receive


def stock(database: Database, clock: FrozenClock, **at: int) -> None:
    """``stock(db, clock, WH_1=10)`` receives TEE-M units at each location (``_`` for ``-``)."""
    with database.write() as session:
        for location, quantity in at.items():
            receive(session, sku="TEE-M", location=location.replace("_", "-"), quantity=quantity, clock=clock)


def hold(database: Database, clock: FrozenClock, *, channel: str = "app", quantity: int, location: str | None = None,
         ttl_seconds: int = 600) -> str:
    with database.write() as session:
        line = ReservationLineIn(sku="TEE-M", quantity=quantity, location=location)
        return service.reserve(session, channel=channel, lines=[line], ttl_seconds=ttl_seconds, actor="test",
                               clock=clock).id


def availability(client: TestClient, channel: str, sku: str = "TEE-M") -> dict[str, Any]:
    response = client.get(f"/availability/{sku}", params={"channel": channel})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_channel_sees_its_locations_in_order_with_pickup_and_curbside(world: Database, admin: TestClient,
                                                                        clock: FrozenClock) -> None:
    stock(world, clock, WH_1=10, AMS_01=4, UTR_02=50)

    assert availability(admin, "web") == {
        "sku": "TEE-M", "channel": "web", "available": 14,
        "locations": [{"location": "WH-1", "available": 10, "pickup": False, "curbside": False},
                      {"location": "AMS-01", "available": 4, "pickup": True, "curbside": True}],
    }
    assert availability(admin, "app")["locations"] == [
        {"location": "AMS-01", "available": 4, "pickup": True, "curbside": True},
        {"location": "UTR-02", "available": 50, "pickup": True, "curbside": False},
        {"location": "WH-1", "available": 10, "pickup": False, "curbside": False},
    ]


def test_locations_without_stock_offer_no_pickup(world: Database, admin: TestClient, clock: FrozenClock) -> None:
    stock(world, clock, WH_1=2)

    assert availability(admin, "web")["locations"] == [
        {"location": "WH-1", "available": 2, "pickup": False, "curbside": False},
        {"location": "AMS-01", "available": 0, "pickup": False, "curbside": False},
    ]


@pytest.mark.parametrize(("on_hand", "expected"), [(0, 0), (1, 0), (2, 0), (3, 1), (7, 5), (100, 5)])
def test_safety_stock_is_kept_back_and_the_cap_limits_exposure(world: Database, admin: TestClient,
                                                               clock: FrozenClock, on_hand: int,
                                                               expected: int) -> None:
    if on_hand:
        stock(world, clock, WH_1=on_hand)

    answer = availability(admin, "market")

    assert (answer["available"], answer["locations"][0]["available"]) == (expected, expected)


def test_safety_stock_is_kept_back_at_each_location_and_never_goes_negative(world: Database, admin: TestClient,
                                                                           clock: FrozenClock) -> None:
    with world.write() as session:
        make_channel(session, code="social", type="social", location_codes=["WH-1", "AMS-01"], safety_stock=2,
                     clock=clock)
    stock(world, clock, WH_1=4, AMS_01=1)

    answer = availability(admin, "social")

    assert answer["available"] == 2
    assert [entry["available"] for entry in answer["locations"]] == [2, 0]


def test_reserved_and_allocated_units_are_not_available(world: Database, admin: TestClient,
                                                        clock: FrozenClock) -> None:
    stock(world, clock, WH_1=10, AMS_01=4)
    hold(world, clock, quantity=3, location="AMS-01")
    converted = hold(world, clock, quantity=6, location="WH-1")
    with world.write() as session:
        service.convert_reservation(session, reservation_id=converted, clock=clock)

    assert [entry["available"] for entry in availability(admin, "web")["locations"]] == [4, 1]
    assert availability(admin, "web")["available"] == 5


def test_holds_past_their_expiry_stop_counting_before_the_worker_releases_them(world: Database, admin: TestClient,
                                                                               clock: FrozenClock) -> None:
    stock(world, clock, WH_1=10, AMS_01=4)
    hold(world, clock, quantity=8, location="WH-1", ttl_seconds=60)
    hold(world, clock, quantity=1, location="WH-1", ttl_seconds=600)
    assert availability(admin, "web")["available"] == 5

    clock.advance(seconds=60)

    assert availability(admin, "web")["available"] == 13
    with world.read() as session:
        assert service.location_availability(session, location_code="WH-1", clock=clock) == [("TEE-M", 9)]
    with world.write() as session:
        assert service.expire_reservations(session, clock=clock) == 1
    assert availability(admin, "web")["available"] == 13


def test_location_availability_lists_every_sku_of_a_location(world: Database, clock: FrozenClock) -> None:
    with world.write() as session:
        for sku, quantity in (("TEE-M", 3), ("MUG", 5), ("TEE-L", 1)):
            receive(session, sku=sku, location="AMS-01", quantity=quantity, clock=clock)
        receive(session, sku="MUG", location="WH-1", quantity=9, clock=clock)
    hold(world, clock, quantity=2, location="AMS-01")

    with world.read() as session:
        assert service.location_availability(session, location_code="AMS-01", clock=clock) == [
            ("MUG", 5), ("TEE-L", 1), ("TEE-M", 1)]
        assert service.location_availability(session, location_code="UTR-02", clock=clock) == []
        with pytest.raises(LocationNotFound):
            service.location_availability(session, location_code="NOPE", clock=clock)


def test_location_availability_of_ten_thousand_skus_is_one_query(world: Database, clock: FrozenClock) -> None:
    with world.write() as session:
        location_id = session.scalar(select(Location.id).where(Location.code == "UTR-02"))
        session.execute(insert(InventoryLevel), [
            {"sku": f"BULK-{number:05d}", "location_id": location_id, "on_hand": number % 7, "reserved": 0,
             "allocated": 0, "updated_at": clock.now()} for number in range(10_000)])

    statements: list[str] = []

    def note(*args: object) -> None:
        statements.append(str(args[2]))

    with world.read() as session:
        event.listen(world.engine, "before_cursor_execute", note)
        try:
            answer = service.location_availability(session, location_code="UTR-02", clock=clock)
        finally:
            event.remove(world.engine, "before_cursor_execute", note)

    assert len(answer) == 10_000
    assert answer[:3] == [("BULK-00000", 0), ("BULK-00001", 1), ("BULK-00002", 2)]
    assert sum(available for _, available in answer) == sum(number % 7 for number in range(10_000))
    assert len([statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]) == 1


def test_the_service_answers_like_the_api(world: Database, admin: TestClient, clock: FrozenClock) -> None:
    stock(world, clock, WH_1=10)

    with world.read() as session:
        answer = service.channel_availability(session, sku="TEE-M", channel="market", clock=clock)

    assert answer.model_dump() == availability(admin, "market")


def test_unknown_skus_and_channels_are_404s(world: Database, admin: TestClient, clock: FrozenClock) -> None:
    problem = assert_problem(admin.get("/availability/NOPE", params={"channel": "web"}), 404, "sku-not-found")
    assert problem["sku"] == "NOPE"
    assert_problem(admin.get("/availability/TEE-M", params={"channel": "nope"}), 404, "channel-not-found")
    problem = assert_problem(admin.get("/availability/TEE-M"), 422, "validation")
    assert problem["errors"][0]["field"] == "channel"
    assert availability(admin, "web")["available"] == 0
    with world.read() as session, pytest.raises(SkuNotFound):
        service.channel_availability(session, sku="NOPE", channel="web", clock=clock)


def test_channel_keys_see_only_their_own_channel(world: Database, api_as: Callable[[str], TestClient],
                                                 client: TestClient, clock: FrozenClock) -> None:
    stock(world, clock, WH_1=10)

    assert availability(api_as("channel:web"), "web")["available"] == 10
    assert availability(api_as("store:UTR-02"), "market")["available"] == 5
    assert_problem(api_as("channel:web").get("/availability/TEE-M", params={"channel": "market"}), 403, "forbidden")
    assert_problem(api_as("customer:cus_1").get("/availability/TEE-M", params={"channel": "web"}), 403, "forbidden")
    assert_problem(client.get("/api/v1/availability/TEE-M", params={"channel": "web"}), 401, "unauthenticated")


def test_inactive_locations_do_not_count(world: Database, admin: TestClient, clock: FrozenClock) -> None:
    stock(world, clock, WH_1=10, AMS_01=4)
    assert admin.patch("/locations/WH-1", json={"active": False}).status_code == 200

    assert availability(admin, "web") == {
        "sku": "TEE-M", "channel": "web", "available": 4,
        "locations": [{"location": "AMS-01", "available": 4, "pickup": True, "curbside": True}],
    }
