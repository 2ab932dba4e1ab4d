"""Process wall time of two everyday commands, cold and warm, against the targets of issue #13.

Usage: python benchmarks/warm_walk.py [--repeats 5] [--no-terrain] [--only munich|munich-store|demo]
       [--as-is]

The two commands, each run as its own ``walks`` process with all of its usual outputs:

* ``munich``: a 180-minute walk with ``--stops cafe,studio=2,view`` on the Munich extract in
  ``../shared/data`` (3,600 junctions, 110 cafés), the Frauenkirche (99 m) as the landmark,
  writing HTML, GPX, GeoJSON and JSON. Target: at most 1.5 s warm. The cold run imports the
  extract into its region store (first use); warm runs read the store.
* ``munich-store``: the same after ``walks import`` of the extract (not timed), so even the
  cold run opens its area from the store.
* ``demo``: the README's demo, ``walks generate --overwrite`` (the shipped Helsinki extract,
  HTML and GPX). Targets: at most 1 s warm, 3 s cold.

"Cold" is a run with an empty cache directory (no graph, height grid or terrain tile cached;
the operating system's file cache is not dropped), "warm" a run right after one with the same
cache directory. Each is repeated; the median (and best) wall time and CPU time (user + sys of
the child process) are printed, the CPU time because the machine may be shared. Terrain tiles
are asked for as the command would ask for them (without a network that is a failed
connection, which the run reports; the warm run, within ``walks.terrain.UNREACHABLE_S`` of the
cold one, says the same from the failure the cold run noted in the cache, without asking
again); ``--no-terrain`` passes ``--no-terrain`` to both commands.

The floor: a process that only imports the libraries every ``walks generate`` loads (numpy,
scipy's sparse graphs, shapely, gpxpy, typer and its pydantic; ``FLOOR``) is timed in the same
run and printed first, so that what walks' own work costs stands out from a slow machine or a
heavier library release.

Python's own bytecode: an installed ``walks`` (and every library it uses) has its modules
compiled to ``.pyc`` files, by pip at install time or by the first run. So that a machine
that forbids writing them (``PYTHONDONTWRITEBYTECODE``, as some sandboxes and CI set) does not
measure compiling our sources on every run, the commands write and read bytecode in a
folder of the benchmark's own (``PYTHONPYCACHEPREFIX``), filled by one untimed run first.
``--as-is`` keeps the environment as it is (then every run may compile the sources again).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUNICH = ROOT.parent / "shared" / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
FRAUENKIRCHE = "48.13862,11.57355,99"

#: (warm, cold) wall-time targets in seconds; None where the issue sets none.
TARGETS: dict[str, tuple[float, float | None]] = {
    "munich": (1.5, None),
    "munich-store": (1.5, None),
    "demo": (1.0, 3.0),
}


def _command(name: str, out: Path, *, no_terrain: bool) -> list[str]:
    walks = [sys.executable, "-m", "walks", "-q", "generate", "--overwrite"]
    extra = ["--no-terrain"] if no_terrain else []
    if name == "demo":
        return [*walks, "--html", str(out / "walk.html"), "--gpx", str(out / "walk.gpx"), *extra]
    return [
        *walks, "--osm-file", str(MUNICH), "--minutes", "180", "--stops", "cafe,studio=2,view",
        "--landmark", FRAUENKIRCHE, "--html", str(out / "m.html"), "--gpx", str(out / "m.gpx"),
        "--geojson", str(out / "m.geojson"), "--json", str(out / "m.json"), *extra,
    ]  # fmt: skip


#: Extra environment of every command (see the module docstring: bytecode).
_ENV: dict[str, str] = {}


def _run(argv: list[str], cache: Path) -> tuple[float, float]:
    env = {**os.environ, "WALKS_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT), **_ENV}
    if "PYTHONPYCACHEPREFIX" in _ENV:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _measure(name: str, repeats: int, *, no_terrain: bool) -> dict[str, tuple[float, float]]:
    cold: list[tuple[float, float]] = []
    warm: list[tuple[float, float]] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cache, out = Path(tmp) / "cache", Path(tmp)
            argv = _command(name, out, no_terrain=no_terrain)
            if name == "munich-store":  # the once-per-file step, not timed
                _run([sys.executable, "-m", "walks", "-q", "import", str(MUNICH)], cache)
            cold.append(_run(argv, cache))
            warm.append(_run(argv, cache))
    out = {}
    for kind, runs in (("cold", cold), ("warm", warm)):
        out[kind] = (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        out[f"{kind} best"] = (min(w for w, _ in runs), min(c for _, c in runs))
    return out


def main() -> None:
    """Time the commands and print them against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-terrain", action="store_true")
    parser.add_argument("--only", choices=sorted(TARGETS))
    parser.add_argument("--as-is", action="store_true",
                        help="no bytecode folder of our own (see the docstring)")  # fmt: skip
    args = parser.parse_args()
    if not MUNICH.exists():
        sys.exit(f"the Munich extract is missing: {MUNICH}")
    with tempfile.TemporaryDirectory() as bytecode:
        if not args.as_is:
            _ENV["PYTHONPYCACHEPREFIX"] = bytecode
        _report(args)


#: The libraries every ``walks generate`` loads, imported alone: the floor under its time
#: (scipy.sparse.csgraph brings scipy.linalg and, through scipy's array-API layer, numpy.f2py;
#: typer 0.29 builds each option with pydantic's ``TypeAdapter``). One BLAS thread, as the
#: command sets (``walks._blas``), and no interpreter teardown, as the command ends.
FLOOR = "import numpy, scipy.sparse.csgraph, shapely, gpxpy, typer, pydantic; pydantic.TypeAdapter"


def _floor(repeats: int) -> tuple[float, float]:
    """
    Time a process that only imports the libraries of ``FLOOR``.

    Parameters
    ----------
    repeats
        How many times.

    Returns
    -------
    tuple of float
        Median wall and CPU seconds.
    """
    with tempfile.TemporaryDirectory() as tmp:
        # ended as the command ends (``walks.cli.entry_point``): without the teardown
        argv = [sys.executable, "-c", f"import os, walks._blas; {FLOOR}; os._exit(0)"]
        runs = [_run(argv, Path(tmp)) for _ in range(repeats + 1)][1:]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def _report(args: argparse.Namespace) -> None:
    """Print the timings of the commands asked for (``main``'s arguments)."""
    compiled = "own bytecode folder" if _ENV else "environment as is"
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.repeats} repeats; "
          f"{compiled}")  # fmt: skip
    names = [args.only] if args.only else list(TARGETS)
    if _ENV:  # compile every module the commands load, untimed
        for name in names:
            _measure(name, 1, no_terrain=args.no_terrain)
    floor_wall, floor_cpu = _floor(args.repeats)
    print(f"libraries' imports alone: wall {floor_wall:5.2f} s (median)  cpu {floor_cpu:5.2f} s"
          "  (the floor under every command; FLOOR)")  # fmt: skip
    for name in names:
        result = _measure(name, args.repeats, no_terrain=args.no_terrain)
        warm_target, cold_target = TARGETS[name]
        for kind, target in (("cold", cold_target), ("warm", warm_target)):
            wall, cpu = result[kind]
            best_wall, best_cpu = result[f"{kind} best"]
            verdict = "" if target is None else (
                f"  target {target:.1f} s: {'met' if wall <= target else 'MISSED'}"
                f" ({wall / target:.2f}x)"
            )  # fmt: skip
            print(f"{name:12s} {kind}: wall {wall:5.2f} s (median; best {best_wall:5.2f})  "
                  f"cpu {cpu:5.2f} s (best {best_cpu:5.2f}){verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
