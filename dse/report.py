"""Tables and the offline HTML report of a study.

`trials.csv` has one row per trial (parameters, objectives each followed by its standard
error where one was recorded, every user attribute, the constraint values, feasibility, the
kind of design of `dse.plots.KINDS`, state); `pareto.csv` holds the front of
`dse.selection.front_trials` (`study.best_trials`, the feasible non-dominated trials, without
twins) and, where the selection split's paired test applies (`dse.paired`), which front
designs each is indistinguishable from in accuracy; `report.html` embeds plotly's JavaScript
so it opens offline, and sets `data-js-error` on its root element if a script fails (the
browser test reads it).
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import optuna
import pandas as pd
import plotly.offline
from optuna.trial import TrialState

if TYPE_CHECKING:
    from hwmodel.calibration import Calibration

from dse.error_band import band_note, band_table, model_band
from dse.errors import StudyInputError
from dse.holdout import held_out_scores
from dse.intervals import Z95, standard_errors
from dse.metrics import trial_metrics
from dse.paired import IMAGES_ATTR, ties_of
from dse.plots import (
    KEY_METRICS,
    all_figures,
    classify,
    completed,
    format_value,
    is_feasible,
    knee,
    metric_style,
    objective_names,
    pareto_figures,
)
from dse.selection import front_trials, paired, roles, tie_table
from dse.summary import clock_note, conv_note, selection_note

_TEMPLATE = jinja2.Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dse report: {{ name }}</title>
<script>window.onerror = function (message) {
  document.documentElement.setAttribute("data-js-error", String(message));
};</script>
<script type="text/javascript">{{ plotly_js }}</script>
<style>body{font-family:sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
td{text-align:right;white-space:nowrap}th{background:#eee}
.wide{overflow-x:auto}summary{margin:1em 0;cursor:pointer}
.note{background:#fff4e0;padding:.5em}</style>
</head><body>
<h1>Study {{ name }}</h1>
<p>{{ summary }}</p>
{% for note in notes %}<p class="note">{{ note }}</p>
{% endfor %}<h2>Pareto front ({{ n_pareto }} feasible non-dominated trials)</h2>
<p>Every objective and choice was made on the selection split; "&plusmn;" is the 95 %
interval, 1.96 standard errors over its images (and weight-sample seeds where several were
evaluated). The test columns are the same designs scored once on the test split after the
search, which never read it.</p>
{{ pareto_table }}
<details><summary>{{ n_interval }} more feasible designs are within the 95 % interval of the
front: no front design beats them by more than the interval (orange in the plots;
<code>kind</code> = interval in trials.csv). They are one group: a front design is as good;
{{ interval_listed }}.</summary>
{{ interval_table }}</details>
{% if band_table %}<h2>Cost model against synthesis</h2>
{{ band_table }}
<p>{{ band_note }}</p>
{% endif %}{% for title, div in figures %}<h2>{{ title }}</h2>
{{ div }}
{% endfor %}<p>Generated {{ generated }} by dse.</p></body></html>
""",
    autoescape=False,
)


#: Column of the HTML tables: the front designs a design's accuracy is tied with.
TIES_COLUMN = "accuracy indistinguishable from (selection split, McNemar)"
GROUP_COLUMN = "tie group"
#: Designs within the front's interval listed in the report (trials.csv has every one).
LISTED = 10


def _json_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts (per-layer figures, configs) as JSON text, so a CSV keeps them."""
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, list | dict | tuple)).any():
            frame[column] = frame[column].map(
                lambda v: json.dumps(v) if isinstance(v, list | dict | tuple) else v
            )
    return frame


def trials_frame(
    study: optuna.Study,
    trials: list[optuna.trial.FrozenTrial] | None = None,
    front: list[optuna.trial.FrozenTrial] | None = None,
):
    """One row per trial (all trials, or the given ones in their order); `values_<m>_se`
    after each objective that recorded a standard error; `test_*` for the front designs
    (`front`: the study's front, when the caller has it already)."""
    frame = study.trials_dataframe(
        attrs=("number", "state", "values", "params", "duration"), multi_index=False
    )
    if frame.empty:
        return frame
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    frame = _with_metrics(frame, [by_number[n] for n in frame["number"]])
    names = sorted({k for t in by_number.values() for k in t.constraints})
    for name in names:
        frame[f"constraint_{name}"] = frame["number"].map(
            lambda n, name=name: by_number[n].constraints.get(name)
        )
    frame["duration"] = frame["duration"].dt.total_seconds()
    frame["feasible"] = frame["number"].map(  # only a finished trial can be feasible
        lambda n: by_number[n].state == TrialState.COMPLETE and is_feasible(by_number[n])
    )
    kinds = classify(study)
    frame["kind"] = frame["number"].map(lambda n: kinds.get(n, ""))
    frame.columns = [c.removeprefix("user_attrs_") for c in frame.columns]
    frame = _with_test_scores(frame, held_out_scores(study, front))
    frame = _with_standard_errors(frame, objective_names(study))
    if trials is not None:
        frame = frame.set_index("number").loc[[t.number for t in trials]].reset_index()
    return _json_cells(frame)


def _with_metrics(frame: pd.DataFrame, trials: list[optuna.trial.FrozenTrial]) -> pd.DataFrame:
    """One `user_attrs_<name>` column per metric (`dse.metrics.trial_metrics`, sorted by name)
    before `duration`, where Optuna's own `user_attrs` columns would be."""
    metrics = pd.DataFrame([trial_metrics(t) for t in trials], index=frame.index)
    metrics = metrics[sorted(metrics.columns)].add_prefix("user_attrs_")
    at = frame.columns.get_loc("duration") if "duration" in frame.columns else len(frame.columns)
    return pd.concat([frame.iloc[:, :at], metrics, frame.iloc[:, at:]], axis=1)


def _with_test_scores(frame: pd.DataFrame, scores: dict[int, dict]) -> pd.DataFrame:
    """`test_*` columns, filled for the front designs scored on the test split only."""
    names = list(dict.fromkeys(k for figures in scores.values() for k in figures))
    for name in names:
        frame[name] = frame["number"].map(lambda n, name=name: scores.get(n, {}).get(name))
    return frame


def _with_standard_errors(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Put `values_<m>_se` (a copy of the recorded `<m>_se`) right after `values_<m>`."""
    columns = list(frame.columns)
    for name in names:
        if f"{name}_se" in frame.columns and f"values_{name}" in columns:
            frame[f"values_{name}_se"] = frame[f"{name}_se"]
            columns.insert(columns.index(f"values_{name}") + 1, f"values_{name}_se")
    return frame[columns]


def pareto_frame(
    study: optuna.Study, front: list[optuna.trial.FrozenTrial] | None = None
) -> pd.DataFrame:
    """The front's rows by trial number; with the paired test, `tied_with_most_accurate`
    (the selection split cannot tell its accuracy from the most accurate front design's, or
    it is that design) and `indistinguishable_from` (front trial numbers, a JSON list)."""
    front = front_trials(study) if front is None else front
    if not front:
        return pd.DataFrame()
    frame = trials_frame(study, sorted(front, key=lambda t: t.number), front)
    ties = tie_table(study, front)
    if ties:
        top = front[0].number
        frame["tied_with_most_accurate"] = frame["number"].map(lambda n: n == top or n in ties[top])
        frame["indistinguishable_from"] = frame["number"].map(lambda n: sorted(ties[n]))
    return _json_cells(frame)


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def tie_groups(study: optuna.Study, front: list[optuna.trial.FrozenTrial]) -> dict[int, str]:
    """A letter per front design: walking the front best-first, a design and every design not
    yet grouped that the selection split cannot tell apart from it share a letter (empty when
    the study holds no per-image results to pair)."""
    if not paired(study):
        return {}
    groups: dict[int, str] = {}
    for t in front:
        if t.number in groups:
            continue
        label = chr(ord("A") + len(set(groups.values())) % 26)
        groups[t.number] = label
        for number in ties_of(t, [u for u in front if u.number not in groups]):
            groups[number] = label
    return groups


def _ordered(study: optuna.Study, trials: list, front: list) -> list:
    """`trials` as the terminal lists the front: front order, then best first on the first
    objective."""
    place = {t.number: i for i, t in enumerate(front)}
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return sorted(trials, key=lambda t: (place.get(t.number, len(place)), sign * t.values[0]))


def _design_table(
    study: optuna.Study, kind: str, front: list[optuna.trial.FrozenTrial], limit: int = 0
) -> str:
    """HTML table of the designs of one kind, best first as the terminal lists them (the
    first `limit` when given): objectives with their 95 % intervals, key metrics in units,
    the tie group of each front design, the knobs."""
    names = objective_names(study)
    kinds = classify(study)
    shown = _ordered(study, [t for t in completed(study) if kinds[t.number] == kind], front)
    if not shown:
        return "<p>none</p>"
    if limit:
        shown = shown[:limit]
    marked = roles(study, front)
    groups = tie_groups(study, front) if kind == "front" else {}
    first = trial_metrics(shown[0])
    metrics = list(dict.fromkeys([*names, *(m for m in KEY_METRICS if m in first)]))
    tested = held_out_scores(study, front)
    rows = []
    for t in shown:
        attrs = {**trial_metrics(t), **dict(zip(names, t.values, strict=True))}
        row: dict[str, object] = {
            "trial": f"{t.number} ({marked[t.number]})" if t.number in marked else t.number
        }
        if groups:
            row[GROUP_COLUMN] = groups.get(t.number, "")
        if paired(study) and IMAGES_ATTR in attrs:
            ties = ties_of(t, front)
            row[TIES_COLUMN] = ", ".join(f"{n} (p = {p:.2g})" for n, p in sorted(ties.items()))
        for m in metrics:
            if isinstance(attrs.get(m), int | float):
                se = float(attrs.get(f"{m}_se") or 0.0)
                unit = f" {metric_style(m).unit}"
                row[metric_style(m).title] = format_value(m, float(attrs[m]), se).removesuffix(unit)
        for m in ("accuracy", "nll", "ece"):
            figures = tested.get(t.number, {})
            if f"test_{m}" in figures:
                se = float(figures.get(f"test_{m}_se") or 0.0)
                text = format_value(m, float(figures[f"test_{m}"]), se)
                row[f"test {metric_style(m).title}"] = text.removesuffix(f" {metric_style(m).unit}")
        row.update({k: _short(v) for k, v in t.params.items()})
        rows.append(row)
    table = pd.DataFrame(rows).to_html(index=False, na_rep="", escape=True)
    return f'<div class="wide">{table}</div>'


def _group_note(study: optuna.Study, front: list[optuna.trial.FrozenTrial]) -> str | None:
    """One sentence per tie group of more than one design: who is in it, and how to choose."""
    groups = tie_groups(study, front)
    members: dict[str, list[int]] = {}
    for number, label in groups.items():
        members.setdefault(label, []).append(number)
    shared = {g: n for g, n in members.items() if len(n) > 1}
    if not shared:
        return None
    parts = [f"group {g}: trials {', '.join(map(str, n))}" for g, n in sorted(shared.items())]
    return (
        "Front designs the selection images cannot tell apart in accuracy share a tie group "
        f"({'; '.join(parts)}): within a group, choose by the other objectives."
    )


def _notes(study: optuna.Study, front: list[optuna.trial.FrozenTrial]) -> list[str]:
    """Caveats a reader needs: how many selection images the accuracy-like metrics rest on,
    whether they tell the front's accuracies apart, which designs run close to their fmax."""
    notes = (
        selection_note(study, front),
        _group_note(study, front),
        clock_note(front),
        conv_note(front),
    )
    ties = [html.escape(n) for n in notes if n]
    recorded = [trial_metrics(t) for t in completed(study)]
    counts = [m["selection_images"] for m in recorded if "selection_images" in m]
    if not counts:
        return ties
    n = min(counts)
    accuracy = [m["accuracy"] for m in recorded if "accuracy" in m]
    p = max(accuracy) if accuracy else 0.95
    half = 100 * Z95 * (p * (1 - p) / n) ** 0.5
    size = "Small selection split: a" if n < 2000 else "A"
    text = (
        f"{size}ccuracy-like metrics are measured on {n} selection images, so one image is "
        f"{100 / n:.2f} points of accuracy and the 95 % interval at {100 * p:.1f} % accuracy "
        f"is &plusmn;{half:.1f} points; smaller differences between designs are noise."
    )
    if max(counts) > n:
        text += f" Designs near the front were re-evaluated on up to {max(counts)} images."
    return [text, *ties]


def _summary(study: optuna.Study) -> str:
    trials = study.get_trials(deepcopy=False)
    states = pd.Series([t.state.name for t in trials]).value_counts().to_dict()
    counts = ", ".join(f"{n} {s.lower()}" for s, n in states.items())
    infeasible = sum(1 for t in trials if t.values and not is_feasible(t))
    goals = ", ".join(
        f"{d.name.lower()} {n}"
        for n, d in zip(objective_names(study), study.directions, strict=True)
    )
    text = f"{len(trials)} trials ({counts}); {infeasible} infeasible. Objectives: {goals}."
    chosen = knee(study)
    if chosen is not None:
        names = objective_names(study)
        ses = standard_errors(trial_metrics(chosen), names)
        values = ", ".join(
            f"{metric_style(n).label.lower()} {format_value(n, v, se)}"
            for n, v, se in zip(names, chosen.values, ses, strict=True)
        )
        text += f" Knee design: trial {chosen.number} ({values}), exported by --trial knee."
    return text


def write_report(
    study: optuna.Study, out_dir: Path, calibration: Calibration | None = None
) -> dict[str, Path]:
    """Write trials.csv, pareto.csv and report.html into `out_dir`; returns their paths.

    `calibration`: the study's profile; when it records measured leave-one-out errors the
    page tabulates them and draws them on the front (`dse.error_band`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in ("trials.csv", "pareto.csv", "report.html")}
    front = front_trials(study)
    trials_frame(study, front=front).to_csv(paths["trials.csv"], index=False)
    pareto = pareto_frame(study, front)
    n_interval = sum(1 for k in classify(study).values() if k == "interval")
    pareto.to_csv(paths["pareto.csv"], index=False)
    band = model_band(calibration)
    figures = [
        (title, fig.to_html(full_html=False, include_plotlyjs=False))
        for title, fig in all_figures(study, band)
    ]
    page = _TEMPLATE.render(
        name=html.escape(study.study_name),
        plotly_js=plotly.offline.get_plotlyjs(),
        summary=html.escape(_summary(study)),
        notes=_notes(study, front),
        n_pareto=len(pareto),
        pareto_table=_design_table(study, "front", front),
        n_interval=n_interval,
        interval_listed=f"the {LISTED} best are listed"
        if n_interval > LISTED
        else "all are listed",
        interval_table=_design_table(study, "interval", front, limit=LISTED),
        figures=figures,
        band_table=band_table(band) if band else "",
        band_note=band_note(band) if band else "",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    paths["report.html"].write_text(page, encoding="utf-8")
    return paths


def write_png(study: optuna.Study, png: Path) -> Path:
    """The report's first Pareto plot as a PNG (docs/pareto.png is made this way)."""
    from dse.browser import figure_png

    fronts = pareto_figures(study) if len(study.directions) > 1 else []
    if not fronts:
        raise StudyInputError("--png: the study has one objective; a Pareto plot needs two")
    return figure_png(fronts[0][1], png)
