"""HTTP endpoints of the fulfillment module: the store's queue, state transitions, curbside check-in, pickup SLA.

A ``store:`` key sees and moves only its own location's fulfillments; a ``customer:`` key may check in for its own
curbside order; admin everything.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from omniloom.fulfillment import service
from omniloom.fulfillment.errors import FulfillmentNotFound
from omniloom.orders import schemas
from omniloom.orders import service as orders
from omniloom.orders.api import own_profile
from omniloom.platform.auth import Principal
from omniloom.platform.errors import Forbidden
from omniloom.platform.http import (
    DEFAULT_PAGE_LIMIT,
    ClockDep,
    CursorQuery,
    DatabaseDep,
    LimitQuery,
    PrincipalDep,
    SettingsDep,
)
from omniloom.platform.pagination import Page

router = APIRouter(tags=["fulfillment"])
FulfillmentId = Annotated[str, Path(max_length=40)]


def _visible(session: Session, principal: Principal, row: service.Fulfillment) -> service.Fulfillment:
    """The fulfillment, if this key may touch it; others get the same 404 as a missing one."""
    if principal.is_admin or (principal.kind == "store" and principal.subject == row.location):
        return row
    if principal.kind == "customer":
        order = orders.get_order(session, row.order_id)
        if order.customer_id is not None and order.customer_id == own_profile(session, principal):
            return row
    raise FulfillmentNotFound(f"fulfillment '{row.id}' does not exist")


def _location_filter(principal: Principal, location: str | None) -> str | None:
    if principal.is_admin:
        return location
    principal.require_kind("store", action="see a store's fulfillment queue")
    if location not in (None, principal.subject):
        raise Forbidden(f"role '{principal.role}' may only see location '{principal.subject}'")
    return principal.subject


@router.get("/fulfillments", response_model=Page[schemas.FulfillmentOut],
            summary="A store's queue: checked-in curbside first, then by promised time (open work by default)")
def list_fulfillments(db: DatabaseDep, principal: PrincipalDep,
                      location: Annotated[str | None, Query(max_length=64)] = None,
                      status: Annotated[str | None, Query(max_length=30)] = None,
                      limit: LimitQuery = DEFAULT_PAGE_LIMIT, cursor: CursorQuery = None
                      ) -> Page[schemas.FulfillmentOut]:
    location = _location_filter(principal, location)
    with db.read() as session:
        rows, next_cursor = service.queue(session, location=location, status=status, limit=limit, cursor=cursor)
        return Page(items=[orders.fulfillment_out(session, row) for row in rows], next_cursor=next_cursor)


@router.get("/fulfillments/sla", summary="Pickup promises kept: ready on time, per store")
def pickup_sla(db: DatabaseDep, clock: ClockDep, principal: PrincipalDep,
               location: Annotated[str | None, Query(max_length=64)] = None,
               days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict[str, Any]:
    location = _location_filter(principal, location)
    with db.read() as session:
        since: datetime = clock.now() - timedelta(days=days)
        return {"location": location, "days": days, **service.sla(session, location=location, since=since)}


@router.get("/fulfillments/{fulfillment_id}", response_model=schemas.FulfillmentOut, summary="One fulfillment")
def get_fulfillment(fulfillment_id: FulfillmentId, db: DatabaseDep, principal: PrincipalDep
                    ) -> schemas.FulfillmentOut:
    with db.read() as session:
        return orders.fulfillment_out(session, _visible(session, principal, service.get(session, fulfillment_id)))


@router.post("/fulfillments/{fulfillment_id}/transitions", response_model=schemas.OrderOut,
             summary="Move a fulfillment on (409 naming the current state when the move is not allowed); "
                     "a rejection re-routes the lines")
def transition(fulfillment_id: FulfillmentId, data: schemas.TransitionIn, db: DatabaseDep, clock: ClockDep,
               settings: SettingsDep, principal: PrincipalDep) -> schemas.OrderOut:
    with db.write() as session:
        row = _visible(session, principal, service.get(session, fulfillment_id, for_update=True))
        if principal.kind == "customer":
            raise Forbidden(f"role '{principal.role}' may not move fulfillments")
        order = orders.get_order(session, row.order_id, for_update=True)
        service.transition(session, fulfillment=row, to=data.to, actor=principal.key_id,
                           settings=orders.fulfillment_settings(settings), clock=clock, carrier=data.carrier,
                           tracking_number=data.tracking_number, reason=data.reason)
        if data.to == "rejected":
            orders.reroute(session, order=order, rejected=row, actor=principal.key_id, settings=settings, clock=clock)
        orders.refresh_status(session, order=order, clock=clock)
        return orders.order_out(session, order)


@router.post("/fulfillments/{fulfillment_id}/checkin", response_model=schemas.FulfillmentOut,
             summary="Curbside arrival: the order goes to the top of the store's queue")
def check_in(fulfillment_id: FulfillmentId, data: schemas.CheckinIn, db: DatabaseDep, clock: ClockDep,
             principal: PrincipalDep) -> schemas.FulfillmentOut:
    with db.write() as session:
        row = _visible(session, principal, service.get(session, fulfillment_id, for_update=True))
        service.check_in(session, fulfillment=row, parking_spot=data.parking_spot, clock=clock)
        return orders.fulfillment_out(session, row)
