"""Turn-by-turn directions for a path on the walking graph.

Two forms: ``directions`` gives one ``Step`` per run along a street (the planner's own record),
``maneuvers`` gives turn prompts as Valhalla and OSRM give them (depart, turn, continue, fork,
uturn, arrive), which the JSON, the text directions and the GPX route are made from.

How maneuvers are made, in order:

1. The path is cut into pieces where the way changes: another street name, or for unnamed ways
   another kind of way ("the footpath", "the steps", "the passage"); a U-turn always starts a
   piece, and so does a turn of 45 degrees or more at a junction of unnamed ways.
2. Pieces are merged: neighbours on the same way, straight runs from one unnamed way to another,
   and every piece under ``SHORT_M`` (into the neighbour it joins, described by the longer),
   except a real turn between two named streets and never across a U-turn.
3. Each piece becomes one maneuver at its first node; the turn is measured between the headings
   ``HEADING_M`` before and after that node along the drawn line (so kinks of a few metres in
   the mapped way do not count). A turn without a street name is told by the nearest named stop
   candidate within ``LANDMARK_M`` ("turn left after Café Regatta").
4. The leg ends with an arrival that says on which side the stop is, from the stop's position
   relative to the last heading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from walks.graph import bearing_deg, haversine_m, local_xy
from walks.types import Maneuver, ManeuverType, Step

if TYPE_CHECKING:
    from collections.abc import Iterable

    from numpy.typing import NDArray

    from walks.graph import WalkGraph
    from walks.types import LatLon, Stop

_COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")


def _turn_words(turn: float) -> str:
    """
    Name a change of heading.

    Parameters
    ----------
    turn
        Signed degrees (negative is left).

    Returns
    -------
    str
        "continue", "bear left", "turn right", "turn back", ...
    """
    size = abs(turn)
    side = "left" if turn < 0 else "right"
    if size < 25:  # noqa: PLR2004
        return "continue"
    if size < 60:  # noqa: PLR2004
        return f"bear {side}"
    if size < 150:  # noqa: PLR2004
        return f"turn {side}"
    return "turn back"


def directions(
    graph: WalkGraph, nodes: list[int], edges: list[int], *, heading_in: float | None = None
) -> tuple[Step, ...]:
    """
    Turn-by-turn steps for a path: one step per run of edges along the same street.

    Parameters
    ----------
    graph
        The graph.
    nodes
        Node indices along the path.
    edges
        Edge indices along the path.
    heading_in
        The heading the walker arrives with (the end of the previous leg), or None at the
        start of the walk. With it, the first step is a turn, and a U-turn at a stop reads
        "turn back".

    Returns
    -------
    tuple of Step
        The steps; without ``heading_in`` the first starts with "head" and a compass direction.
    """

    def street_key(edge: int) -> tuple[int, int, int]:
        name = int(graph.edge_name[edge])
        across = int(graph.edge_area[edge] > 0)  # a link across a square or pedestrian area
        return (name, -1, across) if name >= 0 else (-1, int(graph.edge_highway[edge]), across)

    runs: list[list[int]] = []
    for i, edge in enumerate(edges):
        # a U-turn starts a new step, so that it is announced ("turn back")
        u_turn = i > 0 and nodes[i - 1] == nodes[i + 1]
        if runs and not u_turn and street_key(edges[runs[-1][-1]]) == street_key(edge):
            runs[-1].append(i)
        else:
            runs.append([i])
    steps: list[Step] = []
    prev_heading = heading_in
    for run in runs:
        first, last = run[0], run[-1]
        coords_first = oriented(graph, edges[first], nodes[first])
        coords_last = oriented(graph, edges[last], nodes[last])
        heading = bearing_deg(*coords_first[0], *coords_first[1])
        length = float(graph.edge_length_m[[edges[i] for i in run]].sum())
        street = graph.string(int(graph.edge_name[edges[first]]))
        highway = graph.string(int(graph.edge_highway[edges[first]]))
        kind = (highway or "way").replace("_", " ")
        where = f"onto {street}" if street else f"along the {kind}"
        if graph.edge_area[edges[first]] > 0:
            where = f"across {street}" if street else f"across the {kind} area"
        if prev_heading is None:
            turn = 0.0
            text = f"head {_COMPASS[int((heading + 22.5) % 360 // 45)]} {where}"
        else:
            turn = (heading - prev_heading + 540.0) % 360.0 - 180.0
            text = f"{_turn_words(turn)} {where}"
        steps.append(
            Step(
                street=street,
                highway=highway,
                length_m=length,
                turn_deg=turn,
                instruction=f"{text}, {length:,.0f} m",
            )
        )
        prev_heading = bearing_deg(*coords_last[-2], *coords_last[-1])
    return tuple(steps)


def oriented(graph: WalkGraph, edge: int, from_node: int) -> list[tuple[float, float]]:
    """
    Return an edge's coordinates in walking direction.

    Parameters
    ----------
    graph
        The graph.
    edge
        The edge.
    from_node
        The node it is walked from.

    Returns
    -------
    list of tuple
        ``(lat, lon)`` pairs.
    """
    coords = graph.edge_coords(edge)
    if int(graph.edge_u[edge]) != from_node:
        coords = coords[::-1]
    return [(float(a), float(b)) for a, b in coords]


def final_heading(
    graph: WalkGraph, nodes: list[int] | tuple[int, ...], edges: list[int] | tuple[int, ...]
) -> float | None:
    """
    Return the heading at the end of a path.

    Parameters
    ----------
    graph
        The graph.
    nodes, edges
        The path.

    Returns
    -------
    float or None
        Compass bearing in degrees, or None for an empty path.
    """
    if not edges:
        return None
    coords = oriented(graph, edges[-1], nodes[-2])
    return bearing_deg(*coords[-2], *coords[-1])


# ---------------------------------------------------------------------------- maneuvers

#: Pieces shorter than this (metres) are merged into a neighbour.
SHORT_M = 20.0
#: How far back and ahead along the line a heading is measured (metres).
HEADING_M = 12.0
#: How near a named place must be to a turn to be named in it (metres).
LANDMARK_M = 30.0
#: Turns below this many degrees are "straight"; a new piece between unnamed ways starts at or
#: above ``_BREAK_DEG``.
_STRAIGHT_DEG = 25.0
_SLIGHT_DEG = 60.0
_PLAIN_DEG = 135.0
_BREAK_DEG = 45.0
#: The least bend of a branch at a Y-fork.
_FORK_DEG = 10.0
#: Turns at or above this many degrees are U-turns even when the way is not the same.
_UTURN_DEG = 170.0
#: An arrival closer than this (metres) to the stop says it is here.
_HERE_M = 3.0

#: Unnamed ways described by what they are (never by the raw OSM highway value).
_WAY_WORDS = {
    "footway": "the footpath",
    "path": "the path",
    "cycleway": "the cycle path",
    "bridleway": "the bridleway",
    "steps": "the steps",
    "corridor": "the passage",
    "pedestrian": "the pedestrian street",
    "living_street": "the shared street",
    "service": "the lane",
    "track": "the track",
    "residential": "the side street",
    "elevator": "the lift",
    "platform": "the platform",
}
_STEPS = _WAY_WORDS["steps"]
#: What a closed ring of unnamed pedestrian way (a square mapped as an area) is called.
SQUARE = "the square"


@dataclass(frozen=True)
class Landmarks:
    """Named places a turn without a street name can be told by.

    Attributes
    ----------
    names
        Their names.
    lat, lon
        Their positions (degrees), one per name.
    """

    names: tuple[str, ...]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]

    def near(self, lat: float, lon: float, within_m: float = LANDMARK_M) -> int | None:
        """
        Find the nearest one within a distance (ties: the first).

        Parameters
        ----------
        lat, lon
            The point.
        within_m
            The farthest it may be.

        Returns
        -------
        int or None
            Its index, or None when none is that near.
        """
        if not self.names:
            return None
        dist = haversine_m(self.lat, self.lon, np.full_like(self.lat, lat),
                           np.full_like(self.lon, lon))  # fmt: skip
        best = int(np.argmin(dist))
        return best if float(dist[best]) <= within_m else None


def landmarks(stops: Iterable[Stop | None]) -> Landmarks:
    """
    Collect the named stops (candidates or visited) as landmarks, once per name and place.

    Parameters
    ----------
    stops
        Stops; None entries (start, end, waypoints) are skipped.

    Returns
    -------
    Landmarks
        Sorted by name then position, so the choice among equals is deterministic.
    """
    seen = sorted(
        {(s.name, s.location.lat, s.location.lon) for s in stops if s is not None and s.name}
    )
    return Landmarks(
        names=tuple(n for n, _, _ in seen),
        lat=np.array([a for _, a, _ in seen], dtype=float),
        lon=np.array([b for _, _, b in seen], dtype=float),
    )


NO_LANDMARKS = Landmarks((), np.zeros(0), np.zeros(0))


@dataclass
class _Piece:
    """A stretch of a leg along one way: edges ``start:end`` of the path."""

    start: int
    end: int
    length: float
    key: tuple[str, str]
    u_turn: bool

    @property
    def named(self) -> bool:
        return self.key[0] == "name"

    @property
    def name(self) -> str:
        return self.key[1]


def describe_way(graph: WalkGraph, edge: int) -> tuple[str, str]:
    """
    Name the way an edge lies on: its street name, or what it is.

    Parameters
    ----------
    graph
        The graph.
    edge
        The edge.

    Returns
    -------
    tuple of str
        ``("name", street)`` for a named way, else ``("way", description)`` such as
        ``"the footpath"``, ``"the steps"``, ``"the square"`` (a closed unnamed pedestrian
        way) or ``"the road"``; never a raw highway value.
    """
    street = graph.string(int(graph.edge_name[edge]))
    if street:
        return ("name", street)
    highway = graph.string(int(graph.edge_highway[edge])) or ""
    if graph.edge_area[edge] > 0:  # a straight link across a square or pedestrian area
        return ("way", SQUARE)
    if highway == "pedestrian" and _closed_way(graph, int(graph.edge_osm_id[edge])):
        return ("way", SQUARE)
    return ("way", _WAY_WORDS.get(highway, "the road" if highway else "the way"))


def _closed_way(graph: WalkGraph, way_id: int) -> bool:
    """Whether an OSM way's edges form a ring (every end shared by two of them)."""
    edges = np.flatnonzero(graph.edge_osm_id == way_id)
    ends = np.concatenate([graph.edge_u[edges], graph.edge_v[edges]])
    _, counts = np.unique(ends, return_counts=True)
    return bool(edges.size >= 2 and (counts % 2 == 0).all())  # noqa: PLR2004


def _compass(heading: float) -> str:
    """Name a compass heading (eight points)."""
    return _COMPASS[int((heading + 22.5) % 360 // 45)]


def _signed(turn: float) -> float:
    """Fold degrees into -180..180."""
    return (turn + 540.0) % 360.0 - 180.0


def turn_modifier(turn: float) -> str:
    """
    Name a turn as Valhalla and OSRM do.

    Parameters
    ----------
    turn
        Signed degrees (negative is left).

    Returns
    -------
    str
        ``straight``, ``slight left``, ``left``, ``sharp left`` (and the same to the right).
    """
    size = abs(turn)
    side = "left" if turn < 0 else "right"
    if size < _STRAIGHT_DEG:
        return "straight"
    if size < _SLIGHT_DEG:
        return f"slight {side}"
    if size < _PLAIN_DEG:
        return side
    return f"sharp {side}"


def format_distance(metres: float) -> str:
    """
    Say a distance as a walker reads it: 5 m steps up to 100 m, 10 m to 1 km, then km.

    Parameters
    ----------
    metres
        The distance.

    Returns
    -------
    str
        ``"15 m"``, ``"120 m"``, ``"1.2 km"``.
    """
    if metres < 100:  # noqa: PLR2004
        return f"{max(5, round(metres / 5) * 5):.0f} m"
    if metres < 995:  # noqa: PLR2004
        return f"{round(metres / 10) * 10:.0f} m"
    return f"{metres / 1000:.1f} km"


def _onto(name: str, *, along: bool) -> str:
    """Give a way's name its preposition: onto Rue X, along the footpath, across the square."""
    if name == SQUARE:
        return "across the square"
    return f"along {name}" if along else f"onto {name}"


class _Line:
    """A leg's drawn line, with positions measured in metres along it."""

    def __init__(self, graph: WalkGraph, nodes: list[int], edges: list[int]) -> None:
        lats = [float(graph.node_lat[nodes[0]])]
        lons = [float(graph.node_lon[nodes[0]])]
        at = [0]
        for i, edge in enumerate(edges):
            coords = graph.edge_coords(edge)
            if int(graph.edge_u[edge]) != nodes[i]:
                coords = coords[::-1]
            lats.extend(float(a) for a in coords[1:, 0])
            lons.extend(float(b) for b in coords[1:, 1])
            at.append(len(lats) - 1)
        self.lat = np.array(lats)
        self.lon = np.array(lons)
        self.x, self.y = local_xy(self.lat, self.lon, lat0=lats[0], lon0=lons[0])
        self.y = self.y - self.y[0]
        seg = np.hypot(np.diff(self.x), np.diff(self.y))
        self.s = np.concatenate([[0.0], np.cumsum(seg)])
        self.node_s = self.s[at]
        self.total = float(self.s[-1])

    def point(self, d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Local ``(x, y)`` at distances along the line."""
        return np.interp(d, self.s, self.x), np.interp(d, self.s, self.y)

    def headings(self, d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Headings (degrees) arriving at and leaving distances along the line."""
        px, py = self.point(d)
        bx, by = self.point(np.clip(d - HEADING_M, 0.0, self.total))
        ax, ay = self.point(np.clip(d + HEADING_M, 0.0, self.total))
        h_in = np.degrees(np.arctan2(px - bx, py - by)) % 360.0
        h_out = np.degrees(np.arctan2(ax - px, ay - py)) % 360.0
        return h_in, h_out


def maneuvers(
    graph: WalkGraph,
    nodes: list[int],
    edges: list[int],
    *,
    heading_in: float | None = None,
    arrival: Stop | None = None,
    marks: Landmarks = NO_LANDMARKS,
) -> tuple[Maneuver, ...]:
    """
    Turn prompts for one leg, ending with the arrival.

    Parameters
    ----------
    graph
        The graph.
    nodes, edges
        The leg's path.
    heading_in
        The heading the walker arrives with (end of the previous leg), or None at the start of
        the walk; with it, a leg that sets off back the way it came starts with a U-turn.
    arrival
        The stop the leg ends at, or None for the finish.
    marks
        Named places to tell turns without a street name by.

    Returns
    -------
    tuple of Maneuver
        One per piece of way (see the module's notes), then the arrival.
    """
    if not edges:
        lat, lon = float(graph.node_lat[nodes[0]]), float(graph.node_lon[nodes[0]])
        return (_arrive(arrival, lat, lon, None),)
    line = _Line(graph, nodes, edges)
    h_in, h_out = line.headings(line.node_s)
    turns: NDArray[np.float64] = (h_out - h_in + 540.0) % 360.0 - 180.0
    pieces = _pieces(graph, nodes, edges, turns)
    if heading_in is not None and abs(_signed(float(h_out[0]) - heading_in)) >= _PLAIN_DEG:
        pieces[0].u_turn = True
    pieces = _merge(pieces, turns)
    out: list[Maneuver] = []
    for k, piece in enumerate(pieces):
        i = piece.start
        lat, lon = float(line.lat[0]), float(line.lon[0])
        if i > 0:
            lat, lon = float(graph.node_lat[nodes[i]]), float(graph.node_lon[nodes[i]])
        kind, modifier, text = _what(graph, piece, k, nodes, edges, float(turns[i]),
                                     float(h_in[i]), float(h_out[i]))  # fmt: skip
        if kind in {"turn", "fork", "uturn"} and k > 0 and not piece.named:
            text = _with_landmark(text, marks, lat, lon, line, float(line.node_s[i]))
        out.append(Maneuver(kind, modifier, piece.name, round(piece.length, 1), round(lat, 7),
                            round(lon, 7), f"{text}, {format_distance(piece.length)}"))  # fmt: skip
    end_lat, end_lon = float(line.lat[-1]), float(line.lon[-1])
    out.append(
        _arrive(arrival, end_lat, end_lon, float(line.headings(np.array([line.total]))[0][0]))
    )
    return tuple(out)


def _pieces(
    graph: WalkGraph, nodes: list[int], edges: list[int], turns: NDArray[np.float64]
) -> list[_Piece]:
    """Cut a path where the way changes, at U-turns, and at turns between unnamed ways."""
    pieces: list[_Piece] = []
    keys = [describe_way(graph, e) for e in edges]
    for i, edge in enumerate(edges):
        u_turn = i > 0 and nodes[i - 1] == nodes[i + 1]
        length = float(graph.edge_length_m[edge])
        same = bool(pieces) and keys[i] == pieces[-1].key and not u_turn
        if same and keys[i][0] == "way" and abs(float(turns[i])) >= _BREAK_DEG:
            same = graph.node_edges(nodes[i]).size < 3  # noqa: PLR2004 - a junction
        if same:
            pieces[-1].end = i + 1
            pieces[-1].length += length
        else:
            pieces.append(_Piece(i, i + 1, length, keys[i], u_turn))
    return pieces


def _join(a: _Piece, b: _Piece) -> _Piece:
    """One piece of two neighbours, named after the longer (the first on a tie)."""
    key = a.key if a.length >= b.length else b.key
    return _Piece(a.start, b.end, a.length + b.length, key, a.u_turn)


def _merge(pieces: list[_Piece], turns: NDArray[np.float64]) -> list[_Piece]:
    """Merge neighbours on one way, straight runs of unnamed ways, and short pieces."""
    while True:
        n = len(pieces)
        # same way, or straight on from one unnamed way to another: one piece
        for k in range(1, n):
            a, b = pieces[k - 1], pieces[k]
            if b.u_turn:
                continue
            same_way = a.key == b.key and (a.named or abs(float(turns[b.start])) < _BREAK_DEG)
            straight_on = (
                not a.named and not b.named and abs(float(turns[b.start])) < _STRAIGHT_DEG
                and _STEPS not in {a.name, b.name}  # steps are always told
            )  # fmt: skip
            if same_way or straight_on:
                pieces[k - 1 : k + 1] = [_join(a, b)]
                break
        else:
            # the shortest piece under SHORT_M that may go, into a neighbour
            order = sorted(range(n), key=lambda k: (pieces[k].length, k))
            for k in order:
                p = pieces[k]
                if p.length >= SHORT_M or n == 1:
                    return pieces
                prev = pieces[k - 1] if k > 0 else None
                nxt = pieces[k + 1] if k + 1 < n else None
                real_turn = (
                    prev is not None and p.named and prev.named
                    and abs(float(turns[p.start])) >= _BREAK_DEG
                )  # fmt: skip
                if real_turn:
                    continue
                if prev is not None and not p.u_turn:
                    pieces[k - 1 : k + 1] = [_join(prev, p)]
                    break
                if nxt is not None and not nxt.u_turn:
                    pieces[k : k + 2] = [_join(p, nxt)]
                    break
            else:
                return pieces


def _what(
    graph: WalkGraph,
    piece: _Piece,
    k: int,
    nodes: list[int],
    edges: list[int],
    turn: float,
    h_in: float,
    h_out: float,
) -> tuple[ManeuverType, str, str]:
    """Choose the maneuver's type, modifier and words (without the distance)."""
    name = piece.name
    if piece.u_turn or (k > 0 and abs(turn) >= _UTURN_DEG):
        where = "across the square" if name == SQUARE else f"along {name}"
        return "uturn", "uturn", f"Turn around and walk back {where}"
    if k == 0:
        where = (
            "across the square"
            if name == SQUARE
            else f"{'along' if name.startswith('the ') else 'on'} {name}"
        )
        return "depart", "straight", f"Head {_compass(h_out)} {where}"
    modifier = turn_modifier(turn)
    if _FORK_DEG <= abs(turn) < _SLIGHT_DEG:
        other = _fork_branch(graph, nodes[piece.start], edges[piece.start - 1],
                             edges[piece.start], h_in)  # fmt: skip
        if other is not None and other * turn < 0:
            side = "left" if turn < other else "right"
            return "fork", f"slight {side}", f"Keep {side} at the fork {_onto(name, along=False)}"
    if modifier == "straight":
        return "continue", modifier, f"Continue {_onto(name, along=not piece.named)}"
    side = modifier.split()[-1]
    verb = {"slight": f"Bear {side}", "sharp": f"Turn sharp {side}"}.get(
        modifier.split()[0], f"Turn {side}"
    )
    return "turn", modifier, f"{verb} {_onto(name, along=False)}"


def _fork_branch(
    graph: WalkGraph, node: int, in_edge: int, out_edge: int, h_in: float
) -> float | None:
    """
    Find the other branch of a Y-fork: a three-way node left by two ways bending apart.

    Parameters
    ----------
    graph
        The graph.
    node
        The node.
    in_edge, out_edge
        The edges walked into and out of it.
    h_in
        The heading arriving.

    Returns
    -------
    float or None
        The signed turn onto the other branch, or None when the node is not such a fork.
    """
    others = [int(e) for e in graph.node_edges(node) if int(e) not in {in_edge, out_edge}]
    if len(others) != 1:
        return None
    coords = oriented(graph, others[0], node)
    far = coords[min(len(coords) - 1, 2)]
    turn = _signed(bearing_deg(*coords[0], *far) - h_in)
    return turn if abs(turn) < _SLIGHT_DEG else None


def _with_landmark(
    text: str, marks: Landmarks, lat: float, lon: float, line: _Line, at: float
) -> str:
    """Add "after <name>" (passed) or "before <name>" (ahead) to a turn's words."""
    found = marks.near(lat, lon)
    if found is None:
        return text
    h_in = float(line.headings(np.array([at]))[0][0])
    px, py = line.point(np.array([at]))
    mx, my = local_xy(marks.lat[found], marks.lon[found], lat0=float(line.lat[0]),
                      lon0=float(line.lon[0]))  # fmt: skip
    my = my - local_xy(line.lat[0], line.lon[0], lat0=float(line.lat[0]))[1]
    along = (float(mx) - float(px[0])) * math.sin(math.radians(h_in)) + (
        float(my) - float(py[0])
    ) * math.cos(math.radians(h_in))
    word = "after" if along <= 0 else "before"
    verb, _, rest = text.partition(" onto ")
    if not rest:
        return f"{text} {word} {marks.names[found]}"
    return f"{verb} {word} {marks.names[found]} onto {rest}"


def _arrive(stop: Stop | None, lat: float, lon: float, heading: float | None) -> Maneuver:
    """Make the arrival: the side the stop is on, from the heading the walker arrives with."""
    if stop is None:
        return Maneuver("arrive", "straight", "the finish", 0.0, round(lat, 7), round(lon, 7),
                        "Arrive at the finish")  # fmt: skip
    label = stop.name or f"The {stop.category}"
    x, y = local_xy(stop.location.lat, stop.location.lon, lat0=lat, lon0=lon)
    y = y - local_xy(lat, lon, lat0=lat)[1]
    dx, dy = float(x), float(y)
    if heading is None or math.hypot(dx, dy) < _HERE_M:
        modifier, where = "straight", "is here"
    else:
        fx, fy = math.sin(math.radians(heading)), math.cos(math.radians(heading))
        along, lateral = dx * fx + dy * fy, dx * fy - dy * fx
        if abs(lateral) >= _HERE_M and abs(lateral) >= 0.25 * abs(along):
            modifier = "right" if lateral > 0 else "left"
            where = f"is on your {modifier}"
        elif along >= 0:
            modifier, where = "straight", "is straight ahead"
        else:
            modifier, where = "uturn", "is just behind you"
    return Maneuver("arrive", modifier, stop.name, 0.0, round(lat, 7), round(lon, 7),
                    f"{label} {where}")  # fmt: skip


def lengthen(
    steps: tuple[Maneuver, ...],
    *,
    start_m: float = 0.0,
    start: LatLon | None = None,
    end_m: float = 0.0,
    end: LatLon | None = None,
) -> tuple[Maneuver, ...]:
    """
    Add the parts of split edges walked before the first node and after the last.

    Parameters
    ----------
    steps
        A leg's maneuvers (the last an arrival).
    start_m, end_m
        Metres added to the first maneuver and to the last before the arrival.
    start, end
        Where the walk really begins and ends (moves the first maneuver and the arrival).

    Returns
    -------
    tuple of Maneuver
        The maneuvers, their distances and instructions updated.
    """
    from dataclasses import replace  # noqa: PLC0415

    out = list(steps)
    moves = ((0, start_m, start), (len(out) - 2, end_m, None))
    for i, extra, where in moves:
        if 0 <= i < len(out) and out[i].type != "arrive" and extra > 0:
            m = out[i]
            longer = m.distance_m + extra
            words = m.instruction.rsplit(", ", 1)[0]
            out[i] = replace(m, distance_m=round(longer, 1),
                             instruction=f"{words}, {format_distance(longer)}")  # fmt: skip
        if where is not None and i == 0 and out:
            out[0] = replace(out[0], lat=round(where.lat, 7), lon=round(where.lon, 7))
    if end is not None and out:
        out[-1] = replace(out[-1], lat=round(end.lat, 7), lon=round(end.lon, 7))
    return tuple(out)
