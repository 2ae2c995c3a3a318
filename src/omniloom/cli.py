"""The ``omniloom`` command: init, serve, worker, keys, demo."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from omniloom.demo.load import load_demo
from omniloom.platform.auth import create_api_key, list_api_keys, revoke_api_key
from omniloom.platform.clock import SystemClock
from omniloom.platform.db import Database, make_engine
from omniloom.platform.errors import OmniloomError
from omniloom.platform.schema import ensure_migrated, upgrade
from omniloom.platform.settings import Settings, get_settings
from omniloom.worker import Worker

app = typer.Typer(help="Omniloom: one omnichannel commerce engine behind every channel.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
err = Console(stderr=True, soft_wrap=True)


def _database(settings: Settings) -> Database:
    return Database(make_engine(settings.database_url, pool_size=settings.database_pool_size))


def _migrated_database(settings: Settings) -> Database:
    database = _database(settings)
    ensure_migrated(database.engine)
    return database


@app.command()
def init() -> None:
    """Create the database or migrate it to this version's schema."""
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    typer.echo(f"database ready: {engine.url.render_as_string(hide_password=True)}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API processes sharing the port.")] = 1,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Also run the background worker.")] = True,
) -> None:
    """Run the HTTP API (and, unless --no-worker, the background worker)."""
    settings = get_settings()
    database = _migrated_database(settings)
    stop = threading.Event()
    if worker:
        runner = Worker(database, SystemClock(), interval_seconds=settings.worker_interval_seconds)
        threading.Thread(target=runner.run, args=(stop,), name="omniloom-worker", daemon=True).start()
    try:
        uvicorn.run("omniloom.api:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level=settings.log_level.lower(), access_log=False)
    finally:
        stop.set()


@app.command("worker")
def run_worker(once: Annotated[bool, typer.Option(help="Run every job once and exit.")] = False) -> None:
    """Run background jobs: reservation expiry and outbox numbering."""
    settings = get_settings()
    runner = Worker(_migrated_database(settings), SystemClock(), interval_seconds=settings.worker_interval_seconds)
    if once:
        report = runner.tick()
        typer.echo(f"expired {report.reservations_expired} reservations, numbered {report.events_numbered} events")
        return
    stop = threading.Event()
    try:
        runner.run(stop)
    except KeyboardInterrupt:
        stop.set()


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, store:<location>, channel:<channel> or customer:<id>.")],
    name: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
) -> None:
    """Create an API key; the key is printed alone on the last line and never shown again."""
    with _migrated_database(get_settings()).write() as session:
        key, secret = create_api_key(session, role=role, name=name or role, clock=SystemClock())
    typer.echo(f"created {key.id} with role {key.role}; store the key now, it is not kept:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (their secrets are not stored and cannot be shown)."""
    with _migrated_database(get_settings()).read() as session:
        keys = list_api_keys(session)
    table = Table("id", "role", "name", "starts with", "created", "revoked")
    for key in keys:
        table.add_row(key.id, key.role, key.name, key.hint + "…", key.created_at.isoformat(timespec="seconds"),
                      key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "")
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")]) -> None:
    """Revoke a key."""
    with _migrated_database(get_settings()).write() as session:
        key = revoke_api_key(session, key_id=key_id, clock=SystemClock())
    typer.echo(f"revoked {key.id}")


@app.command()
def demo(seed: Annotated[int, typer.Option(help="Random seed: the same seed loads the same retailer.")] = 7) -> None:
    """Load a realistic demo retailer: warehouse, stores, channels of every type, catalog, prices and stock."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    summary = load_demo(Database(engine), seed=seed)
    typer.echo(summary)


def main() -> None:
    """Entry point: expected errors become one line on stderr and a non-zero exit."""
    try:
        settings = get_settings()
    except ValidationError as error:
        first = error.errors()[0]
        err.print(f"error: OMNILOOM_{str(first['loc'][0]).upper()}: {first['msg']}", markup=False, highlight=False)
        sys.exit(2)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        app()
    except OmniloomError as error:
        err.print(f"error: {error.detail}", markup=False, highlight=False)
        sys.exit(1)
