"""Consoles for everything dse prints: rich markup off, so that user-supplied text (paths,
study names, failure reasons) is printed as written; a path holding ``[/x]`` cannot crash
the printer and ``[bold]`` cannot vanish from it. Colour is given as a style, never as markup."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text


def console(stderr: bool = False) -> Console:
    """A console that never parses markup or highlights numbers in user text."""
    return Console(stderr=stderr, markup=False, highlight=False, soft_wrap=True)


def flagged(label: str, style: str, message: object) -> Text:
    """`label` in `style` followed by `message` verbatim, e.g. a red "error:" line."""
    return Text.assemble((label, style), " ", str(message))
