"""Reading a batch's requests and keeping its rows on disk.

The AREAS file (CSV or GeoJSON) becomes ``WalkRequest`` rows, the command's defaults filled in.
Finished rows are written a chunk at a time as small Parquet parts in ``<out>.parts/`` (so a
killed batch resumes where it stopped) and combined, sorted by row, into one GeoParquet file
at the end, a bounded number of rows at a time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from walks import _files, _validate, settings
from walks._text import visible
from walks.area import area_from_point, area_kind, resolve_area
from walks.errors import DataError, ExportError, UsageError, WalksError
from walks.hours import parse_local_time
from walks.types import Area

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

log = logging.getLogger(__name__)


#: What a row asks for when neither the row nor the command says (as ``walks generate``).
DEFAULT_MINUTES = 60.0
#: Radius of the area around a GeoJSON Point start or a lat/lon row without ``radius``.
DEFAULT_RADIUS_M = 1000.0
#: Rows in one file are capped, so one AREAS file cannot ask for an unbounded batch.
MAX_ROWS = 1_000_000

#: Columns an AREAS row may have (CSV header or GeoJSON properties); others are refused.
KNOWN_COLUMNS = frozenset({
    "id", "label", "name", "area", "bbox", "lat", "lon", "radius", "minutes", "km", "stops",
    "seed", "start", "end", "osm_file", "at", "order",
})  # fmt: skip
#: Rows of the output combined in memory at once (one row group of the GeoParquet).
ROW_GROUP = 10_000

#: Scalar fields of ``walks.export.walk_summary`` kept as columns of their own.
SUMMARY_COLUMNS = (
    "length_m", "walking_time_s", "total_time_s", "budget_error", "retraced_share",
    "pleasant_share", "dead_end_spurs", "start_offset_m", "end_offset_m", "climb_m", "descent_m",
)  # fmt: skip


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
    timeout_s
        One deadline for the online requests of each chunk, or None.
    at
        Default departure (``walks generate --at``, ``now`` aside), or None.
    order
        Default categories that come first (``walks generate --order``).
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
    at: str | None = None
    order: tuple[str, ...] = ()


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
    at
        The departure (``walks generate --at``: local time of the area, e.g.
        ``"2026-11-25 09:00"``), or None.
    order
        Categories that come first, in order (``walks generate --order``).
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
    at: str | None = None
    order: tuple[str, ...] = ()
    error: str | None = None


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
        area, point_start = _geometry_area(geometry, label, radius_m, own_radius=radius)
        start = _text(props, "start") or point_start or options.start
    elif "bbox" in props or "area" in props:
        text = str(props.get("bbox") or props.get("area"))
        # a box takes no radius: the row's own is refused, the batch's default is not for it
        area = resolve_area(text, radius_m=radius if area_kind(text) == "bbox" else radius_m,
                            nominatim_url=options.nominatim_url,
                            cache_dir=cache_dir_of(options), attempts=options.attempts)  # fmt: skip
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
    at, order = _at_and_order(props, options)
    return WalkRequest(row=row, label=label, area=area, osm_file=file_text, minutes=minutes,
                       km=km, stops=stops, seed=seed_int, start=start, end=end, at=at,
                       order=order)  # fmt: skip


def _at_and_order(
    props: dict[str, Any], options: BatchOptions
) -> tuple[str | None, tuple[str, ...]]:
    """
    Read a row's ``at`` and ``order`` columns, the command's defaults filled in.

    Parameters
    ----------
    props
        The row.
    options
        The command's defaults.

    Returns
    -------
    tuple
        The departure text (or None) and the categories that come first.
    """
    at = _text(props, "at") or options.at
    if at is not None:
        _check_at(at)
    order_text = _text(props, "order")
    order = options.order if order_text is None else _split(order_text)
    for name in order:
        _validate.check_text("order", name, example="order=cafe,view")
    return at, order


def _check_at(text: str) -> None:
    """
    Check a departure as ``walks generate --at`` reads it, ``now`` aside.

    Parameters
    ----------
    text
        The cell.

    Raises
    ------
    UsageError
        For ``now`` (it would differ between workers and between a run and its resumption).
    ValueError
        When it is not a date and time from 1970 to 2100.
    """
    _validate.check_text("at", text, example="at=2026-11-25 09:00")
    if text.strip().lower() == "now":
        msg = (
            "at 'now' would differ between workers and runs: give the local date and time, "
            "e.g. at=2026-11-25 09:00"
        )
        raise UsageError(msg)
    _validate.check_departure(parse_local_time(text))


def _split(text: str) -> tuple[str, ...]:
    """Return the comma-separated names of a cell (blanks dropped)."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


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
    geometry: dict[str, Any], label: str, radius_m: float, *, own_radius: float | None = None
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
    own_radius
        The row's own ``radius``, or None: refused with a Polygon (it has no centre).

    Returns
    -------
    tuple
        The area and the start (``"lat,lon"`` for a Point, else None).

    Raises
    ------
    UsageError
        For another geometry type, an invalid or empty polygon, or a polygon with a radius.
    """
    import shapely  # noqa: PLC0415
    from shapely.geometry import shape  # noqa: PLC0415

    kind = geometry.get("type")
    if own_radius is not None and kind in {"Polygon", "MultiPolygon"}:  # as a box with one
        msg = (
            f"the {kind} of {label!r} takes no radius ({own_radius:g} m given): a radius goes "
            "with a Point; drop the row's radius"
        )
        raise UsageError(msg)
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


def cache_dir_of(options: BatchOptions) -> Path:
    """Return the cache directory of the batch."""
    return Path(options.cache_dir) if options.cache_dir else settings.default_cache_dir()


def json_text(value: object) -> str:
    """Return strict, compact JSON text."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# --------------------------------------------------------------------------- parts on disk


def schema() -> pa.Schema:
    """Return the Arrow schema of a part and of the output (``geometry`` as WKB)."""
    import pyarrow as pa  # noqa: PLC0415

    text, number, whole = pa.string(), pa.float64(), pa.int64()
    return pa.schema([
        ("row", whole), ("label", text), ("status", text), ("error", text),
        ("osm_file", text), ("area", text), ("minutes", number), ("km", number),
        ("stops_asked", text), ("order", text), ("at", text), ("seed", whole), ("start", text),
        ("end", text),
        *[(k, whole if k == "dead_end_spurs" else number) for k in SUMMARY_COLUMNS],
        ("n_stops", whole), ("stop_names", text), ("warnings", text), ("stops", text),
        ("directions", text), ("summary", text), ("attribution", text), ("map", text),
        ("gpx", text), ("geometry", pa.binary()),
    ])  # fmt: skip


def _table(records: list[dict[str, Any]]) -> pa.Table:
    """Turn row dicts into an Arrow table of the part schema, sorted by row (missing: null)."""
    import pyarrow as pa  # noqa: PLC0415

    ordered = sorted(records, key=lambda r: int(r["row"]))
    columns = {name: [r.get(name) for r in ordered] for name in schema().names}
    return pa.Table.from_pydict(columns, schema=schema())


def write_part(parts: Path, records: list[dict[str, Any]]) -> None:
    """
    Write finished rows as one part.

    The part's name is made from its rows, so no part is replaced by one with other rows.

    Parameters
    ----------
    parts
        The parts folder.
    records
        The rows (at least one).

    Raises
    ------
    ExportError
        When the part cannot be written.
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    rows = sorted(int(r["row"]) for r in records)
    digest = hashlib.sha256(",".join(map(str, rows)).encode()).hexdigest()[:12]
    sink = pa.BufferOutputStream()
    pq.write_table(_table(records), sink)
    try:
        _files.write_atomic(parts / f"part-{rows[0]:09d}-{digest}.parquet",
                            sink.getvalue().to_pybytes())  # fmt: skip
    except OSError as err:
        msg = f"cannot write the batch's results ({err}): check the disk and re-run to resume"
        raise ExportError(msg) from err


def _part_files(parts: Path) -> list[Path]:
    """Return the parts of a folder, oldest first (a later part's row replaces an earlier's)."""

    def age(path: Path) -> tuple[int, str]:
        try:
            return path.stat().st_mtime_ns, path.name
        except OSError:
            return 0, path.name

    return sorted(parts.glob("part-*.parquet"), key=age)


def resume(parts: Path, batch: str, maps_dir: Path | None) -> dict[int, str]:
    """
    Take the rows an interrupted run of the same batch finished; start the parts folder.

    Only the ``row``, ``status`` and ``map`` columns are read: the rows stay on disk. A
    damaged part is removed with a warning (its rows are planned again).

    Parameters
    ----------
    parts
        The ``<out>.parts`` folder.
    batch
        The batch's identity (``fingerprint``).
    maps_dir
        The maps folder, or None: a finished row whose map is missing is planned again.

    Returns
    -------
    dict
        ``{row: status}`` of the finished rows.

    Raises
    ------
    UsageError
        When the folder holds the parts of another batch.
    ExportError
        When the folder cannot be made.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    stamp = parts / "batch.json"
    if not stamp.exists():
        try:
            parts.mkdir(parents=True, exist_ok=True)
            _files.write_atomic(stamp, json_text({"fingerprint": batch}))
        except OSError as err:
            msg = f"cannot make the parts folder {str(parts)!r} ({err.strerror or err})"
            raise ExportError(msg) from err
        return {}
    try:
        old = json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        old = None
    if old != batch:
        msg = (
            f"{str(parts)!r} holds the unfinished parts of another batch (other areas or "
            "options): remove that folder, or re-run that batch to finish it"
        )
        raise UsageError(msg)
    done: dict[int, str] = {}
    for part in _part_files(parts):
        try:
            table = pq.read_table(part, columns=["row", "status", "map"])
        except (OSError, ValueError) as err:
            log.warning("removing the damaged part %s (%s): its rows are planned again",
                        part.name, err)  # fmt: skip
            part.unlink(missing_ok=True)
            continue
        for row, status, page in zip(*(table.column(c).to_pylist() for c in table.column_names),
                                     strict=True):  # fmt: skip
            if maps_dir is not None and page is not None and not (maps_dir / page).exists():
                done.pop(row, None)
            else:
                done[row] = status
    return done


def fingerprint(areas: Path, options: BatchOptions) -> str:
    """
    Identify a batch: the AREAS file's bytes and the options.

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
    digest.update(json_text(asdict(options)).encode())
    return digest.hexdigest()


def check_out(out: Path, maps_dir: Path | None, *, overwrite: bool) -> None:
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


# --------------------------------------------------------------------------- the output


def _geo_schema() -> pa.Schema:
    """Return the output's schema with its GeoParquet 1.0 metadata (WKB lines, WGS84)."""
    from pyproj import CRS  # noqa: PLC0415

    geo = {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {
            "geometry": {
                "encoding": "WKB",
                "geometry_types": ["LineString"],
                "crs": CRS.from_epsg(4326).to_json_dict(),
            }
        },
    }
    return schema().with_metadata({b"geo": json_text(geo).encode()})


def combine_parts(parts: Path, out: Path, total: int) -> Path:
    """
    Combine the parts into one GeoParquet file, sorted by row, a bounded number at a time.

    At most ``ROW_GROUP`` rows are in memory at once; the file is staged beside ``out`` (the
    caller moves it into place).

    First only the ``row`` column of every part is read, to know which part holds each row
    (the newest, when a row was planned again); then the rows are gathered and written
    ``ROW_GROUP`` at a time, reading only the parts that hold rows of that group.

    Parameters
    ----------
    parts
        The parts folder.
    out
        The final file.
    total
        Rows in the AREAS file: rows ``0`` to ``total - 1`` must each be in a part.

    Returns
    -------
    Path
        The staged file.

    Raises
    ------
    ExportError
        When a row is missing or the file cannot be written.
    """
    import numpy as np  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    files = _part_files(parts)
    owner = np.full(total, -1, dtype=np.int64)
    rows_of: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    for i, part in enumerate(files):
        rows = pq.read_table(part, columns=["row"]).column("row").to_numpy()
        rows = rows[(rows >= 0) & (rows < total)]
        owner[rows] = i  # a newer part wins
        rows_of.append(rows)
    missing = np.flatnonzero(owner < 0)
    if missing.size:
        msg = (
            f"rows {missing[:10].tolist()} of the batch are missing from {str(parts)!r}: "
            "run the same command again to plan them"
        )
        raise ExportError(msg)
    geo_schema = _geo_schema()

    def write(fh: BinaryIO) -> None:
        with pq.ParquetWriter(fh, geo_schema) as writer:
            for low in range(0, total, ROW_GROUP):
                high = min(total, low + ROW_GROUP)
                pieces = []
                for i in np.unique(owner[low:high]).tolist():
                    table = pq.read_table(files[i])
                    row = table.column("row")
                    keep = pc.and_(pc.and_(pc.greater_equal(row, low), pc.less(row, high)),
                                   pa.array(owner[row.to_numpy()] == i))  # fmt: skip
                    pieces.append(table.filter(keep))
                group = pa.concat_tables(pieces).sort_by("row")
                writer.write_table(group.replace_schema_metadata(geo_schema.metadata))

    try:
        return _files.stage_file(out, write)
    except (OSError, pa.ArrowException) as err:
        msg = f"cannot write {str(out)!r} ({err}): choose a writable place"
        raise ExportError(msg) from err


def read_rows(path: Path, columns: list[str]) -> Iterator[dict[str, Any]]:
    """
    Read some columns of a batch's output, a few thousand rows at a time.

    Parameters
    ----------
    path
        The GeoParquet file.
    columns
        The columns wanted.

    Yields
    ------
    dict
        One row at a time, in the file's order.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    with pq.ParquetFile(path) as file:
        for batch in file.iter_batches(batch_size=4096, columns=columns):
            yield from batch.to_pylist()
