"""The training settings of a Bayesian binary network: everything that changes the trained
weights (the model cache key), validated on construction.  Torch-free, so a study file's
`training` section is checked at load without importing torch."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from hwmodel.architecture import parse_blocks
from hwmodel.errors import HardwareInputError
from models.errors import ModelInputError

#: Training methods: BayesBiNN, and the straight-through estimator (`models.baselines`).
METHODS = ("bayesbinn", "ste")
#: Upper bounds, far above any real setting, so that a typo (epochs: 1000000000) is refused
#: at load instead of training for ever or exhausting memory.
LIMITS: dict[str, float] = {
    "epochs": 10_000,
    "batch_size": 1_000_000,
    "mc_samples": 1_000,
    "bn_samples": 1_000,
    "calib_samples": 10_000,
    "levels": 256,  # the levels knob's bound
    "width": 100_000,  # per hidden layer
    "depth": 64,  # hidden layers
    "lr": 1.0,
    "lr_other": 10.0,
    "tau": 1_000.0,
    "clip": 1e6,
    "dataset_size": 1e12,
    "lam_init": 1e6,
    "prior_lam": 1e6,  # in absolute value
    "seed": 2**32 - 1,  # numpy and torch take unsigned 32-bit seeds
    "device": 64,  # characters
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    """Everything that changes the trained weights (the model cache key is built from it)."""

    method: str = "bayesbinn"  # bayesbinn (Bernoulli posterior) or ste (deterministic binary)
    widths: tuple[int, ...] = (256, 256)  # hidden widths; inputs and classes come from data
    # Convolutional blocks before the dense layers (hwmodel.architecture), e.g. "8p,16p";
    # "" = none (an MLP).  The image shape comes from the data.
    conv: str = ""
    levels: int = 4  # quantized-ReLU values, 0 included
    clip: float = 1.0  # quantized-ReLU clip value (one spike per timestep)
    epochs: int = 40
    stage1_epochs: int | None = None  # plain-ReLU epochs; None = half of `epochs`
    batch_size: int = 64
    lr: float = 0.01  # BayesBiNN step size
    lr_other: float = 0.01  # Adam step size of batch-norm affine, output gain and bias
    tau: float = 1.0  # relaxation temperature of the training samples
    dataset_size: float | None = 3e5  # effective N of BayesBiNN; None = training examples
    slope_floor: float = 0.1  # BayesBiNN: g = grad / max(1 - mu^2, slope_floor)
    prior_lam: float = 0.0  # prior natural parameter (0 = P(w=+1) = 1/2)
    lam_init: float = 1.0  # lam ~ U(-lam_init, lam_init)
    mc_samples: int = 1  # relaxed samples per BayesBiNN step
    bn_samples: int = 4  # passes with sampled weights to recompute BN stats; 0 = keep relaxed
    calib_samples: int = 10  # weight samples for the validation metrics and output scale
    seed: int = 0
    device: str = "auto"  # "auto" = CUDA if available, else CPU

    def __post_init__(self) -> None:
        self._check_types()
        self.widths = tuple(self.widths)
        if self.method not in METHODS:
            raise ModelInputError(
                f"method: {self.method!r} is not allowed; use {' or '.join(METHODS)} (the "
                "posterior mode is an evaluation of a bayesbinn model: weights 'mode')"
            )
        self._check_conv()
        if (not self.widths and not self.conv) or min(self.widths, default=1) < 1:
            raise ModelInputError(
                f"widths: {list(self.widths)} must be one or more positive hidden widths, "
                "e.g. 256,256"
            )
        if max(self.widths, default=1) > LIMITS["width"] or len(self.widths) > LIMITS["depth"]:
            raise ModelInputError(
                f"widths: {_shown(list(self.widths))} must be at most {LIMITS['depth']:g} hidden "
                f"widths of at most {LIMITS['width']:,g} each, e.g. 256,256"
            )
        positive_ints = ("epochs", "batch_size", "mc_samples", "calib_samples")
        for name in (*positive_ints, "bn_samples"):
            value = getattr(self, name)
            minimum = int(name in positive_ints)
            if int(value) != value or value < minimum:
                raise ModelInputError(f"{name}: {value!r} must be an integer >= {minimum}")
        if int(self.levels) != self.levels or self.levels < 2:
            raise ModelInputError(f"levels: {self.levels!r} must be an integer >= 2, e.g. 4")
        if self.stage1_epochs is not None and not 0 <= self.stage1_epochs <= self.epochs:
            raise ModelInputError(
                f"stage1_epochs: {self.stage1_epochs!r} must be between 0 and epochs "
                f"({self.epochs})"
            )
        for name in ("lr", "lr_other", "tau", "clip"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
                raise ModelInputError(f"{name}: {value!r} must be a positive number")
        if self.dataset_size is not None and not self.dataset_size > 0:
            raise ModelInputError(f"dataset_size: {self.dataset_size!r} must be positive")
        if not 0 <= self.slope_floor <= 1:
            raise ModelInputError(f"slope_floor: {self.slope_floor!r} must be in [0, 1]")
        if self.lam_init < 0:
            raise ModelInputError(f"lam_init: {self.lam_init!r} must be >= 0")
        if self.seed < 0:
            raise ModelInputError(f"seed: {self.seed!r} must be >= 0")
        self._check_limits()

    def _check_conv(self) -> None:
        """`conv` parses as blocks (`hwmodel.architecture.parse_blocks`), each at most the
        width limit, at most the depth limit of them; kept in its canonical spelling."""
        try:
            blocks = parse_blocks(self.conv)
        except HardwareInputError as exc:
            raise ModelInputError(str(exc)) from None
        if len(blocks) > LIMITS["depth"] or any(b.channels > LIMITS["width"] for b in blocks):
            raise ModelInputError(
                f"conv: {_shown(self.conv)} must be at most {LIMITS['depth']:g} blocks of at "
                f"most {LIMITS['width']:,g} channels each, e.g. 8p,16p"
            )
        self.conv = ",".join(str(block) for block in blocks)

    def _check_limits(self) -> None:
        """Every setting at most its `LIMITS` bound (prior_lam in absolute value)."""
        for name, limit in LIMITS.items():
            value = getattr(self, name, None)
            size = len(value) if name == "device" else abs(value) if name == "prior_lam" else value
            if size is not None and size > limit:
                bound = f"{int(limit):,}" if limit == int(limit) else f"{limit:g}"
                what = {"device": " characters", "prior_lam": " in absolute value"}.get(name, "")
                raise ModelInputError(
                    f"{name}: {_shown(value)} must be at most {bound}{what}, e.g. "
                    f"{getattr(TrainConfig, name)!r}"
                )

    def _check_types(self) -> None:
        """Every field holds what it declares (settings files and study files are user input:
        a list, a string or NaN where a number belongs is a one-line error, not a traceback)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "widths":
                ok = isinstance(value, list | tuple) and all(_is_int(w) for w in value)
                fix = "a list of positive integers, e.g. [256, 256]"
            elif value is None:
                ok, fix = "None" in str(f.type), "a value"
            elif str(f.type).startswith("int"):
                ok, fix = _is_int(value), "an integer"
            elif str(f.type).startswith("float"):
                ok = _is_int(value) or (isinstance(value, float) and math.isfinite(value))
                fix = "a finite number"
            else:
                ok, fix = isinstance(value, str), "a string"
            if not ok:
                raise ModelInputError(f"{f.name}: {_shown(value)} is not allowed; use {fix}")

    @property
    def stage1(self) -> int:
        """Epochs of stage 1 (plain ReLU)."""
        return self.epochs // 2 if self.stage1_epochs is None else self.stage1_epochs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (tuples become lists).  An MLP's has no `conv` entry, as before
        the setting existed, so that the model caches of existing studies stay valid."""
        data = asdict(self)
        data["widths"] = list(self.widths)
        if not data["conv"]:
            del data["conv"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of to_dict; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelInputError(f"train config: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**data)


def _shown(value: Any) -> str:
    """A bounded repr for an error line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
