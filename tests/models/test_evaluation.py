"""evaluate(): keys, ranges, calibration and activity conventions on tiny networks."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from models.datasets import load_dataset
from models.errors import ModelInputError
from models.evaluation import EvalConfig, evaluate, evaluate_seeds
from models.snn_spec import ConvertedLayer, ConvertedSNN
from models.training import TrainConfig, train_model

KEYS = {
    "accuracy",
    "ece",
    "nll",
    "brier",
    "entropy",
    "ece_uncalibrated",
    "spikes_per_inference",
    "spikes_per_layer",
    "synops_per_inference",
    "activity",
    "eval_seconds",
    *("accuracy_se", "ece_se", "nll_se", "brier_se", "test_images", "test_correct"),
}


def block_network(output_scale: float) -> ConvertedSNN:
    """12 inputs in 3 blocks of 4; hidden neurons 2c, 2c+1 detect block c; outputs read them."""
    detect = np.full((6, 12), 0.05)
    vote = np.full((3, 6), 0.1)
    for c in range(3):
        detect[2 * c : 2 * c + 2, 4 * c : 4 * c + 4] = 0.95
        vote[c, 2 * c : 2 * c + 2] = 0.9
    hidden = ConvertedLayer(detect, np.full(6, 1.0), np.zeros(6), np.full(6, 0.5))
    output = ConvertedLayer(vote, np.ones(3), np.zeros(3), np.zeros(3), spiking=False)
    return ConvertedSNN([hidden, output], output_scale=output_scale)


def block_data(n: int, seed: int, label_noise: float = 0.3):
    """Images lighting the block of their class; a fraction of labels is random (so a
    confident model is overconfident)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.uniform(0.0, 0.2, (n, 12))
    for i, c in enumerate(y):
        x[i, 4 * c : 4 * c + 4] = rng.uniform(0.6, 1.0, 4)
    noisy = rng.random(n) < label_noise
    y[noisy] = rng.integers(0, 3, noisy.sum())
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)


def splits(val_seed: int = 1, test_seed: int = 2):
    return SimpleNamespace(val=block_data(300, val_seed), test=block_data(300, test_seed))


def check_sane(metrics: dict, snn: ConvertedSNN, cfg: EvalConfig, ood: bool = False) -> None:
    assert set(metrics) == KEYS | ({"ood_auroc", "ood_auroc_se"} if ood else set())
    assert metrics["test_images"] == 300
    assert all(0 < metrics[k] < 0.2 for k in metrics if k.endswith("_se"))
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert 0.0 <= metrics["ece"] <= 1.0 and 0.0 <= metrics["ece_uncalibrated"] <= 1.0
    assert 0.0 < metrics["nll"] < 10.0
    assert 0.0 <= metrics["brier"] <= 2.0
    assert 0.0 <= metrics["entropy"] <= math.log(snn.widths[-1]) + 1e-9
    assert len(metrics["spikes_per_layer"]) == len(snn.widths) - 2
    assert metrics["spikes_per_inference"] == pytest.approx(sum(metrics["spikes_per_layer"]))
    assert len(metrics["activity"]) == len(snn.layers)
    runs = cfg.samples if cfg.ensemble == "repeat" else 1
    hidden_activity = [s / (runs * cfg.timesteps) for s in metrics["spikes_per_layer"]]
    assert metrics["activity"][1:] == pytest.approx(hidden_activity)
    assert metrics["eval_seconds"] > 0


def test_float_evaluation_keys_ranges_and_conventions():
    snn = block_network(output_scale=1.0)
    cfg = EvalConfig(timesteps=6, samples=4, seed=3)
    # Seeded: with some draws the OOD inputs separate perfectly and the AUROC's SE is 0.
    ood = torch.rand(200, 12, generator=torch.Generator().manual_seed(1))
    metrics = evaluate(snn, splits(), cfg, ood=ood, split="test")
    check_sane(metrics, snn, cfg, ood=True)
    assert metrics["accuracy"] > 0.7  # ~0.8 reachable with 30 % label noise
    assert 0.0 <= metrics["ood_auroc"] <= 1.0
    assert metrics["activity"][0] == 12  # dense direct-encoded input
    dense = cfg.samples * 12 * 6
    spikes = metrics["spikes_per_layer"][0]
    assert metrics["synops_per_inference"] == pytest.approx(dense + spikes * 3)


def test_more_seeds_add_their_spread_to_the_standard_error():
    snn = block_network(output_scale=1.0)
    data = splits()
    cfg = EvalConfig(timesteps=4, samples=1, seed=7)
    each = [
        evaluate(snn, data, EvalConfig(timesteps=4, samples=1, seed=7 + i), split="test")
        for i in range(3)
    ]
    combined = evaluate_seeds(snn, data, cfg, seeds=3, split="test")
    # NLL, not accuracy: this robust network can classify every image alike under two draws.
    nlls = np.array([m["nll"] for m in each])
    assert nlls.std() > 0  # one weight sample: the seed matters
    assert combined["nll"] == each[0]["nll"]  # the hardware's seed
    assert combined["spikes_per_inference"] == each[0]["spikes_per_inference"]
    assert combined["nll_seed_mean"] == pytest.approx(nlls.mean())
    assert combined["nll_seed_sd"] == pytest.approx(nlls.std(ddof=1))
    expected = math.sqrt(each[0]["nll_se"] ** 2 + nlls.var(ddof=1))
    assert combined["nll_se"] == pytest.approx(expected)
    assert combined["eval_seeds"] == 3 and combined["test_images"] == 300
    single = evaluate_seeds(snn, data, cfg, seeds=1, split="test")
    assert single["accuracy"] == each[0]["accuracy"] and single["eval_seeds"] == 1


@pytest.mark.parametrize("evaluation", ["float", "integer"])
def test_a_binary_network_is_evaluated_with_one_seed(evaluation: str):
    """0/1 probabilities: every seed runs the same network, so more seeds measure nothing."""
    snn = block_network(output_scale=1.0)
    binary = ConvertedSNN(
        [replace(layer, prob=np.round(layer.prob)) for layer in snn.layers], output_scale=1.0
    )
    data = splits()
    cfg = EvalConfig(timesteps=4, samples=1, k_bits=4, evaluation=evaluation, seed=7)
    each = [evaluate(binary, data, replace(cfg, seed=7 + i), split="test") for i in range(2)]
    assert each[0]["nll"] == each[1]["nll"]
    combined = evaluate_seeds(binary, data, cfg, seeds=3, split="test")
    assert combined["eval_seeds"] == 1 and combined["nll"] == each[0]["nll"]
    sampled = evaluate_seeds(snn, data, cfg, seeds=3, split="test")
    assert sampled["eval_seeds"] == 3  # sampled weights: the seed matters


def test_temperature_scaling_lowers_validation_ece():
    """Evaluated on its own validation split, the fitted scale is no worse calibrated."""
    snn = block_network(output_scale=30.0)  # far too confident for noisy labels
    data = splits()
    same = SimpleNamespace(val=data.val, test=data.val)
    metrics = evaluate(snn, same, EvalConfig(timesteps=6, samples=4), split="test")
    assert metrics["ece_uncalibrated"] > 0.1
    assert metrics["ece"] <= metrics["ece_uncalibrated"]


def test_integer_evaluation_agrees_with_float():
    snn = block_network(output_scale=1.0)
    data = splits()
    base = dict(timesteps=6, samples=4, seed=5)
    floats = evaluate(snn, data, EvalConfig(**base), split="test")
    ints = evaluate(snn, data, EvalConfig(evaluation="integer", **base), split="test")
    check_sane(ints, snn, EvalConfig(**base))
    assert ints["activity"][0] == 12
    assert abs(ints["accuracy"] - floats["accuracy"]) < 0.1
    assert ints["spikes_per_inference"] == pytest.approx(floats["spikes_per_inference"], rel=0.2)


def test_time_ensemble_and_rate_encoding():
    snn = block_network(output_scale=1.0)
    cfg = EvalConfig(timesteps=8, samples=4, ensemble="time", encoding="rate", batch_size=64)
    metrics = evaluate(snn, splits(), cfg, split="test")
    check_sane(metrics, snn, cfg)
    assert 0 < metrics["activity"][0] < 12  # input spikes per timestep, not the dense n0
    assert metrics["accuracy"] > 0.6


def test_trained_model_is_converted_with_threshold_scales_and_mode_weights():
    data = load_dataset("digits", seed=0)
    model = train_model(TrainConfig(widths=(32,), epochs=2, bn_samples=1), data, progress=False)
    base = EvalConfig(timesteps=4, samples=2, weights="mode")
    metrics = evaluate(model, data, base, split="test")
    assert metrics["accuracy"] > 0.3
    low = evaluate(
        model, data, EvalConfig(timesteps=4, samples=2, threshold_scales=(0.5,)), split="test"
    )
    high = evaluate(
        model, data, EvalConfig(timesteps=4, samples=2, threshold_scales=(2.0,)), split="test"
    )
    assert low["spikes_per_inference"] > high["spikes_per_inference"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"evaluation": "integer", "encoding": "rate"}, "encoding: 'rate' has no hardware"),
        ({"ensemble": "time", "samples": 9}, "samples: 9 exceeds timesteps 8"),
        ({"weights": "mean"}, "weights: 'mean' is not one of sample, mode"),
        ({"batch_size": 0}, "batch_size: 0 must be a positive integer"),
    ],
)
def test_config_errors_are_one_line_with_the_fix(kwargs, message):
    with pytest.raises(ModelInputError, match=message) as info:
        EvalConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_selection_scoring_reads_only_val_and_selection_and_records_each_image() -> None:
    """A search scores on `selection`: the test split may hold anything (here nothing usable),
    and the per-image correctness it records is the accuracy, image by image."""
    x_sel, y_sel = block_data(300, 5)
    data = SimpleNamespace(val=block_data(300, 1), selection=(x_sel, y_sel), test=None)
    metrics = evaluate(
        block_network(1.0), data, EvalConfig(timesteps=6, samples=4), split="selection"
    )
    assert metrics["selection_images"] == 300 and "test_images" not in metrics
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(metrics["selection_correct"]), np.uint8))
    assert bits[:300].mean() == pytest.approx(metrics["accuracy"]) and not bits[300:].any()
