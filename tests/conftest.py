"""Shared fixtures: one migrated database per run, each test rolled back; fresh databases for concurrency.

``OMNILOOM_TEST_DATABASE_URL`` picks the server (SQLite in a temporary folder by default). On PostgreSQL the run
creates its own databases on that server and drops them afterwards, so it never touches existing data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text

from omniloom.api import create_app
from omniloom.platform.auth import create_api_key
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database, make_engine
from omniloom.platform.schema import upgrade
from omniloom.platform.settings import Settings

START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def server_url() -> str | None:
    return os.environ.get("OMNILOOM_TEST_DATABASE_URL")


def is_postgres() -> bool:
    return (server_url() or "").startswith("postgresql")


class DatabaseFactory:
    """Creates empty, migrated databases on the test server and removes them at the end of the run."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[tuple[str, Engine]] = []

    def create(self, *, migrated: bool = True) -> str:
        """The URL of a new database, migrated to the newest schema unless ``migrated`` is false."""
        name = f"omniloom_test_{uuid.uuid4().hex[:12]}"
        base = server_url()
        if base and base.startswith("postgresql"):
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = make_url(base).set(database=name).render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{self.tmp / (name + '.db')}"
        engine = make_engine(url, pool_size=40)
        if migrated:
            upgrade(engine)
        self.created.append((name, engine))
        return url

    def engine_for(self, url: str) -> Engine:
        return next(engine for name, engine in self.created if name in url)

    def drop_all(self) -> None:
        base = server_url()
        for name, engine in self.created:
            engine.dispose()
            if base and base.startswith("postgresql"):
                admin = create_engine(base, isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def shared_engine(database_factory: DatabaseFactory) -> Engine:
    return database_factory.engine_for(database_factory.create())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def database(shared_engine: Engine) -> Iterator[Database]:
    """A database whose every change is rolled back when the test ends."""
    with shared_engine.connect() as connection:
        transaction = connection.begin()
        yield Database(shared_engine, bind=connection)
        transaction.rollback()


@pytest.fixture
def fresh_database(database_factory: DatabaseFactory) -> Iterator[Database]:
    """An empty migrated database with real commits, for concurrency and crash tests (connections handed back to
    the server when the test ends)."""
    database = Database(database_factory.engine_for(database_factory.create()))
    yield database
    database.engine.dispose()


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="sqlite://", api_key_cache_seconds=0)


@pytest.fixture
def app_for(settings: Settings, clock: FrozenClock) -> Callable[[Database], TestClient]:
    def build(db: Database) -> TestClient:
        return TestClient(create_app(settings, database=db, clock=clock), raise_server_exceptions=False)
    return build


@pytest.fixture
def client(app_for: Callable[[Database], TestClient], database: Database) -> TestClient:
    """An HTTP client without credentials."""
    return app_for(database)


@pytest.fixture
def key_for(database: Database, clock: FrozenClock) -> Callable[[str], str]:
    """Create an API key for a role and return its secret."""
    def make(role: str) -> str:
        with database.write() as session:
            return create_api_key(session, role=role, name=f"test {role}", clock=clock)[1]
    return make


@pytest.fixture
def api_as(client: TestClient, key_for: Callable[[str], str]) -> Callable[[str], TestClient]:
    """``api_as("store:AMS-01")`` → a client sending a key of that role (base URL ``/api/v1``)."""
    def make(role: str) -> TestClient:
        scoped = TestClient(client.app, base_url="http://testserver/api/v1", raise_server_exceptions=False)
        scoped.headers["Authorization"] = f"Bearer {key_for(role)}"
        return scoped
    return make


@pytest.fixture
def admin(api_as: Callable[[str], TestClient]) -> TestClient:
    return api_as("admin")


@pytest.fixture
def requires_postgres() -> None:
    if not is_postgres():
        pytest.skip("needs OMNILOOM_TEST_DATABASE_URL pointing at PostgreSQL (run by .ci/run)")
