"""The store's tables as they are written: rows held, sorted along a curve, packed and indexed.

``walks.store_build`` fills a new store through one ``_Table`` per table: rows come one by one
(``add``) or as columns (``extend``), are held until ``_CHUNK`` of them are, then sorted along a
Z-order curve of their box centres and written as groups of ``_GROUP`` rows
(``walks.store_groups``), with one R-tree entry per page of ``PAGE`` groups. ``_finish``
writes the last rows and the tables' row counts.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import pbf_jit
from walks.store_groups import (
    _COLUMNS,
    PAGE,
    Column,
    Packed,
    Scratch,
    _points_of,
    column_of,
    pack_columns,
    reorder,
)

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator, Sequence


#: Rows held per table before they are written (sorted along a Z-order curve first).
_CHUNK = 50_000


#: Rows per group (one SQLite row): consecutive rows of a chunk sorted along the curve.
_GROUP = 32


_BoxTuple = tuple[float, float, float, float]
_F64 = np.ndarray[Any, np.dtype[np.float64]]
_I64 = np.ndarray[Any, np.dtype[np.int64]]


def _spread(v: np.ndarray[Any, np.dtype[np.uint64]]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """
    Spread the low 32 bits of each value to the even bits of a 64-bit value.

    Parameters
    ----------
    v
        The values.

    Returns
    -------
    numpy.ndarray
        The spread values.
    """
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF),
                        (4, 0x0F0F0F0F0F0F0F0F), (2, 0x3333333333333333),
                        (1, 0x5555555555555555)):  # fmt: skip
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def _z_order(boxes: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.intp]]:
    """
    Order boxes along a Z-order curve of their centres (boxless rows, NaN, last).

    Parameters
    ----------
    boxes
        ``(n, 4)`` of ``min_lon, max_lon, min_lat, max_lat``.

    Returns
    -------
    numpy.ndarray
        The order (stable).
    """
    lon = (boxes[:, 0] + boxes[:, 1]) / 2
    lat = (boxes[:, 2] + boxes[:, 3]) / 2
    missing = np.isnan(lon) | np.isnan(lat)
    cells = float(2**24 - 1)
    x = np.clip(np.nan_to_num((lon + 180.0) / 360.0 * cells), 0, cells).astype(np.uint64)
    y = np.clip(np.nan_to_num((lat + 90.0) / 180.0 * cells), 0, cells).astype(np.uint64)
    key = _spread(x) | (_spread(y) << np.uint64(1))
    key[missing] = np.uint64(2**63)
    return np.argsort(key, kind="stable")


def _blob_boxes(blobs: list[bytes]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """
    Bounding boxes of packed lon/lat point blobs, all at once.

    Parameters
    ----------
    blobs
        Each a non-empty run of stored lon, lat pairs (``_ring_blob``).

    Returns
    -------
    numpy.ndarray
        ``(n, 4)`` of ``min_lon, max_lon, min_lat, max_lat``.
    """
    xy = _points_of(b"".join(blobs))
    sizes = np.fromiter((len(b) // 8 for b in blobs), dtype=np.intp, count=len(blobs))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return np.column_stack((
        np.minimum.reduceat(xy[:, 0], starts), np.maximum.reduceat(xy[:, 0], starts),
        np.minimum.reduceat(xy[:, 1], starts), np.maximum.reduceat(xy[:, 1], starts),
    ))  # fmt: skip


class _Table:
    """Rows of one store table and its R-tree, written in sorted chunks of ``_CHUNK`` rows.

    Each chunk is sorted along a Z-order curve of the rows' box centres before it is written,
    and every ``_GROUP`` consecutive rows are packed into one SQLite row with one R-tree entry
    (their boxes' union; ``walks.store_groups``): an R-tree insertion costs ~18 µs and a SQLite
    row a few µs, whatever its size. Each row keeps its exact box, which a query checks too,
    and its place in file order (``seq``), by which rows are read back; ``first`` starts both
    elsewhere (a multiple of ``_GROUP``), for rows to come after every other row of the table.
    Rows come one by one (``add``) or as columns (``extend``); they are held column by column.
    A row's place is the next one, or given (``at``): areas take places of their own, as
    osmium yields them, when their rows are made later.
    """

    def __init__(self, db: sqlite3.Connection, name: str, first: int = 0) -> None:
        self.db = db
        self.name = name
        self.first = self.count = first
        self.next_id = first
        self.kinds = _COLUMNS[name][1]
        # rows held: parts given as columns (with their places), then the rows added one by one
        self.parts: list[tuple[_F64, _I64, list[Column]]] = []
        self.held = 0
        self.rows: list[tuple[object, ...]] = []
        self.places: list[int] = []
        self.boxes: list[_BoxTuple | None] = []
        self.blobs: list[bytes] = []  # point blobs whose boxes are computed at the flush
        self.blob_rows: list[int] = []
        self.insert = f"INSERT INTO {name} VALUES (?, ?)"  # noqa: S608 - fixed names
        self.insert_box = f"INSERT INTO {name}_rt VALUES (?, ?, ?, ?, ?)"  # noqa: S608
        self.insert_page = f"INSERT INTO {name}_pages VALUES (?, ?)"  # noqa: S608
        self.scratch = _scratch()  # the flushes' blobs: one buffer for the thread's tables

    def add(self, box: _BoxTuple | bytes | None, *columns: object, at: int | None = None) -> None:
        """
        Add a row; it is found by area only when it has a box.

        Parameters
        ----------
        box
            ``(min_lon, max_lon, min_lat, max_lat)``, or the row's stored lon, lat pairs
            (``_ring_blob``, non-empty), or None.
        *columns
            The row's columns after its id and place.
        at
            Its place in file order (default: after the rows added so far).
        """
        self.places.append(self.count if at is None else at)
        if isinstance(box, bytes):
            self.blob_rows.append(len(self.rows))
            self.blobs.append(box)
            self.boxes.append(None)
        else:
            self.boxes.append(box)
        self.rows.append(columns)
        self.count += 1
        if self.held + len(self.rows) >= _CHUNK:
            self.flush()

    def extend(self, boxes: _F64, columns: Sequence[Column], at: _I64 | None = None) -> None:
        """
        Add rows given as columns, as ``add`` adds them one by one.

        Parameters
        ----------
        boxes
            ``(n, 4)`` of ``min_lon, max_lon, min_lat, max_lat`` (NaN: no box).
        columns
            The rows' columns after their id and place: int64 or float64 (NaN for NULL)
            arrays, or lists of text or bytes (None for NULL).
        at
            Their places in file order (default: after the rows added so far).
        """
        self._close()
        n, done = len(boxes), 0
        places = np.arange(self.count, self.count + n, dtype=np.int64) if at is None else at
        while done < n:
            take = min(_CHUNK - self.held, n - done)
            part = [c[done : done + take] for c in columns]
            self.parts.append((boxes[done : done + take], places[done : done + take], part))
            self.held += take
            self.count += take
            done += take
            if self.held >= _CHUNK:
                self.flush()

    def _close(self) -> None:
        """Turn the rows added one by one into a part held as columns."""
        if not self.rows:
            return
        nan = math.nan
        boxes = np.array(
            [b if b is not None else (nan, nan, nan, nan) for b in self.boxes], dtype=np.float64
        ).reshape(-1, 4)
        if self.blobs:
            boxes[self.blob_rows] = _blob_boxes(self.blobs)
        values = zip(*self.rows, strict=True)
        self.parts.append((
            boxes, np.array(self.places, dtype=np.int64),
            [column_of(k, v) for k, v in zip(self.kinds, values, strict=True)],
        ))  # fmt: skip
        self.held += len(self.rows)
        self.rows.clear()
        self.places.clear()
        self.boxes.clear()
        self.blobs.clear()
        self.blob_rows.clear()

    def flush(self) -> None:
        """Write the rows held, sorted along the curve, and their groups' R-tree entries."""
        self._close()
        if not self.held:
            return
        n, parts = self.held, self.parts
        boxes = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
        order = _z_order(boxes)
        boxes = boxes[order]
        places = order.tolist()
        columns: list[Column] = [np.concatenate([p[1] for p in parts])[order]]
        for k, kind in enumerate(self.kinds):
            pieces = [p[2][k] for p in parts]
            if kind in "ir":
                arrays = [np.asarray(piece) for piece in pieces]
                columns.append((arrays[0] if len(arrays) == 1 else np.concatenate(arrays))[order])
            elif len(pieces) == 1 and isinstance(pieces[0], list):
                columns.append(reorder(pieces[0], places))
            elif pbf_jit.active() or all(isinstance(p, Packed) for p in pieces):
                # text or bytes held in buffers (the compiled packing copies each row once)
                held = [p if isinstance(p, Packed) else Packed.of_values(kind, p) for p in pieces]
                columns.append(Packed.joined(held)[order])
            else:  # numpy alone packs Python values faster than it gathers buffers' bytes
                lists = (p.items(kind) if isinstance(p, Packed) else p for p in pieces)
                columns.append(reorder(list(itertools.chain.from_iterable(lists)), places))
        first = self.next_id
        blobs = pack_columns(columns, "i" + self.kinds, boxes, _GROUP, self.scratch)
        self.db.executemany(self.insert, zip(itertools.count(first // _GROUP), blobs))
        starts = np.arange(0, n, _GROUP)
        union = np.column_stack((
            np.fmin.reduceat(boxes[:, 0], starts), np.fmax.reduceat(boxes[:, 1], starts),
            np.fmin.reduceat(boxes[:, 2], starts), np.fmax.reduceat(boxes[:, 3], starts),
        ))  # fmt: skip
        # the groups' boxes, PAGE groups a row, and one R-tree entry per such page
        heads = np.arange(0, len(union), PAGE)
        page = first // (_GROUP * PAGE)
        self.db.executemany(
            self.insert_page,
            zip(
                itertools.count(page),
                (union[a : a + PAGE].astype("<f8").tobytes() for a in heads.tolist()),
            ),
        )
        outer = np.column_stack((
            np.fmin.reduceat(union[:, 0], heads), np.fmax.reduceat(union[:, 1], heads),
            np.fmin.reduceat(union[:, 2], heads), np.fmax.reduceat(union[:, 3], heads),
        ))  # fmt: skip
        known = ~np.isnan(outer[:, 0])
        pages = zip((page + np.flatnonzero(known)).tolist(), *outer[known].T.tolist(), strict=True)
        self.db.executemany(self.insert_box, pages)
        self.next_id = first + -(-n // (_GROUP * PAGE)) * _GROUP * PAGE
        self.parts.clear()
        self.held = 0


#: Each thread's buffer for its tables' flushes (one flush at a time; imports in other
#: threads have their own).
_SCRATCH = threading.local()


def _scratch() -> Scratch:
    """
    Give this thread's buffer for packing groups.

    Returns
    -------
    Scratch
        The buffer.
    """
    held: Scratch | None = getattr(_SCRATCH, "buffer", None)
    if held is None:
        held = _SCRATCH.buffer = Scratch()
    return held


@contextlib.contextmanager
def _letting_buffer_go() -> Iterator[None]:
    """
    Let this thread's buffer for packing groups go after a pass, failed or not.

    Yields
    ------
    None
        Inside: the pass.
    """
    try:
        yield
    finally:
        _SCRATCH.buffer = None


def _finish(db: sqlite3.Connection, tables: Sequence[_Table]) -> None:
    """
    Write the tables' last rows, and how many rows each table holds (in ``meta``).

    Parameters
    ----------
    db
        The new store.
    tables
        Its tables (two may write one table, in places of their own).
    """
    counts = dict.fromkeys(_COLUMNS, 0)
    for table in tables:
        table.flush()
        counts[table.name] += table.count - table.first
    _SCRATCH.buffer = None  # the last flush is written: its buffer goes
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)", ((f"rows:{k}", str(v)) for k, v in counts.items())
    )
