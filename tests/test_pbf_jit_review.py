"""Hostile review of the compiled PBF loops (walks.pbf_jit, walks.pbf_loops): what a fuzz found.

The first tests each reproduce a defect the review found (each failed before its fix): loops
that read what the numpy code refuses, wrappers that let a loop write past its buffer, numba
that cannot keep its cache, text that is not UTF-8. The others hold cases the fuzz ran without
a difference, not covered by ``test_pbf_jit.py``. Calls that may crash the process (a read or
write past an array, numba's bounds checks being off) run in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import SHARED
from pbf_bytes import field, number, pbf_file, varint, zigzag
from test_pbf_jit import _both as _both_worded
from test_pbf_jit import _rows, _way_block

from walks import pbf_jit
from walks.errors import DataError
from walks.store import import_extract, store_path

if TYPE_CHECKING:
    pass

pytest.importorskip("numba")

ANDORRA = SHARED / "data" / "osm-andorra-2013" / "andorra.osm.pbf"
MUNICH = SHARED / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
ROOT = Path(__file__).resolve().parents[1]


def _both(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """As ``test_pbf_jit._both``, a refusal read as ``refused`` (the two word it differently)."""
    plain, compiled = _both_worded(data, monkeypatch)
    return tuple("refused" if isinstance(d, str) else d for d in (plain, compiled))


def _packed(values: list[int], *, signed: bool = False) -> bytes:
    """A packed run of varints (zig-zag coded when signed)."""
    return b"".join(zigzag(v) if signed else varint(v) for v in values)


def _deltas(values: list[int]) -> list[int]:
    """Delta-code a column."""
    return [b - a for a, b in zip([0, *values], values, strict=False)]


def _in_subprocess(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter on this worktree's walks (a crash shows as rc < 0)."""
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(code))
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True, text=True, env=environ, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip


# --- defects found, fixed -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"\x80", b"\x80\xff\x00\x80", b"\xff" * 11 + b"\x01"],
    ids=["a lone continuation byte", "bytes then a continuation", "an 11-byte varint"],
)
def test_a_way_field_of_any_bytes_is_read_alike(
    content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    way = number(1, 7) + field(12, content) + field(8, zigzag(5))
    plain, compiled = _both(_way_block([b"", b"a"], [way]), monkeypatch)
    assert compiled == plain


def test_tag_texts_refuses_a_string_ending_before_it_starts(tmp_path: Path) -> None:
    run = _in_subprocess(
        """
        import numpy as np
        from walks import pbf_jit

        data = np.frombuffer(b"abcdefgh" * 2, dtype=np.uint8).copy()
        starts = np.array([0, 16], dtype=np.int64)
        ends = np.array([16, 0], dtype=np.int64)  # string 1: -16 bytes long
        keys = np.array([0, 1] * 200_000, dtype=np.int64)
        first, last = np.array([0], dtype=np.int64), np.array([keys.size], dtype=np.int64)
        print(pbf_jit.tag_texts((data, starts, ends), (keys, keys.copy()), first, last))
        """,
        tmp_path,
    )
    assert run.returncode == 0, run.returncode  # -11 today: a segmentation fault
    assert run.stdout.strip() == "None"


def test_the_wrappers_refuse_paired_arrays_of_other_lengths(tmp_path: Path) -> None:
    run = _in_subprocess(
        """
        import numpy as np
        from walks import pbf_jit

        i64 = lambda *v: np.array(v, dtype=np.int64)
        data = np.zeros(16, dtype=np.uint8)
        with pbf_jit.engaged(1 << 40):
            starts = i64(0, *([8] * 1000))
            ends = i64(16)
            out = np.empty(int((ends - starts).sum()), dtype=np.uint8)
            try:
                print("gather", pbf_jit.gather(data, starts, ends, out))
            except ValueError as err:
                print("gather raised", type(err).__name__)
        table = (data, i64(0, 0, 0), i64(1))
        print("tag_texts", pbf_jit.tag_texts(table, (i64(2), i64(2)), i64(0), i64(1)))
        fields = ((1, 0), (2, pbf_jit.PLAIN), (3, pbf_jit.PLAIN), (8, pbf_jit.DELTA))
        _, status = pbf_jit.group(bytes(16), (0, 16), (i64(0, 0, 0), i64(4)), fields, 64, 0)
        print("ways", status)
        """,
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-500:]
    assert run.stdout.split("\n")[:3] == ["gather False", "tag_texts None", f"ways {pbf_jit.PAST}"]


def test_an_import_without_a_writable_numba_cache_uses_numpy(tmp_path: Path) -> None:
    run = _in_subprocess(
        f"""
        from pathlib import Path
        from walks.store import import_extract

        import_extract(Path({str(ANDORRA)!r}), Path("cache"))
        print("imported")
        """,
        tmp_path,
        # numba's only cache place is then a folder that cannot be made (as when the package
        # and $HOME are read-only)
        WALKS_JIT="1",
        NUMBA_CACHE_DIR="/dev/null/numba",
        NUMBA_CACHE_LOCATOR_CLASSES="UserProvidedCacheLocator",
    )
    assert run.returncode == 0, run.stderr[-800:]
    assert run.stdout.strip() == "imported"


def test_a_numba_cache_that_cannot_be_saved_is_not_the_files_fault(tmp_path: Path) -> None:
    run = _in_subprocess(
        f"""
        import errno
        from pathlib import Path

        import numba.core.caching

        def full(self, path):  # numba's cache folder is on a full disk
            raise OSError(errno.ENOSPC, "No space left on device", path)

        numba.core.caching.IndexDataCacheFile._open_for_write = full
        from walks.errors import DataError
        from walks.store import import_extract

        try:
            import_extract(Path({str(ANDORRA)!r}), Path("cache"))
        except DataError as err:
            print(err)
        else:
            print("imported")
        """,
        tmp_path,
        WALKS_JIT="1",
        NUMBA_CACHE_DIR=str(tmp_path / "numba"),  # empty: every loop is compiled and saved
    )
    assert run.returncode == 0, run.stderr[-800:]
    assert run.stdout.strip() == "imported"  # today: "... is corrupt or truncated ..."


def _latin1_file(path: Path) -> Path:
    """A PBF file of one node tagged ``amenity=café`` written in Latin-1 (not UTF-8)."""
    table = b"".join(field(1, s) for s in (b"", b"amenity", b"caf\xe9"))
    dense = (
        field(1, _packed([1], signed=True))
        + field(8, _packed([485_000_000], signed=True))
        + field(9, _packed([15_000_000], signed=True))
        + field(10, _packed([1, 2, 0]))
    )
    path.write_bytes(pbf_file(field(1, table) + field(2, field(2, dense))))
    return path


@pytest.mark.parametrize("jit", ["0", "1"])
def test_a_tag_that_is_not_utf8_is_a_data_error(
    jit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WALKS_JIT", jit)
    with pytest.raises(DataError, match="UTF-8"):
        import_extract(_latin1_file(tmp_path / "latin1.osm.pbf"), tmp_path / "cache")


# --- cases that hold -----------------------------------------------------------------------


_REFUSED = {
    "a way of a key index 2**63",
    "a way of 65 fields",
    "a length of 2**40",
    "a length of 2**63",
}


@pytest.mark.parametrize(
    ("case", "block"),
    [
        (
            "refs overflowing int64",
            _way_block(
                [b""],
                [number(1, 1) + field(8, _packed([2**62, 2**62, 2**62, -(2**63)], signed=True))],
            ),
        ),
        ("an id given twice", _way_block([b""], [number(1, 5) + number(1, 9) + field(8, b"\x02")])),
        (
            "keys and values given twice",
            _way_block(
                [b"", b"a", b"b"],
                [
                    number(1, 5)
                    + field(2, b"\x01")
                    + field(3, b"\x02")
                    + field(2, b"\x02\x01")
                    + field(3, b"\x01\x02")
                ],
            ),
        ),
        (
            "an empty info, an info of another field",
            _way_block(
                [b""],
                [
                    number(1, 1) + field(4, b""),
                    number(1, 2) + field(4, number(3, 77)),
                ],
            ),
        ),
        (
            "a timestamp of 2**64 - 1",
            _way_block([b""], [number(1, 1) + field(4, number(2, 2**64 - 1))]),
        ),
        ("an empty group of ways", field(1, field(1, b"")) + field(2, b"")),
        ("ways without a string table", field(2, field(3, number(1, 3) + field(8, b"\x02")))),
        (
            "a way of a key index 2**63",
            _way_block([b"", b"a"], [number(1, 1) + field(2, varint(2**63)) + field(3, b"\x01")]),
        ),
        ("a way of 64 fields", _way_block([b""], [number(1, 1) * 64])),
        ("a way of 65 fields", _way_block([b""], [number(1, 1) * 65])),
        (
            "a length of 2**40",
            _way_block([b""], [number(1, 1) + varint(12 << 3 | 2) + varint(2**40)]),
        ),
        ("a length of 2**63", field(1, b"\x0a" + varint(2**63) + b"a")),
        (
            "a group of only relations",
            field(1, field(1, b"") + field(1, b"outer"))
            + field(
                2,
                field(
                    4, number(1, 4) + field(8, b"\x01") + field(9, zigzag(-3)) + field(10, b"\x01")
                ),
            ),
        ),
        (
            "dense nodes without tags",
            field(
                2,
                field(
                    2,
                    field(1, _packed([1, 1], signed=True))
                    + field(8, _packed([1, 1], signed=True))
                    + field(9, _packed([1, 1], signed=True)),
                ),
            ),
        ),
        (
            "dense nodes of negative and huge ids",
            field(1, field(1, b""))
            + field(
                2,
                field(
                    2,
                    field(1, _packed(_deltas([-5, 2**62, -(2**63)]), signed=True))
                    + field(8, _packed([1, 1, 1], signed=True))
                    + field(9, _packed([1, 1, 1], signed=True)),
                ),
            ),
        ),
    ],
)
def test_hostile_blocks_decode_alike(
    case: str, block: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, compiled = _both(block, monkeypatch)
    assert compiled == plain, case
    assert (plain == "refused") is (case in _REFUSED), case


def test_an_import_with_the_compiled_loops_is_reproducible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WALKS_JIT", "1")
    stores = []
    for run in ("a", "b"):
        import_extract(MUNICH, tmp_path / run)
        stores.append(_rows(store_path(MUNICH, tmp_path / run)))
    assert stores[0] == stores[1]
    assert stores[0]["ways"]
