"""HTTP endpoints of the customer module: events, the 360 view, lookups, merges, consent, access, erasure,
loyalty and lifetime value.

Who may see what: admin everything; a ``store:`` key looks customers up and serves them (360, consent, loyalty);
a ``channel:`` key sends events as its channel and records consent and redemptions on it; a ``customer:`` key
only its own profile (its merged-away ids included).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from omniloom.channels import service as channels
from omniloom.customers import identifiers, lifetime, loyalty, schemas, service, view
from omniloom.customers.errors import CustomerErased, CustomerNotFound
from omniloom.customers.identifiers import IdentifierProblem
from omniloom.customers.intake import prepare_batch
from omniloom.customers.models import CustomerProfile
from omniloom.orders import service as orders
from omniloom.platform.auth import Principal
from omniloom.platform.errors import Forbidden, InvalidInput, NotFound
from omniloom.platform.http import (
    AdminDep,
    ClockDep,
    CursorQuery,
    DatabaseDep,
    LimitQuery,
    PrincipalDep,
    SettingsDep,
)
from omniloom.platform.pagination import DEFAULT_LIMIT, Page

router = APIRouter(tags=["customers"])
CustomerId = Annotated[str, Path(max_length=40, examples=["cus_01JDW7K6X1T3SQ4Q0S4Z6P5Y8C"])]
STAFF = ("admin", "store")


def _readable(session: Session, principal: Principal, customer_id: str, *, kinds: tuple[str, ...] = STAFF
              ) -> CustomerProfile:
    """The surviving profile, if this key may touch it: staff kinds, or the customer themself."""
    profile = service.resolve_profile(session, customer_id)
    if principal.kind == "customer":
        own = service.get_profile(session, principal.subject or "")
        if (own.merged_into or own.id) != profile.id:
            raise Forbidden(f"role '{principal.role}' may only see its own profile")
        return profile
    principal.require_kind(*kinds, action="see this customer")
    return profile


def _writable(session: Session, principal: Principal, customer_id: str, *, kinds: tuple[str, ...]) -> CustomerProfile:
    profile = _readable(session, principal, customer_id, kinds=kinds)
    if profile.erased_at is not None:
        raise CustomerErased(f"customer '{profile.id}' was erased; nothing more is recorded about them")
    return profile


# ---------------------------------------------------------------------------------------------- events


@router.post("/events", status_code=202, response_model=schemas.EventBatchResult,
             summary="Record up to 1,000 events from any channel (each accepted or rejected on its own)")
async def record_events(batch: schemas.EventBatch, db: DatabaseDep, clock: ClockDep, settings: SettingsDep,
                        principal: PrincipalDep) -> schemas.EventBatchResult:
    principal.require_kind("admin", "channel", action="send events")
    return await run_in_threadpool(_record_events, batch, db, clock, settings, principal)


def _record_events(batch: schemas.EventBatch, db: DatabaseDep, clock: ClockDep, settings: SettingsDep,
                   principal: Principal) -> schemas.EventBatchResult:
    with db.read() as session:
        known = channels.channel_codes(session)
    only = principal.subject if principal.kind == "channel" else None
    prepared, rejected = prepare_batch(batch.events, received_at=clock.now(), region=settings.default_phone_region,
                                       only_channel=only, known_channels=known)
    profile_ids: list[str] = []
    duplicates: set[int] = set()
    if prepared:
        recorded = service.ingest_events(db, events=prepared, guards=settings.identity_guards, clock=clock)
        profile_ids, duplicates = recorded.profile_ids, recorded.duplicates
    by_index: dict[int, str | None] = {event.index: profile for event, profile in zip(prepared, profile_ids,
                                                                                        strict=True)}
    return schemas.EventBatchResult(
        accepted=len(prepared) - len(duplicates), duplicates=len(duplicates),
        customer_ids=[by_index.get(index) for index in range(len(batch.events))],
        rejected=[schemas.RejectedEvent(index=r.index, errors=[{"field": e.field, "message": e.message}
                                                               for e in r.errors]) for r in rejected])


# ---------------------------------------------------------------------------------------------- profiles


@router.get("/customers", response_model=Page[schemas.CustomerSummaryOut],
            summary="Find a customer by email, phone, loyalty id or device id (normalised matching)")
def find_customer(db: DatabaseDep, settings: SettingsDep, principal: PrincipalDep,
                  email: Annotated[str | None, Query(max_length=320)] = None,
                  phone: Annotated[str | None, Query(max_length=64)] = None,
                  loyalty_id: Annotated[str | None, Query(max_length=120)] = None,
                  device_id: Annotated[str | None, Query(max_length=320)] = None) -> Page[schemas.CustomerSummaryOut]:
    principal.require_kind(*STAFF, action="look customers up")
    asked = {name: value for name, value in (("email", email), ("phone", phone), ("loyalty_id", loyalty_id),
                                             ("device_id", device_id)) if value is not None}
    if len(asked) != 1:
        raise InvalidInput.field("email", "give exactly one of email, phone, loyalty_id or device_id")
    (kind, raw), = asked.items()
    try:
        wanted = identifiers.from_lookup(kind, raw, region=settings.default_phone_region)
    except IdentifierProblem as problem:
        raise InvalidInput.field(kind, problem.error.message) from None
    with db.read() as session:
        try:
            profile = service.find_by_identifier(session, wanted)
        except CustomerNotFound:
            return Page(items=[], next_cursor=None)
        return Page(items=[_summary(session, profile)], next_cursor=None)


def _summary(session: Session, profile: CustomerProfile) -> schemas.CustomerSummaryOut:
    rows = service.identities(session, profile.id)
    return schemas.CustomerSummaryOut(id=profile.id, created_at=profile.created_at, identities=[
        schemas.IdentityOut.model_validate(row, from_attributes=True) for row in rows])


@router.get("/customers/{customer_id}", response_model=schemas.CustomerOut, summary="The customer 360 view")
def get_customer(customer_id: CustomerId, db: DatabaseDep, clock: ClockDep,
                 principal: PrincipalDep) -> schemas.CustomerOut:
    with db.read() as session:
        profile = _readable(session, principal, customer_id)
        return view.customer_360(session, profile, requested_id=customer_id, now=clock.now())


@router.get("/customers/{customer_id}/events", response_model=Page[schemas.EventOut],
            summary="The customer's events timeline, newest first")
def customer_events(customer_id: CustomerId, db: DatabaseDep, principal: PrincipalDep,
                    limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None) -> Page[schemas.EventOut]:
    with db.read() as session:
        profile = _readable(session, principal, customer_id)
        events, next_cursor = service.timeline(session, profile.id, limit=limit, cursor=cursor)
        return Page(items=[view.event_out(row) for row in events], next_cursor=next_cursor)


# ---------------------------------------------------------------------------------------------- merges


@router.get("/customers/{customer_id}/merges", response_model=Page[schemas.MergeOut],
            summary="Merge decisions about this customer: merged, refused by a guard rule, undone")
def customer_merges(customer_id: CustomerId, db: DatabaseDep, principal: AdminDep) -> Page[schemas.MergeOut]:
    with db.read() as session:
        profile = service.resolve_profile(session, customer_id)
        ids = {profile.id, *service.merged_ids(session, profile.id)}
        rows = {merge.id: merge for profile_id in sorted(ids) for merge in service.merges(session, profile_id)}
        ordered = sorted(rows.values(), key=lambda merge: (merge.created_at, merge.id), reverse=True)
        return Page(items=[schemas.MergeOut.model_validate(m, from_attributes=True) for m in ordered])


@router.post("/customers/merges/{merge_id}/undo", response_model=schemas.MergeOut,
             summary="Undo a merge: both profiles get back their identifiers, events, purchases, consent and points")
def undo_merge(merge_id: Annotated[str, Path(max_length=40)], db: DatabaseDep, clock: ClockDep,
               principal: AdminDep) -> schemas.MergeOut:
    with db.write() as session:
        return schemas.MergeOut.model_validate(service.undo_merge(session, merge_id=merge_id, clock=clock),
                                               from_attributes=True)


@router.put("/customer-devices/{device_id}", response_model=schemas.IdentityOut,
            summary="Flag a device as shared (a store kiosk): it never links profiles")
def set_device_shared(device_id: Annotated[str, Path(max_length=320)], data: schemas.SharedDeviceIn,
                      db: DatabaseDep, principal: AdminDep) -> schemas.IdentityOut:
    try:
        device = identifiers.device(device_id)
    except IdentifierProblem as problem:
        raise InvalidInput.field("device_id", problem.error.message) from None
    with db.write() as session:
        row = service.mark_device_shared(session, device_id=device, shared=data.shared)
        return schemas.IdentityOut.model_validate(row, from_attributes=True)


# ---------------------------------------------------------------------------------------------- consent, privacy


@router.put("/customers/{customer_id}/consents/{purpose}", response_model=schemas.ConsentOut,
            summary="Grant or withdraw consent for one purpose")
def set_consent(customer_id: CustomerId, purpose: schemas.Purpose, data: schemas.ConsentIn, db: DatabaseDep,
                clock: ClockDep, principal: PrincipalDep) -> schemas.ConsentOut:
    if principal.kind == "channel":
        if data.channel not in (None, principal.subject):
            raise Forbidden(f"role '{principal.role}' may only record consent given on its own channel")
        data = data.model_copy(update={"channel": principal.subject})
    with db.write() as session:
        profile = _writable(session, principal, customer_id, kinds=(*STAFF, "channel"))
        row = service.set_consent(session, profile_id=profile.id, purpose=purpose, data=data,
                                  actor=principal.key_id, clock=clock)
        return schemas.ConsentOut.model_validate(row, from_attributes=True)


@router.get("/customers/{customer_id}/consents", response_model=Page[schemas.ConsentHistoryOut],
            summary="The full consent history: who, when, on which channel, from which source")
def consent_history(customer_id: CustomerId, db: DatabaseDep, principal: PrincipalDep
                    ) -> Page[schemas.ConsentHistoryOut]:
    with db.read() as session:
        profile = _readable(session, principal, customer_id)
        return Page(items=[schemas.ConsentHistoryOut.model_validate(row, from_attributes=True)
                           for row in service.consent_history(session, profile.id)])


@router.get("/customers/{customer_id}/export", summary="Every piece of data held about the person (right of access)")
def export_customer(customer_id: CustomerId, db: DatabaseDep, principal: PrincipalDep) -> dict[str, object]:
    with db.read() as session:
        profile = _readable(session, principal, customer_id, kinds=("admin",))
        return service.export(session, profile.id)


@router.delete("/customers/{customer_id}", status_code=204,
               summary="Erase the person's personal data everywhere (right to be forgotten); sales facts stay")
def erase_customer(customer_id: CustomerId, db: DatabaseDep, clock: ClockDep, principal: PrincipalDep) -> Response:
    with db.write() as session:
        profile = _readable(session, principal, customer_id, kinds=("admin",))
        erased = service.erase(session, profile_id=profile.id, clock=clock)
        orders.forget_customer(session, profile_ids=erased)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- loyalty


@router.get("/customers/{customer_id}/loyalty", response_model=schemas.LoyaltyStatementOut,
            summary="Points balance, tier and the latest ledger lines")
def customer_loyalty(customer_id: CustomerId, db: DatabaseDep, clock: ClockDep,
                     principal: PrincipalDep) -> schemas.LoyaltyStatementOut:
    with db.read() as session:
        profile = _readable(session, principal, customer_id, kinds=(*STAFF, "channel"))
        standing = view.loyalty_out(session, profile.id, now=clock.now())
        lines = loyalty.entries(session, profile_id=profile.id)
        return schemas.LoyaltyStatementOut(**standing.model_dump(), entries=[
            schemas.LoyaltyEntryOut.model_validate(line, from_attributes=True) for line in lines])


@router.post("/customers/{customer_id}/loyalty/redemptions", status_code=201, response_model=schemas.RedemptionOut,
             summary="Redeem points on any channel (refused with 409 when the balance is short)")
def redeem_points(customer_id: CustomerId, data: schemas.RedemptionIn, db: DatabaseDep, clock: ClockDep,
                  principal: PrincipalDep) -> schemas.RedemptionOut:
    if principal.kind == "channel":
        principal.require_channel(data.channel)
    with db.write() as session:
        profile = _writable(session, principal, customer_id, kinds=(*STAFF, "channel"))
        reference, balance = loyalty.redeem(session, profile_id=profile.id, points=data.points, channel=data.channel,
                                            reference=data.reference, clock=clock)
        return schemas.RedemptionOut(reference=reference, points=data.points, balance=balance)


@router.get("/loyalty/program", response_model=schemas.LoyaltyProgramOut, tags=["loyalty"],
            summary="The earning rules and tiers")
def get_loyalty_program(db: DatabaseDep, principal: AdminDep) -> schemas.LoyaltyProgramOut:
    with db.read() as session:
        program = loyalty.get_program(session)
        if program is None:
            raise NotFound("no loyalty program is set up; PUT /loyalty/program creates it")
        return schemas.LoyaltyProgramOut.model_validate(program, from_attributes=True)


@router.put("/loyalty/program", response_model=schemas.LoyaltyProgramOut, tags=["loyalty"],
            summary="Set the earning rules (points per currency unit, channel multipliers) and tiers")
def put_loyalty_program(data: schemas.LoyaltyProgramIn, db: DatabaseDep, clock: ClockDep,
                        principal: AdminDep) -> schemas.LoyaltyProgramOut:
    with db.write() as session:
        return schemas.LoyaltyProgramOut.model_validate(loyalty.set_program(session, data=data, clock=clock),
                                                        from_attributes=True)


# ---------------------------------------------------------------------------------------------- lifetime value


@router.post("/analytics/clv/fit", status_code=201, response_model=schemas.ClvFitOut, tags=["analytics"],
             summary="Fit BG/NBD and Gamma-Gamma to the purchase history of every channel")
def fit_clv(data: schemas.ClvFitIn, db: DatabaseDep, clock: ClockDep, principal: AdminDep) -> schemas.ClvFitOut:
    with db.write() as session:
        return schemas.ClvFitOut.model_validate(lifetime.fit(session, data=data, clock=clock), from_attributes=True)


@router.get("/analytics/clv", response_model=schemas.ClvFitOut, tags=["analytics"],
            summary="The latest fitted lifetime-value model")
def latest_clv(db: DatabaseDep, principal: AdminDep) -> schemas.ClvFitOut:
    with db.read() as session:
        model = service.latest_clv_model(session)
        if model is None:
            raise NotFound("no lifetime-value model has been fitted; POST /analytics/clv/fit")
        return schemas.ClvFitOut.model_validate(model, from_attributes=True)
