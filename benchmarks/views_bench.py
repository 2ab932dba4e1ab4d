"""Time landmark line-of-sight on the Paris extract, with and without terrain.

Every node of the walking graph (and every vertex of the walkable ways) is evaluated towards
the Eiffel Tower, 4.4-4.9 km away, over the extract's buildings and the assumed roofline
beyond them (``walks.views.assumed_roofline_m``): on flat ground, and on terrain. The terrain
is a Terrarium tile mosaic of the tiles ``walks.terrain`` would fetch for the area and the
corridor (zoom and count as chosen there), filled with a synthetic Butte Montmartre (130 m
over a 35 m plain), so no network is needed; with ``--cached`` the tiles of the walks cache
are used instead (fetch them once with a view run online). Target: every graph node with
terrain in under 1 s, the height grid included.

Usage: python benchmarks/views_bench.py [EXTRACT.osm] [--cached]
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from walks.categories import load_categories
from walks.data import read_extract, read_features
from walks.graph import graph_from_ways
from walks.terrain import TILE_PX, TileTerrain, choose_tiles, fetch_terrain, terrain_region
from walks.types import BBox, LatLon
from walks.views import (
    HeightGrid,
    Landmark,
    assumed_roofline_m,
    default_landmark,
    height_grid,
    line_of_sight,
)

PARIS = Path(__file__).resolve().parents[2] / "shared/data/osm-paris-gare-du-nord-2021/map.osm"
MONTMARTRE = (48.8867, 2.3431)


def _butte(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A 130 m hill on Montmartre over a 35 m plain (metres)."""
    dy = (lat - MONTMARTRE[0]) * 111_195.0
    dx = (lon - MONTMARTRE[1]) * 111_195.0 * math.cos(math.radians(MONTMARTRE[0]))
    return 35.0 + 95.0 * np.exp(-(dx**2 + dy**2) / (2 * 350.0**2))


def synthetic_terrain(region: object) -> TileTerrain:
    """
    Build the mosaic ``walks.terrain`` would fetch for a region, from the synthetic hill.

    Parameters
    ----------
    region
        The region (a shapely polygon).

    Returns
    -------
    TileTerrain
        The mosaic.
    """
    zoom, tiles = choose_tiles(region)  # type: ignore[arg-type]
    xs, ys = [t[0] for t in tiles], [t[1] for t in tiles]
    x0, y0 = min(xs), min(ys)
    cols, rows = (max(xs) - x0 + 1) * TILE_PX, (max(ys) - y0 + 1) * TILE_PX
    n = 2.0**zoom
    px = x0 + (np.arange(cols) + 0.5) / TILE_PX
    py = y0 + (np.arange(rows) + 0.5) / TILE_PX
    lon = px / n * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1.0 - 2.0 * py / n))))
    glon, glat = np.meshgrid(lon, lat)
    return TileTerrain(zoom, x0, y0, _butte(glat, glon).astype(np.float32))


def _far_landmarks(grid: HeightGrid, lats: np.ndarray, lons: np.ndarray, box: BBox,
                   roof: float) -> None:  # fmt: skip
    """
    Print time and peak memory against the sight line's length: linear, then capped.

    Parameters
    ----------
    grid
        The height grid.
    lats, lons
        The points.
    box
        The area's box.
    roof
        The assumed roofline.
    """
    middle = LatLon((box.south + box.north) / 2, (box.west + box.east) / 2)
    for km in (5, 20, 50, 140):
        far = Landmark("far", "far", LatLon(middle.lat - km / 111.2, middle.lon), 330.0)
        tracemalloc.start()
        start = time.perf_counter()
        line_of_sight(grid, lats, lons, far, roofline_m=roof)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"a landmark {km:>3} km away: n={lats.size}  {seconds * 1e3:7.1f} ms  "
              f"peak memory {peak / 1e6:5.0f} MB")  # fmt: skip


def main() -> None:
    """Print the timings."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = Path(args[0]) if args else PARIS
    graph = graph_from_ways(read_extract(path))
    cats = load_categories()
    features = read_features(path, lambda tags: any(c.matches(tags) for c in cats.values()))
    landmark = default_landmark(graph.bbox)
    assert landmark is not None, "no default landmark for this extract"
    roof = assumed_roofline_m(features.buildings)
    region = terrain_region(graph.bbox, landmark.location)
    start = time.perf_counter()
    if "--cached" in sys.argv:
        got = fetch_terrain(region, url=None)
        assert got.terrain is not None, "no cached tiles: run a view search online first"
        terrain = got.terrain
    else:
        terrain = synthetic_terrain(region)
    terrain_s = time.perf_counter() - start
    start = time.perf_counter()
    grid = height_grid(features.buildings, graph.bbox)
    grid_s = time.perf_counter() - start
    print(f"extract {path.name}: {len(features.buildings)} buildings, landmark {landmark.name}, "
          f"assumed roofline {roof:g} m")  # fmt: skip
    print(f"height grid {grid.heights.shape[1]} x {grid.heights.shape[0]} cells of "
          f"{grid.cell_m} m built in {grid_s * 1e3:.0f} ms")  # fmt: skip
    rows, cols = terrain.elevations.shape
    print(f"terrain: zoom {terrain.zoom}, {cols // TILE_PX} x {rows // TILE_PX} tiles, "
          f"ready in {terrain_s * 1e3:.0f} ms")  # fmt: skip
    point_sets = {
        "graph nodes": (graph.node_lat, graph.node_lon),
        "way vertices": (graph.geom_lat, graph.geom_lon),
    }
    for label, (lats, lons) in point_sets.items():
        for ground in (None, terrain):
            best = math.inf
            for _ in range(3):
                start = time.perf_counter()
                sight = line_of_sight(grid, lats, lons, landmark, roofline_m=roof, terrain=ground)
                best = min(best, time.perf_counter() - start)
            name = "flat" if ground is None else "terrain"
            print(
                f"{label:<13} n={lats.size:>6}  {name:<8} {best * 1e3:7.1f} ms  "
                f"{lats.size / best:>9,.0f} evaluations/s  "
                f"median visible {np.median(sight.visible_fraction):.2f}  "
                f"median known {np.median(sight.known_share):.2f}"
            )
    # online, buildings come for the corridor too: the grid then spans the whole line
    west, south, east, north = region.bounds
    start = time.perf_counter()
    wide = height_grid(features.buildings, BBox(west, south, east, north))
    wide_s = time.perf_counter() - start
    for ground in (None, terrain):
        start = time.perf_counter()
        line_of_sight(wide, graph.node_lat, graph.node_lon, landmark, roofline_m=roof,
                      terrain=ground)  # fmt: skip
        seconds = time.perf_counter() - start
        name = "flat" if ground is None else "terrain"
        print(f"corridor grid {wide.heights.shape[1]} x {wide.heights.shape[0]} cells of "
              f"{wide.cell_m:.2f} m ({wide_s * 1e3:.0f} ms), graph nodes, {name:<8} "
              f"{seconds * 1e3:7.1f} ms")  # fmt: skip
    _far_landmarks(grid, graph.geom_lat, graph.geom_lon, graph.bbox, roof)
    print("target: every graph node with terrain in < 1 s (grid build included)")


if __name__ == "__main__":
    main()
