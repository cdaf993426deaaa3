"""Confidence intervals: over repeated runs (Student t over training seeds) and over test
images (bootstrap of per-image differences between two designs scored on the same images)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

__all__ = ["BootstrapInterval", "Interval", "paired_bootstrap", "t_interval"]


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


@dataclass(frozen=True)
class BootstrapInterval:
    """Mean of `n` per-image values and its percentile bootstrap interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int

    def __format__(self, spec: str) -> str:
        """``f"{interval:.4f}"``: signed mean and interval, e.g. ``-0.0012 [-0.0030, +0.0005]``."""
        spec = "+" + (spec or ".4f")
        return f"{self.mean:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def __str__(self) -> str:
        return format(self)


def paired_bootstrap(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> BootstrapInterval:
    """Mean of a - b over images and its percentile bootstrap interval.

    `a` and `b` are per-image values (correctness, NLL) of two designs on the *same* test
    images; each resample draws images with replacement and keeps the pairs together, so the
    interval covers the choice of test images, not training or sampling noise.
    """
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = first - second if first.shape == second.shape else np.array([np.nan])
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)):
        raise ValueError("a and b must be equal-length, non-empty lists of finite numbers")
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // d.size)  # bounds the index matrix at ~16 MB
    means = np.concatenate(
        [
            d[rng.integers(0, d.size, size=(min(chunk, resamples - i), d.size))].mean(axis=1)
            for i in range(0, resamples, chunk)
        ]
    )
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return BootstrapInterval(float(d.mean()), float(low), float(high), d.size)
