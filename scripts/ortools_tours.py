#!/usr/bin/env python3
"""Solve a Jinguo lecture-tour instance with Google OR-Tools routing, for comparison.

Reads an instance (docs/tours.md "Input", as `jinguo tour generate` writes it), models it as a
vehicle routing problem and writes a schedule in Jinguo's own format (docs/tours.md "Output"),
so that `jinguo tour check --input I --schedule S` can judge it under exactly our rules. How the
model is built and why: docs/tours-benchmark.md.

    python3 scripts/ortools_tours.py --input I --output S --time-limit-s 60
        [--first-solution PARALLEL_CHEAPEST_INSERTION|PATH_CHEAPEST_ARC]

Prints one summary line on stdout, which scripts/bench-tours reads:

    ortools: 196 of 196 villages covered, 1090.2 km, wall 61.3 s (search limit 60 s);
    first solution after 0.4 s: 196 covered, 1402.7 km

(on one line). Exit 0 with a schedule written; 2 when OR-Tools found no solution within the
limit (said on stdout, no schedule written); 1 on a bad instance or one it does not model.
"""

import argparse
import json
import math
import sys
import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

EARTH_RADIUS_KM = 6371.0
# Minutes standing for "no road" (a `null` in the travel matrix): more than any day window, so
# the time dimension forbids the arc.
NO_ROAD_MINUTES = 24 * 60 + 1
EXIT_NO_SOLUTION = 2


def clock_minutes(hhmm):
    """Minutes since midnight of an `HH:MM` string."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def hhmm_of(minutes):
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def load_instance(path):
    """The instance as a dict, with `sessions` defaulted to 1 as Jinguo does.

    Validation is Jinguo's job (`jinguo tour solve` names the bad field); this only refuses
    what the model does not express: a village asking for more than one session would need
    "at most one session per village per date" and "coverage = all its sessions" objectives
    that a per-node disjunction cannot state, so such instances are refused, not mis-modelled.
    """
    with open(path, encoding="utf-8") as f:
        inst = json.load(f)
    for i, village in enumerate(inst["villages"]):
        village.setdefault("sessions", 1)
        if village["sessions"] != 1:
            sys.exit(
                f"ortools_tours: {path}: villages[{i}].sessions is {village['sessions']}; "
                "this model handles one session per village only"
            )
    return inst


class Travel:
    """Jinguo's travel rule (shared/tours/src/travel.rs) between points 0..L-1 = lecturers'
    homes (a lecturer's id names her home in the matrix) and L.. = villages.

    `leg` is exact: the same float operations in the same order as the Rust code, so minutes
    round up identically and travel sums agree with the checker. `matrices` is the vectorised
    version for the model, corrected to `leg` wherever rounding could tell them apart.
    """

    def __init__(self, inst):
        self.inst = inst
        self.names = [l["id"] for l in inst["lecturers"]] + [v["code"] for v in inst["villages"]]
        self.lat = [l["home_lat"] for l in inst["lecturers"]] + [v["lat"] for v in inst["villages"]]
        self.lon = [l["home_lon"] for l in inst["lecturers"]] + [v["lon"] for v in inst["villages"]]
        self.matrix = inst.get("travel_matrix")
        self.point = {}
        if self.matrix:
            self.point = {name: i for i, name in enumerate(self.matrix["points"])}

    def straight_km(self, a, b):
        """Haversine × road factor, operation for operation as travel.rs computes it."""
        lat1, lon1, lat2, lon2 = self.lat[a], self.lon[a], self.lat[b], self.lon[b]
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp = math.radians(lat2 - lat1)
        dl = math.radians(lon2 - lon1)
        s1, s2 = math.sin(dp / 2.0), math.sin(dl / 2.0)
        h = s1 * s1 + math.cos(p1) * math.cos(p2) * s2 * s2
        return 2.0 * EARTH_RADIUS_KM * math.asin(min(math.sqrt(h), 1.0)) * self.inst["road_factor"]

    def matrix_entry(self, table, a, b):
        """The matrix's value from point a to b (Jinguo has checked it is square), or None
        when it has no such table or says `null`."""
        rows = self.matrix.get(table)
        return None if rows is None else rows[self.point[self.names[a]]][self.point[self.names[b]]]

    def listed(self, a, b):
        return self.names[a] in self.point and self.names[b] in self.point

    def leg(self, a, b):
        """(km, whole minutes) from point a to point b, or None when the matrix has no road."""
        if self.matrix and self.listed(a, b):
            minutes = self.matrix_entry("minutes", a, b)
            if minutes is None:
                return None
            km = self.matrix_entry("km", a, b)
            return (self.straight_km(a, b) if km is None else km), math.ceil(minutes)
        km = self.straight_km(a, b)
        return km, math.ceil(km / self.inst["speed_kmh"] * 60.0)

    def matrices(self):
        """(km, minutes) between all points as numpy arrays; no road = NO_ROAD_MINUTES.

        numpy's trigonometry may differ from libm in the last bit, which moves km by ~1e-13
        (harmless) but could round minutes differently when km/speed×60 sits on a whole number,
        so those entries are recomputed with `leg`.
        """
        lat, lon = np.array(self.lat), np.array(self.lon)
        dp = np.radians(lat[None, :] - lat[:, None])
        dl = np.radians(lon[None, :] - lon[:, None])
        cos_lat = np.cos(np.radians(lat))
        h = np.sin(dp / 2.0) ** 2 + cos_lat[:, None] * cos_lat[None, :] * np.sin(dl / 2.0) ** 2
        km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(np.sqrt(h), 1.0)) * self.inst["road_factor"]
        exact_minutes = km / self.inst["speed_kmh"] * 60.0
        minutes = np.ceil(exact_minutes).astype(np.int64)
        fraction = exact_minutes - np.floor(exact_minutes)
        for a, b in zip(*np.nonzero((fraction < 1e-6) | (fraction > 1 - 1e-6))):
            km[a, b], minutes[a, b] = self.leg(a, b)
        if self.matrix:
            listed = [n for n, name in enumerate(self.names) if name in self.point]
            for a in listed:
                for b in listed:
                    leg = self.leg(a, b)
                    if leg is None:
                        minutes[a, b] = NO_ROAD_MINUTES
                    else:
                        km[a, b], minutes[a, b] = leg
        return km, minutes


def lecturer_days(inst):
    """One vehicle per (lecturer, date): she has the topic and gives talks, the date is in both
    her `available` and the instance's `days`. In the instance's order of days."""
    vehicles = []
    for l, lecturer in enumerate(inst["lecturers"]):
        if inst["topic"] not in lecturer["topics"] or lecturer["max_per_day"] < 1:
            continue
        available = set(lecturer["available"])
        vehicles += [(l, day) for day in dict.fromkeys(inst["days"]) if day in available]
    return vehicles


def build_model(inst, travel, vehicles):
    """The routing model: arc cost in metres, a time dimension for the day window, a count
    dimension for max_per_day and one disjunction per village.

    Nodes are the homes of the lecturers with a lecturer-day (the depots, 0..D-1) and then the
    villages (D + v); a home that starts no day must not be a node, or the model would have to
    visit it. Each village may only go to lecturer-days whose lecturer can get there, give the
    talk and be home inside the window: an exact reduction, which spares the search the vehicles
    that could never take it. Returns (manager, routing, penalty per uncovered village, D).
    """
    homes, villages = len(inst["lecturers"]), len(inst["villages"])
    depots = sorted({l for l, _ in vehicles})
    points = depots + list(range(homes, homes + villages))
    km, minutes = (m[np.ix_(points, points)] for m in travel.matrices())
    metres = np.rint(km * 1000.0).astype(np.int64)
    horizon = clock_minutes(inst["day_end"]) - clock_minutes(inst["day_start"])
    service = inst["session_minutes"]
    d = len(depots)

    node_of_home = {l: i for i, l in enumerate(depots)}
    starts = [node_of_home[l] for l, _ in vehicles]
    manager = pywrapcp.RoutingIndexManager(d + villages, len(vehicles), starts, starts)
    routing = pywrapcp.RoutingModel(manager)

    cost = routing.RegisterTransitMatrix(metres.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost)

    # Leaving a village takes its session first; no waiting is ever useful (no time windows
    # other than the day), so slack 0 and every day leaves home at day_start (cumul 0).
    time_transit = minutes.copy()
    time_transit[d:, :] += service
    time_cb = routing.RegisterTransitMatrix(time_transit.tolist())
    routing.AddDimension(time_cb, 0, horizon, True, "time")

    count_cb = routing.RegisterUnaryTransitVector([0] * d + [1] * villages)
    capacities = [inst["lecturers"][l]["max_per_day"] for l, _ in vehicles]
    routing.AddDimensionWithVehicleCapacity(count_cb, 0, capacities, True, "count")

    # A covered village must beat any travel saving: the penalty exceeds the travel of any
    # feasible schedule (a day travels at most max_per_day + 1 legs, each at most the longest
    # leg that fits a day).
    fits = minutes <= horizon
    longest_leg = int(metres[fits].max()) if fits.any() else 0
    penalty = 1 + sum((capacity + 1) * longest_leg for capacity in capacities)

    round_trip = minutes[:d, d:] + minutes[d:, :d].T + service
    days_of = {}
    for vehicle, (l, _) in enumerate(vehicles):
        days_of.setdefault(node_of_home[l], []).append(vehicle)
    for v in range(villages):
        index = manager.NodeToIndex(d + v)
        # With a matrix a village may be reachable only by way of another one (no direct
        # road), so the round-trip test applies to straight-line travel only.
        allowed = [
            vehicle
            for home, days in days_of.items()
            if travel.matrix or round_trip[home, v] <= horizon
            for vehicle in days
        ]
        # SetAllowedVehiclesForIndex would say the same, but its Python binding (9.15) rejects
        # every list; the vehicle variable's domain is the documented equivalent.
        if len(allowed) < len(vehicles):
            routing.VehicleVar(index).SetValues([-1] + allowed)
        routing.AddDisjunction([index], penalty)
    return manager, routing, penalty, d


def search(routing, first_solution, time_limit_s):
    """Solve with the given first-solution strategy and guided local search; returns
    (assignment or None, seconds to the first solution, its cost)."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first_solution)
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    started = time.monotonic()
    first = {}

    def on_solution():
        if not first:
            first["at"] = time.monotonic() - started
            first["cost"] = routing.CostVar().Value()

    routing.AddAtSolutionCallback(on_solution)
    solution = routing.SolveWithParameters(params)
    return solution, first.get("at"), first.get("cost")


def routes_of(manager, routing, solution, vehicles, depots):
    """[(lecturer, date, [village indices in order])] for the days with at least one stop;
    villages are the model's nodes from `depots` on."""
    routes = []
    for vehicle, (l, day) in enumerate(vehicles):
        stops = []
        index = solution.Value(routing.NextVar(routing.Start(vehicle)))
        while not routing.IsEnd(index):
            stops.append(manager.IndexToNode(index) - depots)
            index = solution.Value(routing.NextVar(index))
        if stops:
            routes.append((l, day, stops))
    return routes


def unassigned_reason(inst, travel, v):
    """Why village v got no session, in Jinguo's terms (docs/tours.md "Output"). The checker
    does not judge reasons; these follow Jinguo's definitions so the two schedules read alike."""
    homes = len(inst["lecturers"])
    with_topic = [l for l, lec in enumerate(inst["lecturers"]) if inst["topic"] in lec["topics"]]
    if not with_topic:
        return "no_lecturer_with_topic"
    days = set(inst["days"])
    free = [l for l in with_topic if days & set(inst["lecturers"][l]["available"])]
    if not free:
        return "no_available_date"
    horizon = clock_minutes(inst["day_end"]) - clock_minutes(inst["day_start"])
    service = inst["session_minutes"]

    def day_minutes(path):
        total = service * (len(path) - 2)
        for a, b in zip(path, path[1:]):
            leg = travel.leg(a, b)
            if leg is None:
                return None
            total += leg[1]
        return total

    def fits(path):
        used = day_minutes(path)
        return used is not None and used <= horizon

    node = homes + v
    for l in free:
        if fits([l, node, l]):
            return "no_capacity_left"
        if travel.matrix:
            others = (homes + u for u in range(len(inst["villages"])) if u != v)
            if any(fits([l, u, node, l]) or fits([l, node, u, l]) for u in others):
                return "no_capacity_left"
    return "not_reachable_within_day"


def schedule_of(inst, travel, routes):
    """Jinguo's schedule: each talk starts on arrival (no waiting is ever needed), statistics
    computed as the checker does."""
    homes = len(inst["lecturers"])
    day_start = clock_minutes(inst["day_start"])
    service = inst["session_minutes"]
    sessions, travel_km, load = [], 0.0, {}
    for l, day, stops in routes:
        clock, at = day_start, l
        for v in stops:
            km, minutes = travel.leg(at, homes + v)
            travel_km += km
            start = clock + minutes
            clock, at = start + service, homes + v
            sessions.append(
                {
                    "village": inst["villages"][v]["code"],
                    "lecturer": inst["lecturers"][l]["id"],
                    "date": day,
                    "start": hhmm_of(start),
                    "end": hhmm_of(clock),
                }
            )
        travel_km += travel.leg(at, l)[0]
        load[l] = load.get(l, 0) + len(stops)
    covered = {v for _, _, stops in routes for v in stops}
    unassigned = [
        {"village": village["code"], "reason": unassigned_reason(inst, travel, v)}
        for v, village in enumerate(inst["villages"])
        if v not in covered
    ]
    days = set(inst["days"])
    loads = [
        load.get(l, 0)
        for l, lec in enumerate(inst["lecturers"])
        if lec["max_per_day"] > 0 and inst["topic"] in lec["topics"] and days & set(lec["available"])
    ]
    most, fewest = (max(loads), min(loads)) if loads else (0, 0)
    stats = {
        "covered": len(covered),
        "travel_km": travel_km,
        "spread": most - fewest,
        "most_sessions": most,
        "fewest_sessions": fewest,
    }
    return {"sessions": sessions, "unassigned": unassigned, "stats": stats}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="tour instance JSON")
    parser.add_argument("--output", required=True, help="where to write the schedule JSON")
    parser.add_argument("--time-limit-s", type=float, required=True, help="search time limit")
    parser.add_argument(
        "--first-solution",
        default="PARALLEL_CHEAPEST_INSERTION",
        choices=["PARALLEL_CHEAPEST_INSERTION", "PATH_CHEAPEST_ARC"],
    )
    args = parser.parse_args()
    started = time.monotonic()
    inst = load_instance(args.input)
    travel = Travel(inst)
    vehicles = lecturer_days(inst)
    total = len(inst["villages"])
    if not vehicles:
        # Nothing to route: the empty schedule is the first and only solution.
        routes, first_at, first_cost, penalty = [], 0.0, total, 1
    else:
        manager, routing, penalty, depots = build_model(inst, travel, vehicles)
        solution, first_at, first_cost = search(routing, args.first_solution, args.time_limit_s)
        if solution is None:
            wall = time.monotonic() - started
            print(
                f"ortools: no solution for {total} villages, {len(vehicles)} lecturer-days, "
                f"wall {wall:.1f} s (search limit {args.time_limit_s:g} s)"
            )
            sys.exit(EXIT_NO_SOLUTION)
        routes = routes_of(manager, routing, solution, vehicles, depots)
    schedule = schedule_of(inst, travel, routes)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(schedule, f, ensure_ascii=False, indent=1)
    stats = schedule["stats"]
    wall = time.monotonic() - started
    first_missing, first_metres = divmod(first_cost, penalty)
    print(
        f"ortools: {stats['covered']} of {total} villages covered, {stats['travel_km']:.1f} km, "
        f"wall {wall:.1f} s (search limit {args.time_limit_s:g} s); first solution after "
        f"{first_at:.1f} s: {total - first_missing} covered, {first_metres / 1000:.1f} km"
    )


if __name__ == "__main__":
    main()
