"""Shared plumbing of the benchmarks: throw-away databases, bulk loading, percentiles, machine facts, and the
``omniloom serve`` process the HTTP benchmarks load.

Every benchmark creates its own database on the server it is pointed at and drops it at the end, so it never
touches existing data. Results go to stdout as one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
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


# ----------------------------------------------------------------------------------------------------- server

SERVER_START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli_command(*arguments: str) -> list[str]:
    """``omniloom ARGS`` run by this interpreter, whatever is on PATH."""
    return [sys.executable, "-c", "import omniloom.cli as cli; (getattr(cli, 'main', None) or cli.app)()",
            *arguments]


def create_admin_key(database_url: str) -> str:
    environment = {**os.environ, "OMNILOOM_DATABASE_URL": database_url}
    completed = subprocess.run(cli_command("keys", "create", "--role", "admin"), env=environment,
                               capture_output=True, text=True, timeout=120, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"`omniloom keys create` failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return completed.stdout.strip().splitlines()[-1].strip()


def api_processes(root: int) -> list[int]:
    """The server's API worker processes (multiprocessing children), or the server itself when it has none."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    family, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        family.extend(children)
        frontier.extend(children)
    workers = [pid for pid in family if b"spawn_main" in read_bytes(f"/proc/{pid}/cmdline")]
    return workers or [root]


def read_bytes(path: str) -> bytes:
    """A (proc) file's bytes, or nothing when it is gone."""
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


class Server:
    """``omniloom serve`` in its own process group, stopped (by its id) when the benchmark ends."""

    def __init__(self, database_url: str, workers: int) -> None:
        self.port = free_port()
        self.workers = workers
        self.database_url = database_url
        self.log_descriptor, self.log_path = tempfile.mkstemp(prefix="omniloom_bench_server_", suffix=".log")
        environment = {**os.environ, "OMNILOOM_DATABASE_URL": database_url, "OMNILOOM_LOG_LEVEL": "INFO"}
        command = cli_command("serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
                              "--no-worker")
        self.process = subprocess.Popen(command, env=environment, stdout=self.log_descriptor, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/openapi.json")
                if connection.getresponse().status == 200:
                    connection.close()
                    time.sleep(1.0 if self.workers > 1 else 0.0)  # let the other workers finish booting
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the server did not answer within {SERVER_START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return api_processes(self.process.pid)

    def log_tail(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[-3000:]

    def stop(self, *, keep_log: bool = False) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        os.close(self.log_descriptor)
        if keep_log:
            log(f"server log kept at {self.log_path}; its end:\n{self.log_tail()}")
        else:
            Path(self.log_path).unlink(missing_ok=True)
