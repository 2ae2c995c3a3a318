"""``POST /reservations`` on the application's fast lane: the same contract as every FastAPI route."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from omniloom.inventory import service
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.fast_lane import MAX_BODY_BYTES
from tests.checks import assert_problem
from tests.inventory.helpers import counts, levels, receive, reserve_body


@pytest.fixture
def stocked(world: Database, clock: FrozenClock) -> Database:
    with world.write() as session:
        receive(session, sku="TEE-M", location="WH-1", quantity=10, clock=clock)
    return world


LINE = {"sku": "TEE-M", "quantity": 2}


def test_the_lane_answers_as_the_idempotent_route_does(stocked: Database, admin: TestClient) -> None:
    plain = admin.post("/reservations", json=reserve_body(LINE) | {"reference": "cart-1"})
    keyed = admin.post("/reservations", json=reserve_body(LINE) | {"reference": "cart-2"},
                       headers={"Idempotency-Key": "k-1"})

    assert plain.status_code == keyed.status_code == 201
    assert plain.headers["content-type"] == keyed.headers["content-type"] == "application/json"
    first, second = plain.json(), keyed.json()
    assert first.keys() == second.keys()
    assert (first["status"], first["reference"], first["lines"]) == ("active", "cart-1",
                                                                     [{**LINE, "location": "WH-1"}])
    assert (second["status"], second["reference"], second["lines"]) == ("active", "cart-2",
                                                                       [{**LINE, "location": "WH-1"}])
    assert levels(stocked)[("TEE-M", "WH-1")] == (10, 4, 0)


def test_a_body_over_the_limit_is_413_and_nothing_is_held(stocked: Database, admin: TestClient) -> None:
    before = counts(stocked), levels(stocked)
    body = b'{"channel": "web", "lines": [{"sku": "TEE-M", "quantity": 1}]' + b" " * MAX_BODY_BYTES + b"}"

    response = admin.post("/reservations", content=body, headers={"content-type": "application/json"})

    assert_problem(response, 413, "payload-too-large")
    assert (counts(stocked), levels(stocked)) == before


def test_a_body_not_declared_json_is_refused_naming_the_body(stocked: Database, admin: TestClient) -> None:
    before = counts(stocked)

    response = admin.post("/reservations", content=b'{"channel": "web", "lines": [{"sku": "TEE-M", "quantity": 1}]}',
                          headers={"content-type": "text/plain"})

    problem = assert_problem(response, 422, "validation")
    assert problem["errors"][0]["field"] == "body"
    assert counts(stocked) == before


@pytest.mark.parametrize(("authorization", "detail"), [
    (None, "send an API key"),
    ("Bearer", "send an API key"),
    ("Basic dXNlcjpwYXNz", "send an API key"),
    ("Bearer olk_not_a_key", "unknown or revoked"),
])
def test_a_missing_or_unknown_key_is_401_and_nothing_is_held(stocked: Database, client: TestClient,
                                                             authorization: str | None, detail: str) -> None:
    before = counts(stocked), levels(stocked)
    headers = {"Authorization": authorization} if authorization else {}

    response = client.post("/api/v1/reservations", json=reserve_body(LINE), headers=headers)

    assert detail in assert_problem(response, 401, "unauthenticated")["detail"]
    assert (counts(stocked), levels(stocked)) == before


def test_the_bearer_scheme_is_case_insensitive(stocked: Database, client: TestClient,
                                               key_for: Callable[[str], str]) -> None:
    response = client.post("/api/v1/reservations", json=reserve_body(LINE),
                           headers={"Authorization": f"bearer {key_for('channel:web')}"})

    assert response.status_code == 201


def test_an_unexpected_error_is_a_500_problem_without_internals(stocked: Database, admin: TestClient,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "reserve_together", broken)
    monkeypatch.setattr(service, "reserve", broken)
    before = counts(stocked), levels(stocked)

    with caplog.at_level(logging.ERROR, logger="omniloom.http"):
        response = admin.post("/reservations", json=reserve_body(LINE))

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
    assert any("secret internals" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)
    assert (counts(stocked), levels(stocked)) == before
