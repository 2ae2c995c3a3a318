"""Availability query latency, in process: the inventory service against the bare SELECT of the same rows.

Seeds 10,000 SKUs x 50 locations (500,000 stock levels, bulk-loaded), a channel selling from every location
with a safety stock and a cap, and reservations that are active, expired but not yet released, and released.
Then measures ``omniloom.inventory.service.channel_availability`` for one SKU (over random SKUs) and
``location_availability`` for a whole location (over random locations). Each sample runs in its own read
session; the baseline is the single SQL ``SELECT`` of the same rows sent through the same database connection
in the same transaction, so ``overhead`` (service / SELECT) is what the Python, ORM and rule layers add.

Usage: ``python bench/availability.py [--database-url URL] [--skus 10000] [--locations 50]``
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from _common import (
    SQLITE_DATETIME,
    add_database_argument,
    analyze,
    bulk_insert,
    emit,
    latency_summary,
    log,
    machine_facts,
    throwaway_database,
)
from omniloom.inventory import service as inventory
from omniloom.platform.clock import SystemClock
from omniloom.platform.db import Database, make_engine
from omniloom.platform.ids import new_id
from omniloom.platform.schema import upgrade

CHANNEL = "bench-web"
PRICE_LIST = "bench-eur"
SAFETY_STOCK = 2
MAX_EXPOSED = 250
GOAL_CHANNEL_P99_MS = 5.0
GOAL_LOCATION_P99_MS = 1000.0
VARIANTS_PER_PRODUCT = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_argument(parser)
    parser.add_argument("--skus", type=int, default=10_000, help="SKUs (10000)")
    parser.add_argument("--locations", type=int, default=50, help="locations, all sold by the channel (50)")
    parser.add_argument("--sku-samples", type=int, default=2000, help="channel_availability calls measured")
    parser.add_argument("--location-samples", type=int, default=50, help="location_availability calls measured")
    parser.add_argument("--active-reservations", type=int, default=3000)
    parser.add_argument("--unreleased-expired-reservations", type=int, default=1000,
                        help="past their expiry but not yet released by the worker")
    parser.add_argument("--released-reservations", type=int, default=2000, help="expired and released")
    parser.add_argument("--time-limit", type=float, default=180.0, help="seconds per measurement, a safety bound")
    parser.add_argument("--seed", type=int, default=11)
    return parser.parse_args()


# ----------------------------------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    skus: list[str]
    location_ids: list[str]
    location_codes: list[str]
    levels: int
    reservations: dict[str, int]


class StockPlan:
    """The counters of every (SKU, location) level, planned in memory before one bulk load."""

    def __init__(self, skus: int, locations: int, chooser: random.Random) -> None:
        self.locations = locations
        stocked = [chooser.uniform(0.05, 0.6) for _ in range(skus)]  # how widely each SKU is stocked
        self.on_hand = [chooser.randint(1, 30) if chooser.random() < stocked[index // locations] else 0
                        for index in range(skus * locations)]
        self.allocated = [1 if stock >= 3 and chooser.random() < 0.05 else 0 for stock in self.on_hand]
        self.reserved = [0] * len(self.on_hand)

    def take(self, chooser: random.Random, quantity: int) -> int | None:
        """Reserve ``quantity`` at a random level that has it; its index, or None after a few misses."""
        for _ in range(20):
            index = chooser.randrange(len(self.on_hand))
            if self.on_hand[index] - self.reserved[index] - self.allocated[index] >= quantity:
                self.reserved[index] += quantity
                return index
        return None


def seed(engine: Engine, args: argparse.Namespace) -> Seeded:
    """Locations, channel, catalog, 500,000 levels with their ledger, and reservations: all by bulk SQL."""
    chooser = random.Random(args.seed)
    now = datetime.now(UTC)
    skus = [f"BENCH-{number:05d}" for number in range(args.skus)]
    location_ids = [new_id("loc") for _ in range(args.locations)]
    location_codes = [f"BENCH-L{number:02d}" for number in range(args.locations)]
    plan = StockPlan(args.skus, args.locations, chooser)
    reservations = plan_reservations(plan, chooser, args, now)
    with engine.begin() as connection:
        seed_locations_and_channel(connection, location_ids, location_codes, now)
        seed_catalog(connection, skus, now)
        log("loading stock levels")
        bulk_insert(connection, "inventory_levels",
                    ("sku", "location_id", "on_hand", "reserved", "allocated", "updated_at"),
                    ((skus[index // args.locations], location_ids[index % args.locations], plan.on_hand[index],
                      plan.reserved[index], plan.allocated[index], now) for index in range(len(plan.on_hand))))
        log("loading the ledger")
        seed_ledger(connection, plan, skus, location_ids, now)
        log("loading reservations")
        level_ids = {(row.sku, row.location_id): row.id for row in connection.execute(
            text("SELECT id, sku, location_id FROM inventory_levels"))}
        seed_reservations(connection, reservations, plan, skus, location_ids, level_ids)
    counts: dict[str, int] = {}
    for reservation in reservations:
        counts[reservation.kind] = counts.get(reservation.kind, 0) + 1
    return Seeded(skus, location_ids, location_codes, len(plan.on_hand), counts)


def seed_locations_and_channel(connection: Any, ids: list[str], codes: list[str], now: datetime) -> None:
    bulk_insert(connection, "locations",
                ("id", "code", "name", "type", "address", "latitude", "longitude", "timezone", "opening_hours",
                 "capabilities", "priority", "active", "created_at", "updated_at"),
                ((location_id, code, f"Bench location {n}", "warehouse" if n % 10 == 0 else "store",
                  {"line1": f"{n} Bench Street", "city": "Utrecht", "postal_code": "3511AA", "country": "NL"},
                  52.0 + n / 100, 5.0 + n / 100, "Europe/Amsterdam", {},
                  ["ship"] if n % 10 == 0 else ["ship", "pickup", "curbside", "returns", "pos"], n, True, now, now)
                 for n, (location_id, code) in enumerate(zip(ids, codes, strict=True))))
    bulk_insert(connection, "price_lists", ("id", "code", "name", "currency", "is_default", "created_at"),
                [(new_id("prl"), PRICE_LIST, "Benchmark EUR", "EUR", True, now)])
    bulk_insert(connection, "channels",
                ("id", "code", "name", "type", "currency", "price_list", "location_codes", "safety_stock",
                 "max_exposed", "allow_backorder", "feed_settings", "active", "created_at", "updated_at"),
                [(new_id("chn"), CHANNEL, "Benchmark web shop", "web", "EUR", PRICE_LIST, codes, SAFETY_STOCK,
                  MAX_EXPOSED, False, {}, True, now, now)])


def seed_catalog(connection: Any, skus: list[str], now: datetime) -> None:
    products = [new_id("prod") for _ in range(0, len(skus), VARIANTS_PER_PRODUCT)]
    bulk_insert(connection, "products",
                ("id", "title", "description", "brand", "category", "attributes", "status", "created_at",
                 "updated_at"),
                ((product, f"Bench product {n}", "", "Bench", "Bench", {}, "active", now, now)
                 for n, product in enumerate(products)))
    bulk_insert(connection, "variants", ("id", "product_id", "sku", "options", "position", "created_at", "updated_at"),
                ((new_id("var"), products[n // VARIANTS_PER_PRODUCT], sku, {}, n % VARIANTS_PER_PRODUCT, now, now)
                 for n, sku in enumerate(skus)))


def seed_ledger(connection: Any, plan: StockPlan, skus: list[str], location_ids: list[str], now: datetime) -> None:
    """One receipt per stocked level, so the ledger balances with ``on_hand``."""
    bulk_insert(connection, "inventory_movements",
                ("id", "sku", "location_id", "quantity", "reason", "note", "reference", "actor", "on_hand_after",
                 "created_at"),
                ((new_id("mov"), skus[index // plan.locations], location_ids[index % plan.locations], stock,
                  "receipt", "benchmark seed", None, "bench", stock, now)
                 for index, stock in enumerate(plan.on_hand) if stock > 0))


@dataclass
class PlannedReservation:
    id: str
    kind: str
    status: str
    expires_at: datetime
    created_at: datetime
    ended_at: datetime | None
    lines: list[tuple[int, int]]  # (level index, quantity)


def plan_reservations(plan: StockPlan, chooser: random.Random, args: argparse.Namespace,
                      now: datetime) -> list[PlannedReservation]:
    """Active holds and expired-but-unreleased holds count in ``reserved``; released ones no longer do."""
    kinds = (("active", args.active_reservations, "active", timedelta(minutes=15)),
             ("expired_unreleased", args.unreleased_expired_reservations, "active", timedelta(minutes=-5)),
             ("released", args.released_reservations, "expired", timedelta(hours=-2)))
    planned: list[PlannedReservation] = []
    for kind, count, status, expiry in kinds:
        for _ in range(count):
            lines = [(index, quantity) for quantity in (chooser.randint(1, 2) for _ in range(chooser.randint(1, 3)))
                     if (index := _line_index(plan, chooser, quantity, counted=status == "active")) is not None]
            if lines:
                ended = now + expiry if status != "active" else None
                planned.append(PlannedReservation(new_id("res"), kind, status, now + expiry,
                                                  now + expiry - timedelta(minutes=15), ended, lines))
    return planned


def _line_index(plan: StockPlan, chooser: random.Random, quantity: int, *, counted: bool) -> int | None:
    if counted:
        return plan.take(chooser, quantity)
    return chooser.randrange(len(plan.on_hand))


def seed_reservations(connection: Any, planned: list[PlannedReservation], plan: StockPlan, skus: list[str],
                      location_ids: list[str], level_ids: dict[tuple[str, str], int]) -> None:
    bulk_insert(connection, "reservations",
                ("id", "channel_code", "status", "reference", "actor", "expires_at", "created_at", "ended_at"),
                ((r.id, CHANNEL, r.status, None, "bench", r.expires_at, r.created_at, r.ended_at) for r in planned))

    def lines() -> Iterator[tuple[Any, ...]]:
        for reservation in planned:
            for index, quantity in reservation.lines:
                sku, location_id = skus[index // plan.locations], location_ids[index % plan.locations]
                yield reservation.id, level_ids[(sku, location_id)], sku, location_id, quantity

    bulk_insert(connection, "reservation_lines", ("reservation_id", "level_id", "sku", "location_id", "quantity"),
                lines())


# ------------------------------------------------------------------------------------------------- measuring

ServiceCall = Callable[[Session, str], Any]


def measure(db: Database, *, subjects: list[str], call: ServiceCall, raw_sql: str,
            raw_parameters: Callable[[str], dict[str, Any]], time_limit: float,
            chooser: random.Random) -> tuple[dict[str, Any], list[tuple[Any, list[Any]]]]:
    """Per subject, one read session: the service call and the raw SELECT, in random order, each timed.

    Returns the latency summary and, per sample, the service's answer with the rows of the raw SELECT.
    """
    service_times: list[float] = []
    raw_times: list[float] = []
    answers: list[tuple[Any, list[Any]]] = []
    deadline = time.monotonic() + time_limit
    for subject in subjects:
        if time.monotonic() > deadline:
            break
        with db.read() as session:
            connection = session.connection()
            connection.exec_driver_sql("SELECT 1")  # the transaction is open before either is timed
            driver = connection.connection.driver_connection
            service_first = chooser.random() < 0.5
            if not service_first:
                rows = _timed_raw(driver, raw_sql, raw_parameters(subject), raw_times)
            started = time.perf_counter()
            answer = call(session, subject)
            service_times.append(time.perf_counter() - started)
            if service_first:
                rows = _timed_raw(driver, raw_sql, raw_parameters(subject), raw_times)
            answers.append((answer, rows))
    service = latency_summary(service_times)
    raw = latency_summary(raw_times)
    rows_per_select = sum(len(rows) for _, rows in answers) / len(answers) if answers else 0
    return {
        "service": service,
        "raw_select": {**raw, "mean_rows": round(rows_per_select, 1)},
        "overhead_p50": round(service["p50_ms"] / raw["p50_ms"], 2) if raw["p50_ms"] else None,
        "overhead_p99": round(service["p99_ms"] / raw["p99_ms"], 2) if raw["p99_ms"] else None,
    }, answers


def _timed_raw(driver: Any, sql: str, parameters: dict[str, Any], times: list[float]) -> list[Any]:
    started = time.perf_counter()
    cursor = driver.cursor()
    cursor.execute(sql, parameters)
    rows = cursor.fetchall()
    cursor.close()
    times.append(time.perf_counter() - started)
    return list(rows)


def raw_dialect(engine: Engine) -> tuple[Callable[[str], str], Callable[[datetime], Any]]:
    """How to write a named parameter, and how to pass a UTC time, to the driver itself."""
    if engine.dialect.name == "postgresql":
        return (lambda name: f"%({name})s"), (lambda moment: moment)
    return (lambda name: f":{name}"), (lambda moment: moment.astimezone(UTC).strftime(SQLITE_DATETIME))


def lapsed_holds_sql(p: Callable[[str], str]) -> str:
    """Units per level still counted in ``reserved`` although their reservation is past its expiry."""
    return ("SELECT rl.level_id, SUM(rl.quantity) AS held FROM reservations r "
            "JOIN reservation_lines rl ON rl.reservation_id = r.id "
            f"WHERE r.status = 'active' AND r.expires_at <= {p('now')} GROUP BY rl.level_id")


def lapsed_holds_of_level_sql(p: Callable[[str], str]) -> str:
    """The same for the one level ``l``, found through the index on ``reservation_lines.level_id``."""
    return ("SELECT SUM(rl.quantity) FROM reservation_lines rl JOIN reservations r ON r.id = rl.reservation_id "
            f"WHERE rl.level_id = l.id AND r.status = 'active' AND r.expires_at <= {p('now')}")


def channel_scenario(db: Database, seeded: Seeded, args: argparse.Namespace) -> dict[str, Any]:
    chooser = random.Random(args.seed + 1)
    clock = SystemClock()
    p, moment = raw_dialect(db.engine)
    codes = ", ".join(f"'{code}'" for code in seeded.location_codes)
    raw_sql = (f"SELECT loc.code, loc.capabilities, l.on_hand, l.reserved, l.allocated, "
               f"COALESCE(({lapsed_holds_of_level_sql(p)}), 0) FROM locations loc "
               f"LEFT JOIN inventory_levels l ON l.location_id = loc.id AND l.sku = {p('sku')} "
               f"WHERE loc.code IN ({codes}) AND loc.active")

    def call(session: Session, sku: str) -> Any:
        return inventory.channel_availability(session, sku=sku, channel=CHANNEL, clock=clock)

    def parameters(sku: str) -> dict[str, Any]:
        return {"sku": sku, "now": moment(clock.now())}

    subjects = [chooser.choice(seeded.skus) for _ in range(args.sku_samples)]
    log(f"warming up channel_availability ({min(200, len(subjects))} calls)")
    measure(db, subjects=subjects[:200], call=call, raw_sql=raw_sql, raw_parameters=parameters,
            time_limit=args.time_limit, chooser=chooser)
    log(f"measuring channel_availability over {len(subjects)} random SKUs")
    measured, answers = measure(db, subjects=subjects, call=call, raw_sql=raw_sql, raw_parameters=parameters,
                                time_limit=args.time_limit, chooser=chooser)
    totals = [answer.available for answer, _ in answers]
    mismatches = [answer.sku for answer, rows in answers if answer.available != expected_channel_total(rows)]
    measured["check"] = {
        "answers": len(answers),
        "min_available": min(totals, default=None),
        "max_available": max(totals, default=None),
        "locations_per_answer": sorted({len(answer.locations) for answer, _ in answers}),
        "totals_differing_from_the_documented_rule": len(mismatches),
        "first_differing_skus": mismatches[:5],
    }
    measured["goal_p99_ms"] = GOAL_CHANNEL_P99_MS
    measured["goal_met"] = measured["service"]["p99_ms"] <= GOAL_CHANNEL_P99_MS
    return measured


def free_units(on_hand: int | None, reserved: int, allocated: int, lapsed: int) -> int:
    """on_hand - reserved - allocated, where holds past their expiry no longer count as reserved."""
    return 0 if on_hand is None else max(0, on_hand - (reserved - lapsed) - allocated)


def expected_channel_total(rows: list[Any]) -> int:
    """I2/I4: per location free units less the safety stock (never below 0), summed, capped at the channel's cap."""
    total = sum(max(0, free_units(on_hand, reserved, allocated, int(lapsed)) - SAFETY_STOCK)
                for _code, _capabilities, on_hand, reserved, allocated, lapsed in rows)
    return min(total, MAX_EXPOSED)


def location_scenario(db: Database, seeded: Seeded, args: argparse.Namespace) -> dict[str, Any]:
    chooser = random.Random(args.seed + 2)
    clock = SystemClock()
    p, moment = raw_dialect(db.engine)
    raw_sql = ("SELECT l.sku, l.on_hand, l.reserved, l.allocated, COALESCE(h.held, 0) FROM inventory_levels l "
               "JOIN locations loc ON loc.id = l.location_id "
               f"LEFT JOIN ({lapsed_holds_sql(p)}) h ON h.level_id = l.id "
               f"WHERE loc.code = {p('code')} ORDER BY l.sku")

    def call(session: Session, code: str) -> Any:
        return inventory.location_availability(session, location_code=code, clock=clock)

    def parameters(code: str) -> dict[str, Any]:
        return {"code": code, "now": moment(clock.now())}

    subjects = [chooser.choice(seeded.location_codes) for _ in range(args.location_samples)]
    log("warming up location_availability (3 calls)")
    measure(db, subjects=subjects[:3], call=call, raw_sql=raw_sql, raw_parameters=parameters,
            time_limit=args.time_limit, chooser=chooser)
    log(f"measuring location_availability over {len(subjects)} runs")
    measured, answers = measure(db, subjects=subjects, call=call, raw_sql=raw_sql, raw_parameters=parameters,
                                time_limit=args.time_limit, chooser=chooser)
    differing = sum(1 for answer, rows in answers if _location_pairs(answer) != [
        (sku, free_units(on_hand, reserved, allocated, int(lapsed)))
        for sku, on_hand, reserved, allocated, lapsed in rows])
    measured["check"] = {
        "answers": len(answers),
        "items_per_answer": sorted({len(answer) for answer, _ in answers}),
        "answers_differing_from_the_documented_rule": differing,
    }
    measured["goal_p99_ms"] = GOAL_LOCATION_P99_MS
    measured["goal_met"] = measured["service"]["p99_ms"] <= GOAL_LOCATION_P99_MS
    return measured


def _location_pairs(answer: Any) -> list[tuple[str, int]]:
    return [(str(sku), int(available)) for sku, available in answer]


def run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    engine = make_engine(database_url, pool_size=2)
    upgrade(engine)
    facts = machine_facts(engine)
    log(f"seeding {args.skus} SKUs x {args.locations} locations")
    started = time.perf_counter()
    seeded = seed(engine, args)
    analyze(engine, ("locations", "channels", "variants", "inventory_levels", "inventory_movements", "reservations",
                     "reservation_lines"))
    seed_seconds = time.perf_counter() - started
    log(f"seeded {seeded.levels} levels in {seed_seconds:.1f}s")
    db = Database(engine)
    try:
        channel = channel_scenario(db, seeded, args)
        location = location_scenario(db, seeded, args)
    finally:
        engine.dispose()
    return {
        "benchmark": "availability",
        "machine": facts,
        "config": {"skus": args.skus, "locations": args.locations, "levels": seeded.levels,
                   "channel": {"locations": args.locations, "safety_stock": SAFETY_STOCK, "max_exposed": MAX_EXPOSED},
                   "reservations": seeded.reservations, "sku_samples": args.sku_samples,
                   "location_samples": args.location_samples},
        "seed_seconds": round(seed_seconds, 2),
        "channel_availability_one_sku": channel,
        "location_availability_whole_location": location,
        "all_goals_met": channel["goal_met"] and location["goal_met"],
    }


def main() -> None:
    args = parse_args()
    with throwaway_database(args.database_url) as database_url:
        result = run(args, database_url)
    emit(result)


if __name__ == "__main__":
    main()
