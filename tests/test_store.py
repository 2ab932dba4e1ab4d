"""The region store: an area opened from the store equals the same area read from the file."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from walks import store
from walks.area import area_from_bbox, area_from_point
from walks.categories import load_categories, select_categories
from walks.data import OsmWays, read_extract, read_features
from walks.errors import CacheError, DataError
from walks.graph import WalkGraph, graph_from_ways
from walks.loader import load_features, load_graph
from walks.store import (
    import_extract,
    list_stores,
    load_ways,
    remove_stores,
    store_info,
)
from walks.types import LatLon

BOX = (2.345, 48.877, 2.352, 48.881)
MUNICH = SHARED / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
#: Around Karlsplatz (Stachus) and the pedestrian zone: multipolygon squares are crossed here.
MUNICH_BOX = (11.562, 48.133, 11.578, 48.142)


def same_graph(a: WalkGraph, b: WalkGraph) -> None:
    """Assert two graphs are equal array by array (the store vs the file: exactly).

    Street names, highway and surface values are compared as text: the string table holds
    the values of every way read, so its order depends on the ways outside the area too.
    """
    text = {"edge_highway", "edge_name", "edge_surface"}
    for name in WalkGraph.ARRAY_FIELDS:
        if name in text:
            assert [a.string(int(i)) for i in getattr(a, name)] == [
                b.string(int(i)) for i in getattr(b, name)
            ], name
        else:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.meta.source, a.meta.area, a.meta.data_date) == (
        b.meta.source,
        b.meta.area,
        b.meta.data_date,
    )


def same_ways(a: OsmWays, b: OsmWays) -> None:
    """Assert two readings of ways are equal (NaN, a node missing from the file, equals NaN)."""
    assert (a.source, a.data_date, a.areas) == (b.source, b.data_date, b.areas)
    assert len(a.ways) == len(b.ways)
    for x, y in zip(a.ways, b.ways, strict=True):
        assert (x.osm_id, x.refs, x.tags) == (y.osm_id, y.refs, y.tags)
        np.testing.assert_array_equal(np.array(x.lats), np.array(y.lats))
        np.testing.assert_array_equal(np.array(x.lons), np.array(y.lons))


def test_store_gives_the_file_graph_and_features(paris_osm: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    info = import_extract(paris_osm, cache)
    assert info.current
    assert info.ways > 100
    assert info.buildings > 100
    assert info.imported
    area = area_from_bbox(*BOX)
    from_store = graph_from_ways(load_ways(paris_osm, area, cache), clip=area)
    from_file = graph_from_ways(read_extract(paris_osm), clip=area)
    same_graph(from_store, from_file)

    def cafe(tags: dict[str, str]) -> bool:
        return tags.get("amenity") == "cafe"

    west, south, east, north = BOX
    inside = [
        f
        for f in read_features(paris_osm, cafe).features
        if west <= f.lon <= east and south <= f.lat <= north
    ]
    stored = [
        f
        for f in store.load_features(paris_osm, area, cafe, cache).features
        if west <= f.lon <= east and south <= f.lat <= north
    ]
    assert inside
    assert stored == inside


def test_multipolygon_areas_and_landcover_come_from_the_store(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    info = import_extract(MUNICH, cache)
    assert info.areas > 0
    assert info.landcover > 0
    area = area_from_bbox(*MUNICH_BOX)
    osm = load_ways(MUNICH, area, cache)
    assert osm.areas
    from_store = graph_from_ways(osm, clip=area)
    from_file = graph_from_ways(read_extract(MUNICH), clip=area)
    assert from_store.pedestrian_areas > 0
    same_graph(from_store, from_file)
    # buildings and land cover near the area: every one of the file's that meets its box
    found = store.load_features(MUNICH, area, lambda _tags: False, cache)
    file_buildings = read_features(MUNICH, lambda _tags: False).buildings
    west, south, east, north = MUNICH_BOX

    def meets(outline: tuple[tuple[float, float], ...]) -> bool:
        xy = np.asarray(outline)
        return bool(
            xy[:, 0].max() >= west
            and xy[:, 0].min() <= east
            and xy[:, 1].max() >= south
            and xy[:, 1].min() <= north
        )

    wanted = [b for b in file_buildings if meets(b.outline)]
    assert wanted
    assert set(wanted) <= set(found.buildings)
    assert any(c.kind == "pedestrian" for c in found.landcover)


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


def _scramble_body(path: Path) -> None:
    """Overwrite a file past the fingerprinted head, keeping its size and times."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[store._HEAD_BYTES :] = b"\x00" * (len(data) - store._HEAD_BYTES)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_file_is_imported_once_then_never_read(
    paris_osm: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    copy = tmp_path / "region.osm"
    copy.write_bytes(paris_osm.read_bytes())
    cache = tmp_path / "cache"
    cafe = select_categories(load_categories(), ["cafe"])
    said: list[str] = []
    north = area_from_point(LatLon(48.8795, 2.3485), 250.0)
    south = area_from_point(LatLon(48.8775, 2.3520), 250.0)
    expected = {
        "north": (load_graph(north, osm_file=paris_osm, use_store=False).graph,
                  load_features(north, cafe, osm_file=paris_osm, use_store=False)),
        "south": (load_graph(south, osm_file=paris_osm, use_store=False).graph,
                  load_features(south, cafe, osm_file=paris_osm, use_store=False)),
    }  # fmt: skip
    with caplog.at_level(logging.INFO, logger="walks.loader"):
        first = load_graph(north, osm_file=copy, cache_dir=cache, progress=said.append)
    assert said[0] == "importing region.osm into the store (once)"
    assert "into the store (once)" in caplog.text
    assert store_info(copy, cache).current  # type: ignore[union-attr]
    # from now on the file's body is garbage: reading it fails, the store still answers
    _scramble_body(copy)
    with pytest.raises(DataError):
        read_extract(copy)
    assert store_info(copy, cache).current  # type: ignore[union-attr]
    said.clear()
    second = load_graph(south, osm_file=copy, cache_dir=cache, progress=said.append)
    assert not second.from_cache
    assert not any("importing" in text or "reading" in text for text in said)
    for name, graph in (("north", first.graph), ("south", second.graph)):
        want_graph = expected[name][0]
        np.testing.assert_array_equal(graph.node_osm_id, want_graph.node_osm_id)
        np.testing.assert_array_equal(graph.edge_length_m, want_graph.edge_length_m)
    for name, area in (("north", north), ("south", south)):
        got = load_features(area, cafe, osm_file=copy, cache_dir=cache)
        assert got.features == expected[name][1].features
        assert got.features


def test_stale_store_is_rebuilt_or_bypassed(
    paris_osm: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy = tmp_path / "map.osm"
    copy.write_bytes(paris_osm.read_bytes())
    cache = tmp_path / "cache"
    import_extract(copy, cache)
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    area = area_from_bbox(*BOX)
    said: list[str] = []
    # asked not to use the store: the file is read, the stale store left as it is
    load_graph(area, osm_file=copy, cache_dir=cache, use_cache=False, progress=said.append,
               use_store=False)  # fmt: skip
    assert said[0] == "reading map.osm"
    assert not store_info(copy, cache).current  # type: ignore[union-attr]
    # otherwise the changed file is imported again, and says so
    said.clear()
    load_graph(area, osm_file=copy, cache_dir=cache, progress=said.append)
    assert "out of date" in caplog.text
    assert "importing it again" in caplog.text
    assert said[0] == "importing map.osm into the store (once)"
    assert store_info(copy, cache).current  # type: ignore[union-attr]


NEW_YORK = SHARED / "data" / "osm-new-york-fidi" / "map3.osm"


def _sorted_copy(source: Path, target: Path) -> Path:
    """Copy a sorted extract, saying so in its header (as Geofabrik's files do)."""
    import osmium

    header = osmium.io.Header()
    header.set("sorting", "Type_then_ID")
    header.set("osmosis_replication_timestamp", "2020-07-20T12:44:03Z")
    writer = osmium.SimpleWriter(str(target), header=header)
    try:
        for obj in osmium.FileProcessor(str(source)):
            if obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                writer.add_way(obj)
            else:
                writer.add_relation(obj)
    finally:
        writer.close()
    return target


@pytest.mark.parametrize("which", ["sorted-header", "unsorted-xml"])
def test_streaming_import_equals_the_file(which: str, tmp_path: Path) -> None:
    """Untagged nodes left to osmium (a file that says it is sorted), or a repaired copy read."""
    if which == "sorted-header":
        extract = _sorted_copy(MUNICH, tmp_path / "munich.osm.pbf")
        box = MUNICH_BOX
    else:
        extract = NEW_YORK  # ids unsorted: read through a sorted copy, as read_extract does
        box = (-74.012, 40.704, -74.004, 40.710)
    cache = tmp_path / "cache"
    import_extract(extract, cache)
    osm = read_extract(extract)
    same_ways(load_ways(extract, None, cache), osm)
    area = area_from_bbox(*box)
    same_graph(
        graph_from_ways(load_ways(extract, area, cache), clip=area),
        graph_from_ways(osm, clip=area),
    )
    everything = read_features(extract, bool)
    stored = store.load_features(extract, None, bool, cache)
    assert stored.features == everything.features
    assert stored.buildings == everything.buildings
    assert stored.landcover == everything.landcover
    assert len(stored.features) > 1000


def test_damaged_store_is_rebuilt_or_named(paris_osm: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    info = import_extract(paris_osm, cache)
    info.path.write_bytes(b"not a database" * 1000)
    assert store_info(paris_osm, cache) is None  # a damaged store counts as none
    area = area_from_bbox(*BOX)
    loaded = load_graph(area, osm_file=paris_osm, cache_dir=cache)
    assert loaded.graph.n_nodes > 50
    assert store_info(paris_osm, cache).current  # type: ignore[union-attr]
    info.path.unlink()  # gone between the check and the reading: one error naming the fix
    with pytest.raises(CacheError, match="walks import"):
        load_ways(paris_osm, area, cache)


def test_corrupt_extract_is_a_data_error_and_leaves_no_store(tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"garbage, not a PBF file")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="corrupt") as caught:
        import_extract(bad, cache)
    assert not isinstance(caught.value, CacheError)  # the file is at fault, not the cache folder
    assert "cache folder" not in str(caught.value)
    assert list((cache / "stores").glob("*")) == []


_KEYED = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" version="1" lat="48.1000" lon="11.5000"><tag k="amenity" v="cafe"/></node>
  <node id="2" version="1" lat="48.1001" lon="11.5001">
    <tag k="name" v="Zur Post"/><tag k="amenity" v="cafe"/></node>
  <node id="3" version="1" lat="48.1002" lon="11.5002"><tag k="note" v="amenity"/></node>
  <node id="4" version="1" lat="48.1003" lon="11.5003"><tag k="disused:amenity" v="cafe"/></node>
  <node id="5" version="1" lat="48.1004" lon="11.5004">
    <tag k="{odd}" v="1"/><tag k="amenity" v="cafe"/></node>
  <node id="6" version="1" lat="48.1005" lon="11.5005"><tag k="tourism" v="viewpoint"/></node>
  <node id="7" version="1" lat="48.1006" lon="11.5006"><tag k="craft" v="bakery"/></node>
</osm>
"""


def test_key_prefilter_keeps_exactly_what_the_filter_keeps(paris_osm: Path, tmp_path: Path) -> None:
    """Rows skipped in SQL by their keys are rows the categories would refuse, no more."""
    from walks.loader import _first_keys, _wanted

    cafe = select_categories(load_categories(), ["cafe"])
    keys = _first_keys(cafe)
    assert keys is not None
    assert "amenity" in keys
    assert "tourism" in keys
    small = tmp_path / "keyed.osm"
    small.write_text(_KEYED, encoding="utf-8")
    cache = tmp_path / "cache"
    for extract in (small, paris_osm):
        import_extract(extract, cache)
        every = store.load_features(extract, None, _wanted(cafe), cache)
        quick = store.load_features(extract, None, _wanted(cafe), cache, keys=keys)
        assert quick.features == every.features
        assert quick.buildings == every.buildings
        area = area_from_bbox(*BOX)
        if extract == paris_osm:
            near = store.load_features(extract, area, _wanted(cafe), cache, keys=keys)
            assert (
                near.features == store.load_features(extract, area, _wanted(cafe), cache).features
            )
            assert len(near.features) > 3
    got = store.load_features(small, None, _wanted(cafe), cache, keys=keys)
    # the key, not a value or a longer key; tags written as JSON (a key starting "{") pass too
    assert [f.osm_id for f in got.features] == [1, 2, 5, 6]
    assert [f.osm_id for f in store.load_features(small, None, bool, cache, keys=keys).features] == [
        1, 2, 5, 6,
    ]  # fmt: skip
    assert len(store.load_features(small, None, bool, cache).features) == 7


def test_a_store_that_cannot_be_written_leaves_the_file_read(
    paris_osm: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An implicit import that cannot be written: a warning, and the walk reads the file."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "stores").write_text("a file where the stores folder should be", encoding="utf-8")
    area = area_from_bbox(*BOX)
    said: list[str] = []
    with caplog.at_level(logging.WARNING, logger="walks.loader"):
        loaded = load_graph(area, osm_file=paris_osm, cache_dir=cache, progress=said.append)
    assert "reading the file instead" in caplog.text
    assert "reading map.osm" in said
    expected = load_graph(area, osm_file=paris_osm, use_store=False, use_cache=False).graph
    np.testing.assert_array_equal(loaded.graph.node_osm_id, expected.node_osm_id)
    with pytest.raises(CacheError):  # asked for, the store's failure is the error
        load_graph(area, osm_file=paris_osm, cache_dir=cache, use_store=True, use_cache=False)


def test_row_groups_keep_every_value() -> None:
    """Rows packed into a group come back exactly: NULLs, empty and non-ASCII text, bytes."""
    from walks.store_groups import Group, pack_groups

    rows = [
        (0, "node", 2**62, "a\x1eb", 48.1, None, None),
        (1, "", -5, '{"k": "ü"}', -0.0, 11.5, b""),
        (2, "way", 7, "\u202eRTL" + "é" * 500, math.nan, 1e-7, bytes(range(256))),
    ]
    boxes = np.array([[1.0, 2.0, 3.0, 4.0], [np.nan] * 4, [-1.0, -1.0, 0.0, 0.0]])
    (blob,) = pack_groups(rows, "ititrrb", boxes, 32)
    group = Group(blob, "ititrrb")
    got = group.rows([0, 1, 2])
    assert got[0] == rows[0]
    assert got[1] == rows[1]
    assert got[2][:4] == rows[2][:4]
    assert got[2][4] is None  # a NaN real reads as NULL, as SQLite stored it
    assert got[2][5:] == rows[2][5:]
    assert group.meeting((1.5, 1.6, 3.5, 3.6)) == [0]  # a row without a box meets nothing
    assert group.meeting((-2.0, 0.0, -1.0, 0.0)) == [2]
    with pytest.raises(ValueError, match="length"):
        Group(blob[:-1], "ititrrb")


@pytest.mark.parametrize("jit", ["0", "1"])
def test_columns_held_in_buffers_pack_as_python_values_do(
    jit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeated texts, NULLs, values turned to buffers, joined and reordered: the same blobs."""
    from walks import pbf_jit
    from walks.store_groups import Group, Packed, pack_columns

    if jit == "1" and not pbf_jit.available():
        pytest.skip("numba")
    rng = np.random.default_rng(3)
    n = 75  # three groups, the last short
    texts = [None if k % 7 == 3 else "é" * int(k % 5) + str(k) for k in range(n)]
    blobs = [
        None if k % 4 == 1 else rng.integers(0, 256, k % 9, dtype=np.uint8).tobytes()
        for k in range(n)
    ]
    order = rng.permutation(n)
    kinds = ["way" if k % 3 else "node" for k in range(n)]
    hows = [None if k % 5 == 0 else ("height", "levels", "défaut")[k % 3] for k in range(n)]
    as_lists = [
        [kinds[i] for i in order], np.arange(n)[order], [texts[i] for i in order],
        [blobs[i] for i in order], [None] * n, [hows[i] for i in order],
    ]  # fmt: skip
    a, b = 20, 50  # pieces as a flush joins them
    kind_col = Packed.joined([
        Packed.of_values("t", kinds[:a]), Packed.repeat(b"node", 0),
        Packed.of_values("t", kinds[a:b]), Packed.of_values("t", kinds[b:]),
    ])  # fmt: skip
    as_packed = [
        kind_col[order], np.arange(n)[order],
        Packed.joined([Packed.of_values("t", texts[:a]), Packed.of_values("t", texts[a:])])[order],
        Packed.joined([Packed.of_values("b", blobs[:b]), Packed.of_values("b", blobs[b:])])[order],
        Packed.joined([Packed.nulls(a), Packed.nulls(n - a)])[order],
        Packed.of_values("t", hows)[order],  # four values many times: numbered, one copy each
    ]  # fmt: skip
    assert as_packed[2].items("t") == as_lists[2]
    assert as_packed[5].items("t") == as_lists[5]
    assert Packed.of_values("t", hows).data.size == len("heightlevelsdéfaut".encode())
    assert as_packed[3].items("b") == as_lists[3]
    assert Packed.repeat(b"way", 3).items("t") == ["way"] * 3
    assert Packed.nulls(2).items("b") == [None, None]
    boxes = rng.random((n, 4))
    monkeypatch.setenv("WALKS_JIT", jit)
    with pbf_jit.engaged(0) as used:
        assert used is (jit == "1")
        plain = [bytes(g) for g in pack_columns(as_lists, "titbbt", boxes, 32)]
        held = [bytes(g) for g in pack_columns(as_packed, "titbbt", boxes, 32)]
    assert len(plain) == 3
    assert held == plain
    groups = [Group(blob, "titbbt") for blob in held]
    rows = [row for g in groups for row in g.rows(list(range(len(g.boxes))))]
    columns = [c if isinstance(c, list) else c.tolist() for c in as_lists]
    assert rows == list(zip(*columns, strict=True))


def test_the_compiled_packing_refuses_spans_outside_their_buffer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A span past its buffer packs nothing; a reused buffer gives each call's own blobs."""
    from walks import pbf_jit
    from walks.store_groups import Packed, Scratch, pack_columns

    if not pbf_jit.available():
        pytest.skip("numba")
    data = np.frombuffer(b"abcdef", dtype=np.uint8)
    boxes = np.zeros((3, 4))
    ids = np.arange(3)
    starts = np.array([0, 2, 4], dtype=np.int64)
    monkeypatch.setenv("WALKS_JIT", "1")
    with pbf_jit.engaged(0):
        good = (ids.astype("<i8"), (data, starts, starts + 2))
        assert pbf_jit.pack(boxes, [good], 2) is not None
        for ends in ([2, 4, 7], [2, 4, 6]):
            for first in (-1, 0):
                spans = (data, np.array([first, 2, 4], dtype=np.int64), np.array(ends))
                lengths = spans[2] - spans[1]
                fits = first == 0 and ends[-1] == 6
                assert (pbf_jit.pack(boxes, [(lengths, spans)], 2) is not None) is fits
        scratch = Scratch()
        texts = Packed.of_values("t", ["ab", None, "cdé"])
        first = [bytes(b) for b in pack_columns([ids, texts], "it", boxes, 2, scratch)]
        second = [
            bytes(b) for b in pack_columns([ids + 7, texts[[2, 1, 0]]], "it", boxes, 2, scratch)
        ]
    monkeypatch.setenv("WALKS_JIT", "0")
    with pbf_jit.engaged(0):
        assert first == [bytes(b) for b in pack_columns([ids, texts], "it", boxes, 2)]
        assert second == [
            bytes(b) for b in pack_columns([ids + 7, texts[[2, 1, 0]]], "it", boxes, 2)
        ]


def test_stored_coordinates_read_back_as_the_very_doubles_of_the_file() -> None:
    """Coordinates kept as int32 of 1e-7 degree give back the file's doubles, bit for bit."""
    from walks.store_groups import _degrees, _fixed, _points_of, _ring_blob, _ring_of

    rng = np.random.default_rng(7)
    ints = np.concatenate((
        rng.integers(-1_800_000_000, 1_800_000_001, 200_000),
        [0, 1, -1, 900_000_000, -900_000_000, 1_800_000_000, -1_800_000_000, 123_456_789],
    )).astype(np.int32)  # fmt: skip
    doubles = ints / 1e7  # as osmium and the PBF arrays give them
    stored = _fixed(doubles)
    assert stored.dtype == np.int32
    np.testing.assert_array_equal(stored, ints)
    back = _degrees(stored.tobytes())
    assert back.tobytes() == doubles.tobytes()  # bit for bit, not merely close
    # an unknown point (a node missing from the extract) stays unknown
    unknown = _degrees(_fixed(np.array([48.1, np.nan, -11.5])))
    assert unknown[0] == 48.1
    assert math.isnan(unknown[1])
    assert unknown[2] == -11.5
    ring = ((11.5754, 48.1372), (11.5755, 48.1372), (11.5755, 48.1373), (11.5754, 48.1372))
    blob = _ring_blob(ring)
    assert len(blob) == 8 * len(ring)  # half the bytes of doubles
    assert _ring_of(blob) == ring
    assert _points_of(blob).tolist() == [list(p) for p in ring]


def test_a_damaged_row_group_is_named(paris_osm: Path, tmp_path: Path) -> None:
    import sqlite3

    cache = tmp_path / "cache"
    info = import_extract(paris_osm, cache)
    with sqlite3.connect(info.path) as db:
        db.execute("UPDATE ways SET data = ?", (b"\x05\x00\x00\x00" + b"\xff" * 40,))
    with pytest.raises(CacheError, match="walks import"):
        load_ways(paris_osm, area_from_bbox(*BOX), cache)


@pytest.mark.parametrize("page", [-1, -(2**62), 2**60, 2**62, 2**63 - 1])
def test_a_page_of_an_impossible_id_is_a_damaged_store(
    page: int, paris_osm: Path, tmp_path: Path
) -> None:
    """A page id whose groups' ids SQLite cannot hold is a damaged store, not an overflow."""
    cache = tmp_path / "cache"
    info = import_extract(paris_osm, cache)
    with sqlite3.connect(info.path) as db:
        (first,) = db.execute("SELECT min(id) FROM ways_pages").fetchone()
        db.execute("UPDATE ways_pages SET id = ? WHERE id = ?", (page, first))
        db.execute("UPDATE ways_rt SET id = ? WHERE id = ?", (page, first))
    with pytest.raises(CacheError, match="walks import"):
        load_ways(paris_osm, area_from_bbox(*BOX), cache)


def test_an_index_entry_without_its_page_is_a_damaged_store(
    paris_osm: Path, tmp_path: Path
) -> None:
    """An R-tree entry whose page row is gone is a damaged store, not rows silently missing."""
    cache = tmp_path / "cache"
    info = import_extract(paris_osm, cache)
    with sqlite3.connect(info.path) as db:
        db.execute("DELETE FROM ways_pages WHERE id = (SELECT min(id) FROM ways_pages)")
    with pytest.raises(CacheError, match="walks import"):
        load_ways(paris_osm, area_from_bbox(*BOX), cache)


def test_the_pages_find_every_group_meeting_a_box(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The R-tree's pages of groups give exactly the rows whose own box meets a box."""
    from walks import store_tables
    from walks.store import _rows
    from walks.store_groups import _COLUMNS, PAGE, Group, _connect

    munich = SHARED / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
    monkeypatch.setattr(store_tables, "_CHUNK", 700)  # many flushes, of 22 groups: mid-page
    info = import_extract(munich, tmp_path / "c")
    rng = np.random.default_rng(11)
    with _connect(info.path) as db:
        for table in ("features", "ways", "buildings"):
            kinds = "i" + _COLUMNS[table][1]
            groups = [Group(blob, kinds) for (blob,) in db.execute(f"SELECT data FROM {table}")]
            (pages,) = db.execute(f"SELECT count(*) FROM {table}_rt").fetchone()
            assert len(groups) > 2 * PAGE  # several pages, and groups past the first page
            assert pages < len(groups) / 2  # one entry per page, not per group
            boxes = np.concatenate([g.boxes for g in groups])
            rows = [row for g in groups for row in g.rows(list(range(len(g.boxes))))]
            lon = boxes[:, :2][~np.isnan(boxes[:, 0])]
            lat = boxes[:, 2:][~np.isnan(boxes[:, 0])]
            for _ in range(25):
                size = rng.choice([0.0005, 0.002, 0.01])
                west = rng.uniform(lon.min() - size, lon.max())
                south = rng.uniform(lat.min() - size, lat.max())
                box = (west, west + size, south, south + size)
                meets = (
                    (boxes[:, 1] >= box[0]) & (boxes[:, 0] <= box[1])
                    & (boxes[:, 3] >= box[2]) & (boxes[:, 2] <= box[3])
                )  # fmt: skip
                expected = sorted(rows[i] for i in np.flatnonzero(meets))
                assert _rows(db, table, box) == [row[1:] for row in expected], (table, box)


def test_pages_of_64_kib_for_large_files_only(tmp_path: Path) -> None:
    """A large file's store has 64 KiB pages (groups share them); a small one's stays small."""
    from walks.store_groups import _LARGE_FILE, _pragmas

    assert "page_size=65536" in _pragmas(_LARGE_FILE)
    assert "page_size=4096" in _pragmas(_LARGE_FILE - 1)
    munich = SHARED / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
    info = import_extract(munich, tmp_path / "c")
    with sqlite3.connect(info.path) as db:
        (page,) = db.execute("PRAGMA page_size").fetchone()
    assert page == 4096
    assert info.size_bytes < 4.5e6  # 5.2 MB on 64 KiB pages


def test_a_texts_places_in_a_string_table() -> None:
    """Every place of a text, none of another (a table may hold a text twice)."""
    from walks.store_pbf import _places_of

    assert _places_of(["", "area", "no", "area", "area"], "area") == [1, 3, 4]
    assert _places_of(["", "building"], "area") == []
    assert _places_of([], "area") == []


def test_cycle_collection_pauses_during_an_import_only(paris_osm: Path, tmp_path: Path) -> None:
    """The collector is off while an import runs, back on after it (a failed one too)."""
    import gc
    import threading

    seen: list[bool] = []

    def say(_text: str) -> None:
        seen.append(gc.isenabled())

    assert gc.isenabled()
    import_extract(paris_osm, tmp_path / "cache", progress=say)
    assert seen == [False]
    assert gc.isenabled()
    with pytest.raises(DataError):
        import_extract(tmp_path / "missing.osm.pbf", tmp_path / "cache", progress=say)
    assert gc.isenabled()
    gc.disable()  # a caller's choice is kept
    try:
        import_extract(paris_osm, tmp_path / "cache", progress=say)
        assert not gc.isenabled()
    finally:
        gc.enable()
    # two imports at once: collection resumes as the last one ends, not the first
    started, other_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(_text: str) -> None:
        started.set()
        other_done.wait(60)

    def run() -> None:
        try:
            import_extract(MUNICH, tmp_path / "a", progress=hold)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert started.wait(60)
        import_extract(paris_osm, tmp_path / "b", progress=say)
        assert not gc.isenabled()  # the first import still runs
    finally:
        other_done.set()
        thread.join()
    assert not errors
    assert gc.isenabled()
