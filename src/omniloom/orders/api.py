"""HTTP endpoints of the orders module: carts that follow the customer, checkout, orders from every channel.

Who may do what: admin everything; a ``channel:`` key acts as its channel (its carts' prices, its checkouts, its
imported orders); a ``store:`` key serves customers in its store (carts, POS sales on a POS channel) and sees orders
it fulfils; a ``customer:`` key only its own cart and orders.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from omniloom.channels import service as channels
from omniloom.customers import service as customers
from omniloom.fulfillment import service as fulfillment
from omniloom.orders import carts, checkout, returns, schemas, service
from omniloom.orders.errors import CartNotFound, OrderNotFound
from omniloom.orders.models import Cart, Order
from omniloom.platform.auth import Principal
from omniloom.platform.errors import Forbidden
from omniloom.platform.http import (
    DEFAULT_PAGE_LIMIT,
    PROBLEM_JSON,
    ClockDep,
    CursorQuery,
    DatabaseDep,
    LimitQuery,
    PrincipalDep,
    SettingsDep,
)
from omniloom.platform.idempotency import Outcome, run_once
from omniloom.platform.pagination import Page

router = APIRouter(tags=["orders"])
CartId = Annotated[str, Path(max_length=40)]
OrderId = Annotated[str, Path(max_length=40)]
SkuPath = Annotated[str, Path(max_length=64)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="Retry-safe key (≤ 255 chars).")]


def own_profile(session: Session, principal: Principal) -> str | None:
    """For a customer key: the surviving profile it stands for."""
    if principal.kind != "customer":
        return None
    return customers.resolve_profile(session, principal.subject or "").id


def _acting_channel(principal: Principal, channel: str) -> None:
    if principal.kind == "channel":
        principal.require_channel(channel)


def _cart_for(session: Session, principal: Principal, cart: Cart) -> Cart:
    """The cart, if this key may touch it (a customer key only its own; 404 hides other carts)."""
    if principal.kind == "customer" and cart.customer_id != own_profile(session, principal):
        raise CartNotFound(f"cart '{cart.id}' does not exist")
    return cart


def _check_order_access(session: Session, principal: Principal, order: Order) -> Order:
    """The order, if this key may see it; others get the same 404 as a missing order."""
    allowed = (principal.is_admin
               or (principal.kind == "channel" and principal.subject == order.channel)
               or (principal.kind == "customer" and order.customer_id is not None
                   and order.customer_id == own_profile(session, principal))
               or (principal.kind == "store" and any(row.location == principal.subject
                                                     for row in fulfillment.for_order(session, order.id))))
    if not allowed:
        raise OrderNotFound(f"order '{order.id}' does not exist")
    return order


def _respond(outcome: Outcome) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    media_type = PROBLEM_JSON if outcome.status_code >= 400 else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers, media_type=media_type)


def _context(db: DatabaseDep, settings: SettingsDep, clock: ClockDep, principal: Principal) -> checkout.Context:
    return checkout.Context(db=db, settings=settings, clock=clock, actor=principal.key_id)


# ---------------------------------------------------------------------------------------------- carts


@router.post("/carts", response_model=schemas.CartOut, status_code=201,
             responses={200: {"model": schemas.CartOut, "description": "The customer's existing active cart"}},
             summary="Open a cart, or get the customer's one active cart (whichever channel made it)")
def open_cart(data: schemas.CartCreate, db: DatabaseDep, clock: ClockDep, principal: PrincipalDep) -> JSONResponse:
    _acting_channel(principal, data.channel)
    with db.write() as session:
        if principal.kind == "customer":
            data = data.model_copy(update={"customer_id": own_profile(session, principal)})
        cart, created = carts.open_cart(session, channel=data.channel, customer_id=data.customer_id, clock=clock)
        body = carts.view(session, cart, clock=clock).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/carts/{cart_id}", response_model=schemas.CartOut, summary="A cart, priced, with live availability")
def get_cart(cart_id: CartId, db: DatabaseDep, clock: ClockDep, principal: PrincipalDep) -> schemas.CartOut:
    with db.read() as session:
        return carts.view(session, _cart_for(session, principal, carts.get_cart(session, cart_id)), clock=clock)


@router.get("/customers/{customer_id}/cart", response_model=schemas.CartOut, tags=["customers"],
            summary="The customer's one active cart, whichever channel touched it last")
def customer_cart(customer_id: Annotated[str, Path(max_length=40)], db: DatabaseDep, clock: ClockDep,
                  principal: PrincipalDep) -> schemas.CartOut:
    with db.read() as session:
        profile = customers.resolve_profile(session, customer_id).id
        if principal.kind == "customer" and profile != own_profile(session, principal):
            raise Forbidden(f"role '{principal.role}' may only see its own cart")
        cart = carts.active_cart_of(session, profile)
        if cart is None:
            raise CartNotFound(f"customer '{profile}' has no active cart")
        return carts.view(session, cart, clock=clock)


def _change_cart(db: DatabaseDep, clock: ClockDep, principal: Principal, cart_id: str, change: Any
                 ) -> schemas.CartOut:
    with db.write() as session:
        cart = _cart_for(session, principal, carts.active(session, cart_id))
        channel = principal.subject if principal.kind == "channel" and principal.subject else cart.channel
        result = change(session, cart, channel) or cart
        return carts.view(session, result, clock=clock)


@router.post("/carts/{cart_id}/lines", response_model=schemas.CartOut, summary="Add units of a SKU to the cart")
def add_line(cart_id: CartId, data: schemas.CartLineIn, db: DatabaseDep, clock: ClockDep,
             principal: PrincipalDep) -> schemas.CartOut:
    return _change_cart(db, clock, principal, cart_id, lambda session, cart, channel: carts.add_line(
        session, cart=cart, sku=data.sku, quantity=data.quantity, channel=channel, clock=clock))


@router.patch("/carts/{cart_id}/lines/{sku}", response_model=schemas.CartOut, summary="Set a line's quantity")
def set_line(cart_id: CartId, sku: SkuPath, data: schemas.CartLineUpdate, db: DatabaseDep, clock: ClockDep,
             principal: PrincipalDep) -> schemas.CartOut:
    return _change_cart(db, clock, principal, cart_id, lambda session, cart, channel: carts.set_line(
        session, cart=cart, sku=sku, quantity=data.quantity, channel=channel, clock=clock))


@router.delete("/carts/{cart_id}/lines/{sku}", response_model=schemas.CartOut, summary="Remove a line")
def remove_line(cart_id: CartId, sku: SkuPath, db: DatabaseDep, clock: ClockDep,
                principal: PrincipalDep) -> schemas.CartOut:
    return _change_cart(db, clock, principal, cart_id, lambda session, cart, channel: carts.remove_line(
        session, cart=cart, sku=sku, channel=channel, clock=clock))


@router.put("/carts/{cart_id}/customer", response_model=schemas.CartOut,
            summary="The shopper identified: the cart joins their active cart (quantities add up)")
def assign_customer(cart_id: CartId, data: schemas.CartCustomerIn, db: DatabaseDep, clock: ClockDep,
                    principal: PrincipalDep) -> schemas.CartOut:
    if principal.kind == "customer" and data.customer_id != principal.subject:
        raise Forbidden(f"role '{principal.role}' may only claim a cart for itself")
    return _change_cart(db, clock, principal, cart_id, lambda session, cart, channel: carts.assign_customer(
        session, cart=cart, customer_id=data.customer_id, channel=channel, clock=clock))


@router.put("/carts/{cart_id}/fulfillment", response_model=schemas.CartOut,
            summary="Choose delivery or a store for pickup/curbside: lines show availability for it")
def set_fulfillment(cart_id: CartId, data: schemas.CartFulfillmentIn, db: DatabaseDep, clock: ClockDep,
                    principal: PrincipalDep) -> schemas.CartOut:
    return _change_cart(db, clock, principal, cart_id, lambda session, cart, channel: carts.set_fulfillment(
        session, cart=cart, choice=data, clock=clock))


@router.post("/carts/{cart_id}/checkout", status_code=201, response_model=schemas.OrderOut,
             responses={402: {"description": "The payment was declined: nothing was ordered"},
                        502: {"description": "The payment provider failed: nothing was ordered; retry"}},
             summary="Pay for the cart and place the order (one order per Idempotency-Key)")
async def checkout_cart(cart_id: CartId, data: schemas.CheckoutIn, db: DatabaseDep, clock: ClockDep,
                        settings: SettingsDep, principal: PrincipalDep,
                        idempotency_key: IdempotencyKey = None) -> JSONResponse:
    _acting_channel(principal, data.channel)
    if principal.kind == "customer":
        with db.read() as session:
            _cart_for(session, principal, carts.get_cart(session, cart_id))
    context = _context(db, settings, clock, principal)
    outcome = await run_in_threadpool(checkout.checkout, context, cart_id=cart_id, data=data, key=idempotency_key,
                                      scope=f"checkout:{principal.role}")
    return _respond(outcome)


# ---------------------------------------------------------------------------------------------- orders


@router.post("/orders", status_code=201, response_model=schemas.OrderOut,
             responses={200: {"model": schemas.OrderOut, "description": "Already imported: the existing order"},
                        202: {"model": schemas.OrderOut, "description": "Imported but on hold: see hold_reason"},
                        402: {"description": "The payment was declined: nothing was ordered"}},
             summary="An order from a till or client (paid now), or imported from a marketplace (external_id)")
async def create_order(data: schemas.OrderIn, db: DatabaseDep, clock: ClockDep, settings: SettingsDep,
                       principal: PrincipalDep, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    if principal.kind == "store":
        with db.read() as session:
            if channels.get_channel(session, data.channel).type != "pos":
                raise Forbidden(f"role '{principal.role}' may only sell on a POS channel")
    elif principal.kind != "admin":
        principal.require_channel(data.channel)
    context = _context(db, settings, clock, principal)
    if data.external_id is not None:
        return _respond(await run_in_threadpool(checkout.import_order, context, data=data))
    outcome = await run_in_threadpool(checkout.sell, context, data=data, key=idempotency_key,
                                      scope=f"order:{principal.role}")
    return _respond(outcome)


@router.get("/orders/{order_id}", response_model=schemas.OrderOut, summary="An order with its fulfillments")
def get_order(order_id: OrderId, db: DatabaseDep, principal: PrincipalDep) -> schemas.OrderOut:
    with db.read() as session:
        order = _check_order_access(session, principal, service.get_order(session, order_id))
        return service.order_out(session, order)


@router.get("/orders", response_model=Page[schemas.OrderOut], summary="Orders, newest first")
def list_orders(db: DatabaseDep, principal: PrincipalDep,
                channel: Annotated[str | None, Query(max_length=64)] = None,
                customer: Annotated[str | None, Query(max_length=40)] = None,
                status: Annotated[str | None, Query(max_length=20)] = None,
                location: Annotated[str | None, Query(max_length=64)] = None,
                limit: LimitQuery = DEFAULT_PAGE_LIMIT, cursor: CursorQuery = None) -> Page[schemas.OrderOut]:
    with db.read() as session:
        if principal.kind == "channel":
            if channel not in (None, principal.subject):
                raise Forbidden(f"role '{principal.role}' may only list its own channel's orders")
            channel = principal.subject
        elif principal.kind == "store":
            if location not in (None, principal.subject):
                raise Forbidden(f"role '{principal.role}' may only list orders of its own location")
            location = principal.subject
        elif principal.kind == "customer":
            customer = own_profile(session, principal)
        rows, next_cursor = service.list_orders(session, channel=channel, customer_id=customer, status=status,
                                                location=location, limit=limit, cursor=cursor)
        return Page(items=[service.order_out(session, row) for row in rows], next_cursor=next_cursor)


@router.post("/orders/{order_id}/cancel", response_model=schemas.OrderOut,
             summary="Cancel before anything left: stock back on the shelf, payment refunded")
def cancel_order(order_id: OrderId, db: DatabaseDep, clock: ClockDep, settings: SettingsDep,
                 principal: PrincipalDep) -> schemas.OrderOut:
    with db.write() as session:
        order = _check_order_access(session, principal, service.get_order(session, order_id, for_update=True))
        if principal.kind == "store":
            principal.require_admin()
        service.cancel(session, order=order, actor=principal.key_id, settings=settings, clock=clock)
        return service.order_out(session, order)


@router.post("/orders/{order_id}/release", response_model=schemas.OrderOut,
             summary="Try a held order again, optionally with corrected lines (admin)")
async def release_order(order_id: OrderId, data: schemas.OrderRelease, db: DatabaseDep, clock: ClockDep,
                        settings: SettingsDep, principal: PrincipalDep) -> JSONResponse:
    principal.require_admin()
    context = _context(db, settings, clock, principal)
    return _respond(await run_in_threadpool(checkout.release, context, order_id=order_id, data=data))


# ---------------------------------------------------------------------------------------------- returns


@router.post("/returns", status_code=201, response_model=schemas.ReturnOut, tags=["returns"],
             summary="Take goods back at any location that accepts returns, for an order from any channel")
def create_return(data: schemas.ReturnIn, db: DatabaseDep, clock: ClockDep, settings: SettingsDep,
                  principal: PrincipalDep, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    if principal.kind == "store":
        principal.require_store(data.location)
    elif not principal.is_admin:
        principal.require_kind("admin", "store", "channel", action="take returns")

    def effect(session: Session) -> Outcome:
        order = service.get_order(session, data.order_id)
        if principal.kind == "channel" and principal.subject != order.channel:
            raise OrderNotFound(f"order '{order.id}' does not exist")
        made = returns.create_return(session, data=data, actor=principal.key_id, settings=settings, clock=clock)
        return Outcome(201, returns.return_out(made).model_dump(mode="json"))

    return _respond(run_once(db, scope=f"return:{principal.role}", key=idempotency_key,
                             body=data.model_dump(mode="json"), clock=clock, effect=effect))


@router.get("/orders/{order_id}/returns", response_model=Page[schemas.ReturnOut], tags=["returns"],
            summary="The returns of an order")
def order_returns(order_id: OrderId, db: DatabaseDep, principal: PrincipalDep) -> Page[schemas.ReturnOut]:
    with db.read() as session:
        order = _check_order_access(session, principal, service.get_order(session, order_id))
        return Page(items=[returns.return_out(row) for row in returns.returns_of(session, order.id)])
