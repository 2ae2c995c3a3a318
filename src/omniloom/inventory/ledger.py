"""Rules of the stock ledger: which reasons a movement may have and which way each one moves stock.

A movement's ``quantity`` is always the signed change to on-hand: receipts, returns and incoming transfers
are positive, damage and outgoing transfers negative, adjustments and cycle counts either.
"""

from __future__ import annotations

from typing import Literal

MovementReason = Literal["receipt", "adjustment", "damage", "return", "transfer_out", "transfer_in"]
CYCLE_COUNT = "cycle_count"
INCREASING = frozenset({"receipt", "return", "transfer_in"})
DECREASING = frozenset({"damage", "transfer_out"})
MAX_ON_HAND = 2**31 - 1


def sign_problem(reason: str, quantity: int) -> str | None:
    """Why ``quantity`` does not fit ``reason``, or None when it does."""
    if quantity == 0:
        return "must not be zero"
    if reason in INCREASING and quantity < 0:
        return f"must be positive for a {reason} (it is the change to on-hand)"
    if reason in DECREASING and quantity > 0:
        return f"must be negative for {reason} (it is the change to on-hand)"
    return None
