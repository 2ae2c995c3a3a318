"""Feed export throughput and memory: the Google TSV feed against plain ``csv.writer`` dumps of the same rows.

Seeds N variants (5 per product, one image each, priced on the default list) stocked over S stores (bulk-loaded)
and an ads channel selling from every store. Then, each in its own process so that peak memory is the export's
alone:

1. the first ``omniloom feeds export``, which builds every item from the catalog and keeps the channel's rows
   (the baseline deltas compare with, and the Google form full feeds are read from);
2. the floors, each fetched as the feed fetches it (plain DB-API tuples, a server-side cursor on PostgreSQL) and
   written by ``csv.writer`` with no feed logic at all: the feed's source query (what the first export builds
   from) and the channel's kept rows (what a full feed of a caught-up channel reads);
3. the steady-state full feed (``omniloom feeds export CHANNEL --format google_tsv``);
4. 1% of the prices change (through the pricing service, so the outbox records them), then the delta
   (``--since`` the cursor of step 3).

``ratio`` is the full feed's rows/s over the kept rows' floor's; ``first_export_with_baseline.ratio`` is the first
export's over the source query's floor. Goals: ratio >= 0.5, >= 100,000 rows/s, peak memory < 300 MB.
``cpu_us_per_row`` is each process's CPU time less that of starting the same process without work (its imports),
per row: the steadier figure on a shared machine.

Usage: ``python bench/feeds.py [--database-url URL] [--variants 1000000] [--stores 20]``
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from _common import (
    add_database_argument,
    analyze,
    bulk_insert,
    cli_command,
    emit,
    log,
    machine_facts,
    throwaway_database,
)
from omniloom.catalog.gtin import check_digit
from omniloom.platform.clock import SystemClock
from omniloom.platform.db import Database, make_engine
from omniloom.platform.ids import new_id
from omniloom.platform.schema import upgrade
from omniloom.pricing import service as pricing
from omniloom.syndication import deltas
from omniloom.syndication import service as syndication
from omniloom.syndication.rows import row_batches

CHANNEL = "bench-ads"
PRICE_LIST = "DEFAULT-EUR"
VARIANTS_PER_PRODUCT = 5
GOAL_RATIO = 0.5
GOAL_ROWS_PER_SECOND = 100_000
GOAL_PEAK_MB = 300
GNU_TIME = "/usr/bin/time"
COLOURS = ("Black", "Navy", "Red", "Olive", "Sand")
SIZES = ("XS", "S", "M", "L", "XL")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_argument(parser)
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--stocked", type=float, default=0.5, help="share of (variant, store) pairs with stock")
    parser.add_argument("--changed", type=float, default=0.01, help="share of prices changed before the delta")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--floor", nargs=3, metavar=("ROWS", "DATABASE_URL", "OUT"), help=argparse.SUPPRESS)
    return parser.parse_args()


# ----------------------------------------------------------------------------------------------------- seeding


def seed(engine: Engine, args: argparse.Namespace) -> list[str]:
    """Stores, channel, catalog, prices and stock levels by bulk SQL; returns the SKUs."""
    chooser = random.Random(args.seed)
    now = datetime.now(UTC)
    store_ids = [new_id("loc") for _ in range(args.stores)]
    store_codes = [f"ST-{number:02d}" for number in range(args.stores)]
    skus = [f"V{number:07d}" for number in range(args.variants)]
    products = [new_id("prod") for _ in range(0, args.variants, VARIANTS_PER_PRODUCT)]
    with engine.begin() as connection:
        bulk_insert(connection, "locations",
                    ("id", "code", "name", "type", "address", "latitude", "longitude", "timezone", "opening_hours",
                     "capabilities", "priority", "active", "created_at", "updated_at"),
                    ((location_id, code, f"Store {code}", "store",
                      {"line1": "Damrak 1", "city": "Amsterdam", "postal_code": "1012LG", "country": "NL"},
                      52.0 + n / 100, 4.9, "Europe/Amsterdam", {}, ["ship", "pickup", "curbside", "returns"], 0,
                      True, now, now) for n, (location_id, code) in enumerate(zip(store_ids, store_codes,
                                                                                    strict=True))))
        bulk_insert(connection, "price_lists", ("id", "code", "name", "currency", "is_default", "created_at"),
                    [(new_id("prl"), PRICE_LIST, "Default EUR", "EUR", True, now)])
        price_list_id = connection.exec_driver_sql("SELECT id FROM price_lists").scalar_one()
        bulk_insert(connection, "channels",
                    ("id", "code", "name", "type", "currency", "price_list", "location_codes", "safety_stock",
                     "max_exposed", "allow_backorder", "feed_settings", "active", "created_at", "updated_at"),
                    [(new_id("chn"), CHANNEL, "Shopping ads", "ads", "EUR", PRICE_LIST, store_codes, 1, None, False,
                      {"link_template": "https://shop.example.com/p/{sku}?utm_source=google&utm_medium=cpc",
                       "title_template": "{brand} {title} – {options[colour]} {options[size]}",
                       "category_map": {"Apparel > Jackets": "Apparel & Accessories > Clothing > Outerwear"}},
                      True, now, now)])
        log(f"loading {len(products)} products")
        bulk_insert(connection, "products",
                    ("id", "title", "description", "brand", "category", "attributes", "status", "created_at",
                     "updated_at"),
                    ((product_id, f"Rain jacket {n}", f"Waterproof jacket number {n}, taped seams.", "Waadwear",
                      "Apparel > Jackets", {"material": "Nylon", "gender": "unisex", "age_group": "adult"},
                      "active", now, now) for n, product_id in enumerate(products)))
        bulk_insert(connection, "product_media", ("product_id", "position", "url", "alt"),
                    ((product_id, 0, f"https://cdn.example.com/{product_id}.jpg", None) for product_id in products))
        log(f"loading {args.variants} variants and prices")
        bulk_insert(connection, "variants",
                    ("id", "product_id", "sku", "gtin", "mpn", "options", "weight_grams", "position", "created_at",
                     "updated_at"),
                    ((new_id("var"), products[n // VARIANTS_PER_PRODUCT], sku, gtin(n), None,
                      {"colour": COLOURS[n % 5], "size": SIZES[(n // 5) % 5]}, 650, n % VARIANTS_PER_PRODUCT, now,
                      now) for n, sku in enumerate(skus)))
        bulk_insert(connection, "prices", ("price_list_id", "sku", "amount", "compare_at_amount", "updated_at"),
                    ((price_list_id, sku, chooser.randrange(1000, 20000), None, now) for sku in skus))
        log(f"loading stock levels over {args.stores} stores")
        bulk_insert(connection, "inventory_levels",
                    ("sku", "location_id", "on_hand", "reserved", "allocated", "updated_at"),
                    ((sku, store_id, chooser.randint(1, 20), 0, 0, now) for sku in skus for store_id in store_ids
                     if chooser.random() < args.stocked))
    analyze(engine, ("locations", "products", "product_media", "variants", "prices", "inventory_levels"))
    return skus


def gtin(number: int) -> str:
    body = f"40{number:010d}"
    return body + str(check_digit(body))


# ----------------------------------------------------------------------------------------------- measurements


def floor(rows: str, database_url: str, out: str) -> None:
    """The ``rows`` (``source``: the feed's source query; ``kept``: the channel's kept rows), fetched as the feed
    fetches them (plain DB-API tuples, JSON as text) and dumped by ``csv.writer`` without any feed logic (run in its
    own process)."""
    database = Database(make_engine(database_url))
    with database.read() as session, open(out, "w", encoding="utf-8", newline="") as file:
        channel = syndication.feed_channel(session, CHANNEL)
        writer = csv.writer(file, delimiter="\t", lineterminator="\n")
        batches = (syndication.source_rows(session, channel) if rows == "source" else
                   row_batches(session, deltas.kept_rows_statement(session, channel), size=syndication.BATCH))
        for batch in batches:
            writer.writerows(batch)


def floor_run(rows: str, url: str, out: Path) -> dict[str, Any]:
    run = timed_process([sys.executable, __file__, "--floor", rows, url, str(out)], url)
    run.pop("stderr")
    run["rows"] = sum(1 for _ in out.open(encoding="utf-8"))
    return run


def timed_process(command: list[str], database_url: str) -> dict[str, Any]:
    """Run ``command`` to completion; its wall time, CPU time, peak resident memory and standard error.

    The peak comes from GNU ``time`` (``%M``), which starts the command from its own small process: a child forked
    straight from this (large) process would report this process's size as its own peak.
    """
    environment = {**os.environ, "OMNILOOM_DATABASE_URL": database_url}
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as peak:
        started = time.perf_counter()
        process = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", peak.name, *command], env=environment,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        peak_kb = int(peak.read().strip().splitlines()[-1])
    stderr = process.stderr.read() if process.stderr else ""
    if status != 0:
        raise SystemExit(f"{' '.join(command[-6:])} failed:\n{stderr[-2000:]}")
    return {"seconds": round(seconds, 3), "peak_mb": round(peak_kb / 1024, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3), "stderr": stderr}


def export(database_url: str, out: Path, *extra: str) -> dict[str, Any]:
    result = timed_process(cli_command("feeds", "export", CHANNEL, "--format", "google_tsv", "--out", str(out),
                                       *extra), database_url)
    result["rows"] = sum(1 for _ in out.open(encoding="utf-8")) - 1
    result["cursor"] = result.pop("stderr").rsplit("next cursor ", 1)[-1].strip()
    return result


def change_prices(database_url: str, skus: list[str], share: float, seed_value: int) -> int:
    """Change ``share`` of the prices through the pricing service (one transaction); returns how many."""
    chosen = random.Random(seed_value).sample(skus, max(1, int(len(skus) * share)))
    database = Database(make_engine(database_url))
    with database.write() as session:
        for sku in chosen:
            pricing.set_price(session, price_list_code=PRICE_LIST, sku=sku, amount=999, compare_at_amount=None,
                              clock=SystemClock())
    return len(chosen)


def cpu_per_row(run: dict[str, Any]) -> float:
    """Microseconds of the process's CPU per row, less what its start (imports) costs."""
    return round((run["cpu_seconds"] - run["start_cpu_seconds"]) / run["rows"] * 1e6, 2) if run["rows"] else 0.0


def per_second(rows: int, seconds: float) -> int:
    return round(rows / seconds) if seconds else 0


def main() -> None:
    args = parse_args()
    if args.floor:
        floor(*args.floor)
        return
    with throwaway_database(args.database_url) as url, tempfile.TemporaryDirectory() as folder:
        engine = make_engine(url)
        upgrade(engine)
        skus = seed(engine, args)
        facts = machine_facts(engine)
        engine.dispose()
        out = Path(folder)
        log("first export (records the delta baseline)")
        first = export(url, out / "first.tsv")
        log("floors: csv.writer dumps of the source query and of the kept rows")
        floors = {rows: floor_run(rows, url, out / f"floor-{rows}.tsv") for rows in ("source", "kept")}
        log("full feed")
        full = export(url, out / "full.tsv")
        log("start-up cost of each process (the same imports, no rows)")
        full["start_cpu_seconds"] = timed_process(cli_command("feeds", "export", "--help"), url)["cpu_seconds"]
        floor_start = timed_process([sys.executable, __file__, "--help"], url)["cpu_seconds"]
        for run in floors.values():
            run["start_cpu_seconds"] = floor_start
        log(f"changing {args.changed:.0%} of the prices")
        changed = change_prices(url, skus, args.changed, args.seed)
        log("delta")
        delta = export(url, out / "delta.tsv", "--since", full["cursor"])
    full_rate = per_second(full["rows"], full["seconds"])
    first_rate = per_second(first["rows"], first["seconds"])
    floor_rates = {rows: per_second(run["rows"], run["seconds"]) for rows, run in floors.items()}
    ratio = round(full_rate / floor_rates["kept"], 3) if floor_rates["kept"] else 0.0
    emit({
        "benchmark": "feeds", "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "variants": args.variants, "stores": args.stores, "machine": facts,
        "first_export_with_baseline": {key: first[key] for key in ("seconds", "rows", "peak_mb", "cpu_seconds")}
        | {"rows_per_second": first_rate,
           "ratio": round(first_rate / floor_rates["source"], 3) if floor_rates["source"] else 0.0},
        **{f"floor_{rows}_rows": {**run, "rows_per_second": floor_rates[rows], "cpu_us_per_row": cpu_per_row(run)}
           for rows, run in floors.items()},
        "full_feed": {key: full[key] for key in ("seconds", "rows", "peak_mb", "cpu_seconds", "start_cpu_seconds")}
        | {"rows_per_second": full_rate, "cpu_us_per_row": cpu_per_row(full)},
        "delta_after_price_changes": {"prices_changed": changed, "rows": delta["rows"], "seconds": delta["seconds"],
                                      "share_of_full_feed_time": round(delta["seconds"] / full["seconds"], 3)},
        "ratio": ratio,
        "goals": {"ratio": GOAL_RATIO, "rows_per_second": GOAL_ROWS_PER_SECOND, "peak_mb": GOAL_PEAK_MB},
        "goals_met": {"ratio": ratio >= GOAL_RATIO, "rows_per_second": full_rate >= GOAL_ROWS_PER_SECOND,
                      "peak_mb": full["peak_mb"] < GOAL_PEAK_MB},
        "load_average": os.getloadavg(),
    })


if __name__ == "__main__":
    main()
