"""Solve OPLib orienteering instances (up to 1,000 nodes) with walks' planner core and OR-Tools.

Instances: ../shared/benchmarks/oplib (gen1, gen2, gen4; read its README). Travel cost follows
TSPLIB (EUC_2D rounded, CEIL_2D, ATT, GEO, EXPLICIT matrices); the tour is closed at the depot,
whose score counts. The reference is the EA4OP route of ``solutions/``, re-scored with the
instance's scores and checked under the same metric. Every route we return is checked
independently (a closed tour at the depot, each node at most once, cost within the limit).

Prints one line per instance (score, % of EA4OP, seconds, OR-Tools when run), then the average
per size band (100-226, 318-783, 1000 nodes and the small ones) and the worst instance.

Usage: python benchmarks/oplib_bench.py [--time-limit 2] [--max-n 1000] [--min-n 0]
       [--gens gen1,gen2,gen4] [--only NAME,...] [--ortools-sample K] [--seed 0]
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
    cost: np.ndarray, score: np.ndarray, limit: float, depot: int, seconds: float, seed: int
) -> list[int]:
    """Our core on the closed tour: a copy of the depot serves as the end."""
    n = cost.shape[0]
    big = np.pad(cost, ((0, 1), (0, 1)))
    big[n, :n] = cost[depot]
    big[:n, n] = cost[:, depot]
    s = np.append(score, 0.0)
    s[depot] = 0.0
    sol = solve(OPProblem(big, s, limit, depot, n), seed=seed, time_limit_s=seconds)
    return [depot if i == n else i for i in sol.route]


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
    args = parser.parse_args()
    paths = []
    for gen in args.gens.split(","):
        paths += sorted((OPLIB / "instances" / gen).glob("*.oplib"))
    only = {s for s in args.only.split(",") if s}
    rows: list[tuple[str, int, float, float, float]] = []
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
        started = time.perf_counter()
        tour = solve_ours(cost, score, limit, depot, args.time_limit, args.seed)
        seconds = time.perf_counter() - started
        tour_check(tour, cost, limit, depot)
        ours = float(score[sorted(set(tour))].sum())
        line = (
            f"{path.stem:<24}{n:>5}{ours:>8.0f}{ref:>8.0f}{100 * ours / ref:>8.2f}%{seconds:>7.2f}s"
        )
        if use_ortools and count % args.ortools_sample == 0:
            peer_tour = solve_ortools(cost, score, limit, depot, args.time_limit)
            tour_check(peer_tour, cost, limit, depot)
            peer = float(score[sorted(set(peer_tour))].sum())
            peer_rows.append((ours / ref, peer / ref))
            line += f"  OR-Tools {peer:>6.0f} {100 * peer / ref:6.2f}%"
        print(line, flush=True)
        rows.append((path.stem, n, ours / ref, seconds, ref))
        count += 1
    print()
    print(f"{'band':<10}{'count':>6}{'avg %':>9}{'min %':>9}{'worst':>26}{'mean s':>8}{'max s':>8}")
    for low, high, label in (*BANDS, (0, 10**9, "all")):
        band = [r for r in rows if low <= r[1] <= high]
        if not band:
            continue
        worst = min(band, key=lambda r: r[2])
        print(
            f"{label:<10}{len(band):>6}{100 * np.mean([r[2] for r in band]):>8.2f}%"
            f"{100 * worst[2]:>8.2f}%{worst[0]:>26}"
            f"{np.mean([r[3] for r in band]):>8.2f}{max(r[3] for r in band):>8.2f}"
        )
    over = [r for r in rows if r[3] > args.time_limit * 1.05]
    print(f"over the limit by > 5 %: {len(over)} {[(r[0], round(r[3], 2)) for r in over]}")
    if peer_rows:
        print(
            f"OR-Tools sample of {len(peer_rows)}: ours {100 * np.mean([p[0] for p in peer_rows]):.2f}%"
            f" vs OR-Tools {100 * np.mean([p[1] for p in peer_rows]):.2f}% of EA4OP"
            f" at {args.time_limit:g} s each"
        )


if __name__ == "__main__":
    main()
