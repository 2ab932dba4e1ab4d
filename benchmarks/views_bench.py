"""Time landmark line-of-sight on the Paris extract: every walking-graph node against its buildings.

Prints the height-grid build time, the evaluation time and evaluations per second for (a) every
node of the walking graph and (b) every vertex of the walkable ways, towards the Eiffel Tower,
with open ground assumed beyond the extract and with a 20 m roofline there. Target: every node
of the extract evaluated in under 1 s.

Usage: python benchmarks/views_bench.py [EXTRACT.osm]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from walks.categories import load_categories
from walks.data import read_extract, read_features
from walks.graph import graph_from_ways
from walks.views import default_landmark, height_grid, line_of_sight

PARIS = Path(__file__).resolve().parents[2] / "shared/data/osm-paris-gare-du-nord-2021/map.osm"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else PARIS
    graph = graph_from_ways(read_extract(path))
    cats = load_categories()
    features = read_features(path, lambda tags: any(c.matches(tags) for c in cats.values()))
    landmark = default_landmark(graph.bbox)
    assert landmark is not None, "no default landmark for this extract"
    start = time.perf_counter()
    grid = height_grid(features.buildings, graph.bbox)
    grid_s = time.perf_counter() - start
    print(f"extract {path.name}: {len(features.buildings)} buildings, landmark {landmark.name}")
    print(
        f"height grid {grid.heights.shape[1]} x {grid.heights.shape[0]} cells of {grid.cell_m} m "
        f"built in {grid_s * 1e3:.0f} ms"
    )
    point_sets = {
        "graph nodes": (graph.node_lat, graph.node_lon),
        "way vertices": (graph.geom_lat, graph.geom_lon),
    }
    for label, (lats, lons) in point_sets.items():
        for roof in (None, 20.0):
            start = time.perf_counter()
            sight = line_of_sight(grid, lats, lons, landmark, roofline_m=roof)
            seconds = time.perf_counter() - start
            print(
                f"{label:<13} n={lats.size:>6}  roofline={roof!s:>5}  {seconds * 1e3:7.1f} ms  "
                f"{lats.size / seconds:>9,.0f} evaluations/s  "
                f"median visible {np.median(sight.visible_fraction):.2f}"
            )
    print("target: every graph node in < 1 s (grid build included)")


if __name__ == "__main__":
    main()
