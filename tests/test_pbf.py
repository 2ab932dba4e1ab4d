"""walks.pbf reads a PBF file's nodes and ways as osmium does; the store built from it is the same."""

from __future__ import annotations

import itertools
import logging
import math
import os
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest
from conftest import SHARED
from osmium.osm import mutable
from pbf_bytes import field as _ld
from pbf_bytes import number as _vf
from pbf_bytes import pbf_file as _file
from pbf_bytes import varint as _v
from pbf_bytes import zigzag as _z

from walks import pbf_jit, store, store_areas
from walks.area import area_from_bbox
from walks.data import read_extract, read_features
from walks.errors import DataError
from walks.pbf import NodeBlock, UnsupportedPbfError, blocks, relations, varints
from walks.pbf_write import write_pbf
from walks.store import import_extract, load_ways

REPO = Path(__file__).resolve().parents[1]
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
        (8, [1, 2, 3, 1], {"building": "yes", "name": "b\x1ec", "height": "12 m"}),  # an area
        (9, [2, 3, 5, 2], {"{": "}", "building": "house", "building:levels": "3"}),
        (10, [1, 4, 7], {"highway": "footway", "name": "x\x1fy"}),
        (11, [4, 99, 7], {"highway": "residential"}),  # node 99 is missing from the file
        (12, [7], {"highway": "path"}),  # a way of one node
        (13, [1, 2], {"railway": "tram", "highway": "pedestrian"}),
        (14, [], {"highway": "footway"}),  # a way of no node
        (15, [2, 4], {"railway": "rail"}),
    ]
    return _write((nodes, ways, []), target, options)


#: Import with the numpy decoder, and with its compiled loops where numba is installed.
_JIT = ["0", pytest.param("1", marks=pytest.mark.skipif(not pbf_jit.available(), reason="numba"))]


@pytest.mark.parametrize("jit", _JIT)
def test_hostile_text_and_shapes_from_arrays_equal_the_file(
    jit: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WALKS_JIT", jit)
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
    assert found.buildings == everything.buildings
    assert len(found.buildings) == 2
    assert {f.tags.get("name") for f in found.features} >= {"a\x1eb", "b\x1ec"}
    assert {f.tags.get("{") for f in found.features} >= {"}"}


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
        street = [1, 2] if options else [1, 2, 3]  # with osmium alone: a late node of a tram only
        writer.add_way(mutable.Way(id=10, nodes=street, tags={"highway": "footway"}, version=1))
        writer.add_way(mutable.Way(id=11, nodes=[2, 4], tags={"railway": "tram"}, version=1))
        writer.add_node(mutable.Node(id=3, location=(11.502, 48.1), tags={}, version=1))
        writer.add_node(mutable.Node(id=4, location=(11.503, 48.1), tags={}, version=1))
        writer.close()
        import_extract(extract, tmp_path / "cache")
        (way,) = load_ways(extract, None, tmp_path / "cache").ways
        assert way.lons == read_extract(extract).ways[0].lons  # the late node's place, if any
        assert not any(math.isnan(x) for x in way.lons)
        cover = store.load_features(extract, None, bool, tmp_path / "cache").landcover
        assert cover == read_features(extract, bool).landcover  # the tram line has its end
        assert len(cover) == 1


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


# ----------------------------------------------------------------- random files, both readers

_KEYS = ["highway", "railway", "building", "name", "amenity", "landuse", "area", "shop"]
_VALUES = ["footway", "residential", "rail", "tram", "yes", "no", "cafe", "grass", "", "a\x1eb"]


def _random_objects(rng: np.random.Generator, *, negative: bool) -> Objects:
    """A small random file: tagged and untagged nodes (some off the globe, some at 0°), ways of
    0-6 nodes (some missing, some repeated), negative ids when asked (as JOSM writes)."""
    sign = -1 if negative else 1
    count = int(rng.integers(3, 30))
    ids = sorted({sign * int(i) for i in rng.integers(1, 60, count)})
    nodes = []
    for node_id in ids:
        lon, lat = 11.5 + rng.random() / 100, 48.1 + rng.random() / 100
        pick = rng.random()
        place = (0.0, lat) if pick < 0.05 else None if pick < 0.1 else (lon, lat)
        tagged = rng.random() < (0.0 if negative else 0.4)  # (a tagged one is osmium's to read)
        tags = {str(rng.choice(_KEYS)): str(rng.choice(_VALUES))} if tagged else {}
        nodes.append((node_id, place, tags))
    ways = []
    for way_id in sorted({sign * int(i) for i in rng.integers(1, 40, int(rng.integers(1, 12)))}):
        size = int(rng.integers(0, 7))
        refs = [int(rng.choice([*ids, 99])) for _ in range(size)]
        if size > 3 and rng.random() < 0.5:
            refs.append(refs[0])  # closed
        tags = {
            str(rng.choice(_KEYS)): str(rng.choice(_VALUES)) for _ in range(int(rng.integers(0, 4)))
        }
        if rng.random() < 0.5:  # a street, half the time
            tags = {"highway": str(rng.choice(["footway", "residential", "path"])), **tags}
        ways.append((way_id, refs, tags))
    return nodes, ways, []


@pytest.mark.parametrize("jit", _JIT)
@pytest.mark.parametrize("seed", range(12))
def test_random_files_give_the_file_readers_rows(
    seed: int, jit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrays or osmium alone (plain nodes), the store gives what read_extract/read_features give."""
    monkeypatch.setenv("WALKS_JIT", jit)
    objects = _random_objects(np.random.default_rng(seed), negative=seed % 4 == 0)
    for options in ("", ",pbf_dense_nodes=false"):
        extract = _write(objects, tmp_path / f"r{len(options)}.osm.pbf", options)
        cache = tmp_path / f"cache{len(options)}"
        import_extract(extract, cache)
        stored, osm = load_ways(extract, None, cache), read_extract(extract)
        assert [(w.osm_id, w.refs, w.tags) for w in stored.ways] == [
            (w.osm_id, w.refs, w.tags) for w in osm.ways
        ]
        for a, b in zip(stored.ways, osm.ways, strict=True):
            assert np.asarray(a.lats).tobytes() == np.asarray(b.lats).tobytes()
            assert np.asarray(a.lons).tobytes() == np.asarray(b.lons).tobytes()
        found, everything = (
            store.load_features(extract, None, bool, cache),
            read_features(extract, bool),
        )
        assert found.features == everything.features
        assert found.landcover == everything.landcover
        assert found.buildings == everything.buildings


def test_a_way_of_no_node_last_in_its_block(tmp_path: Path) -> None:
    """It does not cut the way before it short (its box, and a railway's line)."""
    nodes = [(1, (11.5, 48.1), {}), (2, (11.501, 48.1), {}), (3, (11.502, 48.101), {})]
    ways = [(10, [1, 2, 3], {"highway": "footway"}), (11, [1, 2], {"railway": "rail"}),
            (12, [], {"highway": "footway"})]  # fmt: skip
    extract = _write((nodes, ways, []), tmp_path / "tail.osm.pbf")
    import_extract(extract, tmp_path / "cache")
    corner = area_from_bbox(11.5015, 48.1005, 11.5025, 48.1015)  # node 3 only
    assert [w.osm_id for w in load_ways(extract, corner, tmp_path / "cache").ways] == [10]
    cover = store.load_features(extract, None, bool, tmp_path / "cache").landcover
    assert cover == read_features(extract, bool).landcover
    assert len(cover) == 1


# ----------------------------------------------------------------- hand-made hostile bytes


def _block(way_body: bytes, extra: bytes = b"", value: bytes = b"footway") -> bytes:
    strings = _ld(1, _ld(1, b"") + _ld(1, b"highway") + _ld(1, value))
    nodes = _ld(2, _ld(1, _v(2) + _v(2)) + _ld(8, _v(0) + _v(2)) + _ld(9, _v(0) + _v(2)))
    return strings + _ld(2, nodes) + _ld(2, _ld(3, way_body)) + extra


_WAY = _vf(1, 10) + _ld(2, _v(1)) + _ld(3, _v(2))


@pytest.mark.parametrize(
    "name",
    ["good", "refs unpacked", "refs cut in a varint", "many fields", "granularity",
     "bomb", "raw size"],
)  # fmt: skip
def test_hostile_bytes_are_refused_quickly(name: str, tmp_path: Path) -> None:
    """What the arrays do not read exactly as osmium does is refused, in bounded time and memory."""
    refs = _ld(8, _v(2) + _v(2))  # nodes 1, 2
    data = {
        "good": _file(_block(_WAY + refs)),
        "refs unpacked": _file(_block(_WAY + _vf(8, 2))),
        "refs cut in a varint": _file(_block(_WAY + _ld(8, _v(2) + b"\x82") + _vf(1, 11))),
        "many fields": _file(_block(_WAY + refs + _vf(15, 1) * 2000)),
        "granularity": _file(_block(_WAY + refs, _vf(17, (1 << 64) - 5))),
        "bomb": _file(_block(_WAY + refs), raw_size=100,
                      packed=zlib.compress(bytes(64 * 2**20))),
        "raw size": _file(_block(_WAY + refs), raw_size=2**62),
    }[name]  # fmt: skip
    extract = tmp_path / "h.osm.pbf"
    extract.write_bytes(data)
    started = time.process_time()
    if name == "good":
        (_nodes, ways) = list(blocks(extract))
        assert ways.refs.tolist() == [1, 2]
        return
    tracemalloc.start()
    try:
        with pytest.raises(UnsupportedPbfError):
            list(blocks(extract))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # the bomb is not inflated past the size it claims (64 MiB)
    assert time.process_time() - started < 2.0  # the many fields: not one numpy step each
    try:  # osmium decides about the file: the store then equals the file, or it is an error
        import_extract(extract, tmp_path / "cache")
    except DataError:
        return
    assert [w.refs for w in load_ways(extract, None, tmp_path / "cache").ways] == [
        w.refs for w in read_extract(extract).ways
    ]


def test_negative_ids_are_read_as_the_file_reader_reads_them(tmp_path: Path) -> None:
    """JOSM's new objects: the file reader moves them past every OSM id and sorts again."""
    nodes = [(-5, (11.5, 48.1), {}), (-3, (11.51, 48.1), {}), (2, (11.52, 48.11), {})]
    ways = [(-10, [-5, -3, 2], {"highway": "footway"}), (11, [2, -3], {"highway": "path"})]
    extract = _write((nodes, ways, []), tmp_path / "josm.osm.pbf")
    import_extract(extract, tmp_path / "cache")
    stored, osm = load_ways(extract, None, tmp_path / "cache"), read_extract(extract)
    assert [(w.osm_id, w.refs, w.lats) for w in stored.ways] == [
        (w.osm_id, w.refs, w.lats) for w in osm.ways
    ]
    assert all(w.osm_id > 0 for w in stored.ways)


def test_a_plain_coordinate_across_two_pieces_of_the_scan_is_plain(tmp_path: Path) -> None:
    """The XML scan for odd coordinates reads in pieces: a value cut in two is not odd."""
    from walks.data import _SCAN_BYTES, _has_odd_coordinates

    head = b"<?xml version='1.0'?>\n<osm version='0.6'>\n<!-- "
    node = b'<node id="1" version="1" lon="0.0" lat="48.1234567"/>\n'
    cut = node.index(b"48.12") + 3  # the piece ends inside the value
    padding = b"x" * (_SCAN_BYTES - len(head) - 5 - cut)
    xml = tmp_path / "cut.osm"
    xml.write_bytes(head + padding + b" -->\n" + node + b"</osm>\n")
    assert not _has_odd_coordinates(xml)
    odd = tmp_path / "odd.osm"
    odd.write_bytes(
        head + padding + b" -->\n" + node.replace(b"48.1234567", b"4.8e1") + b"</osm>\n"
    )
    assert _has_odd_coordinates(odd)


def test_a_tag_holding_a_nul_is_one_error_not_a_crash(tmp_path: Path) -> None:
    """osmium's C++ side crashes on such a tag (the process ends): the import names it first."""
    import subprocess
    import sys

    refs = _ld(8, _v(2) + _v(2))
    for value, fails in ((b"foot\0way", True), (b"footway", False)):
        extract = tmp_path / f"nul{int(fails)}.osm.pbf"
        extract.write_bytes(_file(_block(_WAY + refs, value=value)))
        done = subprocess.run(
            [sys.executable, "-m", "walks", "import", str(extract), "--cache-dir",
             str(tmp_path / "cache")],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        if not fails:
            assert done.returncode == 0, done.stderr
            continue
        assert done.returncode == 1, done.stderr
        (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
        assert "NUL" in line
        assert "Traceback" not in done.stderr


def test_a_file_compressed_with_lz4_is_read_as_with_zlib(
    sorted_copies: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """osmium reads lz4 blobs: so do the arrays (and the NUL scan before osmium)."""
    zlib_file = sorted_copies["munich"]
    lz4_file = _write(
        _objects(EXTRACTS["munich"]), tmp_path / "lz4.osm.pbf", ",pbf_compression=lz4"
    )
    assert lz4_file.read_bytes() != zlib_file.read_bytes()
    assert [str(b) for b in blocks(lz4_file)] == [str(b) for b in blocks(zlib_file)]
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(lz4_file, tmp_path / "cache")
    assert not _read_by_osmium_alone(caplog)
    stored = load_ways(lz4_file, None, tmp_path / "cache")
    assert [(w.osm_id, w.refs, w.tags) for w in stored.ways] == [
        (w.osm_id, w.refs, w.tags) for w in read_extract(lz4_file).ways
    ]


def test_a_nul_tag_in_an_lz4_block_is_one_error_not_a_crash(tmp_path: Path) -> None:
    """osmium inflates lz4 blobs too: the NUL scan must read them (it once gave up on them)."""
    import subprocess
    import sys

    extract = tmp_path / "nul-lz4.osm.pbf"
    extract.write_bytes(
        _file(_block(_WAY + _ld(8, _v(2) + _v(2)), value=b"foot\0way"), compression="lz4")
    )
    for argv in (["import", str(extract)], ["info", "--no-cache", "--osm-file", str(extract)]):
        done = subprocess.run(
            [sys.executable, "-m", "walks", *argv, "--cache-dir", str(tmp_path / "cache")],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr  # not -11 (a segfault)
        (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
        assert "NUL" in line


def test_areas_of_closed_ways_from_the_arrays_are_osmium_s(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rings written from the arrays are osmium's (turned, started where osmium starts them),
    and every ring osmium makes otherwise (or not at all) is left to osmium, in its order."""
    square = [(0, 0), (2, 0), (2, 2), (0, 2)]  # counter-clockwise
    places = {
        "ccw": square, "cw": square[::-1], "mid": [(2, 2), (0, 2), (0, 0), (2, 0)],
        "bowtie": [(0, 0), (2, 0), (0, 2), (2, 2)], "line": [(0, 0), (1, 0), (2, 0)],
        "spike": [(0, 0), (2, 0), (3, 0), (2, 0), (2, 2), (0, 2)],
        "twice": [(0, 0), (2, 0), (2, 0), (2, 2), (0, 2)], "five": [(0, 0), (2, 0), (3, 1),
                                                                     (2, 2), (0, 2)],
    }  # fmt: skip
    nodes: list[Any] = []
    ways: list[Any] = []
    tags_of = {"ccw": {"building": "yes", "height": "12 m"}, "cw": {"landuse": "grass"},
               "mid": {"amenity": "cafe", "building": "no"}}  # fmt: skip
    for hemisphere, (lon0, lat0) in enumerate([(11.5, 48.1), (-70.6, -33.4), (-0.0001, 0.0)]):
        for k, (name, ring) in enumerate(places.items()):
            refs = []
            for dx, dy in ring:
                nodes.append((len(nodes) + 1, (lon0 + k / 100 + dx / 1e4, lat0 + dy / 1e4), {}))
                refs.append(len(nodes))
            if name == "twice":  # one node, twice in a row
                refs[2] = refs[1]
            if name == "five" and hemisphere == 1:
                refs[3] = 10**9  # a node missing from the file
            tags = tags_of.get(name, {"leisure": "park", "name": f"{name} {hemisphere}"})
            if name == "five" and hemisphere == 2:
                tags = {"area": "no", "leisure": "park"}  # no area
            ways.append((100 * (hemisphere + 1) + k, [*refs, refs[0]], tags))
    # a multipolygon of two halves, complete early in the file: its area comes between the ways'
    a, b, c, d = (len(nodes) + i for i in range(1, 5))
    nodes += [(a, (11.6, 48.2), {}), (b, (11.61, 48.2), {}), (c, (11.61, 48.21), {}),
              (d, (11.6, 48.21), {})]  # fmt: skip
    ways += [(1, [a, b, c], {}), (2, [c, d, a], {})]
    relations = [(7, [("w", 1, "outer"), ("w", 2, "outer")],
                  {"type": "multipolygon", "building": "yes", "name": "halves"})]  # fmt: skip
    extract = _write((nodes, sorted(ways), relations), tmp_path / "rings.osm.pbf")
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(extract, tmp_path / "cache")
    assert not _read_by_osmium_alone(caplog)
    # ccw, cw, mid, twice (one node twice in a row is one point) and five; not five missing
    # a node nor five of area=no; not the others
    assert "13 areas of plain rings written from the arrays, " in caplog.text
    everything = read_features(extract, bool)
    found = store.load_features(extract, None, bool, tmp_path / "cache")
    assert found.features == everything.features
    assert found.buildings == everything.buildings
    assert found.landcover == everything.landcover
    assert [f.osm_id for f in found.features][:2] == [7, 100]  # osmium's order


# ------------------------------------------------- relations and areas without osmium's pass


def _relation_view(path: Path) -> list[Any]:
    """Every relation's id, tags and members, from walks.pbf's arrays (read from the end)."""
    found, _ = relations(path)
    out = []
    for block in found:
        s = block.strings
        for i, relation_id in enumerate(block.ids.tolist()):
            a, b = int(block.tag_offsets[i]), int(block.tag_offsets[i + 1])
            tags = [(s[block.keys[k]], s[block.values[k]]) for k in range(a, b)]
            a, b = int(block.member_offsets[i]), int(block.member_offsets[i + 1])
            members = [
                ("nwr"[block.member_types[k]], int(block.member_ids[k]), s[block.roles[k]])
                for k in range(a, b)
            ]
            out.append((relation_id, tags, members))
    return out


@pytest.mark.parametrize("name", ["munich", "andorra", "paris", "krems"])
def test_relations_read_from_the_end_are_osmium_s(
    name: str, sorted_copies: dict[str, Path]
) -> None:
    """Every relation's id, tags and members (roles, types), as osmium reads them."""
    path = EXTRACTS[name] if EXTRACTS[name].suffix == ".pbf" else sorted_copies[name]
    want = [
        (r.id, [(t.k, t.v) for t in r.tags], [(m.type, m.ref, m.role) for m in r.members])
        for r in osmium.FileProcessor(str(path), osmium.osm.RELATION)
    ]
    assert len(want) > 10
    assert _relation_view(path) == want


def _same_as_the_file(extract: Path, cache: Path, caplog: pytest.LogCaptureFixture) -> str:
    """Import a file with the arrays; its areas, features, buildings and land cover are the
    file's, in the file's order. Gives the import's log."""
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(extract, cache)
    assert not _read_by_osmium_alone(caplog)
    assert load_ways(extract, None, cache).areas == read_extract(extract).areas
    everything = read_features(extract, bool)
    found = store.load_features(extract, None, bool, cache)
    assert [(f.osm_type, f.osm_id) for f in found.features] == [
        (f.osm_type, f.osm_id) for f in everything.features
    ]
    assert found.features == everything.features
    assert found.buildings == everything.buildings
    assert found.landcover == everything.landcover
    return caplog.text


def _shapes(
    shapes: dict[str, list[tuple[float, float]]], first_id: int
) -> tuple[list[Any], dict[str, list[int]]]:
    """Nodes (one per point, 1e-4 degree apart, side by side) and each shape's node ids."""
    nodes: list[Any] = []
    refs: dict[str, list[int]] = {}
    for k, (name, ring) in enumerate(shapes.items()):
        refs[name] = []
        for dx, dy in ring:
            nodes.append((first_id + len(nodes), (11.5 + k / 100 + dx / 1e4, 48.1 + dy / 1e4), {}))
            refs[name].append(nodes[-1][0])
    return nodes, refs


def test_closed_ways_osmium_makes_no_area_of_are_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Crossing, touching, turning back, too few points, a node missing or off the globe, not
    closed, untagged, area=no: no rows, as osmium makes no area (or an empty one); a way closed
    by another node at its first location is an area."""
    nodes, refs = _shapes({
        "square": [(0, 0), (2, 0), (2, 2), (0, 2)], "bowtie": [(0, 0), (2, 0), (0, 2), (2, 2)],
        "touch": [(0, 0), (4, 0), (4, 4), (2, 0)], "back": [(0, 0), (4, 0), (1, 0), (1, 2)],
        "few": [(0, 0), (2, 0)], "missing": [(0, 0), (2, 0), (2, 2)],
        "open": [(0, 0), (2, 0), (2, 2)], "untagged": [(0, 0), (2, 0), (2, 2)],
        "no": [(0, 0), (2, 0), (2, 2)], "by-location": [(0, 0), (3, 0), (3, 3), (0, 3), (0, 0)],
        "off": [(0, 0), (2, 0), (2, 2)],
    }, 1)  # fmt: skip
    ways = []
    for k, (name, ring) in enumerate(refs.items()):
        closed = ring if name in ("open", "by-location") else [*ring, ring[0]]
        if name == "few":
            closed = [ring[0], ring[1], ring[1], ring[0]]
        if name == "missing":
            closed = [ring[0], ring[1], 10**9, ring[2], ring[0]]
        tags = {"building": "yes", "name": name}
        tags = (
            {}
            if name == "untagged"
            else {"area": "no", "leisure": "park"}
            if name == "no"
            else tags
        )
        ways.append((100 + k, closed, tags))
    off = refs["off"][1]
    nodes = [(i, (200.0, 48.1) if i == off else xy, t) for i, xy, t in nodes]
    extract = _write((nodes, ways, []), tmp_path / "rejected.osm.pbf")
    log = _same_as_the_file(extract, tmp_path / "cache", caplog)
    assert "2 areas of plain rings written from the arrays, 0 made by osmium" in log
    found = store.load_features(extract, None, bool, tmp_path / "cache")
    assert [f.tags["name"] for f in found.features if f.osm_type == "way"] == [
        "square",
        "by-location",
    ]


def test_complex_ways_are_shaped_by_osmium(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A way through one location twice (two squares touching at a corner, a spike) is
    shaped by osmium over the small file (two rings, or one), in its place among the others."""
    nodes, refs = _shapes({
        "before": [(0, 0), (2, 0), (2, 2), (0, 2)],
        "eight": [(0, 0), (2, 0), (2, 2), (4, 2), (4, 4), (2, 4), (2, 2), (0, 2)],
        "spike": [(0, 0), (2, 0), (3, 0), (2, 0), (2, 2), (0, 2)],
        "after": [(0, 0), (2, 0), (2, 2), (0, 2)],
    }, 1)  # fmt: skip
    ring = refs["eight"]
    ring[6] = ring[2]  # the same node again: the squares share a corner
    ways = [(100 + k, [*r, r[0]], {"building": "yes", "name": n})
            for k, (n, r) in enumerate(refs.items())]  # fmt: skip
    extract = _write((nodes, ways, []), tmp_path / "complex.osm.pbf")
    log = _same_as_the_file(extract, tmp_path / "cache", caplog)
    assert "2 areas of plain rings written from the arrays, 2 made by osmium" in log
    found = store.load_features(extract, None, bool, tmp_path / "cache")
    assert [f.tags["name"] for f in found.features] == ["before", "eight", "spike", "after"]
    assert len(found.buildings) == 5  # the eight is two rings


def test_relation_areas_come_where_osmium_makes_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A relation's area comes when its last member way is read: before that way's own area;
    relations completed by one way in the order of the way's place among their members, then
    of the relations; a relation missing a way, or not a multipolygon, makes none."""
    nodes, refs = _shapes({
        "halves": [(0, 0), (2, 0), (2, 2), (0, 2)], "house": [(4, 0), (6, 0), (6, 2), (4, 2)],
        "yard": [(8, 0), (9, 0), (9, 1), (8, 1)], "path": [(0, 5), (3, 5)],
    }, 1)  # fmt: skip
    halves, house, yard, path = refs.values()
    ways = [
        (10, halves[:3], {}), (11, [*halves[2:], halves[0]], {}),
        (12, [*house, house[0]], {"building": "house"}),
        (13, [*yard, yard[0]], {"landuse": "grass"}), (14, path, {"highway": "footway"}),
    ]  # fmt: skip
    grass = {"type": "multipolygon", "landuse": "grass"}
    relations = [
        (1, [("n", 1, ""), ("w", 12, "outer")], {**grass, "name": "late member"}),
        (2, [("w", 12, "outer")], {**grass, "name": "first member"}),
        (3, [("w", 10, "outer"), ("w", 11, "outer")], {**grass, "name": "halves"}),
        (4, [("w", 12, "outer")], {"type": "boundary", "boundary": "x", "name": "bound"}),
        (5, [("w", 12, "outer"), ("w", 99, "outer")], {**grass, "name": "missing"}),
        (6, [("w", 13, "outer")], {"type": "route", "name": "route"}),
        (7, [("w", 13, "outer"), ("w", 12, "inner")], {**grass, "name": "two"}),
        (8, [("w", 10, "outer"), ("w", 11, "outer")],
         {"type": "multipolygon", "highway": "pedestrian", "name": "square"}),
    ]  # fmt: skip
    extract = _write((nodes, ways, relations), tmp_path / "order.osm.pbf")
    log = _same_as_the_file(extract, tmp_path / "cache", caplog)
    assert "2 areas of plain rings written from the arrays, 6 made by osmium" in log
    found = store.load_features(extract, None, bool, tmp_path / "cache")
    assert [(f.osm_type, f.osm_id) for f in found.features] == [
        ("relation", 3),
        ("relation", 8),
        ("relation", 2),
        ("relation", 4),
        ("relation", 1),
        ("way", 12),
        ("relation", 7),
        ("way", 13),
    ]
    assert [a.osm_id for a in load_ways(extract, None, tmp_path / "cache").areas] == [8]


def test_relations_between_the_ways_are_read_by_osmium(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A relation block before the last way block: the arrays leave the file to osmium."""
    nodes, refs = _shapes({"a": [(0, 0), (2, 0), (2, 2), (0, 2)], "b": [(3, 0), (4, 0), (4, 1)]}, 1)
    a, b = refs.values()
    relation = (1, [("w", 100, "outer")], {"type": "multipolygon", "landuse": "grass"})
    target = tmp_path / "between.osm.pbf"
    header = osmium.io.Header()
    writer = osmium.SimpleWriter(osmium.io.File(str(target), "pbf"), header=header)
    try:
        for node_id, location, tags in nodes:
            writer.add_node(mutable.Node(id=node_id, location=location, tags=tags, version=1))
        writer.add_way(mutable.Way(id=100, nodes=[*a, a[0]], tags={"building": "yes"}, version=1))
        writer.add_relation(
            mutable.Relation(id=relation[0], members=relation[1], tags=relation[2], version=1)
        )
        writer.add_way(mutable.Way(id=101, nodes=b, tags={"highway": "footway"}, version=1))
    finally:
        writer.close()
    found, _ = relations(target)
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(target, tmp_path / "cache")
    stored = store.load_features(target, None, bool, tmp_path / "cache")
    assert stored.features == read_features(target, bool).features
    assert not found  # the last block holds a way: the relation before it is not read
    assert _read_by_osmium_alone(caplog)


def test_relations_out_of_order_are_read_by_osmium(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One relation id twice (two areas of one id) or relations out of order: osmium's."""
    nodes, refs = _shapes({"a": [(0, 0), (2, 0), (2, 2), (0, 2)]}, 1)
    (a,) = refs.values()
    grass = {"type": "multipolygon", "landuse": "grass"}
    for k, ids in enumerate(([5, 5], [6, 5])):
        relations = [
            (i, [("w", 100, "outer")], {**grass, "name": f"r{n}"}) for n, i in enumerate(ids)
        ]
        extract = _write((nodes, [(100, [*a, a[0]], {"building": "yes"})], relations),
                         tmp_path / f"twice{k}.osm.pbf")  # fmt: skip
        caplog.clear()
        caplog.set_level(logging.DEBUG, logger="walks.store")
        import_extract(extract, tmp_path / "cache")
        assert _read_by_osmium_alone(caplog)
        stored = store.load_features(extract, None, bool, tmp_path / "cache")
        assert stored.features == read_features(extract, bool).features
        assert len(stored.features) == 3


@pytest.mark.parametrize("case", ["user name past the table", "string over osmium's length"])
def test_a_file_osmium_refuses_is_refused_by_the_import_too(case: str, tmp_path: Path) -> None:
    """What the arrays skip (a way's metadata) or take (a long value) osmium refuses: so does the
    import, with the file readers' message, and no store is left."""
    extract = tmp_path / "refused.osm.pbf"
    if case == "user name past the table":
        info = _vf(1, 1) + _vf(5, 99)  # version 1, user name: string 99 (there are three)
        extract.write_bytes(_file(_block(_WAY + _ld(4, info) + _ld(8, _v(2) + _v(2)))))
    else:
        extract.write_bytes(_file(_block(_WAY + _ld(8, _v(2) + _v(2)), value=b"x" * 1500)))
    with pytest.raises(DataError) as from_file:
        read_extract(extract)
    with pytest.raises(DataError) as from_import:
        import_extract(extract, tmp_path / "cache")
    assert str(from_import.value) == str(from_file.value)
    assert not list((tmp_path / "cache" / "stores").glob("*"))


def test_the_small_file_keeps_each_block_within_what_osmium_reads(tmp_path: Path) -> None:
    """Long member ways far apart in ids: the small file's blocks stay under osmium's 32 MiB."""
    count, size = 4000, 2000  # 8 M references of 5-byte steps: 40 MB of ways
    refs = np.tile(1 + np.arange(size, dtype=np.int64) + (np.arange(size) % 2) * 2**30, count)
    offsets = np.arange(0, count * size + 1, size, dtype=np.int64)
    ways = (np.arange(100, 100 + count, dtype=np.int64), offsets, refs, [()] * count)
    nothing = np.zeros(0, dtype=np.int64)
    small = tmp_path / "small.osm.pbf"
    write_pbf(small, (nothing, nothing.astype(np.int32), nothing.astype(np.int32)), ways, [])
    read = 0
    for way in osmium.FileProcessor(str(small), osmium.osm.WAY):
        read += 1
        assert len(way.nodes) == size
    assert read == count


def test_a_relation_before_the_ways_of_its_block_is_read_as_osmium_reads_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One block of nodes, a square's relation, then its way: osmium meets the relation first and
    makes no square of it; the arrays would read every way first, so the file is osmium's."""
    texts = [b"", b"type", b"multipolygon", b"highway", b"pedestrian", b"outer", b"name", b"sq"]
    strings = _ld(1, b"".join(_ld(1, t) for t in texts))
    lats, lons = [481000000, 0, 2000, 0], [115000000, 2000, 0, -2000]  # steps
    nodes = _ld(2, _ld(1, _z(1) * 4) + _ld(8, b"".join(map(_z, lats)))
                + _ld(9, b"".join(map(_z, lons))))  # fmt: skip
    relation = (_vf(1, 1) + _ld(2, _v(1) + _v(3) + _v(6)) + _ld(3, _v(2) + _v(4) + _v(7))
                + _ld(8, _v(5)) + _ld(9, _z(10)) + _ld(10, _v(1)))  # fmt: skip
    way = _vf(1, 10) + _ld(8, b"".join(_z(d) for d in (1, 1, 1, 1, -3)))
    extract = tmp_path / "relation-first.osm.pbf"
    extract.write_bytes(_file(strings + _ld(2, nodes) + _ld(2, _ld(4, relation))
                              + _ld(2, _ld(3, way))))  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="walks.store")
    import_extract(extract, tmp_path / "cache")
    assert _read_by_osmium_alone(caplog)
    assert load_ways(extract, None, tmp_path / "cache").areas == read_extract(extract).areas


def test_relations_nobody_wants_hold_no_memory(tmp_path: Path) -> None:
    """Only the relations osmium makes areas of keep their members and tags while a file is read."""
    objects = _objects(EXTRACTS["munich"])
    extract = _write(objects, tmp_path / "munich.osm.pbf")
    everything, _ = relations(extract)
    kept, _ = relations(extract, keep=store_areas.areas_of)
    assert sum(b.ids.size for b in kept) == sum(store_areas.areas_of(b).size for b in everything)
    assert 0 < sum(b.member_ids.size for b in kept) < sum(b.member_ids.size for b in everything)
    assert [b.newest for b in kept] == [b.newest for b in everything]
    chosen = store_areas.FileRelations.of(everything)
    assert store_areas.FileRelations.of(kept).ids().tolist() == chosen.ids().tolist()


_ZERO_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
 <node id="1" lat="48.1" lon="11.5" version="1"/>
 <node id="2" lat="48.1" lon="11.51" version="1"/>
 <node id="3" lat="48.11" lon="11.51" version="1"/>
 <way id="0" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/></way>
 <relation id="1" version="1"><member type="way" REF role="outer"/>
  <tag k="type" v="multipolygon"/><tag k="landuse" v="grass"/></relation>
</osm>
"""


@pytest.mark.parametrize("form", ["pbf", "xml", "xml with an entity"])
def test_a_multipolygon_of_way_0_is_one_error_not_a_crash(form: str, tmp_path: Path) -> None:
    """osmium's area assembler crashes (the process ends) on a multipolygon of way 0: refused in
    words before it reads the file, by the import and the file readers alike (a process of their
    own: a crash would end the test run)."""
    square = [(1, (11.5, 48.1), {}), (2, (11.51, 48.1), {}), (3, (11.51, 48.11), {})]
    grass = {"type": "multipolygon", "landuse": "grass"}
    if form == "pbf":
        extract = _write(
            (square, [(0, [1, 2, 3, 1], {})], [(1, [("w", 0, "outer")], grass)]),
            tmp_path / "zero.osm.pbf",
        )
    else:
        extract = tmp_path / "zero.osm"
        ref = 'ref="0"' if form == "xml" else "ref = '&#48;'"
        extract.write_text(_ZERO_XML.replace("REF", ref), encoding="utf-8")
    script = (
        "import sys\nfrom pathlib import Path\nfrom walks.data import read_extract, read_features\n"
        "from walks.errors import DataError\nfrom walks.store import import_extract\n"
        "for read in (lambda p: import_extract(p, Path(sys.argv[2])), read_extract,\n"
        "             lambda p: read_features(p, bool)):\n"
        "    try:\n        read(Path(sys.argv[1]))\n        print('read')\n"
        "    except DataError as err:\n        print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(extract), str(tmp_path / "cache")],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout
    assert all("way member of id 0" in line and "remove the member" in line for line in lines)
    assert not list((tmp_path / "cache" / "stores").glob("*"))


def test_the_small_files_varints_are_protocol_buffers() -> None:
    """One value's varint (from the table of short ones or the loop) equals numpy's encoding."""
    from walks.pbf_write import _varint, _varints

    values = np.array(
        [*range(300), 2**14 - 1, 2**14, 2**14 + 1, 2**21 - 1, 2**21, 2**35, 2**63 - 1],
        dtype=np.int64,
    )
    joined, ends = _varints(values)
    assert b"".join(_varint(int(v)) for v in values) == joined
    assert ends.tolist() == np.cumsum([len(_varint(int(v))) for v in values]).tolist()
    assert _varint(2**14 - 1) == b"\xff\x7f"
    assert _varint(2**14) == b"\x80\x80\x01"


def _inflated(packed: bytes, raw_size: int) -> bytes | str:
    """A blob's zlib data inflated by walks.pbf, or the refusal's message."""
    from walks.pbf import _zlib

    try:
        data = _zlib(packed, raw_size)
    except UnsupportedPbfError as err:
        return str(err)
    assert type(data) is bytes
    return data


def test_libdeflate_inflates_exactly_as_zlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the fast extra's libdeflate or zlib alone: the same bytes, or the same refusal."""
    from walks import pbf

    pytest.importorskip("deflate")
    raw = bytes(range(256)) * 40 + b"osm" * 3000
    good = zlib.compress(raw)
    cases = [
        (good, len(raw)),  # as it should be
        (good + b"trailing", len(raw)),  # bytes after the stream: osmium reads on
        (good, len(raw) - 1),  # longer than it says
        (good, len(raw) + 1),  # shorter than it says (the caller compares the size)
        (good[:-4], len(raw)),  # no checksum
        (good[:-1] + bytes([good[-1] ^ 1]), len(raw)),  # a wrong checksum
        (good[: len(good) // 2], len(raw)),  # cut in the middle
        (b"\x78\x9c" + bytes(20), len(raw)),  # not deflate data
        (zlib.compress(b""), 1),
    ]
    pbf._libdeflate.cache_clear()
    assert pbf._libdeflate() is not None
    fast = [_inflated(p, n) for p, n in cases]
    pbf._libdeflate.cache_clear()
    monkeypatch.setitem(sys.modules, "deflate", None)  # not installed
    try:
        assert pbf._libdeflate() is None
        plain = [_inflated(p, n) for p, n in cases]
    finally:
        pbf._libdeflate.cache_clear()
    assert fast == plain
    assert fast[0] == raw
    assert fast[1] == raw
    assert fast[2] == raw  # a byte more than said: the caller refuses it for its size
    assert fast[3] == raw  # a byte less: so does the caller
    assert all(isinstance(r, str) for r in fast[4:8])


def test_node_blocks_are_kept_in_arrays_that_grow() -> None:
    """More nodes than the file's size foretold (a file zlib shrank well): the arrays grow,
    every block is kept in order, and the order and id checks hold."""
    from walks.store_pbf import _NodeBuffer

    buffer = _NodeBuffer(1000)  # room for 65,536 nodes at first
    first = buffer.ids.size
    rng = np.random.default_rng(5)
    blocks = []
    start = 0
    for size in (8000,) * 30 + (0, 1, 70_000):
        ids = start + np.arange(size, dtype=np.int64) * 3
        lats = rng.integers(-900_000_000, 900_000_001, size).astype(np.int32)
        lons = rng.integers(-1_800_000_000, 1_800_000_001, size).astype(np.int32)
        buffer.add(ids, lats, lons)
        blocks.append((ids, lats, lons))
        start += 3 * size + 1
    nodes = buffer.nodes()
    assert buffer.ids.size > first
    for name, column in zip(("ids", "lats", "lons"), zip(*blocks, strict=True), strict=True):
        assert np.array_equal(getattr(nodes, name), np.concatenate(column))
    unordered = _NodeBuffer(0)
    unordered.add(np.array([5, 4]), np.zeros(2, np.int32), np.zeros(2, np.int32))
    with pytest.raises(UnsupportedPbfError, match="out of order"):
        unordered.nodes()
    negative = _NodeBuffer(0)
    negative.add(np.array([-1, 4]), np.zeros(2, np.int32), np.zeros(2, np.int32))
    with pytest.raises(UnsupportedPbfError, match="negative"):
        negative.nodes()
    assert _NodeBuffer(0).nodes().ids.size == 0
