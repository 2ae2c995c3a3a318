"""Database plumbing: declarative base, portable column types, engines and transaction scopes.

SQLite is the embedded default (WAL, foreign keys, write transactions begin IMMEDIATE so writers queue
instead of failing); PostgreSQL (psycopg 3) is the production database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import namedtuple_row, tuple_row
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# An auto-incrementing 64-bit key on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")
JSONData = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def in_code_point_order(column: ColumnElement[str] | InstrumentedAttribute[str], dialect: str
                        ) -> ColumnElement[str]:
    """``column`` compared by code point, as Python compares text: PostgreSQL's "C" collation, SQLite's default.
    Streams merged in Python must be sorted this way."""
    return column.collate("C") if dialect == "postgresql" else column.expression


def _iso_datetime(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def json_rows(rows: Sequence[Mapping[str, Any]] | Sequence[Any]) -> str:
    """Rows as one JSON document, for a statement that unpacks them on the server (``json_to_recordset``):
    datetimes in ISO 8601, which PostgreSQL reads with their offset.

    ``orjson`` encodes a batch in a few microseconds a row; what it refuses (integers beyond 64 bits in a client's
    data) goes through the standard library."""
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        return json.dumps(rows, default=_iso_datetime, separators=(",", ":"), ensure_ascii=False)


def driver_connection(session: Session) -> Any:
    """The DB-API connection under the session's own connection, inside its transaction: for the few statements
    whose rows SQLAlchemy's execution and result layers would cost more to handle than the statement itself."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    return driver


def driver_rows(session: Session, statement: str, parameters: Sequence[Any] | Mapping[str, Any], *,
                named: bool = False) -> list[Any]:
    """PostgreSQL: the rows of a fixed statement (``%s`` or ``%(name)s`` placeholders) run through psycopg on the
    session's connection, in its transaction: plain tuples, or named tuples with ``named``. For the hot paths' fixed
    statements, whose SQLAlchemy compilation and result processing cost more than the statement itself.
    Timestamps come back timezone-aware."""
    driver: psycopg.Connection[Any] = driver_connection(session)
    with driver.cursor(row_factory=namedtuple_row if named else tuple_row) as cursor:
        cursor.execute(statement, parameters)
        return cursor.fetchall()


def outcome_unknown(error: BaseException) -> bool:
    """Whether ``error`` came from the connection without an answer from the server (the connection was lost): a
    statement sent before it may have committed or not. An error the server answered left nothing behind."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return isinstance(cause, psycopg.Error) and cause.sqlstate is None


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    """An engine for ``url`` with Omniloom's connection settings applied."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, opens transactions
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        readonly = connection.get_execution_options().get("omniloom_readonly", False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class Database:
    """Opens sessions. Whoever opens one commits it: ``with db.write() as session: ...``.

    ``bind`` joins every session to an existing connection's transaction (tests roll it back).
    """

    def __init__(self, engine: Engine, *, bind: Connection | None = None) -> None:
        self.engine = engine
        if bind is not None:
            self._writer = sessionmaker(bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint")
            self._reader = self._writer
            self._autocommit = self._writer
        else:
            self._writer = sessionmaker(bind=engine, expire_on_commit=False)
            readonly = {"postgresql_readonly": True} if engine.dialect.name == "postgresql" else {}
            self._reader = sessionmaker(
                bind=engine.execution_options(omniloom_readonly=True, **readonly), expire_on_commit=False
            )
            self._autocommit = sessionmaker(bind=engine.execution_options(isolation_level="AUTOCOMMIT"),
                                            expire_on_commit=False) \
                if engine.dialect.name == "postgresql" else self._writer

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A read-write transaction, committed when the block ends, rolled back on error."""
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Session]:
        """A session whose every statement commits on its own (PostgreSQL's autocommit), for work made only of
        statements that are each all-or-nothing: it saves the BEGIN and COMMIT round trips.

        On SQLite, and in a database bound to a test's transaction, it is an ordinary write transaction, which only
        adds atomicity. A statement that failed because the connection was lost may have committed or not: see
        ``outcome_unknown``.
        """
        with self._autocommit.begin() as session:
            yield session

    @property
    def commits_each_statement(self) -> bool:
        """Whether ``autocommit`` sessions commit statement by statement (an unbound PostgreSQL database)."""
        return self._autocommit is not self._writer

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction (READ ONLY on PostgreSQL); loaded objects stay readable after the block.

        It ends with a commit, which cannot write anything, because psycopg forgets its prepared statements on
        every rollback.
        """
        with self._reader.begin() as session:
            yield session
