"""The HTTP application: every module's router under ``/api/v1``, problem+json errors, OpenAPI 3.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import BaseModel
from sqlalchemy import text

from omniloom import __version__
from omniloom.catalog.api import router as catalog_router
from omniloom.channels.api import router as channels_router
from omniloom.customers.api import router as customers_router
from omniloom.engagement.api import router as engagement_router
from omniloom.fulfillment.api import router as fulfillment_router
from omniloom.inventory.api import reserve_in_lane
from omniloom.inventory.api import router as inventory_router
from omniloom.orders.api import router as orders_router
from omniloom.platform.clock import Clock, SystemClock
from omniloom.platform.db import Database, make_engine
from omniloom.platform.fast_lane import FastLaneApp
from omniloom.platform.http import (
    PROBLEM_RESPONSES,
    DatabaseDep,
    KeyCache,
    document_problems,
    install_error_handlers,
)
from omniloom.platform.runtime import tune_garbage_collection
from omniloom.platform.schema import ensure_migrated
from omniloom.platform.settings import Settings, get_settings
from omniloom.pricing.api import router as pricing_router
from omniloom.syndication.api import router as syndication_router
from omniloom.syndication.connectors.api import router as connectors_router
from omniloom.webhooks.api import router as webhooks_router

API_PREFIX = "/api/v1"
DESCRIPTION = """One system behind every channel a retailer sells through: one catalog, one stock picture across
stores and warehouses, one set of prices, one customer profile.
Authenticate with `Authorization: Bearer <API key>`; errors are RFC 9457
`application/problem+json`; money is integer minor units with an ISO 4217 currency; lists are cursor-paginated."""


def create_app(settings: Settings | None = None, *, database: Database | None = None,
               clock: Clock | None = None) -> FastLaneApp:
    """Build the application; refuses to start on a database that ``omniloom init`` has not migrated."""
    settings = settings or get_settings()
    if database is None:
        database = Database(make_engine(settings.database_url, pool_size=settings.database_pool_size))
    ensure_migrated(database.engine)
    app = FastLaneApp(title="Omniloom", version=__version__, description=DESCRIPTION,
                      openapi_url="/openapi.json", docs_url="/docs", redoc_url=None, lifespan=_started)
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock or SystemClock()
    app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
    install_error_handlers(app)
    for router in (inventory_router, pricing_router, channels_router, catalog_router, customers_router,
                   orders_router, fulfillment_router, webhooks_router, engagement_router, syndication_router,
                   connectors_router):
        app.include_router(router, prefix=API_PREFIX, responses=PROBLEM_RESPONSES)
    app.add_fast_route("POST", f"{API_PREFIX}/reservations", reserve_in_lane)
    app.add_api_route("/health", health, methods=["GET"], tags=["operations"], response_model=Health)
    generate_openapi = app.openapi
    app.openapi = lambda: document_problems(generate_openapi())  # type: ignore[method-assign]
    return app


@asynccontextmanager
async def _started(_app: FastLaneApp) -> AsyncIterator[None]:
    """Once the server has started: what start-up built stays out of the garbage collector's way."""
    tune_garbage_collection()
    yield


class Health(BaseModel):
    status: str
    database: str
    version: str


def health(db: DatabaseDep) -> Health:
    """Liveness and readiness: answers 200 once the database answers (no key needed)."""
    with db.read() as session:
        session.execute(text("SELECT 1"))
    return Health(status="ok", database=db.dialect, version=__version__)
