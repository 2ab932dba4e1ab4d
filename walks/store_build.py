"""Building a region store: one pass over an extract into the store's tables.

``walks.store.import_extract`` names the file and renames it into place; this module fills it.
A PBF file is read as arrays (``walks.store_pbf``, ``_pass_arrays``): osmium makes only the areas
of its relations and complex ways, over a small file (``walks.store_areas``). osmium reads alone
any other file (``_pass``); an unsorted or hand-made file is read whole (``_read_whole``). Rows
go to each table in chunks sorted along a Z-order curve (``walks.store_tables``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import sqlite3
import struct
from array import array
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import pbf_jit
from walks.data import (
    AREA_HIGHWAYS,
    DEFAULT_BUILDING_M,
    HEIGHT_KEYS,
    LANDCOVER_KEYS,
    RAIL_VALUES,
    AreaRecord,
    WayRecord,
    _has_odd_coordinates,
    _header_date,
    _is_xml,
    _NeedsRepairError,
    _off_globe,
    _osmium_failures,
    _osmium_objects,
    _OsmiumError,
    _read_error,
    _walkable_multipolygon,
    building_height,
    check_pbf_tags,
    is_walkable,
    landcover_kind,
    not_utf8_error,
    nul_tag_message,
    read_extract,
    read_features,
    zero_member_message,
)
from walks.errors import DataError
from walks.pbf import NulTagError, UnsupportedPbfError, ZeroMemberError
from walks.store_areas import AREA_STEP, UNDEFINED
from walks.store_groups import (
    _SCHEMA,
    Packed,
    _degrees,
    _fixed,
    _points_blob,
    _pragmas,
    _ring_blob,
    _tags_text,
)
from walks.store_pbf import pbf_rows
from walks.store_tables import _BoxTuple, _finish, _letting_buffer_go, _Table

if TYPE_CHECKING:
    from pathlib import Path


log = logging.getLogger("walks.store")


#: The first place of the areas' rows in the features, buildings and landcover tables (after
#: the nodes' rows): each area takes one place per ring, in the order osmium yields them.
_AREAS = 2**40


#: The first id and place of the railways in the landcover table (after every other row).
_RAILS = 2**62


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
    for obj in _osmium_objects(osmium.FileProcessor(str(readable), osmium.osm.RELATION)):
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
        reader.close()
    except _osmium_failures() as err:  # osmium's calls alone: _header_date is ours
        raise _read_error(path, err) from err
    header_date = _header_date(header)
    # a file that says it is sorted (Geofabrik's, osmium's) and dated: its untagged nodes
    # are left to osmium's C++ side, as nothing else is wanted of them
    fast = header.get("sorting") == "Type_then_ID" and header_date is not None
    # a PBF's nodes and ways are read as arrays (walks.pbf checks their order itself), the
    # rest by osmium; a file walks.pbf does not decode is read by osmium alone
    arrays = not _is_xml(readable)
    if arrays:
        _decodes(readable, path)  # (or the compiled loops check what osmium would refuse)
    dates = header_date is None
    try:
        newest, at_zero, off_globe = _fill(
            tmp, readable, path, fast=fast, arrays=arrays, repaired=repaired, dates=dates
        )
    except NulTagError as err:
        # not to osmium: a tag holding a NUL crashes its C++ side (the process ends at once)
        raise DataError(nul_tag_message(path, err)) from err
    except ZeroMemberError as err:
        raise DataError(zero_member_message(path, err)) from err
    except UnsupportedPbfError as err:
        log.debug("%s is read by osmium alone: %s", path.name, err)
        newest, at_zero, off_globe = _fill(
            tmp, readable, path, fast=fast, arrays=False, repaired=repaired, dates=dates
        )
    if at_zero and not repaired and _has_odd_coordinates(readable):
        raise _NeedsRepairError(coordinates=True)
    date = header_date or (newest.astimezone(dt.UTC) if isinstance(newest, dt.datetime) else None)
    return {
        "source": f"file:{path.resolve()}",
        "data_date": date.isoformat() if date else "",
        "features_source": f"file:{path.resolve()}",
        # nodes off the globe, left out as the file readers leave them out (walks.data)
        "dropped_nodes": str(off_globe),
    }


def _decodes(readable: Path, path: Path) -> None:
    """
    Refuse a PBF file osmium refuses, as the file readers do, by decoding it in C++ only.

    The numpy arrays skip what the store does not keep (user names, versions, changesets),
    where osmium may find a file corrupt; osmium's decoding of a whole file, its metadata
    included, costs about a tenth of what the arrays cost (0.8 CPU-s for 4.3 M nodes): no
    object reaches Python. With the compiled loops (``walks.pbf_jit``) nothing is done here:
    they check the metadata and framing as they decode each block, stricter than osmium
    (``walks.pbf.check_meta``), and a file they refuse is read by osmium alone, which gives
    its verdict.

    Parameters
    ----------
    readable
        The file (its tags checked for NUL characters: those crash osmium).
    path
        The extract as the user named it, for messages.

    Raises
    ------
    DataError
        When osmium cannot read it.
    """
    if pbf_jit.active():
        log.debug("%s: its metadata is checked by the compiled loops as they read", path.name)
        return
    log.debug("%s: its metadata is checked by osmium's decoding of the whole file", path.name)
    import osmium  # noqa: PLC0415

    class _Decoded(osmium.SimpleHandler):
        """Nothing for Python: osmium decodes every object in C++ (the file has no changeset)."""

        def changeset(self, _: object) -> None:
            """Take a changeset (none is wanted)."""

    try:
        with osmium.io.Reader(str(readable)) as reader:  # its metadata too, as the readers do
            osmium.apply(reader, _Decoded())
    except _osmium_failures() as err:
        raise _read_error(path, err) from err


def _fill(
    tmp: Path,
    readable: Path,
    path: Path,
    *,
    fast: bool,
    arrays: bool,
    repaired: bool,
    dates: bool,
) -> tuple[dt.datetime | None, bool, int]:
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
    fast
        The file says it is sorted and dated: untagged nodes and areas are dropped in C++.
    arrays
        Read the file with ``walks.pbf`` (a PBF file), and osmium only for the areas of
        relations and complex ways (``_pass_arrays``).
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

    if not arrays:
        # before osmium reads the file: a tag holding a NUL crashes it (a file the arrays
        # stopped reading may hold one after where they stopped)
        check_pbf_tags(readable)
    tmp.unlink(missing_ok=True)
    # the small file of relations and complex ways osmium makes areas of, next to the store
    small = tmp.with_suffix(".areas.osm.pbf")
    with contextlib.closing(sqlite3.connect(tmp)) as db, _letting_buffer_go():
        db.executescript(_pragmas(readable.stat().st_size) + _SCHEMA)
        try:
            if arrays:
                found = _pass_arrays(db, readable, small, dates=dates)
                db.commit()
                return found
            members = _area_members(readable)
            processor = osmium.FileProcessor(str(readable)).with_locations().with_areas()
            if fast:
                # osmium's C++ side drops what is not wanted before Python sees it: untagged
                # nodes and areas, and relations without a highway tag unless their dates
                # are wanted
                untagged = osmium.filter.EmptyTagFilter()
                untagged.enable_for(osmium.osm.NODE | osmium.osm.AREA)
                processor = processor.with_filter(untagged)
                if not dates:
                    squares = osmium.filter.KeyFilter("highway")
                    squares.enable_for(osmium.osm.RELATION)
                    processor = processor.with_filter(squares)
            missing: set[int] = set()
            found = _pass(db, processor, members, repaired=repaired, dates=dates,
                          missing=missing)  # fmt: skip
            if fast and missing and not repaired and _nodes_in(readable, missing):
                # a node of a way comes after it: the file says it is sorted and is not
                # (osmium's C++ side hid the untagged nodes from the order check)
                raise _NeedsRepairError
        except _OsmiumError as failure:
            text = str(failure)
            unreadable = _is_xml(readable) and "coordinate" in text
            if not repaired and (unreadable or "out of order" in text):
                raise _NeedsRepairError(coordinates=unreadable) from failure.err
            raise _read_error(path, failure.err) from failure.err
        except OSError as err:
            raise _read_error(path, err) from err
        except UnicodeDecodeError as err:  # osmium's text, read by pyosmium as UTF-8
            raise not_utf8_error(path, err) from err
        finally:
            small.unlink(missing_ok=True)
        db.commit()
    return found


def _pass_arrays(
    db: sqlite3.Connection, readable: Path, small: Path, *, dates: bool
) -> tuple[dt.datetime | None, bool, int]:
    """
    Fill the store from a PBF file's arrays, and osmium's areas of a small file.

    ``walks.store_pbf.pbf_rows`` writes the tagged nodes, walkable ways, railways and the
    plain areas of closed ways, and the small file of relations and complex ways whose
    areas osmium makes here, each in the place osmium's pass over the whole file gives it.

    Parameters
    ----------
    db
        The new store.
    readable
        The PBF file.
    small
        Where to write the small file (the caller deletes it).
    dates
        Track the newest element timestamp.

    Returns
    -------
    tuple
        As ``_pass`` returns.

    Raises
    ------
    UnsupportedPbfError
        When ``walks.pbf`` does not decode the file, or osmium makes an area unforeseen.
    """
    import osmium  # noqa: PLC0415
    import shapely  # noqa: F401, PLC0415 - as read_features; loaded here once, not per area

    ways = _Table(db, "ways")
    areas = _Table(db, "areas")
    features = _Table(db, "features")
    buildings = _Table(db, "buildings")
    cover = _Table(db, "landcover")
    rails = _Table(db, "landcover", first=_RAILS)
    rows = pbf_rows(readable, (features, ways, rails), small, _AREAS, dates=dates)
    for relation in rows.relations:
        _add_walkable(areas, _walkable_multipolygon(relation, rows.shapes, [], rows.walkable))
    at_zero = rows.at_zero
    if rows.places:
        processor = osmium.FileProcessor(str(small)).with_locations().with_areas()
        untagged = osmium.filter.EmptyTagFilter()
        untagged.enable_for(osmium.osm.AREA)
        processor = processor.with_filter(untagged).with_filter(
            osmium.filter.EntityFilter(osmium.osm.AREA)
        )
        try:
            at_zero = _small_areas(processor, rows.places, (features, buildings, cover)) or at_zero
        except _OsmiumError as failure:
            # the user's file passed osmium's checks already (its pass in _decodes, or the
            # compiled loops' as they read): a failure here is the small file's, written by
            # walks; the file is then read by osmium alone, which gives its own verdict
            msg = f"osmium could not read the small file of relations ({failure})"
            raise UnsupportedPbfError(msg) from failure.err
    log.debug(
        "%d areas of plain rings written from the arrays, %d made by osmium of a small file",
        rows.closed.count(), len(rows.places),
    )  # fmt: skip
    at_zero = rows.closed.write((features, buildings, cover)) or at_zero
    _finish(db, (ways, areas, features, buildings, cover, rails))
    return rows.newest, at_zero, rows.off_globe


def _small_areas(
    processor: Any,  # noqa: ANN401 - osmium's FileProcessor has no stubs
    places: dict[tuple[str, int], int],
    tables: tuple[_Table, _Table, _Table],
) -> bool:
    """
    Write the areas osmium makes of the small file, each in the place it was given.

    The rows are those ``_write_area`` writes area by area (``_pass`` uses it), made here for
    all the areas at once (``_OsmiumAreas``): a Python loop over osmium's areas reads only
    their tags and outer rings.

    Parameters
    ----------
    processor
        osmium's areas of the small file.
    places
        Each area's place, by ``("w" or "r", original id)``.
    tables
        The ``features``, ``buildings`` and ``landcover`` tables.

    Returns
    -------
    bool
        Whether a written coordinate is exactly 0.

    Raises
    ------
    UnsupportedPbfError
        For an area not foreseen, or of too many rings for its places.
    """
    import osmium  # noqa: PLC0415

    make = osmium.geom.WKBFactory().create_multipolygon
    no_geometry = (RuntimeError, osmium.InvalidLocationError)
    found = _OsmiumAreas()
    tag_list, outer_rings = _tag_list, _outer_rings
    obj: Any
    for obj in _osmium_objects(processor):
        from_way = obj.from_way()
        osm_id = obj.orig_id()
        place = places.get(("w" if from_way else "r", osm_id))
        if place is None:
            msg = f"an area of {osm_id} unforeseen"
            raise UnsupportedPbfError(msg)
        pairs = tag_list(obj)
        if not pairs:  # (no rule makes an untagged area a building or land cover)
            continue
        try:
            rings = outer_rings(bytes.fromhex(make(obj)))
        except no_geometry:
            rings = _rings_of(obj)
        rings = [r for r in rings if len(r) >= 64]  # noqa: PLR2004 - four points
        if len(rings) >= AREA_STEP:
            msg = "an area of too many rings"
            raise UnsupportedPbfError(msg)
        if rings:
            found.add(place, from_way, osm_id, dict(pairs), rings)
    return found.write(tables)


class _OsmiumAreas:
    """Areas osmium made, held to write their rows at once as ``_write_area`` writes each.

    The rings' points are turned into the stored integers, and the rows' boxes found, for all
    the rings at once; the rules (``building_height``, ``landcover_kind``) are asked once per
    combination of the values they read; the rows go to each table as columns.
    """

    def __init__(self) -> None:
        self.places: list[int] = []
        self.types: list[str] = []
        self.ids: list[int] = []
        self.texts: list[str] = []
        self.counts: list[int] = []
        self.rings: list[bytes] = []
        self.heights: list[float] = []  # NaN: not a building
        self.hows: list[str | None] = []  # None: not a building
        self.kinds: list[str | None] = []
        self._measured: dict[tuple[str | None, ...], tuple[float, str]] = {}
        self._covered: dict[tuple[str | None, ...], str | None] = {}

    def add(
        self, place: int, from_way: bool, osm_id: int, tags: dict[str, str], rings: list[bytes]
    ) -> None:
        """
        Hold an area's rows.

        Parameters
        ----------
        place
            Its place in file order; its rings take the places from there on.
        from_way
            Whether osmium made it of a way (else of a relation).
        osm_id
            The way's or relation's id.
        tags
            Its tags (some).
        rings
            Its outer rings of four points or more (some), as float64 lon, lat pairs.
        """
        self.places.append(place)
        self.types.append("way" if from_way else "relation")
        self.ids.append(osm_id)
        self.texts.append(_tags_text(tags.items(), len(tags)))
        self.counts.append(len(rings))
        self.rings.extend(rings)
        get = tags.get
        if "building" in tags and tags["building"] != "no":
            read = tuple(map(get, HEIGHT_KEYS))
            height = self._measured.get(read)
            if height is None:
                given = {k: v for k, v in zip(HEIGHT_KEYS, read, strict=True) if v is not None}
                height = self._measured[read] = building_height(given)
            self.heights.append(height[0])
            self.hows.append(height[1])
            self.kinds.append(None)
            return
        self.heights.append(math.nan)
        self.hows.append(None)
        read = tuple(map(get, LANDCOVER_KEYS))
        if read in self._covered:
            self.kinds.append(self._covered[read])
            return
        given = {k: v for k, v in zip(LANDCOVER_KEYS, read, strict=True) if v is not None}
        kind = self._covered[read] = landcover_kind(given)
        self.kinds.append(kind)

    def write(self, tables: tuple[_Table, _Table, _Table]) -> bool:
        """
        Write the rows held: a feature per area, and a building or land cover per ring.

        Parameters
        ----------
        tables
            The ``features``, ``buildings`` and ``landcover`` tables.

        Returns
        -------
        bool
            Whether a written coordinate is exactly 0.
        """
        if not self.places:
            return False
        features, buildings, cover = tables
        values = np.frombuffer(b"".join(self.rings), dtype=np.float64)
        fixed = _fixed(values)  # as _points_blob stores each ring
        sizes = np.fromiter((len(r) // 16 for r in self.rings), np.int64, len(self.rings))
        ends = np.cumsum(sizes)
        starts = ends - sizes
        xy = _degrees(fixed).reshape(-1, 2)  # the boxes as _Table finds those of blobs
        boxes = np.column_stack((
            np.minimum.reduceat(xy[:, 0], starts), np.maximum.reduceat(xy[:, 0], starts),
            np.minimum.reduceat(xy[:, 1], starts), np.maximum.reduceat(xy[:, 1], starts),
        ))  # fmt: skip
        rings = Packed.of(fixed, 8 * starts, 8 * ends)
        counts = np.array(self.counts, dtype=np.int64)
        first = np.cumsum(counts) - counts  # each area's first ring
        area = np.repeat(np.arange(counts.size, dtype=np.int64), counts)  # each ring's area
        places = np.array(self.places, dtype=np.int64)
        ring_places = places[area] + np.arange(area.size, dtype=np.int64) - first[area]
        n = counts.size
        features.extend(boxes[first], [
            self.types, np.array(self.ids, dtype=np.int64), self.texts, np.full(n, np.nan),
            np.full(n, np.nan), rings[first],
        ], at=places)  # fmt: skip
        built = np.array([how is not None for how in self.hows], dtype=bool)
        hit = np.flatnonzero(built[area])  # the buildings' rings
        if hit.size:
            heights = np.array(self.heights, dtype=np.float64)[area[hit]]
            hows = [self.hows[j] for j in area[hit].tolist()]
            buildings.extend(boxes[hit], [rings[hit], heights, hows], at=ring_places[hit])
        covered = np.array([kind is not None for kind in self.kinds], dtype=bool)
        hit = np.flatnonzero(covered[area])
        if hit.size:
            kinds = [self.kinds[j] for j in area[hit].tolist()]
            cover.extend(boxes[hit], [kinds, rings[hit]], at=ring_places[hit])
        return not bool(values.all())  # an exact 0.0


def _rings_of(obj: Any) -> list[bytes]:  # noqa: ANN401 - osmium's Area
    """
    Read an area's outer rings point by point (when osmium makes no WKB of it).

    Parameters
    ----------
    obj
        The area.

    Returns
    -------
    list of bytes
        Each outer ring as float64 lon, lat pairs.
    """
    return [
        np.array([(n.lon, n.lat) for n in r], dtype=np.float64).tobytes() for r in obj.outer_rings()
    ]


def _add_walkable(areas: _Table, area: AreaRecord | None) -> None:
    """
    Write a walkable multipolygon's row.

    Parameters
    ----------
    areas
        The areas table.
    area
        The area, or None (nothing is written).
    """
    if area is None:
        return
    points = [p for ring in area.outer for p in ring]
    shape = {"outer": area.outer, "inner": area.inner, "members": area.members}
    areas.add(
        _points_box([p[1] for p in points], [p[2] for p in points]),
        area.osm_id,
        json.dumps(area.tags),
        json.dumps(shape),
    )


def _write_area(
    obj: Any,  # noqa: ANN401 - osmium's Area
    place: int,
    tables: tuple[_Table, _Table, _Table],
    wkb: Any,  # noqa: ANN401 - osmium's WKBFactory
) -> tuple[int, bool]:
    """
    Write the rows of an area osmium made: a feature, and a building or land cover.

    Parameters
    ----------
    obj
        The area.
    place
        Its place in file order; its rings take the places from there on.
    tables
        The ``features``, ``buildings`` and ``landcover`` tables.
    wkb
        osmium's WKB factory.

    Returns
    -------
    tuple
        The places taken (one per outer ring of four points or more; none for an area left
        out), and whether a written coordinate is exactly 0.
    """
    import osmium  # noqa: PLC0415

    features, buildings, cover = tables
    tags = dict(_tag_list(obj))
    is_building = "building" in tags and tags["building"] != "no"
    kind = None if is_building else landcover_kind(tags)
    # every tagged area is a candidate feature (read_features(path, bool))
    if not (is_building or tags or kind):
        return 0, False
    try:
        rings = _outer_rings(bytes.fromhex(wkb.create_multipolygon(obj)))
    except (RuntimeError, osmium.InvalidLocationError):
        rings = _rings_of(obj)
    rings = [r for r in rings if len(r) >= 64]  # noqa: PLR2004 - four points
    if not rings:
        return 0, False
    at_zero = not all(np.frombuffer(r, dtype=np.float64).all() for r in rings)  # an exact 0.0
    rings = [_points_blob(r) for r in rings]
    if is_building:
        # building_height's answer without its regular expressions when it has none
        height, how = (
            building_height(tags)
            if "height" in tags or "building:height" in tags or "building:levels" in tags
            else (DEFAULT_BUILDING_M, "default")
        )
        for k, ring in enumerate(rings):
            buildings.add(ring, ring, height, how, at=place + k)
    if kind is not None:
        for k, ring in enumerate(rings):
            cover.add(ring, kind, ring, at=place + k)
    if tags:
        osm_type = "way" if obj.from_way() else "relation"
        text = _tags_text(tags.items(), len(tags))
        features.add(rings[0], osm_type, obj.orig_id(), text, None, None, rings[0], at=place)
    return len(rings), at_zero


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
    nodes = _osmium_objects(osmium.FileProcessor(str(readable), osmium.osm.NODE))
    return any(node.id in ids for node in nodes)


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
        The meta rows: source, data date, features' source and ``dropped_nodes`` (nodes left
        out for their unreadable coordinates, ``OsmWays.dropped_nodes``).
    """
    tmp.unlink(missing_ok=True)
    osm = read_extract(path)
    found = read_features(path, bool)
    with contextlib.closing(sqlite3.connect(tmp)) as db, _letting_buffer_go():
        db.executescript(_pragmas(path.stat().st_size) + _SCHEMA)
        ways, areas = _Table(db, "ways"), _Table(db, "areas")
        for way in osm.ways:
            ways.add(
                _points_box(list(way.lats), list(way.lons)), way.osm_id,
                array("q", way.refs).tobytes(), _fixed(way.lats).tobytes(),
                _fixed(way.lons).tobytes(), _tags_text(way.tags.items(), len(way.tags)),
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
        # each reading repairs the whole file when it needs to: the larger count is the file's
        "dropped_nodes": str(max(osm.dropped_nodes, found.dropped_nodes)),
    }


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
    return [n.ref for n in way.nodes if n.location.x == UNDEFINED]


def _pass(  # noqa: C901, PLR0912, PLR0915 - one pass over every kind of object, kept together
    db: sqlite3.Connection,
    processor: Any,  # noqa: ANN401 - osmium's FileProcessor has no stubs
    members: set[int],
    *,
    repaired: bool,
    dates: bool,
    missing: set[int] | None = None,
) -> tuple[dt.datetime | None, bool, int]:
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
    off_globe = 0
    missing = set() if missing is None else missing
    # the areas' rows take places in the order osmium yields the areas
    place = _AREAS
    tags_text, tag_list = _tags_text, _tag_list
    # geometries are made by osmium in C++ (WKB), not point by point in Python
    wkb = osmium.geom.WKBFactory()
    every_node = osmium.geom.use_nodes.ALL
    no_geometry = (RuntimeError, osmium.InvalidLocationError)
    zero = bytes(8)  # a coordinate of exactly 0.0 (osmium's are multiples of 1e-7)
    obj: Any
    for obj in _osmium_objects(processor):
        if obj.is_area():
            taken, at_area = _write_area(obj, place, (features, buildings, cover), wkb)
            place += taken
            at_zero = at_zero or at_area
            continue
        if dates:
            stamp = obj.timestamp
            if stamp.year > 1970 and (newest is None or stamp > newest):  # noqa: PLR2004
                newest = stamp
        if obj.is_node():
            if (after_ways or obj.id < 0) and not repaired:
                raise _NeedsRepairError
            if not obj.location.valid() and _off_globe(obj.location):
                off_globe += 1  # (with ``fast``, the tagged ones only reach here)
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
            _add_walkable(areas, _walkable_multipolygon(obj, shapes, [], walkable))
            continue
        way_tags = obj.tags
        if way_tags.get("railway") in RAIL_VALUES:
            try:
                line = _points_blob(bytes.fromhex(wkb.create_linestring(obj, every_node))[9:])
            except no_geometry:
                line = _ring_blob(tuple((n.lon, n.lat) for n in obj.nodes if n.location.valid()))
                missing.update(_unplaced(obj))
            if len(line) >= 16:  # noqa: PLR2004 - two points
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
            at_zero = at_zero or zero in line
            fixed = _fixed(xy)  # lon, lat pairs as stored: the row's box, then its columns
            box = fixed.tobytes()
        else:  # a node missing from the extract (NaN), or a way of one node
            points = _way_points(obj)
            xy = np.array([(p[2], p[1]) for p in points], dtype=np.float64).reshape(-1, 2)
            at_zero = at_zero or not bool(np.nan_to_num(xy, nan=1.0).all())
            fixed = _fixed(xy)
            box = _points_box(xy[:, 1].tolist(), xy[:, 0].tolist())
            missing.update(_unplaced(obj))
        if obj.id in members:
            walkable[obj.id] = WayRecord(
                obj.id, tuple(refs), tuple(xy[:, 1].tolist()), tuple(xy[:, 0].tolist()), tags
            )
        ways.add(box, obj.id, array("q", refs).tobytes(), fixed[:, 1].tobytes(),
                 fixed[:, 0].tobytes(), tags_text(tags.items(), len(tags)))  # fmt: skip
    _finish(db, (ways, areas, features, buildings, cover, rails))
    return newest, at_zero, off_globe
