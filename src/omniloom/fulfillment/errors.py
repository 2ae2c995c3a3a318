"""Errors of the fulfillment module, named after the state they report."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, NotFound


class FulfillmentNotFound(NotFound):
    slug = "fulfillment-not-found"
    title = "Fulfillment not found"


class TransitionNotAllowed(Conflict):
    slug = "transition-not-allowed"
    title = "Transition not allowed"


class NoRoute(Conflict):
    """No location the channel sells from can cover the lines."""

    slug = "insufficient-stock"
    title = "Insufficient stock"
