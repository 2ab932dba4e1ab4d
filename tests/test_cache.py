"""The graph cache: reuse, corruption, atomic writes, listing and clearing."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from walks._files import TMP_PREFIX
from walks.cache import clear_cache, iter_cache, load_cached_graph, save_graph
from walks.errors import CacheError
from walks.graph import WalkGraph
from walks.loader import load_graph
from walks.store import list_stores


def _same(a: WalkGraph, b: WalkGraph) -> None:
    for name in WalkGraph.ARRAY_FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.strings == b.strings
    assert (a.meta.source, a.meta.area, a.meta.data_date) == (
        b.meta.source,
        b.meta.area,
        b.meta.data_date,
    )


def test_second_load_comes_from_cache(paris_osm: Path, cache_dir: Path) -> None:
    first = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    second = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    assert not first.from_cache
    assert second.from_cache
    assert first.cache_path == second.cache_path
    _same(first.graph, second.graph)


def test_demo_area_is_the_default(cache_dir: Path) -> None:
    loaded = load_graph(cache_dir=cache_dir)
    assert loaded.graph.meta.source == "demo:helsinki"
    assert loaded.graph.n_nodes > 2000


def test_touched_extract_is_rebuilt(paris_osm: Path, tmp_path: Path, cache_dir: Path) -> None:
    copy = tmp_path / "paris.osm"
    copy.write_bytes(paris_osm.read_bytes())
    first = load_graph(osm_file=copy, cache_dir=cache_dir)
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    again = load_graph(osm_file=copy, cache_dir=cache_dir)
    assert not again.from_cache
    assert again.cache_path != first.cache_path


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
        lambda p: p.write_bytes(b"garbage" * 100),  # not a zip
        lambda p: p.write_bytes(b""),  # empty
        # flip bytes inside the first array's data: the zip CRC check must catch it
        lambda p: p.write_bytes(p.read_bytes()[:300] + b"\xff" * 64 + p.read_bytes()[364:]),
    ],
    ids=["truncated", "garbage", "empty", "bit-flip"],
)
def test_damaged_entry_is_rebuilt(paris_osm: Path, cache_dir: Path, damage, caplog) -> None:
    built = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    assert built.cache_path is not None
    damage(built.cache_path)
    again = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    assert not again.from_cache
    assert "unusable" in caplog.text
    _same(built.graph, again.graph)
    assert load_graph(osm_file=paris_osm, cache_dir=cache_dir).from_cache


def test_inconsistent_arrays_are_rejected(paris_graph: WalkGraph, tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    broken = WalkGraph(
        **{
            **{n: getattr(paris_graph, n) for n in WalkGraph.ARRAY_FIELDS},
            "edge_u": paris_graph.edge_u + paris_graph.n_nodes,
        },
        strings=paris_graph.strings,
        meta=paris_graph.meta,
    )
    save_graph(broken, path)
    assert load_cached_graph(path) is None
    assert not path.exists()


def test_failed_write_leaves_nothing(paris_graph: WalkGraph, tmp_path: Path, monkeypatch) -> None:
    """A disk that fills up mid-write: no partial cache entry, no temporary file."""

    def full_disk(fh, **_arrays):
        fh.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    path = tmp_path / "graphs" / "g.npz"
    with pytest.raises(CacheError, match="No space left on device"):
        save_graph(paris_graph, path)
    assert list(path.parent.iterdir()) == []


def test_unwritable_cache_dir(paris_osm: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheError, match="is not writable.*WALKS_CACHE_DIR"):
        load_graph(osm_file=paris_osm, cache_dir=blocker / "cache")


def test_no_cache_writes_nothing(paris_osm: Path, cache_dir: Path) -> None:
    loaded = load_graph(osm_file=paris_osm, cache_dir=cache_dir, use_cache=False)
    assert loaded.cache_path is None
    assert not cache_dir.exists()


def test_list_and_clear(paris_osm: Path, cache_dir: Path) -> None:
    load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    load_graph(cache_dir=cache_dir)
    entries = list(iter_cache(cache_dir))
    assert sorted(e.meta.source.split(":")[0] for e in entries if e.meta) == ["demo", "file"]
    # both extracts were imported on first use: two graphs and two stores go
    assert len(list_stores(cache_dir)) == 2
    assert clear_cache(cache_dir) == 4
    assert list(iter_cache(cache_dir)) == []
    assert list_stores(cache_dir) == []


def test_clear_removes_height_grids_and_keeps_other_files(cache_dir: Path) -> None:
    heights = cache_dir / "heights"
    heights.mkdir(parents=True)
    grid = heights / f"grid-{'0' * 32}.npz"
    grid.write_bytes(b"grid")
    mine = heights / "notes.txt"
    mine.write_text("a user's file", encoding="utf-8")
    assert clear_cache(cache_dir, http=False) == 1
    assert not grid.exists()
    assert mine.read_text(encoding="utf-8") == "a user's file"


def _rewrite(path: Path, change) -> None:
    """
    Rewrite a cache file with some of its members changed.

    Parameters
    ----------
    path
        The cache file.
    change
        Called with the dict of members (name -> array, plus "header" as a dict); changes it.
    """
    with np.load(path, allow_pickle=False) as data:
        members = {name: data[name] for name in data.files}
    members["header"] = json.loads(members.pop("header_json").tobytes().decode())
    change(members)
    header = members.pop("header")
    if header is not None:
        members["header_json"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **members)


def _set(name: str, index: int, value: object):
    def change(m: dict) -> None:
        m[name] = m[name].copy()
        m[name][index] = value

    return change


def _replace(name: str, make):
    def change(m: dict) -> None:
        m[name] = make(m[name])

    return change


def _header(edit):
    def change(m: dict) -> None:
        edit(m["header"])

    return change


CORRUPTIONS = {
    "nan-latitude": _set("node_lat", 0, np.nan),
    "inf-longitude": _set("node_lon", 1, np.inf),
    "latitude-beyond-pole": _set("node_lat", 2, 95.0),
    "nan-geometry": _set("geom_lat", 5, np.nan),
    "geometry-off-globe": _set("geom_lon", 5, -181.0),
    "negative-length": _set("edge_length_m", 0, -5.0),
    "inf-length": _set("edge_length_m", 0, np.inf),
    "length-disagrees": _set("edge_length_m", 3, 1e9),
    "edge-end-beyond-nodes": _set("edge_v", 0, 10_000),
    "negative-edge-end": _set("edge_u", 0, -1),
    "highway-index-beyond-strings": _set("edge_highway", 0, 10_000),
    "surface-index-below-minus-one": _set("edge_surface", 0, -7),
    "unknown-direction": _set("edge_direction", 0, 5),
    "unknown-pleasantness": _set("edge_pleasantness", 0, 9),
    "unknown-lit": _set("edge_lit", 0, 3),
    "offsets-not-from-zero": _set("geom_offset", 0, 1),
    "offset-beyond-geometry": _set("geom_offset", -1, 10**9),
    "moved-node": _set("node_lat", 0, 48.0),
    "duplicate-node-id": _replace("node_osm_id", lambda a: np.concatenate([a[:1], a[:-1]])),
    "float-indices": _replace("edge_u", lambda a: a.astype(np.float64)),
    "two-dimensional": _replace("node_lat", lambda a: np.stack([a, a])),
    "scalar-array": _replace("edge_lit", lambda a: np.array(1, dtype=np.int8)),
    "short-array": _replace("edge_name", lambda a: a[:-1]),
    "empty-graph": lambda m: m.update(
        {n: m[n][:0] for n in ("node_osm_id", "node_lat", "node_lon")}
    ),
    "missing-array": lambda m: m.pop("geom_lon"),
    "header-missing": lambda m: m.update(header=None),
    "header-list": _header(lambda h: h.clear()),
    "header-format-true": _header(lambda h: h.update(format=True)),
    "header-format-other": _header(lambda h: h.update(format=99)),
    "header-builder-other": _header(lambda h: h.update(build_version=-3)),
    "meta-missing-field": _header(lambda h: h["meta"].pop("area")),
    "meta-extra-field": _header(lambda h: h["meta"].update(evil=1)),
    "meta-source-not-text": _header(lambda h: h["meta"].update(source=5)),
    "meta-build-nan": _header(lambda h: h["meta"].update(build_s=float("nan"))),
    "strings-not-text": _header(lambda h: h.update(strings=[1, 2, 3])),
    "strings-not-list": _header(lambda h: h.update(strings="footway")),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_values_are_discarded_and_rebuilt(
    paris_osm: Path, cache_dir: Path, corrupt, caplog
) -> None:
    built = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    assert built.cache_path is not None
    _rewrite(built.cache_path, corrupt)
    caplog.clear()
    again = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    assert not again.from_cache
    assert caplog.text.count("is unusable") == 1
    _same(built.graph, again.graph)
    assert load_graph(osm_file=paris_osm, cache_dir=cache_dir).from_cache


@pytest.mark.parametrize(
    "foreign",
    [
        # compressed members (savez_compressed): not how walks writes; a zip bomb would be so
        lambda path, arrays: np.savez_compressed(path, **arrays),
        # a member that is not an array
        lambda path, arrays: _zip_with(path, {"node_lat": b"raw bytes, not .npy"}),
        # object arrays need pickle, which is never allowed
        lambda path, arrays: np.savez(
            path, **{**arrays, "node_lat": np.array([{"x": 1}] * 3, dtype=object)}
        ),
        # an array whose .npy header claims far more data than the file holds
        lambda path, arrays: _zip_with(path, {"node_lat.npy": _huge_npy_header()}),
    ],
    ids=["compressed", "not-npy", "pickled", "claims-huge-shape"],
)
def test_foreign_archives_are_discarded(paris_osm: Path, cache_dir: Path, foreign, caplog) -> None:
    built = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    assert built.cache_path is not None
    with np.load(built.cache_path) as data:
        arrays = {name: data[name] for name in data.files}
    foreign(built.cache_path, arrays)
    assert load_cached_graph(built.cache_path) is None
    assert "is unusable" in caplog.text
    assert not built.cache_path.exists()
    again = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    _same(built.graph, again.graph)


def _zip_with(path: Path, members: dict[str, bytes]) -> None:
    """Replace some members of a zip archive (others are kept)."""
    with zipfile.ZipFile(path) as old:
        kept = {i.filename: old.read(i) for i in old.infolist() if i.filename not in members}
    with zipfile.ZipFile(path, "w") as new:
        for name, data in {**kept, **members}.items():
            new.writestr(name, data)


def _huge_npy_header() -> bytes:
    """A .npy header for 10**11 float64 values, followed by a few bytes of data."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }"
    header = header.ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 64


def test_entry_that_is_a_directory_is_rebuilt(paris_osm: Path, cache_dir: Path, caplog) -> None:
    built = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    assert built.cache_path is not None
    built.cache_path.unlink()
    built.cache_path.mkdir()
    (built.cache_path / "inside.txt").write_text("x")
    caplog.clear()
    again = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    assert not again.from_cache
    assert caplog.text.count("is unusable (it is not a file)") == 1
    assert built.cache_path.is_file()
    _same(built.graph, again.graph)
    assert load_graph(osm_file=paris_osm, cache_dir=cache_dir).from_cache


@given(
    cuts=st.lists(
        st.tuples(st.floats(0.0, 1.0), st.binary(min_size=0, max_size=16), st.integers(0, 16)),
        min_size=1,
        max_size=4,
    )
)
def test_random_damage_never_crashes_or_loads_wrong(
    paris_graph: WalkGraph, tmp_path_factory: pytest.TempPathFactory, cuts
) -> None:
    """Any mix of overwritten, inserted and removed bytes: the same graph back, or None."""
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "graph-fuzz.npz"
    save_graph(paris_graph, path)
    data = bytearray(path.read_bytes())
    for where, new, drop in cuts:
        at = int(where * len(data))
        data[at : at + drop] = new
    path.write_bytes(bytes(data))
    graph = load_cached_graph(path)
    if graph is None:
        assert not path.exists()
    else:
        _same(graph, paris_graph)


def test_clear_copes_with_odd_entries(paris_osm: Path, cache_dir: Path) -> None:
    load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    graphs = cache_dir / "graphs"
    (graphs / "graph-0123.npz").mkdir()  # a directory where an entry should be
    (graphs / "graph-0123.npz" / "junk").write_text("x")
    locked = graphs / "graph-4567.npz"
    locked.write_bytes(b"not readable")
    locked.chmod(0)
    stale = graphs / f"{TMP_PREFIX}dead.tmp"
    stale.write_bytes(b"half a file")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = graphs / f"{TMP_PREFIX}busy.tmp"
    fresh.write_bytes(b"being written now")
    http = cache_dir / "http"
    (http / "sub").mkdir(parents=True)
    (http / "0123456789abcdef0123456789abcdef01234567.json").write_text("{}")  # osmnx's reply
    mine = http / "notes.txt"
    mine.write_text("a user's file in the wrong folder")

    listed = list(iter_cache(str(cache_dir)))
    assert sorted(e.path.name for e in listed) == sorted(p.name for p in graphs.glob("graph-*.npz"))
    assert sum(e.meta is not None for e in listed) == 1
    assert not any(e.path.name.startswith(TMP_PREFIX) for e in listed)

    # entry, directory, locked file, stale tmp, reply, and the extract's store
    assert clear_cache(str(cache_dir)) == 6
    assert sorted(p.name for p in graphs.iterdir()) == [fresh.name]
    assert sorted(p.name for p in http.iterdir()) == ["notes.txt", "sub"]  # never a user's file
    assert list(iter_cache(cache_dir)) == []


def test_clear_only_the_given_folder(paris_osm: Path, tmp_path: Path, cache_dir: Path) -> None:
    other = tmp_path / "other-cache"
    load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    load_graph(osm_file=paris_osm, cache_dir=other)
    assert clear_cache(other) == 2  # its graph and its store
    assert list(iter_cache(other)) == []
    assert len(list(iter_cache(cache_dir))) == 1
    assert len(list_stores(cache_dir)) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists folders whatever their permissions")
def test_unlistable_folder_gives_one_line(paris_osm: Path, cache_dir: Path) -> None:
    load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    (cache_dir / "graphs").chmod(0)
    try:
        with pytest.raises(CacheError, match="cannot list .*check its permissions"):
            clear_cache(cache_dir)
    finally:
        (cache_dir / "graphs").chmod(0o755)


def test_unsaveable_graph_is_still_returned(
    paris_osm: Path, paris_graph: WalkGraph, cache_dir: Path, monkeypatch, caplog
) -> None:
    """A full disk when the built graph is cached: the run goes on, with a warning."""

    def full_disk(fh, **_arrays):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    loaded = load_graph(osm_file=paris_osm, cache_dir=cache_dir)
    _same(loaded.graph, paris_graph)
    assert "the graph was not cached: cannot write cache file" in caplog.text
    assert list((cache_dir / "graphs").iterdir()) == []


def test_clear_removes_the_overpass_area_replies_and_notes(cache_dir: Path) -> None:
    """walks' replies (http/walks-areas, http/walks-notes) and terrain note go, nothing else."""
    kept = []
    ours = []
    for sub in ("walks-areas", "walks-notes"):
        folder = cache_dir / "http" / sub
        folder.mkdir(parents=True)
        reply = folder / f"{'ab' * 20}.json"
        reply.write_text("{}", encoding="utf-8")
        ours.append(reply)
        mine = folder / "mine.json"
        mine.write_text("a user's file", encoding="utf-8")
        kept.append(mine)
    note = cache_dir / "terrain" / "unreachable.json"
    note.parent.mkdir()
    note.write_text("{}", encoding="utf-8")
    ours.append(note)
    assert clear_cache(cache_dir, http=False) == 0
    assert all(p.exists() for p in ours)
    assert clear_cache(cache_dir) == 3
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in kept)
