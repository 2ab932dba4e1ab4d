"""Find, score and explain stops: cafés, alley studios and landmark views."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from walks.errors import NoStopsError
from walks.graph import LANE_NAME_RE, Pleasantness, haversine_m, local_xy, nearest_xy
from walks.hours import local_zone, opening_status
from walks.types import LatLon, Stop, ViewInfo
from walks.views import assumed_roofline_m, facing, height_grid, line_of_sight, sun_light

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from numpy.typing import NDArray
    from shapely import Polygon

    from walks.categories import Category
    from walks.data import Feature, OsmFeatures
    from walks.graph import WalkGraph
    from walks.types import BBox
    from walks.views import Ground, Landmark

log = logging.getLogger(__name__)

#: A stop farther than this from the walking graph is left out.
MAX_STOP_OFFSET_M = 120.0
#: Same-category objects closer than this with the same name are one stop.
DEDUPE_M = 40.0
#: View stops are at least this far apart.
VIEW_SPACING_M = 120.0
#: How many view stops to keep at most.
MAX_VIEW_STOPS = 12
#: Least visible share of the landmark for a view stop.
MIN_VISIBLE = 0.05
#: A mapped viewpoint this close to a view stop supports it.
VIEWPOINT_M = 40.0
#: Below this share of the sight line with building data, a view is only "likely".
LIKELY_BELOW = 0.5
#: A sight line with at least this much ground without building data says so in its reason.
UNKNOWN_NOTE_M = 100.0
#: A stop is "away from busy roads" beyond this distance.
QUIET_DISTANCE_M = 50.0
_COMPASS8 = ("north", "north-east", "east", "south-east", "south", "south-west", "west",
             "north-west")  # fmt: skip


@dataclass(frozen=True, slots=True)
class StopOptions:
    """How to look for stops.

    Attributes
    ----------
    at
        Local departure time (naive wall-clock time of the area), or None.
    landmark
        The landmark for view stops, or None.
    terrain
        Ground elevations (a DEM or fetched tiles), or None for flat ground.
    roofline_m
        Building height assumed where no building data is loaded; None takes it from the
        loaded buildings (``walks.views.assumed_roofline_m``).
    max_views
        How many view stops to keep at most.
    cache_dir
        Where the building height grid is cached (``walks.views.height_grid``), or None for
        no cache.
    """

    at: dt.datetime | None = None
    landmark: Landmark | None = None
    terrain: Ground | None = None
    roofline_m: float | None = None
    max_views: int = MAX_VIEW_STOPS
    cache_dir: Path | None = None


def _compass(bearing: float) -> str:
    return _COMPASS8[int(((bearing % 360) + 22.5) // 45) % 8]


def _edges_near(
    graph: WalkGraph, nodes: NDArray[np.int64], lats: NDArray[np.float64],
    lons: NDArray[np.float64],
) -> NDArray[np.int64]:  # fmt: skip
    """
    Pick the edge each place opens onto: among the edges at its nearest node, the closest one.

    The distance to an edge is the least distance to a vertex of its geometry; among equally
    close edges the first at the node wins. All places at once: one distance per vertex.

    Parameters
    ----------
    graph
        The graph.
    nodes
        Each place's nearest node.
    lats, lons
        The places.

    Returns
    -------
    ndarray
        An edge index per place.
    """
    if not len(nodes):
        return np.zeros(0, dtype=np.int64)
    per_node = [graph.node_edges(int(n)) for n in nodes]
    counts = np.array([len(e) for e in per_node], dtype=np.int64)
    edges = np.concatenate(per_node).astype(np.int64)
    place = np.repeat(np.arange(len(nodes)), counts)
    lo, hi = graph.geom_offset[edges], graph.geom_offset[edges + 1]
    sizes = (hi - lo).astype(np.int64)
    first = np.cumsum(sizes) - sizes
    vertex = np.repeat(lo - first, sizes) + np.arange(int(sizes.sum()))
    which = np.repeat(place, sizes)
    d = haversine_m(lats[which], lons[which], graph.geom_lat[vertex], graph.geom_lon[vertex])
    nearest = np.minimum.reduceat(d, first) if d.size else np.zeros(0)
    nearest = np.where(np.isnan(nearest), np.inf, nearest)
    out: NDArray[np.int64] = edges[np.cumsum(counts) - counts]  # first edge: none nearer
    start = 0
    for i, count in enumerate(counts):
        if count:
            out[i] = edges[start + int(np.argmin(nearest[start : start + count]))]
        start += int(count)
    return out


class _BusyIndex:
    """Distance from points to the nearest busy road (its geometry vertices)."""

    def __init__(self, graph: WalkGraph) -> None:
        busy = np.flatnonzero(graph.edge_pleasantness == int(Pleasantness.BUSY))
        lo, hi = graph.geom_offset[busy], graph.geom_offset[busy + 1]
        sizes = (hi - lo).astype(np.int64)
        idx = np.repeat(lo - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
        self.lat0 = float(np.mean(graph.node_lat))
        self.vertices = self._xy(graph.geom_lat[idx], graph.geom_lon[idx])

    def _xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return local_xy(lat, lon, lat0=self.lat0)

    def distances_m(self, lats: NDArray[np.float64], lons: NDArray[np.float64]) -> (
        NDArray[np.float64]
    ):  # fmt: skip
        """
        Measure how far points are from the nearest busy road.

        Parameters
        ----------
        lats, lons
            The points.

        Returns
        -------
        ndarray
            Metres (infinite when the area has no busy road).
        """
        if not self.vertices[0].size or not len(lats):
            return np.full(len(lats), math.inf)
        _, dist = nearest_xy(self.vertices, self._xy(lats, lons))
        return dist


def _display_name(feature: Feature, category: Category) -> str:
    name = feature.tags.get("name")
    if name:
        return name
    kind = feature.tags.get("tourism") or feature.tags.get("shop") or feature.tags.get("craft")
    label = (kind or category.key).replace("_", " ")
    return f"Unnamed {label}"


def _kind_word(feature: Feature, category: Category) -> str:
    tags = feature.tags
    for key in ("amenity", "shop", "tourism", "craft"):
        if key in tags and category.matches(
            {key: tags[key]} | {k: v for k, v in tags.items() if k != key}
        ):
            value = tags[key]
            words = {"arts_centre": "arts centre", "art": "art shop", "coffee": "coffee shop",
                     "cafe": "café", "artwork": "artwork"}  # fmt: skip
            return words.get(value, value.replace("_", " "))
    return category.key


def _fold(text: str) -> str:
    """
    Fold a text for comparing words: no accents, no case.

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    str
        The folded text.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _named(kind: str, name: str) -> str:
    """
    Put a kind word before a name, unless the name says it already.

    "Café" + "Le Balto" reads "Café Le Balto", but "Café" + "Café Metro" stays "Café Metro"
    (and "Cafe Java" too: accents and case are ignored).

    Parameters
    ----------
    kind
        The kind word, e.g. "Café" or "Art shop".
    name
        The place's name.

    Returns
    -------
    str
        The reason's opening words.
    """
    words = set(re.findall(r"\w+", _fold(name)))
    if words and set(re.findall(r"\w+", _fold(kind))) <= words:
        return name
    return f"{kind} {name}"


def _tag_stops(
    graph: WalkGraph,
    features: tuple[Feature, ...],
    category: Category,
    options: StopOptions,
    busy: Callable[[], _BusyIndex],
) -> list[Stop]:
    """Find the stops of a tag-based category, scored and explained."""
    first_keys = {f[0][0] for f in category.filters if f}
    found = _dedupe([
        f for f in features if not first_keys.isdisjoint(f.tags) and category.matches(f.tags)
    ])  # fmt: skip
    lats = np.array([f.lat for f in found], dtype=np.float64)
    lons = np.array([f.lon for f in found], dtype=np.float64)
    nodes, offsets = graph.nearest_nodes(lats, lons)
    near = offsets <= MAX_STOP_OFFSET_M
    found = [f for f, ok in zip(found, near, strict=True) if ok]
    lats, lons, nodes = lats[near], lons[near], nodes[near]
    edges = _edges_near(graph, nodes, lats, lons)
    busy_m = busy().distances_m(lats, lons) if category.hidden else np.zeros(len(found))
    quiet_kinds = {int(Pleasantness.QUIET_LANE), int(Pleasantness.PEDESTRIAN)}
    stops = []
    for i, feature in enumerate(found):
        point = LatLon(feature.lat, feature.lon)
        node = int(nodes[i])
        score = category.weight
        bonuses = [k for k in category.bonus if feature.tags.get(k, "no") != "no"]
        score *= 1.0 + sum(category.bonus[k] for k in bonuses)
        name = _display_name(feature, category)
        what = _kind_word(feature, category)
        reason = _named(what, name) if feature.tags.get("name") else what
        extras = []
        if "outdoor_seating" in bonuses:
            extras.append("tables outside")
        edge = int(edges[i])
        street = graph.string(int(graph.edge_name[edge]))
        quiet = int(graph.edge_pleasantness[edge]) in quiet_kinds
        if not category.hidden:
            if street:
                reason += f" on {street}"
            if quiet:
                extras.append("a quiet street" if street else "off the traffic")
        else:
            named_lane = bool(street and LANE_NAME_RE.match(street))
            away_m = float(busy_m[i])
            hidden = 0.5 * (quiet or named_lane) + 0.5 * min(1.0, away_m / (2 * QUIET_DISTANCE_M))
            score *= 0.6 + hidden
            where = f" in {street}" if street else ""
            lane = ", a quiet lane" if quiet or named_lane else ""
            away = (f", {away_m:,.0f} m from the nearest busy road"
                    if math.isfinite(away_m) and away_m >= QUIET_DISTANCE_M else "")  # fmt: skip
            reason = (
                f"{what}{where}{lane}{away}"
                if not feature.tags.get("name")
                else f"{what} {name}{where}{lane}{away}"
            )
        status, note = opening_status(feature.tags.get("opening_hours"), options.at)
        if status == "open":
            extras.append(note)
        if extras:
            reason += " (" + ", ".join(extras) + ")"
        stops.append(Stop(
            id=f"{category.key}:{feature.osm_type}/{feature.osm_id}",
            osm_id=f"{feature.osm_type}/{feature.osm_id}", name=name, category=category.key,
            location=point, node=node, score=round(score, 4), reason=reason[0].upper() + reason[1:],
            opening=status, hours=note, opening_hours=feature.tags.get("opening_hours", ""),
        ))  # fmt: skip
    return stops


def _dedupe(features: list[Feature]) -> list[Feature]:
    """
    Merge objects that are one place: a node inside an outline, or the same name nearby.

    Each object is compared with all places kept so far at once (distances and, for an
    outline, which of them it contains); it merges into the first that matches.

    Parameters
    ----------
    features
        Objects of one category.

    Returns
    -------
    list of Feature
        One per place; a node wins over an outline (its position is the door), tags merged.
    """
    import shapely  # noqa: PLC0415

    ordered = sorted(features, key=lambda f: (f.osm_type != "node", f.osm_type, f.osm_id))
    kept: list[Feature] = []
    lats = np.zeros(len(ordered))
    lons = np.zeros(len(ordered))
    names: list[str] = []  # folded for comparing
    named = np.zeros(len(ordered), dtype=bool)
    for f in ordered:
        n = len(kept)
        twin = None
        if n:
            name = f.tags.get("name", "").strip().lower()
            same_name = np.fromiter((k == name for k in names), bool, n)
            close = haversine_m(np.array(f.lat), np.array(f.lon), lats[:n], lons[:n]) <= DEDUPE_M
            match = same_name & close
            if f.outline is not None:
                inside = shapely.contains_xy(shapely.Polygon(f.outline), lons[:n], lats[:n])
                unnamed = ~named[:n] if f.tags.get("name") else np.ones(n, dtype=bool)
                match |= inside & (same_name | unnamed)
            hits = np.flatnonzero(match)
            twin = int(hits[0]) if hits.size else None
        if twin is None:
            lats[n], lons[n] = f.lat, f.lon
            names.append(f.tags.get("name", "").strip().lower())
            named[n] = bool(f.tags.get("name"))
            kept.append(f)
        else:
            k = kept[twin]
            kept[twin] = merged = replace(k, tags={**f.tags, **k.tags})
            names[twin] = merged.tags.get("name", "").strip().lower()
            named[twin] = bool(merged.tags.get("name"))
    return kept


def _spread_views(graph: WalkGraph, visible: NDArray[np.float64], most: int) -> list[int]:
    """
    Choose view nodes, best first, at least ``VIEW_SPACING_M`` apart.

    Parameters
    ----------
    graph
        The graph.
    visible
        Each node's visible share of the landmark.
    most
        How many to choose at most.

    Returns
    -------
    list of int
        Node indices, best first; none under ``MIN_VISIBLE``.
    """
    chosen: list[int] = []
    # distance from every node to the nearest node chosen so far, updated with each choice
    spacing = np.full(graph.n_nodes, math.inf)
    for node in np.argsort(-visible, kind="stable"):
        if visible[node] < MIN_VISIBLE or len(chosen) >= most:
            break
        if chosen and spacing[node] < VIEW_SPACING_M:
            continue
        chosen.append(int(node))
        np.minimum(spacing, haversine_m(graph.node_lat, graph.node_lon,
                                        graph.node_lat[node], graph.node_lon[node]),
                   out=spacing)  # fmt: skip
    return chosen


def _view_stops(
    graph: WalkGraph,
    osm: OsmFeatures,
    category: Category,
    options: StopOptions,
    known: BBox,
    known_polygon: Polygon | None,
) -> list[Stop]:
    """View stops: graph nodes that see most of the landmark, spread apart, with the light."""
    landmark = options.landmark
    assert landmark is not None
    grid = height_grid(osm.buildings, known, known_polygon=known_polygon,
                       cache_dir=options.cache_dir, store=osm.store)  # fmt: skip
    roofline = (
        options.roofline_m if options.roofline_m is not None else assumed_roofline_m(osm.buildings)
    )
    sight = line_of_sight(grid, graph.node_lat, graph.node_lon, landmark,
                          roofline_m=roofline, terrain=options.terrain)  # fmt: skip
    viewpoints = [f for f in osm.features if f.tags.get("tourism") == "viewpoint"]
    v_lat = np.array([v.lat for v in viewpoints], dtype=np.float64)
    v_lon = np.array([v.lon for v in viewpoints], dtype=np.float64)
    chosen = _spread_views(graph, sight.visible_fraction, 4 * options.max_views)
    when_utc = None
    if options.at is not None:
        zone = local_zone(landmark.location.lat, landmark.location.lon)
        when_utc = options.at.replace(tzinfo=zone).astimezone(dt.UTC)
    stops = []
    for node in chosen:
        point = LatLon(float(graph.node_lat[node]), float(graph.node_lon[node]))
        fraction = float(sight.visible_fraction[node])
        bearing = float(sight.bearing_deg[node])
        distance = float(sight.distance_m[node])
        score = category.weight * (0.3 + fraction)
        notes = []
        near = haversine_m(v_lat, v_lon, np.array(point.lat), np.array(point.lon)) <= VIEWPOINT_M
        evidence = [v for v, ok in zip(viewpoints, near, strict=True) if ok]
        if any(facing(v.tags.get("direction"), bearing) for v in evidence):
            score *= 1.3
            notes.append("a mapped viewpoint faces it")
        elif evidence:
            score *= 1.1
            notes.append("a mapped viewpoint")
        lit, golden = 0.0, False
        if when_utc is not None:
            lit, golden, _ = sun_light(point, when_utc, bearing)
            score *= 1.0 + 0.3 * lit + (0.2 if golden else 0.0)
            if lit > 0.5:  # noqa: PLR2004
                notes.append("the sun behind you lights it")
            if golden:
                notes.append("golden hour")
        share = float(sight.known_share[node])
        unknown = float(sight.unknown_m[node])
        # what rests on assumed roofs counts for less: half the score with no data at all
        score *= 0.5 + 0.5 * share
        reason = _view_reason(landmark.name, fraction, distance, bearing,
                              (share, unknown, roofline), notes)  # fmt: skip
        stops.append(Stop(
            id=f"{category.key}:node/{int(graph.node_osm_id[node])}",
            osm_id=f"node/{int(graph.node_osm_id[node])}",
            name=f"View of the {landmark.name}" if not landmark.name.startswith("the ") else
            f"View of {landmark.name}",
            category=category.key, location=point, node=node, score=round(score, 4), reason=reason,
            opening="open", hours="always open",
            view=ViewInfo(landmark=landmark.name, landmark_location=landmark.location,
                          visible_fraction=round(fraction, 4), distance_m=round(distance, 1),
                          bearing_deg=round(bearing, 1), unknown_m=unknown,
                          lit=round(lit, 3), golden_hour=golden, known_share=round(share, 4),
                          assumed_roofline_m=roofline),
        ))  # fmt: skip
    stops.sort(key=lambda s: -s.score)
    return stops[: options.max_views]


def _view_reason(
    name: str,
    fraction: float,
    distance_m: float,
    bearing_deg: float,
    knowledge: tuple[float, float, float],
    notes: list[str],
) -> str:
    """
    Explain a view: how much shows, how far, which way, and what the answer rests on.

    Parameters
    ----------
    name
        The landmark's name.
    fraction
        Visible share of its height.
    distance_m, bearing_deg
        Where it is.
    knowledge
        ``(known_share, unknown_m, roofline_m)``: the share of the sight line with building
        data, the length without, and the roofline assumed there.
    notes
        Other remarks (viewpoint, light).

    Returns
    -------
    str
        ``"<name> shows 80 % of its height, 1.2 km to the south-west (...)"``, with "likely
        shows" when less than ``LIKELY_BELOW`` of the line has building data.
    """
    share, unknown_m, roofline_m = knowledge
    notes = list(notes)
    if unknown_m >= UNKNOWN_NOTE_M:
        notes.insert(0, f"{unknown_m / 1000:.1f} km of the sight line has no building data: "
                        f"{roofline_m:g} m roofs assumed there")  # fmt: skip
    shows = "likely shows" if share < LIKELY_BELOW else "shows"
    reason = (f"{name} {shows} {100 * fraction:.0f} % of its height, "
              f"{distance_m / 1000:.1f} km to the {_compass(bearing_deg)}")  # fmt: skip
    if notes:
        reason += " (" + "; ".join(notes) + ")"
    return reason


def find_stops(
    graph: WalkGraph,
    osm: OsmFeatures,
    categories: list[Category],
    *,
    options: StopOptions | None = None,
    known: BBox | None = None,
    known_polygon: Polygon | None = None,
    skip_missing: bool = False,
) -> list[Stop]:
    """
    Find the stops of some categories in an area, best first within each category.

    Parameters
    ----------
    graph
        The walking graph (stops are snapped to its nodes).
    osm
        The area's features and buildings.
    categories
        The categories wanted.
    options
        Departure time, landmark, terrain, assumed roofline.
    known
        Where building data is complete (for view stops); None uses the graph's box.
    known_polygon
        Where inside ``known`` building data is complete, or None for all of it.
    skip_missing
        Leave out, with a logged warning, categories that have no stop here (and views when
        there is no landmark), instead of raising.

    Returns
    -------
    list of Stop
        The stops, category by category, each sorted by score.

    Raises
    ------
    NoStopsError
        Without ``skip_missing``: when a category has no stop here (naming it, and suggesting
        a wider area), or view stops are asked for without a landmark.
    """
    options = options or StopOptions()
    busy_index: list[_BusyIndex] = []

    def busy() -> _BusyIndex:  # built once, and only for a category that asks for it
        if not busy_index:
            busy_index.append(_BusyIndex(graph))
        return busy_index[0]

    out: list[Stop] = []
    for category in categories:
        if category.kind == "view":
            if options.landmark is None:
                msg = ("no landmark is known for this area: pass --landmark NAME or "
                       "LAT,LON,HEIGHT_M for view stops")  # fmt: skip
                if skip_missing:
                    log.warning("%s; no view stops", msg)
                    continue
                raise NoStopsError(msg)
            found = _view_stops(graph, osm, category, options, known or graph.bbox, known_polygon)
        else:
            found = sorted(_tag_stops(graph, osm.features, category, options, busy),
                           key=lambda s: (-s.score, s.id))  # fmt: skip
        if not found:
            what = (
                "spot with a view of the " + options.landmark.name
                if category.kind == "view" and options.landmark
                else f"{category.key!r} stop"
            )
            msg = f"no {what} in this area: choose a wider area or another category"
            if skip_missing:
                log.warning("%s", msg)
                continue
            raise NoStopsError(msg)
        out += found
    return out
