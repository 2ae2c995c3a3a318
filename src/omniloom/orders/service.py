"""The orders module's session-level functions: pricing lines, placing, holding and releasing orders, reading
them back, cancelling, and linking each order to the customer's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from omniloom.catalog import service as catalog
from omniloom.customers import intake
from omniloom.customers import service as customers
from omniloom.fulfillment import lifecycle, routing
from omniloom.fulfillment import service as fulfillment
from omniloom.fulfillment.errors import NoRoute
from omniloom.inventory import service as inventory
from omniloom.inventory.availability import ChannelPolicy
from omniloom.inventory.errors import InsufficientStock
from omniloom.orders import schemas
from omniloom.orders.carts import channel_terms, check_channel, surviving_customer
from omniloom.orders.errors import NotSoldOnChannel, OrderNotFound, OrderStateConflict
from omniloom.orders.events import EventLine, OrderCancelled, OrderCreated, OrderFulfilled, OrderHeld, OrderReleased
from omniloom.orders.models import Cart, Order, OrderLine, Payment
from omniloom.orders.payments import provider_for
from omniloom.platform.clock import Clock
from omniloom.platform.errors import FieldError
from omniloom.platform.ids import new_id
from omniloom.platform.money import Money
from omniloom.platform.outbox import record
from omniloom.platform.pagination import decode_cursor, encode_cursor
from omniloom.platform.settings import Settings
from omniloom.pricing import service as pricing

ERASED = "erased"


@dataclass(frozen=True)
class DraftLine:
    sku: str | None
    listing_id: str | None
    quantity: int
    unit_price: int | None


@dataclass
class Draft:
    """An order before it is placed: what was asked, priced, and where it goes."""

    channel: str
    currency: str
    lines: list[DraftLine]
    choice: schemas.FulfillmentChoice
    contact: dict[str, Any] = field(default_factory=dict)
    customer_id: str | None = None
    external_id: str | None = None
    cart_id: str | None = None
    problems: list[str] = field(default_factory=list)
    policy: ChannelPolicy | None = None  # the channel's inventory policy, when it was read with the prices

    @property
    def subtotal(self) -> int:
        return sum((line.unit_price or 0) * line.quantity for line in self.lines)

    def routing_lines(self) -> list[routing.Line]:
        merged: dict[str, int] = {}
        for line in self.lines:
            assert line.sku is not None
            merged[line.sku] = merged.get(line.sku, 0) + line.quantity
        return [routing.Line(sku, quantity) for sku, quantity in merged.items()]

    def request(self) -> fulfillment.Request:
        address = self.choice.address
        return fulfillment.Request(method=self.choice.method, store=self.choice.location,
                                   latitude=address.latitude if address else None,
                                   longitude=address.longitude if address else None)


def fulfillment_settings(settings: Settings) -> fulfillment.Settings:
    return fulfillment.Settings(preparation=timedelta(minutes=settings.pickup_preparation_minutes),
                                pickup_window=timedelta(hours=settings.pickup_window_hours),
                                daily_capacity=settings.store_daily_capacity)


# ---------------------------------------------------------------------------------------------- drafting


@dataclass(frozen=True)
class Priced:
    """Lines priced on a channel, their currency, and the channel's inventory policy (read with the prices)."""

    lines: list[DraftLine]
    currency: str
    policy: ChannelPolicy


def price_on_channel(session: Session, *, channel: str, lines: Sequence[tuple[str, int]], field: str = "lines"
                     ) -> Priced:
    """Lines priced from the channel's price list; a 409 naming every SKU it does not sell."""
    price_list, policy = channel_terms(session, channel)
    currency, prices = pricing.currency_and_prices(session, price_list_code=price_list,
                                                   skus=[sku for sku, _ in lines])
    priced, missing = [], []
    for index, (sku, quantity) in enumerate(lines):
        amount = prices.get(sku)
        if amount is None:
            missing.append(FieldError(f"{field}[{index}].sku", f"'{sku}' has no price on channel '{channel}'"))
        else:
            priced.append(DraftLine(sku, None, quantity, amount))
    if missing:
        raise NotSoldOnChannel("; ".join(f"{e.field}: {e.message}" for e in missing), errors=missing)
    return Priced(priced, currency, policy)


def price_lines(session: Session, *, channel: str, lines: Sequence[tuple[str, int]], field: str = "lines"
                ) -> tuple[list[DraftLine], str]:
    """Lines priced from the channel's price list; a 409 naming every SKU it does not sell."""
    priced = price_on_channel(session, channel=channel, lines=lines, field=field)
    return priced.lines, priced.currency


def match_import_lines(session: Session, *, channel: str, lines: Sequence[schemas.OrderLineIn]
                       ) -> tuple[list[DraftLine], list[str]]:
    """Imported lines matched to SKUs by the channel's listing ids (or SKU); unmatched ones become hold reasons."""
    price_list = check_channel(session, channel)
    matched, problems = [], []
    for index, line in enumerate(lines):
        sku = line.sku
        if sku is None and line.listing_id is not None:
            sku = catalog.sku_for_listing(session, channel_code=channel, listing_id=line.listing_id)
            if sku is None:
                problems.append(f"lines[{index}]: listing '{line.listing_id}' is not known on channel '{channel}'")
        elif sku is not None and catalog.missing_skus(session, [sku]):
            problems.append(f"lines[{index}]: SKU '{sku}' is not in the catalog")
            sku = None
        price = line.unit_price
        if price is None and sku is not None:
            listed = pricing.price_for(session, price_list_code=price_list, sku=sku)
            price = listed.amount if listed else None
            if price is None:
                problems.append(f"lines[{index}]: '{sku}' has no price on channel '{channel}'")
        matched.append(DraftLine(sku, line.listing_id, line.quantity, price))
    return matched, problems


# ---------------------------------------------------------------------------------------------- placing


def route_and_hold(session: Session, *, draft: Draft, actor: str, reference: str, hold_seconds: int,
                   settings: Settings, clock: Clock) -> tuple[routing.Plan, str]:
    """Plan the fulfillment and reserve the planned units (InsufficientStock/NoRoute when short)."""
    plan = fulfillment.plan(session, channel=draft.channel, lines=draft.routing_lines(), request=draft.request(),
                            capacity=settings.store_daily_capacity, clock=clock, policy=draft.policy)
    reservation_id = fulfillment.hold(session, channel=draft.channel, result=plan, actor=actor, reference=reference,
                                      hold_seconds=hold_seconds, clock=clock, policy=draft.policy)
    return plan, reservation_id


@dataclass(frozen=True)
class Placed:
    """A placed order and its answer, made from what was written (nothing is read back)."""

    order: Order
    answer: schemas.OrderOut


def place(session: Session, *, draft: Draft, plan: routing.Plan, reservation_id: str, payment: Payment | None,
          settings: Settings, clock: Clock, order_id: str | None = None) -> Order:
    """Record the order: its reserved units become allocations, its fulfillments are created, the customer's
    timeline gets ``order_completed`` and ``order.created`` is recorded — all in the caller's transaction."""
    return place_order(session, draft=draft, plan=plan, reservation_id=reservation_id, payment=payment,
                       settings=settings, clock=clock, order_id=order_id).order


def place_order(session: Session, *, draft: Draft, plan: routing.Plan, reservation_id: str, payment: Payment | None,
                settings: Settings, clock: Clock, order_id: str | None = None) -> Placed:
    """``place``, also giving the order as the API shows it."""
    inventory.convert_reservation(session, reservation_id=reservation_id, clock=clock)
    order = _new_order(draft=draft, status="placed", clock=clock, order_id=order_id)
    made = fulfillment.create(session, order_id=order.id, channel=draft.channel, request=draft.request(),
                              result=plan, destination=_destination(draft), settings=fulfillment_settings(settings),
                              clock=clock)
    if draft.cart_id is not None:
        session.execute(update(Cart).where(Cart.id == draft.cart_id).values(status="ordered", updated_at=clock.now()))
    # Identity resolution serialises its writers until the commit: it comes last, so that lock is held briefly.
    order.customer_id = link_customer(session, order=order, draft=draft, settings=settings, clock=clock)
    session.add(order)
    session.add_all(_order_lines(order.id, draft.lines))
    if payment is not None:
        payment.order_id = order.id
        session.add(payment)
    session.flush()
    record(session, OrderCreated(**_order_facts(order), lines=_event_lines(draft.lines)), clock=clock)
    return Placed(order, _placed_out(order, draft=draft, fulfillments=made, payment=payment))


def hold_order(session: Session, *, draft: Draft, reason: str, clock: Clock) -> Order:
    """Keep an order that cannot be placed as it came, with the reason; nothing of it is lost."""
    order = _new_order(draft=draft, status="on_hold", clock=clock)
    order.hold_reason = reason[:500]
    session.add(order)
    session.flush()
    record(session, OrderHeld(**_order_facts(order), hold_reason=order.hold_reason), clock=clock)
    return order


def _new_order(*, draft: Draft, status: str, clock: Clock, order_id: str | None = None) -> Order:
    now = clock.now()
    return Order(id=order_id or new_id("ord"), channel=draft.channel, external_id=draft.external_id,
                 cart_id=draft.cart_id, customer_id=draft.customer_id, contact=draft.contact, status=status,
                 hold_reason=None, currency=draft.currency, subtotal=draft.subtotal, shipping=0,
                 total=draft.subtotal, fulfillment_request=draft.choice.model_dump(mode="json", exclude_none=True),
                 raw_lines=[{"sku": line.sku, "listing_id": line.listing_id, "quantity": line.quantity,
                             "unit_price": line.unit_price} for line in draft.lines],
                 created_at=now, updated_at=now, cancelled_at=None)


def _order_lines(order_id: str, lines: Sequence[DraftLine]) -> list[OrderLine]:
    return [OrderLine(order_id=order_id, sku=line.sku, listing_id=line.listing_id, quantity=line.quantity,
                      unit_price=line.unit_price or 0) for line in lines]


def _destination(draft: Draft) -> dict[str, Any]:
    return draft.choice.address.model_dump(exclude_none=True) if draft.choice.address else {}


def _placed_out(order: Order, *, draft: Draft, fulfillments: Sequence[fulfillment.Created],
                payment: Payment | None) -> schemas.OrderOut:
    """What ``order_out`` reads back for an order just placed, from what was written."""
    def money(amount: int) -> Money:
        return Money(amount=amount, currency=order.currency)

    lines = [schemas.OrderLineOut(sku=line.sku, listing_id=line.listing_id, quantity=line.quantity,
                                  unit_price=money(line.unit_price or 0), returned=0, cancelled=0)
             for line in draft.lines]
    payments = [schemas.PaymentOut(provider=payment.provider, status=payment.status, amount=money(payment.amount),
                                   captured=money(payment.captured), refunded=money(payment.refunded))
                ] if payment is not None else []
    return schemas.OrderOut(
        id=order.id, channel=order.channel, external_id=order.external_id, customer_id=order.customer_id,
        status="placed", hold_reason=None, lines=lines, subtotal=money(order.subtotal), total=money(order.total),
        fulfillments=[_created_out(row) for row in sorted(fulfillments, key=lambda row: (row.created_at, row.id))],
        payments=payments, created_at=order.created_at, cancelled_at=None)


def _created_out(row: fulfillment.Created) -> schemas.FulfillmentOut:
    return schemas.FulfillmentOut(
        id=row.id, order_id=row.order_id, method=row.method, location=row.location,
        source_location=row.source_location, status=row.status,
        lines=[schemas.FulfillmentLineOut(sku=sku, quantity=quantity) for sku, quantity in row.lines],
        routing_reason=row.routing_reason, carrier=None, tracking_number=None, parking_spot=None,
        checked_in_at=None, promised_ready_at=row.promised_ready_at, ready_at=None, pickup_expires_at=None,
        allowed_transitions=sorted(lifecycle.allowed(row.method, row.status)))


def _event_lines(lines: Sequence[DraftLine]) -> list[EventLine]:
    return [EventLine(sku=line.sku, listing_id=line.listing_id, quantity=line.quantity, unit_price=line.unit_price)
            for line in lines]


def _order_facts(order: Order) -> dict[str, Any]:
    return {"order_id": order.id, "channel": order.channel, "external_id": order.external_id,
            "customer_id": order.customer_id, "status": order.status, "currency": order.currency,
            "total": order.total}


def link_customer(session: Session, *, order: Order, draft: Draft, settings: Settings, clock: Clock) -> str | None:
    """Put ``order_completed`` on the customer's timeline (identity resolution decides whose); their profile id."""
    identifiers: dict[str, Any] = {key: draft.contact[key] for key in ("email", "phone") if draft.contact.get(key)}
    if not identifiers and draft.customer_id:
        identifiers = customers.strongest_identifier(session, draft.customer_id) or {}
    if not identifiers:
        return draft.customer_id
    raw = {"id": f"order:{order.id}", "type": "order_completed", "channel": order.channel,
           "timestamp": order.created_at.isoformat(), "identifiers": identifiers,
           "properties": {"order_id": order.id, "total": {"amount": order.total, "currency": order.currency},
                          "lines": [{"sku": line.sku, "quantity": line.quantity,
                                     "unit_price": {"amount": line.unit_price or 0, "currency": order.currency}}
                                    for line in draft.lines if line.sku]}}
    prepared, rejected = intake.prepare_batch([raw], received_at=clock.now(), region=settings.default_phone_region,
                                              only_channel=None, known_channels=frozenset({order.channel}))
    if rejected:
        return draft.customer_id
    recorded = customers.record_events(session, events=prepared, guards=settings.identity_guards, clock=clock)
    return recorded.profile_ids[0]


# ---------------------------------------------------------------------------------------------- reading


def get_order(session: Session, order_id: str, *, for_update: bool = False) -> Order:
    statement = select(Order).where(Order.id == order_id)
    order = session.scalars(statement.with_for_update() if for_update else statement).first()
    if order is None:
        raise OrderNotFound(f"order '{order_id}' does not exist")
    return order


def find_imported(session: Session, *, channel: str, external_id: str) -> Order | None:
    return session.scalars(select(Order).where(Order.channel == channel, Order.external_id == external_id)).first()


@dataclass(frozen=True)
class OrderContact:
    """Whom to tell about an order: the surviving customer profile, an email address and a name, where known."""

    order_id: str
    channel: str
    customer_id: str | None
    email: str | None
    name: str | None


def order_contact(session: Session, order_id: str) -> OrderContact:
    """The order's customer and the address to write to: the one given with the order, else the profile's."""
    order = get_order(session, order_id)
    customer_id = customers.resolve_profile(session, order.customer_id).id if order.customer_id else None
    email = order.contact.get("email") or (customers.contact_email(session, customer_id) if customer_id else None)
    return OrderContact(order_id=order.id, channel=order.channel, customer_id=customer_id, email=email,
                        name=order.contact.get("name"))


def order_lines(session: Session, order_id: str) -> list[OrderLine]:
    return list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)))


def payments_of(session: Session, order_id: str) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.order_id == order_id).order_by(Payment.created_at)))


def list_orders(session: Session, *, channel: str | None, customer_id: str | None, status: str | None,
                location: str | None, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
    """Orders newest first, filtered."""
    statement = select(Order)
    if channel:
        statement = statement.where(Order.channel == channel)
    if customer_id:
        statement = statement.where(Order.customer_id == surviving_customer(session, customer_id, field="customer"))
    if status:
        statement = statement.where(Order.status == status)
    if location:
        statement = statement.where(Order.id.in_(fulfillment.order_ids_at(location)))
    if cursor:
        statement = statement.where(Order.id < decode_cursor(cursor))
    rows = list(session.scalars(statement.order_by(Order.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(rows[limit - 1].id)


def order_out(session: Session, order: Order) -> schemas.OrderOut:
    """The order with its lines, fulfillments and payments."""
    def money(amount: int) -> Money:
        return Money(amount=amount, currency=order.currency)

    stored = order_lines(session, order.id)
    if stored:
        lines = [schemas.OrderLineOut(sku=line.sku, listing_id=line.listing_id, quantity=line.quantity,
                                      unit_price=money(line.unit_price), returned=line.returned,
                                      cancelled=line.cancelled) for line in stored]
    else:
        lines = [schemas.OrderLineOut(sku=line["sku"], listing_id=line["listing_id"], quantity=line["quantity"],
                                      unit_price=money(line["unit_price"]) if line["unit_price"] is not None else None,
                                      returned=0, cancelled=0) for line in order.raw_lines]
    return schemas.OrderOut(
        id=order.id, channel=order.channel, external_id=order.external_id, customer_id=order.customer_id,
        status=order.status, hold_reason=order.hold_reason, lines=lines,
        subtotal=money(order.subtotal), total=money(order.total),
        fulfillments=[fulfillment_out(session, row) for row in fulfillment.for_order(session, order.id)],
        payments=[schemas.PaymentOut(provider=p.provider, status=p.status, amount=money(p.amount),
                                     captured=money(p.captured), refunded=money(p.refunded))
                  for p in payments_of(session, order.id)],
        created_at=order.created_at, cancelled_at=order.cancelled_at)


def fulfillment_out(session: Session, row: fulfillment.Fulfillment) -> schemas.FulfillmentOut:
    return schemas.FulfillmentOut(
        id=row.id, order_id=row.order_id, method=row.method, location=row.location,
        source_location=row.source_location, status=row.status,
        lines=[schemas.FulfillmentLineOut(sku=line.sku, quantity=line.quantity)
               for line in fulfillment.lines_of(session, row.id)],
        routing_reason=row.routing_reason, carrier=row.carrier, tracking_number=row.tracking_number,
        parking_spot=row.parking_spot, checked_in_at=row.checked_in_at, promised_ready_at=row.promised_ready_at,
        ready_at=row.ready_at, pickup_expires_at=row.pickup_expires_at,
        allowed_transitions=sorted(lifecycle.allowed(row.method, row.status)))


# ---------------------------------------------------------------------------------------------- changing


def refresh_status(session: Session, *, order: Order, clock: Clock) -> None:
    """An order whose every fulfillment is completed (or ended) is ``fulfilled``."""
    rows = fulfillment.for_order(session, order.id)
    live = [row for row in rows if row.status not in ("cancelled", "rejected", "expired")]
    if order.status == "placed" and live and all(row.status in lifecycle.COMPLETED for row in live):
        order.status = "fulfilled"
        order.updated_at = clock.now()
        session.flush()
        record(session, OrderFulfilled(**_order_facts(order)), clock=clock)


def cancel(session: Session, *, order: Order, actor: str, settings: Settings, clock: Clock) -> Order:
    """Cancel before anything left: allocations go back to free stock and the payment is refunded in full."""
    if order.status == "cancelled":
        return order
    rows = fulfillment.for_order(session, order.id)
    gone = [row for row in rows if row.status in lifecycle.COMPLETED]
    if gone:
        raise OrderStateConflict(f"order '{order.id}' has fulfillments that already left ({gone[0].status}); "
                                 "return the goods instead", current_status=order.status)
    for row in rows:
        if row.status in lifecycle.HOLDS_STOCK:
            fulfillment.transition(session, fulfillment=row, to="cancelled", actor=actor,
                                   settings=fulfillment_settings(settings), clock=clock)
    refunded = 0
    for payment in payments_of(session, order.id):
        refundable = payment.captured - payment.refunded
        if refundable > 0 and payment.provider != "channel":
            provider_for(payment.provider, session, clock=clock).refund(reference=payment.provider_reference,
                                                                        amount=refundable)
            payment.refunded += refundable
            payment.status = "refunded"
            refunded += refundable
    session.execute(update(OrderLine).where(OrderLine.order_id == order.id)
                    .values(cancelled=OrderLine.quantity - OrderLine.returned))
    order.status, order.cancelled_at, order.updated_at = "cancelled", clock.now(), clock.now()
    session.flush()
    record(session, OrderCancelled(**_order_facts(order), refunded=refunded), clock=clock)
    return order


def release_held(session: Session, *, order: Order, draft: Draft, plan: routing.Plan, reservation_id: str,
                 settings: Settings, clock: Clock) -> Order:
    """Place a held order (its problems fixed): the same order id, now with stock and fulfillments."""
    inventory.convert_reservation(session, reservation_id=reservation_id, clock=clock)
    order.status, order.hold_reason, order.updated_at = "placed", None, clock.now()
    order.currency, order.subtotal, order.total = draft.currency, draft.subtotal, draft.subtotal
    order.raw_lines = [{"sku": line.sku, "listing_id": line.listing_id, "quantity": line.quantity,
                        "unit_price": line.unit_price} for line in draft.lines]
    session.add_all(_order_lines(order.id, draft.lines))
    fulfillment.create(session, order_id=order.id, channel=order.channel, request=draft.request(), result=plan,
                       destination=_destination(draft), settings=fulfillment_settings(settings), clock=clock)
    order.customer_id = link_customer(session, order=order, draft=draft, settings=settings, clock=clock)
    session.flush()
    record(session, OrderReleased(**_order_facts(order)), clock=clock)
    return order


def draft_of_order(session: Session, order: Order) -> Draft:
    """The order as a draft again (its priced lines, destination and customer), to route part of it anew."""
    lines = [DraftLine(line.sku, line.listing_id, line.quantity, line.unit_price)
             for line in order_lines(session, order.id)]
    return Draft(channel=order.channel, currency=order.currency, lines=lines,
                 choice=schemas.FulfillmentChoice.model_validate(order.fulfillment_request), contact=order.contact,
                 customer_id=order.customer_id, external_id=order.external_id)


def reroute(session: Session, *, order: Order, rejected: fulfillment.Fulfillment, actor: str, settings: Settings,
            clock: Clock) -> list[fulfillment.Created]:
    """Fulfil what a location rejected from elsewhere; none when no other location can (the order is noted)."""
    lines = [routing.Line(line.sku, line.quantity) for line in fulfillment.lines_of(session, rejected.id)]
    refused = sorted({code for row in fulfillment.for_order(session, order.id) for code in row.rejected_locations})
    draft = draft_of_order(session, order)
    try:
        with session.begin_nested():
            plan = fulfillment.plan(session, channel=order.channel, lines=lines, request=draft.request(),
                                    capacity=settings.store_daily_capacity, clock=clock, excluded=refused)
            reservation_id = fulfillment.hold(session, channel=order.channel, result=plan, actor=actor,
                                              reference=order.id, hold_seconds=fulfillment.HOLD_SECONDS, clock=clock)
            inventory.convert_reservation(session, reservation_id=reservation_id, clock=clock)
    except (NoRoute, InsufficientStock) as error:
        order.hold_reason = f"{rejected.location} rejected its part and no other location can take it: " \
                            f"{error.detail}"[:500]
        return []
    why = f"re-routed after {rejected.location} rejected it"
    plan = routing.Plan(tuple(replace(shipment, reason=f"{why}; {shipment.reason}") for shipment in plan.shipments))
    return fulfillment.create(session, order_id=order.id, channel=order.channel, request=draft.request(), result=plan,
                              destination=rejected.destination, settings=fulfillment_settings(settings), clock=clock)


def forget_customer(session: Session, *, profile_ids: Sequence[str]) -> int:
    """Erase the contact details and delivery addresses kept on a person's orders (amounts and lines stay)."""
    orders = list(session.scalars(select(Order).where(Order.customer_id.in_(profile_ids))))
    for order in orders:
        order.contact = {}
        address = order.fulfillment_request.get("address")
        if address:  # keep the country (sales by country stay right), drop the rest
            order.fulfillment_request = {**order.fulfillment_request, "address": {
                "line1": ERASED, "city": ERASED, "postal_code": ERASED, "country": address.get("country", "ZZ")}}
    if orders:
        fulfillment.forget_destinations(session, order_ids=[order.id for order in orders])
    return len(orders)
