"""Order routing (O4): which locations fulfil an order, and why. Pure functions without I/O.

Cost model (``CostWeights``; units are money-like, roughly euro cents, as floats because distances are real).
A plan is a set of shipments, one per location used. Each shipment from location ``l`` to point ``p`` costs::

    cost(l, p) = per_shipment
               + per_km            × haversine_km(l, p)
               + per_priority_step × (top_priority − l.priority)
               + per_workload_unit × l.workload

where ``top_priority`` is the highest ``priority`` among all the candidates given to the call (so the preferred
locations pay nothing for priority and every term is ≥ 0). A plan's cost is the sum of its shipments' costs: it
depends only on *which* locations ship, not on how many units each ships. A delivery plan minimises that sum over
the locations that can ship, subject to: every requested unit is shipped exactly once, and no location ships more
of a SKU than it has available. As a MILP: binary ``y_l`` (location used), integer ``x_ls`` (units of SKU ``s``
from ``l``), minimise ``Σ cost(l, destination)·y_l`` subject to ``Σ_l x_ls = quantity_s`` and
``0 ≤ x_ls ≤ available_ls·y_l``.

The search (``plan_delivery``) is exact unless it runs out of its work bound. A location holding everything
bounds the answer: the cheapest such location is a plan, and adding others to it only adds cost. A split has at
least two shipments, so a location holding only part of the order is worth considering only when its cost plus
the cheapest conceivable other shipment stays under that bound (its distance, the dear part, is computed only when
a cheap lower bound on it passes the test too). A depth-first branch and bound then looks for a cheaper split: at
each step it takes the still-uncovered SKU whose cheapest holder costs most (that cost bounds what remains) and
tries its holders in order of cost, each branch excluding the cheaper holders tried before it. It stops after
``SEARCH_NODE_LIMIT`` nodes with the best plan found. Costs within a millionth of a unit are tied and go to the
location code that sorts first, so the same input always gives the same plan; within a plan, the location able to
send the most units fills first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import compress
from typing import NamedTuple, Protocol

from omniloom.platform.errors import InvalidInput

EARTH_RADIUS_KM = 6371.0088
SEARCH_NODE_LIMIT = 2000
DEFAULT_TRANSFER_TIME = timedelta(days=2)
_EPSILON = 1e-9


class Point(Protocol):
    @property
    def latitude(self) -> float: ...

    @property
    def longitude(self) -> float: ...


def _check_coordinates(latitude: float, longitude: float, field_name: str) -> None:
    if not -90.0 <= latitude <= 90.0:
        raise InvalidInput.field(f"{field_name}.latitude", "must be between -90 and 90")
    if not -180.0 <= longitude <= 180.0:
        raise InvalidInput.field(f"{field_name}.longitude", "must be between -180 and 180")


@dataclass(frozen=True)
class Line:
    """Units of one SKU wanted by the order."""

    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise InvalidInput.field("lines.quantity", f"must be at least 1 (got {self.quantity} for {self.sku})")


@dataclass(frozen=True)
class Destination:
    """Where a delivery goes."""

    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        _check_coordinates(self.latitude, self.longitude, "destination")


@dataclass(frozen=True)
class Candidate:
    """A location that might fulfil the order, with its free stock per SKU.

    ``priority``: higher is preferred (the location model's ``priority``). ``workload``: a load factor, the
    location's open fulfilment work divided by what it handles in a day; 0 is idle, 1 is at capacity, above 1 is
    overloaded. ``can_ship``: the location sends parcels (to customers and, for transfers, to other locations).
    ``available``: units free to promise per SKU; missing SKUs have none.
    """

    code: str
    latitude: float
    longitude: float
    priority: int = 0
    workload: float = 0.0
    can_ship: bool = True
    available: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_coordinates(self.latitude, self.longitude, f"candidates[{self.code}]")
        if not self.workload >= 0.0:
            raise InvalidInput.field(f"candidates[{self.code}].workload", "must be 0 or more")
        for sku, units in self.available.items():
            if units < 0:
                raise InvalidInput.field(f"candidates[{self.code}].available[{sku}]", "must be 0 or more")


@dataclass(frozen=True)
class CostWeights:
    """Weights of the cost model, in cost units (about euro cents); see the module docstring."""

    per_shipment: float = 600.0  # a parcel's handling and carriage: splitting must save more than this
    per_km: float = 2.0  # per kilometre between location and customer (or store, for a transfer)
    per_priority_step: float = 150.0  # per priority step below the most preferred candidate
    per_workload_unit: float = 300.0  # at workload 1.0 (a location at capacity)

    def __post_init__(self) -> None:
        for name in ("per_shipment", "per_km", "per_priority_step", "per_workload_unit"):
            if not getattr(self, name) >= 0.0:
                raise InvalidInput.field(f"weights.{name}", "must be 0 or more")


@dataclass(frozen=True)
class Shipment:
    """What one location sends: to the customer, to the pickup store (``transfer_to``), or hands over at it.

    ``distance_km`` is to the customer, or to the store for a transfer (0 for the store's own pickup part).
    ``ready_after`` is the extra lead time before these units can be picked up (transfers only).
    """

    location: str
    lines: tuple[Line, ...]
    distance_km: float
    cost: float
    reason: str
    transfer_to: str | None = None
    ready_after: timedelta = timedelta(0)


@dataclass(frozen=True)
class Shortage:
    """A SKU the eligible locations cannot cover: how many were requested, how many they have together."""

    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class Plan:
    """The shipments that cover the order, or (when it cannot be covered) no shipments and the shortages."""

    shipments: tuple[Shipment, ...]
    shortages: tuple[Shortage, ...] = ()

    def __post_init__(self) -> None:
        if self.shortages and self.shipments:
            raise ValueError("a plan with shortages has no shipments")

    @property
    def complete(self) -> bool:
        return not self.shortages

    @property
    def total_cost(self) -> float:
        return sum(shipment.cost for shipment in self.shipments)

    @property
    def ready_after(self) -> timedelta:
        """When the whole order is ready, relative to a plan without transfers."""
        return max((shipment.ready_after for shipment in self.shipments), default=timedelta(0))


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance in kilometres between two points given in degrees."""
    phi_a = math.radians(a.latitude)
    return _haversine_radians(phi_a, math.radians(a.longitude), math.cos(phi_a), b.latitude, b.longitude)


def _haversine_radians(phi_a: float, lambda_a: float, cos_phi_a: float, latitude: float, longitude: float) -> float:
    """``haversine_km`` from a point given in radians (with its latitude's cosine) to one given in degrees."""
    phi_b = math.radians(latitude)
    h = (math.sin((phi_b - phi_a) / 2) ** 2
         + cos_phi_a * math.cos(phi_b) * math.sin((math.radians(longitude) - lambda_a) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def location_cost(candidate: Candidate, to: Point, weights: CostWeights, *, top_priority: int) -> float:
    """The cost of one shipment from ``candidate`` to ``to`` under the documented cost model."""
    return _cost(candidate, haversine_km(candidate, to), weights, top_priority)


def _cost(candidate: Candidate, distance_km: float, weights: CostWeights, top_priority: int) -> float:
    return (weights.per_shipment + weights.per_km * distance_km
            + weights.per_priority_step * (top_priority - candidate.priority)
            + weights.per_workload_unit * candidate.workload)


# ------------------------------------------------------------------------------------------------ public plans


def plan_delivery(lines: Sequence[Line], destination: Destination, candidates: Sequence[Candidate],
                  weights: CostWeights = CostWeights()) -> Plan:
    """The cheapest set of shipments (see the cost model) that delivers every line from locations that can ship."""
    demand = _merge(lines)
    holdings, top = _holdings(demand, candidates)
    shortages = _shortages(demand, holdings)
    if shortages:
        return Plan((), shortages)
    choices = _choices(holdings, tuple(demand.values()), destination, weights, top)
    return Plan(_delivery_shipments(demand, _assign(demand, _search(tuple(demand.values()), choices)), choices.full))


def plan_pickup(lines: Sequence[Line], store: Candidate, candidates: Sequence[Candidate],
                weights: CostWeights = CostWeights(), *, transfer_time: timedelta = DEFAULT_TRANSFER_TIME) -> Plan:
    """Everything the chosen store has from the store; the rest transferred in from the cheapest other locations.

    A transfer's cost is the cost model with the store as destination; its shipment has ``transfer_to`` set and
    ``ready_after = transfer_time``. The store's own part costs nothing (the customer chose it).
    """
    demand = _merge(lines)
    from_store = {sku: min(quantity, store.available.get(sku, 0)) for sku, quantity in demand.items()}
    missing = {sku: quantity - from_store[sku] for sku, quantity in demand.items() if quantity > from_store[sku]}
    own = _store_part(store, demand, from_store, missing)
    if not missing:
        return Plan(own)
    holdings, top = _holdings(missing, candidates, excluded=store.code)
    shortages = _shortages(missing, holdings)
    if shortages:
        return Plan((), tuple(Shortage(s.sku, demand[s.sku], s.available + from_store[s.sku]) for s in shortages))
    choices = _choices(holdings, tuple(missing.values()), store, weights, max(top, store.priority))
    transfers = tuple(
        Shipment(option.code, units, option.distance_km, option.cost,
                 f"transfer from {option.code} to {store.code}: the store lacked {_units(units)} "
                 f"({_km(option.distance_km)}; ready {_duration(transfer_time)} later)",
                 transfer_to=store.code, ready_after=transfer_time)
        for option, units in _assign(missing, _search(tuple(missing.values()), choices)))
    return Plan(own + transfers)


def reroute(plan: Plan, rejected_location: str, lines: Sequence[Line], destination: Destination,
            candidates: Sequence[Candidate], weights: CostWeights = CostWeights()) -> Plan:
    """Plan again after ``rejected_location`` refused its shipment, keeping the other shipments.

    ``candidates`` give the stock free now, not counting the units the kept shipments already hold. The rejected
    location is not used again. The units it should have sent go preferably to locations already shipping (at no
    extra cost: their shipment exists), else to new locations, chosen by the same cost model.
    """
    if not any(shipment.location == rejected_location for shipment in plan.shipments):
        raise InvalidInput.field("rejected_location", f"'{rejected_location}' ships nothing in this plan")
    demand = _merge(lines)
    kept = [shipment for shipment in plan.shipments if shipment.location != rejected_location]
    rejected = {line.sku: line.quantity for s in plan.shipments if s.location == rejected_location for line in s.lines}
    kept_units = _sum_units(kept)
    missing = {sku: quantity - kept_units.get(sku, 0) for sku, quantity in demand.items()
               if quantity > kept_units.get(sku, 0)}
    holdings, top = _holdings(missing, candidates, excluded=rejected_location)
    shortages = _shortages(missing, holdings)
    if shortages:
        return Plan((), tuple(Shortage(s.sku, demand[s.sku], s.available + kept_units.get(s.sku, 0))
                              for s in shortages))
    choices = _choices(holdings, tuple(missing.values()), destination, weights, top,
                       free=frozenset(shipment.location for shipment in kept))
    chosen = _search(tuple(missing.values()), choices)
    assigned = {option.code: (option, units) for option, units in _assign(missing, chosen)}
    why = f"{rejected_location} rejected {_units(_lines(rejected))}"
    shipments = [_extended(shipment, assigned.pop(shipment.location, (None, ()))[1], why) for shipment in kept]
    shipments += [Shipment(code, units, option.distance_km, option.cost,
                           f"re-routed: {why}; {code} had {_them(units)} ({_km(option.distance_km)})")
                  for code, (option, units) in assigned.items()]
    return Plan(tuple(shipments))


# ------------------------------------------------------------------------------------------------- search


class _Option(NamedTuple):
    """A location that may ship, with its shipment cost and its units of each demanded SKU (capped)."""

    code: str
    cost: float
    distance_km: float
    useful: tuple[int, ...]
    candidate: Candidate


class _Choices(NamedTuple):
    """The locations holding everything wanted (cheapest first), and those that may be part of a cheaper split."""

    full: list[_Option]
    partial: list[_Option]


Holdings = list[tuple[Candidate, tuple[int, ...]]]  # a location with its units of each demanded SKU


def _holdings(demand: Mapping[str, int], candidates: Iterable[Candidate], *,
              excluded: str | None = None) -> tuple[Holdings, int]:
    """The locations that can ship and hold a demanded SKU, with their units of each (capped at the quantity
    wanted), and the highest priority among all the candidates. One pass: this runs for every candidate."""
    wanted = list(demand.items())
    seen: set[str] = set()
    holdings = []
    top: int | None = None
    for candidate in candidates:
        code = candidate.code
        if code in seen:
            raise InvalidInput.field("candidates", f"location '{code}' appears more than once")
        seen.add(code)
        if top is None or candidate.priority > top:
            top = candidate.priority
        if not candidate.can_ship or code == excluded:
            continue
        stock = candidate.available
        useful = tuple([quantity if (units := stock.get(sku, 0)) >= quantity else units for sku, quantity in wanted])
        if any(useful):
            holdings.append((candidate, useful))
    return holdings, top or 0


def _shortages(demand: Mapping[str, int], holdings: Holdings) -> tuple[Shortage, ...]:
    """The SKUs all the holdings together cannot cover (a capped sum falls short only when no cap applied)."""
    need = tuple(demand.values())
    if any(useful == need for _, useful in holdings):
        return ()
    totals = [sum(column) for column in zip(*(useful for _, useful in holdings), strict=True)] or [0] * len(demand)
    return tuple(Shortage(sku, quantity, total) for (sku, quantity), total in zip(demand.items(), totals, strict=True)
                 if total < quantity)


def _choices(holdings: Holdings, need: tuple[int, ...], to: Point, weights: CostWeights, top: int, *,
             free: frozenset[str] = frozenset()) -> _Choices:
    """Options worth searching; ``free`` locations ship already, so more units from them cost nothing.

    See the module docstring. The cheapest conceivable other shipment costs at least the smallest distance-free
    cost, and a distance is at least ``R × |latitude difference|``, which is cheap to get.
    """
    phi_to, lambda_to = math.radians(to.latitude), math.radians(to.longitude)
    cos_to = math.cos(phi_to)
    per_km, cost_per_radian = weights.per_km, weights.per_km * EARTH_RADIUS_KM

    def option(candidate: Candidate, useful: tuple[int, ...], fixed: float) -> _Option:
        distance = _haversine_radians(phi_to, lambda_to, cos_to, candidate.latitude, candidate.longitude)
        cost = 0.0 if candidate.code in free else fixed + per_km * distance
        return _Option(candidate.code, cost, distance, useful, candidate)

    fixed_costs = [0.0 if candidate.code in free else
                   weights.per_shipment + weights.per_priority_step * (top - candidate.priority)
                   + weights.per_workload_unit * candidate.workload for candidate, _ in holdings]
    full = sorted((option(candidate, useful, fixed)
                   for (candidate, useful), fixed in zip(holdings, fixed_costs, strict=True) if useful == need),
                  key=_by_cost)
    ceiling = full[0].cost - min(fixed_costs) - _EPSILON if full else math.inf
    if not full:
        partial = [option(candidate, useful, fixed) for (candidate, useful), fixed in zip(holdings, fixed_costs,
                                                                                            strict=True)]
        return _Choices(full, sorted(partial, key=_by_cost))
    partial = []
    for (candidate, useful), fixed in zip(holdings, fixed_costs, strict=True):
        if useful == need or fixed >= ceiling or (
                fixed + cost_per_radian * abs(math.radians(candidate.latitude) - phi_to) >= ceiling
                and candidate.code not in free):
            continue
        choice = option(candidate, useful, fixed)
        if choice.cost < ceiling:
            partial.append(choice)
    return _Choices(full, sorted(partial, key=_by_cost))


def _by_cost(option: _Option) -> tuple[float, str]:
    """Cheapest first; costs within a millionth of a unit (floating-point noise) are tied and go by code."""
    return round(option.cost, 6), option.code


def _search(need: tuple[int, ...], choices: _Choices) -> list[_Option]:
    """The cheapest covering set of options found (see the module docstring), cheapest first."""
    if not any(need):
        return []
    bound = choices.full[0].cost if choices.full else math.inf
    found = _BranchAndBound(choices.partial, bound).run(need)
    if found is None:
        return [choices.full[0]]  # without a full location the first dive always finds a plan
    return sorted(_without_redundant(need, found), key=_by_cost)


def _without_redundant(need: tuple[int, ...], chosen: list[_Option]) -> list[_Option]:
    """Drop, dearest first, every option the others can do without (a search cut short may leave one)."""
    kept = list(chosen)
    for option in sorted(chosen, key=lambda o: (-o.cost, o.code)):
        others = [other for other in kept if other is not option]
        if all(sum(o.useful[i] for o in others) >= need[i] for i in range(len(need))):
            kept = others
    return kept


class _BranchAndBound:
    """Depth-first search for a covering set cheaper than ``bound``, at most ``SEARCH_NODE_LIMIT`` nodes.

    At each node the uncovered SKU whose cheapest allowed holder costs most is branched on: branch ``i`` takes
    its ``i``-th cheapest holder and excludes the ``i − 1`` cheaper ones, so the branches partition the plans.
    That holder's cost is also the node's lower bound for what is still to be added.
    """

    def __init__(self, options: Sequence[_Option], bound: float) -> None:
        self.options = options
        self.costs = [option.cost for option in options]
        columns = zip(*(option.useful for option in options), strict=True)  # units of each SKU, option by option
        self.holders = [list(compress(enumerate(column), column)) for column in columns]
        self.banned = [False] * len(options)
        self.best_cost = bound
        self.best: list[int] | None = None
        self.path: list[int] = []
        self.nodes = 0

    def run(self, need: tuple[int, ...]) -> list[_Option] | None:
        if self.options:
            self._visit(need, 0.0)
        return None if self.best is None else [self.options[index] for index in self.best]

    def _visit(self, remaining: tuple[int, ...], cost: float) -> None:
        self.nodes += 1
        branch_sku = self._branch_sku(remaining, self.best_cost - _EPSILON - cost)
        if branch_sku is None:
            return
        if branch_sku < 0:
            self.best_cost, self.best = cost, list(self.path)
            return
        if self.nodes > SEARCH_NODE_LIMIT:
            return
        banned, costs = self.banned, self.costs
        excluded = []
        for index, _ in self.holders[branch_sku]:
            if banned[index]:
                continue
            if cost + costs[index] >= self.best_cost - _EPSILON:
                break
            banned[index] = True
            excluded.append(index)
            self.path.append(index)
            useful = self.options[index].useful
            left_over = tuple([left - units if left > units else 0
                               for left, units in zip(remaining, useful, strict=True)])
            self._visit(left_over, cost + costs[index])
            self.path.pop()
        for index in excluded:
            banned[index] = False

    def _branch_sku(self, remaining: tuple[int, ...], budget: float) -> int | None:
        """The uncovered SKU whose cheapest allowed holder costs most; -1 if all are covered.

        ``None`` when the node cannot lead to a plan within ``budget``: some SKU's allowed holders cost more or
        hold too few units.
        """
        banned, costs = self.banned, self.costs
        branch_sku, bound = -1, -1.0
        for sku, left in enumerate(remaining):
            if not left:
                continue
            cheapest, supply = -1, 0
            for index, units in self.holders[sku]:
                if not banned[index]:
                    if cheapest < 0:
                        cheapest = index
                        if costs[index] >= budget:
                            return None
                    supply += units
                    if supply >= left:
                        break
            if supply < left:
                return None
            if costs[cheapest] > bound:
                branch_sku, bound = sku, costs[cheapest]
        if branch_sku < 0 and budget <= 0:
            return None
        return branch_sku


# --------------------------------------------------------------------------------------------- assignment


def _assign(demand: Mapping[str, int], chosen: Sequence[_Option]) -> list[tuple[_Option, tuple[Line, ...]]]:
    """Units per chosen option: the one able to send the most units fills first, then the others by cost.

    Options left with nothing to send are dropped (they could only add cost).
    """
    remaining = dict(demand)
    assigned = []
    for option in sorted(chosen, key=lambda option: (-sum(option.useful), option.cost, option.code)):
        units = []
        for index, sku in enumerate(demand):
            quantity = min(option.useful[index], remaining[sku])
            if quantity:
                units.append(Line(sku, quantity))
                remaining[sku] -= quantity
        if units:
            assigned.append((option, tuple(units)))
    return assigned


def _delivery_shipments(demand: Mapping[str, int], assigned: Sequence[tuple[_Option, tuple[Line, ...]]],
                        full: Sequence[_Option]) -> tuple[Shipment, ...]:
    if len(assigned) == 1:
        option, units = assigned[0]
        return (Shipment(option.code, units, option.distance_km, option.cost, _single_reason(option, demand, full)),)
    main, main_units = assigned[0]
    why = (f"cheaper than shipping everything from {full[0].code} ({_km(full[0].distance_km)})" if full
           else f"no location had {_all_items(len(demand))}")
    shipments = [Shipment(main.code, main_units, main.distance_km, main.cost,
                          f"split over {len(assigned)} locations, {why}; {main.code} sends {_units(main_units)} "
                          f"({_km(main.distance_km)})")]
    shipments += [Shipment(option.code, units, option.distance_km, option.cost,
                           f"split: {main.code} lacked {_units(units)}; {option.code} had {_them(units)} "
                           f"({_km(option.distance_km)})")
                  for option, units in assigned[1:]]
    return tuple(shipments)


def _single_reason(option: _Option, demand: Mapping[str, int], full: Sequence[_Option]) -> str:
    items = _all_items(len(demand))
    nearest = min(full, key=lambda o: (o.distance_km, o.code))
    if len(full) == 1:
        return f"only location with {items} in stock ({_km(option.distance_km)})"
    if nearest is option:
        return f"nearest location with {items} in stock ({_km(option.distance_km)})"
    priority_gap = nearest.candidate.priority < option.candidate.priority
    busier = nearest.candidate.workload > option.candidate.workload
    because = ("has a lower priority" if priority_gap else
               f"is busier (load {nearest.candidate.workload:.0%} against {option.candidate.workload:.0%})"
               if busier else "costs more")
    return (f"location with {items} in stock ({_km(option.distance_km)}); the nearer {nearest.code} "
            f"({_km(nearest.distance_km)}) {because}")


def _store_part(store: Candidate, demand: Mapping[str, int], from_store: Mapping[str, int],
                missing: Mapping[str, int]) -> tuple[Shipment, ...]:
    units = tuple(Line(sku, quantity) for sku, quantity in from_store.items() if quantity)
    if not units:
        return ()
    if not missing:
        reason = f"pickup at {store.code}: the store has {_all_items(len(demand))} in stock"
    else:
        reason = f"pickup at {store.code}: the store has {_units(units)}; the rest comes by transfer"
    return (Shipment(store.code, units, 0.0, 0.0, reason),)


def _extended(shipment: Shipment, extra: Sequence[Line], why: str) -> Shipment:
    if not extra:
        return shipment
    merged = _merge([*shipment.lines, *extra])
    return Shipment(shipment.location, _lines(merged), shipment.distance_km, shipment.cost,
                    f"{shipment.reason}; also takes {_units(extra)} re-routed because {why}",
                    shipment.transfer_to, shipment.ready_after)


# ------------------------------------------------------------------------------------------------ helpers


def _merge(lines: Iterable[Line]) -> dict[str, int]:
    """Quantity per SKU, in order of first appearance; no lines at all is invalid input."""
    demand: dict[str, int] = {}
    for line in lines:
        demand[line.sku] = demand.get(line.sku, 0) + line.quantity
    if not demand:
        raise InvalidInput.field("lines", "at least one line is required")
    return demand


def _sum_units(shipments: Iterable[Shipment]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for shipment in shipments:
        for line in shipment.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals


def _lines(quantities: Mapping[str, int]) -> tuple[Line, ...]:
    return tuple(Line(sku, quantity) for sku, quantity in quantities.items())


def _units(lines: Iterable[Line]) -> str:
    return ", ".join(f"{line.quantity} × {line.sku}" for line in lines)


def _them(lines: Sequence[Line]) -> str:
    return "it" if len(lines) == 1 and lines[0].quantity == 1 else "them"


def _all_items(count: int) -> str:
    return "the item" if count == 1 else f"all {count} items"


def _km(distance: float) -> str:
    return f"{distance:.0f} km" if distance >= 10 else f"{distance:.1f} km"


def _duration(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return "1 day" if days == 1 else f"{days} days"
    return "1 hour" if hours == 1 else f"{hours:g} hours"
