"""Checkout throughput through the real HTTP server, against reservations measured in the same run.

Starts ``omniloom serve`` on a throw-away database and lets concurrent keep-alive clients complete whole purchases:
``POST /carts``, ``POST /carts/{id}/lines`` (one random SKU of many), ``POST /carts/{id}/checkout`` with a unique
``Idempotency-Key`` and the ``test`` payment provider — each client waiting for every answer before its next request.
The baseline is ``POST /reservations`` for the same SKUs by the same clients in the same run (a checkout holds stock
exactly like a reservation, then charges and writes the order). After the checkout phase the database is checked:
one order per 201 and per key, every unit allocated, nothing reserved or oversold. A final **oversell check** sells a
SKU stocked with a few units to all clients at once: exactly that many orders may succeed.

Both phases report the CPU milliseconds per operation of the API workers, the database server and the clients. At
the end ``--in-process`` checkouts (200) run one after the other in this process through the same service function
the endpoint calls, on the same database: SQL statements, transactions and CPU milliseconds per checkout, the
steadiest measure of the work a checkout does. ``--profile DIR`` records the API workers with py-spy during the
checkout phase.

Usage: ``python bench/checkout.py [--database-url URL] [--workers 2] [--clients 16] [--seconds 10]
[--in-process 200] [--profile DIR]``
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

import _http_load as http_load
from _common import (
    Server,
    add_database_argument,
    analyze,
    bulk_insert,
    create_admin_key,
    emit,
    log,
    machine_facts,
    throwaway_database,
)
from omniloom.orders import carts
from omniloom.orders import checkout as orders_checkout
from omniloom.orders.schemas import CheckoutIn
from omniloom.platform.clock import SystemClock
from omniloom.platform.db import Database, make_engine
from omniloom.platform.schema import upgrade
from omniloom.platform.settings import Settings
from reservations import (
    CHANNEL,
    LOCATION,
    PRICE_LIST,
    REQUEST_TIMEOUT,
    Client,
    CpuMeter,
    Load,
    Profiler,
    api_load,
    reset_counters,
    seed_spread_in_bulk,
    seed_through_api,
    spread_skus,
)

PRICE = 1999
LAST_SKU = "BENCH-LAST"
ADDRESS = {"line1": "Coolsingel 40", "city": "Rotterdam", "postal_code": "3011AD", "country": "NL",
           "latitude": 51.9225, "longitude": 4.4792}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_argument(parser)
    parser.add_argument("--workers", type=int, default=2, help="API server processes (default 2)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measured phase (10)")
    parser.add_argument("--skus", type=int, default=2_000, help="SKUs the clients buy from (2000)")
    parser.add_argument("--oversell-stock", type=int, default=20, help="units of the oversell check's SKU (20)")
    parser.add_argument("--seed", type=int, default=11, help="random seed for the SKU choice")
    parser.add_argument("--in-process", type=int, default=200,
                        help="checkouts measured one by one in this process at the end (200; 0: none)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the API workers with py-spy during the checkout phase into this folder")
    return parser.parse_args()


@dataclass
class Purchases:
    """The checkout phase: whole purchases (three requests each) and the checkout request alone."""

    elapsed: float = 0.0
    orders: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    refused: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    purchase_seconds: list[float] = field(default_factory=list)
    checkout_seconds: list[float] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def seed_prices(engine: Engine, skus: list[str]) -> None:
    """Every spread SKU priced on the benchmark channel's list (bulk SQL, like the stock)."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        list_id = connection.execute(text("SELECT id FROM price_lists WHERE code = :code"),
                                     {"code": PRICE_LIST}).scalar_one()
        bulk_insert(connection, "prices", ("price_list_id", "sku", "amount", "compare_at_amount", "updated_at"),
                    ((list_id, sku, PRICE, None, now) for sku in skus))
    analyze(engine, ("prices",))


def purchases(port: int, key: str, clients: int, seconds: float, skus: list[str], *, seed: int,
              stop_on_refusal: bool = False) -> Purchases:
    """Each client buys one unit of a random SKU after another: cart, line, checkout, until the deadline."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {key}"}
    choosers = [random.Random(seed * 1000 + index) for index in range(clients)]
    state: list[dict[str, Any]] = [{"step": "cart", "count": 0} for _ in range(clients)]
    result = Purchases()
    checkout_body = json.dumps({"channel": CHANNEL, "fulfillment": {"method": "ship", "address": ADDRESS},
                                "payment": {"provider": "test", "token": "tok_ok"}}).encode()
    open_cart = http_load.request_bytes("POST", "/api/v1/carts", port, headers,
                                        json.dumps({"channel": CHANNEL}).encode())

    def next_request(client: int) -> bytes:
        current = state[client]
        if current["step"] == "cart":
            current["began"] = time.perf_counter()
            return open_cart
        if current["step"] == "line":
            body = json.dumps({"sku": choosers[client].choice(skus), "quantity": 1}).encode()
            return http_load.request_bytes("POST", f"/api/v1/carts/{current['cart']}/lines", port, headers, body)
        current["key"] = f"bench-{seed}-{client}-{current['count']}"
        return http_load.request_bytes("POST", f"/api/v1/carts/{current['cart']}/checkout", port,
                                       {**headers, "Idempotency-Key": current["key"]}, checkout_body)

    def on_answer(client: int, answer: http_load.Answer) -> bool:
        current = state[client]
        step = current["step"]
        if step == "cart" and answer.status == 201:
            current["cart"], current["step"] = json.loads(answer.body)["id"], "line"
        elif step == "line" and answer.status == 200:
            current["step"] = "checkout"
        elif step == "checkout" and answer.status in (201, 409):
            result.checkout_seconds.append(answer.seconds)
            current["step"], current["count"] = "cart", current["count"] + 1
            if answer.status == 409:
                result.refused += 1
                return not stop_on_refusal
            result.orders.append(json.loads(answer.body)["id"])
            result.keys.append(current["key"])
            result.purchase_seconds.append(time.perf_counter() - current["began"])
        else:
            result.error(f"{step}: http {answer.status}")
            current["step"] = "cart"
        return True

    def on_error(_client: int, kind: str) -> None:
        result.error(kind)

    started = time.perf_counter()
    http_load.run(port, clients, started + seconds, next_request, on_answer, on_error, timeout=REQUEST_TIMEOUT)
    result.elapsed = time.perf_counter() - started
    return result


def latency(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    if not ordered:
        return {}
    pick = lambda fraction: round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 1)  # noqa: E731
    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(ordered[-1] * 1000, 1)}


def order_check(engine: Engine, bought: Purchases) -> dict[str, Any]:
    """One order per 201 and per key, each unit allocated, nothing reserved or oversold."""
    with engine.connect() as connection:
        orders, distinct_carts = connection.execute(text(
            "SELECT count(*), count(DISTINCT cart_id) FROM orders")).one()
        allocated, reserved, oversold = connection.execute(text(
            "SELECT COALESCE(SUM(allocated), 0), COALESCE(SUM(reserved), 0), "
            "COALESCE(SUM(CASE WHEN reserved + allocated > on_hand THEN reserved + allocated - on_hand END), 0) "
            "FROM inventory_levels")).one()
        keys = connection.execute(text(
            "SELECT count(*) FROM idempotency_keys WHERE status_code = 201 AND key LIKE 'bench-%'")).scalar()
    duplicates = int(orders) - len(set(bought.orders))
    return {"orders_in_database": int(orders), "orders_answered_201": len(bought.orders),
            "distinct_carts": int(distinct_carts), "keys_with_an_order": int(keys or 0),
            "duplicate_orders": duplicates, "allocated_units": int(allocated), "reserved_units": int(reserved),
            "oversold_units": int(oversold),
            "consistent": duplicates == 0 and int(orders) == int(distinct_carts) == len(bought.orders)
            == int(allocated) == int(keys or 0) and int(reserved) == 0 and int(oversold) == 0}


def oversell_check(client: Client, port: int, key: str, engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """All clients buy the last few units of one SKU at once: exactly the stock may be sold."""
    client.expect(201, "POST", "/api/v1/products", {
        "title": "The last few", "description": "", "brand": "Bench", "category": "Bench", "media": [],
        "attributes": {},
        "variants": [{"sku": LAST_SKU, "options": {}, "price": {"amount": PRICE, "currency": "EUR"}}]})
    client.expect(200, "PUT", f"/api/v1/price-lists/{PRICE_LIST}/prices/{LAST_SKU}", {"amount": PRICE})
    client.expect(201, "POST", "/api/v1/inventory/movements",
                  {"sku": LAST_SKU, "location": LOCATION, "quantity": args.oversell_stock, "reason": "receipt"})
    bought = purchases(port, key, args.clients, 60.0, [LAST_SKU], seed=args.seed + 7, stop_on_refusal=True)
    with engine.connect() as connection:
        on_hand, allocated, reserved = connection.execute(text(
            "SELECT on_hand, allocated, reserved FROM inventory_levels WHERE sku = :sku"), {"sku": LAST_SKU}).one()
    return {"stock": args.oversell_stock, "orders": len(bought.orders), "refused": bought.refused,
            "allocated": int(allocated), "reserved": int(reserved), "errors": bought.errors,
            "passed": len(bought.orders) == int(allocated) == args.oversell_stock and int(reserved) == 0
            and on_hand == args.oversell_stock}


def in_process(engine: Engine, count: int, skus: list[str], *, seed: int) -> dict[str, Any]:
    """``count`` checkouts one after the other through the service the endpoint calls: statements, CPU, wall."""
    db, clock, settings = Database(engine), SystemClock(), Settings()
    chooser = random.Random(seed)
    cart_ids = []
    for _ in range(count + 10):
        with db.write() as session:
            cart, _ = carts.open_cart(session, channel=CHANNEL, customer_id=None, clock=clock)
            carts.add_line(session, cart=cart, sku=chooser.choice(skus), quantity=1, channel=CHANNEL, clock=clock)
            cart_ids.append(cart.id)
    context = orders_checkout.Context(db=db, settings=settings, clock=clock, actor="bench")
    data = CheckoutIn.model_validate({"channel": CHANNEL, "fulfillment": {"method": "ship", "address": ADDRESS},
                                      "payment": {"provider": "test", "token": "tok_ok"}})
    statements: list[str] = []
    commits: list[int] = []

    def counted(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def committed(_connection: Any) -> None:
        commits.append(1)

    def buy(index: int) -> None:
        outcome = orders_checkout.checkout(context, cart_id=cart_ids[index], data=data, key=f"in-process-{index}",
                                           scope="checkout:bench")
        assert outcome.status_code == 201, outcome

    for index in range(count, count + 10):  # warm-up: caches, prepared statements
        buy(index)
    event.listen(engine, "before_cursor_execute", counted)
    event.listen(engine, "commit", committed)
    began, cpu_began = time.perf_counter(), time.process_time()
    for index in range(count):
        buy(index)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    event.remove(engine, "before_cursor_execute", counted)
    event.remove(engine, "commit", committed)
    return {"checkouts": count, "statements_per_checkout": round(len(statements) / count, 1),
            "transactions_per_checkout": round(len(commits) / count, 1),
            "cpu_ms_per_checkout": round(cpu * 1000 / count, 2), "wall_ms_per_checkout": round(wall * 1000 / count, 2)}


def run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    engine = make_engine(database_url)
    upgrade(engine)
    server = Server(database_url, args.workers)
    try:
        server.wait_ready()
        key = create_admin_key(database_url)
        client = Client(server.port, key)
        seed_through_api(client)
        skus = spread_skus(args.skus)
        seed_spread_in_bulk(engine, skus)
        seed_prices(engine, skus)
        log("warming up")
        api_load(server.port, key, args.clients, 2.0, lambda chooser: chooser.choice(skus), seed=args.seed,
                 max_requests=1_000_000)
        reset_counters(engine)
        log(f"reservations for {args.seconds:.0f}s")
        meter = CpuMeter(server)
        reserved: Load = api_load(server.port, key, args.clients, args.seconds,
                                  lambda chooser: chooser.choice(skus), seed=args.seed + 1, max_requests=1_000_000)
        reserved_cpu = meter.per_unit(reserved.successes)
        reset_counters(engine)
        log(f"checkouts for {args.seconds:.0f}s")
        recorders = Profiler(args.profile, server).record("checkout", args.seconds)
        meter = CpuMeter(server)
        bought = purchases(server.port, key, args.clients, args.seconds, skus, seed=args.seed + 2)
        bought_cpu = meter.per_unit(len(bought.orders))
        Profiler.wait(recorders)
        checked = order_check(engine, bought)
        oversell = oversell_check(client, server.port, key, engine, args)
        facts = machine_facts(engine)
        if args.in_process:
            log(f"{args.in_process} checkouts in process")
        measured = in_process(engine, args.in_process, skus, seed=args.seed + 3) if args.in_process else None
    except BaseException:
        server.stop(keep_log=True)
        raise
    server.stop()
    engine.dispose()
    orders_per_second = len(bought.orders) / bought.elapsed if bought.elapsed else 0.0
    return {
        "benchmark": "checkout",
        "machine": {**facts, "api_workers": args.workers},
        "config": {"clients": args.clients, "seconds": args.seconds, "skus": args.skus,
                   "purchase": "POST /carts, POST /carts/{id}/lines, POST /carts/{id}/checkout (test provider)"},
        "checkout": {"orders_per_second": round(orders_per_second, 1), "orders": len(bought.orders),
                     "refused_409": bought.refused, "errors": bought.errors,
                     "checkout_request_latency": latency(bought.checkout_seconds),
                     "whole_purchase_latency": latency(bought.purchase_seconds),
                     "cpu_per_order": bought_cpu},
        "reservations_same_run": {**reserved.summary("reservations"), "cpu_per_reservation": reserved_cpu},
        "orders_per_reservation": round(orders_per_second / reserved.rate(), 3) if reserved.rate() else None,
        "database_check": checked,
        "oversell_check": oversell,
        "in_process": measured,
        "all_checks_passed": checked["consistent"] and oversell["passed"] and not bought.errors,
    }


def main() -> None:
    args = parse_args()
    with throwaway_database(args.database_url) as database_url:
        result = run(args, database_url)
    emit(result)


if __name__ == "__main__":
    main()
