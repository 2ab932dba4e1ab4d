"""walks.pbf_write writes, for all objects at once, the bytes its format says object by object."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import osmium
import pytest
from pbf_bytes import field, varint, zigzag

from walks import pbf_jit, pbf_write
from walks.pbf import RelationBlock
from walks.pbf_write import write_pbf

_Ways = tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[tuple[str, str], ...]]]


def _blob(kind: bytes, block: bytes) -> bytes:
    """A blob stored raw, as the small file holds it."""
    inside = field(1, block)
    head = field(1, kind) + varint(3 << 3) + varint(len(inside))
    return struct.pack(">I", len(head)) + head + inside


def _steps(values: list[int]) -> bytes:
    """Zig-zag varints of each value less the one before (the first from 0)."""
    before = [0, *values][: len(values)]
    return b"".join(zigzag(b - a) for a, b in zip(before, values, strict=True))


def _expected(
    nodes: tuple[np.ndarray, np.ndarray, np.ndarray],
    ways: _Ways,
    relations: list[tuple[RelationBlock, np.ndarray]],
    block: int,
    block_bytes: int,
) -> bytes:
    """The small file written object by object, from the PBF format alone."""
    out = _blob(b"OSMHeader", field(4, b"OsmSchema-V0.6") + field(4, b"DenseNodes"))
    ids, lats, lons = (c.tolist() for c in nodes)
    for a in range(0, len(ids), block):
        dense = b"".join(field(k, _steps(c[a : a + block])) for k, c in ((1, ids), (8, lats),
                                                                          (9, lons)))  # fmt: skip
        out += _blob(b"OSMData", field(1, field(1, b"")) + field(2, field(2, dense)))
    way_ids, offsets, refs, tags = ways
    k = 0
    while k < len(way_ids):
        strings: dict[str, int] = {"": 0}
        group, size, taken = b"", 0, 0
        while k < len(way_ids) and taken < block and size < block_bytes:
            body = varint(1 << 3) + varint(int(way_ids[k]))
            if tags[k]:
                keys = [strings.setdefault(t, len(strings)) for t, _ in tags[k]]
                values = [strings.setdefault(t, len(strings)) for _, t in tags[k]]
                body += field(2, b"".join(map(varint, keys)))
                body += field(3, b"".join(map(varint, values)))
            body += field(8, _steps(refs[offsets[k] : offsets[k + 1]].tolist()))
            group += field(3, body)
            size += len(field(3, body))
            taken += 1
            k += 1
        table = b"".join(field(1, t.encode()) for t in strings)
        out += _blob(b"OSMData", field(1, table) + field(2, group))
    for relation_block, chosen in relations:
        if not chosen.size:
            continue
        group = b""
        for j in chosen.tolist():
            m = slice(
                int(relation_block.member_offsets[j]), int(relation_block.member_offsets[j + 1])
            )
            t = slice(int(relation_block.tag_offsets[j]), int(relation_block.tag_offsets[j + 1]))
            group += field(4, b"".join((
                varint(1 << 3) + varint(int(relation_block.ids[j])),
                field(2, b"".join(map(varint, relation_block.keys[t].tolist()))),
                field(3, b"".join(map(varint, relation_block.values[t].tolist()))),
                field(8, b"".join(map(varint, relation_block.roles[m].tolist()))),
                field(9, _steps(relation_block.member_ids[m].tolist())),
                field(10, b"".join(map(varint, relation_block.member_types[m].tolist()))),
            )))  # fmt: skip
        table = b"".join(field(1, t.encode()) for t in relation_block.strings)
        out += _blob(b"OSMData", field(1, table) + field(2, group))
    return out


def _objects(
    seed: int,
) -> tuple[
    tuple[np.ndarray, np.ndarray, np.ndarray], _Ways, list[tuple[RelationBlock, np.ndarray]]
]:
    """Random nodes, ways (some tagged, some long) and two relation blocks."""
    rng = np.random.default_rng(seed)
    n = 50
    node_ids = np.cumsum(rng.integers(1, 2**33, n)).astype(np.int64)
    lats = rng.integers(-900_000_000, 900_000_001, n).astype(np.int64)
    lons = rng.integers(-1_800_000_000, 1_800_000_001, n).astype(np.int64)
    sizes = rng.integers(0, 60, 40)
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    refs = node_ids[rng.integers(0, n, int(offsets[-1]))]
    texts = ["building", "yes", "name", "Straße ☕", "", "type", "natural", "x" * 200]
    tags = [
        tuple((str(rng.choice(texts)), str(rng.choice(texts))) for _ in range(rng.integers(0, 4)))
        if rng.random() < 0.4 else ()
        for _ in range(40)
    ]  # fmt: skip
    way_ids = np.cumsum(rng.integers(1, 2**40, 40)).astype(np.int64)
    blocks = []
    for _ in range(2):
        count = 6
        members = rng.integers(0, 5, count)
        member_offsets = np.concatenate(([0], np.cumsum(members))).astype(np.int64)
        tag_counts = rng.integers(0, 3, count)
        tag_offsets = np.concatenate(([0], np.cumsum(tag_counts))).astype(np.int64)
        total, tagged = int(member_offsets[-1]), int(tag_offsets[-1])
        relation_block = RelationBlock(
            np.cumsum(rng.integers(1, 2**20, count)).astype(np.int64), member_offsets,
            rng.integers(-(2**40), 2**40, total).astype(np.int64),
            rng.integers(0, 3, total).astype(np.int64), rng.integers(0, 4, total).astype(np.int64),
            tag_offsets, rng.integers(0, 4, tagged).astype(np.int64),
            rng.integers(0, 4, tagged).astype(np.int64), ["", "type", "multipolygon", "outer"],
        )  # fmt: skip
        blocks.append((relation_block, np.flatnonzero(rng.random(count) < 0.6)))
    return (node_ids, lats, lons), (way_ids, offsets, refs, tags), blocks


@pytest.mark.parametrize(("block", "block_bytes"), [(8000, 16 * 2**20), (7, 2**20), (9, 300)])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("jit", ["0", "1"])
def test_the_small_file_is_its_objects_written_one_by_one(
    block: int,
    block_bytes: int,
    seed: int,
    jit: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blocks cut by count and by size (a block's string table only of its own ways' tags),
    written with numpy alone and with the compiled varints."""
    if jit == "1" and not pbf_jit.available():
        pytest.skip("numba")
    monkeypatch.setattr(pbf_write, "_BLOCK", block)
    monkeypatch.setattr(pbf_write, "_BLOCK_BYTES", block_bytes)
    monkeypatch.setenv("WALKS_JIT", jit)
    nodes, ways, relations = _objects(seed)
    small = tmp_path / "small.osm.pbf"
    with pbf_jit.engaged(0) as used:
        assert used is (jit == "1")
        write_pbf(small, nodes, ways, relations)
    assert small.read_bytes() == _expected(nodes, ways, relations, block, block_bytes)


def test_compiled_varints_are_numpys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each value's varint, at every length from one byte to ten, negatives too."""
    if not pbf_jit.available():
        pytest.skip("numba")
    rng = np.random.default_rng(5)
    edges = [0, 1, 127, 128, 2**14 - 1, 2**14, 2**35, 2**63 - 1, -1, -(2**63), -128]
    values = np.concatenate((
        edges, rng.integers(-(2**63), 2**63 - 1, 3000, dtype=np.int64),
        (rng.integers(0, 2**62, 3000) >> rng.integers(0, 62, 3000)),
    )).astype(np.int64)  # fmt: skip
    monkeypatch.setenv("WALKS_JIT", "1")
    with pbf_jit.engaged(0):
        compiled = pbf_write._varints(values)
        empty = pbf_write._varints(values[:0])
    monkeypatch.setenv("WALKS_JIT", "0")
    with pbf_jit.engaged(0):
        plain = pbf_write._varints(values)
    assert compiled[0] == plain[0]
    np.testing.assert_array_equal(compiled[1], plain[1])
    assert compiled[1].dtype == plain[1].dtype
    assert empty[0] == b""
    assert empty[1].size == 0
    assert compiled[0][: compiled[1][0]] == varint(0)
    assert compiled[0][compiled[1][7] : compiled[1][8]] == varint(2**64 - 1)  # -1, ten bytes


def test_osmium_reads_the_small_file_s_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ways cut in blocks by size: osmium reads each way's nodes and tags as given."""
    monkeypatch.setattr(pbf_write, "_BLOCK_BYTES", 300)
    (node_ids, lats, lons), ways, relations = _objects(4)
    lats, lons = lats // 2, lons // 2
    small = tmp_path / "small.osm.pbf"
    write_pbf(small, (node_ids, lats, lons), ways, relations)
    way_ids, offsets, refs, tags = ways
    read_nodes, read_ways, read_relations = [], [], []
    for obj in osmium.FileProcessor(str(small)):
        if obj.is_node():
            read_nodes.append((obj.id, obj.location.x, obj.location.y))
        elif obj.is_way():
            read_ways.append((obj.id, [n.ref for n in obj.nodes], [(t.k, t.v) for t in obj.tags]))
        else:
            read_relations.append((obj.id, [(m.type, m.ref, m.role) for m in obj.members]))
    assert read_nodes == list(zip(node_ids.tolist(), lons.tolist(), lats.tolist(), strict=True))
    assert read_ways == [
        (int(w), refs[offsets[k] : offsets[k + 1]].tolist(), list(tags[k]))
        for k, w in enumerate(way_ids.tolist())
    ]
    expected = []
    for block, chosen in relations:
        for j in chosen.tolist():
            m = slice(int(block.member_offsets[j]), int(block.member_offsets[j + 1]))
            expected.append((int(block.ids[j]), [
                ("nwr"[t], r, block.strings[s]) for t, r, s in zip(
                    block.member_types[m].tolist(), block.member_ids[m].tolist(),
                    block.roles[m].tolist(), strict=True)
            ]))  # fmt: skip
    assert read_relations == expected
