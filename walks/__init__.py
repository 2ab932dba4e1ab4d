"""walks: plan pleasant city walks from OpenStreetMap data.

The public names below are loaded when first used (PEP 562): ``import walks`` stays cheap,
and the command-line tool (``walks.cli``) sets up its process before numpy and scipy load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# the submodule ``walks.geocode`` shares its name with the function: imported here, the
# function takes the package's attribute (importing the submodule later would otherwise
# set the module there, and ``walks.geocode("Paris")`` would fail). It loads no numpy.
from walks.geocode import geocode

if TYPE_CHECKING:
    from walks.api import generate_walks, stops_in_area
    from walks.area import resolve_area
    from walks.errors import (
        AreaError,
        CacheError,
        DataError,
        ExportError,
        GeocodeError,
        NoWalkError,
        ServiceError,
        WalksError,
    )
    from walks.export import gpx_text, walk_geojson, walk_summary
    from walks.loader import load_graph
    from walks.planner import plan_walk, solve_orienteering
    from walks.stops import find_stops
    from walks.types import Area, BBox, LatLon, Leg, PlanRequest, Step, Stop, VisitedStop, Walk

    __version__: str

#: The module each public name comes from.
_HOMES = {
    name: module
    for module, names in (
        ("walks.api", "generate_walks stops_in_area"),
        ("walks.area", "resolve_area"),
        ("walks.errors", "AreaError CacheError DataError ExportError GeocodeError"),
        ("walks.errors", "NoWalkError ServiceError WalksError"),
        ("walks.export", "gpx_text walk_geojson walk_summary"),
        ("walks.loader", "load_graph"),
        ("walks.planner", "plan_walk solve_orienteering"),
        ("walks.stops", "find_stops"),
        ("walks.types", "Area BBox LatLon Leg PlanRequest Step Stop VisitedStop Walk"),
    )
    for name in names.split()
}  # fmt: skip

__all__ = [
    "Area",
    "AreaError",
    "BBox",
    "CacheError",
    "DataError",
    "ExportError",
    "GeocodeError",
    "LatLon",
    "Leg",
    "NoWalkError",
    "PlanRequest",
    "ServiceError",
    "Step",
    "Stop",
    "VisitedStop",
    "Walk",
    "WalksError",
    "__version__",
    "find_stops",
    "generate_walks",
    "geocode",
    "gpx_text",
    "load_graph",
    "plan_walk",
    "resolve_area",
    "solve_orienteering",
    "stops_in_area",
    "walk_geojson",
    "walk_summary",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - each public name has its own type
    """
    Load a public name from its module when first asked for.

    Parameters
    ----------
    name
        The attribute.

    Returns
    -------
    Any
        The function, class or ``__version__`` (the installed version, ``"0.0.0"`` in a
        source tree that is not installed).

    Raises
    ------
    AttributeError
        For a name that is not public.
    """
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            value: Any = version("walks")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0"
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        msg = f"module 'walks' has no attribute {name!r}"
        raise AttributeError(msg)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """
    List the module's names, the public ones not yet loaded included.

    Returns
    -------
    list of str
        The names.
    """
    return sorted({*globals(), *__all__})
