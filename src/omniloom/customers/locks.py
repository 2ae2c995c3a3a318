"""The two PostgreSQL advisory locks of the customer write path, each held until its transaction ends.

- The **identity lock** (exclusive): one writer of the identity graph at a time (resolving a batch, undoing a
  merge, erasing), so two batches never race to create the same identifier or merge the same profiles.
- The **row-move lock**: taken exclusively to move rows between profiles (a merge, an undone merge, an erasure's
  scrubbing) and shared to store events, so events of different batches are stored side by side but never while
  the profiles they go to are being moved (an event stored then could stay behind on a merged-away profile).

SQLite writers queue on the database itself, so both are no-ops there.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloom.customers.bulk import on_postgres

IDENTITY_LOCK_KEY = 0x6964656E
ROW_MOVE_LOCK_KEY = 0x6D6F7665


def lock_identity_graph(session: Session) -> None:
    """Serialise identity writers for the rest of the transaction."""
    if on_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(IDENTITY_LOCK_KEY)))


def lock_row_moves(session: Session) -> None:
    """Keep events from being stored while this transaction moves rows between profiles (waits for those being
    stored now)."""
    if on_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(ROW_MOVE_LOCK_KEY)))


def share_row_moves(session: Session) -> None:
    """Store events without rows moving under them (other batches' events may be stored at the same time)."""
    if on_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock_shared(ROW_MOVE_LOCK_KEY)))
