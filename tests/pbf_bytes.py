"""Hand-made PBF bytes for tests: protocol-buffer fields and a one-block file."""

from __future__ import annotations

import struct
import zlib


def varint(n: int) -> bytes:
    """A varint of ``n``'s 64-bit two's complement."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, data: bytes) -> bytes:
    """A length-delimited field."""
    return varint(number << 3 | 2) + varint(len(data)) + data


def number(number: int, value: int) -> bytes:
    """A varint field."""
    return varint(number << 3) + varint(value)


def zigzag(n: int) -> bytes:
    """A zig-zag coded signed varint (``sint64``)."""
    return varint((n << 1) ^ (n >> 63))


def pbf_file(
    block: bytes,
    *,
    raw_size: int | None = None,
    packed: bytes | None = None,
    compression: str = "zlib",
) -> bytes:
    """A PBF file: a header block, then one data block (zlib, or lz4), its sizes as given."""

    def blob(kind: bytes, data: bytes, size: int | None = None, body: bytes | None = None) -> bytes:
        squeezed = compression == "lz4" and kind == b"OSMData"
        if squeezed:
            from lz4 import block as lz4_block  # the tests of lz4 blobs only

            body = body or lz4_block.compress(data, store_size=False)
        inside = number(2, len(data) if size is None else size) + field(
            6 if squeezed else 3, body or zlib.compress(data)
        )
        head = field(1, kind) + number(3, len(inside))
        return struct.pack(">I", len(head)) + head + inside

    header = field(4, b"OsmSchema-V0.6") + field(4, b"DenseNodes")
    return blob(b"OSMHeader", header) + blob(b"OSMData", block, raw_size, packed)


def blob(kind: bytes, inside: bytes) -> bytes:
    """A blob as stored: its header (type and size), then ``inside``, the Blob message."""
    head = field(1, kind) + number(3, len(inside))
    return struct.pack(">I", len(head)) + head + inside


def zlib_data(data: bytes) -> bytes:
    """A Blob message of zlib data, its size said."""
    return number(2, len(data)) + field(3, zlib.compress(data))


#: A file's start: a header block requiring what walks and osmium read.
HEADER = blob(b"OSMHeader", zlib_data(field(4, b"OsmSchema-V0.6") + field(4, b"DenseNodes")))
