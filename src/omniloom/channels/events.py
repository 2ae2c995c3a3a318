"""Events of the channel registry."""

from __future__ import annotations

from typing import Any, ClassVar

from omniloom.platform.outbox import DomainEvent


class ChannelCreated(DomainEvent):
    event_type: ClassVar[str] = "channel.created"

    code: str
    type: str
    currency: str
    price_list: str
    location_codes: list[str]
    safety_stock: int
    max_exposed: int | None
    allow_backorder: bool

    def subject(self) -> str:
        return f"channel:{self.code}"


class ChannelUpdated(DomainEvent):
    event_type: ClassVar[str] = "channel.updated"

    code: str
    changes: dict[str, Any]

    def subject(self) -> str:
        return f"channel:{self.code}"
