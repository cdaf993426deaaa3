"""Selective prediction metrics against hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from models.selective import accuracy_at_coverage, aurc, risk_coverage, selective_metrics


def two_class(confidences: list[float], correct: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Binary predictions whose top class is 0 with the given confidence; label 0 if correct."""
    conf = np.asarray(confidences)
    probs = np.stack([conf, 1.0 - conf], axis=1)
    return probs, np.where(correct, 0, 1)


def test_hand_worked_ranking():
    # Ranked by confidence 0.9, 0.8, 0.7, 0.6 (given shuffled); correct 1, 0, 1, 1.
    probs, y = two_class([0.7, 0.9, 0.6, 0.8], [True, True, True, False])
    coverage, risk = risk_coverage(probs, y)
    assert coverage == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert risk == pytest.approx([0.0, 1 / 2, 1 / 3, 1 / 4])
    assert aurc(probs, y) == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 4) / 4)  # 13/48
    assert accuracy_at_coverage(probs, y, 0.5) == pytest.approx(0.5)
    assert accuracy_at_coverage(probs, y, 0.6) == pytest.approx(2 / 3)  # ceil(2.4) = 3 kept
    assert accuracy_at_coverage(probs, y, 1.0) == pytest.approx(0.75)


def test_perfect_and_worst_ranking():
    # One error in 4: ranked last (perfect) -> risks 0, 0, 0, 1/4; ranked first -> 1, 1/2, 1/3, 1/4.
    probs, y = two_class([0.9, 0.8, 0.7, 0.6], [True, True, True, False])
    assert aurc(probs, y) == pytest.approx(1 / 16)
    expected = {"acc@90": 0.75, "acc@95": 0.75, "aurc": 1 / 16}  # ceil(3.6) = 4 kept
    assert selective_metrics(probs, y) == pytest.approx(expected)
    probs, y = two_class([0.9, 0.8, 0.7, 0.6], [False, True, True, True])
    assert aurc(probs, y) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


def test_ties_keep_input_order_and_bad_coverage_is_rejected():
    probs, y = two_class([0.8, 0.8, 0.6], [False, True, True])
    assert accuracy_at_coverage(probs, y, 1 / 3) == 0.0  # the first of the tie is kept
    with pytest.raises(ValueError, match="coverage"):
        accuracy_at_coverage(probs, y, 0.0)
