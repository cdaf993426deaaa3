"""Design knobs given as command-line flags, turned into one AcceleratorConfig the same way
by every command that takes them (`dse estimate`, `dse export --model`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from hwmodel.devices import get_part
from hwmodel.template import AcceleratorConfig

#: AcceleratorConfig fields a command may take as flags (widths come separately).
KNOB_FIELDS = frozenset(f.name for f in dataclasses.fields(AcceleratorConfig)) - {
    "widths",
    "extra",
}


def design_from_flags(widths: tuple[int, ...], flags: Mapping[str, Any]) -> AcceleratorConfig:
    """The design named by a command's flags (its other parameters are ignored); the part is
    checked and spelled canonically, so `xc7z020` and `XC7Z020CLG400-1` price and build alike."""
    knobs = {name: value for name, value in flags.items() if name in KNOB_FIELDS}
    if "part" in knobs:
        knobs["part"] = get_part(knobs["part"]).name
    return AcceleratorConfig(widths=widths, **knobs)
