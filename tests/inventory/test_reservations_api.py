"""Reservations over HTTP and through the service: planning, refusals, release, expiry, conversion, events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.inventory import service
from omniloom.inventory.errors import ReservationNotActive, ReservationNotFound
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.inventory.helpers import active_line_units, counts, event_payloads, levels, receive, reserve_body


@pytest.fixture
def stocked(world: Database, clock: FrozenClock) -> Database:
    """TEE-M: 10 at WH-1, 4 at AMS-01, 50 at UTR-02 (not sold by ``web``); MUG: 3 at AMS-01."""
    with world.write() as session:
        receive(session, sku="TEE-M", location="WH-1", quantity=10, clock=clock)
        receive(session, sku="TEE-M", location="AMS-01", quantity=4, clock=clock)
        receive(session, sku="TEE-M", location="UTR-02", quantity=50, clock=clock)
        receive(session, sku="MUG", location="AMS-01", quantity=3, clock=clock)
    return world


def line(sku: str = "TEE-M", quantity: int = 1, location: str | None = None) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity} | ({"location": location} if location else {})


def test_a_reservation_takes_the_channels_locations_in_order_and_splits(stocked: Database,
                                                                        admin: TestClient) -> None:
    response = admin.post("/reservations", json=reserve_body(line(quantity=12), line("MUG", 2)))

    assert response.status_code == 201, response.text
    reservation = response.json()
    assert reservation.pop("id").startswith("res_")
    assert reservation == {
        "status": "active", "channel": "web", "reference": None, "expires_at": "2026-11-30T10:10:00Z",
        "created_at": "2026-11-30T10:00:00Z", "ended_at": None,
        "lines": [{"sku": "TEE-M", "location": "WH-1", "quantity": 10},
                  {"sku": "TEE-M", "location": "AMS-01", "quantity": 2},
                  {"sku": "MUG", "location": "AMS-01", "quantity": 2}],
    }
    assert levels(stocked) == {("TEE-M", "WH-1"): (10, 10, 0), ("TEE-M", "AMS-01"): (4, 2, 0),
                               ("TEE-M", "UTR-02"): (50, 0, 0), ("MUG", "AMS-01"): (3, 2, 0)}
    assert event_payloads(stocked, "reservation.created") == [{
        "reservation_id": response.json()["id"], "channel": "web", "expires_at": "2026-11-30T10:10:00Z",
        "lines": reservation["lines"],
    }]


def test_a_line_with_a_location_is_served_only_there(stocked: Database, admin: TestClient) -> None:
    response = admin.post("/reservations", json=reserve_body(line(quantity=3, location="AMS-01"),
                                                             line(quantity=11)))

    assert response.status_code == 201, response.text
    assert response.json()["lines"] == [{"sku": "TEE-M", "location": "AMS-01", "quantity": 4},
                                        {"sku": "TEE-M", "location": "WH-1", "quantity": 10}]
    assert active_line_units(stocked) == {("TEE-M", "AMS-01"): 4, ("TEE-M", "WH-1"): 10}


def test_the_default_lifetime_comes_from_the_settings(stocked: Database, admin: TestClient) -> None:
    response = admin.post("/reservations", json=reserve_body(line(), ttl_seconds=None))

    assert response.json()["expires_at"] == "2026-11-30T10:15:00Z"


def test_not_enough_stock_lists_the_short_lines_and_writes_nothing(stocked: Database, admin: TestClient) -> None:
    before = counts(stocked), levels(stocked)

    response = admin.post("/reservations", json=reserve_body(line(quantity=15), line("MUG", 3),
                                                             line("MUG", 1, location="AMS-01")))

    problem = assert_problem(response, 409, "insufficient-stock")
    assert problem["lines"] == [{"sku": "TEE-M", "requested": 15, "available": 14},
                                {"sku": "MUG", "requested": 3, "available": 2}]
    assert (counts(stocked), levels(stocked)) == before


def test_a_pinned_location_offers_only_its_own_stock(stocked: Database, admin: TestClient) -> None:
    before = counts(stocked)

    response = admin.post("/reservations", json=reserve_body(line(quantity=5, location="AMS-01")))

    assert assert_problem(response, 409, "insufficient-stock")["lines"] == [
        {"sku": "TEE-M", "requested": 5, "available": 4}]
    assert counts(stocked) == before


def test_a_channel_keeps_its_safety_stock_and_cap(stocked: Database, admin: TestClient) -> None:
    refused = admin.post("/reservations", json=reserve_body(line(quantity=6), channel="market"))
    assert assert_problem(refused, 409, "insufficient-stock")["lines"] == [
        {"sku": "TEE-M", "requested": 6, "available": 5}]

    taken = admin.post("/reservations", json=reserve_body(line(quantity=5), channel="market"))
    assert taken.status_code == 201, taken.text
    again = admin.post("/reservations", json=reserve_body(line(quantity=4), channel="market"))

    assert assert_problem(again, 409, "insufficient-stock")["lines"] == [
        {"sku": "TEE-M", "requested": 4, "available": 3}]
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 5, 0)


def test_lines_for_the_same_sku_are_merged(stocked: Database, admin: TestClient) -> None:
    response = admin.post("/reservations", json=reserve_body(line(quantity=2), line(quantity=3)))

    assert response.json()["lines"] == [{"sku": "TEE-M", "location": "WH-1", "quantity": 5}]


@pytest.mark.parametrize(("body", "field"), [
    (reserve_body(line("NOPE")), "lines[0].sku"),
    (reserve_body(line(), line("NOPE", 2), line("GONE")), "lines[1].sku"),
    (reserve_body(line(location="UTR-02")), "lines[0].location"),
    (reserve_body(line(location="NOWHERE")), "lines[0].location"),
    (reserve_body(line(), channel="nope"), "channel"),
    (reserve_body(line(quantity=0)), "lines[0].quantity"),
    (reserve_body(line(quantity=-2)), "lines[0].quantity"),
    (reserve_body(line(), ttl_seconds=0), "ttl_seconds"),
    (reserve_body(line(), ttl_seconds=604_801), "ttl_seconds"),
    (reserve_body(), "lines"),
    ({"lines": [line()]}, "channel"),
    ({"channel": "web", "lines": [{"quantity": 1}]}, "lines[0].sku"),
    ({"channel": "web", "lines": [line()], "status": "converted"}, "status"),
])
def test_invalid_reservations_are_refused_naming_the_field(stocked: Database, admin: TestClient,
                                                           body: dict[str, Any], field: str) -> None:
    before = counts(stocked), levels(stocked)

    problem = assert_problem(admin.post("/reservations", json=body), 422, "validation")

    assert problem["errors"][0]["field"] == field
    assert (counts(stocked), levels(stocked)) == before


def test_an_inactive_channel_cannot_reserve(stocked: Database, admin: TestClient) -> None:
    assert admin.patch("/channels/web", json={"active": False}).status_code == 200
    before = counts(stocked)

    problem = assert_problem(admin.post("/reservations", json=reserve_body(line())), 422, "validation")

    assert problem["errors"] == [{"field": "channel", "message": "channel 'web' is not active"}]
    assert counts(stocked) == before


def test_malformed_json_is_a_400(stocked: Database, admin: TestClient) -> None:
    before = counts(stocked)

    response = admin.post("/reservations", content=b'{"channel": "web", "lines": [',
                          headers={"content-type": "application/json"})

    assert_problem(response, 400, "malformed-request")
    assert counts(stocked) == before


def test_only_admin_or_the_channels_own_key_may_reserve(stocked: Database, api_as: Callable[[str], TestClient],
                                                        client: TestClient) -> None:
    before = counts(stocked), levels(stocked)

    assert_problem(client.post("/api/v1/reservations", json=reserve_body(line())), 401, "unauthenticated")
    assert_problem(api_as("channel:other").post("/reservations", json=reserve_body(line())), 403, "forbidden")
    assert_problem(api_as("channel:market").post("/reservations", json=reserve_body(line())), 403, "forbidden")
    assert_problem(api_as("store:AMS-01").post("/reservations", json=reserve_body(line())), 403, "forbidden")
    assert (counts(stocked), levels(stocked)) == before

    assert api_as("channel:web").post("/reservations", json=reserve_body(line())).status_code == 201


def test_get_shows_a_reservation_to_admin_and_its_channel(stocked: Database, admin: TestClient,
                                                          api_as: Callable[[str], TestClient]) -> None:
    created = api_as("channel:web").post("/reservations", json=reserve_body(line(quantity=2))).json()

    assert admin.get(f"/reservations/{created['id']}").json() == created
    assert api_as("channel:web").get(f"/reservations/{created['id']}").json() == created
    assert_problem(api_as("channel:market").get(f"/reservations/{created['id']}"), 403, "forbidden")
    assert_problem(admin.get("/reservations/res_nope"), 404, "reservation-not-found")


def test_delete_releases_once_and_is_idempotent(stocked: Database, admin: TestClient,
                                                clock: FrozenClock) -> None:
    created = admin.post("/reservations", json=reserve_body(line(quantity=12))).json()
    clock.advance(minutes=2)

    first = admin.delete(f"/reservations/{created['id']}")
    second = admin.delete(f"/reservations/{created['id']}")

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {**created, "status": "released", "ended_at": "2026-11-30T10:02:00Z"}
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 0, 0)
    assert levels(stocked)[("TEE-M", "AMS-01")] == (4, 0, 0)
    assert event_payloads(stocked, "reservation.released") == [
        {"reservation_id": created["id"], "channel": "web", "lines": created["lines"]}]


def test_deleting_a_lapsed_hold_ends_it_as_expired(stocked: Database, admin: TestClient,
                                                   clock: FrozenClock) -> None:
    created = admin.post("/reservations", json=reserve_body(line(quantity=3), ttl_seconds=60)).json()
    clock.advance(seconds=61)
    assert admin.get(f"/reservations/{created['id']}").json()["status"] == "expired"

    response = admin.delete(f"/reservations/{created['id']}")

    assert response.json()["status"] == "expired"
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 0, 0)
    assert len(event_payloads(stocked, "reservation.expired")) == 1
    assert event_payloads(stocked, "reservation.released") == []


def test_releasing_needs_the_channels_own_key(stocked: Database, admin: TestClient,
                                              api_as: Callable[[str], TestClient]) -> None:
    created = admin.post("/reservations", json=reserve_body(line(quantity=3))).json()

    assert_problem(api_as("channel:market").delete(f"/reservations/{created['id']}"), 403, "forbidden")
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 3, 0)
    assert_problem(admin.delete("/reservations/res_nope"), 404, "reservation-not-found")

    assert api_as("channel:web").delete(f"/reservations/{created['id']}").json()["status"] == "released"


def test_the_same_idempotency_key_returns_the_first_answer(stocked: Database, admin: TestClient) -> None:
    headers = {"Idempotency-Key": "checkout-1"}

    first = admin.post("/reservations", json=reserve_body(line(quantity=2)), headers=headers)
    replay = admin.post("/reservations", json=reserve_body(line(quantity=2)), headers=headers)
    other_body = admin.post("/reservations", json=reserve_body(line(quantity=3)), headers=headers)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert_problem(other_body, 422, "validation")
    assert counts(stocked)["reservations"] == 1
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 2, 0)


def test_a_refusal_under_an_idempotency_key_is_replayed(stocked: Database, admin: TestClient,
                                                        clock: FrozenClock) -> None:
    headers = {"Idempotency-Key": "checkout-2"}

    first = admin.post("/reservations", json=reserve_body(line(quantity=99)), headers=headers)
    with stocked.write() as session:
        receive(session, sku="TEE-M", location="WH-1", quantity=100, clock=clock)
    replay = admin.post("/reservations", json=reserve_body(line(quantity=99)), headers=headers)

    assert_problem(first, 409, "insufficient-stock")
    assert_problem(replay, 409, "insufficient-stock")
    assert replay.json() == first.json()
    assert counts(stocked)["reservations"] == 0


def test_a_new_reservation_releases_lapsed_holds_before_refusing(stocked: Database, admin: TestClient,
                                                                 clock: FrozenClock) -> None:
    lapsed = admin.post("/reservations", json=reserve_body(line(quantity=14), ttl_seconds=60)).json()
    clock.advance(seconds=60)

    response = admin.post("/reservations", json=reserve_body(line(quantity=12)))

    assert response.status_code == 201, response.text
    assert admin.get(f"/reservations/{lapsed['id']}").json()["status"] == "expired"
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 10, 0)
    assert levels(stocked)[("TEE-M", "AMS-01")] == (4, 2, 0)
    assert [payload["reservation_id"] for payload in event_payloads(stocked, "reservation.expired")] == [
        lapsed["id"]]


def test_expiry_releases_only_lapsed_holds_in_batches(stocked: Database, admin: TestClient,
                                                      clock: FrozenClock) -> None:
    short = [admin.post("/reservations", json=reserve_body(line(), ttl_seconds=60)).json()["id"] for _ in range(3)]
    long = admin.post("/reservations", json=reserve_body(line(), ttl_seconds=600)).json()["id"]
    clock.advance(seconds=60)

    with stocked.write() as session:
        assert service.expire_reservations(session, clock=clock, limit=2) == 2
    with stocked.write() as session:
        assert service.expire_reservations(session, clock=clock) == 1
        assert service.expire_reservations(session, clock=clock) == 0

    assert [admin.get(f"/reservations/{rid}").json()["status"] for rid in [*short, long]] == [
        "expired", "expired", "expired", "active"]
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 1, 0)
    assert len(event_payloads(stocked, "reservation.expired")) == 3


def test_conversion_moves_units_from_reserved_to_allocated(stocked: Database, admin: TestClient,
                                                           clock: FrozenClock) -> None:
    created = admin.post("/reservations", json=reserve_body(line(quantity=12))).json()

    with stocked.write() as session:
        converted = service.convert_reservation(session, reservation_id=created["id"], clock=clock)

    assert converted.status == "converted"
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 0, 10)
    assert levels(stocked)[("TEE-M", "AMS-01")] == (4, 0, 2)
    assert event_payloads(stocked, "reservation.converted") == [
        {"reservation_id": created["id"], "channel": "web", "lines": created["lines"]}]
    assert admin.delete(f"/reservations/{created['id']}").json()["status"] == "converted"
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 0, 10)


def test_only_active_unexpired_reservations_convert(stocked: Database, admin: TestClient,
                                                    clock: FrozenClock) -> None:
    released = admin.post("/reservations", json=reserve_body(line())).json()["id"]
    admin.delete(f"/reservations/{released}")
    lapsed = admin.post("/reservations", json=reserve_body(line(), ttl_seconds=60)).json()["id"]
    clock.advance(seconds=60)

    with stocked.write() as session:
        with pytest.raises(ReservationNotActive, match="is released"):
            service.convert_reservation(session, reservation_id=released, clock=clock)
        with pytest.raises(ReservationNotActive, match="is expired"):
            service.convert_reservation(session, reservation_id=lapsed, clock=clock)
        with pytest.raises(ReservationNotFound):
            service.convert_reservation(session, reservation_id="res_nope", clock=clock)
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 1, 0)
