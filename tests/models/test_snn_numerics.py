"""Numerics that degrade gracefully: accuracy against membrane bits on a small digits model."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from dse.objective import constraint_values
from models.conversion import convert
from models.datasets import load_dataset
from models.evaluation import EvalConfig, evaluate
from models.training import TrainConfig, train_model


@pytest.fixture(scope="module")
def digits_snn():
    splits = load_dataset("digits", seed=0)
    cfg = TrainConfig(widths=(32,), levels=4, epochs=10, seed=0, device="cpu")
    return convert(train_model(cfg, splits, progress=False)), splits


def test_accuracy_degrades_smoothly_down_to_the_first_infeasible_width(digits_snn):
    snn, splits = digits_snn
    base = EvalConfig(timesteps=4, samples=2, evaluation="integer", seed=1)
    found = {
        bits: evaluate(snn, splits, replace(base, membrane_bits=bits), split="test")
        for bits in range(16, 3, -1)
    }
    infeasible = [bits for bits, m in found.items() if "infeasible_reason" in m]
    assert infeasible, "some width from 4 to 16 bits must be too narrow"
    first = max(infeasible)
    assert infeasible == list(range(first, 3, -1))  # every narrower width is infeasible too
    assert 4 < first < 12
    reason = found[first]["infeasible_reason"]
    assert reason.startswith(f"membrane_bits: {first} bits leave layer 0's smallest threshold")
    assert "under T = 4" in reason
    top = found[16]["accuracy"]
    assert top > 0.85
    for bits in range(first + 1, 16):  # the feasible widths stay close to 16 bits
        assert found[bits]["accuracy"] > top - 0.03, bits
    # The search turns the reason into a violated constraint (and keeps the metrics).
    rules = SimpleNamespace(fit_device=False, power_cap_w=None, min_accuracy=None)
    study = SimpleNamespace(constraints=rules)
    assert constraint_values(study, found[first]) == {"numerics": 1.0}
    assert constraint_values(study, found[16]) == {}
