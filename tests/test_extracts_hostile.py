"""Hostile and unusual extracts: bad coordinates, long tags, unsorted ids, odd formats, tiny graphs.

Every case either reads (with the bad part dropped, as a clipped extract drops missing nodes)
or ends in one ``DataError`` line naming the file and the fix; never a raw osmium exception.
"""

from __future__ import annotations

import bz2
import gzip
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from walks.cache import (
    clear_cache,
    ensure_writable,
    graph_cache_path,
    iter_cache,
    load_cached_graph,
    save_graph,
)
from walks.data import building_height, extract_kind, is_walkable, read_extract, read_features
from walks.errors import AreaError, CacheError, DataError, NoWalkError, ServiceError, WalksError
from walks.graph import graph_from_ways, pleasantness_from_tags
from walks.loader import MIN_WALKABLE_M, load_features, load_graph
from walks.types import Area, LatLon

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NEW_YORK = SHARED_DATA / "osm-new-york-fidi" / "map3.osm"
PROVIDENCE = SHARED_DATA / "osm-providence-college-hill" / "map2.osm"
KREMS = SHARED_DATA / "osm-krems" / "krems.osm.gz"


def _osm(
    nodes: list[tuple[int, str, str]], ways: list[tuple[int, list[int]]], extra: str = ""
) -> str:
    """
    Write a small OSM XML document.

    Parameters
    ----------
    nodes
        ``(id, lat text, lon text)`` per node, written as given.
    ways
        ``(id, node ids)`` per footway.
    extra
        More XML placed before ``</osm>``.

    Returns
    -------
    str
        The document.
    """
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    parts += [f'<node id="{i}" lat="{lat}" lon="{lon}"/>' for i, lat, lon in nodes]
    for way_id, refs in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        parts.append(f'<way id="{way_id}">{nds}<tag k="highway" v="footway"/></way>')
    parts += [extra, "</osm>"]
    return "\n".join(parts)


def _line(lat0: float = 60.17, lon0: float = 24.94, count: int = 7) -> list[tuple[int, str, str]]:
    """
    Nodes along a straight street, about 55 m apart.

    Parameters
    ----------
    lat0, lon0
        The first node.
    count
        How many nodes.

    Returns
    -------
    list
        ``(id, lat, lon)`` rows with ids 1..count.
    """
    return [(i + 1, f"{lat0 + 0.0005 * i:.7f}", f"{lon0:.7f}") for i in range(count)]


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        ("95.0", "24.94"),  # latitude beyond the pole: osmium reads an invalid location
        ("60.17", "200"),  # longitude beyond 180
        ("-90.0000001", "24.94"),
        ("nan", "24.94"),  # osmium raises InvalidLocationError for the whole file
        ("inf", "24.94"),
        ("-inf", "inf"),
        ("1e5", "24.94"),
        ("1e99", "24.94"),  # osmium reads this silently as 0
        ("60.17", "0.000000001e9"),  # and this
        ("", "24.94"),
        ("60,17", "24,94"),
        ("0x3C", "24.94"),
    ],
)
@pytest.mark.parametrize("suffix", [".osm", ".osm.gz", ".osm.bz2"])
def test_bad_coordinates_are_dropped_like_missing_nodes(
    tmp_path: Path, lat: str, lon: str, suffix: str
) -> None:
    nodes = _line(count=8)
    nodes[3] = (4, lat, lon)
    text = _osm(nodes, [(10, [1, 2, 3, 4, 5, 6, 7, 8])]).encode()
    path = tmp_path / f"bad{suffix}"
    packers = {".osm": lambda b: b, ".osm.gz": gzip.compress, ".osm.bz2": bz2.compress}
    path.write_bytes(packers[suffix](text))

    (way,) = read_extract(path).ways
    assert way.refs == (1, 2, 3, 4, 5, 6, 7, 8)
    assert math.isnan(way.lats[3])
    assert math.isnan(way.lons[3])
    good = [i for i in range(8) if i != 3]
    assert [way.lats[i] for i in good] == [float(nodes[i][1]) for i in good]

    graph = graph_from_ways(read_extract(path))
    assert 4 not in graph.node_osm_id.tolist()  # the bad node never reaches the graph
    assert np.all(np.abs(graph.geom_lat) <= 90)
    assert np.all(np.abs(graph.geom_lon) <= 180)
    # the way is split around the bad node into 1-2-3 and 5-6-7-8: one of them is kept
    assert set(graph.node_osm_id.tolist()) in ({1, 3}, {5, 8})
    assert graph.walkable_km in (
        pytest.approx(2 * 0.0556, rel=0.01),
        pytest.approx(3 * 0.0556, rel=0.01),
    )


def test_bad_coordinates_in_features_are_skipped(tmp_path: Path) -> None:
    cafes = (
        '<node id="20" lat="60.1702" lon="24.9401"><tag k="amenity" v="cafe"/></node>'
        '<node id="21" lat="nan" lon="24.9402"><tag k="amenity" v="cafe"/></node>'
        '<node id="22" lat="60.1703" lon="999"><tag k="amenity" v="cafe"/></node>'
    )
    path = tmp_path / "cafes.osm"
    path.write_text(_osm(_line(), [(10, [1, 2, 3, 4, 5, 6, 7])], cafes))
    found = read_features(path, lambda tags: tags.get("amenity") == "cafe")
    assert [f.osm_id for f in found.features] == [20]


def test_genuine_zero_coordinates_are_kept(tmp_path: Path) -> None:
    """A street on the prime meridian (Greenwich) is read as it is, not as damage."""
    nodes = [(i + 1, f"{51.4769 + 0.0005 * i:.7f}", "0.0000000") for i in range(4)]
    path = tmp_path / "greenwich.osm"
    path.write_text(_osm(nodes, [(10, [1, 2, 3, 4])]))
    (way,) = read_extract(path).ways
    assert way.lons == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(("length", "reads"), [(255, True), (1000, True), (1100, False)])
def test_long_tag_values(tmp_path: Path, length: int, reads: bool) -> None:
    extra = f'<node id="30" lat="60.1701" lon="24.9401"><tag k="name" v="{"x" * length}"/></node>'
    path = tmp_path / "long.osm"
    path.write_text(_osm(_line(), [(10, [1, 2, 3, 4, 5, 6, 7])], extra))
    if reads:
        assert len(read_extract(path).ways) == 1
        (feature,) = read_features(path, lambda tags: "name" in tags).features
        assert len(feature.tags["name"]) == length
        return
    for read in (read_extract, lambda p: read_features(p, bool)):
        with pytest.raises(DataError) as caught:
            read(path)
        message = str(caught.value)
        assert message == (
            f"OSM file {str(path)!r} holds a tag longer than the 1024 bytes the reader accepts "
            "(OSM tag value is too long; OSM itself allows 255 characters): "
            "shorten or remove that tag"
        )


def _shuffled_copy(source: Path, target: Path) -> None:
    """
    Write an extract with its objects out of order: ways first, then nodes, ids reversed.

    Parameters
    ----------
    source
        A sorted OSM XML extract.
    target
        The unsorted copy.
    """
    root = ET.parse(source).getroot()
    children = list(root)
    for child in children:
        root.remove(child)
    by_kind = {kind: [c for c in children if c.tag == kind] for kind in ("node", "way", "relation")}
    rest = [c for c in children if c.tag not in by_kind]
    order = by_kind["way"][::-1] + by_kind["node"][::-1] + by_kind["relation"][::-1]
    for child in rest + order:
        root.append(child)
    ET.ElementTree(root).write(target, encoding="UTF-8", xml_declaration=True)


def test_unsorted_extract_reads_like_the_sorted_one(paris_osm: Path, tmp_path: Path) -> None:
    shuffled = tmp_path / "shuffled.osm"
    _shuffled_copy(paris_osm, shuffled)
    sorted_ways, unsorted_ways = read_extract(paris_osm), read_extract(shuffled)
    assert sorted(unsorted_ways.ways, key=lambda w: w.osm_id) == sorted(
        sorted_ways.ways, key=lambda w: w.osm_id
    )
    assert unsorted_ways.data_date == sorted_ways.data_date

    def wanted(tags: dict[str, str]) -> bool:
        return tags.get("amenity") in {"cafe", "restaurant"} or "shop" in tags

    def key(f: object) -> tuple[str, int]:
        return (f.osm_type, f.osm_id)  # type: ignore[attr-defined]

    plain, shuffled_features = read_features(paris_osm, wanted), read_features(shuffled, wanted)
    assert len(plain.features) > 50
    assert sorted(shuffled_features.features, key=key) == sorted(plain.features, key=key)
    assert len(shuffled_features.buildings) == len(plain.buildings)


@pytest.mark.parametrize(("path", "cafes"), [(NEW_YORK, 26), (PROVIDENCE, 6)])
def test_older_api_exports_with_unsorted_ids(path: Path, cafes: int) -> None:
    """These files made `walks stops` fail with "Way IDs out of order"; they are intact."""
    found = read_features(path, lambda tags: tags.get("amenity") == "cafe")
    assert len(found.features) == cafes
    assert len(found.buildings) > 300
    assert len(read_extract(path).ways) > 200


def test_negative_ids_from_an_editor_are_read(tmp_path: Path) -> None:
    nodes = [(-i, lat, lon) for i, lat, lon in _line(count=4)]
    path = tmp_path / "josm.osm"
    path.write_text(_osm(nodes, [(-10, [-1, -2, -3, -4])]))
    (way,) = read_extract(path).ways
    assert not any(math.isnan(lat) for lat in way.lats)
    assert len(set(way.refs)) == 4


def test_gzipped_xml_reads_like_plain(paris_osm: Path, tmp_path: Path) -> None:
    packed = tmp_path / "paris.osm.gz"
    packed.write_bytes(gzip.compress(paris_osm.read_bytes()))
    plain, compressed = read_extract(paris_osm), read_extract(packed)
    assert plain.ways == compressed.ways
    assert plain.data_date == compressed.data_date


def test_krems_gz_extract_loads(cache_dir: Path) -> None:
    loaded = load_graph(osm_file=KREMS, cache_dir=cache_dir)
    assert loaded.graph.walkable_km > 20
    assert load_graph(osm_file=KREMS, cache_dir=cache_dir).from_cache


def _no_walk_message(path: Path, metres: int, pieces: int, junctions: int) -> str:
    return (
        f"no walk possible here: the extract {str(path.resolve())!r} holds {metres} m of walkable "
        f"ways ({pieces} street piece(s) between {junctions} junction(s)): give a larger area "
        f"or extract, with at least {MIN_WALKABLE_M:.0f} m of streets or paths"
    )


@pytest.mark.parametrize(
    ("nodes", "ways", "metres", "pieces", "junctions"),
    [
        ([(1, "60.17", "24.94"), (2, "60.1705", "24.94")], [(10, [1, 2])], 56, 1, 2),
        ([(1, "60.17", "24.94"), (2, "60.17", "24.94"), (3, "60.17", "24.94")],
         [(10, [1, 2, 3]), (11, [3, 1])], 0, 2, 2),
        ([(1, "60.17", "24.94"), (2, "60.1701", "24.94"), (3, "60.1701", "24.9401")],
         [(10, [1, 2, 3]), (11, [3, 1])], 29, 2, 2),
    ],
    ids=["two-nodes", "all-at-one-point", "almost-nothing"],
)  # fmt: skip
def test_no_walk_possible_in_a_tiny_extract(
    tmp_path: Path,
    cache_dir: Path,
    nodes: list[tuple[int, str, str]],
    ways: list[tuple[int, list[int]]],
    metres: int,
    pieces: int,
    junctions: int,
) -> None:
    path = tmp_path / "tiny.osm"
    path.write_text(_osm(nodes, ways))
    for _ in range(2):  # the second run must refuse too (nothing cached)
        with pytest.raises(DataError) as caught:
            load_graph(osm_file=path, cache_dir=cache_dir)
        assert str(caught.value) == _no_walk_message(path, metres, pieces, junctions)
    assert list(iter_cache(cache_dir)) == []


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: _write(d / "empty.osm", b""), "is empty: download it again"),
        (lambda d: _write(d / "empty.osm.pbf", b""), "is empty: download it again"),
        (lambda d: _write(d / "empty.osm.gz", b""), "is empty: download it again"),
        (lambda d: _write(d / "text.osm", b"hello world\n"), "is corrupt or truncated (XML"),
        (
            lambda d: _write(d / "page.osm", b"<?xml version='1.0'?><html><body/></html>"),
            "is corrupt or truncated (Unknown top-level element: html)",
        ),
        (
            lambda d: _write(d / "xml.osm.pbf", _osm(_line(), []).encode()),
            "holds OSM XML, not PBF data: rename it to end in .osm",
        ),
        (
            lambda d: _write(d / "packed.osm", bz2.compress(_osm(_line(), []).encode())),
            "holds bzip2-compressed data, not OSM XML: rename it to end in .osm.bz2",
        ),
        (
            lambda d: _write(d / "packed.osm.bz2", gzip.compress(_osm(_line(), []).encode())),
            "holds gzip-compressed data, not bzip2-compressed data: rename it to end in .osm.gz",
        ),
        (
            lambda d: _write(d / "plain.osm.gz", _osm(_line(), []).encode()),
            "holds OSM XML, not gzip-compressed data: rename it to end in .osm",
        ),
        (lambda d: _write(d / "noise.osm", bytes(range(256)) * 40), "is corrupt or truncated ("),
        (lambda d: _write(d / "noise.osm.pbf", bytes(range(256)) * 40), "is corrupt or truncated"),
        (lambda d: _write(d / "noise.osm.gz", b"\x1f\x8b" + b"\x07" * 900), "is corrupt or trunc"),
        (lambda d: _write(d / "noise.osm.bz2", b"BZh9" + b"\x07" * 900), "is corrupt or truncated"),
        (
            lambda d: _write(d / "cut.osm.gz", gzip.compress(_osm(_line(), []).encode())[:60]),
            "is corrupt or truncated (",
        ),
        (lambda d: (d / "folder.osm").mkdir() or d / "folder.osm", "is a directory: give the"),
        (lambda d: d / "missing.osm.gz", "does not exist: check the path given to --osm-file"),
        (
            lambda d: _write(d / "bell\x07\x1b[31m\nname.osm", b"hello"),
            "is corrupt or truncated (",
        ),
    ],
)
def test_unreadable_extracts_give_one_line(tmp_path: Path, make, expected: str) -> None:
    path = make(tmp_path)
    for read in (read_extract, lambda p: read_features(p, bool)):
        with pytest.raises(DataError) as caught:
            read(path)
        message = str(caught.value)
        assert expected in message
        assert repr(str(path)) in message
        assert "\n" not in message
        assert "\x1b" not in message
        assert "\x07" not in message


def test_truncated_pbf_gives_one_line(helsinki_pbf: Path, tmp_path: Path) -> None:
    for size in (10, 1000, 100_000):
        cut = _write(tmp_path / f"cut{size}.osm.pbf", helsinki_pbf.read_bytes()[:size])
        with pytest.raises(DataError, match=r"is corrupt or truncated \(.*\): download it again$"):
            read_extract(cut)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_permissions(paris_osm: Path, tmp_path: Path) -> None:
    locked = _write(tmp_path / "locked.osm", paris_osm.read_bytes()[:1000])
    locked.chmod(0)
    with pytest.raises(
        DataError, match=r"cannot read OSM file .*locked\.osm.*check its permissions"
    ):
        read_extract(locked)


@pytest.mark.parametrize(
    "call",
    [
        lambda: read_extract(None),  # type: ignore[arg-type]
        lambda: read_extract(5),  # type: ignore[arg-type]
        lambda: read_extract(""),
        lambda: read_extract("a\x00b.osm"),
        lambda: read_features(None, bool),  # type: ignore[arg-type]
        lambda: load_graph(osm_file=3.5),  # type: ignore[arg-type]
    ],
)
def test_paths_of_the_wrong_type(call) -> None:
    with pytest.raises(DataError, match="(must be a file path|is not a usable path)"):
        call()


def test_library_arguments_raise_our_errors(paris_osm: Path, paris_graph, tmp_path: Path) -> None:
    osm = read_extract(paris_osm)
    cases = [
        (lambda: read_features(paris_osm, None), DataError, "wanted must be a function"),  # type: ignore[arg-type]
        (lambda: graph_from_ways("map.osm"), DataError, "needs an OsmWays, not str"),  # type: ignore[arg-type]
        (lambda: graph_from_ways(osm, clip="paris"), AreaError, "clip must be an Area"),  # type: ignore[arg-type]
        (lambda: graph_from_ways(osm, source=5), DataError, "source must be text"),  # type: ignore[arg-type]
        (lambda: load_graph("paris"), AreaError, "area must be an Area, not str|must be an Area"),  # type: ignore[arg-type]
        (lambda: load_graph(osm_file=paris_osm, cache_dir=5), CacheError, "cache_dir must be"),  # type: ignore[arg-type]
        (lambda: load_graph(max_area_km2=math.nan), AreaError, "max_area_km2 nan is not"),
        (lambda: load_graph(max_area_km2=-1.0), AreaError, "max_area_km2 -1.0 is not"),
        (lambda: load_graph(max_area_km2="5"), AreaError, "max_area_km2 '5' is not"),  # type: ignore[arg-type]
        (lambda: load_graph(attempts=0), ServiceError, "attempts 0 is not"),
        (lambda: load_graph(attempts=2.5), ServiceError, "attempts 2.5 is not"),  # type: ignore[arg-type]
        (lambda: load_graph(backoff_s=math.inf), ServiceError, "backoff_s inf is not"),
        (lambda: load_graph(backoff_s=-1), ServiceError, "backoff_s -1 is not"),
        (lambda: load_graph(overpass_url=None), ServiceError, "overpass_url None is not"),  # type: ignore[arg-type]
        (lambda: load_cached_graph(None), CacheError, "path must be a non-empty path"),  # type: ignore[arg-type]
        (lambda: clear_cache(None), CacheError, "cache_dir must be a non-empty path"),  # type: ignore[arg-type]
        (lambda: list(iter_cache(7)), CacheError, "cache_dir must be a non-empty path"),  # type: ignore[arg-type]
    ]
    cases += [
        (lambda: is_walkable(None), DataError, "is_walkable needs a dict of OSM tags, not None"),  # type: ignore[arg-type]
        (lambda: building_height("yes"), DataError, "building_height needs a dict"),  # type: ignore[arg-type]
        (lambda: pleasantness_from_tags([]), DataError, "needs a dict of OSM tags, not list"),  # type: ignore[arg-type]
        (lambda: extract_kind(None), DataError, "must be a file path"),  # type: ignore[arg-type]
        (lambda: paris_graph.nearest_node(LatLon(math.nan, 2.35)), NoWalkError, "not on the globe"),
        (lambda: paris_graph.nearest_node(None), NoWalkError, "is not a \\(lat, lon\\) pair"),  # type: ignore[arg-type]
        (lambda: save_graph("graph", tmp_path / "g.npz"), CacheError, "needs a WalkGraph, not str"),  # type: ignore[arg-type]
        (lambda: save_graph(paris_graph, None), CacheError, "path must be a non-empty path"),  # type: ignore[arg-type]
        (lambda: graph_cache_path(None, "ab12"), CacheError, "cache_dir must be"),  # type: ignore[arg-type]
        (lambda: graph_cache_path(tmp_path, "../../etc"), CacheError, "is not hexadecimal"),
        (lambda: ensure_writable(None), CacheError, "folder must be a non-empty path"),  # type: ignore[arg-type]
        (lambda: load_features(None, None), DataError, "categories must be a list of Category"),  # type: ignore[arg-type]
        (lambda: load_features("paris", []), AreaError, "area must be an Area"),  # type: ignore[arg-type]
    ]
    for call, kind, text in cases:
        with pytest.raises(kind, match=text) as caught:
            call()
        assert isinstance(caught.value, WalksError)
        assert not isinstance(caught.value, AttributeError | TypeError)


def test_clipped_to_an_area_a_tiny_piece_is_refused(
    paris_osm: Path, paris_graph, cache_dir: Path
) -> None:
    import shapely

    # a box around the two ends of the graph's first edge (about 19 m long), and nothing else
    u, v = int(paris_graph.edge_u[0]), int(paris_graph.edge_v[0])
    lats, lons = paris_graph.node_lat[[u, v]], paris_graph.node_lon[[u, v]]
    box = shapely.box(lons.min() - 1e-5, lats.min() - 1e-5, lons.max() + 1e-5, lats.max() + 1e-5)
    metres = round(float(paris_graph.edge_length_m[0]))
    with pytest.raises(DataError) as caught:
        load_graph(Area("tiny", "bbox", box), osm_file=paris_osm, cache_dir=cache_dir)
    assert str(caught.value) == (
        f"no walk possible here: the area 'tiny' holds {metres} m of walkable ways "
        "(1 street piece(s) between 2 junction(s)): give a larger area or extract, "
        "with at least 100 m of streets or paths"
    )


def _pbf(path: Path, *, ways_first: bool, bad_node: bool) -> Path:
    """
    Write a small PBF extract with osmium: a street of five nodes.

    Parameters
    ----------
    path
        The file to write.
    ways_first
        Write the way before its nodes (out of order).
    bad_node
        Put the middle node off the globe (lon 200, lat 95).

    Returns
    -------
    Path
        ``path``.
    """
    import osmium
    from osmium.osm import mutable

    spots = [(24.94, 60.17), (24.94, 60.1705), (24.94, 60.171), (24.94, 60.1715), (24.94, 60.172)]
    if bad_node:
        spots[2] = (200.0, 95.0)
    nodes = [mutable.Node(id=i + 1, location=xy) for i, xy in enumerate(spots)]
    way = mutable.Way(id=10, nodes=[1, 2, 3, 4, 5], tags={"highway": "footway"})
    writer = osmium.SimpleWriter(str(path))
    try:
        for item in [way, *nodes] if ways_first else [*nodes, way]:
            writer.add(item)
    finally:
        writer.close()
    return path


def test_pbf_node_off_the_globe_is_dropped(tmp_path: Path) -> None:
    (way,) = read_extract(_pbf(tmp_path / "bad.osm.pbf", ways_first=False, bad_node=True)).ways
    assert math.isnan(way.lats[2])
    assert math.isnan(way.lons[2])
    assert way.lats[:2] == (60.17, 60.1705)


def test_pbf_with_ways_before_nodes_is_read(tmp_path: Path) -> None:
    shuffled = read_extract(_pbf(tmp_path / "a.osm.pbf", ways_first=True, bad_node=False))
    ordered = read_extract(_pbf(tmp_path / "b.osm.pbf", ways_first=False, bad_node=False))
    assert shuffled.ways == ordered.ways
    assert not any(math.isnan(lat) for lat in shuffled.ways[0].lats)


def test_unsorted_file_with_unreadable_coordinates(tmp_path: Path) -> None:
    """Both repairs at once: ways before nodes, and a node at latitude "nan"."""
    nodes = _line(count=8)
    nodes[3] = (4, "nan", "24.94")
    text = _osm(nodes, [(10, [1, 2, 3, 4, 5, 6, 7, 8])])
    head, rest = text.split("<node", 1)
    node_part, way_part = ("<node" + rest).split("<way", 1)
    way_xml, tail = ("<way" + way_part).split("</way>", 1)
    path = tmp_path / "both.osm"
    path.write_text(head + way_xml + "</way>" + node_part + tail)
    (way,) = read_extract(path).ways
    assert [math.isnan(lat) for lat in way.lats] == [i == 3 for i in range(8)]
    found = read_features(path, lambda tags: "highway" in tags)
    assert found.buildings == ()
