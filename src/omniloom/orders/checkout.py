"""Turning a cart (or a POS sale, or a marketplace order) into an order, across the payment call.

A paid checkout runs in three transactions so that no database lock is held while the payment provider answers:

1. hold: price the lines, route them, reserve the units where the route takes them from, and note the attempt;
2. charge: the provider authorises and captures (its own books, its own transaction);
3. place: the reservation becomes allocations, the order and its fulfillments are written, and the
   ``Idempotency-Key`` gets its answer — or, when the card was declined, the reservation is released.

If the process dies in between, nothing is half-done for long: the reservation expires by itself, and
``settle_abandoned`` (run by the worker) refunds a charge whose order was never written. The key's claim is
taken over by a retry once it is older than the hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniloom.fulfillment.errors import NoRoute
from omniloom.fulfillment.service import HOLD_SECONDS
from omniloom.inventory import service as inventory
from omniloom.inventory.errors import InsufficientStock, ReservationNotActive
from omniloom.orders import carts, schemas, service
from omniloom.orders.errors import CartEmpty, CheckoutExpired, OrderStateConflict, PaymentDeclined
from omniloom.orders.models import CheckoutAttempt, Order, Payment
from omniloom.orders.payments import provider_for
from omniloom.orders.service import Draft
from omniloom.platform import idempotency
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.errors import InvalidInput, OmniloomError
from omniloom.platform.idempotency import Outcome
from omniloom.platform.ids import new_id
from omniloom.platform.settings import Settings
from omniloom.pricing import service as pricing

_ATTEMPTS = cast(Table, CheckoutAttempt.__table__)


@dataclass(frozen=True)
class Context:
    db: Database
    settings: Settings
    clock: Clock
    actor: str


def _claimed(context: Context, *, scope: str, key: str | None, body: Any,
             run: Callable[[], Outcome]) -> Outcome:
    stored = idempotency.claim(context.db, scope=scope, key=key, body=body, clock=context.clock,
                               stale_after=context.settings.checkout_hold_seconds + 5)
    if stored is not None:
        return stored
    try:
        return run()
    except OmniloomError as error:
        idempotency.settle_failure(context.db, scope=scope, key=key, error=error)
        raise


def _contact(customer: schemas.CustomerContact | None) -> dict[str, Any]:
    return customer.model_dump(exclude_none=True, exclude={"id"}) if customer else {}


# ---------------------------------------------------------------------------------------------- paid orders


def checkout(context: Context, *, cart_id: str, data: schemas.CheckoutIn, key: str | None, scope: str) -> Outcome:
    """Order what is in the cart, paid now; the same key always answers with the same order."""
    body = {"cart_id": cart_id, **data.model_dump(mode="json")}
    return _claimed(context, scope=scope, key=key, body=body,
                    run=lambda: _paid(context, draft_of=lambda session: _cart_draft(session, cart_id, data),
                                      payment=data.payment, key=key, scope=scope))


def _cart_draft(session: Session, cart_id: str, data: schemas.CheckoutIn) -> Draft:
    cart = carts.lock_for_checkout(session, cart_id)
    if not cart.lines:
        raise CartEmpty(f"cart '{cart.cart_id}' has no lines")
    priced = service.price_on_channel(session, channel=data.channel, lines=cart.lines)
    customer_id = cart.customer_id
    if data.customer and data.customer.id:
        customer_id = carts.surviving_customer(session, data.customer.id, field="customer.id")
    return Draft(channel=data.channel, currency=priced.currency, lines=priced.lines, choice=data.fulfillment,
                 contact=_contact(data.customer), customer_id=customer_id, cart_id=cart.cart_id, policy=priced.policy)


def sell(context: Context, *, data: schemas.OrderIn, key: str | None, scope: str) -> Outcome:
    """A paid order straight from a till or a client (no cart)."""
    if data.payment is None:
        raise InvalidInput.field("payment", "an order without external_id is paid now: give the payment token")
    payment = data.payment

    def draft_of(session: Session) -> Draft:
        for index, line in enumerate(data.lines):
            if line.sku is None:
                raise InvalidInput.field(f"lines[{index}].sku", "a direct order names SKUs (listing ids: imports)")
            if line.unit_price is not None:
                raise InvalidInput.field(f"lines[{index}].unit_price", "prices come from the channel's price list")
        priced = service.price_on_channel(session, channel=data.channel,
                                          lines=[(line.sku or "", line.quantity) for line in data.lines])
        customer_id = carts.surviving_customer(session, data.customer.id, field="customer.id") \
            if data.customer.id else None
        return Draft(channel=data.channel, currency=priced.currency, lines=priced.lines, choice=data.fulfillment,
                     contact=_contact(data.customer), customer_id=customer_id, policy=priced.policy)

    return _claimed(context, scope=scope, key=key, body=data.model_dump(mode="json"),
                    run=lambda: _paid(context, draft_of=draft_of, payment=payment, key=key, scope=scope))


def _paid(context: Context, *, draft_of: Callable[[Session], Draft], payment: schemas.PaymentIn, key: str | None,
          scope: str) -> Outcome:
    attempt_id = new_id("chk")
    with context.db.write() as session:
        draft = draft_of(session)
        plan, reservation_id = service.route_and_hold(session, draft=draft, actor=context.actor, reference=attempt_id,
                                                      hold_seconds=context.settings.checkout_hold_seconds,
                                                      settings=context.settings, clock=context.clock)
        session.execute(insert(_ATTEMPTS), {
            "id": attempt_id, "reservation_id": reservation_id, "provider": payment.provider,
            "amount": draft.subtotal, "currency": draft.currency, "status": "charging", "order_id": None,
            "created_at": context.clock.now(), "settled_at": None})
    try:
        with context.db.write() as session:
            result = provider_for(payment.provider, session, clock=context.clock).charge(
                reference=attempt_id, token=payment.token, amount=draft.subtotal, currency=draft.currency)
    except OmniloomError:
        _give_up(context, attempt_id=attempt_id, reservation_id=reservation_id, status="failed")
        raise
    if result.status != "approved":
        _give_up(context, attempt_id=attempt_id, reservation_id=reservation_id, status="declined")
        raise PaymentDeclined(f"the payment was declined: {result.message}; nothing was ordered")
    try:
        with context.db.write() as session:
            order_id = new_id("ord")
            _complete_attempt(session, attempt_id, order_id=order_id, clock=context.clock)
            paid = Payment(id=new_id("pay"), order_id="", provider=payment.provider, provider_reference=attempt_id,
                           status="captured", amount=draft.subtotal, captured=draft.subtotal, refunded=0,
                           currency=draft.currency, created_at=context.clock.now())
            placed = service.place_order(session, draft=draft, plan=plan, reservation_id=reservation_id,
                                         payment=paid, settings=context.settings, clock=context.clock,
                                         order_id=order_id)
            outcome = Outcome(201, placed.answer.model_dump(mode="json"))
            idempotency.complete(session, scope=scope, key=key, outcome=outcome)
    except (ReservationNotActive, CheckoutExpired):
        with context.db.write() as session:
            _abandon(session, _locked_attempt(session, attempt_id), clock=context.clock)
        raise CheckoutExpired("the stock hold lapsed while the payment was being made; the payment is refunded "
                              "and nothing was ordered") from None
    return outcome


def _complete_attempt(session: Session, attempt_id: str, *, order_id: str, clock: Clock) -> None:
    """Mark the attempt completed by ``order_id``, locking it; raises CheckoutExpired when the clean-up already
    settled it."""
    completed = session.execute(
        update(_ATTEMPTS).where(_ATTEMPTS.c.id == attempt_id, _ATTEMPTS.c.status == "charging")
        .values(status="completed", order_id=order_id, settled_at=clock.now()).returning(_ATTEMPTS.c.id)).first()
    if completed is None:
        status = session.scalar(select(_ATTEMPTS.c.status).where(_ATTEMPTS.c.id == attempt_id))
        raise CheckoutExpired(f"checkout '{attempt_id}' was {status}")


def _locked_attempt(session: Session, attempt_id: str) -> CheckoutAttempt:
    """The attempt, locked."""
    attempt = session.get(CheckoutAttempt, attempt_id, with_for_update=True)
    assert attempt is not None
    return attempt


def _abandon(session: Session, attempt: CheckoutAttempt, *, clock: Clock) -> None:
    """Refund whatever the provider captured for the attempt and give its held stock back."""
    if attempt.status != "charging":
        return
    provider = provider_for(attempt.provider, session, clock=clock)
    taken = provider.captured(reference=attempt.id)
    if taken:
        provider.refund(reference=attempt.id, amount=taken)
    inventory.release_reservation(session, reservation_id=attempt.reservation_id, clock=clock)
    attempt.status, attempt.settled_at = "abandoned", clock.now()


def _give_up(context: Context, *, attempt_id: str, reservation_id: str, status: str) -> None:
    with context.db.write() as session:
        inventory.release_reservation(session, reservation_id=reservation_id, clock=context.clock)
        attempt = session.get(CheckoutAttempt, attempt_id)
        assert attempt is not None
        attempt.status, attempt.settled_at = status, context.clock.now()


def settle_abandoned(session: Session, *, settings: Settings, clock: Clock, limit: int = 100) -> int:
    """Checkouts whose process died after holding stock: refund any charge made, mark them abandoned."""
    # Past the hold its reservation has lapsed, so the attempt can no longer become an order; one that is being
    # placed right now is locked by its own transaction and skipped.
    cutoff = clock.now() - timedelta(seconds=settings.checkout_hold_seconds)
    stale = list(session.scalars(select(CheckoutAttempt).where(
        CheckoutAttempt.status == "charging", CheckoutAttempt.created_at <= cutoff)
        .order_by(CheckoutAttempt.created_at).limit(limit).with_for_update(skip_locked=True)))
    for attempt in stale:
        _abandon(session, attempt, clock=clock)
    return len(stale)


# ---------------------------------------------------------------------------------------------- imports


def import_order(context: Context, *, data: schemas.OrderIn) -> Outcome:
    """A marketplace or social order the channel already took the money for; re-importing returns the same order.

    Lines that cannot be matched, or stock that is not there, put the order ``on_hold`` (202) with the reason."""
    assert data.external_id is not None
    with context.db.read() as session:
        existing = service.find_imported(session, channel=data.channel, external_id=data.external_id)
        if existing is not None:
            return Outcome(200, service.order_out(session, existing).model_dump(mode="json"), replayed=True)
    try:
        return _import(context, data)
    except IntegrityError:  # the same order imported at the same moment by another request
        with context.db.read() as session:
            existing = service.find_imported(session, channel=data.channel, external_id=data.external_id)
            assert existing is not None
            return Outcome(200, service.order_out(session, existing).model_dump(mode="json"), replayed=True)


def _import_draft(session: Session, data: schemas.OrderIn, lines: list[schemas.OrderLineIn]) -> Draft:
    price_list = carts.check_channel(session, data.channel)
    matched, problems = service.match_import_lines(session, channel=data.channel, lines=lines)
    currency = data.currency or pricing.get_price_list(session, price_list).currency
    customer_id = None
    if data.customer.id:
        customer_id = carts.surviving_customer(session, data.customer.id, field="customer.id")
    return Draft(channel=data.channel, currency=currency, lines=matched, choice=data.fulfillment,
                 contact=_contact(data.customer), customer_id=customer_id, external_id=data.external_id,
                 problems=problems)


def _import(context: Context, data: schemas.OrderIn) -> Outcome:
    with context.db.write() as session:
        draft = _import_draft(session, data, data.lines)
        order = _place_collected(session, context, draft)
        return Outcome(201 if order.status == "placed" else 202,
                       service.order_out(session, order).model_dump(mode="json"))


def _place_collected(session: Session, context: Context, draft: Draft, held: Order | None = None) -> Order:
    """Place an order whose money the channel collected, or hold it with the reason it cannot be placed."""
    if draft.problems:
        return held or service.hold_order(session, draft=draft, reason="; ".join(draft.problems),
                                          clock=context.clock)
    reference = draft.external_id or new_id("imp")
    try:
        with session.begin_nested():
            plan, reservation_id = service.route_and_hold(session, draft=draft, actor=context.actor,
                                                          reference=reference, hold_seconds=HOLD_SECONDS,
                                                          settings=context.settings, clock=context.clock)
    except (InsufficientStock, NoRoute) as error:
        reason = f"not enough stock: {error.detail}"
        if held is not None:
            held.hold_reason = reason[:500]
            return held
        return service.hold_order(session, draft=draft, reason=reason, clock=context.clock)
    collected = Payment(id=new_id("pay"), order_id="", provider="channel", provider_reference=reference,
                        status="collected_by_channel", amount=draft.subtotal, captured=draft.subtotal, refunded=0,
                        currency=draft.currency, created_at=context.clock.now())
    if held is not None:
        order = service.release_held(session, order=held, draft=draft, plan=plan, reservation_id=reservation_id,
                                     settings=context.settings, clock=context.clock)
        collected.order_id = order.id
        session.add(collected)
        return order
    return service.place(session, draft=draft, plan=plan, reservation_id=reservation_id, payment=collected,
                         settings=context.settings, clock=context.clock)


def release(context: Context, *, order_id: str, data: schemas.OrderRelease) -> Outcome:
    """Try a held order again, optionally with corrected lines; it stays held (with a new reason) if it still fails."""
    with context.db.write() as session:
        order = service.get_order(session, order_id, for_update=True)
        if order.status != "on_hold":
            raise OrderStateConflict(f"order '{order.id}' is {order.status}, not on_hold",
                                              current_status=order.status)
        lines = data.lines or [schemas.OrderLineIn.model_validate(line) for line in order.raw_lines]
        request = schemas.OrderIn(channel=order.channel, external_id=order.external_id, lines=lines,
                                  fulfillment=schemas.FulfillmentChoice.model_validate(order.fulfillment_request),
                                  customer=schemas.CustomerContact(id=order.customer_id, **order.contact),
                                  currency=order.currency)
        draft = _import_draft(session, request, lines)
        if draft.problems:
            order.hold_reason = "; ".join(draft.problems)[:500]
            order.raw_lines = [line.model_dump() for line in lines]
        else:
            order = _place_collected(session, context, draft, held=order)
        return Outcome(200, service.order_out(session, order).model_dump(mode="json"))
