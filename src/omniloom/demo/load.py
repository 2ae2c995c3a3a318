"""Load the demo retailer through the same service functions the API uses."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.progress import Progress
from sqlalchemy.orm import Session

from omniloom.catalog import service as catalog
from omniloom.catalog.schemas import ProductCreate
from omniloom.channels import service as channels
from omniloom.channels.schemas import ChannelCreate
from omniloom.customers import loyalty
from omniloom.customers import service as customers
from omniloom.customers.intake import prepare_batch
from omniloom.customers.schemas import ConsentIn, LoyaltyProgramIn, Tier
from omniloom.demo.catalog import products
from omniloom.demo.customers import ConsentDecision, DemoCustomers, demo_customers
from omniloom.demo.retailer import CHANNELS, LOCATIONS, PRICE_LISTS, STORE_CODES
from omniloom.inventory import service as inventory
from omniloom.inventory.errors import LocationNotFound
from omniloom.inventory.schemas import LocationCreate
from omniloom.platform.auth import create_api_key
from omniloom.platform.clock import Clock, FrozenClock, SystemClock
from omniloom.platform.db import Database
from omniloom.pricing import service as pricing
from omniloom.pricing.schemas import PriceListCreate

ACTOR = "demo"
BATCH = 40
EVENT_BATCH = 1000
PHONE_REGION = "NL"  # the demo's customers write their phone numbers the Dutch way
IDENTITY_GUARDS = ("verified_email_conflict",)
LOYALTY_PROGRAM = LoyaltyProgramIn(
    currency="EUR", points_per_unit=1, channel_multipliers={"pos": 2.0}, tier_window_days=365,
    tiers=[Tier(name="Brons", min_spend=0), Tier(name="Zilver", min_spend=25_000), Tier(name="Goud", min_spend=75_000)])
T = TypeVar("T")


@dataclass(frozen=True)
class DemoSummary:
    locations: int
    channels: int
    products: int
    variants: int
    movements: int
    customers: int
    customer_events: int
    sample_sku: str
    sample_email: str
    admin_key: str | None

    def __str__(self) -> str:
        if self.admin_key is None:
            return "the demo retailer is already loaded; create a key with `omniloom keys create --role admin`"
        return "\n".join([
            f"loaded {self.locations} locations, {self.channels} channels, {self.products} products, "
            f"{self.variants} variants and {self.movements} stock movements",
            f"loaded {self.customers} customers with {self.customer_events} events over two years",
            f"try: GET /api/v1/availability/{self.sample_sku}?channel=web",
            f"try: GET /api/v1/customers?email={self.sample_email}",
            "demo admin API key (shown once):",
            self.admin_key,
        ])


def load_demo(database: Database, *, seed: int = 7, clock: Clock | None = None) -> DemoSummary:
    """Load the demo retailer unless it is there already; returns what was loaded and an admin key."""
    clock = clock or SystemClock()
    with database.read() as session:
        if _already_loaded(session):
            return DemoSummary(0, 0, 0, 0, 0, 0, 0, "", "", None)
    rng = random.Random(seed)
    catalog_items = list(products(seed))
    with database.write() as session:
        _load_network(session, clock)
    with Progress() as progress:
        for batch in _track(progress, "catalog and prices", catalog_items):
            with database.write() as session:
                _load_products(session, batch, clock)
        skus = [variant["sku"] for item in catalog_items for variant in item["variants"]]
        movements = 0
        for sku_batch in _track(progress, "stock", skus):
            with database.write() as session:
                movements += _load_stock(session, sku_batch, rng, clock)
        people = demo_customers(seed, end=clock.now(), skus=[
            (variant["sku"], variant["price"]["amount"]) for item in catalog_items for variant in item["variants"]])
        load_customers(database, people, progress=progress, clock=clock)
    with database.write() as session:
        _, secret = create_api_key(session, role="admin", name="demo admin", clock=clock)
    return DemoSummary(len(LOCATIONS), len(CHANNELS), len(catalog_items), len(skus), movements, people.people,
                       len(people.events), skus[0], people.sample_email, secret)


def _already_loaded(session: Session) -> bool:
    try:
        inventory.get_location(session, LOCATIONS[0]["code"])
    except LocationNotFound:
        return False
    return True


def _track(progress: Progress, label: str, items: Sequence[T], *, size: int = BATCH) -> Iterator[list[T]]:
    task = progress.add_task(label, total=len(items))
    for start in range(0, len(items), size):
        batch = list(items[start:start + size])
        yield batch
        progress.advance(task, len(batch))


def _load_network(session: Session, clock: Clock) -> None:
    for location in LOCATIONS:
        inventory.create_location(session, data=LocationCreate.model_validate(location), clock=clock)
    pricing.default_price_list(session, currency="EUR", clock=clock)
    for price_list in PRICE_LISTS:
        pricing.create_price_list(session, PriceListCreate.model_validate(price_list), clock=clock)
    for channel in CHANNELS:
        channels.create_channel(session, ChannelCreate.model_validate(channel), clock=clock)


def _load_products(session: Session, items: Iterable[dict[str, Any]], clock: Clock) -> None:
    for item in items:
        data = ProductCreate.model_validate(item)
        catalog.create_product(session, data, clock=clock)
        pricing.set_default_prices(session, data.variants, clock=clock)
        for variant in data.variants:
            marketplace_price = (variant.price.amount * 108 // 100) // 100 * 100 + 95
            pricing.set_price(session, price_list_code="MARKETPLACE-EUR", sku=variant.sku,
                              amount=marketplace_price, compare_at_amount=None, clock=clock)


def _load_stock(session: Session, skus: Iterable[str], rng: random.Random, clock: Clock) -> int:
    count = 0
    for sku in skus:
        stock = {"DC-HRV": rng.randint(15, 160)}
        stock.update({store: rng.randint(1, 12) for store in STORE_CODES if rng.random() < 0.45})
        for location, quantity in stock.items():
            inventory.record_movement(session, sku=sku, location=location, quantity=quantity, reason="receipt",
                                      actor=ACTOR, clock=clock, note="opening stock")
            count += 1
    return count


def load_customers(database: Database, people: DemoCustomers, *, progress: Progress, clock: Clock) -> None:
    """Set up the loyalty program, then record the people's events and consent decisions in batches."""
    with database.write() as session:
        loyalty.set_program(session, data=LOYALTY_PROGRAM, clock=clock)
    decisions: dict[str, list[ConsentDecision]] = {}
    for decision in people.consents:
        decisions.setdefault(decision.event_id, []).append(decision)
    for event_batch in _track(progress, "customers", people.events, size=EVENT_BATCH):
        with database.write() as session:
            _load_customer_events(session, event_batch, decisions, clock)


def _load_customer_events(session: Session, events: list[dict[str, Any]],
                          decisions: dict[str, list[ConsentDecision]], clock: Clock) -> None:
    """Record events through the same intake and identity resolution as ``POST /events``, then their consents."""
    known = frozenset(channel["code"] for channel in CHANNELS)
    prepared, rejected = prepare_batch(events, received_at=clock.now(), region=PHONE_REGION, only_channel=None,
                                       known_channels=known)
    if rejected:
        raise RuntimeError(f"demo event {events[rejected[0].index]['id']} was rejected: {rejected[0].errors}")
    recorded = customers.record_events(session, events=prepared, guards=IDENTITY_GUARDS, clock=clock)
    for event, profile_id in zip(prepared, recorded.profile_ids, strict=True):
        for decision in decisions.get(event.event_id, ()):
            customers.set_consent(session, profile_id=profile_id, purpose=decision.purpose, actor=ACTOR,
                                  clock=FrozenClock(event.occurred_at),
                                  data=ConsentIn(granted=decision.granted, channel=decision.channel,
                                                 source=decision.source))
