"""Assertions shared by the API tests: problem documents and "nothing was written"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniloom.platform.db import Database
from omniloom.platform.errors import PROBLEM_BASE
from tests.factories import CATALOG_TABLES, row_counts


def assert_problem(response: Any, status: int, slug: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type (and these field errors, when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"] == PROBLEM_BASE + slug, problem
    assert problem["status"] == status
    if errors is not None:
        assert problem["errors"] == errors, problem["errors"]
    return problem


def counts(database: Database, tables: Sequence[str] = CATALOG_TABLES) -> dict[str, int]:
    """Rows per table, to compare before and after a refused request."""
    with database.read() as session:
        return row_counts(session, tables)
