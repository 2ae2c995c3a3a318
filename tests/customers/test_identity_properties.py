"""Property: whatever the order and batching of events, profiles are the connected components of the identifiers
seen together (no guard rule applies when nothing is verified or shared)."""

from __future__ import annotations

import itertools
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from omniloom.customers import intake, service
from omniloom.customers.models import CustomerEvent, CustomerIdentifier, CustomerProfile
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database

KINDS = ("email", "device_id", "loyalty_id", "external")
UNIVERSE = [(kind, index) for kind in KINDS for index in range(5)]
Event = list[tuple[str, int]]


def components(events: list[Event]) -> list[set[tuple[str, int]]]:
    """Connected components of identifiers, computed independently with a plain graph search."""
    neighbours: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for identifiers in events:
        for identifier in identifiers:
            neighbours.setdefault(identifier, set()).update(identifiers)
    seen: set[tuple[str, int]] = set()
    found = []
    for start in neighbours:
        if start in seen:
            continue
        component, stack = set(), [start]
        while stack:
            node = stack.pop()
            if node not in component:
                component.add(node)
                stack.extend(neighbours[node] - component)
        seen |= component
        found.append(component)
    return found


def raw_event(identifiers: Event, namespace: str) -> dict[str, object]:
    sent: dict[str, object] = {}
    for kind, index in identifiers:
        if kind == "email":
            sent["email"] = f"p{index}.{namespace}@example.com"
        elif kind == "external":
            sent["external_ids"] = {"pos": f"{namespace}-{index}"}
        else:
            sent[kind] = f"{namespace}-{kind}-{index}"
    return {"type": "page_view", "channel": "web", "identifiers": sent}


def stored_value(identifier: tuple[str, int], namespace: str) -> tuple[str, str]:
    kind, index = identifier
    return {"email": ("email", f"p{index}.{namespace}@example.com"),
            "device_id": ("device", f"{namespace}-device_id-{index}"),
            "loyalty_id": ("loyalty", f"{namespace}-LOYALTY_ID-{index}".upper()),
            "external": ("external", f"pos:{namespace}-{index}")}[kind]


events_strategy = st.lists(
    st.lists(st.sampled_from(UNIVERSE), min_size=1, max_size=3, unique_by=lambda item: item[0]),
    min_size=1, max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events_strategy, cuts=st.lists(st.integers(min_value=1, max_value=24), max_size=4))
def test_profiles_are_the_connected_components_of_identifiers(database: Database, clock: FrozenClock,
                                                              events: list[Event], cuts: list[int]) -> None:
    namespace = uuid.uuid4().hex[:10]
    raw = [raw_event(identifiers, namespace) for identifiers in events]
    bounds = sorted({0, len(raw), *(cut for cut in cuts if cut < len(raw))})
    with database.write() as session:
        for start, end in itertools.pairwise(bounds):
            prepared, rejected = intake.prepare_batch(raw[start:end], received_at=clock.now(), region="NL",
                                                      only_channel=None, known_channels=frozenset({"web"}))
            assert rejected == []
            service.record_events(session, events=prepared, guards=("verified_email_conflict",), clock=clock)
        owner = {(row.kind, row.value): row.profile_id for row in session.execute(
            select(CustomerIdentifier.kind, CustomerIdentifier.value, CustomerIdentifier.profile_id)
            .where(CustomerIdentifier.value.contains(namespace.upper()) |
                   CustomerIdentifier.value.contains(namespace)))}
        survivors = set(session.scalars(select(CustomerProfile.id).where(CustomerProfile.id.in_(owner.values()),
                                                                         CustomerProfile.merged_into.is_(None))))
        event_profiles = set(session.scalars(select(CustomerEvent.profile_id)
                                             .where(CustomerEvent.profile_id.in_(owner.values()))))
    expected = components(events)
    profile_of_component = []
    for component in expected:
        profiles = {owner[stored_value(identifier, namespace)] for identifier in component}
        assert len(profiles) == 1, component
        profile_of_component.append(profiles.pop())
    assert len(set(profile_of_component)) == len(expected)
    assert survivors == set(profile_of_component)
    assert event_profiles == survivors
