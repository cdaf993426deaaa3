"""Golden vectors: the integer model's outputs that the C-simulation must reproduce.

A plain whitespace-separated text file so that the C++ testbench reads it with `>>` and the
Vitis HLS csim flow can copy it next to the executable.  Layout: a header line
``n_images n_inputs runs classes hidden``, then one line per image: label, pixels,
``runs * classes`` scores (run-major), spike counts per hidden layer, cycles.  The testbench
writes the kernel's results in the same layout without labels and pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwmodel.errors import HardwareInputError

__all__ = [
    "GoldenVectors",
    "KernelOutputs",
    "format_golden",
    "mismatches",
    "read_golden",
    "read_outputs",
]


@dataclass
class KernelOutputs:
    """What the kernel returns per image (all int64)."""

    scores: np.ndarray  # [runs, N, classes]
    spikes: np.ndarray  # [N, hidden]
    cycles: np.ndarray  # [N]


@dataclass
class GoldenVectors(KernelOutputs):
    """Kernel outputs plus the inputs that produced them."""

    inputs: np.ndarray  # [N, n_inputs] unsigned integers
    labels: np.ndarray  # [N]


def _header(n: int, n_inputs: int, runs: int, classes: int, hidden: int) -> str:
    return f"{n} {n_inputs} {runs} {classes} {hidden}\n"


def format_golden(golden: GoldenVectors) -> str:
    """The golden file's text."""
    runs, n, classes = golden.scores.shape
    rows = np.concatenate(
        [
            golden.labels[:, None],
            golden.inputs,
            golden.scores.transpose(1, 0, 2).reshape(n, runs * classes),
            golden.spikes,
            golden.cycles[:, None],
        ],
        axis=1,
    ).astype(np.int64)
    header = _header(n, golden.inputs.shape[1], runs, classes, golden.spikes.shape[1])
    return header + "".join(" ".join(map(str, row)) + "\n" for row in rows.tolist())


def _read(path: Path, with_inputs: bool) -> tuple[tuple[int, ...], np.ndarray]:
    """Header and rows; rows carry label and pixels first when `with_inputs`."""
    tokens = Path(path).read_text(encoding="utf-8").split()
    try:
        header = tuple(int(v) for v in tokens[:5])
        n, n_inputs, runs, classes, hidden = header
        width = (1 + n_inputs if with_inputs else 0) + runs * classes + hidden + 1
        rows = np.array(tokens[5:], dtype=np.int64).reshape(n, width)
    except ValueError:
        raise HardwareInputError(
            f"{path}: not a well-formed vector file (header n inputs runs classes hidden, "
            "then one row per image); re-run `dse export`"
        ) from None
    return header, rows


def _outputs(rows: np.ndarray, runs: int, classes: int, hidden: int) -> KernelOutputs:
    n = rows.shape[0]
    scores = rows[:, : runs * classes].reshape(n, runs, classes).transpose(1, 0, 2)
    return KernelOutputs(
        scores=np.ascontiguousarray(scores),
        spikes=rows[:, runs * classes : runs * classes + hidden],
        cycles=rows[:, -1],
    )


def read_golden(path: str | Path) -> GoldenVectors:
    """Parse a golden file."""
    (n, n_inputs, runs, classes, hidden), rows = _read(Path(path), with_inputs=True)
    out = _outputs(rows[:, 1 + n_inputs :], runs, classes, hidden)
    return GoldenVectors(
        scores=out.scores,
        spikes=out.spikes,
        cycles=out.cycles,
        inputs=rows[:, 1 : 1 + n_inputs],
        labels=rows[:, 0],
    )


def read_outputs(path: str | Path) -> KernelOutputs:
    """Parse the testbench's output file."""
    (_, _, runs, classes, hidden), rows = _read(Path(path), with_inputs=False)
    return _outputs(rows, runs, classes, hidden)


def mismatches(golden: GoldenVectors, got: KernelOutputs, what: str) -> dict[str, int]:
    """Differing scores, spike counts and cycle counts of a simulation's outputs (`what`
    names the simulation in the error when the shapes disagree)."""
    if got.scores.shape != golden.scores.shape or got.spikes.shape != golden.spikes.shape:
        raise HardwareInputError(f"{what} returned results of the wrong shape; re-run `dse export`")
    return {
        "score_mismatches": int((got.scores != golden.scores).sum()),
        "spike_mismatches": int((got.spikes != golden.spikes).sum()),
        "cycle_mismatches": int((got.cycles != golden.cycles).sum()),
    }
