"""The units a person reads, in one place: accuracy-like metrics in %, energy in µJ, latency
in µs, power in W.  Every terminal table and the report's figures show a metric this way;
what a program reads (JSON, CSV, the study's attributes) keeps the stored units (fractions,
`*_uj` numbers in microjoules).

A metric's unit follows from its name: `test_accuracy`, `accuracy_se`, `val_accuracy_mode`
and `accuracy_seed_sd` are all accuracies; `*_uj` is energy, `*_us` a time, `*_w` power.
Light to import (no numpy): command modules load it for `--help`.
"""

from __future__ import annotations

import json
import math

#: Stored as fractions of 1, read as %.
PERCENT_METRICS = frozenset({"accuracy", "ece", "ood_auroc"})
#: Prefixes and suffixes that do not change a metric's unit (the split, its error, ...).
_PREFIXES = ("test_", "val_", "selection_")
_SUFFIXES = ("_se", "_seed_mean", "_seed_sd", "_mode", "_before_scaling", "_uncalibrated")
#: Unit of a name's last part: `energy_pl_uj` is in µJ, `latency_worst_us` in µs.
_ENDINGS = {
    "_uj": "µJ",
    "_us": "µs",
    "_w": "W",
    "_mhz": "MHz",
    "_seconds": "s",
    "_ips": "inferences/s",
}
#: Names whose unit their ending does not say.
_NAMED = {"gops": "GOPS", "synops_per_s": "synops/s", "nll": "nats", "entropy": "nats"}
ENERGY = "µJ"
PERCENT = "%"


def base_metric(metric: str) -> str:
    """`test_accuracy_se` -> `accuracy`: the metric whose unit `metric` is in."""
    name = metric
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and name != suffix:
                name, changed = name.removesuffix(suffix), True
    return name


def unit_of(metric: str) -> tuple[str, float]:
    """(unit, factor from the stored value to the shown one) of a metric."""
    base = base_metric(metric)
    if base in PERCENT_METRICS or base.startswith("util_"):
        return PERCENT, 100.0
    if base in _NAMED:
        return _NAMED[base], 1.0
    for ending, unit in _ENDINGS.items():
        if base.endswith(ending):
            return unit, 1.0
    return "", 1.0


def number(value: float) -> str:
    """A float rounded to 4 significant digits (integers stay whole)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def shown(metric: str, value: object) -> str:
    """A value as a person reads it: scaled to its unit, rounded, unit appended."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return json.dumps(_rounded(value)) if isinstance(value, list | dict) else str(value)
    unit, factor = unit_of(metric)
    return f"{number(value * factor)} {unit}".rstrip()


def percent(fraction: float, digits: int = 2) -> str:
    """A fraction as a percentage: 0.9375 -> "93.75 %"."""
    return f"{100 * fraction:.{digits}f} %"


def _rounded(value: object) -> object:
    """Floats inside lists and dicts to 4 significant digits, for reading."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.4g}")
    return value
