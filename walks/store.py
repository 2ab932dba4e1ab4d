"""A region store: one pass over an extract, then any area of it opened without reading the file.

The store is one SQLite file under ``cache_dir/stores``: the walking-way candidates (node ids
and coordinates as packed arrays, tags as text), the walkable multipolygon areas, every tagged
node and area, the buildings and the base map's land cover. Each table's rows are written in
chunks sorted along a Z-order curve of their box centres and keep their exact box; every 32
consecutive rows are packed into one SQLite row, a group (``walks.store_groups``), and every 8
consecutive groups make a page: a row of their boxes with one entry in an R-tree (SQLite's
``rtree`` module ships with Python's ``sqlite3``). An area's query finds the pages whose union
box meets it, then the groups whose box does, then the rows whose box does. A store belongs
to one file: it is used only while the file's size, modification time and the hash of its
first MiB are those recorded at import.

Why SQLite with R-trees (``python benchmarks/store_bench.py``, a 50.7 MB region PBF of 4.3 M
nodes, 24 copies of the shared extracts side by side, on a shared 2-core machine): opening a
2 km² area (graph, cafés and the buildings around) takes 0.17-0.25 s from the store against
57-60 s re-reading the file (230-350x); the import peaks at about 440 MB against 1.8 GB for
reading the file whole. SQLite needs no new dependency, writes one file atomically renamed
into place, and answers a box query in milliseconds. An R-tree insertion costs 10-18 µs a
row whatever the order of the rows (1 M boxes, random or Z-ordered: 19 s vs 18 s), a plain
row about 1 µs: hence one entry per page of groups (5,000 entries for that region's 1.3 M
rows; one per group took 0.37 CPU-s, one per page 0.04).

The nodes and ways of a PBF file are read as arrays by ``walks.pbf`` and ``walks.store_pbf``,
with loops compiled by numba when installed (``walks[fast]``, ``walks.pbf_jit``): only the
tagged nodes and the ways with a ``highway`` or ``railway`` key become Python values. The
plain areas of closed ways are shaped from the arrays; osmium builds the areas of relations
and complex ways from a small file written for it, and reads the whole file only when
``walks.pbf`` does not decode it (or it is XML). Tags are written as separator text, not
JSON. The import takes 3.8-4.6 CPU-s for that region on a quiet machine (0.94-1.1 M nodes
per CPU-s; 5-5.7 when the machine is busy; 9-12 on numpy alone), against about 1 CPU-s for
osmium's own C++ reading with locations: Python's and numba's start (0.6), osmium's areas of
the small file (0.2), SQLite's writing (0.3) and inflating (0.16) are fixed shares of it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import itertools
import json
import logging
import math
import operator
import os
import re
import socket
import sqlite3
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import pbf_jit
from walks._http import check_cache_dir
from walks.data import (
    AreaRecord,
    Building,
    Feature,
    Landcover,
    OsmFeatures,
    OsmWays,
    Ring,
    WayRecord,
    _NeedsRepairError,
    check_extract,
    check_pbf_tags,
    check_xml_members,
    extract_kind,
)
from walks.errors import CacheError, DataError
from walks.store_grids import _companions, _count_grids
from walks.store_groups import (
    _COLUMNS,
    _NEXT,
    _PAIR,
    PAGE,
    Group,
    _connect,
    _degrees,
    _ring_of,
    _tags_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

    from walks.types import Area

log = logging.getLogger(__name__)

#: The store format; a store of another version is built again. Version 6: ``DROPPED_KEY``
#: counts nodes off the globe too, which a PBF file can hold (version 5 said 0 for them).
#: Version 7: coordinates held as int32 of 1e-7 degree, not doubles (a third smaller store).
#: Version 8: one R-tree entry per page of 8 groups, the groups' boxes in a table of pages.
STORE_VERSION = "8"
#: The meta key holding how many nodes the import left out for their unreadable coordinates
#: or coordinates off the globe (``OsmWays.dropped_nodes``); every store of this version has it.
DROPPED_KEY = "dropped_nodes"

_HEAD_BYTES = 2**20


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
    dropped_nodes
        How many nodes of the file the import left out for their unreadable coordinates; None
        when the store does not say (an OSM XML file's store made before it was kept: not
        current, so imported again on use).
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
    dropped_nodes: int | None = 0


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

#: The temporary file an import writes its store to: it names the process and its host, for
#: ``walks cache`` to tell the leftover of an import that ended (killed) from one being written.
#: (Not a ``.walks-tmp-`` name: those go by age, and an import may leave its file unchanged
#: for minutes while osmium reads.)
#: The small file of relations an import writes beside it (``walks.store_build``) is one too.
_TMP_STORE = re.compile(r"\.walks-import-([0-9]+)-([0-9a-f]{8})-[^/]*\.(?:sqlite|areas\.osm\.pbf)")


def _host_tag() -> str:
    """
    Name this host in temporary store names (a cache folder may be shared over a network).

    Returns
    -------
    str
        Eight hex digits of the hash of the host name.
    """
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _tmp_prefix() -> str:
    """
    Give the prefix of this process's temporary store names.

    Returns
    -------
    str
        ``.walks-import-<pid>-<host>-``.
    """
    return f".walks-import-{os.getpid()}-{_host_tag()}-"


def _alive(pid: int) -> bool:
    """
    Say whether a process of this host runs (or may run: never False when unsure).

    Parameters
    ----------
    pid
        Its id.

    Returns
    -------
    bool
        False only when no process has that id.
    """
    if os.name == "nt":  # os.kill would end the process there, not look at it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def temporary_stores(cache_dir: Path | None = None) -> list[tuple[Path, int, bool]]:
    """
    List the temporary stores of imports (for ``walks cache``).

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Returns
    -------
    list of (Path, int, bool)
        Each file, its size, and True when the import writing it has ended (a process killed
        before its cleanup: the file is a leftover) rather than running (here or on another
        host, which cannot be told).
    """
    folder = check_cache_dir(cache_dir) / "stores"
    found = []
    here = _host_tag()
    for path in sorted(folder.glob(".walks-import-*")):
        named = _TMP_STORE.fullmatch(path.name)
        if named is None:
            continue
        try:
            size = path.stat().st_size
        except OSError:
            continue  # renamed into place or removed meanwhile
        found.append((path, size, named[2] == here and not _alive(int(named[1]))))
    return found


def remove_leftovers(cache_dir: Path | None = None) -> int:
    """
    Remove the temporary stores of imports that ended (for ``walks cache clear``).

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Returns
    -------
    int
        How many were removed; one an import is writing is kept.

    Raises
    ------
    CacheError
        When one cannot be removed.
    """
    leftovers = [path for path, _, ended in temporary_stores(cache_dir) if ended]
    for path in leftovers:
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            msg = f"cannot remove {str(path)!r} ({err.strerror or err}): check its permissions"
            raise CacheError(msg) from err
    return len(leftovers)


def _refuse_nul_tags(path: Path, size: int) -> None:
    """
    Refuse a PBF file holding a tag with a NUL before osmium reads it (it crashes osmium).

    With the compiled loops nothing is read here: their pass refuses such a tag in every
    block, before osmium reads anything of the file but its header; should they stop, the
    file is checked before osmium reads it alone (``walks.store_build._fill``). That saves a
    pass over the file (0.2 CPU-s for the store benchmark's region).

    Parameters
    ----------
    path
        The extract.
    size
        Its size, for ``walks.pbf_jit.engaged`` (0: not a PBF file).

    Raises
    ------
    DataError
        When a tag holds a NUL, or the file cannot be read.
    """
    with pbf_jit.engaged(size) as compiled:
        if not compiled:
            check_pbf_tags(path)


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
    with _no_cycle_collection():
        return _import(osm_file, cache_dir, progress or (lambda _text: None))


#: Imports running now (``_no_cycle_collection``), and whether they found collection on.
_PAUSED = {"imports": 0, "was_enabled": False}
_PAUSED_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """
    Pause Python's cycle collector while stores are imported, as a bulk load does.

    An import makes millions of short-lived objects and keeps many (numba's start alone
    makes 100,000): the collector ran about 400 times during the store benchmark's import,
    twice over every object, for 0.14 s of 4.5 CPU-s, and found almost nothing, as arrays and
    tuples without cycles go when their last reference does. Collection resumes (when it was
    on) as the last import running in the process ends, and is then left to its thresholds.
    Other threads' cycles wait meanwhile: seconds for a city's file, minutes for a country's.
    The import's own peak is unchanged (200 MB region: 1,108.1 MB paused, 1,107.7 MB not).

    Yields
    ------
    None
        Inside: no automatic collection.
    """
    with _PAUSED_LOCK:
        if _PAUSED["imports"] == 0:
            _PAUSED["was_enabled"] = gc.isenabled()
            gc.disable()
        _PAUSED["imports"] += 1
    try:
        yield
    finally:
        with _PAUSED_LOCK:
            _PAUSED["imports"] -= 1
            if _PAUSED["imports"] == 0 and _PAUSED["was_enabled"]:
                gc.enable()


def _import(osm_file: str | Path, cache_dir: Path | None, say: Callable[[str], None]) -> StoreInfo:
    """
    Build the store of an extract (``import_extract``, whose parameters these are).

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The walks cache directory (None for the default one).
    say
        Called with a short phase description as work starts.

    Returns
    -------
    StoreInfo
        What the store holds.

    Raises
    ------
    CacheError
        When the store cannot be written.
    """
    # building a store needs the PBF decoder and osmium's pass: not loaded to read one
    from walks.store_build import _read_whole, _stream  # noqa: PLC0415

    path = check_extract(osm_file)
    # the compiled loops for a large PBF file (an XML file is read by osmium)
    size = path.stat().st_size if extract_kind(path) == "pbf" else 0
    _refuse_nul_tags(path, size)
    check_xml_members(path)  # and a multipolygon of way 0 (a PBF's relations: by the arrays)
    stamp = fingerprint(path)
    target = store_path(path, cache_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_tmp_prefix(), suffix=".sqlite", dir=target.parent)
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
            with pbf_jit.engaged(size):
                meta = _stream(tmp, path, path, repaired=False)
        except _NeedsRepairError:
            # an unsorted file or one with unreadable coordinates (hand-made exports, small):
            # read as read_extract and read_features read it, each repairing what it needs
            meta = _read_whole(tmp, path)
        meta.setdefault(DROPPED_KEY, "0")  # a file streamed whole needed no repair: none dropped
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
        When the store vanished, is damaged (removed by ``walks cache clear`` meanwhile, a
        full disk) or is of another format, naming it and the fix.
    """
    store = store_path(osm_file, cache_dir)
    try:
        with _connect(store) as db:
            _same_format(db)
            yield db
    except (sqlite3.Error, KeyError, ValueError, TypeError, IndexError, struct.error) as err:
        # ValueError and the rest: rows that no longer parse (text, JSON or arrays damaged)
        msg = (
            f"the region store {str(store)!r} of {str(osm_file)!r} cannot be read ({err}): "
            f"import the file again with: walks import {osm_file}"
        )
        raise CacheError(msg) from err


def _same_format(db: sqlite3.Connection) -> None:
    """
    Refuse to read a store of another format than this walks writes.

    A store found current may be replaced before its rows are read (by an older walks sharing
    the cache): its rows would give other numbers (version 6 held doubles where 7 holds int32).

    Parameters
    ----------
    db
        The store.

    Raises
    ------
    ValueError
        When its format is not ``STORE_VERSION``.
    """
    row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    if row is None or row[0] != STORE_VERSION:
        found = "none" if row is None else repr(row[0])
        msg = f"a store of format {found}, not {STORE_VERSION}"
        raise ValueError(msg)


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


def dropped_nodes_of(meta: dict[str, str]) -> int | None:
    """
    Read from a store's meta rows how many nodes its import left out (unreadable coordinates).

    Parameters
    ----------
    meta
        The store's meta rows.

    Returns
    -------
    int or None
        The count; 0 for a store of a PBF file that does not say (PBF coordinates are always
        numbers); None for a store of an OSM XML file that does not say (made by a walks that
        did not keep the count), or a value that is no count.
    """
    text = meta.get(DROPPED_KEY)
    if text is None:
        try:
            return 0 if extract_kind(meta.get("osm_file", "")) == "pbf" else None
        except DataError:
            return None
    return int(text) if text.isdigit() else None


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
    dropped = dropped_nodes_of(meta)
    try:
        current = (
            meta.get("version") == STORE_VERSION
            and dropped is not None  # the store cannot say what its import left out
            and meta.get("fingerprint") == fingerprint(Path(osm_file))
        )
    except OSError:
        current = False
    ways, features, buildings, areas, landcover = counts
    return StoreInfo(
        store, meta.get("osm_file", ""), ways, features, buildings, size, current,
        areas=areas, landcover=landcover, imported=meta.get("imported", ""),
        version=meta.get("version", ""), grids=_count_grids(store), dropped_nodes=dropped,
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
        blobs: Iterable[tuple[bytes]] = db.execute(f"SELECT data FROM {table} ORDER BY id")  # noqa: S608 - fixed names
    else:
        blobs = _groups_meeting(db, table, box)
    tags = _COLUMNS[table][0].split(", ").index("tags") + 1 if keys is not None else -1
    marks = [f"{_NEXT}{key}{_PAIR}" for key in sorted(keys or ())]
    found: list[tuple[Any, ...]] = []
    for (blob,) in blobs:
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
    found.sort(key=operator.itemgetter(0))  # each row's place in file order
    return [row[1:] for row in found]


def _groups_meeting(db: sqlite3.Connection, table: str, box: _Box) -> Iterator[tuple[bytes]]:
    """
    Find a table's groups of rows whose box meets a box.

    The R-tree finds the pages whose union box meets it (SQLite keeps an R-tree's boxes as
    float32 rounded outwards: it may find more), then each page's groups' exact boxes are
    checked.

    Parameters
    ----------
    db
        The store.
    table
        The table.
    box
        ``(west, east, south, north)``.

    Yields
    ------
    tuple of bytes
        Each group's blob, as a one-column row.

    Raises
    ------
    sqlite3.DatabaseError
        For a damaged page.
    """
    west, east, south, north = box
    pages = db.execute(
        f"SELECT r.id, p.boxes FROM {table}_rt r LEFT JOIN {table}_pages p ON p.id = r.id "  # noqa: S608 - fixed names
        "WHERE r.max_lon >= ? AND r.min_lon <= ? AND r.max_lat >= ? AND r.min_lat <= ?",
        box,
    ).fetchall()
    ids: list[int] = []
    for page, blob in pages:
        # a page's groups' ids must be SQLite integers (numpy's int64 too), not negative
        if (
            not isinstance(blob, bytes)
            or len(blob) % 32
            or len(blob) > 32 * PAGE
            or not 0 <= page < _PAGES_END
        ):
            msg = f"a damaged page of the store's {table} table"
            raise sqlite3.DatabaseError(msg)
        b = np.frombuffer(blob, dtype="<f8").reshape(-1, 4)
        hit = (b[:, 1] >= west) & (b[:, 0] <= east) & (b[:, 3] >= south) & (b[:, 2] <= north)
        ids += (page * PAGE + np.flatnonzero(hit)).tolist()
    ids.sort()
    for at in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[at : at + _IDS_PER_QUERY]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT data FROM {table} WHERE id IN ({marks})"  # noqa: S608 - fixed names, numbers
        found = db.execute(query, chunk).fetchall()  # not the cursor: left open, it outlives db
        if len(found) != len(chunk):  # a group a page gives a box is written with it
            msg = f"a page of the store's {table} table names a group it does not hold"
            raise sqlite3.DatabaseError(msg)
        yield from found


#: Pages from this id on are not written (their groups' ids would pass SQLite's integers).
_PAGES_END = 2**63 // PAGE

#: Group ids asked for in one query (SQLite allows 999 parameters in old builds).
_IDS_PER_QUERY = 500


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
            tuple(_degrees(lats).tolist()),
            tuple(_degrees(lons).tolist()),
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
    return OsmWays(
        ways=ways, source=meta["source"], data_date=date, areas=tuple(areas),
        dropped_nodes=dropped_nodes_of(meta) or 0,
    )  # fmt: skip


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
        store=store_path(osm_file, cache_dir), dropped_nodes=dropped_nodes_of(meta) or 0,
    )  # fmt: skip


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
