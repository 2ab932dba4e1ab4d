"""The ``walks`` command line: a thin typer layer over the library."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from walks import __version__, _files, settings
from walks.api import generate_walks, stops_in_area
from walks.area import resolve_area
from walks.cache import clear_cache, iter_cache
from walks.errors import AreaError, CacheError, ServiceError, WalksError
from walks.export import (
    check_writable,
    directions_text,
    gpx_text,
    leaflet_assets,
    stop_record,
    stops_geojson,
    walk_geojson,
    walk_summary,
    write_atomic,
)
from walks.hours import parse_local_time
from walks.loader import LoadedGraph, load_graph

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator

    from rich.console import Console

    from walks.types import Area

app = typer.Typer(
    help="Plan pleasant city walks from OpenStreetMap data.",
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
cache_app = typer.Typer(
    help="List or clear cached graphs and service replies.", rich_markup_mode=None
)
app.add_typer(cache_app, name="cache")

log = logging.getLogger("walks")


class _State:
    """Options of the root callback, shared with the subcommands."""

    verbosity: int = 0


def _console() -> Console:
    """
    Return a console on stderr for progress and logs.

    Returns
    -------
    rich.console.Console
        A stderr console.
    """
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=True, highlight=False)


def _progress() -> Callable[[str], None]:
    """
    Make the progress callback handed to the library: one stderr line per phase, or nothing.

    Returns
    -------
    callable
        Takes a phase description; silent under ``-q``, and timed under ``-v``.
    """
    if _State.verbosity < 0:
        return lambda _text: None
    console = _console()
    started = time.perf_counter()

    def say(text: str) -> None:
        stamp = f" [{time.perf_counter() - started:.2f} s]" if _State.verbosity > 0 else ""
        console.print(f"walks: {text}…{stamp}", style="dim", markup=False)

    return say


@contextlib.contextmanager
def _reporting() -> Iterator[None]:
    """
    Turn library errors into one ``Error: …`` line on stderr and exit code 1.

    Yields
    ------
    None
        Runs the command body.

    Raises
    ------
    typer.Exit
        With code 1 after a ``WalksError``.
    """
    try:
        yield
    except WalksError as err:
        message = " ".join(str(err).split())
        typer.echo(f"Error: {message}", err=True)
        raise typer.Exit(1) from err


def _version(value: bool) -> None:
    """
    Print the version and stop.

    Parameters
    ----------
    value
        True when ``--version`` was given.

    Raises
    ------
    typer.Exit
        After printing.
    """
    if value:
        typer.echo(f"walks {__version__}")
        raise typer.Exit


def _positive_radius(value: float | None) -> float | None:
    """
    Check ``--radius``.

    Parameters
    ----------
    value
        The radius in metres, or None.

    Returns
    -------
    float or None
        The value.

    Raises
    ------
    typer.BadParameter
        When it is zero, negative or not finite (exit code 2).
    """
    if value is not None and not (math.isfinite(value) and value > 0):
        msg = f"radius {value:g} m is not positive: give metres above 0, e.g. --radius 800"
        raise typer.BadParameter(msg)
    return value


# Options shared by several commands, defined once.
AreaArg = Annotated[
    str | None,
    typer.Argument(
        help="Place name ('Montmartre, Paris'), 'lat,lon' (with --radius) or "
        "'west,south,east,north'. Omit for the offline demo area (Helsinki centre), "
        "or with --osm-file to use the whole extract.",
        show_default=False,
    ),
]
OsmFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--osm-file", help="Local .osm, .osm.bz2 or .osm.pbf extract (AREA then clips it).",
        dir_okay=False,
    ),
]  # fmt: skip
RadiusOpt = Annotated[
    float | None,
    typer.Option(
        "--radius", help="Radius in metres around a 'lat,lon' or place AREA.",
        callback=_positive_radius,
    ),
]  # fmt: skip
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir", envvar="WALKS_CACHE_DIR", file_okay=False,
        help="Cache directory (default: the per-user cache, e.g. ~/.cache/walks).",
    ),
]  # fmt: skip
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the graph cache.")
]
OverpassOpt = Annotated[
    str,
    typer.Option("--overpass-url", envvar="WALKS_OVERPASS_URL", help="Overpass API base URL."),
]
NominatimOpt = Annotated[
    str,
    typer.Option("--nominatim-url", envvar="WALKS_NOMINATIM_URL", help="Nominatim base URL."),
]
MaxAreaOpt = Annotated[
    float,
    typer.Option("--max-area-km2", min=0.01, help="Largest area downloaded at once, in km²."),
]
RetriesOpt = Annotated[
    int,
    typer.Option("--retries", min=1, max=20, help="Tries per request to an online service."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CategoryFilesOpt = Annotated[
    list[Path] | None,
    typer.Option("--categories", dir_okay=False, help="Extra category file (TOML); repeatable."),
]
LandmarkOpt = Annotated[
    str | None,
    typer.Option("--landmark", help="Landmark for views: a name, or LAT,LON,HEIGHT_M."),
]
DemOpt = Annotated[
    Path | None, typer.Option("--dem", dir_okay=False, help="DEM GeoTIFF for terrain (any CRS).")
]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", help="Departure, local time of the area: '2026-11-25 09:00'."),
]
RooflineOpt = Annotated[
    float | None,
    typer.Option("--roofline", min=0.0, help="Building height (m) assumed beyond loaded data."),
]


def _parse_at(text: str | None) -> dt.datetime | None:
    """
    Read ``--at``.

    Parameters
    ----------
    text
        The option's value, or None.

    Returns
    -------
    datetime or None
        Naive local time.

    Raises
    ------
    typer.BadParameter
        When it is not a date and time (exit code 2).
    """
    if text is None:
        return None
    try:
        return parse_local_time(text)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--at") from err


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging (repeatable).")
    ] = 0,
    quiet: Annotated[
        int, typer.Option("--quiet", "-q", count=True, help="Less output: no progress.")
    ] = 0,
) -> None:
    """Plan pleasant city walks from OpenStreetMap data (© OpenStreetMap contributors, ODbL)."""
    del version
    _State.verbosity = verbose - quiet
    level = max(logging.DEBUG, logging.WARNING - 10 * _State.verbosity)
    if _State.verbosity < 0:
        level = logging.ERROR
    logger = logging.getLogger("walks")
    logger.setLevel(level)
    if not logger.handlers:
        from rich.logging import RichHandler  # noqa: PLC0415

        logger.addHandler(RichHandler(console=_console(), show_path=False, show_time=False))
    logger.propagate = False


def _resolve(
    area_text: str | None, radius_m: float | None, cache_dir: Path | None, nominatim_url: str,
    retries: int,
) -> Area | None:  # fmt: skip
    """
    Turn the AREA argument and ``--radius`` into an area.

    Parameters
    ----------
    area_text
        The AREA argument, or None.
    radius_m
        ``--radius``.
    cache_dir
        ``--cache-dir``.
    nominatim_url
        ``--nominatim-url``.
    retries
        ``--retries``.

    Returns
    -------
    Area or None
        The area, or None for a whole extract or the demo.

    Raises
    ------
    typer.BadParameter
        When AREA is malformed, or --radius has no AREA (exit code 2).
    """
    if area_text is None:
        if radius_m is not None:
            msg = "--radius needs an AREA ('lat,lon' or a place name) to centre on"
            raise typer.BadParameter(msg, param_hint="--radius")
        return None
    try:
        return resolve_area(
            area_text, radius_m=radius_m, nominatim_url=nominatim_url,
            cache_dir=cache_dir or settings.default_cache_dir(), attempts=retries,
        )  # fmt: skip
    except AreaError as err:
        raise typer.BadParameter(str(err), param_hint="AREA") from err


def _get_graph(
    area_text: str | None,
    *,
    osm_file: Path | None,
    radius_m: float | None,
    cache_dir: Path | None,
    no_cache: bool,
    overpass_url: str,
    nominatim_url: str,
    max_area_km2: float,
    retries: int,
) -> tuple[LoadedGraph, Area | None]:
    """
    Resolve the area arguments and load the graph (shared by the commands).

    Parameters
    ----------
    area_text
        The AREA argument.
    osm_file
        ``--osm-file``.
    radius_m
        ``--radius``.
    cache_dir
        ``--cache-dir``.
    no_cache
        ``--no-cache``.
    overpass_url
        ``--overpass-url``.
    nominatim_url
        ``--nominatim-url``.
    max_area_km2
        ``--max-area-km2``.
    retries
        ``--retries``.

    Returns
    -------
    tuple
        The loaded graph and the area (None for a whole extract or the demo).

    Raises
    ------
    typer.BadParameter
        When AREA is malformed (exit code 2).
    """
    cache = cache_dir or settings.default_cache_dir()
    area = _resolve(area_text, radius_m, cache_dir, nominatim_url, retries)
    loaded = load_graph(
        area, osm_file=osm_file, cache_dir=cache, use_cache=not no_cache,
        overpass_url=overpass_url, max_area_km2=max_area_km2, attempts=retries,
        progress=_progress(),
    )  # fmt: skip
    return loaded, area


@app.command()
def info(
    area: AreaArg = None,
    osm_file: OsmFileOpt = None,
    radius: RadiusOpt = None,
    json_out: JsonFlag = False,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    overpass_url: OverpassOpt = settings.OVERPASS_URL,
    nominatim_url: NominatimOpt = settings.NOMINATIM_URL,
    max_area_km2: MaxAreaOpt = settings.MAX_AREA_KM2,
    retries: RetriesOpt = settings.MAX_ATTEMPTS,
) -> None:
    """Describe the walking graph of an area: nodes, edges, km of walkable ways, bbox, source."""
    with _reporting():
        loaded, _ = _get_graph(
            area, osm_file=osm_file, radius_m=radius, cache_dir=cache_dir, no_cache=no_cache,
            overpass_url=overpass_url, nominatim_url=nominatim_url, max_area_km2=max_area_km2,
            retries=retries,
        )  # fmt: skip
    graph = loaded.graph
    summary: dict[str, Any] = {
        "nodes": graph.n_nodes,
        "edges": graph.n_arcs,
        "segments": graph.n_edges,
        "walkable_km": round(graph.walkable_km, 3),
        "bbox": [round(v, 7) for v in graph.bbox],
        "source": graph.meta.source,
        "area": graph.meta.area or None,
        "data_date": graph.meta.data_date or None,
        "from_cache": loaded.from_cache,
        "cache_path": str(loaded.cache_path) if loaded.cache_path else None,
        "seconds": round(loaded.seconds, 3),
        "attribution": "© OpenStreetMap contributors (ODbL)",
    }
    if json_out:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    west, south, east, north = summary["bbox"]
    lines = [
        ("source", summary["source"]),
        ("area", summary["area"] or "whole extract"),
        ("data date", summary["data_date"] or "unknown"),
        ("nodes", f"{graph.n_nodes:,}"),
        ("edges", f"{graph.n_arcs:,} directed ({graph.n_edges:,} way segments)"),
        ("walkable", f"{graph.walkable_km:,.2f} km"),
        ("bbox", f"{west}, {south}, {east}, {north} (west, south, east, north)"),
        ("loaded", f"{'from cache' if loaded.from_cache else 'built'} in {loaded.seconds:.2f} s"),
        ("data", "© OpenStreetMap contributors (ODbL)"),
    ]
    for key, value in lines:
        typer.echo(f"{key:<10} {value}")


@app.command()
def stops(
    area: AreaArg = None,
    osm_file: OsmFileOpt = None,
    radius: RadiusOpt = None,
    category: Annotated[
        str, typer.Option("--category", "-c", help="Categories, comma-separated.")
    ] = "cafe,studio,view",
    landmark: LandmarkOpt = None,
    dem: DemOpt = None,
    at: AtOpt = None,
    roofline: RooflineOpt = None,
    categories: CategoryFilesOpt = None,
    json_out: JsonFlag = False,
    geojson_out: Annotated[
        bool, typer.Option("--geojson", help="Print a GeoJSON FeatureCollection on stdout.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows per category shown.")] = 10,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    overpass_url: OverpassOpt = settings.OVERPASS_URL,
    nominatim_url: NominatimOpt = settings.NOMINATIM_URL,
    max_area_km2: MaxAreaOpt = settings.MAX_AREA_KM2,
    retries: RetriesOpt = settings.MAX_ATTEMPTS,
) -> None:
    """List the stops of an area, ranked: cafés, alley studios, landmark views, each explained."""
    when = _parse_at(at)
    names = _split(category)
    if not names:
        msg = "give at least one category"
        raise typer.BadParameter(msg, param_hint="--category")
    with _reporting():
        resolved = _resolve(area, radius, cache_dir, nominatim_url, retries)
        found = stops_in_area(
            resolved, names, osm_file=osm_file, category_files=tuple(categories or ()),
            landmark=landmark, dem=dem, at=when, roofline_m=roofline, cache_dir=cache_dir,
            use_cache=not no_cache, overpass_url=overpass_url, max_area_km2=max_area_km2,
            attempts=retries, progress=_progress(),
        )  # fmt: skip
    if json_out:
        typer.echo(json.dumps([stop_record(s) for s in found.stops], ensure_ascii=False))
        return
    if geojson_out:
        typer.echo(json.dumps(stops_geojson(found.stops), ensure_ascii=False))
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Stops (© OpenStreetMap contributors)", show_lines=False)
    for column in ("#", "category", "name", "score", "open", "why"):
        table.add_column(column)
    for name in names:
        rows = [s for s in found.stops if s.category == name][:limit]
        for rank, stop in enumerate(rows, 1):
            table.add_row(str(rank), stop.category, stop.name, f"{stop.score:.2f}", stop.opening,
                          stop.reason)  # fmt: skip
    Console(markup=False, highlight=False, width=160).print(table)


def _parse_stops(text: str) -> list[tuple[str, int]]:
    """
    Read ``--stops`` such as ``cafe,studio=2,view``.

    Parameters
    ----------
    text
        The option's value.

    Returns
    -------
    list of tuple
        ``(category, count)`` pairs.

    Raises
    ------
    typer.BadParameter
        For a count that is not a whole number from 1 to 20 (exit code 2).
    """
    out = []
    for part in _split(text):
        name, _, count = part.partition("=")
        try:
            number = int(count) if count else 1
        except ValueError:
            number = -1
        if not 1 <= number <= 20:  # noqa: PLR2004
            msg = f"{part!r}: a count must be a whole number from 1 to 20, e.g. studio=2"
            raise typer.BadParameter(msg, param_hint="--stops")
        out.append((name.strip(), number))
    return out


@app.command()
def generate(  # noqa: C901, PLR0912, PLR0915 - options in, files out; the logic is in walks.api
    area: AreaArg = None,
    osm_file: OsmFileOpt = None,
    radius: RadiusOpt = None,
    start: Annotated[
        str | None, typer.Option("--start", help="'lat,lon', a stop's name, or an address.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Where to finish (default: back to the start).")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option("--minutes", min=1, help="Time budget, stops included.")
    ] = None,
    km: Annotated[float | None, typer.Option("--km", min=0.1, help="Distance budget.")] = None,
    stop_spec: Annotated[
        str | None,
        typer.Option(
            "--stops",
            help="Categories with counts: 'cafe,studio=2,view' (default: a café, a studio and "
            "a view, where the area has them).",
        ),
    ] = None,
    order: Annotated[
        str | None, typer.Option("--order", help="Categories that come first, in order: 'cafe'.")
    ] = None,
    must_visit: Annotated[
        list[str] | None, typer.Option("--must-visit", help="A stop (name or id); repeatable.")
    ] = None,
    at: AtOpt = None,
    prefer_quiet: Annotated[
        float, typer.Option("--prefer-quiet", min=0.0, max=5.0, help="Weight on quiet streets.")
    ] = 1.0,
    avoid_steps: Annotated[bool, typer.Option("--avoid-steps", help="Avoid steps.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same walk).")] = 0,
    alternatives: Annotated[
        int, typer.Option("--alternatives", min=1, max=5, help="How many different walks.")
    ] = 1,
    landmark: LandmarkOpt = None,
    dem: DemOpt = None,
    roofline: RooflineOpt = None,
    categories: CategoryFilesOpt = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the map here.")] = None,
    gpx_out: Annotated[Path | None, typer.Option("--gpx", help="Write GPX 1.1 here.")] = None,
    geojson_out: Annotated[
        Path | None, typer.Option("--geojson", help="Write GeoJSON here.")
    ] = None,
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write the summary here ('-' for stdout).")
    ] = None,
    directions: Annotated[
        bool, typer.Option("--directions", help="Print turn-by-turn directions.")
    ] = False,
    offline_map: Annotated[
        bool, typer.Option("--offline-map", help="Inline Leaflet in the map (no CDN needed).")
    ] = False,
    open_map: Annotated[bool, typer.Option("--open", help="Open the map in a browser.")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing output files.")
    ] = False,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    overpass_url: OverpassOpt = settings.OVERPASS_URL,
    nominatim_url: NominatimOpt = settings.NOMINATIM_URL,
    max_area_km2: MaxAreaOpt = settings.MAX_AREA_KM2,
    retries: RetriesOpt = settings.MAX_ATTEMPTS,
) -> None:
    """Plan a walk and write it as a map, GPX, GeoJSON or JSON (default: walk.html, walk.gpx)."""
    if minutes is not None and km is not None:
        msg = "give --minutes or --km, not both"
        raise typer.BadParameter(msg, param_hint="--minutes/--km")
    when = _parse_at(at)
    wanted = None if stop_spec is None else _parse_stops(stop_spec)
    if html_out is None and gpx_out is None and geojson_out is None and json_out is None:
        html_out, gpx_out = Path("walk.html"), Path("walk.gpx")
    files = [p for p in (html_out, gpx_out, geojson_out) if p is not None]
    if json_out not in {None, "-"}:
        files.append(Path(str(json_out)))
    say = _progress()
    started = time.perf_counter()
    with _reporting():
        check_writable(files, overwrite=overwrite)
        assets = leaflet_assets(cache_dir) if offline_map and html_out is not None else None
        resolved = _resolve(area, radius, cache_dir, nominatim_url, retries)
        result = generate_walks(
            resolved, wanted, start=start, end=end, minutes=minutes, km=km,
            must_visit=tuple(must_visit or ()), order=tuple(_split(order or "")), at=when,
            quiet=prefer_quiet, avoid_steps=avoid_steps, seed=seed, alternatives=alternatives,
            osm_file=osm_file, category_files=tuple(categories or ()), landmark=landmark,
            dem=dem, roofline_m=roofline, cache_dir=cache_dir, use_cache=not no_cache,
            overpass_url=overpass_url, nominatim_url=nominatim_url, max_area_km2=max_area_km2,
            attempts=retries, progress=say,
        )  # fmt: skip
        say("writing the outputs")
        best = result.walks[0]
        where = area or (osm_file.name if osm_file else "Helsinki centre (demo)")
        title = f"A walk in {where}"
        written: list[Path] = []
        if html_out is not None:
            from walks.webmap import map_html  # noqa: PLC0415

            page = map_html(
                result.walks, title=title, categories=result.area_stops.categories,
                departure=when, climb_m=result.climb_m, offline_assets=assets,
            )  # fmt: skip
            write_atomic(html_out, page)
            written.append(html_out)
        if gpx_out is not None:
            write_atomic(gpx_out, gpx_text(best, title=title, departure=when,
                                           elevations=result.elevations))  # fmt: skip
            written.append(gpx_out)
        if geojson_out is not None:
            write_atomic(geojson_out, json.dumps(walk_geojson(best), ensure_ascii=False))
            written.append(geojson_out)
        summary = walk_summary(best, departure=when)
        if len(result.walks) > 1:
            summary["alternatives"] = [walk_summary(w, departure=when) for w in result.walks[1:]]
        if json_out not in {None, "-"}:
            path = Path(str(json_out))
            write_atomic(path, json.dumps(summary, ensure_ascii=False, indent=1))
            written.append(path)
    log.info("done in %.2f s", time.perf_counter() - started)
    if json_out == "-":
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        for path in written:
            typer.echo(str(path))
    if directions:
        typer.echo(directions_text(best, departure=when), nl=False)
    if open_map and html_out is not None:
        import webbrowser  # noqa: PLC0415

        webbrowser.open(html_out.resolve().as_uri())


assets_app = typer.Typer(help="Leaflet files for self-contained maps.", rich_markup_mode=None)
app.add_typer(assets_app, name="assets")


@assets_app.command("fetch")
def assets_fetch(
    cache_dir: CacheDirOpt = None,
    base_url: Annotated[
        str | None,
        typer.Option("--from", envvar="WALKS_LEAFLET_URL", help="Where Leaflet's dist/ lives."),
    ] = None,
) -> None:
    """Download Leaflet's files once, so --offline-map works without network later."""
    import requests  # noqa: PLC0415

    from walks.export import LEAFLET_JS_URL  # noqa: PLC0415

    folder = (cache_dir or settings.default_cache_dir()) / "assets"
    base = (base_url or LEAFLET_JS_URL.rsplit("/", 1)[0]).rstrip("/")
    names = [
        "leaflet.js",
        "leaflet.css",
        "images/layers.png",
        "images/layers-2x.png",
        "images/marker-icon.png",
        "images/marker-icon-2x.png",
        "images/marker-shadow.png",
    ]
    with _reporting():
        for name in names:
            url = f"{base}/{name}"
            try:
                reply = requests.get(url, timeout=30, headers={"User-Agent": settings.USER_AGENT})
                reply.raise_for_status()
            except requests.RequestException as err:
                msg = f"cannot download {url!r} ({err}): check the network and try again"
                raise ServiceError(msg, url=url) from err
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                _files.write_atomic(target, reply.content)
            except OSError as err:
                msg = f"cannot write {str(target)!r} ({err.strerror or err})"
                raise CacheError(msg) from err
    typer.echo(str(folder))


@cache_app.callback(invoke_without_command=True)
def cache_main(ctx: typer.Context, cache_dir: CacheDirOpt = None) -> None:
    """List cached graphs (the default), or clear them with `walks cache clear`."""
    if ctx.invoked_subcommand is None:
        cache_list(cache_dir=cache_dir)


@cache_app.command("list")
def cache_list(cache_dir: CacheDirOpt = None, json_out: JsonFlag = False) -> None:
    """List cached graphs: source, area, data date, size."""
    folder = cache_dir or settings.default_cache_dir()
    entries = list(iter_cache(folder))
    if json_out:
        rows = [
            {
                "path": str(e.path),
                "size_bytes": e.size_bytes,
                "source": e.meta.source if e.meta else None,
                "area": (e.meta.area or None) if e.meta else None,
                "data_date": (e.meta.data_date or None) if e.meta else None,
            }
            for e in entries
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not entries:
        typer.echo(f"no cached graphs in {folder}")
        return
    for e in entries:
        if e.meta is None:
            typer.echo(f"{e.path.name}  (unreadable; it will be rebuilt)")
            continue
        area = e.meta.area or "whole extract"
        typer.echo(
            f"{e.path.name}  {e.size_bytes / 1e6:.1f} MB  {e.meta.source}  [{area}]  "
            f"data {e.meta.data_date or 'unknown'}"
        )


@cache_app.command("clear")
def cache_clear(
    cache_dir: CacheDirOpt = None,
    graphs_only: Annotated[
        bool, typer.Option("--graphs-only", help="Keep downloaded OSM and geocoder replies.")
    ] = False,
) -> None:
    """Delete cached graphs and, unless --graphs-only, downloaded service replies."""
    folder = cache_dir or settings.default_cache_dir()
    with _reporting():
        removed = clear_cache(folder, http=not graphs_only)
    typer.echo(f"removed {removed} cached file(s) from {folder}")
