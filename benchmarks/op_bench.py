"""Solve the classic Orienteering Problem instances with walks' planner core and with OR-Tools.

Instances: ../shared/benchmarks/op/instances/op (Tsiligirides sets 1-3, Chao et al. sets 64 and 66),
best-known scores from bks.csv. Travel cost is the unrounded Euclidean distance; point 1 is the
start and point 2 the end. Every returned route is checked independently (within budget, each
point at most once). Prints, per set: average % of best-known, the worst instance, mean time; then
the totals side by side with OR-Tools' routing solver given the same time per instance.

The core runs as ``solve_orienteering`` runs it (Euclidean costs, start 0, end 1); its work
budget is sized for ``--time-limit``, and on a shared machine ``--guard-factor 3`` gives the
time guard room without changing the scores. CPU seconds and guard stops are reported.

Usage: python benchmarks/op_bench.py [--time-limit 1.0] [--no-ortools] [--sets Tsiligirides_1,...]
       [--guard-factor 1]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from walks.planner import OPProblem, solve

OP_DIR = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "op"


def load_instance(path: Path) -> tuple[float, np.ndarray, np.ndarray]:
    """Budget, (n, 2) coordinates and scores of an OP file."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    budget = float(rows[0][0])
    points = np.array([[float(v) for v in row[:3]] for row in rows[1:]])
    return budget, points[:, :2], points[:, 2]


def check_route(route: list[int], coords: np.ndarray, scores: np.ndarray, budget: float) -> float:
    """Score of a route after checking it is feasible; raises on any violation."""
    if route[0] != 0 or route[-1] != 1:
        msg = f"route must run from point 0 to point 1, got {route[:3]}...{route[-3:]}"
        raise AssertionError(msg)
    if len(set(route[1:-1])) != len(route) - 2 or {0, 1} & set(route[1:-1]):
        msg = "a point is visited twice"
        raise AssertionError(msg)
    length = sum(math.dist(coords[a], coords[b]) for a, b in itertools.pairwise(route))
    if length > budget + 1e-6:
        msg = f"route length {length:.6f} exceeds budget {budget}"
        raise AssertionError(msg)
    return float(scores[route[1:-1]].sum())


def solve_ortools(
    coords: np.ndarray, scores: np.ndarray, budget: float, seconds: float
) -> list[int]:
    """OR-Tools routing: optional points via disjunctions, distance dimension capped at the budget."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    scale = 1000
    n = len(coords)
    dist = np.ceil(np.sqrt(((coords[:, None] - coords[None]) ** 2).sum(-1)) * scale).astype(int)
    manager = pywrapcp.RoutingIndexManager(n, 1, [0], [1])
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return int(dist[manager.IndexToNode(i), manager.IndexToNode(j)])

    transit = routing.RegisterTransitCallback(distance)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    routing.AddDimension(transit, 0, math.floor(budget * scale), True, "distance")  # noqa: FBT003
    big = int(dist.sum()) + 1
    for node in range(2, n):
        routing.AddDisjunction([manager.NodeToIndex(node)], int(scores[node]) * big)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return [0, 1]
    index, route = routing.Start(0), []
    while not routing.IsEnd(index):
        route.append(manager.IndexToNode(index))
        index = solution.Value(routing.NextVar(index))
    return [*route, manager.IndexToNode(index)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=1.0)
    parser.add_argument("--no-ortools", action="store_true")
    parser.add_argument("--sets", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guard-factor", type=float, default=1.0)
    args = parser.parse_args()
    cpu: list[float] = []
    guarded = 0
    bks = {
        r["instance"]: float(r["best_known_score"])
        for r in csv.DictReader((OP_DIR / "bks.csv").open())
    }
    sets = [s for s in args.sets.split(",") if s] or [
        "Tsiligirides_1",
        "Tsiligirides_2",
        "Tsiligirides_3",
        "ChaoSet_64",
        "ChaoSet_66",
    ]
    use_ortools = not args.no_ortools
    per_set: dict[str, list[tuple[str, float, float, float, float]]] = defaultdict(list)
    for name in sets:
        for path in sorted((OP_DIR / "instances" / "op" / name).glob("*.txt")):
            budget, coords, scores = load_instance(path)
            best = bks[path.stem]
            start, cpu_start = time.perf_counter(), time.process_time()
            cost = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
            free = scores.copy()
            free[[0, 1]] = 0.0
            sol = solve(
                OPProblem(cost, free, budget, 0, 1),
                seed=args.seed,
                time_limit_s=args.time_limit * args.guard_factor,
                work_limit_s=args.time_limit,
            )
            route = list(sol.route)
            ours_s = time.perf_counter() - start
            cpu.append(time.process_time() - cpu_start)
            guarded += sol.timed_out
            ours = check_route(route, coords, scores, budget)
            peer = math.nan
            if use_ortools:
                peer = check_route(
                    solve_ortools(coords, scores, budget, args.time_limit), coords, scores, budget
                )
            per_set[name].append((path.stem, ours / best, ours_s, ours, peer))
    print(
        f"{'set':<16}{'n':>4}{'avg % BKS':>11}{'worst':>30}{'mean s':>9}{'max s':>8}"
        f"{'ours total':>12}{'OR-Tools':>10}"
    )
    all_ratio, all_ours, all_peer, all_times = [], 0.0, 0.0, []
    for name, rows in per_set.items():
        ratios = [r[1] for r in rows]
        worst = min(rows, key=lambda r: r[1])
        times = [r[2] for r in rows]
        ours_total, peer_total = sum(r[3] for r in rows), sum(r[4] for r in rows)
        all_ratio += ratios
        all_times += times
        all_ours += ours_total
        all_peer += peer_total
        print(
            f"{name:<16}{len(rows):>4}{100 * np.mean(ratios):>10.2f}%"
            f"{worst[0]:>23} {100 * worst[1]:5.1f}%{np.mean(times):>9.3f}{max(times):>8.3f}"
            f"{ours_total:>12.0f}{peer_total:>10.0f}"
        )
    print(
        f"{'all':<16}{len(all_ratio):>4}{100 * np.mean(all_ratio):>10.2f}%"
        f"{'':>23} {100 * min(all_ratio):5.1f}%{np.mean(all_times):>9.3f}{max(all_times):>8.3f}"
        f"{all_ours:>12.0f}{all_peer:>10.0f}"
    )
    if use_ortools:
        print(
            f"ours / OR-Tools total score = {all_ours / all_peer:.3f} at {args.time_limit:g} s per instance"
            " (target > 1)"
        )
    print(
        f"CPU s per instance: mean {np.mean(cpu):.3f}, max {max(cpu):.3f};"
        f" stopped by the time guard: {guarded}"
    )
    print("targets: avg >= 99 % of best-known, no instance < 95 %, <= 1 s per instance")


if __name__ == "__main__":
    main()
