"""The region store's rows on disk: groups of rows packed column by column into one blob.

A store table holds one SQLite row per group of up to 32 consecutive rows (sorted along a
Z-order curve when written), whose R-tree entry is the union of the rows' boxes. Writing a
SQLite row costs a few microseconds whatever its size, so packing 32 rows into one divides the
write time of an import by about four; reading an area unpacks the groups the R-tree finds and
checks each row's own box with numpy.

A group's blob is little-endian: the row count (uint32), the rows' boxes (``n x 4`` float64,
NaN for a row without a box), then each column in turn: integers as int64, reals as float64
(NaN for NULL), text and bytes as ``n`` int64 lengths (-1 for NULL) followed by the values one
after the other (text as UTF-8). Nothing in it is ever evaluated: it is read as numbers and
strings only.

Also here, as the rest of the store's on-disk form: the tables (``_SCHEMA``, ``_COLUMNS``), tags
written as separator text (``_tags_text``, ``_tags_of``), rings as packed points
(``_ring_blob``, ``_ring_of``), coordinates as integers of 1e-7 degree (``_fixed``,
``_degrees``), and opening a store read-only (``_connect``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import operator
import sqlite3
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import pbf_jit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from pathlib import Path

#: A column's kind: ``i`` integer, ``r`` real, ``t`` text, ``b`` bytes.
_FIXED = {"i": "<i8", "r": "<f8"}

_Boxes = np.ndarray[Any, np.dtype[np.float64]]

_I64 = np.ndarray[Any, np.dtype[np.int64]]

#: Bytes gathered at a time when ``Packed`` rows are laid out back to back.
_GATHER = 4 * 2**20


@dataclass(frozen=True)
class Packed:
    """Texts (as UTF-8) or byte strings in one buffer: item ``i`` is ``data[starts[i]:ends[i]]``.

    Rows made from numpy arrays (a way's refs, a ring's points) or by a compiled loop (tags'
    text) are held so, not as one Python object each. Taking rows shares the buffer. An item
    whose end is one before its start is NULL (its length -1, as a group's blob writes it).

    Attributes
    ----------
    data
        The buffer.
    starts, ends
        Each item's span in it.
    """

    data: np.ndarray[Any, np.dtype[np.uint8]]
    starts: _I64
    ends: _I64

    @classmethod
    def of(cls, data: bytes | np.ndarray[Any, Any], starts: _I64, ends: _I64) -> Packed:
        """
        Hold items that lie in a buffer.

        Parameters
        ----------
        data
            The buffer (bytes, or an array whose bytes it is).
        starts, ends
            Each item's span in bytes.

        Returns
        -------
        Packed
            The items.
        """
        if isinstance(data, bytes):
            raw = np.frombuffer(data, dtype=np.uint8)
        else:  # its bytes as tobytes() gives them
            raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        return cls(raw, starts.astype(np.int64), ends.astype(np.int64))

    @classmethod
    def of_values(cls, kind: str, values: Sequence[Any] | np.ndarray[Any, Any]) -> Packed:
        """
        Hold a column's values given as Python objects.

        Parameters
        ----------
        kind
            ``t`` for text (str), else bytes.
        values
            The values (None for NULL).

        Returns
        -------
        Packed
            The items.
        """
        few = kind == "t" and isinstance(values, list) and len(set(values[:64])) <= 8  # noqa: PLR2004
        distinct = dict.fromkeys(values) if few else {}
        if 0 < len(distinct) <= len(values) // 8:  # a few texts many times (how a height is known)
            number = dict(zip(distinct, range(len(distinct)), strict=True))
            index = np.fromiter(map(number.__getitem__, values), dtype=np.int64, count=len(values))
            held = cls.of_values(kind, list(distinct))
            return cls(held.data, held.starts[index], held.ends[index])
        data = [b"" if v is None else v.encode() if kind == "t" else bytes(v) for v in values]
        lengths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        if None in values:
            nulls = [i for i, v in enumerate(values) if v is None]
            ends[nulls] = starts[nulls] - 1
        return cls.of(b"".join(data), starts, ends)

    @classmethod
    def repeat(cls, value: bytes, count: int) -> Packed:
        """
        Hold one value many times (a column all of one text), in one copy.

        Parameters
        ----------
        value
            The value (text as UTF-8).
        count
            How many times.

        Returns
        -------
        Packed
            The items.
        """
        return cls(
            np.frombuffer(value, dtype=np.uint8),
            np.zeros(count, dtype=np.int64),
            np.full(count, len(value), dtype=np.int64),
        )

    @classmethod
    def nulls(cls, count: int) -> Packed:
        """
        Hold NULL items.

        Parameters
        ----------
        count
            How many.

        Returns
        -------
        Packed
            The items.
        """
        return cls(
            np.zeros(0, dtype=np.uint8),
            np.zeros(count, dtype=np.int64),
            np.full(count, -1, dtype=np.int64),
        )

    @classmethod
    def joined(cls, parts: Sequence[Packed]) -> Packed:
        """
        Put items held in several buffers in one.

        Parameters
        ----------
        parts
            The items, in order.

        Returns
        -------
        Packed
            All of them.
        """
        if len(parts) == 1:
            return parts[0]
        shift = np.cumsum([0] + [len(p.data) for p in parts[:-1]])
        return cls(
            np.concatenate([p.data for p in parts]),
            np.concatenate([p.starts + d for p, d in zip(parts, shift.tolist(), strict=True)]),
            np.concatenate([p.ends + d for p, d in zip(parts, shift.tolist(), strict=True)]),
        )

    def __len__(self) -> int:
        """
        Count the items.

        Returns
        -------
        int
            How many.
        """
        return len(self.starts)

    def __getitem__(self, rows: slice | np.ndarray[Any, Any] | list[int]) -> Packed:
        """
        Take some items (the buffer is shared).

        Parameters
        ----------
        rows
            A slice, or the items' places.

        Returns
        -------
        Packed
            Those items.
        """
        return Packed(self.data, self.starts[rows], self.ends[rows])

    def compact(self) -> Packed:
        """
        Lay the items out back to back, in their order.

        Returns
        -------
        Packed
            The same items, each starting where the one before ends (a NULL item takes no
            bytes).
        """
        lengths = self.ends - self.starts
        sizes = np.maximum(lengths, 0)
        ends = np.cumsum(sizes)
        starts = ends - sizes
        if len(self) and bool((self.starts == starts + self.starts[0]).all()):
            first = int(self.starts[0])  # already back to back
            return Packed(self.data[first : first + int(ends[-1])], starts, starts + lengths)
        out = np.empty(int(ends[-1]) if len(self) else 0, dtype=np.uint8)
        if pbf_jit.gather(self.data, self.starts, self.starts + sizes, out):
            return Packed(out, starts, starts + lengths)
        # gathered a few MiB at a time: an index of one int64 per byte, for all the rows at
        # once, would be eight times the rows' size
        cuts = np.searchsorted(ends, np.arange(_GATHER, len(out), _GATHER), side="right")
        for a, b in itertools.pairwise([0, *np.unique(cuts).tolist(), len(self)]):
            if b > a:
                lo, hi = int(starts[a]), int(ends[b - 1])
                index = np.arange(lo, hi, dtype=np.int64)
                index += np.repeat(self.starts[a:b] - starts[a:b], sizes[a:b])
                out[lo:hi] = self.data[index]
        return Packed(out, starts, starts + lengths)

    def items(self, kind: str) -> list[Any]:
        """
        Give the items as Python objects.

        Parameters
        ----------
        kind
            ``t`` for text (str), else bytes.

        Returns
        -------
        list
            The items (None for NULL).
        """
        data = self.data.tobytes()
        spans = zip(self.starts.tolist(), self.ends.tolist(), strict=True)
        if kind == "t":
            return [data[a:b].decode() if b >= a else None for a, b in spans]
        return [data[a:b] if b >= a else None for a, b in spans]


#: A column held for packing: int64 or float64 values, text or bytes (None for NULL), or texts
#: or bytes held in one buffer.
Column = np.ndarray[Any, Any] | list[Any] | Packed


def pack_groups(
    rows: Sequence[tuple[Any, ...]], kinds: str, boxes: _Boxes, size: int
) -> Iterator[bytes | memoryview]:
    """
    Pack rows, ``size`` at a time, into group blobs.

    Parameters
    ----------
    rows
        The rows, in their stored order.
    kinds
        Each column's kind (``i``, ``r``, ``t`` or ``b``).
    boxes
        ``(n, 4)`` of each row's ``min_lon, max_lon, min_lat, max_lat`` (NaN: none).
    size
        Rows per group.

    Yields
    ------
    bytes or memoryview
        One blob per group (views of one buffer when packed by the compiled loop).
    """
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in kinds]
    yield from pack_columns(
        [column_of(kind, column) for kind, column in zip(kinds, columns, strict=True)],
        kinds,
        boxes,
        size,
    )


def column_of(kind: str, values: Sequence[Any]) -> Column:
    """
    Hold one column's values as ``pack_columns`` takes them.

    Parameters
    ----------
    kind
        The column's kind.
    values
        Its values (None for NULL).

    Returns
    -------
    numpy.ndarray or list
        int64 or float64 (NaN for NULL) values, or a list of text or bytes (None for NULL).
    """
    if kind == "i":
        return np.array(values, dtype=np.int64)
    if kind == "r":
        if None in values:
            values = [math.nan if v is None else v for v in values]
        return np.array(values, dtype=np.float64)
    return list(values)


def pack_columns(
    columns: Sequence[Column],
    kinds: str,
    boxes: _Boxes,
    size: int,
    into: Callable[[int], np.ndarray[Any, np.dtype[np.uint8]]] | None = None,
) -> Iterator[bytes | memoryview]:
    """
    Pack columns, ``size`` rows at a time, into group blobs.

    Parameters
    ----------
    columns
        Each column's values in the rows' stored order (``column_of``, or ``Packed``).
    kinds
        Each column's kind (``i``, ``r``, ``t`` or ``b``).
    boxes
        ``(n, 4)`` of each row's ``min_lon, max_lon, min_lat, max_lat`` (NaN: none).
    size
        Rows per group.
    into
        Gives the compiled loop a buffer of the size asked, reused from call to call (a
        ``Scratch``): the blobs are then views of it, to be used before the next call.

    Yields
    ------
    bytes or memoryview
        One blob per group (views of one buffer when packed by the compiled loop).
    """
    boxes = np.ascontiguousarray(boxes, dtype=np.float64)
    if pbf_jit.active():  # each row's bytes copied once, from where they lie, by one loop
        compiled = pbf_jit.pack(
            boxes, [_spans(k, c) for k, c in zip(kinds, columns, strict=True)], size, into
        )
        if compiled is not None:
            yield from compiled
            return
    yield from _pack_plain(columns, kinds, boxes, size)


def _pack_plain(columns: Sequence[Column], kinds: str, boxes: _Boxes, size: int) -> Iterator[bytes]:
    """
    Pack columns into group blobs as ``pack_columns`` does, by numpy and Python.

    Parameters
    ----------
    columns, kinds, boxes, size
        As ``pack_columns`` takes them (``boxes`` float64, contiguous).

    Yields
    ------
    bytes
        One blob per group.
    """
    n = len(boxes)
    packed: list[tuple[str, Any, Any]] = []
    for kind, column in zip(kinds, columns, strict=True):
        if kind in _FIXED:
            packed.append((kind, np.ascontiguousarray(column, dtype=_FIXED[kind]), None))
            continue
        if isinstance(column, Packed):  # the lengths (-1: NULL), and the bytes back to back
            laid = column.compact()
            packed.append(("p", laid.ends - laid.starts, laid))
            continue
        nulls = [i for i, v in enumerate(column) if v is None] if None in column else []
        if nulls:
            empty = "" if kind == "t" else b""
            column = [empty if v is None else v for v in column]  # noqa: PLW2901
        data: list[bytes] = list(map(str.encode, column)) if kind == "t" else list(column)
        lengths = np.fromiter(map(len, data), dtype=np.int64, count=n)
        lengths[nulls] = -1
        packed.append((kind, lengths, data))
    for start in range(0, n, size):
        end = min(start + size, n)
        parts = [struct.pack("<I", end - start), boxes[start:end].tobytes()]
        for kind, values, held in packed:
            parts.append(values[start:end].tobytes())
            if kind in "tb":
                parts.append(b"".join(held[start:end]))
            elif kind == "p" and end > start:  # laid out: a row's bytes end where the next's start
                hi = int(held.starts[end]) if end < n else held.data.size
                parts.append(held.data[int(held.starts[start]) : hi].tobytes())
        yield b"".join(parts)


def _spans(
    kind: str, column: Column
) -> tuple[np.ndarray[Any, Any], tuple[np.ndarray[Any, np.dtype[np.uint8]], _I64, _I64] | None]:
    """
    Give a column as ``walks.pbf_jit.pack`` takes it.

    Parameters
    ----------
    kind
        The column's kind.
    column
        Its values (``column_of``, or ``Packed``).

    Returns
    -------
    tuple
        Its 8-byte values (text and bytes: their lengths, -1 for NULL), and for text and
        bytes the buffer they lie in and each row's span in it.
    """
    if kind in _FIXED:
        return np.ascontiguousarray(column, dtype=_FIXED[kind]), None
    held = column if isinstance(column, Packed) else Packed.of_values(kind, column)
    return held.ends - held.starts, (held.data, held.starts, held.ends)


class Scratch:
    """A buffer reused from call to call, grown by half when too small.

    Fresh memory costs the kernel a page fault per 4 KiB: the import's group blobs, about
    its store's size, were a third of its page faults when each flush had a new buffer.
    """

    def __init__(self) -> None:
        self._buffer = np.zeros(0, dtype=np.uint8)

    def __call__(self, size: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """
        Give the buffer's first bytes, after growing it when needed.

        Parameters
        ----------
        size
            How many bytes.

        Returns
        -------
        numpy.ndarray
            ``size`` bytes (what they hold is left over from the last use).
        """
        if size > self._buffer.size:
            self._buffer = np.empty(max(size, self._buffer.size * 3 // 2), dtype=np.uint8)
        return self._buffer[:size]


class Group:
    """One unpacked group: its boxes at once, its columns read row by row on demand.

    Parameters
    ----------
    blob
        The group's blob.
    kinds
        Each column's kind.

    Raises
    ------
    ValueError
        When the blob is shorter than its columns say.
    """

    def __init__(self, blob: bytes, kinds: str) -> None:
        self.blob = blob
        (n,) = struct.unpack_from("<I", blob, 0)
        at = 4
        self.boxes: _Boxes = np.frombuffer(blob, dtype="<f8", count=4 * n, offset=at).reshape(n, 4)
        at += 32 * n
        self.columns: list[tuple[str, Any, Any]] = []
        for kind in kinds:
            values = np.frombuffer(blob, dtype=_FIXED.get(kind, "<i8"), count=n, offset=at)
            at += 8 * n
            if kind in "tb":
                ends = at + np.cumsum(np.maximum(values, 0))
                self.columns.append((kind, values, ends))
                at = int(ends[-1]) if n else at
            else:
                self.columns.append((kind, values, None))
        if at != len(blob):
            msg = "a store group of another length than its columns"
            raise ValueError(msg)

    def meeting(self, box: tuple[float, float, float, float] | None) -> list[int]:
        """
        Say which rows meet a box (every row for None; a row without a box meets none).

        Parameters
        ----------
        box
            ``(west, east, south, north)``.

        Returns
        -------
        list of int
            The rows' places in the group.
        """
        if box is None:
            return list(range(len(self.boxes)))
        west, east, south, north = box
        b = self.boxes
        hit = (b[:, 1] >= west) & (b[:, 0] <= east) & (b[:, 3] >= south) & (b[:, 2] <= north)
        return np.flatnonzero(hit).tolist()

    def column(self, k: int, rows: list[int]) -> list[Any]:
        """
        Read one column of some rows.

        Parameters
        ----------
        k
            The column's place.
        rows
            The rows' places in the group.

        Returns
        -------
        list
            The values (None for NULL).
        """
        kind, values, ends = self.columns[k]
        if kind == "i":
            return values[rows].tolist()  # type: ignore[no-any-return]
        if kind == "r":
            return [None if v != v else v for v in values[rows].tolist()]  # noqa: PLR0124 - NaN
        blob, lengths, stops = self.blob, values.tolist(), ends.tolist()
        out: list[Any] = []
        for r in rows:
            size = lengths[r]
            if size < 0:
                out.append(None)
                continue
            piece = blob[stops[r] - size : stops[r]]
            out.append(piece.decode() if kind == "t" else piece)
        return out

    def rows(self, rows: list[int]) -> list[tuple[Any, ...]]:
        """
        Read whole rows.

        Parameters
        ----------
        rows
            The rows' places in the group.

        Returns
        -------
        list of tuple
            The rows.
        """
        return list(zip(*(self.column(k, rows) for k in range(len(self.columns))), strict=True))


def reorder(rows: Sequence[Any], order: list[int]) -> list[Any]:
    """
    Put rows (or a column's values) in another order, in C.

    Parameters
    ----------
    rows
        The rows.
    order
        The new order (indices into ``rows``).

    Returns
    -------
    list
        The rows in that order.
    """
    if len(order) < 2:  # noqa: PLR2004 - itemgetter of one index returns the item itself
        return [rows[i] for i in order]
    return list(operator.itemgetter(*order)(rows))


#: Each table's columns after its rows' place in file order (``seq``), and their kinds
#: (``walks.store_groups``: integer, real, text, bytes).
_COLUMNS = {
    "ways": ("osm_id, refs, lats, lons, tags", "ibbbt"),
    "areas": ("osm_id, tags, rings", "itt"),
    "features": ("kind, osm_id, tags, lat, lon, ring", "titrrb"),
    "buildings": ("ring, height, how", "brt"),
    "landcover": ("kind, ring", "tb"),
}


#: Each table holds one row per group of rows (``pack_columns``; group ``g`` of page
#: ``g // PAGE``); ``_pages`` one row per page of ``PAGE`` groups, their boxes (``n x 4``
#: float64, NaN for a group without one), with one R-tree entry: the boxes' union.
_SCHEMA = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n" + "".join(
    f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, data BLOB NOT NULL);\n"
    f"CREATE TABLE {name}_pages (id INTEGER PRIMARY KEY, boxes BLOB NOT NULL);\n"
    f"CREATE VIRTUAL TABLE {name}_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);\n"
    for name in _COLUMNS
)

#: Groups per page (``_SCHEMA``). An R-tree insertion costs ~10 µs, a plain row ~1 µs: one
#: entry per 8 groups took the store benchmark's R-tree writing from 0.37 to 0.04 CPU-s; an
#: area reads the same groups.
PAGE = 8

#: Files from this size on get a store of 64 KiB pages (``_pragmas``).
_LARGE_FILE = 16 * 2**20


def _pragmas(file_bytes: int) -> str:
    """
    Give the settings a new store is created with, by the size of its file.

    A group is about 9 KB: on 4 KiB pages each ran over three pages, each a write of its own;
    64 KiB pages hold several. For the store benchmark's region that is a third fewer
    CPU-seconds writing (0.6-0.8 against 1.0-1.4) and a smaller store (277 MB against 287),
    with opening an area unchanged (0.19-0.22 CPU-s for 2 km^2, against 0.20-0.27). A small
    file's store would only grow (Munich's 4.0 MB to 5.2): it keeps 4 KiB pages.

    Parameters
    ----------
    file_bytes
        The extract's size.

    Returns
    -------
    str
        SQL to run before ``_SCHEMA``: the page size; no journal, no syncing (a store is
        written to a temporary file, moved into place when whole).
    """
    page = 65536 if file_bytes >= _LARGE_FILE else 4096
    return f"PRAGMA page_size={page}; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;\n"


#: Coordinates on disk: osmium's own integers of 1e-7 degree (int32), half the bytes of
#: doubles. Every coordinate a store is built from is one (osmium and the PBF arrays hold
#: no other), and ``c / 1e7`` gives back the very double read from the file.
_SCALE = 1e7

#: The int32 of a point whose node is unknown (NaN when read): no coordinate on the globe.
_UNKNOWN = np.int32(np.iinfo(np.int32).min)

_I32 = np.ndarray[Any, np.dtype[np.int32]]

_F64 = np.ndarray[Any, np.dtype[np.float64]]


def _fixed(degrees: _F64 | Sequence[float] | Sequence[tuple[float, float]]) -> _I32:
    """
    Turn coordinates in degrees into the store's integers of 1e-7 degree.

    Parameters
    ----------
    degrees
        Coordinates (any shape; NaN for an unknown point).

    Returns
    -------
    numpy.ndarray
        int32 of the same shape, ``_UNKNOWN`` where NaN.
    """
    values = np.asarray(degrees, dtype=np.float64)
    unknown = np.isnan(values)
    scaled = np.rint(np.where(unknown, 0.0, values) * _SCALE).astype(np.int32)
    scaled[unknown] = _UNKNOWN
    return scaled


def _degrees(blob: bytes | _I32) -> _F64:
    """
    Read coordinates stored as integers of 1e-7 degree.

    Parameters
    ----------
    blob
        int32 values (little-endian bytes, or an array).

    Returns
    -------
    numpy.ndarray
        Degrees, NaN for an unknown point.
    """
    raw = np.frombuffer(blob, dtype="<i4") if isinstance(blob, bytes) else blob
    values = raw / _SCALE
    values[raw == _UNKNOWN] = np.nan
    return values


def _points_blob(pairs: bytes) -> bytes:
    """
    Store float64 lon, lat pairs (as osmium's WKB holds them).

    Parameters
    ----------
    pairs
        The points' doubles.

    Returns
    -------
    bytes
        int32 lon, lat pairs of 1e-7 degree.
    """
    return _fixed(np.frombuffer(pairs, dtype=np.float64)).tobytes()


def _ring_blob(ring: tuple[tuple[float, float], ...]) -> bytes:
    """
    Pack a lon/lat ring.

    Parameters
    ----------
    ring
        The ring.

    Returns
    -------
    bytes
        int32 lon, lat pairs of 1e-7 degree.
    """
    return _fixed(ring).tobytes()


def _points_of(blob: bytes) -> _F64:
    """
    Unpack stored lon/lat pairs.

    Parameters
    ----------
    blob
        As from ``_ring_blob`` or ``_points_blob``.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` of lon, lat in degrees.
    """
    return _degrees(blob).reshape(-1, 2)


def _ring_of(blob: bytes) -> tuple[tuple[float, float], ...]:
    """
    Unpack a lon/lat ring.

    Parameters
    ----------
    blob
        As from ``_ring_blob``.

    Returns
    -------
    tuple
        The ring.
    """
    return tuple((float(x), float(y)) for x, y in _points_of(blob).tolist())


#: Separators of the tag text: between a key and its value, and between tags (OSM's XML
#: cannot hold these control characters; text holding them is written as JSON instead).
_PAIR, _NEXT = "\x1e", "\x1f"


def _tags_text(pairs: Iterable[tuple[str, str]], count: int) -> str:
    """
    Write tags as text, quickly: ``key<RS>value<US>key<RS>value``, else as a JSON object.

    Parameters
    ----------
    pairs
        The ``(key, value)`` pairs (osmium's tag list or a dict's items).
    count
        How many there are.

    Returns
    -------
    str
        The text; JSON (starting with ``{``) when a key or value holds a separator, when the
        text would start with ``{`` or when there are no tags.
    """
    items = list(pairs)
    text = _NEXT.join(map(_PAIR.join, items))
    if count and text.count(_PAIR) == count and text.count(_NEXT) == count - 1 and text[0] != "{":
        return text
    return json.dumps(dict(items))


def _tags_of(text: str) -> dict[str, str]:
    """
    Read tags written by ``_tags_text``.

    Parameters
    ----------
    text
        The text.

    Returns
    -------
    dict
        The tags.
    """
    if text.startswith("{"):
        tags: dict[str, str] = json.loads(text)
        return tags
    return dict(pair.split(_PAIR) for pair in text.split(_NEXT))


@contextlib.contextmanager
def _connect(store: Path) -> Iterator[sqlite3.Connection]:
    """
    Open a store read-only.

    Parameters
    ----------
    store
        The store file.

    Yields
    ------
    sqlite3.Connection
        The connection, closed afterwards.
    """
    with contextlib.closing(
        sqlite3.connect(f"{store.absolute().as_uri()}?mode=ro", uri=True)
    ) as db:
        yield db
