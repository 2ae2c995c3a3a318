"""The channel registry: create, read and change channels and their inventory policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniloom.channels.errors import ChannelCodeTaken, ChannelNotFound
from omniloom.channels.events import ChannelCreated, ChannelUpdated
from omniloom.channels.models import Channel
from omniloom.channels.schemas import ChannelCreate, ChannelUpdate
from omniloom.platform.clock import Clock
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import record
from omniloom.platform.pagination import paginate


def get_channel(session: Session, code: str) -> Channel:
    """The channel with this code; raises ChannelNotFound."""
    channel = session.scalars(select(Channel).where(Channel.code == code)).one_or_none()
    if channel is None:
        raise ChannelNotFound(code)
    return channel


def channel_codes(session: Session) -> frozenset[str]:
    """The codes of every registered channel."""
    return frozenset(session.scalars(select(Channel.code)))


_CHANNELS = cast(Table, Channel.__table__)
_INVENTORY_POLICY = (select(_CHANNELS.c.code, _CHANNELS.c.location_codes, _CHANNELS.c.safety_stock,
                            _CHANNELS.c.max_exposed, _CHANNELS.c.active)
                     .where(_CHANNELS.c.code == bindparam("code")))
INVENTORY_POLICIES_SQL = ("SELECT code, location_codes, safety_stock, max_exposed, active FROM channels "
                          "WHERE code IN (SELECT json_array_elements_text(%(channels)s::json))")
"""PostgreSQL: what ``inventory_policy`` reads, of the channels whose codes are the psycopg parameter ``channels`` (a
JSON array), for a statement that reads them together with other rows in one round trip (e.g. as a CTE)."""


def codes_with_feeds(session: Session) -> list[str]:
    """The codes of the active channels that have feed settings, in code order."""
    rows = session.execute(select(Channel.code, Channel.feed_settings).where(Channel.active.is_(True))
                           .order_by(Channel.code))
    return [code for code, feed_settings in rows if feed_settings]


def inventory_policy(session: Session, code: str) -> Row[str, list[str], int, int | None, bool]:
    """Only what inventory needs of a channel: code, location_codes, safety_stock, max_exposed, active."""
    policy = session.execute(_INVENTORY_POLICY, {"code": code}).first()
    if policy is None:
        raise ChannelNotFound(code)
    return policy


def list_channels(session: Session, *, limit: int, cursor: str | None = None,
                  codes: Sequence[str] | None = None) -> tuple[Sequence[Channel], str | None]:
    """Channels ordered by code (optionally only some codes), one page after ``cursor``."""
    statement = select(Channel)
    if codes is not None:
        statement = statement.where(Channel.code.in_(codes))
    return paginate(session, statement, key=Channel.code, limit=limit, cursor=cursor)


def create_channel(session: Session, data: ChannelCreate, *, clock: Clock) -> Channel:
    """Register a channel; raises ChannelCodeTaken when the code is in use."""
    if session.scalar(select(Channel.id).where(Channel.code == data.code)) is not None:
        raise ChannelCodeTaken(data.code)
    now = clock.now()
    channel = Channel(
        id=new_id("chn"), code=data.code, name=data.name, type=data.type, currency=data.currency,
        price_list=data.price_list, location_codes=list(data.location_codes), safety_stock=data.safety_stock,
        max_exposed=data.max_exposed, allow_backorder=data.allow_backorder,
        feed_settings=data.feed_settings.model_dump(mode="json") if data.feed_settings else {},
        active=True, created_at=now, updated_at=now,
    )
    session.add(channel)
    try:
        session.flush()
    except IntegrityError:
        raise ChannelCodeTaken(data.code) from None
    record(session, ChannelCreated(
        code=channel.code, type=channel.type, currency=channel.currency, price_list=channel.price_list,
        location_codes=channel.location_codes, safety_stock=channel.safety_stock,
        max_exposed=channel.max_exposed, allow_backorder=channel.allow_backorder,
    ), clock=clock)
    return channel


def update_channel(session: Session, code: str, data: ChannelUpdate, *, clock: Clock) -> Channel:
    """Change the fields sent in ``data``; records ``channel.updated`` when anything changed."""
    channel = get_channel(session, code)
    changes: dict[str, Any] = {}
    for name, value in data.model_dump(mode="json", include=data.model_fields_set).items():
        stored = value if name != "feed_settings" else (value or {})
        if getattr(channel, name) != stored:
            setattr(channel, name, stored)
            changes[name] = value
    if changes:
        channel.updated_at = clock.now()
        record(session, ChannelUpdated(code=channel.code, changes=changes), clock=clock)
    return channel
