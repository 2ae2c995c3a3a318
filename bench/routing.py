"""Order routing quality and speed: ``plan_delivery`` against the exact optimum of a MILP on the same instances.

Generates ``--instances`` seeded random delivery orders. Each has 20–200 locations (``--min-locations``,
``--max-locations``) around real cities of the Netherlands and Germany: 1–4 warehouses (priority 1, low workload,
most SKUs in depth, always able to ship) and stores (priority 0, workload 0–1.2, a random share of the SKUs in
small quantities, 70% able to ship), a customer near one of the cities, and 1–10 lines (``--max-lines``) of SKUs
from a catalogue of 40, mostly 1 unit each. Every instance is solved twice:

- the heuristic: ``omniloom.fulfillment.routing.plan_delivery`` with the module's default ``CostWeights`` (each
  weight can be overridden, e.g. ``--per-shipment 100 --per-km 10`` to favour splits);
- the MILP, with HiGHS through ``highspy`` (one thread, relative gap 0): binary ``y_l`` per location that can
  ship, integer ``x_ls ≤ min(available, quantity)`` per SKU it holds, ``x_ls ≤ min(available, quantity)·y_l``,
  ``Σ_l x_ls = quantity_s``, minimising ``Σ_l cost_l·y_l`` with ``cost_l = location_cost(...)``, the module's own
  documented cost of one shipment, so both optimise the same objective.

Each solver runs over all instances in its own pass (after a warm-up on 20), so neither pays for the cache misses
the other leaves behind; each instance is timed, in wall-clock and in this process's CPU time (both solvers run
in this process, HiGHS on one thread). The MILP's time runs from building the model to the solution; its solve
alone is reported too. Each heuristic plan is checked (covers exactly the lines, never more than available, only
from locations that can ship, cost equal to ``location_cost`` summed over its locations). Reported: the cost gap
(heuristic ÷ optimum − 1, in %) as mean, median and max, the instances where the heuristic is optimal, the time
summaries of both, the speed ratios (mean MILP time ÷ mean heuristic time) in CPU and wall-clock time, and the
goals: mean gap ≤ 3% and a CPU-time ratio ≥ 100 (CPU time, because on a shared machine the wall clock also counts
the time spent waiting for a core). Instances no set of locations can cover are counted, and both solvers must
agree on them.

``highspy`` is needed by this benchmark only: ``pip install highspy``.

Usage: ``python bench/routing.py [--instances 500] [--seed 7] [--min-locations 20] [--max-locations 200]
[--max-lines 10] [--per-shipment 600] [--per-km 2] [--per-priority-step 150] [--per-workload-unit 300]``
(about 1.5 minutes; the MILP takes nearly all of it).
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from _common import _cpu_model, emit, latency_summary, log
from omniloom.fulfillment.routing import (
    Candidate,
    CostWeights,
    Destination,
    Line,
    Plan,
    location_cost,
    plan_delivery,
)

GOAL_MEAN_GAP_PERCENT = 3.0
GOAL_SPEED_RATIO = 100.0
CATALOGUE = [f"SKU-{n:02d}" for n in range(40)]
CITIES = [  # (latitude, longitude)
    (52.370, 4.895), (51.924, 4.478), (52.091, 5.122), (52.078, 4.300), (51.442, 5.470), (53.219, 6.567),
    (51.985, 5.899), (52.221, 6.894), (50.851, 5.691), (52.520, 13.405), (53.551, 9.994), (48.137, 11.575),
    (50.938, 6.960), (50.110, 8.682), (48.776, 9.183), (51.228, 6.773), (51.340, 12.375), (51.050, 13.738),
    (52.376, 9.732), (49.452, 11.077), (53.079, 8.802), (51.455, 7.012), (51.514, 7.466), (50.735, 7.098),
    (49.487, 8.466), (54.323, 10.123), (51.962, 7.626), (52.268, 10.527),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-locations", type=int, default=20)
    parser.add_argument("--max-locations", type=int, default=200)
    parser.add_argument("--max-lines", type=int, default=10)
    defaults = CostWeights()
    for name in ("per_shipment", "per_km", "per_priority_step", "per_workload_unit"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name),
                            help="cost weight (default %(default)s, the module's default)")
    return parser.parse_args()


@dataclass(frozen=True)
class Instance:
    lines: list[Line]
    destination: Destination
    candidates: list[Candidate]


def near(chooser: random.Random, city: tuple[float, float], spread_km: float) -> tuple[float, float]:
    """A point about ``spread_km`` around ``city`` (a degree of latitude is ~111 km, of longitude ~70 km here)."""
    return (round(city[0] + chooser.gauss(0, spread_km / 111), 5), round(city[1] + chooser.gauss(0, spread_km / 70), 5))


def make_instance(chooser: random.Random, args: argparse.Namespace) -> Instance:
    count = chooser.randint(args.min_locations, args.max_locations)
    warehouses = chooser.randint(1, 4)
    store_share = chooser.uniform(0.15, 0.6)
    candidates = []
    for n in range(count):
        warehouse = n < warehouses
        latitude, longitude = near(chooser, chooser.choice(CITIES), 30 if warehouse else 8)
        if warehouse:
            stock = {sku: chooser.randint(0, 40) for sku in CATALOGUE if chooser.random() < 0.85}
            candidates.append(Candidate(f"WH-{n}", latitude, longitude, priority=1,
                                        workload=round(chooser.uniform(0, 0.6), 2), can_ship=True, available=stock))
        else:
            stock = {sku: chooser.randint(1, 5) for sku in CATALOGUE if chooser.random() < store_share}
            candidates.append(Candidate(f"ST-{n}", latitude, longitude, priority=0,
                                        workload=round(chooser.uniform(0, 1.2), 2),
                                        can_ship=chooser.random() < 0.7, available=stock))
    skus = chooser.sample(CATALOGUE, chooser.randint(1, args.max_lines))
    lines = [Line(sku, chooser.choices((1, 2, 3, 4), weights=(70, 20, 7, 3))[0]) for sku in skus]
    latitude, longitude = near(chooser, chooser.choice(CITIES), 15)
    return Instance(lines, Destination(latitude, longitude), candidates)


# ---------------------------------------------------------------------------------------------- the MILP


@dataclass(frozen=True)
class MilpResult:
    cost: float | None  # None: infeasible
    seconds: float
    solve_seconds: float
    cpu_seconds: float


def solve_milp(instance: Instance, weights: CostWeights) -> MilpResult:
    """The exact optimum of the routing cost model for one instance."""
    started, cpu_started = time.perf_counter(), time.process_time()
    demand = {line.sku: line.quantity for line in instance.lines}
    skus = list(demand)
    top = max(candidate.priority for candidate in instance.candidates)
    eligible = [candidate for candidate in instance.candidates if candidate.can_ship]
    costs: list[float] = []
    upper: list[float] = []
    columns: list[list[tuple[int, float]]] = []
    links: list[tuple[int, int, int]] = []  # (y column, x column, units)
    for candidate in eligible:
        y = len(costs)
        costs.append(location_cost(candidate, instance.destination, weights, top_priority=top))
        upper.append(1.0)
        columns.append([])
        for row, sku in enumerate(skus):
            units = min(candidate.available.get(sku, 0), demand[sku])
            if units:
                x = len(costs)
                costs.append(0.0)
                upper.append(float(units))
                columns.append([(row, 1.0)])
                links.append((y, x, units))
    for link_row, (y, x, units) in enumerate(links, start=len(skus)):
        columns[y].append((link_row, -float(units)))
        columns[x].append((link_row, 1.0))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(costs), len(skus) + len(links)
    lp.col_cost_ = np.array(costs)
    lp.col_lower_ = np.zeros(len(costs))
    lp.col_upper_ = np.array(upper)
    lp.row_lower_ = np.array([float(demand[sku]) for sku in skus] + [-highspy.kHighsInf] * len(links))
    lp.row_upper_ = np.array([float(demand[sku]) for sku in skus] + [0.0] * len(links))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.cumsum([0] + [len(entries) for entries in columns]).astype(np.int32)
    lp.a_matrix_.index_ = np.array([row for entries in columns for row, _ in entries], dtype=np.int32)
    lp.a_matrix_.value_ = np.array([value for entries in columns for _, value in entries])
    lp.integrality_ = [highspy.HighsVarType.kInteger] * len(costs)
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("threads", 1)
    solver.setOptionValue("mip_rel_gap", 0.0)
    solver.passModel(lp)
    solve_started = time.perf_counter()
    solver.run()
    finished, cpu = time.perf_counter(), time.process_time() - cpu_started
    status = solver.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return MilpResult(None, finished - started, finished - solve_started, cpu)
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"MILP ended {solver.modelStatusToString(status)}")
    return MilpResult(solver.getInfo().objective_function_value, finished - started, finished - solve_started, cpu)


# ------------------------------------------------------------------------------------------------- checks


def plan_problems(plan: Plan, instance: Instance, weights: CostWeights) -> list[str]:
    """What is wrong with a complete plan: coverage, stock, shipping ability, cost; empty when it is right."""
    by_code = {candidate.code: candidate for candidate in instance.candidates}
    top = max(candidate.priority for candidate in instance.candidates)
    shipped: dict[str, int] = {}
    problems = []
    for shipment in plan.shipments:
        candidate = by_code[shipment.location]
        if not candidate.can_ship:
            problems.append(f"{shipment.location} cannot ship")
        expected_cost = location_cost(candidate, instance.destination, weights, top_priority=top)
        if abs(shipment.cost - expected_cost) > 1e-6:
            problems.append(f"{shipment.location} cost {shipment.cost} != {expected_cost}")
        for line in shipment.lines:
            shipped[line.sku] = shipped.get(line.sku, 0) + line.quantity
            if line.quantity > candidate.available.get(line.sku, 0):
                problems.append(f"{shipment.location} ships {line.quantity} × {line.sku} beyond its stock")
    if shipped != {line.sku: line.quantity for line in instance.lines}:
        problems.append(f"ships {shipped}, not the lines")
    return problems


# ---------------------------------------------------------------------------------------------- measuring


def silence_banner() -> str:
    """Make the first solver with stdout pointed at stderr (HiGHS prints its banner then); returns its version."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        version = str(highspy.Highs().version())
        ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return version


@dataclass(frozen=True)
class Timed:
    plans: list[Plan]
    seconds: list[float]
    cpu_seconds: list[float]


def time_heuristic(instances: list[Instance], weights: CostWeights) -> Timed:
    """``plan_delivery`` on every instance, each timed (wall clock and this process's CPU time)."""
    plans, seconds, cpu_seconds = [], [], []
    for instance in instances:
        started, cpu_started = time.perf_counter(), time.process_time()
        plans.append(plan_delivery(instance.lines, instance.destination, instance.candidates, weights))
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
    return Timed(plans, seconds, cpu_seconds)


def compare(instances: list[Instance], plans: list[Plan], optima: list[MilpResult],
            weights: CostWeights) -> dict[str, Any]:
    """The heuristic's plans against the MILP's optima: validity, gaps, infeasible instances."""
    gaps: list[float] = []
    infeasible = {"both": 0, "disagreeing": 0}
    invalid_plans: list[str] = []
    shipments: list[int] = []
    for number, (instance, plan, milp) in enumerate(zip(instances, plans, optima, strict=True)):
        if milp.cost is None or not plan.complete:
            infeasible["both" if milp.cost is None and not plan.complete else "disagreeing"] += 1
            continue
        problems = plan_problems(plan, instance, weights)
        if problems:
            invalid_plans.append(f"instance {number}: {'; '.join(problems)}")
        gaps.append(100.0 * (plan.total_cost - milp.cost) / milp.cost)
        shipments.append(len(plan.shipments))
    return {
        "compared": len(gaps),
        "mean_gap_percent": round(statistics.fmean(gaps), 4) if gaps else 0.0,
        "median_gap_percent": round(statistics.median(gaps), 4) if gaps else 0.0,
        "max_gap_percent": round(max(gaps, default=0.0), 4),
        "optimal_instances": sum(1 for gap in gaps if gap <= 1e-6),
        "split_plans": sum(1 for count in shipments if count > 1),
        "max_shipments": max(shipments, default=0),
        "infeasible_instances": infeasible,
        "invalid_plans": len(invalid_plans),
        "first_invalid_plans": invalid_plans[:5],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    highs_version = silence_banner()
    chooser = random.Random(args.seed)
    weights = CostWeights(args.per_shipment, args.per_km, args.per_priority_step, args.per_workload_unit)
    instances = [make_instance(chooser, args) for _ in range(args.instances)]
    log(f"generated {len(instances)} instances; warming up both solvers on 20")
    time_heuristic(instances[:20], weights)
    for instance in instances[:20]:
        solve_milp(instance, weights)
    log("heuristic pass")
    heuristic = time_heuristic(instances, weights)
    log("MILP pass")
    optima = []
    for number, instance in enumerate(instances, start=1):
        optima.append(solve_milp(instance, weights))
        if number % 100 == 0:
            log(f"{number} MILPs solved")
    quality = compare(instances, heuristic.plans, optima, weights)
    cpu_ratio = statistics.fmean(o.cpu_seconds for o in optima) / statistics.fmean(heuristic.cpu_seconds)
    wall_ratio = statistics.fmean(o.seconds for o in optima) / statistics.fmean(heuristic.seconds)
    gap_met = quality["mean_gap_percent"] <= GOAL_MEAN_GAP_PERCENT
    speed_met = cpu_ratio >= GOAL_SPEED_RATIO
    return {
        "benchmark": "routing",
        "machine": {
            "cpu_count": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cpu_model": _cpu_model(),
            "python": platform.python_version(),
            "highspy": highs_version,
            "load_average": [round(value, 2) for value in os.getloadavg()],
        },
        "config": {"instances": args.instances, "seed": args.seed,
                   "locations": [args.min_locations, args.max_locations], "lines": [1, args.max_lines],
                   "weights": dataclasses.asdict(weights)},
        "quality": quality,
        "heuristic_cpu_time": latency_summary(heuristic.cpu_seconds),
        "milp_cpu_time": latency_summary([o.cpu_seconds for o in optima]),
        "heuristic_time": latency_summary(heuristic.seconds),
        "milp_time": latency_summary([o.seconds for o in optima]),
        "milp_solve_only_time": latency_summary([o.solve_seconds for o in optima]),
        "speed_ratio_cpu": round(cpu_ratio, 1),
        "speed_ratio_wall_clock": round(wall_ratio, 1),
        "goals": {"mean_gap_percent_at_most": GOAL_MEAN_GAP_PERCENT, "speed_ratio_cpu_at_least": GOAL_SPEED_RATIO,
                  "gap_met": gap_met, "speed_met": speed_met},
        "all_goals_met": gap_met and speed_met and not quality["invalid_plans"]
        and not quality["infeasible_instances"]["disagreeing"],
    }


def main() -> None:
    emit(run(parse_args()))


if __name__ == "__main__":
    main()
