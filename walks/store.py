"""A region store: one pass over an extract, then any area of it opened without reading the file.

The store is one SQLite file under ``cache_dir/stores``: the walking-way candidates (node ids
and coordinates as packed arrays, tags as text), the walkable multipolygon areas, every tagged
node and area, the buildings and the base map's land cover. Each table's rows are written in
chunks sorted along a Z-order curve of their box centres and keep their exact box; every 32
consecutive rows are packed into one SQLite row (``walks.store_groups``) with one entry in an
R-tree (SQLite's ``rtree`` module ships with Python's ``sqlite3``). A store belongs to one
file: it is used only while the file's size, modification time and the hash of its first MiB
are those recorded at import.

Why SQLite with R-trees (``python benchmarks/store_bench.py``, a 50.7 MB region PBF of 4.3 M
nodes, 24 copies of the shared extracts side by side, on a shared 2-core machine, two runs):
opening a 2 km² area (graph, cafés and the buildings around) takes 0.15-0.17 s from the store
against 48-49 s re-reading the file (~300x); the import streams in 16 CPU-s (ways and
features read from the file as ``walks`` did before: 60-81 CPU-s) with a 488 MB peak against
1.8 GB for reading the file whole. SQLite needs no new dependency, writes one file atomically
renamed into place, and answers a box query in milliseconds. An R-tree insertion costs ~18 µs a
row whatever the order of the rows (measured: 1 M boxes, random or Z-ordered, 19 s vs 18 s),
hence one entry per group of rows (0.04 M entries instead of 1.3 M).

The nodes and ways of a PBF file are read as arrays by ``walks.pbf`` and ``walks.store_pbf``:
only the tagged nodes and the ways with a ``highway`` or ``railway`` key become Python values.
Osmium builds the areas (WKB rings) and reads the relations, its C++ side dropping untagged areas
and non-highway relations; an XML file, or a PBF file ``walks.pbf`` does not decode, is read by
osmium alone. Tags are written as separator text, not JSON. The import's throughput (0.27 M
nodes per CPU-s, ~19x pyosmium's own C++ reading with locations; 0.17 M with osmium alone) is
still short of 1 M nodes per CPU-s: osmium's C++ area building takes ~2.8 CPU-s, the 282 k
areas (mostly buildings) still reach Python as pyosmium objects (~15 µs each with their rows),
the array reading takes ~2.2 CPU-s, the rows' Python ~3 CPU-s, and packing and writing them
~4 CPU-s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
import logging
import math
import os
import re
import sqlite3
import struct
import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from walks._files import TMP_PREFIX
from walks._http import check_cache_dir
from walks.data import (
    AREA_HIGHWAYS,
    DEFAULT_BUILDING_M,
    RAIL_VALUES,
    AreaRecord,
    Building,
    Feature,
    Landcover,
    OsmFeatures,
    OsmWays,
    Ring,
    WayRecord,
    _has_odd_coordinates,
    _header_date,
    _is_xml,
    _NeedsRepairError,
    _osmium_failures,
    _read_error,
    _walkable_multipolygon,
    building_height,
    check_extract,
    is_walkable,
    landcover_kind,
    read_extract,
    read_features,
)
from walks.errors import CacheError, DataError
from walks.pbf import NulTagError, UnsupportedPbfError
from walks.store_groups import Group, pack_groups, reorder

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

    from walks.store_pbf import PbfRows
    from walks.types import Area

log = logging.getLogger(__name__)

#: The store format; a store of another version is built again.
STORE_VERSION = "5"

_HEAD_BYTES = 2**20

#: The table of the grids file kept beside a store (``keep_grid``).
_GRIDS = "CREATE TABLE IF NOT EXISTS grids (key TEXT PRIMARY KEY, data BLOB NOT NULL)"

#: Each table's columns after its rows' place in file order (``seq``), and their kinds
#: (``walks.store_groups``: integer, real, text, bytes).
_COLUMNS = {
    "ways": ("osm_id, refs, lats, lons, tags", "ibbbt"),
    "areas": ("osm_id, tags, rings", "itt"),
    "features": ("kind, osm_id, tags, lat, lon, ring", "titrrb"),
    "buildings": ("ring, height, how", "brt"),
    "landcover": ("kind, ring", "tb"),
}

# each table holds one row per group of _GROUP rows (walks.store_groups), with an R-tree entry
_SCHEMA = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n" + "".join(
    f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, data BLOB NOT NULL);\n"
    f"CREATE VIRTUAL TABLE {name}_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);\n"
    for name in _COLUMNS
)


@dataclass(frozen=True)
class StoreInfo:
    """What a store holds.

    Attributes
    ----------
    path
        The store file.
    osm_file
        The extract it was built from.
    ways, features, buildings
        How many of each it holds.
    size_bytes
        The store's size on disk.
    current
        Whether the extract is unchanged since the import (and the store of this version).
    areas, landcover
        How many walkable multipolygon areas and base-map shapes it holds.
    imported
        When it was built (UTC, ISO 8601).
    version
        Its format version (``STORE_VERSION`` when usable).
    grids
        How many building height grids it keeps (``walks.views.height_grid``).
    """

    path: Path
    osm_file: str
    ways: int
    features: int
    buildings: int
    size_bytes: int
    current: bool
    areas: int = 0
    landcover: int = 0
    imported: str = ""
    version: str = ""
    grids: int = 0


def fingerprint(osm_file: Path) -> str:
    """
    Identify a file's content cheaply: its size, modification time and the hash of its head.

    Parameters
    ----------
    osm_file
        The file.

    Returns
    -------
    str
        ``size:mtime_ns:sha256-of-first-MiB``.
    """
    st = osm_file.stat()
    with osm_file.open("rb") as f:
        head = hashlib.sha256(f.read(_HEAD_BYTES)).hexdigest()
    return f"{st.st_size}:{st.st_mtime_ns}:{head}"


def store_path(osm_file: str | Path, cache_dir: Path | None = None) -> Path:
    """
    Say where the store of an extract lives.

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The walks cache directory (None for the default one).

    Returns
    -------
    Path
        ``cache_dir/stores/<hash of the file's absolute path>.sqlite``.
    """
    folder = check_cache_dir(cache_dir) / "stores"
    digest = hashlib.sha256(os.fsencode(Path(osm_file).resolve())).hexdigest()[:32]
    return folder / f"{digest}.sqlite"


#: The names of the store files walks writes.
_STORE_NAME = re.compile(r"[0-9a-f]{32}\.sqlite")


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
        Float64 lon, lat pairs.
    """
    return np.asarray(ring, dtype=np.float64).tobytes()


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
    xy = np.frombuffer(blob, dtype=np.float64).reshape(-1, 2)
    return tuple((float(x), float(y)) for x, y in xy)


def import_extract(
    osm_file: str | Path,
    cache_dir: Path | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> StoreInfo:
    """
    Build the store of an extract in one streaming pass (after a quick pass over relations).

    What is read goes to the store in batches of ``_CHUNK`` rows, so memory stays bounded by
    osmium's node-location index, whatever the file's size. The rows are those
    ``read_extract`` and ``read_features(path, bool)`` give, in the same order. The store is
    built in a temporary file beside its place and renamed into place when complete, so a
    store is whole or absent.

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The walks cache directory (None for the default one).
    progress
        Called with a short phase description as work starts.

    Returns
    -------
    StoreInfo
        What the store holds.

    Raises
    ------
    DataError
        When the extract cannot be read.
    CacheError
        When the store cannot be written.
    """
    say = progress or (lambda _text: None)
    path = check_extract(osm_file)
    stamp = fingerprint(path)
    target = store_path(path, cache_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".sqlite", dir=target.parent)
    except OSError as err:
        folder = target.parent
        blocked = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None
        )
        if blocked is not None:
            msg = (
                f"cannot write the store: {str(blocked)!r} is a file, not a folder: move it "
                "away or give another --cache-dir"
            )
        else:
            msg = f"cannot write the store in {str(folder)!r} ({err.strerror or err}): {_FIX}"
        raise CacheError(msg) from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        say(f"reading {path.name} into the store")
        try:
            meta = _stream(tmp, path, path, repaired=False)
        except _NeedsRepairError:
            # an unsorted file or one with unreadable coordinates (hand-made exports, small):
            # read as read_extract and read_features read it, each repairing what it needs
            meta = _read_whole(tmp, path)
        meta |= {
            "version": STORE_VERSION,
            "osm_file": str(path.resolve()),
            "fingerprint": stamp,
            "imported": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.commit()
        for stale in _companions(target):  # grids of the old store, a journal left by a crash
            stale.unlink(missing_ok=True)
        tmp.replace(target)
    except DataError:
        raise  # the extract is at fault (an OSError too), not the cache folder
    except (OSError, sqlite3.Error) as err:
        msg = f"cannot write the store {str(target)!r} ({err}): {_FIX}"
        raise CacheError(msg) from err
    finally:
        tmp.unlink(missing_ok=True)
    info = store_info(path, cache_dir)
    if info is None:  # removed by another process between the rename and now
        msg = f"the store {str(target)!r} vanished just after it was written: {_FIX}"
        raise CacheError(msg)
    return info


_FIX = "check the cache folder (--cache-dir) is writable and has room"

#: Rows held per table before they are written (sorted along a Z-order curve first).
_CHUNK = 50_000

#: Rows per R-tree entry: consecutive rows of a chunk sorted along the curve share one box.
_GROUP = 32

_BoxTuple = tuple[float, float, float, float]

#: The first id and place of the railways in the landcover table (after every other row).
_RAILS = 2**40


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
        Each a non-empty run of float64 lon, lat pairs.

    Returns
    -------
    numpy.ndarray
        ``(n, 4)`` of ``min_lon, max_lon, min_lat, max_lat``.
    """
    xy = np.frombuffer(b"".join(blobs), dtype=np.float64).reshape(-1, 2)
    sizes = np.fromiter((len(b) // 16 for b in blobs), dtype=np.intp, count=len(blobs))
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
    """

    def __init__(self, db: sqlite3.Connection, name: str, first: int = 0) -> None:
        self.db = db
        self.name = name
        self.first = self.count = first
        self.next_id = first
        self.kinds = "i" + _COLUMNS[name][1]
        self.rows: list[tuple[object, ...]] = []
        self.boxes: list[_BoxTuple | list[float] | None] = []
        self.blobs: list[bytes] = []  # point blobs whose boxes are computed at the flush
        self.blob_rows: list[int] = []
        self.insert = f"INSERT INTO {name} VALUES (?, ?)"  # noqa: S608 - fixed names
        self.insert_box = f"INSERT INTO {name}_rt VALUES (?, ?, ?, ?, ?)"  # noqa: S608

    def add(self, box: _BoxTuple | bytes | None, *columns: object) -> None:
        """
        Add a row; it is found by area only when it has a box.

        Parameters
        ----------
        box
            ``(min_lon, max_lon, min_lat, max_lat)``, or the row's points as float64 lon, lat
            pairs (non-empty), or None.
        *columns
            The row's columns after its id and place.
        """
        if isinstance(box, bytes):
            self.blob_rows.append(len(self.rows))
            self.blobs.append(box)
            self.boxes.append(None)
        else:
            self.boxes.append(box)
        self.rows.append((self.count, *columns))
        self.count += 1
        if len(self.rows) >= _CHUNK:
            self.flush()

    def extend(
        self, boxes: np.ndarray[Any, np.dtype[np.float64]], rows: list[tuple[object, ...]]
    ) -> None:
        """
        Add rows at once, as ``add`` adds them one by one.

        Parameters
        ----------
        boxes
            ``(n, 4)`` of ``min_lon, max_lon, min_lat, max_lat`` (NaN: no box).
        rows
            Each row's columns after its id and place.
        """
        done = 0
        while done < len(rows):
            take = min(_CHUNK - len(self.rows), len(rows) - done)
            first = self.count
            self.rows.extend(
                (seq, *row)
                for seq, row in zip(
                    range(first, first + take), rows[done : done + take], strict=True
                )
            )
            self.boxes.extend(boxes[done : done + take].tolist())
            self.count += take
            done += take
            if len(self.rows) >= _CHUNK:
                self.flush()

    def flush(self) -> None:
        """Write the rows held, sorted along the curve, and their groups' R-tree entries."""
        if not self.rows:
            return
        nan = math.nan
        boxes = np.array(
            [b if b is not None else (nan, nan, nan, nan) for b in self.boxes], dtype=np.float64
        ).reshape(-1, 4)
        if self.blobs:
            boxes[self.blob_rows] = _blob_boxes(self.blobs)
        order = _z_order(boxes)
        boxes = boxes[order]
        first = self.next_id
        rows = self.rows
        blobs = pack_groups(reorder(rows, order.tolist()), self.kinds, boxes, _GROUP)
        self.db.executemany(self.insert, zip(itertools.count(first // _GROUP), blobs))
        starts = np.arange(0, len(rows), _GROUP)
        union = np.column_stack((
            np.fmin.reduceat(boxes[:, 0], starts), np.fmax.reduceat(boxes[:, 1], starts),
            np.fmin.reduceat(boxes[:, 2], starts), np.fmax.reduceat(boxes[:, 3], starts),
        ))  # fmt: skip
        known = ~np.isnan(union[:, 0])
        groups = zip(
            (first // _GROUP + np.flatnonzero(known)).tolist(),
            *union[known].T.tolist(),
            strict=True,
        )
        self.db.executemany(self.insert_box, groups)
        self.next_id = first + -(-len(rows) // _GROUP) * _GROUP
        self.rows.clear()
        self.boxes.clear()
        self.blobs.clear()
        self.blob_rows.clear()


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
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)", ((f"rows:{k}", str(v)) for k, v in counts.items())
    )


def _ring_box(ring: tuple[tuple[float, float], ...]) -> tuple[float, float, float, float] | None:
    """
    Bounding box of a lon/lat ring.

    Parameters
    ----------
    ring
        The ring.

    Returns
    -------
    tuple or None
        ``(min_lon, max_lon, min_lat, max_lat)``.
    """
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return (min(lons), max(lons), min(lats), max(lats)) if ring else None


def _points_box(lats: list[float], lons: list[float]) -> tuple[float, float, float, float] | None:
    """
    Bounding box of a way's known points (NaN for a node missing from the extract).

    Parameters
    ----------
    lats, lons
        The coordinates.

    Returns
    -------
    tuple or None
        ``(min_lon, max_lon, min_lat, max_lat)``, or None when no point is known.
    """
    known = [(x, y) for x, y in zip(lons, lats, strict=True) if x == x and y == y]  # noqa: PLR0124 - NaN test
    if not known:
        return None
    xs = [p[0] for p in known]
    ys = [p[1] for p in known]
    return min(xs), max(xs), min(ys), max(ys)


def _area_members(readable: Path) -> set[int]:
    """
    Read the ids of the member ways of walkable multipolygons (a quick pass over relations).

    Parameters
    ----------
    readable
        The file to read.

    Returns
    -------
    set of int
        The way ids: only their shapes are kept while reading.
    """
    import osmium  # noqa: PLC0415

    members: set[int] = set()
    obj: Any
    for obj in osmium.FileProcessor(str(readable), osmium.osm.RELATION):
        tags = obj.tags
        if tags.get("type") == "multipolygon" and tags.get("highway") in AREA_HIGHWAYS:
            members.update(m.ref for m in obj.members if m.type == "w")
    return members


def _stream(tmp: Path, readable: Path, path: Path, *, repaired: bool) -> dict[str, str]:
    """
    Build a store by streaming the extract: arrays and osmium, or osmium alone.

    Parameters
    ----------
    tmp
        The store file to (re)create.
    readable
        The file to read: the extract or its repaired copy.
    path
        The extract as the user named it, for labels and messages.
    repaired
        True when ``readable`` is already a repaired copy.

    Returns
    -------
    dict
        The meta rows: source, data date and features' source.

    Raises
    ------
    _NeedsRepairError
        When the file is unsorted or holds unreadable coordinates and is not a repaired copy.
    DataError
        When it cannot be read.
    """
    import osmium  # noqa: PLC0415

    try:
        reader = osmium.io.Reader(str(readable), osmium.osm.NOTHING)
        header = reader.header()
        header_date = _header_date(header)
        # a file that says it is sorted (Geofabrik's, osmium's) and dated: its untagged nodes
        # are left to osmium's C++ side, as nothing else is wanted of them
        fast = header.get("sorting") == "Type_then_ID" and header_date is not None
        reader.close()
        members = _area_members(readable)
    except _osmium_failures() as err:
        raise _read_error(path, err) from err
    # a PBF's nodes and ways are read as arrays (walks.pbf checks their order itself), the
    # rest by osmium; a file walks.pbf does not decode is read by osmium alone
    arrays = not _is_xml(readable)
    try:
        newest, at_zero = _fill(tmp, readable, path, members, fast=fast, arrays=arrays,
                                repaired=repaired, dates=header_date is None)  # fmt: skip
    except NulTagError as err:
        # not to osmium: a tag holding a NUL crashes its C++ side (the process ends at once)
        msg = (
            f"OSM file {str(path)!r} has {err} (written by a broken tool; OSM itself cannot "
            "hold one): remove the tag, or download the extract again"
        )
        raise DataError(msg) from err
    except UnsupportedPbfError as err:
        log.debug("%s is read by osmium alone: %s", path.name, err)
        newest, at_zero = _fill(tmp, readable, path, members, fast=fast, arrays=False,
                                repaired=repaired, dates=header_date is None)  # fmt: skip
    if at_zero and not repaired and _has_odd_coordinates(readable):
        raise _NeedsRepairError(coordinates=True)
    date = header_date or (newest.astimezone(dt.UTC) if isinstance(newest, dt.datetime) else None)
    return {
        "source": f"file:{path.resolve()}",
        "data_date": date.isoformat() if date else "",
        "features_source": f"file:{path.resolve()}",
    }


def _fill(
    tmp: Path,
    readable: Path,
    path: Path,
    members: set[int],
    *,
    fast: bool,
    arrays: bool,
    repaired: bool,
    dates: bool,
) -> tuple[dt.datetime | None, bool]:
    """
    Create the store's tables in a new file and fill them in one pass over the extract.

    Parameters
    ----------
    tmp
        The store file to (re)create.
    readable
        The file to read.
    path
        The extract as the user named it, for messages.
    members
        Ids of the ways walkable multipolygons are made of.
    fast
        The file says it is sorted and dated: untagged nodes and areas are dropped in C++.
    arrays
        Read the nodes and ways with ``walks.pbf`` (a PBF file), osmium the rest.
    repaired
        True when ``readable`` is already a repaired copy.
    dates
        Track the newest element timestamp.

    Returns
    -------
    tuple
        As ``_pass`` returns.

    Raises
    ------
    _NeedsRepairError
        When the file is unsorted or holds unreadable coordinates and is not a repaired copy.
    DataError
        When it cannot be read.
    UnsupportedPbfError
        When ``arrays`` is asked of a file ``walks.pbf`` does not decode.
    """
    import osmium  # noqa: PLC0415

    tmp.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(tmp)) as db:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        processor = osmium.FileProcessor(str(readable)).with_locations().with_areas()
        if fast or arrays:
            # osmium's C++ side drops what is not wanted before Python sees it: untagged nodes
            # and areas, and relations without a highway tag unless their dates are wanted
            # (with the arrays, no node reaches Python: their order is checked there)
            untagged = osmium.filter.EmptyTagFilter()
            untagged.enable_for(osmium.osm.NODE | osmium.osm.AREA)
            processor = processor.with_filter(untagged)
            if not dates:
                squares = osmium.filter.KeyFilter("highway")
                squares.enable_for(osmium.osm.RELATION)
                processor = processor.with_filter(squares)
        prelude = None
        if arrays:
            # nodes and ways are read as arrays: osmium keeps their locations and builds the
            # areas, and hands Python only the areas and relations
            only = osmium.filter.EntityFilter(osmium.osm.RELATION | osmium.osm.AREA)
            processor = processor.with_filter(only)

            def prelude(tables: tuple[_Table, _Table, _Table]) -> PbfRows:
                from walks.store_pbf import pbf_rows  # noqa: PLC0415 - it imports this module

                return pbf_rows(readable, members, tables, dates=dates)

        try:
            missing: set[int] = set()
            found = _pass(db, processor, members, repaired=repaired, dates=dates,
                          prelude=prelude, missing=missing)  # fmt: skip
            if fast and missing and not repaired and _nodes_in(readable, missing):
                # a node of a way comes after it: the file says it is sorted and is not
                # (osmium's C++ side hid the untagged nodes from the order check)
                raise _NeedsRepairError
        except _osmium_failures() as err:
            text = str(err)
            unreadable = _is_xml(readable) and "coordinate" in text
            if not repaired and (unreadable or "out of order" in text):
                raise _NeedsRepairError(coordinates=unreadable) from err
            raise _read_error(path, err) from err
        except OSError as err:
            raise _read_error(path, err) from err
        db.commit()
    return found


def _nodes_in(readable: Path, ids: set[int]) -> bool:
    """
    Say whether a file holds any of some nodes (ways said to lack them).

    Parameters
    ----------
    readable
        The file.
    ids
        The node ids.

    Returns
    -------
    bool
        True when one of them is in the file.
    """
    import osmium  # noqa: PLC0415

    # not osmium's IdFilter: its id set takes memory by the ids' spread, not their number
    return any(node.id in ids for node in osmium.FileProcessor(str(readable), osmium.osm.NODE))


def _read_whole(tmp: Path, path: Path) -> dict[str, str]:
    """
    Fill a new store from ``read_extract`` and ``read_features``: whole files in memory.

    Parameters
    ----------
    tmp
        The store file to (re)create.
    path
        The extract.

    Returns
    -------
    dict
        The meta rows: source, data date and features' source.
    """
    tmp.unlink(missing_ok=True)
    osm = read_extract(path)
    found = read_features(path, bool)
    with contextlib.closing(sqlite3.connect(tmp)) as db:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        ways, areas = _Table(db, "ways"), _Table(db, "areas")
        for way in osm.ways:
            ways.add(
                _points_box(list(way.lats), list(way.lons)), way.osm_id,
                array("q", way.refs).tobytes(), array("d", way.lats).tobytes(),
                array("d", way.lons).tobytes(), _tags_text(way.tags.items(), len(way.tags)),
            )  # fmt: skip
        for area in osm.areas:
            points = [p for ring in area.outer for p in ring]
            shape = {"outer": area.outer, "inner": area.inner, "members": area.members}
            areas.add(
                _points_box([p[1] for p in points], [p[2] for p in points]), area.osm_id,
                json.dumps(area.tags), json.dumps(shape),
            )  # fmt: skip
        features, buildings = _Table(db, "features"), _Table(db, "buildings")
        cover = _Table(db, "landcover")
        for f in found.features:
            outline = f.outline
            box = _ring_box(outline) if outline else (f.lon, f.lon, f.lat, f.lat)
            blob = _ring_blob(outline) if outline else None
            features.add(
                box, f.osm_type, f.osm_id, _tags_text(f.tags.items(), len(f.tags)), f.lat, f.lon,
                blob,
            )  # fmt: skip
        for b in found.buildings:
            buildings.add(_ring_box(b.outline), _ring_blob(b.outline), b.height_m, b.height_source)
        for c in found.landcover:
            cover.add(_ring_box(c.outline), c.kind, _ring_blob(c.outline))
        _finish(db, (ways, areas, features, buildings, cover))
        db.commit()
    date = osm.data_date
    return {
        "source": osm.source,
        "data_date": date.isoformat() if date else "",
        "features_source": found.source,
    }


#: Separators of the tag text: between a key and its value, and between tags (OSM's XML
#: cannot hold these control characters; text holding them is written as JSON instead).
_PAIR, _NEXT = "\x1e", "\x1f"


def _tag_list(obj: Any) -> list[tuple[str, str]]:  # noqa: ANN401 - osmium's objects
    """
    Read an OSM object's tags as ``(key, value)`` pairs, fast.

    pyosmium's ``TagList`` goes through a Python iterator per tag, and ``dict(obj.tags)`` costs
    about five times the tags' reading in C++: the object's C++ side is read directly when
    pyosmium has one (its ``_pyosmium_data``, pyosmium 4), else the tag list.

    Parameters
    ----------
    obj
        A pyosmium node, way, relation or area.

    Returns
    -------
    list of tuple
        The tags in their order.
    """
    data = getattr(obj, "_pyosmium_data", None)
    if data is None or not hasattr(data, "tags_next"):  # pragma: no cover - other pyosmium
        return [(t.k, t.v) for t in obj.tags]
    position, following = data.tags_begin(), data.tags_next
    return [following(position) for _ in range(data.tags_size())]


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


def _outer_rings(wkb: bytes) -> list[bytes]:
    """
    Cut the outer rings out of a little-endian WKB multipolygon.

    Parameters
    ----------
    wkb
        The multipolygon, as osmium's ``WKBFactory`` makes it.

    Returns
    -------
    list of bytes
        Each polygon's outer ring as float64 lon, lat pairs.
    """
    if wkb[0] != 1:  # pragma: no cover - osmium writes the machine's order; ours is little
        msg = "big-endian WKB"
        raise RuntimeError(msg)
    (polygons,) = struct.unpack_from("<I", wkb, 5)
    at = 9
    rings = []
    for _ in range(polygons):
        (count,) = struct.unpack_from("<I", wkb, at + 5)
        at += 9
        for k in range(count):
            (points,) = struct.unpack_from("<I", wkb, at)
            at += 4
            if k == 0:
                rings.append(wkb[at : at + 16 * points])
            at += 16 * points
    return rings


def _way_points(way: Any) -> list[tuple[int, float, float]]:  # noqa: ANN401 - osmium's Way
    """
    Read a way's nodes one by one: ``(node id, lat, lon)``, NaN where a location is missing.

    Parameters
    ----------
    way
        An ``osmium.osm.Way``.

    Returns
    -------
    list of tuple
        The points.
    """
    nan = math.nan
    return [
        (n.ref, n.location.lat, n.location.lon) if n.location.valid() else (n.ref, nan, nan)
        for n in way.nodes
    ]


#: osmium's x of a location not set (a node the location index does not hold).
_UNDEFINED = 2**31 - 1


def _unplaced(way: Any) -> list[int]:  # noqa: ANN401 - osmium's Way
    """
    List the nodes of a way that the location index did not hold (not those off the globe).

    Parameters
    ----------
    way
        An ``osmium.osm.Way``.

    Returns
    -------
    list of int
        Their ids.
    """
    return [n.ref for n in way.nodes if n.location.x == _UNDEFINED]


def _pass(  # noqa: C901, PLR0912, PLR0915 - one pass over every kind of object, kept together
    db: sqlite3.Connection,
    processor: Any,  # noqa: ANN401 - osmium's FileProcessor has no stubs
    members: set[int],
    *,
    repaired: bool,
    dates: bool,
    prelude: Callable[[tuple[_Table, _Table, _Table]], PbfRows] | None = None,
    missing: set[int] | None = None,
) -> tuple[dt.datetime | None, bool]:
    """
    Write the ways, areas, tagged objects, buildings and land cover of one pass to the store.

    Parameters
    ----------
    db
        The new store.
    processor
        The ``osmium.FileProcessor`` with locations and areas.
    members
        Ids of the ways walkable multipolygons are made of.
    repaired
        True when reading a repaired copy.
    dates
        Track the newest element timestamp.
    prelude
        Writes the tagged nodes, walkable ways and railways first (``walks.store_pbf``), when
        the processor hands Python only areas and relations.
    missing
        Filled with the nodes of walkable ways that have no location.

    Returns
    -------
    tuple
        The newest element timestamp (or None), and whether a coordinate is exactly 0 (a sign
        of unreadable ones in an XML file).

    Raises
    ------
    _NeedsRepairError
        When a node comes after a way or has a negative id, in a file not yet repaired.
    """
    import osmium  # noqa: PLC0415
    import shapely  # noqa: F401, PLC0415 - as read_features; loaded here once, not per area

    ways = _Table(db, "ways")
    areas = _Table(db, "areas")
    features = _Table(db, "features")
    buildings = _Table(db, "buildings")
    cover = _Table(db, "landcover")
    # railways come after the areas' shapes, as read_features gives them: in their own places
    # of the same table (osmium yields areas between ways at times that depend on filtering)
    rails = _Table(db, "landcover", first=_RAILS)
    shapes: dict[int, list[tuple[int, float, float]]] = {}
    walkable: dict[int, WayRecord] = {}
    newest: dt.datetime | None = None
    after_ways = at_zero = False
    missing = set() if missing is None else missing
    if prelude is not None:
        first = prelude((features, ways, rails))
        shapes, walkable, at_zero, newest = (first.shapes, first.walkable, first.at_zero,
                                             first.newest)  # fmt: skip
    dumps = json.dumps
    tags_text, tag_list = _tags_text, _tag_list
    # geometries are made by osmium in C++ (WKB), not point by point in Python
    wkb = osmium.geom.WKBFactory()
    every_node = osmium.geom.use_nodes.ALL
    no_geometry = (RuntimeError, osmium.InvalidLocationError)
    zero = bytes(8)  # a coordinate of exactly 0.0 (osmium's are multiples of 1e-7)
    obj: Any
    for obj in processor:
        if obj.is_area():
            tags = dict(tag_list(obj))
            is_building = "building" in tags and tags["building"] != "no"
            kind = None if is_building else landcover_kind(tags)
            # every tagged area is a candidate feature (read_features(path, bool))
            if not (is_building or tags or kind):
                continue
            try:
                rings = _outer_rings(bytes.fromhex(wkb.create_multipolygon(obj)))
            except no_geometry:
                rings = [_ring_blob(tuple((n.lon, n.lat) for n in r)) for r in obj.outer_rings()]
            rings = [r for r in rings if len(r) >= 64]  # noqa: PLR2004 - four points
            if not rings:
                continue
            at_zero = at_zero or any(zero in r for r in rings)
            if is_building:
                # building_height's answer without its regular expressions when it has none
                height, how = (
                    building_height(tags)
                    if "height" in tags or "building:height" in tags or "building:levels" in tags
                    else (DEFAULT_BUILDING_M, "default")
                )
                for ring in rings:
                    buildings.add(ring, ring, height, how)
            if kind is not None:
                for ring in rings:
                    cover.add(ring, kind, ring)
            if tags:
                osm_type = "way" if obj.from_way() else "relation"
                text = tags_text(tags.items(), len(tags))
                features.add(rings[0], osm_type, obj.orig_id(), text, None, None, rings[0])
            continue
        if dates:
            stamp = obj.timestamp
            if stamp.year > 1970 and (newest is None or stamp > newest):  # noqa: PLR2004
                newest = stamp
        if obj.is_node():
            if (after_ways or obj.id < 0) and not repaired:
                raise _NeedsRepairError
            if len(obj.tags) and obj.location.valid():
                loc = obj.location
                lat, lon = loc.lat, loc.lon
                at_zero = at_zero or lat == 0.0 or lon == 0.0
                pairs = tag_list(obj)
                text = tags_text(pairs, len(pairs))
                features.add((lon, lon, lat, lat), "node", obj.id, text, lat, lon, None)
            continue
        after_ways = True
        if obj.is_relation():
            area = _walkable_multipolygon(obj, shapes, [], walkable)
            if area is not None:
                points = [p for ring in area.outer for p in ring]
                shape = {"outer": area.outer, "inner": area.inner, "members": area.members}
                areas.add(
                    _points_box([p[1] for p in points], [p[2] for p in points]),
                    area.osm_id,
                    dumps(area.tags),
                    dumps(shape),
                )
            continue
        way_tags = obj.tags
        if way_tags.get("railway") in RAIL_VALUES:
            try:
                line = bytes.fromhex(wkb.create_linestring(obj, every_node))[9:]
            except no_geometry:
                line = _ring_blob(tuple((n.lon, n.lat) for n in obj.nodes if n.location.valid()))
                missing.update(_unplaced(obj))
            if len(line) >= 32:  # noqa: PLR2004 - two points
                rails.add(line, "rail", line)
        if "highway" not in way_tags:
            if not len(way_tags) and obj.id in members:
                shapes[obj.id] = _way_points(obj)
                missing.update(_unplaced(obj))
            continue
        tags = dict(tag_list(obj))
        if not is_walkable(tags):
            continue
        refs = [n.ref for n in obj.nodes]
        try:
            line = bytes.fromhex(wkb.create_linestring(obj, every_node))[9:]
        except no_geometry:
            line = b""
        box: _BoxTuple | bytes | None
        if refs and len(line) == 16 * len(refs):
            xy = np.frombuffer(line, dtype=np.float64).reshape(-1, 2)
            lat_blob, lon_blob = xy[:, 1].tobytes(), xy[:, 0].tobytes()
            at_zero = at_zero or zero in line
            box = line
        else:  # a node missing from the extract (NaN), or a way of one node
            points = _way_points(obj)
            lats = [p[1] for p in points]
            lons = [p[2] for p in points]
            lat_blob, lon_blob = array("d", lats).tobytes(), array("d", lons).tobytes()
            at_zero = at_zero or 0.0 in lats or 0.0 in lons
            box = _points_box(lats, lons)
            missing.update(_unplaced(obj))
        if obj.id in members:
            walkable[obj.id] = WayRecord(
                obj.id, tuple(refs), tuple(np.frombuffer(lat_blob).tolist()),
                tuple(np.frombuffer(lon_blob).tolist()), tags,
            )  # fmt: skip
        ways.add(box, obj.id, array("q", refs).tobytes(), lat_blob, lon_blob,
                 tags_text(tags.items(), len(tags)))  # fmt: skip
    _finish(db, (ways, areas, features, buildings, cover, rails))
    return newest, at_zero


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


@contextlib.contextmanager
def _reading(osm_file: str | Path, cache_dir: Path | None) -> Iterator[sqlite3.Connection]:
    """
    Open an extract's store to read an area, turning a failure into one clear error.

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The walks cache directory.

    Yields
    ------
    sqlite3.Connection
        The connection, closed afterwards.

    Raises
    ------
    CacheError
        When the store vanished or is damaged (removed by ``walks cache clear`` meanwhile, a
        full disk), naming it and the fix.
    """
    store = store_path(osm_file, cache_dir)
    try:
        with _connect(store) as db:
            yield db
    except (sqlite3.Error, KeyError, ValueError, TypeError, IndexError, struct.error) as err:
        # ValueError and the rest: rows that no longer parse (text, JSON or arrays damaged)
        msg = (
            f"the region store {str(store)!r} of {str(osm_file)!r} cannot be read ({err}): "
            f"import the file again with: walks import {osm_file}"
        )
        raise CacheError(msg) from err


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    """
    Read a store's meta table.

    Parameters
    ----------
    db
        The store.

    Returns
    -------
    dict
        Key to value.
    """
    return dict(db.execute("SELECT key, value FROM meta").fetchall())


def has_current_store(osm_file: str | Path, cache_dir: Path | None = None) -> bool:
    """
    Tell whether an extract has a store built from its current content.

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The walks cache directory.

    Returns
    -------
    bool
        True when the store exists, is of this version and the file is unchanged.
    """
    info = store_info(osm_file, cache_dir)
    return info is not None and info.current


def store_info(osm_file: str | Path, cache_dir: Path | None = None) -> StoreInfo | None:
    """
    Describe the store of an extract (for ``walks info FILE``).

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The walks cache directory.

    Returns
    -------
    StoreInfo or None
        None when the extract has no readable store.
    """
    store = store_path(osm_file, cache_dir)
    if not store.is_file():
        return None
    try:
        with _connect(store) as db:
            meta = _meta(db)
            counts = [
                int(meta[f"rows:{t}"])
                if f"rows:{t}" in meta
                # a store of an older version: a row per row
                else int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # noqa: S608
                for t in ("ways", "features", "buildings", "areas", "landcover")
            ]
        size = store.stat().st_size
    except (sqlite3.Error, OSError):
        return None
    try:
        current = meta.get("version") == STORE_VERSION and meta.get("fingerprint") == fingerprint(
            Path(osm_file)
        )
    except OSError:
        current = False
    ways, features, buildings, areas, landcover = counts
    return StoreInfo(
        store, meta.get("osm_file", ""), ways, features, buildings, size, current,
        areas=areas, landcover=landcover, imported=meta.get("imported", ""),
        version=meta.get("version", ""), grids=_count_grids(store),
    )  # fmt: skip


#: Buildings and land cover this far around an area's box come with it from the store: the
#: sight lines of view stops near its edge cross them (farther, the roofline is assumed).
MARGIN_M = 500.0

_Box = tuple[float, float, float, float]


def _grown(box: tuple[float, float, float, float], metres: float) -> _Box:
    """
    Grow a ``(west, south, east, north)`` box by some metres on every side.

    Parameters
    ----------
    box
        The box.
    metres
        The margin.

    Returns
    -------
    tuple
        ``(west, east, south, north)``: the order the R-tree queries take.
    """
    west, south, east, north = box
    dlat = metres / 111_320.0
    dlon = dlat / max(math.cos(math.radians(max(abs(south), abs(north)))), 1e-6)
    return west - dlon, east + dlon, south - dlat, north + dlat


def margin_box(area: Area, corridor: Area | None = None, margin_m: float = MARGIN_M) -> _Box:
    """
    Say where an area's buildings and land cover come from: its box and a margin around.

    Both sources use it: the store selects the rows whose box meets it, and a file read
    directly is cut to the same shapes (``meeting``), so both give the same buildings.

    Parameters
    ----------
    area
        The area.
    corridor
        A wider region whose buildings are wanted too (towards a landmark), or None.
    margin_m
        The margin around the box of both.

    Returns
    -------
    tuple
        ``(west, east, south, north)``.
    """
    west, south, east, north = area.bbox
    if corridor is not None:
        c_west, c_south, c_east, c_north = corridor.bbox
        west, south = min(west, c_west), min(south, c_south)
        east, north = max(east, c_east), max(north, c_north)
    return _grown((west, south, east, north), margin_m)


def meeting(outlines: Sequence[tuple[tuple[float, float], ...]], box: _Box) -> list[bool]:
    """
    Say which outlines' bounding boxes meet a box, as the store's queries decide.

    Parameters
    ----------
    outlines
        Longitude/latitude outlines (each non-empty).
    box
        ``(west, east, south, north)``, e.g. from ``margin_box``.

    Returns
    -------
    list of bool
        One per outline.
    """
    if not outlines:
        return []
    sizes = [len(o) for o in outlines]
    flat = np.fromiter(
        itertools.chain.from_iterable(itertools.chain.from_iterable(outlines)),
        dtype=np.float64, count=2 * sum(sizes),
    ).reshape(-1, 2)  # fmt: skip
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    west, east, south, north = box
    meets = (
        (np.maximum.reduceat(flat[:, 0], starts) >= west)
        & (np.minimum.reduceat(flat[:, 0], starts) <= east)
        & (np.maximum.reduceat(flat[:, 1], starts) >= south)
        & (np.minimum.reduceat(flat[:, 1], starts) <= north)
    )
    return [bool(m) for m in meets]


#: The columns read back of each table (after its id and place, before its box).
def _rows(
    db: sqlite3.Connection, table: str, box: _Box | None, keys: Collection[str] | None = None
) -> list[tuple[Any, ...]]:
    """
    Select a table's rows whose box meets a box, in file order (all rows for None).

    The R-tree finds the groups of rows whose union box meets the box; each row's own box
    (exact doubles) is checked too.

    Parameters
    ----------
    db
        The store.
    table
        ``ways``, ``areas``, ``features``, ``buildings`` or ``landcover``.
    box
        ``(west, east, south, north)``, or None for every row.
    keys
        For a table with tags: only rows having one of these tag keys (and rows whose tags
        are written as JSON, not tested here) come; None for every row.

    Returns
    -------
    list of tuple
        The rows' ``_COLUMNS``.
    """
    kinds = "i" + _COLUMNS[table][1]
    if box is None:
        query = f"SELECT data FROM {table} ORDER BY id"  # noqa: S608 - fixed names
        params: tuple[float, ...] = ()
    else:
        query = (
            f"SELECT g.data FROM {table}_rt r JOIN {table} g ON g.id = r.id "  # noqa: S608
            "WHERE r.max_lon >= ? AND r.min_lon <= ? AND r.max_lat >= ? AND r.min_lat <= ?"
        )
        params = box
    tags = _COLUMNS[table][0].split(", ").index("tags") + 1 if keys is not None else -1
    marks = [f"{_NEXT}{key}{_PAIR}" for key in sorted(keys or ())]
    found: list[tuple[Any, ...]] = []
    for (blob,) in db.execute(query, params):
        try:
            group = Group(blob, kinds)
            chosen = group.meeting(box)
            if tags > 0 and chosen:
                # a key is at the start of the text or after a tag separator, and ends at its
                # value's; tags written as JSON are not tested here
                texts = group.column(tags, chosen)
                chosen = [
                    r for r, text in zip(chosen, texts, strict=True)
                    if text[:1] == "{" or any(m in _NEXT + text for m in marks)
                ]  # fmt: skip
            if chosen:
                found += group.rows(chosen)
        except (ValueError, TypeError, IndexError, struct.error) as err:
            msg = f"a damaged row group in the store's {table} table"
            raise sqlite3.DatabaseError(msg) from err
    found.sort(key=_first)
    return [row[1:] for row in found]


def _first(row: tuple[Any, ...]) -> Any:  # noqa: ANN401 - a row's place in file order
    """
    Give a row's first column (its place in file order).

    Parameters
    ----------
    row
        The row.

    Returns
    -------
    Any
        The value.
    """
    return row[0]


def _ring_points(rings: list[list[list[float]]]) -> tuple[Ring, ...]:
    """
    Turn JSON rings back into ``(node id, lat, lon)`` rings.

    Parameters
    ----------
    rings
        As stored.

    Returns
    -------
    tuple of Ring
        The rings.
    """
    return tuple(tuple((int(p[0]), float(p[1]), float(p[2])) for p in ring) for ring in rings)


def load_ways(osm_file: str | Path, area: Area | None, cache_dir: Path | None = None) -> OsmWays:
    """
    Load the walking-way candidates and walkable areas meeting an area's box from the store.

    Ways come whole, as from the file; ``graph_from_ways(..., clip=area)`` cuts them. The
    result equals ``read_extract`` less the ways and areas wholly outside the area's box.

    Parameters
    ----------
    osm_file
        The extract (its store must be current).
    area
        The area, or None for the whole extract.
    cache_dir
        The walks cache directory.

    Returns
    -------
    OsmWays
        The ways and areas, with the file's source label and data date.
    """
    box = None if area is None else _grown(area.bbox, 0.0)
    with _reading(osm_file, cache_dir) as db:  # rows are parsed while the store is open
        meta = _meta(db)
        rows = _rows(db, "ways", box)
        area_rows = _rows(db, "areas", box)
        return _ways_of(meta, rows, area_rows)


def _ways_of(
    meta: dict[str, str], rows: list[tuple[Any, ...]], area_rows: list[tuple[Any, ...]]
) -> OsmWays:
    """
    Turn a store's way and area rows into ``OsmWays``.

    Parameters
    ----------
    meta
        The store's meta rows.
    rows, area_rows
        The rows.

    Returns
    -------
    OsmWays
        The ways and areas.
    """
    ways = tuple(
        WayRecord(
            int(osm_id),
            tuple(np.frombuffer(refs, dtype=np.int64).tolist()),
            tuple(np.frombuffer(lats, dtype=np.float64).tolist()),
            tuple(np.frombuffer(lons, dtype=np.float64).tolist()),
            _tags_of(tags),
        )
        for osm_id, refs, lats, lons, tags in rows
    )
    areas = []
    for osm_id, tags, rings_text in area_rows:
        rings = json.loads(rings_text)
        areas.append(AreaRecord(
            int(osm_id), json.loads(tags), _ring_points(rings["outer"]),
            _ring_points(rings["inner"]), tuple(int(m) for m in rings["members"]),
        ))  # fmt: skip
    date = dt.datetime.fromisoformat(meta["data_date"]) if meta.get("data_date") else None
    return OsmWays(ways=ways, source=meta["source"], data_date=date, areas=tuple(areas))


def load_features(
    osm_file: str | Path,
    area: Area | None,
    wanted: Callable[[dict[str, str]], bool],
    cache_dir: Path | None = None,
    *,
    margin_m: float = MARGIN_M,
    corridor: Area | None = None,
    keys: Collection[str] | None = None,
) -> OsmFeatures:
    """
    Load the wanted tagged objects meeting an area's box, and the buildings and land cover near.

    Parameters
    ----------
    osm_file
        The extract (its store must be current).
    area
        The area, or None for the whole extract.
    wanted
        Says which tagged objects to keep as features.
    cache_dir
        The walks cache directory.
    margin_m
        Buildings and land cover this far around the area's box come too.
    corridor
        A wider region whose buildings are wanted too (towards a landmark).
    keys
        Tag keys a feature needs one of to be ``wanted`` (a promise of the caller): rows with
        none of them are skipped before their tags are read. None reads every row.

    Returns
    -------
    OsmFeatures
        The features, buildings and land cover, in file order.
    """
    box = None if area is None else _grown(area.bbox, 0.0)
    near = None if area is None else margin_box(area, corridor, margin_m)
    # rows are parsed while the store is open: one that does not parse is the store's damage
    with _reading(osm_file, cache_dir) as db:
        meta = _meta(db)
        found = [
            (kind, osm_id, _tags_of(text), lat, lon, ring)
            for kind, osm_id, text, lat, lon, ring in _rows(db, "features", box, keys)
        ]
        buildings = tuple(
            Building(_ring_of(ring), float(height), str(how))
            for ring, height, how in _rows(db, "buildings", near)
        )
        cover = tuple(
            Landcover(str(kind), _ring_of(ring)) for kind, ring in _rows(db, "landcover", near)
        )
    features = []
    for kind, osm_id, tags, stored_lat, stored_lon, ring in found:
        if not wanted(tags):  # the caller's test: its errors are its own
            continue
        outline = _ring_of(ring) if ring is not None else None
        lat, lon = stored_lat, stored_lon
        if outline is not None and lat is None:  # an area: its centroid, as read_features
            import shapely  # noqa: PLC0415

            centroid = shapely.Polygon(outline).centroid
            lat, lon = centroid.y, centroid.x
        features.append(Feature(str(kind), int(osm_id), tags, lat, lon, outline))
    return OsmFeatures(
        tuple(features), buildings, meta.get("features_source", ""), cover,
        store=store_path(osm_file, cache_dir),
    )  # fmt: skip


#: The most bytes of height grids a store keeps; the oldest go first beyond it.
GRIDS_MAX_BYTES = 64 * 2**20


def grids_path(store: Path) -> Path:
    """
    Name the file that keeps a store's height grids, beside it.

    The store itself is never written after its import (a write killed half-way would leave
    a journal that read-only readers cannot roll back); its grids live in this file, which
    goes with it.

    Parameters
    ----------
    store
        The store file.

    Returns
    -------
    Path
        ``<store>.grids.sqlite`` in the same folder.
    """
    return store.with_name(f"{store.stem}.grids.sqlite")


def _companions(store: Path) -> list[Path]:
    """
    List the files that belong to a store besides itself: its grids file and journals.

    Parameters
    ----------
    store
        The store file.

    Returns
    -------
    list of Path
        The paths (present or not).
    """
    grids = grids_path(store)
    return [grids, grids.with_name(grids.name + "-journal"),
            store.with_name(store.name + "-journal")]  # fmt: skip


def _grids_row(store: Path, query: str, *params: object) -> tuple[Any, ...] | None:
    """
    Ask a store's grids file (read-only) for one row.

    Parameters
    ----------
    store
        The store file.
    query
        The SQL, on the ``grids`` table.
    *params
        Its parameters.

    Returns
    -------
    tuple or None
        The row; None when there is none, or no readable grids file (missing, a write left
        half-done, damaged).
    """
    grids = grids_path(store)
    if not grids.is_file():
        return None
    try:
        with _connect(grids) as db:
            row: tuple[Any, ...] | None = db.execute(query, params).fetchone()
    except sqlite3.Error as err:
        log.debug("cannot read %s (%s)", grids, err)
        return None
    return row


def _count_grids(store: Path) -> int:
    """
    Count the height grids kept for a store.

    Parameters
    ----------
    store
        The store file.

    Returns
    -------
    int
        How many (0 when there is no readable grids file).
    """
    row = _grids_row(store, "SELECT count(*) FROM grids")
    return 0 if row is None else int(row[0])


def read_grid(store: Path, key: str) -> bytes | None:
    """
    Read a height grid kept with a store.

    Parameters
    ----------
    store
        The store file.
    key
        The grid's key: a digest of everything it is made from.

    Returns
    -------
    bytes or None
        The grid as ``keep_grid`` was given it; None when none of that key can be read.
    """
    row = _grids_row(store, "SELECT data FROM grids WHERE key = ?", key)
    return bytes(row[0]) if row is not None and isinstance(row[0], bytes) else None


def keep_grid(store: Path, key: str, data: bytes) -> None:
    """
    Keep a height grid with a store (in ``grids_path(store)``), beside its buildings.

    The grid goes with its store: a store rebuilt because the file changed starts without
    grids, and ``walks cache clear`` removes them with it. Beyond ``GRIDS_MAX_BYTES`` the
    oldest grids are dropped. A grids file that cannot be written (read-only, busy beyond
    the timeout) is only logged: the grid is made again next time. A write killed half-way
    is rolled back by the next one.

    Parameters
    ----------
    store
        The store file (it must exist: a missing store is not created).
    key
        The grid's key: a digest of everything it is made from.
    data
        The grid, encoded.
    """
    if not store.is_file():
        return
    grids = grids_path(store)
    for attempt in range(2):
        try:
            _keep(grids, key, data)
        except sqlite3.DatabaseError as err:
            if attempt or getattr(err, "sqlite_errorcode", None) not in _DAMAGED:
                log.info("the height grid was not kept in %s (%s)", grids, err)
                return
            # not a database any more (damaged): it goes, with its journal, and is made again
            log.info("the grids file %s is damaged (%s): making it again", grids, err)
            for stale in (grids, grids.with_name(grids.name + "-journal")):
                stale.unlink(missing_ok=True)
        except sqlite3.Error as err:
            log.info("the height grid was not kept in %s (%s)", grids, err)
            return
        else:
            return


#: SQLite's result codes of a file that is damaged or not a database (SQLITE_CORRUPT,
#: SQLITE_NOTADB): only then is a grids file made again.
_DAMAGED = (11, 26)


def _keep(grids: Path, key: str, data: bytes) -> None:
    """
    Write one grid into a grids file, dropping the oldest beyond ``GRIDS_MAX_BYTES``.

    Parameters
    ----------
    grids
        The grids file.
    key
        The grid's key.
    data
        The grid, encoded.
    """
    with contextlib.closing(sqlite3.connect(grids, timeout=5.0)) as db, db:
        db.execute(_GRIDS)
        newest = db.execute(
            "INSERT OR REPLACE INTO grids (key, data) VALUES (?, ?)", (key, data)
        ).lastrowid
        sizes = db.execute("SELECT rowid, length(data) FROM grids ORDER BY rowid").fetchall()
        total = sum(int(size) for _, size in sizes)
        for rowid, size in sizes:  # the oldest first, never the one just kept
            if total <= GRIDS_MAX_BYTES or rowid == newest:
                break
            db.execute("DELETE FROM grids WHERE rowid = ?", (rowid,))
            total -= int(size)


def list_stores(cache_dir: Path | None = None) -> list[tuple[Path, str, int]]:
    """
    List the stores in the cache (for ``walks cache list``).

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Returns
    -------
    list of (Path, str, int)
        Each store file, the extract it was built from ("?" when unreadable), and its size.
    """
    folder = check_cache_dir(cache_dir) / "stores"
    found = []
    for store in sorted(folder.glob("*.sqlite")):
        if not _STORE_NAME.fullmatch(store.name) or not store.is_file():
            continue
        try:
            with _connect(store) as db:
                source = _meta(db).get("osm_file", "?")
        except sqlite3.Error:
            source = "?"
        try:
            size = store.stat().st_size
        except OSError:
            continue
        found.append((store, source, size))
    return found


def remove_stores(cache_dir: Path | None = None) -> int:
    """
    Remove every store (for ``walks cache clear``); files walks did not write stay.

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Returns
    -------
    int
        How many were removed.
    """
    stores = list_stores(cache_dir)
    for store, _, _ in stores:
        store.unlink(missing_ok=True)
        for companion in _companions(store):
            companion.unlink(missing_ok=True)
    return len(stores)
