"""Checks of a study's inputs that need torch or a file's content, run before the first
trial: a bad calibration profile or an absent device would otherwise fail every trial, the
calibration only after each trial's training."""

from __future__ import annotations

from dse.errors import StudyInputError
from dse.schema import StudyConfig, conv_problem
from dse.space import default_knob, short_repr


def check_resources(cfg: StudyConfig) -> None:
    """Raise StudyInputError (one line, naming the field) for an unusable profile or device,
    or a `conv` front that an npz file's images cannot hold."""
    check_calibration(str(cfg.evaluation.calibration), "evaluation.calibration")
    if cfg.model is not None:
        _check_saved_model(cfg)
    device = cfg.training.get("device")
    if device is not None:
        _check_device(device)
    if cfg.dataset.name == "npz" and cfg.knobs["conv"] != default_knob("conv"):
        _check_npz_conv(cfg)


def _check_npz_conv(cfg: StudyConfig) -> None:
    """The study file cannot know an npz file's image shape (`dse.schema.IMAGE_SHAPES`):
    read the file (the search reads it next anyway, from the same cache) and check."""
    from dse.objective import load_splits

    shape = load_splits(cfg.dataset).image_shape
    problem = conv_problem(cfg.knobs["conv"], shape, str(cfg.dataset.path.name))
    if problem is not None:
        raise StudyInputError(problem)


def check_calibration(path: str, field: str) -> None:
    """The profile at `path` loads; else a one-line error naming `field` (key or flag)."""
    from hwmodel.calibration import CalibrationError, load_calibration
    from hwmodel.errors import HardwareInputError
    from hwmodel.profiles import NAMES

    try:
        load_calibration(path)
    except CalibrationError as exc:  # names the entry: multipliers.lut.pe is 'x', ...
        raise StudyInputError(
            f"{field}: {short_repr(path)} is not a calibration profile ({exc.problem}); fix "
            f"it, re-run `dse calibrate`, or name a packaged profile ({', '.join(NAMES)})"
        ) from None
    except (ValueError, TypeError, AttributeError, OSError, HardwareInputError):
        raise StudyInputError(
            f"{field}: {path!r} is not a calibration profile (JSON written by "
            f"hwmodel.calibration.save_calibration, or one of {', '.join(NAMES)}); "
            "fix the path or name a packaged profile"
        ) from None


def _check_saved_model(cfg: StudyConfig) -> None:
    """The study's saved model loads (its digest holds) and fits the dataset's images."""
    from models.datasets import SHAPES
    from models.errors import ModelInputError
    from models.io import load_model

    try:
        widths = load_model(cfg.model).widths
    except ModelInputError as exc:
        raise StudyInputError(f"model: {str(exc).removeprefix('model directory: ')}") from None
    inputs, classes = SHAPES[cfg.dataset.name]
    if widths[0] != inputs or widths[-1] != classes:
        raise StudyInputError(
            f"model: {cfg.model} is {'-'.join(map(str, widths))}, but {cfg.dataset.name} has "
            f"{inputs} inputs and {classes} classes; set dataset.name to its dataset"
        )


def _check_device(device: str) -> None:
    import torch

    from models.errors import ModelInputError
    from models.training import resolve_device

    where = f"training.device: {short_repr(device)}"
    try:
        torch.zeros(1, device=resolve_device(device))
    except (ModelInputError, RuntimeError, AssertionError, ValueError):
        raise StudyInputError(
            f"{where} is not available on this machine; use auto or cpu"
        ) from None
