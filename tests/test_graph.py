"""The walking graph: topology, geometry, attributes, routing arrays and osmnx interoperability."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
from scipy.sparse.csgraph import connected_components, dijkstra

from walks.area import area_from_bbox
from walks.data import OsmWays, WayRecord, read_extract
from walks.errors import DataError
from walks.graph import (
    Pleasantness,
    WalkGraph,
    graph_from_ways,
    haversine_m,
    pleasantness_from_tags,
)
from walks.types import LatLon


def _check_invariants(graph: WalkGraph) -> None:
    n, m = graph.n_nodes, graph.n_edges
    assert n > 1
    assert m > 0
    assert np.all(np.isfinite(graph.node_lat))
    assert np.all(np.isfinite(graph.geom_lat))
    assert len(set(graph.node_osm_id.tolist())) == n
    # every edge's geometry starts at u and ends at v
    first, last = graph.geom_offset[:-1], graph.geom_offset[1:] - 1
    assert np.allclose(graph.geom_lat[first], graph.node_lat[graph.edge_u])
    assert np.allclose(graph.geom_lon[last], graph.node_lon[graph.edge_v])
    # lengths are the haversine sums of the geometry
    for edge in range(0, m, max(1, m // 50)):
        coords = graph.edge_coords(edge)
        expected = haversine_m(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1]).sum()
        assert graph.edge_length_m[edge] == pytest.approx(expected, rel=1e-9)
    assert np.all(graph.edge_length_m > 0)
    # one strongly connected component
    cost, _ = graph.csr()
    count, _ = connected_components(cost, directed=True, connection="strong")
    assert count == 1
    # every node is used by an edge
    used = np.zeros(n, dtype=bool)
    used[graph.edge_u] = used[graph.edge_v] = True
    assert used.all()


def test_paris_graph_invariants(paris_graph: WalkGraph) -> None:
    _check_invariants(paris_graph)
    assert 10 < paris_graph.walkable_km < 30
    assert paris_graph.meta.data_date == "2021-07-07T10:22:44Z"


def test_helsinki_graph_invariants(helsinki_graph: WalkGraph) -> None:
    _check_invariants(helsinki_graph)
    assert helsinki_graph.n_nodes > 2000
    assert helsinki_graph.walkable_km > 50


def test_attributes_come_from_tags(paris_graph: WalkGraph) -> None:
    names = {paris_graph.string(int(i)) for i in paris_graph.edge_name}
    assert "Rue La Fayette" in names
    assert "Rue de Maubeuge" in names
    highways = {paris_graph.string(int(i)) for i in paris_graph.edge_highway}
    assert "steps" in highways
    assert paris_graph.edge_steps.sum() > 0
    classes = set(paris_graph.edge_pleasantness.tolist())
    assert {
        int(Pleasantness.BUSY),
        int(Pleasantness.PEDESTRIAN),
        int(Pleasantness.ORDINARY),
    } <= classes
    fayette = paris_graph.strings.index("Rue La Fayette")
    assert set(paris_graph.edge_pleasantness[paris_graph.edge_name == fayette]) == {
        int(Pleasantness.BUSY)
    }


def test_walkable_km_matches_the_extract(paris_osm, paris_graph: WalkGraph) -> None:
    """No way is lost or counted twice: compare with the raw ways' total length."""
    osm = read_extract(paris_osm)
    total = 0.0
    for way in osm.ways:
        lat, lon = np.array(way.lats), np.array(way.lons)
        total += float(np.nansum(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])))
    # the graph keeps the largest strongly connected part: at most the total, and most of it
    assert paris_graph.walkable_km * 1000 <= total + 1e-6
    assert paris_graph.walkable_km * 1000 > 0.8 * total


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "primary"}, Pleasantness.BUSY),
        ({"highway": "residential", "lanes": "4"}, Pleasantness.BUSY),
        ({"highway": "tertiary", "maxspeed": "40 mph"}, Pleasantness.BUSY),
        ({"highway": "pedestrian"}, Pleasantness.PEDESTRIAN),
        ({"highway": "living_street"}, Pleasantness.PEDESTRIAN),
        ({"highway": "footway"}, Pleasantness.QUIET_LANE),
        ({"highway": "footway", "footway": "sidewalk"}, Pleasantness.ORDINARY),
        ({"highway": "steps"}, Pleasantness.QUIET_LANE),
        ({"highway": "service", "service": "alley"}, Pleasantness.QUIET_LANE),
        ({"highway": "residential", "name": "Villa des Platanes"}, Pleasantness.QUIET_LANE),
        ({"highway": "residential", "name": "Cité Trévise"}, Pleasantness.QUIET_LANE),
        ({"highway": "residential", "name": "Rue Lepic"}, Pleasantness.ORDINARY),
        ({"highway": "residential", "maxspeed": "30"}, Pleasantness.ORDINARY),
    ],
)
def test_pleasantness(tags: dict[str, str], expected: Pleasantness) -> None:
    assert pleasantness_from_tags(tags) is expected


def test_csr_distances_match_osmnx_on_networkx(paris_graph: WalkGraph) -> None:
    graph_nx = paris_graph.to_networkx()
    assert graph_nx.number_of_nodes() == paris_graph.n_nodes
    assert graph_nx.number_of_edges() == paris_graph.n_arcs
    cost, _ = paris_graph.csr()
    rng = np.random.default_rng(1)
    ids = paris_graph.node_osm_id
    for a, b in rng.integers(0, paris_graph.n_nodes, size=(15, 2)):
        ours = dijkstra(cost, indices=int(a))[int(b)]
        path = ox.shortest_path(graph_nx, int(ids[a]), int(ids[b]), weight="length")
        theirs = sum(
            min(d["length"] for d in graph_nx[u][v].values()) for u, v in itertools.pairwise(path)
        )
        assert ours == pytest.approx(theirs, rel=1e-9)


def test_edge_matrix_points_to_the_cheapest_parallel_edge(paris_graph: WalkGraph) -> None:
    cost, edge = paris_graph.csr()
    assert cost.nnz == edge.nnz
    coo = cost.tocoo()
    for a, b, c in zip(coo.row[:200], coo.col[:200], coo.data[:200], strict=True):
        index = int(edge[a, b]) - 1
        assert {int(paris_graph.edge_u[index]), int(paris_graph.edge_v[index])} == {a, b}
        assert paris_graph.edge_length_m[index] == pytest.approx(c)


def test_nearest_node(paris_graph: WalkGraph) -> None:
    i = 17
    node, dist = paris_graph.nearest_node(
        LatLon(float(paris_graph.node_lat[i]), float(paris_graph.node_lon[i]))
    )
    assert node == i
    assert dist < 1e-6
    point = LatLon(48.8791, 2.3332)  # west of the data
    far_node, far = paris_graph.nearest_node(point)
    brute = haversine_m(
        np.full(paris_graph.n_nodes, point.lat),
        np.full(paris_graph.n_nodes, point.lon),
        paris_graph.node_lat,
        paris_graph.node_lon,
    )
    assert far_node == int(np.argmin(brute))
    assert far == pytest.approx(float(brute.min()), rel=1e-3)


def test_clip_to_area(paris_osm) -> None:
    area = area_from_bbox(2.345, 48.877, 2.352, 48.881)
    graph = graph_from_ways(read_extract(paris_osm), clip=area)
    _check_invariants(graph)
    assert graph.meta.area == "2.345,48.877,2.352,48.881"
    assert np.all((graph.node_lon >= 2.345) & (graph.node_lon <= 2.352))
    assert np.all((graph.node_lat >= 48.877) & (graph.node_lat <= 48.881))


def test_clip_outside_data_is_an_error(paris_osm) -> None:
    area = area_from_bbox(2.0, 48.0, 2.01, 48.01)
    with pytest.raises(DataError, match="no walkable ways in '2.0,48.0,2.01,48.01'"):
        graph_from_ways(read_extract(paris_osm), clip=area)


def _way(
    osm_id: int, refs: list[int], coords: dict[int, tuple[float, float]], **tags: str
) -> WayRecord:
    nan = (math.nan, math.nan)
    pts = [coords.get(r, nan) for r in refs]
    return WayRecord(
        osm_id,
        tuple(refs),
        tuple(p[0] for p in pts),
        tuple(p[1] for p in pts),
        {"highway": "footway", **tags},
    )


def test_hand_built_topology() -> None:
    """A T junction, a clipped way, a ring and a one-way footpath, checked by hand."""
    c = {i: (48.0 + 0.001 * (i % 10), 2.0 + 0.001 * (i // 10)) for i in range(1, 60)}
    del c[9]  # node 9 lies outside the "extract"
    ways = (
        _way(1, [1, 2, 3, 4], c),  # 2 is a junction with way 2
        _way(2, [2, 12, 22], c),
        _way(3, [4, 9, 5, 6], c),  # clipped at 9: 4-9 dropped, 5-6 kept but disconnected
        _way(4, [22, 32, 33, 23, 22], c),  # a ring hanging on node 22
        _way(5, [1, 11, 21], c, **{"oneway:foot": "yes"}),
    )
    graph = graph_from_ways(OsmWays(ways, "test", None))
    pairs = {
        (int(graph.node_osm_id[u]), int(graph.node_osm_id[v]))
        for u, v in zip(graph.edge_u, graph.edge_v, strict=True)
    }
    # way 5 is one-way and a dead end: it cannot be in the strongly connected part
    assert pairs == {(1, 2), (2, 4), (2, 22), (22, 33), (33, 22)}
    assert 9 not in graph.node_osm_id
    g = nx.DiGraph(zip(graph.arc_tail.tolist(), graph.arc_head.tolist(), strict=True))
    assert nx.is_strongly_connected(g)


def test_no_walkable_way_is_an_error() -> None:
    c = {1: (48.0, 2.0), 2: (48.001, 2.0)}
    with pytest.raises(DataError, match="no walkable ways"):
        graph_from_ways(OsmWays((), "file:/x/empty.osm", None))
    lonely = (_way(1, [1, 1], c),)
    with pytest.raises(DataError, match="no walkable ways"):
        graph_from_ways(OsmWays(lonely, "file:/x/lonely.osm", None))


def test_node_edges_match_a_full_scan(helsinki_graph: WalkGraph) -> None:
    g = helsinki_graph
    for node in range(g.n_nodes):
        expected = np.flatnonzero((g.edge_u == node) | (g.edge_v == node))
        assert sorted(set(g.node_edges(node).tolist())) == expected.tolist()
