"""Events of the pricing module."""

from __future__ import annotations

from typing import ClassVar

from omniloom.platform.outbox import DomainEvent


class PriceListCreated(DomainEvent):
    event_type: ClassVar[str] = "price_list.created"

    code: str
    currency: str
    is_default: bool

    def subject(self) -> str:
        return f"price_list:{self.code}"


class PriceChanged(DomainEvent):
    event_type: ClassVar[str] = "price.changed"

    price_list: str
    sku: str
    amount: int
    currency: str
    compare_at_amount: int | None

    def subject(self) -> str:
        return f"sku:{self.sku}"
