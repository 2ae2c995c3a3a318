"""Errors of the customer module, named after the state they report."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, NotFound


class CustomerNotFound(NotFound):
    slug = "customer-not-found"
    title = "Customer not found"


class CustomerErased(Conflict):
    slug = "customer-erased"
    title = "Customer erased"


class NotEnoughPoints(Conflict):
    slug = "not-enough-points"
    title = "Not enough loyalty points"


class MergeNotUndoable(Conflict):
    slug = "merge-not-undoable"
    title = "Merge cannot be undone"
