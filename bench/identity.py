"""Identity resolution at volume: synthetic events through ``POST /api/v1/events``, checked against ground truth.

Generates a deterministic population (``--people``, seeded): each person has an email, usually a Dutch mobile
number, one or two devices (web cookie, app install), for some a loyalty card, a POS customer number and a
marketplace buyer id. Their ``--events`` events are spread over the channels ``web``, ``app``, ``pos``,
``marketplace`` and ``social``; each carries a subset of the person's identifiers, chosen so that the person's
identifiers are connected through their events (ground truth: one profile per person) while no two people share
an identifier. 30% of the people start anonymous (device only) and identify later (device + email). Emails, phones
and loyalty ids are sometimes written differently from their normalised form (case, national phone format,
spaces), so normalisation has to make them match.

1. **HTTP**: starts ``omniloom serve --workers N`` on a throw-away database and sends the events, in time order,
   as batches of ``--batch-size`` from ``--clients`` concurrent keep-alive connections; reports events/s over the
   whole ingest, the batch latency, and the CPU spent by the API workers, the database and the clients.
2. **In process**: the same pipeline as the endpoint (``prepare_batch``, then ``resolve_events`` and
   ``store_events``, each in its own ``db.write()``, as ``ingest_events`` does) on a fresh database, without HTTP,
   for ``--in-process-events`` events of a population scaled to match; reports
   events/s, the time per step and the CPU per event of the pipeline (this process) and of the database.

After each, ``customer_identifiers`` is read back and its partition of identifiers into profiles compared with the
ground truth: precision and recall of links (pairs of identifiers in one profile), counted per cluster from the
contingency table, never by listing pairs; plus profiles against people, events stored against sent, and events
attributed to a profile other than their person's.

The tables grow from empty during the run. On a PostgreSQL server with autovacuum off, the benchmark runs
``ANALYZE`` on them every ``--analyze-seconds`` (30), as autoanalyze would: without it, the plans each connection
caches while a table is nearly empty (sequential scans) stay in use and every merge scans the whole table.

Usage: ``python bench/identity.py [--database-url URL] [--events 1000000] [--people 200000] [--clients 4]
[--workers 2] [--batch-size 1000] [--in-process-events 200000] [--seed 5] [--skip-http] [--analyze-seconds 30]
[--without-event-ids] [--profile DIR]``

A quick run: ``python bench/identity.py --events 20000 --people 4000 --in-process-events 20000``.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import pstats
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from _common import (
    Server,
    add_database_argument,
    create_admin_key,
    emit,
    is_postgres,
    latency_summary,
    log,
    machine_facts,
    read_bytes,
    throwaway_database,
)
from omniloom.channels import service as channels
from omniloom.channels.schemas import ChannelCreate, ChannelType
from omniloom.customers import service as customers
from omniloom.customers.intake import prepare_batch
from omniloom.platform.clock import SystemClock
from omniloom.platform.db import Database, make_engine
from omniloom.platform.schema import upgrade
from omniloom.platform.settings import Settings
from omniloom.pricing import service as pricing
from omniloom.pricing.schemas import PriceListCreate

GOAL_EVENTS_PER_SECOND = 5000.0
CHANNELS: dict[str, ChannelType] = {"web": "web", "app": "app", "pos": "pos", "marketplace": "marketplace",
                                    "social": "social"}
PRICE_LIST = "bench-eur"
ANONYMOUS_SHARE = 0.30
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_DAYS = 90.0
FIRST_NAMES = ("anna", "daan", "emma", "lucas", "sophie", "sem", "julia", "levi", "tess", "finn", "sara", "noah")
LAST_NAMES = ("bakker", "jansen", "visser", "smit", "meijer", "mulder", "bos", "vos", "peters", "dekker")
DOMAINS = ("example.com", "example.nl", "example.org", "example.net")
EVENT_TYPES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "web": (("page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout_started", "order_completed"),
            (30, 30, 12, 3, 6, 6)),
    "app": (("page_view", "product_view", "add_to_cart", "checkout_started", "order_completed"), (20, 40, 15, 5, 8)),
    "pos": (("store_visit", "order_completed"), (50, 50)),
    "marketplace": (("order_completed", "product_view"), (70, 30)),
    "social": (("ad_click", "service_contact", "email_open", "email_click"), (40, 20, 25, 15)),
}
ANALYZED_TABLES = ("customer_profiles", "customer_identifiers", "customer_events", "customer_purchases",
                   "customer_merges", "outbox_events")
REQUEST_TIMEOUT = 300.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_argument(parser)
    parser.add_argument("--events", type=int, default=1_000_000, help="events sent over HTTP (1000000)")
    parser.add_argument("--people", type=int, default=200_000, help="people behind those events (200000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients (4)")
    parser.add_argument("--workers", type=int, default=2, help="API server processes (2)")
    parser.add_argument("--batch-size", type=int, default=1000, help="events per request, at most 1000 (1000)")
    parser.add_argument("--in-process-events", type=int, default=200_000,
                        help="events of the in-process run, people scaled in proportion; 0 skips it (200000)")
    parser.add_argument("--seed", type=int, default=5, help="random seed of the population (5)")
    parser.add_argument("--skip-http", action="store_true", help="only the in-process run")
    parser.add_argument("--without-event-ids", action="store_true",
                        help="send events without an `id` (no duplicate check; no per-event attribution check)")
    parser.add_argument("--analyze-seconds", type=float, default=30.0,
                        help="on a PostgreSQL server with autovacuum off, ANALYZE the customer tables this often "
                             "during ingest, as autoanalyze would (0: never; default 30)")
    parser.add_argument("--profile", metavar="DIR", type=Path,
                        help="cProfile the in-process run into DIR/in_process.pstats (its top functions go into "
                             "the result) and record every API worker during the HTTP ingest with py-spy into "
                             "DIR/http-<pid>.txt (summarise with bench/stacks.py)")
    args = parser.parse_args()
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be between 1 and 1000")
    if args.people < 1 or args.events < 2 * args.people:
        parser.error("--events must be at least twice --people (anonymous people need two events)")
    return args


# ---------------------------------------------------------------------------------------- synthetic population

Key = tuple[str, str]  # (kind, normalised value), as stored in customer_identifiers


@dataclass(frozen=True)
class Identity:
    """One identifier of a person: its normalised key, the field it is sent in, and the ways it is written."""

    key: Key
    field: str  # email, phone, device_id, loyalty_id, or the channel of an external id
    spellings: tuple[str, ...]  # the first is the usual one

    @property
    def is_device(self) -> bool:
        return self.field == "device_id"

    @property
    def is_external(self) -> bool:
        return self.key[0] == "external"


@dataclass
class Person:
    index: int
    first: str
    last: str
    identities: list[Identity]
    anonymous_first: bool


@dataclass
class Workload:
    """The events in time order (as batches of raw events) and whose each identifier and event is."""

    batches: list[list[dict[str, Any]]]
    truth: dict[Key, int]  # identifier -> person
    event_person: list[int]  # event number -> person
    people: int
    anonymous_people: int
    batch_count: int = 0
    identifier_kinds: dict[str, int] = field(default_factory=dict)
    event_types: dict[str, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    identifiers_per_event: dict[int, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return len(self.event_person)

    def summary(self) -> dict[str, Any]:
        return {"people": self.people, "anonymous_first_people": self.anonymous_people, "events": self.events,
                "batches": self.batch_count, "identifiers": len(self.truth),
                "identifier_kinds": dict(sorted(self.identifier_kinds.items())),
                "identifiers_per_event": dict(sorted(self.identifiers_per_event.items())),
                "channels": dict(sorted(self.channels.items())), "event_types": dict(sorted(self.event_types.items()))}


def make_person(index: int, phone_number: int, chooser: random.Random) -> Person:
    """A person with unique identifiers: the person's number is part of every one of them."""
    first, last, domain = chooser.choice(FIRST_NAMES), chooser.choice(LAST_NAMES), chooser.choice(DOMAINS)
    address = f"{first}.{last}.{index}@{domain}"
    identities = [Identity(("email", address), "email",
                           (address, f"{first.title()}.{last.title()}.{index}@{domain.upper()}", f" {address} "))]
    identities.append(Identity(("device", f"web-{chooser.getrandbits(48):012x}-{index}"), "device_id", ()))
    if chooser.random() < 0.85:
        digits = f"{1 + phone_number // 10**7}{phone_number % 10**7:07d}"  # +316 then [1-5]: valid Dutch mobiles
        identities.append(Identity(("phone", f"+316{digits}"), "phone",
                                   (f"+316{digits}", f"06 {digits[:4]} {digits[4:]}", f"+31 6 {digits}")))
    if chooser.random() < 0.30:
        identities.append(Identity(("device", f"app-{chooser.getrandbits(48):012x}-{index}"), "device_id", ()))
    if chooser.random() < 0.35:
        card = f"{index:08d}"
        identities.append(Identity(("loyalty", f"LY{card}"), "loyalty_id", (f"LY{card}", f"ly {card[:4]} {card[4:]}")))
    if chooser.random() < 0.30:
        identities.append(Identity(("external", f"pos:C-{index:07d}"), "pos", ()))
    if chooser.random() < 0.25:
        identities.append(Identity(("external", f"marketplace:buyer-{index}"), "marketplace", ()))
    return Person(index, first, last, identities, anonymous_first=chooser.random() < ANONYMOUS_SHARE)


def spanning_edges(person: Person, chooser: random.Random) -> list[tuple[Identity, Identity]]:
    """A random tree over the person's identifiers: covering its edges with events connects them all.

    Two devices never share an edge (an event carries one device id), and a second device is a leaf, so that it
    can be left out when no event can take it; an anonymous person's web device hangs off the email, the link
    their identify event makes.
    """
    email, web_device, *others = person.identities
    chooser.shuffle(others)
    others.sort(key=lambda identity: identity.is_device)  # the app device, if any, comes last
    placed, edges = [email, web_device], [(email, web_device)]
    for identity in others:
        parents = [p for p in placed if not (p.is_device and identity.is_device)]
        edges.append((chooser.choice(parents), identity))
        placed.append(identity)
    return edges


def plan_events(person: Person, count: int, chooser: random.Random) -> list[set[Identity]]:
    """The identifiers of each of the person's ``count`` events, in the order they happen."""
    email, web_device = person.identities[:2]
    edges = spanning_edges(person, chooser)
    events: list[set[Identity]] = [set() for _ in range(count)]
    first_linked = 0
    if person.anonymous_first:
        first_linked = chooser.randint(1, max(1, (count - 1) // 2))
        for anonymous in range(first_linked):
            events[anonymous] = {web_device}
        events[first_linked] = {web_device, email}  # the identify event
        edges = edges[1:]
    for left, right in edges:
        fitting = [i for i in range(first_linked, count) if _fits(events[i], left) and _fits(events[i], right)]
        if not fitting:  # only the second device (a leaf) can fail to fit: it stays out of the person's identifiers
            person.identities.remove(right)
            continue
        events[chooser.choice(fitting)].update((left, right))
    for number in range(first_linked, count):
        chosen = events[number]
        if not chosen:
            chosen.add(chooser.choice(person.identities))
        if chooser.random() < 0.2:
            extra = chooser.choice(person.identities)
            if _fits(chosen, extra):
                chosen.add(extra)
    return events


def _fits(chosen: set[Identity], identity: Identity) -> bool:
    return identity in chosen or not any(other.field == identity.field for other in chosen)


def raw_event(person: Person, identities: set[Identity], *, number: int, identify: bool,
              chooser: random.Random) -> dict[str, Any]:
    """The JSON of one event: its channel follows from the identifiers (a POS id is seen at the till)."""
    sent: dict[str, Any] = {}
    external: dict[str, str] = {}
    for identity in sorted(identities, key=lambda identity: identity.key):  # sets iterate in hash order
        if identity.is_external:
            external[identity.field] = identity.key[1].split(":", 1)[1]
        else:
            spellings = identity.spellings or (identity.key[1],)
            sent[identity.field] = spellings[0] if chooser.random() < 0.7 else chooser.choice(spellings)
    if external:
        sent["external_ids"] = external
    channel = _channel(identities, external, chooser)
    kind = "identify" if identify else _event_type(channel, chooser)
    return {"type": kind, "channel": channel, "identifiers": sent,
            "properties": _properties(kind, channel, person, number, chooser)}


def _channel(identities: set[Identity], external: dict[str, str], chooser: random.Random) -> str:
    if external:
        return "pos" if "pos" in external else "marketplace"
    devices = [identity for identity in identities if identity.is_device]
    if devices:
        return "web" if devices[0].key[1].startswith("web-") else "app"
    if any(identity.field == "loyalty_id" for identity in identities):
        return chooser.choice(("pos", "app"))
    return chooser.choice(("social", "web"))


def _event_type(channel: str, chooser: random.Random) -> str:
    kinds, weights = EVENT_TYPES[channel]
    return chooser.choices(kinds, weights)[0]


def _properties(kind: str, channel: str, person: Person, number: int, chooser: random.Random) -> dict[str, Any]:
    sku = f"SKU-{chooser.randrange(5000):05d}"
    if kind in ("product_view", "add_to_cart", "remove_from_cart"):
        return {"sku": sku, "quantity": chooser.randint(1, 3)}
    if kind == "order_completed":
        quantity, price = chooser.randint(1, 3), chooser.randrange(500, 15_000)
        return {"order_id": f"{channel}-{number}", "total": {"amount": quantity * price, "currency": "EUR"},
                "lines": [{"sku": sku, "quantity": quantity, "unit_price": {"amount": price, "currency": "EUR"}}]}
    if kind == "identify":
        return {"first_name": person.first.title(), "last_name": person.last.title()}
    if kind == "store_visit":
        return {"location": f"STORE-{chooser.randrange(40):02d}"}
    if kind == "ad_click":
        return {"campaign": f"spring-{chooser.randrange(12)}", "source": "instagram", "medium": "paid_social"}
    if kind == "page_view":
        return {"path": f"/c/{chooser.randrange(200)}"}
    return {}


def events_per_person(people: int, events: int, anonymous: list[bool], chooser: random.Random) -> list[int]:
    """At least one event each (two for the anonymous-first); the rest spread with a heavy tail."""
    counts = [2 if anonymous_first else 1 for anonymous_first in anonymous]
    weights = [chooser.paretovariate(1.5) for _ in range(people)]
    for index in chooser.choices(range(people), weights, k=events - sum(counts)):
        counts[index] += 1
    return counts


def generate(people: int, events: int, *, seed: int, batch_size: int, event_ids: bool) -> Workload:
    """The population, its events in time order cut into batches, and the ground truth."""
    chooser = random.Random(seed)
    phones = chooser.sample(range(5 * 10**7), people)
    population = [make_person(index, phones[index], chooser) for index in range(people)]
    counts = events_per_person(people, events, [p.anonymous_first for p in population], chooser)
    span = SPAN_DAYS * 86400.0
    timed: list[tuple[float, int, int, dict[str, Any]]] = []
    for person, count in zip(population, counts, strict=True):
        moment = chooser.uniform(0.0, span * 0.8)
        planned = plan_events(person, count, chooser)
        identify_at = next((n for n, chosen in enumerate(planned) if len(chosen) > 1), -1) \
            if person.anonymous_first else -1
        for number, identities in enumerate(planned):
            event = raw_event(person, identities, number=len(timed), identify=number == identify_at,
                              chooser=chooser)
            timed.append((moment, len(timed), person.index, event))
            moment += chooser.expovariate(1.0 / (span * 0.2 / count))
    timed.sort(key=lambda item: (item[0], item[1]))
    workload = Workload(batches=[], truth={}, event_person=[], people=people,
                        anonymous_people=sum(p.anonymous_first for p in population))
    for person in population:
        for identity in person.identities:
            workload.truth[identity.key] = person.index
    workload.identifier_kinds = dict(Counter(kind for kind, _ in workload.truth))
    types: Counter[str] = Counter()
    used: Counter[str] = Counter()
    per_event: Counter[int] = Counter()
    batch: list[dict[str, Any]] = []
    for number, (moment, _, person_index, event) in enumerate(timed):
        event["timestamp"] = (EPOCH + timedelta(seconds=moment)).isoformat(timespec="milliseconds")
        if event_ids:
            event["id"] = f"ev-{number}"
        workload.event_person.append(person_index)
        types[event["type"]] += 1
        used[event["channel"]] += 1
        sent = event["identifiers"]
        per_event[len(sent) - ("external_ids" in sent) + len(sent.get("external_ids", ()))] += 1
        batch.append(event)
        if len(batch) == batch_size:
            workload.batches.append(batch)
            batch = []
    if batch:
        workload.batches.append(batch)
    workload.batch_count = len(workload.batches)
    workload.event_types, workload.channels, workload.identifiers_per_event = dict(types), dict(used), dict(per_event)
    return workload


# ---------------------------------------------------------------------------------------------- correctness


def _pairs(size: int) -> int:
    return size * (size - 1) // 2


def check_identity(engine: Engine, workload: Workload, *, events_sent: int, event_ids: bool) -> dict[str, Any]:
    """Compare the stored partition of identifiers into profiles with the ground truth (one profile per person)."""
    cells: Counter[tuple[int, str]] = Counter()
    profile_sizes: Counter[str] = Counter()
    person_profile: dict[int, str] = {}
    unknown = 0
    with engine.connect() as connection:
        for kind, value, profile in connection.execute(text(
                "SELECT kind, value, profile_id FROM customer_identifiers")):
            person = workload.truth.get((kind, value))
            if person is None:
                unknown += 1
                continue
            cells[(person, profile)] += 1
            profile_sizes[profile] += 1
            if kind == "email":
                person_profile[person] = profile
        live = connection.execute(text(
            "SELECT COUNT(*) FROM customer_profiles WHERE merged_into IS NULL")).scalar_one()
        merged_away = connection.execute(text(
            "SELECT COUNT(*) FROM customer_profiles WHERE merged_into IS NOT NULL")).scalar_one()
        merges: dict[str, int] = {str(status): int(count) for status, count in connection.execute(
            text("SELECT status, COUNT(*) FROM customer_merges GROUP BY status"))}
        stored = connection.execute(text("SELECT COUNT(*) FROM customer_events")).scalar_one()
        misattributed = _misattributed_events(connection, workload, person_profile) if event_ids else None
    person_sizes = Counter(workload.truth.values())
    true_links = sum(_pairs(n) for n in cells.values())
    predicted_links = sum(_pairs(n) for n in profile_sizes.values())
    actual_links = sum(_pairs(n) for n in person_sizes.values())
    precision = true_links / predicted_links if predicted_links else 1.0
    recall = true_links / actual_links if actual_links else 1.0
    people_split = sum(1 for n in Counter(person for person, _ in cells).values() if n > 1)
    profiles_mixing = sum(1 for n in Counter(profile for _, profile in cells).values() if n > 1)
    result = {
        "identifiers_expected": len(workload.truth),
        "identifiers_stored": sum(cells.values()) + unknown,
        "identifiers_missing": len(workload.truth) - sum(cells.values()),
        "identifiers_unknown_to_ground_truth": unknown,
        "links_expected": actual_links,
        "links_stored": predicted_links,
        "links_correct": true_links,
        "link_precision": round(precision, 6),
        "link_recall": round(recall, 6),
        "people": workload.people,
        "profiles_holding_identifiers": len(profile_sizes),
        "live_profiles": int(live),
        "merged_away_profiles": int(merged_away),
        "merge_decisions": merges,
        "people_split_over_profiles": people_split,
        "profiles_mixing_people": profiles_mixing,
        "events_sent": events_sent,
        "events_stored": int(stored),
        "events_misattributed": misattributed,
    }
    result["passed"] = (precision == 1.0 and recall == 1.0 and unknown == 0 and result["identifiers_missing"] == 0
                        and live == workload.people == len(profile_sizes) and stored == events_sent
                        and not misattributed)
    return result


def _misattributed_events(connection: Any, workload: Workload, person_profile: dict[int, str]) -> int:
    """Events whose profile is not the one holding their person's email (event ids are ``ev-<number>``)."""
    wrong = 0
    rows = connection.execution_options(stream_results=True, yield_per=50_000).execute(
        text("SELECT event_id, profile_id FROM customer_events"))
    for event_id, profile in rows:
        if person_profile.get(workload.event_person[int(event_id[3:])]) != profile:
            wrong += 1
    return wrong


# ----------------------------------------------------------------------------------------------------- setup


class Analyzer:
    """Fresh planner statistics of the customer tables every few seconds while events flow.

    The tables start empty and grow during the ingest. Autovacuum's autoanalyze normally keeps their statistics
    current, which also makes every connection re-plan its prepared statements; on a server with autovacuum off
    the plans made while a table was nearly empty (sequential scans) would stay in use. This stands in for it.
    """

    def __init__(self, engine: Engine, seconds: float) -> None:
        self.engine = engine
        self.seconds = seconds
        self.runs = 0
        self.autovacuum = None
        if is_postgres(engine.url.render_as_string()):
            with engine.connect() as connection:
                self.autovacuum = connection.exec_driver_sql("SHOW autovacuum").scalar()
        self.active = seconds > 0 and self.autovacuum == "off"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Analyzer:
        if self.active:
            self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        if self.active:
            self.thread.join()

    def _loop(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            while not self.stopping.wait(self.seconds):
                connection.exec_driver_sql(f"ANALYZE {', '.join(ANALYZED_TABLES)}")
                self.runs += 1

    def summary(self) -> dict[str, Any]:
        return {"server_autovacuum": self.autovacuum,
                "bench_analyze_every_seconds": self.seconds if self.active else None, "analyze_runs": self.runs}


def create_channels(database: Database) -> None:
    """The five channels events come from, through the channel and pricing services."""
    clock = SystemClock()
    with database.write() as session:
        pricing.create_price_list(session, PriceListCreate(code=PRICE_LIST, currency="EUR"), clock=clock)
        for code, kind in CHANNELS.items():
            channels.create_channel(session, ChannelCreate(code=code, name=f"Bench {code}", type=kind,
                                                           currency="EUR", price_list=PRICE_LIST), clock=clock)


# ---------------------------------------------------------------------------------------------- CPU accounting


def _process_seconds(pid: int) -> float:
    fields = read_bytes(f"/proc/{pid}/stat").rsplit(b")", 1)
    if len(fields) != 2:
        return 0.0
    values = fields[1].split()
    return (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _machine_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / ticks, sum(values) / ticks


class CpuMeter:
    """CPU used during a phase by the API workers, this database's backends, this process and the machine."""

    def __init__(self, engine: Engine, worker_pids: list[int]) -> None:
        self.engine = engine
        self.workers = worker_pids
        self.start_backends = {pid: _process_seconds(pid) for pid in self._backends()}
        self.start = self._sample()

    def _backends(self) -> list[int]:
        if not is_postgres(self.engine.url.render_as_string()):
            return []
        with self.engine.connect() as connection:
            return [int(pid) for pid in connection.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalars()]

    def _sample(self) -> dict[str, float]:
        own = os.times()
        busy, total = _machine_seconds()
        return {"api_workers": sum(_process_seconds(pid) for pid in self.workers),
                "bench_client": own.user + own.system, "machine_busy": busy, "machine_total": total}

    def per_event(self, events: int) -> dict[str, Any]:
        """CPU microseconds per event since the meter started, and how busy the machine was."""
        end = self._sample()
        used = {name: end[name] - self.start[name] for name in end}
        used["database_backends"] = sum(_process_seconds(pid) - self.start_backends.get(pid, 0.0)
                                        for pid in self._backends())
        return {
            **{f"{name}_us_per_event": round(used[name] * 1e6 / events, 1) if events else None
               for name in ("api_workers", "database_backends", "bench_client")},
            "machine_busy_fraction": round(used["machine_busy"] / used["machine_total"], 3)
            if used["machine_total"] else None,
        }


# ------------------------------------------------------------------------------------------------- HTTP ingest


@dataclass
class Ingest:
    elapsed: float = 0.0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    first_problems: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def send_batches(port: int, key: str, bodies: list[bytes], sizes: list[int], clients: int) -> Ingest:
    """``clients`` threads, each with one keep-alive connection, POST the batches in order, one in flight each."""
    ingest = Ingest()
    lock = threading.Lock()
    upcoming = iter(range(len(bodies)))
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {key}"}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        while True:
            with lock:
                number = next(upcoming, None)
            if number is None:
                break
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/v1/events", body=bodies[number], headers=headers)
                response = connection.getresponse()
                status, data = response.status, response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                with lock:
                    ingest.errors[f"connection:{type(error).__name__}"] += 1
                continue
            seconds = time.perf_counter() - started
            with lock:
                ingest.latencies.append(seconds)
                _count_answer(ingest, status, data, sizes[number])
                if len(ingest.latencies) % every == 0:
                    log(f"{ingest.accepted} events accepted, {ingest.accepted / (time.perf_counter() - begun):.0f}/s")
        connection.close()

    every = max(1, len(bodies) // 20)
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    begun = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ingest.elapsed = time.perf_counter() - begun
    return ingest


def _count_answer(ingest: Ingest, status: int, data: bytes, size: int) -> None:
    if status != 202:
        ingest.errors[f"http {status}"] += 1
        if len(ingest.first_problems) < 3:
            ingest.first_problems.append(data[:500].decode(errors="replace"))
        return
    answer = json.loads(data)
    ingest.batches += 1
    ingest.accepted += answer["accepted"]
    ingest.duplicates += answer["duplicates"]
    ingest.rejected += len(answer["rejected"])
    if answer["rejected"] and len(ingest.first_problems) < 3:
        ingest.first_problems.append(json.dumps(answer["rejected"][:2]))
    if len(answer["customer_ids"]) != size or any(
            customer is None for customer in answer["customer_ids"]) != bool(answer["rejected"]):
        ingest.errors["customer_ids not one per event"] += 1


def start_profilers(folder: Path | None, pids: list[int]) -> list[subprocess.Popen[bytes]]:
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "50",
                              "--nonblocking", "--output", str(folder / f"http-{pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in pids]


def stop_profilers(recorders: list[subprocess.Popen[bytes]]) -> None:
    for recorder in recorders:
        recorder.send_signal(signal.SIGINT)  # py-spy writes what it recorded and exits
    for recorder in recorders:
        try:
            recorder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait(timeout=10)


def http_run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    log(f"generating {args.events} events of {args.people} people (seed {args.seed})")
    started = time.perf_counter()
    workload = generate(args.people, args.events, seed=args.seed, batch_size=args.batch_size,
                        event_ids=not args.without_event_ids)
    bodies = [json.dumps({"events": batch}, separators=(",", ":")).encode() for batch in workload.batches]
    sizes = [len(batch) for batch in workload.batches]
    workload.batches = []  # only the encoded requests are needed from here on
    log(f"generated {len(bodies)} requests ({sum(map(len, bodies)) / 1e6:.0f} MB) "
        f"in {time.perf_counter() - started:.1f}s")
    engine = make_engine(database_url, pool_size=2)
    upgrade(engine)
    facts = machine_facts(engine)
    create_channels(Database(engine))
    key = create_admin_key(database_url)
    server = Server(database_url, args.workers)
    failed = True
    try:
        server.wait_ready()
        workers = server.worker_pids()
        log(f"server up on port {server.port} ({len(workers)} workers); sending with {args.clients} clients")
        recorders = start_profilers(args.profile, workers)
        meter = CpuMeter(engine, workers)
        with Analyzer(engine, args.analyze_seconds) as analyzer:
            ingest = send_batches(server.port, key, bodies, sizes, args.clients)
        cpu = meter.per_event(ingest.accepted)
        stop_profilers(recorders)
        rate = ingest.accepted / ingest.elapsed if ingest.elapsed else 0.0
        log(f"HTTP: {ingest.accepted} events accepted in {ingest.elapsed:.1f}s = {rate:.0f} events/s")
        failed = bool(ingest.errors or ingest.rejected)
    finally:
        server.stop(keep_log=failed)
    log("checking the identity graph against the ground truth")
    check = check_identity(engine, workload, events_sent=workload.events, event_ids=not args.without_event_ids)
    engine.dispose()
    return {
        "machine": facts,
        "workload": workload.summary(),
        "result": {
            "events_per_second": round(rate, 1),
            "goal_events_per_second": GOAL_EVENTS_PER_SECOND,
            "goal_met": rate >= GOAL_EVENTS_PER_SECOND,
            "elapsed_seconds": round(ingest.elapsed, 2),
            "batches_answered_202": ingest.batches,
            "accepted": ingest.accepted,
            "duplicates": ingest.duplicates,
            "rejected": ingest.rejected,
            "errors": dict(ingest.errors),
            "first_problems": ingest.first_problems,
            "batch_latency": latency_summary(ingest.latencies),
            "cpu": cpu,
            "statistics": analyzer.summary(),
        },
        "check": check,
    }


# ---------------------------------------------------------------------------------------------- in process


def in_process_run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    """The endpoint's pipeline without HTTP: known channels, ``prepare_batch``, ``resolve_events`` and
    ``store_events`` per batch."""
    events = args.in_process_events
    people = max(1, min(events // 2, round(args.people * events / args.events)))
    log(f"in process: generating {events} events of {people} people")
    workload = generate(people, events, seed=args.seed, batch_size=args.batch_size,
                        event_ids=not args.without_event_ids)
    engine = make_engine(database_url, pool_size=2)
    upgrade(engine)
    database = Database(engine)
    create_channels(database)
    profiler = cProfile.Profile() if args.profile else None
    timings = {"channels": 0.0, "prepare_batch": 0.0, "resolve_events": 0.0, "commit_resolved": 0.0,
               "store_events": 0.0}
    latencies: list[float] = []
    log(f"in process: recording {len(workload.batches)} batches")
    meter_engine = make_engine(database_url, pool_size=1)  # not one of the pipeline's connections: it counts them
    with Analyzer(engine, args.analyze_seconds) as analyzer:
        meter = CpuMeter(meter_engine, [])
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        accepted, rejected = record_batches(database, workload.batches, timings, latencies)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        cpu = meter.per_event(accepted)
    meter_engine.dispose()
    rate = accepted / elapsed if elapsed else 0.0
    log(f"in process: {accepted} events in {elapsed:.1f}s = {rate:.0f} events/s")
    log("in process: checking the identity graph against the ground truth")
    check = check_identity(engine, workload, events_sent=workload.events, event_ids=not args.without_event_ids)
    engine.dispose()
    result: dict[str, Any] = {
        "workload": workload.summary(),
        "result": {
            "events_per_second": round(rate, 1),
            "elapsed_seconds": round(elapsed, 2),
            "accepted": accepted,
            "rejected": rejected,
            "batch_latency": latency_summary(latencies),
            "us_per_event": {name: round(seconds * 1e6 / workload.events, 1) for name, seconds in timings.items()},
            "cpu": {"pipeline_us_per_event": cpu["bench_client_us_per_event"],
                    "database_backends_us_per_event": cpu["database_backends_us_per_event"],
                    "machine_busy_fraction": cpu["machine_busy_fraction"]},
            "statistics": analyzer.summary(),
            "profiled": profiler is not None,
        },
        "check": check,
    }
    if profiler and args.profile:
        result["profile"] = profile_summary(profiler, args.profile / "in_process.pstats", workload.events)
    return result


def record_batches(database: Database, batches: list[list[dict[str, Any]]], timings: dict[str, float],
                   latencies: list[float]) -> tuple[int, int]:
    """Each batch as ``POST /events`` handles it; adds each step's seconds to ``timings``; (accepted, rejected)."""
    settings = Settings()
    clock = SystemClock()
    accepted = rejected = 0
    for batch in batches:
        at = time.perf_counter()
        with database.read() as session:
            known = channels.channel_codes(session)
        prepared_at = time.perf_counter()
        prepared, refused = prepare_batch(batch, received_at=clock.now(), region=settings.default_phone_region,
                                          only_channel=None, known_channels=known)
        resolving_at = time.perf_counter()
        with database.write() as session:
            resolved = customers.resolve_events(session, events=prepared, guards=settings.identity_guards,
                                                clock=clock)
            committing_at = time.perf_counter()
        storing_at = time.perf_counter()
        with database.write() as session:
            recorded = customers.store_events(session, resolved)
        done = time.perf_counter()
        timings["channels"] += prepared_at - at
        timings["prepare_batch"] += resolving_at - prepared_at
        timings["resolve_events"] += committing_at - resolving_at
        timings["commit_resolved"] += storing_at - committing_at
        timings["store_events"] += done - storing_at
        latencies.append(done - at)
        accepted += len(prepared) - len(recorded.duplicates)
        rejected += len(refused)
    return accepted, rejected


def profile_summary(profiler: cProfile.Profile, path: Path, events: int) -> dict[str, Any]:
    """Save the stats and list the heaviest functions: cumulative and own microseconds per event."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(path)
    stats = pstats.Stats(profiler)
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = [(function, calls, own, cumulative) for function, (_, calls, own, cumulative, _) in entries.items()]

    def name(function: tuple[str, int, str]) -> str:
        file, line, function_name = function
        return f"{function_name} ({Path(file).name}:{line})" if line else function_name

    def top(rank: int, count: int) -> list[dict[str, Any]]:
        ordered = sorted(rows, key=lambda row: row[rank], reverse=True)[:count]
        return [{"function": name(function), "calls": calls, "own_us_per_event": round(own * 1e6 / events, 1),
                 "cumulative_us_per_event": round(cumulative * 1e6 / events, 1)}
                for function, calls, own, cumulative in ordered]

    return {"stats_file": str(path), "by_cumulative": top(3, 30), "by_own": top(2, 20)}


# ---------------------------------------------------------------------------------------------------- main


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server and drop the database on the way out
    result: dict[str, Any] = {"benchmark": "identity", "config": {
        "events": args.events, "people": args.people, "clients": args.clients, "workers": args.workers,
        "batch_size": args.batch_size, "in_process_events": args.in_process_events, "seed": args.seed,
        "event_ids": not args.without_event_ids, "analyze_seconds": args.analyze_seconds,
        "anonymous_first_share": ANONYMOUS_SHARE,
        "identity_guards": Settings().identity_guards, "loyalty_program": None,
        "client": "threads, one keep-alive http.client connection each, requests encoded before the clock starts",
    }}
    if not args.skip_http:
        with throwaway_database(args.database_url) as database_url:
            http = http_run(args, database_url)
        result["machine"] = {**http.pop("machine"), "api_workers": args.workers}
        result["http"] = http
    if args.in_process_events:
        with throwaway_database(args.database_url) as database_url:
            if "machine" not in result:
                engine = make_engine(database_url, pool_size=1)
                result["machine"] = machine_facts(engine)
                engine.dispose()
            result["in_process"] = in_process_run(args, database_url)
    result["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    parts = [result[name] for name in ("http", "in_process") if name in result]
    result["all_checks_passed"] = all(part["check"]["passed"] for part in parts)
    result["goal_met"] = result["http"]["result"]["goal_met"] if "http" in result else None
    emit(result)


if __name__ == "__main__":
    main()
