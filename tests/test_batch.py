"""`walks batch`: many walks on a small Dask cluster, the same as one walk each, resumable."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import geopandas as gpd
import shapely

from walks.batch import BatchOptions, read_requests, run_batch
from walks.cli import app
from walks.errors import DataError, UsageError

HOSTILE = "<script>alert(1)</script>"


def _csv(
    folder: Path,
    paris: Path,
    rows: list[str],
    header: str = "label,osm_file,bbox,minutes,km,stops,seed,start,at,order",
) -> Path:
    path = folder / "areas.csv"
    path.write_text(
        "\n".join([header, *rows]).replace("PARIS", str(paris)) + "\n", encoding="utf-8"
    )
    return path


MIXED = [
    'north,PARIS,"2.350,48.879,2.356,48.882",20,,,1,,,',
    'whole,PARIS,,30,,cafe,2,"48.8795,2.3520",,',
    'reversed box,PARIS,"2.36,48.88,2.35,48.87",20,,,1,,,',
    "demo,,,,2,cafe,5,,,",
    "no galleries,PARIS,,30,,gallery=3,3,,,",
    'timed,PARIS,,40,,"cafe,studio",4,,2026-11-25 09:00,studio',
]


@pytest.fixture
def mixed_batch(tmp_path: Path, paris_osm: Path):
    areas = _csv(tmp_path, paris_osm, MIXED)
    out = tmp_path / "walks.parquet"
    report = run_batch(areas, out, BatchOptions(), workers=2, processes=False, chunk_size=2)
    return report, gpd.read_parquet(out), out


def test_rows_statuses_and_geoparquet(mixed_batch) -> None:
    report, frame, out = mixed_batch
    assert report.complete
    assert report.total == 6
    assert report.computed == (0, 1, 2, 3, 4, 5)
    assert report.skipped == ()
    assert list(frame["row"]) == [0, 1, 2, 3, 4, 5]  # sorted by row whatever finished first
    assert frame.crs.to_epsg() == 4326
    assert list(frame["status"]) == ["ok", "ok", "failed", "ok", "failed", "ok"]
    assert report.failed == (2, 4)
    assert "empty" in frame.loc[2, "error"]  # the reversed bounding box, named
    assert "gallery" in frame.loc[4, "error"]
    assert frame.loc[2, "geometry"] is None
    assert frame.loc[5, "at"] == "2026-11-25 09:00"
    assert frame.loc[5, "order"] == "studio"
    stops = json.loads(frame.loc[5, "stops"])
    assert stops[0]["category"] == "studio"  # the order asked for
    assert all(s["arrival"].startswith("09:") for s in stops)  # arrival times from the departure
    for i in (0, 1, 3, 5):
        line = frame.loc[i, "geometry"]
        assert line.geom_type == "LineString"
        assert line.length > 0
        summary = json.loads(frame.loc[i, "summary"])
        assert frame.loc[i, "length_m"] == summary["length_m"] > 0
        assert json.loads(frame.loc[i, "stops"]) == summary["stops"]
        assert json.loads(frame.loc[i, "warnings"]) == summary["warnings"]
    assert frame.loc[1, "stop_names"]  # a café asked for and found
    assert frame.loc[3, "km"] == 2.0
    assert not out.with_name(out.name + ".parts").exists()  # parts combined, then removed


def _generate(runner, tmp_path: Path, args: list[str]) -> tuple[dict, list]:
    json_path, geojson_path = tmp_path / "g.json", tmp_path / "g.geojson"
    result = runner.invoke(app, ["-q", "generate", *args, "--json", str(json_path),
                                 "--geojson", str(geojson_path), "--overwrite"])  # fmt: skip
    assert result.exit_code == 0, result.output
    geo = json.loads(geojson_path.read_text())
    lines = [f for f in geo["features"] if f["geometry"]["type"] == "LineString"]
    return json.loads(json_path.read_text()), lines[0]["geometry"]["coordinates"]


@pytest.mark.parametrize(
    ("row", "args"),
    [
        (0, ["2.350,48.879,2.356,48.882", "--osm-file", "PARIS", "--minutes", "20", "--seed", "1"]),
        (1, ["--osm-file", "PARIS", "--minutes", "30", "--stops", "cafe", "--seed", "2",
             "--start", "48.8795,2.3520"]),
        (3, ["--km", "2", "--stops", "cafe", "--seed", "5"]),
        (5, ["--osm-file", "PARIS", "--minutes", "40", "--stops", "cafe,studio", "--seed", "4",
             "--at", "2026-11-25 09:00", "--order", "studio"]),
    ],
)  # fmt: skip
def test_a_row_is_what_generate_gives(mixed_batch, runner, tmp_path, paris_osm, row, args) -> None:
    _, frame, _ = mixed_batch
    summary, coords = _generate(
        runner, tmp_path, [str(paris_osm) if a == "PARIS" else a for a in args]
    )
    assert json.loads(frame.loc[row, "summary"]) == summary
    line = frame.loc[row, "geometry"]
    assert len(line.coords) == len(coords)
    assert shapely.LineString(coords).equals_exact(line, 1e-6)  # GeoJSON rounds to 1e-6


def test_same_rows_whatever_the_workers(tmp_path: Path, paris_osm: Path) -> None:
    rows = [f"r{i},PARIS,,{25 + 5 * i},,cafe,{i},,," for i in range(4)]
    areas = _csv(tmp_path, paris_osm, rows)
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    run_batch(areas, one, BatchOptions(), workers=1, processes=False, chunk_size=3)
    run_batch(areas, two, BatchOptions(), workers=2, processes=False, chunk_size=1)
    assert gpd.read_parquet(one).equals(gpd.read_parquet(two))
    assert one.read_bytes() == two.read_bytes()


def test_a_stopped_batch_resumes_without_redoing_rows(tmp_path: Path, paris_osm: Path) -> None:
    rows = [f"r{i},PARIS,,{25 + 5 * i},,cafe,{i},,," for i in range(5)]
    areas = _csv(tmp_path, paris_osm, rows)
    out = tmp_path / "walks.parquet"
    parts = tmp_path / "walks.parquet.parts"
    first = run_batch(areas, out, BatchOptions(), workers=1, processes=False, chunk_size=1,
                      stop_after=2)  # fmt: skip
    assert not first.complete
    assert not out.exists()
    written = sorted(parts.glob("part-*.parquet"))
    assert len(written) == 2
    assert len(first.computed) == 2
    stamps = {p.name: p.stat().st_mtime_ns for p in written}
    seen_before = []
    second = run_batch(areas, out, BatchOptions(), workers=1, processes=False, chunk_size=1,
                       progress=lambda done, total: seen_before.append((done, total)))  # fmt: skip
    assert second.complete
    assert second.skipped == first.computed  # the finished rows were read back ...
    assert set(second.computed) == {0, 1, 2, 3, 4} - set(first.computed)  # ... not planned again
    assert seen_before[0] == (2, 5)
    assert {p.name: p.stat().st_mtime_ns for p in written if p.exists()} in ({}, stamps)
    frame = gpd.read_parquet(out)
    assert list(frame["row"]) == [0, 1, 2, 3, 4]
    assert set(frame["status"]) == {"ok"}
    fresh = tmp_path / "fresh.parquet"
    run_batch(areas, fresh, BatchOptions(), workers=1, processes=False)
    assert frame.equals(gpd.read_parquet(fresh))  # resumed = done in one go


def test_parts_of_another_batch_are_refused(tmp_path: Path, paris_osm: Path) -> None:
    areas = _csv(tmp_path, paris_osm, ["a,PARIS,,20,,cafe,1,,,"])
    out = tmp_path / "walks.parquet"
    parts = tmp_path / "walks.parquet.parts"
    parts.mkdir()
    (parts / "batch.json").write_text('{"fingerprint": "another"}')
    with pytest.raises(UsageError, match="another batch"):
        run_batch(areas, out, BatchOptions(), workers=1, processes=False)


def test_bad_areas_files(tmp_path: Path, paris_osm: Path) -> None:
    options = BatchOptions(osm_file=str(paris_osm))
    unknown = _csv(tmp_path, paris_osm, ["a,1"], header="label,colour")
    with pytest.raises(DataError, match="unknown columns \\['colour'\\]"):
        read_requests(unknown, options)
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(DataError, match="no rows"):
        read_requests(empty, options)
    rows = read_requests(_csv(tmp_path, paris_osm, ["a,,,abc,,,,,,", "b,,,,,cafe=99,,,,",
                                                    "c,,,20,,,1.5,,,", "d,,,,,,,,now,",
                                                    "e,,,,,,,,25/11/2026,"]), options)  # fmt: skip
    assert [r.error is not None for r in rows] == [True, True, True, True, True]
    assert "minutes 'abc'" in str(rows[0].error)
    assert "studio=2" in str(rows[1].error)
    assert "at 'now'" in str(rows[3].error)  # would differ between workers and runs
    assert "'25/11/2026'" in str(rows[4].error)
    assert "2026-11-25 09:00" in str(rows[4].error)


def test_cli_geojson_with_maps_and_index(runner, tmp_path: Path, paris_osm: Path) -> None:
    areas = tmp_path / "areas.geojson"
    box = [[2.350, 48.879], [2.356, 48.879], [2.356, 48.882], [2.350, 48.882], [2.350, 48.879]]
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"label": HOSTILE, "minutes": 20},
         "geometry": {"type": "Polygon", "coordinates": [box]}},
        {"type": "Feature", "properties": {"label": "from the station", "radius": 400},
         "geometry": {"type": "Point", "coordinates": [2.3553, 48.8809]}},
        {"type": "Feature", "properties": {"label": "a line"},
         "geometry": {"type": "LineString", "coordinates": box[:2]}},
    ]}))  # fmt: skip
    out, maps = tmp_path / "walks.parquet", tmp_path / "maps"
    args = ["-q", "batch", str(areas), "--out", str(out), "--osm-file", str(paris_osm),
            "--stops", "cafe", "--minutes", "25", "--workers", "1", "--maps", str(maps)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 of 3 walks failed" in result.stderr
    frame = gpd.read_parquet(out)
    assert list(frame["status"]) == ["ok", "ok", "failed"]
    assert "LineString" in frame.loc[2, "error"]
    assert frame.loc[0, "minutes"] == 20
    assert frame.loc[1, "minutes"] == 25
    assert frame.loc[1, "start"] == "48.8809,2.3553"  # a Point is the start
    index = (maps / "index.html").read_text(encoding="utf-8")
    assert HOSTILE not in index
    assert "\\u003cscript\\u003e" in index
    assert '"href":"walk-000000.html"' in index
    assert '"href":"walk-000001.html"' in index
    for name in ("walk-000000.html", "walk-000001.html", "walk-000000.gpx", "walk-000001.gpx"):
        assert (maps / name).stat().st_size > 1000
    assert not (maps / "walk-000002.html").exists()
    again = runner.invoke(app, args)  # the output exists: refused, nothing redone
    assert again.exit_code == 1
    assert "Error:" in again.stderr
    assert "--overwrite" in again.stderr


def test_options_every_row_would_fail_on_are_refused_at_once(runner, tmp_path: Path) -> None:
    from walks.cli import app

    areas = tmp_path / "areas.csv"
    areas.write_text("label,minutes\na,30\n", encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text("[x]\nweight = nan\nfilters = [{ amenity = 'cafe' }]\n", encoding="utf-8")
    for extra in (["--category-file", str(bad)], ["--stops", "nosuch"]):
        result = runner.invoke(app, ["batch", str(areas), "--out", str(tmp_path / "o.parquet"),
                                     "--maps", str(tmp_path / "maps"), *extra])  # fmt: skip
        assert result.exit_code == 2, result.stderr
        assert len([ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]) == 1
        assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == [
            "areas.csv",
            "bad.toml",
        ]


def test_areas_are_shared_among_workers_not_repeated(tmp_path: Path, paris_osm: Path) -> None:
    from walks.batch import AREA_LOAD_COST_S, area_key, plan_shares, row_cost

    rows = [f"r{i},PARIS,{box},{20 + 10 * (i % 7)},,{stops},{i},,,"
            for i, (box, stops) in enumerate(
                [('"2.350,48.879,2.356,48.882"', "cafe"), ("", "cafe"), ("", "cafe=2"), ("", ""),
                 ('"2.350,48.879,2.356,48.882"', "cafe"), ("", "cafe")] * 3)]  # fmt: skip
    requests = read_requests(_csv(tmp_path, paris_osm, rows), BatchOptions())
    shares = plan_shares(requests, 2)
    assert len(shares) == 2
    assert sorted(r.row for share in shares for r in share) == list(range(18))  # every row once
    keys = [[area_key(r) for r in share] for share in shares]
    assert all(k == sorted(k) for k in keys)  # contiguous by area
    assert len({area_key(r) for r in requests}) == 3  # box + cafe, whole + cafe, whole + default
    assert sum(len(set(k)) for k in keys) <= 3 + 1  # an area is loaded by one worker (two at a cut)

    def cost(share: list) -> float:
        return sum(map(row_cost, share)) + AREA_LOAD_COST_S * len({area_key(r) for r in share})

    biggest = max(map(row_cost, requests)) + AREA_LOAD_COST_S
    assert abs(cost(shares[0]) - cost(shares[1])) <= biggest  # equal estimated work
    assert plan_shares(requests, 2) == shares  # the same shares every time
    assert [len(s) for s in plan_shares(requests, 40)].count(0) == 40 - 18


def test_shares_are_cut_by_cost_not_by_rows(tmp_path: Path, paris_osm: Path) -> None:
    from walks.batch import plan_shares, row_cost

    cheap = [f"c{i},PARIS,,20,,cafe,{i},,," for i in range(12)]
    dear = [f"d{i},PARIS,,,30,cafe,{i},,," for i in range(4)]  # 30 km: 400 minutes at 4.5 km/h
    requests = read_requests(_csv(tmp_path, paris_osm, cheap + dear), BatchOptions())
    assert all(r.error is None for r in requests)
    assert row_cost(requests[12]) > 3 * row_cost(requests[0])
    first, second = plan_shares(requests, 2)
    assert len(first) + len(second) == 16
    assert len(first) >= 11  # equal work, not equal rows: the cheap rows and few dear ones


def test_chunks_shrink_at_the_end_and_idle_threads_take_the_far_end(
    tmp_path: Path, paris_osm: Path
) -> None:
    from walks.batch import MAX_CHUNK_ROWS, _Shares, area_key, plan_shares

    rows = [f"r{i},PARIS,{box},{30 + (i % 5) * 15},,cafe,{i},,,"
            for i, box in enumerate(['"2.350,48.879,2.356,48.882"', ""] * 40)]  # fmt: skip
    requests = read_requests(_csv(tmp_path, paris_osm, rows), BatchOptions())
    shares = _Shares(requests, 2, None)
    chunks = []
    thread = 0
    while (chunk := shares.take(thread)) is not None:  # the threads ask in turn
        chunks.append(chunk)
        thread = 1 - thread
    assert sorted(r.row for c in chunks for r in c) == list(range(80))  # every row once
    assert all(len({area_key(r) for r in c}) == 1 for c in chunks)  # one area per chunk
    assert all([r.row for r in c] == sorted(r.row for r in c) for c in chunks)
    sizes = [len(c) for c in chunks]
    assert max(sizes) <= MAX_CHUNK_ROWS
    assert sizes[0] > 4
    assert sizes[-4:] == [1, 1, 1, 1]  # every thread's last tasks are single rows

    own = plan_shares(requests, 2)
    lone = _Shares(requests, 2, None)  # thread 1 never asks: thread 0 does all
    taken = []
    while (chunk := lone.take(0)) is not None:
        taken.append(chunk)
    mine = [r.row for r in own[0]]
    assert [r.row for c in taken for r in c][: len(mine)] == mine  # its own share first, in order
    stolen = next(c for c in taken if c[0].row not in mine)
    assert stolen[-1].row == own[1][-1].row  # then the other share, from its far end

    fixed = _Shares(requests, 2, 3)
    sizes = []
    while (chunk := fixed.take(len(sizes) % 2)) is not None:
        sizes.append(len(chunk))
    assert max(sizes) == 3
    assert sum(sizes) == 80


def test_parts_combine_sorted_newest_row_wins(tmp_path: Path, monkeypatch) -> None:
    import os

    import pyarrow.parquet as pq

    from walks import batch_io
    from walks.errors import ExportError

    parts = tmp_path / "parts"
    parts.mkdir()
    line = shapely.to_wkb(shapely.LineString([(2.35, 48.88), (2.36, 48.89)]))
    batch_io.write_part(parts, [{"row": r, "label": f"old {r}", "status": "ok", "geometry": line}
                                for r in (4, 0, 2)])  # fmt: skip
    batch_io.write_part(parts, [{"row": r, "label": f"r{r}", "status": "failed"} for r in (3, 1)])
    batch_io.write_part(parts, [{"row": 2, "label": "again", "status": "ok", "geometry": line}])
    for i, part in enumerate(
        sorted(
            parts.glob("part-*"),
            key=lambda p: "again" in str(pq.read_table(p, columns=["label"]).to_pylist()),
        )
    ):
        os.utime(part, ns=(10**18 + i, 10**18 + i))  # the part with row 2 planned again: newest
    monkeypatch.setattr(batch_io, "ROW_GROUP", 2)  # three row groups, one in memory at a time
    staged = batch_io.combine_parts(parts, tmp_path / "out.parquet", 5)
    frame = gpd.read_parquet(staged)
    assert list(frame["row"]) == [0, 1, 2, 3, 4]
    assert list(frame["label"]) == ["old 0", "r1", "again", "r3", "old 4"]
    assert frame.crs.to_epsg() == 4326
    assert frame.loc[2, "geometry"].equals(shapely.from_wkb(line))
    assert pq.ParquetFile(staged).metadata.num_row_groups == 3
    with pytest.raises(ExportError, match=r"rows \[5\] of the batch are missing"):
        batch_io.combine_parts(parts, tmp_path / "out.parquet", 6)


def test_a_killed_batch_resumes_without_redoing_rows(tmp_path: Path, paris_osm: Path) -> None:
    """SIGKILL a real `walks batch` (client and workers) mid-run; the re-run plans the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    rows = [f"r{i},PARIS,,{20 + 3 * i},,cafe,{i},,," for i in range(8)]
    areas = _csv(tmp_path, paris_osm, rows)
    out = tmp_path / "walks.parquet"
    parts = tmp_path / "walks.parquet.parts"
    command = [sys.executable, "-m", "walks", "-q", "batch", str(areas), "--out", str(out),
               "--workers", "1", "--chunk-size", "1", "--no-terrain"]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    batch = subprocess.Popen(command, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(list(parts.glob("part-*.parquet"))) < 2 and batch.poll() is None:
            assert time.monotonic() < deadline, "no part written in 120 s"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(batch.pid, signal.SIGKILL)  # the client, its nanny and its worker
        batch.wait()
    assert batch.returncode == -signal.SIGKILL  # killed, not finished
    assert not out.exists()
    before = {p.name: p.stat().st_mtime_ns for p in parts.glob("part-*.parquet")}
    assert 2 <= len(before) < 8
    again = [a for a in command if a != "-q"] + ["-v"]
    result = subprocess.run(again, env=env, capture_output=True,
                            text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"resumed: {len(before)} rows were done before" in result.stderr
    assert f"planned {8 - len(before)} rows in" in result.stderr  # the cost, for a cost model
    assert "CPU s per" in result.stderr  # (the log handler wraps long lines)
    frame = gpd.read_parquet(out)
    assert list(frame["row"]) == list(range(8))
    assert set(frame["status"]) == {"ok"}
    assert not parts.exists()


def test_an_extract_is_imported_once_before_the_workers(
    tmp_path: Path, paris_osm: Path, cache_dir: Path
) -> None:
    from walks import store
    from walks.batch import import_stores

    areas = _csv(tmp_path, paris_osm, ["a,PARIS,,20,,cafe,1,,,", "b,PARIS,,25,,cafe,2,,,"])
    requests = read_requests(areas, BatchOptions())
    assert not store.has_current_store(paris_osm, cache_dir)
    import_stores(requests, BatchOptions())
    assert store.has_current_store(paris_osm, cache_dir)  # imported by the client, once
    path = store.store_path(paris_osm, cache_dir)
    stamp = path.stat().st_mtime_ns
    import_stores(requests, BatchOptions())
    assert path.stat().st_mtime_ns == stamp  # a current store is not imported again
    out = tmp_path / "walks.parquet"
    report = run_batch(areas, out, BatchOptions(), workers=2, processes=False, chunk_size=1)
    assert report.failed == ()
    assert path.stat().st_mtime_ns == stamp  # the workers read it, none imported it again


def test_a_running_scheduler_is_used_and_left_running(tmp_path: Path, paris_osm: Path) -> None:
    """A real scheduler with one worker process of three threads: its rows go in three shares."""
    import os

    from distributed import Client, LocalCluster

    rows = [f"r{i},PARIS,,{20 + 5 * i},,cafe,{i},,," for i in range(3)]
    areas = _csv(tmp_path, paris_osm, rows)
    out = tmp_path / "walks.parquet"
    with LocalCluster(n_workers=1, threads_per_worker=3, processes=True,
                      dashboard_address=None) as cluster:  # fmt: skip
        report = run_batch(areas, out, BatchOptions(), scheduler=cluster.scheduler_address)
        with Client(cluster) as client:  # still there for its other users
            assert sum(client.nthreads().values()) == 3
    assert report.complete
    assert report.failed == ()
    assert report.threads == 3  # the cluster's threads, whatever this machine's cores
    assert report.threads != os.cpu_count() or os.cpu_count() == 3
    assert report.tasks == 3  # three rows over three threads: one each
    assert len(report.worker_peak_mb) == 1  # measured on that cluster's worker
    assert report.worker_cpu_s > 0
    assert list(gpd.read_parquet(out)["row"]) == [0, 1, 2]
