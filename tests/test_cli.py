"""The command line, end to end through typer's CliRunner."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import pytest
import typer
from osm_services import FakeOsmServices

from walks import __version__
from walks.cli import app

INFO_KEYS = {"nodes", "edges", "walkable_km", "bbox", "source", "data_date"}


def _error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_version(runner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"walks {__version__}"


def test_info_demo_json(runner, cache_dir: Path) -> None:
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info.keys() >= INFO_KEYS
    assert info["source"] == "demo:helsinki"
    assert info["nodes"] > 2000
    assert info["edges"] >= info["nodes"]
    west, south, east, north = info["bbox"]
    assert 24.9 < west < east < 25.0
    assert 60.1 < south < north < 60.2
    assert info["data_date"].startswith("2019-")
    assert info["from_cache"] is False
    again = json.loads(runner.invoke(app, ["-q", "info", "--json"]).stdout)
    assert again["from_cache"] is True
    assert again["nodes"] == info["nodes"]


def test_info_text_on_paris(runner, paris_osm: Path) -> None:
    result = runner.invoke(app, ["info", "--osm-file", str(paris_osm)])
    assert result.exit_code == 0, result.stderr
    assert re.search(r"^nodes\s+\d+", result.stdout, re.MULTILINE)
    assert re.search(r"^squares\s+5 pedestrian area\(s\) crossed", result.stdout, re.MULTILINE)
    assert "© OpenStreetMap contributors" in result.stdout
    assert "walks: reading map.osm" in result.stderr


def test_quiet_silences_progress(runner, paris_osm: Path) -> None:
    result = runner.invoke(app, ["-q", "info", "--osm-file", str(paris_osm), "--json"])
    assert result.exit_code == 0
    assert result.stderr == ""


def test_verbose_times_phases(runner, paris_osm: Path) -> None:
    result = runner.invoke(app, ["-v", "info", "--osm-file", str(paris_osm), "--no-cache"])
    assert re.search(
        r"walks: building the walking graph \(\d+ ways\)… \[\d+\.\d\d s\]", result.stderr
    )


def test_info_clipped_extract(runner, paris_osm: Path) -> None:
    whole = json.loads(
        runner.invoke(app, ["-q", "info", "--osm-file", str(paris_osm), "--json"]).stdout
    )
    part = runner.invoke(
        app,
        ["-q", "info", "48.8791,2.3486", "--radius", "250", "--osm-file", str(paris_osm), "--json"],
    )
    assert part.exit_code == 0, part.stderr
    info = json.loads(part.stdout)
    assert 0 < info["nodes"] < whole["nodes"]
    assert info["area"] == "48.8791,2.3486 within 250 m"


def test_info_online(runner, osm_services: FakeOsmServices, monkeypatch) -> None:
    monkeypatch.setenv("WALKS_OVERPASS_URL", osm_services.url)
    monkeypatch.setenv("WALKS_NOMINATIM_URL", osm_services.url)
    result = runner.invoke(app, ["-q", "info", "Gare du Nord, Paris", "--json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["source"] == f"overpass:{osm_services.url}"
    assert info["area"] == "Gare du Nord, Paris"
    assert info["data_date"] == "2021-07-07T10:22:44Z"
    assert info["nodes"] > 50


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["info", "--osm-file", "/no/such/map.osm"],
            1,
            "Error: OSM file '/no/such/map.osm' does not exist: check the path given to --osm-file",
        ),
        (
            ["info", "--osm-file", "notes.txt"],
            1,
            "Error: unsupported extract 'notes.txt': give a .osm, .osm.gz, .osm.bz2 or .osm.pbf file",
        ),
        (
            ["info", "48.88,2.35", "--radius", "0"],
            2,
            "Error: Invalid value for '--radius': radius 0 m is out of range: give metres from 1 to 50000, e.g. --radius 800",
        ),
        (
            ["info", "48.88,2.35", "--radius", "-10"],
            2,
            "Error: Invalid value for '--radius': radius -10 m is out of range: give metres from 1 to 50000, e.g. --radius 800",
        ),
        (
            ["info", "2.36,48.88,2.34,48.87"],
            2,
            "Error: Invalid value for AREA: bounding box '2.36,48.88,2.34,48.87' is empty: "
            "give west,south,east,north with west < east and south < north",
        ),
        (
            ["info", "48.88,2.35", "--radius", "9000", "--max-area-km2", "5"],
            1,
            "Error: area '48.88,2.35 within 9000 m' covers 254.1 km², more than the 5 km² limit: "
            "choose a smaller area or radius, or raise --max-area-km2",
        ),
    ],
)
def test_bad_input(runner, args: list[str], code: int, message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert _error_line(result) == message
    assert "Traceback" not in result.output


def test_corrupt_extract(runner, paris_osm: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.osm"
    cut.write_bytes(paris_osm.read_bytes()[:100_000])
    result = runner.invoke(app, ["info", "--osm-file", str(cut)])
    assert result.exit_code == 1
    assert _error_line(result).startswith(f"Error: OSM file '{cut}' is corrupt or truncated (")


def test_extract_without_walkable_ways(runner, tmp_path: Path) -> None:
    empty = tmp_path / "buildings.osm"
    empty.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="48.88" lon="2.35"/><node id="2" lat="48.881" lon="2.35"/>'
        '<node id="3" lat="48.881" lon="2.351"/>'
        '<way id="9"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/>'
        '<tag k="building" v="yes"/></way></osm>'
    )
    result = runner.invoke(app, ["info", "--osm-file", str(empty)])
    assert result.exit_code == 1
    assert _error_line(result) == (
        f"Error: no walkable ways in '{empty}': choose a larger area or another extract"
    )


def test_unknown_place(runner, osm_services: FakeOsmServices) -> None:
    result = runner.invoke(app, ["info", "Nowhere-at-all", "--nominatim-url", osm_services.url])
    assert result.exit_code == 1
    assert _error_line(result).startswith("Error: no place called 'Nowhere-at-all' was found")


def test_overpass_unreachable(runner) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = runner.invoke(
        app, ["info", "2.345,48.877,2.352,48.881", "--overpass-url", url, "--retries", "1"]
    )
    assert result.exit_code == 1
    assert _error_line(result) == (
        f"Error: cannot reach 127.0.0.1: no network? (Overpass at '{url}': connection refused, "
        "1 try). Use --osm-file FILE or run without AREA for the offline demo"
    )


def test_unwritable_cache(runner, paris_osm: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(
        app, ["info", "--osm-file", str(paris_osm), "--cache-dir", str(blocker / "c")]
    )
    assert result.exit_code == 1
    assert "is not writable" in _error_line(result)


def test_cache_list_and_clear(runner, paris_osm: Path, cache_dir: Path) -> None:
    assert "no cached graphs" in runner.invoke(app, ["cache"]).stdout
    runner.invoke(app, ["-q", "info", "--osm-file", str(paris_osm)])
    listing = runner.invoke(app, ["cache", "list", "--json"])
    rows = json.loads(listing.stdout)
    # the graph, and the store the extract was imported into on first use
    source = f"file:{paris_osm.resolve()}"
    assert sorted((r["kind"], r["source"]) for r in rows) == [("graph", source), ("store", source)]
    assert next(r for r in rows if r["kind"] == "store")["current"] is True
    assert "map.osm" in runner.invoke(app, ["cache"]).stdout
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0
    assert cleared.stdout.startswith("removed 2 cached file(s)")
    assert json.loads(runner.invoke(app, ["cache", "list", "--json"]).stdout) == []


def _commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [(*prefix, c.name or c.callback.__name__) for c in group.registered_commands]
    for sub in group.registered_groups:
        found.append((*prefix, sub.name))
        found += _commands(sub.typer_instance, (*prefix, sub.name))
    return found


def test_every_command_has_help(runner) -> None:
    commands = _commands(app)
    assert ("info",) in commands
    assert ("cache", "clear") in commands
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert len(result.stdout.split("\n\n")[1].strip()) > 20, command


def test_file_names_are_not_rich_markup(runner, paris_osm: Path, tmp_path: Path) -> None:
    odd = tmp_path / "[bold] [red]map[link=x].osm"
    odd.write_bytes(paris_osm.read_bytes())
    result = runner.invoke(app, ["info", "--osm-file", str(odd)])
    assert result.exit_code == 0, result.output
    assert "walks: importing [bold] [red]map[link=x].osm into the store (once)…\n" in result.stderr


MUNICH = (
    Path(__file__).resolve().parents[2] / "shared/data/osm-munich-altstadt-2020/munchen.osm.pbf"
)


def test_import_then_info_list_generate_and_clear(runner, cache_dir: Path) -> None:
    before = json.loads(runner.invoke(app, ["info", str(MUNICH), "--json"]).stdout)["store"]
    assert before["present"] is False
    done = runner.invoke(app, ["import", str(MUNICH), "--json"])
    assert done.exit_code == 0, done.stderr
    assert "walks: reading munchen.osm.pbf into the store" in done.stderr
    record = json.loads(done.stdout)
    assert record["current"] is True
    assert record["ways"] > 2000
    assert record["buildings"] > 500
    assert record["pedestrian_areas"] > 0
    assert record["seconds"] > 0
    assert Path(record["path"]).parent == cache_dir / "stores"
    text = runner.invoke(app, ["import", str(MUNICH)])
    assert re.search(r"^buildings\s+[\d,]+$", text.stdout, re.MULTILINE)
    assert re.search(r"^store\s+.*\.sqlite \([\d.]+ MB\)$", text.stdout, re.MULTILINE)
    shown = runner.invoke(app, ["info", str(MUNICH)])
    assert re.search(r"^store\s+current, [\d.]+ MB, imported 20", shown.stdout, re.MULTILINE)
    walk = runner.invoke(app, ["generate", "--osm-file", str(MUNICH), "11.565,48.134,11.578,48.14",
                               "--stops", "cafe", "--minutes", "30", "--json", "-"])  # fmt: skip
    assert walk.exit_code == 0, walk.stderr
    assert "from the store" in walk.stderr
    assert "reading" not in walk.stderr
    assert json.loads(walk.stdout)["stops"][0]["category"] == "cafe"
    rows = json.loads(runner.invoke(app, ["cache", "list", "--json"]).stdout)
    stores = [r for r in rows if r["kind"] == "store"]
    assert [(r["source"], r["current"]) for r in stores] == [(f"file:{MUNICH}", True)]
    assert "region store of" in runner.invoke(app, ["cache"]).stdout
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0
    assert not list((cache_dir / "stores").iterdir())
    after = json.loads(runner.invoke(app, ["info", str(MUNICH), "--json"]).stdout)["store"]
    assert after["present"] is False


def test_import_errors_are_one_line(runner, tmp_path: Path, paris_osm: Path) -> None:
    missing = runner.invoke(app, ["import", str(tmp_path / "none.osm.pbf")])
    assert missing.exit_code == 1
    assert "none.osm.pbf" in _error_line(missing)
    assert "walks import" in _error_line(missing)
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"this is no OSM data" * 100)
    bad = runner.invoke(app, ["import", str(junk)])
    assert bad.exit_code == 1
    assert "junk.osm.pbf" in _error_line(bad)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    unwritable = runner.invoke(app, ["import", str(paris_osm), "--cache-dir", str(blocker / "c")])
    assert unwritable.exit_code == 1
    assert "--cache-dir" in _error_line(unwritable)
    assert not (tmp_path / "stores").exists()
    no_file = runner.invoke(app, ["import"])
    assert no_file.exit_code == 2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["generate", "--minutes", "abc"],
         "Error: --minutes 'abc' is not valid: Input should be a valid number"),
        (["generate", "--minutes=\x1b[2J"], "Error: --minutes '\\x1b[2J' is not valid"),
        (["generate", "--bogus"], "Error: No such option: --bogus"),
        (["import"], "Error: Missing argument 'FILE' (see 'walks import --help')"),
        (["generate", "--html"],
         "Error: Option '--html' requires an argument (see 'walks generate --help')"),
        (["batch", "a.csv", "--workers", "two"], "Error: --workers 'two' is not valid"),
    ],
)  # fmt: skip
def test_usage_errors_of_the_command_are_one_line(argv: list[str], expected: str) -> None:
    """The installed command: click's own usage errors say one line too, exit 2, no usage block."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "walks", *argv], capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(expected), lines[0]
    assert "\x1b" not in done.stderr
    assert "--help')" in lines[0]


def test_logs_to_a_file_or_pipe_are_whole_lines(runner, paris_osm: Path, tmp_path: Path) -> None:
    """-v logs on a non-terminal stderr: one line per record, long paths not wrapped or padded."""
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "extract.osm"
    deep.parent.mkdir()
    deep.write_bytes(paris_osm.read_bytes())
    cache = tmp_path / ("cache-folder-with-a-long-name-" * 3)
    for _ in range(2):  # the second run logs the graph read from the cache
        result = runner.invoke(
            app, ["-v", "info", "--osm-file", str(deep), "--cache-dir", str(cache)]
        )
        assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    cached = [line for line in lines if line.startswith("INFO     graph read from cache")]
    assert len(cached) == 1, result.stderr
    assert str(cache) in cached[0]
    assert len(cached[0]) > 120
    assert not any(line != line.rstrip() for line in lines)


def test_store_commands_load_no_planner(tmp_path: Path) -> None:
    """``walks import``, ``info FILE``, ``cache`` and ``--help`` do not load the planner.

    Its modules cost every command about 0.45 CPU-s before it did anything (``walks --help``
    took 0.7 CPU-s, now 0.25). ``walks cache`` lists cached graphs, so it reads their module
    (and scipy); the others load neither.
    """
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from walks.cli import run\n"
        "sys.argv = ['walks'] + sys.argv[1:]\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "heavy = {'walks.api', 'walks.planner', 'walks.loader', 'walks.stops', 'folium',\n"
        "         'rasterio', 'osmnx', 'geopandas'}\n"
        "if sys.argv[1] != 'cache':\n"
        "    heavy |= {'walks.graph', 'walks.cache', 'scipy'}\n"
        "print(sorted(heavy & set(sys.modules)), file=sys.stderr)\n"
    )
    cache = str(tmp_path / "cache")
    for args in (
        ["import", str(MUNICH), "--cache-dir", cache],
        ["info", str(MUNICH), "--cache-dir", cache],
        ["cache", "--cache-dir", cache],
        ["--help"],
    ):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                 "WALKS_JIT": "0"},
        )  # fmt: skip
        assert done.returncode == 0, (args, done.stderr)
        assert done.stderr.splitlines()[-1] == "[]", (args, done.stderr)


@pytest.mark.parametrize("thread", [False, True])
def test_the_command_ends_as_a_normal_exit_would(tmp_path: Path, thread: bool) -> None:
    """``walks`` skips the interpreter's teardown, and loses nothing a normal exit gives.

    Its stdout reaches a pipe whole (block-buffered: what atexit functions print goes out only
    with a flush), atexit functions and temporary folders' finalizers run, a non-daemon
    thread is waited for, and the exit code is the command's.
    """
    import subprocess
    import sys

    code = (
        "import atexit, os, pathlib, sys, tempfile, threading, time\n"
        "real_exit = os._exit\n"
        "def marked(code):  # the fast path's end, made visible\n"
        "    os.write(2, b'fast exit\\n')\n"
        "    real_exit(code)\n"
        "os._exit = marked\n"
        "out = pathlib.Path(sys.argv[1])\n"
        "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
        "atexit.register(print, 'last words')  # stdout, sent only by a flush\n"
        "kept = tempfile.TemporaryDirectory(dir=out.parent)\n"
        "(out.parent / 'folder').write_text(kept.name)\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    out.write_text('thread done')\n"
        "if sys.argv[2] == 'thread':\n"
        "    threading.Thread(target=late).start()\n"
        "sys.argv = ['walks'] + sys.argv[3:]\n"
        "from walks.cli import entry_point\n"
        "entry_point()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("PYTHONUNBUFFERED", None)  # stdout to a pipe is then block-buffered
    out = tmp_path / "thread.txt"
    mode = "thread" if thread else "-"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out), mode, "--help"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    normal = subprocess.run(
        [sys.executable, "-c", "import sys; from walks.cli import run; run(['--help'])"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert normal.stdout.startswith("Usage: walks"), normal.stdout
    assert done.stdout == normal.stdout + "last words\n"
    ended = ["atexit ran"] if thread else ["atexit ran", "fast exit"]  # a thread: normal exit
    assert done.stderr.splitlines() == ended, done.stderr
    assert not Path((tmp_path / "folder").read_text()).exists()
    assert out.exists() == thread
    bad = subprocess.run(
        [sys.executable, "-c", code, str(out), mode, "--nope"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.splitlines()[0].startswith("Error: No such option: --nope")
    assert bad.stderr.splitlines()[1:] == ended, bad.stderr


@pytest.mark.parametrize(
    "args", [["--help"], ["cache"], ["stops", "--json", "--no-terrain"]], ids=str
)
def test_an_output_stream_that_fails_ends_the_run_with_one_line(
    args: list[str], cache_dir: Path
) -> None:
    """stdout to a closed pipe ends the run quietly, to a full device with one line; exit 1.

    Help and listings are written by typer, ``stops --json`` by a command body: neither may
    show a traceback or call the failure a bug of walks.
    """
    import subprocess
    import sys

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "WALKS_CACHE_DIR": str(cache_dir)}  # fmt: skip
    env.pop("PYTHONUNBUFFERED", None)
    argv = [sys.executable, "-m", "walks", "-q", *args]
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads: every write fails with EPIPE
    try:
        closed = subprocess.run(argv, stdout=writer, stderr=subprocess.PIPE, text=True,
                                check=False, env=env)  # fmt: skip
    finally:
        os.close(writer)
    assert closed.returncode == 1, closed.stderr
    assert "Traceback" not in closed.stderr
    assert "Error" not in closed.stderr, closed.stderr  # the reader chose to stop reading
    with Path("/dev/full").open("w") as full:
        failed = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True,
                                check=False, env=env)  # fmt: skip
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error")]
    assert errors == [
        "Error: cannot write the output (No space left on device): make room where it goes "
        "(the files asked for, the cache folder, or where the standard output is sent) or "
        "send it elsewhere"
    ], failed.stderr


@pytest.mark.parametrize("host", ["runpy", "cProfile"])
def test_a_program_running_walks_inside_itself_gets_its_exit_back(host: str) -> None:
    """Only a process that is the ``walks`` command is ended by it, not a host program.

    ``runpy.run_module`` (as notebooks and tools do) gets the command's ``SystemExit``; a
    profiler (``python -m cProfile -m walks``) still prints its report after the run.
    """
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    if host == "runpy":
        code = (
            "import runpy, sys\n"
            "sys.argv = ['walks', '--nope']\n"
            "try:\n"
            "    runpy.run_module('walks', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as end:\n"
            "    print('the host goes on after', end.code)\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=False, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == "the host goes on after 2\n"
        assert done.stderr.startswith("Error: No such option: --nope"), done.stderr
    else:
        done = subprocess.run([sys.executable, "-m", "cProfile", "-m", "walks", "--version"],
                              capture_output=True, text=True, check=False, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"walks {__version__}"), done.stdout[:200]
        assert "function calls" in done.stdout  # the profiler's report


def test_public_names_load_on_first_use_and_geocode_stays_the_function() -> None:
    """``import walks`` loads no numpy; ``walks.geocode`` is the function, not its submodule."""
    import subprocess
    import sys

    code = (
        "import sys, types, walks\n"
        "assert 'numpy' not in sys.modules\n"
        "walks.generate_walks, walks.load_graph\n"
        "import walks.area, walks.geocode\n"
        "assert isinstance(walks.geocode, types.FunctionType), walks.geocode\n"
        "assert walks.geocode.__module__ == 'walks.geocode'\n"
        "assert all(hasattr(walks, name) for name in walks.__all__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
