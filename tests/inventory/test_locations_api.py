"""Locations over HTTP: creation with validation, listing with filters, reading, changes and their events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.inventory.helpers import counts, event_payloads, location_body


def test_create_location_answers_with_every_field(admin: TestClient, database: Database) -> None:
    response = admin.post("/locations", json=location_body())

    assert response.status_code == 201, response.text
    location = response.json()
    assert location.pop("id").startswith("loc_")
    assert location == {
        "code": "AMS-01", "name": "Store AMS-01", "type": "store",
        "address": {"line1": "Kalverstraat 1", "line2": None, "city": "Amsterdam", "region": None,
                    "postal_code": "1012 NX", "country": "NL"},
        "latitude": 52.3731, "longitude": 4.8922, "timezone": "Europe/Amsterdam",
        "opening_hours": {"mon": [["09:00", "12:30"], ["13:30", "18:00"]], "sat": [["10:00", "17:00"]]},
        "capabilities": ["ship", "pickup", "curbside", "returns", "pos"], "email": None, "priority": 5, "active": True,
        "created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z",
    }
    assert event_payloads(database, "location.created") == [{
        "code": "AMS-01", "name": "Store AMS-01", "type": "store",
        "capabilities": ["ship", "pickup", "curbside", "returns", "pos"], "latitude": 52.3731, "longitude": 4.8922,
        "active": True,
    }]


def test_optional_fields_take_their_defaults(admin: TestClient) -> None:
    body = location_body("POP-1", type="popup", capabilities=[])
    for optional in ("timezone", "opening_hours", "priority"):
        del body[optional]

    response = admin.post("/locations", json=body)

    assert response.status_code == 201, response.text
    assert {key: response.json()[key] for key in ("type", "timezone", "opening_hours", "priority", "capabilities")} \
        == {"type": "popup", "timezone": "UTC", "opening_hours": {}, "priority": 0, "capabilities": []}


def test_a_taken_code_is_a_conflict_and_writes_nothing(admin: TestClient, database: Database) -> None:
    assert admin.post("/locations", json=location_body()).status_code == 201
    before = counts(database)

    response = admin.post("/locations", json=location_body(name="Another"))

    assert_problem(response, 409, "location-code-taken")
    assert response.json()["location"] == "AMS-01"
    assert counts(database) == before


def with_address(**changes: Any) -> dict[str, Any]:
    body = location_body()
    body["address"] = {**body["address"], **changes}
    return body


@pytest.mark.parametrize(("body", "field"), [
    (with_address(country="XX"), "address.country"),
    (with_address(country="EU"), "address.country"),
    (with_address(country="nl"), "address.country"),
    (with_address(city=""), "address.city"),
    (with_address(postal_code="   "), "address.postal_code"),
    (location_body(latitude=90.5), "latitude"),
    (location_body(longitude=-180.01), "longitude"),
    (location_body(latitude="north"), "latitude"),
    (location_body(timezone="Mars/Olympus_Mons"), "timezone"),
    (location_body(timezone="../../etc/passwd"), "timezone"),
    (location_body(opening_hours={"mon": [["18:00", "09:00"]]}), "opening_hours.mon"),
    (location_body(opening_hours={"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}), "opening_hours.mon"),
    (location_body(opening_hours={"tue": [["25:00", "18:00"]]}), "opening_hours.tue[0][0]"),
    (location_body(opening_hours={"tue": [["09:00"]]}), "opening_hours.tue[0][1]"),
    (location_body(capabilities=["ship", "teleport"]), "capabilities[1]"),
    (location_body(capabilities=["ship", "ship"]), "capabilities"),
    (location_body(type="kiosk"), "type"),
    (location_body("has space"), "code"),
    (location_body(""), "code"),
    (location_body(priority=10_000), "priority"),
    (location_body(active=False), "active"),
])
def test_invalid_locations_are_refused_naming_the_field(admin: TestClient, database: Database,
                                                        body: dict[str, Any], field: str) -> None:
    before = counts(database)

    response = admin.post("/locations", json=body)

    problem = assert_problem(response, 422, "validation")
    assert [error["field"] for error in problem["errors"]] == [field]
    assert counts(database) == before


def test_an_unknown_weekday_is_refused(admin: TestClient, database: Database) -> None:
    response = admin.post("/locations", json=location_body(opening_hours={"someday": [["09:00", "17:00"]]}))

    problem = assert_problem(response, 422, "validation")
    assert problem["errors"][0]["field"].startswith("opening_hours.someday")
    assert counts(database)["locations"] == 0


def test_malformed_json_is_a_400(admin: TestClient, database: Database) -> None:
    response = admin.post("/locations", content=b'{"code": "AMS-01",', headers={"content-type": "application/json"})

    assert_problem(response, 400, "malformed-request")
    assert counts(database)["locations"] == 0


def test_writing_needs_an_admin_key(client: TestClient, api_as: Callable[[str], TestClient],
                                    database: Database) -> None:
    assert_problem(client.post("/api/v1/locations", json=location_body()), 401, "unauthenticated")
    assert_problem(api_as("store:AMS-01").post("/locations", json=location_body()), 403, "forbidden")
    assert_problem(api_as("channel:web").patch("/locations/AMS-01", json={"name": "x"}), 403, "forbidden")
    assert counts(database)["locations"] == 0


def test_list_filters_by_type_and_capability_and_pages_by_code(admin: TestClient,
                                                               api_as: Callable[[str], TestClient]) -> None:
    admin.post("/locations", json=location_body("UTR-02", capabilities=["ship", "pickup"]))
    admin.post("/locations", json=location_body("AMS-01"))
    admin.post("/locations", json=location_body("WH-1", type="warehouse", capabilities=["ship"]))
    reader = api_as("channel:web")

    def codes(**params: Any) -> list[str]:
        response = reader.get("/locations", params=params)
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()["items"]]

    assert codes() == ["AMS-01", "UTR-02", "WH-1"]
    assert codes(type="store") == ["AMS-01", "UTR-02"]
    assert codes(capability="pickup") == ["AMS-01", "UTR-02"]
    assert codes(capability="curbside") == ["AMS-01"]
    assert codes(type="warehouse", capability="pickup") == []
    first = reader.get("/locations", params={"limit": 2}).json()
    assert [item["code"] for item in first["items"]] == ["AMS-01", "UTR-02"]
    second = reader.get("/locations", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert second == {"items": [second["items"][0]], "next_cursor": None}
    assert second["items"][0]["code"] == "WH-1"
    problem = assert_problem(reader.get("/locations", params={"capability": "teleport"}), 422, "validation")
    assert [error["field"] for error in problem["errors"]] == ["capability"]


def test_get_one_location_with_any_key(admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    admin.post("/locations", json=location_body())

    response = api_as("customer:cus_1").get("/locations/AMS-01")

    assert response.status_code == 200
    assert response.json()["code"] == "AMS-01"
    problem = assert_problem(admin.get("/locations/NOPE"), 404, "location-not-found")
    assert problem["location"] == "NOPE"


def test_patch_changes_only_the_fields_sent_and_records_an_event(admin: TestClient, database: Database,
                                                                 clock: FrozenClock) -> None:
    admin.post("/locations", json=location_body())
    clock.advance(hours=1)

    response = admin.patch("/locations/AMS-01", json={"name": "Amsterdam Centraal", "capabilities": ["pos"],
                                                      "active": False})

    assert response.status_code == 200, response.text
    location = response.json()
    assert (location["name"], location["capabilities"], location["active"], location["type"]) == (
        "Amsterdam Centraal", ["pos"], False, "store")
    assert location["updated_at"] == "2026-11-30T11:00:00Z"
    assert location["created_at"] == "2026-11-30T10:00:00Z"
    assert [payload["name"] for payload in event_payloads(database, "location.updated")] == ["Amsterdam Centraal"]


def test_patch_without_a_change_records_no_event(admin: TestClient, database: Database) -> None:
    admin.post("/locations", json=location_body())

    response = admin.patch("/locations/AMS-01", json={"name": "Store AMS-01"})

    assert response.status_code == 200
    assert event_payloads(database, "location.updated") == []


@pytest.mark.parametrize(("body", "field"), [
    ({"name": None}, "name"),
    ({"code": "NEW"}, "code"),
    ({"latitude": 100}, "latitude"),
    ({"opening_hours": {"sun": [["10:00", "10:00"]]}}, "opening_hours.sun"),
])
def test_invalid_patches_change_nothing(admin: TestClient, database: Database, body: dict[str, Any],
                                        field: str) -> None:
    admin.post("/locations", json=location_body())
    before = admin.get("/locations/AMS-01").json()
    events = counts(database)["outbox_events"]

    problem = assert_problem(admin.patch("/locations/AMS-01", json=body), 422, "validation")

    assert [error["field"] for error in problem["errors"]] == [field]
    assert admin.get("/locations/AMS-01").json() == before
    assert counts(database)["outbox_events"] == events


def test_patching_an_unknown_location_is_a_404(admin: TestClient) -> None:
    assert_problem(admin.patch("/locations/NOPE", json={"name": "x"}), 404, "location-not-found")
