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
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from walks._http import check_cache_dir
from walks.data import (
    Building,
    Feature,
    OsmFeatures,
    OsmWays,
    WayRecord,
    check_extract,
    read_extract,
    read_features,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from walks.types import Area

#: Files larger than this get a store on first use.
IMPLICIT_IMPORT_BYTES = 20 * 2**20

#: The store format; a store of another version is built again.
STORE_VERSION = "1"

_HEAD_BYTES = 2**20

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE ways (id INTEGER PRIMARY KEY, osm_id INTEGER NOT NULL, refs BLOB NOT NULL,
                   lats BLOB NOT NULL, lons BLOB NOT NULL, tags TEXT NOT NULL);
CREATE VIRTUAL TABLE ways_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE features (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, osm_id INTEGER NOT NULL,
                       tags TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, ring BLOB);
CREATE VIRTUAL TABLE features_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE buildings (id INTEGER PRIMARY KEY, ring BLOB NOT NULL, height REAL NOT NULL,
                        how TEXT NOT NULL);
CREATE VIRTUAL TABLE buildings_rt USING rtree(id, min_lon, max_lon, min_lat, max_lat);
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
        Whether the extract is unchanged since the import.
    """

    path: Path
    osm_file: str
    ways: int
    features: int
    buildings: int
    size_bytes: int
    current: bool


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


def import_extract(osm_file: str | Path, cache_dir: Path | None = None) -> StoreInfo:
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

    Returns
    -------
    StoreInfo
        What the store holds.

    Raises
    ------
    DataError
        When the extract cannot be read.
    """
    path = check_extract(osm_file)
    stamp = fingerprint(path)
    osm = read_extract(path)
    found = read_features(path, bool)
    target = store_path(path, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".walks-tmp-", suffix=".sqlite", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
            _fill(db, osm, found)
            meta = {
                "version": STORE_VERSION,
                "osm_file": str(path.resolve()),
                "fingerprint": stamp,
                "source": osm.source,
                "data_date": osm.data_date.isoformat() if osm.data_date else "",
                "features_source": found.source,
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.commit()
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    info = store_info(path, cache_dir)
    assert info is not None
    return info


def _fill(db: sqlite3.Connection, osm: OsmWays, found: OsmFeatures) -> None:
    """
    Write the ways, features and buildings with their R-trees.

    Parameters
    ----------
    db
        The new store.
    osm
        The ways.
    found
        The tagged objects and buildings.
    """
    rows, boxes = [], []
    for i, way in enumerate(osm.ways):
        lats = np.asarray(way.lats, dtype=np.float64)
        lons = np.asarray(way.lons, dtype=np.float64)
        box = _box(lats, lons)
        refs = np.asarray(way.refs, dtype=np.int64).tobytes()
        rows.append((i, way.osm_id, refs, lats.tobytes(), lons.tobytes(), json.dumps(way.tags)))
        if box is not None:
            boxes.append((i, *box))
    db.executemany("INSERT INTO ways VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO ways_rt VALUES (?, ?, ?, ?, ?)", boxes)
    rows_f: list[tuple[int, str, int, str, float, float, bytes | None]] = []
    boxes = []
    for i, f in enumerate(found.features):
        ring = _ring_blob(f.outline) if f.outline else None
        rows_f.append((i, f.osm_type, f.osm_id, json.dumps(f.tags), f.lat, f.lon, ring))
        if f.outline:
            xy = np.asarray(f.outline, dtype=np.float64)
            box = _box(xy[:, 1], xy[:, 0])
        else:
            box = (f.lon, f.lon, f.lat, f.lat)
        if box is not None:
            boxes.append((i, *box))
    db.executemany("INSERT INTO features VALUES (?, ?, ?, ?, ?, ?, ?)", rows_f)
    db.executemany("INSERT INTO features_rt VALUES (?, ?, ?, ?, ?)", boxes)
    rows_b, boxes = [], []
    for i, b in enumerate(found.buildings):
        xy = np.asarray(b.outline, dtype=np.float64)
        rows_b.append((i, xy.tobytes(), b.height_m, b.height_source))
        box = _box(xy[:, 1], xy[:, 0])
        if box is not None:
            boxes.append((i, *box))
    db.executemany("INSERT INTO buildings VALUES (?, ?, ?, ?)", rows_b)
    db.executemany("INSERT INTO buildings_rt VALUES (?, ?, ?, ?, ?)", boxes)


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
                for t in ("ways", "features", "buildings")
            ]
    except sqlite3.Error:
        return None
    try:
        current = meta.get("version") == STORE_VERSION and meta.get("fingerprint") == fingerprint(
            Path(osm_file)
        )
    except OSError:
        current = False
    ways, features, buildings = counts
    return StoreInfo(
        store, meta.get("osm_file", ""), ways, features, buildings, store.stat().st_size, current
    )


def _query(db: sqlite3.Connection, table: str, area: Area) -> str:
    """
    Write the SQL selecting a table's rows whose box meets the area's bounding box.

    Parameters
    ----------
    db
        The store (unused; keeps the call sites uniform).
    table
        ``ways``, ``features`` or ``buildings``.
    area
        The area.

    Returns
    -------
    str
        The query, taking ``(west, east, south, north)`` parameters.
    """
    del db, area
    return (
        f"SELECT t.* FROM {table}_rt r JOIN {table} t ON t.id = r.id "  # noqa: S608 - fixed names
        "WHERE r.max_lon >= ? AND r.min_lon <= ? AND r.max_lat >= ? AND r.min_lat <= ? "
        "ORDER BY t.id"
    )


def load_ways(osm_file: str | Path, area: Area, cache_dir: Path | None = None) -> OsmWays:
    """
    Load the walking-way candidates meeting an area's bounding box from the store.

    Ways come whole, as from the file; ``graph_from_ways(..., clip=area)`` cuts them.

    Parameters
    ----------
    osm_file
        The extract (its store must be current).
    area
        The area.
    cache_dir
        The walks cache directory.

    Returns
    -------
    OsmWays
        The ways, with the file's source label and data date.
    """
    west, south, east, north = area.bbox
    with _connect(store_path(osm_file, cache_dir)) as db:
        meta = _meta(db)
        rows = db.execute(_query(db, "ways", area), (west, east, south, north)).fetchall()
    ways = tuple(
        WayRecord(
            int(osm_id),
            tuple(np.frombuffer(refs, dtype=np.int64).tolist()),
            tuple(np.frombuffer(lats, dtype=np.float64).tolist()),
            tuple(np.frombuffer(lons, dtype=np.float64).tolist()),
            json.loads(tags),
        )
        for _, osm_id, refs, lats, lons, tags in rows
    )
    date = dt.datetime.fromisoformat(meta["data_date"]) if meta.get("data_date") else None
    return OsmWays(ways=ways, source=meta["source"], data_date=date)


def load_features(
    osm_file: str | Path,
    area: Area,
    wanted: Callable[[dict[str, str]], bool],
    cache_dir: Path | None = None,
) -> OsmFeatures:
    """
    Load the wanted tagged objects and the buildings meeting an area's bounding box.

    Parameters
    ----------
    osm_file
        The extract (its store must be current).
    area
        The area.
    wanted
        Says which tagged objects to keep as features.
    cache_dir
        The walks cache directory.

    Returns
    -------
    OsmFeatures
        The features and buildings.
    """
    west, south, east, north = area.bbox
    box = (west, east, south, north)
    with _connect(store_path(osm_file, cache_dir)) as db:
        meta = _meta(db)
        feature_rows = db.execute(_query(db, "features", area), box).fetchall()
        building_rows = db.execute(_query(db, "buildings", area), box).fetchall()
    features = []
    for _, kind, osm_id, tags_text, lat, lon, ring in feature_rows:
        tags = json.loads(tags_text)
        if wanted(tags):
            outline = _ring_of(ring) if ring is not None else None
            features.append(Feature(kind, int(osm_id), tags, lat, lon, outline))
    buildings = tuple(
        Building(_ring_of(ring), float(height), str(how)) for _, ring, height, how in building_rows
    )
    return OsmFeatures(tuple(features), buildings, meta.get("features_source", ""))


def list_stores(cache_dir: Path | None = None) -> list[tuple[Path, str, int]]:
    """
    List the stores in the cache (for ``walks cache``).

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Returns
    -------
    list of (Path, str, int)
        Each store file, the extract it was built from, and its size in bytes.
    """
    folder = check_cache_dir(cache_dir) / "stores"
    found = []
    for store in sorted(folder.glob("*.sqlite")):
        try:
            with _connect(store) as db:
                source = _meta(db).get("osm_file", "?")
        except sqlite3.Error:
            source = "?"
        found.append((store, source, store.stat().st_size))
    return found


def remove_stores(cache_dir: Path | None = None) -> int:
    """
    Remove every store (for ``walks cache --clear``).

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
