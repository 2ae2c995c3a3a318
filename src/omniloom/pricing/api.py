"""HTTP endpoints of price lists and prices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from omniloom.platform.auth import Principal
from omniloom.platform.errors import InvalidInput
from omniloom.platform.http import (
    DEFAULT_PAGE_LIMIT,
    AdminDep,
    ClockDep,
    CursorQuery,
    DatabaseDep,
    LimitQuery,
    roles,
)
from omniloom.platform.pagination import Page
from omniloom.pricing import service
from omniloom.pricing.schemas import PriceListCreate, PriceListOut, PriceOut, PriceSet

router = APIRouter(tags=["pricing"])


ReaderDep = Annotated[Principal, roles("admin", "channel", action="read price lists")]


@router.post("/price-lists", status_code=status.HTTP_201_CREATED, response_model=PriceListOut)
def create_price_list(body: PriceListCreate, _: AdminDep, db: DatabaseDep, clock: ClockDep) -> PriceListOut:
    """Create a price list in one currency."""
    with db.write() as session:
        return PriceListOut.model_validate(service.create_price_list(session, body, clock=clock))


@router.get("/price-lists", response_model=Page[PriceListOut])
def list_price_lists(_: ReaderDep, db: DatabaseDep, limit: LimitQuery = DEFAULT_PAGE_LIMIT,
                     cursor: CursorQuery = None) -> Page[PriceListOut]:
    """Price lists ordered by code."""
    with db.read() as session:
        lists, next_cursor = service.list_price_lists(session, limit=limit, cursor=cursor)
        return Page(items=[PriceListOut.model_validate(item) for item in lists], next_cursor=next_cursor)


@router.get("/price-lists/{code}", response_model=PriceListOut)
def get_price_list(code: str, _: ReaderDep, db: DatabaseDep) -> PriceListOut:
    """One price list."""
    with db.read() as session:
        return PriceListOut.model_validate(service.get_price_list(session, code))


@router.put("/price-lists/{code}/prices/{sku:path}", response_model=PriceOut)
def set_price(code: str, sku: str, body: PriceSet, _: AdminDep, db: DatabaseDep, clock: ClockDep) -> PriceOut:
    """Set the price of a SKU on a price list (amount in minor units of the list's currency)."""
    with db.write() as session:
        price_list = service.get_price_list(session, code)
        if body.currency is not None and body.currency != price_list.currency:
            raise InvalidInput.field("currency", f"wrong currency: price list '{code}' is in {price_list.currency}, "
                                                 f"not {body.currency}")
        return service.set_price(session, price_list_code=code, sku=sku, amount=body.amount,
                                 compare_at_amount=body.compare_at_amount, clock=clock)


@router.get("/price-lists/{code}/prices", response_model=Page[PriceOut])
def list_prices(code: str, _: ReaderDep, db: DatabaseDep, limit: LimitQuery = DEFAULT_PAGE_LIMIT,
                cursor: CursorQuery = None) -> Page[PriceOut]:
    """The prices on a list ordered by SKU."""
    with db.read() as session:
        prices, next_cursor = service.list_prices(session, price_list_code=code, limit=limit, cursor=cursor)
        return Page(items=prices, next_cursor=next_cursor)
