"""Many walks at once: one walk per row of an areas file, planned on a Dask cluster.

``run_batch`` reads the requests (``walks.batch_io``), orders them by area, and gives each
worker thread of the cluster (a ``LocalCluster`` of single-threaded processes forked from a
preloaded fork server by default, or an existing scheduler's workers) a contiguous share of
equal estimated cost (``plan_shares``: the budget's minutes, plus a load per area), so that a
worker loads an area once and plans all its rows from memory. The shares are sent in chunks of
one area as the threads finish, two at a time per thread; a chunk's size follows the work left
(large first, single rows at the end), and a thread whose share is done takes the far end of
the busiest share, so the threads finish together (``_Shares``). A worker plans its chunk,
writes the maps and GPX of its rows itself (``--maps``), and sends back only the compact rows;
the client writes each finished chunk at once as a Parquet part, so a killed batch resumes where
it stopped, and combines the parts, sorted by row, at the end. A row whose walk fails becomes a
row with ``status`` ``"failed"`` and the message, never a failed batch.

Each row is planned exactly as ``walks generate`` plans the same request (``walks.api``), and
its area is loaded through ``walks.api.stops_in_area`` (``walks.loader``), so it reads a
region store when the loader has one.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import itertools
import logging
import math
import os
import resource
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walks import _files, _validate
from walks._http import deadline
from walks._text import visible
from walks.api import AreaStops, GeneratedWalks, generate_walks, stops_in_area
from walks.batch_io import (
    DEFAULT_MINUTES,
    DEFAULT_RADIUS_M,
    KNOWN_COLUMNS,
    MAX_ROWS,
    SUMMARY_COLUMNS,
    BatchOptions,
    WalkRequest,
    cache_dir_of,
    check_out,
    combine_parts,
    fingerprint,
    json_text,
    read_requests,
    read_rows,
    resume,
    write_part,
)
from walks.batch_maps import gpx_name, index_html, map_texts, page_name
from walks.categories import load_categories, select_categories
from walks.errors import ExportError, UsageError, WalksError
from walks.export import walk_summary
from walks.hours import parse_local_time
from walks.settings import WALKING_SPEED_KPH

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from distributed import Client, Future, LocalCluster

    from walks.types import Walk

__all__ = [
    "DEFAULT_MINUTES",
    "DEFAULT_RADIUS_M",
    "KNOWN_COLUMNS",
    "MAX_ROWS",
    "BatchOptions",
    "BatchReport",
    "WalkRequest",
    "forget_areas",
    "plan_row",
    "read_requests",
    "run_batch",
    "run_chunk",
]

log = logging.getLogger(__name__)

#: Areas (graph, features, stops) a worker keeps in memory.
AREA_CACHE_SIZE = 8
#: Rows per task at most (and per part on disk).
MAX_CHUNK_ROWS = 25
#: Dask settings of a local cluster: no statistical profiler on the workers (it samples the
#: task's stack every 10 ms), and the event-loop tick, system and memory monitors every second
#: or so instead of every 20, 500 and 100 ms. An idle worker then spends about 0.3 % of a core
#: instead of about 2 % (measured): CPU that no walk needs. The dashboard still shows tasks and
#: memory. The scheduler's own work stealing is off: the batch places and balances its tasks
#: itself (``_Shares``), and a stolen task would load its area on a second worker.
QUIET_WORKERS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing": False,
}
#: Tasks per worker thread with the scheduler at once: the one running and the next, so the
#: thread never waits for the client, and little is committed to a thread at the end of the run.
IN_FLIGHT = 2
#: Estimated cost of a row in CPU seconds: a fixed part, and a part per minute of budget (a
#: ``km`` budget counts at the walking speed). Fitted on the 189 planned rows of
#: ``benchmarks/batch_bench.py`` (0.17 s + 1.25 ms per minute); the number of stops asked did not
#: change the cost there. Only the ratios matter: they balance the workers' shares.
ROW_COST_S = 0.17
MINUTE_COST_S = 0.00125
#: Estimated cost of loading an area (graph, features and stops from a warm region store).
AREA_LOAD_COST_S = 0.25
#: Automatic chunks aim at the work left divided by this many tasks per worker thread, so
#: they shrink as the run ends and every thread's last task is short (guided scheduling).
GUIDED_TASKS = 4
#: Modules a worker plans with (not pyarrow: only the client writes Parquet), imported by the
#: fork server a local cluster's workers are forked from (besides the main module), or by each
#: worker before its first task.
PRELOAD = ("distributed", "walks.batch", "walks.planner", "shapely")


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
    lost
        Row numbers whose task was lost with its worker (planned again by a re-run).
    startup_s
        Wall-clock seconds to start (or reach) the cluster and ready its workers.
    worker_cpu_s
        CPU seconds (user and system) the workers spent while this run's tasks ran.
    worker_peak_mb
        Peak memory (maximum resident set) of each worker, in MB, smallest first.
    compute_s
        Wall-clock seconds from the first task sent to the last row written.
    finish_s
        Wall-clock seconds to combine the output (and the index page) and close the cluster.
    area_loads
        Areas the workers loaded in this run (an area is loaded once per worker that plans
        rows of it, and again when it fell out of the worker's memory).
    tail_s
        Wall-clock seconds between the first and the last worker thread finishing its last
        task (0 with one thread): how unevenly the run ended.
    tasks
        Tasks sent to the cluster in this run.
    threads
        Worker threads the rows were shared among (the cluster's, with ``scheduler``).
    """

    out: Path
    total: int
    computed: tuple[int, ...]
    skipped: tuple[int, ...]
    failed: tuple[int, ...]
    complete: bool
    maps: Path | None = None
    lost: tuple[int, ...] = field(default=())
    startup_s: float = 0.0
    worker_cpu_s: float = 0.0
    worker_peak_mb: tuple[float, ...] = field(default=())
    compute_s: float = 0.0
    finish_s: float = 0.0
    area_loads: int = 0
    tail_s: float = 0.0
    tasks: int = 0
    threads: int = 0


# --------------------------------------------------------------------------- one row (worker)

_AREAS: OrderedDict[tuple[Any, ...], AreaStops] = OrderedDict()
_AREAS_LOCK = threading.Lock()
_LOADS = [0]  # areas this process has loaded (a worker reports it)


def _names(request: WalkRequest) -> tuple[str, ...]:
    """Return the categories a row's area is loaded with (``walks generate``'s default too)."""
    from walks.api import DEFAULT_STOPS  # noqa: PLC0415

    return tuple(n for n, _ in (request.stops if request.stops is not None else DEFAULT_STOPS))


def area_key(request: WalkRequest) -> tuple[str, str, tuple[str, ...], bool, str]:
    """
    Return what a row's loaded area depends on, besides the batch's shared settings.

    Rows with the same key are planned from the same ``AreaStops``; the batch keeps them
    together in its chunks and on one worker.

    Parameters
    ----------
    request
        The row.

    Returns
    -------
    tuple
        The extract, the area, the categories loaded, whether they are optional, and the
        departure.
    """
    return (
        request.osm_file or "",
        request.area.key if request.area is not None else "",
        _names(request),
        request.stops is None,
        request.at or "",
    )


def _departure(request: WalkRequest) -> dt.datetime | None:
    """Return a row's departure as ``walks generate --at`` reads it, or None."""
    if request.at is None:
        return None
    return _validate.check_departure(parse_local_time(request.at))


def _area_stops(request: WalkRequest, options: BatchOptions) -> AreaStops:
    """
    Load a row's area and its stops, or take them from this worker's memory.

    The memory is keyed by the extract's size and modification time besides ``area_key``, so
    a changed file is loaded again.

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
    version = None
    if request.osm_file is not None:
        with contextlib.suppress(OSError):  # a missing file fails in stops_in_area, as it should
            stat = Path(request.osm_file).stat()
            version = (stat.st_size, stat.st_mtime_ns)
    key = (
        area_key(request), version, options.landmark, options.no_terrain,
        options.category_files, options.cache_dir,
    )  # fmt: skip
    with _AREAS_LOCK:
        found = _AREAS.get(key)
        if found is not None:
            _AREAS.move_to_end(key)
            return found
        found = stops_in_area(
            request.area, list(_names(request)), osm_file=request.osm_file,
            category_files=tuple(options.category_files), landmark=options.landmark,
            at=_departure(request), skip_missing=request.stops is None,
            no_terrain=options.no_terrain, cache_dir=cache_dir_of(options),
            attempts=options.attempts,
        )  # fmt: skip
        _AREAS[key] = found
        _LOADS[0] += 1
        while len(_AREAS) > AREA_CACHE_SIZE:
            _AREAS.popitem(last=False)
        return found


def forget_areas() -> None:
    """Empty this process's in-memory area cache (for benchmarks and long-lived workers)."""
    with _AREAS_LOCK:
        _AREAS.clear()


def plan_row(request: WalkRequest, options: BatchOptions) -> GeneratedWalks:
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
    GeneratedWalks
        The walks (the best first) and what they were planned from.

    Raises
    ------
    walks.errors.WalksError
        When the walk cannot be planned (the row then fails).
    """
    found = _area_stops(request, options)
    return generate_walks(
        None, None if request.stops is None else list(request.stops), found=found,
        start=request.start, end=request.end, minutes=request.minutes, km=request.km,
        order=request.order, at=_departure(request), seed=request.seed,
        no_terrain=options.no_terrain, cache_dir=cache_dir_of(options),
        nominatim_url=options.nominatim_url, attempts=options.attempts,
    )  # fmt: skip


def _row_record(
    request: WalkRequest, options: BatchOptions, maps_dir: Path | None = None
) -> dict[str, Any]:
    """
    Plan one row and describe it as an output row; write its map and GPX with ``maps_dir``.

    Parameters
    ----------
    request
        The row.
    options
        The batch's settings.
    maps_dir
        Where this worker writes the row's map and GPX, or None.

    Returns
    -------
    dict
        The row's columns.

    Raises
    ------
    ExportError
        When the map or GPX cannot be written (the batch stops: the disk needs a look).
    """
    record = _request_columns(request)
    if request.error is not None:
        return record | {"status": "failed", "error": request.error}
    try:
        result = plan_row(request, options)
        best = result.walks[0]
        summary = walk_summary(best, departure=result.departure)
        record |= _summary_columns(summary, best)
        if maps_dir is not None:
            texts = map_texts(request.row, request.label, result, cdn=options.cdn_map,
                              cache_dir=cache_dir_of(options))  # fmt: skip
            _write_maps(maps_dir, texts)
            record["map"] = page_name(request.row)
            record["gpx"] = gpx_name(request.row)
    except ExportError:
        raise
    except WalksError as err:
        return record | {"status": "failed", "error": visible(str(err), one_line=True)}
    except Exception as err:  # a bug of ours fails its row, not the batch
        log.debug("unexpected error in row %d", request.row, exc_info=True)
        message = f"unexpected {type(err).__name__}: {err} (a bug in walks: please report it)"
        return record | {"status": "error", "error": visible(message, one_line=True)}
    return record | {"status": "ok"}


def _write_maps(maps_dir: Path, texts: dict[str, str]) -> None:
    """
    Write a row's map and GPX (on the worker: the folder must be shared with the client).

    Parameters
    ----------
    maps_dir
        The maps folder.
    texts
        ``{file name: text}``.

    Raises
    ------
    ExportError
        When a file cannot be written.
    """
    try:
        for name, text in texts.items():
            _files.write_atomic(maps_dir / name, text)
    except OSError as err:
        msg = (
            f"cannot write the map {str(maps_dir)!r} ({err.strerror or err}): on a cluster, "
            "--maps must be a folder every worker can write; re-run to resume"
        )
        raise ExportError(msg) from err


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
        "order": ",".join(request.order) if request.order else None,
        "at": request.at,
        "seed": request.seed,
        "start": request.start,
        "end": request.end,
    }


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
        "warnings": json_text(summary["warnings"]),
        "stops": json_text(summary["stops"]),
        "directions": json_text(summary["directions"]),
        "summary": json_text(summary),
        "attribution": summary["attribution"],
        "geometry": shapely.to_wkb(line),
    }


def run_chunk(
    requests: list[WalkRequest], options: BatchOptions, maps_dir: Path | None = None
) -> list[dict[str, Any]]:
    """
    Plan a chunk of rows on a worker (the task sent to Dask).

    Parameters
    ----------
    requests
        The rows.
    options
        The batch's settings.
    maps_dir
        Where to write the rows' maps and GPX, or None.

    Returns
    -------
    list of dict
        Per row, its columns.
    """
    if options.timeout_s is None:
        return [_row_record(r, options, maps_dir) for r in requests]
    with deadline(options.timeout_s):  # --timeout holds on the workers too, per chunk
        return [_row_record(r, options, maps_dir) for r in requests]


def ready_worker() -> None:
    """Import what a worker plans with (``PRELOAD``), so the first task does not pay for it."""
    import importlib  # noqa: PLC0415

    for name in PRELOAD:
        importlib.import_module(name)


def worker_usage() -> tuple[float, float, int]:
    """
    Return this process's CPU seconds (user and system), peak memory and areas loaded.

    Returns
    -------
    tuple
        ``(cpu_s, peak_rss_mb, areas_loaded)``.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, _LOADS[0]


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
        The AREAS file (see ``walks.batch_io.read_requests``).
    out
        The GeoParquet file to write; its parts are kept in ``<out>.parts/`` until the end.
    options
        The command's defaults and shared settings (``maps`` is set from ``maps_dir``).
    maps_dir
        Write each walk's map (``walk-NNNNNN.html``) and GPX here, and ``index.html``: a map of
        all walks, each linking to its page. The workers write them: on a cluster, a folder
        they share. None writes none.
    workers
        Workers of the local cluster (default: the CPU cores); ignored with ``scheduler``.
    scheduler
        The address of a running Dask scheduler (``tcp://host:8786``), or None for a local
        cluster.
    processes
        Local workers as processes (True) or threads of this process.
    chunk_size
        Rows per task (and per part); None sizes each task from the estimated work left
        (``GUIDED_TASKS``): large tasks first, single rows at the end, at most
        ``MAX_CHUNK_ROWS`` rows.
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
        For a bad ``workers`` / ``chunk_size``, an unreachable scheduler, or workers that
        cannot run walks.
    """
    if workers is not None:
        _validate.check_int("workers", workers, 1, 1024, example="--workers 4")
    if chunk_size is not None:
        _validate.check_int("chunk_size", chunk_size, 1, 10_000, example="--chunk-size 10")
    options = replace(options, maps=maps_dir is not None)
    # a local cluster's workers are forked from a server that imports walks meanwhile
    method = worker_start_method() if processes and scheduler is None else None
    requests = read_requests(areas, options)
    _check_categories(options)  # options every row would fail on: refused at once
    check_out(out, maps_dir, overwrite=overwrite)
    parts = out.with_name(out.name + ".parts")
    done = resume(parts, fingerprint(areas, options), maps_dir)
    invalid = [r for r in requests if r.error is not None and r.row not in done]
    pending = [r for r in requests if r.error is None and r.row not in done]
    statuses = dict(done)
    if invalid:  # rows that need no planning are written at once, as a part of their own
        records = [_row_record(r, options) for r in invalid]
        write_part(parts, records)
        statuses |= {r["row"]: r["status"] for r in records}
    computed = [r.row for r in invalid]
    if progress is not None:
        progress(len(statuses), len(requests))
    run = _Run()
    if pending:
        n_workers = workers or os.cpu_count() or 1
        base = len(statuses)
        import_stores(pending, options)
        shared_maps = maps_dir.absolute() if maps_dir is not None else None  # workers' own cwd
        run = _compute(
            pending, chunk_size, options, parts=parts, maps_dir=shared_maps, workers=n_workers,
            scheduler=scheduler, processes=processes, start_method=method,
            progress=(lambda k: progress(base + k, len(requests))) if progress else None,
            stop_after=stop_after,
        )  # fmt: skip
        statuses |= run.statuses
        computed += list(run.statuses)
        if run.statuses:
            log.info(
                "planned %d rows in %.1f s after a start-up of %.1f s; %s; %d areas loaded",
                len(run.statuses), run.compute_s, run.startup_s,
                f"{run.worker_cpu_s / len(run.statuses):.3f} CPU s per walk, peak memory "
                + ", ".join(f"{mb:.0f}" for mb in run.worker_peak_mb) + " MB per worker"
                if run.worker_peak_mb else "workers' CPU and memory not measured (threads)",
                run.area_loads,
            )  # fmt: skip
    failed = tuple(sorted(row for row, status in statuses.items() if status != "ok"))
    report = BatchReport(
        out, len(requests), tuple(sorted(computed)), tuple(sorted(done)), failed,
        complete=False, lost=tuple(sorted(run.lost)), startup_s=run.startup_s,
        worker_cpu_s=run.worker_cpu_s, worker_peak_mb=run.worker_peak_mb,
        compute_s=run.compute_s, area_loads=run.area_loads, tail_s=run.tail_s, tasks=run.tasks,
        threads=run.threads,
    )  # fmt: skip
    started = time.perf_counter()
    try:
        if run.stopped or run.lost:
            return report
        _finish(parts, out, len(requests), maps_dir, options)
    finally:
        if run.closing is not None:  # the cluster shut down while the output was combined
            run.closing.join()
    index = maps_dir / "index.html" if maps_dir is not None else None
    return replace(report, complete=True, maps=index, finish_s=time.perf_counter() - started)


def import_stores(requests: list[WalkRequest], options: BatchOptions) -> None:
    """
    Import each extract of the batch into its region store once, before any task.

    The loader imports an extract on its first use (``walks.loader.load_graph``): in a batch,
    every worker's first load would import the same file at the same time. Importing it here
    once leaves the workers a current store to read.

    Parameters
    ----------
    requests
        The rows to plan.
    options
        The batch's settings (the cache holds the stores).
    """
    from walks import store  # noqa: PLC0415

    cache = cache_dir_of(options)
    for name in sorted({r.osm_file for r in requests if r.osm_file is not None}):
        path = Path(name)
        try:
            if store.has_current_store(path, cache):
                continue
            log.info("importing %s into the region store once, before the workers start",
                     visible(path.name, one_line=True))  # fmt: skip
            store.import_extract(path, cache)
        except (OSError, WalksError) as err:  # the rows of this file fail, or read it, as alone
            log.warning("%s", visible(f"not imported: {path.name}: {err}", one_line=True))


def _finish(
    parts: Path, out: Path, total: int, maps_dir: Path | None, options: BatchOptions
) -> None:
    """
    Combine the parts into the output (and draw the index page), then remove the parts.

    Parameters
    ----------
    parts
        The parts folder.
    out
        The GeoParquet file.
    total
        Rows in the AREAS file (each must be in exactly one part).
    maps_dir
        The maps folder, or None.
    options
        The batch's settings.

    Raises
    ------
    ExportError
        When the output or the index cannot be written, or a row is missing from the parts.
    """
    staged = combine_parts(parts, out, total)
    try:
        if maps_dir is not None:
            columns = ["row", "label", "status", "length_m", "map", "geometry"]
            page = index_html(read_rows(staged, columns), cdn=options.cdn_map,
                              cache_dir=cache_dir_of(options))  # fmt: skip
            _files.write_atomic(maps_dir / "index.html", page)
        staged.replace(out)
    except OSError as err:
        msg = f"cannot write {str(out)!r} ({err.strerror or err}): choose a writable place"
        raise ExportError(msg) from err
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()
    shutil.rmtree(parts, ignore_errors=True)


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


def row_cost(request: WalkRequest) -> float:
    """
    Estimate a row's planning cost (CPU seconds, its area's load not included).

    Parameters
    ----------
    request
        The row.

    Returns
    -------
    float
        ``ROW_COST_S`` plus ``MINUTE_COST_S`` per minute of budget (a ``km`` budget at the
        walking speed; neither: the default minutes).
    """
    minutes = request.minutes
    if minutes is None:
        minutes = DEFAULT_MINUTES if request.km is None else request.km / WALKING_SPEED_KPH * 60
    return ROW_COST_S + MINUTE_COST_S * minutes


def plan_shares(requests: list[WalkRequest], n_shares: int) -> list[list[WalkRequest]]:
    """
    Share rows among worker threads by area, in shares of equal estimated cost.

    The rows are ordered by area (``area_key``, then row) and cut into ``n_shares`` contiguous
    shares whose estimated costs (``row_cost``, plus ``AREA_LOAD_COST_S`` for each area a share
    starts) are as equal as the rows allow, so an area is loaded by one worker (two for an area
    cut between two shares) rather than by every worker. The shares depend only on the rows and
    their number, never on timing.

    Parameters
    ----------
    requests
        The rows to plan.
    n_shares
        Worker threads (shares).

    Returns
    -------
    list of list
        Per share, its rows in order (a share may be empty when rows are fewer than shares).
    """
    ordered = sorted(requests, key=lambda r: (area_key(r), r.row))
    weights = [
        row_cost(r) + (AREA_LOAD_COST_S if i == 0 or area_key(ordered[i - 1]) != area_key(r) else 0)
        for i, r in enumerate(ordered)
    ]
    ends = list(itertools.accumulate(weights))
    total = ends[-1] if ends else 0.0
    cuts = [0]
    for k in range(1, n_shares):
        aim = total * k / n_shares
        at = bisect.bisect_left(ends, aim)  # the row whose end first reaches the aim
        if at < len(ends) and ends[at] - aim > aim - (ends[at] - weights[at]):
            at -= 1  # that row ends farther past the aim than it starts before it: leave it out
        cuts.append(min(len(ordered), max(cuts[-1], at + 1)))
    cuts.append(len(ordered))
    return [ordered[a:b] for a, b in itertools.pairwise(cuts)]


class _Shares:
    """The rows not yet sent, per worker thread, cut into chunks as the threads ask for work.

    Each thread takes chunks from the front of its own share (``plan_shares``); a thread whose
    share is done takes from the far end of the share with the most estimated work left, so
    both ends meet. A chunk holds rows of one area. With a fixed ``size`` it holds up to that
    many rows; otherwise its estimated cost aims at the work left over ``GUIDED_TASKS`` tasks
    per thread (at most ``MAX_CHUNK_ROWS`` rows, at least one), so chunks shrink towards the end
    and the threads finish together. Which rows go together never changes a row's result.

    Parameters
    ----------
    requests
        The rows to plan.
    n_threads
        Worker threads.
    size
        Rows per chunk, or None for sizes from the work left.
    """

    def __init__(self, requests: list[WalkRequest], n_threads: int, size: int | None) -> None:
        self.queues = [collections.deque(share) for share in plan_shares(requests, n_threads)]
        self.left = [sum(map(row_cost, q)) for q in self.queues]
        self.size = size

    def take(self, thread: int) -> list[WalkRequest] | None:
        """
        Return a thread's next chunk: from its own share, else from the far end of the busiest.

        Parameters
        ----------
        thread
            The thread's index.

        Returns
        -------
        list or None
            The chunk's rows in row order, or None when no row is left.
        """
        own = bool(self.queues[thread])
        if not own:
            thread = max(range(len(self.queues)), key=lambda t: (self.left[t], -t))
            if not self.queues[thread]:
                return None
        queue = self.queues[thread]
        total = sum(self.left)
        aim = math.inf if self.size is not None else total / (GUIDED_TASKS * len(self.queues))
        if not own:
            aim = min(aim, self.left[thread] / 2)  # the owner keeps at least half
        rows = self.size or MAX_CHUNK_ROWS
        key = area_key(queue[0] if own else queue[-1])
        chunk: list[WalkRequest] = []
        cost = 0.0
        while queue and len(chunk) < rows and (not chunk or cost < aim):
            following = queue[0] if own else queue[-1]
            if area_key(following) != key:
                break
            chunk.append(queue.popleft() if own else queue.pop())
            cost += row_cost(following)
        self.left[thread] = max(0.0, self.left[thread] - cost) if queue else 0.0
        return sorted(chunk, key=lambda r: r.row)


@dataclass
class _Run:
    """What the Dask part of a run did (see ``_compute``)."""

    statuses: dict[int, str] = field(default_factory=dict)
    lost: list[int] = field(default_factory=list)
    stopped: bool = False
    startup_s: float = 0.0
    worker_cpu_s: float = 0.0
    worker_peak_mb: tuple[float, ...] = ()
    compute_s: float = 0.0
    closing: threading.Thread | None = None
    area_loads: int = 0
    tail_s: float = 0.0
    tasks: int = 0
    threads: int = 0


def worker_start_method() -> str | None:
    """
    Start multiprocessing's fork server with walks imported, for a local cluster's workers.

    Forked from a server that imported ``PRELOAD`` and the main module once, a worker starts
    without importing anything (about a CPU-second less each) and exits without tearing the
    interpreter down (its cluster closes in hundredths of a second instead of about half a
    second). The server gets the environment Dask gives a worker it spawns
    (``distributed.nanny.pre-spawn-environ``: one BLAS thread, a fixed hash seed, ...), which
    the nanny sets in this process anyway.

    Returns
    -------
    str or None
        ``"forkserver"``, or None where it is unavailable (the workers are then spawned).
    """
    import multiprocessing  # noqa: PLC0415
    from multiprocessing import forkserver  # noqa: PLC0415

    import dask  # noqa: PLC0415

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    environ = {
        name: os.environ.get(name, str(value))
        for name, value in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
        if value is not None
    }
    if environ.get("PYTHONHASHSEED", os.environ.get("PYTHONHASHSEED")) in (None, "0"):
        environ["PYTHONHASHSEED"] = "6640"  # as a nanny spawns its worker
    os.environ.update(environ)
    multiprocessing.get_context("forkserver").set_forkserver_preload(["__main__", *PRELOAD])
    try:
        forkserver.ensure_running()  # a no-op when running; it imports in the background
    except OSError as err:  # pragma: no cover - e.g. no Unix sockets
        log.debug("no fork server (%s): spawning the workers", err)
        return None
    return "forkserver"


def _connect(
    scheduler: str | None, workers: int, *, processes: bool, start_method: str | None
) -> tuple[Client, LocalCluster | None]:
    """
    Start a local cluster, or reach a running scheduler.

    Parameters
    ----------
    scheduler
        The scheduler's address, or None for a local cluster.
    workers
        Local workers (single-threaded).
    processes
        Local workers as processes.
    start_method
        How to start them (``worker_start_method``), or None for Dask's default.

    Returns
    -------
    tuple
        The client and the local cluster (None with ``scheduler``).

    Raises
    ------
    UsageError
        When the scheduler cannot be reached.
    """
    import dask  # noqa: PLC0415
    from distributed import Client, LocalCluster  # noqa: PLC0415

    try:
        if scheduler is not None:
            return Client(scheduler, timeout="20s"), None  # type: ignore[no-untyped-call]
        settings: dict[str, object] = dict(QUIET_WORKERS)
        if start_method is not None:
            settings["distributed.worker.multiprocessing-method"] = start_method
        with dask.config.set(settings):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers, threads_per_worker=1, processes=processes,
                dashboard_address=":0", silence_logs=logging.ERROR,
            )  # fmt: skip
        return Client(cluster), cluster  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as err:
        msg = f"cannot reach the Dask scheduler {scheduler!r} ({err}): check --scheduler"
        raise UsageError(msg) from err


def worker_threads(client: Client) -> list[str]:
    """
    Return the cluster's worker threads, as their workers' addresses (one per thread).

    Parameters
    ----------
    client
        The Dask client.

    Returns
    -------
    list of str
        Each worker's address once per thread, workers sorted, so that the shares of one
        worker's threads are neighbours and share their areas' loads.
    """
    threads = client.nthreads()  # type: ignore[no-untyped-call]
    return [address for address in sorted(threads) for _ in range(max(1, int(threads[address])))]


def _compute(
    pending: list[WalkRequest],
    size: int | None,
    options: BatchOptions,
    *,
    parts: Path,
    maps_dir: Path | None,
    workers: int,
    scheduler: str | None,
    processes: bool,
    start_method: str | None,
    progress: Callable[[int], None] | None,
    stop_after: int | None,
) -> _Run:
    """
    Run the rows on Dask, writing each finished chunk's part at once.

    Parameters
    ----------
    pending
        The rows to plan.
    size
        Rows per chunk, or None for sizes from the work left (``_Shares``).
    options
        The batch's settings.
    parts
        Where the parts go.
    maps_dir
        Where the workers write maps, or None.
    workers, scheduler, processes
        As for ``run_batch``.
    start_method
        How local workers start (``worker_start_method``), or None for Dask's default.
    progress
        Called with the rows finished so far in this run.
    stop_after
        As for ``run_batch``.

    Returns
    -------
    _Run
        The rows' statuses, the rows lost with their worker, whether the run stopped early,
        and the start-up time, CPU time and peak memory of the workers.
    """
    started = time.perf_counter()
    client, cluster = _connect(scheduler, workers, processes=processes, start_method=start_method)
    run = _Run()
    try:
        _ready(client)
        threads = worker_threads(client)  # the cluster's own, not this machine's cores
        run.threads = len(threads)
        run.startup_s = time.perf_counter() - started
        before = client.run(worker_usage) if processes or scheduler else {}
        sent = time.perf_counter()
        feeder = _Feeder(client, _Shares(pending, max(1, len(threads)), size), threads,
                         (options, maps_dir))  # fmt: skip
        _collect(feeder, run, parts, progress, stop_after)
        run.compute_s = time.perf_counter() - sent
        run.tail_s, run.tasks = feeder.tail_s(), feeder.sent
        after = client.run(worker_usage) if before else {}
        run.worker_cpu_s = sum(after[w][0] - before[w][0] for w in after if w in before)
        run.worker_peak_mb = tuple(sorted(v[1] for v in after.values()))
        run.area_loads = sum(after[w][2] - before[w][2] for w in after if w in before)
    except BaseException:
        _close(client, cluster)
        raise
    # the cluster shuts down while the client combines the output
    run.closing = threading.Thread(target=_close, args=(client, cluster), name="walks-close")
    run.closing.start()
    return run


def _collect(
    feeder: _Feeder,
    run: _Run,
    parts: Path,
    progress: Callable[[int], None] | None,
    stop_after: int | None,
) -> None:
    """
    Send the chunks and write each finished one's part at once, until no row is left.

    Parameters
    ----------
    feeder
        Sends the chunks.
    run
        Collects the rows' statuses, the rows lost, and whether the run stopped.
    parts
        Where the parts go.
    progress
        Called with the rows finished so far in this run.
    stop_after
        As for ``run_batch``.

    Raises
    ------
    ExportError
        When a worker cannot write a map (the batch stops).
    """
    from distributed import as_completed  # noqa: PLC0415

    flowing = as_completed(feeder.start())  # type: ignore[no-untyped-call]
    written = 0
    for future in flowing:
        thread, rows = feeder.finished(future)
        following = feeder.submit(thread)  # before this part is written: the thread never waits
        if following is not None:
            flowing.add(following)  # type: ignore[no-untyped-call]
        try:
            records = future.result()
        except ExportError:
            raise
        except Exception as err:  # noqa: BLE001 - a lost worker loses its chunk, not the batch
            log.warning("a task failed (%s): its rows are left for a re-run", err)
            run.lost += rows
            continue
        write_part(parts, records)
        run.statuses |= {r["row"]: r["status"] for r in records}
        written += 1
        if progress is not None:
            progress(len(run.statuses))
        if stop_after is not None and written >= stop_after:
            feeder.cancel()
            run.stopped = True
            return


class _Feeder:
    """Send each worker thread its chunks (``_Shares``) a few at a time, as they finish.

    Only ``IN_FLIGHT`` chunks per thread are with the scheduler at once, so it holds a bounded
    number of rows whatever the size of the batch, and little is committed to a thread when the
    run ends.

    Parameters
    ----------
    client
        The Dask client.
    shares
        The rows left, per thread.
    threads
        Per thread, its worker's address (empty: any worker).
    args
        The options and the maps folder, passed to ``run_chunk`` after the chunk.
    """

    def __init__(
        self,
        client: Client,
        shares: _Shares,
        threads: list[str],
        args: tuple[BatchOptions, Path | None],
    ) -> None:
        self.client = client
        self.shares = shares
        self.threads = threads
        self.args = args
        self.flying: dict[object, tuple[Future[list[dict[str, Any]]], int, list[int]]] = {}
        self.ended: dict[int, float] = {}  # per thread, when its last task came back
        self.sent = 0

    def start(self) -> list[Future[list[dict[str, Any]]]]:
        """
        Send the first ``IN_FLIGHT`` chunks of each thread.

        Returns
        -------
        list of Future
            The tasks sent.
        """
        n = len(self.shares.queues)
        sent = (self.submit(t) for _ in range(IN_FLIGHT) for t in range(n))
        return [f for f in sent if f is not None]

    def submit(self, thread: int) -> Future[list[dict[str, Any]]] | None:
        """
        Send a thread its next chunk.

        Parameters
        ----------
        thread
            The thread's index.

        Returns
        -------
        Future or None
            The task, or None when no row is left.
        """
        chunk = self.shares.take(thread)
        if chunk is None:
            return None
        where: dict[str, Any] = {}
        if self.threads:
            where = {"workers": [self.threads[thread]], "allow_other_workers": True}
        future = self.client.submit(run_chunk, chunk, *self.args, pure=False, **where)
        self.flying[future.key] = (future, thread, [r.row for r in chunk])
        self.sent += 1
        return future

    def finished(self, future: Future[list[dict[str, Any]]]) -> tuple[int, list[int]]:
        """
        Forget a finished task.

        Parameters
        ----------
        future
            The task.

        Returns
        -------
        tuple
            The thread it was sent to and its rows.
        """
        _, thread, rows = self.flying.pop(future.key)
        self.ended[thread] = time.perf_counter()
        return thread, rows

    def tail_s(self) -> float:
        """
        Return the seconds between the first and the last thread's last task coming back.

        Returns
        -------
        float
            0 with fewer than two threads that ran tasks.
        """
        return max(self.ended.values()) - min(self.ended.values()) if self.ended else 0.0

    def cancel(self) -> None:
        """Cancel the tasks in flight (their rows are planned by a re-run)."""
        for future, _, _ in self.flying.values():
            future.cancel()  # type: ignore[no-untyped-call]
        self.flying.clear()


def _ready(client: Client) -> None:
    """
    Have every worker import what it plans with (start-up, not the first task, pays for it).

    Parameters
    ----------
    client
        The Dask client.

    Raises
    ------
    UsageError
        When a worker cannot run walks (e.g. walks is not installed there).
    """
    try:
        client.run(ready_worker)
    except Exception as err:  # e.g. a worker without walks: it cannot even load the function
        msg = (
            f"the Dask workers cannot run walks ({type(err).__name__}: {err}): install "
            "walks[batch] in the workers' environment, the same version as here"
        )
        raise UsageError(visible(msg, one_line=True)) from err


def _close(client: Client, cluster: LocalCluster | None) -> None:
    """
    Close the client and the local cluster (None with a scheduler: it keeps running).

    Parameters
    ----------
    client
        The Dask client.
    cluster
        The local cluster, or None.
    """
    client.close()  # type: ignore[no-untyped-call]
    if cluster is not None:
        cluster.close()
