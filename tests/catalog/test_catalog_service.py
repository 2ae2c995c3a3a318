"""Catalog service functions other modules call."""

from __future__ import annotations

import pytest

from omniloom.catalog import service
from omniloom.catalog.errors import ProductNotFound, VariantNotFound
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.factories import make_product


def test_missing_skus_names_only_the_unknown_ones(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        make_product(session, skus=("A-1", "A-2"), clock=clock)
        known = [f"BULK-{n:04d}" for n in range(600)]
        make_product(session, skus=known[:300], clock=clock)
        make_product(session, skus=known[300:], clock=clock)

    with database.read() as session:
        assert service.missing_skus(session, ["A-1", "a-1", "A-3", "A-1"]) == {"a-1", "A-3"}
        assert service.missing_skus(session, [*known, "BULK-9999"]) == {"BULK-9999"}
        assert service.missing_skus(session, []) == set()


def test_get_variant_and_product_raise_not_found(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        product = make_product(session, skus=("A-1",), clock=clock)

    with database.read() as session:
        variant = service.get_variant(session, "A-1")
        assert (variant.product_id, variant.sku) == (product.id, "A-1")
        assert [v.sku for v in service.get_product(session, product.id).variants] == ["A-1"]
        with pytest.raises(VariantNotFound) as missing_variant:
            service.get_variant(session, "A-2")
        with pytest.raises(ProductNotFound) as missing_product:
            service.get_product(session, "prod_nope")
    assert (missing_variant.value.status, missing_variant.value.slug) == (404, "sku-not-found")
    assert (missing_product.value.status, missing_product.value.slug) == (404, "product-not-found")
