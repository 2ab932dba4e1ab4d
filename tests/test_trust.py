"""Hostile input through the CLI and the library: one clear line, the right exit code, no trace.

Covers issue #8's classes that live in the CLI and the API: terminal hygiene, numbers, outputs
all-or-none, caches named on the command line, local-first starts, unreachable landmarks,
argument checks of the library, and a battery of hostile inputs.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import osmium
import pytest

from walks.api import generate_walks, stops_in_area
from walks.cli import app
from walks.errors import UsageError, WalksError

#: Any control character a terminal could act on (C0 but tab/LF, DEL, C1, bidi overrides).
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: A stop name that would recolour the terminal, write the clipboard, ring and reorder text.
EVIL_NAME = "Caf\x1b[31mé\x1b]52;c;ZXZpbA==\x07 \x9b2J\u202eevil\x7f"


def _one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.fixture(scope="module")
def evil_pbf(paris_osm: Path, tmp_path_factory) -> Path:
    """The Paris extract as PBF (which, unlike XML, carries any character) with an evil café."""
    target = tmp_path_factory.mktemp("evil") / "evil\x1b[2J.osm.pbf"
    writer = osmium.SimpleWriter(str(target))
    try:
        for obj in osmium.FileProcessor(str(paris_osm)):
            if obj.is_node() and obj.tags.get("name") == "Le Balto":
                tags = {t.k: t.v for t in obj.tags} | {"name": EVIL_NAME}
                writer.add_node(obj.replace(tags=tags))
            elif obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                writer.add_way(obj)
            elif obj.is_relation():
                writer.add_relation(obj)
    finally:
        writer.close()
    return target


# ----------------------------------------------------------------- terminal hygiene


@pytest.mark.parametrize(
    "args",
    [
        ["stops", "-c", "cafe", "--limit", "50"],
        ["stops", "-c", "cafe", "--json"],
        ["stops", "-c", "cafe", "--geojson"],
        ["info"],
        ["generate", "--stops", "cafe", "--must-visit", EVIL_NAME, "--minutes", "40",
         "--json", "-", "--directions"],
        ["generate", "--stops", "cafe", "--must-visit", EVIL_NAME, "--minutes", "40",
         "--geojson", "-"],
    ],
    ids=["table", "json", "geojson", "info", "generate", "generate-geojson"],
)  # fmt: skip
def test_no_control_character_reaches_the_terminal(runner, evil_pbf: Path, args) -> None:
    result = runner.invoke(app, [args[0], "--osm-file", str(evil_pbf), *args[1:]])
    assert result.exit_code == 0, result.stderr
    assert not RAW_CONTROL.search(result.stdout)
    assert not RAW_CONTROL.search(result.stderr)
    if args[0] in {"stops", "generate"}:
        assert "\\x1b" in result.stdout or "\\u001b" in result.stdout  # shown, not dropped
    if "--json" in args:  # the whole of stdout is the document (directions go to stderr)
        found = json.loads(result.stdout)
        names = [s["name"] for s in (found["stops"] if isinstance(found, dict) else found)]
        assert EVIL_NAME in names  # JSON still carries the exact name
    if "--geojson" in args and args[0] == "generate":
        names = [f["properties"].get("name") for f in json.loads(result.stdout)["features"]]
        assert EVIL_NAME in names
    if "--directions" in args:
        assert "Le Balto" not in result.stdout  # directions on stderr, one line per step
        assert any("\\x1b" in line for line in result.stderr.splitlines())


def test_error_lines_show_control_characters(runner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", "--osm-file", str(tmp_path / "no\x1b]0;pwn\x07.osm")])
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "\\x1b" in line
    assert not RAW_CONTROL.search(result.stderr)


# ----------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--minutes", "inf"], "give 1 to 1440 minutes"),
        (["--minutes", "1e12"], "give 1 to 1440 minutes"),
        (["--minutes", "1e308"], "give 1 to 1440 minutes"),
        (["--minutes", "nan"], "give 1 to 1440 minutes"),
        (["--km", "1e9"], "give 0.1 to 100 km"),
        (["--km", "-inf"], "give 0.1 to 100 km"),
        (["--seed", "-1"], "-1 is out of range: give 0 to 4294967295"),
        (["--seed", str(2**64)], "is out of range: give 0 to 4294967295"),
        (["--start", "nan,nan"], "out of range: latitude is -90..90"),
        (["--start", "91,0"], "out of range: latitude is -90..90"),
        (["--start", "48.8,2.3,7"], "is not 'lat,lon'"),
        (["--at", "0001-01-01 09:00"], "give a date from 1970 to 2100"),
        (["--at", "9999-12-31 23:59"], "give a date from 1970 to 2100"),
        (["--prefer-quiet", "nan"], "give 0 to 5"),
        (["--roofline", "inf"], "give 0 to 1000 m"),
        (["--max-area-km2", "nan"], "give 0.01 to 10000 km²"),
    ],
)  # fmt: skip
def test_numbers_out_of_range_exit_2(runner, args, needle) -> None:
    started = time.perf_counter()
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2, result.stderr
    assert needle in _one_error_line(result)
    assert time.perf_counter() - started < 5  # refused before any work


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("weight = nan", "'weight' must be a number from 0 to 100"),
        ("weight = inf", "'weight' must be a number from 0 to 100"),
        ("dwell_minutes = inf", "'dwell_minutes' must be a number from 0 to 720"),
        ("dwell_minutes = 1e300", "'dwell_minutes' must be a number from 0 to 720"),
        ("bonus = { website = nan }", "'bonus' must be a table of tag = number"),
    ],
)  # fmt: skip
def test_category_files_with_absurd_numbers(runner, tmp_path: Path, line, needle) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(f'[mine]\n{line}\nfilters = [{{ amenity = "cafe" }}]\n', encoding="utf-8")
    result = runner.invoke(app, ["generate", "--categories", str(path), "--stops", "mine"])
    assert result.exit_code == 2
    assert needle in _one_error_line(result)


# ----------------------------------------------------------------- outputs, all or none


def test_two_outputs_on_one_path_refused_before_work(runner, tmp_path: Path, cache_dir) -> None:
    same = tmp_path / "out.txt"
    result = runner.invoke(app, ["generate", "--gpx", str(same), "--json", str(same)])
    assert result.exit_code == 2
    assert "--gpx and --json both write" in _one_error_line(result)
    assert not same.exists()
    assert not cache_dir.exists()  # nothing was loaded


def test_disk_full_on_a_later_output_leaves_nothing(
    paris_osm: Path, tmp_path: Path, leaflet_dir: Path
) -> None:
    """A file-size limit fails the self-contained map, staged after three other outputs."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "walk.gpx").write_text("previous gpx", encoding="utf-8")
    args = ["generate", "--osm-file", str(paris_osm), "--no-cache", "--stops", "cafe",
            "--minutes", "30", "--overwrite", "--json", str(out / "walk.json"),
            "--gpx", str(out / "walk.gpx"), "--geojson", str(out / "walk.geojson"),
            "--html", str(out / "walk.html"), "--offline-map"]  # fmt: skip

    def limit() -> None:  # 64 kB: the JSON and GPX fit, the map does not
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    code = "import sys; from walks.cli import app; sys.argv[0] = 'walks'; app()"
    done = subprocess.run(  # noqa: PLW1510 - the exit code is checked below
        [sys.executable, "-c", code, "-q", *args], capture_output=True, text=True,
        preexec_fn=limit, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path.cwd()), "WALKS_LEAFLET_DIR": str(leaflet_dir)},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1
    assert "cannot write" in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["walk.gpx"]
    assert (out / "walk.gpx").read_text(encoding="utf-8") == "previous gpx"


def test_unreadable_leaflet_files_give_one_line(
    runner, paris_osm: Path, tmp_path: Path, monkeypatch
) -> None:
    folder = tmp_path / "leaflet"
    folder.mkdir()
    (folder / "leaflet.js").write_bytes(b"\xff\xfe not utf-8 \xff")
    (folder / "leaflet.css").write_text("a{}", encoding="utf-8")
    monkeypatch.setenv("WALKS_LEAFLET_DIR", str(folder))
    result = runner.invoke(app, ["generate", "--osm-file", str(paris_osm), "--offline-map",
                                 "--html", str(tmp_path / "m.html")])  # fmt: skip
    assert result.exit_code == 1
    assert "cannot read Leaflet's files" in _one_error_line(result)
    assert not (tmp_path / "m.html").exists()


# ----------------------------------------------------------------- caches


def test_cache_subcommands_honour_cache_dir(runner, paris_osm: Path, tmp_path: Path,
                                            cache_dir: Path) -> None:  # fmt: skip
    other = tmp_path / "other-cache"
    for folder in (cache_dir, other):
        result = runner.invoke(app, ["info", "--osm-file", str(paris_osm), "--cache-dir",
                                     str(folder)])  # fmt: skip
        assert result.exit_code == 0
    listed = runner.invoke(app, ["cache", "--cache-dir", str(other), "list", "--json"])
    # its graph and its store, both in that folder
    assert [Path(r["path"]).parent.parent for r in json.loads(listed.stdout)] == [other, other]
    cleared = runner.invoke(app, ["cache", "--cache-dir", str(other), "clear"])
    assert cleared.exit_code == 0
    assert str(other) in cleared.stdout
    assert not list((other / "graphs").glob("*.npz"))
    assert list((cache_dir / "graphs").glob("*.npz"))  # the default (env) cache is untouched
    cleared = runner.invoke(app, ["cache", "clear", "--cache-dir", str(cache_dir)])
    assert not list((cache_dir / "graphs").glob("*.npz"))


# ----------------------------------------------------------------- local first


def test_bare_json_before_an_area_does_not_swallow_it(runner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["generate", "--json", "2.345,48.877,2.352,48.881",
                                 "--overpass-url", "http://127.0.0.1:9", "--retries", "1",
                                 "--no-terrain"])  # fmt: skip
    assert result.exit_code == 1  # AREA went to Overpass (refused), not to a file named so
    assert "cannot reach 127.0.0.1" in _one_error_line(result)
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []


def test_an_address_with_a_comma_is_not_taken_for_coordinates(runner, paris_osm: Path) -> None:
    result = runner.invoke(app, ["generate", "--osm-file", str(paris_osm), "--start",
                                 "12, rue de Dunkerque", "--nominatim-url",
                                 "http://127.0.0.1:9", "--retries", "1", "--json", "-"])  # fmt: skip
    assert result.exit_code == 1  # looked up as an address (no network here), not exit 2
    assert "cannot reach 127.0.0.1" in _one_error_line(result)


def test_start_by_name_needs_no_network(runner, paris_osm: Path, monkeypatch) -> None:
    monkeypatch.setenv("WALKS_NOMINATIM_URL", "http://127.0.0.1:9")  # nothing listens there
    for start in ("Le Balto", "rue de dunkerque"):  # a stop, and a street of the graph
        result = runner.invoke(app, ["generate", "--osm-file", str(paris_osm), "--stops", "cafe",
                                     "--start", start, "--minutes", "30", "--json", "-"])  # fmt: skip
        assert result.exit_code == 0, result.stderr


# ----------------------------------------------------------------- bounded work


def test_landmark_out_of_sight_is_refused_at_once(runner, monkeypatch) -> None:
    # never the internet, even on a bug (the environment: AREA is coordinates, and walks
    # refuses a --nominatim-url it would not use)
    monkeypatch.setenv("WALKS_NOMINATIM_URL", "http://127.0.0.1:9")
    started = time.perf_counter()
    result = runner.invoke(app, ["stops", "47.0,8.0", "--radius", "500", "-c", "view",
                                 "--landmark", "Eiffel Tower",
                                 "--overpass-url", "http://127.0.0.1:9"])  # fmt: skip
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "is 472 km from this area, beyond the 155 km" in line
    assert time.perf_counter() - started < 1.0


# ----------------------------------------------------------------- the library's own checks


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"seed": -1}, "seed -1 is out of range"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"alternatives": 0}, "alternatives 0 is out of range"),
        ({"alternatives": 50}, "alternatives 50 is out of range"),
        ({"minutes": math.nan}, "minutes nan is out of range"),
        ({"minutes": "90"}, "minutes must be a number"),
        ({"km": math.inf}, "km inf is out of range"),
        ({"minutes": 60, "km": 5}, "give minutes or km, not both"),
        ({"wanted": [("cafe", -1)]}, "the count of 'cafe' -1 is out of range"),
        ({"wanted": [("cafe",)]}, "is not a (category, count) pair"),
        ({"wanted": "cafe"}, "stops must be a list"),
        ({"wanted": [(None, 1)]}, "is not a (category, count) pair"),
        ({"start": "nan,nan"}, "out of range: latitude is -90..90"),
        ({"start": 42}, "start must be a text"),
        ({"must_visit": "Le Balto"}, "must_visit and order must be tuples"),
        ({"at": "09:00"}, "at must be a datetime or 'now'"),
        ({"area": "Paris"}, "area must be an Area"),
        ({"attempts": 0}, "attempts 0 is out of range"),
        ({"roofline_m": -1.0}, "roofline_m -1.0 is out of range"),
        ({"quiet": math.nan}, "quiet nan is out of range"),
    ],
)  # fmt: skip
def test_generate_walks_checks_its_arguments(paris_osm: Path, kwargs, needle) -> None:
    area = kwargs.pop("area", None)
    wanted = kwargs.pop("wanted", [("cafe", 1)])
    with pytest.raises(UsageError) as caught:
        generate_walks(area, wanted, osm_file=paris_osm, **kwargs)
    assert needle in str(caught.value)
    assert isinstance(caught.value, ValueError)  # a built-in base too


def test_stops_in_area_checks_its_arguments(paris_osm: Path) -> None:
    for names in ("cafe", None, [None], [""]):
        with pytest.raises(WalksError):
            stops_in_area(None, names, osm_file=paris_osm)  # type: ignore[arg-type]


# ----------------------------------------------------------------- the battery


def _battery(paris: str, tmp: Path) -> list[list[str]]:
    """Sixty-odd hostile invocations, each expected to end in exit 1 or 2 with one line."""
    bad_toml = tmp / "bad.toml"
    bad_toml.write_text("[x\nweight=", encoding="utf-8")
    garbage = tmp / "garbage.osm"
    garbage.write_bytes(b"\x00\x01\x02 not xml at all")
    empty = tmp / "empty.osm.pbf"
    empty.write_bytes(b"")
    dem = tmp / "dem.tif"
    dem.write_text("not a tiff", encoding="utf-8")
    folder_out = tmp / "a-folder"
    folder_out.mkdir()
    g = ["generate", "--osm-file", paris]
    return [
        ["generate", "--minutes", "inf"],
        ["generate", "--minutes", "-5"],
        ["generate", "--minutes", "0"],
        ["generate", "--minutes", "abc"],
        ["generate", "--km", "1e9"],
        ["generate", "--km", "0"],
        ["generate", "--km", "nan"],
        ["generate", "--minutes", "30", "--km", "2"],
        ["generate", "--seed", "-1"],
        ["generate", "--seed", "x"],
        ["generate", "--alternatives", "0"],
        ["generate", "--alternatives", "50"],
        ["generate", "--start", "nan,nan"],
        ["generate", "--start", "200,200"],
        ["generate", "--start", ""],
        ["generate", "--start", "48.8"],
        ["generate", "--end", "1,2,3"],
        ["generate", "--start", "x" * 5000],
        ["generate", "--at", "yesterday"],
        ["generate", "--at", "0001-01-01 00:00"],
        ["generate", "--at", "9999-01-01 00:00"],
        ["generate", "--stops", "cafe=0"],
        ["generate", "--stops", "cafe=999"],
        ["generate", "--stops", "cafe=x"],
        ["generate", "--stops", "nosuchcategory"],
        ["generate", "--stops", "cafe,cafe=2"],
        ["generate", "--stops", "=2"],
        ["generate", "--prefer-quiet", "nan"],
        ["generate", "--prefer-quiet", "99"],
        ["generate", "--roofline", "-1"],
        ["generate", "--roofline", "inf"],
        ["generate", "--max-area-km2", "inf"],
        ["generate", "--radius", "100"],
        ["generate", "47,8", "--radius", "nan"],
        ["generate", "47,8", "--radius", "-1"],
        ["generate", "2.36,48.88,2.34,48.87"],
        ["generate", "1,2,3,4,5"],
        ["generate", "0,0,180,90"],
        ["generate", "--categories", str(bad_toml)],
        ["generate", "--categories", str(tmp / "missing.toml")],
        ["generate", "--osm-file", str(tmp / "missing.osm")],
        ["generate", "--osm-file", str(garbage)],
        ["generate", "--osm-file", str(empty)],
        ["generate", "--osm-file", str(tmp / "x.shp")],
        ["generate", "--dem", str(dem)],
        ["generate", "--gpx", str(tmp / "same"), "--json", str(tmp / "same")],
        ["generate", "--html", str(folder_out)],
        ["generate", "--gpx", "/dev/null"],
        ["generate", "--gpx", "/dev/full", "--overwrite"],
        ["generate", "--categories", "/dev/zero"],
        ["generate", "--categories", str(folder_out)],
        ["generate", "--gpx", str(tmp / "no-such-folder" / "w.gpx")],
        ["generate", "--landmark", "Atlantis Tower"],
        ["generate", "--landmark", "nan,nan,300"],
        ["generate", "--landmark", "48.85,2.29,-5"],
        ["generate", "--must-visit", "No Such Place Anywhere", "--stops", "cafe"],
        [*g, "--stops", "cafe=20", "--minutes", "5"],
        [*g, "--stops", "view", "--landmark", "Helsinki Cathedral"],
        ["stops", "--category", ""],
        ["stops", "--category", "nosuch"],
        ["stops", "--limit", "0"],
        ["stops", "--osm-file", str(garbage)],
        ["stops", "--landmark", "Eiffel Tower", "-c", "view"],
        ["info", "--osm-file", str(tmp / "missing.osm.pbf")],
        ["info", "--radius", "5"],
        ["info", "47,8", "--radius", "0"],
        ["info", "91,0"],
        ["info", "--retries", "0"],
        ["info", "--osm-file", str(garbage)],
        ["generate", "--nosuchoption"],
        ["nosuchcommand"],
    ]


def test_battery_of_hostile_inputs(runner, paris_osm: Path, tmp_path: Path, cache_dir) -> None:
    work = tmp_path / "work"
    work.mkdir()
    os.chdir(work)  # default outputs (walk.html, walk.gpx) would land here
    cases = _battery(str(paris_osm), tmp_path)
    assert len(cases) >= 60
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code in {1, 2}, (args, result.exit_code, result.stderr)
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, args
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        assert not list(work.iterdir()), args
        assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".walks-")], args
    usable = runner.invoke(app, ["info", "--osm-file", str(paris_osm), "--json"])
    assert usable.exit_code == 0
