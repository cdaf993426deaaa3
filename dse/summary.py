"""Terminal tables of a study: the Pareto front (`dse run`, `dse report`), one trial (`dse show`).

Numbers are shown in the units people read (`dse.units`: accuracy and utilisation in %,
energy in µJ, latency in µs) and rounded to 4 significant digits; constraints as "ok" or
"violated by X" rather than Optuna's sign convention (<= 0 feasible).  Nothing is dropped to
fit the terminal: the front's columns are split over as many tables as the width needs, each
repeating the trial column, and a column wider than the terminal folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial
from rich.table import Table
from rich.text import Text

from dse.holdout import held_out_scores
from dse.metrics import metric, trial_metrics
from dse.paired import IMAGES_ATTR, describe_ties, ties_of
from dse.selection import best_trial, front_trials, paired, roles, tie_table
from dse.units import number, shown, unit_of
from hwmodel.profiles import FIRST_PRINCIPLES

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
        attrs = {**trial_metrics(t), **tested.get(t.number, {})}
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
        for index in (0, *group):  # Text: brackets in "[µJ]" are not markup
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
    images = metric(front[0], IMAGES_ATTR)
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
    clocks = {t.number: (metric(t, "clock_mhz"), metric(t, "fmax_mhz")) for t in front}
    near = [
        t
        for t in front
        if clocks[t.number][1] and clocks[t.number][0] >= NEAR_FMAX * clocks[t.number][1]
    ]
    if not near:
        return None
    listed = ", ".join(
        f"{t.number} ({clocks[t.number][0]:g} of {clocks[t.number][1]:.1f} MHz)" for t in near
    )
    noun = "trial" if len(near) == 1 else "trials"
    return (
        f"Clocked within {100 * (1 - NEAR_FMAX):.0f} % of the predicted fmax: {noun} {listed}; "
        "the prediction is already lowered by the profile's guard, and `dse synth` of an RTL "
        "export checks it against the netlist."
    )


def conv_note(front: list[FrozenTrial]) -> str | None:
    """One sentence naming the front designs with a convolutional front priced uncalibrated
    (the estimate's `calibrated` false): the profile's conv fit missed its leave-one-out
    criteria (or it has none), so its resources, power and energy are rougher than a
    calibrated dense design's."""
    rough = [t for t in front if metric(t, "conv") and metric(t, "calibrated") is False]
    if not rough:
        return None
    listed = ", ".join(f"{t.number} (conv {metric(t, 'conv')})" for t in rough)
    noun = "trial" if len(rough) == 1 else "trials"
    return (
        f"Uncalibrated: {noun} {listed} price a convolutional front whose fit to "
        "synthesized conv designs misses the calibration criteria (calibrated: false; "
        "docs/rtl.md, Calibration); read their resources, power and energy as rough."
    )


def ties_line(study: optuna.Study, trial: FrozenTrial) -> str | None:
    """For `dse show`: which front designs `trial` is indistinguishable from in accuracy."""
    images = metric(trial, IMAGES_ATTR)
    if not paired(study) or images is None:
        return None
    return f"trial {trial.number}: {describe_ties(ties_of(trial, front_trials(study)), images)}"


#: Hardware figures of a trial (`hwmodel.estimate.estimate`'s keys and the design priced), in
#: the order `dse show` lists them: resources, clock, cycles and time, power, energy.
HARDWARE_ATTRS = (
    *("lut", "lutram", "ff", "bram18", "bram36", "dsp", "fits"),
    *("util_lut", "util_lutram", "util_ff", "util_bram36", "util_dsp"),
    *("clock_mhz", "fmax_mhz", "fmax_stage", "meets_clock"),
    *("cycles", "cycles_sampling", "cycles_per_layer", "cycles_io", "latency_us"),
    *("throughput_ips", "ops_per_inference", "synops_per_inference", "synops_per_s"),
    *("gops", "gops_per_dsp"),
    *("power_static_w", "power_dynamic_w", "power_by_class", "toggle", "power_w"),
    *("power_ps_w", "power_ps_idle_w", "power_total_w", "power_board_w"),
    *("energy_pl_uj", "energy_soc_uj", "energy_board_uj", "board", "part"),
    *("components", "accelerator"),
)
#: Study user attributes that hold figures of one exported design, by trial number.
SIMULATED_ATTR = "simulated_trial_{}"  # `dse sim` of an RTL export (Verilator)
MEASURED_ATTRS = ("measured_trial_{}", "measured_yosys_trial_{}")  # `dse measure`


def trial_rows(study: optuna.Study, trial: FrozenTrial) -> list[tuple[str, str, object]]:
    """(group, name, stored value) of everything one trial recorded, grouped as `dse show`
    prints them: objectives and constraints, the knobs, the hardware figures, the rest
    (model metrics, bookkeeping, and the test split's figures)."""
    names = objective_names(study)
    rows: list[tuple[str, str, object]] = [
        ("objective", n, v) for n, v in zip(names, trial.values or [], strict=False)
    ]
    rows += [("constraint", n, v) for n, v in trial.constraints.items()]
    rows += [("knob", n, v) for n, v in trial.params.items()]
    attrs = {k: v for k, v in trial_metrics(trial).items() if k not in HIDDEN_ATTRS}
    rows += [("hardware", n, attrs.pop(n)) for n in HARDWARE_ATTRS if n in attrs]
    rows += [("metric", n, v) for n, v in sorted(attrs.items()) if n not in names]
    tested = held_out_scores(study).get(trial.number, {})
    rows += [("test", n, v) for n, v in sorted(tested.items()) if n not in HIDDEN_ATTRS]
    return rows


def objective_names(study: optuna.Study) -> list[str]:
    """The objective metric names (Optuna's stored metric names, else values_i)."""
    return study.metric_names or [f"values_{i}" for i in range(len(study.directions))]


def trial_table(study: optuna.Study, trial: FrozenTrial, title: str) -> Table:
    """Every objective, constraint, knob, hardware figure and metric of one trial, with units,
    in that order."""
    table = Table(title=title)
    table.add_column("kind")
    table.add_column("name", overflow="fold")
    table.add_column("value", overflow="fold")
    for group, name, value in trial_rows(study, trial):
        text = constraint_text(name, value) if group == "constraint" else shown(name, value)
        table.add_row(*map(Text, (group, name, text)))  # user text is never read as markup
    return table


def trial_json(study: optuna.Study, trial: FrozenTrial) -> dict:
    """One trial as plain JSON types, in stored units (fractions, uJ numbers): its params,
    objective values, constraints (<= 0 feasible), user attributes, and the test split's
    figures when the front's scoring recorded them; non-finite numbers become null."""
    names = objective_names(study)
    data = {
        "study": study.study_name,
        "trial": trial.number,
        "state": trial.state.name.lower(),
        "objectives": dict(zip(names, trial.values or [], strict=False)),
        "constraints": dict(trial.constraints),
        "params": dict(trial.params),
        "user_attrs": trial_metrics(trial),  # each metric under its own name
        "test": held_out_scores(study).get(trial.number, {}),
    }
    return _finite(data)


def _finite(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: The four cycle counts a design can have, each with what it is (`dse show`,
#: docs/accelerator.md "Which cycle count is which").
CYCLE_KINDS = {
    "worst case": "every input fires at every timestep: the plan's bound, as csynth reports it",
    "expected": "the plan at the activity the model was measured with (the cycles objective)",
    "simulated": "Verilator's mean over the golden images, start to done, of an RTL export "
    "(dse sim), if recorded",
    "measured": "a hardware report's latency (dse measure; csynth's is the worst case), "
    "if recorded",
}


def cycle_counts(study: optuna.Study, trial: FrozenTrial) -> dict[str, float | None]:
    """{kind: cycles per inference or None} for the kinds of `CYCLE_KINDS`."""
    attrs = trial_metrics(trial)
    worst = None
    if isinstance(attrs.get("accelerator"), dict):
        from hwmodel.estimate import estimate  # pandas: only when a trial is shown
        from hwmodel.template import AcceleratorConfig

        config = AcceleratorConfig(**attrs["accelerator"])
        worst = float(estimate(config, spike_rate=1.0, calibration=FIRST_PRINCIPLES)["cycles"])
    simulated = study.user_attrs.get(SIMULATED_ATTR.format(trial.number)) or {}
    measured = None
    for key in MEASURED_ATTRS:
        found = study.user_attrs.get(key.format(trial.number)) or {}
        if found.get("latency_cycles") is not None:
            measured = float(found["latency_cycles"])
            break
    expected = attrs.get("cycles")
    return {
        "worst case": worst,
        "expected": None if expected is None else float(expected),
        "simulated": simulated.get("cycles_sim"),
        "measured": measured,
    }


def cycle_table(study: optuna.Study, trial: FrozenTrial) -> Table:
    """The design's cycle counts side by side, one line each on what it is."""
    table = Table(title=f"Cycles per inference of trial {trial.number}")
    table.add_column("count")
    table.add_column("cycles", justify="right")
    table.add_column("what it is", overflow="fold")
    for kind, value in cycle_counts(study, trial).items():
        cell = "not recorded" if value is None else f"{value:,.0f}"
        table.add_row(kind, cell, CYCLE_KINDS[kind])
    return table
