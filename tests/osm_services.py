"""A local stand-in for Overpass and Nominatim on 127.0.0.1, answering from a real OSM extract.

Overpass ``/interpreter`` answers the queries osmnx and walks send (a union of ``node``, ``way``
and ``relation`` statements with tag filters and a ``poly:`` outline, then ``>`` to recurse down)
from the extract, as the real service does: elements that pass the filters and lie in the
outline's bounding box, with their member ways and all nodes.
Nominatim ``/search`` knows the places given to it. Tests can queue failures (status codes or raw
bodies) that are served before the normal replies, and read the log of requests received.
A failure can also misbehave at the transport level, as real servers and proxies do: trickle
its body a byte at a time, stall before answering, claim a longer body than it sends, carry
malformed header lines, or stay in place for every request (a redirect loop).
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import osmium

STATUS_TEXT = (
    "Connected as: 1\nCurrent time: 2026-11-24T00:00:00Z\nAnnounced endpoint: none\n"
    "Rate limit: 2\n2 slots available now.\nCurrently running queries (pid, space limit, "
    "time limit, start time):\n"
)


@dataclass
class Failure:
    """A scripted reply served instead of the real one.

    ``headers`` values may hold ``{path}``, replaced by the request's path (for redirect
    loops). ``content_length`` overrides the Content-Length sent (a short body when larger
    than ``body``); ``trickle_s`` sends the body one byte per that many seconds; ``stall_s``
    waits before answering at all; ``bad_header_lines`` are sent as they are among the headers;
    a ``sticky`` failure is served for every request instead of once. With ``trickle_all``
    the status line and headers are trickled too, not only the body.
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None
    trickle_s: float = 0.0
    stall_s: float = 0.0
    bad_header_lines: tuple[str, ...] = ()
    sticky: bool = False
    trickle_all: bool = False


class ExtractIndex:
    """The nodes and ways of an extract, for building Overpass replies."""

    def __init__(self, path: Path) -> None:
        self.nodes: dict[int, tuple[float, float]] = {}
        self.node_tags: dict[int, dict[str, str]] = {}
        self.all_ways: list[dict[str, Any]] = []
        self.relations: list[dict[str, Any]] = []
        kinds = {"n": "node", "w": "way", "r": "relation"}
        entities = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
        for obj in osmium.FileProcessor(str(path), entities):
            if obj.is_node():
                if obj.location.valid():
                    self.nodes[obj.id] = (obj.location.lat, obj.location.lon)
                    if len(obj.tags):
                        self.node_tags[obj.id] = {t.k: t.v for t in obj.tags}
            elif obj.is_way():
                self.all_ways.append(
                    {
                        "type": "way",
                        "id": obj.id,
                        "nodes": [n.ref for n in obj.nodes],
                        "tags": {t.k: t.v for t in obj.tags},
                    }
                )
            else:
                members = [
                    {"type": kinds[m.type], "ref": m.ref, "role": m.role} for m in obj.members
                ]
                self.relations.append(
                    {
                        "type": "relation",
                        "id": obj.id,
                        "members": members,
                        "tags": {t.k: t.v for t in obj.tags},
                    }
                )
        self.way_by_id = {w["id"]: w for w in self.all_ways}

    def evaluate(self, query: str) -> dict[str, Any]:
        """Answer an Overpass QL query made of a union of filtered statements, as Overpass does.

        Each statement is ``node``, ``way`` or ``relation``, tag filters (``["k"]``,
        ``["k"="v"]``, ``["k"!="v"]``, ``["k"~"regex"]``, ``["k"!~"regex"]``) and a
        ``(poly:"lat lon ...")`` (its bounding box is used: a node inside it, a way with a node
        inside it, a relation with such a member). With ``>`` in the query, the result is
        recursed down as ``>`` does: ways' nodes; relations' member nodes and ways, and those
        ways' nodes. Elements come out by kind (nodes, ways, relations), each in id order.
        """
        chosen: dict[str, dict[int, dict[str, Any]]] = {"node": {}, "way": {}, "relation": {}}
        for kind, filters, box in _statements(query):
            chosen[kind].update(self._select(kind, filters, self._inside(box)))
        if ">" in query:
            self._recurse_down(chosen)
        elements = [chosen[k][i] for k in ("node", "way", "relation") for i in sorted(chosen[k])]
        return {
            "version": 0.6,
            "generator": "walks test server",
            "osm3s": {"timestamp_osm_base": "2021-07-07T10:22:44Z", "copyright": "ODbL"},
            "elements": elements,
        }

    def _select(
        self, kind: str, filters: list[tuple[str, str | None, str | None]], inside: Any
    ) -> dict[int, dict[str, Any]]:
        """The elements of one kind that pass the filters and lie in the box."""
        if kind == "node":
            return {
                ref: self._node(ref)
                for ref, tags in self.node_tags.items()
                if inside(ref) and _matches(tags, filters)
            }
        if kind == "way":
            return {
                way["id"]: way
                for way in self.all_ways
                if _matches(way["tags"], filters) and self._way_inside(way, inside)
            }
        return {
            rel["id"]: rel
            for rel in self.relations
            if _matches(rel["tags"], filters) and self._relation_inside(rel, inside)
        }

    def _recurse_down(self, chosen: dict[str, dict[int, dict[str, Any]]]) -> None:
        """Add what ``>`` adds: relations' member nodes and ways, then all ways' nodes."""
        for rel in list(chosen["relation"].values()):
            for m in rel["members"]:
                if m["type"] == "node" and m["ref"] in self.nodes:
                    chosen["node"][m["ref"]] = self._node(m["ref"])
                elif m["type"] == "way" and m["ref"] in self.way_by_id:
                    chosen["way"][m["ref"]] = self.way_by_id[m["ref"]]
        for way in chosen["way"].values():
            for ref in way["nodes"]:
                if ref in self.nodes and ref not in chosen["node"]:
                    chosen["node"][ref] = self._node(ref)

    def _node(self, ref: int) -> dict[str, Any]:
        """A node element, with its tags when it has some."""
        lat, lon = self.nodes[ref]
        node: dict[str, Any] = {"type": "node", "id": ref, "lat": lat, "lon": lon}
        if ref in self.node_tags:
            node["tags"] = self.node_tags[ref]
        return node

    def _inside(self, box: tuple[float, float, float, float]) -> Any:
        """A test of whether a node id lies in a (south, west, north, east) box."""
        south, west, north, east = box

        def inside(ref: int) -> bool:
            at = self.nodes.get(ref)
            return at is not None and south <= at[0] <= north and west <= at[1] <= east

        return inside

    @staticmethod
    def _way_inside(way: dict[str, Any], inside: Any) -> bool:
        """Whether a way has a node in the box."""
        return any(inside(r) for r in way["nodes"])

    def _relation_inside(self, rel: dict[str, Any], inside: Any) -> bool:
        """Whether a relation has a member node, or a member way with a node, in the box."""
        for m in rel["members"]:
            if m["type"] == "node" and inside(m["ref"]):
                return True
            way = self.way_by_id.get(m["ref"]) if m["type"] == "way" else None
            if way is not None and self._way_inside(way, inside):
                return True
        return False


_STATEMENT = re.compile(r"""(node|way|relation)((?:\[[^\[\]]*\])*)\(poly:(["'])([^"']*)\3\)""")
_FILTER = re.compile(r"""\[(["'])(.*?)\1(?:(=|!=|~|!~)(["'])(.*?)\4)?\]""")


def _box_of(poly: str) -> tuple[float, float, float, float]:
    """The (south, west, north, east) box of an Overpass ``poly:`` text."""
    numbers = [float(x) for x in poly.split()]
    lats, lons = numbers[0::2], numbers[1::2]
    return min(lats), min(lons), max(lats), max(lons)


def _statements(
    query: str,
) -> list[tuple[str, list[tuple[str, str | None, str | None]], tuple[float, ...]]]:
    """The (kind, filters, box) of each statement of a query."""
    found = []
    for kind, filters, _, poly in _STATEMENT.findall(query):
        parsed = [
            (key, op or None, value if op else None)
            for _, key, op, _, value in _FILTER.findall(filters)
        ]
        found.append((kind, parsed, _box_of(poly)))
    return found


def _matches(tags: dict[str, str], filters: list[tuple[str, str | None, str | None]]) -> bool:
    """Whether tags pass every filter, as Overpass reads them."""
    for key, op, value in filters:
        have = tags.get(key)
        if op is None:
            ok = have is not None
        elif op == "=":
            ok = have == value
        elif op == "!=":
            ok = have != value
        elif op == "~":
            ok = have is not None and re.search(value or "", have) is not None
        else:  # !~
            ok = have is None or re.search(value or "", have) is None
        if not ok:
            return False
    return True


@functools.cache
def _index_of(extract: Path) -> ExtractIndex:
    """Read an extract once per test session (the index is never changed after it is built)."""
    return ExtractIndex(extract)


class FakeOsmServices:
    """Overpass + Nominatim on an OS-chosen port of 127.0.0.1."""

    def __init__(self, extract: Path) -> None:
        self.index = _index_of(extract)
        self.places: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, deque[Failure]] = {"overpass": deque(), "nominatim": deque()}
        self.requests: list[tuple[float, str, str]] = []  # (time, kind, path)
        self.queries: list[str] = []  # Overpass QL received
        self.status_text = STATUS_TEXT  # what /status answers
        self.status_requests = 0
        services = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                return

            def _send(
                self,
                status: int,
                body: bytes,
                headers: dict[str, str] | None = None,
                content_type: str = "application/json",
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def _scripted(self, kind: str) -> bool:
                queue = services.failures[kind]
                if not queue:
                    return False
                failure = queue[0] if queue[0].sticky else queue.popleft()
                try:
                    self._misbehave(failure)
                except OSError:  # the client gave up (as it should, at its deadline)
                    self.close_connection = True
                return True

            def _misbehave(self, failure: Failure) -> None:
                time.sleep(failure.stall_s)
                if failure.trickle_all:
                    head = (
                        f"HTTP/1.0 {failure.status} Whatever\r\n"
                        f"Content-Length: {len(failure.body)}\r\n\r\n"
                    )
                    for byte in head.encode() + failure.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(failure.trickle_s)
                    self.close_connection = True
                    return
                self.send_response(failure.status)
                self.send_header("Content-Type", "text/plain")
                length = failure.content_length
                self.send_header(
                    "Content-Length", str(len(failure.body) if length is None else length)
                )
                for key, value in failure.headers.items():
                    self.send_header(key, value.replace("{path}", self.path))
                for line in failure.bad_header_lines:
                    self._headers_buffer.append(f"{line}\r\n".encode("latin-1"))
                self.end_headers()
                if not failure.trickle_s:
                    self.wfile.write(failure.body)
                    self.wfile.flush()
                else:
                    for i in range(len(failure.body)):
                        self.wfile.write(failure.body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(failure.trickle_s)
                self.close_connection = True

            def do_GET(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                if parsed.path.endswith("/status"):
                    services.status_requests += 1
                    self._send(200, services.status_text.encode(), content_type="text/plain")
                    return
                if parsed.path.endswith("/interpreter"):  # a redirected POST arrives as a GET
                    services.requests.append((time.monotonic(), "overpass", self.path))
                    if not self._scripted("overpass"):
                        self._send(400, b"GET is not served here", content_type="text/plain")
                    return
                if parsed.path.endswith("/search"):
                    services.requests.append((time.monotonic(), "nominatim", self.path))
                    if self._scripted("nominatim"):
                        return
                    query = urllib.parse.parse_qs(parsed.query).get("q", [""])[0]
                    place = services.places.get(query.strip().lower())
                    self._send(200, json.dumps([place] if place else []).encode())
                    return
                self._send(404, b"not found", content_type="text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                services.requests.append((time.monotonic(), "overpass", self.path))
                if not self.path.endswith("/interpreter"):
                    self._send(404, b"not found", content_type="text/plain")
                    return
                if self._scripted("overpass"):
                    return
                query = form.get("data", [""])[0]
                services.queries.append(query)
                if not _statements(query) or "out;" not in query:  # Overpass: a parse error
                    self._send(400, b"bad query", content_type="text/plain")
                    return
                reply = services.index.evaluate(query)
                self._send(200, json.dumps(reply).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_place(
        self,
        name: str,
        *,
        lat: float,
        lon: float,
        bbox: tuple[float, float, float, float],
        geojson: dict[str, Any] | None = None,
    ) -> None:
        """Teach Nominatim a place; bbox is (west, south, east, north)."""
        west, south, east, north = bbox
        self.places[name.strip().lower()] = {
            "place_id": len(self.places) + 1,
            "licence": "Data © OpenStreetMap contributors, ODbL 1.0",
            "lat": str(lat),
            "lon": str(lon),
            "display_name": name,
            "boundingbox": [str(south), str(north), str(west), str(east)],
            "geojson": geojson or {"type": "Point", "coordinates": [lon, lat]},
        }

    def fail(self, kind: str, *failures: Failure) -> None:
        """Queue failures for ``"overpass"`` or ``"nominatim"``."""
        self.failures[kind].extend(failures)

    def count(self, kind: str) -> int:
        """How many requests of a kind arrived."""
        return sum(1 for _, k, _ in self.requests if k == kind)
