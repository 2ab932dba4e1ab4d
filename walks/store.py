"""A region store: one pass over an extract, then any area of it opened without reading the file.

The store is one SQLite file under ``cache_dir/stores``: the walking-way candidates (node ids
and coordinates as packed arrays, tags as JSON), every tagged node and area, and the buildings,
each table with an R-tree over the objects' bounding boxes (SQLite's ``rtree`` module ships with
Python's ``sqlite3``). A store belongs to one file: it is used only while the file's size,
modification time and the hash of its first MiB are those recorded at import.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from walks._files import TMP_PREFIX
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
    check_extract,
    read_extract,
    read_features,
)
from walks.errors import CacheError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from walks.types import Area

#: Files larger than this get a store on first use.
IMPLICIT_IMPORT_BYTES = 20 * 2**20

#: The store format; a store of another version is built again.
STORE_VERSION = "2"

_HEAD_BYTES = 2**20

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE ways (id INTEGER PRIMARY KEY, osm_id INTEGER NOT NULL, refs BLOB NOT NULL,
                   lats BLOB NOT NULL, lons BLOB NOT NULL, tags TEXT NOT NULL);
CREATE VIRTUAL TABLE ways_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE areas (id INTEGER PRIMARY KEY, osm_id INTEGER NOT NULL, tags TEXT NOT NULL,
                    rings TEXT NOT NULL);
CREATE VIRTUAL TABLE areas_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE features (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, osm_id INTEGER NOT NULL,
                       tags TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, ring BLOB);
CREATE VIRTUAL TABLE features_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE buildings (id INTEGER PRIMARY KEY, ring BLOB NOT NULL, height REAL NOT NULL,
                        how TEXT NOT NULL);
CREATE VIRTUAL TABLE buildings_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE landcover (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ring BLOB NOT NULL);
CREATE VIRTUAL TABLE landcover_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);
"""


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
    digest = hashlib.sha256(str(Path(osm_file).resolve()).encode()).hexdigest()[:32]
    return folder / f"{digest}.sqlite"


#: The names of the store files walks writes.
_STORE_NAME = re.compile(r"[0-9a-f]{32}\.sqlite")


def _box(lats: np.ndarray, lons: np.ndarray) -> tuple[float, float, float, float] | None:
    """
    Bounding box of coordinates, ignoring NaN.

    Parameters
    ----------
    lats, lons
        The coordinates.

    Returns
    -------
    tuple or None
        ``(min_lon, max_lon, min_lat, max_lat)``, or None when no coordinate is known.
    """
    ok = np.isfinite(lats) & np.isfinite(lons)
    if not ok.any():
        return None
    return (
        float(lons[ok].min()),
        float(lons[ok].max()),
        float(lats[ok].min()),
        float(lats[ok].max()),
    )


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
    Build the store of an extract in one pass over its ways and one over its tagged objects.

    The store is built in a temporary file beside its place and renamed into place when
    complete, so a store is whole or absent.

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
        msg = f"cannot write the store in {str(target.parent)!r} ({err.strerror or err}): {_FIX}"
        raise CacheError(msg) from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
            say(f"reading the ways of {path.name}")
            osm = read_extract(path)
            _fill_ways(db, osm)
            source, data_date = osm.source, osm.data_date
            del osm
            say(f"reading the places and buildings of {path.name}")
            found = read_features(path, bool)
            _fill_features(db, found)
            meta = {
                "version": STORE_VERSION,
                "osm_file": str(path.resolve()),
                "fingerprint": stamp,
                "source": source,
                "data_date": data_date.isoformat() if data_date else "",
                "features_source": found.source,
                "imported": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            del found
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.commit()
        tmp.replace(target)
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

#: Rows written per ``executemany`` batch.
_CHUNK = 20_000


def _insert(db: sqlite3.Connection, table: str, rows: Iterable[tuple[object, ...]]) -> None:
    """
    Insert rows and their R-tree boxes in batches: each row is ``(id, box or None, *columns)``.

    Parameters
    ----------
    db
        The new store.
    table
        The table (its R-tree is ``<table>_rt``).
    rows
        The rows.
    """
    data: list[tuple[object, ...]] = []
    boxes: list[tuple[object, ...]] = []

    def flush() -> None:
        if data:
            marks = ", ".join("?" * len(data[0]))
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", data)  # noqa: S608 - fixed names
            db.executemany(f"INSERT INTO {table}_rt VALUES (?, ?, ?, ?, ?)", boxes)  # noqa: S608
        data.clear()
        boxes.clear()

    for row in rows:
        row_id, box, *columns = row
        data.append((row_id, *columns))
        if box is not None:
            boxes.append((row_id, *box))  # type: ignore[misc]
        if len(data) >= _CHUNK:
            flush()
    flush()


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
    xy = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    return _box(xy[:, 1], xy[:, 0])


def _fill_ways(db: sqlite3.Connection, osm: OsmWays) -> None:
    """
    Write the ways and walkable areas with their R-trees.

    Parameters
    ----------
    db
        The new store.
    osm
        The ways and areas, in file order.
    """
    _insert(db, "ways", _way_rows(osm.ways))
    _insert(db, "areas", _area_rows(osm.areas))


def _way_rows(ways: Iterable[WayRecord], start: int = 0) -> Iterator[tuple[object, ...]]:
    """
    Turn ways into store rows.

    Parameters
    ----------
    ways
        The ways.
    start
        The row id of the first.

    Yields
    ------
    tuple
        ``(id, box, osm_id, refs, lats, lons, tags)``.
    """
    for i, way in enumerate(ways, start):
        lats = np.asarray(way.lats, dtype=np.float64)
        lons = np.asarray(way.lons, dtype=np.float64)
        refs = np.asarray(way.refs, dtype=np.int64).tobytes()
        yield (i, _box(lats, lons), way.osm_id, refs, lats.tobytes(), lons.tobytes(),
               json.dumps(way.tags))  # fmt: skip


def _area_rows(areas: Iterable[AreaRecord]) -> Iterator[tuple[object, ...]]:
    """
    Turn walkable areas into store rows (rings as JSON: floats round-trip exactly).

    Parameters
    ----------
    areas
        The areas.

    Yields
    ------
    tuple
        ``(id, box, osm_id, tags, rings)``.
    """
    for i, area in enumerate(areas):
        points = np.asarray([p for ring in area.outer for p in ring], dtype=np.float64)
        box = _box(points[:, 1], points[:, 2]) if len(points) else None
        rings = {"outer": area.outer, "inner": area.inner, "members": area.members}
        yield i, box, area.osm_id, json.dumps(area.tags), json.dumps(rings)


def _fill_features(db: sqlite3.Connection, found: OsmFeatures) -> None:
    """
    Write the tagged objects, buildings and land cover with their R-trees.

    Parameters
    ----------
    db
        The new store.
    found
        The tagged objects, buildings and land cover, in file order.
    """

    def features() -> Iterator[tuple[object, ...]]:
        for i, f in enumerate(found.features):
            ring = _ring_blob(f.outline) if f.outline else None
            box = _ring_box(f.outline) if f.outline else (f.lon, f.lon, f.lat, f.lat)
            yield i, box, f.osm_type, f.osm_id, json.dumps(f.tags), f.lat, f.lon, ring

    _insert(db, "features", features())
    _insert(db, "buildings", (
        (i, _ring_box(b.outline), _ring_blob(b.outline), b.height_m, b.height_source)
        for i, b in enumerate(found.buildings)
    ))  # fmt: skip
    _insert(db, "landcover", (
        (i, _ring_box(c.outline), c.kind, _ring_blob(c.outline))
        for i, c in enumerate(found.landcover)
    ))  # fmt: skip


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
    with contextlib.closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)) as db:
        yield db


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
                int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # noqa: S608 - fixed names
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
        version=meta.get("version", ""),
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


def _rows(db: sqlite3.Connection, table: str, box: _Box | None) -> list[tuple[object, ...]]:
    """
    Select a table's rows whose box meets a box, in file order (all rows for None).

    Parameters
    ----------
    db
        The store.
    table
        ``ways``, ``areas``, ``features``, ``buildings`` or ``landcover``.
    box
        ``(west, east, south, north)``, or None for every row.

    Returns
    -------
    list of tuple
        The rows.
    """
    if box is None:
        return db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608
    query = (
        f"SELECT t.* FROM {table}_rt r JOIN {table} t ON t.id = r.id "  # noqa: S608 - fixed names
        "WHERE r.max_lon >= ? AND r.min_lon <= ? AND r.max_lat >= ? AND r.min_lat <= ? "
        "ORDER BY t.id"
    )
    return db.execute(query, box).fetchall()


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
    with _connect(store_path(osm_file, cache_dir)) as db:
        meta = _meta(db)
        rows = _rows(db, "ways", box)
        area_rows = _rows(db, "areas", box)
    ways = tuple(
        WayRecord(
            int(osm_id),  # type: ignore[call-overload]
            tuple(np.frombuffer(refs, dtype=np.int64).tolist()),  # type: ignore[call-overload]
            tuple(np.frombuffer(lats, dtype=np.float64).tolist()),  # type: ignore[call-overload]
            tuple(np.frombuffer(lons, dtype=np.float64).tolist()),  # type: ignore[call-overload]
            json.loads(tags),  # type: ignore[arg-type]
        )
        for _, osm_id, refs, lats, lons, tags in rows
    )
    areas = []
    for _, osm_id, tags, rings_text in area_rows:
        rings = json.loads(rings_text)  # type: ignore[arg-type]
        areas.append(AreaRecord(
            int(osm_id), json.loads(tags), _ring_points(rings["outer"]),  # type: ignore[call-overload, arg-type]
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

    Returns
    -------
    OsmFeatures
        The features, buildings and land cover, in file order.
    """
    box = None if area is None else _grown(area.bbox, 0.0)
    near = None
    if area is not None:
        west, south, east, north = area.bbox
        if corridor is not None:
            c_west, c_south, c_east, c_north = corridor.bbox
            west, south = min(west, c_west), min(south, c_south)
            east, north = max(east, c_east), max(north, c_north)
        near = _grown((west, south, east, north), margin_m)
    with _connect(store_path(osm_file, cache_dir)) as db:
        meta = _meta(db)
        feature_rows = _rows(db, "features", box)
        building_rows = _rows(db, "buildings", near)
        cover_rows = _rows(db, "landcover", near)
    features = []
    for _, kind, osm_id, tags_text, lat, lon, ring in feature_rows:
        tags = json.loads(tags_text)  # type: ignore[arg-type]
        if wanted(tags):
            outline = _ring_of(ring) if ring is not None else None  # type: ignore[arg-type]
            features.append(Feature(str(kind), int(osm_id), tags, lat, lon, outline))  # type: ignore[call-overload, arg-type]
    buildings = tuple(
        Building(_ring_of(ring), float(height), str(how))  # type: ignore[arg-type]
        for _, ring, height, how in building_rows
    )
    cover = tuple(Landcover(str(kind), _ring_of(ring)) for _, kind, ring in cover_rows)  # type: ignore[arg-type]
    return OsmFeatures(tuple(features), buildings, meta.get("features_source", ""), cover)


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
    return len(stores)
