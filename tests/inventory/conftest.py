"""A small retailer for the inventory tests: three locations, a catalog and two channels."""

from __future__ import annotations

import pytest

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.factories import make_channel, make_product
from tests.inventory.helpers import make_location

SKUS = ("TEE-M", "TEE-L", "MUG")


@pytest.fixture
def world(database: Database, clock: FrozenClock) -> Database:
    """Locations AMS-01 (store, every capability), UTR-02 (store: ship, pickup), WH-1 (warehouse: ship);
    SKUs TEE-M, TEE-L, MUG; channel ``web`` selling from WH-1 then AMS-01, channel ``market`` from WH-1 with
    safety stock 2 and a cap of 5, channel ``app`` from every location."""
    with database.write() as session:
        make_location(session, code="AMS-01", clock=clock,
                      capabilities=("ship", "pickup", "curbside", "returns", "pos"))
        make_location(session, code="UTR-02", clock=clock, capabilities=("ship", "pickup"))
        make_location(session, code="WH-1", clock=clock, capabilities=("ship",), type="warehouse")
        make_product(session, skus=SKUS, clock=clock)
        make_channel(session, code="web", location_codes=["WH-1", "AMS-01"], clock=clock)
        make_channel(session, code="market", type="marketplace", location_codes=["WH-1"], safety_stock=2,
                     max_exposed=5, clock=clock)
        make_channel(session, code="app", type="app", location_codes=["AMS-01", "UTR-02", "WH-1"], clock=clock)
    return database
