"""Student-t interval against hand-computed values; paired bootstrap against the normal
approximation it should approach."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.intervals import paired_bootstrap, t_interval


def test_three_runs():
    found = t_interval([1.0, 2.0, 3.0])
    # s = 1, t(0.975, 2) = 4.302653 (tables), half-width = 4.302653 / sqrt(3).
    assert found.mean == pytest.approx(2.0)
    assert found.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert found.n == 3
    assert str(found) == "2.0000 ± 2.4841"
    assert f"{found:.1f}" == "2.0 ± 2.5"


def test_single_run_and_bad_input():
    assert t_interval([0.5]).half_width == math.inf
    with pytest.raises(ValueError):
        t_interval([])


def test_paired_bootstrap_matches_normal_approximation():
    rng = np.random.default_rng(0)
    a = (rng.random(4000) < 0.9).astype(float)
    b = np.where(rng.random(4000) < 0.1, 1.0 - a, a)  # b flips 10 % of a's outcomes
    found = paired_bootstrap(a, b)
    d = a - b
    half = 1.96 * d.std(ddof=1) / math.sqrt(d.size)
    assert found.mean == pytest.approx(d.mean())
    assert found.n == 4000
    assert found.high - found.low == pytest.approx(2 * half, rel=0.1)
    assert found.low < d.mean() < found.high
    assert paired_bootstrap(a, b) == found  # seeded: the same interval every time
    same = paired_bootstrap(a, a)
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
    assert f"{same:.2f}" == "+0.00 [+0.00, +0.00]"


def test_paired_bootstrap_bad_input():
    with pytest.raises(ValueError):
        paired_bootstrap([1.0, 0.0], [1.0])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])
