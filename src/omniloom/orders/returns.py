"""Returns anywhere: an order from any channel comes back at any location that takes returns.

Resellable units are restocked where they are returned; damaged ones are booked in and straight out again as
damage, so the ledger shows both. The refund goes back through the payment the order was paid with and can never
exceed what was paid (a conditional update, and a check constraint behind it). An exchange sends other items at the
prices paid, settled against the refund.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omniloom.fulfillment import lifecycle
from omniloom.fulfillment import service as fulfillment
from omniloom.inventory import service as inventory
from omniloom.orders import schemas, service
from omniloom.orders.errors import RefundTooLarge, ReturnNotPossible
from omniloom.orders.events import EventLine, ReturnCreated
from omniloom.orders.models import Order, OrderLine, Payment, Return, ReturnLine
from omniloom.orders.payments import provider_for
from omniloom.orders.service import get_order, order_lines, payments_of
from omniloom.platform.clock import Clock
from omniloom.platform.errors import FieldError, InvalidInput
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import record
from omniloom.platform.settings import Settings


@dataclass(frozen=True)
class Returned:
    line: OrderLine
    quantity: int
    condition: str


def _handed_over(session: Session, order_id: str) -> dict[str, int]:
    """Units per SKU that left the business (shipped, delivered, picked up)."""
    units: dict[str, int] = defaultdict(int)
    for row in fulfillment.for_order(session, order_id):
        if row.status in lifecycle.COMPLETED:
            for line in fulfillment.lines_of(session, row.id):
                units[line.sku] += line.quantity
    return units


def _match(session: Session, order: Order, lines: list[schemas.ReturnLineIn]) -> list[Returned]:
    handed = _handed_over(session, order.id)
    by_sku = {line.sku: line for line in order_lines(session, order.id)}
    wanted: dict[str, int] = defaultdict(int)
    matched = []
    for index, line in enumerate(lines):
        ordered = by_sku.get(line.sku)
        if ordered is None:
            raise InvalidInput.field(f"lines[{index}].sku", f"order '{order.id}' has no {line.sku}")
        wanted[line.sku] += line.quantity
        returnable = handed.get(line.sku, 0) - ordered.returned
        if wanted[line.sku] > returnable:
            raise InvalidInput.field(f"lines[{index}].quantity",
                                     f"only {max(returnable, 0)} × {line.sku} can be returned (handed over and not "
                                     "returned yet)")
        matched.append(Returned(ordered, line.quantity, line.condition))
    return matched


def _restock(session: Session, *, returned: Returned, location: str, actor: str, reference: str,
             clock: Clock) -> None:
    sku = returned.line.sku
    inventory.record_movement(session, sku=sku, location=location, quantity=returned.quantity, reason="return",
                              actor=actor, clock=clock, reference=reference)
    if returned.condition == "damaged":
        inventory.record_movement(session, sku=sku, location=location, quantity=-returned.quantity, reason="damage",
                                  actor=actor, clock=clock, reference=reference, note="returned damaged")


def _refund(session: Session, *, order: Order, amount: int, clock: Clock) -> str:
    """Give ``amount`` back through the order's payments; 'refunded', or 'none' for an order paid to a channel."""
    if amount == 0:
        return "none"
    for payment in payments_of(session, order.id):
        if payment.provider in ("channel", "exchange"):
            return "by_channel"  # the marketplace took the money: it refunds; the event tells its connector
        taken = session.execute(update(Payment).where(Payment.id == payment.id,
                                                      Payment.refunded + amount <= Payment.captured)
                                .values(refunded=Payment.refunded + amount, status="partially_refunded")
                                .returning(Payment.refunded, Payment.captured)).first()
        if taken is None:
            continue
        if taken.refunded == taken.captured:
            session.execute(update(Payment).where(Payment.id == payment.id).values(status="refunded"))
        provider_for(payment.provider, session, clock=clock).refund(reference=payment.provider_reference,
                                                                    amount=amount)
        return "refunded"
    raise RefundTooLarge(f"order '{order.id}' has less than {amount} left to refund")


def create_return(session: Session, *, data: schemas.ReturnIn, actor: str, settings: Settings,
                  clock: Clock) -> Return:
    """Take goods back at ``data.location``, restock or write off each line, and refund what was paid for them."""
    order = get_order(session, data.order_id, for_update=True)
    if order.status not in ("placed", "fulfilled"):
        raise ReturnNotPossible(f"order '{order.id}' is {order.status}; only placed or fulfilled orders take returns",
                                current_status=order.status)
    location = inventory.get_location(session, data.location)
    if "returns" not in location.capabilities:
        raise InvalidInput.field("location", f"location '{location.code}' does not take returns")
    matched = _match(session, order, data.lines)
    return_id = new_id("ret")
    value = sum(item.line.unit_price * item.quantity for item in matched)
    for item in matched:
        _restock(session, returned=item, location=location.code, actor=actor, reference=return_id, clock=clock)
        session.execute(update(OrderLine).where(OrderLine.id == item.line.id)
                        .values(returned=OrderLine.returned + item.quantity))
    exchange = _exchange(session, order=order, data=data, return_id=return_id, credit=value, actor=actor,
                         settings=settings, clock=clock) if data.exchange else None
    refund = value - (exchange.total if exchange else 0)
    status = _refund(session, order=order, amount=refund, clock=clock)
    returned = Return(id=return_id, order_id=order.id, location=location.code, reason=data.reason,
                      refund_amount=refund, refund_status=status, currency=order.currency,
                      exchange_order_id=exchange.id if exchange else None, created_at=clock.now())
    session.add(returned)
    session.flush()
    session.add_all(ReturnLine(return_id=return_id, order_line_id=item.line.id, sku=item.line.sku,
                               quantity=item.quantity, condition=item.condition,
                               refund_amount=item.line.unit_price * item.quantity) for item in matched)
    session.flush()
    record(session, ReturnCreated(
        return_id=return_id, order_id=order.id, channel=order.channel, location=location.code,
        lines=[EventLine(sku=item.line.sku, quantity=item.quantity, unit_price=item.line.unit_price)
               for item in matched],
        refund_amount=refund, currency=order.currency, exchange_order_id=returned.exchange_order_id), clock=clock)
    return returned


def _exchange(session: Session, *, order: Order, data: schemas.ReturnIn, return_id: str, credit: int, actor: str,
              settings: Settings, clock: Clock) -> Order:
    """The items given instead, at the channel's prices, paid from the returned goods' value, collected in store."""
    assert data.exchange is not None
    priced, currency = service.price_lines(session, channel=order.channel,
                                           lines=[(line.sku, line.quantity) for line in data.exchange],
                                           field="exchange")
    draft = service.Draft(channel=order.channel, currency=currency, lines=priced,
                          choice=schemas.FulfillmentChoice(method="pickup", location=data.location),
                          customer_id=order.customer_id, contact=order.contact)
    if draft.subtotal > credit:
        raise ReturnNotPossible(f"the exchange costs {draft.subtotal}, more than the {credit} returned; sell the "
                                "difference as a new order", errors=[FieldError("exchange", "costs more than the "
                                                                                            "returned goods")])
    plan, reservation_id = service.route_and_hold(session, draft=draft, actor=actor, reference=return_id,
                                                  hold_seconds=fulfillment.HOLD_SECONDS, settings=settings,
                                                  clock=clock)
    settled = Payment(id=new_id("pay"), order_id="", provider="exchange", provider_reference=return_id,
                      status="settled_by_return", amount=draft.subtotal, captured=draft.subtotal, refunded=0,
                      currency=currency, created_at=clock.now())
    return service.place(session, draft=draft, plan=plan, reservation_id=reservation_id, payment=settled,
                         settings=settings, clock=clock)


def returns_of(session: Session, order_id: str) -> list[Return]:
    return list(session.scalars(select(Return).where(Return.order_id == order_id).order_by(Return.created_at)))


def return_out(row: Return) -> schemas.ReturnOut:
    return schemas.ReturnOut(id=row.id, order_id=row.order_id, location=row.location,
                             refund=schemas.RefundOut(amount=row.refund_amount, currency=row.currency,
                                                      status=row.refund_status),
                             exchange_order_id=row.exchange_order_id, created_at=row.created_at)
