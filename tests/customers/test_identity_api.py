"""Identity resolution through the API: normalisation, stitching, guard rules, merges and their undoing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.db import Database
from tests.checks import assert_problem
from tests.customers.conftest import event, order, send
from tests.factories import recorded_events

pytestmark = pytest.mark.usefixtures("channels")

# (what one channel sent, what another sent later): the same person
SAME_PERSON: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("email in another case and with spaces", {"email": "Anna.Bakker@Example.com"},
     {"email": "  anna.bakker@example.COM "}),
    ("phone national and E.164", {"phone": "06 12345678"}, {"phone": "+31612345678"}),
    ("phone with punctuation", {"phone": "+31 (0)6-1234 5678"}, {"phone": "0612345678"}),
    ("loyalty card with spaces", {"loyalty_id": "fr 1234 5678"}, {"loyalty_id": "FR12345678"}),
    ("marketplace buyer id", {"external_ids": {"bol": "buyer-77"}}, {"external_ids": {"bol": "buyer-77"}}),
]


@pytest.mark.parametrize(("case", "first", "second"), SAME_PERSON, ids=[c[0] for c in SAME_PERSON])
def test_the_same_identifier_written_differently_is_one_person(admin: TestClient, case: str,
                                                               first: dict[str, Any], second: dict[str, Any]) -> None:
    one = send(admin, event("page_view", "web", **first))["customer_ids"][0]
    two = send(admin, event("store_visit", "pos", **second))["customer_ids"][0]
    assert one == two, case


def test_anonymous_browsing_is_stitched_to_the_customer_who_logs_in(admin: TestClient) -> None:
    anonymous = send(admin, event("product_view", device_id="cookie-1", properties={"sku": "TEE-M"}),
                     event("add_to_cart", device_id="cookie-1", properties={"sku": "TEE-M"}))["customer_ids"]
    known = send(admin, order("S-1", 4000, channel="pos", email="piet@example.com"))["customer_ids"][0]
    login = send(admin, event("identify", device_id="cookie-1", email="piet@example.com",
                              properties={"name": "Piet Post"}))["customer_ids"][0]
    assert anonymous[0] != known
    assert login == anonymous[0]  # the oldest profile survives ...
    view = admin.get(f"/customers/{known}").json()  # ... and the other id resolves to it
    assert view["id"] == login and view["merged_into"] == login
    assert sorted(e["type"] for e in view["events"]) == ["add_to_cart", "identify", "order_completed",
                                                         "product_view"]
    assert {(i["kind"], i["value"]) for i in view["identities"]} == {("device", "cookie-1"),
                                                                     ("email", "piet@example.com")}
    assert view["attributes"] == {"name": "Piet Post"}
    merges = admin.get(f"/customers/{known}/merges").json()["items"]
    assert [(m["survivor_id"], m["merged_id"], m["status"]) for m in merges] == [(login, known, "merged")]


def test_loyalty_card_at_the_till_then_email_online_is_one_customer_across_channels(admin: TestClient) -> None:
    store = send(admin, order("POS-1", 2000, channel="pos", loyalty_id="FR-1", external_ids={"pos": "C-1042"}))
    web = send(admin, event("identify", "web", loyalty_id="FR-1", email="sara@example.com"),
               order("W-1", 3000, channel="web", email="sara@example.com"))
    customer = store["customer_ids"][0]
    assert web["customer_ids"] == [customer, customer]
    traits = admin.get(f"/customers/{customer}").json()["traits"]
    assert traits["channels"] == ["pos", "web"]
    assert traits["omnichannel"] is True
    assert traits["frequency"] == 1  # both on the same day
    assert traits["monetary"] == {"amount": 5000, "currency": "EUR"}


def test_two_verified_emails_are_never_merged(admin: TestClient, database: Database) -> None:
    mother = send(admin, event("identify", email="ma@example.com", device_id="tablet",
                               verified=["email"]))["customer_ids"][0]
    daughter = send(admin, event("identify", email="kid@example.com", device_id="tablet",
                                 verified=["email"]))["customer_ids"][0]
    assert daughter != mother
    lookup = admin.get("/customers", params={"email": "kid@example.com"}).json()["items"]
    assert [c["id"] for c in lookup] == [daughter]
    refused = admin.get(f"/customers/{daughter}/merges").json()["items"]
    assert [(m["status"], m["cause"]) for m in refused] == [("refused", "the profiles have different verified emails")]
    with database.read() as session:
        assert not recorded_events(session, types=["customer.merged"])


def test_a_shared_device_never_links_people(admin: TestClient) -> None:
    kiosk_owner = send(admin, event("store_visit", "pos", device_id="kiosk-7"))["customer_ids"][0]
    response = admin.put("/customer-devices/kiosk-7", json={"shared": True})
    assert response.status_code == 200 and response.json()["shared"] is True
    first = send(admin, event("store_visit", "pos", device_id="kiosk-7", email="a@example.com"))["customer_ids"][0]
    second = send(admin, event("store_visit", "pos", device_id="kiosk-7", email="b@example.com"))["customer_ids"][0]
    assert len({kiosk_owner, first, second}) == 3
    assert_problem(admin.put("/customer-devices/never-seen", json={"shared": True}), 404, "customer-not-found")


def test_undoing_a_merge_restores_both_profiles_and_their_events(admin: TestClient, database: Database) -> None:
    web = send(admin, order("W-1", 1000, email="jan@example.com"),
               event("page_view", device_id="phone-1"))["customer_ids"]
    pos = send(admin, order("P-1", 5000, channel="pos", phone="0612345678"))["customer_ids"][0]
    linked = send(admin, event("identify", "app", email="jan@example.com", phone="+31612345678"))["customer_ids"][0]
    assert linked == web[0] and pos != web[0]
    merge = admin.get(f"/customers/{pos}/merges").json()["items"][0]
    assert (merge["survivor_id"], merge["merged_id"], merge["status"]) == (web[0], pos, "merged")

    undone = admin.post(f"/customers/merges/{merge['id']}/undo")
    assert undone.status_code == 200 and undone.json()["status"] == "undone"
    survivor, restored = admin.get(f"/customers/{web[0]}").json(), admin.get(f"/customers/{pos}").json()
    assert restored["id"] == pos and restored["merged_into"] is None
    assert [p["order_id"] for p in restored["purchases"]] == ["P-1"]
    assert [i["value"] for i in restored["identities"]] == ["+31612345678"]
    assert [p["order_id"] for p in survivor["purchases"]] == ["W-1"]
    assert {i["value"] for i in survivor["identities"]} == {"jan@example.com"}
    assert_problem(admin.post(f"/customers/merges/{merge['id']}/undo"), 409, "merge-not-undoable")
    # the person said these are two people: seeing the identifiers together again does not re-merge them
    again = send(admin, event("identify", "app", email="jan@example.com", phone="+31612345678"))["customer_ids"][0]
    assert again == web[0]
    assert admin.get(f"/customers/{pos}").json()["merged_into"] is None
    with database.read() as session:
        assert [e.type for e in recorded_events(session, types=["customer.merged", "customer.unmerged"])] == [
            "customer.merged", "customer.unmerged"]


def test_lookup_normalises_what_it_is_given(admin: TestClient) -> None:
    customer = send(admin, event(email="Mila@Example.com", phone="+31 6 12345678", loyalty_id="fr-99"))
    for query in ({"email": " MILA@example.com"}, {"phone": "06-12345678"}, {"loyalty_id": "FR-99"}):
        found = admin.get("/customers", params=query)
        assert [c["id"] for c in found.json()["items"]] == customer["customer_ids"], query
    assert admin.get("/customers", params={"email": "nobody@example.com"}).json()["items"] == []
    assert_problem(admin.get("/customers", params={"phone": "12"}), 422, "validation")
    assert_problem(admin.get("/customers"), 422, "validation")
    assert_problem(admin.get("/customers", params={"email": "a@example.com", "phone": "0612345678"}),
                   422, "validation")


def test_a_customer_key_sees_only_its_own_profile(admin: TestClient, api_as: Callable[[str], TestClient]) -> None:
    mine, theirs = send(admin, event(email="me@example.com"), event(email="you@example.com"))["customer_ids"]
    me = api_as(f"customer:{mine}")
    assert me.get(f"/customers/{mine}").status_code == 200
    assert_problem(me.get(f"/customers/{theirs}"), 403, "forbidden")
    assert_problem(me.get("/customers", params={"email": "you@example.com"}), 403, "forbidden")
    assert_problem(api_as("channel:web").get(f"/customers/{mine}"), 403, "forbidden")
    assert api_as("store:AMS-01").get(f"/customers/{theirs}").status_code == 200
    assert_problem(admin.get("/customers/cus_nobody"), 404, "customer-not-found")


def test_the_timeline_pages_newest_first(admin: TestClient) -> None:
    stamps = [f"2026-11-{day:02d}T09:00:00Z" for day in range(1, 8)]
    customer = send(admin, *[event(email="t@example.com", timestamp=stamp) for stamp in stamps])["customer_ids"][0]
    seen, cursor = [], None
    while True:
        page = admin.get(f"/customers/{customer}/events", params={"limit": 3, "cursor": cursor}).json()
        seen += [e["occurred_at"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(stamps, reverse=True)
    assert_problem(admin.get(f"/customers/{customer}/events", params={"cursor": "!!"}), 422, "validation")


def test_an_email_verified_on_the_linking_event_counts_for_the_guard(admin: TestClient) -> None:
    newsletter = send(admin, event("email_open", email="b@example.com"))["customer_ids"][0]
    first = send(admin, event("identify", email="a@example.com", device_id="tablet",
                              verified=["email"]))["customer_ids"][0]
    second = send(admin, event("identify", email="b@example.com", device_id="tablet",
                               verified=["email"]))["customer_ids"][0]
    assert second == newsletter and second != first
    assert [m["status"] for m in admin.get(f"/customers/{first}/merges").json()["items"]] == ["refused"]
