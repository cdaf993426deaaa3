"""The report's figures, built from a study with optuna.visualization and plotly.

Optuna's own plots already know about constraints (infeasible trials drawn apart) and put
every parameter and user attribute of a trial in its hover text, so they are used where they
fit; the parallel-coordinates view is drawn here so that it shows every objective at once.
"""

from __future__ import annotations

import itertools
import logging
import warnings

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
from optuna.exceptions import ExperimentalWarning
from optuna.importance import FanovaImportanceEvaluator
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from optuna.visualization import (
    plot_hypervolume_history,
    plot_optimization_history,
    plot_param_importances,
    plot_pareto_front,
)

Figures = list[tuple[str, go.Figure]]


def objective_names(study: optuna.Study) -> list[str]:
    """The objective metric names (Optuna's stored metric names, else values_i)."""
    return study.metric_names or [f"values_{i}" for i in range(len(study.directions))]


def is_feasible(trial: FrozenTrial) -> bool:
    """Optuna's rule: every constraint value <= 0."""
    return all(v <= 0 for v in trial.constraints.values())


def pareto_figures(study: optuna.Study) -> Figures:
    """The front in 2-D for every pair of objectives, and in 3-D when there are three."""
    names = objective_names(study)
    figures: Figures = []
    for i, j in itertools.combinations(range(len(names)), 2):
        fig = plot_pareto_front(
            study,
            targets=lambda t, i=i, j=j: (t.values[i], t.values[j]),
            target_names=[names[i], names[j]],
        )
        figures.append((f"Pareto front: {names[i]} vs {names[j]}", fig))
    if len(names) == 3:
        figures.append(("Pareto front in 3-D", plot_pareto_front(study, target_names=names)))
    return figures


def reference_point(study: optuna.Study) -> list[float] | None:
    """Hypervolume reference: each objective's worst feasible value, 10 % of its span beyond."""
    trials = [t for t in completed(study) if is_feasible(t)]
    if not trials:
        return None
    values = np.array([t.values for t in trials], dtype=float)
    span = values.max(axis=0) - values.min(axis=0)
    margin = np.where(span > 0, 0.1 * span, 0.1 * np.abs(values).max(axis=0) + 1e-9)
    worst = [
        values[:, k].max() + margin[k]
        if d == StudyDirection.MINIMIZE
        else values[:, k].min() - margin[k]
        for k, d in enumerate(study.directions)
    ]
    return [float(w) for w in worst]


def completed(study: optuna.Study) -> list[FrozenTrial]:
    """The study's COMPLETE trials."""
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def history_figure(study: optuna.Study) -> Figures:
    """Hypervolume history (several objectives) or optimisation history (one)."""
    if len(study.directions) == 1:
        return [("Optimisation history", plot_optimization_history(study))]
    ref = reference_point(study)
    if ref is None:
        return []
    rounded = ", ".join(f"{r:.4g}" for r in ref)
    return [(f"Hypervolume history (reference {rounded})", plot_hypervolume_history(study, ref))]


def parallel_figure(study: optuna.Study) -> Figures:
    """Parallel coordinates over every searched parameter and every objective."""
    trials = completed(study)
    if not trials:
        return []
    names = objective_names(study)
    frame = pd.DataFrame([{**t.params, **dict(zip(names, t.values, strict=True))} for t in trials])
    dims = []
    for column in frame.columns:
        series = frame[column]
        if not pd.api.types.is_numeric_dtype(series):  # pandas 3 strings are not `object`
            codes, labels = pd.factorize(series.astype(str), sort=True)
            dims.append(
                {
                    "label": column,
                    "values": codes,
                    "tickvals": list(range(len(labels))),
                    "ticktext": list(labels),
                }
            )
        else:
            dims.append({"label": column, "values": series.fillna(series.min()).to_numpy()})
    feasible = [1.0 if is_feasible(t) else 0.0 for t in trials]
    line = {
        "color": feasible,
        "colorscale": [[0, "#d62728"], [1, "#1f77b4"]],
        "cmin": 0,
        "cmax": 1,
    }
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line))
    fig.update_layout(title="Parallel coordinates (blue: feasible, red: infeasible)")
    return [("Parallel coordinates", fig)]


def importance_figures(study: optuna.Study) -> Figures:
    """Parameter importances (fANOVA) for each objective; skipped with too few trials."""
    names = objective_names(study)
    figures: Figures = []
    if len(completed(study)) < 2 or not any(completed(study)[0].params):
        return figures
    optuna_logger = logging.getLogger("optuna")
    for k, name in enumerate(names):
        try:
            fig = plot_param_importances(
                study,
                evaluator=FanovaImportanceEvaluator(seed=0),
                target=lambda t, k=k: t.values[k],
                target_name=name,
            )
        except (ValueError, RuntimeError) as exc:  # e.g. no parameter varies
            optuna_logger.info("importances for %s skipped: %s", name, exc)
            continue
        figures.append((f"Parameter importances for {name}", fig))
    return figures


def all_figures(study: optuna.Study) -> Figures:
    """Every figure of the report, in reading order."""
    with warnings.catch_warnings():  # hypervolume history and metric names are "experimental"
        warnings.simplefilter("ignore", ExperimentalWarning)
        front = pareto_figures(study) if len(study.directions) > 1 else []
        return front + parallel_figure(study) + history_figure(study) + importance_figures(study)
