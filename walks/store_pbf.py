"""The store rows of a PBF file's nodes and ways, read as arrays (``walks.pbf``).

``walks.store`` reads an extract with osmium, whose Python objects cost a few microseconds
each. For a PBF file, the tagged nodes, walkable ways and railways are read here instead, a
block at a time with numpy: only the ways that can matter (a ``highway`` or ``railway`` key, or
an untagged member of a walkable multipolygon) and the tagged nodes become Python values.
osmium still builds the areas and reads the relations. The rows are exactly those
``walks.store_build._pass`` writes for the same objects, in the same order (a test compares both on
every shared extract). Anything unusual (nodes out of order, a tagged node of negative id, what
``walks.pbf`` does not decode) raises ``UnsupportedPbfError``, and the file is read by osmium
alone; a node after the ways (a file not sorted by type) raises ``_NeedsRepairError``, and the
file is read whole, as ``read_extract`` reads it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from walks.data import (
    DEFAULT_BUILDING_M,
    LANDCOVER_KEYS,
    RAIL_VALUES,
    WALKABLE_KEYS,
    WayRecord,
    _NeedsRepairError,
    building_height,
    is_walkable,
    landcover_kind,
)
from walks.pbf import NodeBlock, UnsupportedPbfError, WayBlock, blocks
from walks.store_tags import BlockTags
from walks.store_tags import texts as tag_texts

if TYPE_CHECKING:
    from pathlib import Path

    from walks.store_build import _Table

_F64 = np.ndarray[Any, np.dtype[np.float64]]
_I64 = np.ndarray[Any, np.dtype[np.int64]]
_I32 = np.ndarray[Any, np.dtype[np.int32]]
_Points = list[tuple[int, float, float]]

#: The largest absolute coordinates osmium calls valid, in its 1e-7 degree.
_MAX_LON, _MAX_LAT = 1_800_000_000, 900_000_000


def pbf_rows(
    readable: Path,
    members: set[int],
    tables: tuple[_Table, _Table, _Table],
    *,
    dates: bool = False,
) -> PbfRows:
    """
    Write the tagged nodes, walkable ways and railways of a PBF file.

    Parameters
    ----------
    readable
        The file.
    members
        Ids of the ways walkable multipolygons are made of.
    tables
        The ``features``, ``ways`` and railway ``landcover`` tables.
    dates
        Find the newest timestamp of the nodes and ways too.

    Returns
    -------
    PbfRows
        What ``_pass`` needs to go on with the areas and relations.

    Raises
    ------
    UnsupportedPbfError
        For a file to be read by osmium alone (rows may have been written: start again).
    _NeedsRepairError
        For a node after the ways.
    """
    features, ways, rails = tables
    parts: list[tuple[_I64, _I32, _I32]] = []
    nodes: _Nodes | None = None
    wanted = (members, np.array(sorted(members), dtype=np.int64))
    shapes: dict[int, _Points] = {}
    walkable: dict[int, WayRecord] = {}
    closed: list[_ClosedPart] = []
    at_zero = False
    newest = -1
    for block in blocks(readable, dates=dates):
        newest = max(newest, block.newest)
        if isinstance(block, NodeBlock):
            if nodes is not None:  # the file says it is sorted, and is not: read it whole
                raise _NeedsRepairError
            parts.append((block.ids, block.lats, block.lons))
            at_zero = _node_rows(block, features) or at_zero
            continue
        if nodes is None:
            nodes = _Nodes.of(parts)
            parts.clear()
        at_zero = _way_rows(block, nodes, wanted, (ways, rails), (shapes, walkable)) or at_zero
        part = _closed(block, nodes)
        if part is not None:
            closed.append(part)
    stamp = dt.datetime.fromtimestamp(newest, dt.UTC) if newest >= 0 else None
    return PbfRows(shapes, walkable, at_zero, stamp, ClosedWays(closed))


@dataclass(frozen=True)
class PbfRows:
    """What ``pbf_rows`` leaves for ``walks.store_build._pass``.

    Attributes
    ----------
    shapes
        The untagged member ways of walkable multipolygons, as ``(node, lat, lon)`` points.
    walkable
        The walkable member ways.
    at_zero
        Whether a written coordinate is exactly 0.
    newest
        The newest node or way timestamp after 1970, when asked for.
    closed
        The closed tagged ways whose areas can be written from the arrays.
    """

    shapes: dict[int, _Points]
    walkable: dict[int, WayRecord]
    at_zero: bool
    newest: dt.datetime | None
    closed: ClosedWays


@dataclass(frozen=True)
class _Nodes:
    """Every node's id (ascending), latitude and longitude (1e-7 degree): 16 bytes a node."""

    ids: _I64
    lats: _I32
    lons: _I32

    @classmethod
    def of(cls, parts: list[tuple[_I64, _I32, _I32]]) -> _Nodes:
        """
        Join the node blocks read.

        Parameters
        ----------
        parts
            Each block's ids, latitudes and longitudes (emptied).

        Returns
        -------
        _Nodes
            The nodes.

        Raises
        ------
        UnsupportedPbfError
            When the ids are not strictly ascending (osmium's index decides about those).
        """
        n = sum(len(p[0]) for p in parts)
        ids = np.empty(n, dtype=np.int64)
        lats, lons = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)
        at = 0
        parts.reverse()
        while parts:  # each block copied in, then let go: 16 bytes a node at the peak, not 32
            block_ids, block_lats, block_lons = parts.pop()
            end = at + len(block_ids)
            ids[at:end], lats[at:end], lons[at:end] = block_ids, block_lats, block_lons
            at = end
        if ids.size and int(ids[0]) < 0:
            msg = "a node of negative id"
            raise UnsupportedPbfError(msg)
        if ids.size > 1 and not bool((ids[1:] > ids[:-1]).all()):
            msg = "nodes out of order"
            raise UnsupportedPbfError(msg)
        return cls(ids, lats, lons)

    def ints(self, refs: _I64) -> tuple[_I32, _I32, np.ndarray[Any, np.dtype[np.bool_]]]:
        """
        Look nodes up, in osmium's integers of 1e-7 degree.

        Parameters
        ----------
        refs
            Node ids.

        Returns
        -------
        tuple of numpy.ndarray
            Latitudes and longitudes (meaningless where not known), and which are known (in
            the file, of valid location).
        """
        if not self.ids.size:
            nowhere = np.zeros(len(refs), dtype=np.int32)
            return nowhere, nowhere.copy(), np.zeros(len(refs), dtype=bool)
        place = self._place(refs)
        lat, lon = self.lats[place], self.lons[place]
        known = (self.ids[place] == refs) & (np.abs(lat) <= _MAX_LAT) & (np.abs(lon) <= _MAX_LON)
        return lat, lon, known

    def points(self, refs: _I64) -> tuple[_F64, _F64, np.ndarray[Any, np.dtype[np.bool_]]]:
        """
        Look nodes up as osmium's location index does.

        Parameters
        ----------
        refs
            Node ids.

        Returns
        -------
        tuple of numpy.ndarray
            Latitudes and longitudes (NaN for a node missing or of invalid location), and
            which are known.
        """
        if not self.ids.size:
            nowhere = np.full(len(refs), np.nan)
            return nowhere, nowhere.copy(), np.zeros(len(refs), dtype=bool)
        place = self._place(refs)
        lat, lon = self.lats[place], self.lons[place]
        known = (self.ids[place] == refs) & (np.abs(lat) <= _MAX_LAT) & (np.abs(lon) <= _MAX_LON)
        return np.where(known, lat / 1e7, np.nan), np.where(known, lon / 1e7, np.nan), known

    def _place(self, refs: _I64) -> np.ndarray[Any, np.dtype[np.intp]]:
        """
        Find where nodes are, or would be, among the ids (at most the last place).

        Parameters
        ----------
        refs
            Node ids.

        Returns
        -------
        numpy.ndarray
            Their places.
        """
        # searched in ascending order, each search starts where the last one ended: about
        # five times faster than in the ways' order
        order = np.argsort(refs, kind="stable")
        place = np.empty(len(refs), dtype=np.intp)
        place[order] = np.searchsorted(self.ids, refs[order])
        return np.minimum(place, self.ids.size - 1)


def _node_rows(block: NodeBlock, features: _Table) -> bool:
    """
    Write the tagged nodes of a block that have a valid location.

    Parameters
    ----------
    block
        The nodes.
    features
        The features table.

    Returns
    -------
    bool
        Whether a written coordinate is exactly 0.

    Raises
    ------
    UnsupportedPbfError
        For a tagged node of negative id (osmium's reading decides what that is).
    """
    offsets = block.tag_offsets
    valid = (np.abs(block.lats) <= _MAX_LAT) & (np.abs(block.lons) <= _MAX_LON)
    tagged = np.flatnonzero((np.diff(offsets) > 0) & valid)
    if not tagged.size:
        return False
    ids = block.ids[tagged]
    if int(ids.min()) < 0:
        msg = "a tagged node of negative id"
        raise UnsupportedPbfError(msg)
    lat, lon = block.lats[tagged] / 1e7, block.lons[tagged] / 1e7
    spans = list(zip(offsets[tagged].tolist(), offsets[tagged + 1].tolist(), strict=True))
    texts = tag_texts(block.strings, block.keys.tolist(), block.values.tolist(), spans)
    n = len(texts)
    features.extend(
        np.column_stack((lon, lon, lat, lat)), [["node"] * n, ids, texts, lat, lon, [None] * n]
    )
    return bool((lat == 0.0).any() or (lon == 0.0).any())


@dataclass(frozen=True)
class _Chosen:
    """The ways of a block that can matter, with their points.

    Attributes
    ----------
    index
        Their places in the block.
    starts
        ``refs[starts[j]:starts[j + 1]]`` are way ``j``'s nodes.
    refs, lats, lons, known
        Their nodes, coordinates (NaN unknown) and which are known.
    boxes
        ``(n, 4)`` boxes over the known points (NaN: none known).
    known_count, zeros
        Per way: known points, and known points with a coordinate of exactly 0.
    """

    index: _I64
    starts: _I64
    refs: _I64
    lats: _F64
    lons: _F64
    known: np.ndarray[Any, np.dtype[np.bool_]]
    boxes: _F64
    known_count: _I64
    zeros: _I64


def _choose(block: WayBlock, nodes: _Nodes, member_ids: _I64) -> _Chosen | None:
    """
    Pick a block's ways with a ``highway`` or ``railway`` key or untagged members, and place them.

    Parameters
    ----------
    block
        The ways.
    nodes
        Every node.
    member_ids
        Ids of the ways walkable multipolygons are made of (sorted).

    Returns
    -------
    _Chosen or None
        The ways, or None when none can matter.
    """
    counts = np.diff(block.tag_offsets)
    owner = np.repeat(np.arange(len(block.ids)), counts)
    keyed = np.array([text in ("highway", "railway") for text in block.strings], dtype=bool)
    candidate = np.zeros(len(block.ids), dtype=bool)
    candidate[owner[keyed[block.keys]]] = True
    if member_ids.size:
        candidate |= (counts == 0) & np.isin(block.ids, member_ids)
    index = np.flatnonzero(candidate)
    if not index.size:
        return None
    first = block.ref_offsets[index]
    sizes = block.ref_offsets[index + 1] - first
    starts = np.concatenate(([0], np.cumsum(sizes)))
    refs = block.refs[np.arange(int(starts[-1])) + np.repeat(first - starts[:-1], sizes)]
    lats, lons, known = nodes.points(refs)
    boxes = np.full((len(index), 4), np.nan)
    known_count = np.zeros(len(index), dtype=np.int64)
    zeros = np.zeros(len(index), dtype=np.int64)
    some = sizes > 0
    if some.any():
        # reduce over the ways that have nodes only: their heads rise strictly, and each
        # way's run ends where the next one's starts (a way of no node would cut it short)
        heads = starts[:-1][some]
        known_count[some] = np.add.reduceat(known.astype(np.int64), heads)
        hit = known & ((lats == 0.0) | (lons == 0.0))
        zeros[some] = np.add.reduceat(hit.astype(np.int64), heads)
        for col, (column, pick) in enumerate(
            ((lons, np.fmin), (lons, np.fmax), (lats, np.fmin), (lats, np.fmax))
        ):
            boxes[some, col] = pick.reduceat(column, heads)
        boxes[known_count == 0] = np.nan
    return _Chosen(index, starts, refs, lats, lons, known, boxes, known_count, zeros)


def _way_rows(
    block: WayBlock,
    nodes: _Nodes,
    members: tuple[set[int], _I64],
    tables: tuple[_Table, _Table],
    found: tuple[dict[int, _Points], dict[int, WayRecord]],
) -> bool:
    """
    Write a block's walkable ways and railways, and keep the multipolygons' member ways.

    Parameters
    ----------
    block
        The ways.
    nodes
        Every node.
    members
        Ids of the ways walkable multipolygons are made of, as a set and sorted.
    tables
        The ``ways`` and railway ``landcover`` tables.
    found
        The untagged and the walkable member ways, filled here.

    Returns
    -------
    bool
        Whether a walkable way has a coordinate of exactly 0.
    """
    member_ids = members[1]
    if (block.ids.size and int(block.ids.min()) < 0) or (
        block.refs.size and int(block.refs.min()) < 0
    ):
        msg = "a way of negative id, or through a node of negative id"
        raise UnsupportedPbfError(msg)
    chosen = _choose(block, nodes, member_ids)
    if chosen is None:
        return False
    ways, rails = tables
    shapes, walkable = found
    tags = BlockTags.of(block.strings, block.tag_offsets, block.keys, block.values, chosen.index)
    ids = block.ids[chosen.index]
    starts = chosen.starts.tolist()
    # as _pass: the first railway value decides (osmium's TagList.get)
    railway = tags.value("railway", last=False)
    railed = tags.mask(RAIL_VALUES)[np.maximum(railway, 0)] & (railway >= 0)
    for j in np.flatnonzero(railed & (chosen.known_count >= 2)).tolist():  # noqa: PLR2004
        lo, hi = starts[j], starts[j + 1]
        line = np.column_stack((chosen.lons[lo:hi], chosen.lats[lo:hi]))[chosen.known[lo:hi]]
        rails.add(line.tobytes(), "rail", line.tobytes())
    untagged = np.flatnonzero((np.diff(tags.starts) == 0) & np.isin(ids, member_ids))
    for j in untagged.tolist():
        lo, hi = starts[j], starts[j + 1]
        shapes[int(ids[j])] = list(zip(chosen.refs[lo:hi].tolist(), chosen.lats[lo:hi].tolist(),
                                       chosen.lons[lo:hi].tolist(), strict=True))  # fmt: skip
    kept = np.flatnonzero(tags.ask(is_walkable, WALKABLE_KEYS))  # no highway: not walkable
    if not kept.size:
        return False
    for j in kept[np.isin(ids[kept], member_ids)].tolist():
        lo, hi = starts[j], starts[j + 1]
        walkable[int(ids[j])] = WayRecord(
            int(ids[j]), tuple(chosen.refs[lo:hi].tolist()), tuple(chosen.lats[lo:hi].tolist()),
            tuple(chosen.lons[lo:hi].tolist()), tags.dict_of(j),
        )  # fmt: skip
    ref_blob, lat_blob, lon_blob = (chosen.refs.tobytes(), chosen.lats.tobytes(),
                                    chosen.lons.tobytes())  # fmt: skip
    spans = [(8 * starts[j], 8 * starts[j + 1]) for j in kept.tolist()]
    ways.extend(chosen.boxes[kept], [
        ids[kept], [ref_blob[a:b] for a, b in spans], [lat_blob[a:b] for a, b in spans],
        [lon_blob[a:b] for a, b in spans], tags.texts(kept.tolist()),
    ])  # fmt: skip
    return bool((chosen.zeros[kept] > 0).any())


@dataclass(frozen=True)
class _ClosedPart:
    """The closed tagged ways of one block whose area osmium makes as a plain ring.

    Attributes
    ----------
    ids
        The ways.
    starts
        ``lons[starts[j]:starts[j + 1]]`` is way ``j``'s ring, as osmium writes it: turned
        counter-clockwise, from its smallest ``(lon, lat)`` point, closed.
    lons, lats
        The rings' points (1e-7 degree).
    tag_starts
        ``keys[tag_starts[j]:tag_starts[j + 1]]`` are way ``j``'s tags.
    keys, values, strings
        The tags' string indices, and the block's string table.
    """

    ids: _I64
    starts: _I64
    lons: _I32
    lats: _I32
    tag_starts: _I64
    keys: _I64
    values: _I64
    strings: list[str]


def _gather(offsets: _I64, chosen: _I64, shorter: int = 0) -> tuple[_I64, _I64]:
    """
    Index the runs of some items (a way's nodes, its tags) one after the other.

    Parameters
    ----------
    offsets
        ``offsets[i]:offsets[i + 1]`` is item ``i``'s run.
    chosen
        The items.
    shorter
        Leave this many values off the end of each run.

    Returns
    -------
    tuple of numpy.ndarray
        The indices into the runs' values, and where each chosen item's run starts among them.
    """
    first = offsets[chosen]
    sizes = offsets[chosen + 1] - first - shorter
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    index = np.arange(int(starts[-1]), dtype=np.int64) + np.repeat(first - starts[:-1], sizes)
    return index, starts


def _closed(block: WayBlock, nodes: _Nodes) -> _ClosedPart | None:
    """
    Find the closed tagged ways of a block whose ring osmium cannot make otherwise, and make it.

    Such a way has four nodes or more, the same first and last node, every node placed, no
    location twice but the last, and a non-zero area. When osmium makes its area with one
    outer ring and no inner one (``walks.store_build._pass`` asks), that ring holds the way's
    points: osmium turns it counter-clockwise and starts it at its smallest ``(lon, lat)``
    point (``Location``'s order). Any other closed way is left to osmium.

    Parameters
    ----------
    block
        The ways.
    nodes
        Every node.

    Returns
    -------
    _ClosedPart or None
        The ways, or None when the block has none.
    """
    offsets = block.ref_offsets
    sizes = np.diff(offsets)
    chosen = np.flatnonzero((np.diff(block.tag_offsets) > 0) & (sizes >= 4))  # noqa: PLR2004
    refs = block.refs
    chosen = chosen[refs[offsets[chosen]] == refs[offsets[chosen + 1] - 1]]
    if not chosen.size:
        return None
    index, starts = _gather(offsets, chosen, shorter=1)  # each ring without its last point
    lat, lon, known = nodes.ints(refs[index])
    heads = starts[:-1]
    owner = np.repeat(np.arange(len(chosen)), np.diff(starts))
    fine = np.logical_and.reduceat(known, heads)
    # a location twice: neighbours once the points are sorted by way, then location
    where = (lon.astype(np.int64) << 32) + (lat.astype(np.int64) + 2**31)
    order = np.lexsort((where, owner))
    twice = (where[order][1:] == where[order][:-1]) & (owner[order][1:] == owner[order][:-1])
    fine[owner[order][1:][twice]] = False
    # twice the signed area, in osmium's 64-bit integers (counter-clockwise: positive)
    following = np.arange(1, len(index) + 1)
    following[starts[1:] - 1] = heads
    x, y = lon.astype(np.int64), lat.astype(np.int64)
    area = np.add.reduceat(x * y[following] - x[following] * y, heads)
    fine &= area != 0
    if not fine.any():
        return None
    # each ring from its smallest point (sorted first among its way's), onwards or backwards
    size = np.diff(starts)
    first = order[heads] - heads
    step = np.where(area > 0, 1, -1)
    keep = np.flatnonzero(fine)
    ring_starts = np.concatenate(([0], np.cumsum(size[keep] + 1))).astype(np.int64)
    ring_owner = np.repeat(keep, size[keep] + 1)
    k = np.arange(int(ring_starts[-1])) - np.repeat(ring_starts[:-1], size[keep] + 1)
    pick = heads[ring_owner] + (first[ring_owner] + step[ring_owner] * k) % size[ring_owner]
    tag_index, tag_starts = _gather(block.tag_offsets, chosen[keep])
    return _ClosedPart(
        block.ids[chosen[keep]], ring_starts, lon[pick], lat[pick], tag_starts,
        block.keys[tag_index], block.values[tag_index], block.strings,
    )  # fmt: skip


@dataclass(frozen=True)
class ClosedWays:
    """The closed tagged ways of a file whose areas can be written from the arrays.

    Attributes
    ----------
    parts
        Block by block.
    """

    parts: list[_ClosedPart]

    def ids(self) -> set[int]:
        """
        Name the ways.

        Returns
        -------
        set of int
            Their ids.
        """
        return set(itertools.chain.from_iterable(p.ids.tolist() for p in self.parts))

    def write(self, ways: _I64, places: _I64, tables: tuple[_Table, _Table, _Table]) -> bool:
        """
        Write the areas osmium made of some of the ways, as ``_pass`` writes an area.

        Parameters
        ----------
        ways
            The ways whose areas osmium made with one outer ring and no inner one.
        places
            Each area's place in file order (osmium's order).
        tables
            The ``features``, ``buildings`` and ``landcover`` tables.

        Returns
        -------
        bool
            Whether a written coordinate is exactly 0.

        Raises
        ------
        UnsupportedPbfError
            For a way id twice (osmium's reading decides what that is).
        """
        by_id = np.argsort(ways, kind="stable")
        ways, places = ways[by_id], places[by_id]
        if ways.size > 1 and bool((ways[1:] == ways[:-1]).any()):
            msg = "a way twice"
            raise UnsupportedPbfError(msg)
        at_zero = False
        for part in self.parts:
            where = np.minimum(np.searchsorted(ways, part.ids), max(ways.size - 1, 0))
            hit = np.flatnonzero(ways[where] == part.ids) if ways.size else where[:0]
            if hit.size:
                at_zero = _area_rows(part, hit, places[where[hit]], tables) or at_zero
        return at_zero


def _area_rows(
    part: _ClosedPart, hit: _I64, places: _I64, tables: tuple[_Table, _Table, _Table]
) -> bool:
    """
    Write the rows of some ways' areas: a feature each, and a building or land cover.

    Parameters
    ----------
    part
        The ways of a block.
    hit
        Which of them are areas.
    places
        Their places in file order.
    tables
        The ``features``, ``buildings`` and ``landcover`` tables.

    Returns
    -------
    bool
        Whether a written coordinate is exactly 0.
    """
    features, buildings, cover = tables
    index, starts = _gather(part.starts, hit)
    xy = np.column_stack((part.lons[index] / 1e7, part.lats[index] / 1e7))
    blob = xy.tobytes()
    heads = starts[:-1]
    boxes = np.column_stack((
        np.minimum.reduceat(xy[:, 0], heads), np.maximum.reduceat(xy[:, 0], heads),
        np.minimum.reduceat(xy[:, 1], heads), np.maximum.reduceat(xy[:, 1], heads),
    ))  # fmt: skip
    rings = [blob[16 * a : 16 * b] for a, b in itertools.pairwise(starts.tolist())]
    tags = BlockTags.of(part.strings, part.tag_starts, part.keys, part.values, hit)
    texts = tags.texts(range(len(hit)))
    building = np.array(tags.ask(_is_building, ("building",)), dtype=bool)
    built = np.flatnonzero(building).tolist()
    # building_height's answer without its regular expressions when it has none to read
    measured = np.zeros(len(hit), dtype=bool)
    for key in ("height", "building:height", "building:levels"):
        measured |= tags.value(key) >= 0
    heights, hows = [], []
    for j in built:
        height, how = building_height(tags.dict_of(j)) if measured[j] else (
            DEFAULT_BUILDING_M, "default")  # fmt: skip
        heights.append(height)
        hows.append(how)
    kind_of = tags.ask(landcover_kind, LANDCOVER_KEYS)
    covered = [j for j in np.flatnonzero(~building).tolist() if kind_of[j] is not None]
    kinds = [kind_of[j] for j in covered]
    n = len(rings)
    features.extend(
        boxes, [["way"] * n, part.ids[hit], texts, np.full(n, np.nan), np.full(n, np.nan), rings],
        at=places,
    )  # fmt: skip
    if built:
        buildings.extend(
            boxes[built], [[rings[j] for j in built], np.array(heights), hows], at=places[built]
        )
    if covered:
        cover.extend(boxes[covered], [kinds, [rings[j] for j in covered]], at=places[covered])
    return bool((xy == 0.0).any())


def _is_building(tags: dict[str, str]) -> bool:
    """
    Say whether an area is a building, as ``_pass`` does.

    Parameters
    ----------
    tags
        Its tags.

    Returns
    -------
    bool
        True for a ``building`` tag other than ``building=no``.
    """
    return "building" in tags and tags["building"] != "no"
