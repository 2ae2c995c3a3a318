"""What the application does once the server has started it (its lifespan)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.runtime import YOUNG_GENERATION_THRESHOLD


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_freezes_its_objects_and_collects_the_young_generation_less_often(client: TestClient,
                                                                                   restored_gc: None) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0

    with client:  # runs the lifespan, as the server does
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, 20, 20)
