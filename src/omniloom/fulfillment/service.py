"""The fulfillment module's public functions: routing an order to locations, holding its stock, and moving each
fulfillment through its state machine (with the stock effects of each step)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, case, func, insert, select, update
from sqlalchemy.orm import Session

from omniloom.fulfillment import lifecycle, routing
from omniloom.fulfillment.errors import FulfillmentNotFound, NoRoute, TransitionNotAllowed
from omniloom.fulfillment.events import (
    CustomerCheckedIn,
    FulfilledLine,
    FulfillmentCancelled,
    FulfillmentCreated,
    FulfillmentEvent,
    FulfillmentExpired,
    FulfillmentPickedUp,
    FulfillmentReadyForPickup,
    FulfillmentRejected,
    FulfillmentShipped,
    FulfillmentStatusChanged,
)
from omniloom.fulfillment.models import Fulfillment, FulfillmentLine

__all__ = ["Fulfillment"]  # the row type other modules receive (they never query the table themselves)
from omniloom.inventory import allocations
from omniloom.inventory import service as inventory
from omniloom.inventory.availability import ChannelPolicy
from omniloom.inventory.errors import LocationNotFound, SkuNotFound
from omniloom.inventory.schemas import ReservationLineIn
from omniloom.platform.clock import Clock
from omniloom.platform.errors import InvalidInput
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import OutboxEvent, outbox_row, record
from omniloom.platform.pagination import decode_cursor, encode_cursor

_FULFILLMENTS = cast(Table, Fulfillment.__table__)
_LINES = cast(Table, FulfillmentLine.__table__)
HOLD_SECONDS = 60  # a routing hold is converted to an allocation at once; this only bounds a crash in between
OPEN = tuple(lifecycle.HOLDS_STOCK)


@dataclass(frozen=True)
class Request:
    """Where the goods go: delivered to ``destination`` (coordinates optional), or collected at ``store``."""

    method: str
    store: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Settings:
    preparation: timedelta
    pickup_window: timedelta
    daily_capacity: int


# ---------------------------------------------------------------------------------------------- routing


def _workloads(session: Session, codes: Sequence[str], capacity: int) -> dict[str, float]:
    rows = session.execute(select(Fulfillment.location, func.count()).where(
        Fulfillment.location.in_(codes), Fulfillment.status.in_(OPEN)).group_by(Fulfillment.location))
    return {row[0]: row[1] / capacity for row in rows}


def candidates(session: Session, *, channel: str, skus: Sequence[str], capacity: int, clock: Clock,
               policy: ChannelPolicy | None = None) -> list[routing.Candidate]:
    """The channel's locations with what each may promise of ``skus`` (safety stock already taken off).

    ``policy``: the channel's inventory policy when the caller has read it already."""
    policy = policy or inventory.channel_policy(session, channel)
    available: dict[str, dict[str, int]] = {code: {} for code in policy.location_codes}
    for sku in sorted(set(skus)):
        try:
            shares = inventory.channel_availability(session, sku=sku, channel=channel, clock=clock,
                                                    policy=policy).locations
        except SkuNotFound:
            continue
        for share in shares:
            if share.location in available and share.available > 0:
                available[share.location][sku] = share.available
    workloads = _workloads(session, list(available), capacity)
    locations = inventory.locations_by_code(session, list(available))
    found = []
    for code in available:
        location = locations.get(code)
        if location is not None and location.active:
            found.append(routing.Candidate(
                code=code, latitude=location.latitude, longitude=location.longitude, priority=location.priority,
                workload=workloads.get(code, 0.0), can_ship="ship" in location.capabilities,
                available=available[code]))
    return found


def plan(session: Session, *, channel: str, lines: Sequence[routing.Line], request: Request, capacity: int,
         clock: Clock, excluded: Sequence[str] = (), policy: ChannelPolicy | None = None) -> routing.Plan:
    """The cheapest way to fulfil ``lines`` for this request; raises NoRoute naming the short SKUs."""
    found = candidates(session, channel=channel, skus=[line.sku for line in lines], capacity=capacity, clock=clock,
                       policy=policy)
    if excluded:  # locations that rejected the work: their stock does not count (a store stays the destination)
        found = [c if c.code not in excluded else routing.Candidate(
            code=c.code, latitude=c.latitude, longitude=c.longitude, priority=c.priority, workload=c.workload,
            can_ship=False, available={}) for c in found]
    if request.method == "ship":
        result = _plan_delivery(lines, request, found)
    else:
        assert request.store is not None
        result = _plan_pickup(session, lines, request, found, channel=channel)
    if not result.complete:
        raise NoRoute("not enough stock to fulfil the order: " + ", ".join(
            f"{s.sku} ({s.available} of {s.requested})" for s in result.shortages),
            lines=[{"sku": s.sku, "requested": s.requested, "available": s.available} for s in result.shortages])
    return result


def _plan_delivery(lines: Sequence[routing.Line], request: Request, found: list[routing.Candidate]) -> routing.Plan:
    if request.latitude is not None and request.longitude is not None:
        return routing.plan_delivery(lines, routing.Destination(request.latitude, request.longitude), found)
    # Without coordinates distance cannot count: priority, workload and the number of parcels decide.
    anywhere = routing.Destination(found[0].latitude, found[0].longitude) if found else routing.Destination(0, 0)
    return routing.plan_delivery(lines, anywhere, found, routing.CostWeights(per_km=0.0))


def _plan_pickup(session: Session, lines: Sequence[routing.Line], request: Request, found: list[routing.Candidate],
                 *, channel: str) -> routing.Plan:
    store_code = request.store or ""
    try:
        location = inventory.get_location(session, store_code)
    except LocationNotFound:
        raise InvalidInput.field("fulfillment.location", f"location '{store_code}' does not exist") from None
    if request.method not in location.capabilities:
        raise InvalidInput.field("fulfillment.location", f"location '{store_code}' does not offer {request.method}")
    store = next((c for c in found if c.code == store_code), None)
    if store is None:
        raise InvalidInput.field("fulfillment.location",
                                 f"channel '{channel}' does not sell from location '{store_code}'")
    return routing.plan_pickup(lines, store, found)


def hold(session: Session, *, channel: str, result: routing.Plan, actor: str, reference: str, hold_seconds: int,
         clock: Clock, policy: ChannelPolicy | None = None) -> str:
    """Reserve the planned units where the plan takes them from (raises InsufficientStock if they went meanwhile)."""
    lines = [ReservationLineIn(sku=line.sku, quantity=line.quantity, location=shipment.location)
             for shipment in result.shipments for line in shipment.lines]
    return inventory.reserve(session, channel=channel, lines=lines, ttl_seconds=hold_seconds, actor=actor,
                             clock=clock, reference=reference, policy=policy).id


# ---------------------------------------------------------------------------------------------- creating


@dataclass(frozen=True)
class Created:
    """A fulfillment as ``create`` wrote it (``lines``: (SKU, quantity) in the order they were written)."""

    id: str
    order_id: str
    method: str
    location: str
    source_location: str | None
    status: str
    routing_reason: str
    promised_ready_at: datetime | None
    created_at: datetime
    lines: tuple[tuple[str, int], ...]


def create(session: Session, *, order_id: str, channel: str, request: Request, result: routing.Plan,
           destination: dict[str, Any], settings: Settings, clock: Clock) -> list[Created]:
    """One fulfillment per shipment of the plan, its units already allocated where the plan takes them from."""
    now = clock.now()
    hand_over = request.method != "ship"
    made = [Created(id=new_id("ful"), order_id=order_id, method=request.method,
                    location=shipment.transfer_to or shipment.location,
                    source_location=shipment.location if shipment.transfer_to is not None else None,
                    status="in_transit" if shipment.transfer_to is not None else "allocated",
                    routing_reason=shipment.reason,
                    promised_ready_at=now + settings.preparation + shipment.ready_after if hand_over else None,
                    created_at=now, lines=tuple((line.sku, line.quantity) for line in shipment.lines))
            for shipment in result.shipments]
    if not made:
        return made
    session.execute(insert(_FULFILLMENTS), [
        {"id": row.id, "order_id": order_id, "channel": channel, "method": row.method, "location": row.location,
         "source_location": row.source_location, "status": row.status, "routing_reason": row.routing_reason,
         "destination": destination if not hand_over else {}, "carrier": None, "tracking_number": None,
         "parking_spot": None, "checked_in_at": None, "promised_ready_at": row.promised_ready_at, "ready_at": None,
         "pickup_expires_at": None, "completed_at": None, "rejected_locations": [], "created_at": now,
         "updated_at": now} for row in made])
    session.execute(insert(_LINES), [{"fulfillment_id": row.id, "sku": sku, "quantity": quantity}
                                     for row in made for sku, quantity in row.lines])
    session.execute(insert(OutboxEvent), [outbox_row(FulfillmentCreated(
        fulfillment_id=row.id, order_id=order_id, channel=channel, method=row.method, location=row.location,
        status=row.status, lines=[FulfilledLine(sku=sku, quantity=quantity) for sku, quantity in row.lines],
        routing_reason=row.routing_reason, promised_ready_at=row.promised_ready_at), clock=clock) for row in made])
    return made


# ---------------------------------------------------------------------------------------------- reading


def get(session: Session, fulfillment_id: str, *, for_update: bool = False) -> Fulfillment:
    statement = select(Fulfillment).where(Fulfillment.id == fulfillment_id)
    found = session.scalars(statement.with_for_update() if for_update else statement).first()
    if found is None:
        raise FulfillmentNotFound(f"fulfillment '{fulfillment_id}' does not exist")
    return found


def lines_of(session: Session, fulfillment_id: str) -> list[FulfillmentLine]:
    return list(session.scalars(select(FulfillmentLine).where(FulfillmentLine.fulfillment_id == fulfillment_id)
                                .order_by(FulfillmentLine.id)))


def order_ids_at(location: str) -> Select[str]:
    """The ids of orders with a fulfillment at ``location`` (a subquery for the orders module's filters)."""
    return select(Fulfillment.order_id).where(Fulfillment.location == location)


def for_order(session: Session, order_id: str) -> list[Fulfillment]:
    return list(session.scalars(select(Fulfillment).where(Fulfillment.order_id == order_id)
                                .order_by(Fulfillment.created_at, Fulfillment.id)))


def queue(session: Session, *, location: str | None, status: str | None, limit: int, cursor: str | None
          ) -> tuple[list[Fulfillment], str | None]:
    """A store's work list: checked-in curbside customers first, then by promised time, then oldest first."""
    statement = select(Fulfillment)
    if location is not None:
        statement = statement.where(Fulfillment.location == location)
    statement = statement.where(Fulfillment.status == status) if status else statement.where(
        Fulfillment.status.in_(OPEN))
    order = (case((Fulfillment.checked_in_at.is_(None), 1), else_=0), Fulfillment.checked_in_at,
             Fulfillment.promised_ready_at, Fulfillment.created_at, Fulfillment.id)
    offset = int(decode_cursor(cursor)) if cursor else 0
    rows = list(session.scalars(statement.order_by(*order).offset(offset).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(str(offset + limit))


# ---------------------------------------------------------------------------------------------- moving


def _facts(session: Session, fulfillment: Fulfillment, *, lines: Sequence[tuple[str, int]] | None = None
           ) -> dict[str, Any]:
    if lines is None:
        lines = [(line.sku, line.quantity) for line in lines_of(session, fulfillment.id)]
    return {"fulfillment_id": fulfillment.id, "order_id": fulfillment.order_id, "channel": fulfillment.channel,
            "method": fulfillment.method, "location": fulfillment.location, "status": fulfillment.status,
            "lines": [FulfilledLine(sku=sku, quantity=quantity) for sku, quantity in lines]}


def transition(session: Session, *, fulfillment: Fulfillment, to: str, actor: str, settings: Settings, clock: Clock,
               carrier: str | None = None, tracking_number: str | None = None, reason: str | None = None
               ) -> Fulfillment:
    """Move a fulfillment to ``to`` if its method's state machine allows it, with the stock effects of the step."""
    current = fulfillment.status
    if not lifecycle.can_move(fulfillment.method, current, to):
        allowed = sorted(lifecycle.allowed(fulfillment.method, current))
        raise TransitionNotAllowed(
            f"a {fulfillment.method} fulfillment that is {current} cannot become {to}"
            + (f"; it can become {', '.join(allowed)}" if allowed else "; it is final"),
            current_status=current, allowed=allowed)
    if to == "shipped" and not (carrier and tracking_number):
        raise InvalidInput.field("tracking_number", "shipping needs the carrier and the tracking number")
    if to == "rejected" and not reason:
        raise InvalidInput.field("reason", "say why the location cannot fulfil it (e.g. not on the shelf)")
    now = clock.now()
    _stock_effects(session, fulfillment, to=to, actor=actor, clock=clock)
    fulfillment.status = to
    fulfillment.updated_at = now
    if to == "ready_for_pickup":
        fulfillment.ready_at = now
        fulfillment.pickup_expires_at = now + settings.pickup_window
    if to == "shipped":
        fulfillment.carrier, fulfillment.tracking_number = carrier, tracking_number
    if to in lifecycle.COMPLETED:
        fulfillment.completed_at = fulfillment.completed_at or now
    if to == "rejected":
        fulfillment.rejected_locations = [*fulfillment.rejected_locations, fulfillment.location]
    session.flush()
    _record_transition(session, fulfillment, previous=current, reason=reason, clock=clock)
    return fulfillment


def _stock_effects(session: Session, fulfillment: Fulfillment, *, to: str, actor: str, clock: Clock) -> None:
    reference = f"{fulfillment.order_id}/{fulfillment.id}"
    for line in lines_of(session, fulfillment.id):
        if to in ("shipped", "picked_up"):
            allocations.hand_over(session, sku=line.sku, location=fulfillment.location, quantity=line.quantity,
                                  actor=actor, reference=reference, clock=clock)
        elif fulfillment.status == "in_transit" and to == "allocated":
            assert fulfillment.source_location is not None
            allocations.transfer(session, sku=line.sku, source=fulfillment.source_location,
                                 target=fulfillment.location, quantity=line.quantity, actor=actor,
                                 reference=reference, clock=clock)
        elif to in ("cancelled", "expired", "rejected"):
            held_at = fulfillment.source_location if fulfillment.status == "in_transit" else fulfillment.location
            assert held_at is not None
            allocations.release(session, sku=line.sku, location=held_at, quantity=line.quantity,
                                reference=reference, clock=clock)


def _record_transition(session: Session, fulfillment: Fulfillment, *, previous: str, reason: str | None,
                       clock: Clock) -> None:
    facts = _facts(session, fulfillment)
    record(session, FulfillmentStatusChanged(**facts, previous_status=previous), clock=clock)
    specific: FulfillmentEvent | None = None
    if fulfillment.status == "ready_for_pickup":
        assert fulfillment.ready_at is not None and fulfillment.pickup_expires_at is not None
        specific = FulfillmentReadyForPickup(**facts, ready_at=fulfillment.ready_at,
                                             pickup_expires_at=fulfillment.pickup_expires_at,
                                             promised_ready_at=fulfillment.promised_ready_at)
    elif fulfillment.status == "shipped":
        assert fulfillment.carrier and fulfillment.tracking_number
        specific = FulfillmentShipped(**facts, carrier=fulfillment.carrier,
                                      tracking_number=fulfillment.tracking_number, shipped_at=clock.now())
    elif fulfillment.status == "rejected":
        specific = FulfillmentRejected(**facts, reason=reason or "")
    else:
        kinds: dict[str, type[FulfillmentEvent]] = {"picked_up": FulfillmentPickedUp,
                                                     "cancelled": FulfillmentCancelled,
                                                     "expired": FulfillmentExpired}
        kind = kinds.get(fulfillment.status)
        specific = kind(**facts) if kind else None
    if specific is not None:
        record(session, specific, clock=clock)


def check_in(session: Session, *, fulfillment: Fulfillment, parking_spot: str, clock: Clock) -> Fulfillment:
    """A curbside customer has arrived: their order goes to the top of the store's queue."""
    if fulfillment.method != "curbside":
        raise TransitionNotAllowed(f"only curbside orders check in; this one is {fulfillment.method}",
                                   current_status=fulfillment.status)
    if fulfillment.status not in lifecycle.CHECK_IN_ALLOWED:
        raise TransitionNotAllowed(f"a fulfillment that is {fulfillment.status} cannot check in",
                                   current_status=fulfillment.status)
    fulfillment.parking_spot = parking_spot
    fulfillment.checked_in_at = clock.now()
    fulfillment.updated_at = clock.now()
    session.flush()
    record(session, CustomerCheckedIn(**_facts(session, fulfillment), parking_spot=parking_spot), clock=clock)
    return fulfillment


def expire_uncollected(session: Session, *, settings: Settings, clock: Clock, limit: int = 100) -> list[Fulfillment]:
    """Pickups past their window go back to the shelf (status ``expired``); returns them."""
    due = list(session.scalars(
        select(Fulfillment).where(Fulfillment.status == "ready_for_pickup",
                                  Fulfillment.pickup_expires_at <= clock.now())
        .order_by(Fulfillment.pickup_expires_at).limit(limit).with_for_update(skip_locked=True)))
    for fulfillment in due:
        transition(session, fulfillment=fulfillment, to="expired", actor="worker", settings=settings, clock=clock)
    return due


def sla(session: Session, *, location: str | None, since: datetime) -> dict[str, Any]:
    """Pickup promise kept: how many hand-over fulfillments were ready by their promised time."""
    statement = select(Fulfillment.ready_at, Fulfillment.promised_ready_at).where(
        Fulfillment.method.in_(("pickup", "curbside")), Fulfillment.ready_at.is_not(None),
        Fulfillment.ready_at >= since)
    if location is not None:
        statement = statement.where(Fulfillment.location == location)
    rows = session.execute(statement).all()
    on_time = sum(1 for row in rows if row.promised_ready_at is None or row.ready_at <= row.promised_ready_at)
    minutes = sorted((row.ready_at - row.promised_ready_at).total_seconds() / 60 for row in rows
                     if row.promised_ready_at is not None)
    return {"ready": len(rows), "on_time": on_time, "on_time_rate": on_time / len(rows) if rows else None,
            "median_minutes_early_or_late": minutes[len(minutes) // 2] if minutes else None}


def forget_destinations(session: Session, *, order_ids: Sequence[str]) -> None:
    """Erase delivery addresses (personal data) of these orders' fulfillments."""
    session.execute(update(Fulfillment).where(Fulfillment.order_id.in_(order_ids)).values(destination={}))
