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

from hls.files import MIB, read_limited
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


#: Largest vector file read (10,000 MNIST images take about 40 MiB).
MAX_VECTOR_BYTES = 512 * MIB
_REEXPORT = "re-run `dse export` to rewrite the vectors"


def _read(path: Path, with_inputs: bool) -> tuple[tuple[int, ...], np.ndarray]:
    """Header and rows; rows carry label and pixels first when `with_inputs`.

    The file is ASCII integers that fit int64 (what the testbench reads with `>>` into
    `long long`); anything else is one line naming the file, never a traceback."""
    raw = read_limited(path, MAX_VECTOR_BYTES, _REEXPORT, what="vector file")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise HardwareInputError(
            f"{path}: byte {exc.start} is not ASCII text (a vector file holds whitespace-"
            f"separated integers); {_REEXPORT}"
        ) from None
    tokens = text.split()
    try:
        header = tuple(int(v) for v in tokens[:5])
        n, n_inputs, runs, classes, hidden = header
        if min(header) < 0 or runs < 1 or classes < 1:
            raise ValueError("negative sizes")
        width = (1 + n_inputs if with_inputs else 0) + runs * classes + hidden + 1
        if len(tokens) - 5 != n * width:
            raise ValueError("row count")
        rows = np.array(tokens[5:], dtype=np.int64).reshape(n, width)
    except OverflowError:
        raise HardwareInputError(
            f"{path}: a value is outside the 64-bit integers the kernel computes with; {_REEXPORT}"
        ) from None
    except ValueError:
        raise HardwareInputError(
            f"{path}: not a well-formed vector file (header n inputs runs classes hidden, "
            f"then one row per image of integers); {_REEXPORT}"
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
