"""When a failed delivery is tried again: exponential backoff with full jitter, up to a maximum age."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


def retry_delay(attempts: int, *, base_seconds: float, cap_seconds: float, rng: random.Random) -> float:
    """Seconds to wait after the ``attempts``-th failure: uniform in [0, min(cap, base * 2^(attempts-1))]."""
    ceiling = min(cap_seconds, base_seconds * 2.0 ** min(max(attempts - 1, 0), 62))
    return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff ceiling ``base * 2^(n-1)`` capped at ``cap``; no attempt later than ``max_age`` after the first."""

    base_seconds: float
    cap_seconds: float
    max_age_seconds: float

    def next_attempt(self, *, now: datetime, attempts: int, retrying_since: datetime,
                     rng: random.Random) -> datetime | None:
        """When to try again after the ``attempts``-th failure, or None when that is past the maximum age."""
        delay = retry_delay(attempts, base_seconds=self.base_seconds, cap_seconds=self.cap_seconds, rng=rng)
        due = now + timedelta(seconds=delay)
        return None if due > retrying_since + timedelta(seconds=self.max_age_seconds) else due
