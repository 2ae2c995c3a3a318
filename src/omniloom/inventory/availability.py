"""Available-to-promise arithmetic and reservation planning: pure functions without I/O.

A location's available stock is ``on_hand - reserved - allocated``, where holds of reservations that are past
their expiry are no longer counted as reserved. A channel sees each of its locations minus its safety stock,
never below zero, and at most ``max_exposed`` units in total when it has a cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def location_available(*, on_hand: int, reserved: int, allocated: int, expired_holds: int = 0) -> int:
    """Units free to promise at one location; ``expired_holds`` are reserved units whose hold has lapsed."""
    return max(0, on_hand - (reserved - expired_holds) - allocated)


def channel_contribution(available: int, safety_stock: int) -> int:
    """What one location adds to a channel after keeping its safety stock back."""
    return max(0, available - safety_stock)


def channel_total(contributions: Iterable[int], max_exposed: int | None) -> int:
    """A channel's total, capped at ``max_exposed`` when the channel has a cap."""
    total = sum(contributions)
    return total if max_exposed is None else min(total, max_exposed)


@dataclass(frozen=True)
class ChannelPolicy:
    """What a channel may sell: from which locations (in preference order), keeping what back, up to what cap."""

    code: str
    location_codes: tuple[str, ...]
    safety_stock: int
    max_exposed: int | None
    active: bool


@dataclass(frozen=True)
class Demand:
    """Units of one SKU wanted, from one location or (``location=None``) from any of the channel's."""

    sku: str
    quantity: int
    location: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A stock level a channel may reserve from; ``free`` already has the safety stock taken off."""

    level_id: int
    sku: str
    location: str
    free: int


@dataclass(frozen=True)
class Allocation:
    level_id: int
    sku: str
    location: str
    quantity: int


@dataclass(frozen=True)
class Shortage:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class Plan:
    allocations: tuple[Allocation, ...]
    shortages: tuple[Shortage, ...]

    @property
    def complete(self) -> bool:
        return not self.shortages


def merge_demands(demands: Iterable[Demand]) -> list[Demand]:
    """One demand per (SKU, location), in order of first appearance."""
    merged: dict[tuple[str, str | None], int] = {}
    for demand in demands:
        key = (demand.sku, demand.location)
        merged[key] = merged.get(key, 0) + demand.quantity
    return [Demand(sku, quantity, location) for (sku, location), quantity in merged.items()]


def plan_reservation(demands: Sequence[Demand], candidates: Iterable[Candidate], *,
                     location_order: Sequence[str], max_exposed: int | None) -> Plan:
    """Cover each demand from its location, or from the channel's locations in preference order.

    Demands pinned to a location are served first so that flexible ones never take their units. A demand that
    cannot be covered in full takes nothing and is reported with what was available to it.
    """
    free = {(c.sku, c.location): c for c in candidates}
    remaining = {key: max(0, candidate.free) for key, candidate in free.items()}
    allowance: dict[str, int | None] = {}
    taken: dict[int, int] = {}
    short: dict[int, Shortage] = {}
    ordered = sorted(range(len(demands)), key=lambda index: demands[index].location is None)
    for index in ordered:
        demand = demands[index]
        pool = [demand.location] if demand.location is not None else list(location_order)
        cap = allowance.setdefault(demand.sku, max_exposed)
        available = sum(remaining.get((demand.sku, location), 0) for location in pool)
        if cap is not None:
            available = min(available, cap)
        if available < demand.quantity:
            short[index] = Shortage(demand.sku, demand.quantity, available)
            continue
        if cap is not None:
            allowance[demand.sku] = cap - demand.quantity
        _take(demand, pool, remaining, free, taken)
    by_level = {candidate.level_id: candidate for candidate in free.values()}
    allocations = tuple(
        Allocation(level_id, by_level[level_id].sku, by_level[level_id].location, quantity)
        for level_id, quantity in taken.items()
    )
    return Plan(allocations, tuple(short[index] for index in sorted(short)))


def _take(demand: Demand, pool: Sequence[str], remaining: dict[tuple[str, str], int],
          free: dict[tuple[str, str], Candidate], taken: dict[int, int]) -> None:
    needed = demand.quantity
    for location in pool:
        key = (demand.sku, location)
        quantity = min(needed, remaining.get(key, 0))
        if quantity == 0:
            continue
        remaining[key] -= quantity
        level_id = free[key].level_id
        taken[level_id] = taken.get(level_id, 0) + quantity
        needed -= quantity
        if needed == 0:
            return

