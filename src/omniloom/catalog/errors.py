"""Errors of the catalog."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, FieldError, NotFound


class ProductNotFound(NotFound):
    slug = "product-not-found"
    title = "Product not found"

    def __init__(self, product_id: str) -> None:
        super().__init__(f"product '{product_id}' does not exist", product_id=product_id)


class VariantNotFound(NotFound):
    slug = "sku-not-found"
    title = "SKU not found"

    def __init__(self, sku: str) -> None:
        super().__init__(f"SKU '{sku}' does not exist", sku=sku)
        self.sku = sku


class SkuTaken(Conflict):
    slug = "sku-taken"
    title = "SKU already used"

    def __init__(self, sku: str, *, field: str, reason: str = "is already used by another variant") -> None:
        super().__init__(f"{field}: SKU '{sku}' {reason}", errors=[FieldError(field, f"SKU '{sku}' {reason}")],
                         sku=sku)


class GtinTaken(Conflict):
    slug = "gtin-taken"
    title = "GTIN already used"

    def __init__(self, gtin: str, *, field: str, reason: str = "is already used by another variant") -> None:
        super().__init__(f"{field}: GTIN '{gtin}' {reason}", errors=[FieldError(field, f"GTIN '{gtin}' {reason}")],
                         gtin=gtin)


class ListingIdTaken(Conflict):
    slug = "listing-id-taken"
    title = "Listing id already used"

    def __init__(self, *, channel_code: str, listing_id: str, sku: str) -> None:
        message = f"listing id '{listing_id}' is already used on channel '{channel_code}' by SKU '{sku}'"
        super().__init__(f"listing_id: {message}", errors=[FieldError("listing_id", message)],
                         channel=channel_code, listing_id=listing_id)
