"""On-disk cache of built walking graphs: atomic writes, corruption detection, listing, clearing."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import tempfile
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from walks import _files
from walks.errors import CacheError
from walks.graph import BUILD_VERSION, GraphMeta, WalkGraph

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

log = logging.getLogger(__name__)

#: Version of the cache file layout; entries of another version are ignored and rebuilt.
CACHE_FORMAT = 1
_PREFIX = "graph-"
_SUFFIX = ".npz"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached graph, as ``walks cache`` lists it.

    Attributes
    ----------
    path
        The cache file.
    size_bytes
        Its size.
    meta
        The graph's provenance, or None when the entry cannot be read.
    """

    path: Path
    size_bytes: int
    meta: GraphMeta | None


def graph_cache_key(*parts: object) -> str:
    """
    Make a cache key from the parts that decide a graph: source, area, data version.

    Parameters
    ----------
    *parts
        JSON-serialisable values; the builder and cache versions are added.

    Returns
    -------
    str
        A 24-character hexadecimal key.
    """
    text = json.dumps([CACHE_FORMAT, BUILD_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def graph_cache_path(cache_dir: Path, key: str) -> Path:
    """
    Return where the graph with this key is cached.

    Parameters
    ----------
    cache_dir
        The walks cache directory.
    key
        From ``graph_cache_key``.

    Returns
    -------
    Path
        ``cache_dir/graphs/graph-<key>.npz``.
    """
    return cache_dir / "graphs" / f"{_PREFIX}{key}{_SUFFIX}"


def ensure_writable(folder: Path) -> None:
    """
    Create a cache folder if needed and check that files can be written in it.

    Parameters
    ----------
    folder
        The folder.

    Raises
    ------
    CacheError
        When it cannot be created or written, naming the ``WALKS_CACHE_DIR`` fix.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as err:
        msg = (
            f"cache directory {str(folder)!r} is not writable ({err.strerror or err}): "
            "set WALKS_CACHE_DIR or --cache-dir to a writable folder"
        )
        raise CacheError(msg) from err


def save_graph(graph: WalkGraph, path: Path) -> None:
    """
    Write a graph to a cache file atomically: a temporary file, then a rename.

    Parameters
    ----------
    graph
        The graph.
    path
        The cache file to create or replace.

    Raises
    ------
    CacheError
        When the file cannot be written; no partial file is left behind.
    """
    ensure_writable(path.parent)
    arrays = {name: getattr(graph, name) for name in WalkGraph.ARRAY_FIELDS}
    header = {
        "format": CACHE_FORMAT,
        "build_version": BUILD_VERSION,
        "meta": dataclasses.asdict(graph.meta),
        "strings": list(graph.strings),
    }
    arrays["header_json"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    try:
        tmp = _files.stage_file(path, lambda fh: np.savez(fh, allow_pickle=False, **arrays))
        tmp.replace(path)
    except OSError as err:
        msg = f"cannot write cache file {str(path)!r} ({err.strerror or err}): free some disk space"
        raise CacheError(msg) from err


def _read_header(data: np.lib.npyio.NpzFile) -> dict[str, object]:
    """
    Decode the JSON header of a cache file.

    Parameters
    ----------
    data
        The opened ``.npz`` file.

    Returns
    -------
    dict
        The header.

    Raises
    ------
    ValueError
        When the header is missing, malformed or of another version.
    """
    header = json.loads(bytes(data["header_json"]).decode())
    if not isinstance(header, dict) or header.get("format") != CACHE_FORMAT:
        msg = "cache format differs"
        raise ValueError(msg)
    if header.get("build_version") != BUILD_VERSION:
        msg = "graph builder version differs"
        raise ValueError(msg)
    return header


def load_cached_graph(path: Path) -> WalkGraph | None:
    """
    Read a cached graph, checking it thoroughly.

    A missing entry gives None. A corrupt, truncated, inconsistent or outdated entry is logged,
    deleted and gives None, so the caller rebuilds it: it never crashes a run.

    Parameters
    ----------
    path
        The cache file.

    Returns
    -------
    WalkGraph or None
        The graph, or None when it must be built.
    """
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            header = _read_header(data)
            arrays = {name: data[name] for name in WalkGraph.ARRAY_FIELDS}
        meta = header["meta"]
        strings = header["strings"]
        if not isinstance(meta, dict) or not isinstance(strings, list):
            msg = "header fields have the wrong types"
            raise ValueError(msg)  # noqa: TRY004, TRY301
        graph = WalkGraph(**arrays, strings=tuple(map(str, strings)), meta=GraphMeta(**meta))
        _check_consistent(graph)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        log.warning("cached graph %s is unusable (%s); rebuilding it", path, err)
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return graph


def _check_consistent(graph: WalkGraph) -> None:
    """
    Check that a graph's arrays agree with each other.

    Parameters
    ----------
    graph
        The graph to check.

    Raises
    ------
    ValueError
        When shapes or indices are inconsistent.
    """
    n, m = graph.n_nodes, graph.n_edges
    node_arrays = (graph.node_osm_id, graph.node_lat, graph.node_lon)
    edge_arrays = (
        graph.edge_v, graph.edge_length_m, graph.edge_osm_id, graph.edge_highway,
        graph.edge_name, graph.edge_surface, graph.edge_lit, graph.edge_direction,
        graph.edge_pleasantness,
    )  # fmt: skip
    problems = [
        n == 0 or m == 0,
        any(a.shape != (n,) for a in node_arrays),
        any(a.shape != (m,) for a in edge_arrays),
        graph.geom_offset.shape != (m + 1,),
        graph.geom_lat.shape != graph.geom_lon.shape,
        int(graph.geom_offset[-1]) != graph.geom_lat.shape[0],
        bool(np.any(np.diff(graph.geom_offset) < 2)),  # noqa: PLR2004
        int(max(graph.edge_u.max(), graph.edge_v.max())) >= n,
        int(min(graph.edge_u.min(), graph.edge_v.min())) < 0,
        int(graph.edge_name.max(initial=-1)) >= len(graph.strings),
        not bool(np.all(np.isfinite(graph.edge_length_m))),
    ]
    if any(problems):
        msg = "arrays are inconsistent"
        raise ValueError(msg)


def iter_cache(cache_dir: Path) -> Iterator[CacheEntry]:
    """
    List the cached graphs.

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Yields
    ------
    CacheEntry
        One per cache file, newest first; ``meta`` is None for an unreadable entry.
    """
    folder = cache_dir / "graphs"
    if not folder.is_dir():
        return
    files = sorted(
        folder.glob(f"{_PREFIX}*{_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for path in files:
        meta: GraphMeta | None = None
        try:
            with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
                header_meta = _read_header(data)["meta"]
            if isinstance(header_meta, dict):
                meta = GraphMeta(**header_meta)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            meta = None
        yield CacheEntry(path=path, size_bytes=path.stat().st_size, meta=meta)


def clear_cache(cache_dir: Path, *, http: bool = True) -> int:
    """
    Delete cached graphs and, optionally, the cached HTTP replies.

    Parameters
    ----------
    cache_dir
        The walks cache directory.
    http
        Also delete osmnx's HTTP replies and the geocoder's cache.

    Returns
    -------
    int
        How many files were deleted.

    Raises
    ------
    CacheError
        When a file cannot be deleted.
    """
    folders = ["graphs", "http", "geocode"] if http else ["graphs"]
    removed = 0
    for name in folders:
        folder = cache_dir / name
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file():
                try:
                    path.unlink()
                except OSError as err:
                    msg = f"cannot delete {str(path)!r} ({err.strerror}): check its permissions"
                    raise CacheError(msg) from err
                removed += 1
    return removed
