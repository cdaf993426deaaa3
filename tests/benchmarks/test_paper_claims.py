"""benchmarks/paper_claims.py: the interval's unit is the training seed (evaluation seeds
averaged first), and the image bootstrap pairs the two designs' images."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from models.intervals import paired_bootstrap

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "paper_claims.py"
SPEC = importlib.util.spec_from_file_location("paper_claims", PATH)
claims = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(claims)


def record(accuracy: float, correct: list[float]) -> dict:
    return {"test/ts": {"accuracy": accuracy}, "images": {"accuracy": correct, "nll": correct}}


DONE = {
    # Bayesian design: two training seeds x two evaluation seeds.
    "time-k4|0.0": record(0.50, [1, 0, 1, 0]),
    "time-k4|0.1": record(0.70, [1, 1, 1, 0]),
    "time-k4|1.0": record(0.90, [1, 1, 1, 1]),
    "time-k4|1.1": record(0.90, [1, 1, 1, 1]),
    # Deterministic design: one run per training seed.
    "ste-snn|0": record(0.75, [1, 1, 1, 0]),
    "ste-snn|1": record(0.75, [0, 1, 1, 1]),
}


def test_evaluation_seeds_are_averaged_within_each_training_seed():
    assert claims.per_train_seed(DONE, "time-k4", "test/ts", "accuracy") == {
        "0": pytest.approx(0.60),
        "1": pytest.approx(0.90),
    }
    values = claims.seed_values(DONE, "time-k4", "test/ts", "accuracy")
    assert claims.cell(values).endswith("(n=2)")  # n = training seeds, not 4 runs
    assert claims.paired(DONE, ("time-k4", "test/ts"), ("ste-snn", "test/ts"), "accuracy") == [
        pytest.approx(-0.15),
        pytest.approx(0.15),
    ]


def test_image_bootstrap_pairs_images_averaged_over_seeds():
    # Per image, time-k4 averaged over its eval seeds then training seeds: [1, .75, 1, .5];
    # ste-snn over its training seeds: [.5, 1, 1, .5].
    found = claims.image_bootstrap(DONE, "time-k4", "ste-snn", "accuracy")
    expected = paired_bootstrap([1.0, 0.75, 1.0, 0.5], [0.5, 1.0, 1.0, 0.5])
    assert found == f"{expected:.4f}"
    assert expected.mean == pytest.approx(np.mean([0.5, -0.25, 0.0, 0.0]))
    assert claims.image_bootstrap(DONE, "time-k4", "repeat-k8", "accuracy") == "-"
