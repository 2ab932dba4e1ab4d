r"""Text from OSM, files and users made safe for a terminal: control characters shown, never sent.

A name in OpenStreetMap can hold any Unicode: ESC starts terminal sequences (colours, cursor
moves, OSC 8 links, OSC 52 clipboard writes), BEL rings, C1 codes such as U+009B act as ESC [ on
some terminals, and bidirectional overrides reorder what the reader sees. ``visible`` writes each
of them as an escape such as ``\\x1b`` or ``\\u202e``, so the text stays readable and nothing
reaches the terminal as a command.
"""

from __future__ import annotations

import json
import re

#: C0 controls (but tab and line feed), DEL, C1 controls, and the bidirectional formatting
#: characters (embeddings, overrides and isolates, marks excluded).
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: The same, with tab and line feed, for one-line fields.
CONTROL_OR_BREAK = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    r"""
    Write one character as a Python-style escape.

    Parameters
    ----------
    match
        The character.

    Returns
    -------
    str
        ``\\xNN`` or ``\\uNNNN``.
    """
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"  # noqa: PLR2004


def visible(text: str, *, one_line: bool = False) -> str:
    """
    Show control characters as escapes, so that the text is safe to print on a terminal.

    Parameters
    ----------
    text
        Any text.
    one_line
        Also escape tabs and line feeds (for a table cell or a field in a line).

    Returns
    -------
    str
        The text, with every control character replaced by its escape.
    """
    return (CONTROL_OR_BREAK if one_line else CONTROL).sub(_escape, text)


def has_control(text: str) -> bool:
    """
    Say whether a text holds any control character (tabs and line feeds included).

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    bool
        True when ``visible(text, one_line=True)`` would change it.
    """
    return CONTROL_OR_BREAK.search(text) is not None


def terminal_json(value: object, *, indent: int | None = None) -> str:
    r"""
    Write strict JSON whose text is safe on a terminal.

    ``json.dumps`` with ``ensure_ascii=False`` already escapes C0 controls, but not C1 controls,
    line and paragraph separators or bidirectional overrides; these are written as ``\\uNNNN``
    escapes too (they can only occur inside strings, so the JSON means the same). NaN and
    infinities are refused, as strict JSON has no such numbers.

    Parameters
    ----------
    value
        JSON-serialisable data with finite numbers.
    indent
        As for ``json.dumps``.

    Returns
    -------
    str
        The JSON text.

    Raises
    ------
    ValueError
        When the data holds NaN or an infinity.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=indent)
    return CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
