"""The areas of a PBF file without osmium's pass over the whole file.

osmium makes an area of each closed tagged way and of each multipolygon relation while it reads
the whole file (libosmium's ``MultipolygonManager``), and most of an import's time went there.
Here instead:

* a closed way's area is decided and shaped from the arrays by libosmium's own rule
  (``closed_way_rings``: ``MultipolygonManager::after_way``, then the assembler's checks of the
  way's segments), vectorised over a block of ways;
* the relations' areas, and the ways the rule calls complex (a location used twice: osmium
  splits such a ring, and only osmium's assembler knows how), are made by osmium over a small
  file written from the arrays (``walks.pbf_write``): the relations, their member ways and
  the complex ways, and those ways' nodes;
* each area gets the place osmium's pass over the whole file gives it (``area_order``): the
  store is read back in file order, as osmium yields the areas.

The relations themselves come from ``walks.pbf.relations``; ``plain_relations`` gives the
walkable multipolygons as the small objects ``walks.data._walkable_multipolygon`` reads.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import pbf_jit
from walks.data import AREA_HIGHWAYS
from walks.pbf import (
    MAX_LAT,
    MAX_LON,
    UnsupportedPbfError,
    ZeroMemberError,
    runs_of,
    zero_member,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from walks.pbf import RelationBlock

log = logging.getLogger(__name__)

_I64 = np.ndarray[Any, np.dtype[np.int64]]
_U64 = np.ndarray[Any, np.dtype[np.uint64]]
_Bool = np.ndarray[Any, np.dtype[np.bool_]]

#: A way's outcome: no area row (osmium makes no area, or an empty one), an area of one plain
#: ring (``AREA``), or a ring osmium must shape (``COMPLEX``).
NONE, AREA, COMPLEX = 0, 1, 2

#: osmium's coordinate of a location not set (1e-7 degree).
UNDEFINED = 2**31 - 1

#: Ring pairs of segments handled at once (memory), and the largest ring checked by all its
#: segment pairs (larger ones: a sweep over segments sorted by x).
_CELLS = 1 << 21
_SWEEP = 16
_PAIRS_CHUNK = 1 << 22

#: Places between two areas: an area's rings take consecutive places after its own.
AREA_STEP = 2**20


@dataclass(frozen=True)
class Rings:
    """The outcome of ``closed_way_rings``.

    Attributes
    ----------
    status
        Per way: ``NONE``, ``AREA`` or ``COMPLEX``.
    starts
        ``lons[starts[i]:starts[i + 1]]`` is way ``i``'s ring (empty unless ``AREA``): as
        osmium writes it, counter-clockwise from its smallest ``(lon, lat)`` point, closed.
    lons, lats
        The rings' points (1e-7 degree).
    """

    status: np.ndarray[Any, np.dtype[np.int8]]
    starts: _I64
    lons: _I64
    lats: _I64


def closed_way_rings(x: _I64, y: _I64, offsets: _I64, candidate: _Bool) -> Rings:  # noqa: PLR0915
    """
    Decide the area osmium makes of each way, and shape it when it is one plain ring.

    libosmium's rule (``MultipolygonManager::after_way`` and the assembler): a way of four
    nodes or more, tagged and not ``area=no``, whose first and last locations are set and the
    same, is assembled. Consecutive nodes at one location are one point. With a location off
    the globe, no area; fewer than three segments, or two segments that touch or cross
    (``calculate_intersection``, in 64-bit integers), an empty area; a location used twice (the
    closing one aside) is osmium's complex case (its assembler splits the ring there). Else
    the area is the way's ring, turned counter-clockwise from its smallest location.

    Parameters
    ----------
    x, y
        Every way node's location in 1e-7 degree (``UNDEFINED`` for a node not in the file).
    offsets
        ``x[offsets[i]:offsets[i + 1]]`` are way ``i``'s nodes.
    candidate
        Per way: tagged and not ``area=no``.

    Returns
    -------
    Rings
        Each way's outcome and the plain rings.
    """
    compiled = _compiled_rings(x, y, offsets, candidate)
    if compiled is not None:
        return compiled
    count = len(offsets) - 1
    sizes = np.diff(offsets)
    status = np.zeros(count, dtype=np.int8)
    starts = np.zeros(count + 1, dtype=np.int64)
    nothing = np.zeros(0, dtype=np.int64)
    big = np.flatnonzero(candidate & (sizes >= 4))  # noqa: PLR2004 - after_way: more than 3
    first, last = offsets[:-1][big], offsets[1:][big] - 1
    closed = (x[first] == x[last]) & (y[first] == y[last]) & (x[first] != UNDEFINED)
    closed &= y[first] != UNDEFINED
    ways, first = big[closed], first[closed]
    if not ways.size:
        return Rings(status, starts, nothing, nothing)
    n = sizes[ways]
    heads = np.concatenate(([0], np.cumsum(n)[:-1]))
    at = np.repeat(first - heads, n) + np.arange(int(n.sum()))
    xs, ys = x[at], y[at]
    valid = (np.abs(xs) <= MAX_LON) & (np.abs(ys) <= MAX_LAT)
    whole = np.add.reduceat(~valid, heads) == 0  # off the globe: no area
    # consecutive nodes at one location are one point; a way's first node is always kept
    keep = np.ones(at.size, dtype=bool)
    keep[1:] = (xs[1:] != xs[:-1]) | (ys[1:] != ys[:-1])
    keep[heads] = True
    owner = np.repeat(np.arange(ways.size), n)
    keep &= whole[owner]
    xs, ys, owner = xs[keep], ys[keep], (np.cumsum(whole) - 1)[owner[keep]]
    ways = ways[whole]
    points = np.bincount(owner, minlength=ways.size)  # the closing point included
    segments = points - 1
    begin = np.concatenate(([0], np.cumsum(points)[:-1]))
    local = np.full(ways.size, AREA, dtype=np.int8)
    local[segments < 3] = NONE  # noqa: PLR2004 - an empty area
    key = (xs + 2**31).astype(np.uint64) << np.uint64(32) | (ys + 2**31).astype(np.uint64)
    smallest = np.zeros(ways.size, dtype=np.int64)
    # rings grouped by size, each group as a table of (ring, point)
    bucket = np.maximum(4, 1 << np.ceil(np.log2(np.maximum(segments, 1))).astype(np.int64))
    bucket[segments < 3] = 0  # noqa: PLR2004
    swept: list[_I64] = []
    for size in np.unique(bucket).tolist():
        if size == 0:
            continue
        rings = np.flatnonzero(bucket == size)
        if size > _SWEEP:
            swept.append(rings)
        step = max(1, _CELLS // (size * size)) if size <= _SWEEP else rings.size
        for a in range(0, rings.size, step):
            _check_rings(rings[a : a + step], size, (xs, ys, key), (begin, segments),
                         (local, smallest), sweep=size > _SWEEP)  # fmt: skip
    if swept:
        rings = np.concatenate(swept)
        rings = rings[local[rings] == AREA]
        chosen = np.zeros(ways.size, dtype=bool)
        chosen[rings] = True
        closing = np.zeros(xs.size, dtype=bool)
        closing[begin + points - 1] = True
        seg = np.flatnonzero(np.repeat(chosen, points) & ~closing)
        local[_intersecting(xs, ys, owner, seg, ways.size) & (local == AREA)] = NONE
    status[ways] = local
    # the rings: counter-clockwise (osmium's ProtoRing::fix_direction), from the smallest point
    good = np.flatnonzero(local == AREA)
    if not good.size:
        return Rings(status, starts, nothing, nothing)
    det = np.append(xs[:-1] * ys[1:] - ys[:-1] * xs[1:], 0)
    det[begin + points - 1] = 0  # no segment from a closing point to the next way's first
    ccw = np.add.reduceat(det, begin) > 0
    m = segments[good]
    out = m + 1
    ring = np.repeat(good, out)
    k = np.arange(int(out.sum())) - np.repeat(np.concatenate(([0], np.cumsum(out)[:-1])), out)
    mm = np.repeat(m, out)
    r0 = np.repeat(smallest[good], out)
    pick = np.where(np.repeat(ccw[good], out), (r0 + k) % mm, (r0 - k) % mm) + begin[ring]
    lengths = np.zeros(count, dtype=np.int64)
    lengths[ways[good]] = out
    starts[1:] = np.cumsum(lengths)
    return Rings(status, starts, xs[pick], ys[pick])


@cache
def _ring_loop() -> Any:  # noqa: ANN401 - numba's compiled function (no types)
    """
    Load the compiled closed-way rule, once, and run it on one ring (as ``pbf_jit`` does).

    Returns
    -------
    function or None
        ``walks.ring_loops.rings``, or None when numba cannot compile or load it.
    """
    try:
        with warnings.catch_warnings():  # numba's own (a cache it cannot write): not the user's
            warnings.simplefilter("ignore")
            # numba: optional, heavy (imported by name: a module made unimportable stays so)
            ring_loops = importlib.import_module("walks.ring_loops")
            rings = ring_loops.rings
            square = np.array([0, 10, 10, 0, 0], dtype=np.int64)
            rings(square, np.roll(square, 1), np.array([0, 5]), np.ones(1, dtype=bool),
                  (UNDEFINED, MAX_LON, MAX_LAT, _SWEEP), (NONE, AREA, COMPLEX))  # fmt: skip
            pbf_jit.after_compiling(ring_loops)  # (a first compile's garbage)
    except Exception as err:  # noqa: BLE001 - any failure of numba's: numpy decides
        log.warning("the compiled closed-way rule is not used (%s): numpy decides", err)
        return None
    return rings


def _compiled_rings(x: _I64, y: _I64, offsets: _I64, candidate: _Bool) -> Rings | None:
    """
    Run ``closed_way_rings`` by its compiled loop, where the PBF loops are in use.

    Parameters
    ----------
    x, y, offsets, candidate
        As ``closed_way_rings`` takes them.

    Returns
    -------
    Rings or None
        The outcome, or None when numpy is to decide.

    Raises
    ------
    ValueError
        For offsets outside the arrays (the loop reads unchecked).
    """
    if not pbf_jit.active():
        return None
    loop = _ring_loop()
    if loop is None:
        return None
    x, y = np.ascontiguousarray(x, dtype=np.int64), np.ascontiguousarray(y, dtype=np.int64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    candidate = np.ascontiguousarray(candidate, dtype=bool)
    if (
        x.size != y.size
        or offsets.size < 1
        or candidate.size != offsets.size - 1
        or int(offsets[0]) < 0
        or int(offsets[-1]) > x.size
        or bool((offsets[1:] < offsets[:-1]).any())
    ):
        msg = "ways' offsets outside their nodes"
        raise ValueError(msg)
    status, lengths, lons, lats = loop(
        x, y, offsets, candidate, (UNDEFINED, MAX_LON, MAX_LAT, _SWEEP), (NONE, AREA, COMPLEX)
    )
    starts = np.zeros(offsets.size, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return Rings(status, starts, lons, lats)


def _check_rings(
    rings: _I64,
    size: int,
    points: tuple[_I64, _I64, _U64],
    spans: tuple[_I64, _I64],
    found: tuple[np.ndarray[Any, np.dtype[np.int8]], _I64],
    *,
    sweep: bool,
) -> None:
    """
    Check rings of up to ``size`` segments, as a table: repeated locations, touching segments.

    Parameters
    ----------
    rings
        The rings.
    size
        Their group's size (a power of two).
    points
        Every point's x, y and location key.
    spans
        Each ring's first point and its number of segments.
    found
        Each ring's outcome (changed here) and the place of its smallest point (set here).
    sweep
        Only find the smallest point and repeated locations (the segments are checked by a
        sweep after).
    """
    xs, ys, key = points
    begin, segments = spans
    local, smallest = found
    cols = np.arange(size)
    m = segments[rings][:, None]
    idx = begin[rings][:, None] + np.minimum(cols, m - 1)
    pad = cols >= m
    keys = np.where(pad, np.uint64(2**64 - 1) - cols.astype(np.uint64), key[idx])
    smallest[rings] = np.argmin(keys, axis=1)
    ordered = np.sort(keys, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    local[rings[repeated]] = COMPLEX
    if sweep:
        return
    rest = ~repeated
    rings, idx, m = rings[rest], idx[rest], m[rest]
    if not rings.size:
        return
    # segment t: point t -> t + 1 (the closing point is the last point's next)
    ax, ay, bx, by = xs[idx], ys[idx], xs[idx + 1], ys[idx + 1]
    # neighbouring segments overlap only when collinear and turning back
    after = begin[rings][:, None] + (np.minimum(cols, m - 1) + 2) % m
    cx, cy = xs[after], ys[after]
    ux, uy, vx, vy = bx - ax, by - ay, cx - bx, cy - by
    back = ((ux * vy - uy * vx) == 0) & ((ux * vx + uy * vy) < 0) & (cols < m)
    hit = back.any(axis=1)
    # other pairs: boxes first
    pi, pj = _pairs(size)
    usable = (pj[None, :] < m) & ~((pi[None, :] == 0) & (pj[None, :] == m - 1))
    xlo, xhi = np.minimum(ax, bx), np.maximum(ax, bx)
    ylo, yhi = np.minimum(ay, by), np.maximum(ay, by)
    near = (
        usable
        & (xlo[:, pi] <= xhi[:, pj]) & (xlo[:, pj] <= xhi[:, pi])
        & (ylo[:, pi] <= yhi[:, pj]) & (ylo[:, pj] <= yhi[:, pi])
    )  # fmt: skip
    row, col = np.nonzero(near)
    if row.size:
        i, j = pi[col], pj[col]
        crossing = _cross((ax[row, i], ay[row, i], bx[row, i], by[row, i]),
                          (ax[row, j], ay[row, j], bx[row, j], by[row, j]))  # fmt: skip
        hit[row[crossing]] = True
    local[rings[hit]] = NONE


@cache
def _pairs(size: int) -> tuple[_I64, _I64]:
    """
    List the segment pairs ``(i, j)``, ``j >= i + 2``, of a ring of up to ``size`` segments.

    Parameters
    ----------
    size
        The number of segments.

    Returns
    -------
    tuple of numpy.ndarray
        The pairs' ``i`` and ``j``.
    """
    i, j = np.triu_indices(size, 2)
    return i.astype(np.int64), j.astype(np.int64)


def _intersecting(xs: _I64, ys: _I64, owner: _I64, seg: _I64, rings: int) -> _Bool:
    """
    Say which rings have two segments osmium calls intersecting (a sweep along x).

    Parameters
    ----------
    xs, ys
        Every point.
    owner
        Each point's ring.
    seg
        The segments to check (segment ``k``: point ``k`` to ``k + 1``).
    rings
        The number of rings.

    Returns
    -------
    numpy.ndarray
        Per ring.
    """
    hit = np.zeros(rings, dtype=bool)
    if not seg.size:
        return hit
    ax, ay, bx, by = xs[seg], ys[seg], xs[seg + 1], ys[seg + 1]
    swap = (bx < ax) | ((bx == ax) & (by < ay))
    fx, fy = np.where(swap, bx, ax), np.where(swap, by, ay)
    sx, sy = np.where(swap, ax, bx), np.where(swap, ay, by)
    w = owner[seg]
    shift = np.int64(2**33)
    key = w * shift + (fx + 2**31)
    order = np.argsort(key, kind="stable")
    fx, fy, sx, sy, w, key = fx[order], fy[order], sx[order], sy[order], w[order], key[order]
    ylo, yhi = np.minimum(fy, sy), np.maximum(fy, sy)
    end = np.searchsorted(key, w * shift + (sx + 2**31), side="right")
    count = end - np.arange(key.size) - 1
    cum = np.concatenate(([0], np.cumsum(count)))
    at = 0
    while at < key.size:
        stop = max(int(np.searchsorted(cum, cum[at] + _PAIRS_CHUNK, side="right")) - 1, at + 1)
        c = count[at:stop]
        i = np.repeat(np.arange(at, stop), c)
        j = i + 1 + (np.arange(int(c.sum())) - np.repeat(cum[at:stop] - cum[at], c))
        overlap = ~((ylo[i] > yhi[j]) | (ylo[j] > yhi[i]))
        i, j = i[overlap], j[overlap]
        crossing = _cross((fx[i], fy[i], sx[i], sy[i]), (fx[j], fy[j], sx[j], sy[j]))
        hit[w[i[crossing]]] = True
        at = stop
    return hit


def _cross(p: tuple[_I64, _I64, _I64, _I64], q: tuple[_I64, _I64, _I64, _I64]) -> _Bool:
    """
    Say whether osmium's ``calculate_intersection`` finds a point shared by two segments.

    Segments sharing an end point do not intersect, unless collinear and overlapping; the
    same segment twice does not either (osmium finds those otherwise).

    Parameters
    ----------
    p, q
        The segments' ``(x0, y0, x1, y1)``, arrays of pairs.

    Returns
    -------
    numpy.ndarray
        Per pair.
    """
    p0x, p0y, p1x, p1y = p
    q0x, q0y, q1x, q1y = q
    pdx, pdy = p1x - p0x, p1y - p0y
    qdx, qdy = q1x - q0x, q1y - q0y
    d = pdx * qdy - pdy * qdx
    e00 = (p0x == q0x) & (p0y == q0y)
    e01 = (p0x == q1x) & (p0y == q1y)
    e10 = (p1x == q0x) & (p1y == q0y)
    e11 = (p1x == q1x) & (p1y == q1y)
    same = (e00 & e11) | (e01 & e10)
    shared = e00 | e01 | e10 | e11
    na = qdx * (p0y - q0y) - qdy * (p0x - q0x)
    nb = pdx * (p0y - q0y) - pdy * (p0x - q0x)
    crossing = (
        (d != 0)
        & ~shared
        & (
            ((d > 0) & (na >= 0) & (na <= d) & (nb >= 0) & (nb <= d))
            | ((d < 0) & (na <= 0) & (na >= d) & (nb <= 0) & (nb >= d))
        )
    )
    out: _Bool = crossing & ~same
    col = np.flatnonzero((d == 0) & ~same & ((pdx * (q0y - p0y) - pdy * (q0x - p0x)) == 0))
    if col.size:
        # collinear: they overlap when, ends sorted by location, the middle two differ and
        # the first two belong to different segments
        base = np.int64(2**31)
        keys = np.stack(
            [_location(ax[col] + base, ay[col] + base)
             for ax, ay in ((p0x, p0y), (p1x, p1y), (q0x, q0y), (q1x, q1y))],
            axis=1,
        )  # fmt: skip
        owner = np.array([0, 0, 1, 1])
        order = np.argsort(keys, axis=1, kind="stable")
        ordered = np.take_along_axis(keys, order, axis=1)
        owners = owner[order]
        out[col] = (ordered[:, 1] != ordered[:, 2]) & (owners[:, 0] != owners[:, 1])
    return out


def _location(x: _I64, y: _I64) -> _U64:
    """
    Order locations as osmium does (x, then y), as one unsigned key.

    Parameters
    ----------
    x, y
        Coordinates shifted to be non-negative.

    Returns
    -------
    numpy.ndarray
        The keys.
    """
    return (x.astype(np.uint64) << np.uint64(32)) | y.astype(np.uint64)


@dataclass(frozen=True)
class Tag:
    """A tag, as pyosmium's ``Tag`` reads (``k``, ``v``)."""

    k: str
    v: str


@dataclass(frozen=True)
class Tags:
    """A tag list, as pyosmium's ``TagList`` reads: ``get`` gives a key's first value."""

    pairs: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        """
        Give a key's first value.

        Parameters
        ----------
        key
            The key.
        default
            When the key is not there.

        Returns
        -------
        str or None
            The value.
        """
        return next((v for k, v in self.pairs if k == key), default)

    def __iter__(self) -> Iterator[Tag]:
        """
        Walk the tags in their order.

        Yields
        ------
        Tag
            Each tag.
        """
        for k, v in self.pairs:
            yield Tag(k, v)


@dataclass(frozen=True)
class Member:
    """A relation member, as pyosmium's ``RelationMember`` reads (type ``n``, ``w`` or ``r``)."""

    type: str
    ref: int
    role: str


@dataclass(frozen=True)
class Relation:
    """A relation read as arrays, as ``walks.data._walkable_multipolygon`` reads one."""

    id: int
    tags: Tags
    members: tuple[Member, ...]


#: Member types as PBF numbers them.
_TYPES = "nwr"


@dataclass(frozen=True)
class FileRelations:
    """What the store needs of a file's relations.

    Attributes
    ----------
    walkable
        The walkable multipolygons' candidates (``type=multipolygon`` and a ``highway`` of
        ``AREA_HIGHWAYS``), in file order.
    blocks
        The relation blocks.
    chosen
        Per block, the relations osmium makes areas of (``MultipolygonManager::new_relation``:
        a ``type`` of ``multipolygon`` or ``boundary``, a way member).
    newest
        The newest timestamp after 1970 (seconds), or -1.
    """

    walkable: list[Relation]
    blocks: list[RelationBlock]
    chosen: list[_I64]
    newest: int

    @classmethod
    def of(cls, blocks: list[RelationBlock]) -> FileRelations:
        """
        Pick the relations from their blocks.

        Parameters
        ----------
        blocks
            The file's relation blocks, in file order.

        Returns
        -------
        FileRelations
            The relations.

        Raises
        ------
        ZeroMemberError
            For a multipolygon with a way member of id 0 (osmium crashes on it).
        UnsupportedPbfError
            For relations out of order, or a relation or member of id 0 or less (osmium's
            reading decides about those).
        """
        walkable: list[Relation] = []
        chosen: list[_I64] = []
        newest = last = -1
        for block in blocks:
            newest = max(newest, block.newest)
            ids = block.ids
            if ids.size and (int(ids[0]) <= last or not bool((ids[1:] > ids[:-1]).all())):
                # one relation twice would be two areas of one id: osmium's to place
                msg = "relations out of order"
                raise UnsupportedPbfError(msg)
            last = int(ids[-1]) if ids.size else last
            types = _first_values(block, "type")
            squares = _first_values(block, "highway")
            pick = areas_of(block, types)
            index, _ = runs_of(block.member_offsets, pick)
            if zero_member([block.subset(pick)]):
                msg = "a multipolygon with a way member of id 0"
                raise ZeroMemberError(msg)
            if (pick.size and int(block.ids[pick].min()) <= 0) or (
                index.size and int(block.member_ids[index].min()) <= 0
            ):
                msg = "a relation or member of id 0 or less"
                raise UnsupportedPbfError(msg)
            chosen.append(pick)
            squared = (types[pick] == "multipolygon") & np.isin(squares[pick], list(AREA_HIGHWAYS))
            walkable += [_relation(block, i) for i in pick[squared].tolist()]
        return cls(walkable, blocks, chosen, newest)

    def walkable_members(self) -> set[int]:
        """
        Name the member ways of the walkable multipolygons.

        Returns
        -------
        set of int
            Their ids.
        """
        return {m.ref for r in self.walkable for m in r.members if m.type == "w"}

    def elements(self) -> tuple[_I64, _I64, _I64]:
        """
        List the way members of the relations osmium makes areas of (its member database).

        Returns
        -------
        tuple of numpy.ndarray
            Each member's relation (its place among these relations), place among the
            relation's members, and way id.
        """
        relation, number, way = [], [], []
        seen = 0
        for block, pick in zip(self.blocks, self.chosen, strict=True):
            index, starts = runs_of(block.member_offsets, pick)
            ways = block.member_types[index] == 1
            owner = np.repeat(np.arange(seen, seen + pick.size), np.diff(starts))
            relation.append(owner[ways])
            number.append((index - np.repeat(block.member_offsets[pick], np.diff(starts)))[ways])
            way.append(block.member_ids[index][ways])
            seen += pick.size
        if not relation:
            none = np.zeros(0, dtype=np.int64)
            return none, none, none
        return np.concatenate(relation), np.concatenate(number), np.concatenate(way)

    def count(self) -> int:
        """
        Count the relations osmium makes areas of.

        Returns
        -------
        int
            How many.
        """
        return sum(p.size for p in self.chosen)

    def ids(self) -> _I64:
        """
        Name the relations osmium makes areas of.

        Returns
        -------
        numpy.ndarray
            Their ids, in file order.
        """
        if not self.blocks:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([b.ids[p] for b, p in zip(self.blocks, self.chosen, strict=True)])


def areas_of(block: RelationBlock, types: np.ndarray[Any, Any] | None = None) -> _I64:
    """
    Pick the relations of a block osmium makes areas of (``MultipolygonManager::new_relation``).

    Parameters
    ----------
    block
        The relations.
    types
        Their first ``type`` values, when known.

    Returns
    -------
    numpy.ndarray
        The places of those of ``type`` ``multipolygon`` or ``boundary`` with a way member.
    """
    if types is None:
        types = _first_values(block, "type")
    runs = np.concatenate(([0], np.cumsum(block.member_types == 1)))
    offsets = block.member_offsets
    with_ways = runs[offsets[1:]] > runs[offsets[:-1]]
    return np.flatnonzero(np.isin(types, ["multipolygon", "boundary"]) & with_ways)


def _first_values(block: RelationBlock, key: str) -> np.ndarray[Any, np.dtype[np.object_]]:
    """
    Give each relation's first value of a key (osmium's ``get_value_by_key``).

    Parameters
    ----------
    block
        The relations.
    key
        The key.

    Returns
    -------
    numpy.ndarray
        Per relation, the value or None.
    """
    out = np.full(len(block.ids), None, dtype=object)
    named = [k for k, text in enumerate(block.strings) if text == key]
    if not named:
        return out
    owner = np.repeat(np.arange(len(block.ids)), np.diff(block.tag_offsets))
    at = np.flatnonzero(np.isin(block.keys, named))
    relations, first = np.unique(owner[at], return_index=True)
    strings = np.array(block.strings, dtype=object)
    out[relations] = strings[block.values[at[first]]]
    return out


def _relation(block: RelationBlock, i: int) -> Relation:
    """
    Make one relation of a block.

    Parameters
    ----------
    block
        The relations.
    i
        Which.

    Returns
    -------
    Relation
        The relation.
    """
    strings = block.strings
    a, b = int(block.tag_offsets[i]), int(block.tag_offsets[i + 1])
    tags = tuple(zip([strings[k] for k in block.keys[a:b].tolist()],
                     [strings[v] for v in block.values[a:b].tolist()], strict=True))  # fmt: skip
    a, b = int(block.member_offsets[i]), int(block.member_offsets[i + 1])
    members = tuple(
        Member(_TYPES[t], ref, strings[role])
        for t, ref, role in zip(block.member_types[a:b].tolist(), block.member_ids[a:b].tolist(),
                                block.roles[a:b].tolist(), strict=True)
    )  # fmt: skip
    return Relation(int(block.ids[i]), Tags(tags), members)


def area_order(
    way_events: tuple[_I64, _I64],
    relations: FileRelations,
    found: tuple[_I64, _I64],
    first: int,
) -> tuple[_I64, _I64, _Bool]:
    """
    Give each area the place osmium's pass over the whole file gives it.

    libosmium's ``RelationsManager::handle_way``: when a way is read, each relation it
    completes (its last member way read) is assembled first, in the order of the member
    database (the way's place among the relation's members, then the relation's order among
    the relations); then ``after_way`` makes the way's own area. Each area takes ``AREA_STEP``
    places, its rings the first of them.

    Parameters
    ----------
    way_events
        The ways whose own areas are made, and their places among the file's ways.
    relations
        The relations osmium makes areas of.
    found
        Their member ways in the file (ids, sorted) and those ways' places among the ways.
    first
        The first area's place.

    Returns
    -------
    tuple of numpy.ndarray
        Each way's area place (in ``way_events``' order), each relation's place (meaningless
        where it is not complete), and which relations are complete.

    Raises
    ------
    UnsupportedPbfError
        When the places would run past 2**62 (the railways' places).
    """
    ways, at = found
    relation, number, way = relations.elements()
    count = relations.count()
    where = np.minimum(np.searchsorted(ways, way), max(ways.size - 1, 0))
    there = (ways[where] == way) if ways.size else np.zeros(way.size, dtype=bool)
    complete = np.ones(count, dtype=bool)
    complete[relation[~there]] = False  # a member way missing: osmium never completes it
    keep = complete[relation]
    relation, number, step = relation[keep], number[keep], at[where[keep]]
    # the member that completes a relation: its last way read, at its last place among them
    order = np.lexsort((number, step, relation))
    ends = np.append(relation[order][1:] != relation[order][:-1], relation.size > 0)
    last = order[np.flatnonzero(ends[: relation.size])]
    done = np.flatnonzero(complete)
    n_ways = len(way_events[0])
    steps = np.concatenate((2 * way_events[1] + 1, 2 * step[last]))
    member = np.concatenate((np.zeros(n_ways, np.int64), number[last]))
    rank = np.concatenate((np.zeros(n_ways, np.int64), done))
    events = np.lexsort((rank, member, steps))
    place = np.empty(n_ways + done.size, dtype=np.int64)
    place[events] = first + np.arange(n_ways + done.size, dtype=np.int64) * AREA_STEP
    if place.size and int(place.max()) + AREA_STEP >= 2**62:
        msg = "too many areas"
        raise UnsupportedPbfError(msg)
    relation_places = np.zeros(count, dtype=np.int64)
    relation_places[done] = place[n_ways:]
    return place[:n_ways], relation_places, complete
