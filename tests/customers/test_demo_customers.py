"""The demo's customers: plausible people and history, recorded through the real intake and identity resolution."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.progress import Progress
from sqlalchemy import column, func, select, table

from omniloom.customers import identifiers, service
from omniloom.customers.intake import prepare_batch
from omniloom.demo.catalog import products
from omniloom.demo.customers import HISTORY_DAYS, DemoCustomers, demo_customers
from omniloom.demo.load import load_customers
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.checks import counts
from tests.conftest import START
from tests.factories import make_channel

CHANNELS = {"web": "web", "app": "app", "pos": "pos", "marketplace": "marketplace"}
SKUS = tuple((variant["sku"], variant["price"]["amount"]) for item in products(3) for variant in item["variants"])
PRICES = dict(SKUS)
PEOPLE = 150


@pytest.fixture(scope="module")
def people() -> DemoCustomers:
    return demo_customers(3, skus=SKUS, end=START, count=PEOPLE)


def person_events(people: DemoCustomers, number: int) -> list[dict[str, Any]]:
    return [event for event in people.events if event["id"].startswith(f"demo-{number:05d}-")]


def test_the_same_seed_gives_the_same_history_and_another_seed_another(people: DemoCustomers) -> None:
    assert demo_customers(3, skus=SKUS, end=START, count=PEOPLE) == people
    assert demo_customers(4, skus=SKUS, end=START, count=PEOPLE).events != people.events


def test_every_event_passes_the_intake_and_lies_in_the_two_years_before_the_end(people: DemoCustomers) -> None:
    end = START
    prepared, rejected = prepare_batch(people.events, received_at=end, region="NL", only_channel=None,
                                       known_channels=frozenset(CHANNELS))
    assert rejected == []
    assert len({event.event_id for event in prepared}) == len(people.events)
    assert all(end - timedelta(days=HISTORY_DAYS) <= event.occurred_at < end for event in prepared)
    types = Counter(event["type"] for event in people.events)
    assert set(types) == {"product_view", "order_completed", "identify", "store_visit", "email_open"}
    phones = {i.value for event in prepared for i in event.identifiers if i.kind == "phone"}
    assert phones and all(phone.startswith("+316") and len(phone) == 12 for phone in phones)


def test_orders_are_made_of_catalog_skus_at_catalog_prices(people: DemoCustomers) -> None:
    orders = [event["properties"] for event in people.events if event["type"] == "order_completed"]
    assert len(orders) > PEOPLE
    for order in orders:
        assert all(line["unit_price"]["amount"] == PRICES[line["sku"]] for line in order["lines"])
        assert order["total"] == {"amount": sum(line["quantity"] * line["unit_price"]["amount"]
                                                for line in order["lines"]), "currency": "EUR"}
    assert len({order["order_id"] for order in orders}) == len(orders)


def test_recorded_people_become_one_profile_each_with_points_and_consent(
        people: DemoCustomers, database: Database, clock: FrozenClock, admin: TestClient) -> None:
    with database.write() as session:
        for code, kind in CHANNELS.items():
            make_channel(session, code=code, type=kind, clock=clock)  # type: ignore[arg-type]
    with Progress(disable=True) as progress:
        load_customers(database, people, progress=progress, clock=clock)
    table_counts = counts(database, ("customer_events", "customer_consents"))
    assert table_counts == {"customer_events": len(people.events), "customer_consents": len(people.consents)}

    # Someone who shops in store with a loyalty card and on the web, and linked the two one day.
    with database.read() as session:
        both = next(number for number in range(1, PEOPLE + 1) if {"pos", "web"} <= {
            event["channel"] for event in person_events(people, number) if event["type"] == "order_completed"}
            and any(event["type"] == "identify" and "loyalty_id" in event["identifiers"]
                    and "email" in event["identifiers"] for event in person_events(people, number)))
        history = person_events(people, both)
        email = next(event["identifiers"]["email"] for event in history if "email" in event["identifiers"])
        customer = service.find_by_identifier(session, identifiers.email(email)).id
    view = admin.get(f"/customers/{customer}").json()
    orders = [event for event in history if event["type"] == "order_completed"]
    assert sorted(p["order_id"] for p in view["purchases"]) == sorted(o["properties"]["order_id"] for o in orders)
    assert {"pos", "web"} <= set(view["traits"]["channels"]) and view["traits"]["omnichannel"] is True
    assert {identity["kind"] for identity in view["identities"]} >= {"email", "loyalty", "device"}
    assert view["attributes"].keys() == {"first_name", "last_name"}
    points = sum(int(o["properties"]["total"]["amount"] / 100 * (2.0 if o["channel"] == "pos" else 1.0))
                 for o in orders)  # 1 point per euro, double in store
    assert view["loyalty"]["balance"] == points
    merges = admin.get(f"/customers/{customer}/merges").json()["items"]
    assert "merged" in {merge["status"] for merge in merges}

    # Every person is one surviving profile: identity resolution stitched each history together.
    with database.read() as session:
        profiles = table("customer_profiles", column("merged_into"))
        surviving = session.scalar(select(func.count()).select_from(profiles).where(profiles.c.merged_into.is_(None)))
    assert surviving == PEOPLE
