"""The graph cache: reuse, corruption, atomic writes, listing and clearing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from walks.cache import clear_cache, iter_cache, load_cached_graph, save_graph
from walks.errors import CacheError
from walks.graph import WalkGraph
from walks.loader import load_graph


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
    assert clear_cache(cache_dir) == 2
    assert list(iter_cache(cache_dir)) == []
