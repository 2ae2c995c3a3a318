"""Statements over a whole batch of rows, a fixed number of them whatever the batch size.

On PostgreSQL the rows travel as one JSON document (``json_to_recordset``): one parameter, so the statement text
and the driver's prepared statement are the same for any number of rows, and the server, not the driver, unpacks
them. Elsewhere (SQLite) rows go through ``executemany`` and keys through ``IN`` lists in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, TextClause, bindparam, case, insert, text, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute, Session

from omniloom.platform.db import json_rows

CHUNK = 500
Column = ColumnElement[Any] | QueryableAttribute[Any]
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _record_type(table: Table, columns: Sequence[str]) -> str:
    return ", ".join(f"{name} {table.c[name].type.compile(dialect=_POSTGRESQL)}" for name in columns)


@lru_cache(maxsize=64)
def _insert_text(table: Table, columns: tuple[str, ...]) -> TextClause:
    names = ", ".join(columns)
    return text(f"INSERT INTO {table.name} ({names}) SELECT {names} "
                f"FROM json_to_recordset(CAST(:rows AS json)) AS row ({_record_type(table, columns)})")


@lru_cache(maxsize=64)
def _update_text(table: Table, key: str, columns: tuple[str, ...]) -> TextClause:
    values = ", ".join(f"{name} = row.{name}" for name in columns if name != key)
    return text(f"UPDATE {table.name} SET {values} "
                f"FROM json_to_recordset(CAST(:rows AS json)) AS row ({_record_type(table, columns)}) "
                f"WHERE {table.name}.{key} = row.{key}")


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (each with the same columns, JSON columns as Python values) in one statement."""
    if not rows:
        return
    if on_postgres(session):
        session.execute(_insert_text(table, tuple(rows[0])), {"rows": json_rows(rows)})
    else:
        session.execute(insert(table), list(rows))


def update_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str) -> None:
    """Set the other columns of each row on the table row whose ``key`` column matches."""
    if not rows:
        return
    if on_postgres(session):
        session.execute(_update_text(table, key, tuple(rows[0])), {"rows": json_rows(rows)})
        return
    match = f"match_{key}"
    session.connection().execute(update(table).where(table.c[key] == bindparam(match)),
                                 [{match if name == key else name: value for name, value in row.items()}
                                  for row in rows])


def repoint(session: Session, table: Table, column: str, targets: Mapping[str, str], **values: Any) -> None:
    """Replace each key of ``targets`` found in ``column`` by its value (and set ``values`` on those rows)."""
    if not targets:
        return
    target = table.c[column]
    if on_postgres(session):
        moves = [{"source": source, "target": goal} for source, goal in sorted(targets.items())]
        session.execute(text(
            f"UPDATE {table.name} SET {column} = move.target"
            + "".join(f", {name} = :{name}" for name in values)
            + f" FROM json_to_recordset(CAST(:moves AS json)) AS move (source text, target text)"
              f" WHERE {table.name}.{column} = move.source"
        ).bindparams(*(bindparam(name, type_=table.c[name].type) for name in values)),
            {"moves": json_rows(moves), **values})
        return
    sources = sorted(targets)
    for start in range(0, len(sources), CHUNK):
        chunk = sources[start:start + CHUNK]
        session.execute(update(table).where(target.in_(chunk))
                        .values({column: case({s: targets[s] for s in chunk}, value=target), **values}))


def member(session: Session, column: Column, values: Sequence[Any], name: str) -> ColumnElement[bool]:
    """``column IN values``: on PostgreSQL one JSON parameter (``name``) for any number; elsewhere an ``IN`` list,
    so give it at most ``CHUNK`` values (see ``chunks``)."""
    if not on_postgres(session):
        return column.in_(list(values))
    value_type = column.type.compile(dialect=_POSTGRESQL)
    return column.in_(text(f"SELECT CAST(json_array_elements_text(CAST(:{name} AS json)) AS {value_type})")
                      .bindparams(bindparam(name, json_rows(list(values)), type_=Text())))


def pair_member(session: Session, first: Column, second: Column,
                pairs: Sequence[tuple[str, str]], name: str) -> ColumnElement[bool]:
    """``(first, second) IN pairs``, as ``member`` does it."""
    if not on_postgres(session):
        return tuple_(first, second).in_(list(pairs))
    return tuple_(first, second).in_(
        text(f"SELECT pair ->> 0, pair ->> 1 FROM json_array_elements(CAST(:{name} AS json)) AS pair")
        .bindparams(bindparam(name, json_rows(list(pairs)), type_=Text())))


def chunks(session: Session, values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``values`` whole on PostgreSQL, in ``CHUNK``-sized parts elsewhere, for ``member`` and ``pair_member``."""
    if not values:
        return
    if on_postgres(session):
        yield values
        return
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]
