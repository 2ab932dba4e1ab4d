"""The store rows of a PBF file, read as arrays (``walks.pbf``), without osmium's whole-file pass.

osmium's Python objects cost a few microseconds each. For a PBF file, the tagged nodes,
walkable ways, railways, the walkable multipolygons and the areas of closed ways are written here
instead, a block at a time with numpy: the tags of a block's objects are asked of the rules of
``walks.data`` at once (``walks.store_tags``), and closed ways are shaped by libosmium's rule
(``walks.store_areas``). osmium makes only the areas of relations and of complex ways, over a
small file written from the arrays. The rows are exactly those ``walks.store_build._pass`` writes
with osmium alone for the same objects, in the same order (tests compare both with the file
readers on every shared extract and on hand-made files). Anything unusual (nodes or ways out of
order, negative ids, what ``walks.pbf`` does not decode) raises ``UnsupportedPbfError``, and the
file is read by osmium alone; a node after the ways (a file not sorted by type) raises
``_NeedsRepairError``, and the file is read whole, as ``read_extract`` reads it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import pbf_jit, store_areas
from walks.data import (
    HEIGHT_KEYS,
    LANDCOVER_KEYS,
    RAIL_VALUES,
    WALKABLE_KEYS,
    WayRecord,
    _NeedsRepairError,
    building_height,
    is_walkable,
    landcover_kind,
)
from walks.pbf import (
    MAX_LAT,
    MAX_LON,
    NodeBlock,
    RelationBlock,
    StringTable,
    UnsupportedPbfError,
    WayBlock,
    blocks,
    relations,
    runs_of,
)
from walks.pbf_write import write_pbf
from walks.store_areas import FileRelations, Relation, area_order
from walks.store_groups import _UNKNOWN, Packed
from walks.store_tags import BlockTags, texts_of

if TYPE_CHECKING:
    from pathlib import Path

    from walks.store_tables import _Table

_F64 = np.ndarray[Any, np.dtype[np.float64]]
_I64 = np.ndarray[Any, np.dtype[np.int64]]
_I32 = np.ndarray[Any, np.dtype[np.int32]]
_Points = list[tuple[int, float, float]]


def pbf_rows(  # noqa: PLR0915 - one pass over the blocks, kept together
    readable: Path,
    tables: tuple[_Table, _Table, _Table],
    small: Path,
    first_area: int,
    *,
    dates: bool = False,
) -> PbfRows:
    """
    Write the tagged nodes, walkable ways and railways of a PBF file, and prepare its areas.

    The relations are read first (``walks.pbf.relations``): the members of walkable
    multipolygons are kept while the ways are read. The areas of closed ways are decided and
    shaped from the arrays (``walks.store_areas``); those of relations and of complex ways
    are left to osmium, over a small file written here.

    Parameters
    ----------
    readable
        The file.
    tables
        The ``features``, ``ways`` and railway ``landcover`` tables.
    small
        Where to write the small file for osmium (when there is an area for it to make).
    first_area
        The first area's place.
    dates
        Find the newest timestamp of the nodes, ways and relations too.

    Returns
    -------
    PbfRows
        What ``_pass_arrays`` needs to go on with the areas and relations.

    Raises
    ------
    UnsupportedPbfError
        For a file to be read by osmium alone (rows may have been written: start again).
    _NeedsRepairError
        For a node after the ways.
    """
    features, ways, rails = tables
    # only the relations osmium makes areas of are kept (the walkable squares are among them)
    relation_blocks, end = relations(readable, dates=dates, keep=store_areas.areas_of)
    found = FileRelations.of(relation_blocks)
    del relation_blocks
    # the walkable multipolygons' member ways, sorted
    member_ids = np.array(sorted(found.walkable_members()), dtype=np.int64)
    tracked = _unique(found.elements()[2])
    parts = _NodeBuffer(readable.stat().st_size)
    nodes: _Nodes | None = None
    shapes: dict[int, _Points] = {}
    walkable: dict[int, WayRecord] = {}
    closed: list[tuple[_ClosedPart, _I64]] = []  # with each way's place among the file's ways
    odd: list[_SmallWays] = []  # the relations' member ways and the complex ways
    at_zero = False
    off_globe = 0
    newest = found.newest
    seen, last = 0, -1
    for block in blocks(readable, dates=dates, end=end):
        newest = max(newest, block.newest)
        if isinstance(block, NodeBlock):
            if nodes is not None:  # the file says it is sorted, and is not: read it whole
                raise _NeedsRepairError
            parts.add(block.ids, block.lats, block.lons)
            on_globe = _on_globe(block)
            off_globe += int(on_globe.size - np.count_nonzero(on_globe))
            at_zero = _node_rows(block, on_globe, features) or at_zero
            continue
        if nodes is None:
            nodes = parts.nodes()
        ids = block.ids
        if ids.size and (int(ids[0]) <= last or not bool((ids[1:] > ids[:-1]).all())):
            msg = "ways out of order"  # osmium decides what a way read twice is
            raise UnsupportedPbfError(msg)
        at_zero = _way_rows(block, nodes, member_ids, (ways, rails), (shapes, walkable)) or at_zero
        part, complex_ways = _closed(block, nodes)
        if part is not None:
            closed.append((part, seen + np.searchsorted(ids, part.ids)))
        chosen = _unique(np.concatenate((np.flatnonzero(_among(ids, tracked)), complex_ways)))
        if chosen.size:
            odd.append(_SmallWays.of(block, chosen, complex_ways, seen))
        seen += ids.size
        last = int(ids[-1]) if ids.size else last
    if nodes is None:
        nodes = parts.nodes()
    everything = _SmallWays.joined(odd)
    is_complex = np.array([bool(t) for t in everything.tags], dtype=bool)
    way_ids = np.concatenate([p.ids for p, _ in closed] + [everything.ids[is_complex]])
    way_at = np.concatenate([at for _, at in closed] + [everything.at[is_complex]])
    way_places, relation_places, complete = area_order(
        (way_ids, way_at), found, (everything.ids, everything.at), first_area
    )
    plain = sum(len(p.ids) for p, _ in closed)
    cut = np.cumsum([len(p.ids) for p, _ in closed[:-1]]).astype(np.int64)
    areas = ClosedWays([p for p, _ in closed], np.split(way_places[:plain], cut) if closed else [])
    complex_ids = everything.ids[is_complex].tolist()
    places = {("w", w): p for w, p in zip(complex_ids, way_places[plain:].tolist(), strict=True)}
    places.update(zip(zip(itertools.repeat("r"), found.ids()[complete].tolist()),
                      relation_places[complete].tolist(), strict=True))  # fmt: skip
    if places:
        bounds = np.cumsum([0] + [p.size for p in found.chosen]).tolist()
        written = [
            (block, pick[complete[a:b]])
            for block, pick, a, b in zip(
                found.blocks, found.chosen, bounds[:-1], bounds[1:], strict=True
            )
        ]
        everything.write(small, nodes, written)
    stamp = dt.datetime.fromtimestamp(newest, dt.UTC) if newest >= 0 else None
    return PbfRows(shapes, walkable, at_zero, off_globe, stamp, areas, found.walkable, places)


def _unique(values: _I64) -> _I64:
    """
    Sort values and drop repeats, as ``numpy.unique`` does by a sort.

    numpy 2.3 and later hash plain integers in ``numpy.unique``, which costs about ten times
    a sort here: 0.9 CPU-s against 0.08 for a million ids.

    Parameters
    ----------
    values
        The values.

    Returns
    -------
    numpy.ndarray
        Each value once, ascending.
    """
    ordered = np.sort(values)
    first = np.ones(ordered.size, dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    kept: _I64 = ordered[first]
    return kept


def _among(values: _I64, known: _I64) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """
    Say which values are among some known ones (``numpy.isin`` by a binary search).

    Parameters
    ----------
    values
        The values.
    known
        The known values, sorted.

    Returns
    -------
    numpy.ndarray
        Per value.
    """
    if not known.size:
        return np.zeros(len(values), dtype=bool)
    where = np.minimum(np.searchsorted(known, values), known.size - 1)
    found: np.ndarray[Any, np.dtype[np.bool_]] = known[where] == values
    return found


@dataclass(frozen=True)
class PbfRows:
    """What ``pbf_rows`` leaves for ``walks.store_build._pass_arrays``.

    Attributes
    ----------
    shapes
        The untagged member ways of walkable multipolygons, as ``(node, lat, lon)`` points.
    walkable
        The walkable member ways.
    at_zero
        Whether a written coordinate is exactly 0.
    off_globe
        How many nodes lie off the globe (left out, as osmium leaves them out).
    newest
        The newest node, way or relation timestamp after 1970, when asked for.
    closed
        The areas of closed ways written from the arrays.
    relations
        The candidate walkable multipolygons, in file order.
    places
        The places of the areas osmium makes of the small file, by ``("w" or "r", id)``
        (none: no small file was written).
    """

    shapes: dict[int, _Points]
    walkable: dict[int, WayRecord]
    at_zero: bool
    off_globe: int
    newest: dt.datetime | None
    closed: ClosedWays
    relations: list[Relation]
    places: dict[tuple[str, int], int]


@dataclass(frozen=True)
class _SmallWays:
    """Ways for the small file osmium makes areas of.

    Attributes
    ----------
    ids
        The ways (ascending).
    at
        Their places among the file's ways.
    offsets, refs
        ``refs[offsets[i]:offsets[i + 1]]`` are way ``i``'s nodes.
    tags
        Each way's tags: those of a complex way, none for a member way.
    """

    ids: _I64
    at: _I64
    offsets: _I64
    refs: _I64
    tags: list[tuple[tuple[str, str], ...]]

    @classmethod
    def of(cls, block: WayBlock, chosen: _I64, tagged: _I64, seen: int) -> _SmallWays:
        """
        Take some ways of a block.

        Parameters
        ----------
        block
            The ways.
        chosen
            Which (ascending).
        tagged
            Those of them that keep their tags.
        seen
            The ways before the block.

        Returns
        -------
        _SmallWays
            The ways.
        """
        index, starts = runs_of(block.ref_offsets, chosen)
        strings, keys, values = block.strings, block.keys, block.values
        offsets = block.tag_offsets
        keep = set(tagged.tolist())
        tags = [
            tuple((strings[keys[k]], strings[values[k]])
                  for k in range(int(offsets[i]), int(offsets[i + 1])))
            if i in keep else ()
            for i in chosen.tolist()
        ]  # fmt: skip
        return cls(block.ids[chosen], seen + chosen, starts, block.refs[index], tags)

    @classmethod
    def joined(cls, parts: list[_SmallWays]) -> _SmallWays:
        """
        Join the ways of every block.

        Parameters
        ----------
        parts
            Block by block.

        Returns
        -------
        _SmallWays
            All of them.
        """
        if not parts:
            none = np.zeros(0, dtype=np.int64)
            return cls(none, none, np.zeros(1, dtype=np.int64), none, [])
        heads = np.cumsum([0] + [p.refs.size for p in parts[:-1]])
        offsets = np.concatenate(
            [np.zeros(1, np.int64)] + [p.offsets[1:] + h for p, h in zip(parts, heads, strict=True)]
        )
        return cls(
            np.concatenate([p.ids for p in parts]), np.concatenate([p.at for p in parts]),
            offsets, np.concatenate([p.refs for p in parts]),
            list(itertools.chain.from_iterable(p.tags for p in parts)),
        )  # fmt: skip

    def write(self, path: Path, nodes: _Nodes, complete: list[tuple[RelationBlock, _I64]]) -> None:
        """
        Write the small file: these ways, their nodes in the file, and the relations.

        Parameters
        ----------
        path
            The file.
        nodes
            Every node.
        complete
            The relation blocks, with the relations of each to write.
        """
        used = _unique(self.refs)
        if nodes.ids.size and used.size:
            place = np.minimum(np.searchsorted(nodes.ids, used), nodes.ids.size - 1)
            there = nodes.ids[place] == used
            used, place = used[there], place[there]
            lats, lons = nodes.lats[place], nodes.lons[place]
        else:
            used = used[:0]
            lats = lons = np.zeros(0, dtype=np.int32)
        write_pbf(path, (used, lats.astype(np.int64), lons.astype(np.int64)),
                  (self.ids, self.offsets, self.refs, self.tags), complete)  # fmt: skip


class _NodeBuffer:
    """The node blocks read so far, copied into arrays that grow (``_Nodes`` when all are in).

    The arrays are sized for a file's likely node count at first, never touched beyond what is
    filled (the system gives their pages on first write): no block is held apart, and no
    second copy is made when the ways begin. Blocks held apart (about 96 KB each) and joined
    stayed in the heap once let go: a 200 MB region's import peaked at 1160 MB, against 1102
    with these arrays.
    """

    #: Nodes a file likely holds per byte, at most (Geofabrik's extracts: about 0.1).
    _PER_BYTE = 0.125

    def __init__(self, file_bytes: int) -> None:
        capacity = max(2**16, int(file_bytes * self._PER_BYTE))
        self.ids = np.empty(capacity, dtype=np.int64)
        self.lats = np.empty(capacity, dtype=np.int32)
        self.lons = np.empty(capacity, dtype=np.int32)
        self.count = 0

    def add(self, ids: _I64, lats: _I32, lons: _I32) -> None:
        """
        Copy a block's nodes in, growing the arrays by half when full.

        Parameters
        ----------
        ids, lats, lons
            The block's ids, latitudes and longitudes.
        """
        end = self.count + len(ids)
        if end > self.ids.size:
            capacity = max(end, self.ids.size * 3 // 2)
            for name in ("ids", "lats", "lons"):
                old = getattr(self, name)
                grown = np.empty(capacity, dtype=old.dtype)
                grown[: self.count] = old[: self.count]
                setattr(self, name, grown)
        self.ids[self.count : end] = ids
        self.lats[self.count : end] = lats
        self.lons[self.count : end] = lons
        self.count = end

    def nodes(self) -> _Nodes:
        """
        Give the nodes read (views of the arrays).

        Returns
        -------
        _Nodes
            The nodes.

        Raises
        ------
        UnsupportedPbfError
            When the ids are not strictly ascending (osmium's index decides about those).
        """
        ids = self.ids[: self.count]
        if ids.size and int(ids[0]) < 0:
            msg = "a node of negative id"
            raise UnsupportedPbfError(msg)
        if ids.size > 1 and not bool((ids[1:] > ids[:-1]).all()):
            msg = "nodes out of order"
            raise UnsupportedPbfError(msg)
        return _Nodes(ids, self.lats[: self.count], self.lons[: self.count])


@dataclass(frozen=True)
class _Nodes:
    """Every node's id (ascending), latitude and longitude (1e-7 degree): 16 bytes a node."""

    ids: _I64
    lats: _I32
    lons: _I32

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
        found = pbf_jit.locate((self.ids, self.lats, self.lons), refs)
        if found is not None:  # by one compiled loop, each search from where the last ended
            return found
        place = self._place(refs)
        lat, lon = self.lats[place], self.lons[place]
        return lat, lon, (self.ids[place] == refs) & _valid(lat, lon)

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


def _on_globe(block: NodeBlock) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """
    Say which nodes of a block lie on the globe (osmium's valid locations).

    Parameters
    ----------
    block
        The nodes.

    Returns
    -------
    numpy.ndarray
        One flag per node.
    """
    return _valid(block.lats, block.lons)


def _valid(lats: _I32, lons: _I32) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """
    Say which coordinates lie on the globe, as osmium's ``Location.valid()`` says.

    Compared both ways, not by ``abs()``: in int32, the least value's is itself.

    Parameters
    ----------
    lats, lons
        Coordinates in 1e-7 degree.

    Returns
    -------
    numpy.ndarray
        One flag per coordinate pair.
    """
    on: np.ndarray[Any, np.dtype[np.bool_]] = (
        (lats >= -MAX_LAT) & (lats <= MAX_LAT) & (lons >= -MAX_LON) & (lons <= MAX_LON)
    )
    return on


def _node_rows(
    block: NodeBlock, on_globe: np.ndarray[Any, np.dtype[np.bool_]], features: _Table
) -> bool:
    """
    Write the tagged nodes of a block that have a valid location.

    Parameters
    ----------
    block
        The nodes.
    on_globe
        Which of them lie on the globe (``_on_globe``).
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
    tagged = np.flatnonzero((np.diff(offsets) > 0) & on_globe)
    if not tagged.size:
        return False
    ids = block.ids[tagged]
    if int(ids.min()) < 0:
        msg = "a tagged node of negative id"
        raise UnsupportedPbfError(msg)
    lat, lon = block.lats[tagged] / 1e7, block.lons[tagged] / 1e7
    texts = texts_of(block.strings, block.keys, block.values, offsets[tagged], offsets[tagged + 1])
    n = len(texts)
    features.extend(
        np.column_stack((lon, lon, lat, lat)),
        [Packed.repeat(b"node", n), ids, texts, lat, lon, Packed.nulls(n)],
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
    fixed_lats, fixed_lons
        The coordinates as the store holds them (``walks.store_groups._fixed``).
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
    fixed_lats: _I32
    fixed_lons: _I32
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
        candidate |= (counts == 0) & _among(block.ids, member_ids)
    index = np.flatnonzero(candidate)
    if not index.size:
        return None
    at, starts = runs_of(block.ref_offsets, index)
    sizes = np.diff(starts)
    refs = block.refs[at]
    fixed_lats, fixed_lons, known = nodes.ints(refs)
    lats = np.where(known, fixed_lats / 1e7, np.nan)
    lons = np.where(known, fixed_lons / 1e7, np.nan)
    fixed_lats[~known] = fixed_lons[~known] = _UNKNOWN
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
    return _Chosen(
        index, starts, refs, lats, lons, known, fixed_lats, fixed_lons, boxes, known_count, zeros
    )


def _way_rows(
    block: WayBlock,
    nodes: _Nodes,
    member_ids: _I64,
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
    member_ids
        Ids of the ways walkable multipolygons are made of, sorted.
    tables
        The ``ways`` and railway ``landcover`` tables.
    found
        The untagged and the walkable member ways, filled here.

    Returns
    -------
    bool
        Whether a walkable way has a coordinate of exactly 0.
    """
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
        line = np.column_stack((chosen.fixed_lons[lo:hi], chosen.fixed_lats[lo:hi]))
        points = line[chosen.known[lo:hi]].tobytes()
        rails.add(points, "rail", points)
    untagged = np.flatnonzero((np.diff(tags.starts) == 0) & _among(ids, member_ids))
    for j in untagged.tolist():
        lo, hi = starts[j], starts[j + 1]
        shapes[int(ids[j])] = list(zip(chosen.refs[lo:hi].tolist(), chosen.lats[lo:hi].tolist(),
                                       chosen.lons[lo:hi].tolist(), strict=True))  # fmt: skip
    kept = np.flatnonzero(tags.ask(is_walkable, WALKABLE_KEYS))  # no highway: not walkable
    if not kept.size:
        return False
    for j in kept[_among(ids[kept], member_ids)].tolist():
        lo, hi = starts[j], starts[j + 1]
        walkable[int(ids[j])] = WayRecord(
            int(ids[j]), tuple(chosen.refs[lo:hi].tolist()), tuple(chosen.lats[lo:hi].tolist()),
            tuple(chosen.lons[lo:hi].tolist()), tags.dict_of(j),
        )  # fmt: skip
    first, end = chosen.starts[kept], chosen.starts[kept + 1]
    ways.extend(chosen.boxes[kept], [
        ids[kept], Packed.of(chosen.refs, 8 * first, 8 * end),  # int64 ids, int32 coordinates
        Packed.of(chosen.fixed_lats, 4 * first, 4 * end),
        Packed.of(chosen.fixed_lons, 4 * first, 4 * end), tags.texts(kept.tolist()),
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


def _closed(block: WayBlock, nodes: _Nodes) -> tuple[_ClosedPart | None, _I64]:
    """
    Find the closed ways of a block osmium makes areas of, and shape the plain ones.

    osmium's rule (``walks.store_areas.closed_way_rings``): a way tagged, not ``area=no``, of
    four nodes or more, whose first and last locations are the same. Its area is one plain
    ring, the way's points turned counter-clockwise from the smallest ``(lon, lat)``; or none
    (an empty area); or osmium must shape it (a location used twice: a complex way).

    Parameters
    ----------
    block
        The ways.
    nodes
        Every node.

    Returns
    -------
    tuple
        The ways of a plain ring, with their rings (None when the block has none), and the
        complex ways' places in the block.
    """
    offsets = block.ref_offsets
    sizes = np.diff(offsets)
    counts = np.diff(block.tag_offsets)
    chosen = np.flatnonzero((counts > 0) & (sizes >= 4))  # noqa: PLR2004
    none = np.zeros(0, dtype=np.int64)
    named = _places_of(block.strings, "area")
    if named and chosen.size:
        owner = np.repeat(np.arange(len(block.ids)), counts)
        at = np.flatnonzero(np.isin(block.keys, named))
        ways, first = np.unique(owner[at], return_index=True)
        values = block.values[at[first]]
        no = ways[[block.strings[v] == "no" for v in values.tolist()]]
        chosen = chosen[~_among(chosen, no)]  # both ascending
    refs = block.refs
    # closed by location: most by their first node again; the others are looked up
    other = chosen[refs[offsets[chosen]] != refs[offsets[chosen + 1] - 1]]
    if other.size:
        ends = np.concatenate((refs[offsets[other]], refs[offsets[other + 1] - 1]))
        lat, lon, known = nodes.ints(ends)
        half = other.size
        apart = ~(known[:half] & known[half:] & (lat[:half] == lat[half:])
                  & (lon[:half] == lon[half:]))  # fmt: skip
        chosen = chosen[~_among(chosen, other[apart])]
    if not chosen.size:
        return None, none
    index, starts = runs_of(offsets, chosen)
    lat, lon, known = nodes.ints(refs[index])
    undefined = np.int64(store_areas.UNDEFINED)
    x = np.where(known, lon.astype(np.int64), undefined)
    y = np.where(known, lat.astype(np.int64), undefined)
    rings = store_areas.closed_way_rings(x, y, starts, np.ones(chosen.size, dtype=bool))
    complex_ways = chosen[rings.status == store_areas.COMPLEX]
    keep = np.flatnonzero(rings.status == store_areas.AREA)
    if not keep.size:
        return None, complex_ways
    ring_starts = np.concatenate(([0], np.cumsum(np.diff(rings.starts)[keep]))).astype(np.int64)
    tag_index, tag_starts = runs_of(block.tag_offsets, chosen[keep])
    # the part is held until every block is read: it keeps the strings its tags use, not the
    # block's whole table (which held most of a large file's import memory)
    keys, values = block.keys[tag_index], block.values[tag_index]
    present = np.zeros(len(block.strings), dtype=bool)  # (indices checked by the decoder)
    present[keys] = True
    present[values] = True
    rank = np.cumsum(present) - 1  # each kept string's new index
    strings = _kept_strings(block.strings, np.flatnonzero(present))
    return _ClosedPart(
        block.ids[chosen[keep]], ring_starts, rings.lons.astype(np.int32),
        rings.lats.astype(np.int32), tag_starts, rank[keys], rank[values], strings,
    ), complex_ways  # fmt: skip


def _places_of(strings: list[str], text: str) -> list[int]:
    """
    Find every place of a text in a string table (most hold each once), searching in C.

    Parameters
    ----------
    strings
        The table.
    text
        The text.

    Returns
    -------
    list of int
        Its places, ascending.
    """
    places: list[int] = []
    with contextlib.suppress(ValueError):  # no more of it
        while True:
            places.append(strings.index(text, places[-1] + 1 if places else 0))
    return places


def _kept_strings(table: list[str], used: _I64) -> list[str]:
    """
    Keep some strings of a block's table, with their UTF-8 bytes when the table has them.

    The compiled loop writes the tags' texts from the bytes (``walks.store_tags.texts_of``):
    without them, the held closed ways' texts were written by Python, about 0.4 CPU-s for the
    store benchmark's region.

    Parameters
    ----------
    table
        The block's string table.
    used
        The strings to keep, by index.

    Returns
    -------
    list of str
        The strings (a ``StringTable`` of their own bytes when ``table`` is one).
    """
    texts = [table[k] for k in used.tolist()]
    if not isinstance(table, StringTable):
        return texts
    data, starts, ends = table.utf8
    first = np.asarray(starts, dtype=np.int64)[used]
    sizes = np.asarray(ends, dtype=np.int64)[used] - first
    bounds = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    index = np.arange(int(bounds[-1]), dtype=np.int64) + np.repeat(first - bounds[:-1], sizes)
    return StringTable(texts, (data[index], bounds[:-1], bounds[1:]), nul=table.nul)


@dataclass(frozen=True)
class ClosedWays:
    """The areas of closed ways written from the arrays.

    Attributes
    ----------
    parts
        Block by block.
    places
        Each part's areas' places in file order (osmium's order).
    """

    parts: list[_ClosedPart]
    places: list[_I64]

    def count(self) -> int:
        """
        Count the areas.

        Returns
        -------
        int
            How many.
        """
        return sum(len(p.ids) for p in self.parts)

    def write(self, tables: tuple[_Table, _Table, _Table]) -> bool:
        """
        Write the areas, as ``_pass`` writes an area.

        Parameters
        ----------
        tables
            The ``features``, ``buildings`` and ``landcover`` tables.

        Returns
        -------
        bool
            Whether a written coordinate is exactly 0.
        """
        at_zero = False
        for part, places in zip(self.parts, self.places, strict=True):
            hit = np.arange(len(part.ids), dtype=np.int64)
            at_zero = _area_rows(part, hit, places, tables) or at_zero
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
    index, starts = runs_of(part.starts, hit)
    xy = np.column_stack((part.lons[index] / 1e7, part.lats[index] / 1e7))
    heads = starts[:-1]
    boxes = np.column_stack((
        np.minimum.reduceat(xy[:, 0], heads), np.maximum.reduceat(xy[:, 0], heads),
        np.minimum.reduceat(xy[:, 1], heads), np.maximum.reduceat(xy[:, 1], heads),
    ))  # fmt: skip
    fixed = np.column_stack((part.lons[index], part.lats[index]))  # as stored: 8 bytes a point
    rings = Packed.of(fixed, 8 * starts[:-1], 8 * starts[1:])
    tags = BlockTags.of(part.strings, part.tag_starts, part.keys, part.values, hit)
    texts = tags.texts(range(len(hit)))
    building = np.array(tags.ask(_is_building, ("building",)), dtype=bool)
    built = np.flatnonzero(building).tolist()
    measured = tags.ask(building_height, HEIGHT_KEYS)  # once per combination of the values
    heights = [measured[j][0] for j in built]
    hows = [measured[j][1] for j in built]
    kind_of = tags.ask(landcover_kind, LANDCOVER_KEYS)
    covered = [j for j in np.flatnonzero(~building).tolist() if kind_of[j] is not None]
    kinds = [kind_of[j] for j in covered]
    n = len(rings)
    features.extend(
        boxes,
        [Packed.repeat(b"way", n), part.ids[hit], texts, np.full(n, np.nan), np.full(n, np.nan),
         rings],
        at=places,
    )  # fmt: skip
    if built:
        buildings.extend(boxes[built], [rings[built], np.array(heights), hows], at=places[built])
    if covered:
        cover.extend(boxes[covered], [kinds, rings[covered]], at=places[covered])
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
