"""The region store: an area opened from the store equals the same area read from the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from walks.area import area_from_bbox
from walks.data import read_extract, read_features
from walks.graph import graph_from_ways
from walks.store import (
    import_extract,
    list_stores,
    load_features,
    load_ways,
    remove_stores,
    store_info,
)

BOX = (2.345, 48.877, 2.352, 48.881)


def test_store_gives_the_file_graph_and_features(paris_osm: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    info = import_extract(paris_osm, cache)
    assert info.current
    assert info.ways > 100
    assert info.buildings > 100
    area = area_from_bbox(*BOX)
    from_store = graph_from_ways(load_ways(paris_osm, area, cache), clip=area)
    from_file = graph_from_ways(read_extract(paris_osm), clip=area)
    assert from_store.node_osm_id.tolist() == from_file.node_osm_id.tolist()
    assert from_store.walkable_km == pytest.approx(from_file.walkable_km, rel=1e-12)
    assert from_store.meta.data_date == from_file.meta.data_date

    def cafe(tags: dict[str, str]) -> bool:
        return tags.get("amenity") == "cafe"

    west, south, east, north = BOX
    inside = {
        f.osm_id
        for f in read_features(paris_osm, cafe).features
        if west <= f.lon <= east and south <= f.lat <= north
    }
    stored = {f.osm_id for f in load_features(paris_osm, area, cafe, cache).features}
    assert inside
    assert inside <= stored


def test_changed_file_makes_the_store_stale(paris_osm: Path, tmp_path: Path) -> None:
    copy = tmp_path / "map.osm"
    copy.write_bytes(paris_osm.read_bytes())
    cache = tmp_path / "cache"
    import_extract(copy, cache)
    assert store_info(copy, cache).current  # type: ignore[union-attr]
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert not store_info(copy, cache).current  # type: ignore[union-attr]
    assert [source for _, source, _ in list_stores(cache)] == [str(copy.resolve())]
    assert remove_stores(cache) == 1
    assert store_info(copy, cache) is None
