"""Zynq-7000 device catalog (resources and power figures per part) and the boards they sit on.

The numbers live in `hwmodel/data/devices.json` and `hwmodel/data/boards.json` next to their
sources, so that a reviewer can check each one against DS190, a Vivado report or a meter
without reading code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from hwmodel.errors import HardwareInputError

__all__ = ["BOARDS", "PARTS", "Board", "Part", "get_board", "get_part", "known_parts"]

_PART_RE = re.compile(r"^(xc7z\d{3}s?)([a-z]{3}\d{3,4})?(-\d)?$")


@dataclass(frozen=True)
class Part:
    """One Zynq-7000 device (a full part string resolves to its die plus package and grade)."""

    name: str  # the string asked for, e.g. xc7z020clg400-1
    device: str  # the die, e.g. xc7z020
    lut: int
    ff: int
    bram36: int
    dsp: int
    lutram: int  # LUTs usable as distributed RAM (SLICEM)
    fabric: str
    packages: tuple[str, ...]
    speed_grades: tuple[str, ...]
    static_w: float  # PL device static power
    ps_w: float  # processing-system (PS7) power at default settings (the PS active)
    ps_idle_w: float  # PS7 power with the cores in WFI (derived from ps_w; an estimate)
    package: str | None = None
    speed_grade: str | None = None

    @property
    def bram18(self) -> int:
        """18 Kb halves available (each RAMB36 splits into two RAMB18)."""
        return 2 * self.bram36

    def part_strings(self) -> list[str]:
        """Every orderable part string of this die, e.g. xc7z020clg400-1."""
        return [f"{self.device}{p}{g}" for p in self.packages for g in self.speed_grades]


@cache
def _catalog() -> dict[str, dict]:
    text = resources.files("hwmodel").joinpath("data/devices.json").read_text()
    return json.loads(text)["parts"]


def _base(device: str, row: dict, name: str, package: str | None, grade: str | None) -> Part:
    return Part(
        name=name,
        device=device,
        lut=row["lut"],
        ff=row["ff"],
        bram36=row["bram36"],
        dsp=row["dsp"],
        lutram=row["lutram"],
        fabric=row["fabric"],
        packages=tuple(row["packages"]),
        speed_grades=tuple(row["speed_grades"]),
        static_w=row["static_w"],
        ps_w=row["ps_w"],
        ps_idle_w=row["ps_idle_w"],
        package=package,
        speed_grade=grade,
    )


PARTS: dict[str, Part] = {dev: _base(dev, row, dev, None, None) for dev, row in _catalog().items()}


def known_parts() -> str:
    """The known dies, comma-separated, for error messages."""
    return ", ".join(PARTS)


def get_part(name: str) -> Part:
    """Resolve a die (xc7z020) or a full part string (xc7z020clg400-1); unknown is an error."""
    text = str(name).strip().lower()
    match = _PART_RE.match(text)
    if match is None or match.group(1) not in PARTS:
        raise HardwareInputError(
            f"part: {name!r} is not a known Zynq-7000 part; use one of {known_parts()} "
            "(optionally with package and speed grade, e.g. xc7z020clg400-1)"
        )
    device, package, grade = match.groups()
    base = PARTS[device]
    if package is not None and package not in base.packages:
        raise HardwareInputError(
            f"part: {name!r} has package {package!r}, which {device} does not come in; "
            f"use one of {', '.join(base.packages)}"
        )
    if grade is not None and grade not in base.speed_grades:
        raise HardwareInputError(
            f"part: {name!r} has speed grade {grade!r}, not offered for {device}; "
            f"use one of {' '.join(base.speed_grades)}"
        )
    return _base(device, _catalog()[device], text, package, grade)


@dataclass(frozen=True)
class Board:
    """A board the accelerator runs on, for the board-level energy figure."""

    name: str  # e.g. pynq-z2
    idle_w: float  # the board's draw with Linux up and the PL configured but idle
    part: str  # the Zynq-7000 part on it, e.g. xc7z020clg400-1


@cache
def _boards() -> dict[str, dict]:
    text = resources.files("hwmodel").joinpath("data/boards.json").read_text()
    return json.loads(text)["boards"]


BOARDS: dict[str, Board] = {
    name: Board(name=name, idle_w=row["idle_w"], part=row["part"])
    for name, row in _boards().items()
}


def get_board(name: str) -> Board:
    """A known board by name (case-insensitive); unknown is an error."""
    text = str(name).strip().lower()
    if text not in BOARDS:
        raise HardwareInputError(
            f"board: {name!r} is not a known board; use one of {', '.join(BOARDS)}"
        )
    return BOARDS[text]
