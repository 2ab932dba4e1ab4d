"""`walks batch` benchmark: 200 real walk requests, sequentially and on a local 2-worker Dask cluster.

By default every extract of ../shared/data (eight real areas) is placed side by side in one
region file (as ``benchmarks/store_bench.py`` builds its region: shifted ids and coordinates)
and imported into the region store once; the 200 rows ask for a 1.2 km box in the middle of each
extract's copy, round robin, with budgets from 30 to 90 minutes, 1 or 2 cafés or the default
stops, and different seeds (a row that cannot be planned, e.g. two cafés where one exists,
is a failed row, as in a real batch). ``--separate-files`` runs the older set instead: four
extracts (Paris, Munich, Tokyo, Sydney) as separate files, 50 rows each, 20 to 60 minutes. The
graph cache is warmed first (one request per area), so both runs start from the same disk
state; then, in the same process run:

* sequentially: the same per-row code (``walks.batch.run_chunk``) in this process, one row
  after the other in the batch's order (by area), with the in-memory area cache emptied first
  (each area loaded once);
* on Dask: ``walks.batch.run_batch`` on a LocalCluster of 2 single-threaded worker processes,
  writing the GeoParquet through its parts.

It prints, for an idle-machine re-run to compare: walks per second each way, the speed-up (with
and without the cluster's start-up), CPU seconds per walk each way (user + system: the robust
figure on a shared machine), the speed-up those CPU times project for idle cores (start-up,
tail and finish included), the start-up time, the tasks and the tail (how far apart the worker
threads' last tasks ended), and the peak memory of each worker; and checks that both runs give
the same rows. ``--profile`` adds a cProfile breakdown of one worker
planning 25 rows of one area (its first load included); ``--overhead`` the CPU per walk of the
same 40 rows in this process and on a single worker (no two workers sharing the cores: the
worker's own overhead alone).

    PYTHONPATH=. python benchmarks/batch_bench.py [--requests 200] [--workers 2] [--profile]
        [--overhead] [--separate-files]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dask

from walks import batch, store
from walks.batch import BatchOptions, WalkRequest, read_requests, run_batch, run_chunk

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EXTRACTS = [
    DATA / "osm-paris-gare-du-nord-2021" / "map.osm",
    DATA / "osm-munich-altstadt-2020" / "munchen.osm.pbf",
    DATA / "osm-tokyo-kanda" / "map_tokyo_8.osm",
    DATA / "osm-sydney-glebe" / "map_glebe.osm",
]
STOPS = ["cafe", "cafe=2", ""]


def write_region(folder: Path, n: int) -> tuple[Path, Path]:
    """
    Place every extract of ../shared/data side by side in one region file and write ``n`` rows.

    The region is built as ``benchmarks/store_bench.py`` builds its (shifted ids and
    coordinates, one copy of each extract, sorted like a Geofabrik file). Each row asks for a
    1.2 km box (30 to 90 minutes) around the middle of one extract's copy (the median of its cafés), round robin,
    so every area is cut from the same imported store.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import store_bench  # the region builder of the store benchmark

    sources = [store_bench.load_source(store_bench.DATA / name) for name in store_bench.SOURCES]
    region = folder / "region.osm.pbf"
    store_bench.write_copies(region, sources, copies=1)
    boxes = []
    for cell, (nodes, _ways, _relations, (west, south)) in enumerate(sources):
        lon0 = store_bench.ORIGIN_LON + (cell % store_bench.COLUMNS) * store_bench.CELL_LON
        lat0 = store_bench.ORIGIN_LAT + (cell // store_bench.COLUMNS) * store_bench.CELL_LAT
        cafes = [node for node in nodes if ("amenity", "cafe") in node[3]] or nodes
        lon = sorted(node[1] for node in cafes)[len(cafes) // 2] + lon0 - west
        lat = sorted(node[2] for node in cafes)[len(cafes) // 2] + lat0 - south
        half_lat = 600 / 111_320
        half_lon = half_lat / math.cos(math.radians(lat))
        boxes.append(f"{lon - half_lon:.6f} {lat - half_lat:.6f} {lon + half_lon:.6f} "
                     f"{lat + half_lat:.6f}")  # fmt: skip
    lines = ["label,osm_file,bbox,minutes,stops,seed"]
    for i in range(n):
        box = ",".join(boxes[i % len(boxes)].split())
        minutes = 30 + (i * 7) % 61  # 2 cafés and their dwell need about 40 minutes
        lines.append(f'req{i},{region},"{box}",{minutes},{STOPS[i % len(STOPS)]},{i}')
    path = folder / "requests.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, region


def write_requests(folder: Path, n: int) -> Path:
    """Write the AREAS file: ``n`` rows over the extracts, round robin."""
    lines = ["label,osm_file,minutes,stops,seed"]
    for i in range(n):
        extract = EXTRACTS[i % len(EXTRACTS)]
        minutes = 20 + (i * 7) % 41
        stops = STOPS[i % len(STOPS)] if "tokyo" not in str(extract) else "cafe"
        lines.append(f"req{i},{extract},{minutes},{stops},{i}")
    path = folder / "requests.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cpu_s() -> float:
    """Return this process's CPU seconds (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Return this process's peak resident memory in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def profiled_chunk(requests: list[WalkRequest], options: BatchOptions) -> dict[str, float]:
    """Plan a chunk under cProfile (on a worker) and return CPU seconds per phase (cumulative)."""
    import cProfile
    import pstats

    phases = {
        "area load (stops_in_area)": ("api.py", "stops_in_area"),
        "  graph (load_graph)": ("loader.py", "load_graph"),
        "  features (load_features)": ("loader.py", "load_features"),
        "  stops (find_stops)": ("stops.py", "find_stops"),
        "planning (plan_walk)": ("walk.py", "plan_walk"),
        "start (resolve_start)": ("api.py", "resolve_start"),
        "summary (walk_summary)": ("export.py", "walk_summary"),
        "row columns (_summary_columns)": ("batch.py", "_summary_columns"),
    }
    profile = cProfile.Profile(time.process_time)  # CPU time: others' jobs do not count
    started, cpu0 = time.perf_counter(), cpu_s()
    profile.enable()
    run_chunk(requests, options)
    profile.disable()
    out = {"total (wall)": time.perf_counter() - started, "total (CPU)": cpu_s() - cpu0}
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for name, (file, func) in phases.items():
        out[name] = sum(v[3] for k, v in stats.items() if k[0].endswith(file) and k[2] == func)
    return out


def profile_worker(requests: list[WalkRequest], options: BatchOptions) -> None:
    """Print where a worker's time goes: 25 rows of one area on a 1-worker cluster."""
    from distributed import Client, LocalCluster

    first = batch.area_key(requests[0])
    chunk = [r for r in requests if batch.area_key(r) == first][:25]
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, dashboard_address=None, silence_logs=40
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(batch.ready_worker)
        phases = client.submit(profiled_chunk, chunk, options, pure=False).result()
    print(f"profile of one worker, {len(chunk)} rows of one area, first load included "
          "(CPU seconds by cProfile, its overhead in):")  # fmt: skip
    for name, seconds in phases.items():
        print(f"  {name:34s} {seconds:7.2f} s  {seconds / len(chunk):.3f} s/walk")


def overhead(requests: list[WalkRequest], options: BatchOptions, n: int = 40) -> None:
    """Print CPU s per walk of the same rows of one area in this process and on one worker."""
    from distributed import Client, LocalCluster

    first = batch.area_key(requests[0])
    rows = [r for r in requests if batch.area_key(r) == first][:n]
    batch.forget_areas()
    cpu0 = cpu_s()
    run_chunk(rows, options)
    here = (cpu_s() - cpu0) / len(rows)
    settings: dict[str, object] = dict(batch.QUIET_WORKERS)
    method = batch.worker_start_method()  # forked as the batch's own workers
    if method is not None:
        settings["distributed.worker.multiprocessing-method"] = method
    with dask.config.set(settings):
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None,
                               silence_logs=40)  # fmt: skip
    with cluster, Client(cluster) as client:
        client.run(batch.ready_worker)
        before = client.run(batch.worker_usage)
        size = max(1, len(rows) // 6)
        tasks = [client.submit(run_chunk, rows[i : i + size], options, pure=False)
                 for i in range(0, len(rows), size)]  # fmt: skip
        client.gather(tasks)
        after = client.run(batch.worker_usage)
    worker = sum(after[w][0] - before[w][0] for w in after) / len(rows)
    print(f"overhead check, {len(rows)} rows of one area, one at a time (no contention between "
          f"workers): CPU s per walk {here:.3f} in this process, {worker:.3f} on one Dask worker "
          f"({100 * (worker / here - 1):+.0f} %)")  # fmt: skip


def main() -> None:  # noqa: PLR0915 - one linear measurement script
    """Run the benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="add a worker's profile")
    parser.add_argument("--overhead", action="store_true",
                        help="add this process against one worker on the same rows")  # fmt: skip
    parser.add_argument("--separate-files", action="store_true",
                        help="four extracts as separate files instead of one imported region")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="walks-batch-bench-") as tmp:
        folder = Path(tmp)
        cache = folder / "cache"
        os.environ["WALKS_CACHE_DIR"] = str(cache)
        options = BatchOptions(no_terrain=True, cache_dir=str(cache))
        if args.separate_files:
            areas = write_requests(folder, args.requests)
            n_areas, where = len(EXTRACTS), f"{len(EXTRACTS)} extracts (separate files)"
        else:
            started = time.perf_counter()
            areas, region = write_region(folder, args.requests)
            built_s = time.perf_counter() - started
            started = time.perf_counter()
            info = store.import_extract(region, cache)
            print(f"region file {region.stat().st_size / 1e6:.1f} MB built in {built_s:.1f} s; "
                  f"imported once in {time.perf_counter() - started:.1f} s "
                  f"({info.ways:,} ways, {info.features:,} places)")  # fmt: skip
            n_areas, where = 8, "8 areas of one imported region (every extract of ../shared/data)"
        requests = read_requests(areas, options)
        n = len(requests)
        load0 = os.getloadavg()[0]
        print(f"{n} requests over {where}; load average {load0:.2f} on "
              f"{os.cpu_count()} cores (others' jobs lower the wall-clock figures)")  # fmt: skip

        started = time.perf_counter()
        run_chunk(requests[:n_areas], options)  # warm the graph cache on disk
        print(f"warm-up (graph cache of {n_areas} areas): "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

        batch.forget_areas()  # the sequential run starts without areas in memory, as a worker
        loads0 = batch.worker_usage()[2]
        started, cpu0 = time.perf_counter(), cpu_s()
        # in the batch's own order (by area), so one process loads each area once too
        sequential = run_chunk(sorted(requests, key=lambda r: (batch.area_key(r), r.row)), options)
        seq_s, seq_cpu = time.perf_counter() - started, cpu_s() - cpu0
        seq_loads = batch.worker_usage()[2] - loads0
        seq_ok = sum(r["status"] == "ok" for r in sequential)

        out = folder / "walks.parquet"
        started = time.perf_counter()
        report = run_batch(areas, out, options, workers=args.workers)
        par_s = time.perf_counter() - started
        import pyarrow.parquet as pq  # here: the workers are forked with this module imported

        rows = pq.read_table(out, columns=["row", "summary"]).to_pylist()
        same = [json.loads(r["summary"]) if r["summary"] else None for r in rows] == [
            json.loads(r["summary"]) if r.get("summary") else None
            for r in sorted(sequential, key=lambda r: r["row"])
        ]
        load1 = os.getloadavg()[0]
        work_s = report.compute_s
        print()
        print(f"{'':32s}{'sequential':>12s}{f'{args.workers} workers':>12s}")
        print(f"{'wall s (start-up included)':32s}{seq_s:12.1f}{par_s:12.1f}")
        print(f"{'walks/s (start-up included)':32s}{n / seq_s:12.2f}{n / par_s:12.2f}")
        print(f"{'walks/s (cluster running)':32s}{n / seq_s:12.2f}{n / work_s:12.2f}")
        print(f"{'CPU s per walk (user+sys)':32s}{seq_cpu / n:12.3f}"
              f"{report.worker_cpu_s / n:12.3f}")  # fmt: skip
        print(f"{'areas loaded':32s}{seq_loads:12d}{report.area_loads:12d}")
        print(f"{'rows ok':32s}{seq_ok:12d}{n - len(report.failed):12d}")
        print()
        print(f"speed-up, start-up included:     {seq_s / par_s:.2f}x  (target >= 1.8x)")
        print(f"speed-up, cluster running:       {seq_s / work_s:.2f}x")
        print(f"speed-up by CPU time:            {args.workers * seq_cpu / report.worker_cpu_s:.2f}x"
              f"  (what {args.workers} idle cores would give, tasks fully parallel)")  # fmt: skip
        rest_s = par_s - report.startup_s - work_s - report.finish_s
        idle_s = report.worker_cpu_s / args.workers + report.tail_s + par_s - work_s
        print(f"speed-up projected for idle cores: {seq_cpu / idle_s:.2f}x  (sequential CPU over "
              "the workers' CPU each + tail + start-up + finish: wall-clock figures on an idle "
              "machine, from this run's CPU times)")  # fmt: skip
        print(f"start-up (cluster + worker imports): {report.startup_s:.1f} s; tasks "
              f"{work_s:.1f} s; output combined while the cluster closes: {report.finish_s:.1f} s; "
              f"rest (reading, parts): {rest_s:.1f} s")  # fmt: skip
        print(f"{report.tasks} tasks over {report.threads} worker threads; the threads' last "
              f"tasks ended {report.tail_s:.2f} s apart (the tail)")  # fmt: skip
        print("peak memory per worker (max RSS): "
              + ", ".join(f"{v:.0f} MB" for v in report.worker_peak_mb)
              + f"; this process {peak_rss_mb():.0f} MB")  # fmt: skip
        print(f"rows equal between the sequential and the Dask run: {same}")
        print(f"load average before/after: {load0:.2f} / {load1:.2f}")
        if args.profile:
            print()
            profile_worker(requests, options)
        if args.overhead:
            print()
            overhead(requests, options)
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
