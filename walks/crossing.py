"""Cross walkable areas (squares, pedestrian zones) on straight links instead of their outline.

A walkable area (``highway=pedestrian`` + ``area=yes`` way, or a pedestrian multipolygon) is
met by other ways at its *entry points*: nodes of its outline that another walkable way uses, and
dead ends of ways inside it. Walkers cross such an area straight from one entry point to another, as
routing engines do on their walking profiles; following its outline, as a line way, sends them
round the square. So the graph builder links the entry points by straight lines that stay inside
the area (its holes left out), and keeps an outline arc only where the links give no way about as
short between its ends (round a corner of an L-shaped area).

Few links suffice: with few entry points every two that see each other are linked; with many,
entry points close together are tied to a *hub*, and the hubs are joined by a greedy spanner, so
that any two entry points are joined at most ``LINK_STRETCH`` times their straight distance (plus
the ties to their hubs). The geometric tests run on all areas at once, in numpy (an area with
many edges goes to GEOS's indexed test instead).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from walks.graph import local_xy

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from walks.data import OsmWays

#: A link is left out when the links already chosen join its ends at most this much longer.
LINK_STRETCH = 1.05
#: Entry points closer than this (metres) to a hub are tied to it rather than linked to all.
HUB_SPACING_M = 10.0
#: Areas met at this many points or fewer link every two that see each other.
_ALL_PAIRS = 8
#: At most this many hubs per area (their spacing grows until they are so few).
_MAX_HUBS = 12
#: How many of its nearest hubs an entry point tries to see.
_HUB_TRIES = 4
#: Areas met at more points than this keep their outline only (links grow as their square).
_MAX_ENTRIES = 400
#: An outline arc goes when the links join its ends at most ``LINK_STRETCH`` times its length
#: plus this many metres (two ties to hubs).
_ARC_SLACK_M = 2 * HUB_SPACING_M
#: Square metres: a point this close to a line (in the cross product) is on it.
_ON_LINE = 1e-6
#: Areas with more edges than this are tested with GEOS (whose index pays off).
_GEOS_EDGES = 100
#: Metres: a point this close to an outline edge is on the outline.
_ON_OUTLINE_M = 1e-3

_Arrays = tuple["NDArray[np.int64]", "NDArray[np.float64]", "NDArray[np.float64]"]


@dataclass
class Crossings:
    """Straight links across walkable areas, and what replaces the outlines of area ways.

    Attributes
    ----------
    tags
        Tags of each area crossed (the way's or the relation's).
    osm_ids
        OSM id of each area crossed.
    kinds
        1 for an ``area=yes`` way, 2 for a multipolygon relation.
    links
        ``(area, ref_a, lat_a, lon_a, ref_b, lat_b, lon_b)`` per link; ``area`` indexes the
        lists above.
    replaced
        Indices of the area ways whose outline is given by ``outlines`` instead.
    outlines
        ``(way index, refs, lats, lons)`` of the outline arcs kept.
    split_refs
        Nodes where ways must be split, as links end there.
    """

    tags: list[dict[str, str]] = field(default_factory=list)
    osm_ids: list[int] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    links: list[tuple[int, int, float, float, int, float, float]] = field(default_factory=list)
    replaced: set[int] = field(default_factory=set)
    outlines: list[tuple[int, list[int], list[float], list[float]]] = field(default_factory=list)
    split_refs: set[int] = field(default_factory=set)


@dataclass
class _Area:
    """One walkable area being crossed.

    Attributes
    ----------
    way_index
        Index of its ``area=yes`` way, or None for a multipolygon relation.
    tags, osm_id
        The area's tags and OSM id.
    rings
        Outer rings first, then holes, as ``(refs, lats, lons)`` (closed).
    outer
        How many of the rings are outer rings.
    own
        Indices of the walkable ways that form its outline.
    entries
        Entry points found so far: node id to ``(lat, lon, x, y)``.
    """

    way_index: int | None
    tags: dict[str, str]
    osm_id: int
    rings: list[_Arrays]
    outer: int
    own: tuple[int, ...]
    entries: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)


def _areas(osm: OsmWays) -> list[_Area]:
    """
    List the walkable areas of some ways: ``area=yes`` rings and multipolygon relations.

    Parameters
    ----------
    osm
        The ways and areas.

    Returns
    -------
    list of _Area
        The areas whose outline is complete in the data.
    """
    from walks.data import AREA_HIGHWAYS  # noqa: PLC0415

    found: list[_Area] = []
    for index, way in enumerate(osm.ways):
        tags = way.tags
        if tags.get("area") != "yes" or tags.get("highway") not in AREA_HIGHWAYS:
            continue
        if len(way.refs) < 4 or way.refs[0] != way.refs[-1]:  # noqa: PLR2004 - a triangle
            continue
        lats = np.asarray(way.lats, dtype=float)
        if np.isnan(lats).any():
            continue  # clipped by the extract: its shape is unknown
        ring = (np.asarray(way.refs, dtype=np.int64), lats, np.asarray(way.lons, dtype=float))
        found.append(_Area(index, tags, way.osm_id, [ring], 1, (index,)))
    if not osm.areas:
        return found
    index_of = {way.osm_id: i for i, way in enumerate(osm.ways)}
    for area in osm.areas:
        rings: list[_Arrays] = []
        for ring_points in (*area.outer, *area.inner):
            ring_refs, ring_lats, ring_lons = zip(*ring_points, strict=True)
            rings.append(
                (
                    np.asarray(ring_refs, dtype=np.int64),
                    np.asarray(ring_lats, dtype=float),
                    np.asarray(ring_lons, dtype=float),
                )
            )
        own = tuple(index_of[m] for m in area.members if m in index_of)
        found.append(_Area(None, area.tags, area.osm_id, rings, len(area.outer), own))
    return found


@dataclass(frozen=True)
class _Edges:
    """The outline and hole edges of all areas, concatenated.

    Attributes
    ----------
    x0, y0, x1, y1
        Edge ends, in metres.
    offset, count
        Area ``a``'s edges are ``offset[a] : offset[a] + count[a]``.
    first_ring, rings
        Area ``a``'s rings are ``first_ring[a] : first_ring[a] + rings[a]``.
    ring_start
        Where each ring's edges start among its area's edges.
    ring_inner
        True for holes.
    """

    x0: NDArray[np.float64]
    y0: NDArray[np.float64]
    x1: NDArray[np.float64]
    y1: NDArray[np.float64]
    offset: NDArray[np.int64]
    count: NDArray[np.int64]
    first_ring: NDArray[np.int64]
    rings: NDArray[np.int64]
    ring_start: NDArray[np.int64]
    ring_inner: NDArray[np.bool_]

    def expand(
        self, area: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """
        Pair each item with every edge of its area.

        Parameters
        ----------
        area
            The area of each item.

        Returns
        -------
        tuple
            ``(item, edge, starts)``: item and edge index of each pair, and where each item's
            pairs start.
        """
        reps = self.count[area]
        starts = np.cumsum(reps) - reps
        item = np.repeat(np.arange(area.shape[0]), reps)
        edge = np.repeat(self.offset[area] - starts, reps) + np.arange(int(reps.sum()))
        return item, edge, starts


def _inside(
    px: NDArray[np.float64], py: NDArray[np.float64], area: NDArray[np.int64], edges: _Edges
) -> NDArray[np.bool_]:
    """
    Say which points lie in their area or on its outline (even-odd rule; holes are out).

    Parameters
    ----------
    px, py
        The points, in metres.
    area
        The area of each point.
    edges
        All areas' edges.

    Returns
    -------
    ndarray
        True for each point in its area.
    """
    if area.size == 0:
        return np.zeros(0, dtype=bool)
    item, edge, starts = edges.expand(area)
    x, y = px[item], py[item]
    x0, y0, x1, y1 = edges.x0[edge], edges.y0[edge], edges.x1[edge], edges.y1[edge]
    dx, dy = x1 - x0, y1 - y0
    # a ray to the east crosses the edge: it straddles y, and y meets it east of x
    east = (x - x0) * dy < (y - y0) * dx
    ray = ((y0 > y) != (y1 > y)) & (east == (dy > 0))
    # in an outer ring (odd crossings) and in no hole
    per_ring = edges.rings[area]
    ring_first = np.cumsum(per_ring) - per_ring
    ring_item = np.repeat(np.arange(area.shape[0]), per_ring)
    ring = np.repeat(edges.first_ring[area] - ring_first, per_ring) + np.arange(per_ring.sum())
    odd = np.add.reduceat(ray.astype(np.int64), starts[ring_item] + edges.ring_start[ring]) % 2
    in_ring = odd == 1
    inner = edges.ring_inner[ring]
    in_outer = np.logical_or.reduceat(in_ring & ~inner, ring_first)
    in_hole = np.logical_or.reduceat(in_ring & inner, ring_first)
    result: NDArray[np.bool_] = in_outer & ~in_hole
    out = np.flatnonzero(~result)
    if out.size:  # on the outline counts as in
        keep = np.isin(item, out)
        x, y, x0, y0, dx, dy = x[keep], y[keep], x0[keep], y0[keep], dx[keep], dy[keep]
        span = dx * dx + dy * dy
        safe = np.where(span > 0, span, 1.0)
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / safe, 0.0, 1.0)
        near = np.hypot(x0 + t * dx - x, y0 + t * dy - y) <= _ON_OUTLINE_M
        counts = edges.count[area[out]]
        result[out] = np.logical_or.reduceat(near, np.cumsum(counts) - counts)
    return result


def _sees(
    ax: NDArray[np.float64],
    ay: NDArray[np.float64],
    bx: NDArray[np.float64],
    by: NDArray[np.float64],
    area: NDArray[np.int64],
    edges: _Edges,
) -> NDArray[np.bool_]:
    """
    Say which straight lines between points of an area stay inside it.

    A line stays inside when it crosses no edge of the outline or of a hole properly (touching
    a corner or running along an edge is fine) and its midpoint is in the area or on its edge.

    Parameters
    ----------
    ax, ay, bx, by
        The lines' ends, in metres.
    area
        The area of each line.
    edges
        All areas' edges.

    Returns
    -------
    ndarray
        True for each line that stays inside its area.
    """
    if area.size == 0:
        return np.zeros(0, dtype=bool)
    item, edge, starts = edges.expand(area)
    px, py, qx, qy = ax[item], ay[item], bx[item], by[item]
    x0, y0, x1, y1 = edges.x0[edge], edges.y0[edge], edges.x1[edge], edges.y1[edge]
    d1 = (qx - px) * (y0 - py) - (qy - py) * (x0 - px)
    d2 = (qx - px) * (y1 - py) - (qy - py) * (x1 - px)
    d3 = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
    d4 = (x1 - x0) * (qy - y0) - (y1 - y0) * (qx - x0)
    eps = _ON_LINE
    crosses = (((d1 > eps) & (d2 < -eps)) | ((d1 < -eps) & (d2 > eps))) & (
        ((d3 > eps) & (d4 < -eps)) | ((d3 < -eps) & (d4 > eps))
    )
    result: NDArray[np.bool_] = ~np.logical_or.reduceat(crosses, starts)
    clear = np.flatnonzero(result)
    mx, my = (ax[clear] + bx[clear]) / 2, (ay[clear] + by[clear]) / 2
    result[clear] = _inside(mx, my, area[clear], edges)
    return result


def _sees_geos(
    ax: NDArray[np.float64],
    ay: NDArray[np.float64],
    bx: NDArray[np.float64],
    by: NDArray[np.float64],
    rings: list[tuple[NDArray[np.float64], NDArray[np.float64]]],
    outer: int,
) -> NDArray[np.bool_]:
    """
    Say which straight lines stay inside one area with many edges, using GEOS's indexed test.

    Parameters
    ----------
    ax, ay, bx, by
        The lines' ends, in metres.
    rings
        The area's outer rings, then its holes, in metres (as in ``_Area.rings``).
    outer
        How many of the rings are outer rings.

    Returns
    -------
    ndarray
        True for each line that stays inside the area (its edge included).
    """
    import shapely  # noqa: PLC0415

    shells = [shapely.Polygon(np.column_stack(r)) for r in rings[:outer]]
    holes = [shapely.Polygon(np.column_stack(r)) for r in rings[outer:]]
    polygon = shells[0] if len(shells) == 1 else shapely.unary_union(shells)
    if holes:
        polygon = shapely.difference(polygon, shapely.unary_union(holes))
    lines = shapely.linestrings(np.stack([np.column_stack([ax, ay]), np.column_stack([bx, by])], 1))
    shapely.prepare(polygon)
    seen: NDArray[np.bool_] = shapely.covers(polygon, lines)
    return seen


def _spanner(
    dist: NDArray[np.float64], seen: NDArray[np.bool_]
) -> tuple[list[tuple[int, int]], NDArray[np.float64]]:
    """
    Choose few links that still join every two points nearly straight (a greedy spanner).

    Pairs are taken shortest first; a pair is linked when it can be walked straight (``seen``)
    and the links chosen so far join it only more than ``LINK_STRETCH`` times its length.

    Parameters
    ----------
    dist
        ``(h, h)`` straight distances between the points, in metres.
    seen
        ``(h, h)``: True where the straight line between two points may be walked.

    Returns
    -------
    tuple
        The chosen pairs ``(a, b)`` with ``a < b``, and the ``(h, h)`` distances along the
        chosen links.
    """
    h = dist.shape[0]
    along = np.full((h, h), np.inf)
    np.fill_diagonal(along, 0.0)
    ia, ib = np.nonzero(np.triu(seen, 1))
    order = np.argsort(dist[ia, ib], kind="stable")
    chosen: list[tuple[int, int]] = []
    for a, b in zip(ia[order].tolist(), ib[order].tolist(), strict=True):
        d = dist[a, b]
        if along[a, b] <= LINK_STRETCH * d + 1e-9:
            continue
        chosen.append((a, b))
        via = np.minimum(
            along[:, a, None] + d + along[None, b, :], along[:, b, None] + d + along[None, a, :]
        )
        np.minimum(along, via, out=along)
    return chosen, along


#: The pairs ``(a, b)``, ``a < b``, of k points, for the few-point areas.
_PAIR_LISTS = {
    k: (
        [a for a in range(k) for _ in range(a + 1, k)],
        [b for a in range(k) for b in range(a + 1, k)],
    )
    for k in range(_ALL_PAIRS + 1)
}


@dataclass
class _Plan:
    """The lines to test in one area, and what is learnt from them.

    Attributes
    ----------
    area
        The area's index.
    dist
        ``(k, k)`` straight distances between its entry points (in node id order).
    hub
        Positions of the hubs (all entry points when there are few).
    a, b
        The lines to test, as entry point positions: hub pairs first, then each other entry
        point to its ``tries`` nearest hubs.
    tries
        How many hubs each other entry point tries.
    """

    area: int
    dist: NDArray[np.float64]
    hub: NDArray[np.int64]
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    tries: int


def _plan(area: int, ex: NDArray[np.float64], ey: NDArray[np.float64]) -> _Plan:
    """
    Choose the lines to test between the many entry points of one area.

    An entry point closer than ``HUB_SPACING_M`` to an earlier hub is not one (the spacing
    grows until there are at most ``_MAX_HUBS``), and tries its ``_HUB_TRIES`` nearest hubs.

    Parameters
    ----------
    area
        The area's index.
    ex, ey
        Its entry points, in metres.

    Returns
    -------
    _Plan
        The plan.
    """
    k = ex.shape[0]
    dist = np.hypot(ex[:, None] - ex[None, :], ey[:, None] - ey[None, :])
    spacing = HUB_SPACING_M
    while True:  # hubs at least ``spacing`` apart, wider apart until there are few
        hubs: list[int] = []
        nearest = np.full(k, np.inf)  # distance to the nearest hub so far
        for i in range(k):
            if nearest[i] >= spacing:
                hubs.append(i)
                np.minimum(nearest, dist[i], out=nearest)
                if len(hubs) > _MAX_HUBS:
                    break
        if len(hubs) <= _MAX_HUBS:
            break
        spacing *= 1.5
    hub = np.asarray(hubs, dtype=np.int64)
    ia, ib = np.triu_indices(hub.size, 1)
    others = np.setdiff1d(np.arange(k), hub)
    tries = min(_HUB_TRIES, hub.size)
    near = np.argsort(dist[np.ix_(others, hub)], axis=1, kind="stable")[:, :tries]
    a = np.concatenate([hub[ia], np.repeat(others, tries)]).astype(np.int64)
    b = np.concatenate([hub[ib], hub[near].ravel()]).astype(np.int64)
    return _Plan(area, dist, hub, a, b, tries)


def _links_of(
    plan: _Plan, seen: NDArray[np.bool_]
) -> tuple[list[tuple[int, int]], NDArray[np.float64]]:
    """
    Choose an area's links from the lines that stay inside it.

    Hubs are joined by a greedy spanner; every other entry point is tied to the nearest of its
    tried hubs that it sees.

    Parameters
    ----------
    plan
        The area's plan.
    seen
        For each line of the plan, whether it stays inside.

    Returns
    -------
    tuple
        The links ``(a, b)`` and the ``(k, k)`` distances along them (inf where they do not
        join two points).
    """
    dist, hub = plan.dist, plan.hub
    k, h = dist.shape[0], hub.size
    n_hub_pairs = h * (h - 1) // 2
    ia, ib = np.triu_indices(h, 1)
    grid = np.zeros((h, h), dtype=bool)
    grid[ia, ib] = seen[:n_hub_pairs]
    pairs, along_hubs = _spanner(dist[np.ix_(hub, hub)], grid | grid.T)
    links = [(int(hub[x]), int(hub[y])) for x, y in pairs]
    tie = np.full(k, -1)
    tie[hub] = np.arange(h)
    if plan.tries:
        others = plan.a[n_hub_pairs :: plan.tries]
        sees = seen[n_hub_pairs:].reshape(-1, plan.tries)
        tried = plan.b[n_hub_pairs:].reshape(-1, plan.tries)
        first = np.argmax(sees, axis=1)
        found = sees[np.arange(others.size), first]
        target = tried[found, first[found]]
        tie[others[found]] = np.searchsorted(hub, target)
        links += [(int(o), int(t)) for o, t in zip(others[found], target, strict=True)]
    safe = np.maximum(tie, 0)
    to_hub = np.where(tie >= 0, dist[np.arange(k), hub[safe]], np.inf)
    along = to_hub[:, None] + along_hubs[np.ix_(safe, safe)] + to_hub[None, :]
    np.fill_diagonal(along, 0.0)
    return links, along


def crossings(
    osm: OsmWays,
    way_lats: list[tuple[float, ...]] | list[list[float]],
    way_lons: list[tuple[float, ...]] | list[list[float]],
    uses: dict[int, int],
) -> Crossings:
    """
    Link the points where ways meet walkable areas straight across them.

    Parameters
    ----------
    osm
        The ways and areas.
    way_lats, way_lons
        The ways' coordinates after clipping (NaN outside).
    uses
        How many times each node is used by the ways (inside the clip).

    Returns
    -------
    Crossings
        The links, and the outline arcs that stay.
    """
    result = Crossings()
    areas = _areas(osm)
    if not areas:
        return result
    lat0 = float(np.mean([a.rings[0][1][0] for a in areas]))
    xy = [[local_xy(lats, lons, lat0=lat0) for _, lats, lons in a.rings] for a in areas]
    edges = _all_edges(areas, xy)
    _outline_entries(areas, xy, osm, way_lats, uses)
    _inner_ends(areas, xy, edges, osm, (way_lats, way_lons), uses, lat0)
    # few entry points (most areas): every pair, in plain lists, tested all at once
    small = [i for i, a in enumerate(areas) if 2 <= len(a.entries) <= _ALL_PAIRS]  # noqa: PLR2004
    line_a, line_b, line_area, xs, ys = _all_pairs(areas, small)
    ia, ib = np.asarray(line_a, dtype=np.int64), np.asarray(line_b, dtype=np.int64)
    where = np.asarray(line_area, dtype=np.int64)
    seen_small = _sees_all(xs[ia], ys[ia], xs[ib], ys[ib], where, edges, areas, xy).tolist()
    planned = _hub_plans(areas, edges, xy)
    links_small: dict[int, list[tuple[int, int]]] = {i: [] for i in small}
    for i, a, b, ok in zip(line_area, line_a, line_b, seen_small, strict=True):
        if ok:
            links_small[i].append((a, b))
    first = {i: j for j, i in reversed(list(enumerate(line_area)))}  # first line of each area
    for i, area in enumerate(areas):
        k = len(area.entries)
        if k < 2:  # noqa: PLR2004 - its outline leads nowhere
            _record(result, area, [], None, xy[i])
        elif i in links_small:
            base = line_a[first[i]]  # the first line starts at the area's first entry point
            local = [(a - base, b - base) for a, b in links_small[i]]
            _record(result, area, local, None, xy[i])
        elif i in planned:
            plan, answer = planned[i]
            links, along = _links_of(plan, answer)
            _record(result, area, links, along, xy[i], _ARC_SLACK_M)
    return result


def _all_pairs(
    areas: list[_Area], small: list[int]
) -> tuple[list[int], list[int], list[int], NDArray[np.float64], NDArray[np.float64]]:
    """
    List every pair of entry points of the areas met at few points.

    Parameters
    ----------
    areas
        The areas.
    small
        The indices of those met at 2 to ``_ALL_PAIRS`` points.

    Returns
    -------
    tuple
        For each line, its two ends (indices into the points) and its area; then the points'
        x and y (each area's in node id order, one area after another).
    """
    px: list[float] = []
    py: list[float] = []
    line_a: list[int] = []
    line_b: list[int] = []
    line_area: list[int] = []
    for i in small:
        entries = areas[i].entries
        base = len(px)
        for ref in sorted(entries):
            px.append(entries[ref][2])
            py.append(entries[ref][3])
        pairs_a, pairs_b = _PAIR_LISTS[len(entries)]
        line_a += [base + p for p in pairs_a]
        line_b += [base + p for p in pairs_b]
        line_area += [i] * len(pairs_a)
    return line_a, line_b, line_area, np.asarray(px), np.asarray(py)


def _hub_plans(
    areas: list[_Area],
    edges: _Edges,
    xy: list[list[tuple[NDArray[np.float64], NDArray[np.float64]]]],
) -> dict[int, tuple[_Plan, NDArray[np.bool_]]]:
    """
    Plan the areas met at many points (hubs), and test all their lines at once.

    Parameters
    ----------
    areas
        The areas.
    edges
        All areas' edges.
    xy
        Their rings in metres.

    Returns
    -------
    dict
        By area index: its plan, and which of its lines stay inside it.
    """
    plans: list[_Plan] = []
    points: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
    for i, area in enumerate(areas):
        if _ALL_PAIRS < len(area.entries) <= _MAX_ENTRIES:
            ex, ey = _entry_xy(area)
            plans.append(_plan(i, ex, ey))
            points.append((ex, ey))
    if not plans:
        return {}
    ax = np.concatenate([ex[p.a] for p, (ex, _) in zip(plans, points, strict=True)])
    ay = np.concatenate([ey[p.a] for p, (_, ey) in zip(plans, points, strict=True)])
    bx = np.concatenate([ex[p.b] for p, (ex, _) in zip(plans, points, strict=True)])
    by = np.concatenate([ey[p.b] for p, (_, ey) in zip(plans, points, strict=True)])
    on = np.concatenate([np.full(p.a.size, p.area, dtype=np.int64) for p in plans])
    seen = _sees_all(ax, ay, bx, by, on, edges, areas, xy)
    answers = np.split(seen, np.cumsum([p.a.size for p in plans])[:-1])
    return {p.area: (p, ans) for p, ans in zip(plans, answers, strict=True)}


def _sees_all(
    ax: NDArray[np.float64],
    ay: NDArray[np.float64],
    bx: NDArray[np.float64],
    by: NDArray[np.float64],
    where: NDArray[np.int64],
    edges: _Edges,
    areas: list[_Area],
    xy: list[list[tuple[NDArray[np.float64], NDArray[np.float64]]]],
) -> NDArray[np.bool_]:
    """
    Say which lines stay inside their areas.

    Lines in areas with few edges are tested in numpy all at once; those in an area with many
    edges, with GEOS's indexed test.

    Parameters
    ----------
    ax, ay, bx, by
        The lines' ends, in metres.
    where
        The area of each line.
    edges
        All areas' edges.
    areas
        The areas.
    xy
        Their rings in metres.

    Returns
    -------
    ndarray
        True for each line that stays inside its area.
    """
    seen = np.zeros(where.size, dtype=bool)
    if where.size == 0:
        return seen
    large = edges.count[where] > _GEOS_EDGES
    few = np.flatnonzero(~large)
    seen[few] = _sees(ax[few], ay[few], bx[few], by[few], where[few], edges)
    for area in np.unique(where[large]).tolist():
        lines = np.flatnonzero(where == area)
        seen[lines] = _sees_geos(
            ax[lines], ay[lines], bx[lines], by[lines], xy[area], areas[area].outer
        )
    return seen


def _all_edges(
    areas: list[_Area], xy: list[list[tuple[NDArray[np.float64], NDArray[np.float64]]]]
) -> _Edges:
    """
    Gather the edges of every area's rings.

    Parameters
    ----------
    areas
        The areas.
    xy
        Per area, per ring, the ring's ``(x, y)`` in metres.

    Returns
    -------
    _Edges
        The edges.
    """
    parts_x0, parts_y0, parts_x1, parts_y1, counts = [], [], [], [], []
    rings_per_area: list[int] = []
    ring_start: list[int] = []
    ring_inner: list[bool] = []
    for area, rings in zip(areas, xy, strict=True):
        count = 0
        for i, (x, y) in enumerate(rings):
            parts_x0.append(x[:-1])
            parts_y0.append(y[:-1])
            parts_x1.append(x[1:])
            parts_y1.append(y[1:])
            ring_start.append(count)
            ring_inner.append(i >= area.outer)
            count += x.shape[0] - 1
        counts.append(count)
        rings_per_area.append(len(rings))
    count_arr = np.asarray(counts, dtype=np.int64)
    ring_arr = np.asarray(rings_per_area, dtype=np.int64)
    return _Edges(
        np.concatenate(parts_x0),
        np.concatenate(parts_y0),
        np.concatenate(parts_x1),
        np.concatenate(parts_y1),
        np.cumsum(count_arr) - count_arr,
        count_arr,
        np.cumsum(ring_arr) - ring_arr,
        ring_arr,
        np.asarray(ring_start, dtype=np.int64),
        np.asarray(ring_inner, dtype=bool),
    )


def _outline_entries(
    areas: list[_Area],
    xy: list[list[tuple[NDArray[np.float64], NDArray[np.float64]]]],
    osm: OsmWays,
    way_lats: list[tuple[float, ...]] | list[list[float]],
    uses: dict[int, int],
) -> None:
    """
    Find the entry points on each area's outline: nodes another walkable way uses too.

    Parameters
    ----------
    areas
        The areas; their ``entries`` are filled in.
    xy
        Their rings in metres.
    osm
        The ways.
    way_lats
        The ways' latitudes after clipping.
    uses
        How many times each node is used by the ways (inside the clip).
    """
    for area, rings in zip(areas, xy, strict=True):
        own: dict[int, int] = {}
        for index in area.own:
            for ref, lat in zip(osm.ways[index].refs, way_lats[index], strict=True):
                if not math.isnan(lat):
                    own[ref] = own.get(ref, 0) + 1
        for (refs, lats, lons), (x, y) in zip(area.rings, rings, strict=True):
            for i, ref in enumerate(refs[:-1].tolist()):
                if uses.get(ref, 0) > own.get(ref, 0):
                    area.entries[ref] = (float(lats[i]), float(lons[i]), float(x[i]), float(y[i]))


def _inner_ends(
    areas: list[_Area],
    xy: list[list[tuple[NDArray[np.float64], NDArray[np.float64]]]],
    edges: _Edges,
    osm: OsmWays,
    coords: tuple[
        list[tuple[float, ...]] | list[list[float]], list[tuple[float, ...]] | list[list[float]]
    ],
    uses: dict[int, int],
    lat0: float,
) -> None:
    """
    Add the ends of ways that stop inside an area (joining no other way) to its entry points.

    Parameters
    ----------
    areas
        The areas; their ``entries`` are filled in.
    xy
        Their rings in metres.
    edges
        All areas' edges.
    osm
        The ways.
    coords
        The ways' latitudes and longitudes after clipping.
    uses
        How many times each node is used by the ways (inside the clip).
    lat0
        Latitude of the local projection.
    """
    way_lats, way_lons = coords
    firsts = [way.refs[0] for way in osm.ways]
    lasts = [way.refs[-1] for way in osm.ways]
    # dead ends only (a junction inside an area is reached by its ways anyway)
    picks = [(i, 0, r) for i, r in enumerate(firsts) if uses.get(r) == 1]
    picks += [(i, -1, r) for i, r in enumerate(lasts) if uses.get(r) == 1]
    picks = [p for p in picks if not math.isnan(way_lats[p[0]][p[1]])]
    if not picks:
        return
    end_way = np.array([p[0] for p in picks], dtype=np.int64)
    end_ref = np.array([p[2] for p in picks], dtype=np.int64)
    end_lat = np.array([way_lats[i][at] for i, at, _ in picks])
    end_lon = np.array([way_lons[i][at] for i, at, _ in picks])
    end_x, end_y = local_xy(end_lat, end_lon, lat0=lat0)
    box = np.array(
        [
            [min(float(x.min()) for x, _ in r), min(float(y.min()) for _, y in r),
             max(float(x.max()) for x, _ in r), max(float(y.max()) for _, y in r)]
            for r in xy
        ]
    )  # fmt: skip
    in_box = (
        (end_x[None, :] > box[:, 0:1])
        & (end_y[None, :] > box[:, 1:2])
        & (end_x[None, :] < box[:, 2:3])
        & (end_y[None, :] < box[:, 3:4])
    )
    which, end = np.nonzero(in_box)
    own = np.array([int(end_way[e]) in areas[a].own for a, e in zip(which, end, strict=True)])
    if which.size:
        which, end = which[~own], end[~own]
    inside = _inside(end_x[end], end_y[end], which.astype(np.int64), edges)
    for a, e in zip(which[inside].tolist(), end[inside].tolist(), strict=True):
        point = (float(end_lat[e]), float(end_lon[e]), float(end_x[e]), float(end_y[e]))
        areas[a].entries.setdefault(int(end_ref[e]), point)


def _entry_xy(area: _Area) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """
    Give an area's entry points in metres, ordered by node id.

    Parameters
    ----------
    area
        The area.

    Returns
    -------
    tuple of ndarray
        Their x and y.
    """
    refs = sorted(area.entries)
    return (
        np.array([area.entries[r][2] for r in refs]),
        np.array([area.entries[r][3] for r in refs]),
    )


def _record(
    result: Crossings,
    area: _Area,
    links: list[tuple[int, int]],
    along: NDArray[np.float64] | None,
    rings: list[tuple[NDArray[np.float64], NDArray[np.float64]]],
    slack_m: float = 0.0,
) -> None:
    """
    Add an area's links, and the arcs of its outline that stay.

    Parameters
    ----------
    result
        Where they go.
    area
        The area.
    links
        Its links, as pairs of entry point positions (in node id order).
    along
        ``(k, k)`` distances along the links between its entry points; None where only
        direct links count (few entry points: an outline arc goes when a link joins its ends).
    rings
        Its rings in metres.
    slack_m
        An arc goes when the links join its ends at most ``LINK_STRETCH`` times its length
        plus this many metres.
    """
    k = len(area.entries)
    if k >= 2 and not links:  # noqa: PLR2004 - no straight crossing: the outline stays
        return
    index = len(result.osm_ids)
    result.tags.append(area.tags)
    result.osm_ids.append(area.osm_id)
    result.kinds.append(1 if area.way_index is not None else 2)
    refs = sorted(area.entries)
    for a, b in links:
        pa, pb = area.entries[refs[a]], area.entries[refs[b]]
        result.links.append((index, refs[a], pa[0], pa[1], refs[b], pb[0], pb[1]))
        result.split_refs.update((refs[a], refs[b]))
    if area.way_index is None:
        return
    result.replaced.add(area.way_index)
    position = {r: i for i, r in enumerate(refs)}
    ring_refs, lats, lons = area.rings[0]
    x, y = rings[0]
    ring = ring_refs[:-1].tolist()
    cuts = [i for i, ref in enumerate(ring) if ref in position]
    if len(cuts) < 2:  # noqa: PLR2004 - met at one point or none: a loop to nowhere
        return
    n = len(ring)
    linked = {(a, b) for a, b in links} | {(b, a) for a, b in links}
    if along is not None:
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    for a, b in itertools.pairwise([*cuts, cuts[0] + n]):
        ends = (position[ring[a]], position[ring[b % n]])
        if along is None:
            if ends in linked:
                continue  # crossed straight: do not follow the outline
        else:
            arc = cum[b] - cum[a] if b < n else cum[n] - cum[a] + cum[b - n]
            if along[ends] <= LINK_STRETCH * arc + slack_m + 1e-6:
                continue  # the links walk it about as short: cross, do not follow the outline
        span = [i % n for i in range(a, b + 1)]
        result.outlines.append(
            (
                area.way_index,
                [ring[i] for i in span],
                [float(lats[i]) for i in span],
                [float(lons[i]) for i in span],
            )
        )
