"""``Idempotency-Key`` handling: the first result for a key is stored with the effect and replayed after.

The key row is inserted first, in the same transaction as the effect; a concurrent request with the same key
waits on the unique index and then replays the committed result. An error result (4xx) is stored too, in its
own transaction after the failed one rolled back, so a retry gets the same answer.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from omniloom.platform.clock import Clock
from omniloom.platform.db import Base, Database, JSONData, UTCDateTime
from omniloom.platform.errors import InvalidInput, OmniloomError

MAX_KEY_LENGTH = 255


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(120), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response: Mapped[Any | None] = mapped_column(JSONData)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool = False


def fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_once(db: Database, *, scope: str, key: str | None, body: Any, clock: Clock,
             effect: Callable[[Session], Outcome]) -> Outcome:
    """Run ``effect`` in a write transaction at most once per (scope, key); replay the stored outcome after."""
    if key is None:
        with db.write() as session:
            return effect(session)
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput.field("Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} characters")
    request_hash = fingerprint(body)
    try:
        with db.write() as session:
            stored = _claim(session, scope=scope, key=key, request_hash=request_hash, clock=clock)
            if stored is not None:
                return stored
            outcome = effect(session)
            _store(session, scope, key, outcome.status_code, outcome.body)
            return outcome
    except OmniloomError as error:
        if error.status >= 500:
            raise
        with db.write() as session:
            stored = _claim(session, scope=scope, key=key, request_hash=request_hash, clock=clock)
            if stored is not None:
                return stored
            _store(session, scope, key, error.status, error.problem())
        raise


def _claim(session: Session, *, scope: str, key: str, request_hash: str, clock: Clock) -> Outcome | None:
    """Insert the key row, or return the outcome stored under it by an earlier request."""
    try:
        with session.begin_nested():
            session.add(IdempotencyRecord(scope=scope, key=key, request_hash=request_hash, created_at=clock.now()))
    except IntegrityError:
        record = session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        ).one()
        if record.request_hash != request_hash:
            raise InvalidInput.field("Idempotency-Key", "was already used with a different request body") from None
        assert record.status_code is not None, "a committed idempotency record always has its outcome"
        return Outcome(record.status_code, record.response, replayed=True)
    return None


def _store(session: Session, scope: str, key: str, status_code: int, body: Any) -> None:
    record = session.get(IdempotencyRecord, (scope, key))
    assert record is not None
    record.status_code = status_code
    record.response = body


# A request whose effect spans several transactions (e.g. a checkout that calls a payment provider between holding
# the stock and recording the order) claims its key first, in a transaction of its own, and stores the outcome
# with the final effect. A concurrent duplicate waits for that outcome and replays it; a claim left behind by a
# process that died is taken over once it is older than ``stale_after``.

WAIT_STEP_SECONDS = 0.05


class RequestInProgress(OmniloomError):
    status = 409
    slug = "request-in-progress"
    title = "A request with this key is in progress"


def claim(db: Database, *, scope: str, key: str | None, body: Any, clock: Clock, stale_after: float,
          wait_seconds: float = 30.0) -> Outcome | None:
    """Own ``key`` for a multi-step request (None), or the outcome an earlier request with it produced."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput.field("Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} characters")
    request_hash = fingerprint(body)
    waited = 0.0
    while True:
        with db.write() as session:
            try:
                with session.begin_nested():
                    session.add(IdempotencyRecord(scope=scope, key=key, request_hash=request_hash,
                                                  created_at=clock.now()))
                return None
            except IntegrityError:
                record = session.scalars(select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key).with_for_update()).one()
            if record.request_hash != request_hash:
                raise InvalidInput.field("Idempotency-Key", "was already used with a different request body")
            if record.status_code is not None:
                return Outcome(record.status_code, record.response, replayed=True)
            if (clock.now() - record.created_at).total_seconds() >= stale_after:
                record.created_at = clock.now()  # its owner died: take the key over
                return None
        if waited >= wait_seconds:
            raise RequestInProgress("a request with this Idempotency-Key is still running; retry shortly")
        time.sleep(WAIT_STEP_SECONDS)
        waited += WAIT_STEP_SECONDS


def complete(session: Session, *, scope: str, key: str | None, outcome: Outcome) -> None:
    """Store the outcome of a claimed key together with the request's final effect."""
    if key is not None:
        _store(session, scope, key, outcome.status_code, outcome.body)


def settle_failure(db: Database, *, scope: str, key: str | None, error: OmniloomError) -> None:
    """After a failed claimed request: keep a 4xx answer for replays; forget the key after a 5xx (retry may run)."""
    if key is None:
        return
    with db.write() as session:
        record = session.get(IdempotencyRecord, (scope, key))
        if record is None or record.status_code is not None:
            return
        if error.status >= 500:
            session.delete(record)
        else:
            _store(session, scope, key, error.status, error.problem())
