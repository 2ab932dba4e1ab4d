"""A local stand-in for the Terrarium elevation tiles on 127.0.0.1, from a synthetic ground.

``/terrarium/{z}/{x}/{y}.png`` answers a real-format tile: a 256 x 256 RGB PNG (written here
with zlib, no imaging library) whose pixels encode ``elevation + 32768 = R * 256 + G + B / 256``
at each pixel's centre, as the AWS Terrain Tiles do. Tests queue scripted failures (a status
code, or a 200 with a body that is no tile) served before normal replies, and read the log of
tile paths asked for.
"""

from __future__ import annotations

import math
import re
import struct
import threading
import zlib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Self

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass
class TileFailure:
    """A scripted reply served instead of a tile."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an ``(h, w, 3)`` uint8 array as an 8-bit RGB PNG (filter 0 on every row)."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].astype(np.uint8).tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def terrarium_rgb(elevation: np.ndarray) -> np.ndarray:
    """Encode elevations (metres) as Terrarium pixels: ``v + 32768 = R * 256 + G + B / 256``."""
    value = np.asarray(elevation, dtype=float) + 32768.0
    whole = np.floor(value)
    red = np.floor(whole / 256.0)
    green = whole - red * 256.0
    blue = np.floor((value - whole) * 256.0)
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def pixel_centres(z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes of a tile's pixel centres, ``(256, 256)`` each, row 0 north."""
    n = 2.0**z
    px = x + (np.arange(256) + 0.5) / 256.0
    py = y + (np.arange(256) + 0.5) / 256.0
    lon = px / n * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1.0 - 2.0 * py / n))))
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    return lat_grid, lon_grid


def terrarium_tile(ground: Callable[[np.ndarray, np.ndarray], np.ndarray], z: int, x: int,
                   y: int) -> bytes:  # fmt: skip
    """The PNG of one tile of a synthetic ground ``ground(lat, lon) -> metres``."""
    lat, lon = pixel_centres(z, x, y)
    return png_bytes(terrarium_rgb(ground(lat, lon)))


class FakeTileServer:
    """Serve Terrarium tiles of a synthetic ground on 127.0.0.1 (use as a context manager)."""

    def __init__(self, ground: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.ground = ground
        self.requests: list[str] = []
        self.failures: deque[TileFailure] = deque()
        self.fail_always: TileFailure | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                match = re.fullmatch(r"/terrarium/(\d+)/(\d+)/(\d+)\.png", self.path)
                with server._lock:
                    server.requests.append(self.path)
                    scripted = server.failures.popleft() if server.failures else server.fail_always
                if scripted is not None:
                    self._send(scripted.status, scripted.body, scripted.headers)
                    return
                if match is None:
                    self._send(404, b"no such tile", {})
                    return
                z, x, y = (int(g) for g in match.groups())
                body = terrarium_tile(server.ground, z, x, y)
                self._send(200, body, {"Content-Type": "image/png"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The tile source's base URL (``{url}/{z}/{x}/{y}.png``)."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/terrarium"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail(self, *failures: TileFailure) -> None:
        """Serve these replies, one per request, before any tile."""
        with self._lock:
            self.failures.extend(failures)

    def tiles_served(self) -> int:
        """How many tile paths were asked for."""
        with self._lock:
            return len(self.requests)
