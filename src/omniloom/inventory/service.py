"""Inventory services: locations, the stock ledger, levels, availability and reservations.

Stock counters change only through conditional atomic UPDATEs whose WHERE clause re-checks the stock, so
concurrent writers (threads, processes, machines) can never oversell. Every transaction takes its locks in one
order, reservation rows (by key) before level rows (by key), so writers never deadlock; levels that are read and
then written are locked FOR NO KEY UPDATE, which the foreign-key locks of pending reservation lines do not block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, cast

import orjson
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Row,
    Select,
    String,
    Subquery,
    Table,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniloom.catalog.service import missing_skus
from omniloom.channels.errors import ChannelNotFound
from omniloom.channels.service import INVENTORY_POLICIES_SQL, inventory_policy
from omniloom.inventory import schemas
from omniloom.inventory.availability import (
    Candidate,
    ChannelPolicy,
    Demand,
    Plan,
    channel_contribution,
    channel_total,
    location_available,
    merge_demands,
    plan_reservation,
)
from omniloom.inventory.errors import (
    InsufficientOnHand,
    InsufficientStock,
    LocationCodeTaken,
    LocationNotFound,
    ReservationNotActive,
    ReservationNotFound,
    SkuNotFound,
)
from omniloom.inventory.events import (
    HeldLine,
    InventoryChanged,
    LocationCreated,
    LocationUpdated,
    ReservationConverted,
    ReservationCreated,
    ReservationExpired,
    ReservationReleased,
)
from omniloom.inventory.ledger import CYCLE_COUNT, MAX_ON_HAND, MovementReason, sign_problem
from omniloom.inventory.models import InventoryLevel, InventoryMovement, Location, Reservation, ReservationLine
from omniloom.platform.clock import Clock
from omniloom.platform.db import UTCDateTime, driver_rows, json_rows
from omniloom.platform.errors import FieldError, InvalidInput, OmniloomError
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import outbox_row, record
from omniloom.platform.pagination import decode_cursor, encode_cursor, paginate

_LOCATIONS = cast(Table, Location.__table__)
_LEVELS = cast(Table, InventoryLevel.__table__)
_MOVEMENTS = cast(Table, InventoryMovement.__table__)
_RESERVATIONS = cast(Table, Reservation.__table__)
_LINES = cast(Table, ReservationLine.__table__)
CLAIM_BATCH = 500
_AnyRow = Row[*tuple[Any, ...]]

# A literal (not a bound parameter) so SQLite and PostgreSQL use the partial index on active reservations.
_ACTIVE = _RESERVATIONS.c.status == literal_column("'active'")
_NOW = bindparam("now", type_=UTCDateTime())
_FREE = _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.allocated
_HOLD = (
    update(_LEVELS)
    .where(_LEVELS.c.id == bindparam("level_id"), _FREE - bindparam("safety") >= bindparam("quantity"))
    .values(reserved=_LEVELS.c.reserved + bindparam("quantity"), updated_at=_NOW)
)
# A hold that lost a race is rolled back to this savepoint, which on PostgreSQL also drops the row locks it
# took, so the slow path can lock rows in key order. It is never released: the commit ends it.
_HOLD_SAVEPOINT = "reservation_hold"
# PostgreSQL: one statement takes the units of one or several reservations and, only when every planned level
# has them, writes the reservations, their lines and their events; when one level lacks them it writes nothing at
# all, so the statement can commit on its own (``Database.autocommit``). The levels are locked in key order first
# (``locked``, so concurrent holds of several levels never deadlock) and checked as they are once locked (a locking
# read returns a row's newest version, after waiting for its writer). Holds of several reservations on one level are
# summed and checked against the largest safety stock among them: when that sum fits, each of them would have
# fitted taken one after the other. The rows come as three JSON documents, which cost the driver nothing to send,
# whatever the size of the batch; the level ids are turned into arrays (``= ANY(ARRAY(...))``) so that the levels are
# found by key, not by a scan.
_HOLD_AND_WRITE = """
WITH line AS (
    SELECT * FROM json_to_recordset(%(lines)s::json)
        AS line (reservation_id text, level_id integer, sku text, location_id text, quantity integer, safety integer)
), wanted AS (
    SELECT level_id, sum(quantity) AS quantity, max(safety) AS safety FROM line GROUP BY level_id
), locked AS (
    SELECT id, on_hand - reserved - allocated AS free FROM inventory_levels
    WHERE id = ANY(ARRAY(SELECT level_id FROM wanted)) ORDER BY id FOR NO KEY UPDATE
), complete AS (
    SELECT count(*) = (SELECT count(*) FROM wanted) AS every_level_held
    FROM locked JOIN wanted ON wanted.level_id = locked.id
    WHERE locked.free - wanted.safety >= wanted.quantity
), held AS (
    UPDATE inventory_levels AS level
    SET reserved = level.reserved + wanted.quantity, updated_at = %(now)s
    FROM wanted
    WHERE (SELECT every_level_held FROM complete)
      AND level.id = ANY(ARRAY(SELECT id FROM locked)) AND level.id = wanted.level_id
), reservation AS (
    INSERT INTO reservations (id, channel_code, status, reference, actor, expires_at, created_at)
    SELECT id, channel, 'active', reference, actor, expires_at, %(now)s
    FROM json_to_recordset(%(reservations)s::json)
        AS reservation (id text, channel text, reference text, actor text, expires_at timestamptz)
    WHERE (SELECT every_level_held FROM complete)
    RETURNING id
), written_line AS (
    INSERT INTO reservation_lines (reservation_id, level_id, sku, location_id, quantity)
    SELECT reservation_id, level_id, sku, location_id, quantity FROM line
    WHERE (SELECT every_level_held FROM complete)
), event AS (
    INSERT INTO outbox_events (event_id, type, version, subject, payload, occurred_at)
    SELECT event_id, type, version, subject, payload, occurred_at
    FROM json_to_recordset(%(events)s::json)
        AS event (event_id text, type text, version integer, subject text, payload jsonb, occurred_at timestamptz)
    WHERE (SELECT every_level_held FROM complete)
)
SELECT count(*) FROM reservation
"""
_SNAPSHOT = (
    select(_LEVELS.c.id, _LEVELS.c.sku, _LOCATIONS.c.code, _LEVELS.c.location_id, _FREE.label("free"))
    .join_from(_LEVELS, _LOCATIONS, _LOCATIONS.c.id == _LEVELS.c.location_id)
    .where(_LEVELS.c.sku.in_(bindparam("skus", expanding=True)),
           _LOCATIONS.c.code.in_(bindparam("codes", expanding=True)), _LOCATIONS.c.active.is_(True))
)
_LOCKED_SNAPSHOT = _SNAPSHOT.where(_LEVELS.c.id.in_(bindparam("level_ids", expanding=True)))
# PostgreSQL: what a batch of reservations reads, in one round trip: the policies of its channels and the levels of
# its SKUs at those channels' active locations, as two JSON documents. Its parameters are JSON arrays, not SQL
# arrays: the planner cannot see into them, so the plan does not depend on them and, once the driver has prepared
# the statement, PostgreSQL keeps one generic plan instead of planning every batch again (0.5 ms of its time).
_BATCH_FACTS = f"""
WITH policy AS ({INVENTORY_POLICIES_SQL}),
code AS (SELECT DISTINCT jsonb_array_elements_text(location_codes) AS code FROM policy)
SELECT (SELECT coalesce(json_agg(json_build_array(code, location_codes, safety_stock, max_exposed, active)), '[]')
        FROM policy)::text AS policies,
       (SELECT coalesce(json_agg(json_build_array(level.id, level.sku, level.code, level.location_id,
                                                  level.free)), '[]')
        FROM json_array_elements_text(%(skus)s::json) AS wanted (sku)
        CROSS JOIN LATERAL (
            SELECT level.id, level.sku, location.code, level.location_id,
                   level.on_hand - level.reserved - level.allocated AS free
            FROM inventory_levels AS level JOIN locations AS location ON location.id = level.location_id
            WHERE level.sku = wanted.sku AND location.active AND location.code IN (SELECT code FROM code)
            OFFSET 0
        ) AS level)::text AS levels
"""
_INSERT_RESERVATION = insert(_RESERVATIONS)
_INSERT_LINE = insert(_LINES)
_RELEASE = (
    update(_LEVELS).where(_LEVELS.c.id == bindparam("level_id"))
    .values(reserved=_LEVELS.c.reserved - bindparam("quantity"), updated_at=_NOW)
)
_ALLOCATE = (
    update(_LEVELS).where(_LEVELS.c.id == bindparam("level_id"))
    .values(reserved=_LEVELS.c.reserved - bindparam("quantity"), allocated=_LEVELS.c.allocated + bindparam("quantity"),
            updated_at=_NOW)
)

def _lapsed_holds(*, of_sku: bool) -> Subquery:
    """Units per level still counted in ``reserved`` although their reservation is past its expiry (``:now``).

    Few holds are ever lapsed (the worker releases them), so the planner can start from the partial index on
    active reservations; for one SKU (``:sku``) it may instead start from that SKU's levels.
    """
    statement = (
        select(_LINES.c.level_id, func.sum(_LINES.c.quantity).label("held"))
        .join_from(_LINES, _RESERVATIONS, _RESERVATIONS.c.id == _LINES.c.reservation_id)
        .where(_ACTIVE, _RESERVATIONS.c.expires_at <= _NOW)
        .group_by(_LINES.c.level_id)
    )
    if of_sku:
        held_level = _LEVELS.alias("held_level")
        statement = (statement.join(held_level, held_level.c.id == _LINES.c.level_id)
                     .where(held_level.c.sku == bindparam("sku")))
    return statement.subquery("lapsed")


def _offers(capability: str) -> ColumnElement[bool]:
    # Capabilities are a JSON list of fixed words, so the quoted word matches on every backend.
    return sql_cast(_LOCATIONS.c.capabilities, String).contains(f'"{capability}"')


_LAPSED = _lapsed_holds(of_sku=False)
_LAPSED_OF_SKU = _lapsed_holds(of_sku=True)
_CHANNEL_STOCK = (
    select(_LOCATIONS.c.code, _offers("pickup").label("pickup"), _offers("curbside").label("curbside"),
           _LEVELS.c.on_hand, _LEVELS.c.reserved, _LEVELS.c.allocated,
           func.coalesce(_LAPSED_OF_SKU.c.held, 0).label("lapsed"))
    .select_from(_LOCATIONS)
    .outerjoin(_LEVELS, and_(_LEVELS.c.location_id == _LOCATIONS.c.id, _LEVELS.c.sku == bindparam("sku")))
    .outerjoin(_LAPSED_OF_SKU, _LAPSED_OF_SKU.c.level_id == _LEVELS.c.id)
    .where(_LOCATIONS.c.code.in_(bindparam("codes", expanding=True)), _LOCATIONS.c.active.is_(True))
)
# PostgreSQL: ``_CHANNEL_STOCK`` as one fixed text run through the driver, the location codes a JSON array. The
# expanding IN made SQLAlchemy render, and psycopg parse, a new text of the statement on every call (about a
# millisecond for a channel of 50 locations), and a JSON parameter lets the prepared statement keep one generic plan.
_CHANNEL_STOCK_OF_JSON = """
SELECT location.code, location.capabilities::text LIKE '%%"pickup"%%' AS pickup,
       location.capabilities::text LIKE '%%"curbside"%%' AS curbside,
       level.on_hand, level.reserved, level.allocated, coalesce(lapsed.held, 0) AS lapsed
FROM locations AS location
LEFT JOIN inventory_levels AS level ON level.location_id = location.id AND level.sku = %(sku)s
LEFT JOIN (
    SELECT line.level_id, sum(line.quantity) AS held
    FROM reservation_lines AS line
    JOIN reservations AS reservation ON reservation.id = line.reservation_id
    JOIN inventory_levels AS held_level ON held_level.id = line.level_id
    WHERE reservation.status = 'active' AND reservation.expires_at <= %(now)s AND held_level.sku = %(sku)s
    GROUP BY line.level_id
) AS lapsed ON lapsed.level_id = level.id
WHERE location.active AND location.code IN (SELECT json_array_elements_text(%(codes)s::json))
"""
_LOCATION_STOCK = (
    select(_LEVELS.c.sku, _LEVELS.c.on_hand, _LEVELS.c.reserved, _LEVELS.c.allocated,
           func.coalesce(_LAPSED.c.held, 0).label("lapsed"))
    .join_from(_LEVELS, _LOCATIONS, _LOCATIONS.c.id == _LEVELS.c.location_id)
    .outerjoin(_LAPSED, _LAPSED.c.level_id == _LEVELS.c.id)
    .where(_LOCATIONS.c.code == bindparam("code"))
    .order_by(_LEVELS.c.sku)
)

# ------------------------------------------------------------------------------------------------- locations


def get_location(session: Session, code: str) -> Location:
    """The location with this code; raises LocationNotFound."""
    location = session.scalars(select(Location).where(Location.code == code)).one_or_none()
    if location is None:
        raise LocationNotFound(code)
    return location


def locations_by_code(session: Session, codes: Sequence[str]) -> dict[str, Location]:
    """The locations with these codes, in one query (unknown codes are absent)."""
    return {location.code: location for location in session.scalars(select(Location).where(Location.code.in_(codes)))}


def create_location(session: Session, *, data: schemas.LocationCreate, clock: Clock) -> Location:
    """Add a store, warehouse or pop-up; raises LocationCodeTaken when the code is in use."""
    now = clock.now()
    location = Location(id=new_id("loc"), **data.model_dump(mode="json"), active=True, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(location)
    except IntegrityError:
        raise LocationCodeTaken(data.code) from None
    record(session, LocationCreated(**_location_facts(location)), clock=clock)
    return location


def list_locations(session: Session, *, type: str | None = None, capability: str | None = None, limit: int,
                   cursor: str | None = None) -> tuple[Sequence[Location], str | None]:
    """Locations ordered by code, optionally of one type or with one capability; one page after ``cursor``."""
    statement = select(Location)
    if type is not None:
        statement = statement.where(Location.type == type)
    if capability is not None:
        statement = statement.where(_offers(capability))
    return paginate(session, statement, key=Location.code, limit=limit, cursor=cursor)


def update_location(session: Session, *, code: str, changes: schemas.LocationUpdate, clock: Clock) -> Location:
    """Change the fields sent in ``changes``; records ``location.updated`` when anything changed."""
    location = get_location(session, code)
    changed = False
    for name, value in changes.model_dump(mode="json", include=changes.model_fields_set).items():
        if value is None:
            raise InvalidInput.field(name, "must not be null; leave the field out to keep its value")
        if getattr(location, name) != value:
            setattr(location, name, value)
            changed = True
    if changed:
        location.updated_at = clock.now()
        record(session, LocationUpdated(**_location_facts(location)), clock=clock)
    return location


def _location_facts(location: Location) -> dict[str, Any]:
    return {"code": location.code, "name": location.name, "type": location.type,
            "capabilities": location.capabilities, "latitude": location.latitude,
            "longitude": location.longitude, "active": location.active}


def _location_id(session: Session, code: str) -> str | None:
    return session.scalar(select(_LOCATIONS.c.id).where(_LOCATIONS.c.code == code))


# ---------------------------------------------------------------------------------------------------- ledger


def record_movement(session: Session, *, sku: str, location: str, quantity: int, reason: MovementReason,
                    actor: str, clock: Clock, note: str | None = None,
                    reference: str | None = None) -> schemas.Movement:
    """Append a movement to the ledger and apply it to on-hand; raises InsufficientOnHand, writing nothing."""
    problem = sign_problem(reason, quantity)
    if problem:
        raise InvalidInput.field("quantity", problem)
    location_id = _location_id(session, location)
    if location_id is None:
        raise InvalidInput.field("location", f"location '{location}' does not exist")
    if missing_skus(session, [sku]):
        raise InvalidInput.field("sku", f"SKU '{sku}' is not in the catalog")
    return _move(session, _Movement(sku, location, location_id, quantity, reason, actor, note, reference), clock)


def set_on_hand(session: Session, *, location: str, sku: str, on_hand: int, actor: str, clock: Clock,
                note: str | None = None) -> schemas.Level:
    """Record a cycle count: the difference to the counted units becomes a ``cycle_count`` movement."""
    location_id = _location_id(session, location)
    if location_id is None:
        raise LocationNotFound(location, field="location")
    if missing_skus(session, [sku]):
        raise SkuNotFound(sku)
    now = clock.now()
    current = _locked_on_hand(session, sku=sku, location_id=location_id)
    if current is None and on_hand > 0:
        _create_level(session, sku=sku, location_id=location_id, now=now)
        current = _locked_on_hand(session, sku=sku, location_id=location_id)
    difference = on_hand - (current or 0)
    if difference:
        _move(session, _Movement(sku, location, location_id, difference, CYCLE_COUNT, actor, note, None), clock)
    levels, _ = list_levels(session, sku=sku, location=location, clock=clock, limit=1)
    return levels[0] if levels else schemas.Level(sku=sku, location=location, on_hand=0, reserved=0, allocated=0,
                                                  available=0)


def list_movements(session: Session, *, sku: str | None = None, location: str | None = None, limit: int,
                   cursor: str | None = None) -> tuple[list[schemas.Movement], str | None]:
    """The ledger, newest first, optionally for one SKU and/or location; one page after ``cursor``."""
    statement = (
        select(_MOVEMENTS, _LOCATIONS.c.code)
        .join_from(_MOVEMENTS, _LOCATIONS, _LOCATIONS.c.id == _MOVEMENTS.c.location_id)
        .order_by(_MOVEMENTS.c.seq.desc())
        .limit(limit + 1)
    )
    if sku is not None:
        statement = statement.where(_MOVEMENTS.c.sku == sku)
    if location is not None:
        statement = statement.where(_LOCATIONS.c.code == location)
    if cursor is not None:
        statement = statement.where(_MOVEMENTS.c.seq < _position(cursor))
    rows = session.execute(statement).all()
    movements = [
        schemas.Movement(id=row.id, sku=row.sku, location=row.code, quantity=row.quantity, reason=row.reason,
                         note=row.note, reference=row.reference, on_hand_after=row.on_hand_after, actor=row.actor,
                         created_at=row.created_at)
        for row in rows[:limit]
    ]
    return movements, (encode_cursor(str(rows[limit - 1].seq)) if len(rows) > limit else None)


def list_levels(session: Session, *, sku: str | None = None, location: str | None = None, clock: Clock, limit: int,
                cursor: str | None = None) -> tuple[list[schemas.Level], str | None]:
    """Stock levels, optionally for one SKU and/or location; holds past their expiry do not count as reserved."""
    lapsed = _LAPSED_OF_SKU if sku is not None else _LAPSED
    statement = (
        select(_LEVELS.c.id, _LEVELS.c.sku, _LOCATIONS.c.code, _LEVELS.c.on_hand, _LEVELS.c.reserved,
               _LEVELS.c.allocated, func.coalesce(lapsed.c.held, 0).label("lapsed"))
        .join_from(_LEVELS, _LOCATIONS, _LOCATIONS.c.id == _LEVELS.c.location_id)
        .outerjoin(lapsed, lapsed.c.level_id == _LEVELS.c.id)
        .order_by(_LEVELS.c.id)
        .limit(limit + 1)
    )
    if sku is not None:
        statement = statement.where(_LEVELS.c.sku == sku)
    if location is not None:
        statement = statement.where(_LOCATIONS.c.code == location)
    if cursor is not None:
        statement = statement.where(_LEVELS.c.id > _position(cursor))
    rows = session.execute(statement, {"now": clock.now(), "sku": sku}).all()
    levels = [
        schemas.Level(sku=row.sku, location=row.code, on_hand=row.on_hand, reserved=row.reserved - row.lapsed,
                      allocated=row.allocated,
                      available=location_available(on_hand=row.on_hand, reserved=row.reserved,
                                                   allocated=row.allocated, expired_holds=row.lapsed))
        for row in rows[:limit]
    ]
    return levels, (encode_cursor(str(rows[limit - 1].id)) if len(rows) > limit else None)


@dataclass(frozen=True)
class _Movement:
    sku: str
    location: str
    location_id: str
    quantity: int
    reason: str
    actor: str
    note: str | None
    reference: str | None


def _move(session: Session, movement: _Movement, clock: Clock) -> schemas.Movement:
    now = clock.now()
    counters = _change_on_hand(session, movement, now)
    if counters is None and movement.quantity > 0:
        _create_level(session, sku=movement.sku, location_id=movement.location_id, now=now)
        counters = _change_on_hand(session, movement, now)
    if counters is None:
        raise _on_hand_conflict(session, movement)
    written = schemas.Movement(
        id=new_id("mov"), sku=movement.sku, location=movement.location, quantity=movement.quantity,
        reason=movement.reason, note=movement.note, reference=movement.reference, on_hand_after=counters.on_hand,
        actor=movement.actor, created_at=now,
    )
    session.execute(insert(_MOVEMENTS), {
        "id": written.id, "sku": movement.sku, "location_id": movement.location_id, "quantity": movement.quantity,
        "reason": movement.reason, "note": movement.note, "reference": movement.reference,
        "actor": movement.actor, "on_hand_after": counters.on_hand, "created_at": now,
    })
    available = location_available(on_hand=counters.on_hand, reserved=counters.reserved,
                                   allocated=counters.allocated)
    record(session, InventoryChanged(movement_id=written.id, sku=movement.sku, location=movement.location,
                                     quantity=movement.quantity, on_hand=counters.on_hand, available=available,
                                     reason=movement.reason), clock=clock)
    return written


def _change_on_hand(session: Session, movement: _Movement, now: datetime) -> _AnyRow | None:
    """The one atomic, conditional change of on-hand; None when the level is missing or the stock too low."""
    new_on_hand = _LEVELS.c.on_hand + movement.quantity
    return session.execute(
        update(_LEVELS)
        .where(_LEVELS.c.sku == movement.sku, _LEVELS.c.location_id == movement.location_id,
               new_on_hand >= _LEVELS.c.reserved + _LEVELS.c.allocated, new_on_hand <= MAX_ON_HAND)
        .values(on_hand=new_on_hand, updated_at=now)
        .returning(_LEVELS.c.on_hand, _LEVELS.c.reserved, _LEVELS.c.allocated)
    ).first()


def _create_level(session: Session, *, sku: str, location_id: str, now: datetime) -> None:
    """Insert the level row unless a concurrent writer already has (no error, no duplicate)."""
    dialect = session.get_bind().dialect.name
    statement = postgresql.insert(_LEVELS) if dialect == "postgresql" else sqlite.insert(_LEVELS)
    session.execute(statement.values(
        sku=sku, location_id=location_id, on_hand=0, reserved=0, allocated=0, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["sku", "location_id"]))


def _locked_on_hand(session: Session, *, sku: str, location_id: str) -> int | None:
    """On-hand of a level, locked until the transaction ends; None when there is no level yet."""
    return session.scalar(
        select(_LEVELS.c.on_hand).where(_LEVELS.c.sku == sku, _LEVELS.c.location_id == location_id)
        .with_for_update(key_share=True)
    )


def _on_hand_conflict(session: Session, movement: _Movement) -> InsufficientOnHand:
    level = session.execute(
        select(_LEVELS.c.on_hand, _LEVELS.c.reserved, _LEVELS.c.allocated)
        .where(_LEVELS.c.sku == movement.sku, _LEVELS.c.location_id == movement.location_id)
    ).first()
    on_hand, reserved, allocated = (level.on_hand, level.reserved, level.allocated) if level else (0, 0, 0)
    after = on_hand + movement.quantity
    where = f"{movement.sku} at {movement.location}: on-hand is {on_hand}, and a change of {movement.quantity}"
    if after < 0:
        detail = f"{where} would take it to {after}; on-hand cannot go below zero"
    elif after > MAX_ON_HAND:
        detail = f"{where} would take it above the maximum of {MAX_ON_HAND}"
    else:
        detail = (f"{where} would leave {after}, fewer than the {reserved + allocated} units reserved or allocated "
                  f"({reserved} reserved, {allocated} allocated); release or fulfil them first")
    return InsufficientOnHand(detail, sku=movement.sku, location=movement.location, on_hand=on_hand,
                              reserved=reserved, allocated=allocated)


def _position(cursor: str) -> int:
    value = decode_cursor(cursor)
    if not value.isdigit():
        raise InvalidInput.field("cursor", "is not a cursor returned by this list")
    return int(value)


# ------------------------------------------------------------------------------------------------ availability


def channel_policy(session: Session, code: str) -> ChannelPolicy:
    """The inventory policy of a channel; raises ChannelNotFound."""
    code, location_codes, safety_stock, max_exposed, active = inventory_policy(session, code)
    return ChannelPolicy(code=code, location_codes=tuple(location_codes), safety_stock=safety_stock,
                         max_exposed=max_exposed, active=active)


def channel_availability(session: Session, *, sku: str, channel: str, clock: Clock,
                         policy: ChannelPolicy | None = None) -> schemas.Availability:
    """What a channel may promise of one SKU: its locations less safety stock, capped; raises SkuNotFound.

    ``policy``: the channel's policy when the caller has read it already."""
    policy = policy or channel_policy(session, channel)
    rows: Sequence[Any]
    if session.get_bind().dialect.name == "postgresql":
        rows = driver_rows(session, _CHANNEL_STOCK_OF_JSON, {"sku": sku, "codes": json_rows(policy.location_codes),
                                                             "now": clock.now()}, named=True)
    else:
        rows = session.execute(_CHANNEL_STOCK, {"sku": sku, "codes": policy.location_codes, "now": clock.now()}).all()
    if all(row.on_hand is None for row in rows) and missing_skus(session, [sku]):
        raise SkuNotFound(sku)
    by_code = {row.code: row for row in rows}
    locations = [_location_share(by_code[code], policy) for code in policy.location_codes if code in by_code]
    total = channel_total((share.available for share in locations), policy.max_exposed)
    return schemas.Availability(sku=sku, channel=policy.code, available=total, locations=locations)


def feed_stock(policy: ChannelPolicy, *, skus: Sequence[str] | None = None) -> Subquery:
    """A subquery of ``(sku, available)``: what each SKU's levels at the channel's locations add to the channel
    after its safety stock, before its cap (apply ``channel_total``). Feeds read it for every SKU at once, so
    holds past their expiry still count as reserved until the worker releases them, a second or so later.
    ``skus`` narrows it to those SKUs."""
    free = _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.allocated - literal(policy.safety_stock)
    locations = select(_LOCATIONS.c.id).where(_LOCATIONS.c.code.in_(policy.location_codes),
                                              _LOCATIONS.c.active.is_(True))
    statement = (
        select(_LEVELS.c.sku, func.sum(case((free > 0, free), else_=0)).label("available"))
        .where(_LEVELS.c.location_id.in_(locations))  # not a join: SQLite then reads no location per level
        .group_by(_LEVELS.c.sku)
    )
    return (statement if skus is None else statement.where(_LEVELS.c.sku.in_(skus))).subquery("feed_stock")


class LocationShare(NamedTuple):
    """What one location adds to a channel for one SKU, and whether it offers pickup and curbside there."""

    location: str
    available: int
    pickup: bool
    curbside: bool


def stock_by_location(session: Session, *, policy: ChannelPolicy, skus: Sequence[str], type: str | None = None
                      ) -> dict[str, list[LocationShare]]:
    """Each SKU's share at each of the channel's active locations (of one ``type``, if given) that stock it, in the
    channel's location order (one query for all ``skus``; expired holds count as in ``feed_stock``)."""
    free = _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.allocated - literal(policy.safety_stock)
    rows = session.execute(
        select(_LEVELS.c.sku, _LOCATIONS.c.code, case((free > 0, free), else_=0), _offers("pickup"),
               _offers("curbside"))
        .join_from(_LEVELS, _LOCATIONS, _LOCATIONS.c.id == _LEVELS.c.location_id)
        .where(_LOCATIONS.c.code.in_(policy.location_codes), _LOCATIONS.c.active.is_(True),
               _LEVELS.c.sku.in_(skus), _LOCATIONS.c.type == type if type else true())
    ).all()
    order = {code: index for index, code in enumerate(policy.location_codes)}
    cap = policy.max_exposed
    shares: dict[str, list[LocationShare]] = {}
    for sku, code, available, pickup, curbside in sorted(rows, key=lambda row: (row[0], order[row[1]])):
        available = available if cap is None else min(available, cap)
        shares.setdefault(sku, []).append(LocationShare(code, available, available > 0 and bool(pickup),
                                                        available > 0 and bool(curbside)))
    return shares


def pickup_locations(session: Session, *, policy: ChannelPolicy, skus: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """For each of ``skus``, the channel's locations offering pickup that have some of it for the channel, by code.

    The locations are read first and matched in Python: joined in SQL, the planner probes the levels' index once per
    location and SKU (20 × 2,000 probes for a batch of a feed), rather than once per SKU."""
    codes = dict(session.execute(
        select(_LOCATIONS.c.id, _LOCATIONS.c.code)
        .where(_LOCATIONS.c.code.in_(policy.location_codes), _LOCATIONS.c.active.is_(True), _offers("pickup"))).all())
    if not codes or not skus:
        return {}
    free = _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.allocated - literal(policy.safety_stock)
    found: dict[str, list[str]] = {}
    for sku, location_id in session.execute(select(_LEVELS.c.sku, _LEVELS.c.location_id)
                                            .where(_LEVELS.c.sku.in_(skus), free > 0)):
        if (code := codes.get(location_id)) is not None:
            found.setdefault(sku, []).append(code)
    return {sku: tuple(sorted(found_codes)) for sku, found_codes in found.items()}


def _location_share(row: _AnyRow, policy: ChannelPolicy) -> schemas.LocationAvailability:
    available = 0
    if row.on_hand is not None:
        here = location_available(on_hand=row.on_hand, reserved=row.reserved, allocated=row.allocated,
                                  expired_holds=row.lapsed)
        available = channel_total([channel_contribution(here, policy.safety_stock)], policy.max_exposed)
    return schemas.LocationAvailability(location=row.code, available=available, pickup=available > 0 and row.pickup,
                                        curbside=available > 0 and row.curbside)


def location_availability(session: Session, *, location_code: str, clock: Clock) -> list[tuple[str, int]]:
    """Every SKU stocked at a location with its available units, by SKU (one query); raises LocationNotFound."""
    rows = session.execute(_LOCATION_STOCK, {"code": location_code, "now": clock.now()}).all()
    if not rows:
        get_location(session, location_code)
    return [(sku, location_available(on_hand=on_hand, reserved=reserved, allocated=allocated, expired_holds=held))
            for sku, on_hand, reserved, allocated, held in rows]


# ------------------------------------------------------------------------------------------------ reservations


@dataclass(frozen=True)
class _Request:
    """A reservation being made: for which channel, what, by whom, until when."""

    id: str
    channel: ChannelPolicy
    lines: Sequence[schemas.ReservationLineIn]
    demands: list[Demand]
    actor: str
    reference: str | None
    now: datetime
    expires_at: datetime

    @property
    def skus(self) -> list[str]:
        return sorted({demand.sku for demand in self.demands})


@dataclass(frozen=True)
class _Snapshot:
    plan: Plan
    location_ids: dict[int, str]


def reserve(session: Session, *, channel: str, lines: Sequence[schemas.ReservationLineIn], ttl_seconds: int,
            actor: str, clock: Clock, reference: str | None = None,
            policy: ChannelPolicy | None = None) -> schemas.Reservation:
    """Hold stock for a channel until the hold expires; raises InsufficientStock, writing nothing, when short.

    ``policy``: the channel's policy when the caller has read it already."""
    request = _request(session, channel=channel, lines=lines, ttl_seconds=ttl_seconds, actor=actor,
                       reference=reference, now=clock.now(), policies={channel: policy} if policy else None)
    snapshot = _snapshot(session, request)
    if snapshot.plan.complete and _hold(session, request, snapshot, clock):
        return _reservation_out(request, snapshot.plan)
    short = [shortage.sku for shortage in snapshot.plan.shortages]
    if short and not _holds_lapsed(session, skus=short, now=request.now):
        raise _shortage(session, request, snapshot.plan)
    return _reserve_locked(session, request, clock)


@dataclass(frozen=True)
class ReservationOrder:
    """What one reservation asks for, as ``reserve_together`` takes it (the arguments of ``reserve``)."""

    channel: str
    lines: Sequence[schemas.ReservationLineIn]
    ttl_seconds: int
    actor: str
    reference: str | None = None


class HoldsTaken(Exception):
    """Another writer took units a batch of reservations was planned on; the batch must be rolled back."""


ReservationAnswer = schemas.Reservation | OmniloomError | None


def reserve_together(session: Session, orders: Sequence[ReservationOrder], *,
                     clock: Clock) -> list[ReservationAnswer]:
    """Make several reservations in the caller's transaction: one read of their levels, one write (group commit).

    Each answer is the reservation made, the error the order is refused with (nothing written for it), or None
    when the order found too little stock in the read: ``reserve`` it alone, which also releases lapsed holds.
    The orders are planned one after the other against the same read, each seeing the units of the ones before
    it taken. Raises HoldsTaken when another writer took planned units since the read; the caller rolls back
    (nothing of the batch stays) and reserves each order alone.
    """
    now = clock.now()
    policies, rows = _batch_facts(session, channels=sorted({order.channel for order in orders}),
                                  skus=sorted({line.sku for order in orders for line in order.lines}))
    requests: list[_Request | OmniloomError] = []
    for order in orders:
        try:
            requests.append(_request(session, channel=order.channel, lines=order.lines,
                                     ttl_seconds=order.ttl_seconds, actor=order.actor, reference=order.reference,
                                     now=now, policies=policies))
        except OmniloomError as error:
            requests.append(error)
    if not any(isinstance(request, _Request) for request in requests):
        return [cast(OmniloomError, request) for request in requests]
    free = {row.id: row.free for row in rows}
    by_sku: dict[str, list[_Level | _AnyRow]] = {}
    for row in rows:
        by_sku.setdefault(row.sku, []).append(row)
    answers: list[ReservationAnswer] = []
    holds: list[tuple[_Request, Plan]] = []
    for request in requests:
        if not isinstance(request, _Request):
            answers.append(request)
            continue
        safety = request.channel.safety_stock
        candidates = [Candidate(row.id, row.sku, row.code, free[row.id] - safety)
                      for sku in request.skus for row in by_sku.get(sku, ())]
        plan = plan_reservation(request.demands, candidates, location_order=request.channel.location_codes,
                                max_exposed=request.channel.max_exposed)
        if not plan.complete:
            answers.append(None)
            continue
        for allocation in plan.allocations:
            free[allocation.level_id] -= allocation.quantity
        holds.append((request, plan))
        answers.append(_reservation_out(request, plan))
    if holds and not _hold_all(session, holds, {row.id: row.location_id for row in rows}, clock):
        raise HoldsTaken
    return answers


class _Level(NamedTuple):
    id: int
    sku: str
    code: str
    location_id: str
    free: int


def _batch_facts(session: Session, *, channels: Sequence[str], skus: Sequence[str]
                 ) -> tuple[dict[str, ChannelPolicy], Sequence[_Level | _AnyRow]]:
    """The policies of those of ``channels`` that exist, and the levels of ``skus`` at their active locations."""
    if session.get_bind().dialect.name == "postgresql":
        [(policy_rows, level_rows)] = driver_rows(session, _BATCH_FACTS, {"channels": json_rows(channels),
                                                                           "skus": json_rows(skus)})
        policies = {code: ChannelPolicy(code=code, location_codes=tuple(location_codes), safety_stock=safety_stock,
                                        max_exposed=max_exposed, active=active)
                    for code, location_codes, safety_stock, max_exposed, active in orjson.loads(policy_rows)}
        return policies, [_Level(*row) for row in orjson.loads(level_rows)]
    policies = {}
    for code in channels:
        with suppress(ChannelNotFound):
            policies[code] = channel_policy(session, code)
    codes = sorted({code for policy in policies.values() for code in policy.location_codes})
    return policies, session.execute(_SNAPSHOT, {"skus": skus, "codes": codes}).all()


def _hold_all(session: Session, holds: Sequence[tuple[_Request, Plan]], location_ids: dict[int, str],
              clock: Clock) -> bool:
    if session.get_bind().dialect.name == "postgresql":
        return _hold_in_one_statement(session, holds, location_ids, clock)
    return all(_hold_step_by_step(session, request, _Snapshot(plan, location_ids), clock) for request, plan in holds)


def _request(session: Session, *, channel: str, lines: Sequence[schemas.ReservationLineIn], ttl_seconds: int,
             actor: str, reference: str | None, now: datetime,
             policies: dict[str, ChannelPolicy] | None = None) -> _Request:
    """Check the order against its channel (read once per ``policies`` cache) and merge its lines."""
    policy = policies.get(channel) if policies is not None else None
    if policy is None:
        try:
            policy = channel_policy(session, channel)
        except ChannelNotFound:
            raise InvalidInput.field("channel", f"channel '{channel}' does not exist") from None
        if policies is not None:
            policies[channel] = policy
    if not policy.active:
        raise InvalidInput.field("channel", f"channel '{channel}' is not active")
    for index, line in enumerate(lines):
        if line.location is not None and line.location not in policy.location_codes:
            raise InvalidInput.field(f"lines[{index}].location",
                                     f"'{line.location}' is not a location channel '{channel}' sells from")
    demands = merge_demands(Demand(line.sku, line.quantity, line.location) for line in lines)
    return _Request(new_id("res"), policy, lines, demands, actor, reference, now, now + timedelta(seconds=ttl_seconds))


def _snapshot(session: Session, request: _Request, *, level_ids: Sequence[int] | None = None) -> _Snapshot:
    """Plan from the counters as they are now (a plain read: the conditional UPDATEs re-check them)."""
    rows: Sequence[_Level | _AnyRow]
    parameters = {"skus": request.skus, "codes": request.channel.location_codes}
    if level_ids is not None:
        rows = session.execute(_LOCKED_SNAPSHOT, {**parameters, "level_ids": level_ids}).all()
    elif session.get_bind().dialect.name == "postgresql":  # the batch's read, which also has the channel at hand
        rows = _batch_facts(session, channels=[request.channel.code], skus=request.skus)[1]
    else:
        rows = session.execute(_SNAPSHOT, parameters).all()
    safety = request.channel.safety_stock
    candidates = [Candidate(row.id, row.sku, row.code, row.free - safety) for row in rows]
    plan = plan_reservation(request.demands, candidates, location_order=request.channel.location_codes,
                            max_exposed=request.channel.max_exposed)
    return _Snapshot(plan, {row.id: row.location_id for row in rows})


def _hold(session: Session, request: _Request, snapshot: _Snapshot, clock: Clock) -> bool:
    """Take the planned units with conditional UPDATEs and write the reservation, its lines and its event.

    Returns False, with nothing written, when another writer took the units since the snapshot.
    """
    if session.get_bind().dialect.name != "postgresql":
        return _hold_step_by_step(session, request, snapshot, clock)
    connection = session.connection()
    connection.exec_driver_sql(f"SAVEPOINT {_HOLD_SAVEPOINT}")
    if _hold_in_one_statement(session, [(request, snapshot.plan)], snapshot.location_ids, clock):
        return True
    connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_HOLD_SAVEPOINT}")
    return False


def _hold_in_one_statement(session: Session, holds: Sequence[tuple[_Request, Plan]], location_ids: dict[int, str],
                           clock: Clock) -> bool:
    """PostgreSQL: ``_HOLD_AND_WRITE`` for every (request, complete plan); False when it wrote nothing.

    Nothing is written unless every level had its units; the levels it did change stay changed until the caller
    rolls back (to a savepoint, or the whole transaction).
    """
    reservations = [{"id": request.id, "channel": request.channel.code, "reference": request.reference,
                     "actor": request.actor, "expires_at": request.expires_at} for request, _ in holds]
    lines = [{"reservation_id": request.id, "level_id": allocation.level_id, "sku": allocation.sku,
              "location_id": location_ids[allocation.level_id], "quantity": allocation.quantity,
              "safety": request.channel.safety_stock}
             for request, plan in holds for allocation in plan.allocations]
    events = [outbox_row(_created_event(request, plan), clock=clock) for request, plan in holds]
    [(written,)] = driver_rows(session, _HOLD_AND_WRITE, {
        "now": holds[0][0].now, "reservations": json_rows(reservations), "lines": json_rows(lines),
        "events": json_rows(events),
    })
    return bool(written == len(holds))


def _hold_step_by_step(session: Session, request: _Request, snapshot: _Snapshot, clock: Clock) -> bool:
    """SQLite, whose writers are serialised by BEGIN IMMEDIATE: the checked UPDATEs in key order, then the rows."""
    allocations = snapshot.plan.allocations
    connection = session.connection()
    connection.exec_driver_sql(f"SAVEPOINT {_HOLD_SAVEPOINT}")
    for allocation in sorted(allocations, key=lambda allocation: allocation.level_id):
        result = connection.execute(_HOLD, {"level_id": allocation.level_id, "quantity": allocation.quantity,
                                            "safety": request.channel.safety_stock, "now": request.now})
        if result.rowcount != 1:
            connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_HOLD_SAVEPOINT}")
            return False
    connection.execute(_INSERT_RESERVATION, {
        "id": request.id, "channel_code": request.channel.code, "status": "active", "reference": request.reference,
        "actor": request.actor, "expires_at": request.expires_at, "created_at": request.now, "ended_at": None,
    })
    connection.execute(_INSERT_LINE, [
        {"reservation_id": request.id, "level_id": allocation.level_id, "sku": allocation.sku,
         "location_id": snapshot.location_ids[allocation.level_id], "quantity": allocation.quantity}
        for allocation in allocations
    ])
    record(session, _created_event(request, snapshot.plan), clock=clock)
    return True


def _created_event(request: _Request, plan: Plan) -> ReservationCreated:
    return ReservationCreated(
        reservation_id=request.id, channel=request.channel.code, expires_at=request.expires_at,
        lines=[HeldLine(sku=a.sku, location=a.location, quantity=a.quantity) for a in plan.allocations],
    )


def _reserve_locked(session: Session, request: _Request, clock: Clock) -> schemas.Reservation:
    """The slow path: release lapsed holds, lock the candidate levels in key order, plan again, try once more."""
    lapsed = _claim_lapsed(session, skus=request.skus, now=request.now, limit=CLAIM_BATCH)
    locked = _lock_levels(session, request, also=_level_ids_held_by(session, lapsed))
    _end_reservations(session, lapsed, ending="expired", clock=clock)
    snapshot = _snapshot(session, request, level_ids=locked)
    if snapshot.plan.complete and _hold(session, request, snapshot, clock):
        return _reservation_out(request, snapshot.plan)
    raise _shortage(session, request, snapshot.plan)


def _holds_lapsed(session: Session, *, skus: Sequence[str], now: datetime) -> bool:
    return session.scalar(select(_lapsed_reservations(skus, now).exists())) is True


def _lapsed_reservations(skus: Sequence[str], now: datetime) -> Select[tuple[str]]:
    holding = exists().where(_LINES.c.reservation_id == _RESERVATIONS.c.id, _LINES.c.sku.in_(skus))
    return select(_RESERVATIONS.c.id).where(_ACTIVE, _RESERVATIONS.c.expires_at <= now, holding)


def _claim_lapsed(session: Session, *, skus: Sequence[str], now: datetime, limit: int) -> list[str]:
    """Lock lapsed holds of ``skus`` in key order, waiting for any a concurrent release or expiry is ending."""
    statement = _lapsed_reservations(skus, now).order_by(_RESERVATIONS.c.id).limit(limit)
    return list(session.scalars(statement.with_for_update()))


def _level_ids_held_by(session: Session, reservation_ids: Sequence[str]) -> list[int]:
    if not reservation_ids:
        return []
    return list(session.scalars(select(_LINES.c.level_id).where(_LINES.c.reservation_id.in_(reservation_ids))))


def _lock_levels(session: Session, request: _Request, *, also: Sequence[int]) -> list[int]:
    """Lock the request's candidate levels and ``also`` (in primary-key order); their ids."""
    sells_from = select(_LOCATIONS.c.id).where(_LOCATIONS.c.code.in_(request.channel.location_codes))
    condition: ColumnElement[bool] = and_(_LEVELS.c.sku.in_(request.skus), _LEVELS.c.location_id.in_(sells_from))
    if also:
        condition = or_(condition, _LEVELS.c.id.in_(also))
    statement = select(_LEVELS.c.id).where(condition).order_by(_LEVELS.c.id)
    return list(session.scalars(statement.with_for_update(key_share=True)))


def _shortage(session: Session, request: _Request, plan: Plan) -> OmniloomError:
    unknown = missing_skus(session, [shortage.sku for shortage in plan.shortages])
    if unknown:
        errors = [FieldError(f"lines[{index}].sku", f"SKU '{line.sku}' is not in the catalog")
                  for index, line in enumerate(request.lines) if line.sku in unknown]
        return InvalidInput.fields(errors)
    return InsufficientStock([(shortage.sku, shortage.requested, shortage.available)
                              for shortage in plan.shortages])


def _reservation_out(request: _Request, plan: Plan) -> schemas.Reservation:
    return schemas.Reservation(
        id=request.id, status="active", channel=request.channel.code, reference=request.reference,
        expires_at=request.expires_at, created_at=request.now, ended_at=None,
        lines=[schemas.ReservationLine(sku=a.sku, location=a.location, quantity=a.quantity)
               for a in plan.allocations],
    )


def get_reservation(session: Session, *, reservation_id: str, clock: Clock) -> schemas.Reservation:
    """A reservation with its lines; an active one past its expiry shows as ``expired``."""
    row = session.execute(select(_RESERVATIONS).where(_RESERVATIONS.c.id == reservation_id)).first()
    if row is None:
        raise ReservationNotFound(reservation_id)
    lapsed = row.status == "active" and row.expires_at <= clock.now()
    return schemas.Reservation(
        id=row.id, status="expired" if lapsed else row.status, channel=row.channel_code, reference=row.reference,
        expires_at=row.expires_at, created_at=row.created_at, ended_at=row.ended_at,
        lines=[schemas.ReservationLine(sku=line.sku, location=line.location, quantity=line.quantity)
               for line in _held_lines(session, [reservation_id])],
    )


def release_reservation(session: Session, *, reservation_id: str, clock: Clock) -> schemas.Reservation:
    """Give the held units back; releasing one that already ended changes nothing and returns its state."""
    _end_reservations(session, [reservation_id], ending="released", clock=clock)
    return get_reservation(session, reservation_id=reservation_id, clock=clock)


def expire_reservations(session: Session, *, clock: Clock, limit: int = CLAIM_BATCH) -> int:
    """Release up to ``limit`` active reservations past their expiry (status ``expired``); how many."""
    statement = (select(_RESERVATIONS.c.id).where(_ACTIVE, _RESERVATIONS.c.expires_at <= clock.now())
                 .order_by(_RESERVATIONS.c.expires_at).limit(limit).with_for_update(skip_locked=True))
    return _end_reservations(session, list(session.scalars(statement)), ending="expired", clock=clock)


def convert_reservation(session: Session, *, reservation_id: str, clock: Clock) -> schemas.Reservation:
    """Move an active reservation's units from reserved to allocated (status ``converted``)."""
    now = clock.now()
    converted = session.execute(
        update(_RESERVATIONS)
        .where(_RESERVATIONS.c.id == reservation_id, _ACTIVE, _RESERVATIONS.c.expires_at > now)
        .values(status="converted", ended_at=now)
        .returning(_RESERVATIONS.c.channel_code, _RESERVATIONS.c.reference, _RESERVATIONS.c.expires_at,
                   _RESERVATIONS.c.created_at)
    ).first()
    if converted is None:
        current = get_reservation(session, reservation_id=reservation_id, clock=clock)
        raise ReservationNotActive(reservation_id, current.status)
    lines = _held_lines(session, [reservation_id])
    _change_levels(session, _ALLOCATE, lines, now)
    record(session, ReservationConverted(reservation_id=reservation_id, channel=converted.channel_code,
                                         lines=_event_lines(lines)), clock=clock)
    return schemas.Reservation(
        id=reservation_id, status="converted", channel=converted.channel_code, reference=converted.reference,
        expires_at=converted.expires_at, created_at=converted.created_at, ended_at=now,
        lines=[schemas.ReservationLine(sku=line.sku, location=line.location, quantity=line.quantity)
               for line in lines])


@dataclass(frozen=True)
class _HeldLine:
    reservation_id: str
    level_id: int
    sku: str
    location: str
    quantity: int


def _end_reservations(session: Session, reservation_ids: Sequence[str], *, ending: Literal["released", "expired"],
                      clock: Clock) -> int:
    """End the still-active ones among ``reservation_ids`` and give their units back; how many ended.

    The status change is conditional, so a release racing the expiry worker gives units back exactly once.
    A release of a reservation already past its expiry ends it as ``expired``.
    """
    if not reservation_ids:
        return 0
    now = clock.now()
    status = literal("expired") if ending == "expired" else case(
        (_RESERVATIONS.c.expires_at <= now, "expired"), else_="released")
    ended = session.execute(
        update(_RESERVATIONS)
        .where(_RESERVATIONS.c.id.in_(reservation_ids), _ACTIVE)
        .values(status=status, ended_at=now)
        .returning(_RESERVATIONS.c.id, _RESERVATIONS.c.status, _RESERVATIONS.c.channel_code)
    ).all()
    if not ended:
        return 0
    lines = _held_lines(session, [row.id for row in ended])
    _change_levels(session, _RELEASE, lines, now)
    for row in ended:
        event = ReservationExpired if row.status == "expired" else ReservationReleased
        mine = [line for line in lines if line.reservation_id == row.id]
        record(session, event(reservation_id=row.id, channel=row.channel_code, lines=_event_lines(mine)), clock=clock)
    return len(ended)


def _held_lines(session: Session, reservation_ids: Sequence[str]) -> list[_HeldLine]:
    rows = session.execute(
        select(_LINES.c.reservation_id, _LINES.c.level_id, _LINES.c.sku, _LOCATIONS.c.code, _LINES.c.quantity)
        .join_from(_LINES, _LOCATIONS, _LOCATIONS.c.id == _LINES.c.location_id)
        .where(_LINES.c.reservation_id.in_(reservation_ids))
        .order_by(_LINES.c.id)
    ).all()
    return [_HeldLine(*row) for row in rows]


def _change_levels(session: Session, statement: Update, lines: Iterable[_HeldLine], now: datetime) -> None:
    """Apply ``statement`` once per level with the summed quantity, in primary-key order."""
    per_level: dict[int, int] = {}
    for line in lines:
        per_level[line.level_id] = per_level.get(line.level_id, 0) + line.quantity
    if per_level:
        session.execute(statement, [{"level_id": level_id, "quantity": quantity, "now": now}
                                    for level_id, quantity in sorted(per_level.items())])


def _event_lines(lines: Iterable[_HeldLine]) -> list[HeldLine]:
    return [HeldLine(sku=line.sku, location=line.location, quantity=line.quantity) for line in lines]


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount
