"""The all-at-once geometry of stops and the base map against one-at-a-time references."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree

from walks import graph as graph_module
from walks.basemap import _encode_many
from walks.categories import load_categories, select_categories
from walks.data import Feature, read_features
from walks.errors import NoWalkError
from walks.graph import WalkGraph, haversine_m, nearest_xy
from walks.stops import DEDUPE_M, _dedupe, _edges_near
from walks.types import LatLon

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MUNICH = SHARED / "osm-munich-altstadt-2020" / "munchen.osm.pbf"


def _random_points(graph: WalkGraph, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    box = graph.bbox
    lats = np.concatenate([rng.uniform(box.south, box.north, count), graph.node_lat])
    lons = np.concatenate([rng.uniform(box.west, box.east, count), graph.node_lon])
    return lats, lons


@pytest.mark.parametrize("brute_force_pairs", [graph_module.BRUTE_FORCE_PAIRS, 0])
def test_nearest_xy_is_what_a_kd_tree_finds(
    helsinki_graph: WalkGraph, monkeypatch: pytest.MonkeyPatch, brute_force_pairs: int
) -> None:
    monkeypatch.setattr(graph_module, "BRUTE_FORCE_PAIRS", brute_force_pairs)
    monkeypatch.setattr(graph_module, "_BLOCK_PAIRS", 50_000)  # several blocks
    lats, lons = _random_points(helsinki_graph, 3000, seed=1)
    nodes = helsinki_graph._project(helsinki_graph.node_lat, helsinki_graph.node_lon)
    queries = helsinki_graph._project(lats, lons)
    found, dist = nearest_xy(nodes, queries)
    tree_dist, tree_found = cKDTree(np.column_stack(nodes)).query(np.column_stack(queries))
    np.testing.assert_array_equal(found, tree_found)
    np.testing.assert_array_equal(dist, tree_dist)
    assert (dist[-helsinki_graph.n_nodes :] == 0).all()  # each node is nearest to itself


def test_nearest_nodes_match_nearest_node(paris_graph: WalkGraph) -> None:
    lats, lons = _random_points(paris_graph, 200, seed=2)
    nodes, dist = paris_graph.nearest_nodes(lats, lons)
    one_by_one = [paris_graph.nearest_node(LatLon(a, b)) for a, b in zip(lats, lons, strict=True)]
    assert nodes.tolist() == [n for n, _ in one_by_one]
    assert dist.tolist() == [d for _, d in one_by_one]
    empty_nodes, empty_dist = paris_graph.nearest_nodes(np.zeros(0), np.zeros(0))
    assert empty_nodes.size == 0
    assert empty_dist.size == 0
    with pytest.raises(NoWalkError, match="not on the globe"):
        paris_graph.nearest_nodes(np.array([48.88, np.nan]), np.array([2.35, 2.35]))


def _dedupe_pair_by_pair(features: list[Feature]) -> list[Feature]:
    """De-duplicate by comparing each object with each place kept so far, one pair at a time."""
    ordered = sorted(features, key=lambda f: (f.osm_type != "node", f.osm_type, f.osm_id))
    kept: list[Feature] = []
    for f in ordered:
        twin = None
        for i, k in enumerate(kept):
            same = f.tags.get("name", "").strip().lower() == k.tags.get("name", "").strip().lower()
            close = float(haversine_m(np.array(f.lat), np.array(f.lon), np.array(k.lat),
                                      np.array(k.lon))) <= DEDUPE_M  # fmt: skip
            inside = f.outline is not None and shapely.Polygon(f.outline).contains(
                shapely.Point(k.lon, k.lat)
            )
            unnamed = not f.tags.get("name") or not k.tags.get("name")
            if (same and close) or (inside and (same or unnamed)):
                twin = i
                break
        if twin is None:
            kept.append(f)
        else:
            kept[twin] = replace(kept[twin], tags={**f.tags, **kept[twin].tags})
    return kept


@pytest.fixture(scope="module")
def munich_features() -> tuple[Feature, ...]:
    """The Munich extract's cafés, galleries and art shops (many mapped twice)."""
    if not MUNICH.is_file():
        pytest.skip(f"{MUNICH} is missing")
    chosen = select_categories(load_categories(), ["cafe", "studio"])
    return read_features(MUNICH, lambda tags: any(c.matches(tags) for c in chosen)).features


@pytest.mark.parametrize(("category", "twins"), [("cafe", True), ("studio", False)])
def test_dedupe_matches_pair_by_pair(
    munich_features: tuple[Feature, ...], category: str, *, twins: bool
) -> None:
    (chosen,) = select_categories(load_categories(), [category])
    features = [f for f in munich_features if chosen.matches(f.tags)]
    kept = _dedupe(features)
    assert kept == _dedupe_pair_by_pair(features)
    assert (len(kept) < len(features)) is twins  # cafés mapped twice are merged


def test_dedupe_merge_gives_a_name_to_later_comparisons() -> None:
    # an unnamed node is kept first; the named outline around it merges into it and gives it
    # its name, so that the node of the same name nearby merges too (one place in the end)
    ring = ((2.0, 48.0), (2.001, 48.0), (2.001, 48.001), (2.0, 48.001), (2.0, 48.0))
    first = Feature("node", 1, {"shop": "art"}, 48.0005, 2.0005)
    named_way = Feature("way", 5, {"shop": "art", "name": "Atelier"}, 48.0005, 2.0005, ring)
    small = ((2.0006, 48.0006), (2.0007, 48.0006), (2.0007, 48.0007), (2.0006, 48.0007),
             (2.0006, 48.0006))  # fmt: skip
    same_name_way = Feature("way", 7, {"shop": "art", "name": "atelier "}, 48.00065, 2.00065,
                            small)  # fmt: skip
    features = [same_name_way, named_way, first]
    kept = _dedupe(features)
    assert kept == _dedupe_pair_by_pair(features)
    assert [(f.osm_type, f.osm_id) for f in kept] == [("node", 1)]
    assert kept[0].tags["name"] == "Atelier"


def _edges_near_one_by_one(graph: WalkGraph, nodes: np.ndarray, lats: np.ndarray,
                           lons: np.ndarray) -> list[int]:  # fmt: skip
    out = []
    for node, lat, lon in zip(nodes, lats, lons, strict=True):
        edges = graph.node_edges(int(node))
        best, best_d = int(edges[0]), np.inf
        for edge in edges:
            coords = graph.edge_coords(int(edge))
            d = float(haversine_m(np.full(len(coords), lat), np.full(len(coords), lon),
                                  coords[:, 0], coords[:, 1]).min())  # fmt: skip
            if d < best_d:
                best, best_d = int(edge), d
        out.append(best)
    return out


def test_edges_near_match_one_by_one(helsinki_graph: WalkGraph) -> None:
    lats, lons = _random_points(helsinki_graph, 500, seed=3)
    nodes, _ = helsinki_graph.nearest_nodes(lats, lons)
    found = _edges_near(helsinki_graph, nodes, lats, lons)
    assert found.tolist() == _edges_near_one_by_one(helsinki_graph, nodes, lats, lons)
    assert _edges_near(helsinki_graph, nodes[:0], lats[:0], lons[:0]).size == 0


def _encode_one(lat: np.ndarray, lon: np.ndarray, origin: tuple[float, float]) -> list[int]:
    y = np.rint((lat - origin[0]) / 1e-5).astype(np.int64)
    x = np.rint((lon - origin[1]) / 1e-5).astype(np.int64)
    out: list[int] = []
    last = (0, 0)
    for i, (a, b) in enumerate(zip(y.tolist(), x.tolist(), strict=True)):
        if i and (a, b) == (int(y[i - 1]), int(x[i - 1])):
            continue
        out += [a - last[0], b - last[1]]
        last = (a, b)
    return out


def test_encode_many_matches_line_by_line() -> None:
    rng = np.random.default_rng(4)
    lines = []
    for size in (1, 2, 5, 40):
        lat = 60.17 + np.cumsum(rng.normal(0, 3e-5, size))
        lon = 24.94 + np.cumsum(rng.normal(0, 3e-5, size))
        lat[size // 2 :] = np.where(rng.random(size - size // 2) < 0.3, lat[size // 2], lat[size // 2 :])  # fmt: skip
        lines.append((lat, lon))
    lines.append((np.full(4, 60.17), np.full(4, 24.94)))  # one point repeated: one point kept
    origin = (60.16, 24.93)
    lat = np.concatenate([a for a, _ in lines])
    lon = np.concatenate([b for _, b in lines])
    which = np.repeat(np.arange(len(lines)), [len(a) for a, _ in lines])
    encoded = _encode_many(lat, lon, which, origin)
    assert encoded == [_encode_one(a, b, origin) for a, b in lines]
    assert encoded[-1] == [1000, 1000]
    assert _encode_many(lat[:0], lon[:0], which[:0], origin) == []
