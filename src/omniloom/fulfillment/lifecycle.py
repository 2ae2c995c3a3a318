"""The fulfillment state machines, one per method, as plain transition tables.

``ship`` covers delivery from a warehouse, ship-from-store and endless aisle (ordered at a till, delivered home).
``pickup`` and ``curbside`` hand the order over at a store; ``in_transit`` means stock is on its way from another
location first. Cancelling is possible until the goods have left (``shipped``) or been handed over (``picked_up``).
"""

from __future__ import annotations

from typing import Literal

Method = Literal["ship", "pickup", "curbside"]
METHODS: tuple[Method, ...] = ("ship", "pickup", "curbside")

_SHIP: dict[str, frozenset[str]] = {
    "allocated": frozenset({"picking", "rejected", "cancelled"}),
    "picking": frozenset({"packed", "rejected", "cancelled"}),
    "packed": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"delivered"}),
}
_HAND_OVER: dict[str, frozenset[str]] = {
    "in_transit": frozenset({"allocated", "cancelled"}),
    "allocated": frozenset({"picking", "rejected", "cancelled"}),
    "picking": frozenset({"ready_for_pickup", "rejected", "cancelled"}),
    "ready_for_pickup": frozenset({"picked_up", "expired", "cancelled"}),
}
TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {"ship": _SHIP, "pickup": _HAND_OVER, "curbside": _HAND_OVER}
FINAL = frozenset({"delivered", "picked_up", "cancelled", "expired", "rejected"})
COMPLETED = frozenset({"shipped", "delivered", "picked_up"})
HOLDS_STOCK = frozenset({"in_transit", "allocated", "picking", "packed", "ready_for_pickup"})
CHECK_IN_ALLOWED = frozenset({"in_transit", "allocated", "picking", "ready_for_pickup"})


def allowed(method: str, current: str) -> frozenset[str]:
    """The states a fulfillment of ``method`` may move to from ``current``."""
    return TRANSITIONS[method].get(current, frozenset())


def can_move(method: str, current: str, target: str) -> bool:
    return target in allowed(method, current)
