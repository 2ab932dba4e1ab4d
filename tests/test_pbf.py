"""walks.pbf reads a PBF file's nodes and ways as osmium does; the store built from it is the same."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest
from conftest import SHARED
from osmium.osm import mutable

from walks import store
from walks.data import read_extract, read_features
from walks.errors import DataError
from walks.pbf import NodeBlock, UnsupportedPbfError, blocks, varints
from walks.store import import_extract, load_ways

DATA = SHARED / "data"
EXTRACTS = {
    "munich": DATA / "osm-munich-altstadt-2020" / "munchen.osm.pbf",
    "paris": DATA / "osm-paris-gare-du-nord-2021" / "map.osm",
    "tokyo": DATA / "osm-tokyo-kanda" / "map_tokyo_8.osm",
    "providence": DATA / "osm-providence-college-hill" / "map2.osm",
    "andorra": DATA / "osm-andorra-2013" / "andorra.osm.pbf",
    "krems": DATA / "osm-krems" / "krems.osm.gz",
    "new-york": DATA / "osm-new-york-fidi" / "map3.osm",
    "sydney": DATA / "osm-sydney-glebe" / "map_glebe.osm",
}

Objects = tuple[list[Any], list[Any], list[Any]]


def _objects(source: Path) -> Objects:
    """Read an extract into plain, sorted lists (as a region extract is sorted)."""
    nodes, ways, relations = [], [], []
    for obj in osmium.FileProcessor(str(source)):
        tags = {t.k: t.v for t in obj.tags}
        stamp = obj.timestamp
        if obj.is_node():
            loc = obj.location
            nodes.append((obj.id, (loc.lon, loc.lat) if loc.valid() else None, tags, stamp))
        elif obj.is_way():
            ways.append((obj.id, [n.ref for n in obj.nodes], tags, stamp))
        else:
            members = [(m.type, m.ref, m.role) for m in obj.members]
            relations.append((obj.id, members, tags, stamp))
    return sorted(nodes), sorted(ways), sorted(relations)


def _write(objects: Objects, target: Path, options: str = "", *, dated: bool = True) -> Path:
    """Write objects as a sorted PBF file, dated in its header (as Geofabrik's are) or not."""
    header = osmium.io.Header()
    header.set("sorting", "Type_then_ID")
    if dated:
        header.set("osmosis_replication_timestamp", "2024-05-01T00:00:00Z")
    writer = osmium.SimpleWriter(osmium.io.File(str(target), "pbf" + options), header=header)
    try:
        for node_id, location, tags, *stamp in objects[0]:
            place = location if location is not None else osmium.osm.Location()
            writer.add_node(mutable.Node(id=node_id, location=place, tags=tags, version=1,
                                         timestamp=stamp[0] if stamp else None))  # fmt: skip
        for way_id, refs, tags, *stamp in objects[1]:
            writer.add_way(mutable.Way(id=way_id, nodes=refs, tags=tags, version=1,
                                       timestamp=stamp[0] if stamp else None))  # fmt: skip
        for rel_id, members, tags, *stamp in objects[2]:
            writer.add_relation(mutable.Relation(id=rel_id, members=members, tags=tags,
                                                 version=1, timestamp=stamp[0] if stamp else None))  # fmt: skip
    finally:
        writer.close()
    return target


@pytest.fixture(scope="module")
def sorted_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every shared extract as a sorted, dated PBF file."""
    folder = tmp_path_factory.mktemp("sorted")
    return {
        name: _write(_objects(path), folder / f"{name}.osm.pbf") for name, path in EXTRACTS.items()
    }


def _osmium_view(path: Path) -> tuple[list[Any], list[Any]]:
    """Nodes (id, x, y, tags) and ways (id, refs, tags) as osmium reads them."""
    nodes, ways = [], []
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
        tags = [(t.k, t.v) for t in obj.tags]
        if obj.is_node():
            nodes.append((obj.id, obj.location.x, obj.location.y, tags))
        else:
            ways.append((obj.id, [n.ref for n in obj.nodes], tags))
    return nodes, ways


def _array_view(path: Path) -> tuple[list[Any], list[Any]]:
    """The same, from walks.pbf's arrays."""
    nodes, ways = [], []
    for block in blocks(path):
        s, keys, values = block.strings, block.keys.tolist(), block.values.tolist()
        offsets = block.tag_offsets.tolist()
        tags = [
            [(s[keys[k]], s[values[k]]) for k in range(a, b)]
            for a, b in itertools.pairwise(offsets)
        ]
        if isinstance(block, NodeBlock):
            nodes += zip(block.ids.tolist(), block.lons.tolist(), block.lats.tolist(), tags,
                         strict=True)  # fmt: skip
        else:
            refs, at = block.refs.tolist(), block.ref_offsets.tolist()
            ways += [(i, refs[a:b], t) for i, a, b, t in
                     zip(block.ids.tolist(), at, at[1:], tags, strict=False)]  # fmt: skip
    return [tuple(n) for n in nodes], ways


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_arrays_read_what_osmium_reads(name: str, sorted_copies: dict[str, Path]) -> None:
    """Every node's id, coordinates (osmium's integers) and tags; every way's references."""
    nodes, ways = _array_view(sorted_copies[name])
    want_nodes, want_ways = _osmium_view(sorted_copies[name])
    assert len(nodes) > 1000
    assert nodes == want_nodes
    assert ways == want_ways


def _read_by_osmium_alone(caplog: pytest.LogCaptureFixture) -> bool:
    return "read by osmium alone" in caplog.text


@pytest.mark.parametrize("name", ["munich", "paris", "tokyo", "andorra", "munich-as-shipped"])
def test_store_from_arrays_equals_the_file(
    name: str, sorted_copies: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The store built with the arrays gives the ways, features and buildings of the file.

    The shipped Munich file is dated but does not say it is sorted: the arrays check the order.
    """
    extract = EXTRACTS["munich"] if name == "munich-as-shipped" else sorted_copies[name]
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(extract, tmp_path / "cache")
    assert not _read_by_osmium_alone(caplog)  # the array reader was used
    osm = read_extract(extract)
    stored = load_ways(extract, None, tmp_path / "cache")
    assert stored.areas == osm.areas
    assert [(w.osm_id, w.refs, w.tags) for w in stored.ways] == [
        (w.osm_id, w.refs, w.tags) for w in osm.ways
    ]
    for a, b in zip(stored.ways, osm.ways, strict=True):
        np.testing.assert_array_equal(a.lats, b.lats)
        np.testing.assert_array_equal(a.lons, b.lons)
    everything = read_features(extract, bool)
    found = store.load_features(extract, None, bool, tmp_path / "cache")
    assert found.features == everything.features
    assert found.buildings == everything.buildings
    assert found.landcover == everything.landcover


def _hostile(target: Path, options: str = "") -> Path:
    """A small sorted file with text the store's separators, JSON and osmium must survive."""
    nodes = [
        (1, (11.5, 48.1), {"name": "a\x1eb", "amenity": "cafe"}),  # a separator in a value
        (2, (11.5001, 48.1001), {"{json": "x", "shop": "art"}),  # text starting with "{"
        (3, (0.0, 48.1002), {"amenity": "cafe", "note": "\u202eRTL\u202c" + "é" * 300}),
        (4, (11.5003, 48.1003), {}),
        (5, (11.5004, 48.1004), {"amenity": "", "": "empty key"}),
        (6, (-0.0000001, -33.5), {"amenity": "bench"}),
        (7, (11.5006, 48.1006), {}),
    ]
    ways = [
        (10, [1, 4, 7], {"highway": "footway", "name": "x\x1fy"}),
        (11, [4, 99, 7], {"highway": "residential"}),  # node 99 is missing from the file
        (12, [7], {"highway": "path"}),  # a way of one node
        (13, [1, 2], {"railway": "tram", "highway": "pedestrian"}),
        (14, [], {"highway": "footway"}),  # a way of no node
        (15, [2, 4], {"railway": "rail"}),
    ]
    return _write((nodes, ways, []), target, options)


def test_hostile_text_and_shapes_from_arrays_equal_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extract = _hostile(tmp_path / "hostile.osm.pbf")
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(extract, tmp_path / "cache")
    assert not _read_by_osmium_alone(caplog)
    osm = read_extract(extract)
    stored = load_ways(extract, None, tmp_path / "cache")
    assert [(w.osm_id, w.refs, w.tags) for w in stored.ways] == [
        (w.osm_id, w.refs, w.tags) for w in osm.ways
    ]
    assert {w.tags.get("name") for w in stored.ways} >= {"x\x1fy"}
    for a, b in zip(stored.ways, osm.ways, strict=True):
        np.testing.assert_array_equal(a.lats, b.lats)  # NaN where a node is missing
    everything = read_features(extract, bool)
    found = store.load_features(extract, None, bool, tmp_path / "cache")
    assert found.features == everything.features
    assert found.landcover == everything.landcover
    assert {f.tags.get("name") for f in found.features} >= {"a\x1eb"}


def test_a_file_the_arrays_do_not_decode_is_read_by_osmium(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Plain (not dense) nodes: osmium alone reads the file, and the store is the same."""
    extract = _hostile(tmp_path / "plain.osm.pbf", ",pbf_dense_nodes=false")
    with pytest.raises(UnsupportedPbfError, match="dense"):
        list(blocks(extract))
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(extract, tmp_path / "cache")
    assert _read_by_osmium_alone(caplog)
    found = store.load_features(extract, None, bool, tmp_path / "cache")
    assert found.features == read_features(extract, bool).features


def test_a_truncated_file_is_a_data_error(sorted_copies: dict[str, Path], tmp_path: Path) -> None:
    whole = sorted_copies["munich"].read_bytes()
    for cut in (len(whole) // 3, len(whole) - 7):
        extract = tmp_path / f"cut-{cut}.osm.pbf"
        extract.write_bytes(whole[:cut])
        with pytest.raises(UnsupportedPbfError):
            list(blocks(extract))
        with pytest.raises(DataError):
            import_extract(extract, tmp_path / "cache")
        assert not list((tmp_path / "cache" / "stores").glob("*.sqlite"))


def _encode(value: int) -> bytes:
    """A protocol-buffer varint, written the plain way."""
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def test_varints_decode_every_length() -> None:
    numbers = [0, 1, 127, 128, 300, 2**21 - 1, 2**21, 2**35 + 5, 2**63, 2**64 - 1, 5]
    assert varints(b"".join(map(_encode, numbers))).tolist() == numbers
    assert varints(bytes(range(100))).tolist() == list(range(100))  # one byte each
    with pytest.raises(UnsupportedPbfError):
        varints(b"\x96")  # ends inside a varint
    with pytest.raises(UnsupportedPbfError):
        varints(b"\xff" * 10 + b"\x01")  # eleven bytes


def test_a_node_after_the_ways_is_found_by_either_reader(tmp_path: Path) -> None:
    """A file that says it is sorted but has a street's node after the ways is read whole."""
    for options in ("", ",pbf_dense_nodes=false"):  # the arrays, or osmium alone
        extract = tmp_path / f"late{len(options)}.osm.pbf"
        header = osmium.io.Header()
        header.set("sorting", "Type_then_ID")
        header.set("osmosis_replication_timestamp", "2024-05-01T00:00:00Z")
        writer = osmium.SimpleWriter(osmium.io.File(str(extract), "pbf" + options), header=header)
        writer.add_node(mutable.Node(id=1, location=(11.5, 48.1), tags={}, version=1))
        writer.add_node(mutable.Node(id=2, location=(11.501, 48.1), tags={}, version=1))
        writer.add_way(mutable.Way(id=10, nodes=[1, 2, 3], tags={"highway": "footway"}, version=1))
        writer.add_node(mutable.Node(id=3, location=(11.502, 48.1), tags={}, version=1))
        writer.close()
        import_extract(extract, tmp_path / "cache")
        (way,) = load_ways(extract, None, tmp_path / "cache").ways
        assert way.lons == (11.5, 11.501, 11.502)  # the late node's place, as the file gives it
        assert way.lons == read_extract(extract).ways[0].lons


@pytest.mark.parametrize("name", ["paris", "krems"])
def test_an_undated_file_gets_the_newest_object_date_from_the_arrays(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No date in the header: the newest node, way or relation timestamp, as the file gives."""
    extract = _write(_objects(EXTRACTS[name]), tmp_path / "undated.osm.pbf", dated=False)
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(extract, tmp_path / "cache")
    assert not _read_by_osmium_alone(caplog)
    stored = load_ways(extract, None, tmp_path / "cache")
    osm = read_extract(extract)
    assert osm.data_date is not None
    assert stored.data_date == osm.data_date
    assert len(stored.ways) == len(osm.ways)
