"""walks.store_tags asks the tag rules of walks.data for a block's objects at once, as a dict would."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from walks.data import (
    HEIGHT_KEYS,
    LANDCOVER_KEYS,
    WALKABLE_KEYS,
    building_height,
    is_walkable,
    landcover_kind,
)
from walks.store_groups import _tags_of, _tags_text
from walks.store_tags import BlockTags

_KEYS = ["highway", "foot", "access", "service", "motorroad", "area", "natural", "water",
         "landuse", "waterway", "leisure", "amenity", "place", "building", "height", "name",
         "building:height", "building:levels", "roof:levels"]  # fmt: skip
_VALUES = ["footway", "cycleway", "motorway", "yes", "no", "private", "designated", "grass",
           "water", "park", "pedestrian", "square", "forest", "12 m", "", "a\x1eb", "{x", "3",
           "40 ft", "2.5", "-1"]  # fmt: skip


class _Reading(dict[str, str]):
    """Tags that remember which keys were read."""

    def __init__(self, tags: dict[str, str]) -> None:
        super().__init__(tags)
        self.read: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


@pytest.mark.parametrize(("rule", "keys"), [(is_walkable, WALKABLE_KEYS),
                                            (landcover_kind, LANDCOVER_KEYS),
                                            (building_height, HEIGHT_KEYS)])  # fmt: skip
def test_the_rules_read_only_the_keys_they_name(rule: object, keys: tuple[str, ...]) -> None:
    """The store asks a rule once per combination of the values of its keys: it reads no other."""
    rng = np.random.default_rng(3)
    for _ in range(3000):
        tags = _Reading({str(rng.choice(_KEYS)): str(rng.choice(_VALUES))
                         for _ in range(int(rng.integers(0, 6)))})  # fmt: skip
        rule(tags)  # type: ignore[operator]
        assert tags.read <= set(keys), tags.read - set(keys)


def _block(
    objects: list[list[tuple[str, str]]], rng: np.random.Generator, *, twice: bool
) -> BlockTags:
    """A block's string table (with a text twice, as a careless writer may) and its tags."""
    strings = ["", *dict.fromkeys(s for tags in objects for pair in tags for s in pair)]
    if twice:
        strings.insert(int(rng.integers(1, len(strings) + 1)), strings[-1])
    index = {s: i for i, s in enumerate(strings)}  # the second copy is used
    keys = [index[k] for tags in objects for k, _ in tags]
    values = [index[v] for tags in objects for _, v in tags]
    offsets = np.array([0, *itertools.accumulate(len(t) for t in objects)], dtype=np.int64)
    chosen = np.arange(len(objects), dtype=np.int64)
    return BlockTags.of(strings, offsets, np.array(keys, dtype=np.int64),
                        np.array(values, dtype=np.int64), chosen)  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_block_tags_answer_as_a_dict_of_the_tags(seed: int) -> None:
    """Rules, values and text of many objects at once equal each object's dict, keys twice too."""
    rng = np.random.default_rng(seed)
    objects = [
        [(str(rng.choice(_KEYS)), str(rng.choice(_VALUES))) for _ in range(int(rng.integers(1, 7)))]
        for _ in range(300)
    ]
    tags = _block(objects, rng, twice=seed % 2 == 1)
    dicts = [dict(pairs) for pairs in objects]
    assert any(len(d) < len(p) for d, p in zip(dicts, objects, strict=True))  # keys twice
    assert tags.ask(is_walkable, WALKABLE_KEYS) == [is_walkable(d) for d in dicts]
    assert tags.ask(landcover_kind, LANDCOVER_KEYS) == [landcover_kind(d) for d in dicts]
    assert [tags.dict_of(j) for j in range(len(objects))] == dicts
    texts = tags.texts(range(len(objects)))
    assert texts == [_tags_text(d.items(), len(d)) for d in dicts]
    assert [_tags_of(t) for t in texts] == dicts
    assert tags.twice().tolist() == [len(d) < len(p) for d, p in zip(dicts, objects, strict=True)]
    names = [*_KEYS, _KEYS[0], "absent"]  # a key asked twice, a key no object has
    for name, found in zip(names, tags.values_of(names), strict=True):
        np.testing.assert_array_equal(found, tags.value(name))  # all at once, as one by one
    last, first = tags.value("highway"), tags.value("highway", last=False)
    strings = tags.strings
    for j, pairs in enumerate(objects):
        given = [v for k, v in pairs if k == "highway"]
        assert (strings[last[j]] if last[j] >= 0 else None) == (given[-1] if given else None)
        assert (strings[first[j]] if first[j] >= 0 else None) == (given[0] if given else None)


def test_no_objects() -> None:
    tags = BlockTags.of([""], np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))  # fmt: skip
    assert tags.ask(is_walkable, WALKABLE_KEYS) == []
    assert tags.texts([]) == []
    assert tags.value("highway").size == 0


def test_more_combinations_than_one_number_holds() -> None:
    """Values too many to number as one int64 are compared row by row, with the same answers."""
    rng = np.random.default_rng(9)
    pool = [*_VALUES, *(f"v{i}" for i in range(200))]
    objects = [
        [(key, str(rng.choice(pool))) for key in LANDCOVER_KEYS if rng.random() < 0.8]
        or [("name", "x")]
        for _ in range(2000)
    ]
    tags = _block(objects, rng, twice=False)
    counts = [len({t.get(k) for t in map(dict, objects)}) for k in LANDCOVER_KEYS]
    assert np.prod(np.array(counts, dtype=float)) > 2.0**62  # beyond one number
    assert tags.ask(landcover_kind, LANDCOVER_KEYS) == [landcover_kind(dict(p)) for p in objects]


@pytest.mark.parametrize("distinct", [3, 70])
def test_answers_that_are_tuples_by_table_or_by_sort(distinct: int) -> None:
    """Heights (tuples) come back whole, whether the combinations are numbered by a table
    (few) or by a sort (70 values of four keys: more than the table takes)."""
    rng = np.random.default_rng(distinct)
    pool = [f"{rng.integers(1, 40)}.{k}" for k in range(distinct)] + ["3 m", "x"]
    objects = []
    for _ in range(300):
        given = [(key, str(rng.choice(pool))) for key in HEIGHT_KEYS if rng.random() < 0.7]
        objects.append([("building", "yes"), *given])
    tags = _block(objects, rng, twice=False)
    answers = tags.ask(building_height, HEIGHT_KEYS)
    assert answers == [building_height(dict(p)) for p in objects]
    assert all(isinstance(a, tuple) for a in answers)
    assert len(set(answers)) > 2


@pytest.mark.parametrize("seed", range(3))
def test_keys_given_twice_are_found_alike_compiled_or_not(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects of 0 to 60 tags (past what the loop compares pairwise), keys twice, and a text
    twice in the table (compared as text): the compiled loop finds numpy's objects."""
    from walks import pbf_jit

    if not pbf_jit.available():
        pytest.skip("numba")
    rng = np.random.default_rng(seed)
    strings = ["", "a", "b", "c", "d", "a", "e", "f"]  # "a" twice in the table
    sizes = rng.choice([0, 1, 2, 3, 5, 8, 48], 400, p=[0.1, 0.2, 0.2, 0.2, 0.15, 0.1, 0.05])
    sizes[150 + rng.integers(0, 250, 12)] = 60  # only past the first 150 objects
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    keys = rng.integers(1, len(strings), int(starts[-1])).astype(np.int64)
    values = rng.integers(0, len(strings), keys.size).astype(np.int64)
    found = []
    for jit in ("1", "0"):
        monkeypatch.setenv("WALKS_JIT", jit)
        for cut in (400, 150):  # with the objects of 60 tags, and without (all compiled)
            end = int(starts[cut])
            tags = BlockTags(strings, starts[: cut + 1], keys[:end], values[:end])
            with pbf_jit.engaged(0):
                found.append(tags.twice())
    for compiled, plain in zip(found[:2], found[2:], strict=True):
        assert compiled.dtype == plain.dtype == np.bool_
        np.testing.assert_array_equal(compiled, plain)
    assert found[0].any()
    assert not found[0].all()
    monkeypatch.setenv("WALKS_JIT", "1")
    with pbf_jit.engaged(0):
        small = BlockTags(strings, starts[:151], keys, values)
        assert sizes[:150].max() <= pbf_jit._MOST_TAGS
        assert pbf_jit.repeated(keys, small.starts) is not None  # the loop decided
        assert pbf_jit.repeated(keys, starts) is None or sizes.max() <= pbf_jit._MOST_TAGS
