"""Terminal tables of a study: the Pareto front (`dse run`, `dse report`), one trial (`dse show`).

Numbers are shown in the units people read (accuracy and utilisation in %, energy in uJ,
latency in us) and rounded to 4 significant digits; constraints as "ok" or "violated by X"
rather than Optuna's sign convention (<= 0 feasible).  Nothing is dropped to fit the terminal:
the front's columns are split over as many tables as the width needs, each repeating the
trial column, and a column wider than the terminal folds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial
from rich.table import Table
from rich.text import Text

from dse.holdout import held_out_scores
from dse.paired import IMAGES_ATTR, describe_ties, ties_of
from dse.selection import best_trial, front_trials, paired, roles, tie_table

#: metric -> (unit, factor from the stored value to the shown one).
UNITS: dict[str, tuple[str, float]] = {
    "accuracy": ("%", 100.0),
    "test_accuracy": ("%", 100.0),
    "energy_pl_uj": ("uJ", 1.0),
    "energy_soc_uj": ("uJ", 1.0),
    "energy_board_uj": ("uJ", 1.0),
    "latency_us": ("us", 1.0),
    "power_w": ("W", 1.0),
    "power_dynamic_w": ("W", 1.0),
    "power_static_w": ("W", 1.0),
    "power_ps_w": ("W", 1.0),
    "power_total_w": ("W", 1.0),
    "power_ps_idle_w": ("W", 1.0),
    "power_board_w": ("W", 1.0),
    "clock_mhz": ("MHz", 1.0),
    "fmax_mhz": ("MHz", 1.0),
    "throughput_ips": ("inferences/s", 1.0),
    "gops": ("GOPS", 1.0),
    "train_seconds": ("s", 1.0),
    "eval_seconds": ("s", 1.0),
    "synops_per_s": ("synops/s", 1.0),
}
#: Constraint name -> the unit its value is in (values are "amount over the limit").
CONSTRAINT_UNITS: dict[str, tuple[str, float]] = {
    "utilisation": ("% of the part", 100.0),
    "accuracy": ("% accuracy", 100.0),
    "power_w": ("W", 1.0),
    "timing": ("MHz over the predicted fmax", 1.0),
}
#: Hardware figures shown beside the objectives in the front table.
FRONT_METRICS = ("accuracy", "energy_pl_uj", "energy_soc_uj", "energy_board_uj", "latency_us")
FRONT_METRICS += ("power_w", "lut", "ff", "bram36", "dsp", "fmax_mhz")  # fmax: by the clock
#: A front design clocked at this share of its predicted fmax or more is named (`clock_note`).
NEAR_FMAX = 0.9
#: Per-image bit vectors (hex) kept for paired comparisons: no reader wants them printed.
HIDDEN_ATTRS = ("selection_correct", "test_correct")


def unit_of(metric: str) -> tuple[str, float]:
    """(unit, factor) of a metric; utilisation fractions are percentages."""
    if metric.startswith("util_"):
        return "%", 100.0
    return UNITS.get(metric, ("", 1.0))


def number(value: float) -> str:
    """A float rounded to 4 significant digits (integers stay whole)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def shown(metric: str, value: object) -> str:
    """A value as the terminal shows it: scaled to its unit, rounded, unit appended."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return json.dumps(value) if isinstance(value, list | dict) else str(value)
    unit, factor = unit_of(metric)
    return f"{number(value * factor)} {unit}".rstrip()


def constraint_text(name: str, value: float) -> str:
    """``ok (margin X)`` or ``violated by X``, in the constraint's unit."""
    unit, factor = CONSTRAINT_UNITS.get(name, ("", 1.0))
    amount = f"{number(abs(value) * factor)} {unit}".rstrip()
    return f"ok (margin {amount})" if value <= 0 else f"violated by {amount}"


def _header(metric: str) -> str:
    unit, _ = unit_of(metric)
    return f"{metric} [{unit}]" if unit else metric


def _pack(widths: Sequence[int], available: int) -> list[list[int]]:
    """Split column indices 1.. into groups whose width (with column 0) fits `available`."""
    groups: list[list[int]] = []
    used = available
    for index in range(1, len(widths)):
        if used + widths[index] > available and (not groups or groups[-1]):
            groups.append([])
            used = 1 + widths[0]
        groups[-1].append(index)
        used += widths[index]
    return groups


def front_tables(study: optuna.Study, width: int = 80) -> list[Table]:
    """The Pareto front, best first on the first objective, every knob and key metric."""
    front = front_trials(study)
    title = f"{study.study_name}: Pareto front ({len(front)} designs)"
    if not front:
        return [Table(title=title + " - none feasible yet")]
    marked = roles(study, front)
    objectives = study.metric_names or [f"values_{i}" for i in range(len(study.directions))]
    tested = held_out_scores(study, front)
    metrics = [m for m in FRONT_METRICS if m not in objectives]
    if tested:  # the test figure right after the selection figures it is reported beside
        metrics.insert(0, "test_accuracy")
    params = sorted({p for t in front for p in t.params})
    headers = ["trial", *map(_header, objectives), *map(_header, metrics), *params]
    rows = []
    for t in front:
        attrs = {**t.user_attrs, **tested.get(t.number, {})}
        cells = [f"{t.number} ({marked[t.number]})" if t.number in marked else str(t.number)]
        cells += [shown(m, v) for m, v in zip(objectives, t.values, strict=True)]
        cells += [shown(m, attrs.get(m, "")) for m in metrics]
        cells += [shown(p, t.params.get(p, "")) for p in params]
        rows.append(cells)
    # A rich column needs its widest cell plus 3 characters of padding and border.
    widths = [3 + max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    groups = _pack(widths, width)
    tables = []
    for part, group in enumerate(groups, start=1):
        suffix = f" - part {part} of {len(groups)}" if len(groups) > 1 else ""
        table = Table(title=title + suffix)
        for index in (0, *group):  # Text: brackets in "[uJ]" are not markup
            table.add_column(Text(headers[index]), justify="right", overflow="fold")
        for row in rows:
            table.add_row(*(Text(row[index]) for index in (0, *group)))
        tables.append(table)
    return tables


def selection_note(study: optuna.Study, front: list[FrozenTrial]) -> str | None:
    """One sentence when the selection split cannot resolve the front's accuracy differences
    (`dse.paired`): every design, or some, tied with the most accurate one."""
    ties = tie_table(study, front).get(front[0].number) if front else None
    if not ties:
        return None
    images = front[0].user_attrs[IMAGES_ATTR]
    best = best_trial(study, front).number
    others = ", then ".join((study.metric_names or [])[1:]) or "the trial number"
    if len(ties) == len(front) - 1:
        return (
            f"The {images} selection images cannot tell the accuracy of these {len(front)} "
            f"front designs apart (exact McNemar test, p >= 0.05); rank them by {others}: "
            f"--trial best is the best of them on it, trial {best}."
        )
    listed = ", ".join(map(str, sorted(ties)))
    noun = "trial" if len(ties) == 1 else "trials"
    return (
        f"The {images} selection images cannot tell {noun} {listed} apart in accuracy from "
        f"the most accurate front design, trial {front[0].number} (exact McNemar test, "
        f"p >= 0.05); --trial best is the best of them on {others}, trial {best}."
    )


def clock_note(front: list[FrozenTrial]) -> str | None:
    """One sentence naming the front designs clocked within `NEAR_FMAX` of the clock the
    model predicts them to reach (`hwmodel.fmax`): the least margin, so the first to check."""
    near = [
        t
        for t in front
        if t.user_attrs.get("fmax_mhz")
        and t.user_attrs["clock_mhz"] >= NEAR_FMAX * t.user_attrs["fmax_mhz"]
    ]
    if not near:
        return None
    listed = ", ".join(
        f"{t.number} ({t.user_attrs['clock_mhz']:g} of {t.user_attrs['fmax_mhz']:.1f} MHz)"
        for t in near
    )
    noun = "trial" if len(near) == 1 else "trials"
    return (
        f"Clocked within {100 * (1 - NEAR_FMAX):.0f} % of the predicted fmax: {noun} {listed}; "
        "the prediction is already lowered by the profile's guard, and `dse synth` of an RTL "
        "export checks it against the netlist."
    )


def ties_line(study: optuna.Study, trial: FrozenTrial) -> str | None:
    """For `dse show`: which front designs `trial` is indistinguishable from in accuracy."""
    images = trial.user_attrs.get(IMAGES_ATTR)
    if not paired(study) or images is None:
        return None
    return f"trial {trial.number}: {describe_ties(ties_of(trial, front_trials(study)), images)}"


def trial_table(study: optuna.Study, trial: FrozenTrial, title: str) -> Table:
    """Every objective, parameter, constraint and metric of one trial, with units."""
    table = Table(title=title)
    table.add_column("kind")
    table.add_column("name", overflow="fold")
    table.add_column("value", overflow="fold")
    names = study.metric_names or [f"values_{i}" for i in range(len(study.directions))]
    rows = [("objective", n, shown(n, v)) for n, v in zip(names, trial.values or [], strict=False)]
    rows += [("parameter", n, shown(n, v)) for n, v in trial.params.items()]
    rows += [("constraint", n, constraint_text(n, v)) for n, v in trial.constraints.items()]
    attrs = {k: v for k, v in trial.user_attrs.items() if k not in HIDDEN_ATTRS}
    rows += [("metric", n, shown(n, v)) for n, v in sorted(attrs.items())]
    tested = held_out_scores(study).get(trial.number, {})
    rows += [("test", n, shown(n, v)) for n, v in sorted(tested.items()) if n not in HIDDEN_ATTRS]
    for row in rows:  # user text (paths, names) is never read as markup
        table.add_row(*map(Text, row))
    return table
