"""Plan long walks on big graphs: a synthetic street grid of ~200,000 nodes and the real extracts.

Prints, per graph: nodes, planning time (wall and CPU), peak memory, budget error, retraced share.
Targets for the 200k-node graph: a 3-hour loop with 6 stops in <= 2 s and <= 1 GB peak memory on 2 cores.

Usage: python benchmarks/scale_bench.py [--side 448] [--seed 0]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np

from walks.data import OsmWays, WayRecord, demo_extract_path, read_extract
from walks.graph import WalkGraph, graph_from_ways
from walks.planner import plan_walk
from walks.types import LatLon, PlanRequest, Stop

PARIS = Path(__file__).resolve().parents[2] / "shared/data/osm-paris-gare-du-nord-2021/map.osm"
HIGHWAYS = (
    "residential",
    "footway",
    "pedestrian",
    "living_street",
    "secondary",
    "primary",
    "service",
    "path",
    "tertiary",
)
WEIGHTS = (0.35, 0.15, 0.05, 0.05, 0.1, 0.05, 0.1, 0.1, 0.05)


def street_grid(side: int, rng: np.random.Generator) -> WalkGraph:
    """A jittered grid of ~75 m blocks, each block its own way of a random class; 8 % missing."""
    lat0, lon0, step = 48.80, 2.25, 0.00068
    jitter = rng.normal(0, step * 0.15, size=(side, side, 2))
    lat = lat0 + np.arange(side)[:, None] * step + jitter[..., 0]
    lon = lon0 + np.arange(side)[None, :] * step * 1.5 + jitter[..., 1]
    ways = []
    way_id = 1
    for di, dj in ((0, 1), (1, 0)):
        for i in range(side - di):
            for j in range(side - dj):
                if rng.random() < 0.08:
                    continue
                a, b = (i, j), (i + di, j + dj)
                highway = HIGHWAYS[rng.choice(len(HIGHWAYS), p=WEIGHTS)]
                ways.append(WayRecord(
                    way_id, (a[0] * side + a[1] + 1, b[0] * side + b[1] + 1),
                    (float(lat[a]), float(lat[b])), (float(lon[a]), float(lon[b])),
                    {"highway": highway, "name": f"Street {i if di == 0 else j}"},
                ))  # fmt: skip
                way_id += 1
    return graph_from_ways(OsmWays(tuple(ways), "synthetic:grid", None))


def random_stops(graph: WalkGraph, count: int, rng: np.random.Generator) -> list[Stop]:
    """Stops on random nodes, three categories, random scores."""
    nodes = rng.choice(graph.n_nodes, size=count, replace=False)
    cats = ("cafe", "studio", "view")
    return [
        Stop(id=f"s{i}", osm_id=f"node/{i}", name=f"Stop {i}", category=cats[i % 3],
             location=LatLon(float(graph.node_lat[n]), float(graph.node_lon[n])), node=int(n),
             score=float(rng.uniform(0.5, 2.0)))
        for i, n in enumerate(nodes)
    ]  # fmt: skip


def bench(label: str, graph: WalkGraph, stops: list[Stop], request: PlanRequest) -> None:
    """Plan once, measuring time and memory, and print one line."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    walk = plan_walk(graph, stops, request)[0]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label:<28}{graph.n_nodes:>9,}{seconds:>9.2f}{cpu:>8.2f}{peak / 2**20:>10.0f}"
        f"{rss_after:>10.0f}"
        f"{walk.budget_error:>+9.3f}{walk.retraced_share:>9.3f}{len(walk.stops):>6}"
        f"{walk.length_m / 1000:>8.1f}   (rss before {rss_before:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=448)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    grid = street_grid(args.side, rng)
    print(
        f"synthetic grid built in {time.perf_counter() - t:.1f} s: {grid.n_nodes:,} nodes, "
        f"{grid.n_edges:,} edges, {grid.walkable_km:,.0f} km"
    )
    print(
        f"{'graph':<28}{'nodes':>9}{'plan s':>9}{'cpu s':>8}{'py MB':>10}{'rss MB':>10}"
        f"{'budget':>9}{'retrace':>9}{'stops':>6}{'km':>8}"
    )
    six = (("cafe", 2), ("studio", 2), ("view", 2))
    centre = LatLon(float(np.median(grid.node_lat)), float(np.median(grid.node_lon)))
    bench(
        "grid: 3 h loop, 6 stops",
        grid,
        random_stops(grid, 600, rng),
        PlanRequest(start=centre, minutes=180, stops=six, seed=args.seed),
    )
    for label, path in (
        ("Helsinki: 3 h, 6 stops", demo_extract_path()),
        ("Paris: 1 h, 3 stops", PARIS),
    ):
        graph = graph_from_ways(read_extract(path))
        stops = random_stops(graph, min(300, graph.n_nodes // 3), rng)
        start = LatLon(float(np.median(graph.node_lat)), float(np.median(graph.node_lon)))
        minutes, wanted = (
            (180, six) if "Helsinki" in label else (60, (("cafe", 1), ("studio", 1), ("view", 1)))
        )
        bench(
            label,
            graph,
            stops,
            PlanRequest(start=start, minutes=minutes, stops=wanted, seed=args.seed),
        )
    print("targets (grid): plan <= 2 s, peak <= 1024 MB, |budget| <= 0.05")


if __name__ == "__main__":
    main()
