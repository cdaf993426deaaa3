"""The cost model's measured error band, from the study's calibration profile.

A profile fitted by `dse calibrate` records, per resource, the leave-one-out relative error
of the model against synthesis of real designs (`fit.loo`: what the profile gets wrong on a
design it was not fitted to).  The report draws that error on the Pareto front's cost axes
and tabulates it.  Resources carry their own error; power and energy carry the resource
errors through the dynamic power of each resource kind (`hwmodel.power`), added as if they
all erred the same way (the device's static power has no measured error here: Yosys does
not measure power); cycles and latency carry none, because the plan's cycles equal the
cycle-accurate simulation's for every calibration design.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["ModelBand", "band_note", "band_table", "model_band", "relative_band"]

#: Metric -> profile resource whose error it carries.
RESOURCE_OF = {
    "lut": "lut",
    "util_lut": "lut",
    "ff": "ff",
    "util_ff": "ff",
    "bram36": "bram18",
    "util_bram36": "bram18",
    "dsp": "dsp",
    "util_dsp": "dsp",
}
#: Power kinds of `hwmodel.power` and the resource whose count each is priced by.
_POWER_RESOURCE = {"lut": "lut", "ff": "ff", "bram36": "bram18", "dsp": "dsp"}
_POWERED = ("power_w", "power_dynamic_w", "energy_pl_uj", "energy_board_uj")
#: The power each of them is relative to (the rest: power_w, the PL).
_BASE = {"power_dynamic_w": "power_dynamic_w", "energy_board_uj": "power_board_w"}
_NAMES = {
    "lut": "LUT",
    "ff": "FF",
    "bram18": "BRAM18",
    "dsp": "DSP",
    "fmax_mhz": "fmax",
    "power_dynamic_w": "dynamic power (activity)",
}


@dataclass(frozen=True)
class ModelBand:
    """Median and worst leave-one-out relative error per resource of one profile."""

    profile: str
    designs: int
    median: dict[str, float]
    worst: dict[str, float]
    exact: dict[str, str]  # BRAM, DSP: "exact designs / designs"
    measured_by: str
    command: str
    power: dict[str, float]  # the profile's dynamic-power multipliers per kind


def model_band(calibration: object) -> ModelBand | None:
    """The band of a `hwmodel.calibration.Calibration`, or None without measured errors."""
    loo = getattr(calibration, "fit", {}).get("loo") if calibration is not None else None
    if not loo:
        return None
    fit = calibration.fit
    designs = int(max(entry["designs"] for entry in loo.values()))
    return ModelBand(
        profile=str(calibration.name),
        designs=designs,
        median={r: float(e["median_loo"]) for r, e in loo.items()},
        worst={r: float(e["worst_loo"]) for r, e in loo.items()},
        exact={
            r: f"{int(e['exact_loo'])}/{int(e['designs'])}"
            for r, e in loo.items()
            if "exact_loo" in e
        },
        measured_by=", ".join(fit.get("measured_by", [])) or "synthesis",
        command=str(fit.get("command", "")),
        power=dict(getattr(calibration, "power", {})),
    )


def relative_band(metric: str, attrs: Mapping[str, object], band: ModelBand) -> float | None:
    """Relative half-width of `metric`'s band for a trial with user attributes `attrs`
    (None: the metric carries no model error)."""
    if metric in RESOURCE_OF:
        return band.median.get(RESOURCE_OF[metric])
    if metric not in _POWERED:
        return None
    from hwmodel.power import dynamic_power_by_kind
    from hwmodel.resources import load_coefficients

    base_key = _BASE.get(metric, "power_w")
    needed = (*_POWER_RESOURCE, "clock_mhz", "power_w", "power_dynamic_w", base_key)
    if not all(isinstance(attrs.get(k), int | float) for k in needed):
        return None
    counts = {k: np.asarray(float(attrs[k])) for k in _POWER_RESOURCE}
    watts = dynamic_power_by_kind(
        counts, float(attrs["clock_mhz"]), load_coefficients(), band.power
    )
    total = sum(float(w) for w in watts.values())
    cells = sum(float(watts[k]) * band.median.get(r, 0.0) for k, r in _POWER_RESOURCE.items())
    # The cells' error in each kind's share of the dynamic power, plus the activity model's.
    share = (cells / total if total > 0 else 0.0) + band.median.get("power_dynamic_w", 0.0)
    error = float(attrs["power_dynamic_w"]) * share
    base = float(attrs[base_key])
    return error / base if base > 0 else None


def band_note(band: ModelBand) -> str:
    """One sentence under the Pareto plots saying what the cost-axis error bars are."""
    return (
        f"Error bars on the front's cost axes: the cost model's median leave-one-out error "
        f"against {html.escape(band.measured_by)} on {band.designs} RTL designs (profile "
        f"{html.escape(band.profile)}); power and energy carry it through the dynamic power "
        "of each resource, plus the activity model's error against simulated toggles "
        "(static power is not measured); cycles are exact."
    )


def band_table(band: ModelBand) -> str:
    """HTML table: model vs synthesis, median / worst leave-one-out error per resource."""
    rows = "".join(
        f"<tr><th>{_NAMES.get(r, html.escape(r))}</th><td>{100 * band.median[r]:.1f} %</td>"
        f"<td>{100 * band.worst[r]:.1f} %</td><td>{band.exact.get(r, '')}</td></tr>"
        for r in band.median
    )
    head = (
        "<tr><th>resource</th><th>median LOO error</th><th>worst LOO error</th>"
        "<th>exact designs</th></tr>"
    )
    caption = (
        f"Model vs {html.escape(band.measured_by)}: leave-one-out error per resource, "
        f"{band.designs} designs, profile {html.escape(band.profile)}"
    )
    command = f"<p>Fitted by <code>{html.escape(band.command)}</code></p>" if band.command else ""
    return f'<table class="band"><caption>{caption}</caption>{head}{rows}</table>{command}'
