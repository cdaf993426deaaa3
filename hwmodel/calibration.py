"""Calibration: fit coefficient multipliers to measured designs and keep them as a profile.

The model's resource figure is a sum over components (`hwmodel.resources.COMPONENTS`).  A
profile scales each component's contribution per resource by a non-negative multiplier
fitted by least squares (scipy's NNLS, with a faint pull towards 1 so that components the
measured designs cannot tell apart stay at their first-principles value), and scales the
dynamic power per resource kind the same way.  A resource the model prices at zero for
every design (DSP: the datapath has no multipliers) gets a fitted constant offset instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from hwmodel.devices import get_part
from hwmodel.errors import HardwareInputError
from hwmodel.plan import build_plan
from hwmodel.power import POWER_CLASSES, POWER_KINDS, dynamic_power_by_kind
from hwmodel.profiles import FIRST_PRINCIPLES, NAMES, profile_file
from hwmodel.resources import (
    COMPONENTS,
    CONV_COMPONENTS,
    RESOURCES,
    component_resources,
    load_coefficients,
)
from hwmodel.template import AcceleratorConfig

__all__ = [
    "Calibration",
    "CalibrationError",
    "MEASURED_COLUMNS",
    "apply_calibration",
    "config_from_row",
    "conv_leave_one_out",
    "fit_calibration",
    "fit_conv",
    "is_conv",
    "leave_one_out",
    "loo_summary",
    "relative_error",
    "load_calibration",
    "resolve_calibration",
    "save_calibration",
]

# Measured columns as `hls.tools.measure` writes them (bram18k: RAMB18 halves, as Vivado counts).
MEASURED_COLUMNS = {"lut": "lut", "ff": "ff", "bram18": "bram18k", "dsp": "dsp"}
_RIDGE = 1e-8
#: Resources counted in whole cells, judged exact on the rounded prediction.
COUNTED = ("bram18", "dsp")


@dataclass
class Calibration:
    """Multipliers per resource and component, offsets per resource, power multipliers."""

    multipliers: dict[str, dict[str, float]] = field(
        default_factory=lambda: {r: dict.fromkeys(COMPONENTS, 1.0) for r in RESOURCES}
    )
    offsets: dict[str, float] = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0.0))
    power: dict[str, float] = field(default_factory=lambda: dict.fromkeys(POWER_KINDS, 1.0))
    name: str = "default"
    fit: dict = field(default_factory=dict)  # rows used and RMS error before/after
    fmax: dict = field(default_factory=dict)  # hwmodel.fmax.FmaxModel's fitted coefficients
    #: Toggle rate per power class as (a, b) of a + b x duty (hwmodel.power.predicted_toggle),
    #: fitted to simulated activity; empty: every class at the reference rate.
    activity: dict[str, list[float]] = field(default_factory=dict)


#: The profile of no profile (every multiplier 1), shared by `shared_calibration`.
_FIRST_PRINCIPLES = Calibration(name=FIRST_PRINCIPLES)


def save_calibration(cal: Calibration, path: str | Path) -> Path:
    """Write the profile as JSON (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(cal), indent=2, sort_keys=True) + "\n")
    return path


def load_calibration(path: str | Path) -> Calibration:
    """Read a profile written by `save_calibration`, or a packaged one by name
    (`hwmodel.profiles.NAMES`; `first-principles` is every multiplier at 1); a missing file
    is a user error."""
    if str(path) == FIRST_PRINCIPLES:
        return Calibration(name=FIRST_PRINCIPLES)
    return _parse_profile(*_profile_text(path))


def _profile_text(name: str | Path) -> tuple[Path, str]:
    """The file of a profile (a packaged name or a path) and its text; a missing, too large
    or unreadable file is a user error."""
    path = profile_file(name) or Path(name)
    if not path.is_file():
        raise HardwareInputError(
            f"calibration: {str(path)!r} does not exist; give a profile file or a packaged "
            f"name ({', '.join(NAMES)})"
        )
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise CalibrationError(path, f"larger than {MAX_PROFILE_BYTES >> 20} MiB")
    try:
        return path, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(path, f"not JSON ({type(exc).__name__})") from None


def _parse_profile(path: Path, text: str) -> Calibration:
    """The profile that `text` (the content of `path`) holds, checked."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CalibrationError(path, f"not JSON ({type(exc).__name__})") from None
    _check_profile(path, data)
    default = Calibration()
    for resource, comps in data.get("multipliers", {}).items():
        default.multipliers.setdefault(resource, {}).update(comps)
    default.offsets.update(data.get("offsets", {}))
    default.power.update(data.get("power", {}))
    default.name = data.get("name", path.stem)
    default.fit = data.get("fit", {})
    default.fmax = data.get("fmax", {})
    default.activity = data.get("activity", {})
    return default


#: Largest profile file read (the shipped one is a few kB).
MAX_PROFILE_BYTES = 16 << 20


class CalibrationError(HardwareInputError):
    """A profile file that is not one `save_calibration` could have written; `problem` says
    which entry, the message adds the file and the fix."""

    def __init__(self, path: Path, problem: str) -> None:
        self.problem = problem
        super().__init__(
            f"calibration: {str(path)!r} is not a usable profile ({problem}); fix it, re-run "
            f"`dse calibrate`, or name a packaged profile ({', '.join(NAMES)})"
        )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_profile(path: Path, data: object) -> None:
    """Every number of the profile is what the model can price with: multipliers (resource
    and power) finite and >= 0 (a fit may zero a component), offsets, fmax coefficients and
    activity fits finite; the names known, so a typo is not silently ignored."""

    def fail(where: str, value: object, want: str) -> CalibrationError:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return CalibrationError(path, f"{where} is {shown}, not {want}")

    def table(key: str, known: tuple[str, ...] | None) -> dict:
        section = data.get(key, {})
        if not isinstance(section, dict):
            raise fail(key, section, "a JSON object")
        unknown = sorted(set(section) - set(known)) if known is not None else []
        if unknown:
            raise fail(f"{key}.{unknown[0]}", section[unknown[0]], f"one of {', '.join(known)}")
        return section

    if not isinstance(data, dict):
        raise CalibrationError(path, "not a JSON object")
    for resource, comps in table("multipliers", RESOURCES).items():
        if not isinstance(comps, dict):
            raise fail(f"multipliers.{resource}", comps, "a JSON object")
        for comp, value in comps.items():
            if comp not in COMPONENTS:
                raise fail(f"multipliers.{resource}.{comp}", value, "a known component")
            if not (_number(value) and value >= 0):
                raise fail(f"multipliers.{resource}.{comp}", value, "a finite number >= 0")
    for resource, value in table("offsets", RESOURCES).items():
        if not _number(value):
            raise fail(f"offsets.{resource}", value, "a finite number")
    for kind, value in table("power", POWER_KINDS).items():
        if not (_number(value) and value >= 0):
            raise fail(f"power.{kind}", value, "a finite number >= 0")
    for name, value in table("fmax", None).items():
        if not _number(value):
            raise fail(f"fmax.{name}", value, "a finite number")
    for cls, fit in table("activity", POWER_CLASSES).items():
        if not (isinstance(fit, list) and len(fit) == 2 and all(map(_number, fit))):
            raise fail(f"activity.{cls}", fit, "two finite numbers [a, b]")
    if not isinstance(data.get("name", ""), str) or not isinstance(data.get("fit", {}), dict):
        raise CalibrationError(path, "name must be text and fit an object")


def resolve_calibration(calibration: Calibration | str | Path | None) -> Calibration | None:
    """Accept a profile, a path to one, a packaged name, or None (first-principles
    coefficients, as the name `first-principles`)."""
    if calibration is None or isinstance(calibration, Calibration):
        return calibration
    return load_calibration(calibration)


@lru_cache(maxsize=32)
def _shared_profile(path: Path, text: str) -> Calibration:
    return _parse_profile(path, text)


def shared_calibration(calibration: Calibration | str | Path | None) -> Calibration | None:
    """`resolve_calibration` for pricing: a profile file is read on every call but parsed and
    checked once per content (an edited file is parsed again), and the profile returned is
    shared between calls, so its caller must not change it."""
    if calibration is None or isinstance(calibration, Calibration):
        return calibration
    if str(calibration) == FIRST_PRINCIPLES:
        return _FIRST_PRINCIPLES
    return _shared_profile(*_profile_text(calibration))


def apply_calibration(
    components: dict[str, dict[str, np.ndarray]], cal: Calibration | None
) -> dict[str, dict[str, np.ndarray]]:
    """Components with each resource scaled by the profile's multiplier (unchanged if None)."""
    if cal is None:
        return components
    return {
        comp: {
            res: (
                values * cal.multipliers.get(res, {}).get(comp, 1.0) if res in RESOURCES else values
            )
            for res, values in per_res.items()
        }
        for comp, per_res in components.items()
    }


def config_from_row(row: pd.Series) -> AcceleratorConfig:
    """The design of a measured table row (widths as "64,128,10" or a sequence)."""
    if _missing(row.get("widths")):
        raise HardwareInputError(
            f"measured: row {row.name} has no design knobs (widths, pe, ...); measure a "
            "project exported by `dse export` so that its design.json is beside the reports"
        )
    names = AcceleratorConfig.__dataclass_fields__.keys() - {"extra"}
    kwargs = {k: row[k] for k in names if k in row.index and not _missing(row[k])}
    if isinstance(kwargs.get("widths"), str):
        kwargs["widths"] = tuple(int(v) for v in kwargs["widths"].split(","))
    for key in ("pe", "synapses_per_cycle", "sample_lanes", "k_bits", "membrane_bits", "reuse"):
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    return AcceleratorConfig(**kwargs)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _design_bases(df: pd.DataFrame, coeffs: dict) -> dict[str, np.ndarray]:
    """Per resource: [rows, components] of first-principles component figures, each row
    priced with the bus of its `backend` column (default rtl: what dse calibrate builds)."""
    per_row = []
    for _, row in df.iterrows():  # measured designs are few; each may have its own widths
        backend = "rtl" if _missing(row.get("backend")) else str(row["backend"])
        comps = component_resources(build_plan(config_from_row(row)), coeffs, backend)
        per_row.append(comps)
    return {
        res: np.array([[float(c[comp][res]) for comp in COMPONENTS] for c in per_row])
        for res in RESOURCES
    }


def _nnls_towards_one(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative multipliers m minimising |a m - y|^2 + ridge |(m - 1) * |a_j||^2."""
    scale = np.linalg.norm(a, axis=0)
    active = scale > 0
    m = np.ones(a.shape[1])
    if not active.any():
        return m
    a_n = a[:, active] / scale[active]
    y_n = y / max(np.linalg.norm(y), 1e-12)
    target = scale[active] / max(np.linalg.norm(y), 1e-12)  # m = 1 in normalised units
    k = int(active.sum())
    lhs = np.vstack([a_n, np.sqrt(_RIDGE) * np.eye(k)])
    rhs = np.concatenate([y_n, np.sqrt(_RIDGE) * target])
    solution, _ = nnls(lhs, rhs)
    m[active] = solution / target
    return m


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def _check_columns(measured: pd.DataFrame) -> None:
    missing = [c for c in (*MEASURED_COLUMNS.values(), "widths") if c not in measured.columns]
    if missing or measured.empty:
        raise HardwareInputError(
            f"measured: table lacks columns {missing or 'rows'}; give lut, ff, bram18k, dsp, "
            "power_w, part, clock_mhz and the design knobs (widths, pe, ...) per design"
        )


def _fit_resource(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Multipliers of the components and an offset.  Where the model prices nothing for
    these designs (DSP; or BRAM when every design of a leave-one-out fold has none) the
    multipliers keep their first-principles 1 and the offset is the measured mean."""
    if np.any(a > 0):
        return _nnls_towards_one(a, y), 0.0
    return np.ones(a.shape[1]), float(np.mean(y))


def _predict(a: np.ndarray, multipliers: np.ndarray, offset: float) -> np.ndarray:
    return a @ multipliers + offset


def fit_calibration(measured: pd.DataFrame, name: str = "calibration") -> Calibration:
    """Fit a profile to measured designs (columns lut, ff, bram18k, dsp, power_w, part,
    clock_mhz plus the AcceleratorConfig knobs; optional includes_ps, default True, and
    backend, default rtl)."""
    _check_columns(measured)
    coeffs = load_coefficients()
    bases = _design_bases(measured, coeffs)
    cal = Calibration(name=name)
    report: dict[str, dict[str, float]] = {}
    for res in RESOURCES:
        y = measured[MEASURED_COLUMNS[res]].to_numpy(dtype=np.float64)
        a = bases[res]
        m, offset = _fit_resource(a, y)
        cal.multipliers[res] = dict(zip(COMPONENTS, m.tolist(), strict=True))
        cal.offsets[res] = offset
        fitted = _predict(a, m, offset)
        report[res] = {"rms_before": _rms(a.sum(axis=1) - y), "rms_after": _rms(fitted - y)}
    if "power_w" in measured.columns:
        report["power_w"] = _fit_power(measured, coeffs, cal)
    cal.fit = {"rows": len(measured), "errors": report}
    return cal


def relative_error(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """|predicted - measured| / measured, with a floor of 1 unit on the divisor so that a
    resource measured at 0 (DSP) gives the absolute error instead of infinity."""
    measured = np.asarray(measured, dtype=np.float64)
    return np.abs(np.asarray(predicted, dtype=np.float64) - measured) / np.maximum(measured, 1.0)


def leave_one_out(measured: pd.DataFrame) -> pd.DataFrame:
    """Per design and resource: the measured figure, the model's first-principles figure
    (`before`), the figure of a profile fitted on every design (`after`) and of one fitted
    on every other design (`loo`, what the profile predicts for a design it has not seen),
    their relative errors (`err_*`, `relative_error`) and, for the counted resources (BRAM,
    DSP), whether the rounded prediction is exact (`exact_*`).

    `measured` is `fit_calibration`'s table; a `design` column, when present, names the rows.
    """
    _check_columns(measured)
    if len(measured) < 2:
        raise HardwareInputError("measured: leave-one-out needs at least 2 designs")
    bases = _design_bases(measured, load_coefficients())
    names = measured["design"] if "design" in measured.columns else measured.index
    rows = []
    everyone = np.ones(len(measured), dtype=bool)
    for res in RESOURCES:
        y = measured[MEASURED_COLUMNS[res]].to_numpy(dtype=np.float64)
        a = bases[res]
        after = _predict(a, *_fit_resource(a, y))
        loo = np.empty_like(y)
        for i in range(len(y)):
            others = everyone.copy()
            others[i] = False
            loo[i] = _predict(a[i : i + 1], *_fit_resource(a[others], y[others]))[0]
        rows.extend(_loo_rows(names, res, y, {"before": a.sum(axis=1), "after": after, "loo": loo}))
    return pd.DataFrame(rows)


def is_conv(measured: pd.DataFrame) -> np.ndarray:
    """Which rows of a measured table are designs with a convolutional front."""
    if "conv" not in measured.columns:
        return np.zeros(len(measured), dtype=bool)
    return np.array([not _missing(v) and bool(v) for v in measured["conv"]])


_CONV = np.array([c in CONV_COMPONENTS for c in COMPONENTS])


def _fit_conv_resource(a: np.ndarray, y: np.ndarray, base: np.ndarray, offset: float) -> np.ndarray:
    """Multipliers of every component with the dense ones held at `base`: the conv ones
    fitted to what the dense components (and the offset) leave of the measured figure."""
    m = base.copy()
    conv = a[:, _CONV]
    if np.any(conv > 0):
        m[_CONV] = _nnls_towards_one(conv, y - a[:, ~_CONV] @ base[~_CONV] - offset)
    return m


def fit_conv(measured: pd.DataFrame, base: Calibration) -> Calibration:
    """`base` with its conv components' multipliers (`CONV_COMPONENTS`) fitted to the conv
    designs of `measured`; every other multiplier and offset stays bit-identical, so that no
    dense estimate moves (dense designs build no conv component)."""
    conv = measured[is_conv(measured)]
    _check_columns(conv)
    bases = _design_bases(conv, load_coefficients())
    cal = replace(
        base,
        multipliers={r: dict(c) for r, c in base.multipliers.items()},
        offsets=dict(base.offsets),
        power=dict(base.power),
        fit=dict(base.fit),
        fmax=dict(base.fmax),
        activity=dict(base.activity),
    )
    for res in RESOURCES:
        y = conv[MEASURED_COLUMNS[res]].to_numpy(dtype=np.float64)
        m = _fit_conv_resource(bases[res], y, _multipliers(base, res), base.offsets[res])
        for comp in CONV_COMPONENTS:
            cal.multipliers[res][comp] = float(m[COMPONENTS.index(comp)])
    return cal


def _multipliers(cal: Calibration, res: str) -> np.ndarray:
    return np.array([cal.multipliers.get(res, {}).get(c, 1.0) for c in COMPONENTS])


def conv_leave_one_out(measured: pd.DataFrame, base: Calibration) -> pd.DataFrame:
    """`leave_one_out`'s table for the conv designs of `measured`: `after` is `fit_conv` on
    every conv design, `loo` on every other one (the dense multipliers `base`'s throughout)."""
    conv = measured[is_conv(measured)].reset_index(drop=True)
    _check_columns(conv)
    if len(conv) < 2:
        raise HardwareInputError("measured: leave-one-out needs at least 2 conv designs")
    bases = _design_bases(conv, load_coefficients())
    names = conv["design"] if "design" in conv.columns else conv.index
    everyone = np.ones(len(conv), dtype=bool)
    rows = []
    for res in RESOURCES:
        y = conv[MEASURED_COLUMNS[res]].to_numpy(dtype=np.float64)
        a, start, offset = bases[res], _multipliers(base, res), base.offsets[res]
        after = a @ _fit_conv_resource(a, y, start, offset) + offset
        loo = np.empty_like(y)
        for i in range(len(y)):
            others = everyone.copy()
            others[i] = False
            m = _fit_conv_resource(a[others], y[others], start, offset)
            loo[i] = a[i] @ m + offset
        rows.extend(_loo_rows(names, res, y, {"before": a.sum(axis=1), "after": after, "loo": loo}))
    return pd.DataFrame(rows)


def _loo_rows(
    names: pd.Series | pd.Index, res: str, y: np.ndarray, figures: dict[str, np.ndarray]
) -> list[dict]:
    """One leave-one-out table row per design: figures, relative errors, exactness."""
    rows = []
    for i, design in enumerate(names):
        row = {"design": design, "resource": res, "measured": y[i]}
        row.update({k: float(v[i]) for k, v in figures.items()})
        row.update({f"err_{k}": float(relative_error(v[i], y[i])) for k, v in figures.items()})
        if res in COUNTED:
            row.update({f"exact_{k}": bool(round(v[i]) == y[i]) for k, v in figures.items()})
        rows.append(row)
    return rows


def loo_summary(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per resource of a `leave_one_out` table: median and worst relative error before,
    after and leave-one-out, the design count and, for BRAM and DSP, the exact designs."""
    out: dict[str, dict[str, float]] = {}
    for res, group in table.groupby("resource", sort=False):
        entry: dict[str, float] = {"designs": len(group)}
        for k in ("before", "after", "loo"):
            entry[f"median_{k}"] = float(group[f"err_{k}"].median())
            entry[f"worst_{k}"] = float(group[f"err_{k}"].max())
            if f"exact_{k}" in group.columns and res in COUNTED:
                entry[f"exact_{k}"] = int(group[f"exact_{k}"].sum())
        out[str(res)] = entry
    return out


def _fit_power(measured: pd.DataFrame, coeffs: dict, cal: Calibration) -> dict[str, float]:
    rows = measured[measured["power_w"].notna()]
    if rows.empty:
        return {"rms_before": 0.0, "rms_after": 0.0}
    parts = [get_part(p) for p in rows["part"]]
    includes_ps = rows["includes_ps"] if "includes_ps" in rows else pd.Series(True, rows.index)
    overhead = np.array(
        [
            p.static_w + (p.ps_w if bool(ps) else 0.0)
            for p, ps in zip(parts, includes_ps, strict=True)
        ]
    )
    counts = {
        "lut": rows["lut"].to_numpy(float),
        "ff": rows["ff"].to_numpy(float),
        "bram36": rows["bram18k"].to_numpy(float) / 2,
        "dsp": rows["dsp"].to_numpy(float),
    }
    by_kind = dynamic_power_by_kind(counts, rows["clock_mhz"].to_numpy(float), coeffs)
    a = np.stack([by_kind[k] for k in POWER_KINDS], axis=1)
    y = rows["power_w"].to_numpy(float) - overhead
    m = _nnls_towards_one(a, y)
    cal.power = dict(zip(POWER_KINDS, m.tolist(), strict=True))
    return {"rms_before": _rms(a.sum(axis=1) - y), "rms_after": _rms(a @ m - y)}
