"""Transaction scopes of ``Database`` and what a failed statement leaves behind."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy import inspect, text

from omniloom.platform.db import Database, outcome_unknown
from tests.conftest import is_postgres


def _names(database: Database) -> list[str]:
    with database.read() as session:
        return list(session.scalars(text("SELECT name FROM autocommit_probe ORDER BY name")))


@pytest.fixture
def probe(fresh_database: Database) -> Database:
    with fresh_database.write() as session:
        session.execute(text("CREATE TABLE autocommit_probe (name VARCHAR(20) PRIMARY KEY)"))
    return fresh_database


def test_autocommit_statements_commit_on_their_own_on_postgresql(probe: Database) -> None:
    assert probe.commits_each_statement == is_postgres()

    with pytest.raises(sqlalchemy.exc.IntegrityError), probe.autocommit() as session:
        session.execute(text("INSERT INTO autocommit_probe VALUES ('first')"))
        seen_meanwhile = _names(probe)
        session.execute(text("INSERT INTO autocommit_probe VALUES ('first')"))  # fails: the key is taken

    if is_postgres():  # the first statement committed before the block ended, and stays
        assert seen_meanwhile == ["first"]
        assert _names(probe) == ["first"]
    else:  # SQLite: one ordinary transaction, rolled back as a whole
        assert seen_meanwhile == []
        assert _names(probe) == []


def test_autocommit_in_a_bound_database_is_one_transaction(database: Database) -> None:
    assert not database.commits_each_statement

    with pytest.raises(sqlalchemy.exc.DBAPIError), database.autocommit() as session:
        session.execute(text("CREATE TABLE bound_probe (name VARCHAR(20) PRIMARY KEY)"))
        session.execute(text("INSERT INTO bound_probe VALUES ('first')"))
        session.execute(text("INSERT INTO bound_probe VALUES ('first')"))

    with database.read() as session:  # the table went with the rolled-back block
        assert not inspect(session.connection()).has_table("bound_probe")


def test_a_lost_connection_leaves_the_outcome_unknown() -> None:
    lost = psycopg.OperationalError("server closed the connection unexpectedly")

    assert outcome_unknown(lost)
    assert outcome_unknown(sqlalchemy.exc.OperationalError("COMMIT", {}, lost))
    assert not outcome_unknown(RuntimeError("not from the database"))


def test_an_error_the_server_answered_is_not_unknown(probe: Database) -> None:
    with pytest.raises(sqlalchemy.exc.DBAPIError) as refused, probe.write() as session:
        session.execute(text("INSERT INTO autocommit_probe VALUES ('a'), ('a')"))

    assert not outcome_unknown(refused.value)
    if is_postgres():
        assert isinstance(refused.value.orig, psycopg.Error) and refused.value.orig.sqlstate == "23505"
