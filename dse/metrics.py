"""How a trial's metrics are stored in its Optuna user attributes, and the one way to read them.

Optuna stores every user attribute as one row, written by one statement (on SQLite one
commit per `set_user_attr`, and inside `study.add_trial` a lookup and an upsert per
attribute), so a trial's ~70 metrics stored one per attribute cost ~70 round trips per
evaluated trial and as many again per recorded hardware variant.  A trial therefore keeps its
metrics in two JSON-valued user attributes:

* `model` (`MODEL_ATTR`): what training and evaluation gave (accuracy and its standard error,
  calibration, activity, the per-image selection results, the training key and settings,
  cache and timing bookkeeping); a hardware variant or a repeated design carries the
  evaluating trial's;
* `hardware` (`HARDWARE_ATTR`): the estimate of this design (resources, utilisation, cycles,
  latency, power, energy, fmax) and `accelerator`, the design priced;

and flat markers that scans read on every trial: `inner_of` (a hardware variant),
`fail_reason`, `dse_surplus`, `dse_interrupted`.  Optuna-dashboard shows the two groups as
two JSON attributes.

Every reader goes through `trial_metrics`, which returns the flat view: each metric under
its own name, as the studies written before the grouping stored them (those read the same),
with `model_metrics` listing the model's metric names.  `trials.csv`, `pareto.csv`,
`dse.trials` and `dse show --json` show that view, one column or key per metric.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "GROUP_ATTRS",
    "HARDWARE_ATTR",
    "MODEL_ATTR",
    "MODEL_METRICS_ATTR",
    "grouped",
    "has_model_metrics",
    "metric",
    "model_metrics",
    "trial_metrics",
]

#: User attribute holding the model's metrics (one JSON object).
MODEL_ATTR = "model"
#: User attribute holding the hardware estimate of the trial's design (one JSON object).
HARDWARE_ATTR = "hardware"
GROUP_ATTRS = (MODEL_ATTR, HARDWARE_ATTR)
#: Flat-view key listing the metrics that belong to the model (not to its hardware design);
#: a stored attribute in studies written before the grouping.
MODEL_METRICS_ATTR = "model_metrics"


def _grouped_layout(attrs: Mapping[str, Any]) -> bool:
    return any(isinstance(attrs.get(name), dict) for name in GROUP_ATTRS)


def trial_metrics(trial: Any) -> dict[str, Any]:
    """Every metric of `trial` (a FrozenTrial or anything with `user_attrs`) under its own
    name: the two groups merged (a model metric wins over a hardware figure of the same
    name) beside the flat attributes.  A new dict: changing it changes nothing stored."""
    attrs = trial.user_attrs
    if not _grouped_layout(attrs):
        return dict(attrs)
    flat = {k: v for k, v in attrs.items() if k not in GROUP_ATTRS}
    hardware = attrs.get(HARDWARE_ATTR)
    if isinstance(hardware, dict):
        flat.update(hardware)
    model = attrs.get(MODEL_ATTR)
    if isinstance(model, dict):
        flat.update(model)
        flat[MODEL_METRICS_ATTR] = sorted([*model, MODEL_METRICS_ATTR])
    return flat


def metric(trial: Any, name: str, default: Any = None) -> Any:
    """One metric of `trial` as `trial_metrics(trial).get(name, default)` gives it, without
    building the whole view."""
    attrs = trial.user_attrs
    model = attrs.get(MODEL_ATTR)
    if isinstance(model, dict) and name in model:
        return model[name]
    hardware = attrs.get(HARDWARE_ATTR)
    if isinstance(hardware, dict) and name in hardware:
        return hardware[name]
    if name in GROUP_ATTRS and _grouped_layout(attrs):
        return default
    if name == MODEL_METRICS_ATTR and isinstance(model, dict):
        return sorted([*model, MODEL_METRICS_ATTR])
    return attrs.get(name, default)


def has_model_metrics(trial: Any) -> bool:
    """Whether `trial` recorded a model evaluation's metrics (either layout)."""
    attrs = trial.user_attrs
    return isinstance(attrs.get(MODEL_ATTR), dict) or MODEL_METRICS_ATTR in attrs


def model_metrics(trial: Any) -> dict[str, Any]:
    """The model's metrics of `trial` (either layout; {} if it recorded none)."""
    attrs = trial.user_attrs
    model = attrs.get(MODEL_ATTR)
    if isinstance(model, dict):
        return dict(model)
    names = attrs.get(MODEL_METRICS_ATTR) or ()
    return {k: attrs[k] for k in names if k != MODEL_METRICS_ATTR and k in attrs}


def grouped(metrics: Mapping[str, Any], model_keys: Iterable[str]) -> dict[str, Any]:
    """The user attributes that store `metrics` (flat, JSON-ready): the keys in `model_keys`
    under `MODEL_ATTR`, the rest under `HARDWARE_ATTR`."""
    model_keys = set(model_keys) - {MODEL_METRICS_ATTR}
    return {
        MODEL_ATTR: {k: v for k, v in metrics.items() if k in model_keys},
        HARDWARE_ATTR: {
            k: v for k, v in metrics.items() if k not in model_keys and k != MODEL_METRICS_ATTR
        },
    }
