"""fit_predictor scores the test split exactly as evaluate() does, and any other input set."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from models.evaluation import EvalConfig, evaluate, fit_predictor
from models.metrics import classification_metrics
from models.snn_spec import ConvertedLayer, ConvertedSNN


def halves_network() -> ConvertedSNN:
    """8 inputs; hidden neuron c (of 2) mostly listens to half c; output c reads neuron c."""
    detect = np.full((2, 8), 0.2)
    detect[0, :4] = detect[1, 4:] = 0.9
    hidden = ConvertedLayer(detect, np.full(2, 1.0), np.zeros(2), np.full(2, 0.5))
    vote = np.array([[0.9, 0.1], [0.1, 0.9]])
    output = ConvertedLayer(vote, np.ones(2), np.zeros(2), np.zeros(2), spiking=False)
    return ConvertedSNN([hidden, output], output_scale=3.0)


def halves_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The half of class y is bright; a quarter of the labels are random."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0.0, 0.3, (n, 8))
    for i, c in enumerate(y):
        x[i, 4 * c : 4 * c + 4] = rng.uniform(0.5, 1.0, 4)
    noisy = rng.random(n) < 0.25
    y[noisy] = rng.integers(0, 2, noisy.sum())
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)


def splits() -> SimpleNamespace:
    return SimpleNamespace(val=halves_data(200, 1), test=halves_data(200, 2))


@pytest.mark.parametrize("evaluation", ["float", "integer"])
def test_predictor_matches_evaluate_on_the_test_split(evaluation):
    snn = halves_network()
    data = splits()
    cfg = EvalConfig(timesteps=6, samples=4, ensemble="time", evaluation=evaluation, seed=2)
    expected = evaluate(snn, data, cfg, split="test")
    pred = fit_predictor(snn, data, cfg)(data.test[0])
    found = classification_metrics(pred.probs, data.test[1])
    for key in ("accuracy", "ece", "nll", "brier"):
        assert found[key] == pytest.approx(expected[key], rel=1e-9)
    uncal = classification_metrics(pred.probs_uncalibrated, data.test[1])
    assert uncal["ece"] == pytest.approx(expected["ece_uncalibrated"], rel=1e-9)
    assert float(pred.spikes.sum(1).mean()) == pytest.approx(expected["spikes_per_inference"])
    assert float(pred.synops.mean()) == pytest.approx(expected["synops_per_inference"])


def test_predictor_scores_another_set_with_the_validation_temperature():
    snn = halves_network()
    predictor = fit_predictor(snn, splits(), EvalConfig(timesteps=6, samples=2))
    x, _ = halves_data(50, seed=9)
    pred = predictor(x)
    assert pred.probs.shape == (50, 2) and pred.spikes.shape == (50, 1)
    assert predictor.scale != pytest.approx(1.0)  # a temperature was fitted
    assert not pred.probs.allclose(pred.probs_uncalibrated)
