"""What every feed format is built from: one channel's view of one variant, and the problems found in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Availability = Literal["in_stock", "out_of_stock", "backorder"]
Severity = Literal["error", "warning"]

# Variant attributes the channels know by these names (Google's and Meta's names agree on them).
VARIANT_ATTRIBUTES = ("color", "size", "gender", "age_group", "material", "pattern")


@dataclass(slots=True)
class FeedItem:
    """One variant as one channel sees it: its template-built title and link, its price on the channel's list
    and what the channel may promise of it. Amounts are minor units of ``currency``."""

    id: str
    item_group_id: str
    title: str
    description: str
    link: str
    currency: str
    price: int | None
    sale_price: int | None
    availability: Availability
    quantity: int
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    condition: str = "new"
    product_type: str | None = None
    google_product_category: str | None = None
    image_link: str | None = None
    additional_image_links: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    shipping_weight_grams: int | None = None
    listing_id: str | None = None
    pickup_stores: tuple[str, ...] = ()
    # A local inventory row: the store it is about and how that store hands the item over.
    store_code: str | None = None
    pickup_method: str | None = None
    pickup_sla: str | None = None

    @property
    def identifier_exists(self) -> bool:
        """Whether the item carries a unique product identifier: a GTIN, or a brand with an MPN."""
        return bool(self.gtin or (self.brand and self.mpn))


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a channel would refuse (``error``: the item is left out) or flag (``warning``: it stays)."""

    sku: str
    severity: Severity
    attribute: str
    message: str
