"""Consoles for everything dse prints: rich markup off, so that user-supplied text (paths,
study names, failure reasons) is printed as written; a path holding ``[/x]`` cannot crash
the printer and ``[bold]`` cannot vanish from it. Colour is given as a style, never as markup.

User text never reaches the terminal with its control characters: `printable` writes them
as Python escapes (``\\x1b``, ``\\n``), so a study file's key cannot clear the screen, set the
window title or forge a second ``error:`` line."""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

#: C0 and C1 controls, DEL, and the Unicode line separators and bidirectional overrides that
#: reorder or break what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text: object, newlines: bool = False) -> str:
    """`text` with every control character escaped (``\\x1b``, ``\\n``, ``\\u202e``): one
    line, safe on a terminal.  With `newlines`, line breaks are kept (a message that is
    several lines by design) and only the other controls are escaped."""
    pattern = _CONTROL_BUT_NEWLINE if newlines else _CONTROL
    return pattern.sub(_escape, str(text))


def console(stderr: bool = False) -> Console:
    """A console that never parses markup or highlights numbers in user text."""
    return Console(stderr=stderr, markup=False, highlight=False, soft_wrap=True)


def flagged(label: str, style: str, message: object) -> Text:
    """`label` in `style` followed by `message` as written, e.g. a red "error:" line; control
    characters other than its line breaks are escaped."""
    return Text.assemble((label, style), " ", printable(message, newlines=True))
