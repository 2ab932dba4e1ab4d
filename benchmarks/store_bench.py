"""Benchmark the region store: import throughput, area-open time and import memory.

A region file of at least 50 MB is built for the benchmark (under ``--build-dir``, never in
the repository) from the real extracts in ``../shared/data``, placed side by side on a grid:
each copy's ids are shifted by ``copy * 2**36`` and its coordinates moved into its own grid
cell, so the copies neither overlap nor share ids. The file is PBF, written with pyosmium,
sorted and dated in its header as Geofabrik's extracts are.

Then, in the same run, it measures:

* reading the file directly: ``walks.data.read_extract`` + ``read_features`` (what every run
  did before the store), and pyosmium's own C++ reading time (decode only, and decode with a
  node-location index: what any way-geometry reader pays) - the ``osmium`` command-line tool
  is used too when it is installed;
* the import (``walks.store.import_extract``) in a child process: wall and CPU time, OSM
  nodes per CPU second, and peak memory (the child's ``VmHWM``, else ``ru_maxrss``); with numba
  installed (``walks[fast]``), the import on numpy alone too (``WALKS_JIT=0``); osmium reads
  the region again right before each import, and the ratio of each pair is printed (their
  median too), which a machine whose speed drifts during the run cannot skew;
* opening a 2 km² area (graph + cafés + buildings) from the store vs from the file.

Usage: python benchmarks/store_bench.py [--build-dir DIR] [--min-mb 50] [--repeats 3]
[--skip-file-read] [--as-is]

The children read Python's bytecode from a folder of the benchmark's own, filled by one
untimed child first (``--as-is``: the environment as it is; see ``_warm_bytecode``).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import osmium
from osmium.osm import mutable

if TYPE_CHECKING:
    from collections.abc import Callable

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = [
    "osm-munich-altstadt-2020/munchen.osm.pbf",
    "osm-paris-gare-du-nord-2021/map.osm",
    "osm-new-york-fidi/map3.osm",
    "osm-tokyo-kanda/map_tokyo_8.osm",
    "osm-providence-college-hill/map2.osm",
    "osm-sydney-glebe/map_glebe.osm",
    "osm-andorra-2013/andorra.osm.pbf",
    "osm-krems/krems.osm.gz",
]
#: Id shift per copy: above every OSM id, far below walks' negative-id base (2**52).
ID_STEP = 2**36
#: Grid cell per copy, in degrees (Andorra, the largest source, is 0.36 x 0.23 degrees).
CELL_LON, CELL_LAT, COLUMNS = 0.5, 0.3, 24
ORIGIN_LON, ORIGIN_LAT = -10.0, 30.0


def load_source(path: Path) -> tuple[list, list, list, tuple[float, float]]:
    """Read one extract into plain lists: nodes, ways, relations, and its south-west corner."""
    nodes, ways, relations = [], [], []
    west = south = math.inf
    for obj in osmium.FileProcessor(str(path)):
        tags = [(t.k, t.v) for t in obj.tags]
        if obj.is_node():
            if obj.location.valid():
                lon, lat = obj.location.lon, obj.location.lat
                west, south = min(west, lon), min(south, lat)
                nodes.append((obj.id, lon, lat, tags))
        elif obj.is_way():
            ways.append((obj.id, [n.ref for n in obj.nodes], tags))
        else:
            relations.append((obj.id, [(m.type, m.ref, m.role) for m in obj.members], tags))
    # the unsorted API exports: sorted here, as a region extract is
    return sorted(nodes), sorted(ways), sorted(relations), (west, south)


def build_region(target: Path, min_bytes: int) -> dict[str, int]:
    """Write copies of every source side by side until the file holds ``min_bytes``."""
    sources = [load_source(DATA / name) for name in SOURCES]
    one_set = write_copies(target, sources, copies=1)
    sets = max(1, math.ceil(min_bytes / target.stat().st_size * 1.02))
    del one_set
    return write_copies(target, sources, copies=sets)


def write_copies(target: Path, sources: list, copies: int) -> dict[str, int]:
    """Write ``copies`` sets of the sources: all nodes, then all ways, then all relations."""
    placed = []
    for k in range(copies):
        for s, (_nodes, _ways, _relations, (west, south)) in enumerate(sources):
            cell = k * len(sources) + s
            lon0 = ORIGIN_LON + (cell % COLUMNS) * CELL_LON
            lat0 = ORIGIN_LAT + (cell // COLUMNS) * CELL_LAT
            placed.append((cell * ID_STEP, lon0 - west, lat0 - south, s))
    tmp = target.with_name("part-" + target.name)
    tmp.unlink(missing_ok=True)
    counts = {"nodes": 0, "ways": 0, "relations": 0, "copies": copies}
    header = osmium.io.Header()  # as Geofabrik's extracts: sorted, with a replication date
    header.set("sorting", "Type_then_ID")
    header.set("osmosis_replication_timestamp", "2026-01-01T00:00:00Z")
    writer = osmium.SimpleWriter(str(tmp), header=header)
    try:
        for shift, dlon, dlat, s in placed:
            for node_id, lon, lat, tags in sources[s][0]:
                writer.add_node(
                    mutable.Node(
                        id=node_id + shift, location=(lon + dlon, lat + dlat), tags=tags, version=1
                    )
                )
            counts["nodes"] += len(sources[s][0])
        for shift, _dlon, _dlat, s in placed:
            for way_id, refs, tags in sources[s][1]:
                writer.add_way(
                    mutable.Way(
                        id=way_id + shift, nodes=[r + shift for r in refs], tags=tags, version=1
                    )
                )
            counts["ways"] += len(sources[s][1])
        for shift, _dlon, _dlat, s in placed:
            for rel_id, members, tags in sources[s][2]:
                moved = [(t, ref + shift, role) for t, ref, role in members]
                writer.add_relation(
                    mutable.Relation(id=rel_id + shift, members=moved, tags=tags, version=1)
                )
            counts["relations"] += len(sources[s][2])
    finally:
        writer.close()
    tmp.replace(target)
    return counts


def _region(build_dir: Path, min_mb: float) -> tuple[Path, dict]:
    """Build (or reuse) the region file and say what it holds and where a Munich copy lies."""
    build_dir.mkdir(parents=True, exist_ok=True)
    target = build_dir / f"region-{int(min_mb)}mb-v2.osm.pbf"
    sidecar = target.with_suffix(".json")
    if target.is_file() and sidecar.is_file():
        return target, json.loads(sidecar.read_text(encoding="utf-8"))
    print(f"building {target} (>= {min_mb:g} MB) from {len(SOURCES)} extracts ...", flush=True)
    started = time.perf_counter()
    counts = build_region(target, int(min_mb * 1e6))
    munich = list(load_source(DATA / SOURCES[0])[0])
    west = min(n[1] for n in munich)
    south = min(n[2] for n in munich)
    middle = (counts["copies"] // 2) * len(SOURCES)  # the Munich copy of the middle set
    lon0 = ORIGIN_LON + (middle % COLUMNS) * CELL_LON
    lat0 = ORIGIN_LAT + (middle // COLUMNS) * CELL_LAT
    info = {**counts, "bytes": target.stat().st_size, "build_s": time.perf_counter() - started,
            "munich_shift": [lon0 - west, lat0 - south]}  # fmt: skip
    sidecar.write_text(json.dumps(info), encoding="utf-8")
    return target, info


_CHILD_HEAD = """
import json, resource, sys, time
cpu0, wall0 = time.process_time(), time.perf_counter()
"""
_CHILD_TAIL = """
r = resource.getrusage(resource.RUSAGE_SELF)
peak_kb = r.ru_maxrss  # on Linux this keeps the forking parent's peak: VmHWM is our own
try:
    with open("/proc/self/status") as status:
        peak_kb = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
out = {"wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
       "maxrss_mb": peak_kb / 1024}
out.update(globals().get("extra", {}))
print("RESULT " + json.dumps(out))
"""


#: Extra environment of every child: Python's bytecode in a folder of the benchmark's own.
_BYTECODE: dict[str, str] = {}

#: Imported once, untimed, so that the children read their bytecode (``_warm_bytecode``).
_MODULES = """
import walks.store, walks.store_build, walks.store_pbf, walks.store_tables, walks.store_areas
import walks.pbf_loops, walks.ring_loops, walks.loader, walks.area, walks.categories, osmium
"""


def child(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run code in a fresh interpreter (its own peak memory) and return its measurements."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **_BYTECODE,
           **(env or {})}  # fmt: skip
    if "PYTHONPYCACHEPREFIX" in _BYTECODE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD_HEAD + code + _CHILD_TAIL, *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        msg = f"child failed:\n{done.stderr}"
        raise SystemExit(msg)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


OSMIUM_DECODE = """
import osmium
class Nothing(osmium.SimpleHandler):
    def changeset(self, c):  # the file has none: every object is decoded in C++ only
        pass
Nothing().apply_file(sys.argv[1])
"""
OSMIUM_LOCATIONS = """
import osmium
class Ways(osmium.SimpleHandler):
    def changeset(self, c):
        pass
Ways().apply_file(sys.argv[1], locations=True, idx="flex_mem")
"""
FILE_READ = """
from walks.data import read_extract, read_features
ways = read_extract(sys.argv[1])
found = read_features(sys.argv[1], bool)
extra = {"ways": len(ways.ways)}
"""
IMPORT = """
from pathlib import Path
from walks.store import import_extract
info = import_extract(sys.argv[1], Path(sys.argv[2]))
extra = {"ways": info.ways, "features": info.features, "buildings": info.buildings,
         "store_mb": info.size_bytes / 1e6}
"""
AREA_OPEN = """
from pathlib import Path
from walks.area import area_from_bbox
from walks.categories import load_categories, select_categories
from walks.loader import load_features, load_graph
box = [float(v) for v in sys.argv[3].split(",")]
area = area_from_bbox(*box)
use = {"store": True, "file": False}[sys.argv[4]]
cafe = select_categories(load_categories(), ["cafe"])
t = time.perf_counter()
g = load_graph(area, osm_file=sys.argv[1], cache_dir=Path(sys.argv[2]), use_cache=False,
               use_store=use).graph
t_graph = time.perf_counter() - t
f = load_features(area, cafe, osm_file=sys.argv[1], cache_dir=Path(sys.argv[2]), use_store=use)
extra = {"graph_s": t_graph, "open_s": time.perf_counter() - t, "nodes": g.n_nodes,
         "km": g.walkable_km, "cafes": len(f.features), "buildings": len(f.buildings)}
"""


def _table(rows: dict[str, dict], nodes: int) -> None:
    """Print each step's times, peak memory and notes."""
    print(f"\n{'step':<28}{'wall s':>9}{'CPU s':>9}{'peak MB':>9}  notes")
    for name, r in rows.items():
        note = ""
        if name.startswith(("import", "read file", "osmium")):
            note = f"{nodes / max(r['cpu_s'], 1e-9) / 1e6:.2f} M nodes per CPU s"
        if name.startswith("open"):
            note = (f"graph {r['graph_s']:.2f} s, {r['nodes']:,} junctions, {r['km']:.1f} km, "
                    f"{r['cafes']} cafés, {r['buildings']:,} buildings")  # fmt: skip
        if name.startswith("import"):
            note += f"; store {r['store_mb']:.1f} MB"
        if "runs" in r:
            note += (
                f"; median of {len(r['runs'])} runs of "
                + ", ".join(f"{cpu:.2f}" for cpu in r["runs"])
                + " CPU s"
            )
        print(f"{name:<28}{r['wall_s']:>9.2f}{r['cpu_s']:>9.2f}{r['maxrss_mb']:>9.0f}  {note}")


def _warm_bytecode(folder: str) -> None:
    """
    Have the children read Python's bytecode from a folder of the benchmark's own.

    An installed ``walks`` (and every library it uses) has its modules compiled to ``.pyc``
    files, by pip or by the first run. A machine that forbids writing them
    (``PYTHONDONTWRITEBYTECODE``, as some sandboxes and CI set) would have every child
    compile our sources again, about 0.1 CPU-s: one untimed child fills the folder first.
    """
    _BYTECODE["PYTHONPYCACHEPREFIX"] = folder
    child(_MODULES)


def _osmium_cli(region: Path) -> dict:
    """Time ``osmium fileinfo -e`` (it reads every object) on the region."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["osmium", "fileinfo", "-e", str(region)], capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "maxrss_mb": after.ru_maxrss / 1024,
    }


def _imports(
    region: Path, repeats: int, rows: dict[str, dict], reference: Callable[[], dict]
) -> tempfile.TemporaryDirectory[str]:
    """
    Import the region ``repeats`` times, each into a new cache; report the median run.

    The page cache is written out (``os.sync``) before each run, and each store but the last
    deleted: a run writing its store while the last one's pages are still being written
    back paid for them (three runs in a row, the stores kept: 5.0, 6.1 and 6.5 CPU-s).

    Right before each import, osmium reads the region (``reference``): the ratio of each such
    pair is kept, so that the machine's speed, which may change by half within a minute on a
    shared machine, weighs on both sides of each ratio alike.

    Returns
    -------
    tempfile.TemporaryDirectory
        The last run's cache (its store is opened afterwards); the caller cleans it up.
    """
    runs = []
    ratios = []
    held = None
    for _ in range(repeats):
        if held is not None:
            held.cleanup()
        beside = reference()
        os.sync()
        held = tempfile.TemporaryDirectory(prefix="walks-store-bench-")
        runs.append(child(IMPORT, str(region), held.name))
        ratios.append(runs[-1]["cpu_s"] / beside["cpu_s"])
    assert held is not None
    rows["import"] = sorted(runs, key=lambda r: r["cpu_s"])[len(runs) // 2]
    rows["import"]["runs"] = [r["cpu_s"] for r in runs]
    rows["import"]["ratios"] = ratios
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--build-dir", type=Path, default=Path(tempfile.gettempdir()) / "walks-store-bench"
    )
    parser.add_argument("--min-mb", type=float, default=50.0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="Imports to run, at least one (the median is reported).",
    )
    parser.add_argument(
        "--skip-file-read",
        action="store_true",
        help="Skip reading the whole file with read_extract/read_features.",
    )
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="No bytecode folder of the benchmark's own (every child may compile the sources).",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="walks-store-bench-pyc-") as bytecode:
        if not args.as_is:
            _warm_bytecode(bytecode)
        _run(args)


def _run(args: argparse.Namespace) -> None:
    """Build the region, measure every step and print the table and the ratios."""
    region, built = _region(args.build_dir, args.min_mb)
    nodes = built["nodes"]
    print(f"region file: {region} ({built['bytes'] / 1e6:.1f} MB PBF, {built['copies']} copies "
          f"of {len(SOURCES)} extracts: {nodes:,} nodes, {built['ways']:,} ways, "
          f"{built['relations']:,} relations)")  # fmt: skip
    rows: dict[str, dict] = {}
    rows["osmium decode"] = child(OSMIUM_DECODE, str(region))
    rows["osmium + locations"] = child(OSMIUM_LOCATIONS, str(region))
    if shutil.which("osmium"):
        rows["osmium CLI fileinfo -e"] = _osmium_cli(region)
    else:
        print("(the osmium command-line tool is not installed: pyosmium's reading stands in)")
    if not args.skip_file_read:
        rows["read file (walks, before)"] = child(FILE_READ, str(region))
    if "osmium CLI fileinfo -e" in rows:
        reference = functools.partial(_osmium_cli, region)
    else:
        reference = functools.partial(child, OSMIUM_LOCATIONS, str(region))
    held = _imports(region, args.repeats, rows, reference)
    cache = held.name
    compiled = importlib.util.find_spec("numba") is not None
    if compiled:  # the numpy decoder alone, as without walks[fast]: for comparison
        with tempfile.TemporaryDirectory(prefix="walks-store-bench-") as numpy_cache:
            rows["import, numpy only"] = child(
                IMPORT, str(region), numpy_cache, env={"WALKS_JIT": "0"}
            )
    else:
        print("(numba is not installed: the import runs on numpy alone; pip install walks[fast])")
    try:
        dlon, dlat = built["munich_shift"]
        half_lat = math.sqrt(2.0) / 2 / 111.32  # a 1.414 km square: 2 km²
        half_lon = half_lat / math.cos(math.radians(48.137 + dlat))
        lon, lat = 11.5745 + dlon, 48.1375 + dlat
        box = f"{lon - half_lon},{lat - half_lat},{lon + half_lon},{lat + half_lat}"
        rows["open 2 km² (store)"] = child(AREA_OPEN, str(region), cache, box, "store")
        rows["open 2 km² (file)"] = child(AREA_OPEN, str(region), cache, box, "file")
    finally:
        held.cleanup()
    _table(rows, nodes)
    imp = rows["import"]
    ref = rows.get("osmium CLI fileinfo -e") or rows["osmium + locations"]
    print("\nratios")
    pairs = sorted(imp["ratios"])
    print(
        f"  import CPU / osmium reading CPU (with locations): {imp['cpu_s'] / ref['cpu_s']:.2f} "
        f"(target <= 2); run side by side: median {pairs[len(pairs) // 2]:.2f} of "
        + ", ".join(f"{r:.2f}" for r in imp["ratios"])
    )
    print(
        f"  import throughput: {nodes / imp['cpu_s'] / 1e6:.2f} M nodes per CPU second "
        "(target >= 1)"
    )
    if "read file (walks, before)" in rows:
        read = rows["read file (walks, before)"]
        print(
            f"  import CPU / reading the file once (walks, before): {imp['cpu_s'] / read['cpu_s']:.2f}"
        )
    store, file = rows["open 2 km² (store)"], rows["open 2 km² (file)"]
    print(
        f"  open 2 km² from the store: {store['open_s']:.2f} s (target <= 1); from the file "
        f"{file['open_s']:.2f} s: {file['open_s'] / store['open_s']:.0f}x faster"
    )
    print(f"  import peak memory: {imp['maxrss_mb']:.0f} MB (target <= 1024)")


if __name__ == "__main__":
    main()
