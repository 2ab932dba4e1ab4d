"""The tags of many objects of a PBF block at once (``walks.pbf``), for the store's rows.

The rules about tags live in ``walks.data`` (``is_walkable``, ``landcover_kind``, ...) and take
one object's tags as a dict. Here a rule is asked once per distinct combination of the values
it reads, for all of a block's objects at once, and the tags are written as the store's text
(``walks.store_groups._tags_text``). Tags mean what a dict of them means: a key given twice
has its last value, in its first place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from walks import pbf_jit
from walks.pbf import StringTable, runs_of
from walks.store_groups import _NEXT, _PAIR, Packed, _tags_text

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

_I64 = np.ndarray[Any, np.dtype[np.int64]]
_Bools = np.ndarray[Any, np.dtype[np.bool_]]
_T = TypeVar("_T")

#: The rules' answers so far, by rule and keys, then by the keys' values (None: no such key).
#: Blocks repeat the same combinations (``building=yes`` and no height, ...): a rule runs
#: once for each in the process, not once per block. Answers are immutable (booleans, text,
#: tuples) and the rules are pure functions of the tags they read.
_ANSWERS: dict[tuple[Callable[[dict[str, str]], Any], tuple[str, ...]], dict[Any, Any]] = {}

#: Answers kept per rule at most (forgotten all at once beyond).
_MAX_ANSWERS = 1 << 16

#: No answer yet.
_UNKNOWN = object()


def texts(
    strings: list[str], keys: list[int], values: list[int], spans: list[tuple[int, int]]
) -> list[str]:
    """
    Write each object's tags as ``_tags_text`` does, each key once only.

    Parameters
    ----------
    strings
        The block's string table.
    keys, values
        The block's tags' string indices.
    spans
        Each object's ``(first, end)`` into the tags (non-empty, no key twice).

    Returns
    -------
    list of str
        The texts.
    """

    def slow(a: int, b: int) -> str:
        return _tags_text([(strings[keys[k]], strings[values[k]]) for k in range(a, b)], b - a)

    joined = "".join(strings)
    if _PAIR in joined or _NEXT in joined:
        return [slow(a, b) for a, b in spans]
    pick = strings.__getitem__
    pairs = list(map(_PAIR.join, zip(map(pick, keys), map(pick, values), strict=True)))
    written = [_NEXT.join(pairs[a:b]) for a, b in spans]
    return [
        slow(a, b) if text[0] == "{" else text for text, (a, b) in zip(written, spans, strict=True)
    ]


def texts_of(
    strings: list[str], keys: _I64, values: _I64, first: _I64, last: _I64
) -> list[str] | Packed:
    """
    Write rows' tags as ``texts`` does: with the compiled loop when the table has its bytes.

    Parameters
    ----------
    strings
        The block's string table (a ``walks.pbf.StringTable`` when read by the compiled
        loops).
    keys, values
        The block's tags' string indices.
    first, last
        Each row's tags: ``keys[first[j]:last[j]]`` (non-empty).

    Returns
    -------
    list of str or Packed
        The texts.
    """
    if isinstance(strings, StringTable):
        made = pbf_jit.tag_texts(strings.utf8, (keys, values), first, last)
        if made is not None:
            data, starts, ends, slow = made
            packed = Packed(data, starts, ends)
            if not slow.any():
                return packed
            written: list[str] = packed.items("t")
            for j in np.flatnonzero(slow).tolist():  # a separator in a string: as _tags_text
                a, b = int(first[j]), int(last[j])
                pairs = [(strings[keys[k]], strings[values[k]]) for k in range(a, b)]
                written[j] = _tags_text(pairs, b - a)
            return written
    spans = list(zip(first.tolist(), last.tolist(), strict=True))
    return texts(strings, keys.tolist(), values.tolist(), spans)


@dataclass(frozen=True)
class BlockTags:
    """Some objects' tags, as string indices into their block's string table.

    Attributes
    ----------
    strings
        The block's string table.
    starts
        ``keys[starts[j]:starts[j + 1]]`` are object ``j``'s tags.
    keys, values
        The tags' string indices.
    """

    strings: list[str]
    starts: _I64
    keys: _I64
    values: _I64

    @classmethod
    def of(
        cls, strings: list[str], offsets: _I64, keys: _I64, values: _I64, chosen: _I64
    ) -> BlockTags:
        """
        Take some of a block's objects' tags.

        Parameters
        ----------
        strings
            The block's string table.
        offsets
            ``keys[offsets[i]:offsets[i + 1]]`` are object ``i``'s tags.
        keys, values
            The block's tags.
        chosen
            The objects.

        Returns
        -------
        BlockTags
            Their tags.
        """
        index, starts = runs_of(offsets, chosen)
        return cls(strings, starts, keys[index], values[index])

    def __len__(self) -> int:
        """
        Count the objects.

        Returns
        -------
        int
            How many.
        """
        return len(self.starts) - 1

    def mask(self, names: Collection[str]) -> _Bools:
        """
        Mark the strings that are among some names.

        Parameters
        ----------
        names
            The names.

        Returns
        -------
        numpy.ndarray
            One flag per string of the table.
        """
        index, places = self._index
        flags = np.zeros(len(self.strings), dtype=bool)
        for name in names:
            if name in places:
                flags[places[name]] = True
            elif name in index:
                flags[index[name]] = True
        return flags

    @cached_property
    def _index(self) -> tuple[dict[str, int], dict[str, list[int]]]:
        """
        Index the string table by text.

        Returns
        -------
        tuple of dict
            Each text's place, and every place of the texts the table holds more than once
            (the empty string, at least, in most files' tables).
        """
        table = self.strings
        index = dict(zip(table, range(len(table)), strict=True))
        places: dict[str, list[int]] = {}
        if len(index) < len(table):
            for i, text in enumerate(table):
                if index[text] != i:  # not its last place (which the list starts with)
                    places.setdefault(text, [index[text]]).append(i)
        return index, places

    @cached_property
    def _owner(self) -> _I64:
        """
        Say whose each tag is.

        Returns
        -------
        numpy.ndarray
            The object of each tag.
        """
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.starts))

    def value(self, key: str, *, last: bool = True) -> _I64:
        """
        Find each object's value of a key.

        Parameters
        ----------
        key
            The key.
        last
            The last value when the key is given twice (as a dict of the tags has it), else
            the first (as osmium's ``TagList.get`` gives it).

        Returns
        -------
        numpy.ndarray
            The value's string index, -1 where the object has no such key.
        """
        found = np.full(len(self), -1, dtype=np.int64)
        where = np.flatnonzero(self.mask({key})[self.keys])
        if where.size:
            owner = self._owner[where]
            change = owner[1:] != owner[:-1]
            edge = np.append(change, True) if last else np.insert(change, 0, True)
            found[owner[edge]] = self.values[where[edge]]
        return found

    def values_of(self, names: Sequence[str]) -> list[_I64]:
        """
        Find each object's values of several keys at once, as ``value`` finds each.

        One pass over the tags for all the keys (a rule reads up to 16), not one per key.

        Parameters
        ----------
        names
            The keys.

        Returns
        -------
        list of numpy.ndarray
            For each key, each object's value's string index (its last, as a dict of the
            tags has it), -1 where the object has no such key.
        """
        distinct = list(dict.fromkeys(names))
        index, places = self._index
        which = np.full(len(self.strings), -1, dtype=np.int64)
        for k, name in enumerate(distinct):
            which[places.get(name, [index[name]] if name in index else [])] = k
        key_of = which[self.keys]
        tagged = np.flatnonzero(key_of >= 0)
        found = np.full((len(distinct), len(self)), -1, dtype=np.int64)
        if tagged.size:
            # one number per (object, key); among equal numbers, in the tags' order, the last
            code = self._owner[tagged] * len(distinct) + key_of[tagged]
            order = np.argsort(code, kind="stable")
            ordered = code[order]
            last = tagged[order[np.append(ordered[1:] != ordered[:-1], True)]]
            found[key_of[last], self._owner[last]] = self.values[last]
        return [found[distinct.index(name)] for name in names]

    def ask(self, rule: Callable[[dict[str, str]], _T], keys: Sequence[str]) -> list[_T]:
        """
        Apply a rule to every object, once per distinct combination of the keys' values.

        Parameters
        ----------
        rule
            A function of an object's tags (as a dict) that reads no other keys.
        keys
            The keys it reads.

        Returns
        -------
        list
            Its answer for each object.
        """
        if not len(self):
            return []
        # each key's values numbered densely, then each combination as one number
        values = self.values_of(keys)
        numbered = [self._numbered(v) for v in values]
        combinations = math.prod(len(distinct) for distinct, _ in numbered)
        if combinations < 2**62:
            code = np.zeros(len(self), dtype=np.int64)
            for distinct, dense in numbered:
                code = code * len(distinct) + dense.ravel()
            if combinations <= max(4 * len(self), 2**16):  # numbered by a table, not a sort
                present = np.zeros(combinations, dtype=bool)
                present[code] = True
                codes, inverse = np.flatnonzero(present), (np.cumsum(present) - 1)[code]
            else:
                codes, inverse = np.unique(code, return_inverse=True)
            digits = []
            for distinct, _ in reversed(numbered):
                codes, digit = np.divmod(codes, len(distinct))
                digits.append(distinct[digit])
            combos = np.column_stack(digits[::-1])
        else:  # too many to number: compared row by row
            combos, inverse = np.unique(np.column_stack(values), axis=0, return_inverse=True)
        strings = self.strings
        memo: dict[tuple[str | None, ...], Any] = _ANSWERS.setdefault((rule, tuple(keys)), {})
        if len(memo) > _MAX_ANSWERS:
            memo.clear()
        answers = np.empty(len(combos), dtype=object)  # filled one by one: tuples stay whole
        for j, row in enumerate(combos.tolist()):
            texts = tuple([strings[v] if v >= 0 else None for v in row])
            answer = memo.get(texts, _UNKNOWN)
            if answer is _UNKNOWN:
                answer = rule({k: t for k, t in zip(keys, texts, strict=True) if t is not None})
                memo[texts] = answer
            answers[j] = answer
        found: list[_T] = answers[inverse.ravel()].tolist()
        return found

    def _numbered(self, values: _I64) -> tuple[_I64, _I64]:
        """
        Give values (string indices, -1 for none) dense numbers, by the table: no sort.

        Parameters
        ----------
        values
            The values.

        Returns
        -------
        tuple of numpy.ndarray
            The distinct values (ascending), and each value's number among them.
        """
        present = np.zeros(len(self.strings) + 1, dtype=bool)
        present[values + 1] = True
        rank = np.cumsum(present) - 1
        return np.flatnonzero(present) - 1, rank[values + 1]

    def dict_of(self, j: int) -> dict[str, str]:
        """
        Read one object's tags.

        Parameters
        ----------
        j
            The object.

        Returns
        -------
        dict
            Its tags.
        """
        s, a, b = self.strings, int(self.starts[j]), int(self.starts[j + 1])
        return {s[k]: s[v] for k, v in zip(self.keys[a:b].tolist(), self.values[a:b].tolist(),
                                           strict=True)}  # fmt: skip

    def twice(self) -> _Bools:
        """
        Find the objects that give a key twice (a broken writer's, never OSM's).

        Returns
        -------
        numpy.ndarray
            One flag per object.
        """
        key = self.keys
        places = self._index[1]
        if places:  # a text twice in the table: compare texts, not places
            same = np.arange(len(self.strings), dtype=np.int64)
            for where in places.values():
                same[where] = min(where)
            key = same[key]
        compiled = pbf_jit.repeated(key, self.starts)
        if compiled is not None:
            return compiled
        # one number per (object, key), sorted: a pair given twice sits next to itself
        width = np.int64(len(self.strings) + 1)
        pairs = np.sort(self._owner * width + key)
        flags = np.zeros(len(self), dtype=bool)
        flags[pairs[1:][pairs[1:] == pairs[:-1]] // width] = True
        return flags

    def texts(self, chosen: Sequence[int]) -> list[str] | Packed:
        """
        Write some objects' tags as the store's text, as ``_tags_text`` of their dict.

        Parameters
        ----------
        chosen
            The objects (each with a tag at least).

        Returns
        -------
        list of str or Packed
            The texts.
        """
        rows = np.asarray(chosen, dtype=np.int64)
        written = texts_of(
            self.strings, self.keys, self.values, self.starts[rows], self.starts[rows + 1]
        )
        twice = self.twice()[rows]
        if not twice.any():
            return written
        if isinstance(written, Packed):
            written = written.items("t")
        for place in np.flatnonzero(twice).tolist():  # a key given twice: its dict's text
            tags = self.dict_of(int(rows[place]))
            written[place] = _tags_text(tags.items(), len(tags))
        return written
