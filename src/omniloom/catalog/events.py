"""Events of the catalog: what channels need to hear about products, variants and listings."""

from __future__ import annotations

from typing import Any, ClassVar

from omniloom.platform.outbox import DomainEvent


class ProductCreated(DomainEvent):
    event_type: ClassVar[str] = "product.created"

    product_id: str
    title: str
    brand: str | None
    category: str | None
    skus: list[str]

    def subject(self) -> str:
        return f"product:{self.product_id}"


class ProductUpdated(DomainEvent):
    event_type: ClassVar[str] = "product.updated"

    product_id: str
    skus: list[str]
    changes: dict[str, Any]

    def subject(self) -> str:
        return f"product:{self.product_id}"


class VariantCreated(DomainEvent):
    event_type: ClassVar[str] = "variant.created"

    sku: str
    product_id: str
    gtin: str | None
    options: dict[str, str]

    def subject(self) -> str:
        return f"sku:{self.sku}"


class VariantUpdated(DomainEvent):
    event_type: ClassVar[str] = "variant.updated"

    sku: str
    product_id: str
    fields: list[str]

    def subject(self) -> str:
        return f"sku:{self.sku}"


class ListingChanged(DomainEvent):
    event_type: ClassVar[str] = "listing.changed"

    channel: str
    sku: str
    listing_id: str | None
    excluded: bool
    changes: dict[str, Any]

    def subject(self) -> str:
        return f"sku:{self.sku}"
