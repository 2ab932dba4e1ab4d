"""Small immutable value types shared across the package."""

from __future__ import annotations

import datetime as dt  # noqa: TC003 - a dataclass field type
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from shapely import Polygon


class LatLon(NamedTuple):
    """A WGS84 point, latitude first (as geopy and folium order it)."""

    lat: float
    lon: float


class BBox(NamedTuple):
    """A WGS84 bounding box as ``(west, south, east, north)`` in degrees (osmnx order)."""

    west: float
    south: float
    east: float
    north: float


AreaKind = Literal["place", "bbox", "point"]


@dataclass(frozen=True, slots=True)
class Area:
    """A region to walk in.

    Attributes
    ----------
    label
        What the user asked for, for messages and cache listings.
    kind
        ``"place"`` (geocoded name), ``"bbox"`` or ``"point"`` (a centre and a radius).
    polygon
        The region's outline in WGS84 (x = longitude, y = latitude).
    """

    label: str
    kind: AreaKind
    polygon: Polygon

    @property
    def bbox(self) -> BBox:
        """The region's bounding box as ``(west, south, east, north)``."""
        west, south, east, north = self.polygon.bounds
        return BBox(west, south, east, north)

    @property
    def key(self) -> str:
        """A stable text key for caches: the outline with coordinates rounded to 1e-6 degrees."""
        from shapely import set_precision  # noqa: PLC0415 - shapely is heavy; only needed here

        return str(set_precision(self.polygon, 1e-6).wkt)


@dataclass(frozen=True, slots=True)
class Stop:
    """A place worth stopping at on a walk.

    Attributes
    ----------
    id
        Stable identifier, e.g. ``"cafe:node/123"``.
    osm_id
        The OSM element, e.g. ``"node/123"`` or ``"way/45"``.
    name
        Its name (untrusted OSM text: escape it before putting it in HTML or XML).
    category
        The category key, e.g. ``"cafe"``, ``"studio"``, ``"view"``.
    location
        Where it is.
    node
        The nearest walking-graph node (index into the graph's node arrays).
    score
        How worth the detour it is (higher is better, > 0).
    reason
        One human sentence: why this stop.
    opening
        ``"open"``, ``"closes_soon"``, ``"closed"`` or ``"unknown"`` at the expected arrival.
    hours
        Human note on opening hours ("open until 18:00", "hours unknown").
    opening_hours
        The raw OSM ``opening_hours`` value ("" when absent).
    closes
        Local closing time after the arrival (``"18:00"``), "" when unknown or not computed.
    view
        For view stops: what is seen of the landmark.
    """

    id: str
    osm_id: str
    name: str
    category: str
    location: LatLon
    node: int
    score: float
    reason: str = ""
    opening: str = "unknown"
    hours: str = ""
    opening_hours: str = ""
    view: ViewInfo | None = None
    closes: str = ""


@dataclass(frozen=True, slots=True)
class ViewInfo:
    """What a view stop sees of its landmark.

    Attributes
    ----------
    landmark
        The landmark's name.
    landmark_location
        Where the landmark stands.
    visible_fraction
        Share of the landmark's height in sight (0..1).
    distance_m
        Distance to the landmark.
    bearing_deg
        Compass bearing towards it.
    unknown_m
        Length of the sight line over ground without building data.
    lit
        How well the sun lights it from behind the walker (0..1), at the expected time.
    golden_hour
        Whether the sun is low (golden hour) then.
    known_share
        Share of the sight line over ground with building data (0..1); the rest rests on
        ``assumed_roofline_m``.
    assumed_roofline_m
        Building height assumed where the sight line has no building data.
    """

    landmark: str
    landmark_location: LatLon
    visible_fraction: float
    distance_m: float
    bearing_deg: float
    unknown_m: float = 0.0
    lit: float = 0.0
    golden_hour: bool = False
    known_share: float = 1.0
    assumed_roofline_m: float = 0.0


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What the walker asks for.

    Attributes
    ----------
    start
        Where to start: a point (snapped to the graph) or a node index.
    end
        Where to end; None for a loop back to the start.
    minutes
        Time budget in minutes, dwell at stops included (give this or ``km``).
    km
        Walking distance budget in kilometres (dwell not counted).
    stops
        Categories to visit with how many of each, e.g. ``(("cafe", 1), ("studio", 2))``.
    order
        Categories in the order they must come, e.g. ``("cafe",)`` for "a café first".
    must_visit
        Ids of stops that must be on the walk.
    dwell_s
        Seconds spent at a stop, per category; categories not listed use ``default_dwell_s``.
    default_dwell_s
        Dwell for categories absent from ``dwell_s``.
    speed_kph
        Walking speed.
    pleasant_weight
        How strongly to prefer quiet lanes and pedestrian streets (0 = shortest paths).
    avoid_steps
        Avoid flights of steps where there is another way.
    seed
        Random seed: the same request and seed give the same walk.
    alternatives
        How many different walks to return (best first).
    allow_repeats
        Fill the budget by walking streets again when the area has too few to fill it without
        repeats (the share walked twice is reported in ``Walk.retraced_share``).
    soft_stops
        The stops are defaults the walker did not ask for: categories the area lacks or the
        budget cannot hold are dropped with a ``stop_dropped`` warning instead of an error.
    at
        Local departure time (naive wall clock of the area): stops must be open when the walk
        reaches them and for their whole dwell (their ``opening_hours`` are time windows).
        None: hours are not enforced.
    time_limit_s
        Safety guard on the search time per walk. The search is bounded by work, so the same
        request and seed give the same walk on any machine; the guard only fires (and logs)
        when a machine is far slower than expected, and then the walk may differ.
    """

    start: LatLon | int
    end: LatLon | int | None = None
    minutes: float | None = None
    km: float | None = None
    stops: tuple[tuple[str, int], ...] = ()
    order: tuple[str, ...] = ()
    must_visit: tuple[str, ...] = ()
    dwell_s: tuple[tuple[str, float], ...] = (("cafe", 900.0),)
    default_dwell_s: float = 300.0
    speed_kph: float = 4.5
    pleasant_weight: float = 1.0
    avoid_steps: bool = False
    seed: int = 0
    alternatives: int = 1
    time_limit_s: float = 30.0
    allow_repeats: bool = False
    soft_stops: bool = False
    at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class WalkWarning:
    """Something the walker should know about a walk: a shortfall, a dropped stop, a move.

    Attributes
    ----------
    code
        A stable key for scripts: ``area_too_small``, ``budget_short``, ``budget_long``,
        ``stop_dropped``, ``stop_far_from_route``, ``closed_on_arrival``, ``start_moved``,
        ``end_moved``, ``retraced``, ``terrain_missing``, ``nodes_dropped`` (input nodes left
        out for unreadable coordinates).
    message
        One human sentence with the cause and the numbers.
    """

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Step:
    """One instruction of turn-by-turn directions: follow a street for a distance.

    Attributes
    ----------
    street
        The street's name, or None for an unnamed way.
    highway
        Its OSM highway class.
    length_m
        How far to follow it.
    turn_deg
        Signed change of heading on entering it (-180..180; negative is left).
    instruction
        The sentence, e.g. ``"turn left onto Rue Lepic, 120 m"``.
    """

    street: str | None
    highway: str | None
    length_m: float
    turn_deg: float
    instruction: str


ManeuverType = Literal["depart", "turn", "continue", "fork", "uturn", "arrive"]


@dataclass(frozen=True, slots=True)
class Maneuver:
    """One turn prompt: what to do at a point, then how far to go (as Valhalla and OSRM give them).

    Attributes
    ----------
    type
        ``depart``, ``turn``, ``continue``, ``fork``, ``uturn`` or ``arrive``.
    modifier
        ``straight``, ``slight left``, ``left``, ``sharp left``, ``slight right``, ``right``,
        ``sharp right`` or ``uturn``; for an arrival the side of the stop (``left``, ``right``,
        ``straight``).
    name
        The street's name, or the way described ("the footpath", "the steps").
    distance_m
        How far to walk after it, to the next maneuver (0 for an arrival).
    lat, lon
        Where it is.
    instruction
        The sentence, e.g. ``"Turn left onto Rue Lepic, 120 m"``.
    """

    type: ManeuverType
    modifier: str
    name: str
    distance_m: float
    lat: float
    lon: float
    instruction: str


@dataclass(frozen=True, slots=True)
class Leg:
    """The way from one point of the walk (start or stop) to the next.

    Attributes
    ----------
    nodes
        Graph node indices along the leg.
    edges
        Graph edge indices along the leg.
    length_m
        Its length.
    walking_time_s
        Time to walk it.
    steps
        Turn-by-turn directions (a U-turn starts a step that reads "turn back").
    u_turns
        Positions in ``nodes`` where the walk turns straight back along the way it came.
    maneuvers
        Turn prompts, the last an arrival (see ``walks.directions.maneuvers``).
    """

    nodes: tuple[int, ...]
    edges: tuple[int, ...]
    length_m: float
    walking_time_s: float
    steps: tuple[Step, ...]
    u_turns: tuple[int, ...] = ()
    maneuvers: tuple[Maneuver, ...] = ()


@dataclass(frozen=True, slots=True)
class VisitedStop:
    """A stop on a walk and when the walker gets there.

    Attributes
    ----------
    stop
        The stop.
    arrival_s
        Seconds after departure.
    leg
        Index of the leg that ends at it.
    wait_s
        Seconds waited there for it to open (``arrival_s`` is when the visit starts, after it).
    reached_at
        The walk's point nearest the stop, where the visit is made (None: the stop's node).
    reach_distance_m
        Distance from the stop to that point.
    """

    stop: Stop
    arrival_s: float
    leg: int
    wait_s: float = 0.0
    reached_at: LatLon | None = None
    reach_distance_m: float = 0.0


@dataclass(frozen=True, slots=True)
class Walk:
    """A planned walk.

    Attributes
    ----------
    stops
        The stops in walking order, with arrival times.
    nodes
        Every graph node along the walk, from start to finish.
    geometry
        The walk's full line, point by point.
    legs
        Start → first stop → … → finish; scenic detours are inside legs.
    length_m
        Walking length.
    walking_time_s
        Walking time (length / speed).
    total_time_s
        Walking time plus time spent at stops.
    pleasant_share
        Share of the length on quiet lanes and pedestrian streets.
    retraced_share
        Length walked more than once, over the total length.
    dead_end_spurs
        How many times the walk turns straight back on itself.
    budget_error
        Signed error against the budget asked: (measured - asked) / asked, on total time for a
        minutes budget and on length for a km budget.
    seed
        The seed it was planned with.
    warnings
        What the walker should know: shortfalls against the budget with their cause, stops
        dropped, start or end moved onto the nearest walkable way.
    start_offset_m, end_offset_m
        Distance from the asked start and end to where the walk begins and ends.
    climb_m, descent_m
        Total rise and fall along the walk, from the terrain; None without terrain.
    """

    stops: tuple[VisitedStop, ...]
    nodes: tuple[int, ...]
    geometry: tuple[LatLon, ...]
    legs: tuple[Leg, ...]
    length_m: float
    walking_time_s: float
    total_time_s: float
    pleasant_share: float
    retraced_share: float
    dead_end_spurs: int
    budget_error: float
    seed: int
    warnings: tuple[WalkWarning, ...] = ()
    start_offset_m: float = 0.0
    end_offset_m: float = 0.0
    climb_m: float | None = None
    descent_m: float | None = None
