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

from walks import __version__, settings
from walks.area import resolve_area
from walks.cache import clear_cache, iter_cache
from walks.errors import AreaError, WalksError
from walks.loader import LoadedGraph, load_graph

if TYPE_CHECKING:
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
        console.print(f"[dim]walks: {text}…{stamp}[/dim]")

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
    area = None
    if area_text is not None:
        try:
            area = resolve_area(
                area_text,
                radius_m=radius_m,
                nominatim_url=nominatim_url,
                cache_dir=cache,
                attempts=retries,
            )
        except AreaError as err:
            raise typer.BadParameter(str(err), param_hint="AREA") from err
    elif radius_m is not None:
        msg = "--radius needs an AREA ('lat,lon' or a place name) to centre on"
        raise typer.BadParameter(msg, param_hint="--radius")
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
