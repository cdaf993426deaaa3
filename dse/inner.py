"""Exact inner optimisation over the hardware-only knobs of one evaluated model.

PEs, synapses per cycle, sample lanes, clock, part and the sampling strategy change neither
the trained weights nor the evaluation (`build_configs` gives them to the accelerator only),
so once a model configuration has been scored, every hardware design for it is priced by the
vectorised cost model (`hwmodel.estimate.estimate_columns`) instead of being left to the
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

import math
from collections.abc import Callable, Mapping, Sequence
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
    designs: Mapping[str, Any],
    priced: Mapping[str, Any],
    metrics: Sequence[str],
    own: dict[str, Any] | None = None,
) -> np.ndarray:
    """Mask of the designs that are a twin of another, canonical design: equal `COST_FIGURES`
    and `metrics` in `priced` (columns of one entry per design, as `designs`' columns are).
    The canonical design of a group is the one equal to `own` if any, else the first by
    `CANONICAL_KNOBS`."""
    n = len(np.asarray(priced[COST_FIGURES[0]]))
    knobs = [np.broadcast_to(np.asarray(designs[k]), (n,)) for k in CANONICAL_KNOBS]
    is_own = [np.broadcast_to(np.asarray(designs[k]) == v, (n,)) for k, v in (own or {}).items()]
    not_own = ~np.all(is_own, axis=0) if is_own else np.ones(n, dtype=bool)
    ranked = np.lexsort([*reversed(knobs), not_own])  # stable: ties keep their order
    figures = list(dict.fromkeys([*COST_FIGURES, *metrics]))
    rows = list(zip(*(_hashable(priced[f]) for f in figures), strict=True))
    seen: set[tuple] = set()
    twin = np.zeros(n, dtype=bool)
    for i in ranked.tolist():
        twin[i] = rows[i] in seen
        seen.add(rows[i])
    return twin


def _hashable(values: Any) -> list:
    """A column's values as Python objects that compare as a table's duplicates do (NaN
    equal to NaN)."""
    array = np.asarray(values)
    if array.dtype.kind == "f" and np.isnan(array).any():
        return [None if np.isnan(v) else v for v in array.tolist()]
    return array.tolist()


def _column(values: list[Any]) -> np.ndarray:
    """Grid values as the column a DataFrame makes of them: integers, numbers (integers and
    floats together are floats), booleans, or the values themselves."""
    kinds = frozenset(_kind(v) for v in values)
    dtype = _DTYPES.get(kinds, np.float64 if kinds == {"int", "float"} else None)
    if dtype is not None:
        try:
            return np.array(values, dtype=dtype)
        except OverflowError:  # beyond int64: a DataFrame keeps them as they are
            pass
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


_DTYPES = {frozenset({"int"}): np.int64, frozenset({"float"}): np.float64}
_DTYPES[frozenset({"bool"})] = np.bool_


def _kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    return "float" if isinstance(value, float | np.floating) else "other"


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

    from hwmodel.estimate import estimate_columns

    names = list(grid)
    sizes = [len(values) for values in grid.values()]
    if 0 in sizes:
        return []
    # Every combination, in itertools.product's order (the last knob varies fastest).
    index = np.indices(sizes).reshape(len(sizes), -1) if names else np.zeros((0, 1), int)
    columns = {
        name: _column(values)[i] for (name, values), i in zip(grid.items(), index, strict=True)
    }
    designs = {k: v for k, v in accelerator.items() if k not in columns and k != "extra"}
    designs.update(columns)
    priced = estimate_columns(
        {**designs, "activity": np.asarray(activity, dtype=float)},
        calibration=calibration,
        util_cap=util_cap,
    )
    varying = [(m, d) for m, d in objectives if m in priced]
    ok = np.asarray(feasible(pd.DataFrame(priced)), dtype=bool)
    ok &= ~twins(designs, priced, [m for m, _ in varying], own)
    rows = np.flatnonzero(ok)
    if not varying:  # no objective depends on the hardware: any feasible design is optimal
        rows = rows[:limit]
    elif len(rows):
        signs = np.array([1.0 if d == "minimize" else -1.0 for _, d in varying])
        points = np.column_stack([priced[m][ok] for m, _ in varying]).astype(float) * signs
        front = np.flatnonzero(non_dominated(points))
        rows = rows[front[spread(points[front], limit)]]
    values = [columns[name][rows].tolist() for name in names]  # Python numbers and text
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)] or [
        {} for _ in rows
    ]
