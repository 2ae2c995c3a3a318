"""The channel registry: every place the retailer sells, and its inventory policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, JSONData, UTCDateTime


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (
        CheckConstraint("safety_stock >= 0", name="safety_stock_not_negative"),
        CheckConstraint("max_exposed IS NULL OR max_exposed >= 0", name="max_exposed_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    price_list: Mapped[str] = mapped_column(String(64))
    location_codes: Mapped[list[str]] = mapped_column(JSONData, default=list)
    safety_stock: Mapped[int] = mapped_column(default=0)
    max_exposed: Mapped[int | None]
    allow_backorder: Mapped[bool] = mapped_column(default=False)
    feed_settings: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
