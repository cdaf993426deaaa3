"""Metrics against torchmetrics on random predictions and against hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics.classification import BinaryAUROC, MulticlassCalibrationError

from models.metrics import (
    binary_auroc,
    bootstrap_standard_errors,
    classification_metrics,
    expected_calibration_error,
    ood_auroc,
    predictive_entropy,
    spike_statistics,
)


def _random_predictions(seed: int, n: int, c: int, sharpness: float) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, c, (n,), generator=gen)
    logits = torch.randn(n, c, generator=gen) * sharpness
    logits[torch.arange(n), labels] += sharpness  # better than chance, so bins are mixed
    return torch.softmax(logits.double(), dim=1), labels


@pytest.mark.parametrize(
    ("seed", "n", "c", "sharpness"),
    [(0, 500, 10, 1.0), (1, 2000, 10, 4.0), (2, 300, 2, 0.5), (3, 1000, 3, 10.0)],
)
def test_ece_matches_torchmetrics(seed: int, n: int, c: int, sharpness: float) -> None:
    probs, labels = _random_predictions(seed, n, c, sharpness)
    reference = MulticlassCalibrationError(num_classes=c, n_bins=15, norm="l1")(probs, labels)
    ours = classification_metrics(probs, labels)["ece"]
    assert ours == pytest.approx(float(reference), abs=1e-6)
    assert ours > 0.0


def test_ece_hand_worked() -> None:
    # Five predictions at confidence 0.8, four right: calibrated, ECE 0.
    probs = np.tile([0.8, 0.2], (5, 1))
    assert expected_calibration_error(probs, [0, 0, 0, 0, 1]) == pytest.approx(0.0, abs=1e-12)
    # Two bins: 0.9 confident and wrong (gap 0.9), 0.6 confident and right (gap 0.4).
    probs = np.array([[0.9, 0.1], [0.6, 0.4]])
    assert expected_calibration_error(probs, [1, 0]) == pytest.approx((0.9 + 0.4) / 2)


def test_nll_brier_accuracy_hand_worked() -> None:
    probs = torch.tensor([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    labels = torch.tensor([0, 1, 1])
    m = classification_metrics(probs, labels)
    # argmax ties go to the first class, so sample 0 is right, sample 1 wrong, sample 2 right.
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["nll"] == pytest.approx((math.log(2) + math.log(10) - math.log(0.8)) / 3, rel=1e-6)
    # Per sample sum over classes of (p - onehot)^2: 0.5, 1.62, 0.08.
    assert m["brier"] == pytest.approx((0.5 + 1.62 + 0.08) / 3, rel=1e-6)


def test_nll_is_finite_for_zero_probability_of_the_true_class() -> None:
    m = classification_metrics([[1.0, 0.0], [0.0, 1.0]], [1, 1])
    assert m["nll"] == pytest.approx(-math.log(1e-12) / 2)
    assert m["brier"] == pytest.approx(1.0)  # (0-1)^2 + (1-0)^2 = 2 for the wrong one, 0 else


def test_entropy_matches_direct_computation() -> None:
    probs, labels = _random_predictions(5, 400, 10, 2.0)
    probs[0] = torch.nn.functional.one_hot(torch.tensor(3), 10)  # 0 log 0 must be 0
    direct = torch.distributions.Categorical(probs=probs).entropy()
    assert np.allclose(predictive_entropy(probs), direct.numpy(), atol=1e-12)
    assert predictive_entropy(probs)[0] == 0.0
    m = classification_metrics(probs, labels)
    assert m["entropy"] == pytest.approx(float(direct.mean()), rel=1e-12)
    assert predictive_entropy(np.full((1, 4), 0.25))[0] == pytest.approx(math.log(4))


def test_numpy_and_torch_inputs_agree() -> None:
    probs, labels = _random_predictions(6, 200, 5, 1.5)
    assert classification_metrics(probs, labels) == classification_metrics(
        probs.numpy(), labels.numpy()
    )


def _torchmetrics_auroc(neg: torch.Tensor, pos: torch.Tensor) -> float:
    scores = torch.cat([neg, pos]).double()
    target = torch.cat([torch.zeros(len(neg)), torch.ones(len(pos))]).long()
    return float(BinaryAUROC()(scores, target))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_matches_torchmetrics_with_and_without_ties(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    neg, pos = torch.rand(300, generator=gen), torch.rand(170, generator=gen) + 0.3
    assert binary_auroc(neg, pos) == pytest.approx(_torchmetrics_auroc(neg, pos), abs=1e-6)
    # Heavy ties: scores from five values only.
    neg, pos = torch.randint(0, 5, (250,), generator=gen), torch.randint(1, 6, (90,), generator=gen)
    tied = binary_auroc(neg.double(), pos.double())
    assert tied == pytest.approx(_torchmetrics_auroc(neg, pos), abs=1e-6)


def test_auroc_edge_cases() -> None:
    assert binary_auroc([0.1, 0.2], [0.3, 0.9]) == 1.0
    assert binary_auroc([0.3, 0.9], [0.1, 0.2]) == 0.0
    assert binary_auroc([0.5, 0.5, 0.5], [0.5, 0.5]) == 0.5
    # One tie among 2 x 2 pairs: (3 wins + 0.5) / 4.
    assert binary_auroc([0.1, 0.5], [0.5, 0.9]) == pytest.approx(3.5 / 4)
    with pytest.raises(ValueError, match="at least one"):
        binary_auroc([], [0.1])
    with pytest.raises(ValueError, match="NaN"):
        binary_auroc([0.1, float("nan")], [0.2])


def test_ood_auroc_scores_by_entropy() -> None:
    confident = np.tile([0.97, 0.01, 0.01, 0.01], (20, 1))
    uniform = np.full((10, 4), 0.25)
    assert ood_auroc(confident, uniform) == 1.0
    assert ood_auroc(uniform, confident) == 0.0
    probs_in, _ = _random_predictions(7, 300, 10, 3.0)
    probs_out, _ = _random_predictions(8, 200, 10, 0.7)
    reference = _torchmetrics_auroc(
        torch.from_numpy(predictive_entropy(probs_in)),
        torch.from_numpy(predictive_entropy(probs_out)),
    )
    assert ood_auroc(probs_in, probs_out) == pytest.approx(reference, abs=1e-6)
    assert ood_auroc(probs_in, probs_out) > 0.8


def test_invalid_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="labels must have shape"):
        classification_metrics(np.full((3, 2), 0.5), [0, 1])
    with pytest.raises(ValueError, match="labels must lie"):
        classification_metrics(np.full((2, 2), 0.5), [0, 2])
    with pytest.raises(ValueError, match="probs must have shape"):
        classification_metrics(np.full(4, 0.25), [0])
    with pytest.raises(ValueError, match="NaN"):
        classification_metrics([[float("nan"), 0.5]], [0])


def test_spike_statistics_hand_worked() -> None:
    # Two images, layers of fan-out 10 and 5: mean spikes 2 and 3 per image.
    stats = spike_statistics(torch.tensor([[1, 2], [3, 4]]), [10, 5])
    assert stats == {
        "spikes_per_inference": 5.0,
        "spikes_per_layer": [2.0, 3.0],
        "synops_per_inference": 2.0 * 10 + 3.0 * 5,
    }
    with pytest.raises(ValueError, match="len\\(fan_outs\\)"):
        spike_statistics([[1, 2]], [10])


def test_bootstrap_standard_errors_match_closed_forms() -> None:
    """Accuracy: binomial sqrt(p(1-p)/n); NLL, Brier: sd/sqrt(n); AUROC: Hanley-McNeil."""
    probs, labels = _random_predictions(4, 1500, 10, 1.0)
    ood = torch.softmax(torch.randn(800, 10, generator=torch.Generator().manual_seed(5)), dim=1)
    se = bootstrap_standard_errors(probs, labels, ood)
    n = len(labels)
    p = probs.numpy()
    acc = float(np.mean(p.argmax(axis=1) == labels.numpy()))
    assert 0.3 < acc < 0.9  # a non-trivial accuracy, so the binomial SE is not tiny
    assert se["accuracy_se"] == pytest.approx(math.sqrt(acc * (1 - acc) / n), rel=0.15)
    p_true = p[np.arange(n), labels.numpy()]
    nll = -np.log(p_true)
    assert se["nll_se"] == pytest.approx(nll.std(ddof=1) / math.sqrt(n), rel=0.15)
    onehot = np.eye(10)[labels.numpy()]
    brier = ((p - onehot) ** 2).sum(axis=1)
    assert se["brier_se"] == pytest.approx(brier.std(ddof=1) / math.sqrt(n), rel=0.15)
    a = ood_auroc(probs, ood)
    n_out = len(ood)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    hanley = (a * (1 - a) + (n_out - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (n * n_out)
    assert se["ood_auroc_se"] == pytest.approx(math.sqrt(hanley), rel=0.2)


def test_bootstrap_ece_se_matches_a_plain_loop_and_is_deterministic() -> None:
    """The vectorised ECE resampling against a loop over resamples drawn by another generator."""
    probs, labels = _random_predictions(6, 1000, 10, 2.0)
    se = bootstrap_standard_errors(probs, labels)
    assert se == bootstrap_standard_errors(probs, labels)
    assert "ood_auroc_se" not in se
    rng = np.random.RandomState(123)
    loop = []
    for _ in range(400):
        idx = rng.randint(0, len(labels), len(labels))
        loop.append(expected_calibration_error(probs[idx], labels[idx]))
    assert se["ece_se"] == pytest.approx(np.std(loop, ddof=1), rel=0.2)
    quarter = bootstrap_standard_errors(probs[:250], labels[:250])  # SE ~ 1/sqrt(n)
    assert quarter["accuracy_se"] == pytest.approx(2 * se["accuracy_se"], rel=0.3)
