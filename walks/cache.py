"""On-disk cache of built walking graphs: atomic writes, corruption detection, listing, clearing."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import _files
from walks.errors import CacheError
from walks.graph import BUILD_VERSION, GraphMeta, WalkGraph, haversine_m

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import NDArray

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


def graph_cache_path(cache_dir: str | Path, key: str) -> Path:
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

    Raises
    ------
    CacheError
        When ``cache_dir`` is not a path or ``key`` is not a hexadecimal key.
    """
    folder = _path_argument(cache_dir, "cache_dir")
    given: object = key
    if not isinstance(given, str) or not given or given.strip("0123456789abcdef"):
        msg = f"cache key {key!r} is not hexadecimal: make it with graph_cache_key"
        raise CacheError(msg)
    return folder / "graphs" / f"{_PREFIX}{key}{_SUFFIX}"


def ensure_writable(folder: str | Path) -> None:
    """
    Create a cache folder if needed and check that files can be written in it.

    Parameters
    ----------
    folder
        The folder.

    Raises
    ------
    CacheError
        When it cannot be created or written, naming the ``WALKS_CACHE_DIR`` fix, or
        ``folder`` is not a path.
    """
    folder = _path_argument(folder, "folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=_PROBE_PREFIX):
            pass
    except OSError as err:
        msg = (
            f"cache directory {str(folder)!r} is not writable ({err.strerror or err}): "
            "set WALKS_CACHE_DIR or --cache-dir to a writable folder"
        )
        raise CacheError(msg) from err


def save_graph(graph: WalkGraph, path: str | Path) -> None:
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
        When the file cannot be written (no partial file is left behind), ``graph`` is not a
        ``WalkGraph`` or ``path`` is not a path.
    """
    given: object = graph
    if not isinstance(given, WalkGraph):
        msg = f"save_graph needs a WalkGraph, not {type(given).__name__}: give a built graph"
        raise CacheError(msg)
    path = _path_argument(path, "path")
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
    raw: object = data["header_json"]
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 1:
        msg = "the header is not a byte array"
        raise ValueError(msg)
    header = json.loads(raw.tobytes().decode())
    if not isinstance(header, dict) or type(header.get("format")) is not int:
        msg = "the header is not a walks cache header"
        raise ValueError(msg)
    if header["format"] != CACHE_FORMAT:
        msg = "cache format differs"
        raise ValueError(msg)
    if header.get("build_version") != BUILD_VERSION:
        msg = "graph builder version differs"
        raise ValueError(msg)
    return header


def _meta_from(header: dict[str, object]) -> GraphMeta:
    """
    Rebuild a graph's provenance from a cache header, checking every field.

    Parameters
    ----------
    header
        From ``_read_header``.

    Returns
    -------
    GraphMeta
        The provenance.

    Raises
    ------
    ValueError
        When the fields differ from ``GraphMeta``'s or have the wrong types.
    """
    meta = header.get("meta")
    names = [f.name for f in dataclasses.fields(GraphMeta)]
    if not isinstance(meta, dict) or sorted(meta) != sorted(names):
        msg = "the header's meta fields differ"
        raise ValueError(msg)
    text_ok = all(isinstance(meta[name], str) for name in ("source", "area", "data_date"))
    build_s = meta["build_s"]
    number_ok = type(build_s) in {int, float} and 0 <= build_s < math.inf
    if not (text_ok and number_ok):
        msg = "the header's meta fields have the wrong types"
        raise ValueError(msg)
    return GraphMeta(
        source=meta["source"],
        area=meta["area"],
        data_date=meta["data_date"],
        build_s=float(build_s),
    )


#: The dtype each array is saved with; an entry with another dtype is not ours.
_DTYPES = {
    "node_osm_id": np.int64, "node_lat": np.float64, "node_lon": np.float64,
    "edge_u": np.int32, "edge_v": np.int32, "edge_length_m": np.float64,
    "edge_osm_id": np.int64, "edge_highway": np.int32, "edge_name": np.int32,
    "edge_surface": np.int32, "edge_lit": np.int8, "edge_direction": np.int8,
    "edge_pleasantness": np.int8, "edge_area": np.int8, "geom_offset": np.int64,
    "geom_lat": np.float64, "geom_lon": np.float64,
}  # fmt: skip


def _read_graph(path: Path) -> WalkGraph:
    """
    Read a cache file and check it thoroughly.

    Parameters
    ----------
    path
        The cache file.

    Returns
    -------
    WalkGraph
        The graph.

    Raises
    ------
    Exception
        Whatever reading a damaged or foreign file raises: ``ValueError`` for a failed check.
    """
    size = path.stat().st_size
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
        members = data.zip.infolist()
        # np.savez stores arrays uncompressed: anything else is not ours (and may be a zip bomb)
        if any(m.compress_type != zipfile.ZIP_STORED for m in members) or (
            sum(m.file_size for m in members) > size
        ):
            msg = "the archive is not laid out as walks writes it"
            raise ValueError(msg)
        header = _read_header(data)
        arrays = {name: data[name] for name in WalkGraph.ARRAY_FIELDS}
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray) or array.dtype != _DTYPES[name] or array.ndim != 1:
            msg = f"array {name} has the wrong type or shape"
            raise ValueError(msg)
    strings = header.get("strings")
    if not isinstance(strings, list) or not all(isinstance(t, str) for t in strings):
        msg = "the header's string table is not a list of strings"
        raise ValueError(msg)
    graph = WalkGraph(**arrays, strings=tuple(strings), meta=_meta_from(header))
    _check_consistent(graph)
    return graph


def _discard(path: Path, why: str) -> None:
    """
    Log that a cache entry is unusable, and remove it (a file or a directory).

    Parameters
    ----------
    path
        The entry.
    why
        What is wrong with it.
    """
    log.warning("cached graph %r is unusable (%s); rebuilding it", str(path), why)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def load_cached_graph(path: str | Path) -> WalkGraph | None:
    """
    Read a cached graph, checking it thoroughly.

    A missing entry gives None. An entry that is a directory, corrupt, truncated, of another
    layout, holding non-finite or out-of-range values, indices beyond its arrays, or lengths
    that disagree with its geometry is logged once, removed and gives None, so the caller
    rebuilds it: it never crashes a run, and it is never used.

    Parameters
    ----------
    path
        The cache file.

    Returns
    -------
    WalkGraph or None
        The graph, or None when it must be built.

    Raises
    ------
    CacheError
        When ``path`` is not a path.
    """
    path = _path_argument(path, "path")
    if not path.exists() and not path.is_symlink():
        return None
    if not path.is_file():
        _discard(path, "it is not a file")
        return None
    try:
        return _read_graph(path)
    except Exception as err:  # noqa: BLE001 - an untrusted file: whatever fails, rebuild it
        _discard(path, f"{type(err).__name__}: {err}")
        return None


def _path_argument(value: object, name: str) -> Path:
    """
    Check that an argument is a path (``str`` or ``os.PathLike``) and make it a ``Path``.

    Parameters
    ----------
    value
        The argument.
    name
        Its name, for the message.

    Returns
    -------
    Path
        The path.

    Raises
    ------
    CacheError
        When it is another type, or empty.
    """
    if isinstance(value, str | Path) and str(value) not in {"", "."} and "\x00" not in str(value):
        return Path(value)
    msg = f"{name} must be a non-empty path (str or Path), not {value!r}: give a file or folder"
    raise CacheError(msg)


def _check_consistent(graph: WalkGraph) -> None:
    """
    Check that a graph's arrays agree with each other and hold plausible values.

    Parameters
    ----------
    graph
        The graph to check (arrays already known to be 1-D, of the saved dtypes).

    Raises
    ------
    ValueError
        Naming the first check that fails.
    """
    n, m = graph.n_nodes, graph.n_edges
    node_arrays = (graph.node_osm_id, graph.node_lat, graph.node_lon)
    edge_arrays = (
        graph.edge_v, graph.edge_length_m, graph.edge_osm_id, graph.edge_highway,
        graph.edge_name, graph.edge_surface, graph.edge_lit, graph.edge_direction,
        graph.edge_pleasantness, graph.edge_area,
    )  # fmt: skip
    shapes = [
        ("no nodes or edges", n == 0 or m == 0),
        ("node arrays differ in length", any(a.shape != (n,) for a in node_arrays)),
        ("edge arrays differ in length", any(a.shape != (m,) for a in edge_arrays)),
        ("geometry offsets do not fit", graph.geom_offset.shape != (m + 1,)),
        ("geometry arrays differ", graph.geom_lat.shape != graph.geom_lon.shape),
    ]
    _fail_first(shapes)
    off = graph.geom_offset
    strings = len(graph.strings)
    names = (graph.edge_highway, graph.edge_name, graph.edge_surface)
    values = [
        ("geometry offsets do not fit", int(off[0]) != 0 or int(off[-1]) != graph.geom_lat.size),
        ("an edge has under 2 points", bool(np.any(np.diff(off) < 2))),  # noqa: PLR2004
        ("an edge end is not a node", not _within(graph.edge_u, 0, n - 1)),
        ("an edge end is not a node", not _within(graph.edge_v, 0, n - 1)),
        ("a string index is out of range", not all(_within(a, -1, strings - 1) for a in names)),
        ("a lit value is unknown", not _within(graph.edge_lit, -1, 1)),
        ("a direction is unknown", not _within(graph.edge_direction, -1, 1)),
        ("a pleasantness is unknown", not _within(graph.edge_pleasantness, 0, 3)),
        ("an area kind is unknown", not _within(graph.edge_area, 0, 2)),
        ("a node is off the globe", not _on_globe(graph.node_lat, graph.node_lon)),
        ("a geometry point is off the globe", not _on_globe(graph.geom_lat, graph.geom_lon)),
        ("a node id repeats", np.unique(graph.node_osm_id).size != n),
    ]
    _fail_first(values)
    starts, ends = off[:-1], off[1:] - 1
    ends_match = (
        np.array_equal(graph.geom_lat[starts], graph.node_lat[graph.edge_u])
        and np.array_equal(graph.geom_lon[starts], graph.node_lon[graph.edge_u])
        and np.array_equal(graph.geom_lat[ends], graph.node_lat[graph.edge_v])
        and np.array_equal(graph.geom_lon[ends], graph.node_lon[graph.edge_v])
    )
    length = graph.edge_length_m
    lengths_ok = bool(np.all((length >= 0) & (length < math.inf))) and np.allclose(
        length, _geometry_lengths(graph), rtol=1e-9, atol=1e-6
    )
    _fail_first(
        [
            ("edge ends are not at their nodes", not ends_match),
            ("edge lengths disagree with their geometry", not lengths_ok),
        ]
    )


def _fail_first(checks: list[tuple[str, bool]]) -> None:
    """
    Raise for the first failed check.

    Parameters
    ----------
    checks
        ``(what is wrong, whether it is)`` pairs, in order.

    Raises
    ------
    ValueError
        With the first wrong thing.
    """
    for what, wrong in checks:
        if wrong:
            raise ValueError(what)


def _within(values: NDArray[np.integer[Any]], low: int, high: int) -> bool:
    """
    Say whether all integers lie in ``[low, high]``.

    Parameters
    ----------
    values
        The integers.
    low, high
        The bounds, inclusive.

    Returns
    -------
    bool
        True when all do (also when there are none).
    """
    return values.size == 0 or (int(values.min()) >= low and int(values.max()) <= high)


def _on_globe(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> bool:
    """
    Say whether all coordinates are finite and on the globe.

    Parameters
    ----------
    lat, lon
        Degrees.

    Returns
    -------
    bool
        True when every latitude is in [-90, 90] and every longitude in [-180, 180].
    """
    return bool(np.all((np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)))  # noqa: PLR2004


def _geometry_lengths(graph: WalkGraph) -> NDArray[np.float64]:
    """
    Measure each edge along its geometry, as the graph builder does.

    Parameters
    ----------
    graph
        A graph whose offsets are known to fit its geometry.

    Returns
    -------
    ndarray
        One length in metres per edge.
    """
    lat, lon, off = graph.geom_lat, graph.geom_lon, graph.geom_offset
    step = np.zeros(lat.shape[0])
    step[1:] = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    step[off[:-1]] = 0.0
    cum = np.cumsum(step)
    result: NDArray[np.float64] = cum[off[1:] - 1] - cum[off[:-1]]
    return result


def _is_temporary(path: Path) -> bool:
    """
    Say whether a file is a temporary one: a staged write or a writability probe.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    bool
        True for ``.walks-tmp-*`` and ``.probe-*`` names.
    """
    return path.name.startswith((_files.TMP_PREFIX, _PROBE_PREFIX))


def _mtime(path: Path) -> float:
    """
    Read a file's modification time, or 0 when it vanished or cannot be read.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    float
        Seconds since the epoch.
    """
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def iter_cache(cache_dir: str | Path) -> Iterator[CacheEntry]:
    """
    List the cached graphs.

    Temporary files (``.walks-tmp-*``) are not listed; an entry that is a directory or cannot
    be read is listed with ``meta`` None.

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Yields
    ------
    CacheEntry
        One per cache entry, newest first; ``meta`` is None for an unreadable entry.

    Raises
    ------
    CacheError
        When ``cache_dir`` is not a path, or its ``graphs`` folder cannot be listed.
    """
    folder = _path_argument(cache_dir, "cache_dir") / "graphs"
    if not folder.is_dir():
        return
    try:
        found = [p for p in folder.glob(f"{_PREFIX}*{_SUFFIX}") if not _is_temporary(p)]
    except OSError as err:
        msg = f"cannot list {str(folder)!r} ({err.strerror or err}): check its permissions"
        raise CacheError(msg) from err
    for path in sorted(found, key=lambda p: (-_mtime(p), p.name)):
        meta: GraphMeta | None = None
        size = 0
        try:
            size = path.stat().st_size
            if path.is_file():
                with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
                    meta = _meta_from(_read_header(data))
        except Exception:  # noqa: BLE001 - an untrusted file: listed as unreadable
            meta = None
        yield CacheEntry(path=path, size_bytes=size, meta=meta)


#: Prefix of the probe files ``ensure_writable`` creates (and removes at once).
_PROBE_PREFIX = ".probe-"
#: A temporary file older than this, in seconds, is left over from a run that died.
STALE_TMP_S = 300.0


def clear_cache(cache_dir: str | Path, *, http: bool = True) -> int:
    """
    Delete cached graphs and height grids and, optionally, the region stores and HTTP replies.

    Graph entries are removed whatever they are (files, or directories in their place);
    in the reply folders, files are removed. Temporary files left by a run that died (older
    than ``STALE_TMP_S``) go too; younger ones belong to a run writing now and are kept.

    Parameters
    ----------
    cache_dir
        The walks cache directory.
    http
        Also delete the region stores (``walks import``), osmnx's and walks' HTTP replies, the
        geocoder's cache and the note of an unreachable terrain server.

    Returns
    -------
    int
        How many entries were deleted (stale temporary files included).

    Raises
    ------
    CacheError
        When ``cache_dir`` is not a path, or a folder cannot be listed or an entry deleted.
    """
    root = _path_argument(cache_dir, "cache_dir")
    folders = list(_OWN_NAMES) if http else ["graphs", "heights"]
    now = time.time()
    removed = 0
    for name in folders:
        folder = root / name
        if not folder.is_dir():
            continue
        try:
            paths = sorted(folder.iterdir())
        except OSError as err:
            msg = f"cannot list {str(folder)!r} ({err.strerror or err}): check its permissions"
            raise CacheError(msg) from err
        for path in paths:
            if _is_temporary(path):
                if now - _mtime(path) < STALE_TMP_S:
                    continue
            elif name == "graphs" and path.is_dir() and not path.is_symlink():
                if path.name.startswith(_PREFIX):
                    _remove_tree(path)
                    removed += 1
                continue
            elif path.is_dir() or not _ours(name, path.name):
                continue  # a file walks did not write: never deleted, whatever folder it is in
            _remove_file(path)
            removed += 1
    return removed


#: Names of the files walks writes in each cache folder (graphs, osmnx's replies, geocoder
#: replies and the notes kept beside them).
_OWN_NAMES = {
    "graphs": re.compile(r"graph-[0-9a-f]+\.npz"),
    "heights": re.compile(r"grid-[0-9a-f]{32}\.npz"),
    "stores": re.compile(r"[0-9a-f]{32}(\.grids)?\.sqlite(-journal)?"),
    "http": re.compile(r"[0-9a-f]{16,64}\.json|walks-checked\.tsv"),
    "http/walks-areas": re.compile(r"[0-9a-f]{40}\.json"),
    "http/walks-notes": re.compile(r"[0-9a-f]{40}\.json"),
    "geocode": re.compile(r"[0-9a-f]{16,64}\.json"),
    "terrain": re.compile(r"unreachable\.json"),
}


def _ours(folder: str, name: str) -> bool:
    """
    Say whether a file name in a cache folder is one walks writes.

    Parameters
    ----------
    folder
        ``graphs``, ``heights``, ``stores``, ``http`` (and its ``walks-areas`` and
        ``walks-notes``), ``geocode`` or ``terrain`` (the note of an unreachable tile server).
    name
        The file's name.

    Returns
    -------
    bool
        True for walks' own names; a user's file is never cleared.
    """
    pattern = _OWN_NAMES.get(folder)
    return pattern is not None and pattern.fullmatch(name) is not None


def _remove_file(path: Path) -> None:
    """
    Delete one file (or symlink).

    Parameters
    ----------
    path
        The file.

    Raises
    ------
    CacheError
        When it cannot be deleted.
    """
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        msg = f"cannot delete {str(path)!r} ({err.strerror or err}): check its permissions"
        raise CacheError(msg) from err


def _remove_tree(path: Path) -> None:
    """
    Delete a directory that stands where a cache entry should be.

    Parameters
    ----------
    path
        The directory.

    Raises
    ------
    CacheError
        When it cannot be deleted.
    """
    try:
        shutil.rmtree(path)
    except OSError as err:
        msg = f"cannot delete {str(path)!r} ({err.strerror or err}): check its permissions"
        raise CacheError(msg) from err
