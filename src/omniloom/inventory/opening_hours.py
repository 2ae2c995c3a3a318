"""Opening hours: per weekday, a list of ``[open, close]`` times (``HH:MM``, 24-hour clock, local time)."""

from __future__ import annotations

import re
from collections.abc import Sequence

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_PATTERN = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"
_TIME = re.compile(TIME_PATTERN)


def check_intervals(intervals: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return the intervals if each opens before it closes and they are in order without overlap."""
    previous_close = ""
    for index, (opens, closes) in enumerate(intervals):
        if not (_TIME.match(opens) and _TIME.match(closes)):
            raise ValueError(f"[{index}]: times must be HH:MM")
        if opens >= closes:
            raise ValueError(f"[{index}]: opens at {opens} but closes at {closes}; it must open before it closes")
        if opens < previous_close:
            raise ValueError(f"[{index}]: starts at {opens}, before the previous interval closes at {previous_close}")
        previous_close = closes
    return list(intervals)
