"""Review of the region-store import's session: defects found, each as a test."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from walks import pbf_jit, store_areas

pytest.importorskip("numba")


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
