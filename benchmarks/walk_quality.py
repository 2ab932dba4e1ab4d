"""Measure walks as a walker would: budget kept, streets not walked twice, no dead-end spurs.

Runs a grid of requests (budgets 20, 45, 90, 180 min and 2, 5, 10 km; stop sets none / default /
``cafe`` / ``cafe,studio=2,view``; loops and A->B; two seeds) through ``walks.api.generate_walks``
on the demo extract and every OSM extract in ``../shared/data``, and measures each walk from its
exported GeoJSON geometry (not from the planner's own figures):

- budget error: geometry length / speed + dwell against the minutes asked, or length against km;
- retraced share: length of segments walked more than once, over the length;
- spurs: places where the line turns straight back, 20 m or longer, and their length;
- stops asked vs delivered, and each stop's distance from the line;
- silent short-falls: more than 5 % off the budget without a ``warnings`` entry;
- byte-identical re-runs: JSON, GeoJSON and GPX of a second run compared byte for byte.

Prints one row per extract and an overall row (markdown). ``--quick`` runs a smaller grid.

Usage: python benchmarks/walk_quality.py [--quick] [--extracts demo,paris] [--no-rerun]
    [--jsonl results.jsonl] [--misses]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

import walks.api
from walks import settings
from walks.data import demo_extract_path
from walks.errors import WalksError
from walks.export import gpx_text, walk_geojson, walk_summary

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BUDGETS: tuple[tuple[str, float], ...] = (
    ("minutes", 20), ("minutes", 45), ("minutes", 90), ("minutes", 180),
    ("km", 2), ("km", 5), ("km", 10),
)  # fmt: skip
STOP_SETS: dict[str, list[tuple[str, int]] | None] = {
    "none": [],
    "default": None,
    "cafe": [("cafe", 1)],
    "cafe,studio=2,view": [("cafe", 1), ("studio", 2), ("view", 1)],
}
SPUR_MIN_M = 20.0
TOLERANCE = 0.05
EARTH_M = 6_371_008.8


def extracts(tmp: Path) -> dict[str, Path]:
    """The demo and every OSM extract of ``../shared/data`` (``.osm.gz`` unpacked to ``tmp``)."""
    found: dict[str, Path] = {"demo": demo_extract_path()}
    for folder in sorted(SHARED_DATA.glob("osm-*")):
        for path in sorted(folder.iterdir()):
            name = folder.name.removeprefix("osm-")
            if path.name.endswith(".osm.gz"):
                plain = tmp / path.name.removesuffix(".gz")
                with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                found[name] = plain
            elif path.suffix in {".osm", ".pbf"}:
                found[name] = path
    return found


def _xy(coords: np.ndarray) -> np.ndarray:
    """Project ``(k, 2)`` lon/lat to metres around the first point."""
    lat0 = math.radians(float(coords[:, 1].mean()))
    x = np.radians(coords[:, 0]) * EARTH_M * math.cos(lat0)
    y = np.radians(coords[:, 1]) * EARTH_M
    return np.column_stack([x, y])


def line_measures(coords: list[list[float]]) -> dict[str, float]:
    """Length, retraced length, spurs (count and length) of a GeoJSON line."""
    pts = np.asarray(coords, dtype=float)
    xy = _xy(pts)
    seg = np.hypot(*np.diff(xy, axis=0).T)
    keys = [tuple(p) for p in np.round(pts, 6)]
    seen: dict[tuple[tuple[float, ...], tuple[float, ...]], int] = {}
    retraced = 0.0
    for i, length in enumerate(seg):
        a, b = keys[i], keys[i + 1]
        k = (a, b) if a <= b else (b, a)
        if k in seen:
            retraced += float(length)
        seen[k] = seen.get(k, 0) + 1
    spurs, spur_m = 0, 0.0
    for i in range(1, len(keys) - 1):
        if keys[i - 1] != keys[i + 1]:
            continue
        # walk outwards while the line retraces itself around the tip
        depth = 0.0
        j = 1
        while i - j >= 0 and i + j < len(keys) and keys[i - j] == keys[i + j]:
            depth += float(seg[i - j])
            j += 1
        if depth >= SPUR_MIN_M:
            spurs += 1
            spur_m += depth
    total = float(seg.sum())
    return {"length_m": total, "retraced_m": retraced, "spurs": spurs, "spur_m": spur_m}


def stop_distance_m(line: list[list[float]], lon: float, lat: float) -> float:
    """Distance from a point to a GeoJSON line (segments, local projection)."""
    pts = np.asarray([*line, [lon, lat]], dtype=float)
    xy = _xy(pts)
    p, a, b = xy[-1], xy[:-2], xy[1:-1]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-9), 0, 1)
    return float(np.hypot(*(a + ab * t[:, None] - p).T).min())


@dataclass
class Row:
    """Measures of one request."""

    extract: str
    walkable_km: float
    budget: str
    stops: str
    shape: str
    seed: int
    error: str = ""
    budget_error: float = math.nan
    retraced: float = math.nan
    spurs: int = 0
    spur_share: float = 0.0
    asked: int = 0
    delivered: int = 0
    stop_far_m: float = 0.0
    warnings: list[str] = field(default_factory=list)
    identical: bool | None = None
    seconds: float = 0.0


def outputs(result: walks.api.GeneratedWalks) -> tuple[str, str, str]:
    """The three exported texts of the best walk."""
    walk = result.walks[0]
    return (
        json.dumps(walk_summary(walk), sort_keys=True),
        json.dumps(walk_geojson(walk), sort_keys=True),
        gpx_text(walk, title="walk"),
    )


def measure(row: Row, result: walks.api.GeneratedWalks, budget: tuple[str, float]) -> None:
    """Fill a row from a result's exports."""
    summary = json.loads(outputs(result)[0])
    geo = json.loads(outputs(result)[1])
    line = geo["features"][0]["geometry"]["coordinates"]
    m = line_measures(line)
    speed = settings.WALKING_SPEED_KPH / 3.6
    dwell = summary["total_time_s"] - summary["walking_time_s"]
    kind, value = budget
    if kind == "minutes":
        row.budget_error = (m["length_m"] / speed + dwell) / (value * 60) - 1
    else:
        row.budget_error = m["length_m"] / (value * 1000) - 1
    row.retraced = m["retraced_m"] / max(m["length_m"], 1e-9)
    row.spurs = int(m["spurs"])
    row.spur_share = m["spur_m"] / max(m["length_m"], 1e-9)
    row.delivered = len(summary["stops"])
    far = [stop_distance_m(line, s["lon"], s["lat"]) for s in summary["stops"]]
    row.stop_far_m = max(far, default=0.0)
    row.warnings = [w["code"] for w in summary.get("warnings", [])]


def a_to_b_end(result: walks.api.GeneratedWalks, budget_m: float) -> str:
    """An end point east of the start, about a third of the budget away (inside the area)."""
    graph = result.area_stops.loaded.graph
    start = result.walks[0].geometry[0]
    lat, lon = np.asarray(graph.node_lat), np.asarray(graph.node_lon)
    dy = (lat - start.lat) * 111_195.0
    dx = (lon - start.lon) * 111_195.0 * math.cos(math.radians(start.lat))
    want = budget_m / 3
    score = np.abs(np.hypot(dx, dy) - want) + np.where(dx > 0, 0.0, want)
    node = int(np.argmin(score))
    return f"{lat[node]:.7f},{lon[node]:.7f}"


def run(  # noqa: C901 - one loop over the grid, kept together
    name: str, path: Path, cache_dir: Path, *, quick: bool, rerun: bool, log: Any
) -> list[Row]:
    """All requests of the grid on one extract."""
    budgets = [b for b in BUDGETS if not quick or b in {("minutes", 45), ("minutes", 180),
                                                          ("km", 5)}]  # fmt: skip
    seeds = (0,) if quick else (0, 1)
    rows: list[Row] = []
    loop_cache: dict[tuple[str, float], str] = {}
    for budget in budgets:
        for stop_name, wanted in STOP_SETS.items():
            if quick and stop_name == "cafe,studio=2,view":
                continue
            for shape in ("loop", "a-b"):
                for seed in seeds:
                    kind, value = budget
                    row = Row(name, 0.0, f"{value:g} {kind}", stop_name, shape, seed)
                    asked = walks.api.DEFAULT_STOPS if wanted is None else wanted
                    row.asked = sum(n for _, n in asked)
                    kwargs: dict[str, Any] = {kind: value, "seed": seed, "osm_file": path,
                                              "cache_dir": cache_dir}  # fmt: skip
                    if shape == "a-b":
                        if budget not in loop_cache:
                            row.error = "no loop to place the end"
                            rows.append(row)
                            continue
                        kwargs["end"] = loop_cache[budget]
                    t = time.perf_counter()
                    try:
                        result = walks.api.generate_walks(None, wanted, **kwargs)
                    except WalksError as err:
                        row.error = f"{type(err).__name__}: {err}"
                        row.seconds = time.perf_counter() - t
                        rows.append(row)
                        print(json.dumps(row.__dict__), file=log, flush=True)
                        continue
                    row.seconds = time.perf_counter() - t
                    row.walkable_km = result.area_stops.loaded.graph.walkable_km
                    if shape == "loop" and budget not in loop_cache:
                        budget_m = value * 1000 if kind == "km" else value * 60 * 1.25
                        loop_cache[budget] = a_to_b_end(result, budget_m)
                    measure(row, result, budget)
                    if rerun:
                        again = walks.api.generate_walks(None, wanted, **kwargs)
                        row.identical = outputs(again) == outputs(result)
                    rows.append(row)
                    print(json.dumps(row.__dict__), file=log, flush=True)
    return rows


def summarise(label: str, rows: list[Row]) -> str:
    """One markdown table row."""
    ok = [r for r in rows if not r.error]
    errors = len(rows) - len(ok)
    within = sum(abs(r.budget_error) <= TOLERANCE for r in ok)
    warned_off = [r for r in ok if abs(r.budget_error) > TOLERANCE]
    silent = sum(1 for r in warned_off if not r.warnings)
    retraced_ok = sum(r.retraced <= TOLERANCE for r in ok)
    median_retraced = statistics.median([r.retraced for r in ok]) if ok else math.nan
    spur_share = statistics.mean([r.spur_share for r in ok]) if ok else math.nan
    spurs = sum(r.spurs for r in ok)
    asked = sum(r.asked for r in ok)
    got = sum(min(r.delivered, r.asked) for r in ok)
    far = max((r.stop_far_m for r in ok), default=0.0)
    checked = [r for r in ok if r.identical is not None]
    same = sum(bool(r.identical) for r in checked)
    km = max((r.walkable_km for r in rows), default=0.0)
    n = max(len(ok), 1)
    return (
        f"| {label} | {km:,.0f} | {len(rows)} | {errors} | {100 * within / n:.0f} % | "
        f"{silent} | {100 * retraced_ok / n:.0f} % | {100 * median_retraced:.1f} % | "
        f"{spurs} | {100 * spur_share:.1f} % | {got}/{asked} | {far:,.0f} | "
        f"{same}/{len(checked)} | {statistics.mean([r.seconds for r in rows]):.2f} |"
    )


HEADER = (
    "| extract | walkable km | walks | errors | within ±5 % | silent misses | retraced ≤ 5 % | "
    "median retraced | spurs ≥ 20 m | spur length | stops delivered/asked | farthest stop m "
    "| identical re-runs | s/walk |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid")
    parser.add_argument("--extracts", default="", help="comma-separated names (default: all)")
    parser.add_argument("--no-rerun", action="store_true", help="skip the byte-identical re-run")
    parser.add_argument("--jsonl", type=Path, default=None, help="write every row here")
    parser.add_argument(
        "--misses", action="store_true", help="list the roomy walks that miss a target"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        found = extracts(tmp)
        wanted = [n for n in args.extracts.split(",") if n]
        if wanted:
            found = {k: v for k, v in found.items() if any(w in k for w in wanted)}
        log = (
            args.jsonl.open("w")
            if args.jsonl
            else open(  # noqa: SIM115, PTH123
                "/dev/null", "w"
            )
        )
        all_rows: list[Row] = []
        lines = [HEADER]
        with log:
            for name, path in found.items():
                rows = run(
                    name, path, tmp / "cache", quick=args.quick, rerun=not args.no_rerun, log=log
                )
                all_rows += rows
                lines.append(summarise(name, rows))
                print(lines[-1], flush=True)
        lines.append(summarise("**all**", all_rows))
        print("\n".join(lines))
        big = [r for r in all_rows if not r.error and r.walkable_km * 1000 >= 3 * _budget_m(r)]
        if big:
            print("\nareas with >= 3x the budget's length of ways:")
            print(HEADER)
            print(summarise("**roomy**", big))
            if args.misses:
                print("\nroomy walks off the budget by more than 5 % or retracing more than 5 %:")
                for r in big:
                    if abs(r.budget_error) > TOLERANCE or r.retraced > TOLERANCE:
                        print(f"- {r.extract} {r.budget} stops={r.stops} {r.shape} seed={r.seed}: "
                              f"budget {100 * r.budget_error:+.1f} %, retraced "
                              f"{100 * r.retraced:.1f} %, spurs {r.spurs}, "
                              f"warnings {','.join(r.warnings)}")  # fmt: skip


@cache
def _speed() -> float:
    return settings.WALKING_SPEED_KPH / 3.6


def _budget_m(row: Row) -> float:
    value, kind = row.budget.split()
    return float(value) * (1000.0 if kind == "km" else 60.0 * _speed())


if __name__ == "__main__":
    main()
