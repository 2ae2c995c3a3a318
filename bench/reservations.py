"""Reservation throughput through the real HTTP server, against raw conditional UPDATEs in the same run.

Starts ``omniloom serve`` on a throw-away database, then for a fixed time lets concurrent keep-alive clients
``POST /api/v1/reservations``: **hot** (one SKU at one location, the worst case for row contention) and
**spread** (random SKUs over many). The baseline is the bare conditional ``UPDATE`` a reservation cannot do
without, run by the same number of direct database connections on the same rows for the same time. After each
phase the database counters are checked against the 201 responses; a final **oversell check** stocks the hot
SKU with a small amount and hammers it until refused: exactly that many reservations must succeed.

Usage: ``python bench/reservations.py [--database-url URL] [--workers 1] [--clients 16] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, make_url, text

import _http_load as http_load
from _common import (
    Server,
    add_database_argument,
    analyze,
    api_processes,
    bulk_insert,
    create_admin_key,
    emit,
    is_postgres,
    latency_summary,
    libpq_url,
    log,
    machine_facts,
    throwaway_database,
)
from omniloom.platform.db import make_engine
from omniloom.platform.ids import new_id
from omniloom.platform.schema import upgrade

LOCATION = "BENCH-WH"
CHANNEL = "bench-web"
PRICE_LIST = "bench-eur"
HOT_SKU = "BENCH-HOT"
HOT_STOCK = 50_000_000
SPREAD_STOCK = 1_000_000
VARIANTS_PER_PRODUCT = 100
GOALS = {"hot": 0.5, "spread": 0.25}
RAW_UPDATE = ("UPDATE inventory_levels SET reserved = reserved + 1 "
              "WHERE id = {p} AND on_hand - reserved - allocated >= 1")
REQUEST_TIMEOUT = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_argument(parser)
    parser.add_argument("--workers", type=int, default=1,
                        help="API server processes (default 1, as omniloom serve starts)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients and raw connections (16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measured phase (10)")
    parser.add_argument("--warmup-seconds", type=float, default=2.0, help="unmeasured load before each phase (2)")
    parser.add_argument("--spread-skus", type=int, default=10_000, help="SKUs of the spread scenario (10000)")
    parser.add_argument("--history", type=int, default=100_000,
                        help="released reservations seeded as the shop's past, so the tables are never empty (100000)")
    parser.add_argument("--oversell-stock", type=int, default=500, help="stock of the oversell check (500)")
    parser.add_argument("--oversell-timeout", type=float, default=60.0, help="time limit of the oversell check")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="per client and phase, a safety bound")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the SKU choice")
    parser.add_argument("--profile", metavar="DIR", type=Path,
                        help="record each measured API phase of every server worker with py-spy into DIR "
                             "(collapsed stacks of the thread holding the GIL, i.e. Python CPU time; one file per "
                             "phase and process; needs `pip install py-spy`)")
    return parser.parse_args()


# ---------------------------------------------------------------------------------------------------- results


@dataclass
class Load:
    """What one timed phase did: per-outcome counts and the latency of every completed request."""

    elapsed: float = 0.0
    successes: int = 0
    conflicts: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    conflict_types: Counter[str] = field(default_factory=Counter)
    database_cpu_ticks: int = 0  # of the baseline's own database backends, read before they close

    def merge(self, other: Load) -> None:
        self.database_cpu_ticks += other.database_cpu_ticks
        self.successes += other.successes
        self.conflicts += other.conflicts
        self.errors.update(other.errors)
        self.latencies.extend(other.latencies)
        self.conflict_types.update(other.conflict_types)

    def rate(self) -> float:
        return self.successes / self.elapsed if self.elapsed else 0.0

    def summary(self, unit: str) -> dict[str, Any]:
        return {
            f"{unit}_per_second": round(self.rate(), 1),
            "elapsed_seconds": round(self.elapsed, 3),
            "successes": self.successes,
            "conflicts_409": self.conflicts,
            "other_errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "latency": latency_summary(self.latencies),
        }


def run_clients(clients: int, seconds: float, work: Callable[[int, float, threading.Barrier], Load]) -> Load:
    """Run ``work(index, deadline, barrier)`` on ``clients`` threads that start together; merge their loads."""
    barrier = threading.Barrier(clients + 1)
    results: list[Load] = [Load() for _ in range(clients)]
    deadline_box: list[float] = []

    def thread_main(index: int) -> None:
        barrier.wait()
        results[index] = work(index, deadline_box[0], barrier)

    threads = [threading.Thread(target=thread_main, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline_box.append(started + seconds)
    barrier.wait()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT * 2)
    total = Load(elapsed=time.perf_counter() - started)
    for result in results:
        total.merge(result)
    return total


# ----------------------------------------------------------------------------------------------------- server


class Client:
    """One keep-alive HTTP/1.1 connection to the server, for seeding and single checks (the load uses `_http_load`)."""

    def __init__(self, port: int, key: str | None) -> None:
        self.port = port
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)

    def send(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        try:
            self.connection.request(method, path, body=body, headers=self.headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            raise

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        """One request on a fresh connection (the server drops keep-alive connections idle for a few seconds)."""
        self.connection.close()
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.send(method, path, body)
        return status, (json.loads(data) if data else None)

    def expect(self, status: int, method: str, path: str, payload: Any = None) -> Any:
        got, answer = self.call(method, path, payload)
        if got != status:
            raise SystemExit(f"{method} {path} answered {got}, expected {status}: {answer}")
        return answer


class Profiler:
    """py-spy recording every API worker process of the server during one measured phase."""

    def __init__(self, folder: Path | None, server: Server) -> None:
        self.folder = folder
        self.server = server

    def record(self, phase: str, seconds: float) -> list[subprocess.Popen[bytes]]:
        if self.folder is None:
            return []
        self.folder.mkdir(parents=True, exist_ok=True)
        pids = api_processes(self.server.process.pid)
        return [subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)),
                                  "--format", "raw", "--gil", "--nonblocking", "--output",
                                  str(self.folder / f"{phase}-{pid}.txt")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in pids]

    @staticmethod
    def wait(recorders: list[subprocess.Popen[bytes]]) -> None:
        for recorder in recorders:
            try:
                recorder.wait(timeout=60)
            except subprocess.TimeoutExpired:
                recorder.terminate()


class CpuMeter:
    """CPU time used during a phase by the API workers, the database server, this process and the machine."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.database_processes = "postgres" if is_postgres(server.database_url) else None
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.database_ticks: dict[int, int] = {}
        self.start = self.sample()
        self.database_start = self.database_ticks
        self.commits_start = self.commits

    def sample(self) -> dict[str, float]:
        workers = api_processes(self.server.process.pid)
        own = os.times()
        idle, busy = _machine_ticks()
        self.database_ticks = {pid: _process_ticks(pid) for pid in self._database_pids()} \
            if self.database_processes else {}
        self.commits = self._database_commits() if self.database_processes else 0
        return {
            "api_workers": sum(_process_ticks(pid) for pid in workers) / self.ticks,
            "bench_clients": own.user + own.system,
            "machine_busy": busy / self.ticks,
            "machine_total": (busy + idle) / self.ticks,
        }

    def _database_commits(self) -> int:
        """Transactions committed in this benchmark's database so far, reads included (the statistics lag by up to
        a second)."""
        with psycopg.connect(libpq_url(self.server.database_url), autocommit=True) as connection:
            [(commits,)] = connection.execute("SELECT xact_commit FROM pg_stat_database "
                                              "WHERE datname = current_database()").fetchall()
        return int(commits)

    def _database_pids(self) -> list[int]:
        """The server's own processes (WAL writer, checkpointer, ...) and the backends of this benchmark's database:
        not the backends of other databases on the same server, whose work is not this benchmark's."""
        with psycopg.connect(libpq_url(self.server.database_url), autocommit=True) as connection:
            rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE (datname = current_database() "
                                      "OR backend_type <> 'client backend') AND pid <> pg_backend_pid()").fetchall()
        own = {pid for (pid,) in rows}
        return [pid for pid in _processes_named(self.database_processes or "") if pid in own]

    def per_unit(self, units: int, *, extra_database_ticks: int = 0) -> dict[str, Any]:
        """CPU milliseconds per unit of work since the meter started, and how busy the machine was.

        ``extra_database_ticks``: CPU of database backends that started and ended within the phase.
        """
        end = self.sample()
        used = {name: end[name] - self.start[name] for name in end}
        # Per process, so a backend that ended during the phase (its time unknowable) cannot make this negative;
        # one that started during it counts in full.
        used["database_server"] = (sum(ticks - self.database_start.get(pid, 0)
                                       for pid, ticks in self.database_ticks.items())
                                   + extra_database_ticks) / self.ticks
        measured = ("api_workers", "database_server", "bench_clients") if self.database_processes \
            else ("api_workers", "bench_clients")  # SQLite works inside the API and client processes
        result: dict[str, Any] = {
            f"{name}_ms_per_op": round(used[name] * 1000 / units, 3) if units else None for name in measured
        }
        if self.database_processes:
            commits = self.commits - self.commits_start
            result["operations_per_transaction"] = round(units / commits, 2) if commits else None
        result["machine_busy_fraction"] = round(used["machine_busy"] / used["machine_total"], 3) \
            if used["machine_total"] else None
        return result


def _process_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _processes_named(name: str) -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                found.append(int(comm.parent.name))
        except (OSError, ValueError):
            continue
    return found


def _machine_ticks() -> tuple[int, int]:
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return idle, sum(values) - idle


# ----------------------------------------------------------------------------------------------------- seeding


def seed_through_api(client: Client) -> None:
    """Location, price list, channel, the hot product and its stock: through the public HTTP contract."""
    client.expect(201, "POST", "/api/v1/locations", {
        "code": LOCATION, "name": "Benchmark warehouse", "type": "warehouse",
        "address": {"line1": "1 Bench Street", "city": "Rotterdam", "postal_code": "3011AA", "country": "NL"},
        "latitude": 51.92, "longitude": 4.48, "capabilities": ["ship"],
    })
    client.expect(201, "POST", "/api/v1/price-lists", {"code": PRICE_LIST, "currency": "EUR"})
    client.expect(201, "POST", "/api/v1/channels", {
        "code": CHANNEL, "name": "Benchmark web shop", "type": "web", "currency": "EUR", "price_list": PRICE_LIST,
        "location_codes": [LOCATION], "safety_stock": 0, "max_exposed": None,
    })
    client.expect(201, "POST", "/api/v1/products", {
        "title": "Benchmark hot seller", "description": "", "brand": "Bench", "category": "Bench",
        "media": [], "attributes": {},
        "variants": [{"sku": HOT_SKU, "options": {}, "price": {"amount": 1999, "currency": "EUR"}}],
    })
    client.expect(201, "POST", "/api/v1/inventory/movements",
                  {"sku": HOT_SKU, "location": LOCATION, "quantity": HOT_STOCK, "reason": "receipt"})


def spread_skus(count: int) -> list[str]:
    return [f"BENCH-S{number:05d}" for number in range(count)]


def seed_spread_in_bulk(engine: Engine, skus: Sequence[str]) -> None:
    """Products, variants, stock levels and their receipt movements for the spread SKUs, by bulk SQL."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        location_id = connection.execute(text("SELECT id FROM locations WHERE code = :code"),
                                         {"code": LOCATION}).scalar_one()
        products = [new_id("prod") for _ in range(0, len(skus), VARIANTS_PER_PRODUCT)]
        bulk_insert(connection, "products",
                    ("id", "title", "description", "brand", "category", "attributes", "status", "created_at",
                     "updated_at"),
                    ((product, f"Bench product {n}", "", "Bench", "Bench", {}, "active", now, now)
                     for n, product in enumerate(products)))
        bulk_insert(connection, "variants",
                    ("id", "product_id", "sku", "options", "position", "created_at", "updated_at"),
                    ((new_id("var"), products[n // VARIANTS_PER_PRODUCT], sku, {}, n % VARIANTS_PER_PRODUCT, now,
                      now) for n, sku in enumerate(skus)))
        bulk_insert(connection, "inventory_levels",
                    ("sku", "location_id", "on_hand", "reserved", "allocated", "updated_at"),
                    ((sku, location_id, SPREAD_STOCK, 0, 0, now) for sku in skus))
        bulk_insert(connection, "inventory_movements",
                    ("id", "sku", "location_id", "quantity", "reason", "note", "reference", "actor",
                     "on_hand_after", "created_at"),
                    ((new_id("mov"), sku, location_id, SPREAD_STOCK, "receipt", "benchmark seed", None, "bench",
                      SPREAD_STOCK, now) for sku in skus))


def seed_history(engine: Engine, skus: Sequence[str], count: int) -> None:
    """``count`` released reservations of one unit each, made over the past days: a shop's reservation history.

    A running shop's reservation tables are never empty; these rows keep them from looking empty to PostgreSQL's
    planner between phases (a check planned on an empty table scans it, and keeps scanning as it grows)."""
    now = datetime.now(UTC)
    rows = [(f"res_history_{number:07d}", skus[number % len(skus)], now - timedelta(minutes=number))
            for number in range(count)]
    with engine.begin() as connection:
        levels = connection.execute(text(
            "SELECT l.sku, l.id, l.location_id FROM inventory_levels l "
            "JOIN locations loc ON loc.id = l.location_id WHERE loc.code = :code"), {"code": LOCATION}).all()
        level_of = {row.sku: row.id for row in levels}
        location_id = levels[0].location_id
        bulk_insert(connection, "reservations",
                    ("id", "channel_code", "status", "reference", "actor", "expires_at", "created_at", "ended_at"),
                    ((id_, CHANNEL, "released", None, "bench", made + timedelta(minutes=15), made,
                      made + timedelta(minutes=5)) for id_, _, made in rows))
        bulk_insert(connection, "reservation_lines", ("reservation_id", "level_id", "sku", "location_id", "quantity"),
                    ((id_, level_of[sku], sku, location_id, 1) for id_, sku, _ in rows))


def level_ids(engine: Engine, skus: Sequence[str] | None) -> list[int]:
    """Ids of the inventory levels of ``skus`` at the benchmark location (all spread SKUs when None)."""
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT l.id, l.sku FROM inventory_levels l JOIN locations loc ON loc.id = l.location_id "
            "WHERE loc.code = :code ORDER BY l.id"), {"code": LOCATION}).all()
    wanted = set(skus) if skus is not None else None
    return [row.id for row in rows if (wanted is None and row.sku != HOT_SKU) or (wanted and row.sku in wanted)]


# ------------------------------------------------------------------------------------------- database checks


def reset_counters(engine: Engine) -> None:
    """Forget every active reservation and reserved unit (the history stays), so each phase starts from the same
    state."""
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM reservation_lines WHERE reservation_id IN "
                                   "(SELECT id FROM reservations WHERE status = 'active')")
        connection.exec_driver_sql("DELETE FROM reservations WHERE status = 'active'")
        connection.exec_driver_sql("UPDATE inventory_levels SET reserved = 0 WHERE reserved <> 0")
        connection.exec_driver_sql("DELETE FROM outbox_events")
    analyze(engine, ("inventory_levels", "reservations", "reservation_lines", "outbox_events"))


def database_check(engine: Engine, successes: int) -> dict[str, Any]:
    """The counters after a phase: reserved units must equal the 201s and the reservation lines; none oversold."""
    with engine.connect() as connection:
        reserved, oversold = connection.execute(text(
            "SELECT COALESCE(SUM(reserved), 0), "
            "COALESCE(SUM(CASE WHEN reserved + allocated > on_hand THEN reserved + allocated - on_hand END), 0) "
            "FROM inventory_levels")).one()
        line_units = connection.execute(text(
            "SELECT COALESCE(SUM(line.quantity), 0) FROM reservation_lines line "
            "JOIN reservations reservation ON reservation.id = line.reservation_id "
            "WHERE reservation.status = 'active'")).scalar()
        active = connection.execute(text("SELECT COUNT(*) FROM reservations WHERE status = 'active'")).scalar()
    return {
        "successful_201": successes,
        "reserved_counter": int(reserved),
        "reservation_line_units": int(line_units or 0),
        "active_reservations": int(active or 0),
        "oversold_units": int(oversold),
        "consistent": int(oversold) == 0 and successes == int(reserved) == int(line_units or 0) == int(active or 0),
    }


def hot_level_state(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT l.on_hand, l.reserved, l.allocated FROM inventory_levels l "
            "JOIN locations loc ON loc.id = l.location_id WHERE loc.code = :code AND l.sku = :sku"),
            {"code": LOCATION, "sku": HOT_SKU}).one()
    return {"on_hand": row.on_hand, "reserved": row.reserved, "allocated": row.allocated,
            "available": row.on_hand - row.reserved - row.allocated}


# ---------------------------------------------------------------------------------------------------- the load


def reservation_body(sku: str) -> bytes:
    return json.dumps({"channel": CHANNEL, "lines": [{"sku": sku, "quantity": 1}], "ttl_seconds": 900}).encode()


def api_load(port: int, key: str | None, clients: int, seconds: float, pick_sku: Callable[[random.Random], str],
             *, seed: int, max_requests: int, stop_on_conflict: bool = False) -> Load:
    """Each client POSTs reservations over its own keep-alive connection until the deadline.

    One thread drives all the connections (``_http_load``), each with one request in flight; every request is
    built once per SKU and every answer's body is checked. Without a key every answer should be 401, and those
    count as the successes (the HTTP floor).
    """
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    requests: dict[str, bytes] = {}
    choosers = [random.Random(seed * 1000 + index) for index in range(clients)]
    sent = [0] * clients
    load = Load()

    def next_request(client: int) -> bytes | None:
        if sent[client] >= max_requests:
            return None
        sent[client] += 1
        sku = pick_sku(choosers[client])
        request = requests.get(sku)
        if request is None:
            request = requests[sku] = http_load.request_bytes("POST", "/api/v1/reservations", port, headers,
                                                              reservation_body(sku))
        return request

    def on_answer(_client: int, answer: http_load.Answer) -> bool:
        load.latencies.append(answer.seconds)
        if key is None and answer.status == 401:
            load.successes += 1
        elif answer.status == 201:
            if _reserved_units(answer.body) == 1:
                load.successes += 1
            else:
                load.errors["201 with unexpected lines"] += 1
        elif answer.status == 409:
            load.conflicts += 1
            load.conflict_types[_problem_type(answer.body)] += 1
            return not stop_on_conflict
        else:
            load.errors[f"http {answer.status}"] += 1
        return True

    def on_error(_client: int, kind: str) -> None:
        load.errors[kind] += 1

    started = time.perf_counter()
    http_load.run(port, clients, started + seconds, next_request, on_answer, on_error, timeout=REQUEST_TIMEOUT)
    load.elapsed = time.perf_counter() - started
    return load


def _reserved_units(data: bytes) -> int:
    try:
        answer = json.loads(data)
        return sum(int(line["quantity"]) for line in answer["lines"]) if answer.get("status") == "active" else -1
    except (ValueError, KeyError, TypeError):
        return -1


def _problem_type(data: bytes) -> str:
    try:
        return str(json.loads(data).get("type", "?")).rsplit("/", 1)[-1]
    except (ValueError, AttributeError):
        return "unparseable"


def raw_load(database_url: str, ids: Sequence[int], clients: int, seconds: float, *, seed: int,
             max_requests: int) -> Load:
    """The baseline: the bare conditional UPDATE on the same rows by ``clients`` direct autocommit connections."""
    connect = _raw_connector(database_url)

    def work(index: int, deadline: float, _barrier: threading.Barrier) -> Load:
        load = Load()
        connection, statement = connect()
        cursor = connection.cursor()
        chooser = random.Random(seed * 1000 + index)
        single = len(ids) == 1
        for _ in range(max_requests):
            if time.perf_counter() >= deadline:
                break
            level_id = ids[0] if single else ids[chooser.randrange(len(ids))]
            started = time.perf_counter()
            try:
                cursor.execute(statement, (level_id,))
            except Exception as error:  # a raw driver error is counted, not fatal
                load.errors[type(error).__name__] += 1
                continue
            load.latencies.append(time.perf_counter() - started)
            if cursor.rowcount == 1:
                load.successes += 1
            else:
                load.conflicts += 1
        cursor.close()
        backend = getattr(getattr(connection, "info", None), "backend_pid", None)
        load.database_cpu_ticks = _process_ticks(backend) if backend else 0
        connection.close()
        return load

    return run_clients(clients, seconds, work)


def _raw_connector(database_url: str) -> Callable[[], tuple[Any, str]]:
    if is_postgres(database_url):
        return lambda: (psycopg.connect(libpq_url(database_url), autocommit=True,
                                        options=f"-c statement_timeout={int(REQUEST_TIMEOUT * 1000)}"),
                        RAW_UPDATE.format(p="%s"))
    path = make_url(database_url).database

    def connect_sqlite() -> tuple[Any, str]:
        connection = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection, RAW_UPDATE.format(p="?")

    return connect_sqlite


# ------------------------------------------------------------------------------------------------- the phases


def measure_scenario(name: str, args: argparse.Namespace, context: dict[str, Any],
                     pick_sku: Callable[[random.Random], str], ids: Sequence[int]) -> dict[str, Any]:
    engine: Engine = context["engine"]
    log(f"{name}: raw UPDATE baseline, {args.clients} connections, {args.seconds:.0f}s")
    meter = CpuMeter(context["server"])
    raw = raw_load(context["url"], ids, args.clients, args.seconds, seed=args.seed, max_requests=args.max_requests)
    raw_cpu = meter.per_unit(raw.successes, extra_database_ticks=raw.database_cpu_ticks)
    reset_counters(engine)
    log(f"{name}: {raw.rate():.0f} updates/s; API warm-up {args.warmup_seconds:.0f}s")
    api_load(context["port"], context["key"], args.clients, args.warmup_seconds, pick_sku, seed=args.seed + 1,
             max_requests=args.max_requests)
    reset_counters(engine)
    log(f"{name}: API, {args.clients} clients, {args.seconds:.0f}s")
    recorders = context["profiler"].record(name, args.seconds)
    meter = CpuMeter(context["server"])
    api = api_load(context["port"], context["key"], args.clients, args.seconds, pick_sku, seed=args.seed,
                   max_requests=args.max_requests)
    api_cpu = meter.per_unit(api.successes)
    Profiler.wait(recorders)
    check = database_check(engine, api.successes)
    reset_counters(engine)
    ratio = api.rate() / raw.rate() if raw.rate() else 0.0
    log(f"{name}: {api.rate():.0f} reservations/s, ratio {ratio:.3f} (goal >= {GOALS[name]})")
    return {
        "api": {**api.summary("reservations"), "conflict_types": dict(api.conflict_types), "cpu": api_cpu},
        "raw_update_baseline": {**raw.summary("updates"), "rows": len(ids), "cpu": raw_cpu},
        "ratio": round(ratio, 3),
        "goal": GOALS[name],
        "goal_met": ratio >= GOALS[name],
        "cpu_ratio": _cpu_ratio(raw_cpu, api_cpu),
        "database_check": check,
    }


def _cpu_ratio(raw_cpu: dict[str, Any], api_cpu: dict[str, Any]) -> float | None:
    """The raw update's machine CPU per operation over the reservation's (API, database and client together):
    the ratio when both sides are CPU-bound on a machine running nothing else, which a shared machine hides."""
    def total(cpu: dict[str, Any]) -> float:
        return sum(value for key, value in cpu.items() if key.endswith("_ms_per_op") and value is not None)
    return round(total(raw_cpu) / total(api_cpu), 3) if total(api_cpu) else None


def http_floor(args: argparse.Namespace, context: dict[str, Any]) -> dict[str, Any]:
    """The same POST without a key: HTTP, the fast lane, the key check and the problem answer, no database work."""
    seconds = max(1.0, args.seconds / 2)
    log(f"HTTP floor: unauthenticated POSTs, {args.clients} clients, {seconds:.0f}s")
    meter = CpuMeter(context["server"])
    load = api_load(context["port"], None, args.clients, seconds, lambda _: HOT_SKU, seed=args.seed,
                    max_requests=args.max_requests)
    cpu = meter.per_unit(load.successes)
    cpu.pop("operations_per_transaction", None)  # no database work: only the meter's own reads commit
    log(f"HTTP floor: {load.rate():.0f} answers/s")
    return {**load.summary("answers_401"), "cpu": cpu}


def oversell_check(args: argparse.Namespace, context: dict[str, Any]) -> dict[str, Any]:
    """Stock the hot SKU with a small amount; clients hammer it until refused; exactly that many must succeed."""
    engine: Engine = context["engine"]
    admin = Client(context["port"], context["key"])
    admin.expect(200, "PUT", f"/api/v1/inventory/levels/{LOCATION}/{HOT_SKU}",
                 {"on_hand": args.oversell_stock, "reason": "cycle_count"})
    log(f"oversell check: {args.oversell_stock} units, {args.clients} clients until refused")
    load = api_load(context["port"], context["key"], args.clients, args.oversell_timeout, lambda _: HOT_SKU,
                    seed=args.seed, max_requests=args.max_requests, stop_on_conflict=True)
    status, answer = admin.call("POST", "/api/v1/reservations",
                                {"channel": CHANNEL, "lines": [{"sku": HOT_SKU, "quantity": 1}], "ttl_seconds": 900})
    check = database_check(engine, load.successes)
    level = hot_level_state(engine)
    refused_after = status == 409 and str(answer.get("type", "")).endswith("insufficient-stock")
    passed = (load.successes == args.oversell_stock and check["consistent"] and refused_after
              and sum(load.errors.values()) == 0)
    log(f"oversell check: {load.successes} reserved of {args.oversell_stock}, passed={passed}")
    return {
        "stock": args.oversell_stock,
        "successes": load.successes,
        "conflicts_409": load.conflicts,
        "conflict_types": dict(load.conflict_types),
        "other_errors": sum(load.errors.values()),
        "error_kinds": dict(load.errors),
        "elapsed_seconds": round(load.elapsed, 3),
        "next_request_refused_with_insufficient_stock": refused_after,
        "hot_level_after": level,
        "database_check": check,
        "passed": passed,
    }


def run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    engine = make_engine(database_url, pool_size=4)
    upgrade(engine)
    facts = machine_facts(engine)
    key = create_admin_key(database_url)
    server = Server(database_url, args.workers)
    try:
        server.wait_ready()
        log(f"server up on port {server.port} with {args.workers} workers; seeding")
        seed_started = time.perf_counter()
        seed_through_api(Client(server.port, key))
        skus = spread_skus(args.spread_skus)
        seed_spread_in_bulk(engine, skus)
        seed_history(engine, skus, args.history)
        analyze(engine, ("products", "variants", "inventory_levels", "inventory_movements", "reservations",
                         "reservation_lines"))
        seed_seconds = time.perf_counter() - seed_started
        log(f"seeded in {seed_seconds:.1f}s")
        context = {"engine": engine, "url": database_url, "port": server.port, "key": key,
                   "server": server, "profiler": Profiler(args.profile, server)}
        scenarios = {
            "hot": measure_scenario("hot", args, context, lambda _: HOT_SKU, level_ids(engine, [HOT_SKU])),
            "spread": measure_scenario("spread", args, context, lambda chooser: chooser.choice(skus),
                                       level_ids(engine, None)),
        }
        floor = http_floor(args, context)
        oversell = oversell_check(args, context)
    except BaseException:
        server.stop(keep_log=True)
        raise
    else:
        failed = [part for part in (*scenarios.values(), floor, oversell) if _other_errors(part)]
        server.stop(keep_log=bool(failed))
    finally:
        engine.dispose()
    return {
        "benchmark": "reservations",
        "machine": {**facts, "api_workers": args.workers},
        "config": {"clients": args.clients, "seconds": args.seconds, "warmup_seconds": args.warmup_seconds,
                   "spread_skus": args.spread_skus, "history": args.history,
                   "oversell_stock": args.oversell_stock,
                   "client": "threads, one keep-alive http.client connection each, same machine as the server"},
        "seed_seconds": round(seed_seconds, 2),
        "scenarios": scenarios,
        "http_floor_unauthenticated": floor,
        "oversell_check": oversell,
        "all_goals_met": all(s["goal_met"] for s in scenarios.values()),
        "all_checks_passed": oversell["passed"] and all(s["database_check"]["consistent"] for s in scenarios.values()),
    }


def _other_errors(part: dict[str, Any]) -> int:
    return int(part["other_errors"] if "other_errors" in part else part["api"]["other_errors"])


def main() -> None:
    args = parse_args()
    with throwaway_database(args.database_url) as database_url:
        result = run(args, database_url)
    emit(result)


if __name__ == "__main__":
    main()
