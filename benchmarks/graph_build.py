"""Benchmark the graph layer against osmnx, on the same extract in the same run.

Prints: build time (ours: read + build; osmnx: graph_from_xml with simplification), cached reload
time, and shortest-path throughput on our CSR arrays vs osmnx.shortest_path on networkx.

Usage: python benchmarks/graph_build.py [EXTRACT.osm] [--pairs N] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import osmnx as ox
from scipy.sparse.csgraph import dijkstra

from walks.cache import load_cached_graph, save_graph
from walks.data import read_extract
from walks.graph import graph_from_ways

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/osm-paris-gare-du-nord-2021/map.osm"


def timed(func, repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def path_from_predecessors(pred: np.ndarray, target: int) -> list[int]:
    """Walk a predecessor row back from the target."""
    path = [target]
    while pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    return path[::-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extract", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"extract: {args.extract}")

    ours_s, graph = timed(lambda: graph_from_ways(read_extract(args.extract)), args.repeat)
    print(
        f"graph: {graph.n_nodes} nodes, {graph.n_arcs} directed edges, {graph.walkable_km:.1f} km"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            osmnx_s, _ = timed(
                lambda: ox.graph_from_xml(args.extract, bidirectional=True, simplify=True),
                args.repeat,
            )
        print(
            f"build   ours {ours_s * 1e3:8.1f} ms   osmnx.graph_from_xml {osmnx_s * 1e3:8.1f} ms"
            f"   osmnx/ours = {osmnx_s / ours_s:6.1f}x  (target >= 1x)"
        )
    except Exception as err:  # noqa: BLE001 - osmnx cannot read PBF or clipped extracts
        print(f"build   ours {ours_s * 1e3:8.1f} ms   osmnx.graph_from_xml failed: {str(err)[:80]}")

    with tempfile.TemporaryDirectory() as tmp:
        cache_file = Path(tmp) / "graph.npz"
        save_graph(graph, cache_file)
        reload_s, _ = timed(lambda: load_cached_graph(cache_file), args.repeat * 4)
    print(
        f"reload  cache {reload_s * 1e3:7.2f} ms   build {ours_s * 1e3:8.1f} ms"
        f"   build/reload = {ours_s / reload_s:6.1f}x  (target >= 5x)"
    )

    rng = np.random.default_rng(0)
    pairs = rng.integers(0, graph.n_nodes, size=(args.pairs, 2))
    cost, _ = graph.csr()

    def ours_route() -> int:
        # one Dijkstra per distinct source, as the planner batches its queries
        hops = 0
        sources = np.unique(pairs[:, 0])
        _, pred = dijkstra(cost, indices=sources, return_predecessors=True)
        row_of = {int(s): i for i, s in enumerate(sources)}
        for a, b in pairs:
            hops += len(path_from_predecessors(pred[row_of[int(a)]], int(b)))
        return hops

    def ours_route_single() -> int:
        hops = 0
        for a, b in pairs:
            _, pred = dijkstra(cost, indices=int(a), return_predecessors=True)
            hops += len(path_from_predecessors(pred, int(b)))
        return hops

    graph_nx = graph.to_networkx(geometry=False)
    ids = graph.node_osm_id

    def osmnx_route() -> int:
        paths = ox.shortest_path(
            graph_nx, ids[pairs[:, 0]].tolist(), ids[pairs[:, 1]].tolist(), weight="length"
        )
        return sum(len(p) for p in paths)

    batch_s, _ = timed(ours_route, 3)
    single_s, _ = timed(ours_route_single, 1)
    nx_s, _ = timed(osmnx_route, 1)
    n = args.pairs
    print(
        f"routing ours batched {n / batch_s:10.0f} paths/s   ours one-by-one {n / single_s:8.0f} paths/s"
        f"   osmnx.shortest_path {n / nx_s:8.0f} paths/s"
    )
    print(
        f"        batched/osmnx = {nx_s / batch_s:6.1f}x  (target >= 20x)"
        f"   one-by-one/osmnx = {nx_s / single_s:6.1f}x"
    )


if __name__ == "__main__":
    main()
