"""Which designs the noise of the accuracy-like objectives cannot tell apart from the front.

Metrics measured on test images carry a standard error (`<metric>_se`, from
`models.evaluation`); hardware metrics are exact (no error). A front design dominates
another *beyond the interval* when it is at least as good on every objective even after each
difference is shrunk by its 95 % interval, ``1.96 * sqrt(se_a^2 + se_b^2)``, and better on one.
A feasible design that no front design dominates beyond the interval is "within the interval
of the front": it may belong on the front, and the report marks it; `evaluation.refine_front`
re-evaluates such designs (and the front's) with more images or seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from dse.metrics import trial_metrics

Z95 = 1.96  # two-sided 95 % normal quantile


def standard_errors(attrs: dict, metrics: Sequence[str]) -> list[float]:
    """The recorded SE of each metric (0 where a metric has none, e.g. hardware cost)."""
    return [float(attrs.get(f"{m}_se") or 0.0) for m in metrics]


def dominates_beyond_interval(
    better: tuple[Sequence[float], Sequence[float]],
    worse: tuple[Sequence[float], Sequence[float]],
    directions: Sequence[StudyDirection],
) -> bool:
    """Whether (values, SEs) `better` dominates `worse` by more than the 95 % intervals."""
    strictly = False
    for b, sb, w, sw, d in zip(*better, *worse, directions, strict=True):
        gain = (b - w) if d == StudyDirection.MAXIMIZE else (w - b)
        margin = Z95 * math.hypot(sb, sw)
        if gain < margin:
            return False
        strictly = strictly or gain > margin
    return strictly


def within_front_interval(
    values: Sequence[float],
    ses: Sequence[float],
    front: Sequence[FrozenTrial],
    metrics: Sequence[str],
    directions: Sequence[StudyDirection],
) -> bool:
    """True when no `front` design dominates (values, ses) beyond the interval."""
    return not any(
        dominates_beyond_interval(
            (f.values, standard_errors(trial_metrics(f), metrics)), (values, ses), directions
        )
        for f in front
    )
