"""Order routing rules: delivery plans under the cost model, pickup with transfers, re-routing, bad input.

Locations sit on the customer's meridian (longitude 5.0), so a location 0.1° of latitude away is exactly
``KM_PER_TENTH`` kilometres away and every expected cost below can be checked by hand.
"""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniloom.fulfillment.routing import (
    Candidate,
    CostWeights,
    Destination,
    Line,
    Plan,
    Shipment,
    Shortage,
    haversine_km,
    location_cost,
    plan_delivery,
    plan_pickup,
    reroute,
)
from omniloom.platform.errors import InvalidInput

CUSTOMER = Destination(52.0, 5.0)
KM_PER_TENTH = 6371.0088 * math.pi / 1800  # 11.1195 km
WEIGHTS = CostWeights(per_shipment=500.0, per_km=10.0, per_priority_step=100.0, per_workload_unit=200.0)


def at(code: str, tenths: float, *, priority: int = 0, workload: float = 0.0, can_ship: bool = True,
       **stock: int) -> Candidate:
    """A location ``tenths`` × 0.1° north of the customer (negative: south) with ``stock`` (``TEE_M`` → TEE-M)."""
    return Candidate(code, 52.0 + tenths / 10, 5.0, priority=priority, workload=workload, can_ship=can_ship,
                     available={sku.replace("_", "-"): units for sku, units in stock.items()})


def cost(tenths: float, *, priority_steps: int = 0, workload: float = 0.0, weights: CostWeights = WEIGHTS) -> float:
    """The cost model by hand for a location ``tenths`` away."""
    return (weights.per_shipment + weights.per_km * KM_PER_TENTH * abs(tenths)
            + weights.per_priority_step * priority_steps + weights.per_workload_unit * workload)


ORDER = [Line("TEE-M", 2), Line("MUG", 1)]


# -------------------------------------------------------------------------------------------- distances


def test_haversine_km() -> None:
    amsterdam, rotterdam = Destination(52.3676, 4.9041), Destination(51.9244, 4.4777)

    assert haversine_km(amsterdam, rotterdam) == pytest.approx(57.23, abs=0.01)
    assert haversine_km(rotterdam, amsterdam) == haversine_km(amsterdam, rotterdam)
    assert haversine_km(amsterdam, amsterdam) == 0.0
    assert haversine_km(Destination(0.0, 10.0), Destination(0.0, 11.0)) == pytest.approx(6371.0088 * math.pi / 180)
    assert haversine_km(Destination(0.0, 0.0), Destination(90.0, 0.0)) == pytest.approx(6371.0088 * math.pi / 2)
    assert haversine_km(Destination(52.0, 5.0), Destination(52.1, 5.0)) == pytest.approx(KM_PER_TENTH, rel=1e-9)
    assert haversine_km(Destination(0.0, 0.0), Destination(0.0, 180.0)) == pytest.approx(math.pi * 6371.0088)


def test_location_cost_is_the_documented_model() -> None:
    candidate = at("A", 3, priority=1, workload=0.5)

    assert location_cost(candidate, CUSTOMER, WEIGHTS, top_priority=3) == pytest.approx(
        500 + 10 * 3 * KM_PER_TENTH + 100 * 2 + 200 * 0.5)


# ------------------------------------------------------------------------------------------- delivery


def test_the_nearest_location_with_everything_ships_alone() -> None:
    candidates = [at("FAR", 3, TEE_M=5, MUG=5), at("NEAR", 1, TEE_M=2, MUG=1), at("PARTIAL", 0.5, TEE_M=9)]

    plan = plan_delivery(ORDER, CUSTOMER, candidates, WEIGHTS)

    assert plan == Plan((Shipment("NEAR", (Line("TEE-M", 2), Line("MUG", 1)), pytest.approx(KM_PER_TENTH),
                                  pytest.approx(cost(1)), "nearest location with all 2 items in stock (11 km)"),))
    assert plan.complete
    assert plan.total_cost == pytest.approx(cost(1))
    assert plan.ready_after == timedelta(0)


def test_a_single_line_says_the_item() -> None:
    plan = plan_delivery([Line("MUG", 1)], CUSTOMER, [at("A", 0.5, MUG=1), at("B", 2, MUG=4)], WEIGHTS)

    assert [(s.location, s.reason) for s in plan.shipments] == [
        ("A", "nearest location with the item in stock (5.6 km)")]


def test_stock_forces_a_split_and_each_shipment_says_why() -> None:
    candidates = [at("A", 1, TEE_M=2), at("B", -3, MUG=1), at("C", 2, TEE_M=1, MUG=1), at("D", 0.2, can_ship=False,
                                                                                          TEE_M=2, MUG=1)]

    plan = plan_delivery(ORDER, CUSTOMER, candidates, WEIGHTS)

    # A+B (cost(1) + cost(3)) and A+C (cost(1) + cost(2)) both cover; A+C is cheaper. D cannot ship.
    assert [(s.location, s.lines) for s in plan.shipments] == [
        ("A", (Line("TEE-M", 2),)), ("C", (Line("MUG", 1),))]
    assert [s.reason for s in plan.shipments] == [
        "split over 2 locations, no location had all 2 items; A sends 2 × TEE-M (11 km)",
        "split: A lacked 1 × MUG; C had it (22 km)",
    ]
    assert plan.total_cost == pytest.approx(cost(1) + cost(2))


def test_a_line_may_be_split_across_locations() -> None:
    plan = plan_delivery([Line("MUG", 5)], CUSTOMER, [at("A", 1, MUG=3), at("B", 2, MUG=2), at("C", 4, MUG=4)],
                         WEIGHTS)

    assert [(s.location, s.lines, s.reason) for s in plan.shipments] == [
        ("A", (Line("MUG", 3),), "split over 2 locations, no location had the item; A sends 3 × MUG (11 km)"),
        ("B", (Line("MUG", 2),), "split: A lacked 2 × MUG; B had them (22 km)"),
    ]


def test_the_shipment_penalty_makes_one_far_location_beat_two_near_ones() -> None:
    candidates = [at("TEES", 1, TEE_M=2), at("MUGS", -1, MUG=1), at("FAR", 5, TEE_M=2, MUG=1)]

    plan = plan_delivery(ORDER, CUSTOMER, candidates, WEIGHTS)

    assert cost(5) < 2 * cost(1)  # 1055.98 against 1222.39
    assert [(s.location, s.reason) for s in plan.shipments] == [
        ("FAR", "only location with all 2 items in stock (56 km)")]

    cheap_parcels = CostWeights(per_shipment=100.0, per_km=10.0)
    split = plan_delivery(ORDER, CUSTOMER, candidates, cheap_parcels)

    assert [s.location for s in split.shipments] == ["TEES", "MUGS"]
    assert split.shipments[0].reason == ("split over 2 locations, cheaper than shipping everything from FAR (56 km); "
                                         "TEES sends 2 × TEE-M (11 km)")
    assert split.total_cost == pytest.approx(2 * cost(1, weights=cheap_parcels))


def test_priority_outweighs_a_little_distance() -> None:
    candidates = [at("NEAR", 1, TEE_M=2, MUG=1), at("PREFERRED", 1.2, priority=1, TEE_M=2, MUG=1)]

    plan = plan_delivery(ORDER, CUSTOMER, candidates, WEIGHTS)

    # NEAR: cost(1) + one priority step = 711.2; PREFERRED: cost(1.2) = 633.4
    assert [(s.location, s.cost, s.reason) for s in plan.shipments] == [
        ("PREFERRED", pytest.approx(cost(1.2)),
         "location with all 2 items in stock (13 km); the nearer NEAR (11 km) has a lower priority")]


def test_workload_outweighs_a_little_distance() -> None:
    candidates = [at("BUSY", 1, workload=0.9, TEE_M=2, MUG=1), at("CALM", 1.2, workload=0.1, TEE_M=2, MUG=1)]

    plan = plan_delivery(ORDER, CUSTOMER, candidates, WEIGHTS)

    assert [(s.location, s.cost, s.reason) for s in plan.shipments] == [
        ("CALM", pytest.approx(cost(1.2, workload=0.1)),
         "location with all 2 items in stock (13 km); the nearer BUSY (11 km) is busier (load 90% against 10%)")]


def test_equal_costs_go_to_the_code_that_sorts_first_whatever_the_input_order() -> None:
    candidates = [at("B", 1, TEE_M=2, MUG=1), at("A", -1, TEE_M=2, MUG=1), at("C", 1, TEE_M=2, MUG=1)]

    plans = {plan_delivery(ORDER, CUSTOMER, order, WEIGHTS) for order in itertools.permutations(candidates)}

    assert len(plans) == 1
    assert next(iter(plans)).shipments[0].location == "A"


def test_lines_of_one_sku_are_merged() -> None:
    plan = plan_delivery([Line("MUG", 1), Line("MUG", 2)], CUSTOMER, [at("A", 1, MUG=3)], WEIGHTS)

    assert plan.shipments[0].lines == (Line("MUG", 3),)


def test_lines_that_cannot_be_covered_give_the_shortages_and_no_shipments() -> None:
    candidates = [at("A", 1, TEE_M=1, MUG=1), at("B", 2, TEE_M=0), at("C", 3, can_ship=False, MUG=5)]

    plan = plan_delivery([*ORDER, Line("CAP", 1), Line("MUG", 2)], CUSTOMER, candidates, WEIGHTS)

    assert not plan.complete
    assert plan.shipments == ()
    assert plan.shortages == (Shortage("TEE-M", 2, 1), Shortage("MUG", 3, 1), Shortage("CAP", 1, 0))
    assert plan.total_cost == 0


def test_no_candidates_at_all_is_a_shortage() -> None:
    assert plan_delivery(ORDER, CUSTOMER, [], WEIGHTS).shortages == (Shortage("TEE-M", 2, 0), Shortage("MUG", 1, 0))


def test_a_plan_with_shortages_cannot_carry_shipments() -> None:
    with pytest.raises(ValueError, match="no shipments"):
        Plan((Shipment("A", (Line("MUG", 1),), 1.0, 1.0, "x"),), (Shortage("TEE-M", 1, 0),))


# --------------------------------------------------------------------------------------------- pickup


def test_pickup_from_a_store_that_has_everything() -> None:
    store = at("AMS-01", 0, TEE_M=2, MUG=3)

    plan = plan_pickup(ORDER, store, [store, at("WH-1", 1, TEE_M=50, MUG=50)], WEIGHTS)

    assert plan == Plan((Shipment("AMS-01", (Line("TEE-M", 2), Line("MUG", 1)), 0.0, 0.0,
                                  "pickup at AMS-01: the store has all 2 items in stock"),))
    assert plan.ready_after == timedelta(0)


def test_pickup_with_the_missing_units_transferred_from_the_nearest_location() -> None:
    store = at("AMS-01", 0, TEE_M=2, MUG=1)
    candidates = [store, at("WH-1", 1, MUG=50), at("WH-2", 4, MUG=50), at("BACKROOM", 0.1, can_ship=False, MUG=9)]

    plan = plan_pickup([Line("TEE-M", 2), Line("MUG", 3)], store, candidates, WEIGHTS)

    assert plan.shipments == (
        Shipment("AMS-01", (Line("TEE-M", 2), Line("MUG", 1)), 0.0, 0.0,
                 "pickup at AMS-01: the store has 2 × TEE-M, 1 × MUG; the rest comes by transfer"),
        Shipment("WH-1", (Line("MUG", 2),), pytest.approx(KM_PER_TENTH), pytest.approx(cost(1)),
                 "transfer from WH-1 to AMS-01: the store lacked 2 × MUG (11 km; ready 2 days later)",
                 transfer_to="AMS-01", ready_after=timedelta(days=2)),
    )
    assert plan.ready_after == timedelta(days=2)
    assert plan.total_cost == pytest.approx(cost(1))


def test_pickup_from_an_empty_store_transfers_everything_with_the_given_lead_time() -> None:
    store = at("AMS-01", 0)

    plan = plan_pickup(ORDER, store, [at("WH-1", 2, TEE_M=5, MUG=5)], WEIGHTS, transfer_time=timedelta(hours=6))

    assert [(s.location, s.transfer_to, s.lines, s.reason) for s in plan.shipments] == [
        ("WH-1", "AMS-01", (Line("TEE-M", 2), Line("MUG", 1)),
         "transfer from WH-1 to AMS-01: the store lacked 2 × TEE-M, 1 × MUG (22 km; ready 6 hours later)")]
    assert plan.ready_after == timedelta(hours=6)


def test_pickup_that_cannot_be_covered_counts_the_store_and_the_sources() -> None:
    store = at("AMS-01", 0, MUG=1)

    plan = plan_pickup([Line("MUG", 4)], store, [store, at("WH-1", 1, MUG=2)], WEIGHTS)

    assert plan == Plan((), (Shortage("MUG", 4, 3),))


# -------------------------------------------------------------------------------------------- reroute


def split_plan() -> tuple[Plan, list[Candidate]]:
    candidates = [at("A", 1, TEE_M=2), at("B", -1, MUG=1), at("C", 3, MUG=4)]
    plan = plan_delivery(ORDER, CUSTOMER, candidates, WEIGHTS)
    assert [s.location for s in plan.shipments] == ["A", "B"]
    return plan, candidates


def test_reroute_sends_the_rejected_units_from_a_new_location_and_keeps_the_others() -> None:
    plan, _ = split_plan()
    now_free = [at("A", 1), at("B", -1, MUG=1), at("C", 3, MUG=4)]  # A's 2 tees are held by its shipment

    rerouted = reroute(plan, "B", ORDER, CUSTOMER, now_free, WEIGHTS)

    assert rerouted.shipments == (
        plan.shipments[0],
        Shipment("C", (Line("MUG", 1),), pytest.approx(3 * KM_PER_TENTH), pytest.approx(cost(3)),
                 "re-routed: B rejected 1 × MUG; C had it (33 km)"),
    )


def test_reroute_prefers_adding_to_a_shipment_that_already_goes() -> None:
    plan, _ = split_plan()
    now_free = [at("A", 1, MUG=1), at("B", -1, MUG=1), at("C", 0.5, MUG=4)]

    rerouted = reroute(plan, "B", ORDER, CUSTOMER, now_free, WEIGHTS)

    kept = plan.shipments[0]
    assert rerouted.shipments == (
        Shipment("A", (Line("TEE-M", 2), Line("MUG", 1)), kept.distance_km, kept.cost,
                 f"{kept.reason}; also takes 1 × MUG re-routed because B rejected 1 × MUG"),)
    assert rerouted.total_cost == kept.cost


def test_reroute_with_nowhere_else_to_go_reports_the_shortage() -> None:
    plan, _ = split_plan()

    rerouted = reroute(plan, "B", ORDER, CUSTOMER, [at("A", 1), at("B", -1, MUG=1)], WEIGHTS)

    assert rerouted == Plan((), (Shortage("MUG", 1, 0),))


def test_reroute_of_a_location_outside_the_plan_is_invalid() -> None:
    plan, candidates = split_plan()

    with pytest.raises(InvalidInput) as raised:
        reroute(plan, "C", ORDER, CUSTOMER, candidates, WEIGHTS)

    assert raised.value.errors[0].field == "rejected_location"


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("build", "field"), [
    (lambda: Line("MUG", 0), "lines.quantity"),
    (lambda: Line("MUG", -2), "lines.quantity"),
    (lambda: Destination(91.0, 5.0), "destination.latitude"),
    (lambda: Destination(52.0, 181.0), "destination.longitude"),
    (lambda: Candidate("A", 52.0, 5.0, available={"MUG": -1}), "candidates[A].available[MUG]"),
    (lambda: Candidate("A", 52.0, 5.0, workload=-0.1), "candidates[A].workload"),
    (lambda: Candidate("A", -91.0, 5.0), "candidates[A].latitude"),
    (lambda: CostWeights(per_km=-1.0), "weights.per_km"),
    (lambda: CostWeights(per_shipment=math.nan), "weights.per_shipment"),
])
def test_invalid_values_are_refused(build: object, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        build()  # type: ignore[operator]

    assert [error.field for error in raised.value.errors] == [field]


def test_an_order_without_lines_is_invalid() -> None:
    with pytest.raises(InvalidInput) as raised:
        plan_delivery([], CUSTOMER, [at("A", 1, MUG=1)], WEIGHTS)

    assert raised.value.errors[0].field == "lines"


def test_a_location_listed_twice_is_invalid() -> None:
    with pytest.raises(InvalidInput) as raised:
        plan_delivery(ORDER, CUSTOMER, [at("A", 1, MUG=1), at("A", 2, TEE_M=2)], WEIGHTS)

    assert raised.value.detail == "candidates: location 'A' appears more than once"


# ------------------------------------------------------------------------------------------- property


def independent_cost(candidate: Candidate, destination: Destination, weights: CostWeights, top: int) -> float:
    """The cost model written out again from the module docstring, with its own great-circle distance."""
    phi_1, phi_2 = math.radians(candidate.latitude), math.radians(destination.latitude)
    d_phi, d_lambda = phi_2 - phi_1, math.radians(destination.longitude - candidate.longitude)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi_1) * math.cos(phi_2) * math.sin(d_lambda / 2) ** 2
    kilometres = 2 * 6371.0088 * math.atan2(math.sqrt(a), math.sqrt(1 - a))
    return (weights.per_shipment + weights.per_km * kilometres + weights.per_priority_step * (top - candidate.priority)
            + weights.per_workload_unit * candidate.workload)


SKUS = ("TEE-M", "MUG", "CAP", "BAG")

candidate_strategy = st.builds(
    lambda index, latitude, longitude, priority, workload, can_ship, stock: Candidate(
        f"L{index}", latitude, longitude, priority=priority, workload=workload, can_ship=can_ship, available=stock),
    index=st.integers(0, 10**6),
    latitude=st.floats(50.5, 54.0),
    longitude=st.floats(3.5, 12.0),
    priority=st.integers(0, 3),
    workload=st.floats(0.0, 1.5),
    can_ship=st.booleans(),
    stock=st.dictionaries(st.sampled_from(SKUS), st.integers(0, 4), max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(
    candidates=st.lists(candidate_strategy, max_size=8, unique_by=lambda candidate: candidate.code),
    demand=st.dictionaries(st.sampled_from(SKUS), st.integers(1, 5), min_size=1, max_size=4),
    latitude=st.floats(50.5, 54.0),
    longitude=st.floats(3.5, 12.0),
    per_shipment=st.sampled_from([0.0, 50.0, 600.0, 5000.0]),
    per_km=st.sampled_from([0.0, 2.0, 20.0]),
)
def test_a_plan_is_feasible_exact_in_quantity_costed_by_the_model_and_optimal(
        candidates: list[Candidate], demand: dict[str, int], latitude: float, longitude: float,
        per_shipment: float, per_km: float) -> None:
    lines = [Line(sku, quantity) for sku, quantity in demand.items()]
    destination = Destination(latitude, longitude)
    weights = CostWeights(per_shipment=per_shipment, per_km=per_km, per_priority_step=70.0, per_workload_unit=300.0)
    top = max((candidate.priority for candidate in candidates), default=0)
    by_code = {candidate.code: candidate for candidate in candidates}
    shippers = [candidate for candidate in candidates if candidate.can_ship]

    plan = plan_delivery(lines, destination, candidates, weights)

    if not plan.complete:
        totals = {sku: sum(c.available.get(sku, 0) for c in shippers) for sku in demand}
        assert plan.shipments == ()
        assert plan.shortages == tuple(Shortage(sku, quantity, totals[sku]) for sku, quantity in demand.items()
                                       if totals[sku] < quantity)
        return
    shipped: dict[str, int] = {}
    assert len({shipment.location for shipment in plan.shipments}) == len(plan.shipments)
    for shipment in plan.shipments:
        candidate = by_code[shipment.location]
        assert candidate.can_ship
        assert shipment.lines and all(line.quantity > 0 for line in shipment.lines)
        assert shipment.reason
        for line in shipment.lines:
            assert line.quantity <= candidate.available.get(line.sku, 0)
            shipped[line.sku] = shipped.get(line.sku, 0) + line.quantity
        assert shipment.cost == pytest.approx(independent_cost(candidate, destination, weights, top))
    assert shipped == demand
    assert plan.total_cost == pytest.approx(sum(shipment.cost for shipment in plan.shipments))
    assert plan.total_cost == pytest.approx(brute_force_optimum(demand, shippers, destination, weights, top))


def brute_force_optimum(demand: dict[str, int], shippers: list[Candidate], destination: Destination,
                        weights: CostWeights, top: int) -> float:
    """The cheapest subset of locations whose stock covers the demand, by trying every subset."""
    best = math.inf
    for size in range(1, len(shippers) + 1):
        for subset in itertools.combinations(shippers, size):
            if all(sum(c.available.get(sku, 0) for c in subset) >= quantity for sku, quantity in demand.items()):
                best = min(best, sum(independent_cost(c, destination, weights, top) for c in subset))
    return best
