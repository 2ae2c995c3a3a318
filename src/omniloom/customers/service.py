"""The customer module's public functions: recording events, profiles, lookups, merges, consent, access, erasure."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from omniloom.customers import loyalty
from omniloom.customers.bulk import chunks, insert_rows, member, on_postgres, pair_member, update_rows
from omniloom.customers.errors import CustomerNotFound, MergeNotUndoable
from omniloom.customers.events import ConsentChanged, CustomerErased, CustomerUnmerged
from omniloom.customers.identifiers import PRIORITY, Identifier
from omniloom.customers.intake import PreparedEvent
from omniloom.customers.locks import lock_identity_graph, lock_row_moves, share_row_moves
from omniloom.customers.models import (
    ClvModel,
    ConsentRecord,
    CustomerEvent,
    CustomerIdentifier,
    CustomerMerge,
    CustomerProfile,
    CustomerPurchase,
    CustomerSeparation,
)
from omniloom.customers.moves import return_rows
from omniloom.customers.resolution import Resolver
from omniloom.customers.schemas import PURPOSES, ConsentIn
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database, driver_rows, json_rows
from omniloom.platform.errors import InvalidInput
from omniloom.platform.outbox import record

# Properties of events that are facts about the business, not about the person: they survive erasure.
FACT_PROPERTIES = frozenset({"order_id", "total", "lines", "sku", "quantity", "location", "campaign", "source",
                             "medium", "cart_id"})
FACT_LINE_FIELDS = frozenset({"sku", "quantity", "unit_price"})
ERASED = "erased"
RAW_FIELDS = {"email": "email", "phone": "phone", "loyalty": "loyalty_id", "device": "device_id"}
_PROFILES = cast(Table, CustomerProfile.__table__)
_EVENTS = cast(Table, CustomerEvent.__table__)
_HOMES = ("SELECT origin.id, home.id, home.erased_at FROM customer_profiles AS origin "
          "JOIN customer_profiles AS home ON home.id = coalesce(origin.merged_into, origin.id) "
          "WHERE origin.id IN (SELECT CAST(json_array_elements_text(CAST(%s AS json)) AS VARCHAR(40)))")
_STORED_EVENT_IDS = ("SELECT event_id FROM customer_events "
                     "WHERE event_id IN (SELECT CAST(json_array_elements_text(CAST(%s AS json)) AS VARCHAR(80)))")


@dataclass(frozen=True)
class RecordedBatch:
    profile_ids: list[str]
    duplicates: set[int]


@dataclass(frozen=True)
class ResolvedBatch:
    """A batch whose identity work is written: the events to store, each with the profile it started on."""

    events: list[PreparedEvent]
    origins: list[str]
    duplicates: list[PreparedEvent]
    received_at: datetime


# ---------------------------------------------------------------------------------------------- events


def ingest_events(database: Database, *, events: Sequence[PreparedEvent], guards: Iterable[str],
                  clock: Clock) -> RecordedBatch:
    """``record_events`` in two transactions: the identity lock is held for the first only, so while one batch's
    events are stored the next batch is resolved. Should the second fail, what the first wrote is what a retry of
    the batch would have written (its events are not stored; the retry stores them, resolving to the same people).
    An event whose ``id`` another batch stored in between is found again and counted as a duplicate."""
    with database.write() as session:
        resolved = resolve_events(session, events=events, guards=guards, clock=clock)
    try:
        with database.write() as session:
            return store_events(session, resolved)
    except IntegrityError:  # another batch stored one of these event ids after the first transaction looked
        with database.write() as session:
            fresh, stored = _without_duplicates(session, resolved.events)
            origins = dict(zip((event.index for event in resolved.events), resolved.origins, strict=True))
            return store_events(session, ResolvedBatch(fresh, [origins[event.index] for event in fresh],
                                                       resolved.duplicates + stored, resolved.received_at))


def record_events(session: Session, *, events: Sequence[PreparedEvent], guards: Iterable[str],
                  clock: Clock) -> RecordedBatch:
    """Resolve whose each event is and store it, in the caller's transaction; an event whose ``id`` is already
    stored is not stored again."""
    # Both locks before the duplicate check: it then sees every event stored by another batch (the row-move lock
    # waits for those being stored now and keeps new ones out), so this transaction never fails on an event's id.
    lock_identity_graph(session)
    lock_row_moves(session)
    return store_events(session, resolve_events(session, events=events, guards=guards, clock=clock))


def resolve_events(session: Session, *, events: Sequence[PreparedEvent], guards: Iterable[str],
                   clock: Clock) -> ResolvedBatch:
    """Under the identity lock: link and merge the batch's identifiers, record its purchases and traits; the events
    themselves are left to ``store_events``. Events whose ``id`` is stored already are set apart before the lock is
    taken (one stored by another batch after that look makes ``store_events`` fail: ``ingest_events`` retries)."""
    fresh, duplicates = _without_duplicates(session, events)
    lock_identity_graph(session)
    resolver = Resolver(session, clock=clock, guards=guards)
    resolver.load(fresh)
    assigned = [resolver.resolve(event) for event in fresh]
    resolver.flush()
    now = resolver.now
    owners = [(resolver.find(profile), origin) for profile, origin in assigned]
    _record_purchases(session, fresh, owners, now=now)
    _apply_traits(session, fresh, [profile for profile, _ in owners], now=now)
    resolver.move()
    return ResolvedBatch(fresh, [origin for _, origin in owners], duplicates, now)


def store_events(session: Session, resolved: ResolvedBatch) -> RecordedBatch:
    """Store the events of a resolved batch, each on the profile it started on or the one that profile has been
    merged into since (an undone merge in between gives it back to where it started; an erasure in between keeps
    only its facts). An event whose ``id`` another batch stored meanwhile raises IntegrityError."""
    share_row_moves(session)
    events, duplicates = resolved.events, resolved.duplicates
    homes = _homes(session, sorted(set(resolved.origins)))
    rows: list[dict[str, Any]] = []
    for event, origin in zip(events, resolved.origins, strict=True):
        profile, erased = homes[origin]
        rows.append({"event_id": event.event_id, "profile_id": profile, "origin_profile_id": origin,
                     "type": event.type, "channel": event.channel, "occurred_at": event.occurred_at,
                     "received_at": resolved.received_at, "identifiers": {} if erased else event.raw_identifiers,
                     "properties": _facts_only(event.properties) if erased else event.properties})
    insert_rows(session, _EVENTS, rows)
    by_index = {event.index: row["profile_id"] for event, row in zip(events, rows, strict=True)}
    profiles = _profiles_of_events(session, [event.event_id for event in duplicates])
    for event in duplicates:
        by_index[event.index] = profiles[event.event_id]
    ordered = sorted(by_index)
    return RecordedBatch([by_index[index] for index in ordered], {event.index for event in duplicates})


def _homes(session: Session, origins: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """For each profile, the profile holding its rows now (itself, or the one it was merged into: merges repoint
    ``merged_into`` at the survivor, so it is never a chain) and whether that one was erased."""
    if on_postgres(session):
        return {profile: (home, erased_at is not None)
                for profile, home, erased_at in driver_rows(session, _HOMES, (json_rows(list(origins)),))}
    home = aliased(CustomerProfile)
    found: dict[str, tuple[str, bool]] = {}
    for chunk in chunks(session, origins):
        rows = session.execute(
            select(CustomerProfile.id, home.id.label("home"), home.erased_at)
            .join(home, home.id == func.coalesce(CustomerProfile.merged_into, CustomerProfile.id))
            .where(member(session, CustomerProfile.id, chunk, "origins")))
        found.update({row.id: (row.home, row.erased_at is not None) for row in rows})
    return found


def _without_duplicates(session: Session, events: Sequence[PreparedEvent]
                        ) -> tuple[list[PreparedEvent], list[PreparedEvent]]:
    client_ids = [event.event_id for event in events if event.client_id]
    stored: set[str] = set()
    if client_ids and on_postgres(session):
        stored.update(event_id for event_id, in driver_rows(session, _STORED_EVENT_IDS, (json_rows(client_ids),)))
    else:
        for chunk in chunks(session, client_ids):
            stored.update(session.scalars(select(CustomerEvent.event_id)
                                          .where(member(session, CustomerEvent.event_id, chunk, "event_ids"))))
    fresh: list[PreparedEvent] = []
    duplicates: list[PreparedEvent] = []
    for event in events:
        if event.event_id in stored:
            duplicates.append(event)
        else:
            stored.add(event.event_id)
            fresh.append(event)
    return fresh, duplicates


def _profiles_of_events(session: Session, event_ids: Sequence[str]) -> dict[str, str]:
    """Where stored events are now (a duplicate answers with the profile of the event it repeats)."""
    found: dict[str, str] = {}
    for chunk in chunks(session, event_ids):
        rows = session.execute(select(CustomerEvent.event_id, CustomerEvent.profile_id)
                               .where(member(session, CustomerEvent.event_id, chunk, "event_ids")))
        found.update({row.event_id: row.profile_id for row in rows})
    return found


def _record_purchases(session: Session, events: Sequence[PreparedEvent], owners: Sequence[tuple[str, str]],
                      *, now: datetime) -> None:
    candidates = [(event, owner) for event, owner in zip(events, owners, strict=True) if event.purchase]
    if not candidates:
        return
    keys = sorted({(event.channel, event.purchase.order_id) for event, _ in candidates if event.purchase})
    known: set[tuple[str, str]] = set()
    for chunk in chunks(session, keys):
        known.update((row.channel, row.order_id) for row in session.execute(
            select(CustomerPurchase.channel, CustomerPurchase.order_id)
            .where(pair_member(session, CustomerPurchase.channel, CustomerPurchase.order_id, chunk, "orders"))))
    rows, earned = [], []
    for event, (profile, origin) in candidates:
        facts = event.purchase
        assert facts is not None
        if (event.channel, facts.order_id) in known:
            continue
        known.add((event.channel, facts.order_id))
        rows.append({"profile_id": profile, "origin_profile_id": origin, "channel": event.channel,
                     "order_id": facts.order_id, "event_id": event.event_id, "occurred_at": event.occurred_at,
                     "amount": facts.amount, "currency": facts.currency, "items": facts.items})
        earned.append(loyalty.EarnedPurchase(profile, origin, event.channel, facts.order_id, facts.amount,
                                             facts.currency, event.occurred_at))
    if rows:
        insert_rows(session, cast(Table, CustomerPurchase.__table__), rows)
        loyalty.earn(session, earned, now=now)


def _apply_traits(session: Session, events: Sequence[PreparedEvent], profiles: Sequence[str], *,
                  now: datetime) -> None:
    traits: dict[str, dict[str, Any]] = {}
    telling = [(event, profile) for event, profile in zip(events, profiles, strict=True) if event.traits]
    for event, profile in sorted(telling, key=lambda pair: pair[0].occurred_at):
        traits.setdefault(profile, {}).update(event.traits)
    if not traits:
        return
    stored = session.execute(select(CustomerProfile.id, CustomerProfile.attributes)
                             .where(CustomerProfile.id.in_(list(traits)))).all()
    update_rows(session, _PROFILES, [{"id": row.id, "attributes": {**row.attributes, **traits[row.id]},
                                      "updated_at": now} for row in stored], key="id")


# ---------------------------------------------------------------------------------------------- profiles


def get_profile(session: Session, customer_id: str) -> CustomerProfile:
    """The profile with this id, even if it was merged away; raises CustomerNotFound."""
    profile = session.get(CustomerProfile, customer_id)
    if profile is None:
        raise CustomerNotFound(f"customer '{customer_id}' does not exist")
    return profile


def resolve_profile(session: Session, customer_id: str) -> CustomerProfile:
    """The surviving profile for ``customer_id`` (merged-away ids resolve to their survivor)."""
    profile = get_profile(session, customer_id)
    return get_profile(session, profile.merged_into) if profile.merged_into else profile


def merged_ids(session: Session, profile_id: str) -> list[str]:
    return list(session.scalars(select(CustomerProfile.id).where(CustomerProfile.merged_into == profile_id)
                                .order_by(CustomerProfile.id)))


def identities(session: Session, profile_id: str) -> list[CustomerIdentifier]:
    return list(session.scalars(select(CustomerIdentifier).where(CustomerIdentifier.profile_id == profile_id)
                                .order_by(CustomerIdentifier.kind, CustomerIdentifier.value)))


def strongest_identifier(session: Session, profile_id: str) -> dict[str, Any] | None:
    """The profile's most telling identifier as an event would carry it (``{"email": ...}``), or None."""
    rows = identities(session, profile_id)
    if not rows:
        return None
    best = min(rows, key=lambda row: (PRIORITY[row.kind], row.id))
    if best.kind == "external":
        channel, _, value = best.value.partition(":")
        return {"external_ids": {channel: value}}
    return {RAW_FIELDS[best.kind]: best.value}


def purchases(session: Session, profile_id: str) -> list[CustomerPurchase]:
    """Every purchase on every channel, oldest first."""
    return list(session.scalars(select(CustomerPurchase).where(CustomerPurchase.profile_id == profile_id)
                                .order_by(CustomerPurchase.occurred_at, CustomerPurchase.id)))


def timeline(session: Session, profile_id: str, *, limit: int, cursor: str | None
             ) -> tuple[list[CustomerEvent], str | None]:
    """The events of a profile, newest first, a page at a time."""
    statement = select(CustomerEvent).where(CustomerEvent.profile_id == profile_id)
    if cursor:
        occurred_at, event_row = _decode_timeline_cursor(cursor)
        statement = statement.where(or_(CustomerEvent.occurred_at < occurred_at,
                                        (CustomerEvent.occurred_at == occurred_at) & (CustomerEvent.id < event_row)))
    rows = list(session.scalars(statement.order_by(CustomerEvent.occurred_at.desc(), CustomerEvent.id.desc())
                                .limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    token = f"{last.occurred_at.isoformat()}|{last.id}"
    return rows[:limit], base64.urlsafe_b64encode(token.encode()).decode()


def _decode_timeline_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        occurred_at, row = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(occurred_at), int(row)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput.field("cursor", "is not a cursor returned by this list") from None


def find_by_identifier(session: Session, identifier: Identifier) -> CustomerProfile:
    """The profile owning a (normalised) identifier; raises CustomerNotFound."""
    profile_id = session.scalar(select(CustomerIdentifier.profile_id).where(
        CustomerIdentifier.kind == identifier.kind, CustomerIdentifier.value == identifier.value))
    if profile_id is None:
        raise CustomerNotFound(f"no customer has {identifier.kind} '{identifier.value}'")
    return resolve_profile(session, profile_id)


def contact_email(session: Session, customer_id: str) -> str | None:
    """Where to write to the person: their verified email, else the one seen last; None when they have none or
    were erased."""
    profile = resolve_profile(session, customer_id)
    if profile.erased_at is not None:
        return None
    return session.scalar(
        select(CustomerIdentifier.value).where(CustomerIdentifier.profile_id == profile.id,
                                               CustomerIdentifier.kind == "email")
        .order_by(CustomerIdentifier.verified.desc(), CustomerIdentifier.last_seen_at.desc(),
                  CustomerIdentifier.id.desc()).limit(1))


def record_message_sent(session: Session, *, customer_id: str, message_id: str, channel: str, sent_at: datetime,
                        properties: dict[str, Any], clock: Clock) -> None:
    """Put ``message_sent`` on the person's timeline, once per message; nothing is added about an erased person."""
    lock_identity_graph(session)
    profile = resolve_profile(session, customer_id)
    event_id = f"message:{message_id}"
    if profile.erased_at is not None or session.scalar(
            select(CustomerEvent.id).where(CustomerEvent.event_id == event_id)) is not None:
        return
    session.add(CustomerEvent(event_id=event_id, profile_id=profile.id, origin_profile_id=profile.id,
                              type="message_sent", channel=channel, occurred_at=sent_at, received_at=clock.now(),
                              identifiers={}, properties=properties))
    session.flush()


def latest_clv_model(session: Session) -> ClvModel | None:
    return session.scalars(select(ClvModel).order_by(ClvModel.fitted_at.desc(), ClvModel.id.desc()).limit(1)).first()


# ---------------------------------------------------------------------------------------------- merges


def merges(session: Session, profile_id: str) -> list[CustomerMerge]:
    """Merge decisions involving this profile (into it, or of it), newest first."""
    return list(session.scalars(
        select(CustomerMerge).where(or_(CustomerMerge.survivor_id == profile_id, CustomerMerge.merged_id == profile_id))
        .order_by(CustomerMerge.created_at.desc(), CustomerMerge.id.desc())))


def get_merge(session: Session, merge_id: str) -> CustomerMerge:
    merge = session.get(CustomerMerge, merge_id)
    if merge is None:
        raise CustomerNotFound(f"merge '{merge_id}' does not exist")
    return merge


def undo_merge(session: Session, *, merge_id: str, clock: Clock) -> CustomerMerge:
    """Split a merge: the merged profile gets back its identifiers, events, purchases, consent and points."""
    lock_identity_graph(session)
    merge = get_merge(session, merge_id)
    if merge.status != "merged":
        raise MergeNotUndoable(f"merge '{merge_id}' is {merge.status}; only a merge that stands can be undone",
                               status_now=merge.status)
    now = clock.now()
    holder = resolve_profile(session, merge.survivor_id)
    if holder.erased_at is not None:
        raise MergeNotUndoable(f"customer '{holder.id}' has been erased")
    members = set(merge.members) or {merge.merged_id}
    session.execute(update(CustomerProfile).where(CustomerProfile.id.in_(members - {merge.merged_id}))
                    .values(merged_into=merge.merged_id, updated_at=now))
    session.execute(update(CustomerProfile).where(CustomerProfile.id == merge.merged_id)
                    .values(merged_into=None, updated_at=now))
    return_rows(session, origins=members, holder=holder.id, owner=merge.merged_id, now=now)
    session.execute(insert(CustomerSeparation), [
        {"profile_id": merge.survivor_id, "other_profile_id": merge.merged_id, "created_at": now},
        {"profile_id": merge.merged_id, "other_profile_id": merge.survivor_id, "created_at": now}])
    merge.status = "undone"
    merge.undone_at = now
    record(session, CustomerUnmerged(merge_id=merge.id, survivor_id=merge.survivor_id, merged_id=merge.merged_id),
           clock=clock)
    session.flush()
    return merge


def mark_device_shared(session: Session, *, device_id: Identifier, shared: bool) -> CustomerIdentifier:
    """Flag a device (a store kiosk, a family tablet) so that it never links profiles."""
    row = session.scalars(select(CustomerIdentifier).where(CustomerIdentifier.kind == "device",
                                                           CustomerIdentifier.value == device_id.value)).first()
    if row is None:
        raise CustomerNotFound(f"device '{device_id.value}' has not been seen")
    row.shared = shared
    session.flush()
    return row


# ---------------------------------------------------------------------------------------------- consent


def set_consent(session: Session, *, profile_id: str, purpose: str, data: ConsentIn, actor: str,
                clock: Clock) -> ConsentRecord:
    """Record a consent decision; the history keeps every earlier one."""
    if purpose not in PURPOSES:
        raise InvalidInput.field("purpose", f"must be one of {', '.join(PURPOSES)}")
    row = ConsentRecord(profile_id=profile_id, origin_profile_id=profile_id, purpose=purpose, granted=data.granted,
                        channel=data.channel, source=data.source, actor=actor, recorded_at=clock.now())
    session.add(row)
    session.flush()
    record(session, ConsentChanged(customer_id=profile_id, purpose=purpose, granted=data.granted,
                                   channel=data.channel), clock=clock)
    return row


def consent_history(session: Session, profile_id: str) -> list[ConsentRecord]:
    return list(session.scalars(select(ConsentRecord).where(ConsentRecord.profile_id == profile_id)
                                .order_by(ConsentRecord.recorded_at, ConsentRecord.id)))


def current_consents(session: Session, profile_id: str) -> list[ConsentRecord]:
    """The latest decision per purpose (merged profiles included)."""
    latest: dict[str, ConsentRecord] = {}
    for row in consent_history(session, profile_id):
        latest[row.purpose] = row
    return [latest[purpose] for purpose in PURPOSES if purpose in latest]


# ---------------------------------------------------------------------------------------------- access, erasure


def export(session: Session, profile_id: str) -> dict[str, Any]:
    """Every piece of data held about the person (right of access), merged-away profiles included."""
    profile = resolve_profile(session, profile_id)
    events = session.scalars(select(CustomerEvent).where(CustomerEvent.profile_id == profile.id)
                             .order_by(CustomerEvent.occurred_at, CustomerEvent.id))
    return {
        "customer_id": profile.id, "merged_ids": merged_ids(session, profile.id),
        "created_at": profile.created_at.isoformat(), "attributes": profile.attributes,
        "identities": [_columns(row, exclude={"id", "profile_id"}) for row in identities(session, profile.id)],
        "events": [_columns(row, exclude={"id", "profile_id"}) for row in events],
        "purchases": [_columns(row, exclude={"id", "profile_id"}) for row in purchases(session, profile.id)],
        "consents": [_columns(row, exclude={"id", "profile_id"}) for row in consent_history(session, profile.id)],
        "loyalty": [_columns(row, exclude={"id", "profile_id"}) for row in loyalty.entries(
            session, profile_id=profile.id, limit=1_000_000)],
        "merges": [_columns(row, exclude=set()) for row in merges(session, profile.id)],
    }


def _columns(row: Any, *, exclude: set[str]) -> dict[str, Any]:
    values = {}
    for column in row.__table__.columns:
        if column.key in exclude:
            continue
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def erase(session: Session, *, profile_id: str, clock: Clock) -> list[str]:
    """Remove the person's personal data everywhere, keeping anonymous facts (sales, points) so totals stay right."""
    lock_identity_graph(session)
    lock_row_moves(session)  # events being stored now are scrubbed below; those stored later see the erasure
    profile = resolve_profile(session, profile_id)
    everyone = [profile.id, *merged_ids(session, profile.id)]
    now = clock.now()
    session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.profile_id == profile.id))
    session.execute(update(CustomerProfile).where(CustomerProfile.id.in_(everyone))
                    .values(attributes={}, erased_at=now, updated_at=now))
    for event in session.scalars(select(CustomerEvent).where(CustomerEvent.profile_id == profile.id)):
        event.identifiers = {}
        event.properties = _facts_only(event.properties)
    session.execute(update(ConsentRecord).where(ConsentRecord.profile_id == profile.id)
                    .values(source=ERASED, channel=None))
    session.execute(update(CustomerMerge)
                    .where(or_(CustomerMerge.survivor_id.in_(everyone), CustomerMerge.merged_id.in_(everyone)))
                    .values(identifiers=[]))
    record(session, CustomerErased(customer_id=profile.id, profile_ids=everyone), clock=clock)
    session.flush()
    return everyone


def _facts_only(properties: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in properties.items() if key in FACT_PROPERTIES}
    if isinstance(kept.get("lines"), list):
        kept["lines"] = [{key: value for key, value in line.items() if key in FACT_LINE_FIELDS}
                         for line in kept["lines"] if isinstance(line, dict)]
    return kept
