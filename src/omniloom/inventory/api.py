"""HTTP endpoints of the inventory module: locations, the stock ledger, levels, availability, reservations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from omniloom.inventory import schemas, service
from omniloom.inventory.group_commit import ReservationBatcher
from omniloom.platform.auth import Principal
from omniloom.platform.clock import Clock
from omniloom.platform.errors import Forbidden
from omniloom.platform.fast_lane import LaneAnswer, LaneRequest
from omniloom.platform.http import (
    DEFAULT_PAGE_LIMIT,
    PROBLEM_JSON,
    ClockDep,
    CursorQuery,
    DatabaseDep,
    LimitQuery,
    PrincipalDep,
)
from omniloom.platform.idempotency import Outcome, run_once
from omniloom.platform.pagination import Page

router = APIRouter(tags=["inventory"])

CodePath = Annotated[str, Path(max_length=64)]
SkuPath = Annotated[str, Path(max_length=64)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="Retry-safe key (≤ 255 chars).")]


def _actor(principal: Principal) -> str:
    """The ledger's actor: the id of the API key that made the change."""
    return principal.key_id


def _readable_location(principal: Principal, location: str | None) -> str | None:
    """Admin sees every location; a store associate only their own (the default for them)."""
    if principal.is_admin:
        return location
    principal.require_staff()
    own = principal.subject
    if location is not None and location != own:
        raise Forbidden(f"role '{principal.role}' may only see location '{own}'")
    return own


# ------------------------------------------------------------------------------------------------- locations


@router.post("/locations", status_code=201, response_model=schemas.LocationOut, tags=["locations"],
             summary="Create a store, warehouse or pop-up (admin)")
def create_location(data: schemas.LocationCreate, db: DatabaseDep, clock: ClockDep,
                    principal: PrincipalDep) -> schemas.LocationOut:
    principal.require_admin()
    with db.write() as session:
        return schemas.LocationOut.model_validate(service.create_location(session, data=data, clock=clock))


@router.get("/locations", response_model=Page[schemas.LocationOut], tags=["locations"], summary="List locations")
def list_locations(db: DatabaseDep, principal: PrincipalDep, type: schemas.LocationType | None = None,
                   capability: schemas.Capability | None = None, limit: LimitQuery = DEFAULT_PAGE_LIMIT,
                   cursor: CursorQuery = None) -> Page[schemas.LocationOut]:
    with db.read() as session:
        locations, next_cursor = service.list_locations(session, type=type, capability=capability, limit=limit,
                                                        cursor=cursor)
        return Page(items=[schemas.LocationOut.model_validate(location) for location in locations],
                    next_cursor=next_cursor)


@router.get("/locations/{code}", response_model=schemas.LocationOut, tags=["locations"], summary="Get a location")
def get_location(code: CodePath, db: DatabaseDep, principal: PrincipalDep) -> schemas.LocationOut:
    with db.read() as session:
        return schemas.LocationOut.model_validate(service.get_location(session, code))


@router.patch("/locations/{code}", response_model=schemas.LocationOut, tags=["locations"],
              summary="Change a location (admin)")
def update_location(code: CodePath, changes: schemas.LocationUpdate, db: DatabaseDep, clock: ClockDep,
                    principal: PrincipalDep) -> schemas.LocationOut:
    principal.require_admin()
    with db.write() as session:
        location = service.update_location(session, code=code, changes=changes, clock=clock)
        return schemas.LocationOut.model_validate(location)


# ---------------------------------------------------------------------------------------------------- ledger


@router.post("/inventory/movements", status_code=201, response_model=schemas.Movement,
             summary="Record a stock movement (admin, or the store's own key)",
             responses={409: {"description": "`insufficient-on-hand`: on-hand would go below zero or below the "
                                              "units reserved and allocated; nothing was written."}},
             description="Appends to the ledger and changes on-hand atomically. `quantity` is the signed change: "
                         "positive for receipt, return and transfer_in; negative for damage and transfer_out; "
                         "either for adjustment. A movement that would take on-hand below zero, or below the "
                         "units reserved and allocated, is refused with 409 and nothing is written.")
def record_movement(data: schemas.MovementCreate, db: DatabaseDep, clock: ClockDep,
                    principal: PrincipalDep) -> schemas.Movement:
    principal.require_store(data.location)
    with db.write() as session:
        return service.record_movement(session, sku=data.sku, location=data.location, quantity=data.quantity,
                                       reason=data.reason, actor=_actor(principal), clock=clock, note=data.note,
                                       reference=data.reference)


@router.get("/inventory/movements", response_model=Page[schemas.Movement], summary="The stock ledger, newest first")
def list_movements(db: DatabaseDep, principal: PrincipalDep, sku: str | None = None, location: str | None = None,
                   limit: LimitQuery = DEFAULT_PAGE_LIMIT, cursor: CursorQuery = None) -> Page[schemas.Movement]:
    location = _readable_location(principal, location)
    with db.read() as session:
        items, next_cursor = service.list_movements(session, sku=sku, location=location, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.put("/inventory/levels/{location}/{sku:path}", response_model=schemas.Level,
            summary="Record a cycle count (admin, or the store's own key)",
            description="The difference between the counted and the recorded on-hand becomes a `cycle_count` "
                        "movement; a count equal to the record writes nothing.")
def count_stock(location: CodePath, sku: SkuPath, data: schemas.CycleCount, db: DatabaseDep, clock: ClockDep,
                principal: PrincipalDep) -> schemas.Level:
    principal.require_store(location)
    with db.write() as session:
        return service.set_on_hand(session, location=location, sku=sku, on_hand=data.on_hand,
                                   actor=_actor(principal), clock=clock, note=data.note)


@router.get("/inventory/levels", response_model=Page[schemas.Level], summary="Stock levels per SKU and location")
def list_levels(db: DatabaseDep, clock: ClockDep, principal: PrincipalDep, sku: str | None = None,
                location: str | None = None, limit: LimitQuery = DEFAULT_PAGE_LIMIT,
                cursor: CursorQuery = None) -> Page[schemas.Level]:
    location = _readable_location(principal, location)
    with db.read() as session:
        items, next_cursor = service.list_levels(session, sku=sku, location=location, clock=clock, limit=limit,
                                                 cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


# ------------------------------------------------------------------------------------------------ availability


@router.get("/availability/{sku:path}", response_model=schemas.Availability,
            summary="What a channel may promise of a SKU, per location",
            description="Respects the channel's locations, safety stock and cap; holds past their expiry do not "
                        "count. A channel key may ask only for its own channel.")
def availability(sku: SkuPath, channel: Annotated[str, Query(max_length=64)], db: DatabaseDep, clock: ClockDep,
                 principal: PrincipalDep) -> schemas.Availability:
    if principal.kind == "channel":
        principal.require_channel(channel)
    else:
        principal.require_staff()
    with db.read() as session:
        return service.channel_availability(session, sku=sku, channel=channel, clock=clock)


# ------------------------------------------------------------------------------------------------ reservations


@router.post("/reservations", status_code=201, response_model=schemas.Reservation, tags=["reservations"],
             summary="Hold stock for a channel (admin, or the channel's own key)",
             responses={409: {"description": "`insufficient-stock`, with `lines: [{sku, requested, available}]` "
                                              "listing the lines that cannot be covered; nothing was held."}},
             description="Lines without a location are taken from the channel's locations in preference order, "
                         "split if needed. When any line cannot be covered in full nothing is held and the answer "
                         "is 409 `insufficient-stock` listing the short lines. Accepts `Idempotency-Key`.")
async def create_reservation(request: Request, data: schemas.ReservationCreate, principal: PrincipalDep,
                             idempotency_key: IdempotencyKey = None) -> Response:
    # Without an Idempotency-Key the application's fast lane answers this endpoint (reserve_in_lane, below).
    state = request.app.state
    if idempotency_key is None:
        reservation = await _reserve_grouped(state, data, principal)
        return Response(reservation.model_dump_json(), status_code=201, media_type="application/json")
    principal.require_channel(data.channel)
    order = _order(state, data, principal)
    clock: Clock = state.clock

    def effect(session: Session) -> Outcome:
        reservation = service.reserve(session, channel=order.channel, lines=order.lines,
                                      ttl_seconds=order.ttl_seconds, actor=order.actor, clock=clock,
                                      reference=order.reference)
        return Outcome(201, reservation.model_dump(mode="json"))

    outcome = await run_in_threadpool(run_once, state.database, scope=f"reservations:{principal.role}",
                                      key=idempotency_key, body=data.model_dump(mode="json"), clock=clock,
                                      effect=effect)
    return _respond(outcome, instance=request.url.path)


async def reserve_in_lane(request: LaneRequest) -> LaneAnswer | None:
    """``POST /reservations`` on the fast lane: the same checks and answers as ``create_reservation``, whose
    dependencies and routing cost more than the reservation itself. Passes on requests with an Idempotency-Key
    (they go through ``run_once``) and bodies not declared JSON (FastAPI refuses those)."""
    if request.header("idempotency-key") is not None or not request.sends_json():
        return None
    body = await request.body()
    principal = await request.principal()
    data = request.parse(schemas.ReservationCreate, body)
    reservation = await _reserve_grouped(request.state, data, principal)
    return LaneAnswer(201, reservation.model_dump_json().encode())


async def _reserve_grouped(state: State, data: schemas.ReservationCreate,
                           principal: Principal) -> schemas.Reservation:
    """Reserve through the process's group commit (``group_commit.ReservationBatcher``)."""
    principal.require_channel(data.channel)
    return await _batcher(state).reserve(_order(state, data, principal))


def _order(state: State, data: schemas.ReservationCreate, principal: Principal) -> service.ReservationOrder:
    return service.ReservationOrder(channel=data.channel, lines=data.lines,
                                    ttl_seconds=data.ttl_seconds or state.settings.reservation_ttl_seconds,
                                    actor=_actor(principal), reference=data.reference)


def _batcher(state: State) -> ReservationBatcher:
    """The application's reservation batcher, made on first use (one per process)."""
    batcher: ReservationBatcher | None = getattr(state, "reservation_batcher", None)
    if batcher is None:
        batcher = state.reservation_batcher = ReservationBatcher(state.database, state.clock)
    return batcher


@router.get("/reservations/{reservation_id}", response_model=schemas.Reservation, tags=["reservations"],
            summary="Get a reservation")
def get_reservation(reservation_id: Annotated[str, Path(max_length=40)], db: DatabaseDep, clock: ClockDep,
                    principal: PrincipalDep) -> schemas.Reservation:
    with db.read() as session:
        reservation = service.get_reservation(session, reservation_id=reservation_id, clock=clock)
    principal.require_channel(reservation.channel)
    return reservation


@router.delete("/reservations/{reservation_id}", response_model=schemas.Reservation, tags=["reservations"],
               summary="Release a reservation",
               description="Gives the held units back. Releasing one that is already released or expired changes "
                           "nothing and returns its state.")
def release_reservation(reservation_id: Annotated[str, Path(max_length=40)], db: DatabaseDep, clock: ClockDep,
                        principal: PrincipalDep) -> schemas.Reservation:
    with db.write() as session:
        current = service.get_reservation(session, reservation_id=reservation_id, clock=clock)
        principal.require_channel(current.channel)
        return service.release_reservation(session, reservation_id=reservation_id, clock=clock)


def _respond(outcome: Outcome, *, instance: str) -> JSONResponse:
    """The stored or fresh outcome; a replayed problem answers exactly like the first one did."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    if outcome.status_code >= 400:
        problem: dict[str, Any] = {**outcome.body, "instance": instance}
        return JSONResponse(problem, status_code=outcome.status_code, headers=headers, media_type=PROBLEM_JSON)
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
