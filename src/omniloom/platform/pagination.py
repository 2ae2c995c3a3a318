"""Keyset pagination: ``{"items": [...], "next_cursor": "..."}`` with opaque cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from omniloom.platform.errors import InvalidInput

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The key a cursor points after; a cursor that was not made by us is a 422 naming ``cursor``."""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput.field("cursor", "is not a cursor returned by this list") from None


def paginate(
    session: Session, statement: Select[Any], *, key: InstrumentedAttribute[Any], limit: int, cursor: str | None
) -> tuple[Sequence[Any], str | None]:
    """Rows of ``statement`` ordered by the unique string ``key``, after ``cursor``; plus the next cursor."""
    if cursor:
        statement = statement.where(key > decode_cursor(cursor))
    rows = session.scalars(statement.order_by(key).limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(str(getattr(rows[-1], key.key)))
