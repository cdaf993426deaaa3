"""Confidence intervals over repeated runs (training seeds x evaluation seeds)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

__all__ = ["Interval", "t_interval"]


@dataclass(frozen=True)
class Interval:
    """Mean of `n` runs and the half-width of its two-sided t-interval."""

    mean: float
    half_width: float
    n: int

    def __format__(self, spec: str) -> str:
        """``f"{interval:.0f}"`` formats both numbers alike; the default is 4 decimals."""
        spec = spec or ".4f"
        return f"{self.mean:{spec}} ± {self.half_width:{spec}}"

    def __str__(self) -> str:
        return format(self)


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student-t interval of the mean: mean ± t_{(1+level)/2, n-1} s / sqrt(n).

    The runs are treated as independent draws; a single run has an infinite half-width.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"values must be a non-empty list of finite numbers, got {values!r}")
    if v.size == 1:
        return Interval(float(v[0]), math.inf, 1)
    sem = v.std(ddof=1) / math.sqrt(v.size)
    half = float(student_t.ppf((1 + level) / 2, v.size - 1) * sem)
    return Interval(float(v.mean()), half, v.size)
