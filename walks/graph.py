"""Turn OSM ways into a walking graph held in compact numpy arrays, with CSR routing matrices.

The graph keeps one node per junction, way end or clip point, and one undirected edge per way
piece between two such nodes, with the piece's full geometry. Interior nodes of a single way are
folded into edge geometry, as osmnx's simplification does, so routing arrays stay small. Only the
largest strongly connected component is kept, so every node can reach every other.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from walks.errors import AreaError, DataError, NoWalkError

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    import networkx as nx
    from numpy.typing import NDArray

    from walks.data import OsmWays
    from walks.types import Area, BBox, LatLon

#: Mean Earth radius in metres, for haversine lengths.
EARTH_RADIUS_M = 6_371_008.8

#: Bumped whenever the builder's output changes, so older cached graphs are rebuilt.
BUILD_VERSION = 3

_BUSY_HIGHWAYS = frozenset(
    {"trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link"}
)
_LANE_HIGHWAYS = frozenset(
    {"footway", "path", "steps", "track", "bridleway", "corridor", "cycleway"}
)
_PEDESTRIAN_HIGHWAYS = frozenset({"pedestrian", "living_street"})
_MINOR_STREETS = frozenset({"service", "residential", "unclassified", "living_street"})
#: Paris-style names of lanes, villas and cul-de-sacs: quiet lanes whatever their highway tag.
LANE_NAME_RE = re.compile(
    r"^(passage|villa|impasse|cit[ée]|cour|hameau|all[ée]e|sentier|square)\b", re.IGNORECASE
)
_BUSY_LANES = 4
_BUSY_SPEED_KPH = 60.0


class Pleasantness(IntEnum):
    """How pleasant a street is to walk, best first."""

    QUIET_LANE = 0
    PEDESTRIAN = 1
    ORDINARY = 2
    BUSY = 3


def _number(text: str | None) -> float | None:
    """
    Read the leading number of a tag value such as ``"50"``, ``"30 mph"`` or ``"2;3"``.

    Parameters
    ----------
    text
        The tag value, or None.

    Returns
    -------
    float or None
        The number (mph turned into km/h), or None when there is none.
    """
    if not text:
        return None
    match = re.match(r"\s*(\d+(?:\.\d+)?)\s*(mph)?", text)
    if match is None:
        return None
    value = float(match.group(1))
    return value * 1.609344 if match.group(2) else value


def pleasantness_from_tags(tags: dict[str, str]) -> Pleasantness:
    """
    Classify a walkable way by how pleasant it is to walk.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    Pleasantness
        ``BUSY`` for primary/secondary/trunk roads or any road with 4+ lanes or a limit of
        60 km/h and more; ``PEDESTRIAN`` for pedestrian streets and living streets;
        ``QUIET_LANE`` for footpaths, steps, tracks, alleys and Paris-style passages, villas
        and impasses; ``ORDINARY`` for the rest, sidewalks and crossings included.

    Raises
    ------
    DataError
        When ``tags`` is not a dict.
    """
    given: object = tags
    if not isinstance(given, dict):
        msg = f"pleasantness_from_tags needs a dict of OSM tags, not {type(given).__name__}"
        raise DataError(msg)
    highway = tags.get("highway", "")
    lanes = _number(tags.get("lanes"))
    speed = _number(tags.get("maxspeed"))
    if (
        highway in _BUSY_HIGHWAYS
        or (lanes is not None and lanes >= _BUSY_LANES)
        or (speed is not None and speed >= _BUSY_SPEED_KPH)
    ):
        return Pleasantness.BUSY
    if highway in _PEDESTRIAN_HIGHWAYS:
        return Pleasantness.PEDESTRIAN
    if highway == "footway" and tags.get("footway") in {"sidewalk", "crossing"}:
        return Pleasantness.ORDINARY
    if highway in _LANE_HIGHWAYS or (highway == "service" and tags.get("service") == "alley"):
        return Pleasantness.QUIET_LANE
    if highway in _MINOR_STREETS and LANE_NAME_RE.match(tags.get("name", "")):
        return Pleasantness.QUIET_LANE
    return Pleasantness.ORDINARY


def _lit(value: str | None) -> int:
    """
    Read the ``lit`` tag.

    Parameters
    ----------
    value
        The tag value, or None.

    Returns
    -------
    int
        1 lit, 0 not lit, -1 unknown.
    """
    if value is None:
        return -1
    if value == "no":
        return 0
    return -1 if value in {"unknown", ""} else 1


#: Ways only walkers use: there a plain ``oneway`` binds walkers too (unless a vehicle may use it).
_FOOT_ONLY_HIGHWAYS = frozenset({"footway", "steps", "path", "pedestrian", "corridor"})
#: Vehicle access keys: when one of them lets vehicles on a foot way, its ``oneway`` is theirs.
_VEHICLE_KEYS = (
    "vehicle", "motor_vehicle", "motorcar", "motorcycle", "bicycle", "psv", "bus", "taxi",
    "delivery", "goods", "hgv",
)  # fmt: skip
_VEHICLE_ALLOWED = frozenset({"yes", "designated", "permissive", "destination", "delivery"})
_ONEWAY_FORWARD = frozenset({"yes", "1", "true"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"no", "0", "false"})
#: Direction of escalators and moving walkways by ``conveying``.
_CONVEYING = {"forward": 1, "yes": 1, "backward": -1}


def _oneway_value(value: str) -> int | None:
    """
    Read a ``oneway``-style tag value.

    Parameters
    ----------
    value
        The tag value (``""`` when absent).

    Returns
    -------
    int or None
        1 along the way, -1 against it, 0 both ways, None when absent or unknown.
    """
    if value in _ONEWAY_FORWARD:
        return 1
    if value in _ONEWAY_BACKWARD:
        return -1
    return 0 if value in _ONEWAY_NO else None


def _foot_direction(tags: dict[str, str]) -> int:
    """
    Read the direction a walker may use a way in.

    In order: ``oneway:foot`` decides when present (``no`` makes any way two-way); then
    ``foot:forward`` / ``foot:backward`` = ``no``; then ``conveying`` on escalators and moving
    walkways (``forward`` or ``yes`` along the way, ``backward`` against it, ``reversible`` two-way
    as it changes over the day); last plain ``oneway``, which binds walkers only on ways meant for
    them (steps always; footways, paths, pedestrian streets and corridors when no vehicle may use
    them). ``oneway`` on a road is for vehicles: walkers use the pavement both ways.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    int
        0 both ways, 1 along the way only, -1 against it only.
    """
    foot = _oneway_value(tags.get("oneway:foot", ""))
    if foot is not None:
        return foot
    forward_no = tags.get("foot:forward") == "no"
    if forward_no != (tags.get("foot:backward") == "no"):
        return -1 if forward_no else 1
    conveying = tags.get("conveying")
    if conveying is not None:
        # reversible (it changes over the day) and unknown values: walkable both ways
        return _CONVEYING.get(conveying, 0)
    oneway = tags.get("oneway")
    highway = tags.get("highway", "")
    if oneway is None or highway not in _FOOT_ONLY_HIGHWAYS:
        return 0
    if highway != "steps" and any(tags.get(key) in _VEHICLE_ALLOWED for key in _VEHICLE_KEYS):
        return 0
    foot = _oneway_value(oneway)
    return foot or 0


def haversine_m(
    lat1: NDArray[np.float64],
    lon1: NDArray[np.float64],
    lat2: NDArray[np.float64],
    lon2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """
    Compute great-circle distances, element-wise.

    Parameters
    ----------
    lat1, lon1, lat2, lon2
        Coordinates in degrees.

    Returns
    -------
    ndarray
        Distances in metres.
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    result: NDArray[np.float64] = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return result


#: Up to this many point-to-candidate distances a nearest-point search compares them all
#: (numpy, in blocks); beyond, it builds a KD-tree (scipy.spatial, imported only then).
BRUTE_FORCE_PAIRS = 20_000_000
#: Distances held in memory at once by the exhaustive search (a CPU cache's worth).
_BLOCK_PAIRS = 1 << 15


def nearest_xy(
    candidates: tuple[NDArray[np.float64], NDArray[np.float64]],
    queries: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """
    Find the nearest candidate of each query point, in plane metres.

    Small searches compare every pair (no index to build, nothing to import; ties go to the
    lowest index); large ones use a KD-tree.

    Parameters
    ----------
    candidates
        ``(x, y)`` of the points searched; at least one.
    queries
        ``(x, y)`` of the query points.

    Returns
    -------
    tuple of ndarray
        ``(index of the nearest candidate, distance)`` per query.
    """
    cx, cy = (np.asarray(v, dtype=np.float64).reshape(-1) for v in candidates)
    qx, qy = (np.asarray(v, dtype=np.float64).reshape(-1) for v in queries)
    if qx.size * cx.size > BRUTE_FORCE_PAIRS:
        from scipy.spatial import cKDTree  # noqa: PLC0415

        dist, found = cKDTree(np.column_stack([cx, cy])).query(np.column_stack([qx, qy]))
        return np.asarray(found, dtype=np.int64), np.asarray(dist, dtype=np.float64)
    index = np.zeros(qx.size, dtype=np.int64)
    squared = np.zeros(qx.size)
    step = max(1, _BLOCK_PAIRS // max(cx.size, 1))
    for lo in range(0, qx.size, step):
        d2 = cx[None, :] - qx[lo : lo + step, None]
        d2 *= d2
        dy = cy[None, :] - qy[lo : lo + step, None]
        dy *= dy
        d2 += dy
        best = np.argmin(d2, axis=1)
        index[lo : lo + step] = best
        squared[lo : lo + step] = d2[np.arange(best.size), best]
    return index, np.sqrt(squared)


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """
    Compute the initial compass bearing from one point to another.

    Parameters
    ----------
    lat1, lon1, lat2, lon2
        Coordinates in degrees.

    Returns
    -------
    float
        Degrees clockwise from north, in [0, 360).
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def local_xy(
    lat: NDArray[np.float64] | float,
    lon: NDArray[np.float64] | float,
    *,
    lat0: float,
    lon0: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """
    Project degrees to metres on a plane tangent at latitude ``lat0`` (equirectangular).

    Parameters
    ----------
    lat, lon
        Coordinates in degrees.
    lat0
        Latitude where the scale is true.
    lon0
        Longitude of the origin.

    Returns
    -------
    tuple of ndarray
        ``(x, y)``: metres east of ``lon0`` and north of the equator (or of ``lat0`` when the
        caller subtracts it first). Within 0.1 % over a few kilometres.
    """
    k = math.pi / 180.0 * EARTH_RADIUS_M
    x = (np.asarray(lon, dtype=float) - lon0) * k * math.cos(math.radians(lat0))
    y = np.asarray(lat, dtype=float) * k
    return x, y


@dataclass(frozen=True)
class GraphMeta:
    """Where a graph came from.

    Attributes
    ----------
    source
        ``"file:<path>"``, ``"overpass:<url>"``; ``"demo:helsinki"`` for the demo extract.
    area
        The area's label, or ``""`` for a whole extract.
    data_date
        The OSM data's date as ISO 8601 text, or ``""`` when unknown.
    build_s
        Seconds the build took (reading excluded).
    """

    source: str
    area: str = ""
    data_date: str = ""
    build_s: float = 0.0


@dataclass(frozen=True, eq=False)
class WalkGraph:
    """A walking graph in arrays: nodes, undirected edges with geometry, and their attributes.

    Node arrays have one row per node (``n``), edge arrays one row per undirected edge (``m``).
    Strings (highway, name, surface) are indices into ``strings``; -1 means absent.

    Attributes
    ----------
    node_osm_id, node_lat, node_lon
        OSM ids and WGS84 coordinates (degrees) of the nodes.
    edge_u, edge_v
        Node indices at the start and end of each edge, in the way's direction.
    edge_length_m
        Edge lengths in metres, along their geometry.
    edge_osm_id
        The OSM way each edge comes from.
    edge_highway, edge_name, edge_surface
        Indices into ``strings``.
    edge_lit
        1 lit, 0 not lit, -1 unknown.
    edge_direction
        0 walkable both ways, 1 only from u to v, -1 only from v to u.
    edge_pleasantness
        A ``Pleasantness`` value.
    edge_area
        0 for a piece of a way; 1 for a straight link across a walkable ``area=yes`` way and 2
        across a walkable multipolygon relation (``edge_osm_id`` is then that way or relation).
    geom_offset
        Edge ``i``'s geometry is rows ``geom_offset[i]:geom_offset[i+1]`` of ``geom_lat`` /
        ``geom_lon``, from u to v (``m + 1`` entries).
    geom_lat, geom_lon
        All edge geometries, concatenated.
    strings
        The string table.
    meta
        Provenance.
    """

    node_osm_id: NDArray[np.int64]
    node_lat: NDArray[np.float64]
    node_lon: NDArray[np.float64]
    edge_u: NDArray[np.int32]
    edge_v: NDArray[np.int32]
    edge_length_m: NDArray[np.float64]
    edge_osm_id: NDArray[np.int64]
    edge_highway: NDArray[np.int32]
    edge_name: NDArray[np.int32]
    edge_surface: NDArray[np.int32]
    edge_lit: NDArray[np.int8]
    edge_direction: NDArray[np.int8]
    edge_pleasantness: NDArray[np.int8]
    edge_area: NDArray[np.int8]
    geom_offset: NDArray[np.int64]
    geom_lat: NDArray[np.float64]
    geom_lon: NDArray[np.float64]
    strings: tuple[str, ...]
    meta: GraphMeta = field(default_factory=lambda: GraphMeta(source=""))

    #: Names of the array fields, in order (used by the cache).
    ARRAY_FIELDS: ClassVar[tuple[str, ...]] = (
        "node_osm_id", "node_lat", "node_lon", "edge_u", "edge_v", "edge_length_m",
        "edge_osm_id", "edge_highway", "edge_name", "edge_surface", "edge_lit",
        "edge_direction", "edge_pleasantness", "edge_area", "geom_offset", "geom_lat",
        "geom_lon",
    )  # fmt: skip

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_lat.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges (way pieces between junctions)."""
        return int(self.edge_u.shape[0])

    @property
    def n_arcs(self) -> int:
        """Number of directed edges (osmnx counts these): two per two-way edge, one per one-way."""
        return int(self.arc_tail.shape[0])

    @property
    def walkable_km(self) -> float:
        """Total length of the walkable ways, each counted once, in kilometres.

        Straight links across squares and pedestrian areas are not counted: they are ways
        through one open space, many of them over the same ground.
        """
        return float(self.edge_length_m[self.edge_area == 0].sum() / 1000.0)

    @property
    def pedestrian_areas(self) -> int:
        """Number of walkable areas (squares, pedestrian zones) crossed on straight links."""
        across = self.edge_area > 0
        pairs = np.column_stack([self.edge_area[across].astype(np.int64), self.edge_osm_id[across]])
        return int(np.unique(pairs, axis=0).shape[0])

    @property
    def bbox(self) -> BBox:
        """The nodes' bounding box as ``(west, south, east, north)``."""
        from walks.types import BBox  # noqa: PLC0415 - avoid a cycle at import time

        return BBox(
            float(self.node_lon.min()),
            float(self.node_lat.min()),
            float(self.node_lon.max()),
            float(self.node_lat.max()),
        )

    @property
    def edge_steps(self) -> NDArray[np.bool_]:
        """True for edges that are flights of steps."""
        if "steps" not in self.strings:
            return np.zeros(self.n_edges, dtype=bool)
        steps: NDArray[np.bool_] = self.edge_highway == self.strings.index("steps")
        return steps

    def string(self, index: int) -> str | None:
        """
        Look up a string-table entry.

        Parameters
        ----------
        index
            An index from ``edge_highway``, ``edge_name`` or ``edge_surface``.

        Returns
        -------
        str or None
            The string, or None for -1.
        """
        return None if index < 0 else self.strings[index]

    @cached_property
    def _arcs(self) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
        """Directed edges as ``(tail, head, edge)``; an edge is walked backwards where tail is v."""
        both = self.edge_direction == 0
        fwd = np.flatnonzero(both | (self.edge_direction == 1)).astype(np.int32)
        bwd = np.flatnonzero(both | (self.edge_direction == -1)).astype(np.int32)
        tail = np.concatenate([self.edge_u[fwd], self.edge_v[bwd]])
        head = np.concatenate([self.edge_v[fwd], self.edge_u[bwd]])
        return tail, head, np.concatenate([fwd, bwd])

    @property
    def arc_tail(self) -> NDArray[np.int32]:
        """Tail node of each directed edge."""
        return self._arcs[0]

    @property
    def arc_head(self) -> NDArray[np.int32]:
        """Head node of each directed edge."""
        return self._arcs[1]

    @property
    def arc_edge(self) -> NDArray[np.int32]:
        """Undirected edge index of each directed edge."""
        return self._arcs[2]

    def csr(
        self, edge_cost: NDArray[np.float64] | None = None
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """
        Build routing matrices: arc costs, and which edge each arc uses.

        Where parallel edges join the same two nodes, the cheaper one is kept.

        Parameters
        ----------
        edge_cost
            A cost per undirected edge (``m`` values, all > 0); None uses ``edge_length_m``.

        Returns
        -------
        cost : scipy.sparse.csr_matrix
            ``n`` by ``n`` matrix of arc costs, for ``scipy.sparse.csgraph`` routines.
        edge : scipy.sparse.csr_matrix
            Same sparsity; entry ``(a, b)`` is 1 + the index of the edge used from a to b.
        """
        cost = self.edge_length_m if edge_cost is None else np.asarray(edge_cost, dtype=float)
        tail, head, edge = self._arcs
        arc_cost = np.maximum(cost[edge], 1e-9)
        order = np.lexsort((arc_cost, head, tail))
        tail, head, edge, arc_cost = tail[order], head[order], edge[order], arc_cost[order]
        first = np.ones(tail.shape[0], dtype=bool)
        first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        shape = (self.n_nodes, self.n_nodes)
        rows, cols = tail[first], head[first]
        cost_m = sp.csr_matrix((arc_cost[first], (rows, cols)), shape=shape)
        edge_m = sp.csr_matrix(((edge[first] + 1).astype(np.int64), (rows, cols)), shape=shape)
        return cost_m, edge_m

    @cached_property
    def _incidence(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Edges by end node: ``(edge ids sorted by node, start offset per node)``."""
        ends = np.concatenate([self.edge_u, self.edge_v])
        order = np.argsort(ends, kind="stable")
        edges = np.concatenate([np.arange(self.n_edges)] * 2)[order]
        offsets = np.searchsorted(ends[order], np.arange(self.n_nodes + 1))
        return edges, offsets

    def node_edges(self, node: int) -> NDArray[np.int64]:
        """
        List the edges that end at a node.

        Parameters
        ----------
        node
            The node index.

        Returns
        -------
        ndarray
            Edge indices (a loop edge may appear twice).
        """
        edges, offsets = self._incidence
        return edges[offsets[node] : offsets[node + 1]]

    @cached_property
    def _node_xy(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Node positions in a local metric projection (see ``_project``)."""
        return self._project(self.node_lat, self.node_lon)

    def _project(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """
        Project coordinates to metres on a plane tangent at the graph's centre.

        Parameters
        ----------
        lat, lon
            Coordinates in degrees.

        Returns
        -------
        tuple of ndarray
            ``(x, y)`` in metres (east, north).
        """
        return local_xy(lat, lon, lat0=float(np.mean(self.node_lat)))

    def nearest_node(self, point: LatLon) -> tuple[int, float]:
        """
        Find the graph node nearest to a point.

        Parameters
        ----------
        point
            The point (latitude, longitude).

        Returns
        -------
        tuple
            ``(node index, distance in metres)``.

        Raises
        ------
        NoWalkError
            When the point is not a pair of finite coordinates on the globe.
        """
        try:
            lat, lon = float(point[0]), float(point[1])
        except (TypeError, ValueError, IndexError) as err:
            msg = f"point {point!r} is not a (lat, lon) pair: give e.g. LatLon(48.88, 2.35)"
            raise NoWalkError(msg) from err
        if not (abs(lat) <= 90.0 and abs(lon) <= 180.0):  # noqa: PLR2004 - False for NaN
            msg = (
                f"point {lat!r},{lon!r} is not on the globe: give latitude and longitude in degrees"
            )
            raise NoWalkError(msg)
        x, y = self._project(np.array([lat]), np.array([lon]))
        idx, dist = nearest_xy(self._node_xy, (x, y))
        return int(idx[0]), float(dist[0])

    def nearest_nodes(
        self, lats: NDArray[np.float64], lons: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """
        Find the graph nodes nearest to many points at once (as ``nearest_node`` does for one).

        Parameters
        ----------
        lats, lons
            The points in degrees.

        Returns
        -------
        tuple of ndarray
            ``(node indices, distances in metres)``.

        Raises
        ------
        NoWalkError
            When a point is not on the globe.
        """
        lats = np.asarray(lats, dtype=np.float64).reshape(-1)
        lons = np.asarray(lons, dtype=np.float64).reshape(-1)
        if not lats.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        ok = (np.abs(lats) <= 90.0) & (np.abs(lons) <= 180.0)  # noqa: PLR2004 - False for NaN
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            msg = (
                f"point {float(lats[bad])!r},{float(lons[bad])!r} is not on the globe: give "
                "latitude and longitude in degrees"
            )
            raise NoWalkError(msg)
        return nearest_xy(self._node_xy, self._project(lats, lons))

    def edge_coords(self, edge: int) -> NDArray[np.float64]:
        """
        Return an edge's geometry.

        Parameters
        ----------
        edge
            The edge index.

        Returns
        -------
        ndarray
            ``(k, 2)`` array of ``(lat, lon)`` rows from u to v.
        """
        lo, hi = self.geom_offset[edge], self.geom_offset[edge + 1]
        return np.column_stack([self.geom_lat[lo:hi], self.geom_lon[lo:hi]])

    def to_networkx(self, *, geometry: bool = True) -> nx.MultiDiGraph[int]:
        """
        Convert to an osmnx-style ``networkx.MultiDiGraph``.

        Nodes are keyed by OSM id with ``x`` (longitude) and ``y`` (latitude); every directed
        edge carries ``osmid``, ``length``, ``highway``, ``name``, ``pleasantness`` and, when
        asked, a shapely ``geometry`` — so osmnx's routing, plotting and stats work on it.

        Parameters
        ----------
        geometry
            Add LineString geometries to the edges.

        Returns
        -------
        networkx.MultiDiGraph
            The graph, with ``crs`` ``"epsg:4326"`` and ``simplified`` True.
        """
        import networkx as nx  # noqa: PLC0415 - only interoperability needs networkx

        graph: nx.MultiDiGraph[int] = nx.MultiDiGraph(
            crs="epsg:4326", simplified=True, source=self.meta.source
        )
        ids = self.node_osm_id.tolist()
        graph.add_nodes_from(
            (ids[i], {"x": x, "y": y})
            for i, (x, y) in enumerate(
                zip(self.node_lon.tolist(), self.node_lat.tolist(), strict=True)
            )
        )
        if geometry:
            from shapely import LineString  # noqa: PLC0415

        for tail, head, edge in zip(*(a.tolist() for a in self._arcs), strict=True):
            forward = tail == self.edge_u[edge]
            data: dict[str, Any] = {
                "osmid": int(self.edge_osm_id[edge]),
                "length": float(self.edge_length_m[edge]),
                "highway": self.string(int(self.edge_highway[edge])),
                "pleasantness": Pleasantness(int(self.edge_pleasantness[edge])).name.lower(),
                "reversed": not forward,
                "oneway": bool(self.edge_direction[edge] != 0),
            }
            name = self.string(int(self.edge_name[edge]))
            if name is not None:
                data["name"] = name
            if geometry:
                coords = self.edge_coords(edge)[:, ::-1]
                data["geometry"] = LineString(coords if forward else coords[::-1])
            graph.add_edge(ids[tail], ids[head], **data)
        return graph


class _Interner:
    """Give each distinct string one index in a table."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int:
        """
        Intern a string.

        Parameters
        ----------
        text
            The string, or None.

        Returns
        -------
        int
            Its index, or -1 for None.
        """
        if text is None:
            return -1
        idx = self._index.get(text)
        if idx is None:
            idx = self._index[text] = len(self.table)
            self.table.append(text)
        return idx


def graph_from_ways(  # noqa: C901, PLR0912, PLR0915 - one pass over the ways, kept together
    osm: OsmWays,
    *,
    clip: Area | None = None,
    source: str | None = None,
) -> WalkGraph:
    """
    Build the walking graph of some OSM ways.

    Ways are split at junctions (a node shared by two ways, or used twice by one), at their
    ends and around nodes missing from the data; ring ways with no junction are split in two.
    With ``clip``, only edges with both ends inside the area are kept. Last, only the largest
    strongly connected component remains.

    Parameters
    ----------
    osm
        The candidate ways (from ``data.read_extract`` or ``overpass.fetch_overpass``).
    clip
        An area to cut the graph to, or None for everything.
    source
        The ``meta.source`` to record; None uses ``osm.source``.

    Returns
    -------
    WalkGraph
        The graph.

    Raises
    ------
    DataError
        When no walkable way remains, or ``osm`` / ``source`` have the wrong type.
    AreaError
        When ``clip`` is not an ``Area``.
    """
    import time  # noqa: PLC0415

    started = time.perf_counter()
    _check_build_arguments(osm, clip, source)
    way_lats, way_lons = _clipped_coords(osm, clip)
    uses: dict[int, int] = {}
    for way, lats_of_way, lons_of_way in zip(osm.ways, way_lats, way_lons, strict=True):
        for ref, lat, lon in zip(way.refs, lats_of_way, lons_of_way, strict=True):
            if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:  # False for NaN  # noqa: PLR2004
                uses[ref] = uses.get(ref, 0) + 1
    from walks.crossing import crossings as find_crossings  # noqa: PLC0415 - it imports us

    crossings = find_crossings(osm, way_lats, way_lons, uses)
    for ref in crossings.split_refs:  # a link ends there: split the ways passing through
        uses[ref] = uses.get(ref, 0) + 2

    node_of: dict[int, int] = {}
    node_lat: list[float] = []
    node_lon: list[float] = []
    pieces_way: list[int] = []
    pieces_u: list[int] = []
    pieces_v: list[int] = []
    flat_lat: list[float] = []
    flat_lon: list[float] = []
    offsets: list[int] = [0]

    def node(ref: int, lat: float, lon: float) -> int:
        idx = node_of.get(ref)
        if idx is None:
            idx = node_of[ref] = len(node_lat)
            node_lat.append(lat)
            node_lon.append(lon)
        return idx

    def emit(
        way_idx: int, refs: Sequence[int], lats: Sequence[float], lons: Sequence[float]
    ) -> None:
        if refs[0] == refs[-1]:
            if len(refs) < 3:  # noqa: PLR2004 - a lone zero-length loop
                return
            mid = len(refs) // 2
            emit(way_idx, refs[: mid + 1], lats[: mid + 1], lons[: mid + 1])
            emit(way_idx, refs[mid:], lats[mid:], lons[mid:])
            return
        pieces_way.append(way_idx)
        pieces_u.append(node(refs[0], lats[0], lons[0]))
        pieces_v.append(node(refs[-1], lats[-1], lons[-1]))
        flat_lat.extend(lats)
        flat_lon.extend(lons)
        offsets.append(len(flat_lat))

    for way_idx, way in enumerate(osm.ways):
        if way_idx in crossings.replaced:
            continue  # an area's outline: its arcs come below
        refs: list[int] = []
        lats: list[float] = []
        lons: list[float] = []
        for ref, lat, lon in zip(way.refs, way_lats[way_idx], way_lons[way_idx], strict=True):
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # noqa: PLR2004
                # NaN: the node is outside the extract; or its coordinates are off the globe
                if len(refs) > 1:
                    emit(way_idx, refs, lats, lons)
                refs, lats, lons = [], [], []
                continue
            if refs and refs[-1] == ref:
                continue  # a node repeated in a row adds nothing
            refs.append(ref)
            lats.append(lat)
            lons.append(lon)
            if len(refs) > 1 and uses[ref] > 1:
                emit(way_idx, refs, lats, lons)
                refs, lats, lons = [ref], [lat], [lon]
        if len(refs) > 1:
            emit(way_idx, refs, lats, lons)
    for way_idx, refs, lats, lons in crossings.outlines:
        emit(way_idx, refs, lats, lons)
    n_ways = len(osm.ways)
    for area, ref_a, lat_a, lon_a, ref_b, lat_b, lon_b in crossings.links:
        emit(n_ways + area, [ref_a, ref_b], [lat_a, lat_b], [lon_a, lon_b])

    where = clip.label if clip is not None else osm.source.split(":", 1)[-1]
    nothing = f"no walkable ways in {where!r}: choose a larger area or another extract"
    if not pieces_u:
        raise DataError(nothing)

    lat_all = np.asarray(flat_lat)
    lon_all = np.asarray(flat_lon)
    off = np.asarray(offsets, dtype=np.int64)
    step = np.zeros(lat_all.shape[0])
    step[1:] = haversine_m(lat_all[:-1], lon_all[:-1], lat_all[1:], lon_all[1:])
    step[off[:-1]] = 0.0  # no distance across piece boundaries
    cum = np.cumsum(step)
    length = cum[off[1:] - 1] - cum[off[:-1]]

    u = np.asarray(pieces_u, dtype=np.int64)
    v = np.asarray(pieces_v, dtype=np.int64)
    nlat = np.asarray(node_lat)
    nlon = np.asarray(node_lon)
    way_dir = np.array(
        [_foot_direction(w.tags) for w in osm.ways] + [0] * len(crossings.osm_ids), dtype=np.int8
    )
    piece_way = np.asarray(pieces_way, dtype=np.int64)
    direction = way_dir[piece_way]
    # keep the largest strongly connected component (by node count); every node is on an edge
    tails = np.concatenate([u[direction >= 0], v[direction <= 0]])
    heads = np.concatenate([v[direction >= 0], u[direction <= 0]])
    n_all = nlat.shape[0]
    adj = sp.csr_matrix((np.ones(tails.shape[0]), (tails, heads)), shape=(n_all, n_all))
    _, labels = connected_components(adj, directed=True, connection="strong")
    best = int(np.argmax(np.bincount(labels)))
    keep_edge = (labels[u] == best) & (labels[v] == best)
    if not keep_edge.any():
        raise DataError(nothing)

    edges = np.flatnonzero(keep_edge)
    node_keep = np.zeros(nlat.shape[0], dtype=bool)
    node_keep[u[edges]] = node_keep[v[edges]] = True
    new_index = np.cumsum(node_keep) - 1
    refs_by_index = np.empty(nlat.shape[0], dtype=np.int64)
    refs_by_index[list(node_of.values())] = list(node_of.keys())

    lo, hi = off[edges], off[edges + 1]
    counts = hi - lo
    new_off = np.zeros(edges.shape[0] + 1, dtype=np.int64)
    new_off[1:] = np.cumsum(counts)
    gather = np.repeat(lo - new_off[:-1], counts) + np.arange(new_off[-1])

    strings = _Interner()
    way_attrs = [
        (
            strings(tags.get("highway")),
            strings(tags.get("name")),
            strings(tags.get("surface")),
            _lit(tags.get("lit")),
            int(pleasantness_from_tags(tags)),
        )
        for tags in itertools.chain((w.tags for w in osm.ways), crossings.tags)
    ]
    attrs = np.array(way_attrs, dtype=np.int64).reshape(-1, 5)[piece_way[edges]]
    way_ids = np.array([w.osm_id for w in osm.ways] + crossings.osm_ids, dtype=np.int64)
    way_area = np.array([0] * n_ways + crossings.kinds, dtype=np.int8)

    date = osm.data_date
    return WalkGraph(
        node_osm_id=refs_by_index[node_keep],
        node_lat=nlat[node_keep],
        node_lon=nlon[node_keep],
        edge_u=new_index[u[edges]].astype(np.int32),
        edge_v=new_index[v[edges]].astype(np.int32),
        edge_length_m=length[edges],
        edge_osm_id=way_ids[piece_way[edges]],
        edge_highway=attrs[:, 0].astype(np.int32),
        edge_name=attrs[:, 1].astype(np.int32),
        edge_surface=attrs[:, 2].astype(np.int32),
        edge_lit=attrs[:, 3].astype(np.int8),
        edge_direction=direction[edges],
        edge_pleasantness=attrs[:, 4].astype(np.int8),
        edge_area=way_area[piece_way[edges]],
        geom_offset=new_off,
        geom_lat=lat_all[gather],
        geom_lon=lon_all[gather],
        strings=tuple(strings.table),
        meta=GraphMeta(
            source=source or osm.source,
            area=clip.label if clip is not None else "",
            data_date=_iso(date),
            build_s=time.perf_counter() - started,
        ),
    )


def _check_build_arguments(osm: object, clip: object, source: object) -> None:
    """
    Check the arguments of ``graph_from_ways``, naming a bad value and the fix.

    Parameters
    ----------
    osm, clip, source
        As given to ``graph_from_ways``.

    Raises
    ------
    DataError
        When ``osm`` is not an ``OsmWays`` or ``source`` is not text.
    AreaError
        When ``clip`` is not an ``Area``.
    """
    from walks.data import OsmWays  # noqa: PLC0415 - data.py is light, but keep imports lazy
    from walks.types import Area  # noqa: PLC0415

    if not isinstance(osm, OsmWays):
        msg = (
            f"graph_from_ways needs an OsmWays, not {type(osm).__name__}: "
            "give the result of read_extract or fetch_overpass"
        )
        raise DataError(msg)
    if clip is not None and not isinstance(clip, Area):
        msg = f"clip must be an Area (from resolve_area), not {type(clip).__name__}: or give None"
        raise AreaError(msg)
    if source is not None and not isinstance(source, str):
        msg = f"source must be text, not {type(source).__name__}: e.g. 'file:/data/map.osm'"
        raise DataError(msg)


def _clipped_coords(
    osm: OsmWays, clip: Area | None
) -> tuple[
    list[tuple[float, ...]] | list[list[float]], list[tuple[float, ...]] | list[list[float]]
]:
    """
    Return the ways' coordinates with nodes outside the clip area set to NaN.

    Cutting at node level, before junctions are found, makes a clipped graph the same whether
    its ways came from a larger extract or from an Overpass query of the area alone.

    Parameters
    ----------
    osm
        The ways.
    clip
        The area, or None to keep every node.

    Returns
    -------
    tuple
        Per-way latitudes and longitudes.
    """
    if clip is None:
        return [w.lats for w in osm.ways], [w.lons for w in osm.ways]
    import shapely  # noqa: PLC0415

    sizes = [len(w.lats) for w in osm.ways]
    total = sum(sizes)
    lat = np.fromiter(itertools.chain.from_iterable(w.lats for w in osm.ways), float, total)
    lon = np.fromiter(itertools.chain.from_iterable(w.lons for w in osm.ways), float, total)
    outside = ~shapely.contains_xy(clip.polygon, lon, lat)
    lat[outside] = np.nan
    lon[outside] = np.nan
    cuts = np.cumsum(sizes)[:-1]
    return [a.tolist() for a in np.split(lat, cuts)], [a.tolist() for a in np.split(lon, cuts)]


def _iso(date: dt.datetime | None) -> str:
    """
    Format a date for ``GraphMeta``.

    Parameters
    ----------
    date
        The date, or None.

    Returns
    -------
    str
        ISO 8601 text with a ``Z`` suffix, or ``""``.
    """
    if date is None:
        return ""
    return date.strftime("%Y-%m-%dT%H:%M:%SZ")
