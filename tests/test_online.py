"""The online path, against Overpass and Nominatim stand-ins on 127.0.0.1 (no internet)."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from osm_services import Failure, FakeOsmServices

from walks.area import area_from_bbox, area_from_point, resolve_area
from walks.data import read_extract
from walks.errors import AreaError, GeocodeError, ServiceError
from walks.geocode import geocode
from walks.graph import graph_from_ways
from walks.loader import load_graph
from walks.overpass import fetch_overpass
from walks.types import LatLon

FAST = {"backoff_s": 0.01}
BOX = (2.345, 48.877, 2.352, 48.881)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------- Nominatim


def test_geocode_place_with_outline(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    place = geocode("Gare du Nord, Paris", nominatim_url=osm_services.url, cache_dir=cache_dir)
    assert place.point == LatLon(48.8809, 2.3553)
    assert place.bbox == (2.3432, 48.87717, 2.3541, 48.88119)
    area = resolve_area("Gare du Nord, Paris", nominatim_url=osm_services.url, cache_dir=cache_dir)
    assert area.kind == "place"
    assert area.bbox == pytest.approx((2.3432, 48.87717, 2.3541, 48.88119))


def test_geocode_is_cached_on_disk(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    for _ in range(3):
        geocode("Gare du Nord, Paris", nominatim_url=osm_services.url, cache_dir=cache_dir)
    assert osm_services.count("nominatim") == 1
    assert len(list((cache_dir / "geocode").glob("*.json"))) == 1


def test_geocode_waits_a_second_between_requests(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    for name in ("Gare du Nord, Paris", "Square Montholon, Paris"):
        geocode(name, nominatim_url=osm_services.url, cache_dir=cache_dir)
    with pytest.raises(GeocodeError):
        geocode("Atlantis", nominatim_url=osm_services.url, cache_dir=cache_dir)
    times = [t for t, kind, _ in osm_services.requests if kind == "nominatim"]
    assert len(times) == 3
    assert min(np.diff(times)) >= 0.99


def test_geocode_point_place_with_radius(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    area = resolve_area(
        "Square Montholon, Paris", radius_m=300, nominatim_url=osm_services.url, cache_dir=cache_dir
    )
    assert area.kind == "point"
    assert area.label == "Square Montholon, Paris within 300 m"
    assert area.polygon.centroid.y == pytest.approx(48.8779, abs=1e-6)


def test_unknown_place(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    with pytest.raises(GeocodeError, match="no place called 'Xyzzy-sur-Mer' was found"):
        geocode("Xyzzy-sur-Mer", nominatim_url=osm_services.url, cache_dir=cache_dir)


def test_geocode_retries_429_then_succeeds(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("nominatim", Failure(429, headers={"Retry-After": "0"}), Failure(504))
    place = geocode(
        "Gare du Nord, Paris",
        nominatim_url=osm_services.url,
        cache_dir=cache_dir,
        min_delay_s=0,
        **FAST,
    )
    assert place.name == "Gare du Nord, Paris"
    assert osm_services.count("nominatim") == 3


def test_geocode_gives_up_after_attempts(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("nominatim", *[Failure(503)] * 5)
    with pytest.raises(ServiceError, match=r"Nominatim at 'http://127\.0\.0\.1:\d+' failed 3 time"):
        geocode(
            "Gare du Nord, Paris",
            nominatim_url=osm_services.url,
            cache_dir=cache_dir,
            attempts=3,
            min_delay_s=0,
            **FAST,
        )
    assert osm_services.count("nominatim") == 3
    assert not (cache_dir / "geocode").exists()


def test_geocode_garbage_reply(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("nominatim", Failure(200, b"<html>surprise</html>"))
    with pytest.raises(ServiceError, match="sent a reply that is not JSON"):
        geocode(
            "Gare du Nord, Paris",
            nominatim_url=osm_services.url,
            cache_dir=cache_dir,
            min_delay_s=0,
            **FAST,
        )


def test_geocode_unreachable(cache_dir: Path) -> None:
    url = _closed_port_url()
    with pytest.raises(
        ServiceError,
        match=r"^cannot reach 127\.0\.0\.1: no network\? .*refused, 2 tries.*--osm-file",
    ):
        geocode("Paris", nominatim_url=url, cache_dir=cache_dir, attempts=2, min_delay_s=0, **FAST)


# ---------------------------------------------------------------- Overpass


def test_overpass_graph_equals_extract_graph(
    osm_services: FakeOsmServices, paris_osm: Path, cache_dir: Path
) -> None:
    """The same ways, online or from the file, give the same graph."""
    area = area_from_bbox(*BOX)
    online = graph_from_ways(
        fetch_overpass(area, overpass_url=osm_services.url, cache_dir=cache_dir), clip=area
    )
    offline = graph_from_ways(read_extract(paris_osm), clip=area)
    assert online.meta.source == f"overpass:{osm_services.url}"
    assert online.meta.data_date == "2021-07-07T10:22:44Z"
    assert sorted(online.node_osm_id.tolist()) == sorted(offline.node_osm_id.tolist())
    assert online.walkable_km == pytest.approx(offline.walkable_km, rel=1e-12)


def test_overpass_replies_are_cached(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    area = area_from_bbox(*BOX)
    first = fetch_overpass(area, overpass_url=osm_services.url, cache_dir=cache_dir)
    second = fetch_overpass(area, overpass_url=osm_services.url, cache_dir=cache_dir)
    assert osm_services.count("overpass") == 2  # the walking network, the walkable areas
    assert first == second
    assert len(first.ways) > 0
    assert list((cache_dir / "http").glob("*.json"))
    assert list((cache_dir / "http" / "walks-areas").glob("*.json"))


def test_graph_cache_then_offline(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    area = area_from_bbox(*BOX)
    built = load_graph(area, overpass_url=osm_services.url, cache_dir=cache_dir)
    osm_services.server.shutdown()  # the network is gone now
    again = load_graph(area, overpass_url=osm_services.url, cache_dir=cache_dir)
    assert again.from_cache
    assert again.graph.n_nodes == built.graph.n_nodes


@pytest.mark.parametrize(
    "failures",
    [
        [Failure(429, b"rate limited", {"Retry-After": "0"})],
        [Failure(504, b"Gateway Timeout"), Failure(502)],
        [Failure(500, b"oops")],
    ],
    ids=["429", "504-502", "500"],
)
def test_overpass_retries(osm_services: FakeOsmServices, cache_dir: Path, failures) -> None:
    osm_services.fail("overpass", *failures)
    started = time.monotonic()
    osm = fetch_overpass(
        area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir, **FAST
    )
    assert len(osm.ways) > 0
    assert osm_services.count("overpass") == len(failures) + 2  # + the walkable areas query
    assert time.monotonic() - started < 10  # no 55 s sleep as osmnx alone would do


def test_overpass_gives_up(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("overpass", *[Failure(504, b"Gateway Timeout")] * 3)
    with pytest.raises(
        ServiceError, match=r"Overpass at '.*' failed 3 time\(s\), last with: HTTP 504"
    ):
        fetch_overpass(
            area_from_bbox(*BOX),
            overpass_url=osm_services.url,
            cache_dir=cache_dir,
            attempts=3,
            **FAST,
        )
    assert not list((cache_dir / "http").glob("*.json"))


def test_overpass_garbage_json(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("overpass", Failure(200, b"{not json"))
    with pytest.raises(ServiceError, match="sent an unreadable reply"):
        fetch_overpass(
            area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir, **FAST
        )
    assert not list((cache_dir / "http").glob("*.json"))


def test_overpass_runtime_error_remark_is_retried(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    remark = b'{"version": 0.6, "elements": [], "remark": "runtime error: Query timed out in \\"query\\" at line 1 after 25 seconds."}'
    osm_services.fail("overpass", Failure(200, remark), Failure(200, remark))
    with pytest.raises(
        ServiceError, match="failed 2 time.*Overpass reported: runtime error: Query timed out"
    ):
        fetch_overpass(
            area_from_bbox(*BOX),
            overpass_url=osm_services.url,
            cache_dir=cache_dir,
            attempts=2,
            **FAST,
        )
    osm_services.fail("overpass", Failure(200, remark))
    assert fetch_overpass(
        area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir, attempts=2, **FAST
    ).ways


def test_overpass_bad_request_is_not_retried(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("overpass", Failure(400, b"parse error"))
    with pytest.raises(ServiceError, match="answered HTTP 400"):
        fetch_overpass(
            area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir, **FAST
        )
    assert osm_services.count("overpass") == 1


def test_overpass_unreachable(cache_dir: Path) -> None:
    with pytest.raises(ServiceError, match=r"^cannot reach 127\.0\.0\.1: no network\?.*2 tries"):
        fetch_overpass(
            area_from_bbox(*BOX),
            overpass_url=_closed_port_url(),
            cache_dir=cache_dir,
            attempts=2,
            **FAST,
        )


def test_area_too_large_is_refused_before_download(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    area = area_from_point(LatLon(48.86, 2.34), 10_000)
    with pytest.raises(AreaError, match="more than the 30 km² limit"):
        load_graph(area, overpass_url=osm_services.url, cache_dir=cache_dir)
    assert osm_services.count("overpass") == 0


def test_online_views_fetch_the_corridor_to_the_landmark(osm_services: FakeOsmServices,
                                                         cache_dir: Path) -> None:  # fmt: skip
    from walks.api import stops_in_area

    area = area_from_bbox(*BOX)
    found = stops_in_area(area, ["view"], overpass_url=osm_services.url, cache_dir=cache_dir)
    assert found.landmark is not None
    building_queries = [q for q in osm_services.queries if "'building'" in q]
    assert len(building_queries) == 2  # the area, then the corridor
    corridor = [
        float(v) for v in re.search(r"poly:'([^']+)'", building_queries[1]).group(1).split()
    ]
    lons = corridor[1::2]
    assert min(lons) < 2.2945 < max(lons)  # it reaches the Eiffel Tower
    # over the corridor the ground is known: far less of each sight line is unknown than from
    # the file alone, where everything beyond the extract is
    assert max(s.view.unknown_m for s in found.stops) < 500


# ------------------------------------------------------------ one answer from every source


def edges(g) -> list[tuple[object, ...]]:
    """Every edge of a graph: the OSM ids of its ends (in the one direction walkers may take,
    else in id order), whether it is one-way, and its way, tags, kind and length."""
    ids = g.node_osm_id
    found = []
    for u, v, w, h, n, lit, pl, d, a, m in zip(
        g.edge_u, g.edge_v, g.edge_osm_id, g.edge_highway, g.edge_name, g.edge_lit,
        g.edge_pleasantness, g.edge_direction, g.edge_area, g.edge_length_m, strict=True,
    ):  # fmt: skip
        a_id, b_id = int(ids[u]), int(ids[v])
        ends = (b_id, a_id) if d < 0 or (d == 0 and b_id < a_id) else (a_id, b_id)
        found.append(
            (*ends, d != 0, int(w), g.string(int(h)), g.string(int(n)), int(lit), int(pl),
             int(a), round(float(m), 6))
        )  # fmt: skip
    return sorted(found)


def test_file_and_overpass_give_the_same_graph_and_stops(
    osm_services: FakeOsmServices, paris_osm: Path, tmp_path: Path
) -> None:
    """An area read from the extract and fetched from (stand-in) Overpass: same graph, same stops."""
    from walks.api import stops_in_area

    area = area_from_bbox(*BOX)
    kinds = ["cafe", "studio"]
    offline = stops_in_area(
        area, kinds, osm_file=paris_osm, cache_dir=tmp_path / "a", no_terrain=True
    )
    online = stops_in_area(
        area, kinds, overpass_url=osm_services.url, cache_dir=tmp_path / "b", no_terrain=True
    )
    g_on, g_off = online.loaded.graph, offline.loaded.graph
    assert g_on.n_nodes == g_off.n_nodes > 80
    assert sorted(g_on.node_osm_id.tolist()) == sorted(g_off.node_osm_id.tolist())

    assert edges(g_on) == edges(g_off)
    assert g_on.walkable_km == pytest.approx(g_off.walkable_km, rel=1e-12)

    def stops(found) -> list[tuple[str, str, str, int]]:
        return sorted((s.osm_id, s.category, s.name, s.node) for s in found.stops)

    assert len(offline.stops) > 5
    assert stops(online) == stops(offline)


#: Munich's old town (the extract of test_store.py): squares and pedestrian zones mapped as
#: multipolygons and as ``area=yes`` ways, and a few foot ways one way only (escalators).
MUNICH_BOX = (11.562, 48.133, 11.578, 48.142)


def test_file_and_overpass_cross_the_same_multipolygon_squares(tmp_path: Path) -> None:
    """Walkable multipolygons fetched from Overpass are crossed as they are from the file."""
    from test_store import MUNICH

    from walks.api import stops_in_area

    area = area_from_bbox(*MUNICH_BOX)
    kinds = ["cafe", "studio"]
    with FakeOsmServices(MUNICH) as services:
        fetched = fetch_overpass(area, overpass_url=services.url, cache_dir=tmp_path / "b")
        online = stops_in_area(
            area, kinds, overpass_url=services.url, cache_dir=tmp_path / "b", no_terrain=True
        )
    read = read_extract(MUNICH)
    near = {a.osm_id for a in read.areas} & {a.osm_id for a in fetched.areas}
    assert len(near) > 20
    assert {a.osm_id: a for a in fetched.areas if a.osm_id in near} == {
        a.osm_id: a for a in read.areas if a.osm_id in near
    }
    offline = stops_in_area(area, kinds, osm_file=MUNICH, cache_dir=tmp_path / "a", no_terrain=True)
    g_on, g_off = online.loaded.graph, offline.loaded.graph
    assert g_off.pedestrian_areas > 50
    assert np.count_nonzero(g_off.edge_area == 2) > 100  # multipolygon links
    assert np.count_nonzero(g_off.edge_direction) > 0  # one-way foot ways
    assert edges(g_on) == edges(g_off)

    def stops(found) -> list[tuple[str, str, str, int]]:
        ids = found.loaded.graph.node_osm_id
        return sorted((s.osm_id, s.category, s.name, int(ids[s.node])) for s in found.stops)

    assert len(offline.stops) > 50
    assert stops(online) == stops(offline)


def _prime_network_cache(services: FakeOsmServices, cache_dir: Path) -> int:
    """Fetch once, then forget the walkable areas: the next fetch asks for them only."""
    first = fetch_overpass(area_from_bbox(*BOX), overpass_url=services.url, cache_dir=cache_dir)
    for path in (cache_dir / "http" / "walks-areas").glob("*.json"):
        path.unlink()
    return len(first.ways)


@pytest.mark.parametrize(
    "failures",
    [
        [Failure(429, b"rate limited", {"Retry-After": "0"})],
        [Failure(504, b"Gateway Timeout"), Failure(502)],
        [
            Failure(
                200, b'{"version": 0.6, "elements": [], "remark": "runtime error: out of memory"}'
            )
        ],
    ],
    ids=["429", "504-502", "error-remark"],
)
def test_walkable_area_query_is_retried(
    osm_services: FakeOsmServices, cache_dir: Path, failures: list[Failure]
) -> None:
    n_ways = _prime_network_cache(osm_services, cache_dir)
    osm_services.fail("overpass", *failures)
    again = fetch_overpass(
        area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir, **FAST
    )
    assert len(again.ways) == n_ways
    assert osm_services.count("overpass") == 2 + len(failures) + 1
    assert "relation" in osm_services.queries[-1]  # only the areas were asked for again


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (Failure(200, b"{not json"), "sent an unreadable reply"),
        (Failure(200, b'{"elements": [{"type": "way", "id": 1, "nodes": "x"}]}'), "malformed"),
        (Failure(400, b"parse error"), "answered HTTP 400"),
        (Failure(503, b"busy", sticky=True), r"failed 2 time\(s\), last with: HTTP 503"),
    ],
    ids=["garbage", "malformed", "400", "503-always"],
)
def test_walkable_area_query_failures(
    osm_services: FakeOsmServices, cache_dir: Path, failure: Failure, message: str
) -> None:
    _prime_network_cache(osm_services, cache_dir)
    osm_services.fail("overpass", failure)
    with pytest.raises(ServiceError, match=message):
        fetch_overpass(
            area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir,
            attempts=2, **FAST,
        )  # fmt: skip
    assert not list((cache_dir / "http" / "walks-areas").glob("*.json"))


def test_walkable_area_query_trickle_ends_at_the_deadline(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    from walks._http import deadline

    _prime_network_cache(osm_services, cache_dir)
    body = b'{"version": 0.6, "elements": [], "pad": "' + b"x" * 200 + b'"}'
    osm_services.fail("overpass", Failure(200, body, trickle_s=0.2))
    started = time.monotonic()
    with deadline(2), pytest.raises(ServiceError, match=r"did not finish its reply within"):
        fetch_overpass(area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir)
    assert 1.8 < time.monotonic() - started < 3.0


def test_damaged_walkable_area_cache_is_fetched_again(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    first = fetch_overpass(area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir)
    (cached,) = (cache_dir / "http" / "walks-areas").glob("*.json")
    cached.write_bytes(b'{"elements": [{"type": "node", "id": 1, "lat": "x"}]}')
    again = fetch_overpass(area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir)
    assert again == first
    assert osm_services.count("overpass") == 3
    assert json.loads(cached.read_text())["elements"]


def test_osmnx_graph_keeps_each_way_in_its_node_order(tmp_path: Path) -> None:
    """Under OSMNX_GRAPH_SETTINGS osmnx's public graph gives ways back as OSM has them.

    This pins what ``ways_from_graph`` relies on in the installed osmnx: ``oneway`` kept as
    tagged, each way once, and ways tagged ``oneway=-1`` laid backwards (put back in order).
    """
    import osmnx as ox

    from walks.graph import _foot_direction
    from walks.overpass import OSMNX_GRAPH_SETTINGS, ways_from_graph

    nodes = "".join(
        f'<node id="{i}" lat="48.{8800 + i}" lon="2.{3500 + i * i}" version="1"/>'
        for i in range(1, 6)
    )
    ways = (
        '<way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>'
        '<tag k="highway" v="steps"/><tag k="oneway" v="-1"/></way>'
        '<way id="11" version="1"><nd ref="3"/><nd ref="4"/><nd ref="5"/>'
        '<tag k="highway" v="footway"/><tag k="oneway" v="yes"/></way>'
        '<way id="12" version="1"><nd ref="5"/><nd ref="1"/>'
        '<tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>'
    )
    path = tmp_path / "tiny.osm"
    path.write_text(f'<?xml version="1.0"?><osm version="0.6">{nodes}{ways}</osm>')
    saved = {name: getattr(ox.settings, name) for name in OSMNX_GRAPH_SETTINGS}
    try:
        for name, value in OSMNX_GRAPH_SETTINGS.items():
            setattr(ox.settings, name, list(value) if isinstance(value, tuple) else value)
        graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)
    got = {w.osm_id: (w.refs, w.tags.get("oneway"), _foot_direction(w.tags))
           for w in ways_from_graph(graph, source="test").ways}  # fmt: skip
    assert got == {10: ((1, 2, 3), "-1", -1), 11: ((3, 4, 5), "yes", 1), 12: ((5, 1), "yes", 0)}
