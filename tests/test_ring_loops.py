"""The compiled closed-way rule (walks.ring_loops) decides exactly as the numpy one."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from walks import pbf_jit, store_areas
from walks.pbf import MAX_LAT, MAX_LON

if TYPE_CHECKING:
    from collections.abc import Iterator

pytest.importorskip("numba")

_FIELDS = ("status", "starts", "lons", "lats")


def _compiled(monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """Run inside the PBF loops' context, as an import of a large file does."""
    monkeypatch.setenv("WALKS_JIT", "1")
    return pbf_jit.engaged(0)


def _both(
    monkeypatch: pytest.MonkeyPatch, x: Any, y: Any, offsets: Any, candidate: Any
) -> tuple[store_areas.Rings, store_areas.Rings]:
    """The numpy rule's outcome, then the compiled loop's."""
    plain = store_areas.closed_way_rings(x, y, offsets, candidate)
    assert not pbf_jit.active()
    with _compiled(monkeypatch) as used:
        assert used
        compiled = store_areas.closed_way_rings(x, y, offsets, candidate)
    return plain, compiled


def _assert_same(plain: store_areas.Rings, compiled: store_areas.Rings) -> None:
    for name in _FIELDS:
        a, b = getattr(plain, name), getattr(compiled, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)


_SIZES = (0, 2, 3, 4, 5, 6, 8, 12, 16, 17, 18, 24, 40)


def _ways(
    rng: np.random.Generator, count: int, values: np.ndarray[Any, Any], sizes: tuple[int, ...]
) -> tuple[Any, ...]:
    """Random ways over a few coordinate values: closed or not, repeated, crossing, unknown."""
    xs, ys, lengths = [], [], []
    for _ in range(count):
        n = int(rng.choice(sizes))
        x, y = rng.choice(values, n), rng.choice(values, n)
        if n and rng.random() < 0.8:  # closed, mostly
            x[-1], y[-1] = x[0], y[0]
        if n > 2 and rng.random() < 0.2:  # a node repeated at once: one point
            k = int(rng.integers(1, n - 1))
            x[k], y[k] = x[k - 1], y[k - 1]
        if n and rng.random() < 0.05:
            x[int(rng.integers(n))] = store_areas.UNDEFINED
        if n and rng.random() < 0.05:
            y[int(rng.integers(n))] = MAX_LAT + 1
        xs.append(x)
        ys.append(y)
        lengths.append(n)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    x = np.concatenate(xs).astype(np.int64)
    y = np.concatenate(ys).astype(np.int64)
    return x, y, offsets, rng.random(count) < 0.9


@pytest.mark.parametrize(
    ("values", "sizes"),
    [
        (np.arange(4), _SIZES),  # a tiny grid: touching, collinear and doubled-back segments
        (np.arange(-3, 9) * 7, _SIZES),
        # the globe's edges: the segment tests' products pass int64 and wrap, alike
        (np.array([-MAX_LON, -MAX_LON // 2, 0, 1, MAX_LAT, MAX_LON - 1, MAX_LON]), _SIZES),
    ],
)
def test_random_ways_get_the_numpy_rules_areas(
    values: np.ndarray[Any, Any], sizes: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(int(values.sum()) % 1000)
    outcomes = np.zeros(3, dtype=np.int64)
    for _ in range(6):
        plain, compiled = _both(monkeypatch, *_ways(rng, 500, values, sizes))
        _assert_same(plain, compiled)
        outcomes += np.bincount(plain.status, minlength=3)
    assert (outcomes > 0).all(), outcomes  # no area, plain rings and complex ones all met


def test_swept_rings_that_touch_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Star-shaped rings of over 16 segments on a coarse grid: rounding makes their segments
    touch, run along each other or meet at the very x where the sweep's window ends."""
    rng = np.random.default_rng(11)
    xs, ys, sizes = [], [], []
    for _ in range(3000):
        n = int(rng.integers(17, 30))
        angle = np.sort(rng.random(n)) * 2 * np.pi
        radius = rng.integers(4, 14, n)
        x = np.rint(np.cos(angle) * radius).astype(np.int64) + 20
        y = np.rint(np.sin(angle) * radius).astype(np.int64) + 20
        xs.append(np.append(x, x[0]))
        ys.append(np.append(y, y[0]))
        sizes.append(n + 1)
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    candidate = np.ones(len(sizes), dtype=bool)
    plain, compiled = _both(monkeypatch, np.concatenate(xs), np.concatenate(ys), offsets, candidate)
    _assert_same(plain, compiled)
    assert (np.bincount(plain.status, minlength=3) > 100).all()


def test_real_rings_of_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rings of up to 300 points that cross themselves or not, small and swept."""
    rng = np.random.default_rng(3)
    xs, ys, sizes = [], [], []
    for n in [*range(4, 40), 64, 100, 300] * 4:
        angle = np.sort(rng.random(n - 1)) * 2 * np.pi
        radius = 1000 + rng.integers(0, 400, n - 1) * (rng.random() < 0.5)
        x = (np.cos(angle) * radius).astype(np.int64) + 115_000_000
        y = (np.sin(angle) * radius).astype(np.int64) + 481_000_000
        if rng.random() < 0.5:
            x, y = x[::-1], y[::-1]  # clockwise
        if rng.random() < 0.3:  # two points swapped: the ring may cross itself
            i, j = rng.integers(0, n - 1, 2)
            x[[i, j]], y[[i, j]] = x[[j, i]], y[[j, i]]
        xs.append(np.append(x, x[0]))
        ys.append(np.append(y, y[0]))
        sizes.append(n)
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    candidate = np.ones(len(sizes), dtype=bool)
    plain, compiled = _both(monkeypatch, np.concatenate(xs), np.concatenate(ys), offsets, candidate)
    _assert_same(plain, compiled)
    assert (plain.status == store_areas.AREA).sum() > len(sizes) // 3


def test_offsets_outside_the_nodes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    x = y = np.zeros(4, dtype=np.int64)
    with _compiled(monkeypatch), pytest.raises(ValueError, match="offsets"):
        store_areas.closed_way_rings(x, y, np.array([0, 9]), np.ones(1, dtype=bool))
    with _compiled(monkeypatch), pytest.raises(ValueError, match="offsets"):
        store_areas.closed_way_rings(x, y, np.array([3, 1]), np.ones(1, dtype=bool))


def test_a_numba_that_cannot_load_the_loop_leaves_it_to_numpy(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    x, y, offsets, candidate = _ways(np.random.default_rng(1), 200, np.arange(5), _SIZES)
    expected = store_areas.closed_way_rings(x, y, offsets, candidate)
    store_areas._ring_loop.cache_clear()
    monkeypatch.setitem(sys.modules, "walks.ring_loops", None)  # its import fails
    try:
        with caplog.at_level(logging.WARNING, logger="walks.store_areas"), _compiled(monkeypatch):
            got = store_areas.closed_way_rings(x, y, offsets, candidate)
    finally:
        store_areas._ring_loop.cache_clear()
    _assert_same(expected, got)
    assert "closed-way rule is not used" in caplog.text


def _touching_rings(*, long: bool) -> list[np.ndarray[Any, Any]]:
    """A ring whose one corner lies on another of its sides (osmium: an empty area), turned,
    mirrored, walked both ways and from other corners; ``long``: over 16 segments (swept)."""
    corners = np.array([(0, 0), (10, 0), (10, 10), (5, 0), (0, 10)], dtype=np.int64)
    if long:  # more points along the sides that touch nothing
        side = [(10, k) for k in range(1, 10)] + [(0, 10 - k) for k in range(1, 10)]
        corners = np.array([(0, 0), (10, 0), *side[:9], (10, 10), (5, 0), (0, 10), *side[9:]])
    out = []
    for turns in range(4):
        for mirror in (1, -1):
            for step in (1, -1):
                for start in (0, 2):
                    ring = np.roll(corners[::step], start, axis=0) * (mirror, 1)
                    ring = np.rot90(np.eye(2, dtype=np.int64), turns) @ ring.T
                    out.append(np.column_stack((ring[0], ring[1])) + 1000)
    return out


@pytest.mark.parametrize("long", [False, True])
def test_a_corner_on_a_side_is_an_empty_area(long: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    rings = _touching_rings(long=long)
    closed = [np.vstack((r, r[:1])) for r in rings]
    offsets = np.concatenate(([0], np.cumsum([len(r) for r in closed]))).astype(np.int64)
    xy = np.vstack(closed)
    plain, compiled = _both(monkeypatch, xy[:, 0], xy[:, 1], offsets, np.ones(len(rings), bool))
    _assert_same(plain, compiled)
    assert (plain.status == store_areas.NONE).all()
