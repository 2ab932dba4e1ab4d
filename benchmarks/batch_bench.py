"""`walks batch` benchmark: 200 real walk requests, sequentially and on a local 2-worker Dask cluster.

The requests spread over four real extracts in ../shared/data (Paris, Munich, Tokyo, Sydney; the
region store of the region-data issue is not there yet, so each extract stands for one area of
a region): 50 each, with budgets from 20 to 60 minutes, 1 or 2 cafés or the default stops, and
different seeds. The graph cache is warmed first (one request per extract), so both runs start
from the same disk state; then, in the same process run:

* sequentially: the same per-row code (``walks.batch.run_chunk``) in this process, one row
  after the other, with the in-memory area cache emptied first;
* on Dask: ``walks.batch.run_batch`` on a LocalCluster of 2 worker processes (1 thread each),
  writing the GeoParquet, its parts and (not here) maps.

Prints walks per second of each, the speed-up, seconds per walk and the peak memory (max RSS)
of each worker, and checks that both give the same rows. The machine has 2 cores shared with
other jobs: the load average is printed before and after, since a loaded machine lowers the
speed-up.

    PYTHONPATH=. python benchmarks/batch_bench.py [--requests 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd

from walks import batch
from walks.batch import BatchOptions, read_requests, run_batch, run_chunk

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EXTRACTS = [
    DATA / "osm-paris-gare-du-nord-2021" / "map.osm",
    DATA / "osm-munich-altstadt-2020" / "munchen.osm.pbf",
    DATA / "osm-tokyo-kanda" / "map_tokyo_8.osm",
    DATA / "osm-sydney-glebe" / "map_glebe.osm",
]
STOPS = ["cafe", "cafe=2", ""]


def write_requests(folder: Path, n: int) -> Path:
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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:  # noqa: PLR0915 - one linear measurement script
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="walks-batch-bench-") as tmp:
        folder = Path(tmp)
        cache = folder / "cache"
        os.environ["WALKS_CACHE_DIR"] = str(cache)
        options = BatchOptions(no_terrain=True, cache_dir=str(cache))
        areas = write_requests(folder, args.requests)
        requests = read_requests(areas, options)
        print(
            f"{len(requests)} requests over {len(EXTRACTS)} extracts; load average "
            f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores",
            flush=True,
        )

        started = time.perf_counter()
        run_chunk([requests[i] for i in range(len(EXTRACTS))], options)  # warm the graph cache
        print(
            f"warm-up (graph cache of {len(EXTRACTS)} extracts): {time.perf_counter() - started:.1f} s"
        )

        batch.forget_areas()  # the sequential run starts without areas in memory, as a worker
        rss_before = peak_rss_mb()
        started, cpu_before = time.perf_counter(), cpu_s()
        sequential = run_chunk(requests, options)
        seq_s = time.perf_counter() - started
        seq_cpu = cpu_s() - cpu_before
        ok = sum(r["status"] == "ok" for r, _ in sequential)
        print(
            f"sequential: {seq_s:.1f} s, {len(requests) / seq_s:.2f} walks/s, "
            f"{seq_s / len(requests):.3f} s/walk ({ok} ok), CPU {seq_cpu / len(requests):.3f} s/walk; peak RSS of this process "
            f"{peak_rss_mb():.0f} MB (was {rss_before:.0f} MB before)",
            flush=True,
        )

        out = folder / "walks.parquet"
        peaks: dict[str, float] = {}

        def progress(done: int, total: int) -> None:
            if done == total:
                print(f"  {done}/{total} rows", flush=True)

        from distributed import Client, LocalCluster

        started = time.perf_counter()
        report = run_batch(areas, out, options, workers=args.workers, progress=progress)
        par_s = time.perf_counter() - started
        print(
            f"dask ({args.workers} workers, cluster start included): {par_s:.1f} s, "
            f"{len(requests) / par_s:.2f} walks/s, {par_s / len(requests):.3f} s/walk"
        )
        print(f"speed-up: {seq_s / par_s:.2f}x (target >= 1.8x on 2 idle cores)")

        # the same batch again on a cluster kept here, to read each worker's peak memory
        # (run_batch closes its own cluster) and to time without the cluster's start-up
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                dashboard_address=None,
                silence_logs=40,
            ) as cluster,
            Client(cluster) as client,
        ):
            size = max(1, len(requests) // (8 * args.workers))
            chunks = [requests[i : i + size] for i in range(0, len(requests), size)]
            cpu0 = client.run(cpu_s)
            started = time.perf_counter()
            futures = [client.submit(run_chunk, c, options, pure=False) for c in chunks]
            client.gather(futures)
            warm_s = time.perf_counter() - started
            peaks = client.run(peak_rss_mb)
            cpu1 = client.run(cpu_s)
        worker_cpu = sum(cpu1[w] - cpu0[w] for w in cpu1)
        print(
            f"worker CPU: {worker_cpu / len(requests):.3f} s/walk; CPU-bound speed-up on "
            f"{args.workers} free cores: {args.workers * seq_cpu / worker_cpu:.2f}x "
            f"(the wall-clock speed-up is lower when other jobs hold the cores)"
        )
        print(
            f"dask, cluster already running: {warm_s:.1f} s, {len(requests) / warm_s:.2f} "
            f"walks/s, speed-up {seq_s / warm_s:.2f}x"
        )
        print(
            "peak memory per worker (max RSS): "
            + ", ".join(f"{v:.0f} MB" for v in sorted(peaks.values()))
        )

        frame = gpd.read_parquet(out)
        same = [json.loads(s) if isinstance(s, str) else None for s in frame["summary"]] == [
            json.loads(r["summary"]) if r.get("summary") else None
            for r, _ in sorted(sequential, key=lambda x: x[0]["row"])
        ]
        print(
            f"rows equal between the sequential and the Dask run: {same}; failed rows: "
            f"{len(report.failed)}"
        )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
