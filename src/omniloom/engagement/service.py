"""The engagement module's public functions: reading the messages sent to a customer or to anyone."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloom.engagement.models import Message
from omniloom.engagement.schemas import MessageStatus
from omniloom.platform.pagination import paginate


def list_messages(session: Session, *, status: MessageStatus | None, limit: int, cursor: str | None = None
                  ) -> tuple[Sequence[Message], str | None]:
    """Every message, oldest first (optionally only those in one status)."""
    statement = select(Message)
    if status is not None:
        statement = statement.where(Message.status == status)
    return paginate(session, statement, key=Message.id, limit=limit, cursor=cursor)


def customer_messages(session: Session, *, profile_ids: Sequence[str], limit: int, cursor: str | None = None
                      ) -> tuple[Sequence[Message], str | None]:
    """The messages written to a person (all of their profile ids), oldest first."""
    statement = select(Message).where(Message.customer_id.in_(profile_ids))
    return paginate(session, statement, key=Message.id, limit=limit, cursor=cursor)
