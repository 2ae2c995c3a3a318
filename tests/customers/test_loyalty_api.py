"""Loyalty: points earned on purchases from any channel, redeemed on any channel, tiers from rolling spend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from omniloom.customers import intake, loyalty, service
from omniloom.customers.errors import NotEnoughPoints
from omniloom.customers.schemas import LoyaltyProgramIn
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.customers.conftest import CHANNELS, order, send
from tests.factories import make_channel, recorded_events
from tests.inventory.test_concurrency import run_together

PROGRAM = {"currency": "EUR", "points_per_unit": 1, "channel_multipliers": {"pos": 2.0},
           "tiers": [{"name": "Brons", "min_spend": 0}, {"name": "Zilver", "min_spend": 50_000},
                     {"name": "Goud", "min_spend": 150_000}], "tier_window_days": 365}


@pytest.fixture
def program(channels: Database, admin: TestClient) -> TestClient:
    response = admin.put("/loyalty/program", json=PROGRAM)
    assert response.status_code == 200, response.text
    return admin


def test_points_are_earned_on_every_channel_with_its_multiplier(program: TestClient) -> None:
    admin = program
    customer = send(admin, order("W-1", 12_599, channel="web", email="l@example.com"),
                    order("P-1", 3_050, channel="pos", email="l@example.com"),
                    order("B-1", 9_900, channel="bol", currency="USD", email="l@example.com"))["customer_ids"][0]
    statement = admin.get(f"/customers/{customer}/loyalty").json()
    assert statement["balance"] == 125 + 61  # EUR 125.99 → 125; EUR 30.50 × 2 on pos → 61; USD earns nothing
    assert sorted((e["kind"], e["points"], e["reference"]) for e in statement["entries"]) == [
        ("earn", 61, "pos:P-1"), ("earn", 125, "web:W-1")]
    assert statement["tier"] == "Brons" and statement["next_tier"] == "Zilver"
    assert statement["rolling_spend"] == {"amount": 15_649, "currency": "EUR"}
    assert statement["spend_to_next_tier"] == 50_000 - 15_649


def test_tiers_follow_spend_in_the_rolling_window(program: TestClient, clock: FrozenClock) -> None:
    old = (clock.now() - timedelta(days=400)).isoformat()
    recent = (clock.now() - timedelta(days=30)).isoformat()
    customer = send(program, order("OLD", 200_000, email="t@example.com", timestamp=old),
                    order("NEW", 60_000, email="t@example.com", timestamp=recent))["customer_ids"][0]
    standing = program.get(f"/customers/{customer}/loyalty").json()
    assert (standing["tier"], standing["rolling_spend"]["amount"], standing["next_tier"]) == ("Zilver", 60_000, "Goud")


def test_redeeming_on_another_channel_and_refusing_more_than_the_balance(
        program: TestClient, api_as: Callable[[str], TestClient], database: Database) -> None:
    customer = send(program, order("W-1", 10_000, email="r@example.com"))["customer_ids"][0]
    pos = api_as("channel:pos")
    spent = pos.post(f"/customers/{customer}/loyalty/redemptions",
                     json={"points": 60, "channel": "pos", "reference": "till-9-0001"})
    assert spent.status_code == 201 and spent.json() == {"reference": "till-9-0001", "points": 60, "balance": 40}
    problem = assert_problem(pos.post(f"/customers/{customer}/loyalty/redemptions",
                                      json={"points": 41, "channel": "pos"}), 409, "not-enough-points")
    assert (problem["balance"], problem["requested"]) == (40, 41)
    assert_problem(pos.post(f"/customers/{customer}/loyalty/redemptions",
                            json={"points": 1, "channel": "pos", "reference": "till-9-0001"}), 409, "conflict")
    assert_problem(pos.post(f"/customers/{customer}/loyalty/redemptions", json={"points": 1, "channel": "web"}),
                   403, "forbidden")
    assert_problem(pos.post(f"/customers/{customer}/loyalty/redemptions", json={"points": 0, "channel": "pos"}),
                   422, "validation")
    assert program.get(f"/customers/{customer}/loyalty").json()["balance"] == 40
    with database.read() as session:
        assert [e.payload["points"] for e in recorded_events(session, types=["loyalty.points_redeemed"])] == [60]


def test_points_follow_a_merge_and_come_back_when_it_is_undone(program: TestClient) -> None:
    web = send(program, order("W-1", 10_000, email="m@example.com"))["customer_ids"][0]
    pos = send(program, order("P-1", 5_000, channel="pos", loyalty_id="FR-1"))["customer_ids"][0]
    send(program, order("A-1", 1_000, channel="app", email="m@example.com", loyalty_id="FR-1"))
    assert program.get(f"/customers/{pos}/loyalty").json()["balance"] == 100 + 100 + 10
    merge = program.get(f"/customers/{web}/merges").json()["items"][0]
    assert program.post(f"/customers/merges/{merge['id']}/undo").status_code == 200
    # the linking order carried the loyalty card, the strongest identifier: it goes back with the card's profile
    assert program.get(f"/customers/{web}/loyalty").json()["balance"] == 100
    assert program.get(f"/customers/{pos}/loyalty").json()["balance"] == 110


def test_the_program_is_admin_only_and_checked(program: TestClient, api_as: Callable[[str], TestClient]) -> None:
    assert program.get("/loyalty/program").json()["channel_multipliers"] == {"pos": 2.0}
    assert_problem(api_as("channel:web").put("/loyalty/program", json=PROGRAM), 403, "forbidden")
    assert_problem(program.put("/loyalty/program", json={**PROGRAM, "points_per_unit": -1}), 422, "validation")
    assert_problem(program.put("/loyalty/program", json={**PROGRAM, "currency": "euro"}), 422, "validation")


def test_two_channels_redeeming_the_same_points_at_once_one_fails(fresh_database: Database,
                                                                  clock: FrozenClock) -> None:
    database = fresh_database
    with database.write() as session:
        for code, kind in CHANNELS.items():
            make_channel(session, code=code, type=kind, clock=clock)  # type: ignore[arg-type]
        loyalty.set_program(session, data=LoyaltyProgramIn.model_validate(PROGRAM), clock=clock)
    prepared, _ = intake.prepare_batch([order("W-1", 100_00, email="race@example.com")], received_at=clock.now(),
                                       region="NL", only_channel=None, known_channels=frozenset(CHANNELS))
    with database.write() as session:
        customer = service.record_events(session, events=prepared, guards=(), clock=clock).profile_ids[0]
    outcomes: list[str] = []

    def redeem(index: int) -> None:
        channel = ("web", "pos", "app", "bol")[index % 4]
        try:
            with database.write() as session:
                loyalty.redeem(session, profile_id=customer, points=100, channel=channel, reference=None, clock=clock)
            outcomes.append("redeemed")
        except NotEnoughPoints:
            outcomes.append("refused")

    assert run_together(8, redeem) == []
    assert sorted(outcomes) == ["redeemed"] + ["refused"] * 7
    with database.read() as session:
        balance, ledger = session.execute(text(
            "SELECT (SELECT balance FROM loyalty_accounts), (SELECT sum(points) FROM loyalty_entries)")).one()
    assert (balance, ledger) == (0, 0)
