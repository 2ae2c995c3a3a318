"""Which event types a subscription wants: exact names (``order.created``), prefixes (``order.*``) or ``*``."""

from __future__ import annotations

from collections.abc import Iterable

EVENT_PATTERN = r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$"


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """Whether ``event_type`` is named by one of ``patterns``; ``order.*`` covers every type under ``order.``."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
