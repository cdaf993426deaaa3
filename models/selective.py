"""Selective prediction: how accuracy grows when the model may abstain on its least sure inputs.

Inputs are ranked by confidence, the top-label probability (max softmax), most confident
first; ties keep their original order (a stable sort), so results are deterministic.

* ``accuracy_at_coverage(c)`` - accuracy on the ceil(c * N) most confident inputs.
* ``aurc`` - area under the risk-coverage curve (Geifman and El-Yaniv, 2017; Geifman et al.
  2019): the mean over k = 1..N of the error rate among the k most confident inputs.  Lower
  is better; a perfect ranking of a model with error rate e gives about e + (1 - e) ln(1 - e).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from models.metrics import ArrayLike, _check_labels, _check_probs

__all__ = ["accuracy_at_coverage", "aurc", "risk_coverage", "selective_metrics"]

COVERAGES = (0.9, 0.95)


def _ranked_correct(probs: ArrayLike, labels: ArrayLike) -> np.ndarray:
    p = _check_probs(probs)
    y = _check_labels(labels, p)
    order = np.argsort(-p.max(axis=1), kind="stable")
    return (p.argmax(axis=1) == y)[order].astype(np.float64)


def risk_coverage(probs: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(coverage k/N, error rate among the k most confident) for k = 1..N."""
    correct = _ranked_correct(probs, labels)
    k = np.arange(1, len(correct) + 1)
    return k / len(correct), np.cumsum(1.0 - correct) / k


def accuracy_at_coverage(probs: ArrayLike, labels: ArrayLike, coverage: float) -> float:
    """Accuracy on the ceil(coverage * N) most confident inputs; coverage in (0, 1]."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    correct = _ranked_correct(probs, labels)
    keep = max(1, math.ceil(coverage * len(correct) - 1e-9))
    return float(correct[:keep].mean())


def aurc(probs: ArrayLike, labels: ArrayLike) -> float:
    """Area under the risk-coverage curve (mean selective risk over k = 1..N)."""
    return float(risk_coverage(probs, labels)[1].mean())


def selective_metrics(
    probs: ArrayLike, labels: ArrayLike, coverages: Sequence[float] = COVERAGES
) -> dict[str, float]:
    """``acc@90``-style accuracies at each coverage and ``aurc``."""
    found = {f"acc@{round(c * 100)}": accuracy_at_coverage(probs, labels, c) for c in coverages}
    found["aurc"] = aurc(probs, labels)
    return found
