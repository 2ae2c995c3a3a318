"""Syndication tables: what each channel's feed last said about each item, numbered for deltas, and kept in its
feed form so that a full feed is read rather than built again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, UTCDateTime


class FeedState(Base):
    """How far a channel's feed has followed the outbox, and the number of its latest item change."""

    __tablename__ = "feed_states"

    channel_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    events_position: Mapped[int] = mapped_column(BigInteger, default=0)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    # The form the channel's rows are kept in (``deltas.ROW_FORM``; 0: not kept).
    row_form: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Feeds are written in code point order; on PostgreSQL the key compares that way, so it hands out rows in order.
_SKU = String(64).with_variant(String(64, collation="C"), "postgresql")


class FeedRow(Base):
    """The digest of one item as the channel's feed last showed it; ``sequence`` numbers its latest change.

    ``google_row`` is the shown item's Google product data values (a JSON array), kept for channels checked against
    Google's rules; ``has_errors`` marks an item of the channel left out of its feed for errors (``deleted`` too).
    """

    __tablename__ = "feed_rows"
    __table_args__ = (Index("ix_feed_rows_channel_sequence", "channel_code", "sequence"),)

    channel_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(_SKU, primary_key=True)
    digest: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(default=False)
    google_row: Mapped[str | None] = mapped_column(Text)
    has_errors: Mapped[bool] = mapped_column(default=False, server_default=false())
