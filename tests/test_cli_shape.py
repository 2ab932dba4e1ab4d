"""The CLI behaves like its peers (rio, sqlite-utils): global options anywhere, one meaning per
option name, real metavars, every default stated, and a README that matches the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gpxpy
import pytest

from walks.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
COMMANDS = [["info"], ["stops"], ["generate"], ["cache", "list"], ["cache", "clear"],
            ["assets", "fetch"]]  # fmt: skip


def _options(runner, command: list[str]) -> set[str]:
    text = runner.invoke(app, [*command, "--help"], terminal_width=200).stdout
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", text))


def test_quiet_and_verbose_after_the_subcommand(runner, paris_osm: Path) -> None:
    for args in (["-q", "info"], ["info", "-q"]):
        result = runner.invoke(app, [*args, "--osm-file", str(paris_osm), "--json"])
        assert result.exit_code == 0
        assert result.stderr == ""
        assert json.loads(result.stdout)["nodes"] > 100
    loud = runner.invoke(app, ["info", "-v", "--osm-file", str(paris_osm)])
    assert "graph read from cache" in loud.stderr


def test_cache_dir_before_the_subcommand(runner, paris_osm: Path, tmp_path: Path) -> None:
    folder = tmp_path / "root-cache"
    result = runner.invoke(app, ["--cache-dir", str(folder), "info", "--osm-file",
                                 str(paris_osm), "--json"])  # fmt: skip
    assert result.exit_code == 0
    assert Path(json.loads(result.stdout)["cache_path"]).parent.parent == folder


def test_json_means_the_same_everywhere(runner, paris_osm: Path, tmp_path: Path) -> None:
    osm = ["--osm-file", str(paris_osm)]
    # bare: standard output; with a path: that file (atomically, refusing to overwrite)
    for command in (["info"], ["stops", "--stops", "cafe"]):
        bare = runner.invoke(app, ["-q", *command, *osm, "--json"])
        dash = runner.invoke(app, ["-q", *command, *osm, "--json", "-"])
        assert bare.exit_code == dash.exit_code == 0
        assert json.loads(bare.stdout) is not None
        target = tmp_path / f"{command[0]}.json"
        written = runner.invoke(app, ["-q", *command, *osm, "--json", str(target)])
        assert written.exit_code == 0
        assert written.stdout.strip() == str(target)
        assert json.loads(target.read_text(encoding="utf-8")) is not None
        again = runner.invoke(app, ["-q", *command, *osm, "--json", str(target)])
        assert again.exit_code == 1
        assert "already exists" in again.stderr
    walk = runner.invoke(app, ["-q", "generate", *osm, "--stops", "cafe", "--json"])
    assert json.loads(walk.stdout)["stops"][0]["category"] == "cafe"


def test_gpx_and_geojson_to_standard_output(runner, paris_osm: Path) -> None:
    osm = ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "cafe", "--minutes", "30"]
    gpx = runner.invoke(app, [*osm, "--gpx", "-"])
    assert gpx.exit_code == 0, gpx.stderr
    assert len(gpxpy.parse(gpx.stdout).tracks) == 1
    geojson = runner.invoke(app, [*osm, "--geojson", "-"])
    assert json.loads(geojson.stdout)["type"] == "FeatureCollection"
    both = runner.invoke(app, [*osm, "--gpx", "-", "--json", "-"])
    assert both.exit_code == 2
    assert "only one of --gpx, --geojson and --json may go to standard output" in both.stderr


def test_old_option_names_still_work(runner, paris_osm: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[bakery]\nfilters = [{ shop = "bakery" }]\n', encoding="utf-8")
    for names in (["--category", "cafe"], ["-c", "cafe"], ["--stops", "cafe"]):
        result = runner.invoke(app, ["-q", "stops", "--osm-file", str(paris_osm), *names, "--json"])
        assert result.exit_code == 0
    for flag in ("--categories", "--category-file"):
        result = runner.invoke(app, ["-q", "stops", "--osm-file", str(paris_osm), flag, str(mine),
                                     "--stops", "bakery", "--json"])  # fmt: skip
        assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_real_metavars_and_states_defaults(runner, command) -> None:
    text = runner.invoke(app, [*command, "--help"], terminal_width=200).stdout
    assert "range>" not in text
    assert "<list[" not in text
    assert "<str>" not in text.replace("AREA <str>", "")  # typer names the argument's type


def test_readme_options_match_the_cli(runner) -> None:
    """Every option the README names exists, and every option of generate is in the README."""
    readme = README.read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", readme))
    known = set().union(*(_options(runner, c) for c in COMMANDS), _options(runner, []))
    assert named - known == set()
    documented_elsewhere = {"--help", "--version", "--verbose", "--quiet", "--overpass-url",
                            "--nominatim-url", "--max-area-km2", "--retries", "--no-cache",
                            "--categories", "--offline-map", "--radius", "--osm-file",
                            "--cache-dir"}  # fmt: skip
    missing = _options(runner, ["generate"]) - named - documented_elsewhere
    assert missing == set()
