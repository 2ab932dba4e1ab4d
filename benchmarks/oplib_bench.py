"""Solve OPLib orienteering instances (up to 1,000 nodes) with walks' planner core and OR-Tools.

Instances: ../shared/benchmarks/oplib (gen1, gen2, gen4; read its README). Travel cost follows
TSPLIB (EUC_2D rounded, CEIL_2D, ATT, GEO, EXPLICIT matrices); the tour is closed at the depot,
whose score counts. The reference is the EA4OP route of ``solutions/``, re-scored with the
instance's scores and checked under the same metric. Every route we return is checked
independently (a closed tour at the depot, each node at most once, cost within the limit).

Prints one line per instance (score, % of EA4OP, wall and CPU seconds, whether the time guard
ended the run, OR-Tools when run), then the average per size band (100-226, 227-999, 1000 nodes
and the small ones), the worst instance and the largest overrun of the time guard.

The work budget is sized for ``--time-limit`` by the core's cost model; the result depends on
it alone unless the guard fires. On a shared machine ``--guard-factor 3`` gives the guard room
(the scores stay those of the limit's work budget; wall and CPU time are reported as measured).
OR-Tools (``pip install walks[bench]``) runs on every K-th instance with the same limit: routing
solver, one vehicle at the depot, each node optional with a disjunction penalty equal to its
score (scaled above any distance), distance dimension capped at the limit, guided local search.

Usage: python benchmarks/oplib_bench.py [--time-limit 2] [--max-n 1000] [--min-n 0]
       [--gens gen1,gen2,gen4] [--only NAME,...] [--ortools-sample K] [--seed 0]
       [--guard-factor 1]
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import time
from pathlib import Path

import numpy as np

from walks.planner import OPProblem, solve

OPLIB = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "oplib"
BANDS = ((0, 99, "< 100"), (100, 226, "100-226"), (227, 999, "227-999"), (1000, 1000, "1000"))


def _sections(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Header fields and the whitespace-split tokens of each ``*_SECTION``."""
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        word = line.split()[0].rstrip(":")
        if word.endswith("_SECTION"):
            current = sections.setdefault(word, [])
            continue
        if ":" in line and re.match(r"^[A-Z_]+\s*:", line):
            key, value = line.split(":", 1)
            header[key.strip()] = value.strip()
            current = None
            continue
        if current is not None:
            current.extend(line.split())
    return header, sections


def _geo(xy: np.ndarray) -> np.ndarray:
    """TSPLIB GEO distances."""
    deg = np.trunc(xy)
    rad = math.pi * (deg + 5.0 * (xy - deg) / 3.0) / 180.0
    lat, lon = rad[:, 0], rad[:, 1]
    q1 = np.cos(lon[:, None] - lon[None, :])
    q2 = np.cos(lat[:, None] - lat[None, :])
    q3 = np.cos(lat[:, None] + lat[None, :])
    arg = np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0)
    d = np.trunc(6378.388 * np.arccos(arg) + 1.0)
    np.fill_diagonal(d, 0.0)
    return d


def _explicit(fmt: str, values: np.ndarray, n: int) -> np.ndarray:
    """A full matrix from TSPLIB's explicit formats."""
    d = np.zeros((n, n))
    if fmt == "FULL_MATRIX":
        return values[: n * n].reshape(n, n)
    if fmt == "LOWER_DIAG_ROW":
        rows, cols = np.tril_indices(n)
    elif fmt == "UPPER_ROW":
        rows, cols = np.triu_indices(n, 1)
    elif fmt == "UPPER_DIAG_ROW":
        rows, cols = np.triu_indices(n)
    elif fmt == "LOWER_ROW":
        rows, cols = np.tril_indices(n, -1)
    else:
        msg = f"unsupported EDGE_WEIGHT_FORMAT {fmt}"
        raise ValueError(msg)
    d[rows, cols] = values[: rows.size]
    d[cols, rows] = values[: rows.size]
    return d


def load_oplib(path: Path) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Cost matrix, scores, cost limit and depot (0-based) of an OPLib file."""
    header, sec = _sections(path.read_text())
    n = int(header["DIMENSION"])
    kind = header["EDGE_WEIGHT_TYPE"]
    if kind == "EXPLICIT":
        values = np.array([float(v) for v in sec["EDGE_WEIGHT_SECTION"]])
        cost = _explicit(header["EDGE_WEIGHT_FORMAT"], values, n)
    else:
        raw = np.array([float(v) for v in sec["NODE_COORD_SECTION"]]).reshape(n, 3)
        xy = raw[:, 1:]
        if kind == "GEO":
            cost = _geo(xy)
        else:
            d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
            if kind == "EUC_2D":
                cost = np.floor(d + 0.5)
            elif kind == "CEIL_2D":
                cost = np.ceil(d)
            elif kind == "ATT":
                r = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1) / 10.0)
                t = np.floor(r + 0.5)
                cost = np.where(t < r, t + 1.0, t)
            else:
                msg = f"unsupported EDGE_WEIGHT_TYPE {kind}"
                raise ValueError(msg)
    score_tokens = np.array([float(v) for v in sec["NODE_SCORE_SECTION"]]).reshape(n, 2)
    score = np.zeros(n)
    score[score_tokens[:, 0].astype(int) - 1] = score_tokens[:, 1]
    depot = int(sec["DEPOT_SECTION"][0]) - 1
    return cost, score, float(header["COST_LIMIT"]), depot


def tour_check(tour: list[int], cost: np.ndarray, limit: float, depot: int) -> float:
    """Cost of a closed tour after checking it; raises on any violation."""
    if tour[0] != depot or tour[-1] != depot:
        msg = f"tour must start and end at the depot {depot}"
        raise AssertionError(msg)
    inner = tour[1:-1]
    if len(set(inner)) != len(inner) or depot in inner:
        msg = "a node is visited twice"
        raise AssertionError(msg)
    total = float(sum(cost[a, b] for a, b in itertools.pairwise(tour)))
    if total > limit + 1e-6:
        msg = f"tour cost {total} exceeds the limit {limit}"
        raise AssertionError(msg)
    return total


def reference(path: Path, cost: np.ndarray, score: np.ndarray, limit: float, depot: int) -> float:
    """The EA4OP route's score, re-scored and checked."""
    gen = path.parent.name
    sol = OPLIB / "solutions" / gen / (path.stem + ".sol")
    _, sec = _sections(sol.read_text())
    nodes = [int(v) - 1 for v in sec["NODE_SEQUENCE_SECTION"] if int(v) > 0]
    if nodes[-1] != nodes[0]:
        nodes.append(nodes[0])
    tour_check(nodes, cost, limit, depot)
    return float(score[sorted(set(nodes))].sum())


def solve_ours(
    cost: np.ndarray,
    score: np.ndarray,
    limit: float,
    depot: int,
    seconds: float,
    seed: int,
    guard: float = 1.0,
) -> tuple[list[int], bool]:
    """Our core on the closed tour (a copy of the depot serves as the end); the tour and timed-out."""
    n = cost.shape[0]
    big = np.pad(cost, ((0, 1), (0, 1)))
    big[n, :n] = cost[depot]
    big[:n, n] = cost[:, depot]
    s = np.append(score, 0.0)
    s[depot] = 0.0
    sol = solve(
        OPProblem(big, s, limit, depot, n),
        seed=seed,
        time_limit_s=seconds * guard,
        work_limit_s=seconds,
    )
    return [depot if i == n else i for i in sol.route], sol.timed_out


def solve_ortools(
    cost: np.ndarray, score: np.ndarray, limit: float, depot: int, seconds: float
) -> list[int]:
    """OR-Tools routing: optional nodes via disjunctions, a distance dimension capped at the limit."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = cost.shape[0]
    dist = cost.astype(np.int64)
    manager = pywrapcp.RoutingIndexManager(n, 1, depot)
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return int(dist[manager.IndexToNode(i), manager.IndexToNode(j)])

    transit = routing.RegisterTransitCallback(distance)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    routing.AddDimension(transit, 0, int(limit), True, "distance")  # noqa: FBT003
    big = int(dist.sum()) + 1
    for node in range(n):
        if node != depot:
            routing.AddDisjunction([manager.NodeToIndex(node)], int(score[node]) * big)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return [depot, depot]
    index, tour = routing.Start(0), []
    while not routing.IsEnd(index):
        tour.append(manager.IndexToNode(index))
        index = solution.Value(routing.NextVar(index))
    return [*tour, manager.IndexToNode(index)]


def main() -> None:  # noqa: C901, PLR0915 - one report loop
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=2.0)
    parser.add_argument("--max-n", type=int, default=1000)
    parser.add_argument("--min-n", type=int, default=0)
    parser.add_argument("--gens", default="gen1,gen2,gen4")
    parser.add_argument("--only", default="", help="comma-separated instance stems")
    parser.add_argument(
        "--ortools-sample", type=int, default=0, help="run OR-Tools on every K-th instance"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--guard-factor",
        type=float,
        default=1.0,
        help="time guard = this x the limit; the work stays sized for the limit (shared machines)",
    )
    args = parser.parse_args()
    paths = []
    for gen in args.gens.split(","):
        paths += sorted((OPLIB / "instances" / gen).glob("*.oplib"))
    only = {s for s in args.only.split(",") if s}
    rows: list[tuple[str, int, float, float, float, bool]] = []
    peer_rows: list[tuple[float, float]] = []
    use_ortools = args.ortools_sample > 0
    if use_ortools:
        try:
            import ortools  # noqa: F401
        except ImportError:
            print("OR-Tools not installed: peer skipped (pip install ortools)")
            use_ortools = False
    count = 0
    for path in paths:
        if only and path.stem not in only:
            continue
        cost, score, limit, depot = load_oplib(path)
        n = cost.shape[0]
        if not args.min_n <= n <= args.max_n:
            continue
        ref = reference(path, cost, score, limit, depot)
        started, cpu_started = time.perf_counter(), time.process_time()
        tour, guarded = solve_ours(
            cost, score, limit, depot, args.time_limit, args.seed, args.guard_factor
        )
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        tour_check(tour, cost, limit, depot)
        ours = float(score[sorted(set(tour))].sum())
        line = (
            f"{path.stem:<24}{n:>5}{ours:>8.0f}{ref:>8.0f}{100 * ours / ref:>8.2f}%{seconds:>7.2f}s"
            f"{cpu:>7.2f}s cpu{' TIME GUARD' if guarded else ''}"
        )
        if use_ortools and count % args.ortools_sample == 0:
            peer_tour = solve_ortools(cost, score, limit, depot, args.time_limit)
            tour_check(peer_tour, cost, limit, depot)
            peer = float(score[sorted(set(peer_tour))].sum())
            peer_rows.append((ours / ref, peer / ref))
            line += f"  OR-Tools {peer:>6.0f} {100 * peer / ref:6.2f}%"
        print(line, flush=True)
        rows.append((path.stem, n, ours / ref, seconds, cpu, guarded))
        count += 1
    print()
    print(
        f"{'band':<10}{'count':>6}{'avg %':>9}{'min %':>9}{'worst':>26}{'mean s':>8}{'max s':>8}"
        f"{'mean cpu':>10}{'max cpu':>9}{'guarded':>9}"
    )
    for low, high, label in (*BANDS, (0, 10**9, "all")):
        band = [r for r in rows if low <= r[1] <= high]
        if not band:
            continue
        worst = min(band, key=lambda r: r[2])
        print(
            f"{label:<10}{len(band):>6}{100 * np.mean([r[2] for r in band]):>8.2f}%"
            f"{100 * worst[2]:>8.2f}%{worst[0]:>26}"
            f"{np.mean([r[3] for r in band]):>8.2f}{max(r[3] for r in band):>8.2f}"
            f"{np.mean([r[4] for r in band]):>10.2f}{max(r[4] for r in band):>9.2f}"
            f"{sum(r[5] for r in band):>9}"
        )
    guard = args.time_limit * args.guard_factor
    over = [r for r in rows if r[3] > guard * 1.05]
    print(f"over the guard by > 5 %: {len(over)} {[(r[0], round(r[3], 2)) for r in over]}")
    top = max(rows, key=lambda r: r[3])
    print(f"largest wall time: {top[3]:.2f} s = {100 * (top[3] / guard - 1):+.1f} % of the guard")
    busy = [r for r in rows if r[4] > args.time_limit]
    print(f"CPU time above the {args.time_limit:g} s limit: {len(busy)}")
    if peer_rows:
        print(
            f"OR-Tools sample of {len(peer_rows)}: ours {100 * np.mean([p[0] for p in peer_rows]):.2f}%"
            f" vs OR-Tools {100 * np.mean([p[1] for p in peer_rows]):.2f}% of EA4OP"
            f" at {args.time_limit:g} s each"
        )


if __name__ == "__main__":
    main()
