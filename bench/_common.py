"""Shared plumbing of the benchmarks: throw-away databases, bulk loading, percentiles, machine facts.

Every benchmark creates its own database on the server it is pointed at and drops it at the end, so it never
touches existing data. Results go to stdout as one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, Engine, create_engine, make_url, text

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_STARTED = time.monotonic()


def log(message: str) -> None:
    """Progress for the human watching (stderr), prefixed with the seconds since start."""
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """The benchmark's single JSON result on stdout."""
    print(json.dumps(result, indent=2, sort_keys=False))


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("OMNILOOM_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="server to create the throw-away database on (PostgreSQL URL, or any sqlite URL for a temp file); "
        "default: $OMNILOOM_BENCH_DATABASE_URL, else %(default)s",
    )


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (psycopg.connect) understands it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A new empty database on ``server_url`` (a temp file for SQLite), dropped when the block ends."""
    if not is_postgres(server_url):
        with tempfile.TemporaryDirectory(prefix="omniloom_bench_") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    name = f"omniloom_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    log(f"created database {name}")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        log(f"dropped database {name}")


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(SQLITE_DATETIME)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _postgres_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


def bulk_insert(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Load rows into ``table`` fast: COPY on PostgreSQL, executemany on SQLite; returns the row count.

    Values are plain Python: str, int, bool, None, aware datetimes, dicts/lists (JSON columns).
    """
    driver = connection.connection.driver_connection
    column_list = ", ".join(columns)
    count = 0
    if connection.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_postgres_value(value) for value in row])
                count += 1
        return count
    placeholders = ", ".join("?" for _ in columns)
    cursor = driver.cursor()
    batch: list[list[Any]] = []
    for row in rows:
        batch.append([_sqlite_value(value) for value in row])
        if len(batch) == 10_000:
            cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})", batch)
            count += len(batch)
            batch = []
    if batch:
        cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})", batch)
        count += len(batch)
    cursor.close()
    return count


def analyze(engine: Engine, tables: Sequence[str]) -> None:
    """Fresh planner statistics (and on PostgreSQL a vacuum of dead row versions) for ``tables``."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in tables:
                connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in 0..1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50/p99/mean/max in milliseconds of a list of durations in seconds."""
    milliseconds = [value * 1000 for value in seconds]
    return {
        "samples": len(milliseconds),
        "p50_ms": round(percentile(milliseconds, 0.50), 3),
        "p99_ms": round(percentile(milliseconds, 0.99), 3),
        "mean_ms": round(sum(milliseconds) / len(milliseconds), 3) if milliseconds else 0.0,
        "max_ms": round(max(milliseconds), 3) if milliseconds else 0.0,
    }


def machine_facts(engine: Engine) -> dict[str, Any]:
    """What the numbers were measured on: cores, Python, database server and its durability settings."""
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "database": engine.dialect.name,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            for setting in ("server_version", "max_connections", "synchronous_commit", "fsync", "shared_buffers"):
                facts[f"postgres_{setting}"] = connection.exec_driver_sql(f"SHOW {setting}").scalar()
        else:
            facts["sqlite_version"] = connection.exec_driver_sql("select sqlite_version()").scalar()
    return facts


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None
