"""Errors of the pricing module."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, FieldError, NotFound


class PriceListNotFound(NotFound):
    slug = "price-list-not-found"
    title = "Price list not found"

    def __init__(self, code: str) -> None:
        super().__init__(f"price list '{code}' does not exist", price_list=code)
        self.code = code


class PriceListCodeTaken(Conflict):
    slug = "price-list-code-taken"
    title = "Price list code already used"

    def __init__(self, code: str) -> None:
        message = f"a price list with code '{code}' already exists"
        super().__init__(message, errors=[FieldError("code", message)], price_list=code)
