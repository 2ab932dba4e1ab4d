"""Review of the region-store import's session: defects found, each as a test."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from walks import pbf_jit, store, store_areas
from walks.errors import CacheError

if TYPE_CHECKING:
    from pathlib import Path


def _comb(nodes: int) -> tuple[Any, ...]:
    """One closed way, a comb's outline: teeth 1e8 high, 10 apart, a base under them."""
    teeth = nodes // 2
    x = np.repeat(np.arange(teeth, dtype=np.int64) * 10, 2)
    y = np.tile(np.array([0, 10**8], dtype=np.int64), teeth)
    y[2::4], y[3::4] = 10**8, 0
    x = np.concatenate((x, [x[-1], 0, x[0]]))
    y = np.concatenate((y, [-10, -10, y[0]]))
    return x, y, np.array([0, x.size], dtype=np.int64), np.ones(1, dtype=bool)


def test_a_huge_closed_way_is_not_quadratic_in_the_compiled_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """numba's quicksort went quadratic on a comb's keys: 300,000 nodes took ~6 CPU-s."""
    pytest.importorskip("numba")
    x, y, offsets, candidate = _comb(300_000)
    start = time.process_time()
    plain = store_areas.closed_way_rings(x, y, offsets, candidate)
    numpy_cpu = time.process_time() - start
    monkeypatch.setenv("WALKS_JIT", "1")
    with pbf_jit.engaged(0) as used:
        assert used
        store_areas.closed_way_rings(*_comb(20))  # compiled (or loaded) before the clock
        start = time.process_time()
        compiled = store_areas.closed_way_rings(x, y, offsets, candidate)
        compiled_cpu = time.process_time() - start
    assert plain.status.tolist() == [store_areas.AREA]
    for name in ("status", "starts", "lons", "lats"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(compiled, name))
    assert compiled_cpu < max(1.0, 5 * numpy_cpu), (compiled_cpu, numpy_cpu)


_SMALL_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version='0.6'>
<node id='1' version='1' lat='48.1' lon='11.5'/>
<node id='2' version='1' lat='48.1003' lon='11.5'/>
<node id='3' version='1' lat='48.1003' lon='11.5004'/>
<way id='1' version='1'><nd ref='1'/><nd ref='2'/><nd ref='3'/><tag k='highway' v='footway'/></way>
</osm>
"""


def test_a_store_of_another_format_is_never_read_as_this_one(tmp_path: Path) -> None:
    """Version 6 held doubles where 7 holds int32: read as 7, a way got 8 wrong coordinates.

    Found current, then replaced (by an older walks sharing the cache) before its rows are
    read: the reading names the store and the fix instead.
    """
    osm = tmp_path / "small.osm"
    osm.write_text(_SMALL_OSM, encoding="utf-8")
    cache = tmp_path / "cache"
    info = store.import_extract(osm, cache)
    assert store.load_ways(osm, None, cache).ways[0].lats == (48.1, 48.1003, 48.1003)
    with contextlib.closing(sqlite3.connect(info.path)) as db, db:
        db.execute("UPDATE meta SET value = '6' WHERE key = 'version'")
    with pytest.raises(CacheError, match="format '6'.*walks import"):
        store.load_ways(osm, None, cache)
    with pytest.raises(CacheError, match="format '6'"):
        store.load_features(osm, None, lambda _: True, cache)
