"""Price lists and prices: what each SKU costs on each list, in integer minor units."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Subquery, and_, exists, select, true, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from omniloom.catalog.errors import VariantNotFound
from omniloom.catalog.schemas import VariantCreate
from omniloom.catalog.service import missing_skus
from omniloom.platform.clock import Clock
from omniloom.platform.errors import InvalidInput
from omniloom.platform.ids import new_id
from omniloom.platform.money import Money, check_currency
from omniloom.platform.outbox import record
from omniloom.platform.pagination import paginate
from omniloom.pricing.errors import PriceListCodeTaken, PriceListNotFound
from omniloom.pricing.events import PriceChanged, PriceListCreated
from omniloom.pricing.models import Price, PriceList
from omniloom.pricing.schemas import DEFAULT_CODE_PREFIX, PriceListCreate, PriceOut

LOOKUP_CHUNK = 500


def create_price_list(session: Session, data: PriceListCreate, *, clock: Clock) -> PriceList:
    """Create a price list; the ``DEFAULT-`` codes are reserved for the per-currency default lists."""
    if data.code.upper().startswith(DEFAULT_CODE_PREFIX):
        raise InvalidInput.field("code", f"codes starting with '{DEFAULT_CODE_PREFIX}' are reserved for the "
                                         "default price list of each currency")
    if session.scalar(select(PriceList.id).where(PriceList.code == data.code)) is not None:
        raise PriceListCodeTaken(data.code)
    return _add_price_list(session, code=data.code, name=data.name or data.code, currency=data.currency,
                           is_default=False, clock=clock)


def get_price_list(session: Session, code: str) -> PriceList:
    """The price list with this code; raises PriceListNotFound."""
    price_list = session.scalars(select(PriceList).where(PriceList.code == code)).one_or_none()
    if price_list is None:
        raise PriceListNotFound(code)
    return price_list


def list_price_lists(session: Session, *, limit: int, cursor: str | None = None
                     ) -> tuple[Sequence[PriceList], str | None]:
    """Price lists ordered by code, one page after ``cursor``."""
    return paginate(session, select(PriceList), key=PriceList.code, limit=limit, cursor=cursor)


def default_price_list(session: Session, *, currency: str, clock: Clock) -> PriceList:
    """The default price list of ``currency``, created as ``DEFAULT-<CUR>`` on first use."""
    check_currency(currency)
    found = _find_default(session, currency)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            return _add_price_list(session, code=DEFAULT_CODE_PREFIX + currency, name=f"Default {currency}",
                                   currency=currency, is_default=True, clock=clock)
    except IntegrityError:
        found = _find_default(session, currency)  # a concurrent request created it first
        if found is None:
            raise
        return found


def set_price(session: Session, *, price_list_code: str, sku: str, amount: int, compare_at_amount: int | None,
              clock: Clock) -> PriceOut:
    """Set the price of ``sku`` on a list; records ``price.changed`` when the price differs from before."""
    _check_amounts(amount, compare_at_amount)
    price_list = get_price_list(session, price_list_code)
    if missing_skus(session, [sku]):
        raise VariantNotFound(sku)
    price, created = _price_row(session, price_list_id=price_list.id, sku=sku, amount=amount, clock=clock)
    if created or (price.amount, price.compare_at_amount) != (amount, compare_at_amount):
        price.amount, price.compare_at_amount, price.updated_at = amount, compare_at_amount, clock.now()
        session.flush()
        record(session, PriceChanged(price_list=price_list.code, sku=sku, amount=amount,
                                     currency=price_list.currency, compare_at_amount=compare_at_amount), clock=clock)
    return _price_out(price_list, price)


def set_default_prices(session: Session, variants: Iterable[VariantCreate], *, clock: Clock) -> list[PriceOut]:
    """Put each new variant's ``price`` (and compare-at amount) on the default price list of its currency."""
    prices = []
    for variant in variants:
        price_list = default_price_list(session, currency=variant.price.currency, clock=clock)
        prices.append(set_price(session, price_list_code=price_list.code, sku=variant.sku,
                                amount=variant.price.amount, compare_at_amount=variant.compare_at_amount, clock=clock))
    return prices


def list_prices(session: Session, *, price_list_code: str, limit: int, cursor: str | None = None
                ) -> tuple[list[PriceOut], str | None]:
    """The prices on a list ordered by SKU, one page after ``cursor``."""
    price_list = get_price_list(session, price_list_code)
    statement = select(Price).where(Price.price_list_id == price_list.id).execution_options(populate_existing=True)
    rows, next_cursor = paginate(session, statement, key=Price.sku, limit=limit, cursor=cursor)
    return [_price_out(price_list, price) for price in rows], next_cursor


def prices_for_skus(session: Session, skus: Iterable[str]) -> dict[str, list[PriceOut]]:
    """Every price of each SKU: default lists first, then by price list code (SKUs without prices are absent)."""
    result: dict[str, list[PriceOut]] = {}
    ordered = sorted(set(skus))
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        statement = (
            select(PriceList, Price).join(Price, Price.price_list_id == PriceList.id)
            .where(Price.sku.in_(ordered[start:start + LOOKUP_CHUNK]))
            .order_by(Price.sku, PriceList.is_default.desc(), PriceList.code)
            .execution_options(populate_existing=True)
        )
        for price_list, price in session.execute(statement):
            result.setdefault(price.sku, []).append(_price_out(price_list, price))
    return result


def prices_on_list(session: Session, *, price_list_code: str, skus: Iterable[str]) -> dict[str, Money]:
    """What ``skus`` sell for on a list: its own price, else the default list of its currency (a channel's list
    holds its overrides); SKUs priced on neither are absent."""
    wanted = sorted(set(skus))
    price_list = get_price_list(session, price_list_code)
    found = _amounts(session, price_list.id, wanted)
    missing = [sku for sku in wanted if sku not in found]
    default = _find_default(session, price_list.currency) if missing else None
    if default is not None and default.id != price_list.id:
        found.update(_amounts(session, default.id, missing))
    return {sku: Money(amount=amount, currency=price_list.currency) for sku, amount in found.items()}


def currency_and_prices(session: Session, *, price_list_code: str, skus: Iterable[str]) -> tuple[str, dict[str, int]]:
    """A list's currency and the amounts ``prices_on_list`` gives, in one query when the list prices every SKU;
    raises PriceListNotFound."""
    wanted = sorted(set(skus))
    rows = session.execute(
        select(PriceList.id, PriceList.currency, Price.sku, Price.amount)
        .outerjoin(Price, and_(Price.price_list_id == PriceList.id, Price.sku.in_(wanted)))
        .where(PriceList.code == price_list_code)).all()
    if not rows:
        raise PriceListNotFound(price_list_code)
    price_list_id, currency = rows[0].id, rows[0].currency
    found = {row.sku: row.amount for row in rows if row.sku is not None}
    missing = [sku for sku in wanted if sku not in found]
    default = _find_default(session, currency) if missing else None
    if default is not None and default.id != price_list_id:
        found.update(_amounts(session, default.id, missing))
    return currency, found


def _amounts(session: Session, price_list_id: str, skus: Sequence[str]) -> dict[str, int]:
    rows = session.execute(select(Price.sku, Price.amount).where(Price.price_list_id == price_list_id,
                                                                 Price.sku.in_(skus)))
    return {row.sku: row.amount for row in rows}


def feed_prices(session: Session, *, price_list_code: str, skus: Sequence[str] | None = None
                ) -> tuple[str, Subquery]:
    """The currency of a list and a subquery of ``(sku, amount, compare_at_amount)``: the list's own prices, and
    its currency's default list for the SKUs it does not price (only of ``skus``, if given); raises
    PriceListNotFound."""
    price_list = get_price_list(session, price_list_code)
    wanted = Price.sku.in_(skus) if skus is not None else true()
    own = (select(Price.sku, Price.amount, Price.compare_at_amount)
           .where(Price.price_list_id == price_list.id, wanted))
    default = _find_default(session, price_list.currency)
    if default is None or default.id == price_list.id:
        return price_list.currency, own.subquery("feed_prices")
    own_price = aliased(Price)
    overridden = exists().where(own_price.price_list_id == price_list.id, own_price.sku == Price.sku)
    fallback = (select(Price.sku, Price.amount, Price.compare_at_amount)
                .where(Price.price_list_id == default.id, wanted, ~overridden))
    return price_list.currency, union_all(own, fallback).subquery("feed_prices")


def price_for(session: Session, *, price_list_code: str, sku: str) -> Money | None:
    """The price ``sku`` sells for on a list (falling back to its currency's default list), or None."""
    return prices_on_list(session, price_list_code=price_list_code, skus=[sku]).get(sku)


def _add_price_list(session: Session, *, code: str, name: str, currency: str, is_default: bool,
                    clock: Clock) -> PriceList:
    price_list = PriceList(id=new_id("prl"), code=code, name=name, currency=currency, is_default=is_default,
                           created_at=clock.now())
    session.add(price_list)
    try:
        session.flush()
    except IntegrityError:
        if is_default:
            raise
        raise PriceListCodeTaken(code) from None
    record(session, PriceListCreated(code=code, currency=currency, is_default=is_default), clock=clock)
    return price_list


def _find_default(session: Session, currency: str) -> PriceList | None:
    return session.scalars(
        select(PriceList).where(PriceList.currency == currency, PriceList.is_default.is_(True))
        .order_by(PriceList.created_at, PriceList.code).limit(1)
    ).first()


def _check_amounts(amount: int, compare_at_amount: int | None) -> None:
    if amount < 0:
        raise InvalidInput.field("amount", "must not be negative")
    if compare_at_amount is not None and compare_at_amount <= amount:
        raise InvalidInput.field("compare_at_amount", f"must be greater than amount ({amount})")


def _price_row(session: Session, *, price_list_id: str, sku: str, amount: int, clock: Clock
               ) -> tuple[Price, bool]:
    """The price row, locked; inserted when missing. Returns it and whether it was inserted."""
    price = _locked_price(session, price_list_id, sku)
    if price is not None:
        return price, False
    try:
        with session.begin_nested():
            price = Price(price_list_id=price_list_id, sku=sku, amount=amount, updated_at=clock.now())
            session.add(price)
        return price, True
    except IntegrityError:
        price = _locked_price(session, price_list_id, sku)  # inserted by a concurrent request
        if price is None:
            raise
        return price, False


def _locked_price(session: Session, price_list_id: str, sku: str) -> Price | None:
    return session.scalars(
        select(Price).where(Price.price_list_id == price_list_id, Price.sku == sku)
        .with_for_update().execution_options(populate_existing=True)
    ).one_or_none()


def _price_out(price_list: PriceList, price: Price) -> PriceOut:
    return PriceOut(price_list=price_list.code, sku=price.sku, amount=price.amount, currency=price_list.currency,
                    compare_at_amount=price.compare_at_amount, default_list=price_list.is_default)

