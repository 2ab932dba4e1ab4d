"""The ``walks`` command line: a thin typer layer over the library."""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import logging
import math
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperCommand
from typer.exceptions import TyperException

from walks import _blas, _files, _validate, settings  # noqa: F401 - _blas before numpy loads
from walks._http import check_service_url, deadline, http_get
from walks._text import terminal_json, visible
from walks.data import dropped_nodes_note
from walks.errors import (
    AreaError,
    CacheError,
    DataError,
    ExportError,
    ServiceError,
    UsageError,
    WalksError,
)
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

if TYPE_CHECKING:
    import datetime as dt
    import types
    from collections.abc import Callable, Collection, Iterator

    from rich.console import Console

    from walks.api import GeneratedWalks
    from walks.loader import LoadedGraph
    from walks.store import StoreInfo
    from walks.types import Area

app = typer.Typer(
    help="Plan pleasant city walks from OpenStreetMap data.",
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
cache_app = typer.Typer(
    help="List or clear cached graphs, height grids, region stores and service replies.",
    rich_markup_mode=None,
)
app.add_typer(cache_app, name="cache")

log = logging.getLogger("walks")

_N = TypeVar("_N", float, int)
#: The path that means standard output.
STDOUT = Path("-")


def _looks_like_output(text: str | None) -> bool:
    """
    Say whether the word after a bare ``--json`` / ``--geojson`` is its file (else: stdout).

    A file name has an extension or a folder in it (``walk.json``, ``out/walk``), or is ``-``;
    ``walks generate --json Paris`` therefore plans Paris and prints its JSON.

    Parameters
    ----------
    text
        The next argument, or None at the end.

    Returns
    -------
    bool
        True when it is the option's value.
    """
    if text is None:
        return False
    if text == "-":
        return True
    if text.startswith("-"):
        return False
    name = Path(text).name
    return "/" in text or ("." in name.strip(".") and " " not in name and "," not in name)


class _OptionalValueCommand(TyperCommand):
    """A command whose ``--json`` / ``--geojson`` may be given without a value, meaning stdout.

    ``walks info --json`` and ``walks info --json info.json`` both work, as ``--json -`` and
    ``--json PATH`` do in ``walks generate``: one meaning of ``--json`` in every command. (click
    can express such options, typer cannot, so a bare one gets its ``-`` here before parsing.)
    """

    OPTIONAL_VALUE = frozenset({"--json", "--geojson"})

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # noqa: ANN401 - click's Context
        """
        Give a bare ``--json`` / ``--geojson`` the value ``-``, then parse as usual.

        Parameters
        ----------
        ctx
            The click context.
        args
            The command's arguments.

        Returns
        -------
        list of str
            What click's parser leaves over.
        """
        out: list[str] = []
        for index, arg in enumerate(args):
            out.append(arg)
            if arg == "--":  # what follows is positional, as given
                out.extend(args[index + 1 :])
                break
            following = args[index + 1] if index + 1 < len(args) else None
            if arg in self.OPTIONAL_VALUE and not _looks_like_output(following):
                out.append("-")
        result: list[str] = super().parse_args(ctx, out)
        return result


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
        console.print(
            f"walks: {visible(text, one_line=True)}…{stamp}", style="dim", markup=False,
            soft_wrap=True,  # one line per phase, whatever the width (rich folds at 80 columns)
        )  # fmt: skip

    return say


@contextlib.contextmanager
def _reporting(timeout_s: float | None = None) -> Iterator[None]:
    """
    Turn every error into one ``Error: …`` line on stderr and an exit code, never a traceback.

    Parameters
    ----------
    timeout_s
        One deadline, in seconds, for every request to an online service made in the body
        (``--timeout``); None sets none.

    Yields
    ------
    None
        Runs the command body.

    Raises
    ------
    typer.Exit
        With code 2 after a ``UsageError`` (a bad argument), 1 after any other error.
    """
    try:
        with deadline(timeout_s) if timeout_s is not None else contextlib.nullcontext():
            yield
    except UsageError as err:
        _error(str(err))
        raise typer.Exit(2) from err
    except WalksError as err:
        _error(str(err))
        raise typer.Exit(1) from err
    except _Terminated as err:  # SIGTERM, SIGHUP: as Ctrl-C, with the signal's exit code
        _error(f"stopped by {signal.Signals(err.signum).name}: nothing was written")
        raise typer.Exit(128 + err.signum) from err
    except KeyboardInterrupt as err:
        _error("interrupted: nothing was written")
        raise typer.Exit(130) from err
    except (typer.Exit, TyperException):
        raise  # bad arguments (exit 2) and deliberate exits are typer's to report
    except OSError as err:
        if not _output_failed(err):
            _unexpected(err)
        raise typer.Exit(1) from err
    except Exception as err:  # a bug of ours: still one line, the traceback under -v
        _unexpected(err)
        raise typer.Exit(1) from err


def _unexpected(err: Exception) -> None:
    """
    Report an error walks did not expect: one line, the traceback under ``-v``.

    Parameters
    ----------
    err
        The error.
    """
    log.debug("unexpected error", exc_info=err)
    _error(f"unexpected {type(err).__name__}: {err} (a bug in walks: please report it; "
           "-v shows the details)")  # fmt: skip


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread: the run ends as after Ctrl-C, cleaned up.

    Parameters
    ----------
    signum
        The signal.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, _frame: object) -> None:
    """
    End the run on SIGTERM or SIGHUP as Ctrl-C ends it: cleanups run, one line is said.

    Parameters
    ----------
    signum
        The signal.

    Raises
    ------
    _Terminated
        Always; a second such signal ends the process at once (its default action).
    """
    signal.signal(signum, signal.SIG_DFL)
    raise _Terminated(signum)


def _catch_signals() -> dict[int, Any]:
    """
    Make SIGTERM and SIGHUP (where it exists) end the run as Ctrl-C does (``_terminate``).

    Returns
    -------
    dict
        The handlers replaced, by signal, to put back; none outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    names = ("SIGTERM", "SIGHUP")
    return {
        sig: signal.signal(sig, _terminate)
        for sig in (getattr(signal, n) for n in names if hasattr(signal, n))
    }


def _error(message: str) -> None:
    """
    Print one ``Error: …`` line on stderr, whitespace folded and control characters shown.

    Parameters
    ----------
    message
        The message.
    """
    typer.echo(f"Error: {visible(' '.join(message.split()), one_line=True)}", err=True)


#: Errors of a write to the terminal, a pipe or a redirected stream (no file name).
_STREAM_ERRNOS = frozenset({errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG})


def _output_failed(err: OSError) -> bool:
    """
    Report a standard output or error that cannot be written, once (the run then exits with 1).

    A reader that went away (``walks stops --json | head``, a closed pipe) ends the run
    quietly with 1, as click ends it when help or usage text meets a closed pipe; a full disk
    or another failing device gets one ``Error: …`` line and 1 (such an error names no file:
    it may be the standard output's, or a write to a file already open). Either way the rest
    of the standard output goes to ``os.devnull``, so that Python's exit does not report the
    same failure again.

    Parameters
    ----------
    err
        The error.

    Returns
    -------
    bool
        False for another error (one naming a file, or of another kind): not reported.
    """
    if err.filename is not None or err.errno not in _STREAM_ERRNOS:
        return False
    with contextlib.suppress(OSError, ValueError, AttributeError):
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, sys.stdout.fileno())
        os.close(quiet)
    if err.errno == errno.EPIPE:
        return True
    with contextlib.suppress(OSError, ValueError):  # (the error may be stderr's own)
        _error(
            f"cannot write the output ({err.strerror}): make room where it goes (the files "
            "asked for, the cache folder, or where the standard output is sent) or send it "
            "elsewhere"
        )
    return True


def _visible_record(record: logging.LogRecord) -> bool:
    """
    Show control characters of a log message as escapes (a logging filter).

    Parameters
    ----------
    record
        The record; its message is formatted and made safe in place.

    Returns
    -------
    bool
        True: every record is kept.
    """
    record.msg = visible(record.getMessage(), one_line=True)
    record.args = None
    return True


def _in_range(
    low: float, high: float, *, example: str, unit: str = ""
) -> Callable[[_N | None], _N | None]:
    """
    Make an option callback that accepts finite numbers from ``low`` to ``high`` only.

    click's ranges let ``nan`` through (every comparison with it is false) and have no
    upper bound by default; this one refuses both with the valid range in the message.

    Parameters
    ----------
    low, high
        The inclusive range.
    example
        A valid use, for the message.
    unit
        The unit, for the message.

    Returns
    -------
    callable
        The callback (None passes through).
    """

    def check(value: _N | None) -> _N | None:
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            msg = f"{value!r} is out of range: give {low:.10g} to {high:.10g}{unit}, e.g. {example}"
            raise typer.BadParameter(msg)
        return value

    return check


def _service_url(value: str, service: str, option: str) -> str:
    """
    Check a service URL when the arguments are read, before any work.

    Parameters
    ----------
    value
        The URL.
    service
        The service, for the message.
    option
        The option, for the message.

    Returns
    -------
    str
        The URL.

    Raises
    ------
    typer.BadParameter
        For anything but an http(s) URL with a host (exit code 2).
    """
    try:
        return check_service_url(value, service=service, option=option)
    except UsageError as err:
        raise typer.BadParameter(str(err)) from err


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
        from walks import __version__  # noqa: PLC0415 - read from the metadata only here

        typer.echo(f"walks {__version__}")
        raise typer.Exit


def _absolute_dir(value: Path | None) -> Path | None:
    """
    Make ``--cache-dir`` (or ``WALKS_CACHE_DIR``) absolute, ``~`` expanded.

    A relative folder would name other files once the working folder changes, and SQLite opens
    a read-only store by its ``file:`` URI, which a relative path cannot be.

    Parameters
    ----------
    value
        The folder given, or None.

    Returns
    -------
    Path or None
        The absolute folder, or None.
    """
    return None if value is None else value.expanduser().absolute()


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
        When it is zero, negative, too large or not finite (exit code 2).
    """
    if value is not None and not (math.isfinite(value) and 1 <= value <= MAX_RADIUS_M):
        msg = (
            f"radius {value:g} m is out of range: give metres from 1 to {MAX_RADIUS_M:g}, "
            "e.g. --radius 800"
        )
        raise typer.BadParameter(msg)
    return value


#: Largest --radius, in metres (larger areas are whole extracts or place names).
MAX_RADIUS_M = 50_000.0

# Options shared by several commands, defined once.
AreaArg = Annotated[
    str | None,
    typer.Argument(
        metavar="AREA",
        help="Place name ('Montmartre, Paris'), 'lat,lon' (with --radius) or "
        "'west,south,east,north'. Omit for the offline demo area (Helsinki centre), "
        "or with --osm-file to use the whole extract.",
        show_default=False,
    ),
]
OsmFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--osm-file", metavar="FILE",
        help="Local .osm, .osm.gz, .osm.bz2 or .osm.pbf extract (AREA clips it).",
        dir_okay=False,
    ),
]  # fmt: skip
RadiusOpt = Annotated[
    float | None,
    typer.Option(
        "--radius", metavar="METRES", help="Radius in metres around a 'lat,lon' or place AREA.",
        callback=_positive_radius,
    ),
]  # fmt: skip
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir", metavar="DIR", envvar="WALKS_CACHE_DIR", file_okay=False,
        help="Cache directory (default: the per-user cache, e.g. ~/.cache/walks).",
        callback=_absolute_dir,
    ),
]  # fmt: skip
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Neither read nor write the graph cache, the region store or height grids: "
        "an extract is read directly.",
    ),
]
OverpassOpt = Annotated[
    str,
    typer.Option(
        "--overpass-url",
        metavar="URL",
        envvar="WALKS_OVERPASS_URL",
        help="Overpass API base URL.",
        callback=lambda value: _service_url(value, "Overpass", "--overpass-url"),
    ),
]
NominatimOpt = Annotated[
    str,
    typer.Option(
        "--nominatim-url",
        metavar="URL",
        envvar="WALKS_NOMINATIM_URL",
        help="Nominatim base URL.",
        callback=lambda value: _service_url(value, "Nominatim", "--nominatim-url"),
    ),
]
MaxAreaOpt = Annotated[
    float,
    typer.Option(
        "--max-area-km2",
        metavar="KM2",
        help="Largest area downloaded at once, in km² (0.01 to 10000).",
        callback=_in_range(0.01, 10_000, example="--max-area-km2 30", unit=" km²"),
    ),
]
MinutesOpt = Annotated[
    float | None,
    typer.Option(
        "--minutes", metavar="MINUTES",
        help="Time budget, stops' dwell included, walking at 4.5 km/h (1 to 1440; default 60; "
        "in a batch, for rows that give none).",
        callback=_in_range(_validate.MIN_MINUTES, _validate.MAX_MINUTES, example="--minutes 90",
                           unit=" minutes"),
    ),
]  # fmt: skip
KmOpt = Annotated[
    float | None,
    typer.Option(
        "--km", metavar="KM", help="Distance budget instead of time (0.1 to 100).",
        callback=_in_range(_validate.MIN_KM, _validate.MAX_KM, example="--km 5", unit=" km"),
    ),
]  # fmt: skip
StopsOpt = Annotated[
    str | None,
    typer.Option(
        "--stops", metavar="SPEC",
        help="Categories with counts: 'cafe,studio=2,view' (default: a café, a studio and a "
        "view, where the area has them and the time allows; '' for none).",
    ),
]  # fmt: skip
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed", metavar="SEED", help="Random seed, 0 to 4294967295 (same seed, same walk).",
        callback=_in_range(0, _validate.MAX_SEED, example="--seed 7"),
    ),
]  # fmt: skip
CdnMapOpt = Annotated[
    bool,
    typer.Option("--cdn-map", help="Link Leaflet from its CDN: a smaller map that needs network."),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", envvar="WALKS_TIMEOUT",
        help="One deadline for all requests to online services in this run (1 to 86400).",
        callback=_in_range(1, 86_400, example="--timeout 120", unit=" seconds"),
    ),
]  # fmt: skip
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries", metavar="N", min=1, max=20, help="Tries per request to an online service."
    ),
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More logging (repeatable).")
]
QuietOpt = Annotated[int, typer.Option("--quiet", "-q", count=True, help="No progress lines.")]
JsonOpt = Annotated[
    str | None,
    typer.Option(
        "--json", metavar="[PATH]",
        help="Write JSON to PATH, or to standard output when no PATH (or '-') is given.",
    ),
]  # fmt: skip
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")]
CategoryFilesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--category-file",
        "--categories",
        dir_okay=False,
        metavar="FILE",
        help="Extra category file (TOML), adding to or replacing the shipped categories; "
        "repeatable.",
    ),
]
LandmarkOpt = Annotated[
    str | None,
    typer.Option(
        "--landmark",
        metavar="LANDMARK",
        help="Landmark for views: a name, or LAT,LON,HEIGHT_M (default: the area's own, e.g. "
        "the Eiffel Tower in Paris).",
    ),
]
NoTerrainOpt = Annotated[
    bool,
    typer.Option(
        "--no-terrain",
        help="Keep the ground flat: fetch no elevation tiles (default: Terrain Tiles from AWS "
        "Open Data, cached; offline the cached ones).",
    ),
]
DemOpt = Annotated[
    Path | None,
    typer.Option(
        "--dem", metavar="FILE", dir_okay=False, help="DEM GeoTIFF for terrain (any CRS)."
    ),
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="TIME",
        help="Departure, local time of the area: '2026-11-25 09:00' or 'now'; stops must be "
        "open on arrival (default: none; hours are shown but not enforced).",
    ),
]
RooflineOpt = Annotated[
    float | None,
    typer.Option(
        "--roofline",
        metavar="METRES",
        help="Building height (m) assumed beyond loaded data (0 to 1000).",
        callback=_in_range(0, 1000, example="--roofline 20", unit=" m"),
    ),
]


def _parse_at(text: str | None) -> dt.datetime | str | None:
    """
    Read ``--at``.

    Parameters
    ----------
    text
        The option's value, or None.

    Returns
    -------
    datetime, str or None
        Naive local time, or ``"now"`` (resolved by the library in the area's time zone).

    Raises
    ------
    typer.BadParameter
        When it is not ``now`` nor a date and time from 1970 to 2100 (exit code 2).
    """
    if text is None:
        return None
    if text.strip().lower() == "now":
        return "now"  # resolved in the area's time zone once the area is known
    try:
        return _validate.check_departure(parse_local_time(text))
    except ValueError as err:  # UsageError is one too
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
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            file_okay=False,
            metavar="DIR",
            help="Cache directory for every command (as WALKS_CACHE_DIR; a command's own "
            "--cache-dir wins).",
            callback=_absolute_dir,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Deadline for online services, for every command (as WALKS_TIMEOUT).",
            callback=_in_range(1, 86_400, example="--timeout 120", unit=" seconds"),
        ),
    ] = None,
) -> None:
    """Plan pleasant city walks from OpenStreetMap data (© OpenStreetMap contributors, ODbL)."""
    del version
    _State.verbosity = 0
    _verbosity(verbose, quiet)
    # read by the subcommands' own options, whose defaults come from these variables
    if cache_dir is not None:
        os.environ["WALKS_CACHE_DIR"] = str(cache_dir)
    if timeout is not None:
        os.environ["WALKS_TIMEOUT"] = repr(timeout)


def _one_budget(minutes: float | None, km: float | None) -> None:
    """
    Refuse a time budget and a distance budget given together.

    Parameters
    ----------
    minutes, km
        The ``--minutes`` and ``--km`` values (None when not given).

    Raises
    ------
    typer.BadParameter
        When both are given (exit 2).
    """
    if minutes is not None and km is not None:
        msg = "give --minutes or --km, not both"
        raise typer.BadParameter(msg, param_hint="--minutes/--km")


def _verbosity(verbose: int, quiet: int) -> None:
    """
    Add a command's ``-v`` / ``-q`` to the root's and set the logging level to match.

    ``walks -q generate`` and ``walks generate -q`` mean the same, as in rio.

    Parameters
    ----------
    verbose
        How many ``-v`` were given here.
    quiet
        How many ``-q`` were given here.
    """
    _State.verbosity += verbose - quiet
    level = max(logging.DEBUG, logging.WARNING - 10 * _State.verbosity)
    if _State.verbosity < 0:
        level = logging.ERROR
    logger = logging.getLogger("walks")
    logger.setLevel(level)
    if not logger.handlers:
        handler = _RichOnFirstUse()
        handler.addFilter(_visible_record)
        logger.addHandler(handler)
    logger.propagate = False


class _RichOnFirstUse(logging.Handler):
    """Show log records with rich's handler, made (and rich.logging imported) at the first one.

    Most runs log nothing at the level shown, and importing rich's logging costs a run
    ~15 ms. When stderr is not a terminal (a log file, a pipe), records are plain lines
    instead: rich would wrap them at 80 columns and pad them with spaces. A warning (the
    library's: a cache not written, a store imported again) is one ``Warning: …`` line, as
    the commands say their own.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rich: logging.Handler | None = None
        self._plain = logging.Formatter("%(levelname)-8s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        """
        Hand a record to rich's handler.

        Parameters
        ----------
        record
            The record (already made safe by ``_visible_record``).
        """
        if logging.WARNING <= record.levelno < logging.ERROR:
            typer.echo(f"Warning: {record.getMessage()}", err=True)
            return
        if self._rich is None and not sys.stderr.isatty():
            # the stream of the moment (a test's, a redirected one), not one kept from before
            sys.stderr.write(self._plain.format(record) + "\n")
            return
        if self._rich is None:
            from rich.logging import RichHandler  # noqa: PLC0415

            self._rich = RichHandler(console=_console(), show_path=False, show_time=False,
                                     markup=False)  # fmt: skip
        self._rich.handle(record)


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
        When AREA is malformed or an extract's file name (never sent to the geocoder), or
        --radius has no AREA or a box as AREA (exit code 2).
    """
    from walks.area import area_kind, resolve_area  # noqa: PLC0415 - numpy: not for every command

    if area_text is not None and _is_extract_path(area_text):
        msg = (
            f"{area_text!r} is an extract file, not a place: give it as --osm-file FILE "
            "(an AREA then clips it)"
        )
        raise typer.BadParameter(msg, param_hint="AREA")
    if area_text is None:
        if radius_m is not None:
            msg = "--radius needs an AREA ('lat,lon' or a place name) to centre on"
            raise typer.BadParameter(msg, param_hint="--radius")
        return None
    if radius_m is not None and area_kind(area_text) == "bbox":
        msg = (
            f"--radius needs a 'lat,lon' or place AREA to centre on; {area_text.strip()!r} is a "
            f"box (west,south,east,north) already: drop --radius {radius_m:g}, or give "
            f"'LAT,LON' --radius {radius_m:g}"
        )
        raise typer.BadParameter(msg, param_hint="--radius")
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
    from walks.loader import load_graph  # noqa: PLC0415 - scipy: not for every command

    cache = cache_dir or settings.default_cache_dir()
    area = _resolve(area_text, radius_m, cache_dir, nominatim_url, retries)
    loaded = load_graph(
        area, osm_file=osm_file, cache_dir=cache, use_cache=not no_cache,
        overpass_url=overpass_url, max_area_km2=max_area_km2, attempts=retries,
        progress=_progress(),
    )  # fmt: skip
    return loaded, area


def _unused_options(
    area_text: str | None,
    osm_file: Path | None,
    *,
    store_form: bool = False,
    no_tiles: str | None = "",
    names: tuple[str | None, ...] = (),
) -> dict[str, str]:
    """
    Name the service options a command has no use for in this run, and what to do instead.

    Each is refused only when the run surely asks nothing of its service: Overpass (and the
    download size limit) when the data comes from ``--osm-file`` or the demo, Nominatim when no
    AREA, ``--start`` or ``--end`` names a place, and ``--retries`` / ``--timeout`` when no
    service is asked at all (no download, no place looked up, no elevation tiles).

    Parameters
    ----------
    area_text
        The AREA argument.
    osm_file
        ``--osm-file``.
    store_form
        AREA is an extract: ``walks info FILE`` describes its region store.
    no_tiles
        Why the run fetches no elevation tiles (``""`` for a command that never does), or None
        when it may.
    names
        ``--start`` and ``--end`` of ``walks generate`` (None when not given): a text that is
        not coordinates may be looked up with Nominatim when the data has no such place.

    Returns
    -------
    dict
        Parameter name to the rest of the message (after the option): why it does nothing
        here and the fix.
    """
    if store_form:
        file = shlex.quote(area_text or "FILE")
        why = "does nothing for walks info FILE, which describes the file's region store"
        services = ("overpass_url", "nominatim_url", "max_area_km2", "retries", "timeout")
        unused = dict.fromkeys(services, f"{why} (no service is asked): drop it")
        unused["no_cache"] = (
            f"{why}: drop it, or for the file's walking graph read without the cache give "
            f"walks info --osm-file {file} --no-cache"
        )
        return unused
    from walks.area import area_kind  # noqa: PLC0415 - numpy: not for every command

    kind = None if area_text is None else area_kind(area_text)
    where = "the data comes from --osm-file" if osm_file is not None else "the data is the demo"
    local = osm_file is not None or area_text is None
    # malformed coordinates were refused before (_check_place_text): a text here is a name
    lookups = [t for t in names if t is not None and _validate.parse_lat_lon(t) is None]
    unused = {}
    if local:  # nothing is downloaded
        unused["overpass_url"] = f"does nothing here: {where}, not Overpass: drop it"
        unused["max_area_km2"] = f"limits downloads only, and {where}: drop it"
    if kind != "place" and not lookups:  # nothing is geocoded
        what = (
            "the AREA is coordinates, not a place name to look up"
            if kind is not None
            else f"no AREA to look up ({where})"
        )
        also = " (and no --start or --end name)" if names else ""
        unused["nominatim_url"] = f"does nothing here: {what}{also}: drop it"
    if local and kind != "place" and not lookups and no_tiles is not None:  # no service at all
        why = f"{where}; {no_tiles}" if no_tiles else where
        for name in ("retries", "timeout"):
            unused[name] = f"applies to online services, and this run asks none ({why}): drop it"
    return unused


def _no_tiles(
    *, no_terrain: bool, dem: Path | None, names: list[str] | None = None,
    category_files: list[Path] | None = None,
) -> str | None:  # fmt: skip
    """
    Say why a run of ``walks stops`` or ``walks generate`` fetches no elevation tiles.

    Parameters
    ----------
    no_terrain
        ``--no-terrain``.
    dem
        ``--dem``.
    names
        The categories of ``walks stops`` (which fetches tiles for view stops only); None for
        ``walks generate``, which fetches them for the walk's climb.
    category_files
        ``--category-file``, where a category may be a view.

    Returns
    -------
    str or None
        The reason, or None when tiles may be fetched (so ``--retries`` and ``--timeout`` have
        a use; WALKS_TERRAIN_URL may still turn the downloads off, but it is a default).

    Raises
    ------
    walks.categories.CategoryError
        For an unknown category or a malformed category file.
    """
    if no_terrain:
        return "no elevation tiles with --no-terrain"
    if dem is not None:
        return "the ground comes from --dem, not elevation tiles"
    if names is None:
        return None
    from walks.categories import load_categories, select_categories  # noqa: PLC0415

    chosen = select_categories(load_categories(*(category_files or ())), names)
    if any(c.kind == "view" for c in chosen):
        return None
    return "no view stop asked for, so no elevation tiles"


def _refuse_unused(ctx: typer.Context, unused: dict[str, str]) -> None:
    """
    Refuse an option given on the command line that the command would ignore.

    Values from the environment (``WALKS_TIMEOUT``, ``WALKS_OVERPASS_URL``, ...) are defaults
    for every command, so they are not refused.

    Parameters
    ----------
    ctx
        The command's context.
    unused
        ``_unused_options``.

    Raises
    ------
    typer.BadParameter
        For the first such option given (exit code 2), naming it and the fix.
    """
    for param in ctx.command.params:
        if param.name not in unused:
            continue
        source = ctx.get_parameter_source(param.name)
        if source is not None and source.name == "COMMANDLINE":
            flag = max(param.opts, key=len)
            msg = f"{flag} {unused[param.name]}"
            raise typer.BadParameter(msg, param_hint=flag)


@app.command(cls=_OptionalValueCommand)
def info(
    ctx: typer.Context,
    area: AreaArg = None,
    osm_file: OsmFileOpt = None,
    radius: RadiusOpt = None,
    json_out: JsonOpt = None,
    overwrite: OverwriteOpt = False,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    overpass_url: OverpassOpt = settings.OVERPASS_URL,
    nominatim_url: NominatimOpt = settings.NOMINATIM_URL,
    max_area_km2: MaxAreaOpt = settings.MAX_AREA_KM2,
    retries: RetriesOpt = settings.MAX_ATTEMPTS,
    timeout: TimeoutOpt = settings.RUN_TIMEOUT_S,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Describe the walking graph of an area: nodes, edges, km of walkable ways, bbox, source.

    Given an extract as AREA (walks info region.osm.pbf), describe its region store instead.
    """
    _verbosity(verbose, quiet)
    if osm_file is None and area is not None and _is_extract_path(area):
        if radius is not None:  # a file has no point to centre on: not the store, an area
            msg = (
                f"--radius needs a 'lat,lon' or place AREA to centre on; walks info FILE "
                f"describes the whole store: for an area of the file give walks info 'LAT,LON' "
                f"--osm-file {shlex.quote(area)} --radius {radius:g}"
            )
            raise typer.BadParameter(msg, param_hint="--radius")
        folder = cache_dir or settings.default_cache_dir()
        with _reporting():
            _check_json_target(json_out, overwrite=overwrite)
            path = _store_target(Path(area), folder)  # a missing file is said first
            _refuse_unused(ctx, _unused_options(area, None, store_form=True))
            _describe_store(path, folder, json_out)
        return
    _refuse_unused(ctx, _unused_options(area, osm_file))
    with _reporting(timeout):
        _check_json_target(json_out, overwrite=overwrite)
        loaded, _ = _get_graph(
            area, osm_file=osm_file, radius_m=radius, cache_dir=cache_dir, no_cache=no_cache,
            overpass_url=overpass_url, nominatim_url=nominatim_url, max_area_km2=max_area_km2,
            retries=retries,
        )  # fmt: skip
    graph = loaded.graph
    note = dropped_nodes_note(graph.meta.source, loaded.dropped_nodes)
    warnings = [] if note is None else [note.message]
    for warning in warnings:
        typer.echo(visible(f"Warning: {warning}", one_line=True), err=True)
    summary: dict[str, Any] = {
        "nodes": graph.n_nodes,
        "edges": graph.n_arcs,
        "segments": graph.n_edges,
        "walkable_km": round(graph.walkable_km, 3),
        "pedestrian_areas": graph.pedestrian_areas,
        "bbox": [round(v, 7) for v in graph.bbox],
        "source": graph.meta.source,
        "area": graph.meta.area or None,
        "data_date": graph.meta.data_date or None,
        "from_cache": loaded.from_cache,
        "cache_path": str(loaded.cache_path) if loaded.cache_path else None,
        "seconds": round(loaded.seconds, 3),
        "warnings": warnings,
        "attribution": "© OpenStreetMap contributors (ODbL)",
    }
    if json_out is not None:
        _emit_json(summary, json_out)
        return
    west, south, east, north = summary["bbox"]
    lines = [
        ("source", summary["source"]),
        ("area", summary["area"] or "whole extract"),
        ("data date", summary["data_date"] or "unknown"),
        ("nodes", f"{graph.n_nodes:,}"),
        ("edges", f"{graph.n_arcs:,} directed ({graph.n_edges:,} way segments)"),
        ("walkable", f"{graph.walkable_km:,.2f} km"),
        ("squares", f"{graph.pedestrian_areas} pedestrian area(s) crossed on straight links"),
        ("bbox", f"{west}, {south}, {east}, {north} (west, south, east, north)"),
        ("loaded", f"{'from cache' if loaded.from_cache else 'built'} in {loaded.seconds:.2f} s"),
    ]
    if osm_file is not None:
        lines.append(("store", _store_line(osm_file, cache_dir or settings.default_cache_dir())))
    lines.append(("data", "© OpenStreetMap contributors (ODbL)"))
    for key, value in lines:
        typer.echo(f"{key:<10} {visible(str(value), one_line=True)}")


@app.command(cls=_OptionalValueCommand)
def stops(
    ctx: typer.Context,
    area: AreaArg = None,
    osm_file: OsmFileOpt = None,
    radius: RadiusOpt = None,
    category: Annotated[
        str,
        typer.Option(
            "--stops",
            "--category",
            "-c",
            metavar="CATEGORIES",
            help="Categories, comma-separated (counts such as studio=2 are accepted and "
            "ignored here).",
        ),
    ] = "cafe,studio,view",
    landmark: LandmarkOpt = None,
    dem: DemOpt = None,
    no_terrain: NoTerrainOpt = False,
    at: AtOpt = None,
    roofline: RooflineOpt = None,
    categories: CategoryFilesOpt = None,
    json_out: JsonOpt = None,
    geojson_out: Annotated[
        str | None,
        typer.Option(
            "--geojson",
            metavar="[PATH]",
            help="Write a GeoJSON FeatureCollection to PATH, or to standard output.",
        ),
    ] = None,
    overwrite: OverwriteOpt = False,
    limit: Annotated[
        int,
        typer.Option("--limit", min=1, max=10_000, metavar="N", help="Rows per category shown."),
    ] = 10,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    overpass_url: OverpassOpt = settings.OVERPASS_URL,
    nominatim_url: NominatimOpt = settings.NOMINATIM_URL,
    max_area_km2: MaxAreaOpt = settings.MAX_AREA_KM2,
    retries: RetriesOpt = settings.MAX_ATTEMPTS,
    timeout: TimeoutOpt = settings.RUN_TIMEOUT_S,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """List the stops of an area, ranked: cafés, alley studios, landmark views, each explained."""
    _verbosity(verbose, quiet)
    when = _parse_at(at)
    names = [name.partition("=")[0].strip() for name in _split(category)]
    names = [n for n in names if n]
    if not names:
        msg = "give at least one category"
        raise typer.BadParameter(msg, param_hint="--stops")
    if json_out is not None and geojson_out is not None:
        msg = "give --json or --geojson, not both"
        raise typer.BadParameter(msg, param_hint="--json/--geojson")
    with _reporting(timeout):
        tiles = _no_tiles(no_terrain=no_terrain, dem=dem, names=names, category_files=categories)
        _refuse_unused(ctx, _unused_options(area, osm_file, no_tiles=tiles))
        _check_json_target(json_out or geojson_out, overwrite=overwrite)
        resolved = _resolve(area, radius, cache_dir, nominatim_url, retries)
        from walks.api import stops_in_area  # noqa: PLC0415 - the planner: not for every command

        found = stops_in_area(
            resolved, names, osm_file=osm_file, category_files=tuple(categories or ()),
            landmark=landmark, dem=dem, no_terrain=no_terrain, at=when, roofline_m=roofline,
            cache_dir=cache_dir,
            use_cache=not no_cache, overpass_url=overpass_url, max_area_km2=max_area_km2,
            attempts=retries, progress=_progress(),
        )  # fmt: skip
        for note in found.notes:
            typer.echo(visible(f"Warning: {note.message}", one_line=True), err=True)
        if found.terrain_warning is not None:
            typer.echo(visible(f"Warning: {found.terrain_warning}", one_line=True), err=True)
        if json_out is not None:
            _emit_json([stop_record(s) for s in found.stops], json_out)
            return
        if geojson_out is not None:
            _emit_json(stops_geojson(found.stops), geojson_out)
            return
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Stops (© OpenStreetMap contributors)", show_lines=False)
    for column in ("#", "category", "name", "score", "open", "why"):
        table.add_column(column)
    for name in names:
        rows = [s for s in found.stops if s.category == name][:limit]
        for rank, stop in enumerate(rows, 1):
            cells = (str(rank), stop.category, stop.name, f"{stop.score:.2f}", stop.opening,
                     stop.reason)  # fmt: skip
            table.add_row(*(visible(c, one_line=True) for c in cells))
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
    try:
        return _validate.parse_stop_spec(text)
    except UsageError as err:
        raise typer.BadParameter(str(err), param_hint="--stops") from err


@app.command(cls=_OptionalValueCommand)
def generate(  # noqa: C901 - options in, files out; the logic is in walks.api
    ctx: typer.Context,
    area: AreaArg = None,
    osm_file: OsmFileOpt = None,
    radius: RadiusOpt = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            metavar="PLACE",
            help="'lat,lon', or a stop, place or street of the area, or an address "
            "(default: a junction in the densest part of the street network).",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            metavar="PLACE",
            help="Where to finish, as --start (default: back to the start).",
        ),
    ] = None,
    minutes: MinutesOpt = None,
    km: KmOpt = None,
    stop_spec: StopsOpt = None,
    order: Annotated[
        str | None,
        typer.Option(
            "--order", metavar="CATEGORIES", help="Categories that come first, in order: 'cafe'."
        ),
    ] = None,
    must_visit: Annotated[
        list[str] | None,
        typer.Option("--must-visit", metavar="STOP", help="A stop (name or id); repeatable."),
    ] = None,
    at: AtOpt = None,
    prefer_quiet: Annotated[
        float,
        typer.Option(
            "--prefer-quiet",
            metavar="WEIGHT",
            help="Weight on quiet streets (0 to 5).",
            callback=_in_range(0, 5, example="--prefer-quiet 2"),
        ),
    ] = 1.0,
    avoid_steps: Annotated[bool, typer.Option("--avoid-steps", help="Avoid steps.")] = False,
    allow_repeats: Annotated[
        bool,
        typer.Option(
            "--allow-repeats",
            help="Fill the time by walking pleasant streets again when the area is too small.",
        ),
    ] = False,
    seed: SeedOpt = 0,
    alternatives: Annotated[
        int,
        typer.Option(
            "--alternatives", min=1, max=5, metavar="N", help="How many different walks (1 to 5)."
        ),
    ] = 1,
    landmark: LandmarkOpt = None,
    dem: DemOpt = None,
    no_terrain: NoTerrainOpt = False,
    roofline: RooflineOpt = None,
    categories: CategoryFilesOpt = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", metavar="PATH", help="Write the map here.")
    ] = None,
    gpx_out: Annotated[
        Path | None,
        typer.Option("--gpx", metavar="PATH", help="Write GPX 1.1 here ('-': standard output)."),
    ] = None,
    geojson_out: Annotated[
        Path | None,
        typer.Option(
            "--geojson", metavar="PATH", help="Write GeoJSON here ('-': standard output)."
        ),
    ] = None,
    json_out: JsonOpt = None,
    gpx_times: Annotated[
        bool,
        typer.Option(
            "--gpx-times",
            help="Give GPX points their planned times (from --at; without it, from midnight of "
            "2000-01-01 UTC, so the clock reads the time since the start).",
        ),
    ] = False,
    directions: Annotated[
        bool, typer.Option("--directions", help="Print turn-by-turn directions.")
    ] = False,
    offline_map: Annotated[
        bool,
        typer.Option(
            "--offline-map", help="Inline Leaflet in the map (the default; kept for scripts)."
        ),
    ] = False,
    cdn_map: CdnMapOpt = False,
    open_map: Annotated[bool, typer.Option("--open", help="Open the map in a browser.")] = False,
    overwrite: OverwriteOpt = False,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    overpass_url: OverpassOpt = settings.OVERPASS_URL,
    nominatim_url: NominatimOpt = settings.NOMINATIM_URL,
    max_area_km2: MaxAreaOpt = settings.MAX_AREA_KM2,
    retries: RetriesOpt = settings.MAX_ATTEMPTS,
    timeout: TimeoutOpt = settings.RUN_TIMEOUT_S,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Plan a walk and write it as a map, GPX, GeoJSON or JSON (default: walk.html, walk.gpx)."""
    _verbosity(verbose, quiet)
    _one_budget(minutes, km)
    when = _parse_at(at)
    wanted = None if stop_spec is None else _parse_stops(stop_spec)
    for hint, text in (("--start", start), ("--end", end)):
        _check_place_text(hint, text)
    tiles = _no_tiles(no_terrain=no_terrain, dem=dem)
    _refuse_unused(ctx, _unused_options(area, osm_file, no_tiles=tiles, names=(start, end)))
    paths, files = _plan_outputs(html_out, gpx_out, geojson_out, json_out)
    html_out = paths[0]
    say = _progress()
    started = time.perf_counter()
    with _reporting(timeout):
        check_writable(files, overwrite=overwrite)
        if offline_map and cdn_map:
            msg = "give --offline-map or --cdn-map, not both"
            raise typer.BadParameter(msg, param_hint="--offline-map/--cdn-map")
        assets = leaflet_assets(cache_dir) if html_out is not None and not cdn_map else None
        resolved = _resolve(area, radius, cache_dir, nominatim_url, retries)
        from walks.api import generate_walks  # noqa: PLC0415 - the planner: not for every command

        result = generate_walks(
            resolved, wanted, start=start, end=end, minutes=minutes, km=km,
            must_visit=tuple(must_visit or ()), order=tuple(_split(order or "")), at=when,
            quiet=prefer_quiet, avoid_steps=avoid_steps, seed=seed, alternatives=alternatives,
            allow_repeats=allow_repeats, osm_file=osm_file,
            category_files=tuple(categories or ()), landmark=landmark, dem=dem,
            no_terrain=no_terrain,
            roofline_m=roofline, cache_dir=cache_dir, use_cache=not no_cache,
            overpass_url=overpass_url, nominatim_url=nominatim_url, max_area_km2=max_area_km2,
            attempts=retries, progress=say,
        )  # fmt: skip
        for warning in result.warnings:  # honest results: every shortfall said on stderr
            typer.echo(visible(f"Warning: {warning.message}", one_line=True), err=True)
        say("writing the outputs")
        best = result.walks[0]
        departure = result.departure  # "now" resolved in the area's time zone
        where = area or (osm_file.name if osm_file else "Helsinki centre (demo)")
        title = f"A walk in {where}"
        summary = walk_summary(best, departure=departure)
        if len(result.walks) > 1:
            summary["alternatives"] = [
                walk_summary(w, departure=departure) for w in result.walks[1:]
            ]
        texts = _render(
            result, summary, title=title, departure=departure, assets=assets,
            paths=paths, gpx_times=gpx_times, area=where,
        )  # fmt: skip
        stdout_text = next((t for p, t in texts if p == STDOUT), None)
        with _files.OutputSet() as staged:
            for path, text in texts:
                if path != STDOUT:
                    staged.add(path, text)
            written = staged.commit()
    log.info("done in %.2f s", time.perf_counter() - started)
    if stdout_text is not None:
        typer.echo(stdout_text)
    else:
        for path in (p for p in files if p in written):  # in the options' order
            typer.echo(visible(str(path), one_line=True))
    if directions:  # on stderr when standard output carries a document
        # split on line feeds only: str.splitlines also breaks at \x1c-\x1e, \x85 and U+2028,
        # which an OSM name can hold (a forged line); visible() shows them as escapes instead
        lines = directions_text(best, departure=departure).rstrip("\n").split("\n")
        text = "".join(visible(line, one_line=True) + "\n" for line in lines)
        typer.echo(text, nl=False, err=stdout_text is not None)
    if open_map and html_out is not None:
        import webbrowser  # noqa: PLC0415

        webbrowser.open(html_out.resolve().as_uri())


def _render(
    result: GeneratedWalks,
    summary: dict[str, Any],
    *,
    title: str,
    departure: dt.datetime | None,
    assets: tuple[str, str] | None,
    paths: tuple[Path | None, Path | None, Path | None, Path | None],
    gpx_times: bool = False,
    area: str | None = None,
) -> list[tuple[Path, str]]:
    """
    Make every output of ``walks generate`` in memory, before any is written.

    Parameters
    ----------
    result
        The planned walks.
    summary
        The JSON summary.
    title
        The map's and the GPX's title.
    departure
        Local departure time, or None.
    assets
        Leaflet's files to inline in the map, or None to link the CDN.
    paths
        The HTML, GPX, GeoJSON and JSON files (None for those not asked for).
    gpx_times
        Give the GPX's points their planned times.
    area
        The area's name, for the GPX's track names.

    Returns
    -------
    list of tuple
        ``(path, text)`` per output, the map last.
    """
    html_out, gpx_out, geojson_out, json_path = paths
    best = result.walks[0]
    texts: list[tuple[Path, str]] = []
    if json_path is not None:
        texts.append((json_path, _strict_json(summary, indent=None if json_path == STDOUT else 1,
                                              terminal=json_path == STDOUT)))  # fmt: skip
    if gpx_out is not None:
        gpx = gpx_text(result.walks, title=title, departure=departure,
                       elevations=result.elevations, times=gpx_times, area=area)  # fmt: skip
        texts.append((gpx_out, visible(gpx) if gpx_out == STDOUT else gpx))
    if geojson_out is not None:
        texts.append(
            (geojson_out, _strict_json(walk_geojson(best), terminal=geojson_out == STDOUT))
        )
    if html_out is not None:
        from walks.basemap import basemap_data  # noqa: PLC0415
        from walks.webmap import map_html, view_bounds  # noqa: PLC0415

        found = result.area_stops
        page = map_html(
            result.walks, title=title, categories=found.categories, departure=departure,
            climb_m=result.climb_m, offline_assets=assets, cdn=assets is None,
            warnings=[w.message for w in result.warnings],
            elevations=result.elevations,
            basemap=basemap_data(found.loaded.graph, found.features.buildings,
                                 view_bounds(result.walks), found.features.landcover),
        )  # fmt: skip
        texts.append((html_out, page))
    return texts


def _plan_outputs(
    html_out: Path | None, gpx_out: Path | None, geojson_out: Path | None, json_out: str | None
) -> tuple[tuple[Path | None, Path | None, Path | None, Path | None], list[Path]]:
    """
    Decide the outputs of ``walks generate`` before any work, refusing clashes.

    Parameters
    ----------
    html_out, gpx_out, geojson_out, json_out
        The options (``-`` for standard output); none given means walk.html and walk.gpx.

    Returns
    -------
    tuple
        The four paths (``STDOUT`` for standard output, None when not asked for) and the
        files to write.

    Raises
    ------
    typer.BadParameter
        When two outputs share a file or more than one goes to standard output (exit 2).
    """
    if html_out is None and gpx_out is None and geojson_out is None and json_out is None:
        html_out, gpx_out = Path("walk.html"), Path("walk.gpx")
    json_path = None if json_out is None else Path(json_out)
    outputs = {"--html": html_out, "--gpx": gpx_out, "--geojson": geojson_out, "--json": json_path}
    to_stdout = [option for option, path in outputs.items() if path == STDOUT]
    if len(to_stdout) > 1 or "--html" in to_stdout:
        msg = f"only one of --gpx, --geojson and --json may go to standard output, not {to_stdout}"
        raise typer.BadParameter(msg, param_hint="/".join(to_stdout))
    files = _distinct_outputs({k: v for k, v in outputs.items() if v != STDOUT})
    return (html_out, gpx_out, geojson_out, json_path), files


def _check_place_text(hint: str, text: str | None) -> None:
    """
    Refuse a malformed ``--start`` / ``--end`` before any work: bad coordinates, blank text.

    Parameters
    ----------
    hint
        The option.
    text
        Its value, or None.

    Raises
    ------
    typer.BadParameter
        For coordinates that are not two finite numbers on Earth, or unusable text (exit 2).
    """
    if text is None:
        return
    try:
        _validate.check_text(hint, text, example=f"{hint} 48.8809,2.3553 or a stop's name")
        _validate.parse_lat_lon(text, name=hint)
    except UsageError as err:
        raise typer.BadParameter(str(err), param_hint=hint) from err


def _distinct_outputs(outputs: dict[str, Path | None]) -> list[Path]:
    """
    List the output files, refusing two options that name the same file.

    Parameters
    ----------
    outputs
        Option name to path (None when not given).

    Returns
    -------
    list of Path
        The paths given.

    Raises
    ------
    typer.BadParameter
        When two outputs resolve to the same file (exit code 2, before any work).
    """
    seen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        key = path.expanduser().resolve()
        if key in seen:
            msg = (
                f"{seen[key]} and {option} both write {str(path)!r}: give each output its own file"
            )
            raise typer.BadParameter(msg, param_hint=f"{seen[key]}/{option}")
        seen[key] = option
    return [p for p in outputs.values() if p is not None]


def _check_json_target(target: str | None, *, overwrite: bool) -> None:
    """
    Check, before any work, that a ``--json`` / ``--geojson`` file may be written.

    Parameters
    ----------
    target
        The path, ``-`` for standard output, or None.
    overwrite
        Replace an existing file.

    Raises
    ------
    ExportError
        When the file exists (without ``overwrite``), is a folder, or its folder is missing.
    """
    if target not in {None, "-"}:
        check_writable([Path(str(target))], overwrite=overwrite)


def _emit_json(value: object, target: str) -> None:
    """
    Write strict JSON to standard output (``-``) or, atomically, to a file.

    Parameters
    ----------
    value
        The data.
    target
        ``-`` or a path.

    Raises
    ------
    ExportError
        When the file cannot be written or the data holds a non-finite number.
    """
    if target == "-":
        typer.echo(_strict_json(value, terminal=True))
        return
    path = Path(target)
    write_atomic(path, _strict_json(value, indent=1))
    typer.echo(visible(str(path), one_line=True))


def _strict_json(value: object, *, indent: int | None = None, terminal: bool = False) -> str:
    """
    Write strict JSON (no NaN or infinities), UTF-8 text as it is.

    Parameters
    ----------
    value
        The data.
    indent
        As for ``json.dumps``.
    terminal
        Also write control characters that JSON leaves raw (C1, bidirectional overrides) as
        escapes, for stdout.

    Returns
    -------
    str
        The JSON text.

    Raises
    ------
    ExportError
        When the data holds a non-finite number (a bug upstream: never written as ``NaN``).
    """
    try:
        if terminal:
            return terminal_json(value, indent=indent)
        return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=indent)
    except ValueError as err:
        msg = f"the summary holds a number that is not finite ({err}): nothing was written"
        raise ExportError(msg) from err


assets_app = typer.Typer(help="Leaflet files for self-contained maps.", rich_markup_mode=None)
app.add_typer(assets_app, name="assets")


@assets_app.command("fetch")
def assets_fetch(
    cache_dir: CacheDirOpt = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="URL",
            envvar="WALKS_LEAFLET_URL",
            help="Where Leaflet's dist/ lives (default: the jsDelivr CDN).",
        ),
    ] = None,
    timeout: TimeoutOpt = settings.RUN_TIMEOUT_S,
) -> None:
    """Download Leaflet's files into the cache (walks ships them; this refreshes the copy)."""
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
    with _reporting(timeout):
        base = _service_url(base, "Leaflet's CDN", "--from")
        for name in names:
            url = f"{base}/{name}"
            try:
                reply = http_get(url, service="Leaflet's CDN", base_url=base, timeout_s=30.0,
                                 headers={"User-Agent": settings.USER_AGENT})  # fmt: skip
            except ServiceError as err:
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


def _is_extract_path(text: str) -> bool:
    """
    Say whether an AREA argument names an existing extract file rather than a place.

    Parameters
    ----------
    text
        The AREA argument.

    Returns
    -------
    bool
        True for a name ending in an extract suffix (``.osm.pbf``, ``.osm``, …), whether the
        file exists or not: no place name ends so, and a missing file's name is not to be sent
        to the geocoder (``_describe_store`` says it is missing, or shows its orphaned store).
    """
    from walks.data import EXTRACT_SUFFIXES  # noqa: PLC0415

    return text.lower().endswith(EXTRACT_SUFFIXES)


#: What ``walks info FILE`` and ``walks cache list`` say of a store in each state.
_STATE_TEXT = {
    "current": "current",
    "file changed": "out of date (the file changed): rebuilt on use",
    "other version": "out of date (made by another version of walks): rebuilt on use",
    "file gone": "orphaned (its file is gone; walks cache clear removes the stores)",
    "unreadable": "unreadable (damaged or half-written): rebuilt on use",
    "leftover": "left by an import that ended unfinished: walks cache clear removes it",
    "importing": "being written by an import running now",
}


def _store_state(info: StoreInfo, source: Path) -> str:
    """
    Say why a store is current or not.

    Parameters
    ----------
    info
        The store's ``StoreInfo``.
    source
        The extract it was built from.

    Returns
    -------
    str
        A key of ``_STATE_TEXT`` (not ``unreadable``).
    """
    from walks import store  # noqa: PLC0415

    if info.current:
        return "current"
    if not source.is_file():
        return "file gone"
    if info.version != store.STORE_VERSION or info.dropped_nodes is None:
        return "other version"
    return "file changed"


def _store_record(osm_file: Path, cache_dir: Path) -> dict[str, Any]:
    """
    Describe an extract's region store as a JSON record.

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The cache folder.

    Returns
    -------
    dict
        ``present`` False when there is none; else its path, size, counts, import date and
        whether it is current. ``state`` says why not: ``file changed``, ``other version``
        (an older walks made it), ``file gone``, ``unreadable`` (a store file that cannot be
        read: damaged or left half-written; ``present`` is True, the counts are missing).
    """
    from walks import store  # noqa: PLC0415

    info = store.store_info(osm_file, cache_dir)
    if info is None:
        where = store.store_path(osm_file, cache_dir)
        if where.is_file():
            return {"osm_file": str(osm_file.resolve()), "present": True, "current": False,
                    "state": "unreadable", "path": str(where)}  # fmt: skip
        return {"osm_file": str(osm_file.resolve()), "present": False, "current": False,
                "state": "none"}  # fmt: skip
    return _info_record(info, osm_file)


def _info_record(info: StoreInfo, osm_file: Path) -> dict[str, Any]:
    """
    Describe a region store, as read or as just built, as a JSON record (``_store_record``).

    Parameters
    ----------
    info
        The store's ``walks.store.StoreInfo``.
    osm_file
        The extract it was built from.

    Returns
    -------
    dict
        Its path, size, counts, import date and whether it is current.
    """
    return {
        "osm_file": info.osm_file,
        "present": True,
        "current": info.current,
        "state": _store_state(info, osm_file),
        "path": str(info.path),
        "size_bytes": info.size_bytes,
        "ways": info.ways,
        "pedestrian_areas": info.areas,
        "features": info.features,
        "buildings": info.buildings,
        "landcover": info.landcover,
        "height_grids": info.grids,
        "imported": info.imported or None,
        "version": info.version or None,
        "dropped_nodes": info.dropped_nodes,
    }


def _store_line(osm_file: Path, cache_dir: Path, record: dict[str, Any] | None = None) -> str:
    """
    Say in one line whether an extract has a store and whether it is current.

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The cache folder.
    record
        Its ``_store_record``, when already read.

    Returns
    -------
    str
        The line.
    """
    record = _store_record(osm_file, cache_dir) if record is None else record
    if not record["present"]:
        return "none (walks import FILE builds one, as does the first run that reads the file)"
    state = _STATE_TEXT[record["state"]]
    if record["state"] == "unreadable":
        return state
    return f"{state}, {record['size_bytes'] / 1e6:.1f} MB, imported {record['imported']}"


def _has_store_file(osm_file: Path, cache_dir: Path) -> bool:
    """
    Say whether a store file exists for an extract's path (the extract may be gone).

    Parameters
    ----------
    osm_file
        The extract's path.
    cache_dir
        The cache folder.

    Returns
    -------
    bool
        False too when the path cannot be resolved (a symbolic link loop).
    """
    from walks import store  # noqa: PLC0415

    try:
        return store.store_path(osm_file, cache_dir).is_file()
    except (OSError, RuntimeError):  # RuntimeError: Path.resolve's "Symlink loop" (Python 3.11)
        return False


def _store_target(osm_file: Path, cache_dir: Path) -> Path:
    """
    Check the FILE of ``walks info FILE``: an extract, or a path whose store remains.

    Parameters
    ----------
    osm_file
        The extract.
    cache_dir
        The cache folder.

    Returns
    -------
    Path
        The checked path.

    Raises
    ------
    DataError
        When the file is missing (and has no store), unreadable, or not an extract.
    """
    from walks.data import check_extract, check_file_name  # noqa: PLC0415

    path = check_file_name(osm_file.expanduser())
    if path.exists():
        return check_extract(path)
    if not _has_store_file(path, cache_dir):
        msg = f"OSM file {str(path)!r} does not exist: check the FILE given to walks info"
        raise DataError(msg)
    return path


def _describe_store(path: Path, cache_dir: Path, json_out: str | None) -> None:
    """
    Print what ``walks info FILE`` shows: the extract's region store.

    A file that is gone but whose store remains is described (as orphaned).

    Parameters
    ----------
    path
        The extract, checked by ``_store_target``.
    cache_dir
        The cache folder.
    json_out
        Write JSON there (``-``: standard output) instead of lines.
    """
    record = _store_record(path, cache_dir)
    if json_out is not None:
        _emit_json({"store": record}, json_out)
        return
    lines = [("file", record["osm_file"]), ("store", _store_line(path, cache_dir, record))]
    if record["present"] and record["state"] != "unreadable":
        lines += [
            ("path", record["path"]),
            ("ways", f"{record['ways']:,} walkable ways, {record['pedestrian_areas']:,} areas"),
            ("places", f"{record['features']:,} tagged places (stop candidates)"),
            ("buildings", f"{record['buildings']:,}"),
        ]  # fmt: skip
        if record["dropped_nodes"]:
            count = record["dropped_nodes"]
            lines.append(("left out", f"{count:,} node(s) with unreadable coordinates"))
    elif record["present"]:
        lines.append(("path", record["path"]))
    for key, value in lines:
        typer.echo(f"{key:<10} {visible(str(value), one_line=True)}")


@app.command("import", cls=_OptionalValueCommand)
def import_command(
    osm_file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            dir_okay=False,
            show_default=False,
            help="Local .osm, .osm.bz2 or .osm.pbf extract of a city, region or country.",
        ),
    ],
    json_out: JsonOpt = None,
    overwrite: OverwriteOpt = False,
    cache_dir: CacheDirOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Import an extract into the region store once: then any area of it opens in a second."""
    from walks import store  # noqa: PLC0415

    _verbosity(verbose, quiet)
    folder = cache_dir or settings.default_cache_dir()
    with _reporting():
        _check_json_target(json_out, overwrite=overwrite)
        if not osm_file.exists():
            msg = f"OSM file {str(osm_file)!r} does not exist: check the FILE given to walks import"
            raise DataError(msg)
        started = time.perf_counter()
        cpu = time.process_time()
        info = store.import_extract(osm_file, folder, progress=_progress())
        seconds = time.perf_counter() - started
        if not info.current:  # written to or replaced while it was read: a mix of two files
            msg = (
                f"OSM file {str(osm_file)!r} changed while it was imported: wait until it is "
                "completely written (a download still running?), then run walks import again"
            )
            raise DataError(msg)
        warnings = []
        note = dropped_nodes_note(str(osm_file), info.dropped_nodes or 0)
        if note is not None:
            warnings.append(note.message)
        if info.ways == 0:  # e.g. a PBF cut at a block boundary reads as a shorter, valid file
            warnings.append(
                f"the store of {str(osm_file)!r} holds no walkable way: no walk can be planned "
                "from it; check the file is complete (download it again) and covers streets"
            )
        record = {
            # the store as built: another process may clear or replace it at once
            **_info_record(info, osm_file),
            "seconds": round(seconds, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2),
            "warnings": warnings,
        }
        for warning in warnings:
            typer.echo(visible(f"Warning: {warning}", one_line=True), err=True)
        if json_out is not None:
            _emit_json(record, json_out)
            return
    lines = [
        ("imported", f"{info.osm_file}"),
        ("ways", f"{info.ways:,} walkable ways, {info.areas:,} pedestrian areas"),
        ("places", f"{info.features:,} tagged places (stop candidates)"),
        ("buildings", f"{info.buildings:,}"),
        ("seconds", f"{seconds:.1f}"),
        ("store", f"{info.path} ({info.size_bytes / 1e6:.1f} MB)"),
    ]
    for key, value in lines:
        typer.echo(f"{key:<10} {visible(value, one_line=True)}")


def _cache_folder(ctx: typer.Context, cache_dir: Path | None) -> Path:
    """
    Choose the cache folder of a ``walks cache`` subcommand.

    ``walks cache --cache-dir X clear`` and ``walks cache clear --cache-dir X`` both mean X: a
    folder given on the command line, to the subcommand or to ``walks cache``, wins over
    ``WALKS_CACHE_DIR``, which wins over the per-user default.

    Parameters
    ----------
    ctx
        The subcommand's context.
    cache_dir
        The subcommand's ``--cache-dir`` (possibly from the environment).

    Returns
    -------
    Path
        The folder.
    """

    def from_command_line(context: Any) -> bool:  # noqa: ANN401 - click's Context
        source = None if context is None else context.get_parameter_source("cache_dir")
        return source is not None and source.name == "COMMANDLINE"

    if from_command_line(ctx) and cache_dir:
        return cache_dir
    parent = ctx.parent
    if parent is not None and from_command_line(parent):
        given = parent.params.get("cache_dir")
        if isinstance(given, Path):
            return given
    return cache_dir or settings.default_cache_dir()


@cache_app.callback(invoke_without_command=True)
def cache_main(ctx: typer.Context, cache_dir: CacheDirOpt = None) -> None:
    """List cached graphs (the default), or clear them with `walks cache clear`."""
    if ctx.invoked_subcommand is None:
        _list_cache(cache_dir or settings.default_cache_dir(), json_out=None)


@cache_app.command("list", cls=_OptionalValueCommand)
def cache_list(ctx: typer.Context, cache_dir: CacheDirOpt = None, json_out: JsonOpt = None) -> None:
    """List cached graphs (source, area, data date, size) and region stores."""
    _list_cache(_cache_folder(ctx, cache_dir), json_out=json_out)


def _stores(folder: Path) -> list[dict[str, Any]]:
    """
    Describe the region stores of a cache folder as JSON rows.

    Parameters
    ----------
    folder
        The cache folder.

    Returns
    -------
    list of dict
        One row per store: kind, path, size, source (the extract), current.
    """
    from walks import store  # noqa: PLC0415

    rows = []
    for path, source, size in store.list_stores(folder):
        info = store.store_info(source, folder) if source != "?" else None
        if info is None:
            state = "unreadable"
        elif info.path != path:  # its file's path now leads elsewhere (a link changed)
            state = "file gone"
        else:
            state = _store_state(info, Path(source))
        rows.append({"kind": "store", "path": str(path), "size_bytes": size,
                     "source": f"file:{source}", "area": None, "data_date": None,
                     "current": state == "current", "state": state})  # fmt: skip
    for path, size, ended in store.temporary_stores(folder):
        rows.append({"kind": "store", "path": str(path), "size_bytes": size, "source": None,
                     "area": None, "data_date": None, "current": False,
                     "state": "leftover" if ended else "importing"})  # fmt: skip
    return rows


def _list_cache(folder: Path, *, json_out: str | None) -> None:
    """
    Print the cached graphs of a folder.

    Parameters
    ----------
    folder
        The cache folder.
    json_out
        Write one JSON list to this path (``-``: standard output) instead of lines.
    """
    from walks.cache import iter_cache  # noqa: PLC0415 - scipy: not for every command

    with _reporting():
        try:
            entries = list(iter_cache(folder))
            stores = _stores(folder)
        except OSError as err:
            msg = f"cannot list the cache {str(folder)!r} ({err.strerror or err}): check the path"
            raise CacheError(msg) from err
    if json_out is not None:
        rows = [
            {
                "kind": "graph",
                "path": str(e.path),
                "size_bytes": e.size_bytes,
                "source": e.meta.source if e.meta else None,
                "area": (e.meta.area or None) if e.meta else None,
                "data_date": (e.meta.data_date or None) if e.meta else None,
            }
            for e in entries
        ]
        with _reporting():
            _emit_json(rows + stores, json_out)
        return
    for row in stores:
        state = _STATE_TEXT[row["state"]]
        of = f"region store of {row['source']}" if row["source"] else "temporary store"
        line = f"{Path(row['path']).name}  {row['size_bytes'] / 1e6:.1f} MB  {of}  [{state}]"
        typer.echo(visible(line, one_line=True))
    if not entries:
        if not stores:
            typer.echo(visible(f"no cached graphs in {folder}", one_line=True))
        return
    for e in entries:
        if e.meta is None:
            line = f"{e.path.name}  (unreadable; it will be rebuilt)"
        else:
            line = (
                f"{e.path.name}  {e.size_bytes / 1e6:.1f} MB  {e.meta.source}  "
                f"[{e.meta.area or 'whole extract'}]  data {e.meta.data_date or 'unknown'}"
            )
        typer.echo(visible(line, one_line=True))


@cache_app.command("clear")
def cache_clear(
    ctx: typer.Context,
    cache_dir: CacheDirOpt = None,
    graphs_only: Annotated[
        bool,
        typer.Option(
            "--graphs-only", help="Keep region stores and downloaded OSM and geocoder replies."
        ),
    ] = False,
) -> None:
    """Delete cached graphs and, unless --graphs-only, region stores and service replies."""
    from walks import store  # noqa: PLC0415
    from walks.cache import clear_cache  # noqa: PLC0415 - scipy: not for every command

    folder = _cache_folder(ctx, cache_dir)
    with _reporting():
        removed = clear_cache(folder, http=not graphs_only)
        if not graphs_only:  # an import's temporary store is kept while its process runs
            removed += store.remove_leftovers(folder)
    typer.echo(visible(f"removed {removed} cached file(s) from {folder}", one_line=True))


# ----------------------------------------------------------------------------- walks batch


@app.command()
def batch(
    areas: Annotated[
        Path,
        typer.Argument(
            metavar="AREAS",
            dir_okay=False,
            help="CSV or GeoJSON of walk requests, one per row: areas (bbox, lat/lon + radius, "
            "Polygon) or starts (Point), with optional minutes, km, stops, seed, start, end, "
            "osm_file columns that override the options.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="The GeoParquet file to write.")
    ],
    osm_file: OsmFileOpt = None,
    minutes: MinutesOpt = None,
    km: KmOpt = None,
    stop_spec: StopsOpt = None,
    seed: SeedOpt = 0,
    radius: RadiusOpt = None,
    maps: Annotated[
        Path | None,
        typer.Option(
            "--maps",
            metavar="DIR",
            file_okay=False,
            help="Also write each walk's map and GPX here, and index.html linking them all.",
        ),
    ] = None,
    cdn_map: CdnMapOpt = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            max=1024,
            help="Workers of the local Dask cluster (default: the CPU cores).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Use a running Dask scheduler, e.g. tcp://10.0.0.5:8786.",
        ),
    ] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size",
            metavar="ROWS",
            min=1,
            max=10_000,
            help="Rows per task and per resumable part (default: automatic).",
        ),
    ] = None,
    landmark: LandmarkOpt = None,
    no_terrain: NoTerrainOpt = False,
    categories: CategoryFilesOpt = None,
    overwrite: OverwriteOpt = False,
    cache_dir: CacheDirOpt = None,
    nominatim_url: NominatimOpt = settings.NOMINATIM_URL,
    retries: RetriesOpt = settings.MAX_ATTEMPTS,
    timeout: TimeoutOpt = settings.RUN_TIMEOUT_S,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Plan one walk per row of AREAS on Dask and write them as GeoParquet (resumable)."""
    from walks.batch import BatchOptions, run_batch  # noqa: PLC0415

    _verbosity(verbose, quiet)
    _one_budget(minutes, km)
    wanted = None if stop_spec is None else tuple(_parse_stops(stop_spec))
    options = BatchOptions(
        osm_file=str(osm_file) if osm_file else None, minutes=minutes, km=km, stops=wanted,
        seed=seed, radius_m=radius if radius is not None else 1000.0, no_terrain=no_terrain,
        landmark=landmark, category_files=tuple(str(c) for c in categories or ()),
        cache_dir=str(cache_dir) if cache_dir else None, nominatim_url=nominatim_url,
        attempts=retries, cdn_map=cdn_map, timeout_s=timeout,
    )  # fmt: skip
    say = _progress()
    bar = None
    with _reporting(timeout):
        if _State.verbosity >= 0:
            from rich.progress import Progress  # noqa: PLC0415

            bar = Progress(console=_console(), transient=False)
            bar.start()
        task = bar.add_task("walks", total=None) if bar is not None else None

        def advance(done: int, total: int) -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=done, total=total)

        try:
            say("planning the walks")
            report = run_batch(
                areas, out, options, maps_dir=maps, workers=workers, scheduler=scheduler,
                chunk_size=chunk_size, overwrite=overwrite, progress=advance,
            )  # fmt: skip
        finally:
            if bar is not None:
                bar.stop()
        if report.lost:
            msg = (
                f"{len(report.lost)} of {report.total} rows were lost with their workers "
                f"(rows {list(report.lost)[:10]}): run the same command again to finish them; "
                "nothing was written yet"
            )
            raise WalksError(msg)
    if report.failed:
        typer.echo(
            f"Warning: {len(report.failed)} of {report.total} walks failed (rows "
            f"{list(report.failed)[:10]}{'…' if len(report.failed) > 10 else ''}): "  # noqa: PLR2004
            "their rows say why (columns status, error)",
            err=True,
        )
    if report.skipped:
        log.info("resumed: %d rows were done before", len(report.skipped))
    typer.echo(visible(str(out), one_line=True))
    if report.maps is not None:
        typer.echo(visible(str(report.maps), one_line=True))


def _given_value(args: list[str], opts: list[str]) -> str | None:
    """
    Find the value given on the command line to an option (``--opt VALUE`` or ``--opt=VALUE``).

    Parameters
    ----------
    args
        The command line's arguments.
    opts
        The option's names.

    Returns
    -------
    str or None
        The last value given, or None when none is found.
    """
    found = None
    for index, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name in opts and equals:
            found = value
        elif arg in opts and index + 1 < len(args):
            found = args[index + 1]
    return found


def _usage_line(err: TyperException, args: list[str], commands: Collection[str]) -> str:
    """
    Say a command-line usage error (click's) in one line: the option, the value given, the fix.

    Parameters
    ----------
    err
        The usage error (click's ``UsageError`` or ``BadParameter``).
    args
        The command line's arguments.
    commands
        The names of walks' commands.

    Returns
    -------
    str
        The message, ending with where the help is.
    """
    format_message = getattr(err, "format_message", None)
    message = str(format_message()) if callable(format_message) else str(err)
    param = getattr(err, "param", None)
    opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
    value = _given_value(args, opts) if opts else None
    if value is not None:
        message = f"{opts[0]} {value!r} is not valid: {getattr(err, 'message', message)}"
    ctx = getattr(err, "ctx", None)
    path = getattr(ctx, "command_path", None)
    if not path or path == "walks":  # no command's context: the command named on the line
        named = next((a for a in args if not a.startswith("-")), None)
        path = f"walks {named}" if named in commands else "walks"
    return f"{message.rstrip('.')} (see '{path} --help')"


def _others_running() -> bool:
    """
    Tell whether anything but this thread still runs that a normal exit would wait for.

    Returns
    -------
    bool
        True while a non-daemon thread other than this one is alive, or a child process of
        ``multiprocessing`` (a normal exit joins them).
    """
    here = threading.current_thread()
    if any(t is not here and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return True
    processes = sys.modules.get("multiprocessing")
    return processes is not None and bool(processes.active_children())


#: The frames of ``python -m walks`` under ``walks/__main__.py`` (runpy's own).
_RUNPY_MAIN = frozenset({"_run_code", "_run_module_as_main"})


def _owns_process(caller: types.FrameType | None) -> bool:
    """
    Tell whether the ``walks`` command is the process's own program, which it may end.

    It is when the caller is the top of the main script (the console script, or
    ``walks/__main__.py`` run by ``python -m walks``) and nothing watches it: no tracer or
    profiler (a debugger, coverage, cProfile), no ``sys.monitoring`` tool. A program that
    runs ``walks`` inside itself (``runpy.run_module``, ``python -m cProfile -m walks``,
    ``pdb``) gets the command's ``SystemExit`` back, as from ``run``.

    Parameters
    ----------
    caller
        The frame that called ``entry_point``.

    Returns
    -------
    bool
        True when ending the process skips nothing but its teardown.
    """
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return False
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12 on
    if monitoring is not None and any(monitoring.get_tool(i) for i in range(6)):
        return False
    if caller is None or caller.f_code.co_name != "<module>":
        return False
    if caller.f_globals.get("__name__") != "__main__":
        return False
    below = caller.f_back
    while below is not None:
        if below.f_globals.get("__name__") != "runpy" or below.f_code.co_name not in _RUNPY_MAIN:
            return False
        below = below.f_back
    return True


def _end_process(code: int) -> NoReturn:
    """
    End the process with ``code`` once everything a normal exit does for the user is done.

    A normal exit then frees every object of every module (numpy, scipy, pydantic …) one by one,
    about 0.1 s of the demo's second, for memory the operating system takes back anyway. Here the
    ``atexit`` functions run (logging's shutdown, temporary folders' finalizers, a subprocess's
    coverage …), both streams are flushed, and the process ends. Outputs are already complete on
    disk: every file is written and closed (``walks._files``) before a command returns. When a
    thread or child process still runs, the normal exit runs instead, so that its joins stay as
    they are; so it does after a stream that cannot be flushed (reported by ``_output_failed``)
    and after a Ctrl-C in between (with the command's code).

    Parameters
    ----------
    code
        The exit code.

    Raises
    ------
    SystemExit
        When the normal exit must run (see above).
    """
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)  # no public equivalent
    try:
        if _others_running() or run_exit_functions is None:
            raise SystemExit(code)
        run_exit_functions()  # as a normal exit runs them (it then finds none left)
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        if _others_running():  # an atexit function started one
            raise SystemExit(code)
    except OSError as err:  # a closed pipe, a full disk: reported once, then the normal exit
        raise SystemExit(1 if _output_failed(err) else code) from None
    except (ValueError, KeyboardInterrupt):  # a closed stream; a Ctrl-C after the run
        raise SystemExit(code) from None
    os._exit(code)


def entry_point() -> NoReturn:
    """
    Run the ``walks`` command and end its process (the console script and ``python -m walks``).

    As ``run``; then, when the command is the process's own program (``_owns_process``), the
    process ends without freeing the interpreter's objects one by one (``_end_process``).
    Calls from Python use ``run``, which leaves the interpreter as it was.

    Raises
    ------
    SystemExit
        The command's exit, when the process is not the command's alone or must end normally.
    """
    owns = threading.current_thread() is threading.main_thread()
    owns = owns and _owns_process(sys._getframe(1))  # noqa: SLF001 - the caller's frame
    try:
        run()
    except SystemExit as end:
        if not owns or (end.code is not None and not isinstance(end.code, int)):
            raise
        _end_process(end.code or 0)
    if not owns:
        raise SystemExit(0)
    _end_process(0)


def run(args: list[str] | None = None) -> None:
    """
    Run the command-line tool (the ``walks`` command and ``python -m walks``).

    Usage errors that click reports itself (an option of the wrong type, an unknown option, a
    missing argument) become one ``Error: …`` line too, naming the option and the value given,
    with exit code 2; no usage block is printed above it. SIGTERM and SIGHUP end a run as
    Ctrl-C does (its cleanups run, one ``Error: …`` line), with exit code 128 + the signal.

    Parameters
    ----------
    args
        The arguments; None reads them from ``sys.argv``.
    """
    given = list(sys.argv[1:] if args is None else args)
    command = typer.main.get_command(app)
    replaced = _catch_signals()
    try:
        code = command.main(args=given, prog_name="walks", standalone_mode=False)
    except typer.Abort as err:
        stopped = err.__cause__ if isinstance(err.__cause__, _Terminated) else None
        if stopped is None:
            _error("aborted: nothing was written")
            sys.exit(1)
        _error(f"stopped by {signal.Signals(stopped.signum).name}: nothing was written")
        sys.exit(128 + stopped.signum)
    except TyperException as err:  # click's usage errors (ours are reported by _reporting)
        _error(_usage_line(err, given, getattr(command, "commands", {})))
        sys.exit(int(getattr(err, "exit_code", 2)))
    except OSError as err:  # writing help, a listing or a file's name to a stream that failed
        if not _output_failed(err):
            _unexpected(err)
        sys.exit(1)
    finally:
        for sig, handler in replaced.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(sig, handler)
    sys.exit(code if isinstance(code, int) else 0)
