"""One answer from every source: an area from the region store, from its file, from Overpass.

The store and the file must agree exactly (same graph arrays, same stops). The (stand-in)
Overpass agrees with them too (test_online.py compares its graphs edge by edge, multipolygon
squares included).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osm_services import FakeOsmServices
from test_store import MUNICH, same_graph

from walks.api import AreaStops, stops_in_area
from walks.area import area_from_bbox
from walks.data import read_features
from walks.store import import_extract

#: A Paris area whose one pedestrian area is an ``area=yes`` way Overpass gives too.
PARIS_CLEAN = (2.344, 48.878, 2.349, 48.881)
#: The Paris area of test_online.py, with squares cut by its outline.
PARIS_SQUARES = (2.345, 48.877, 2.352, 48.881)
#: Munich's old town: pedestrian zones and squares mapped as multipolygons.
MUNICH_OLD_TOWN = (11.562, 48.133, 11.578, 48.142)


def _from_file_and_store(
    osm_file: Path, box: tuple[float, float, float, float], kinds: list[str], tmp_path: Path
) -> tuple[AreaStops, AreaStops]:
    area = area_from_bbox(*box)
    from_file = stops_in_area(
        area, kinds, osm_file=osm_file, cache_dir=tmp_path / "file", no_terrain=True
    )
    import_extract(osm_file, tmp_path / "store")
    from_store = stops_in_area(
        area, kinds, osm_file=osm_file, cache_dir=tmp_path / "store", no_terrain=True
    )
    assert not from_store.loaded.from_cache
    return from_file, from_store


def _key(found: AreaStops) -> list[tuple[str, str, str, int]]:
    """The stops as (OSM id, category, name, OSM id of the junction they are reached from)."""
    ids = found.loaded.graph.node_osm_id
    return sorted((s.osm_id, s.category, s.name, int(ids[s.node])) for s in found.stops)


def test_store_file_and_overpass_give_one_answer(
    osm_services: FakeOsmServices, paris_osm: Path, tmp_path: Path
) -> None:
    from_file, from_store = _from_file_and_store(paris_osm, PARIS_CLEAN, ["cafe"], tmp_path)
    online = stops_in_area(
        area_from_bbox(*PARIS_CLEAN), ["cafe"], overpass_url=osm_services.url,
        cache_dir=tmp_path / "online", no_terrain=True,
    )  # fmt: skip
    g_file, g_store, g_online = (x.loaded.graph for x in (from_file, from_store, online))
    same_graph(g_store, g_file)
    assert g_file.pedestrian_areas == 1
    assert from_store.stops == from_file.stops
    assert len(from_file.stops) >= 5
    assert (g_online.n_nodes, g_online.n_edges) == (g_file.n_nodes, g_file.n_edges)
    assert sorted(g_online.node_osm_id.tolist()) == sorted(g_file.node_osm_id.tolist())
    assert g_online.walkable_km == pytest.approx(g_file.walkable_km, rel=1e-9)
    assert float(g_online.edge_length_m.sum()) == pytest.approx(
        float(g_file.edge_length_m.sum()), rel=1e-9
    )
    assert _key(online) == _key(from_file)


def test_store_equals_file_where_overpass_differs(
    osm_services: FakeOsmServices, paris_osm: Path, tmp_path: Path
) -> None:
    from_file, from_store = _from_file_and_store(
        paris_osm, PARIS_SQUARES, ["cafe", "studio"], tmp_path
    )
    same_graph(from_store.loaded.graph, from_file.loaded.graph)
    assert from_store.stops == from_file.stops
    online = stops_in_area(
        area_from_bbox(*PARIS_SQUARES), ["cafe", "studio"], overpass_url=osm_services.url,
        cache_dir=tmp_path / "online", no_terrain=True,
    )  # fmt: skip
    # the squares (area=yes rings cut by the area's outline) are crossed online too
    assert _key(online) == _key(from_file)
    assert online.loaded.graph.pedestrian_areas == from_file.loaded.graph.pedestrian_areas == 3


def test_store_equals_file_with_multipolygon_squares(tmp_path: Path) -> None:
    from_file, from_store = _from_file_and_store(
        MUNICH, MUNICH_OLD_TOWN, ["cafe", "studio"], tmp_path
    )
    same_graph(from_store.loaded.graph, from_file.loaded.graph)
    assert from_file.loaded.graph.pedestrian_areas > 10
    assert from_store.stops == from_file.stops
    assert len(from_file.stops) > 20
    np.testing.assert_array_equal(
        sorted(f.osm_id for f in from_store.features.features),
        sorted(f.osm_id for f in from_file.features.features),
    )


#: A small box in Munich's old town, south-west of the Frauenkirche (given as a landmark).
MUNICH_SMALL = (11.5705, 48.1362, 11.5735, 48.1378)
FRAUENKIRCHE = "48.13864,11.57341,99"


def test_store_equals_file_for_view_stops_on_a_small_box(tmp_path: Path) -> None:
    """Both sources give the buildings within the margin: the same sight lines and scores."""
    area = area_from_bbox(*MUNICH_SMALL)
    import_extract(MUNICH, tmp_path / "store")
    from_file, from_store = (
        stops_in_area(
            area,
            ["view"],
            osm_file=MUNICH,
            cache_dir=tmp_path / source,
            no_terrain=True,
            landmark=FRAUENKIRCHE,
        )
        for source in ("file", "store")
    )
    assert not from_store.loaded.from_cache
    assert from_store.features.buildings == from_file.features.buildings
    assert from_store.features.landcover == from_file.features.landcover
    everything = read_features(MUNICH, lambda _tags: False).buildings
    assert 0 < len(from_file.features.buildings) < len(everything)  # cut to the margin
    views = [s for s in from_file.stops if s.category == "view"]
    assert len(views) >= 2
    assert [(s.node, s.score) for s in from_store.stops] == [(s.node, s.score) for s in views]
    assert from_store.stops == from_file.stops
