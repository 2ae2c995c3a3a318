"""Deterministic identity resolution for a batch of events, inside one write transaction.

Identifiers seen together on an event link their profiles: the profiles owning them are merged into the oldest,
unless a guard rule keeps them apart (then the event goes to the profile of its highest-priority identifier and the
refusal is recorded). Writers are serialised by the identity lock (``locks.lock_identity_graph``), so two batches
never race to create the same identifier or merge the same profiles.

Work is batched: all identifiers of the batch are looked up in one query, profiles and identifiers first seen in the
batch are inserted together at the end, and merges of profiles created earlier update their rows at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from omniloom.customers.bulk import chunks, insert_rows, member, on_postgres, pair_member, update_rows
from omniloom.customers.events import CustomerMerged
from omniloom.customers.identifiers import Identifier
from omniloom.customers.intake import PreparedEvent
from omniloom.customers.models import (
    CustomerIdentifier,
    CustomerMerge,
    CustomerProfile,
    CustomerSeparation,
)
from omniloom.customers.moves import move_profiles
from omniloom.platform.clock import Clock
from omniloom.platform.db import driver_rows, json_rows
from omniloom.platform.ids import new_id
from omniloom.platform.outbox import OutboxEvent, outbox_row

GUARD_RULES = ("verified_email_conflict", "loyalty_id_conflict")
_KNOWN_IDENTIFIERS = (
    "SELECT kind, value, id, profile_id, origin_profile_id, verified, shared, last_seen_at FROM customer_identifiers "
    "WHERE (kind, value) IN (SELECT pair ->> 0, pair ->> 1 FROM json_array_elements(CAST(%s AS json)) AS pair)")
# Two index lookups, not ``id IN (...) OR merged_into IN (...)``: PostgreSQL cannot use an index for an OR of two
# sub-selects and scanned every profile for it. A profile found by both (not expected: identifiers belong to live
# profiles) comes twice, which the facts do not mind.
_PROFILES_AND_MEMBERS = (
    "SELECT id, created_at, merged_into FROM customer_profiles "
    "WHERE id IN (SELECT CAST(json_array_elements_text(CAST(%s AS json)) AS VARCHAR(40))) "
    "UNION ALL SELECT id, created_at, merged_into FROM customer_profiles "
    "WHERE merged_into IN (SELECT CAST(json_array_elements_text(CAST(%s AS json)) AS VARCHAR(40)))")
_WEIGHED_IDENTIFIERS = (
    "SELECT profile_id, kind, value, verified FROM customer_identifiers "
    "WHERE profile_id IN (SELECT CAST(json_array_elements_text(CAST(%s AS json)) AS VARCHAR(40))) "
    "AND kind IN ('email', 'loyalty')")
_PROFILES = cast(Table, CustomerProfile.__table__)
_IDENTIFIERS = cast(Table, CustomerIdentifier.__table__)


@dataclass
class KnownIdentifier:
    """An identifier's row as read or attached; its profile as of then (``Resolver.find`` gives it now)."""

    id: int | None
    profile_id: str
    origin_profile_id: str
    verified: bool
    shared: bool
    last_seen_at: datetime


@dataclass
class ProfileFacts:
    """What the guard rules need to know about one profile (and everything merged into it)."""

    created_at: datetime
    new: bool
    verified_emails: set[str] = field(default_factory=set)
    loyalty_ids: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    separated_from: set[str] = field(default_factory=set)


@dataclass
class Decision:
    """One merge decision of the batch, to be written to the audit."""

    survivor_id: str
    merged_id: str
    status: str
    cause: str
    identifiers: list[Identifier]
    members: list[str]
    event_id: str


class Resolver:
    """Assigns each prepared event a profile, creating, linking and merging profiles as it goes."""

    def __init__(self, session: Session, *, clock: Clock, guards: Iterable[str]) -> None:
        self.session = session
        self.clock = clock
        self.now = clock.now()
        self.guards = frozenset(guards)
        self.known: dict[Identifier, KnownIdentifier] = {}
        self.new_identifiers: dict[Identifier, KnownIdentifier] = {}
        self.facts: dict[str, ProfileFacts] = {}
        self.parent: dict[str, str] = {}
        self.new_profiles: list[str] = []
        self.decisions: list[Decision] = []
        self.seen: dict[Identifier, datetime] = {}
        self.verify: set[Identifier] = set()
        self.moved: list[str] = []

    # ------------------------------------------------------------------ lookups

    def load(self, events: Sequence[PreparedEvent]) -> None:
        """Read every identifier of the batch that is already known, and what the guards weigh of the profiles its
        events may merge; a profile no event can merge is weighed only if the batch's merges reach it after all."""
        known = self.known
        wanted = list({i for event in events for i in event.identifiers if i not in known})
        for row in self._known_rows(wanted):
            kind, value, row_id, profile_id, origin_profile_id, verified, shared, last_seen_at = row
            known[Identifier(kind, value)] = KnownIdentifier(row_id, profile_id, origin_profile_id, verified, shared,
                                                             last_seen_at)
        for owners_chunk in chunks(self.session, sorted(self._mergeable(events))):
            self._facts(owners_chunk)

    def _known_rows(self, wanted: list[Identifier]) -> Iterator[Sequence[Any]]:
        """The stored rows of these identifiers: kind, value, id, profile, origin profile, verified, shared and
        last seen (on PostgreSQL one statement whose pairs are one JSON parameter, read as plain tuples)."""
        if not wanted:
            return
        if on_postgres(self.session):
            yield from driver_rows(self.session, _KNOWN_IDENTIFIERS,
                                   (json_rows([(i.kind, i.value) for i in wanted]),))
            return
        for chunk in chunks(self.session, wanted):
            yield from self.session.execute(
                select(CustomerIdentifier.kind, CustomerIdentifier.value, CustomerIdentifier.id,
                       CustomerIdentifier.profile_id, CustomerIdentifier.origin_profile_id,
                       CustomerIdentifier.verified, CustomerIdentifier.shared, CustomerIdentifier.last_seen_at)
                .where(pair_member(self.session, CustomerIdentifier.kind, CustomerIdentifier.value,
                                   [(i.kind, i.value) for i in chunk], "identifiers")))

    def _mergeable(self, events: Sequence[PreparedEvent]) -> set[str]:
        """The stored profiles an event may merge: those owning an identifier of an event that carries another
        identifier, unless all of that event's identifiers are known and have one owner (nothing to weigh then)."""
        mergeable: set[str] = set()
        for event in events:
            if len(event.identifiers) < 2:
                continue
            owners = {known.profile_id for i in event.identifiers if (known := self.known.get(i)) is not None}
            if len(owners) > 1 or (owners and any(i not in self.known for i in event.identifiers)):
                mergeable |= owners
        return mergeable

    def find(self, profile_id: str) -> str:
        """The profile ``profile_id`` has been merged into during this batch (itself if none)."""
        root = profile_id
        while root in self.parent:
            root = self.parent[root]
        return root

    def owner(self, identifier: Identifier) -> KnownIdentifier | None:
        return self.known.get(identifier) or self.new_identifiers.get(identifier)

    def _facts(self, profile_ids: Sequence[str]) -> None:
        missing = [p for p in profile_ids if p not in self.facts]
        if not missing:
            return
        wanted = set(missing)
        profiles, identifier_rows = self._profile_rows(missing)
        for profile_id, created_at, _ in profiles:
            if profile_id in wanted:
                self.facts[profile_id] = ProfileFacts(created_at=created_at, new=False, members={profile_id})
        for profile_id, _, merged_into in profiles:
            if merged_into in wanted and merged_into in self.facts:
                self.facts[merged_into].members.add(profile_id)
        for owner, kind, value, verified in identifier_rows:
            self._note(self.facts[owner], Identifier(kind, value), verified)
        all_members = [m for p in missing for m in self.facts[p].members]
        separations = self.session.execute(
            select(CustomerSeparation.profile_id, CustomerSeparation.other_profile_id)
            .where(member(self.session, CustomerSeparation.profile_id, all_members, "members"))
        )
        member_of = {m: p for p in missing for m in self.facts[p].members}
        for separation in separations:
            self.facts[member_of[separation.profile_id]].separated_from.add(separation.other_profile_id)
        for identifier, known in self.new_identifiers.items():  # attached in this batch, not written yet
            if (owner := self.find(known.profile_id)) in wanted:
                self._note(self.facts[owner], identifier, known.verified)
        for identifier in self.verify:  # verified in this batch, not written yet
            if (owner := self.find(self.known[identifier].profile_id)) in wanted:
                self._note(self.facts[owner], identifier, True)

    def _profile_rows(self, profile_ids: list[str]) -> tuple[Sequence[Sequence[Any]], Sequence[Sequence[Any]]]:
        """(id, created_at, merged_into) of these profiles and of those merged into them, and (profile, kind,
        value, verified) of their emails and loyalty ids."""
        if on_postgres(self.session):
            ids = json_rows(profile_ids)
            return (driver_rows(self.session, _PROFILES_AND_MEMBERS, (ids, ids)),
                    driver_rows(self.session, _WEIGHED_IDENTIFIERS, (ids,)))
        profiles = self.session.execute(
            select(CustomerProfile.id, CustomerProfile.created_at, CustomerProfile.merged_into)
            .where(member(self.session, CustomerProfile.id, profile_ids, "ids")
                   | member(self.session, CustomerProfile.merged_into, profile_ids, "survivors"))).all()
        identifiers = self.session.execute(
            select(CustomerIdentifier.profile_id, CustomerIdentifier.kind, CustomerIdentifier.value,
                   CustomerIdentifier.verified)
            .where(member(self.session, CustomerIdentifier.profile_id, profile_ids, "profiles"),
                   CustomerIdentifier.kind.in_(("email", "loyalty")))).all()
        return profiles, identifiers

    @staticmethod
    def _note(facts: ProfileFacts, identifier: Identifier, verified: bool) -> None:
        if identifier.kind == "email" and verified:
            facts.verified_emails.add(identifier.value)
        elif identifier.kind == "loyalty":
            facts.loyalty_ids.add(identifier.value)

    # ------------------------------------------------------------------ decisions

    def _allowed(self, cluster: ProfileFacts, other: ProfileFacts) -> str | None:
        """None when the two may merge, else the rule that refuses it."""
        if cluster.members & other.separated_from or other.members & cluster.separated_from:
            return "the profiles were separated by an undone merge"
        if ("verified_email_conflict" in self.guards and cluster.verified_emails and other.verified_emails
                and not cluster.verified_emails & other.verified_emails):
            return "the profiles have different verified emails"
        if ("loyalty_id_conflict" in self.guards and cluster.loyalty_ids and other.loyalty_ids
                and not cluster.loyalty_ids & other.loyalty_ids):
            return "the profiles have different loyalty ids"
        return None

    def _new_profile(self) -> str:
        profile_id = new_id("cus")
        self.new_profiles.append(profile_id)
        self.facts[profile_id] = ProfileFacts(created_at=self.now, new=True, members={profile_id})
        return profile_id

    def resolve(self, event: PreparedEvent) -> tuple[str, str]:
        """(profile, origin profile) of ``event``, after linking and merging what its identifiers say."""
        occurred_at = event.occurred_at
        seen, known_rows, new_rows = self.seen, self.known, self.new_identifiers
        found: list[tuple[Identifier, KnownIdentifier | None]] = []
        for identifier in event.identifiers:
            last = seen.get(identifier)
            if last is None or last < occurred_at:
                seen[identifier] = occurred_at
            found.append((identifier, known_rows.get(identifier) or new_rows.get(identifier)))
        if not event.verified:  # the usual event: identifiers of one person, all known already
            top = found[0][1]
            if top is not None and not top.shared:
                root = self.find(top.profile_id)
                if all(known is not None and not known.shared and self.find(known.profile_id) == root
                       for _, known in found[1:]):
                    return root, top.origin_profile_id
        linkable = [(identifier, known) for identifier, known in found if known is None or not known.shared]
        if not linkable:  # only shared devices: the event is theirs, and links nobody
            shared = found[0][1]
            assert shared is not None
            return self.find(shared.profile_id), shared.origin_profile_id
        owners: dict[str, Identifier] = {}  # in the priority order of each profile's strongest identifier
        for identifier, known in linkable:
            if known is not None:
                owners.setdefault(self.find(known.profile_id), identifier)
        unowned = [identifier for identifier, known in linkable if known is None]
        survivor = self._cluster(event, linkable[0][0], owners, unowned)
        for identifier in unowned:
            self.new_identifiers[identifier] = KnownIdentifier(None, survivor, survivor, identifier in event.verified,
                                                               False, occurred_at)
            if survivor in self.facts:  # facts not loaded yet pick new identifiers up when they are
                self._note(self.facts[survivor], identifier, identifier in event.verified)
        for identifier in event.verified:
            known = self.owner(identifier)
            if known is not None and not known.verified:
                known.verified = True
                if known.id is not None:
                    self.verify.add(identifier)
                if (owner := self.find(known.profile_id)) in self.facts:
                    self._note(self.facts[owner], identifier, True)
        top = linkable[0][1] or self.new_identifiers[linkable[0][0]]
        return survivor, top.origin_profile_id

    def _cluster(self, event: PreparedEvent, top: Identifier, owners: dict[str, Identifier],
                 unowned: list[Identifier]) -> str:
        """Merge the owning profiles that may merge; returns the surviving profile of the event."""
        top_owner = next((p for p, i in owners.items() if i == top), None)
        if top_owner is not None and len(owners) == 1:
            return top_owner  # one person's known identifier leads: nothing to weigh, new identifiers join them
        self._facts(list(owners))
        candidate = ProfileFacts(created_at=self.now, new=True)
        for identifier in unowned:
            self._note(candidate, identifier, identifier in event.verified)
        for identifier in event.verified:  # what the event verifies counts before any merge is weighed
            self._note(candidate, identifier, True)
        cluster: list[str] = []
        if top_owner is not None:
            cluster.append(top_owner)
            candidate = self._combined(candidate, self.facts[top_owner])
        refused: list[tuple[str, str]] = []
        for profile_id in owners:
            if profile_id in cluster:
                continue
            reason = self._allowed(candidate, self.facts[profile_id])
            if reason is None:
                cluster.append(profile_id)
                candidate = self._combined(candidate, self.facts[profile_id])
            else:
                refused.append((profile_id, reason))
        survivor = min(cluster, key=lambda p: (self.facts[p].new, self.facts[p].created_at, p)) if cluster \
            else self._new_profile()
        if len(cluster) < 2 and not refused:
            return survivor
        linking = sorted(set(event.identifiers))
        for profile_id in cluster:
            if profile_id != survivor:
                self._merge(survivor, profile_id, linking, event.event_id)
        for profile_id, reason in refused:
            self.decisions.append(Decision(survivor, profile_id, "refused", reason, linking, [], event.event_id))
        return survivor

    @staticmethod
    def _combined(left: ProfileFacts, right: ProfileFacts) -> ProfileFacts:
        return ProfileFacts(created_at=min(left.created_at, right.created_at), new=left.new and right.new,
                            verified_emails=left.verified_emails | right.verified_emails,
                            loyalty_ids=left.loyalty_ids | right.loyalty_ids, members=left.members | right.members,
                            separated_from=left.separated_from | right.separated_from)

    def _merge(self, survivor: str, merged: str, linking: list[Identifier], event_id: str) -> None:
        facts = self.facts[merged]
        self.decisions.append(Decision(survivor, merged, "merged", "identifiers seen together on one event",
                                       linking, sorted(facts.members), event_id))
        self.parent[merged] = survivor
        self.facts[survivor] = self._combined(self.facts[survivor], facts)
        if not facts.new:
            self.moved.append(merged)  # its stored rows move at flush, with every other merge of the batch

    # ------------------------------------------------------------------ writing

    def flush(self) -> None:
        """Write the profiles, identifiers and merge audit the batch produced (``move`` moves the rows of merged
        profiles)."""
        insert_rows(self.session, _PROFILES, [
            {"id": p, "merged_into": self.find(p) if self.find(p) != p else None, "attributes": {},
             "created_at": self.now, "updated_at": self.now} for p in self.new_profiles])
        insert_rows(self.session, _IDENTIFIERS, [
            {"kind": i.kind, "value": i.value, "profile_id": self.find(k.profile_id),
             "origin_profile_id": k.origin_profile_id, "verified": k.verified, "shared": False,
             "first_seen_at": self.seen.get(i, self.now), "last_seen_at": self.seen.get(i, self.now)}
            for i, k in self.new_identifiers.items()])
        self._touch_known()
        self._write_decisions()

    def move(self) -> None:
        """Move the rows of the stored profiles the batch merged to their survivors (under the row-move lock, which
        waits for the events other batches are storing: the later in the transaction, the shorter it is held)."""
        move_profiles(self.session, {merged: self.find(merged) for merged in self.moved}, now=self.now)

    def _touch_known(self) -> None:
        update_rows(self.session, _IDENTIFIERS, [
            {"id": k.id, "last_seen_at": self.seen[i]} for i, k in self.known.items()
            if i in self.seen and self.seen[i] > k.last_seen_at], key="id")
        ids = [k.id for i, k in self.known.items() if i in self.verify and k.id is not None]
        for chunk in chunks(self.session, ids):
            self.session.execute(update(CustomerIdentifier)
                                 .where(member(self.session, CustomerIdentifier.id, chunk, "ids"))
                                 .values(verified=True))

    def _write_decisions(self) -> None:
        rows, events = [], []
        for decision in self.decisions:
            merge_id = new_id("mrg")
            rows.append({"id": merge_id, "survivor_id": decision.survivor_id, "merged_id": decision.merged_id,
                         "status": decision.status, "cause": decision.cause,
                         "identifiers": [{"kind": i.kind, "value": i.value} for i in decision.identifiers],
                         "members": decision.members, "event_id": decision.event_id, "created_at": self.now,
                         "undone_at": None})
            if decision.status == "merged":
                events.append(outbox_row(CustomerMerged(merge_id=merge_id, survivor_id=decision.survivor_id,
                                                        merged_id=decision.merged_id), clock=self.clock))
        insert_rows(self.session, cast(Table, CustomerMerge.__table__), rows)
        insert_rows(self.session, cast(Table, OutboxEvent.__table__), events)
