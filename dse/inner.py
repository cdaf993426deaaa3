"""Exact inner optimisation over the hardware-only knobs of one evaluated model.

PEs, synapses per cycle, sample lanes, clock, part and the sampling strategy change neither
the trained weights nor the evaluation (`build_configs` gives them to the accelerator only),
so once a model configuration has been scored, every hardware design for it is priced by the
vectorised cost model (`hwmodel.estimate.estimate_table`) instead of being left to the
sampler.  `hardware_front` enumerates the study's hardware grid, drops infeasible designs
(the study's constraints), keeps the non-dominated ones on the study's objectives and bounds
their number; the objective records them as trials of the same study.

Designs the estimate cannot tell apart are one design: 16 PEs x 2 synapses per cycle and
32 x 1 build the same multiply-accumulate width, so the cost model gives them the same
resources, cycles and power.  Of such *twins* (equal `COST_FIGURES` and objective values)
only the canonical one is kept: the trial's own design if it is one of them (it is a trial
already), else the fewest PEs, then synapses per cycle, then lanes (`CANONICAL_KNOBS`).

A clock range without a step is gridded at `hardware_search.clock_step_mhz` (both ends
included); every other hardware knob is a list, a stepped range or fixed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dse.space import Knob

if TYPE_CHECKING:
    import pandas as pd

#: Knobs that change only the hardware estimate (never training or evaluation).
HARDWARE_KNOBS = ("pe", "synapses_per_cycle", "sample_lanes", "clock_mhz", "part", "sampling")
#: User attribute of a recorded hardware variant: the number of the trial that evaluated it.
INNER_ATTR = "inner_of"
#: Estimate figures that, equal together with the objective values, make two designs twins.
COST_FIGURES = (
    *("part", "clock_mhz", "lut", "ff", "lutram", "bram18", "bram36", "dsp"),
    *("cycles", "latency_us", "power_w", "energy_pl_uj", "energy_soc_uj", "energy_board_uj"),
)
#: The order that picks the canonical design among twins: fewest of each, in this order.
CANONICAL_KNOBS = ("pe", "synapses_per_cycle", "sample_lanes")


def _stepless(knob: Knob) -> bool:
    """A float range without a step: gridded at `hardware_search.clock_step_mhz`."""
    return knob.searched and knob.choices == () and knob.step is None and knob.kind == "float"


def knob_grid_count(knob: Knob, clock_step_mhz: float) -> float:
    """How many values `knob_grid` gives, computed without building them (``inf`` past any
    float), so that a grid too large to build is refused before it exists."""
    if not _stepless(knob):
        return knob.grid_count()
    ratio = (knob.high - knob.low) / clock_step_mhz
    if not math.isfinite(ratio):
        return math.inf
    count = math.floor(ratio + 1e-9) + 1
    if count > 2**52:  # far beyond any grid, and beyond float's whole numbers
        return float(count)
    return float(count + (knob.low + (count - 1) * clock_step_mhz < knob.high))


def knob_grid(knob: Knob, clock_step_mhz: float) -> list[Any]:
    """The values of one hardware knob that the enumeration visits."""
    if _stepless(knob):  # the study's check (`knob_grid_count`) bounded `count`
        count = int(math.floor((knob.high - knob.low) / clock_step_mhz + 1e-9)) + 1
        values = [knob.low + i * clock_step_mhz for i in range(count)]
        return values + ([knob.high] if values[-1] < knob.high else [])
    return knob.grid_values()


def hardware_grid_counts(knobs: dict[str, Knob], clock_step_mhz: float) -> dict[str, float]:
    """{searched hardware knob: number of values} of `hardware_grid`, built without it."""
    return {
        name: knob_grid_count(knobs[name], clock_step_mhz)
        for name in HARDWARE_KNOBS
        if knobs[name].searched
    }


def hardware_grid(knobs: dict[str, Knob], clock_step_mhz: float) -> dict[str, list[Any]]:
    """{hardware knob: values} for the searched hardware knobs of a study's space."""
    return {
        name: knob_grid(knobs[name], clock_step_mhz)
        for name in HARDWARE_KNOBS
        if knobs[name].searched
    }


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Mask of the rows of `points` (to be minimised) that no other row dominates."""
    keep = np.ones(len(points), dtype=bool)
    for i in range(len(points)):
        if not keep[i]:
            continue
        worse = np.all(points >= points[i], axis=1) & np.any(points > points[i], axis=1)
        keep &= ~worse
    return keep


def spread(points: np.ndarray, limit: int) -> list[int]:
    """At most `limit` rows of a front, well spread: the extremes of each objective first,
    then repeatedly the row farthest (normalised objective space) from those already taken."""
    if len(points) <= limit:
        return list(range(len(points)))
    span = np.ptp(points, axis=0)
    scaled = (points - points.min(axis=0)) / np.where(span > 0, span, 1.0)
    chosen: list[int] = []
    for k in range(points.shape[1]):
        for idx in (int(np.argmin(scaled[:, k])), int(np.argmax(scaled[:, k]))):
            if idx not in chosen and len(chosen) < limit:
                chosen.append(idx)
    while len(chosen) < limit:
        gaps = np.min(np.linalg.norm(scaled[:, None, :] - scaled[chosen][None], axis=2), axis=1)
        chosen.append(int(np.argmax(gaps)))
    return sorted(chosen)


def twins(
    designs: pd.DataFrame,
    priced: pd.DataFrame,
    metrics: Sequence[str],
    own: dict[str, Any] | None = None,
) -> np.ndarray:
    """Mask of the rows of `designs` that are a twin of another, canonical row: equal
    `COST_FIGURES` and `metrics` in `priced` (same index).  The canonical row of a group is
    the one equal to `own` if any, else the first by `CANONICAL_KNOBS`."""
    order = designs[list(CANONICAL_KNOBS)].copy()
    is_own = [designs[k].to_numpy() == v for k, v in (own or {}).items()]
    order["_not_own"] = ~np.all(is_own, axis=0) if is_own else True
    ranked = order.sort_values(["_not_own", *CANONICAL_KNOBS], kind="stable").index
    figures = list(dict.fromkeys([*COST_FIGURES, *metrics]))
    return priced.loc[ranked, figures].duplicated().reindex(designs.index).to_numpy(bool)


def hardware_front(
    accelerator: dict[str, Any],
    activity: Sequence[float],
    grid: dict[str, list[Any]],
    objectives: Sequence[tuple[str, str]],
    feasible: Callable[[pd.DataFrame], np.ndarray],
    limit: int,
    calibration: str | None = None,
    util_cap: float | None = None,
    own: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Hardware knob values of the feasible non-dominated designs for one scored model,
    without twins.

    `accelerator` is the evaluated design's `AcceleratorConfig.as_dict()`; `objectives` are
    (metric, direction) pairs, metrics not in the estimate (accuracy) being the same for every
    design; `feasible(table)` says which priced rows satisfy the study's constraints; `own`
    is the evaluated design's hardware knobs (keys of `grid`), kept over its twins.
    """
    import pandas as pd  # here, not at import: the study-file loader imports this module

    from hwmodel.estimate import estimate_table

    names = list(grid)
    rows = list(itertools.product(*grid.values()))
    if not rows:
        return []
    designs = pd.DataFrame(rows, columns=names)
    for name, value in accelerator.items():
        if name not in designs.columns and name != "extra":
            designs[name] = [value] * len(designs)
    designs["activity"] = [np.asarray(activity, dtype=float)] * len(designs)
    priced = estimate_table(designs, calibration=calibration, util_cap=util_cap)
    varying = [(m, d) for m, d in objectives if m in priced.columns]
    ok = np.asarray(feasible(priced), dtype=bool)
    ok &= ~twins(designs, priced, [m for m, _ in varying], own)
    if not ok.any():
        return []
    if not varying:  # no objective depends on the hardware: any feasible design is optimal
        return designs.loc[ok, names].head(limit).to_dict("records")
    signs = np.array([1.0 if d == "minimize" else -1.0 for _, d in varying])
    points = priced.loc[ok, [m for m, _ in varying]].to_numpy(float) * signs
    candidates = designs.loc[ok, names].reset_index(drop=True)
    front = np.flatnonzero(non_dominated(points))
    picked = front[spread(points[front], limit)]
    return candidates.iloc[picked].to_dict("records")
