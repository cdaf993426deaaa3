"""Pipeline stages: which adder, comparator, popcount, memory read or broadcast sits in which
register stage of every loop of the plan.

A pipelined loop works on one item per cycle; the item issued in cycle c is in stage s during
cycle c + s, and stage s is the logic between the registers at its start and those at its
end.  `hwmodel.plan` builds each loop's stages here and takes its depth from them (the last
stage writes the item's results), the RTL backend builds exactly these stages (it reads each
stage's index by name through `hls.rtl.context`), `hwmodel.fmax` prices the path of every
stage, and `hwmodel.resources` prices the registers between them.

Each stage lists its logic in series along its longest path (logic in parallel with it, such
as the subtraction beside the threshold compare, is named in `what`) and the fan-out of the
widest net it broadcasts.  The depth of each stage's logic is bounded by a rule that only the
widths set: one carry chain of the widest adder or comparator, or a popcount over at most
`POPCOUNT_LEVELS` adder levels; a wider popcount takes more stages, so a loop's depth grows
with the width it handles, never the logic per stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "POPCOUNT_CHUNK",
    "POPCOUNT_LEVELS",
    "Logic",
    "Stage",
    "popcount_levels",
    "popcount_stages",
    "popcount_tree",
]

LogicKind = Literal[
    "add", "compare", "equal", "mux", "or", "popcount", "xorshift", "read", "control"
]
POPCOUNT_CHUNK = 6  # bits counted by one LUT level (three LUT6 give a 3-bit count)
POPCOUNT_LEVELS = 2  # adder levels of a popcount per stage, after the chunk counts


def _log(n: int, base: int) -> int:
    """LUT levels of a tree over n inputs with `base` inputs per LUT (0 for one input)."""
    return 0 if n <= 1 else math.ceil(math.log(n, base) - 1e-9)


@dataclass(frozen=True)
class Logic:
    """One piece of logic on a stage's path: `bits` is the width of an adder or comparator,
    the inputs of a mux, OR or popcount, the words of a register-file read."""

    kind: LogicKind
    bits: int
    levels: tuple[int, int] = (0, -1)  # popcount: the tree levels in this stage, first..last

    @property
    def lut_levels(self) -> int:
        """LUT levels the piece adds to the path (a carry chain's first LUT included)."""
        if self.kind in ("add", "compare"):
            return 1
        if self.kind == "equal":  # LUT6s each compare 3 bit pairs, then an AND tree
            return 1 + _log(math.ceil(self.bits / 3), 6)
        if self.kind in ("mux", "read"):  # a LUT6 is a 4:1 mux (MUXF7/F8 count as one more)
            return _log(self.bits, 4)
        if self.kind == "or":
            return _log(self.bits, 6)
        if self.kind == "xorshift":  # three shift-XOR rounds fold into two LUT levels
            return 2
        if self.kind == "control":  # the sequencer's state decode and next-phase select
            return 2 + _log(self.bits, 4)
        if self.kind == "popcount":  # chunk counts in one LUT level, then its adder levels
            return (self.levels[0] == 0) + len(self._adder_levels)
        return 0

    @property
    def carry4(self) -> int:
        """CARRY4 cells the piece chains on the path."""
        if self.kind in ("add", "compare"):
            return math.ceil(self.bits / 4)
        if self.kind == "popcount":  # each adder level: a short chain of the level's width
            return sum(math.ceil(level_bits(self.bits, k) / 4) for k in self._adder_levels)
        return 0

    @property
    def _adder_levels(self) -> range:
        first, last = self.levels
        return range(max(first, 1), min(last, popcount_levels(self.bits)) + 1)


@dataclass(frozen=True)
class Stage:
    """One register stage of a loop: its index (cycles after issue), the name the RTL gives
    it, its logic in series, the widest broadcast (`fanout` datapaths driven by one net) and
    the bits it registers per neuron datapath (`registers`, 0 for control only)."""

    index: int
    name: str
    logic: tuple[Logic, ...]
    what: str
    fanout: int = 1
    registers: int = 0

    @property
    def lut_levels(self) -> int:
        return sum(piece.lut_levels for piece in self.logic)

    @property
    def carry4(self) -> int:
        return sum(piece.carry4 for piece in self.logic)


def popcount_levels(bits: int) -> int:
    """Adder levels of a popcount tree over `bits` inputs after the chunk counts."""
    return _log(math.ceil(bits / POPCOUNT_CHUNK), 2)


def level_bits(bits: int, level: int) -> int:
    """Width of a node at `level` of the tree (level 0: a chunk count)."""
    return min(POPCOUNT_CHUNK << level, bits).bit_length()


def _registered(level: int, levels: int) -> bool:
    """A register follows this tree level: every `POPCOUNT_LEVELS + 1` levels, and the root."""
    return level == levels or (
        level >= POPCOUNT_LEVELS and (level - POPCOUNT_LEVELS) % (POPCOUNT_LEVELS + 1) == 0
    )


def popcount_stages(bits: int) -> list[Logic]:
    """The popcount over `bits` inputs, one piece per stage it takes: the chunk counts and
    `POPCOUNT_LEVELS` adder levels in the first, `POPCOUNT_LEVELS + 1` in each further one."""
    levels = popcount_levels(bits)
    ends = [k for k in range(levels + 1) if _registered(k, levels)]
    starts = [0, *(end + 1 for end in ends[:-1])]
    return [Logic("popcount", bits, (a, b)) for a, b in zip(starts, ends, strict=True)]


def popcount_tree(bits: int, levels: int) -> list[dict]:
    """The levels of a popcount pipeline over `bits` inputs, padded with pass-through levels to
    `levels` adder levels (two popcounts of one loop register at the same boundaries): per
    level its node count, node width and whether a register follows it.  Level 0 holds the
    chunk counts."""
    out = []
    nodes = math.ceil(bits / POPCOUNT_CHUNK)
    for level in range(levels + 1):
        if level:
            nodes = math.ceil(nodes / 2)
        out.append(
            {
                "nodes": nodes,
                "width": level_bits(bits, level),
                "registered": _registered(level, levels),
            }
        )
    return out
