"""Carts that follow the customer across channels: the web shop, the app and the till see the same one.

A customer has at most one active cart (a partial unique index keeps it so even under concurrent requests). An
anonymous cart that is given a customer who already has one is merged into it: quantities add up, no line twice.
Prices always come from the price list of the channel that touched the cart last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniloom.catalog import service as catalog
from omniloom.channels import service as channels
from omniloom.channels.errors import ChannelNotFound
from omniloom.customers import service as customers
from omniloom.customers.errors import CustomerNotFound
from omniloom.inventory import service as inventory
from omniloom.inventory.availability import ChannelPolicy
from omniloom.inventory.errors import LocationNotFound, SkuNotFound
from omniloom.orders.errors import CartNotActive, CartNotFound
from omniloom.orders.models import Cart, CartLine
from omniloom.orders.schemas import MAX_QUANTITY, CartFulfillmentIn, CartLineOut, CartOut
from omniloom.platform.clock import Clock
from omniloom.platform.errors import InvalidInput
from omniloom.platform.ids import new_id
from omniloom.platform.money import Money
from omniloom.pricing import service as pricing

_CARTS = cast(Table, Cart.__table__)
_CART_LINES = cast(Table, CartLine.__table__)


def check_channel(session: Session, code: str, *, field: str = "channel") -> str:
    """The channel's price list code; a 422 naming ``field`` when the channel is unknown."""
    return channel_terms(session, code, field=field)[0]


def channel_terms(session: Session, code: str, *, field: str = "channel") -> tuple[str, ChannelPolicy]:
    """The channel's price list code and inventory policy (one read); a 422 naming ``field`` when it is unknown."""
    try:
        channel = channels.get_channel(session, code)
    except ChannelNotFound:
        raise InvalidInput.field(field, f"channel '{code}' does not exist") from None
    return channel.price_list, ChannelPolicy(code=channel.code, location_codes=tuple(channel.location_codes),
                                             safety_stock=channel.safety_stock, max_exposed=channel.max_exposed,
                                             active=channel.active)


def surviving_customer(session: Session, customer_id: str, *, field: str = "customer_id") -> str:
    """The surviving profile id for ``customer_id`` (422 naming ``field`` when unknown)."""
    try:
        return customers.resolve_profile(session, customer_id).id
    except CustomerNotFound:
        raise InvalidInput.field(field, f"customer '{customer_id}' does not exist") from None


def active_cart_of(session: Session, customer_id: str) -> Cart | None:
    return session.scalars(select(Cart).where(Cart.customer_id == customer_id, Cart.status == "active")).first()


def open_cart(session: Session, *, channel: str, customer_id: str | None, clock: Clock) -> tuple[Cart, bool]:
    """The customer's active cart (touched by ``channel``), or a new one; True when it was created."""
    check_channel(session, channel)
    customer = surviving_customer(session, customer_id) if customer_id else None
    now = clock.now()
    if customer is not None:
        existing = active_cart_of(session, customer)
        if existing is not None:
            touch(existing, channel=channel, now=now)
            return existing, False
    cart = Cart(id=new_id("crt"), channel=channel, customer_id=customer, status="active", merged_into=None,
                fulfillment={}, created_at=now, updated_at=now)
    if customer is None:  # only a customer's cart can collide with another (one active cart each)
        session.add(cart)
        return cart, True
    try:
        with session.begin_nested():
            session.add(cart)
    except IntegrityError:  # another request opened this customer's cart a moment ago
        assert customer is not None
        existing = active_cart_of(session, customer)
        assert existing is not None
        touch(existing, channel=channel, now=now)
        return existing, False
    return cart, True


def get_cart(session: Session, cart_id: str, *, for_update: bool = False) -> Cart:
    statement = select(Cart).where(Cart.id == cart_id)
    cart = session.scalars(statement.with_for_update() if for_update else statement).first()
    if cart is None:
        raise CartNotFound(f"cart '{cart_id}' does not exist")
    return cart


def active(session: Session, cart_id: str) -> Cart:
    """The cart, locked for change; a 409 when it was merged or ordered."""
    cart = get_cart(session, cart_id, for_update=True)
    if cart.status != "active":
        hint = f" into cart '{cart.merged_into}'" if cart.merged_into else ""
        raise CartNotActive(f"cart '{cart.id}' is {cart.status}{hint}", status_now=cart.status,
                            merged_into=cart.merged_into)
    return cart


@dataclass(frozen=True)
class Ordering:
    """What checkout needs of a cart it has locked: its customer and its lines as (SKU, quantity)."""

    cart_id: str
    customer_id: str | None
    lines: list[tuple[str, int]]


def lock_for_checkout(session: Session, cart_id: str) -> Ordering:
    """The cart's customer and lines, the cart locked for change (one query); a 409 when it was merged or ordered."""
    rows = session.execute(
        select(_CARTS.c.id, _CARTS.c.status, _CARTS.c.merged_into, _CARTS.c.customer_id, _CART_LINES.c.sku,
               _CART_LINES.c.quantity)
        .outerjoin(_CART_LINES, _CART_LINES.c.cart_id == _CARTS.c.id)
        .where(_CARTS.c.id == cart_id)
        .order_by(_CART_LINES.c.added_at, _CART_LINES.c.sku)
        .with_for_update(of=_CARTS)).all()
    if not rows:
        raise CartNotFound(f"cart '{cart_id}' does not exist")
    cart = rows[0]
    if cart.status != "active":
        hint = f" into cart '{cart.merged_into}'" if cart.merged_into else ""
        raise CartNotActive(f"cart '{cart.id}' is {cart.status}{hint}", status_now=cart.status,
                            merged_into=cart.merged_into)
    return Ordering(cart.id, cart.customer_id, [(row.sku, row.quantity) for row in rows if row.sku is not None])


def touch(cart: Cart, *, channel: str, now: datetime) -> None:
    cart.channel = channel
    cart.updated_at = now


def lines(session: Session, cart_id: str) -> list[CartLine]:
    return list(session.scalars(select(CartLine).where(CartLine.cart_id == cart_id).order_by(CartLine.added_at,
                                                                                             CartLine.sku)))


def add_line(session: Session, *, cart: Cart, sku: str, quantity: int, channel: str, clock: Clock) -> None:
    """Add ``quantity`` of ``sku`` (to the line already there, if any)."""
    if catalog.missing_skus(session, [sku]):
        raise InvalidInput.field("sku", f"SKU '{sku}' does not exist")
    now = clock.now()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    new_line = dialect.insert(_CART_LINES).values(cart_id=cart.id, sku=sku, quantity=quantity, added_on=channel,
                                                  added_at=now, updated_at=now)
    added = new_line.excluded.quantity
    upsert = new_line.on_conflict_do_update(
        index_elements=[_CART_LINES.c.cart_id, _CART_LINES.c.sku],
        set_={"quantity": _CART_LINES.c.quantity + added, "updated_at": now},
        where=_CART_LINES.c.quantity + added <= MAX_QUANTITY)
    if session.execute(upsert.returning(_CART_LINES.c.quantity)).first() is None:  # the line is there and full
        raise InvalidInput.field("quantity", f"the line would hold more than {MAX_QUANTITY}")
    touch(cart, channel=channel, now=now)


def set_line(session: Session, *, cart: Cart, sku: str, quantity: int, channel: str, clock: Clock) -> None:
    line = session.get(CartLine, (cart.id, sku))
    if line is None:
        raise CartNotFound(f"cart '{cart.id}' has no line for SKU '{sku}'")
    line.quantity = quantity
    line.updated_at = clock.now()
    touch(cart, channel=channel, now=clock.now())


def remove_line(session: Session, *, cart: Cart, sku: str, channel: str, clock: Clock) -> None:
    removed = session.execute(delete(CartLine).where(CartLine.cart_id == cart.id, CartLine.sku == sku))
    if not cast(CursorResult[Any], removed).rowcount:
        raise CartNotFound(f"cart '{cart.id}' has no line for SKU '{sku}'")
    touch(cart, channel=channel, now=clock.now())


def set_fulfillment(session: Session, *, cart: Cart, choice: CartFulfillmentIn, clock: Clock) -> None:
    if choice.method != "ship":
        if choice.location is None:
            raise InvalidInput.field("location", f"{choice.method} needs the store's location code")
        try:
            store = inventory.get_location(session, choice.location)
        except LocationNotFound:
            raise InvalidInput.field("location", f"location '{choice.location}' does not exist") from None
        if choice.method not in store.capabilities:
            raise InvalidInput.field("location", f"location '{store.code}' does not offer {choice.method}")
    cart.fulfillment = choice.model_dump(exclude_none=True)
    cart.updated_at = clock.now()


def assign_customer(session: Session, *, cart: Cart, customer_id: str, channel: str, clock: Clock) -> Cart:
    """Give an anonymous cart its customer; merged into the customer's own active cart when there is one."""
    customer = surviving_customer(session, customer_id)
    now = clock.now()
    if cart.customer_id == customer:
        touch(cart, channel=channel, now=now)
        return cart
    if cart.customer_id is not None:
        raise CartNotActive(f"cart '{cart.id}' already belongs to another customer")
    target = active_cart_of(session, customer)
    if target is None:
        cart.customer_id = customer
        touch(cart, channel=channel, now=now)
        session.flush()
        return cart
    for line in lines(session, cart.id):
        add_line(session, cart=target, sku=line.sku, quantity=line.quantity, channel=line.added_on, clock=clock)
    session.execute(delete(CartLine).where(CartLine.cart_id == cart.id))
    session.execute(update(Cart).where(Cart.id == cart.id).values(status="merged", merged_into=target.id,
                                                                  updated_at=now))
    touch(target, channel=channel, now=now)
    session.flush()
    return target


def view(session: Session, cart: Cart, *, clock: Clock) -> CartOut:
    """The cart priced on its channel's list, each line with live availability for its fulfillment method."""
    price_list, policy = channel_terms(session, cart.channel)
    choice = CartFulfillmentIn.model_validate(cart.fulfillment) if cart.fulfillment else None
    out, subtotal = [], 0
    held = session.execute(select(_CART_LINES.c.sku, _CART_LINES.c.quantity, _CART_LINES.c.added_on)
                           .where(_CART_LINES.c.cart_id == cart.id)
                           .order_by(_CART_LINES.c.added_at, _CART_LINES.c.sku)).all()
    currency, amounts = pricing.currency_and_prices(session, price_list_code=price_list,
                                                    skus=[line.sku for line in held])
    for line in held:
        amount = amounts.get(line.sku)
        price = Money(amount=amount, currency=currency) if amount is not None else None
        available = line_availability(session, sku=line.sku, channel=cart.channel, choice=choice, clock=clock,
                                      policy=policy)
        total = Money(amount=price.amount * line.quantity, currency=price.currency) if price else None
        subtotal += total.amount if total else 0
        out.append(CartLineOut(sku=line.sku, quantity=line.quantity, unit_price=price, line_total=total,
                               available=available, in_stock=available >= line.quantity, added_on=line.added_on))
    return CartOut(id=cart.id, channel=cart.channel, customer_id=cart.customer_id, status=cart.status,
                   merged_into=cart.merged_into, fulfillment=choice, lines=out,
                   subtotal=Money(amount=subtotal, currency=currency), created_at=cart.created_at,
                   updated_at=cart.updated_at)


def line_availability(session: Session, *, sku: str, channel: str, choice: CartFulfillmentIn | None,
                      clock: Clock, policy: ChannelPolicy | None = None) -> int:
    """Units the channel can promise: everywhere it sells from, or at the chosen store for pickup and curbside."""
    try:
        availability = inventory.channel_availability(session, sku=sku, channel=channel, clock=clock, policy=policy)
    except SkuNotFound:
        return 0
    if choice is None or choice.method == "ship":
        return availability.available
    here = [share for share in availability.locations if share.location == choice.location]
    return here[0].available if here else 0
