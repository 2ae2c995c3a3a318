"""The ``omniloom`` command: init, serve, worker, keys, customers, demo, feeds, connectors, simulate."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from omniloom.customers.schemas import MAX_BATCH, HistoryFormat
from omniloom.platform.errors import OmniloomError
from omniloom.platform.runtime import tune_garbage_collection
from omniloom.platform.settings import Settings, get_settings
from omniloom.syndication.formats import FormatName
from omniloom.syndication.validation import Target

if TYPE_CHECKING:
    from omniloom.platform.db import Database

# Each command imports what it runs when it runs: a command (and --help) starts without loading the whole engine.

app = typer.Typer(help="Omniloom: one omnichannel commerce engine behind every channel.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
customers_app = typer.Typer(help="Import customer history.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")
connectors_app = typer.Typer(help="Sync channels through their connectors.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")
feeds_app = typer.Typer(help="Export and check channel feeds.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
simulate_app = typer.Typer(help="Run a simulated marketplace to connect a channel to.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
err = Console(stderr=True, soft_wrap=True)


def _database(settings: Settings) -> Database:
    from omniloom.platform.db import Database, make_engine

    return Database(make_engine(settings.database_url, pool_size=settings.database_pool_size))


def _migrated_database(settings: Settings) -> Database:
    from omniloom.platform.schema import ensure_migrated

    database = _database(settings)
    ensure_migrated(database.engine)
    return database


@app.command()
def init() -> None:
    """Create the database or migrate it to this version's schema."""
    from omniloom.platform.db import make_engine
    from omniloom.platform.schema import upgrade

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
    import uvicorn

    from omniloom.platform.clock import SystemClock
    from omniloom.worker import Worker

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
    """Run background jobs: checkout clean-up, reservation and pickup expiry, outbox numbering and relaying."""
    from omniloom.platform.clock import SystemClock
    from omniloom.worker import Worker

    settings = get_settings()
    runner = Worker(_migrated_database(settings), SystemClock(), interval_seconds=settings.worker_interval_seconds,
                    settings=settings)
    if once:
        report = runner.tick()
        runner.close()
        typer.echo(f"settled {report.checkouts_abandoned} abandoned checkouts, expired "
                   f"{report.reservations_expired} reservations and {report.pickups_expired} pickups, numbered "
                   f"{report.events_numbered} events, delivered {report.webhooks_delivered} webhooks, published "
                   f"{report.events_published} events to NATS")
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
    from omniloom.platform.auth import create_api_key
    from omniloom.platform.clock import SystemClock

    with _migrated_database(get_settings()).write() as session:
        key, secret = create_api_key(session, role=role, name=name or role, clock=SystemClock())
    typer.echo(f"created {key.id} with role {key.role}; store the key now, it is not kept:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (their secrets are not stored and cannot be shown)."""
    from rich.table import Table

    from omniloom.platform.auth import list_api_keys

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
    from omniloom.platform.auth import revoke_api_key
    from omniloom.platform.clock import SystemClock

    with _migrated_database(get_settings()).write() as session:
        key = revoke_api_key(session, key_id=key_id, clock=SystemClock())
    typer.echo(f"revoked {key.id}")


SHOWN_REJECTS = 20


@customers_app.command("import")
def customers_import(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="JSON Lines (one event per line, as in POST /events) "
                                                               "or CSV.")],
    channel: Annotated[str | None, typer.Option(help="Channel of rows that name none.")] = None,
    file_format: Annotated[HistoryFormat | None, typer.Option(
        "--format", help="jsonl or csv (default: from the extension).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH, help="Rows per transaction.")] = 500,
    timezone: Annotated[str, typer.Option(help="Time zone of CSV times written without an offset.")] = "UTC",
    rejects: Annotated[Path | None, typer.Option(help="Write every rejected row here (JSON Lines).")] = None,
) -> None:
    """Import purchase history and other events; a row that fails is reported and the others are recorded."""
    from rich.progress import Progress

    from omniloom.customers import history
    from omniloom.platform.clock import SystemClock

    settings = get_settings()
    database = _migrated_database(settings)
    source = history.open_history(file, format=file_format, default_channel=channel, timezone=timezone)
    if rejects is not None:
        history.write_rejects(rejects, [])
    with Progress() as progress:
        task = progress.add_task("customer history", total=source.rows)
        report = history.import_history(database, source, batch_size=batch_size,
                                        region=settings.default_phone_region, guards=settings.identity_guards,
                                        clock=SystemClock(), advance=lambda rows: progress.advance(task, rows))
    typer.echo(report.summary())
    for row in report.rejected[:SHOWN_REJECTS]:
        typer.echo(row.describe())
    if rejects is not None:
        history.write_rejects(rejects, report.rejected)
        typer.echo(f"wrote {len(report.rejected)} rejected rows to {rejects}")
    elif len(report.rejected) > SHOWN_REJECTS:
        typer.echo(f"... and {len(report.rejected) - SHOWN_REJECTS} more (--rejects FILE writes them all)")


@app.command()
def demo(seed: Annotated[int, typer.Option(help="Random seed: the same seed loads the same retailer.")] = 7) -> None:
    """Load a realistic demo retailer: warehouse, stores, channels of every type, catalog, prices and stock."""
    from omniloom.demo.load import load_demo
    from omniloom.platform.db import Database, make_engine
    from omniloom.platform.schema import upgrade

    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    summary = load_demo(Database(engine), seed=seed)
    typer.echo(summary)


@feeds_app.command("export")
def feeds_export(
    channel: Annotated[str, typer.Argument(metavar="CHANNEL", help="The channel's code.")],
    file_format: Annotated[FormatName, typer.Option(
        "--format", help="google_tsv, google_xml, local_inventory, meta_csv, marketplace_csv or json.")
    ] = "google_tsv",
    out: Annotated[Path | None, typer.Option(help="Write here (atomically) instead of standard output.")] = None,
    since: Annotated[str | None, typer.Option(help="Only what changed after this cursor (of an earlier export).")
                     ] = None,
) -> None:
    """Write a channel's feed from the catalog (streamed, constant memory); prints the cursor for the next delta."""
    from rich.progress import Progress

    from omniloom.platform.clock import SystemClock
    from omniloom.syndication import exports

    settings = get_settings()
    database = _migrated_database(settings)
    export = exports.FeedExport(database, channel, file_format, clock=SystemClock(), since=since,
                                preparation_minutes=settings.pickup_preparation_minutes)
    with Progress(console=err, disable=out is None) as progress:
        task = progress.add_task(f"{channel} {file_format}", total=export.total)
        count = export.write(out, advance=lambda items: progress.advance(task, items))
    err.print(f"wrote {count.written} items{f' and {count.deleted} deletions' if count.deleted else ''}"
              f"{f' to {out}' if out else ''}; left out {count.left_out} with errors (omniloom feeds validate "
              f"{channel}); next cursor {export.cursor}", markup=False, highlight=False)


@feeds_app.command("validate")
def feeds_validate(
    channel: Annotated[str, typer.Argument(metavar="CHANNEL", help="The channel's code.")],
    target: Annotated[Target | None, typer.Option(help="Whose rules (default: those of the channel's type).")]
    = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many problems.")] = 200,
) -> None:
    """Check every item of a channel against its rules; exits 1 when an item has an error (left out of the feed)."""
    from rich.table import Table

    from omniloom.syndication import exports

    database = _migrated_database(get_settings())
    report = exports.validate(database, channel, target=target)
    table = Table("sku", "severity", "attribute", "problem", title=f"{channel}: {report.target} rules")
    for problem in report.problems[:limit]:
        table.add_row(problem.sku, problem.severity, problem.attribute, problem.message)
    Console().print(table)
    typer.echo(f"{report.items} items: {report.errors} errors, {report.warnings} warnings"
               f"{f' (showing {limit})' if len(report.problems) > limit else ''}")
    if report.errors:
        raise typer.Exit(1)


@connectors_app.command("sync")
def connectors_sync(channel: Annotated[str, typer.Argument(metavar="CHANNEL", help="The channel's code.")]) -> None:
    """Sync a channel now: push its feed changes, import its orders, push tracking and cancellations."""
    from omniloom.platform.clock import SystemClock
    from omniloom.syndication.connectors.sync import sync_channel

    settings = get_settings()
    report = sync_channel(_migrated_database(settings), channel, SystemClock(), settings=settings)
    typer.echo(f"pushed {report.listings_pushed} listings, {report.stock_updates_pushed} stock and price updates, "
               f"{report.removals_pushed} removals")
    typer.echo(f"pulled {report.orders_pulled} orders: {report.orders_imported} imported, {report.orders_held} on "
               f"hold, {report.orders_already_imported} already imported; acknowledged {report.orders_acknowledged}")
    typer.echo(f"pushed {report.tracking_pushed} shipments and {report.cancellations_pushed} cancellations")
    typer.echo(f"dead-lettered {report.dead_lettered} (GET /api/v1/channels/{channel}/connector/dead-letters)")
    if report.failures:
        err.print(f"error: {'; '.join(report.failures)}; nothing was lost, the next sync tries again",
                  markup=False, highlight=False)
        raise typer.Exit(1)


@simulate_app.command("marketplace")
def simulate_marketplace(
    port: Annotated[int, typer.Option(help="TCP port.")] = 8400,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    token: Annotated[str | None, typer.Option(help="Require 'Authorization: Bearer TOKEN' on its API.")] = None,
    currency: Annotated[str, typer.Option(help="The currency it sells in.")] = "EUR",
    handling_hours: Annotated[float, typer.Option(help="Hours after an order by which tracking is due.")] = 48.0,
    rate_limit: Annotated[str | None, typer.Option(help="Calls allowed, e.g. 10/s or 300/min (429 beyond).")] = None,
) -> None:
    """Run a marketplace that takes listings, sells them (POST /_simulate/orders) and expects tracking."""
    import uvicorn

    from omniloom.syndication.simulator import Marketplace, parse_rate

    try:
        limit = parse_rate(rate_limit) if rate_limit else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--rate-limit") from None
    market = Marketplace(token=token, currency=currency, handling_hours=handling_hours,
                         rate_limit=limit[0] if limit else None, rate_window_seconds=limit[1] if limit else 1.0)
    typer.echo(f"marketplace on http://{host}:{port} (control panel under /_simulate); Ctrl+C stops it")
    uvicorn.run(market.app(), host=host, port=port, log_level="warning", access_log=False)


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
    tune_garbage_collection()
    try:
        app()
    except OmniloomError as error:
        err.print(f"error: {error.detail}", markup=False, highlight=False)
        sys.exit(1)
