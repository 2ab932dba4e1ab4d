"""Pedestrian areas (squares) are crossed on straight links, not walked round their outline."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from walks.api import generate_walks
from walks.cache import load_cached_graph, save_graph
from walks.data import AreaRecord, OsmWays, WayRecord, join_rings, read_extract
from walks.directions import directions
from walks.graph import WalkGraph, graph_from_ways, local_xy

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PARIS_OSM = SHARED / "data" / "osm-paris-gare-du-nord-2021" / "map.osm"
MUNICH_PBF = SHARED / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
#: The unnamed ``highway=pedestrian`` + ``area=yes`` square in Paris that walks went round
#: ("turn right along the pedestrian, 580 m"); two footways meet it 11 m apart.
PARIS_SQUARE = 732075777

LAT0, LON0 = 48.0, 2.0
M_LAT = 1 / 111_195.0
M_LON = M_LAT / math.cos(math.radians(LAT0))


def _at(x: float, y: float) -> tuple[float, float]:
    """Latitude and longitude of a point x metres east and y metres north of the origin."""
    return LAT0 + y * M_LAT, LON0 + x * M_LON


def _ways(
    points: dict[int, tuple[float, float]], *ways: tuple[int, list[int], dict[str, str]]
) -> tuple[WayRecord, ...]:
    """Ways from node ids laid out in metres."""
    records = []
    for osm_id, refs, tags in ways:
        coords = [_at(*points[r]) for r in refs]
        records.append(
            WayRecord(
                osm_id,
                tuple(refs),
                tuple(c[0] for c in coords),
                tuple(c[1] for c in coords),
                tags,
            )
        )
    return tuple(records)


FOOT = {"highway": "footway"}
SQUARE = {"highway": "pedestrian", "area": "yes"}

#: A 100 m square (corners 1-4, side midpoints 5-8) with four streets meeting it at the
#: midpoints of its sides, joined further out by a ring road so the graph is one piece.
SQUARE_POINTS = {
    1: (0, 0), 5: (50, 0), 2: (100, 0), 6: (100, 50), 3: (100, 100), 7: (50, 100),
    4: (0, 100), 8: (0, 50),
    15: (50, -60), 16: (160, 50), 17: (50, 160), 18: (-60, 50),
    21: (-60, -60), 22: (160, -60), 23: (160, 160), 24: (-60, 160),
}  # fmt: skip


def _square_graph(**square_tags: str) -> WalkGraph:
    ways = _ways(
        SQUARE_POINTS,
        (100, [1, 5, 2, 6, 3, 7, 4, 8, 1], {**SQUARE, **square_tags}),
        (1, [5, 15], FOOT),
        (2, [6, 16], FOOT),
        (3, [7, 17], FOOT),
        (4, [8, 18], FOOT),
        (5, [21, 15, 22, 16, 23, 17, 24, 18, 21], {"highway": "residential"}),
    )
    return graph_from_ways(OsmWays(ways, "test:square", None))


def _node(graph: WalkGraph, ref: int) -> int:
    return int(np.flatnonzero(graph.node_osm_id == ref)[0])


def _path(graph: WalkGraph, a: int, b: int) -> tuple[float, list[int], list[int]]:
    """Shortest path by length: its length, nodes and edges."""
    cost, edge_of = graph.csr()
    dist, pred = dijkstra(cost, indices=a, return_predecessors=True)
    nodes = [b]
    while nodes[-1] != a:
        nodes.append(int(pred[nodes[-1]]))
    nodes.reverse()
    edges = [int(edge_of[u, v]) - 1 for u, v in itertools.pairwise(nodes)]
    return float(dist[b]), nodes, edges


def test_square_is_crossed_not_circled() -> None:
    graph = _square_graph(name="Place Test")
    assert graph.pedestrian_areas == 1
    across = graph.edge_area == 1
    assert across.any()
    assert set(graph.edge_osm_id[across].tolist()) == {100}
    # the outline is gone: every side can be walked straight, so no arc of it stays
    assert not ((graph.edge_osm_id == 100) & ~across).any()
    # west to east: straight over the square, 100 m, not round it (150 m)
    length, nodes, edges = _path(graph, _node(graph, 8), _node(graph, 6))
    assert length == pytest.approx(100.0, rel=1e-3)
    assert all(graph.edge_area[e] == 1 for e in edges)
    # north to east: the diagonal
    length, _, _ = _path(graph, _node(graph, 7), _node(graph, 6))
    assert length == pytest.approx(50 * math.sqrt(2), rel=1e-3)
    # the links carry the square's name and class, and directions say "across"
    names = {graph.string(int(i)) for i in graph.edge_name[across]}
    assert names == {"Place Test"}
    assert {graph.string(int(i)) for i in graph.edge_highway[across]} == {"pedestrian"}
    steps = directions(graph, nodes, edges)
    assert [s.instruction.split(",")[0] for s in steps] == ["head east across Place Test"]


def test_unnamed_square_directions() -> None:
    graph = _square_graph()
    _, nodes, edges = _path(graph, _node(graph, 8), _node(graph, 6))
    steps = directions(graph, nodes, edges)
    assert steps[0].instruction == "head east across the pedestrian area, 100 m"


def test_links_stay_inside_an_l_shaped_area() -> None:
    """An L: the corner notch blocks the straight line, so the outline arc round it stays."""
    points = {
        1: (0, 0), 2: (100, 0), 3: (100, 40), 4: (40, 40), 5: (40, 100), 6: (0, 100),
        7: (70, 0), 8: (0, 70), 9: (20, 100), 10: (100, 20),
        17: (70, -50), 18: (-50, 70), 19: (20, 150), 20: (150, 20),
        31: (-50, -50), 32: (150, -50), 33: (150, 150), 34: (-50, 150),
    }  # fmt: skip
    ways = _ways(
        points,
        (100, [1, 7, 2, 10, 3, 4, 5, 9, 6, 8, 1], SQUARE),
        (1, [7, 17], FOOT),
        (2, [8, 18], FOOT),
        (3, [9, 19], FOOT),
        (4, [10, 20], FOOT),
        (5, [31, 17, 32, 20, 33, 19, 34, 18, 31], {"highway": "residential"}),
    )
    graph = graph_from_ways(OsmWays(ways, "test:L", None))
    shape = shapely.Polygon([points[r] for r in (1, 2, 3, 4, 5, 6)]).buffer(1e-6)
    lat, lon = graph.geom_lat, graph.geom_lon
    x = (lon - LON0) / M_LON
    y = (lat - LAT0) / M_LAT
    for edge in np.flatnonzero(graph.edge_area > 0):
        lo, hi = graph.geom_offset[edge], graph.geom_offset[edge + 1]
        line = shapely.LineString(np.column_stack([x[lo:hi], y[lo:hi]]))
        assert shape.covers(line), f"link {edge} leaves the area"
    # 9 (top of the upright) and 10 (end of the arm) do not see each other straight
    length, _, _ = _path(graph, _node(graph, 9), _node(graph, 10))
    assert length > math.hypot(80, 80) * 1.05
    assert length < 200.0  # but are joined through the corner of the L


def test_multipolygon_hole_is_walked_round() -> None:
    """A square with a building in the middle, mapped as a multipolygon relation."""
    pts = dict(SQUARE_POINTS)
    hole = {41: (35, 35), 42: (65, 35), 43: (65, 65), 44: (35, 65)}
    outer = tuple((r, *_at(*pts[r])) for r in (1, 5, 2, 6, 3, 7, 4, 8, 1))
    inner = tuple((r, *_at(*hole[r])) for r in (41, 42, 43, 44, 41))
    ways = _ways(
        pts,
        (1, [5, 15], FOOT),
        (2, [6, 16], FOOT),
        (3, [7, 17], FOOT),
        (4, [8, 18], FOOT),
        (5, [21, 15, 22, 16, 23, 17, 24, 18, 21], {"highway": "residential"}),
    )
    area = AreaRecord(7, {"type": "multipolygon", "highway": "pedestrian"}, (outer,), (inner,))
    graph = graph_from_ways(OsmWays(ways, "test:hole", None, (area,)))
    assert graph.pedestrian_areas == 1
    assert set(graph.edge_area[graph.edge_area > 0].tolist()) == {2}
    length, _, edges = _path(graph, _node(graph, 8), _node(graph, 6))
    assert length > 100.5  # not through the building
    assert length == pytest.approx(2 * 50 * math.sqrt(2), rel=1e-3)  # round it by the sides
    assert all(graph.edge_area[e] == 2 for e in edges)


def test_area_met_at_one_point_loses_its_outline() -> None:
    pts = {1: (0, 0), 2: (50, 0), 3: (50, 50), 4: (0, 50), 5: (-40, 0), 6: (-40, 50)}
    ways = _ways(
        pts,
        (100, [1, 2, 3, 4, 1], SQUARE),
        (1, [5, 1], FOOT),
        (2, [5, 6, 4], FOOT),  # touches the square at 4 only... and 1 via way 1
    )
    graph = graph_from_ways(OsmWays(ways, "test:one", None))
    # met at 1 and 4: the 50 m side is linked, the 150 m rest of the outline is gone
    assert not ((graph.edge_osm_id == 100) & (graph.edge_area == 0)).any()
    assert float(graph.edge_length_m[graph.edge_osm_id == 100].sum()) == pytest.approx(50, 1e-3)
    lone = _ways(pts, (100, [1, 2, 3, 4, 1], SQUARE), (1, [5, 1], FOOT), (2, [5, 6, 1], FOOT))
    graph = graph_from_ways(OsmWays(lone, "test:lone", None))
    assert 100 not in graph.edge_osm_id.tolist()  # a dead-end loop round the square: gone
    assert graph.pedestrian_areas == 0


def test_way_ending_inside_a_square_is_linked() -> None:
    pts = {**SQUARE_POINTS, 50: (50, 50)}  # a footway from the north ends mid-square
    ways = _ways(
        pts,
        (100, [1, 5, 2, 6, 3, 7, 4, 8, 1], SQUARE),
        (1, [5, 15], FOOT),
        (2, [6, 16], FOOT),
        (3, [50, 17], FOOT),
        (4, [8, 18], FOOT),
        (5, [21, 15, 22, 16, 23, 17, 24, 18, 21], {"highway": "residential"}),
    )
    graph = graph_from_ways(OsmWays(ways, "test:inside", None))
    length, _, _ = _path(graph, _node(graph, 50), _node(graph, 8))
    assert length == pytest.approx(50.0, rel=1e-3)


def test_join_rings() -> None:
    a = [(1, 0.0, 0.0), (2, 0.0, 1.0), (3, 1.0, 1.0)]
    b = [(1, 0.0, 0.0), (4, 1.0, 0.0), (3, 1.0, 1.0)]  # runs the other way round
    closed = [(5, 2.0, 2.0), (6, 2.0, 3.0), (7, 3.0, 3.0), (5, 2.0, 2.0)]
    rings = join_rings([a, b, closed, [(8, 5.0, 5.0), (9, 5.0, 6.0)]])
    assert sorted(len(r) for r in rings) == [4, 5]
    five = next(r for r in rings if len(r) == 5)
    assert five[0][0] == five[-1][0]
    assert {p[0] for p in five} == {1, 2, 3, 4}


@pytest.fixture(scope="module")
def paris_graph() -> WalkGraph:
    """The Paris extract's graph (© OpenStreetMap contributors, ODbL)."""
    return graph_from_ways(read_extract(PARIS_OSM))


def test_paris_square_is_crossed(paris_graph: WalkGraph, tmp_path: Path) -> None:
    graph = paris_graph
    mine = graph.edge_osm_id == PARIS_SQUARE
    assert mine.any()
    assert bool(np.all(graph.edge_area[mine] == 1))  # only links: its outline is gone
    assert float(graph.edge_length_m[mine].sum()) < 20.0  # was 593 m round it
    assert graph.pedestrian_areas == 5
    # the two footways that meet it are joined straight across
    ends = np.unique(np.concatenate([graph.edge_u[mine], graph.edge_v[mine]]))
    length, _, edges = _path(graph, int(ends[0]), int(ends[-1]))
    assert length < 15.0
    assert all(graph.edge_osm_id[e] == PARIS_SQUARE for e in edges)
    # the cache keeps the links
    save_graph(graph, tmp_path / "g.npz")
    again = load_cached_graph(tmp_path / "g.npz")
    assert again is not None
    assert np.array_equal(again.edge_area, graph.edge_area)
    assert again.pedestrian_areas == graph.pedestrian_areas


def test_paris_walks_do_not_go_round_the_square() -> None:
    """The issue's walk went "turn right along the pedestrian, 580 m" round the square."""
    for km in (3.0, 6.0):
        result = generate_walks(None, [], osm_file=PARIS_OSM, km=km, seed=0, no_terrain=True)
        graph = result.area_stops.loaded.graph
        walk = result.walks[0]
        used = [e for leg in walk.legs for e in leg.edges]
        outline = [
            e for e in used if graph.edge_osm_id[e] == PARIS_SQUARE and graph.edge_area[e] == 0
        ]
        assert outline == []
        square_steps = [
            s
            for leg in walk.legs
            for s in leg.steps
            if s.highway == "pedestrian" and s.length_m > 500
        ]
        assert square_steps == []


def test_munich_links_stay_inside_their_areas() -> None:
    osm = read_extract(MUNICH_PBF)
    assert len(osm.areas) >= 20
    names = {a.tags.get("name") for a in osm.areas}
    assert {"Marienplatz", "Karlsplatz", "Frauenplatz"} <= names
    graph = graph_from_ways(osm)
    assert graph.pedestrian_areas >= 60
    lat0 = float(np.mean(graph.node_lat))
    shapes: dict[tuple[int, int], shapely.Geometry] = {}
    for way in osm.ways:
        if way.tags.get("area") == "yes" and not np.isnan(way.lats).any():
            x, y = local_xy(np.array(way.lats), np.array(way.lons), lat0=lat0)
            shapes[1, way.osm_id] = shapely.Polygon(np.column_stack([x, y])).buffer(0.01)
    for area in osm.areas:
        polys = []
        for ring in area.outer:
            x, y = local_xy(
                np.array([p[1] for p in ring]), np.array([p[2] for p in ring]), lat0=lat0
            )
            polys.append(shapely.Polygon(np.column_stack([x, y])))
        holes = []
        for ring in area.inner:
            x, y = local_xy(
                np.array([p[1] for p in ring]), np.array([p[2] for p in ring]), lat0=lat0
            )
            holes.append(shapely.Polygon(np.column_stack([x, y])))
        shape = shapely.unary_union(polys)
        if holes:
            shape = shape.difference(shapely.unary_union(holes))
        shapes[2, area.osm_id] = shape.buffer(0.01)
    links = np.flatnonzero(graph.edge_area > 0)
    assert links.size > 100
    x, y = local_xy(graph.geom_lat, graph.geom_lon, lat0=lat0)
    outside = 0
    for edge in links.tolist():
        lo = graph.geom_offset[edge]
        line = shapely.LineString([(x[lo], y[lo]), (x[lo + 1], y[lo + 1])])
        key = (int(graph.edge_area[edge]), int(graph.edge_osm_id[edge]))
        outside += not shapes[key].covers(line)
    assert outside == 0


def test_crossings_are_reproducible_and_cached_checked(tmp_path: Path) -> None:
    osm = read_extract(MUNICH_PBF)
    first, second = graph_from_ways(osm), graph_from_ways(osm)
    for name in WalkGraph.ARRAY_FIELDS:
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    broken = WalkGraph(
        **{
            **{n: getattr(first, n) for n in WalkGraph.ARRAY_FIELDS},
            "edge_area": np.full(first.n_edges, 5, dtype=np.int8),
        },
        strings=first.strings,
        meta=first.meta,
    )
    save_graph(broken, tmp_path / "g.npz")
    assert load_cached_graph(tmp_path / "g.npz") is None  # an unknown area kind: rebuilt
