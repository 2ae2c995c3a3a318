"""The demo retailer's customers and two years of their history on every channel (pure data, no I/O).

People shop in the stores with a loyalty card, on the web shop and app with an email address, or both: those link
their card to their web account one day (an ``identify`` event carrying email and loyalty id), which merges their
two profiles. Some browse anonymously (a device id only) before they sign in; a few households share a tablet.
Everything is an event shaped as in ``POST /events``, with a deterministic id, in time order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from omniloom.demo.retailer import STORE_CODES

Kind = Literal["store", "web", "both", "marketplace", "prospect"]
KINDS: tuple[Kind, ...] = ("store", "web", "both", "marketplace", "prospect")
KIND_WEIGHTS = (30, 25, 35, 5, 5)
LOCAL = ZoneInfo("Europe/Amsterdam")
HISTORY_DAYS = 730
FIRST_NAMES = ("Sjoerd", "Wytze", "Hylke", "Jelle", "Tjitske", "Sytske", "Baukje", "Froukje", "Durk", "Gerben",
               "Rients", "Auke", "Meindert", "Akke", "Geertje", "Hiske", "Janke", "Lieuwe", "Oebele", "Tsjalling",
               "Wiebe", "Ynte", "Femke", "Lotte", "Sanne", "Daan", "Bram", "Anna", "Marieke", "Pieter", "Jan",
               "Anke", "Doutzen", "Hinke", "Fokke", "Sibbele", "Ymkje", "Jildou", "Marrit", "Tjerk")
LAST_NAMES = ("de Vries", "Hoekstra", "Dijkstra", "Visser", "Bakker", "de Jong", "Postma", "Zwart", "van der Meer",
              "Bosma", "Wijnia", "Terpstra", "Kuipers", "Sikkema", "Wiersma", "Veenstra", "Kingma", "Hofstra",
              "Tuinstra", "Holwerda", "Zijlstra", "Brouwer", "Boersma", "Mulder", "Jellema", "Faber", "Haringsma",
              "Yntema", "Bergsma", "Kooistra", "de Boer", "Miedema", "van Dijk", "Hiemstra", "Osinga")
MAIL_DOMAINS = ("ziggo.example", "kpnmail.example", "gmail.example", "hotmail.example", "outlook.example",
                "planet.example", "home.example", "xs4all.example")
PHONE_FORMS = ("06-{}", "06 {}", "+31 6 {}", "06{}")
CAMPAIGNS = ("nieuwsbrief-voorjaar", "nieuwsbrief-zomer", "nieuwsbrief-najaar", "nieuwsbrief-winter",
             "wadden-collectie", "black-friday", "kerst")


@dataclass(frozen=True)
class ConsentDecision:
    """A consent decision the person of event ``event_id`` took when that event happened."""

    event_id: str
    purpose: str
    granted: bool
    channel: str
    source: str


@dataclass
class DemoCustomers:
    people: int
    events: list[dict[str, Any]] = field(default_factory=list)
    consents: list[ConsentDecision] = field(default_factory=list)
    sample_email: str = ""


@dataclass(frozen=True)
class Person:
    number: int
    kind: Kind
    first_name: str
    last_name: str
    email: str
    phone: str
    loyalty_id: str
    web_device: str
    app_device: str | None
    store: str
    since: datetime
    until: datetime


def _person(rng: random.Random, number: int, start: datetime, end: datetime) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace(" ", "")
    email = f"{local}{rng.choice(['', str(rng.randint(1, 99))])}.{number}@{rng.choice(MAIL_DOMAINS)}"
    since = start + timedelta(days=rng.uniform(0, HISTORY_DAYS * 0.85))
    final = end - timedelta(days=1)  # a store visit on the final day still lies before ``end``
    stays = rng.random() < 0.7  # the others stop shopping some time before it
    until = final if stays else since + (final - since) * rng.uniform(0.2, 0.8)
    return Person(
        number=number, kind=rng.choices(KINDS, KIND_WEIGHTS)[0], first_name=first, last_name=last, email=email,
        phone=rng.choice(PHONE_FORMS).format(f"{rng.randint(1, 5)}{rng.randint(0, 9_999_999):07d}"),
        loyalty_id=f"WW {rng.randint(1000, 9999)} {number:04d}", web_device=f"web-{rng.getrandbits(64):016x}",
        app_device=f"app-{rng.getrandbits(64):016x}" if rng.random() < 0.3 else None,
        store=rng.choice(STORE_CODES), since=since, until=until)


class _History:
    """Builds one person's events; ``add`` gives each a deterministic id."""

    def __init__(self, rng: random.Random, person: Person, skus: Sequence[tuple[str, int]]) -> None:
        self.rng, self.person, self.skus = rng, person, skus
        self.events: list[dict[str, Any]] = []
        self.consents: list[ConsentDecision] = []
        self.signed_in: datetime | None = None

    def add(self, type: str, channel: str, at: datetime, identifiers: dict[str, Any],
            properties: dict[str, Any] | None = None) -> None:
        self.events.append({"id": f"demo-{self.person.number:05d}-{len(self.events):03d}", "type": type,
                            "channel": channel, "timestamp": at.astimezone(UTC).replace(microsecond=0).isoformat(),
                            "identifiers": identifiers, "properties": properties or {}})

    def consent(self, purpose: str, granted: bool, channel: str, source: str) -> None:
        """A decision taken along with the latest event."""
        self.consents.append(ConsentDecision(self.events[-1]["id"], purpose, granted, channel, source))

    def moment(self, after: datetime | None = None) -> datetime:
        """A random time in the person's active period (after ``after``, if given)."""
        low = after or self.person.since
        return low + (max(self.person.until, low + timedelta(days=1)) - low) * self.rng.random()

    def web_identifiers(self, at: datetime, channel: str = "web") -> dict[str, Any]:
        device = self.person.app_device if channel == "app" else self.person.web_device
        if self.signed_in is not None and at >= self.signed_in:
            return {"email": self.person.email, "device_id": device}
        return {"device_id": device}

    def sign_up(self, at: datetime, *, channel: str = "web") -> None:
        person = self.person
        device = person.app_device if channel == "app" else person.web_device
        names = {"first_name": person.first_name, "last_name": person.last_name} if channel == "web" else {}
        self.add("identify", channel, at, {"email": person.email, "device_id": device, "verified": ["email"]}, names)
        self.signed_in = min(at, self.signed_in or at)

    def order(self, number: int, channel: str, at: datetime) -> None:
        lines = [self._line() for _ in range(self.rng.choices((1, 2, 3, 4), (55, 28, 12, 5))[0])]
        total = sum(line["quantity"] * line["unit_price"]["amount"] for line in lines)
        properties: dict[str, Any] = {"order_id": f"{channel.upper()}-{number:07d}",
                                      "total": {"amount": total, "currency": "EUR"}, "lines": lines}
        if channel == "pos":
            properties["location"] = self.person.store
            self.add("order_completed", "pos", at, {"loyalty_id": self.person.loyalty_id}, properties)
            return
        if channel == "marketplace":
            self.add("order_completed", channel, at, {"external_ids": {"marketplace": f"buyer-{self.person.number}"}},
                     properties)
            return
        for line in lines[:2]:  # what they looked at before buying
            browsed = at - timedelta(minutes=self.rng.randint(3, 90))
            self.add("product_view", channel, browsed, self.web_identifiers(browsed, channel), {"sku": line["sku"]})
        self.add("order_completed", channel, at, {"email": self.person.email, "device_id": (
            self.person.app_device if channel == "app" else self.person.web_device)}, properties)

    def _line(self) -> dict[str, Any]:
        sku, price = self.rng.choice(self.skus)
        return {"sku": sku, "quantity": self.rng.choices((1, 2, 3), (85, 12, 3))[0],
                "unit_price": {"amount": price, "currency": "EUR"}}


def _store_hours(rng: random.Random, moment: datetime) -> datetime:
    """The same day, at a time the stores are open (local time)."""
    local = moment.astimezone(LOCAL)
    return local.replace(hour=rng.randint(10, 17), minute=rng.randint(0, 59), second=0, microsecond=0)


def _order_channels(rng: random.Random, person: Person, count: int) -> list[str]:
    if person.kind == "store":
        return ["pos"] * count
    if person.kind == "marketplace":
        return ["marketplace"] * count
    online = "app" if person.app_device else "web"
    if person.kind == "web":
        return [rng.choice(("web", online)) for _ in range(count)]
    return [rng.choice(("pos", "web", online)) for _ in range(count)]


def _history(rng: random.Random, person: Person, skus: Sequence[tuple[str, int]], orders: Iterator[int]
             ) -> _History:
    history = _History(rng, person, skus)
    online = person.kind in ("web", "both", "prospect")
    joined = person.since
    if online and rng.random() < 0.35:  # browsed anonymously for a while before signing in
        for _ in range(rng.randint(2, 6)):
            at = person.since + timedelta(hours=rng.uniform(1, 24 * 30))
            history.add("product_view", "web", at, {"device_id": person.web_device}, {"sku": rng.choice(skus)[0]})
        joined += timedelta(days=31)
    if online:
        history.sign_up(joined)
        if rng.random() < 0.45:
            history.consent("email_marketing", True, "web", "sign-up form")
            _newsletters(rng, history, since=joined)
        if person.app_device:
            history.sign_up(joined + timedelta(days=rng.uniform(0, 60)), channel="app")
            if rng.random() < 0.4:
                history.consent("personalization", True, "app", "app consent screen")
    count = 0 if person.kind == "prospect" else rng.choices((1, 2, 3, 4, 6, 9, 14), (30, 22, 16, 12, 10, 7, 3))[0]
    for channel in _order_channels(rng, person, count):
        at = history.moment(joined)
        history.order(next(orders), channel, _store_hours(rng, at) if channel == "pos" else at)
    if person.kind in ("store", "both"):
        for _ in range(rng.randint(0, 3)):
            history.add("store_visit", "pos", _store_hours(rng, history.moment()),
                        {"loyalty_id": person.loyalty_id}, {"location": person.store})
        if rng.random() < 0.2:  # signed up for text messages at the till
            history.add("identify", "pos", _store_hours(rng, history.moment()),
                        {"loyalty_id": person.loyalty_id, "phone": person.phone})
            history.consent("sms_marketing", True, "pos", "store sign-up form")
    if person.kind == "both":  # links the loyalty card to the web account
        history.add("identify", "web", history.moment(joined), {"email": person.email, "loyalty_id": person.loyalty_id})
    return history


def _newsletters(rng: random.Random, history: _History, *, since: datetime) -> None:
    for _ in range(rng.randint(0, 4)):
        history.add("email_open", "web", history.moment(since), {"email": history.person.email},
                    {"campaign": rng.choice(CAMPAIGNS)})
    if history.events[-1]["type"] == "email_open" and rng.random() < 0.1:
        history.consent("email_marketing", False, "web", "unsubscribe link")


def _share_tablets(rng: random.Random, people: list[Person]) -> list[Person]:
    """A few households browse on one tablet: the second person's web device is the first one's."""
    online = [index for index, person in enumerate(people) if person.kind in ("web", "both")]
    for first, second in zip(online[:40:2], online[1:40:2], strict=False):
        if rng.random() < 0.5:
            people[second] = replace(people[second], web_device=people[first].web_device)
    return people


def demo_customers(seed: int, *, skus: Sequence[tuple[str, int]], end: datetime, count: int = 2000
                   ) -> DemoCustomers:
    """``count`` people and their history over the two years before ``end``, deterministic for a seed."""
    rng = random.Random(f"customers:{seed}")
    start = end - timedelta(days=HISTORY_DAYS)
    people = _share_tablets(rng, [_person(rng, number, start, end) for number in range(1, count + 1)])
    orders = iter(range(1, 10**7))
    result = DemoCustomers(people=count)
    for person in people:
        history = _history(rng, person, skus, orders)
        # One person's events in time order, together: identity resolution then finds each profile in memory.
        result.events.extend(sorted(history.events, key=lambda event: (event["timestamp"], event["id"])))
        result.consents.extend(history.consents)
    result.sample_email = next(p.email for p in people if p.kind == "both")
    return result
