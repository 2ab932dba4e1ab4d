"""Many walks at once: one walk per row of an areas file, planned on a Dask cluster.

``run_batch`` reads the requests (CSV or GeoJSON), sends them in small chunks to Dask workers
(a ``LocalCluster`` by default, or an existing scheduler), and writes one GeoParquet row per
walk. Each finished chunk is written at once as a small Parquet part in ``<out>.parts/``, so a
killed batch resumes where it stopped; the parts are combined into the output, sorted by row,
when every row is done. A row whose walk fails becomes a row with ``status`` ``"failed"`` and
the message, never a failed batch.

Each row is planned exactly as ``walks generate`` plans the same request (``walks.api``); a
worker keeps the areas it loaded (graph, features, stops) in memory, so rows of one area cost
one load per worker, not one per row.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import math
import os
import shutil
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walks import _files, _validate, settings
from walks._http import deadline
from walks._text import visible
from walks.api import AreaStops, generate_walks, stops_in_area
from walks.area import area_from_point, resolve_area
from walks.categories import load_categories, select_categories
from walks.errors import DataError, ExportError, UsageError, WalksError
from walks.export import gpx_text, leaflet_assets, walk_summary
from walks.types import Area

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import pyarrow as pa

    from walks.types import Walk

log = logging.getLogger(__name__)

#: What a row asks for when neither the row nor the command says (as ``walks generate``).
DEFAULT_MINUTES = 60.0
#: Radius of the area around a GeoJSON Point start or a lat/lon row without ``radius``.
DEFAULT_RADIUS_M = 1000.0
#: Areas (graph, features, stops) a worker keeps in memory.
AREA_CACHE_SIZE = 8
#: Rows in one file are capped, so one AREAS file cannot ask for an unbounded batch.
MAX_ROWS = 1_000_000

#: Columns an AREAS row may have (CSV header or GeoJSON properties); others are refused.
KNOWN_COLUMNS = frozenset({
    "id", "label", "name", "area", "bbox", "lat", "lon", "radius", "minutes", "km", "stops",
    "seed", "start", "end", "osm_file",
})  # fmt: skip


@dataclass(frozen=True)
class BatchOptions:
    """The command's defaults and the settings every row shares.

    Attributes
    ----------
    osm_file
        The extract (or region file) rows are cut from; a row's ``osm_file`` overrides it.
    minutes, km
        The default budget (one of them; neither means 60 minutes).
    stops
        Default categories with counts; None asks for a café, a studio and a view where the
        area has them (as ``walks generate``).
    seed
        Default seed.
    start, end
        Default start and end (``walks generate``'s ``--start`` / ``--end``).
    radius_m
        Radius around point rows without their own.
    no_terrain
        Flat ground: fetch no elevation tiles.
    landmark
        Landmark for view stops, or None for the area's own.
    category_files
        Extra category files.
    cache_dir
        The walks cache (graph cache, geocoder replies); None for the default.
    nominatim_url
        For place names in ``area`` and addresses in ``start`` / ``end``.
    attempts
        Tries per request to an online service.
    maps
        Also make each walk's HTML map and GPX.
    cdn_map
        Link Leaflet from its CDN in the maps instead of inlining it.
    """

    osm_file: str | None = None
    minutes: float | None = None
    km: float | None = None
    stops: tuple[tuple[str, int], ...] | None = None
    seed: int = 0
    start: str | None = None
    end: str | None = None
    radius_m: float = DEFAULT_RADIUS_M
    no_terrain: bool = False
    landmark: str | None = None
    category_files: tuple[str, ...] = ()
    cache_dir: str | None = None
    nominatim_url: str = settings.NOMINATIM_URL
    attempts: int = settings.MAX_ATTEMPTS
    maps: bool = False
    cdn_map: bool = False
    timeout_s: float | None = None


@dataclass(frozen=True)
class WalkRequest:
    """One row of the batch: a walk to plan, or why the row cannot be planned.

    Attributes
    ----------
    row
        The row's number in the AREAS file (0 for the first request).
    label
        The row's ``label``, ``name`` or ``id``, else ``"row N"``.
    area
        The area, or None for the whole extract.
    osm_file
        The extract.
    minutes, km, stops, seed, start, end
        The request, the command's defaults filled in.
    error
        Why the row is unusable (then nothing else matters), or None.
    """

    row: int
    label: str
    area: Area | None = None
    osm_file: str | None = None
    minutes: float | None = None
    km: float | None = None
    stops: tuple[tuple[str, int], ...] | None = None
    seed: int = 0
    start: str | None = None
    end: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class BatchReport:
    """What a batch run did.

    Attributes
    ----------
    out
        The GeoParquet file (written only when ``complete``).
    total
        Rows in the AREAS file.
    computed
        Row numbers planned by this run.
    skipped
        Row numbers found done by an earlier, interrupted run.
    failed
        Row numbers whose walk failed (their rows say why).
    complete
        Whether every row is done and the output written.
    maps
        The index page of the maps, or None.
    """

    out: Path
    total: int
    computed: tuple[int, ...]
    skipped: tuple[int, ...]
    failed: tuple[int, ...]
    complete: bool
    maps: Path | None = None
    lost: tuple[int, ...] = field(default=())


# --------------------------------------------------------------------------- reading AREAS


def read_requests(path: Path, options: BatchOptions) -> list[WalkRequest]:
    """
    Read an AREAS file: one walk request per CSV row or GeoJSON feature.

    CSV columns (all optional): ``label`` / ``name`` / ``id``; the area as ``area`` (``walks
    generate``'s AREA: ``"west,south,east,north"``, ``"lat,lon"`` or a place name), ``bbox``
    (``"west,south,east,north"``) or ``lat`` + ``lon`` (with ``radius`` in metres); ``minutes``,
    ``km``, ``stops`` (``"cafe,studio=2"``), ``seed``, ``start``, ``end``, ``osm_file``
    (relative to the AREAS file's folder). Empty cells take the command's defaults. GeoJSON: a
    FeatureCollection whose Polygon / MultiPolygon features are areas and whose Point features
    are starts (the area is the circle of ``radius`` around them), with the same properties.

    Parameters
    ----------
    path
        The AREAS file (``.csv``, ``.geojson`` or ``.json``).
    options
        The command's defaults.

    Returns
    -------
    list of WalkRequest
        In file order; a malformed row is a request with ``error`` set.

    Raises
    ------
    DataError
        When the file cannot be read, is not CSV or GeoJSON, has unknown columns, or has no row.
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        msg = (
            f"cannot read the areas file {str(path)!r} ({err.strerror or err}): "
            "give a CSV or GeoJSON file"
        )
        raise DataError(msg) from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        msg = f"the areas file {str(path)!r} is not UTF-8 text: save it as UTF-8 CSV or GeoJSON"
        raise DataError(msg) from err
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(text, path)
    elif suffix in {".geojson", ".json"}:
        records = _geojson_records(text, path)
    else:
        msg = f"the areas file {str(path)!r} must end in .csv, .geojson or .json"
        raise DataError(msg)
    if not records:
        msg = f"the areas file {str(path)!r} has no rows: give one walk request per row"
        raise DataError(msg)
    if len(records) > MAX_ROWS:
        msg = (
            f"the areas file {str(path)!r} has {len(records)} rows: "
            f"split it into files of at most {MAX_ROWS}"
        )
        raise DataError(msg)
    unknown = sorted({k for props, _ in records for k in props} - KNOWN_COLUMNS)
    if unknown:
        msg = (
            f"the areas file {str(path)!r} has unknown columns {unknown}: use "
            f"{', '.join(sorted(KNOWN_COLUMNS))}"
        )
        raise DataError(msg)
    return [
        _request(i, props, shape, path.parent, options) for i, (props, shape) in enumerate(records)
    ]


def _csv_records(text: str, path: Path) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """
    Read CSV rows as property dicts (blank cells dropped).

    Parameters
    ----------
    text
        The file's text.
    path
        The file, for messages.

    Returns
    -------
    list of tuple
        ``(properties, None)`` per row.

    Raises
    ------
    DataError
        For a CSV without a header.
    """
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        msg = f"the CSV {str(path)!r} has no header row: name the columns, e.g. label,bbox,minutes"
        raise DataError(msg)
    rows: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for row in reader:
        props = {
            (k or "").strip().lower(): v.strip()
            for k, v in row.items()
            if isinstance(v, str) and v.strip()
        }
        rows.append((props, None))
    return rows


def _geojson_records(text: str, path: Path) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """
    Read GeoJSON features as property dicts and geometries.

    Parameters
    ----------
    text
        The file's text.
    path
        The file, for messages.

    Returns
    -------
    list of tuple
        ``(properties, geometry)`` per feature.

    Raises
    ------
    DataError
        When it is not a GeoJSON FeatureCollection (or a single Feature).
    """
    try:
        data = json.loads(text)
    except ValueError as err:
        msg = f"the GeoJSON {str(path)!r} is not valid JSON ({err}): fix or re-export it"
        raise DataError(msg) from err
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = {"type": "FeatureCollection", "features": [data]}
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        msg = f"the GeoJSON {str(path)!r} is not a FeatureCollection: give one feature per walk"
        raise DataError(msg)
    out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for feature in features:
        feature_dict = feature if isinstance(feature, dict) else {}
        props = feature_dict.get("properties") or {}
        geometry = feature_dict.get("geometry")
        clean = {
            str(k).strip().lower(): v
            for k, v in (props.items() if isinstance(props, dict) else ())
            if v is not None and v != ""
        }
        out.append((clean, geometry if isinstance(geometry, dict) else None))
    return out


def _request(
    row: int,
    props: dict[str, Any],
    geometry: dict[str, Any] | None,
    folder: Path,
    options: BatchOptions,
) -> WalkRequest:
    """
    Turn one row into a request, the command's defaults filled in; a bad row keeps its error.

    Parameters
    ----------
    row
        The row's number.
    props
        Its columns (or GeoJSON properties).
    geometry
        Its GeoJSON geometry, or None.
    folder
        The AREAS file's folder, for relative ``osm_file`` paths.
    options
        The command's defaults.

    Returns
    -------
    WalkRequest
        The request.
    """
    label = visible(str(props.get("label") or props.get("name") or props.get("id") or f"row {row}"),
                    one_line=True)[:200]  # fmt: skip
    try:
        return _parse_row(row, label, props, geometry, folder, options)
    except (WalksError, ValueError, TypeError) as err:
        return WalkRequest(row=row, label=label, error=visible(str(err), one_line=True))


def _parse_row(
    row: int,
    label: str,
    props: dict[str, Any],
    geometry: dict[str, Any] | None,
    folder: Path,
    options: BatchOptions,
) -> WalkRequest:
    """
    Read one row's columns (see ``_request``).

    Parameters
    ----------
    row, label, props, geometry, folder, options
        As for ``_request``.

    Returns
    -------
    WalkRequest
        The request.

    Raises
    ------
    UsageError
        For a malformed value (the message names the column).
    walks.errors.AreaError
        For a malformed area.
    """
    start = _text(props, "start") or options.start
    radius = _number(props, "radius")
    radius_m = radius if radius is not None else options.radius_m
    area: Area | None = None
    if geometry is not None:
        area, point_start = _geometry_area(geometry, label, radius_m)
        start = _text(props, "start") or point_start or options.start
    elif "bbox" in props or "area" in props:
        text = str(props.get("bbox") or props.get("area"))
        area = resolve_area(text, radius_m=radius_m, nominatim_url=options.nominatim_url,
                            cache_dir=_cache(options), attempts=options.attempts)  # fmt: skip
    elif "lat" in props or "lon" in props:
        lat, lon = _number(props, "lat"), _number(props, "lon")
        if lat is None or lon is None:
            msg = "a row with lat needs lon too (and the other way round), e.g. lat=48.88,lon=2.35"
            raise UsageError(msg)
        area = resolve_area(f"{lat},{lon}", radius_m=radius_m)
    minutes, km = _number(props, "minutes"), _number(props, "km")
    if minutes is None and km is None:
        minutes, km = options.minutes, options.km
    minutes, km = _validate.check_budget(minutes, km)
    stops = options.stops
    if "stops" in props:
        stops = _parse_stops(str(props["stops"]))
    seed = _number(props, "seed")
    seed_value = options.seed if seed is None else seed
    if not float(seed_value).is_integer():
        msg = f"seed {seed_value!r} is not a whole number: give 0 to {_validate.MAX_SEED}"
        raise UsageError(msg)
    seed_int = _validate.check_int("seed", int(seed_value), 0, _validate.MAX_SEED, example="seed=7")
    osm_file = _text(props, "osm_file")
    file_text = str(folder / osm_file) if osm_file else options.osm_file
    end = _text(props, "end") or options.end
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            _validate.check_text(name, value, example="48.8809,2.3553 or a stop's name")
            _validate.parse_lat_lon(value, name=name)
    return WalkRequest(row=row, label=label, area=area, osm_file=file_text, minutes=minutes,
                       km=km, stops=stops, seed=seed_int, start=start, end=end)  # fmt: skip


def _text(props: dict[str, Any], key: str) -> str | None:
    """Return a column as stripped text, or None when blank."""
    value = props.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(props: dict[str, Any], key: str) -> float | None:
    """
    Return a column as a finite number, or None when blank.

    Parameters
    ----------
    props
        The row.
    key
        The column.

    Returns
    -------
    float or None
        The number.

    Raises
    ------
    UsageError
        When it is not a finite number.
    """
    value = props.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or isinstance(value, bool):
        msg = f"{key} {value!r} is not a number: give e.g. {key}=45"
        raise UsageError(msg)
    return number


def _parse_stops(text: str) -> tuple[tuple[str, int], ...]:
    """
    Read a ``stops`` cell such as ``cafe,studio=2,view`` (``walks generate --stops``).

    Parameters
    ----------
    text
        The cell.

    Returns
    -------
    tuple
        ``(category, count)`` pairs; empty for ``"none"``.

    Raises
    ------
    UsageError
        For a malformed specification (see ``walks._validate.parse_stop_spec``).
    """
    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(_validate.parse_stop_spec(text))
    except UsageError as err:
        msg = f"stops {err}"
        raise UsageError(msg) from err


def _geometry_area(
    geometry: dict[str, Any], label: str, radius_m: float
) -> tuple[Area, str | None]:
    """
    Turn a GeoJSON geometry into an area (and, for a Point, the start).

    Parameters
    ----------
    geometry
        A Polygon, MultiPolygon or Point.
    label
        The row's label.
    radius_m
        The circle's radius around a Point.

    Returns
    -------
    tuple
        The area and the start (``"lat,lon"`` for a Point, else None).

    Raises
    ------
    UsageError
        For another geometry type, or an invalid or empty polygon.
    """
    import shapely  # noqa: PLC0415
    from shapely.geometry import shape  # noqa: PLC0415

    kind = geometry.get("type")
    if kind == "Point":
        coords = geometry.get("coordinates")
        if not (isinstance(coords, list) and len(coords) >= 2):  # noqa: PLR2004
            msg = f"the Point of {label!r} has no coordinates: give [lon, lat]"
            raise UsageError(msg)
        lon, lat = float(coords[0]), float(coords[1])
        from walks.types import LatLon  # noqa: PLC0415

        return area_from_point(LatLon(lat, lon), radius_m, label=label), f"{lat},{lon}"
    if kind not in {"Polygon", "MultiPolygon"}:
        msg = (
            f"the geometry of {label!r} is a {kind!r}: "
            "give a Polygon (an area) or a Point (a start)"
        )
        raise UsageError(msg)
    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError) as err:
        msg = f"the {kind} of {label!r} is malformed ({err}): give GeoJSON [lon, lat] rings"
        raise UsageError(msg) from err
    if polygon.is_empty or not shapely.is_valid(polygon):
        msg = f"the {kind} of {label!r} is empty or self-intersecting: fix its outline"
        raise UsageError(msg)
    west, south, east, north = polygon.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):  # noqa: PLR2004
        msg = f"the {kind} of {label!r} is not in degrees of longitude and latitude (WGS84)"
        raise UsageError(msg)
    return Area(label=label, kind="place", polygon=polygon), None


def _cache(options: BatchOptions) -> Path:
    """Return the cache directory of the batch."""
    return Path(options.cache_dir) if options.cache_dir else settings.default_cache_dir()


# --------------------------------------------------------------------------- one row (worker)

_AREAS: OrderedDict[tuple[Any, ...], AreaStops] = OrderedDict()
_AREAS_LOCK = threading.Lock()


def _area_stops(request: WalkRequest, options: BatchOptions) -> AreaStops:
    """
    Load a row's area and its stops, or take them from this worker's memory.

    Parameters
    ----------
    request
        The row.
    options
        The batch's settings.

    Returns
    -------
    AreaStops
        Graph, features and stops, as ``walks generate`` loads them.
    """
    asked = request.stops
    names = tuple(n for n, _ in (asked if asked is not None else _default_stops()))
    version = None
    if request.osm_file is not None:
        with contextlib.suppress(OSError):  # a missing file fails in stops_in_area, as it should
            stat = Path(request.osm_file).stat()
            version = (stat.st_size, stat.st_mtime_ns)
    key = (
        request.osm_file,
        version, request.area.key if request.area is not None else None, names,
        asked is None, options.landmark, options.no_terrain, options.category_files,
        options.cache_dir,
    )  # fmt: skip
    with _AREAS_LOCK:
        found = _AREAS.get(key)
        if found is not None:
            _AREAS.move_to_end(key)
            return found
        found = stops_in_area(
            request.area, list(names), osm_file=request.osm_file,
            category_files=tuple(options.category_files), landmark=options.landmark,
            skip_missing=asked is None, no_terrain=options.no_terrain, cache_dir=_cache(options),
            attempts=options.attempts,
        )  # fmt: skip
        _AREAS[key] = found
        while len(_AREAS) > AREA_CACHE_SIZE:
            _AREAS.popitem(last=False)
        return found


def forget_areas() -> None:
    """Empty this process's in-memory area cache (for benchmarks and long-lived workers)."""
    with _AREAS_LOCK:
        _AREAS.clear()


def _default_stops() -> tuple[tuple[str, int], ...]:
    """Return what ``walks generate`` asks for without ``--stops``."""
    from walks.api import DEFAULT_STOPS  # noqa: PLC0415

    return DEFAULT_STOPS


def plan_row(
    request: WalkRequest, options: BatchOptions
) -> tuple[list[Walk], AreaStops, list[float] | None]:
    """
    Plan one row's walk exactly as ``walks.api.generate_walks`` plans the same request.

    Parameters
    ----------
    request
        The row (without ``error``).
    options
        The batch's settings.

    Returns
    -------
    tuple
        The walks (the best first), the area, and the best walk's elevations (or None).

    Raises
    ------
    walks.errors.WalksError
        When the walk cannot be planned (the row then fails).
    """
    found = _area_stops(request, options)
    result = generate_walks(
        None, None if request.stops is None else list(request.stops), found=found,
        start=request.start, end=request.end, minutes=request.minutes, km=request.km,
        seed=request.seed, no_terrain=options.no_terrain, cache_dir=_cache(options),
        nominatim_url=options.nominatim_url, attempts=options.attempts,
    )  # fmt: skip
    walks, elevations = result.walks, result.elevations
    return walks, found, elevations


def _row_record(
    request: WalkRequest, options: BatchOptions
) -> tuple[dict[str, Any], dict[str, str]]:
    """
    Plan one row and describe it as an output row (and its map and GPX texts).

    Parameters
    ----------
    request
        The row.
    options
        The batch's settings.

    Returns
    -------
    tuple
        The row's columns, and ``{file name: text}`` for its map and GPX (empty without maps
        or when it failed).
    """
    record = _request_columns(request)
    if request.error is not None:
        return record | {"status": "failed", "error": request.error}, {}
    try:
        walks, found, elevations = plan_row(request, options)
        best = walks[0]
        summary = walk_summary(best, departure=None)
        record |= _summary_columns(summary, best)
        texts: dict[str, str] = {}
        if options.maps:
            texts = _map_texts(request, walks, found, elevations, options)
            record["map"] = _page_name(request.row)
            record["gpx"] = _gpx_name(request.row)
    except WalksError as err:
        return record | {"status": "failed", "error": visible(str(err), one_line=True)}, {}
    except Exception as err:  # a bug of ours fails its row, not the batch
        log.debug("unexpected error in row %d", request.row, exc_info=True)
        message = f"unexpected {type(err).__name__}: {err} (a bug in walks: please report it)"
        return record | {"status": "error", "error": visible(message, one_line=True)}, {}
    return record | {"status": "ok"}, texts


def _map_texts(
    request: WalkRequest,
    walks: list[Walk],
    found: AreaStops,
    elevations: list[float] | None,
    options: BatchOptions,
) -> dict[str, str]:
    """
    Make a row's HTML map and GPX as ``walks generate`` does.

    Parameters
    ----------
    request
        The row.
    walks
        Its walks.
    found
        Its area.
    elevations
        The best walk's elevations, or None.
    options
        The batch's settings.

    Returns
    -------
    dict
        ``{file name: text}``.
    """
    from walks.basemap import basemap_data  # noqa: PLC0415
    from walks.webmap import map_html, view_bounds  # noqa: PLC0415

    title = f"A walk in {request.label}"
    best = walks[0]
    assets = None if options.cdn_map else leaflet_assets(_cache(options))
    page = map_html(
        walks, title=title, categories=found.categories, departure=None, climb_m=best.climb_m,
        offline_assets=assets, cdn=assets is None, warnings=[w.message for w in best.warnings],
        elevations=elevations,
        basemap=basemap_data(found.loaded.graph, found.features.buildings, view_bounds(walks),
                             found.features.landcover),
    )  # fmt: skip
    gpx = gpx_text(best, title=title, departure=None, elevations=elevations)
    return {_page_name(request.row): page, _gpx_name(request.row): gpx}


def _page_name(row: int) -> str:
    """Return the file name of a row's map."""
    return f"walk-{row:06d}.html"


def _gpx_name(row: int) -> str:
    """Return the file name of a row's GPX."""
    return f"walk-{row:06d}.gpx"


def _request_columns(request: WalkRequest) -> dict[str, Any]:
    """Return the columns that echo a row's request."""
    return {
        "row": request.row,
        "label": request.label,
        "osm_file": request.osm_file,
        "area": request.area.polygon.wkt if request.area is not None else None,
        "minutes": request.minutes,
        "km": request.km,
        "stops_asked": (
            ",".join(f"{n}={c}" for n, c in request.stops) if request.stops is not None else None
        ),
        "seed": request.seed,
        "start": request.start,
        "end": request.end,
    }


#: Scalar fields of ``walks.export.walk_summary`` kept as columns of their own.
SUMMARY_COLUMNS = (
    "length_m", "walking_time_s", "total_time_s", "budget_error", "retraced_share",
    "pleasant_share", "dead_end_spurs", "start_offset_m", "end_offset_m", "climb_m", "descent_m",
)  # fmt: skip


def _summary_columns(summary: dict[str, Any], walk: Walk) -> dict[str, Any]:
    """
    Spread a walk's JSON summary over columns.

    Parameters
    ----------
    summary
        ``walks.export.walk_summary`` of the walk.
    walk
        The walk, for its line.

    Returns
    -------
    dict
        The scalar fields, ``n_stops``, ``stop_names``, the lists as JSON text (``warnings``,
        ``stops``, ``directions``), the whole summary as JSON text (``summary``: what
        ``walks generate --json`` writes) and the line as WKB (``geometry``).
    """
    import shapely  # noqa: PLC0415

    line = shapely.LineString([(p.lon, p.lat) for p in walk.geometry])
    columns = {k: summary[k] for k in SUMMARY_COLUMNS}
    return columns | {
        "n_stops": len(summary["stops"]),
        "stop_names": " | ".join(str(s.get("name", "")) for s in summary["stops"]),
        "warnings": _json(summary["warnings"]),
        "stops": _json(summary["stops"]),
        "directions": _json(summary["directions"]),
        "summary": _json(summary),
        "attribution": summary["attribution"],
        "geometry": shapely.to_wkb(line),
    }


def _json(value: object) -> str:
    """Return strict, compact JSON text."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def run_chunk(
    requests: list[WalkRequest], options: BatchOptions
) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """
    Plan a chunk of rows on a worker (the task sent to Dask).

    Parameters
    ----------
    requests
        The rows.
    options
        The batch's settings.

    Returns
    -------
    list of tuple
        Per row: its columns, and its map and GPX texts.
    """
    if options.timeout_s is None:
        return [_row_record(r, options) for r in requests]
    with deadline(options.timeout_s):  # --timeout holds on the workers too, per chunk
        return [_row_record(r, options) for r in requests]


# --------------------------------------------------------------------------- parts on disk


def _schema() -> pa.Schema:
    """Return the Arrow schema of a part (and of the output, ``geometry`` aside)."""
    import pyarrow as pa  # noqa: PLC0415

    text, number, whole = pa.string(), pa.float64(), pa.int64()
    return pa.schema([
        ("row", whole), ("label", text), ("status", text), ("error", text),
        ("osm_file", text), ("area", text), ("minutes", number), ("km", number),
        ("stops_asked", text), ("seed", whole), ("start", text), ("end", text),
        *[(k, whole if k == "dead_end_spurs" else number) for k in SUMMARY_COLUMNS],
        ("n_stops", whole), ("stop_names", text), ("warnings", text), ("stops", text),
        ("directions", text), ("summary", text), ("attribution", text), ("map", text),
        ("gpx", text), ("geometry", pa.binary()),
    ])  # fmt: skip


def _table(records: list[dict[str, Any]]) -> pa.Table:
    """Turn row dicts into an Arrow table of the part schema (missing columns null)."""
    import pyarrow as pa  # noqa: PLC0415

    schema = _schema()
    columns = {name: [r.get(name) for r in records] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


def _parquet_bytes(table: pa.Table) -> bytes:
    """Serialise an Arrow table as Parquet."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def _read_parts(folder: Path) -> list[dict[str, Any]]:
    """
    Read every finished part of an interrupted batch.

    Parameters
    ----------
    folder
        The ``<out>.parts`` folder.

    Returns
    -------
    list of dict
        The rows (a damaged part is skipped with a warning: its rows are planned again).
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    rows: list[dict[str, Any]] = []
    for part in sorted(folder.glob("part-*.parquet")):
        try:
            rows.extend(pq.read_table(part).to_pylist())
        except (OSError, ValueError) as err:
            log.warning(
                "ignoring the damaged part %s (%s): its rows are planned again", part.name, err
            )
    return rows


def _fingerprint(areas: Path, options: BatchOptions) -> str:
    """
    Identify a batch: the AREAS file's bytes, the options and the extracts' versions.

    Parameters
    ----------
    areas
        The AREAS file.
    options
        The batch's settings.

    Returns
    -------
    str
        A hex digest; parts of another batch are never mixed in.
    """
    digest = hashlib.sha256(areas.read_bytes())
    digest.update(_json(asdict(options)).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- the driver


def run_batch(
    areas: Path,
    out: Path,
    options: BatchOptions,
    *,
    maps_dir: Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    processes: bool = True,
    chunk_size: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
) -> BatchReport:
    """
    Plan one walk per row of an AREAS file on Dask and write them as GeoParquet.

    Parameters
    ----------
    areas
        The AREAS file (see ``read_requests``).
    out
        The GeoParquet file to write; its parts are kept in ``<out>.parts/`` until the end.
    options
        The command's defaults and shared settings (``maps`` is set from ``maps_dir``).
    maps_dir
        Write each walk's map (``walk-NNNNNN.html``) and GPX here, and ``index.html``: a map of
        all walks, each linking to its page. None writes none.
    workers
        Workers of the local cluster (default: the CPU cores); ignored with ``scheduler``.
    scheduler
        The address of a running Dask scheduler (``tcp://host:8786``), or None for a local
        cluster.
    processes
        Local workers as processes (True) or threads of this process.
    chunk_size
        Rows per task (and per part); None picks about eight tasks per worker, at most 25 rows.
    overwrite
        Replace an existing output file.
    progress
        Called with ``(rows done, rows in all)`` as chunks finish.
    stop_after
        Stop (as a kill would) once this many chunks were written; for tests.

    Returns
    -------
    BatchReport
        What was done.

    Raises
    ------
    DataError
        For an unreadable AREAS file.
    ExportError
        When the output exists (without ``overwrite``) or cannot be written.
    UsageError
        For a bad ``workers`` / ``chunk_size`` or an unreachable scheduler.
    """
    if workers is not None:
        _validate.check_int("workers", workers, 1, 1024, example="--workers 4")
    if chunk_size is not None:
        _validate.check_int("chunk_size", chunk_size, 1, 10_000, example="--chunk-size 10")
    options = replace(options, maps=maps_dir is not None)
    requests = read_requests(areas, options)
    _check_categories(options)  # options every row would fail on: refused at once
    _check_out(out, maps_dir, overwrite=overwrite)
    parts = out.with_name(out.name + ".parts")
    fingerprint = _fingerprint(areas, options)
    done = _resume(parts, fingerprint, maps_dir)
    done_rows = {r["row"] for r in done}
    invalid = [r for r in requests if r.error is not None and r.row not in done_rows]
    pending = [r for r in requests if r.error is None and r.row not in done_rows]
    records = list(done) + [_row_record(r, options)[0] for r in invalid]
    computed: list[int] = [r.row for r in invalid]
    lost: list[int] = []
    if progress is not None:
        progress(len(records), len(requests))
    stopped = False
    if pending:
        n_workers = workers or os.cpu_count() or 1
        size = chunk_size or max(1, min(25, math.ceil(len(pending) / (8 * n_workers))))
        chunks = _chunks(pending, size)
        new, lost, stopped = _compute(
            chunks, options, parts=parts, maps_dir=maps_dir, workers=n_workers,
            scheduler=scheduler, processes=processes,
            progress=(lambda k: progress(len(records) + k, len(requests))) if progress else None,
            stop_after=stop_after,
        )  # fmt: skip
        records += new
        computed += [r["row"] for r in new]
    failed = tuple(sorted(r["row"] for r in records if r["status"] != "ok"))
    if stopped or lost:
        return BatchReport(out, len(requests), tuple(sorted(computed)),
                           tuple(sorted(done_rows)), failed, complete=False,
                           lost=tuple(sorted(lost)))  # fmt: skip
    records.sort(key=lambda r: r["row"])
    index = None
    if maps_dir is not None:
        index = maps_dir / "index.html"
        _files.write_atomic(
            index, index_html(records, cdn=options.cdn_map, cache_dir=_cache(options))
        )
    _write_output(out, records)
    shutil.rmtree(parts, ignore_errors=True)
    return BatchReport(out, len(requests), tuple(sorted(computed)), tuple(sorted(done_rows)),
                       failed, complete=True, maps=index)  # fmt: skip


def _check_categories(options: BatchOptions) -> None:
    """
    Read the category files and check the command's own categories, before any work.

    A row's own bad category fails that row only, never the batch.

    Parameters
    ----------
    options
        The batch's settings.

    Raises
    ------
    walks.errors.CategoryError
        For a malformed category file or an unknown category (a bad argument: exit 2).
    """
    categories = load_categories(*options.category_files)
    select_categories(categories, sorted({name for name, _ in options.stops or ()}))


def _check_out(out: Path, maps_dir: Path | None, *, overwrite: bool) -> None:
    """
    Refuse, before any work, an output that exists or cannot be written.

    Parameters
    ----------
    out
        The GeoParquet file.
    maps_dir
        The maps folder, or None.
    overwrite
        Replace an existing output.

    Raises
    ------
    ExportError
        When ``out`` exists (without ``overwrite``), its folder is missing, or ``maps_dir``
        is a file.
    """
    from walks.export import check_writable  # noqa: PLC0415

    if out.suffix.lower() not in {".parquet", ".geoparquet"}:
        msg = f"the output {str(out)!r} must end in .parquet (GeoParquet)"
        raise ExportError(msg)
    check_writable([out], overwrite=overwrite)
    if maps_dir is not None:
        if maps_dir.exists() and not maps_dir.is_dir():
            msg = f"--maps {str(maps_dir)!r} is a file: give a folder"
            raise ExportError(msg)
        try:
            maps_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            msg = f"cannot make the maps folder {str(maps_dir)!r} ({err.strerror or err})"
            raise ExportError(msg) from err


def _resume(parts: Path, fingerprint: str, maps_dir: Path | None) -> list[dict[str, Any]]:
    """
    Take the rows an interrupted run of the same batch finished; start the parts folder.

    Parameters
    ----------
    parts
        The ``<out>.parts`` folder.
    fingerprint
        The batch's identity (``_fingerprint``).
    maps_dir
        The maps folder, or None: a finished row whose map is missing is planned again.

    Returns
    -------
    list of dict
        The finished rows.

    Raises
    ------
    UsageError
        When the folder holds the parts of another batch.
    ExportError
        When the folder cannot be made.
    """
    stamp = parts / "batch.json"
    if stamp.exists():
        try:
            old = json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            old = None
        if old != fingerprint:
            msg = (
                f"{str(parts)!r} holds the unfinished parts of another batch (other areas or "
                "options): remove that folder, or re-run that batch to finish it"
            )
            raise UsageError(msg)
        rows = _read_parts(parts)
        if maps_dir is not None:
            rows = [r for r in rows if r.get("map") is None or (maps_dir / r["map"]).exists()]
        return rows
    try:
        parts.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(stamp, _json({"fingerprint": fingerprint}))
    except OSError as err:
        msg = f"cannot make the parts folder {str(parts)!r} ({err.strerror or err})"
        raise ExportError(msg) from err
    return []


def _chunks(requests: list[WalkRequest], size: int) -> list[list[WalkRequest]]:
    """
    Cut rows into tasks, rows of one area together (one load per worker and area).

    Parameters
    ----------
    requests
        The rows to plan.
    size
        Rows per chunk.

    Returns
    -------
    list of list
        The chunks, in a fixed order.
    """

    def where(r: WalkRequest) -> tuple[str, str, int]:
        return (r.osm_file or "", r.area.key if r.area is not None else "", r.row)

    ordered = sorted(requests, key=where)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def _compute(
    chunks: list[list[WalkRequest]],
    options: BatchOptions,
    *,
    parts: Path,
    maps_dir: Path | None,
    workers: int,
    scheduler: str | None,
    processes: bool,
    progress: Callable[[int], None] | None,
    stop_after: int | None,
) -> tuple[list[dict[str, Any]], list[int], bool]:
    """
    Run the chunks on Dask, writing each finished one (its part, maps and GPX) at once.

    Parameters
    ----------
    chunks
        The tasks.
    options
        The batch's settings.
    parts
        Where the parts go.
    maps_dir
        Where maps go, or None.
    workers, scheduler, processes
        As for ``run_batch``.
    progress
        Called with the rows finished so far in this run.
    stop_after
        As for ``run_batch``.

    Returns
    -------
    tuple
        The new rows, the rows lost with their worker (planned again by a re-run), and whether
        the run stopped early.

    Raises
    ------
    UsageError
        When the scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster, as_completed  # noqa: PLC0415

    cluster = None
    try:
        if scheduler is not None:
            client = Client(scheduler, timeout="20s")  # type: ignore[no-untyped-call]
        else:
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers, threads_per_worker=1, processes=processes,
                dashboard_address=":0", silence_logs=logging.ERROR,
            )  # fmt: skip
            client = Client(cluster)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as err:
        msg = f"cannot reach the Dask scheduler {scheduler!r} ({err}): check --scheduler"
        raise UsageError(msg) from err
    new: list[dict[str, Any]] = []
    lost: list[int] = []
    written = 0
    try:
        futures = [client.submit(run_chunk, chunk, options, pure=False) for chunk in chunks]
        rows_of = {f.key: [r.row for r in chunk] for f, chunk in zip(futures, chunks, strict=True)}
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            try:
                results = future.result()
            except Exception as err:  # noqa: BLE001 - a lost worker loses its chunk, not the batch
                log.warning("a task failed (%s): its rows are left for a re-run", err)
                lost += rows_of[future.key]
                continue
            _write_chunk(results, parts, maps_dir)
            new += [record for record, _ in results]
            written += 1
            if progress is not None:
                progress(len(new))
            if stop_after is not None and written >= stop_after:
                for other in futures:
                    other.cancel()  # type: ignore[no-untyped-call]
                return new, lost, True
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
    return new, lost, False


def _write_chunk(
    results: list[tuple[dict[str, Any], dict[str, str]]], parts: Path, maps_dir: Path | None
) -> None:
    """
    Write a finished chunk: its maps and GPX first, then its part (which marks it done).

    Parameters
    ----------
    results
        The chunk's rows and texts.
    parts
        The parts folder.
    maps_dir
        The maps folder, or None.

    Raises
    ------
    ExportError
        When a file cannot be written.
    """
    try:
        if maps_dir is not None:
            for _record, texts in results:
                for name, text in texts.items():
                    _files.write_atomic(maps_dir / name, text)
        records = [record for record, _ in results]
        first = min(r["row"] for r in records)
        _files.write_atomic(parts / f"part-{first:09d}.parquet", _parquet_bytes(_table(records)))
    except OSError as err:
        msg = f"cannot write the batch's results ({err}): check the disk and re-run to resume"
        raise ExportError(msg) from err


def _write_output(out: Path, records: Iterable[dict[str, Any]]) -> None:
    """
    Write the rows as one GeoParquet file, atomically.

    Parameters
    ----------
    out
        The file.
    records
        The rows, sorted.

    Raises
    ------
    ExportError
        When it cannot be written.
    """
    import geopandas as gpd  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    table = _table(list(records))
    frame = table.drop(["geometry"]).to_pandas()
    geometry = [
        shapely.from_wkb(g) if g is not None else None for g in table.column("geometry").to_pylist()
    ]
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")
    try:
        tmp = _files.stage_file(out, lambda fh: gdf.to_parquet(fh, index=False))
        tmp.replace(out)
    except OSError as err:
        msg = f"cannot write {str(out)!r} ({err.strerror or err}): choose a writable place"
        raise ExportError(msg) from err


# --------------------------------------------------------------------------- the index page

_INDEX_CSS = """
html, body, #walks-index { height: 100%; margin: 0; }
.walks-list { position: absolute; top: 10px; right: 10px; z-index: 1000; max-height: 80vh;
  overflow: auto; background: #fff; padding: 6px 10px; font: 13px sans-serif;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); }
.walks-list a { display: block; }
.walks-list .failed { color: #a00; }
"""

_INDEX_JS = """
(function () {
  var data = JSON.parse(document.getElementById("walks-index-data").textContent);
  var map = L.map("walks-index");
  L.tileLayer(data.tiles, {maxZoom: 19, attribution: data.attribution}).addTo(map);
  var list = document.createElement("div");
  list.className = "walks-list";
  var heading = document.createElement("b");
  heading.textContent = data.title;
  list.appendChild(heading);
  var bounds = [];
  data.walks.forEach(function (w) {
    var item;
    if (w.href) {
      item = document.createElement("a");
      item.href = w.href;
    } else {
      item = document.createElement("span");
      item.className = "failed";
    }
    item.textContent = w.text;
    list.appendChild(item);
    if (w.line.length > 1) {
      var line = L.polyline(w.line, {color: w.color, weight: 4, opacity: 0.8}).addTo(map);
      var link = document.createElement("a");
      link.href = w.href;
      link.textContent = w.text;
      line.bindPopup(link);
      w.line.forEach(function (p) { bounds.push(p); });
    }
  });
  if (bounds.length) { map.fitBounds(bounds); } else { map.setView([0, 0], 2); }
  list.addEventListener("wheel", function (e) { e.stopPropagation(); });
  document.body.appendChild(list);
})();
"""

_PALETTE = ("#d7191c", "#2c7bb6", "#1a9641", "#7b3294", "#e66101", "#008837", "#5e3c99")


def index_html(records: list[dict[str, Any]], *, cdn: bool, cache_dir: Path | None = None) -> str:
    """
    Draw every walk of a batch on one map, each linking to its own page.

    Built from fixed parts, as ``walks.webmap.map_html``: the walks travel as JSON in a
    ``<script type="application/json">`` element and are shown with ``textContent``; a
    Content-Security-Policy allows only the page's own scripts (by hash) and Leaflet.

    Parameters
    ----------
    records
        The batch's rows, sorted.
    cdn
        Link Leaflet from its CDN instead of inlining it.
    cache_dir
        Where Leaflet's files are cached.

    Returns
    -------
    str
        The HTML page.
    """
    import base64  # noqa: PLC0415
    import html  # noqa: PLC0415

    import shapely  # noqa: PLC0415

    from walks.export import ATTRIBUTION, LEAFLET_CSS_URL, LEAFLET_JS_URL, simplify_line  # noqa: PLC0415
    from walks.webmap import TILE_URL, json_for_script  # noqa: PLC0415

    walks = []
    for r in records:
        line: list[list[float]] = []
        if r.get("geometry") is not None:
            coords = [(y, x) for x, y in shapely.from_wkb(r["geometry"]).coords]
            line = [[round(a, 6), round(b, 6)] for a, b in simplify_line(coords, 300)]
        ok = r["status"] == "ok"
        length = f"{r['length_m'] / 1000:.1f} km" if ok and r.get("length_m") is not None else ""
        text = f"{r['row']}: {r['label']}" + (f" ({length})" if length else f" - {r['status']}")
        walks.append({
            "text": visible(text, one_line=True), "line": line, "href": r.get("map"),
            "color": _PALETTE[r["row"] % len(_PALETTE)],
        })  # fmt: skip
    title = f"{len(records)} walks"
    data = {"title": title, "tiles": TILE_URL, "attribution": ATTRIBUTION, "walks": walks}

    def digest(code: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"

    scripts = [_INDEX_JS]
    if cdn:
        leaflet = (
            f'<link rel="stylesheet" href="{LEAFLET_CSS_URL}">'
            f'<script src="{LEAFLET_JS_URL}"></script>'
        )
        origin = " " + LEAFLET_JS_URL.rsplit("/", 1)[0] + "/"  # Leaflet's folder only
    else:
        js, css = leaflet_assets(cache_dir)
        js = js.replace("</script", "<\\/script")
        scripts.append(js)
        leaflet = "<style>" + css.replace("</style", "<\\/style") + f"</style><script>{js}</script>"
        origin = ""
    policy = (
        f"default-src 'none'; script-src {' '.join(digest(s) for s in scripts)}{origin}; "
        f"style-src 'unsafe-inline'{origin}; img-src data: https://tile.openstreetmap.org{origin}; "
        "base-uri 'none'; form-action 'none'"
    )
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>", leaflet, f"<style>{_INDEX_CSS}</style>",
        "</head>", "<body>", '<div id="walks-index"></div>',
        f'<script type="application/json" id="walks-index-data">{json_for_script(data)}</script>',
        f"<script>{_INDEX_JS}</script>", "</body>", "</html>", "",
    ])  # fmt: skip
