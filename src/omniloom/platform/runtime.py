"""Process-wide settings for a long-running Omniloom process (the API server, the worker, the CLI's commands)."""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 10_000


def tune_garbage_collection() -> None:
    """Leave what the process has built so far (modules, routes, models, compiled statements: objects that live as
    long as the process) out of the cycle collector's scans, and collect the young generation every 10,000
    allocations instead of 700.

    Omniloom's work allocates many short-lived objects (an event batch, a feed's rows, a reservation's models),
    which reference counting frees anyway; at the default threshold the cycle collector ran so often that it took
    about a fifth of an API process's CPU. Calling this again is harmless."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 20, 20)
