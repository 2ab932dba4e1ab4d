"""A base map for the page, from the OSM data already loaded: streets by class, buildings, labels.

With no network there are no tiles, so the map page draws its own background from this data:
every street of the walking graph (styled by its ``highway`` class), the building footprints
read for the views, and street names placed along their longest pieces. Coordinates are stored
compactly: integers of 1e-5 degree (about a metre), delta-encoded along each line, so that a
neighbourhood fits in a few hundred kilobytes of JSON.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from walks.graph import bearing_deg, local_xy

if TYPE_CHECKING:
    from walks.data import Building, Landcover
    from walks.graph import WalkGraph
    from walks.types import BBox

#: Coordinates are integers of this many degrees.
SCALE_DEG = 1e-5
#: Street classes drawn, widest first; a highway value not listed is drawn as ``minor``.
CLASSES: dict[str, tuple[str, ...]] = {
    "major": ("trunk", "trunk_link", "primary", "primary_link", "secondary",
              "secondary_link", "tertiary", "tertiary_link"),
    "minor": ("residential", "unclassified", "living_street", "road", "service"),
    "pedestrian": ("pedestrian",),
    "path": ("footway", "path", "cycleway", "bridleway", "corridor", "track"),
    "steps": ("steps",),
}  # fmt: skip
#: How far beyond the walk the base map reaches, in metres.
MARGIN_M = 400.0
#: Building outlines are simplified to this tolerance, in metres.
BUILDING_TOLERANCE_M = 1.0
#: At most this many street-name labels.
MAX_LABELS = 600
#: Labels of one street are at least this far apart, in metres.
LABEL_SPACING_M = 180.0
#: A street piece shorter than this gets no label.
MIN_LABEL_EDGE_M = 40.0


def _flatten(outlines: list[tuple[tuple[float, float], ...]]) -> tuple[np.ndarray, np.ndarray]:
    """
    Put longitude/latitude outlines into one array.

    Parameters
    ----------
    outlines
        The outlines.

    Returns
    -------
    tuple of ndarray
        ``(coords, counts)``: ``(n, 2)`` rows of all outlines one after the other, and the
        number of rows of each.
    """
    counts = np.fromiter((len(o) for o in outlines), np.int64, len(outlines))
    total = int(counts.sum())
    flat = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(outlines)),
                       np.float64, 2 * total)  # fmt: skip
    return flat.reshape(total, 2), counts


def _class_of(highway: str | None) -> int:
    """
    Give a highway value's index in ``CLASSES``.

    Parameters
    ----------
    highway
        The ``highway`` tag, or None.

    Returns
    -------
    int
        The class index (``minor`` for unknown values).
    """
    for index, values in enumerate(CLASSES.values()):
        if highway in values:
            return index
    return list(CLASSES).index("minor")


def basemap_data(
    graph: WalkGraph,
    buildings: tuple[Building, ...],
    box: BBox,
    landcover: tuple[Landcover, ...] = (),
) -> dict[str, Any]:
    """
    Gather the base map of the region around a walk.

    Parameters
    ----------
    graph
        The walking graph (its streets are drawn).
    buildings
        Building footprints (outer rings, longitude/latitude).
    box
        The walk's box; the base map reaches ``MARGIN_M`` beyond it.
    landcover
        Water, woods, parks, pedestrian areas and railways (``data.read_features``).

    Returns
    -------
    dict
        ``origin`` (lat, lon), ``scale`` (degrees per unit), ``classes`` (names),
        ``streets`` (``[class, *encoded]`` per street piece), ``buildings`` (encoded rings),
        ``cover`` (``[kind, *encoded]`` per shape, kinds in ``cover_kinds``), ``labels``
        (``[lat, lon, angle, name]``). JSON-serialisable.
    """
    lat0 = (box.south + box.north) / 2
    pad_lat = MARGIN_M / 111_195.0
    pad_lon = pad_lat / max(math.cos(math.radians(lat0)), 0.01)
    south, north = box.south - pad_lat, box.north + pad_lat
    west, east = box.west - pad_lon, box.east + pad_lon
    origin = (round(south, 5), round(west, 5))

    offsets = graph.geom_offset
    starts = offsets[:-1]
    ends = offsets[1:]
    glat, glon = graph.geom_lat, graph.geom_lon
    # an edge is drawn when any of its points is inside the padded box
    # (links across squares are not streets: the square is drawn as land cover)
    inside = (glat >= south) & (glat <= north) & (glon >= west) & (glon <= east)
    hits = (np.add.reduceat(inside.astype(np.int64), starts) > 0) & (graph.edge_area == 0)
    classes = np.array([*(_class_of(s) for s in graph.strings), _class_of(None)], dtype=np.int64)
    edge_class = classes[graph.edge_highway]  # -1 (no highway) picks the last entry
    # every geometry point at once: 1e-5 degree integers, delta-encoded within each edge
    y = np.rint((glat - origin[0]) / SCALE_DEG).astype(np.int64)
    x = np.rint((glon - origin[1]) / SCALE_DEG).astype(np.int64)
    dy, dx = np.diff(y, prepend=0), np.diff(x, prepend=0)
    dy[starts], dx[starts] = y[starts], x[starts]
    flat = np.empty(2 * len(y), dtype=np.int64)
    flat[0::2], flat[1::2] = dy, dx
    values, kinds = flat.tolist(), edge_class.tolist()
    streets = [
        [kinds[e], *values[2 * starts[e] : 2 * ends[e]]] for e in np.flatnonzero(hits).tolist()
    ]
    return {
        "origin": list(origin),
        "scale": SCALE_DEG,
        "classes": list(CLASSES),
        "streets": streets,
        "buildings": _buildings(buildings, (west, south, east, north), origin),
        "cover_kinds": list(COVER_KINDS),
        "cover": _cover(landcover, (west, south, east, north), origin),
        "labels": _labels(graph, np.flatnonzero(hits)),
    }


def _buildings(
    buildings: tuple[Building, ...],
    bounds: tuple[float, float, float, float],
    origin: tuple[float, float],
) -> list[list[int]]:
    """
    Encode the building footprints inside the bounds, simplified.

    Parameters
    ----------
    buildings
        The footprints.
    bounds
        ``(west, south, east, north)``.
    origin
        The encoding's origin.

    Returns
    -------
    list of list of int
        One encoded ring per building (at least three points).
    """
    import shapely  # noqa: PLC0415

    if not buildings:
        return []
    west, south, east, north = bounds
    tolerance = BUILDING_TOLERANCE_M / 111_195.0
    coords, counts = _flatten([b.outline for b in buildings])
    starts = np.cumsum(counts) - counts
    has_points = counts > 0
    firsts = coords[np.minimum(starts, max(len(coords) - 1, 0))]
    near = has_points & (firsts[:, 0] >= west) & (firsts[:, 0] <= east)
    near &= (firsts[:, 1] >= south) & (firsts[:, 1] <= north)
    chosen = np.flatnonzero(near)
    if not chosen.size:
        return []
    index = np.repeat(np.arange(chosen.size), counts[chosen])
    flat = coords[np.repeat(starts[chosen] - (np.cumsum(counts[chosen]) - counts[chosen]),
                            counts[chosen]) + np.arange(int(counts[chosen].sum()))]  # fmt: skip
    polygons = shapely.polygons(shapely.linearrings(flat, indices=index))
    simple = shapely.simplify(polygons, tolerance, preserve_topology=False)
    simple = simple[(shapely.get_type_id(simple) == 3) & ~shapely.is_empty(simple)]  # noqa: PLR2004 - Polygon
    points, ring = shapely.get_coordinates(shapely.get_exterior_ring(simple), return_index=True)
    sizes = np.bincount(ring, minlength=simple.size) - 1  # the closing point is left out
    last = np.cumsum(sizes + 1) - 1
    body = np.ones(len(points), dtype=bool)
    body[last[sizes >= 0]] = False
    keep_ring = sizes >= 3  # noqa: PLR2004
    body &= keep_ring[ring]
    return _encode_many(points[body, 1], points[body, 0], ring[body], origin)


def _encode_many(
    lat: np.ndarray, lon: np.ndarray, line: np.ndarray, origin: tuple[float, float]
) -> list[list[int]]:
    """
    Encode lines as ``[y0, x0, dy1, dx1, ...]`` in 1e-5 degree steps from ``origin``, all at once.

    Consecutive points that round to the same step are dropped.

    Parameters
    ----------
    lat, lon
        The coordinates of all lines, line after line.
    line
        Which line each point belongs to (non-decreasing).
    origin
        ``(lat, lon)`` subtracted first.

    Returns
    -------
    list of list of int
        One flat delta-encoded list per line that has points, in order.
    """
    if not len(lat):
        return []
    y = np.rint((lat - origin[0]) / SCALE_DEG).astype(np.int64)
    x = np.rint((lon - origin[1]) / SCALE_DEG).astype(np.int64)
    first = np.ones(len(y), dtype=bool)
    first[1:] = line[1:] != line[:-1]
    keep = first.copy()
    keep[1:] |= (np.diff(y) != 0) | (np.diff(x) != 0)
    y, x, first = y[keep], x[keep], first[keep]
    dy, dx = np.diff(y, prepend=0), np.diff(x, prepend=0)
    dy[first], dx[first] = y[first], x[first]
    flat = np.empty(2 * len(y), dtype=np.int64)
    flat[0::2], flat[1::2] = dy, dx
    values = flat.tolist()
    bounds = [*(2 * np.flatnonzero(first)).tolist(), len(values)]
    return [values[a:b] for a, b in itertools.pairwise(bounds)]


#: Land cover kinds, in drawing order (rails on top).
COVER_KINDS = ("wood", "park", "water", "pedestrian", "rail")


def _cover(
    landcover: tuple[Landcover, ...],
    bounds: tuple[float, float, float, float],
    origin: tuple[float, float],
) -> list[list[int]]:
    """
    Encode the land cover shapes that reach into the bounds, in drawing order.

    Parameters
    ----------
    landcover
        The shapes.
    bounds
        ``(west, south, east, north)``.
    origin
        The encoding's origin.

    Returns
    -------
    list of list of int
        ``[kind index, *encoded points]`` per shape.
    """
    west, south, east, north = bounds
    shapes = sorted(landcover, key=lambda c: COVER_KINDS.index(c.kind))
    shapes = [c for c in shapes if c.outline]
    if not shapes:
        return []
    coords, counts = _flatten([c.outline for c in shapes])
    starts = np.cumsum(counts) - counts
    lon, lat = coords[:, 0], coords[:, 1]
    high_lon, low_lon = np.maximum.reduceat(lon, starts), np.minimum.reduceat(lon, starts)
    high_lat, low_lat = np.maximum.reduceat(lat, starts), np.minimum.reduceat(lat, starts)
    reach = (high_lon >= west) & (low_lon <= east) & (high_lat >= south) & (low_lat <= north)
    line = np.repeat(np.arange(len(shapes)), counts)
    take = reach[line]
    encoded = _encode_many(lat[take], lon[take], line[take], origin)
    kinds = [COVER_KINDS.index(shapes[i].kind) for i in np.flatnonzero(reach)]
    return [[kind, *points] for kind, points in zip(kinds, encoded, strict=True)]


def _labels(graph: WalkGraph, edges: np.ndarray) -> list[list[Any]]:
    """
    Place street-name labels on the longest named pieces, spaced along each street.

    Parameters
    ----------
    graph
        The walking graph.
    edges
        The edges drawn.

    Returns
    -------
    list of list
        ``[lat, lon, angle in degrees (text reads left to right), name]``.
    """
    named = edges[graph.edge_name[edges] >= 0]
    named = named[graph.edge_length_m[named] >= MIN_LABEL_EDGE_M]
    order = named[np.argsort(-graph.edge_length_m[named], kind="stable")]
    placed: dict[int, list[tuple[float, float]]] = {}
    labels: list[list[Any]] = []
    lat0 = float(np.mean(graph.node_lat)) if graph.n_nodes else 0.0
    # every candidate's middle point at once: the middle vertex, or the mean of two
    lo, hi = graph.geom_offset[order], graph.geom_offset[order + 1]
    size = hi - lo
    glat, glon = graph.geom_lat, graph.geom_lon
    two = size <= 2  # noqa: PLR2004
    mid = lo + size // 2
    end = np.maximum(hi - 1, lo)
    mid_lat = np.where(two, (glat[lo] + glat[end]) / 2, glat[np.minimum(mid, end)])
    mid_lon = np.where(two, (glon[lo] + glon[end]) / 2, glon[np.minimum(mid, end)])
    xs, ys = local_xy(mid_lat, mid_lon, lat0=lat0)
    for i, edge in enumerate(order.tolist()):
        x, y = float(xs[i]), float(ys[i])
        name = int(graph.edge_name[edge])
        others = placed.setdefault(name, [])
        if any(math.hypot(x - ox, y - oy) < LABEL_SPACING_M for ox, oy in others):
            continue
        others.append((x, y))
        first, last = int(lo[i]), int(end[i])
        angle = bearing_deg(float(glat[first]), float(glon[first]), float(glat[last]),
                            float(glon[last])) - 90.0  # fmt: skip
        angle = (angle + 90.0) % 180.0 - 90.0  # keep the text upright
        labels.append([round(float(mid_lat[i]), 6), round(float(mid_lon[i]), 6), round(angle),
                       graph.strings[name]])  # fmt: skip
        if len(labels) >= MAX_LABELS:
            break
    return labels
