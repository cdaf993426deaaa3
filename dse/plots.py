"""The report's figures, built with plotly from a study.

Every figure uses one colour-blind-safe scheme (Okabe-Ito) for the same four kinds of
design: on the feasible Pareto front, feasible and within the 95 % interval of the front
(`dse.intervals`), feasible and dominated, infeasible; the knee (`dse.selection.knee_trial`)
is a star. Metrics are drawn in their units (`METRIC_STYLES`: accuracy in %, energy in µJ,
..., the terminal's units, `dse.units`), on log axes where they span a decade or more, with
95 % interval bars where a trial recorded a standard error (`<metric>_se`). Hover text is a
short aligned table of the key metrics and the knobs. Hypervolume history and importances
are drawn by Optuna and given the report's one style (`house_style`).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import warnings
from dataclasses import dataclass

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
)

from dse.error_band import ModelBand, relative_band
from dse.intervals import Z95, standard_errors, within_front_interval
from dse.metrics import trial_metrics
from dse.selection import front_trials, knee_trial
from models.metrics import SE_METRICS

Figures = list[tuple[str, go.Figure]]

# Okabe & Ito (2008) colours; grey for what does not count.
KINDS = {  # kind: (legend text, colour, marker symbol)
    "front": ("Pareto front", "#D55E00", "circle"),
    "interval": ("within 95 % interval of the front", "#E69F00", "diamond"),
    "dominated": ("feasible, dominated", "#0072B2", "circle-open"),
    "infeasible": ("infeasible", "#999999", "x-thin-open"),
}
COLOUR_NAMES = {"#D55E00": "vermillion", "#E69F00": "orange", "#0072B2": "blue", "#999999": "grey"}
KNEE_COLOUR = "#009E73"


@dataclass(frozen=True)
class MetricStyle:
    """How a metric is shown: axis label, unit, and the factor from stored to shown value."""

    label: str
    unit: str = ""
    scale: float = 1.0

    @property
    def title(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


METRIC_STYLES = {
    "accuracy": MetricStyle("Accuracy", "%", 100.0),
    "ece": MetricStyle("ECE", "%", 100.0),
    "nll": MetricStyle("NLL", "nats"),
    "brier": MetricStyle("Brier score"),
    "entropy": MetricStyle("Predictive entropy", "nats"),
    "ood_auroc": MetricStyle("OOD AUROC", "%", 100.0),
    "spikes_per_inference": MetricStyle("Spikes per inference"),
    "synops_per_inference": MetricStyle("Synaptic ops per inference"),
    "lut": MetricStyle("LUTs"),
    "ff": MetricStyle("Flip-flops"),
    "bram36": MetricStyle("BRAM36 blocks"),
    "dsp": MetricStyle("DSP slices"),
    "util_lut": MetricStyle("LUT utilisation", "%", 100.0),
    "util_ff": MetricStyle("FF utilisation", "%", 100.0),
    "util_bram36": MetricStyle("BRAM utilisation", "%", 100.0),
    "util_dsp": MetricStyle("DSP utilisation", "%", 100.0),
    "cycles": MetricStyle("Cycles per inference"),
    "latency_us": MetricStyle("Latency", "µs"),
    "throughput_ips": MetricStyle("Throughput", "inferences/s"),
    "synops_per_s": MetricStyle("Synaptic ops per second"),
    "gops": MetricStyle("Throughput", "GOPS"),
    "gops_per_dsp": MetricStyle("GOPS per DSP"),
    "power_static_w": MetricStyle("Static power", "W"),
    "power_dynamic_w": MetricStyle("Dynamic power", "W"),
    "power_w": MetricStyle("Power", "W"),
    "energy_pl_uj": MetricStyle("PL energy per inference", "µJ"),
    "energy_soc_uj": MetricStyle("SoC energy per inference", "µJ"),
    "energy_board_uj": MetricStyle("Board energy per inference", "µJ"),
}
#: Shown in every hover table (after the objectives) when a trial recorded them.
KEY_METRICS = ("accuracy", "ece", "energy_pl_uj", "energy_soc_uj", "energy_board_uj")
KEY_METRICS += ("latency_us", "power_w", "lut", "bram36", "dsp")


def metric_style(name: str) -> MetricStyle:
    """A metric's style; unknown names are shown as they are, unscaled."""
    return METRIC_STYLES.get(name, MetricStyle(name))


def objective_names(study: optuna.Study) -> list[str]:
    """The objective metric names (Optuna's stored metric names, else values_i)."""
    return study.metric_names or [f"values_{i}" for i in range(len(study.directions))]


def is_feasible(trial: FrozenTrial) -> bool:
    """Optuna's rule: every constraint value <= 0."""
    return all(v <= 0 for v in trial.constraints.values())


def completed(study: optuna.Study) -> list[FrozenTrial]:
    """The study's COMPLETE trials."""
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def classify(study: optuna.Study) -> dict[int, str]:
    """Kind (a key of `KINDS`) of every complete trial, by trial number."""
    names = objective_names(study)
    front = front_trials(study)
    on_front = {t.number for t in front}
    kinds = {}
    for t in completed(study):
        if not is_feasible(t):
            kinds[t.number] = "infeasible"
        elif t.number in on_front:
            kinds[t.number] = "front"
        elif within_front_interval(
            t.values, standard_errors(trial_metrics(t), names), front, names, study.directions
        ):
            kinds[t.number] = "interval"
        else:
            kinds[t.number] = "dominated"
    return kinds


def knee(study: optuna.Study) -> FrozenTrial | None:
    """The front's knee (`dse.selection`), or None without a feasible front."""
    front = front_trials(study)
    return knee_trial(study, front) if front else None


def format_value(name: str, value: float, se: float = 0.0) -> str:
    """A metric in its unit, with its 95 % interval half-width when it has an SE."""
    style = metric_style(name)
    shown = value * style.scale
    digits = ".1f" if style.unit == "%" else ".0f" if abs(shown) >= 1000 else ".3g"
    text = f"{shown:,{digits}}"
    if se > 0:
        text += f" ± {Z95 * se * style.scale:,{digits}}"
    return f"{text} {style.unit}".rstrip()


def hover_text(trial: FrozenTrial, names: list[str], kind: str, is_knee: bool) -> str:
    """A short aligned table (monospace): the objectives and key metrics, then the knobs."""
    attrs = {**trial_metrics(trial), **dict(zip(names, trial.values, strict=True))}
    shown = list(dict.fromkeys([*names, *(m for m in KEY_METRICS if m in attrs)]))
    header = f"trial {trial.number}: {KINDS[kind][0]}" + (" (knee)" if is_knee else "")
    lines = [f"<b>{header}</b>"]
    numbers = [
        n for n in shown if isinstance(attrs[n], int | float) and not isinstance(attrs[n], bool)
    ]
    width = 1 + max((len(metric_style(n).label) for n in numbers), default=0)
    for name in numbers:
        se = float(attrs.get(f"{name}_se") or 0.0)
        value = format_value(name, float(attrs[name]), se)
        lines.append(f"{metric_style(name).label:\u00a0<{width}}{value}")
    knobs = [f"{k}={_short(v)}" for k, v in trial.params.items()]
    lines += ["\u00a0\u00a0".join(knobs[i : i + 3]) for i in range(0, len(knobs), 3)]
    return "<br>".join(lines)


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _shown(study: optuna.Study) -> tuple[list[FrozenTrial], dict[int, str], int | None]:
    trials = completed(study)
    chosen = knee(study)
    return trials, classify(study), None if chosen is None else chosen.number


def log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks from below `low` to above `high`, each labelled in full (Plotly's own log
    ticks label 20 as "2" after 10)."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        ticks += [m * 10.0**exponent for m in (1, 2, 5)]
    inside = [t for t in ticks if low / 1.25 <= t <= high * 1.25]
    return inside or ticks


def _axis(name: str, values: np.ndarray) -> dict:
    """Axis title with unit; log type when positive values span a decade or more, with
    1-2-5 ticks labelled in full."""
    positive = values[np.isfinite(values)]
    log = positive.size > 1 and positive.min() > 0 and positive.max() / positive.min() >= 10
    axis: dict = {"title": {"text": metric_style(name).title}, "type": "log" if log else "linear"}
    if log:
        ticks = log_ticks(float(positive.min()), float(positive.max()))
        axis.update(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    return axis


def _front_2d(points: np.ndarray, maximise: tuple[bool, bool]) -> np.ndarray:
    """The non-dominated rows of [n, 2] `points`, sorted by x."""
    signed = points * np.where(maximise, -1.0, 1.0)  # every column minimised
    keep = [
        i
        for i, p in enumerate(signed)
        if not np.any(np.all(signed <= p, axis=1) & np.any(signed < p, axis=1))
    ]
    front = points[keep]
    return front[np.argsort(front[:, 0], kind="stable")]


def _band_bars(
    group: list[FrozenTrial], names: list[str], k: int, scale: float, band: ModelBand
) -> np.ndarray | None:
    """Half-widths (shown units) of the model's measured error on objective k, or None."""
    bars = []
    for t in group:
        attrs = {**trial_metrics(t), **dict(zip(names, t.values, strict=True))}
        rel = relative_band(names[k], attrs, band)
        bars.append(np.nan if rel is None else abs(t.values[k]) * scale * rel)
    bars = np.array(bars, dtype=float)
    return None if np.isnan(bars).all() else np.nan_to_num(bars)


def pareto_figure(study: optuna.Study, i: int, j: int, band: ModelBand | None = None) -> go.Figure:
    """Objective j against i: one trace per kind, error bars, the front's step line, the knee.

    With a `band` (`dse.error_band`), the front's bars on a cost axis are the cost model's
    measured error instead (capped, in the front's colour)."""
    names = objective_names(study)
    trials, kinds, knee_number = _shown(study)
    maximise = tuple(study.directions[k] == StudyDirection.MAXIMIZE for k in (i, j))
    scale = np.array([metric_style(names[i]).scale, metric_style(names[j]).scale])
    fig = go.Figure()
    for rank, (kind, (legend, colour, symbol)) in reversed(list(enumerate(KINDS.items()))):
        group = [t for t in trials if kinds[t.number] == kind]  # the front drawn last, on top
        if not group:
            continue
        xy = np.array([[t.values[i], t.values[j]] for t in group]) * scale
        se = np.array([standard_errors(trial_metrics(t), [names[i], names[j]]) for t in group])
        faint = f"rgba({int(colour[1:3], 16)},{int(colour[3:5], 16)},{int(colour[5:7], 16)},0.45)"
        bars = [
            {"array": b, "visible": bool(b.any()), "width": 0, "thickness": 1, "color": faint}
            for b in (Z95 * se * scale).T
        ]
        for axis, k in enumerate((i, j)):
            model_bars = None
            if band is not None and kind == "front":
                model_bars = _band_bars(group, names, k, scale[axis], band)
            if model_bars is not None:
                bars[axis] = {"array": model_bars, "width": 4, "thickness": 1.5, "color": colour}
        fig.add_trace(
            go.Scatter(
                x=xy[:, 0],
                y=xy[:, 1],
                mode="markers",
                name=f"{legend} ({len(group)})",
                legendrank=rank,
                marker={"color": colour, "symbol": symbol, "size": 9, "line": {"width": 1.5}},
                error_x=bars[0],
                error_y=bars[1],
                text=[hover_text(t, names, kind, t.number == knee_number) for t in group],
                hoverinfo="text",
            )
        )
    feasible = np.array(
        [[t.values[i], t.values[j]] for t in trials if kinds[t.number] != "infeasible"]
    )
    if len(feasible):
        step = _front_2d(feasible, maximise) * scale
        fig.add_trace(
            go.Scatter(
                x=step[:, 0],
                y=step[:, 1],
                mode="lines",
                line={"color": KINDS["front"][1], "shape": "vh" if maximise[0] else "hv"},
                name="front (step)",
                hoverinfo="skip",
            )
        )
    if knee_number is not None:
        point = next(t for t in trials if t.number == knee_number)
        x, y = point.values[i] * scale[0], point.values[j] * scale[1]
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers",
                name=f"knee: trial {knee_number}",
                marker={"color": KNEE_COLOUR, "symbol": "star", "size": 18},
                marker_line={"color": "black", "width": 1},
                text=[hover_text(point, names, "front", True)],
                hoverinfo="text",
            )
        )
    every = np.array([[t.values[i], t.values[j]] for t in trials]) * scale
    fig.update_layout(
        template="plotly_white",
        xaxis=_axis(names[i], every[:, 0]),
        yaxis=_axis(names[j], every[:, 1]),
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hoverlabel={"font": {"family": "monospace", "size": 12}, "align": "left"},
        margin={"t": 60, "r": 20},
        height=560,
    )
    return fig


def _axes_order(study: optuna.Study, i: int, j: int) -> tuple[int, int]:
    """Accuracy-like metrics (those measured on test images) go on y, costs on x."""
    names = objective_names(study)
    return (j, i) if names[i] in SE_METRICS and names[j] not in SE_METRICS else (i, j)


def pareto_3d(study: optuna.Study) -> go.Figure:
    """The three objectives in 3-D, the same kinds and colours."""
    names = objective_names(study)
    trials, kinds, knee_number = _shown(study)
    fig = go.Figure()
    for kind, (legend, colour, _) in KINDS.items():
        group = [t for t in trials if kinds[t.number] == kind]
        if group:
            v = np.array([t.values for t in group]) * [metric_style(n).scale for n in names]
            fig.add_trace(
                go.Scatter3d(
                    x=v[:, 0],
                    y=v[:, 1],
                    z=v[:, 2],
                    mode="markers",
                    name=f"{legend} ({len(group)})",
                    marker={
                        "color": colour,
                        "size": [10 if t.number == knee_number else 4 for t in group],
                    },
                    text=[hover_text(t, names, kind, t.number == knee_number) for t in group],
                    hoverinfo="text",
                )
            )
    titles = [metric_style(n).title for n in names]
    fig.update_layout(
        scene={"xaxis_title": titles[0], "yaxis_title": titles[1], "zaxis_title": titles[2]},
        hoverlabel={"font": {"family": "monospace", "size": 12}, "align": "left"},
        height=640,
    )
    return fig


def pareto_figures(study: optuna.Study, band: ModelBand | None = None) -> Figures:
    """The front in 2-D for every pair of objectives (with the model's measured error band
    when given), and in 3-D when there are three."""
    names = objective_names(study)
    figures: Figures = []
    if not completed(study):
        return figures
    for i, j in itertools.combinations(range(len(names)), 2):
        x, y = _axes_order(study, i, j)
        figure = pareto_figure(study, x, y, band)
        figures.append((f"Pareto front: {names[i]} vs {names[j]}", figure))
    if len(names) == 3:
        figures.append(("Pareto front in 3-D", pareto_3d(study)))
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


def history_figure(study: optuna.Study) -> Figures:
    """Hypervolume history (several objectives) or optimisation history (one)."""
    if len(study.directions) == 1:
        return [("Optimisation history", plot_optimization_history(study))]
    ref = reference_point(study)
    if ref is None:
        return []
    rounded = ", ".join(f"{r:.4g}" for r in ref)
    return [(f"Hypervolume history (reference {rounded})", plot_hypervolume_history(study, ref))]


def _dimension(label: str, series: pd.Series) -> dict:
    """One parallel-coordinates axis; strings become codes with their names as tick labels."""
    if not pd.api.types.is_numeric_dtype(series):  # pandas 3 strings are not `object`
        codes, labels = pd.factorize(series.astype(str), sort=True)
        return {
            "label": label,
            "values": codes,
            "tickvals": list(range(len(labels))),
            "ticktext": _without_common_suffix(list(labels)),
        }
    values = series.fillna(series.min()).to_numpy(dtype=float)
    dim = {"label": label, "values": values, "tickformat": ".4~g"}
    distinct = np.unique(values)
    if len(distinct) <= 6:  # few settings: label exactly those
        dim.update(tickvals=list(distinct), ticktext=[f"{v:.4g}" for v in distinct])
    return dim


def _without_common_suffix(labels: list[str]) -> list[str]:
    """Tick labels short enough not to run into the next axis: the common tail goes, never
    splitting a number ('xc7z020clg400-1', 'xc7z010clg400-1' become 'xc7z020', 'xc7z010')."""
    if len(labels) < 2:
        return labels
    suffix = os.path.commonprefix([label[::-1] for label in labels])[::-1].lstrip("0123456789")
    return [label.removesuffix(suffix) or label for label in labels]


def parallel_figure(study: optuna.Study) -> Figures:
    """Parallel coordinates over every searched parameter and every objective (in units);
    front designs drawn last, on top."""
    trials, kinds, _ = _shown(study)
    if not trials:
        return []
    trials = sorted(trials, key=lambda t: -list(KINDS).index(kinds[t.number]))
    names = objective_names(study)
    params = pd.DataFrame([t.params for t in trials])
    dims = [_dimension(column, params[column]) for column in params.columns]
    for k, name in enumerate(names):
        style = metric_style(name)
        values = pd.Series([t.values[k] * style.scale for t in trials])
        dims.append(_dimension(style.title, values))
    order = list(KINDS)
    stops = []
    for code, kind in enumerate(order):
        colour = KINDS[kind][1]
        stops += [[code / len(order), colour], [(code + 1) / len(order), colour]]
    line = {
        "color": [order.index(kinds[t.number]) + 0.5 for t in trials],
        "colorscale": stops,
        "cmin": 0,
        "cmax": len(order),
    }
    key = ", ".join(f"{KINDS[k][0]}: {COLOUR_NAMES[KINDS[k][1]]}" for k in order)
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            line=line,
            labelangle=-30,
            labelside="top",
            labelfont={"size": 12},
            tickfont={"size": 10},
        )
    )
    fig.update_layout(
        title={"text": key, "y": 0.02, "yanchor": "bottom"},
        margin={"t": 130, "b": 60, "l": 60, "r": 140},
        width=1300,
        height=560,
    )
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


def house_style(figures: Figures) -> Figures:
    """Every figure in one style: white template, one font, the kinds' colour-blind-safe
    palette (Optuna's own plots included: their lines and bars take the palette's colours)."""
    palette = list(COLOUR_NAMES)
    for _, fig in figures:
        fig.update_layout(
            template="plotly_white",
            font={"family": "sans-serif", "size": 13},
            colorway=palette,
        )
        fig.update_traces(marker_color=palette[2], selector={"type": "bar"})
    return figures


def all_figures(study: optuna.Study, band: ModelBand | None = None) -> Figures:
    """Every figure of the report, in reading order."""
    with warnings.catch_warnings():  # hypervolume history and metric names are "experimental"
        warnings.simplefilter("ignore", ExperimentalWarning)
        front = pareto_figures(study, band) if len(study.directions) > 1 else []
        figures = front + parallel_figure(study) + history_figure(study)
        return house_style(figures + importance_figures(study))
