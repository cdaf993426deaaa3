"""The test split, scored once for the designs a search chose, and never read by the search.

Every objective, constraint and choice of a study reads the selection split
(`models.datasets`); after the search, each design on the final front is scored on the test
split with exactly the settings it was selected with (model, knobs, weight-sample seeds), and
the figures are stored as `test_<metric>` beside the selection figures.  They are study user
attributes (``test:<source trial>``), not trial attributes: a finished trial cannot take new
attributes, and the trials of the search must not carry test figures at all.  Hardware
variants and repeated designs share their evaluating trial's figures (the hardware knobs
change no score).

`score_front` runs at the end of `dse run` (and `dse report` scores the front designs not
yet scored); `held_out_scores` maps the front's trial numbers to their figures for the report,
`dse show` and `dse.trials`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from dse.metrics import metric, trial_metrics
from dse.schema import StudyConfig

__all__ = [
    "TEST_PREFIX",
    "evaluating_trial",
    "gap_summary",
    "score_front",
    "selection_gap",
    "held_out_scores",
]

#: Prefix of every figure measured on the test split.
TEST_PREFIX = "test_"
_ATTR = "test:"
#: Metrics (and their `_se`) carried over from a test evaluation.
_KEPT = ("accuracy", "ece", "nll", "brier", "entropy", "ood_auroc", "ece_uncalibrated")


def evaluating_trial(trial: FrozenTrial) -> int:
    """The number of the trial that scored this design's model (itself, unless it is a
    hardware variant or a repeated model configuration)."""
    return int(metric(trial, "inner_of", metric(trial, "duplicate_of", trial.number)))


def _front(study: optuna.Study) -> list[FrozenTrial]:
    from dse.selection import front_trials

    return front_trials(study)


def held_out_scores(
    study: optuna.Study, front: list[FrozenTrial] | None = None
) -> dict[int, dict[str, Any]]:
    """{front trial number: its `test_*` figures} for the front designs scored so far
    (`front`: the study's, when the caller has it already)."""
    stored = study.user_attrs
    found = {}
    for trial in _front(study) if front is None else front:
        scores = stored.get(f"{_ATTR}{evaluating_trial(trial)}")
        if scores is not None:
            found[trial.number] = scores
    return found


def _test_figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """The test evaluation's figures under `test_` names."""
    kept = {}
    for name in _KEPT:
        for key in (name, f"{name}_se"):
            if key in metrics:
                kept[f"{TEST_PREFIX}{key}"] = metrics[key]
    for key in ("test_images", "test_correct", "eval_seeds"):
        if key in metrics:
            kept[key if key.startswith(TEST_PREFIX) else f"{TEST_PREFIX}{key}"] = metrics[key]
    return kept


def score_front(
    cfg: StudyConfig, study: optuna.Study, on_design: Callable[[int, int], None] | None = None
) -> list[int]:
    """Score every front design not yet scored on the test split; returns the evaluating
    trials scored now.  `on_design(done, total)` reports progress.  A design whose model is
    no longer in the cache is skipped (its figures stay absent)."""
    from dse.objective import load_splits, load_study_ood, trial_configuration
    from models.evaluation import evaluate_seeds
    from models.io import load_model

    todo: dict[int, FrozenTrial] = {}
    for trial in _front(study):
        source = evaluating_trial(trial)
        if f"{_ATTR}{source}" not in study.user_attrs:
            todo.setdefault(source, trial)
    if not todo:
        return []
    splits = load_splits(cfg.dataset)
    ood = load_study_ood(cfg.dataset, splits, "test")
    scored = []
    for done, (source, trial) in enumerate(sorted(todo.items())):
        if on_design is not None:
            on_design(done, len(todo))
        _, eval_cfg, _, model_dir = trial_configuration(cfg, trial)
        if not Path(model_dir).is_dir():
            continue
        seeds = int(metric(trial, "eval_seeds", 1))
        metrics = evaluate_seeds(
            load_model(model_dir), splits, eval_cfg, seeds, ood=ood, split="test"
        )
        study.set_user_attr(f"{_ATTR}{source}", _test_figures(metrics))
        scored.append(source)
    if on_design is not None:
        on_design(len(todo), len(todo))
    return scored


def selection_gap(trial: FrozenTrial, scores: dict[str, Any]) -> tuple[float, float] | None:
    """Selection minus test accuracy of one design and the standard error of that difference
    (the two splits are disjoint, so their errors add in quadrature); None if not scored."""
    attrs = trial_metrics(trial)
    if "accuracy" not in attrs or f"{TEST_PREFIX}accuracy" not in scores:
        return None
    gap = float(attrs["accuracy"]) - float(scores[f"{TEST_PREFIX}accuracy"])
    se = math.hypot(
        float(attrs.get("accuracy_se") or 0.0),
        float(scores.get(f"{TEST_PREFIX}accuracy_se") or 0.0),
    )
    return gap, se


def gap_summary(study: optuna.Study) -> str | None:
    """One line: the front's selection and test accuracy side by side and the gap between
    them (the selection optimism that remains), with its 95 % interval; None if unscored."""
    scores = held_out_scores(study)
    gaps = [
        (trial, found)
        for trial in _front(study)
        if (found := selection_gap(trial, scores.get(trial.number, {}))) is not None
    ]
    if not gaps:
        return None
    selection = sum(float(metric(t, "accuracy")) for t, _ in gaps) / len(gaps)
    test = sum(float(scores[t.number][f"{TEST_PREFIX}accuracy"]) for t, _ in gaps) / len(gaps)
    gap = sum(g for _, (g, _) in gaps) / len(gaps)
    half = 1.96 * sum(se for _, (_, se) in gaps) / len(gaps)
    return (
        f"front on the test split ({len(gaps)} designs, mean): accuracy {100 * test:.2f} % "
        f"against {100 * selection:.2f} % on the selection split; gap "
        f"{100 * gap:+.2f} points (+-{100 * half:.2f} per design, 95 %)"
    )
