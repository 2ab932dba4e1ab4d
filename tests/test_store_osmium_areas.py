"""The rows of osmium's areas written at once (``_small_areas``) are those ``_write_area`` writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import osmium
import pytest
from conftest import SHARED

from walks import store_build
from walks.pbf import UnsupportedPbfError
from walks.store_build import _AREAS, _small_areas, _write_area
from walks.store_groups import _SCHEMA
from walks.store_tables import _finish, _Table

DATA = SHARED / "data"
EXTRACTS = {
    "munich": DATA / "osm-munich-altstadt-2020" / "munchen.osm.pbf",
    "andorra": DATA / "osm-andorra-2013" / "andorra.osm.pbf",
}

_Rows = dict[str, list[tuple[Any, ...]]]


def _areas(path: Path) -> Any:
    """osmium's tagged areas of a file, as ``_pass_arrays`` asks for them."""
    untagged = osmium.filter.EmptyTagFilter()
    untagged.enable_for(osmium.osm.AREA)
    processor = osmium.FileProcessor(str(path)).with_locations().with_areas()
    return processor.with_filter(untagged).with_filter(osmium.filter.EntityFilter(osmium.osm.AREA))


def _rows(write: Any) -> _Rows:
    """The rows and R-tree entries of the three tables ``write`` fills, in an empty store."""
    db = sqlite3.connect(":memory:")
    db.executescript(_SCHEMA)
    tables = (_Table(db, "features"), _Table(db, "buildings"), _Table(db, "landcover"))
    zero = write(tables)
    _finish(db, tables)
    names = [
        f"{t}{end}" for t in ("features", "buildings", "landcover") for end in ("", "_rt", "_pages")
    ]
    rows = {n: db.execute(f"SELECT * FROM {n} ORDER BY 1").fetchall() for n in names}
    rows["zero"] = [(zero,)]
    return rows


def _one_by_one(path: Path) -> tuple[_Rows, dict[tuple[str, int], int], list[int]]:
    """The rows ``_write_area`` writes area by area, each area's place, and its rings taken."""
    places: dict[tuple[str, int], int] = {}
    taken: list[int] = []

    def write(tables: tuple[_Table, _Table, _Table]) -> bool:
        wkb = osmium.geom.WKBFactory()
        place, zero = _AREAS, False
        for obj in _areas(path):
            places["w" if obj.from_way() else "r", obj.orig_id()] = place
            count, at_zero = _write_area(obj, place, tables, wkb)
            taken.append(count)
            place, zero = place + count, zero or at_zero
        return zero

    return _rows(write), places, taken


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_areas_written_at_once_are_written_as_one_by_one(name: str) -> None:
    """Features, buildings (of every height source) and land cover, of ways and relations,
    areas of several rings and of none kept: the same rows, boxes and places."""
    path = EXTRACTS[name]
    if not path.exists():
        pytest.skip(f"{path} not present")
    expected, places, taken = _one_by_one(path)
    found = _rows(lambda tables: _small_areas(_areas(path), places, tables))
    assert found == expected
    # the file holds what the rows are made of
    assert len(places) > 100
    assert expected["features_rt"]
    assert expected["features_pages"]
    if name == "munich":
        assert max(taken) > 1  # a relation of several outer rings
        assert len(expected["landcover"])
        assert len(expected["buildings"]) > 10
        assert len(places) > 1000
        assert any(k == "r" for k, _ in places)


def test_an_area_unforeseen_or_of_too_many_rings_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An area without a place, or of more rings than its places: the file is osmium's."""
    path = EXTRACTS["munich"]
    if not path.exists():
        pytest.skip(f"{path} not present")
    _, places, taken = _one_by_one(path)
    key = next(iter(places))
    fewer = {k: v for k, v in places.items() if k != key}
    with pytest.raises(UnsupportedPbfError, match="unforeseen"):
        _rows(lambda tables: _small_areas(_areas(path), fewer, tables))
    monkeypatch.setattr(store_build, "AREA_STEP", max(taken))
    with pytest.raises(UnsupportedPbfError, match="too many rings"):
        _rows(lambda tables: _small_areas(_areas(path), places, tables))


def test_a_point_at_exactly_zero_is_said(tmp_path: Path) -> None:
    """A building on the prime meridian (a sign of unreadable coordinates in an XML file), a
    park away from it, and a relation of two outer rings: said as one by one."""
    points = [(1, 51.5, 0.0), (2, 51.5, 0.001), (3, 51.501, 0.001), (4, 51.501, 0.0)]
    points += [(10 + k, 51.6 + dy, 0.1 + dx) for k, (dy, dx) in enumerate(
        [(0, 0), (0, 0.01), (0.01, 0.01), (0.01, 0), (0.1, 0.1), (0.1, 0.11), (0.11, 0.11)]
    )]  # fmt: skip
    nodes = "".join(f'<node id="{i}" version="1" lat="{y}" lon="{x}"/>' for i, y, x in points)
    ways = (
        '<way id="100" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/>'
        '<nd ref="1"/><tag k="building" v="yes"/><tag k="building:levels" v="4"/></way>'
        '<way id="101" version="1"><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="13"/>'
        '<nd ref="10"/></way>'
        '<way id="102" version="1"><nd ref="14"/><nd ref="15"/><nd ref="16"/><nd ref="14"/></way>'
    )
    relation = (
        '<relation id="200" version="1"><member type="way" ref="101" role="outer"/>'
        '<member type="way" ref="102" role="outer"/><tag k="type" v="multipolygon"/>'
        '<tag k="leisure" v="park"/></relation>'
    )
    path = tmp_path / "zero.osm"
    path.write_text(f'<osm version="0.6">{nodes}{ways}{relation}</osm>')
    expected, places, taken = _one_by_one(path)
    assert sorted(taken) == [1, 2]
    found = _rows(lambda tables: _small_areas(_areas(path), places, tables))
    assert found == expected
    assert found["zero"] == [(True,)]
    assert len(found["landcover"]) == len(found["buildings"]) == len(found["features"]) == 1
