"""The report: CSV tables equal to Optuna's view of the study, and an offline HTML file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.study import StudyDirection

from dse.intervals import dominates_beyond_interval, standard_errors
from dse.metrics import trial_metrics
from dse.plots import KINDS, classify, parallel_figure, pareto_figures, reference_point
from dse.report import pareto_frame, trials_frame, write_report


def _objective(trial: optuna.Trial) -> tuple[float, float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    width = trial.suggest_categorical("width_0", [16, 32])
    ensemble = trial.suggest_categorical("ensemble", ["time", "repeat"])
    trial.set_user_attr("lut", 1000.0 * x + width)
    trial.set_user_attr("spikes_per_layer", [x, 2 * x])
    trial.set_user_attr("accelerator", {"pe": width, "ensemble": ensemble})
    trial.set_user_attr("accuracy_se", 0.01 + 0.02 * x)
    trial.set_user_attr("selection_images", 360)
    trial.set_constraint("power_w", x - 0.8)  # x > 0.8 is infeasible
    if trial.number == 5:
        raise RuntimeError("diverged")
    return x, x * x + width / 100, 1.0 - 0.5 * x


@pytest.fixture(scope="module")
def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="synthetic",
        directions=["maximize", "minimize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    study.set_metric_names(["accuracy", "power_w", "ece"])
    study.optimize(_objective, n_trials=30, catch=(RuntimeError,))
    return study


@pytest.fixture(scope="module")
def paths(study: optuna.Study, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_report(study, tmp_path_factory.mktemp("report"))


def test_pareto_csv_equals_best_trials(study: optuna.Study, paths: dict[str, Path]) -> None:
    pareto = pd.read_csv(paths["pareto.csv"])
    best = sorted(study.best_trials, key=lambda t: t.number)
    assert list(pareto["number"]) == [t.number for t in best]
    assert pareto["feasible"].all()
    for (_, row), trial in zip(pareto.iterrows(), best, strict=True):
        assert row["values_accuracy"] == pytest.approx(trial.values[0])
        assert row["values_ece"] == pytest.approx(trial.values[2])
    assert len(pareto_frame(study)) == len(best)


def test_trials_csv_has_every_trial_attribute_and_state(paths: dict[str, Path]) -> None:
    trials = pd.read_csv(paths["trials.csv"])
    assert len(trials) == 30
    assert trials.loc[5, "state"] == "FAIL" and not trials.loc[5, "feasible"]
    for column in ("params_x", "params_width_0", "lut", "constraint_power_w", "feasible"):
        assert column in trials.columns
    infeasible = trials[(trials["state"] == "COMPLETE") & (trials["params_x"] > 0.8)]
    assert len(infeasible) > 0 and not infeasible["feasible"].any()
    row = trials.loc[0]
    assert json.loads(row["spikes_per_layer"]) == pytest.approx(
        [row["params_x"], 2 * row["params_x"]]
    )
    assert json.loads(row["accelerator"])["pe"] == row["params_width_0"]


def test_html_is_offline_and_holds_the_plots(paths: dict[str, Path]) -> None:
    html = paths["report.html"].read_text()
    assert "<script src=" not in html  # nothing fetched: plotly.js is inline
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js embedded
    for title in (
        "Pareto front: accuracy vs power_w",
        "Pareto front: accuracy vs ece",
        "Pareto front: power_w vs ece",
        "Pareto front in 3-D",
        "Parallel coordinates",
        "Hypervolume history",
        "Parameter importances for accuracy",
        "Parameter importances for ece",
    ):
        assert f"<h2>{title}" in html, title
    assert "infeasible (" in html  # the legend entry of infeasible trials
    assert "trial 0: " in html  # hover text starts with the trial number
    assert "360 selection images" in html and "one image is 0.28 points" in html


def test_standard_errors_in_pareto_csv_report_and_error_bars(
    study: optuna.Study, paths: dict[str, Path]
) -> None:
    pareto = pd.read_csv(paths["pareto.csv"])
    columns = list(pareto.columns)
    assert columns.index("values_accuracy_se") == columns.index("values_accuracy") + 1
    best = sorted(study.best_trials, key=lambda t: t.number)
    expected = [0.01 + 0.02 * t.params["x"] for t in best]
    assert list(pareto["values_accuracy_se"]) == pytest.approx(expected)
    html = paths["report.html"].read_text()
    for trial, se in zip(best, expected, strict=True):  # "accuracy ± 1.96 SE" in percent
        assert f"{100 * trial.values[0]:.1f} ± {196 * se:.1f}" in html
    fig = dict(pareto_figures(study))["Pareto front: accuracy vs power_w"]
    front = next(tr for tr in fig.data if tr.name.startswith("Pareto front"))
    assert fig.layout.yaxis.title.text == "Accuracy (%)"  # accuracy on y, in percent
    assert list(front.y) == pytest.approx([100 * t.values[0] for t in best_of_pair(study)])
    bars = {round(y, 9): e for y, e in zip(front.y, front.error_y.array, strict=True)}
    for t in best_of_pair(study):
        se = trial_metrics(t)["accuracy_se"]
        assert bars[round(100 * t.values[0], 9)] == pytest.approx(1.96 * 100 * se)


def best_of_pair(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's front trials in the order the plot draws them."""
    kinds = classify(study)
    return [t for t in study.get_trials() if kinds.get(t.number) == "front"]


def test_designs_within_the_interval_of_the_front_are_marked(study: optuna.Study) -> None:
    kinds = classify(study)
    names = ["accuracy", "power_w", "ece"]
    front = [t for t in study.trials if kinds.get(t.number) == "front"]
    assert {t.number for t in front} == {t.number for t in study.best_trials}
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        if kinds[trial.number] not in ("interval", "dominated"):
            continue
        beaten = [
            f
            for f in front
            if dominates_beyond_interval(
                (f.values, standard_errors(trial_metrics(f), names)),
                (trial.values, standard_errors(trial_metrics(trial), names)),
                study.directions,
            )
        ]
        assert bool(beaten) == (kinds[trial.number] == "dominated"), trial.number
    assert "interval" in kinds.values() and "dominated" in kinds.values()


def test_dominance_beyond_the_interval_hand_worked() -> None:
    up, down = StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE
    # accuracy 0.95 +- 0.01 vs 0.90 +- 0.01: gap 0.05 > 1.96 * sqrt(2) * 0.01 = 0.0277
    assert dominates_beyond_interval(([0.95, 1.0], [0.01, 0]), ([0.90, 1.0], [0.01, 0]), [up, down])
    # gap 0.02 < 0.0277: not beyond the interval, although 0.92 < 0.94
    assert not dominates_beyond_interval(
        ([0.94, 1.0], [0.01, 0]), ([0.92, 1.0], [0.01, 0]), [up, down]
    )
    # more accurate but costlier: never dominates
    assert not dominates_beyond_interval(
        ([0.99, 2.0], [0.0, 0]), ([0.50, 1.0], [0.0, 0]), [up, down]
    )
    # without errors it is Pareto dominance
    assert dominates_beyond_interval(([0.9, 1.0], [0, 0]), ([0.9, 1.5], [0, 0]), [up, down])
    assert not dominates_beyond_interval(([0.9, 1.0], [0, 0]), ([0.9, 1.0], [0, 0]), [up, down])


def test_reference_point_is_beyond_the_worst_feasible_value(study: optuna.Study) -> None:
    ref = reference_point(study)
    feasible = [t for t in study.trials if t.values and t.constraints["power_w"] <= 0]
    assert ref[0] < min(t.values[0] for t in feasible)  # maximised
    assert ref[1] > max(t.values[1] for t in feasible)  # minimised
    assert ref[2] > max(t.values[2] for t in feasible)


def test_trials_frame_of_empty_study_is_empty() -> None:
    empty = optuna.create_study(directions=["maximize", "minimize"])
    assert trials_frame(empty).empty


def test_parallel_coordinates_encode_categories_and_colour_feasibility(
    study: optuna.Study,
) -> None:
    """Every axis must be numeric (a string axis draws no lines at all in plotly)."""
    ((_, fig),) = parallel_figure(study)
    dims = {d.label: d for d in fig.data[0].dimensions}
    ensemble = dims["ensemble"]
    assert list(ensemble.ticktext) == ["repeat", "time"]
    assert set(ensemble["values"]) <= {0, 1}
    for dim in dims.values():
        values = np.asarray(dim["values"], dtype=float)
        assert np.isfinite(values).all(), dim.label
    kinds = classify(study)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    drawn = sorted(complete, key=lambda t: -list(KINDS).index(kinds[t.number]))
    codes = [list(KINDS).index(kinds[t.number]) + 0.5 for t in drawn]
    assert list(fig.data[0].line.color) == codes  # the front drawn last, on top
    assert [c == 3.5 for c in codes] == [t.params["x"] > 0.8 for t in drawn]  # infeasible
    scale = fig.data[0].line.colorscale  # each kind's band is its one colour
    for code, kind in enumerate(KINDS):
        assert {c for stop, c in scale if code / 4 <= stop <= (code + 1) / 4} >= {KINDS[kind][1]}


def test_report_of_a_study_whose_trials_all_failed(tmp_path: Path) -> None:
    failed = optuna.create_study(directions=["maximize", "minimize"])

    def fail(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0.0, 1.0)
        raise RuntimeError("diverged")

    failed.optimize(fail, n_trials=2, catch=(RuntimeError,))
    html = write_report(failed, tmp_path)["report.html"].read_text(encoding="utf-8")
    assert "Pareto front (0 feasible non-dominated trials)" in html and "<p>none</p>" in html
    assert "Pareto front: values_0" not in html  # no plot without a finished trial


def test_the_front_table_lists_the_front_as_the_terminal_does(
    study: optuna.Study, paths: dict[str, Path]
) -> None:
    """Best first on the first objective (front_trials' order), not by trial number."""
    from dse.selection import front_trials

    html = paths["report.html"].read_text()
    table = html[html.index("Pareto front (") :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr>\s*<td>(\d+)", table)
    listed = [int(n) for n in rows]
    assert listed == [t.number for t in front_trials(study)]
    accuracy = [study.trials[n].values[0] for n in listed]
    assert accuracy == sorted(accuracy, reverse=True)


def test_log_axis_ticks_are_1_2_5_labelled_in_full() -> None:
    from dse.plots import log_ticks

    ticks = log_ticks(1.1, 21.0)
    assert ticks == [1, 2, 5, 10, 20]
    assert [f"{t:g}" for t in log_ticks(150.0, 2400.0)] == ["200", "500", "1000", "2000"]
    assert all(a < b for a, b in zip(ticks, ticks[1:], strict=False))


def test_tie_groups_gather_what_the_selection_split_cannot_tell_apart() -> None:
    """Three front designs on 40 images: A and B differ on one image (tied), C on 20 (not)."""
    from dse.paired import CORRECT_ATTR, IMAGES_ATTR
    from dse.report import tie_groups
    from dse.selection import front_trials

    study = optuna.create_study(directions=["maximize", "minimize"])
    right = np.ones(40, dtype=bool)
    for cost, wrong in ((3.0, 0), (2.0, 1), (1.0, 20)):
        correct = right.copy()
        correct[:wrong] = False
        trial = optuna.trial.create_trial(
            values=[correct.mean(), cost],
            user_attrs={
                IMAGES_ATTR: 40,
                CORRECT_ATTR: np.packbits(correct).tobytes().hex(),
                "accuracy": correct.mean(),
            },
        )
        study.add_trial(trial)
    study.set_metric_names(["accuracy", "energy_pl_uj"])
    front = front_trials(study)
    groups = tie_groups(study, front)
    by_cost = {t.values[1]: groups[t.number] for t in front}
    assert by_cost[3.0] == by_cost[2.0] != by_cost[1.0]
