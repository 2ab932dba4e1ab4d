"""The closed-way rule of ``walks.store_areas`` as one loop, compiled by numba.

``store_areas.closed_way_rings`` decides, with numpy, the area osmium makes of each closed way
of a block: rings are grouped by size and checked as tables, large ones by a sweep. ``rings``
here makes the same decisions way by way, with the same arithmetic (int64, wrapping as
numpy's does): all segment pairs for a ring of up to ``brute`` segments, a sweep along x for
larger ones, each as the numpy code does it. It is used where the PBF loops are
(``walks.pbf_jit.active``); imported only then, as numba is optional.

Bounds are not checked by numba (``boundscheck=False``): ``store_areas`` checks the offsets
against the arrays before the loop runs, and the loop reads within them only.
"""

# numba has no type information (its decorator leaves these functions untyped for mypy), and
# numpy scalars stand for ints here, as numba types them
# mypy: disable-error-code="untyped-decorator,misc,return-value,assignment"

from __future__ import annotations

from typing import Any

import numba
import numpy as np

_I64 = np.ndarray[Any, np.dtype[np.int64]]
_I8 = np.ndarray[Any, np.dtype[np.int8]]
_Bool = np.ndarray[Any, np.dtype[np.bool_]]

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)

#: Shifts a coordinate to be non-negative, for location keys (osmium's order: x, then y).
_BASE = 2**31


@_jit
def _location(x: int, y: int) -> np.uint64:
    """
    Key a location in osmium's order (x, then y).

    Parameters
    ----------
    x, y
        Its coordinates (1e-7 degree).

    Returns
    -------
    numpy.uint64
        The key.
    """
    return (np.uint64(x + _BASE) << np.uint64(32)) | np.uint64(y + _BASE)


@_jit
def _collinear_overlap(p: tuple[int, int, int, int], q: tuple[int, int, int, int]) -> bool:
    """
    Say whether two collinear segments overlap (``store_areas._cross``'s rule).

    Parameters
    ----------
    p, q
        The segments' ``(x0, y0, x1, y1)``.

    Returns
    -------
    bool
        True when, their ends sorted by location (stably), the middle two differ and the
        first two belong to different segments.
    """
    keys = np.empty(4, dtype=np.uint64)
    owners = np.empty(4, dtype=np.int64)
    ends = ((p[0], p[1], 0), (p[2], p[3], 0), (q[0], q[1], 1), (q[2], q[3], 1))
    for k in range(4):
        key = _location(ends[k][0], ends[k][1])
        owner = ends[k][2]
        at = k
        while at > 0 and keys[at - 1] > key:  # insertion: stable, as numpy's stable argsort
            keys[at] = keys[at - 1]
            owners[at] = owners[at - 1]
            at -= 1
        keys[at] = key
        owners[at] = owner
    overlap: bool = keys[1] != keys[2] and owners[0] != owners[1]
    return overlap


@_jit
def _cross(p: tuple[int, int, int, int], q: tuple[int, int, int, int]) -> bool:
    """
    Say whether osmium's ``calculate_intersection`` finds a point shared by two segments.

    The rule of ``store_areas._cross``, for one pair.

    Parameters
    ----------
    p, q
        The segments' ``(x0, y0, x1, y1)``.

    Returns
    -------
    bool
        True when they intersect.
    """
    p0x, p0y, p1x, p1y = p
    q0x, q0y, q1x, q1y = q
    e00 = p0x == q0x and p0y == q0y
    e01 = p0x == q1x and p0y == q1y
    e10 = p1x == q0x and p1y == q0y
    e11 = p1x == q1x and p1y == q1y
    if (e00 and e11) or (e01 and e10):  # the same segment
        return False
    pdx, pdy = p1x - p0x, p1y - p0y
    qdx, qdy = q1x - q0x, q1y - q0y
    d = pdx * qdy - pdy * qdx
    if d != 0:
        if e00 or e01 or e10 or e11:
            return False
        na = qdx * (p0y - q0y) - qdy * (p0x - q0x)
        nb = pdx * (p0y - q0y) - pdy * (p0x - q0x)
        if d > 0:
            return na >= 0 and na <= d and nb >= 0 and nb <= d
        return na <= 0 and na >= d and nb <= 0 and nb >= d
    if pdx * (q0y - p0y) - pdy * (q0x - p0x) != 0:
        return False
    return _collinear_overlap(p, q)


@_jit
def _pairs_hit(px: _I64, py: _I64, m: int) -> bool:
    """
    Check a ring's segments pair by pair (``store_areas._check_rings``).

    Parameters
    ----------
    px, py
        Its points, the closing one last (``m + 1`` of them).
    m
        Its number of segments.

    Returns
    -------
    bool
        True when two segments touch or cross (no area).
    """
    for i in range(m):
        c = (i + 2) % m
        ux, uy = px[i + 1] - px[i], py[i + 1] - py[i]
        vx, vy = px[c] - px[i + 1], py[c] - py[i + 1]
        if ux * vy - uy * vx == 0 and ux * vx + uy * vy < 0:  # turning back on itself
            return True
    for i in range(m):
        p = (px[i], py[i], px[i + 1], py[i + 1])
        pxlo, pxhi = min(p[0], p[2]), max(p[0], p[2])
        pylo, pyhi = min(p[1], p[3]), max(p[1], p[3])
        for j in range(i + 2, m):
            if i == 0 and j == m - 1:  # neighbours through the closing point
                continue
            q = (px[j], py[j], px[j + 1], py[j + 1])
            if (
                pxlo <= max(q[0], q[2])
                and min(q[0], q[2]) <= pxhi
                and pylo <= max(q[1], q[3])
                and min(q[1], q[3]) <= pyhi
                and _cross(p, q)
            ):
                return True
    return False


@_jit
def _sweep_hit(px: _I64, py: _I64, m: int) -> bool:
    """
    Check a ring's segments by a sweep along x (``store_areas._intersecting``).

    Parameters
    ----------
    px, py
        Its points, the closing one last (``m + 1`` of them).
    m
        Its number of segments.

    Returns
    -------
    bool
        True when two segments touch or cross (no area).
    """
    fx = np.empty(m, dtype=np.int64)
    fy = np.empty(m, dtype=np.int64)
    sx = np.empty(m, dtype=np.int64)
    sy = np.empty(m, dtype=np.int64)
    for k in range(m):
        ax, ay, bx, by = px[k], py[k], px[k + 1], py[k + 1]
        if bx < ax or (bx == ax and by < ay):
            ax, ay, bx, by = bx, by, ax, ay
        fx[k], fy[k], sx[k], sy[k] = ax, ay, bx, by
    order = np.argsort(fx, kind="mergesort")  # stable, as numpy's
    for a in range(m):
        i = order[a]
        ilo, ihi = min(fy[i], sy[i]), max(fy[i], sy[i])
        for b in range(a + 1, m):
            j = order[b]
            if fx[j] > sx[i]:
                break
            if ilo > max(fy[j], sy[j]) or min(fy[j], sy[j]) > ihi:
                continue
            if _cross((fx[i], fy[i], sx[i], sy[i]), (fx[j], fy[j], sx[j], sy[j])):
                return True
    return False


@_jit
def _points(
    x: _I64, y: _I64, lo: int, hi: int, limits: tuple[int, int, int, int], out: _I64
) -> int:
    """
    Take a closed way's points, consecutive nodes at one location as one point.

    Parameters
    ----------
    x, y
        Every way node's location.
    lo, hi
        The way's nodes.
    limits
        As ``rings`` takes them.
    out
        ``(2, n)``: the points' x and y (written here).

    Returns
    -------
    int
        The number of points, the closing one included; 0 for no area (not closed, fewer
        than four nodes, or a location off the globe).
    """
    undefined, max_lon, max_lat = limits[0], limits[1], limits[2]
    if hi - lo < 4:  # noqa: PLR2004 - after_way: more than 3 nodes
        return 0
    if x[lo] != x[hi - 1] or y[lo] != y[hi - 1] or x[lo] == undefined or y[lo] == undefined:
        return 0
    for k in range(lo, hi):
        if abs(x[k]) > max_lon or abs(y[k]) > max_lat:
            return 0
    points = 0
    for k in range(lo, hi):
        if k == lo or x[k] != x[k - 1] or y[k] != y[k - 1]:
            out[0, points], out[1, points] = x[k], y[k]
            points += 1
    return points


@_jit
def _smallest(px: _I64, py: _I64, m: int, keys: np.ndarray[Any, np.dtype[np.uint64]]) -> int:
    """
    Find a ring's smallest point, or a location it uses twice.

    Parameters
    ----------
    px, py
        Its points.
    m
        Its number of segments (points but the closing one).
    keys
        Room for ``m`` location keys.

    Returns
    -------
    int
        The smallest point's place (the first of equals), or -1 for a location used twice.
    """
    smallest = 0
    for k in range(m):
        keys[k] = _location(px[k], py[k])
        if keys[k] < keys[smallest]:
            smallest = k
    # a merge sort: numba's quicksort (ndarray.sort) goes quadratic on some rings (a comb's
    # outline of 200,000 nodes: 3 CPU-s, 400,000: 11), numpy's sort does not
    order = np.argsort(keys[:m], kind="mergesort")
    for k in range(1, m):
        if keys[order[k]] == keys[order[k - 1]]:
            return -1
    return smallest


@_jit
def rings(
    x: _I64,
    y: _I64,
    offsets: _I64,
    candidate: _Bool,
    limits: tuple[int, int, int, int],
    codes: tuple[int, int, int],
) -> tuple[_I8, _I64, _I64, _I64]:
    """
    Decide the area osmium makes of each way, and shape the plain rings.

    Parameters
    ----------
    x, y
        Every way node's location in 1e-7 degree (``undefined`` for a node not in the file).
    offsets
        ``x[offsets[i]:offsets[i + 1]]`` are way ``i``'s nodes (checked by the caller).
    candidate
        Per way: tagged and not ``area=no``.
    limits
        ``(undefined, max_lon, max_lat, brute)``: the coordinate of a location not set, the
        globe's bounds, and the largest ring checked pair by pair.
    codes
        ``(none, area, complex)``: ``store_areas``'s outcomes.

    Returns
    -------
    tuple
        Each way's outcome and its ring's length (0 unless an area), and the rings' points
        (lon, lat) one after the other.
    """
    count = offsets.size - 1
    status = np.zeros(count, dtype=np.int8)
    lengths = np.zeros(count, dtype=np.int64)
    out = np.empty((2, x.size), dtype=np.int64)
    longest = 0
    for i in range(count):
        longest = max(longest, offsets[i + 1] - offsets[i])
    ring = np.empty((2, longest), dtype=np.int64)
    px, py = ring[0], ring[1]
    keys = np.empty(longest, dtype=np.uint64)
    at = 0
    for i in range(count):
        m = _points(x, y, offsets[i], offsets[i + 1], limits, ring) - 1 if candidate[i] else -1
        if m < 3:  # noqa: PLR2004 - no area, or an empty one
            continue
        smallest = _smallest(px, py, m, keys)
        if smallest < 0:  # a location used twice: osmium splits the ring
            status[i] = codes[2]
            continue
        if _pairs_hit(px, py, m) if m <= limits[3] else _sweep_hit(px, py, m):
            continue
        det = 0
        for k in range(m):
            det += px[k] * py[k + 1] - py[k] * px[k + 1]
        for k in range(m + 1):  # counter-clockwise from the smallest point, closed
            pick = (smallest + k) % m if det > 0 else (smallest - k + 2 * m) % m
            out[0, at], out[1, at] = px[pick], py[pick]
            at += 1
        status[i] = codes[1]
        lengths[i] = m + 1
    return status, lengths, out[0, :at].copy(), out[1, :at].copy()
