"""Tables and the offline HTML report of a study.

`trials.csv` has one row per trial (parameters, objectives, every user attribute, the
constraint values, feasibility, state); `pareto.csv` holds exactly `study.best_trials` (the
feasible non-dominated trials); `report.html` embeds plotly's JavaScript so it opens offline.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import optuna
import pandas as pd
import plotly.offline
from optuna.trial import TrialState

from dse.plots import all_figures, is_feasible, objective_names

_TEMPLATE = jinja2.Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dse report: {{ name }}</title>
<script type="text/javascript">{{ plotly_js }}</script>
<style>body{font-family:sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#eee}</style></head><body>
<h1>Study {{ name }}</h1>
<p>{{ summary }}</p>
<h2>Pareto front ({{ n_pareto }} feasible non-dominated trials)</h2>
{{ pareto_table }}
{% for title, div in figures %}<h2>{{ title }}</h2>
{{ div }}
{% endfor %}<p>Generated {{ generated }} by dse.</p></body></html>
""",
    autoescape=False,
)


def _json_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts (per-layer figures, configs) as JSON text, so a CSV keeps them."""
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, list | dict | tuple)).any():
            frame[column] = frame[column].map(
                lambda v: json.dumps(v) if isinstance(v, list | dict | tuple) else v
            )
    return frame


def trials_frame(study: optuna.Study, trials: list[optuna.trial.FrozenTrial] | None = None):
    """One row per trial (all trials, or the given ones in their order)."""
    frame = study.trials_dataframe(
        attrs=("number", "state", "values", "params", "user_attrs", "duration"),
        multi_index=False,
    )
    if frame.empty:
        return frame
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    names = sorted({k for t in by_number.values() for k in t.constraints})
    for name in names:
        frame[f"constraint_{name}"] = frame["number"].map(
            lambda n, name=name: by_number[n].constraints.get(name)
        )
    frame["duration"] = frame["duration"].dt.total_seconds()
    frame["feasible"] = frame["number"].map(  # only a finished trial can be feasible
        lambda n: by_number[n].state == TrialState.COMPLETE and is_feasible(by_number[n])
    )
    frame.columns = [c.removeprefix("user_attrs_") for c in frame.columns]
    if trials is not None:
        frame = frame.set_index("number").loc[[t.number for t in trials]].reset_index()
    return _json_cells(frame)


def pareto_frame(study: optuna.Study) -> pd.DataFrame:
    """The rows of `study.best_trials`, by trial number."""
    best = sorted(study.best_trials, key=lambda t: t.number)
    return trials_frame(study, best) if best else pd.DataFrame()


def _summary(study: optuna.Study) -> str:
    trials = study.get_trials(deepcopy=False)
    states = pd.Series([t.state.name for t in trials]).value_counts().to_dict()
    counts = ", ".join(f"{n} {s.lower()}" for s, n in states.items())
    infeasible = sum(1 for t in trials if t.values and not is_feasible(t))
    goals = ", ".join(
        f"{d.name.lower()} {n}"
        for n, d in zip(objective_names(study), study.directions, strict=True)
    )
    return f"{len(trials)} trials ({counts}); {infeasible} infeasible. Objectives: {goals}."


def write_report(study: optuna.Study, out_dir: Path) -> dict[str, Path]:
    """Write trials.csv, pareto.csv and report.html into `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in ("trials.csv", "pareto.csv", "report.html")}
    trials_frame(study).to_csv(paths["trials.csv"], index=False)
    pareto = pareto_frame(study)
    pareto.to_csv(paths["pareto.csv"], index=False)
    figures = [
        (title, fig.to_html(full_html=False, include_plotlyjs=False))
        for title, fig in all_figures(study)
    ]
    keep = ["number", *[f"values_{n}" for n in objective_names(study)]]
    keep += [c for c in pareto.columns if c.startswith("params_")]
    table = pareto[keep].to_html(index=False, na_rep="") if len(pareto) else "<p>none yet</p>"
    page = _TEMPLATE.render(
        name=html.escape(study.study_name),
        plotly_js=plotly.offline.get_plotlyjs(),
        summary=html.escape(_summary(study)),
        n_pareto=len(pareto),
        pareto_table=table,
        figures=figures,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    paths["report.html"].write_text(page, encoding="utf-8")
    return paths
