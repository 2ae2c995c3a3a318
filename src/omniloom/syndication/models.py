"""Syndication tables: what each channel's feed last said about each item, numbered for deltas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, UTCDateTime


class FeedState(Base):
    """How far a channel's feed has followed the outbox, and the number of its latest item change."""

    __tablename__ = "feed_states"

    channel_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    events_position: Mapped[int] = mapped_column(BigInteger, default=0)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeedRow(Base):
    """The digest of one item as the channel's feed last showed it; ``sequence`` numbers its latest change."""

    __tablename__ = "feed_rows"
    __table_args__ = (Index("ix_feed_rows_channel_sequence", "channel_code", "sequence"),)

    channel_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(default=False)
