"""Student-t interval against hand-computed values."""

from __future__ import annotations

import math

import pytest

from models.intervals import t_interval


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
