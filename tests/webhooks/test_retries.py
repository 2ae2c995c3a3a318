"""The retry schedule: exponential ceilings with full jitter, capped, and no attempt past the maximum age."""

import random
from datetime import timedelta

from omniloom.webhooks.retries import RetryPolicy, retry_delay
from tests.conftest import START

POLICY = RetryPolicy(base_seconds=10, cap_seconds=6 * 3600, max_age_seconds=3 * 24 * 3600)


class HighestDraw(random.Random):
    """Always draws the top of the range, to see the ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [retry_delay(n, base_seconds=10, cap_seconds=6 * 3600, rng=HighestDraw()) for n in range(1, 14)]

    assert delays == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 20480, 21600]
    assert retry_delay(10_000, base_seconds=10, cap_seconds=60, rng=HighestDraw()) == 60


def test_delays_are_drawn_over_the_whole_range_below_the_ceiling() -> None:
    rng = random.Random(7)
    delays = [retry_delay(4, base_seconds=10, cap_seconds=6 * 3600, rng=rng) for _ in range(2000)]

    assert all(0 <= delay <= 80 for delay in delays)
    assert min(delays) < 2 and max(delays) > 78
    assert 36 < sum(delays) / len(delays) < 44


def test_the_next_attempt_is_after_the_delay_or_none_past_the_maximum_age() -> None:
    rng = HighestDraw()

    assert POLICY.next_attempt(now=START, attempts=1, retrying_since=START, rng=rng) == START + timedelta(seconds=10)
    late = START + timedelta(days=3) - timedelta(hours=6)
    assert POLICY.next_attempt(now=late, attempts=20, retrying_since=START, rng=rng) == START + timedelta(days=3)
    assert POLICY.next_attempt(now=late + timedelta(seconds=1), attempts=20, retrying_since=START, rng=rng) is None
