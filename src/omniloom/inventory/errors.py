"""Errors of the inventory module, named after the state they report."""

from __future__ import annotations

from collections.abc import Sequence

from omniloom.platform.errors import Conflict, FieldError, NotFound


class LocationNotFound(NotFound):
    slug = "location-not-found"
    title = "Location not found"

    def __init__(self, code: str, *, field: str | None = None) -> None:
        errors = [FieldError(field, f"location '{code}' does not exist")] if field else None
        super().__init__(f"location '{code}' does not exist", errors=errors, location=code)
        self.code = code


class LocationCodeTaken(Conflict):
    slug = "location-code-taken"
    title = "Location code already used"

    def __init__(self, code: str) -> None:
        super().__init__(f"a location with code '{code}' already exists", location=code)
        self.code = code


class SkuNotFound(NotFound):
    slug = "sku-not-found"
    title = "SKU not found"

    def __init__(self, sku: str) -> None:
        super().__init__(f"SKU '{sku}' is not in the catalog", errors=[FieldError("sku", "unknown SKU")], sku=sku)
        self.sku = sku


class InsufficientOnHand(Conflict):
    """A movement would take on-hand below zero or below the units already reserved or allocated."""

    slug = "insufficient-on-hand"
    title = "Not enough stock on hand"


class InsufficientStock(Conflict):
    """Some reservation lines cannot be covered by the stock the channel may sell."""

    slug = "insufficient-stock"
    title = "Insufficient stock"

    def __init__(self, lines: Sequence[tuple[str, int, int]]) -> None:
        short = ", ".join(f"{sku} (requested {requested}, available {available})"
                          for sku, requested, available in lines)
        super().__init__(
            f"not enough stock for: {short}",
            lines=[{"sku": sku, "requested": requested, "available": available}
                   for sku, requested, available in lines],
        )


class ReservationNotFound(NotFound):
    slug = "reservation-not-found"
    title = "Reservation not found"

    def __init__(self, reservation_id: str) -> None:
        super().__init__(f"reservation '{reservation_id}' does not exist", reservation=reservation_id)


class ReservationNotActive(Conflict):
    slug = "reservation-not-active"
    title = "Reservation not active"

    def __init__(self, reservation_id: str, status: str) -> None:
        super().__init__(f"reservation '{reservation_id}' is {status}, not active", reservation=reservation_id,
                         status=status)


class AllocationMissing(Conflict):
    """The units an order counts on are not allocated where it says (a bug or a concurrent change)."""

    slug = "allocation-missing"
    title = "Allocated stock missing"
