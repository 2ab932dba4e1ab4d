"""Measure maneuvers on real walks: short ones, raw tag words, U-turns told, maneuvers per km.

Plans walks (60 and 90 minutes, two seeds, loops with a café and a studio or none) on the demo
extract and the OSM extracts of ``../shared/data``, and prints per extract: maneuvers per km,
the share of maneuvers (arrivals excluded) under 20 m, instructions with a raw highway value,
and U-turns of the path (a node reached and left by the same edge) without a ``uturn``
maneuver there. With ``--valhalla DIR`` (pyvalhalla importable, tiles built in DIR from the demo
``Helsinki.osm.pbf`` by ``valhalla_build_tiles``) the demo walks' stop sequences are routed by
Valhalla's pedestrian costing too, and its maneuvers per km printed beside ours. pyvalhalla is a
benchmark-only tool, never a dependency of walks.

Usage: python benchmarks/directions_bench.py [--valhalla /tmp/vtiles/tiles]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

from walk_quality import extracts

import walks.api
from walks.errors import WalksError
from walks.types import Walk

RAW = re.compile(
    r"\bthe (service|cycleway|footway|pedestrian(?! street)|living.street|residential|"
    r"unclassified|tertiary|secondary|primary|corridor)\b"
)


def measure(walk: Walk) -> dict[str, float]:
    """Count a walk's maneuvers, short ones, raw words and U-turns not told."""
    told = 0
    missing = 0
    count = short = raw = 0
    for leg in walk.legs:
        ms = leg.maneuvers
        count += sum(1 for m in ms if m.type != "arrive")
        short += sum(1 for m in ms if m.type != "arrive" and m.distance_m < 20.0)
        raw += sum(1 for m in ms if RAW.search(m.instruction))
        points = {(m.lat, m.lon) for m in ms if m.type == "uturn"}
        for i in leg.u_turns:
            node = leg.nodes[i]
            told += 1
            if not any(abs(lat - _lat(walk, node)) < 1e-6 for lat, _ in points):
                missing += 1
    return {"km": walk.length_m / 1000, "maneuvers": count, "short": short, "raw": raw,
            "u_turns": told, "u_missing": missing}  # fmt: skip


_GRAPH: dict[str, object] = {}


def _lat(_walk: Walk, node: int) -> float:
    graph = _GRAPH["graph"]
    return float(graph.node_lat[node])  # type: ignore[attr-defined]


def valhalla_per_km(tiles: str, walk: Walk, start: tuple[float, float]) -> tuple[float, int]:
    """Route a walk's stop sequence (a loop from its start) with Valhalla; km and maneuvers."""
    from valhalla import Actor, get_config

    actor = Actor(get_config(tile_extract="", tile_dir=tiles))
    locs = [start, *[(v.stop.location.lat, v.stop.location.lon) for v in walk.stops], start]
    request = {"locations": [{"lat": a, "lon": b} for a, b in locs], "costing": "pedestrian",
               "directions_options": {"units": "kilometers"}}  # fmt: skip
    trip = json.loads(actor.route(json.dumps(request)))["trip"]
    km = sum(leg["summary"]["length"] for leg in trip["legs"])
    maneuvers = sum(
        1 for leg in trip["legs"] for m in leg["maneuvers"] if m["type"] not in {4, 5, 6}
    )  # 4-6 are the destination types
    return km, maneuvers


def main() -> None:  # noqa: C901 - one grid, kept together
    """Run the grid and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--valhalla", default=None, help="Valhalla tile folder (demo extract)")
    args = parser.parse_args()
    rows = []
    ours_demo: list[tuple[Walk, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in extracts(Path(tmp)).items():
            total = {"km": 0.0, "maneuvers": 0, "short": 0, "raw": 0, "u_turns": 0, "u_missing": 0}
            n = 0
            for minutes in (60, 90):
                for seed in (0, 1):
                    for stops in ([("cafe", 1), ("studio", 1)], []):
                        try:
                            found = walks.api.generate_walks(
                                None, stops, minutes=minutes, seed=seed, osm_file=path,
                                no_terrain=True, cache_dir=Path(tmp) / "cache",
                            )  # fmt: skip
                        except WalksError:
                            continue
                        _GRAPH["graph"] = found.area_stops.loaded.graph
                        for walk in found.walks[:1]:
                            got = measure(walk)
                            for key in total:
                                total[key] += got[key]
                            n += 1
                            if name == "demo" and walk.stops:
                                start = walk.geometry[0]
                                ours_demo.append((walk, (start.lat, start.lon)))
            if n:
                rows.append((name, n, total))
    print("| extract | walks | km | maneuvers/km | under 20 m | raw words | U-turns told |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, t in rows:
        print(f"| {name} | {n} | {t['km']:.1f} | {t['maneuvers'] / t['km']:.1f} | "
              f"{t['short'] / max(1, t['maneuvers']):.1%} | {t['raw']} | "
              f"{t['u_turns'] - t['u_missing']}/{t['u_turns']} |")  # fmt: skip
    if args.valhalla and ours_demo:
        ours_km = sum(w.length_m for w, _ in ours_demo) / 1000
        ours_n = sum(measure(w)["maneuvers"] for w, _ in ours_demo)
        v_km = v_n = 0.0
        for walk, start in ours_demo:
            km, count = valhalla_per_km(args.valhalla, walk, start)
            v_km += km
            v_n += count
        print(f"\nDemo walks' stop sequences: ours {ours_n / ours_km:.1f} maneuvers/km "
              f"({ours_km:.1f} km); Valhalla pedestrian {v_n / v_km:.1f} maneuvers/km "
              f"({v_km:.1f} km)")  # fmt: skip


if __name__ == "__main__":
    main()
