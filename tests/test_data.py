"""Reading OSM extracts: formats, clipped ways, dates and damaged files."""

from __future__ import annotations

import bz2
import math
import shutil
from pathlib import Path

import pytest

from walks.data import is_walkable, read_extract
from walks.errors import DataError
from walks.overpass import ways_from_overpass_json


def test_paris_xml_ways_and_date(paris_osm: Path) -> None:
    osm = read_extract(paris_osm)
    highways = {w.tags["highway"] for w in osm.ways}
    assert {"footway", "steps", "pedestrian", "residential", "primary"} <= highways
    assert 150 < len(osm.ways) <= 179  # 179 highway ways, minus the unwalkable ones
    assert osm.data_date is not None
    assert osm.data_date.isoformat() == "2021-07-07T10:22:44+00:00"
    assert osm.source == f"file:{paris_osm.resolve()}"
    assert all(is_walkable(w.tags) for w in osm.ways)


def test_bz2_reads_like_plain_xml(paris_osm: Path, tmp_path: Path) -> None:
    packed = tmp_path / "paris.osm.bz2"
    packed.write_bytes(bz2.compress(paris_osm.read_bytes()))
    plain, compressed = read_extract(paris_osm), read_extract(packed)
    assert [w.osm_id for w in plain.ways] == [w.osm_id for w in compressed.ways]
    assert plain.ways[0].lats == compressed.ways[0].lats


def test_clipped_pbf_keeps_ways_with_missing_nodes(helsinki_pbf: Path) -> None:
    osm = read_extract(helsinki_pbf)
    clipped = [w for w in osm.ways if any(math.isnan(x) for x in w.lats)]
    assert len(osm.ways) > 2000
    assert clipped, "the Helsinki extract is clipped: some ways must reference absent nodes"
    assert all(len(w.refs) == len(w.lats) == len(w.lons) for w in osm.ways)


def test_osmnx_fails_where_we_do_not(helsinki_pbf: Path, tmp_path: Path) -> None:
    """The reason this module exists: osmnx cannot load the clipped extract."""
    import osmium
    import osmnx as ox

    xml = tmp_path / "helsinki.osm"
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(helsinki_pbf)):
            writer.add(obj)
    with pytest.raises(Exception, match="missing nodes"):
        ox.graph_from_xml(xml, retain_all=True)
    assert len(read_extract(xml).ways) == len(read_extract(helsinki_pbf).ways)


@pytest.mark.parametrize(
    ("tags", "walkable"),
    [
        ({"highway": "footway"}, True),
        ({"highway": "residential"}, True),
        ({"highway": "steps"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "primary", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "private", "foot": "yes"}, True),
        ({"highway": "cycleway"}, False),
        ({"highway": "cycleway", "foot": "designated"}, True),
        ({"highway": "construction"}, False),
        ({"building": "yes"}, False),
        ({"highway": "trunk", "motorroad": "yes"}, False),
    ],
)
def test_is_walkable(tags: dict[str, str], walkable: bool) -> None:
    assert is_walkable(tags) is walkable


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.osm"
    with pytest.raises(DataError, match=r"'.*nope\.osm' does not exist"):
        read_extract(path)


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "map.geojson"
    path.write_text("{}")
    with pytest.raises(DataError, match=r"give a \.osm, \.osm\.gz, \.osm\.bz2 or \.osm\.pbf file"):
        read_extract(path)


def test_truncated_xml(paris_osm: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.osm"
    cut.write_bytes(paris_osm.read_bytes()[:200_000])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_extract(cut)


def test_truncated_pbf(helsinki_pbf: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(helsinki_pbf.read_bytes()[:300_000])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_extract(cut)


def test_garbage_pbf(tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"this is not a protocol buffer at all" * 10)
    with pytest.raises(DataError, match=r"bad\.osm\.pbf"):
        read_extract(bad)


def test_corrupt_bz2(paris_osm: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm.bz2"
    data = bytearray(bz2.compress(paris_osm.read_bytes()))
    data[5000:5100] = b"\x00" * 100
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_extract(bad)


def test_directory_is_not_an_extract(tmp_path: Path) -> None:
    folder = tmp_path / "dir.osm"
    folder.mkdir()
    with pytest.raises(DataError, match=r"dir\.osm' is a directory: give the extract file inside"):
        read_extract(folder)


def test_copy_elsewhere_has_own_source(paris_osm: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.osm"
    shutil.copyfile(paris_osm, copy)
    assert read_extract(copy).source.endswith("copy.osm")


def test_overpass_json_marks_absent_nodes() -> None:
    reply = {
        "osm3s": {"timestamp_osm_base": "2024-01-02T03:04:05Z"},
        "elements": [
            {"type": "node", "id": 1, "lat": 48.0, "lon": 2.0},
            {"type": "node", "id": 2, "lat": 48.001, "lon": 2.0},
            {"type": "way", "id": 10, "nodes": [1, 2, 3], "tags": {"highway": "footway"}},
            {"type": "way", "id": 11, "nodes": [1, 2], "tags": {"highway": "motorway"}},
        ],
    }
    osm = ways_from_overpass_json([reply], source="overpass:test")
    assert [w.osm_id for w in osm.ways] == [10]
    assert math.isnan(osm.ways[0].lats[2])
    assert osm.data_date is not None
    assert osm.data_date.year == 2024
