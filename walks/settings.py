"""Constant defaults: user agent, service endpoints, cache location, limits and tolerances.

Nothing here is mutated at run time. Functions take these values as keyword defaults, and
callers override them with arguments (or the CLI's options / environment variables).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

#: Identifies us to OpenStreetMap services, as their usage policies require.
USER_AGENT = "walks-city-walk-planner/0.1 (+https://github.com/walks-planner/walks)"

#: Overpass API base URL (without ``/interpreter``); the CLI reads ``WALKS_OVERPASS_URL`` too.
OVERPASS_URL = "https://overpass-api.de/api"

#: Nominatim base URL; the CLI reads ``WALKS_NOMINATIM_URL`` too.
NOMINATIM_URL = "https://nominatim.openstreetmap.org"

#: Seconds to wait for one HTTP reply (capped by the run's deadline, see ``RUN_TIMEOUT_S``).
REQUEST_TIMEOUT_S = 180.0

#: Seconds a whole run may spend on online services: every request, back-off pause and
#: ``Retry-After`` wait of a command fits in it (the CLI's ``--timeout``; library calls made
#: outside ``walks._http.deadline`` get this much each).
RUN_TIMEOUT_S = 300.0

#: Most redirects followed for one request (a redirect loop ends after this many).
MAX_REDIRECTS = 10

#: Largest reply body read from a service, in bytes (after decompression).
MAX_REPLY_BYTES = 512 * 1024 * 1024

#: Longest place name sent to the geocoder, in characters.
MAX_QUERY_CHARS = 300

#: How many times a request is tried in all when a service answers 429, 5xx or times out.
MAX_ATTEMPTS = 4

#: First back-off pause in seconds; it doubles on every further attempt.
BACKOFF_S = 2.0

#: Longest single back-off pause in seconds. A ``Retry-After`` header is honoured as given,
#: unless it reaches beyond the run's deadline: then the run ends at once.
MAX_BACKOFF_S = 60.0

#: Nominatim's usage policy allows one request per second at most.
NOMINATIM_MIN_DELAY_S = 1.0

#: Largest area, in square kilometres, that is fetched from Overpass in one go.
MAX_AREA_KM2 = 30.0

#: Radius in metres used around a point when the area is a point and no radius is given.
DEFAULT_RADIUS_M = 1000.0

#: Walking speed in km/h.
WALKING_SPEED_KPH = 4.5


def default_cache_dir() -> Path:
    """
    Return the per-user cache directory.

    The ``WALKS_CACHE_DIR`` environment variable overrides the platform default
    (for example ``~/.cache/walks`` on Linux).

    Returns
    -------
    Path
        The cache directory; it is not created here.
    """
    env = os.environ.get("WALKS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("walks", appauthor=False))
