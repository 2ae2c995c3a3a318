"""The pure inventory rules: availability arithmetic, reservation planning, ledger signs, hours, countries."""

from __future__ import annotations

import pytest

from omniloom.inventory.availability import (
    Allocation,
    Candidate,
    Demand,
    Shortage,
    channel_contribution,
    channel_total,
    location_available,
    merge_demands,
    plan_reservation,
)
from omniloom.inventory.countries import check_country, country_codes
from omniloom.inventory.ledger import sign_problem
from omniloom.inventory.opening_hours import check_intervals

ORDER = ("WH", "STORE")


def candidates(**free: int) -> list[Candidate]:
    """``candidates(WH=5, STORE=2)`` → SKU ``A`` with that much free at each location (level ids 1, 2, ...)."""
    return [Candidate(index, "A", location, units) for index, (location, units) in enumerate(free.items(), 1)]


@pytest.mark.parametrize(("on_hand", "reserved", "allocated", "lapsed", "expected"), [
    (10, 0, 0, 0, 10), (10, 3, 2, 0, 5), (10, 3, 2, 3, 8), (5, 5, 0, 0, 0), (5, 5, 0, 5, 5), (0, 0, 0, 0, 0),
])
def test_location_available(on_hand: int, reserved: int, allocated: int, lapsed: int, expected: int) -> None:
    assert location_available(on_hand=on_hand, reserved=reserved, allocated=allocated,
                              expired_holds=lapsed) == expected


def test_channel_contribution_and_total() -> None:
    assert [channel_contribution(available, 2) for available in (0, 1, 2, 3, 10)] == [0, 0, 0, 1, 8]
    assert channel_total([3, 4], None) == 7
    assert channel_total([3, 4], 5) == 5
    assert channel_total([3, 4], 0) == 0
    assert channel_total([], 5) == 0


def test_a_plan_takes_locations_in_preference_order_and_splits() -> None:
    plan = plan_reservation([Demand("A", 6)], candidates(WH=4, STORE=5), location_order=ORDER, max_exposed=None)

    assert plan.complete
    assert plan.allocations == (Allocation(1, "A", "WH", 4), Allocation(2, "A", "STORE", 2))


def test_pinned_demands_are_served_first_and_flexible_ones_take_the_rest() -> None:
    demands = [Demand("A", 3), Demand("A", 2, "WH")]

    plan = plan_reservation(demands, candidates(WH=4, STORE=5), location_order=ORDER, max_exposed=None)

    assert plan.allocations == (Allocation(1, "A", "WH", 4), Allocation(2, "A", "STORE", 1))


def test_a_short_demand_takes_nothing_and_reports_what_it_could_have_had() -> None:
    demands = [Demand("A", 2, "STORE"), Demand("A", 9), Demand("B", 1)]

    plan = plan_reservation(demands, candidates(WH=4, STORE=5), location_order=ORDER, max_exposed=None)

    assert not plan.complete
    assert plan.shortages == (Shortage("A", 9, 7), Shortage("B", 1, 0))
    assert plan.allocations == (Allocation(2, "A", "STORE", 2),)


def test_negative_free_stock_counts_as_none() -> None:
    plan = plan_reservation([Demand("A", 3)], candidates(WH=-2, STORE=3), location_order=ORDER, max_exposed=None)

    assert plan.allocations == (Allocation(2, "A", "STORE", 3),)


def test_the_cap_limits_all_demands_of_a_sku_together() -> None:
    demands = [Demand("A", 3, "WH"), Demand("A", 3)]

    plan = plan_reservation(demands, candidates(WH=10, STORE=10), location_order=ORDER, max_exposed=5)

    assert plan.shortages == (Shortage("A", 3, 2),)
    assert plan.allocations == (Allocation(1, "A", "WH", 3),)


def test_locations_outside_the_order_are_never_used_for_flexible_demands() -> None:
    plan = plan_reservation([Demand("A", 1)], candidates(ELSEWHERE=9), location_order=ORDER, max_exposed=None)

    assert plan.shortages == (Shortage("A", 1, 0),)


def test_merge_demands_adds_up_the_same_sku_and_location() -> None:
    merged = merge_demands([Demand("A", 1), Demand("B", 2), Demand("A", 3), Demand("A", 1, "WH")])

    assert merged == [Demand("A", 4), Demand("B", 2), Demand("A", 1, "WH")]


@pytest.mark.parametrize(("reason", "quantity", "problem"), [
    ("receipt", 5, None), ("return", 1, None), ("transfer_in", 2, None), ("damage", -1, None),
    ("transfer_out", -3, None), ("adjustment", -4, None), ("adjustment", 4, None), ("cycle_count", -2, None),
    ("receipt", -5, "must be positive for a receipt (it is the change to on-hand)"),
    ("damage", 1, "must be negative for damage (it is the change to on-hand)"),
    ("adjustment", 0, "must not be zero"),
])
def test_sign_rules(reason: str, quantity: int, problem: str | None) -> None:
    assert sign_problem(reason, quantity) == problem


def test_opening_hours_intervals() -> None:
    assert check_intervals([("09:00", "12:00"), ("12:00", "24:00")]) == [("09:00", "12:00"), ("12:00", "24:00")]
    with pytest.raises(ValueError, match=r"\[0\]: opens at 12:00 but closes at 09:00"):
        check_intervals([("12:00", "09:00")])
    with pytest.raises(ValueError, match=r"\[1\]: starts at 11:00, before the previous interval closes at 12:00"):
        check_intervals([("09:00", "12:00"), ("11:00", "13:00")])
    with pytest.raises(ValueError, match=r"\[0\]: times must be HH:MM"):
        check_intervals([("9:00", "12:00")])


def test_country_codes_are_the_assigned_iso_3166_alpha_2_codes() -> None:
    codes = country_codes()

    assert len(codes) == 249
    assert {"NL", "ID", "ZA", "US", "AX", "SS"} <= codes
    assert not {"EU", "UN", "XK", "ZZ", "UK"} & codes
    assert check_country("ZA") == "ZA"
    with pytest.raises(ValueError, match="'UK' is not an ISO 3166-1 alpha-2 country code"):
        check_country("UK")
