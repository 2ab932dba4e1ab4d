"""Service faults end in one clear line within the deadline: local Overpass/Nominatim stand-ins."""

from __future__ import annotations

import email.utils
import json
import logging
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from osm_services import Failure, FakeOsmServices

from walks import settings
from walks._http import deadline, remaining_s
from walks.area import area_from_bbox, area_from_point, resolve_area
from walks.errors import (
    AreaError,
    GeocodeError,
    ServiceError,
    UsageError,
    WalksError,
)
from walks.geocode import geocode
from walks.loader import load_graph
from walks.overpass import fetch_overpass, fetch_overpass_features
from walks.types import LatLon

FAST = {"backoff_s": 0.01}
NOMINATIM_FAST = {"backoff_s": 0.01, "min_delay_s": 0}
BOX = (2.345, 48.877, 2.352, 48.881)
PLACE = "Gare du Nord, Paris"
GOOD_PLACE = [
    {
        "lat": "48.8809",
        "lon": "2.3553",
        "display_name": PLACE,
        "boundingbox": ["48.87717", "48.88119", "2.3432", "2.3541"],
    }
]
# a valid-looking Overpass reply, long enough to trickle for far longer than any deadline here
TRICKLED = json.dumps({"version": 0.6, "elements": [], "pad": "x" * 200}).encode()


def _http_files(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "http").glob("*.json"))


def _fetch(services: FakeOsmServices, cache_dir: Path, **kwargs: object):
    return fetch_overpass(
        area_from_bbox(*BOX), overpass_url=services.url, cache_dir=cache_dir, **{**FAST, **kwargs}
    )


def _geocode(services: FakeOsmServices, cache_dir: Path, **kwargs: object):
    return geocode(
        PLACE, nominatim_url=services.url, cache_dir=cache_dir, **{**NOMINATIM_FAST, **kwargs}
    )


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# ------------------------------------------------------------------------------ the deadline


def test_deadline_nests_and_only_shortens() -> None:
    assert remaining_s() is None
    with deadline(5):
        outer = remaining_s()
        assert outer is not None
        assert 4.5 < outer <= 5
        with deadline(100):  # cannot extend
            inner = remaining_s()
            assert inner is not None
            assert inner <= 5
        with deadline(1):  # can shorten
            inner = remaining_s()
            assert inner is not None
            assert inner <= 1
        again = remaining_s()
        assert again is not None
        assert 4 < again <= 5
    assert remaining_s() is None


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), "5", None, True])
def test_deadline_refuses_bad_lengths(seconds: object) -> None:
    with pytest.raises(UsageError, match="time limit"), deadline(seconds):  # type: ignore[arg-type]
        pass


# ----------------------------------------------------------------------- Overpass: the clock


def test_overpass_trickle_ends_at_the_deadline(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("overpass", Failure(200, TRICKLED, trickle_s=0.2))
    started = time.monotonic()
    with (
        deadline(2),
        pytest.raises(
            ServiceError,
            match=r"^Overpass at 'http://127\.0\.0\.1:\d+' did not finish its reply within the "
            r"time limit of 2 s: .*--timeout",
        ),
    ):
        _fetch(osm_services, cache_dir)
    assert 1.8 < time.monotonic() - started < 3.0
    assert not _http_files(cache_dir)


@pytest.mark.parametrize("service", ["overpass", "nominatim"])
def test_trickled_status_line_and_headers_end_at_the_deadline(
    osm_services: FakeOsmServices, cache_dir: Path, service: str
) -> None:
    """One byte a second from the very first byte: no hook has run yet, the socket watch cuts it."""
    osm_services.fail(service, Failure(200, TRICKLED, trickle_s=0.2, trickle_all=True))
    ask = _fetch if service == "overpass" else _geocode
    started = time.monotonic()
    with (
        deadline(1.5),
        pytest.raises(ServiceError, match=r"^(Overpass|Nominatim) at .* time limit of 1\.5 s"),
    ):
        ask(osm_services, cache_dir)
    assert time.monotonic() - started < 2.2


def test_load_graph_trickle_ends_at_the_library_default_deadline(
    osm_services: FakeOsmServices, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a deadline of its own, a library call gets settings.RUN_TIMEOUT_S."""
    monkeypatch.setattr(settings, "RUN_TIMEOUT_S", 1.5)
    osm_services.fail("overpass", Failure(200, TRICKLED, trickle_s=0.2))
    started = time.monotonic()
    with pytest.raises(ServiceError, match="within the time limit of 1.5 s"):
        load_graph(area_from_bbox(*BOX), overpass_url=osm_services.url, cache_dir=cache_dir)
    assert time.monotonic() - started < 2.5


def test_overpass_silent_server_ends_at_the_deadline(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("overpass", Failure(200, TRICKLED, stall_s=30))
    started = time.monotonic()
    with deadline(1.5), pytest.raises(ServiceError, match="within the time limit of 1.5 s"):
        _fetch(osm_services, cache_dir)
    assert time.monotonic() - started < 2.5


def test_overpass_long_retry_after_ends_at_once(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("overpass", Failure(429, b"slow down", {"Retry-After": "3600"}))
    started = time.monotonic()
    with (
        deadline(2),
        pytest.raises(
            ServiceError,
            match=r"^Overpass at 'http://127\.0\.0\.1:\d+' asked to retry after 3600 s, "
            r"beyond the --timeout of 2 s: try later$",
        ),
    ):
        _fetch(osm_services, cache_dir)
    assert time.monotonic() - started < 1.0
    assert osm_services.count("overpass") == 1


def test_overpass_retry_after_http_date_is_honoured(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("overpass", Failure(503, b"busy", {"Retry-After": _http_date(2)}))
    started = time.monotonic()
    with deadline(10):
        osm = _fetch(osm_services, cache_dir)
    assert osm.ways
    assert time.monotonic() - started >= 0.9  # HTTP dates have whole seconds
    assert osm_services.count("overpass") == 3  # 503, the network, the walkable areas


def test_overpass_retry_after_http_date_beyond_the_deadline(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("overpass", Failure(429, b"", {"Retry-After": _http_date(3600)}))
    started = time.monotonic()
    with (
        deadline(2),
        pytest.raises(
            ServiceError, match=r"asked to retry after 3[56]\d\d s, beyond the --timeout"
        ),
    ):
        _fetch(osm_services, cache_dir)
    assert time.monotonic() - started < 1.0


def test_overpass_slot_beyond_the_deadline(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.status_text = (
        "Connected as: 1\nRate limit: 2\n"
        "Slot available after: 2026-11-24T01:00:00Z, in 3600 seconds.\n"
    )
    started = time.monotonic()
    with (
        deadline(2),
        pytest.raises(
            ServiceError, match=r"has no free slot for 3600 s, beyond the --timeout of 2 s"
        ),
    ):
        _fetch(osm_services, cache_dir)
    assert time.monotonic() - started < 1.0
    assert osm_services.count("overpass") == 0


def test_backoff_never_sleeps_past_the_deadline(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("overpass", *[Failure(504, b"Gateway Timeout")] * 4)
    started = time.monotonic()
    with deadline(1), pytest.raises(ServiceError, match=r"--timeout of 1 s"):
        _fetch(osm_services, cache_dir, backoff_s=5.0, attempts=4)
    assert time.monotonic() - started < 0.8
    assert osm_services.count("overpass") == 1


# ----------------------------------------------------------------- Overpass: malformed replies


def test_zero_elements_is_not_cached(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    """The failure does not outlive the server's recovery."""
    osm_services.fail("overpass", Failure(200, b'{"version": 0.6, "elements": []}'))
    with pytest.raises(ServiceError, match=r"^Overpass at .* sent no streets at all"):
        _fetch(osm_services, cache_dir)
    assert not _http_files(cache_dir)
    assert _fetch(osm_services, cache_dir).ways  # the server recovered: asked again
    assert osm_services.count("overpass") == 3  # + the walkable areas


def test_features_reply_without_elements_is_fine(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("overpass", Failure(200, b'{"version": 0.6, "elements": []}'))
    found = fetch_overpass_features(
        area_from_bbox(*BOX),
        {"amenity": ["cafe"]},
        lambda tags: "amenity" in tags,
        overpass_url=osm_services.url,
        cache_dir=cache_dir,
    )
    assert found.features == ()


@pytest.mark.parametrize(
    ("elements", "problem"),
    [
        ("[1]", r"is 1, not an object"),
        ('[{"type": "node", "id": "7", "lat": 48.88, "lon": 2.35}]', r"the id '7'"),
        ('[{"type": "node", "id": 7, "lat": NaN, "lon": 2.35}]', r"the lat nan"),
        ('[{"type": "node", "id": 7, "lat": 95.0, "lon": 2.35}]', r"the lat 95\.0"),
        ('[{"type": "node", "id": 7, "lat": "48.8", "lon": 2.35}]', r"the lat '48\.8'"),
        ('[{"type": "node", "id": 7, "lat": 48.8, "lon": Infinity}]', r"the lon inf"),
        ('[{"type": "node", "id": 7, "lat": 48.8}]', r"the lon None"),
        ('[{"type": "way", "id": 7, "nodes": ["a"]}]', r"\(a way\) has nodes"),
        ('[{"type": "relation", "id": 7, "members": "x"}]', r"\(a relation\) has members"),
        ('[{"type": "blob", "id": 7}]', r"the type 'blob'"),
        ('[{"type": "way", "id": 7, "tags": [1]}]', r"has tags \[1\]"),
        ('[{"type": "way", "id": true}]', r"the id True"),
    ],
)
def test_malformed_elements(
    osm_services: FakeOsmServices, cache_dir: Path, elements: str, problem: str
) -> None:
    body = f'{{"version": 0.6, "elements": {elements}}}'.encode()
    osm_services.fail("overpass", Failure(200, body))
    with pytest.raises(
        ServiceError,
        match=r"^Overpass at 'http://127\.0\.0\.1:\d+' sent a malformed reply: element 0 .*"
        + problem,
    ):
        _fetch(osm_services, cache_dir)
    assert not _http_files(cache_dir)
    assert osm_services.count("overpass") == 1  # not worth a retry


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"version": 0.6, "elements": {}}', "no 'elements' list"),
        (b"[1, 2]", "sent an unreadable reply"),
        (b'"text"', "sent an unreadable reply"),
        (b"\x1b[31m<html>", r"sent an unreadable reply \(not a JSON object\): .*<html>"),
    ],
)
def test_replies_that_are_not_overpass_json(
    osm_services: FakeOsmServices, cache_dir: Path, body: bytes, message: str
) -> None:
    osm_services.fail("overpass", Failure(200, body))
    with pytest.raises(ServiceError, match=message) as caught:
        _fetch(osm_services, cache_dir)
    assert "\x1b" not in str(caught.value)
    assert not _http_files(cache_dir)


def test_short_body_is_retried_then_reported(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    short = Failure(200, b'{"version": 0.6, "elements": [', content_length=5000)
    osm_services.fail("overpass", short, short)
    with pytest.raises(
        ServiceError,
        match=r"failed 2 time\(s\), last with: the reply was cut short after \d+ bytes",
    ):
        _fetch(osm_services, cache_dir, attempts=2)
    assert osm_services.count("overpass") == 2
    osm_services.fail("overpass", short)
    assert _fetch(osm_services, cache_dir, attempts=2).ways  # a dropped reply is worth a retry


def test_bad_gzip(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("overpass", Failure(200, b"not gzip at all", {"Content-Encoding": "gzip"}))
    with pytest.raises(
        ServiceError, match=r"^Overpass at .* sent a reply that cannot be decompressed \(Content-"
    ):
        _fetch(osm_services, cache_dir)
    assert not _http_files(cache_dir)


def test_redirect_loop(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("overpass", Failure(302, headers={"Location": "{path}"}, sticky=True))
    with pytest.raises(ServiceError, match=r"^Overpass at .* redirects in a loop \(gave up after"):
        _fetch(osm_services, cache_dir)
    assert osm_services.count("overpass") <= 31  # requests' own limit for osmnx's session


def test_redirect_to_ftp(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("overpass", Failure(302, headers={"Location": "ftp://127.0.0.1/x"}))
    with pytest.raises(ServiceError, match=r"redirected to a URL walks cannot follow"):
        _fetch(osm_services, cache_dir)


@pytest.mark.parametrize(
    "url",
    ["ftp://overpass.example/api", "garbage", "", "http://", "http://host:99999/api",
     "http://a b/api", "http://host/\x1b[2J", "file:///etc/passwd", None, 42],
)  # fmt: skip
def test_bad_service_urls_are_refused_up_front(cache_dir: Path, url: object) -> None:
    with pytest.raises(UsageError, match=r"^--overpass-url .*: give the Overpass base URL"):
        fetch_overpass(area_from_bbox(*BOX), overpass_url=url, cache_dir=cache_dir)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"^--nominatim-url .*: give the Nominatim base URL"):
        geocode("Paris", nominatim_url=url, cache_dir=cache_dir)  # type: ignore[arg-type]
    assert not cache_dir.exists()


@pytest.mark.parametrize(
    "damage",
    ["garbage", "directory", "list", "bad element", "no elements", "binary"],
)
def test_unreadable_http_cache_files_are_fetched_again(
    osm_services: FakeOsmServices, cache_dir: Path, damage: str
) -> None:
    first = _fetch(osm_services, cache_dir)
    files = _http_files(cache_dir)
    assert files
    for path in files:
        path.unlink()
        if damage == "directory":
            path.mkdir()
            (path / "inside").write_text("x")
        else:
            path.write_bytes(
                {
                    "garbage": b"{not json",
                    "list": b"[]",
                    "bad element": b'{"elements": [{"type": "node", "id": 1, "lat": "x"}]}',
                    "no elements": b'{"elements": []}',
                    "binary": b"\xff\xfe\x00garbage",
                }[damage]
            )
    again = _fetch(osm_services, cache_dir)
    assert len(again.ways) == len(first.ways)
    assert osm_services.count("overpass") == 3  # the walkable areas came from their own cache
    for path in _http_files(cache_dir):
        assert path.is_file()
        assert json.loads(path.read_text())["elements"]


def test_no_network_unresolvable_host(cache_dir: Path) -> None:
    started = time.monotonic()
    with pytest.raises(
        ServiceError,
        match=r"^cannot reach nonexistent\.invalid: no network\? .*Use --osm-file FILE or run "
        r"without AREA for the offline demo$",
    ):
        fetch_overpass(
            area_from_bbox(*BOX), overpass_url="http://nonexistent.invalid/api", cache_dir=cache_dir
        )
    with pytest.raises(ServiceError, match=r"^cannot reach nonexistent\.invalid: no network\?"):
        geocode("Paris", nominatim_url="http://nonexistent.invalid", cache_dir=cache_dir)
    assert time.monotonic() - started < 10  # not retried with back-off


def test_cached_replies_work_without_network(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    """Offline first: a fetch answered from the HTTP cache asks no server at all."""
    first = _fetch(osm_services, cache_dir)
    osm_services.server.shutdown()
    assert len(_fetch(osm_services, cache_dir).ways) == len(first.ways)


# ------------------------------------------------------------------------------- Nominatim


def test_nominatim_trickle_ends_at_the_deadline(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("nominatim", Failure(200, json.dumps(GOOD_PLACE).encode(), trickle_s=0.2))
    started = time.monotonic()
    with (
        deadline(2),
        pytest.raises(ServiceError, match=r"^Nominatim at .* within the time limit of 2 s"),
    ):
        _geocode(osm_services, cache_dir)
    assert time.monotonic() - started < 3.0
    assert not (cache_dir / "geocode").exists()


def test_nominatim_long_retry_after(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("nominatim", Failure(429, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    with (
        deadline(3),
        pytest.raises(
            ServiceError,
            match=r"^Nominatim at '.*' asked to retry after 3600 s, beyond the --timeout of 3 s",
        ),
    ):
        _geocode(osm_services, cache_dir)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("attempts", [1, 2, 3])
@pytest.mark.parametrize("fault", ["503", "cut short"])
def test_attempts_bound_the_geocoder_requests(
    osm_services: FakeOsmServices, cache_dir: Path, attempts: int, fault: str
) -> None:
    failure = Failure(503) if fault == "503" else Failure(200, b'[{"lat": "48', content_length=900)
    osm_services.fail("nominatim", *[failure] * 5)
    with pytest.raises(ServiceError, match=rf"failed {attempts} time"):
        _geocode(osm_services, cache_dir, attempts=attempts)
    assert osm_services.count("nominatim") == attempts


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"lat": 1}', r"reply of the wrong shape \(a dict where a list of places belongs\)"),
        (b'"Paris"', r"reply of the wrong shape \(a str"),
        (b"[1, 2]", r"reply of the wrong shape \(a list"),
        (b"<html>", r"sent a reply that is not JSON"),
        (b'{"error": "Bad request"}', r"refused the query 'Gare du Nord, Paris': Bad request"),
        (b'[{"lat": "nan", "lon": "2.35", "boundingbox": ["1", "2", "3", "4"]}]', r"'nan'"),
        (b'[{"lat": "95", "lon": "2.35", "boundingbox": ["1", "2", "3", "4"]}]', r"'95'"),
        (b'[{"lat": "48.8", "lon": "inf", "boundingbox": ["1", "2", "3", "4"]}]', r"'inf'"),
        (b'[{"lat": [1], "lon": "2", "boundingbox": ["1", "2", "3", "4"]}]', "wrong shape|usable"),
        (b'[{"lon": "2.35", "boundingbox": ["1", "2", "3", "4"]}]', r"usable coordinates"),
        (b'[{"lat": "48.8", "lon": "2.35", "boundingbox": "garbage"}]', r"bounding box 'garbage'"),
        (b'[{"lat": "48.8", "lon": "2.35", "boundingbox": ["a", "b", "c", "d"]}]', r"usable"),
        (b'[{"lat": "48.8", "lon": "2.35", "boundingbox": ["1", "2", "3"]}]', r"not 4 numbers"),
        (b'[{"lat": "48.8", "lon": "2.35", "boundingbox": ["9", "2", "3", "4"]}]', "upside down"),
    ],
)
def test_nominatim_malformed_replies(
    osm_services: FakeOsmServices, cache_dir: Path, body: bytes, message: str
) -> None:
    osm_services.fail("nominatim", Failure(200, body))
    with pytest.raises(ServiceError, match=r"^Nominatim at 'http://127\.0\.0\.1:\d+' .*" + message):
        _geocode(osm_services, cache_dir)
    assert osm_services.count("nominatim") == 1
    assert not list((cache_dir / "geocode").glob("*.json"))


@pytest.mark.parametrize(
    "geojson",
    [
        {"type": "Polygon", "coordinates": "garbage"},
        {"type": "Polygon", "coordinates": [[[1, 2], [3]]]},
        {"type": "Polygon", "coordinates": [[[500, 2], [501, 2], [501, 3], [500, 2]]]},
        {"type": "MultiPolygon", "coordinates": [[[["a", "b"]]]]},
        {"type": "Polygon"},
    ],
)
def test_garbage_outline_falls_back_to_the_bounding_box(
    osm_services: FakeOsmServices, cache_dir: Path, geojson: dict
) -> None:
    reply = [{**GOOD_PLACE[0], "geojson": geojson}]
    osm_services.fail("nominatim", Failure(200, json.dumps(reply).encode()))
    area = resolve_area(PLACE, nominatim_url=osm_services.url, cache_dir=cache_dir)
    assert area.kind == "place"
    assert area.bbox == pytest.approx((2.3432, 48.87717, 2.3541, 48.88119))


def test_nominatim_unable_to_geocode_is_not_found(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    osm_services.fail("nominatim", Failure(200, b'{"error": "Unable to geocode"}'))
    with pytest.raises(GeocodeError, match="no place called"):
        _geocode(osm_services, cache_dir)


def test_nominatim_redirect_loop(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    osm_services.fail("nominatim", Failure(302, headers={"Location": "{path}"}, sticky=True))
    with pytest.raises(
        ServiceError, match=r"^Nominatim at .* redirects in a loop \(gave up after 10"
    ):
        _geocode(osm_services, cache_dir)
    assert osm_services.count("nominatim") == settings.MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "damage", ["garbage", "directory", "list", "nan", "empty dict", "binary", "bad bbox"]
)
def test_unreadable_geocoder_cache_files_are_fetched_again(
    osm_services: FakeOsmServices, cache_dir: Path, damage: str
) -> None:
    first = _geocode(osm_services, cache_dir)
    (path,) = (cache_dir / "geocode").glob("*.json")
    path.unlink()
    if damage == "directory":
        path.mkdir()
    else:
        good = dict(first.raw)
        path.write_bytes(
            {
                "garbage": b"{not json",
                "list": b"[]",
                "nan": json.dumps({**good, "lat": "nan"}).encode(),
                "empty dict": b"{}",
                "binary": b"\xff\xfe\x00",
                "bad bbox": json.dumps({**good, "boundingbox": "x"}).encode(),
            }[damage]
        )
    again = _geocode(osm_services, cache_dir)
    assert again.point == first.point
    assert osm_services.count("nominatim") == 2
    assert json.loads(path.read_text())["lat"] == "48.8809"


# ------------------------------------------------------------------------ library arguments


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: resolve_area(None), AreaError, r"the area None is not text"),  # type: ignore[arg-type]
        (lambda: resolve_area(42), AreaError, r"the area 42 is not text"),  # type: ignore[arg-type]
        (lambda: resolve_area("nan,nan"), AreaError, r"out of range"),
        (lambda: resolve_area("48.8,inf"), AreaError, r"out of range"),
        (lambda: resolve_area("nan,48.8,2.4,48.9"), AreaError, r"out of range"),
        (lambda: resolve_area("2.3,48.8,inf,48.9"), AreaError, r"out of range"),
        (lambda: resolve_area("2.3,-91,2.4,48.9"), AreaError, r"out of range"),
        (lambda: resolve_area("2.4,48.8,2.3,48.9"), AreaError, r"is empty: give west,south"),
        (lambda: resolve_area("48.8,2.3,5"), AreaError, r"neither 'lat,lon' nor"),
        (lambda: resolve_area("1,2,3,4,5"), AreaError, r"neither 'lat,lon' nor"),
        (lambda: resolve_area("48.8,2.3", radius_m=float("nan")), AreaError, "radius nan m"),
        (lambda: resolve_area("48.8,2.3", radius_m=float("inf")), AreaError, "radius inf m"),
        (lambda: resolve_area("48.8,2.3", radius_m=-5), AreaError, "radius -5 m"),
        (lambda: resolve_area("48.8,2.3", radius_m="5"), AreaError, "radius '5' m"),  # type: ignore[arg-type]
        (lambda: resolve_area("48.8,2.3", attempts=0), UsageError, r"attempts 0 is not"),
        (lambda: resolve_area("Paris", attempts=-1), UsageError, r"attempts -1 is not"),
        (lambda: area_from_bbox("a", 1, 2, 3), AreaError, r"west 'a' .* is not a number"),  # type: ignore[arg-type]
        (lambda: area_from_bbox(float("nan"), 1, 2, 3), AreaError, r"out of range"),
        (lambda: area_from_point(None, 100), AreaError, r"is not a LatLon"),  # type: ignore[arg-type]
        (lambda: area_from_point(LatLon(float("nan"), 2), 100), AreaError, "out of range"),
        (lambda: geocode(None), UsageError, r"the place name None is not text"),  # type: ignore[arg-type]
        (lambda: geocode(""), UsageError, r"the place name '' is empty"),
        (lambda: geocode("   "), UsageError, r"is empty"),
        (lambda: geocode("x" * 10000), UsageError, r"is 10000 characters long, more than the 300"),
        (lambda: geocode("Paris\x1b[2J"), UsageError, r"holds control characters"),
        (lambda: geocode("Paris", attempts=0), UsageError, r"attempts 0"),
        (lambda: geocode("Paris", attempts=-1), UsageError, r"attempts -1"),
        (lambda: geocode("Paris", attempts=1.5), UsageError, r"attempts 1\.5"),  # type: ignore[arg-type]
        (lambda: geocode("Paris", timeout_s=float("nan")), UsageError, r"timeout_s nan"),
        (lambda: geocode("Paris", backoff_s=-1), UsageError, r"backoff_s -1"),
        (lambda: geocode("Paris", cache_dir=42), UsageError, r"cache directory 42 is not a path"),  # type: ignore[arg-type]
        (lambda: fetch_overpass(None), AreaError, r"the area None is not an Area"),  # type: ignore[arg-type]
        (lambda: fetch_overpass(area_from_bbox(*BOX), attempts=0), UsageError, "attempts 0"),
    ],
)
def test_library_arguments_raise_our_errors(call, error: type[WalksError], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        call()
    assert isinstance(caught.value, WalksError)
    assert "\n" not in str(caught.value)


# ------------------------------------------------------------------------- quiet terminal


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_foreign_warnings_are_kept_off_the_terminal(
    osm_services: FakeOsmServices, cache_dir: Path
) -> None:
    """urllib3's multi-line header-parsing warning (with a traceback) goes to our debug log."""
    ours, theirs = _Records(), _Records()
    loggers = [(logging.getLogger("walks._http"), ours), (logging.getLogger("urllib3"), theirs)]
    saved = [(logger, logger.level, logger.handlers) for logger, _ in loggers]
    for logger, handler in loggers:
        logger.handlers = [handler]
        logger.setLevel(logging.DEBUG)  # setLevel, not the attribute: it clears level caches
    broken = Failure(503, b"busy", bad_header_lines=("this line is not a header",))
    osm_services.fail("nominatim", broken, broken)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(ServiceError, match="failed 2 time"):
                _geocode(osm_services, cache_dir, attempts=2)
    finally:
        for logger, level, handlers in saved:
            logger.handlers = handlers
            logger.setLevel(level)
    assert not seen
    assert not [r for r in theirs.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in ours.records if r.levelno >= logging.WARNING] == [logging.WARNING]
    rerouted = [r.getMessage() for r in ours.records if r.levelno == logging.DEBUG]
    assert any(m.startswith("urllib3.connection: Failed to parse headers") for m in rerouted)
    assert all("\n" not in m for m in rerouted)


def test_stderr_has_one_line_per_notice(osm_services: FakeOsmServices, cache_dir: Path) -> None:
    """In a fresh process, logging on stderr as the CLI does, faults print no tracebacks."""
    osm_services.fail(
        "nominatim",
        Failure(503, b"busy", bad_header_lines=("not a header",)),
        Failure(200, b'[{"lat": "4', content_length=400),
    )
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "from walks.geocode import geocode\n"
        "from walks.errors import ServiceError\n"
        "try:\n"
        f"    geocode('Paris', nominatim_url={osm_services.url!r}, cache_dir=sys.argv[1],\n"
        "            attempts=2, backoff_s=0.01, min_delay_s=0)\n"
        "except ServiceError as err:\n"
        "    print('Error:', err, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", script, str(cache_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("WARNING:walks._http:Nominatim: HTTP 503")
    assert lines[1].startswith("Error: Nominatim at ")
    assert "urllib3" not in done.stderr
    assert "Traceback" not in done.stderr
