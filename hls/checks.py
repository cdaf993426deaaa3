"""What the C-simulation (`dse csim`) and the RTL simulation (`dse sim`) of an exported project
check alike: the project's files, design.json's settings, the golden vectors' shape, and the
accuracy of a run's class scores; `CsimError` when a build or run fails."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from hls.golden import GoldenVectors
from hwmodel.errors import HardwareInputError
from models.snn_integer import class_probabilities

__all__ = ["CsimError", "accuracy_of", "check_golden", "check_project", "design_settings"]


class CsimError(RuntimeError):
    """The kernel, core or testbench did not build or crashed (not a user-input problem)."""


def check_project(root: Path, files: tuple[str, ...], kind: str = "") -> None:
    """`root` holds every file of an exported project of this kind, else a one-line error."""
    missing = [name for name in files if not (root / name).is_file()]
    if missing:
        flag = " --backend rtl" if kind == "RTL" else ""
        raise HardwareInputError(
            f"project: {root} is not an exported {kind + ' ' if kind else ''}project (missing "
            f"{', '.join(missing)}); create one with `dse export{flag}`"
        )


def design_settings(path: Path) -> tuple[dict, dict, tuple[int, int]]:
    """From design.json: the score-to-probability settings, the cost model's estimates and
    the golden vectors' (images, inputs) that the testbench must hold."""
    try:
        design = json.loads(path.read_text(encoding="utf-8"))
        scoring = {
            "output_scale": float(design["quantization"]["output_scale"]),
            "divisor": float(design["quantization"]["score_divisor"]),
            "timesteps": int(design["config"]["timesteps"]),
        }
        image = design["config"].get("input_shape")  # a convolutional front's C x H x W
        inputs = math.prod(image) if image else design["config"]["widths"][0]
        shape = (int(design["golden"]["images"]), int(inputs))
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        raise HardwareInputError(
            f"{path}: not the design.json of `dse export` (needs quantization, config and "
            "golden); re-run `dse export`"
        ) from None
    return scoring, design.get("estimates") or {}, shape


def check_golden(path: Path, golden: GoldenVectors, shape: tuple[int, int]) -> None:
    """The golden file holds the images and inputs design.json says: a truncated or
    replaced file must not pass as "bit-exact" over fewer (or no) images."""
    got = (len(golden.labels), golden.inputs.shape[1])
    if got != shape or shape[0] < 1:
        raise HardwareInputError(
            f"{path}: holds {got[0]} images of {got[1]} inputs, design.json says {shape[0]} of "
            f"{shape[1]}; re-run `dse export` to rewrite the golden vectors"
        )


def accuracy_of(scores: np.ndarray, labels: np.ndarray, scoring: dict) -> float:
    if not len(labels):
        return float("nan")
    probs = class_probabilities(scores, **scoring)
    return float((probs.argmax(axis=1) == labels).mean())
