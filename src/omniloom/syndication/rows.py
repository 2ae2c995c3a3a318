"""A statement's rows as plain DB-API tuples, a batch at a time: how a feed reads millions of rows.

SQLAlchemy's result layer costs more per row than everything a feed then does with the row. Here the statement is
compiled by SQLAlchemy and run by the driver on the session's own connection (so inside its transaction), through
a server-side cursor on PostgreSQL so that memory stays flat whatever the size of the result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from omniloom.platform.db import driver_connection

_CURSOR_NUMBERS = count()
# How many distinct JSON texts a ``JsonTexts`` keeps decoded before it starts afresh (memory stays bounded).
REMEMBERED = 4096


def row_batches(session: Session, statement: Select[Any], *, size: int) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``statement`` as the driver returns them (no type conversion by SQLAlchemy: select JSON as
    text), ``size`` at a time."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    driver = driver_connection(session)
    if connection.dialect.name == "postgresql":
        # A streamed read of every row: compiling the plan to machine code would cost seconds before the first row,
        # and a parallel plan has each worker build the same hash tables again, on the cores the reader needs.
        connection.exec_driver_sql("SET LOCAL jit = off")
        connection.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor = driver.cursor(name=f"omniloom_rows_{next(_CURSOR_NUMBERS)}")
        cursor.execute(str(compiled), compiled.params)
    else:
        cursor = driver.cursor()
        cursor.execute(str(compiled), [compiled.params[name] for name in compiled.positiontup or ()])
    try:
        while batch := cursor.fetchmany(size):
            yield batch
    finally:
        cursor.close()


class JsonTexts(dict[str | None, dict[str, Any]]):
    """JSON texts decoded once each: a feed meets the same few option sets and product attributes again and again,
    so ``texts[text]`` is mostly a dictionary look-up. ``None`` (SQL NULL) and JSON ``null`` give an empty object.
    The decoded values are shared, so they must not be changed."""

    def __missing__(self, text: str | None) -> dict[str, Any]:
        if len(self) >= REMEMBERED:
            self.clear()
        found = self[text] = (json.loads(text) or {}) if text else {}
        return found
