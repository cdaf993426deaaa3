"""Accuracy, calibration, uncertainty and activity metrics every trial records.

All functions take numpy arrays or torch tensors and compute in float64 numpy, vectorised.
Conventions (stated here once so that reports can quote them):

* ``ece`` - 15 equal-width bins over the top-label confidence, bin ``b`` holding
  ``b/15 <= conf < (b+1)/15`` (confidence 1 in the last bin); the sum over bins of
  (bin size / N) * |accuracy - mean confidence|. Same binning as torchmetrics.
* ``nll`` - mean of ``-log p[true class]`` with ``p`` clamped below at 1e-12, so a confidently
  wrong prediction costs at most ``log(1e12) ~ 27.6`` nats instead of infinity.
* ``brier`` - mean over samples of the *sum* over classes of ``(p - onehot)^2`` (range
  [0, 2]; the original multi-class Brier score, not divided by the number of classes).
* ``entropy`` - mean predictive entropy ``-sum p log p`` in nats (0 log 0 = 0).
* ``ood_auroc`` - AUROC of predictive entropy separating OOD (positive) from in-distribution
  inputs, from ranks (Mann-Whitney U) with ties counted as one half.
* ``<metric>_se`` - standard error of a metric over the choice of test images: the standard
  deviation of the metric over ``BOOTSTRAP_RESAMPLES`` bootstrap resamples of the images
  (OOD inputs resampled too), drawn with a fixed seed so that it is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import rankdata

ECE_BINS = 15
NLL_FLOOR = 1e-12
BOOTSTRAP_RESAMPLES = 200
#: The metrics that get a bootstrap standard error (`<name>_se`): those taken on test images.
SE_METRICS = ("accuracy", "ece", "nll", "brier", "ood_auroc")

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]


def _to_numpy(a: ArrayLike, dtype: type = np.float64) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def _check_probs(probs: ArrayLike) -> np.ndarray:
    p = _to_numpy(probs)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(f"probs must have shape [N>0, C>=2], got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs contain NaN or infinity")
    return p


def _check_labels(labels: ArrayLike, p: np.ndarray) -> np.ndarray:
    y = _to_numpy(labels, dtype=np.int64)
    if y.shape != (p.shape[0],):
        raise ValueError(f"labels must have shape [{p.shape[0]}], got {y.shape}")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"labels must lie in 0..{p.shape[1] - 1}, got {y.min()}..{y.max()}")
    return y


def predictive_entropy(probs: ArrayLike) -> np.ndarray:
    """Per-sample entropy (nats) of the predictive distribution: the uncertainty score."""
    p = _check_probs(probs)
    return -np.sum(p * np.log(np.clip(p, np.finfo(np.float64).tiny, None)), axis=1)


def expected_calibration_error(
    probs: ArrayLike, labels: ArrayLike, n_bins: int = ECE_BINS
) -> float:
    """Top-label ECE with ``n_bins`` equal-width confidence bins (see module docstring)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    p = _check_probs(probs)
    y = _check_labels(labels, p)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    gap = np.bincount(bins, weights=correct - conf, minlength=n_bins)
    return float(np.abs(gap).sum() / len(y))


def classification_metrics(probs: ArrayLike, labels: ArrayLike) -> dict[str, float]:
    """Accuracy, ECE, NLL, Brier and mean entropy of predictive probabilities ``[N, C]``."""
    p = _check_probs(probs)
    y = _check_labels(labels, p)
    rows = np.arange(len(y))
    p_true = p[rows, y]
    onehot = np.zeros_like(p)
    onehot[rows, y] = 1.0
    return {
        "accuracy": float(np.mean(p.argmax(axis=1) == y)),
        "ece": expected_calibration_error(p, y),
        "nll": float(np.mean(-np.log(np.clip(p_true, NLL_FLOOR, None)))),
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
        "entropy": float(np.mean(predictive_entropy(p))),
    }


def binary_auroc(scores_negative: ArrayLike, scores_positive: ArrayLike) -> float:
    """Probability that a positive outscores a negative (ties count 1/2), via average ranks."""
    neg = _to_numpy(scores_negative).ravel()
    pos = _to_numpy(scores_positive).ravel()
    if neg.size == 0 or pos.size == 0:
        raise ValueError("AUROC needs at least one negative and one positive score")
    if not (np.all(np.isfinite(neg)) and np.all(np.isfinite(pos))):
        raise ValueError("AUROC scores contain NaN or infinity")
    scores = np.concatenate([neg, pos])
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Average 1-based rank of each tie group: the last rank of the group minus half its spread.
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[group]
    u = ranks[neg.size :].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def ood_auroc(probs_in: ArrayLike, probs_out: ArrayLike) -> float:
    """AUROC of predictive entropy for telling OOD inputs (positive) from in-distribution."""
    return binary_auroc(predictive_entropy(probs_in), predictive_entropy(probs_out))


def spike_statistics(spikes: ArrayLike, fan_outs: Sequence[int]) -> dict[str, float | list[float]]:
    """Mean events per inference, per layer and as synaptic operations.

    ``spikes[b, l]`` counts the events layer ``l`` emitted for image ``b`` (summed over
    timesteps and weight samples); every event drives ``fan_outs[l]`` synapses, so
    synaptic operations are the fan-out-weighted sum. Which layers count (e.g. the encoded
    input) is the caller's choice: include a column for every layer whose events drive
    synapses.
    """
    s = _to_numpy(spikes)
    fan = _to_numpy(fan_outs)
    if s.ndim != 2 or s.shape[0] == 0 or fan.shape != (s.shape[1],):
        raise ValueError(f"spikes must be [B>0, L] with L = len(fan_outs) = {fan.size}")
    per_layer = s.mean(axis=0)
    return {
        "spikes_per_inference": float(per_layer.sum()),
        "spikes_per_layer": per_layer.tolist(),
        "synops_per_inference": float(per_layer @ fan),
    }


def per_image_scores(probs: ArrayLike, labels: ArrayLike) -> dict[str, np.ndarray]:
    """Per-image terms whose means are accuracy, NLL and Brier: correctness (0/1),
    -log p(true class) (floored at `NLL_FLOOR`) and the squared error of the probabilities."""
    p = _check_probs(probs)
    y = _check_labels(labels, p)
    rows = np.arange(len(y))
    onehot = np.zeros_like(p)
    onehot[rows, y] = 1.0
    return {
        "accuracy": (p.argmax(axis=1) == y).astype(np.float64),
        "nll": -np.log(np.clip(p[rows, y], NLL_FLOOR, None)),
        "brier": np.sum((p - onehot) ** 2, axis=1),
    }


def bootstrap_standard_errors(
    probs: ArrayLike,
    labels: ArrayLike,
    probs_ood: ArrayLike | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """`<metric>_se` for accuracy, ECE, NLL, Brier (and OOD AUROC given OOD probabilities).

    All resamples at once: an index matrix ``[resamples, N]`` gathers per-image terms, ECE
    bins every resample with one offset `bincount`, AUROC ranks every resample row-wise.
    """
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    p = _check_probs(probs)
    y = _check_labels(labels, p)
    n = len(y)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    conf = p.max(axis=1)
    per_image = per_image_scores(p, y)
    correct = per_image["accuracy"]
    draws = {name: terms[idx].mean(axis=1) for name, terms in per_image.items()}
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, ECE_BINS - 1)
    offset = bins[idx] + ECE_BINS * np.arange(resamples)[:, None]
    gaps = np.bincount(offset.ravel(), weights=(correct - conf)[idx].ravel(), minlength=0)
    gaps = np.pad(gaps, (0, resamples * ECE_BINS - gaps.size)).reshape(resamples, ECE_BINS)
    draws["ece"] = np.abs(gaps).sum(axis=1) / n
    if probs_ood is not None:
        neg = predictive_entropy(p)
        pos = predictive_entropy(probs_ood)
        pos_idx = rng.integers(0, pos.size, size=(resamples, pos.size))
        scores = np.concatenate([neg[idx], pos[pos_idx]], axis=1)
        ranks = rankdata(scores, axis=1)  # ties get their average rank
        u = ranks[:, n:].sum(axis=1) - pos.size * (pos.size + 1) / 2.0
        draws["ood_auroc"] = u / (pos.size * n)
    return {f"{name}_se": float(np.std(v, ddof=1)) for name, v in draws.items()}
