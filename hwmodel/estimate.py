"""Price designs: resources, utilisation, cycles, latency, throughput, GOPS and power.

`estimate` prices one `AcceleratorConfig`; `estimate_table` prices a DataFrame of designs
with numpy over columns (designs that share a cycle schedule - widths, ensemble, sampling,
timesteps, samples, lanes, P x Q - are one array computation).  Both go through the same
`_price_group`, so a table row and a single estimate cannot disagree.

Conventions (docs/accelerator.md):
* GOPS counts dense-equivalent operations, 2 per weight per timestep per run (multiply and
  accumulate), whatever the sparsity, so that it compares with dense accelerators.
* GOPS/DSP divides by max(DSP, 1): the kernel binds no DSP, and a design with none is
  credited as if it used one rather than with an infinite figure.
* power_w is the programmable logic (static + dynamic); PS7 is power_ps_w and
  power_total_w = power_w + power_ps_w.  energy_uj = power_w x latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import numpy as np
import pandas as pd

from hwmodel.calibration import Calibration, apply_calibration, resolve_calibration
from hwmodel.cycles import (
    activity_matrix,
    dense_ops_per_inference,
    io_cycles,
    schedule_cycles,
    synops_per_inference,
)
from hwmodel.devices import get_part
from hwmodel.errors import HardwareInputError
from hwmodel.power import dynamic_power_by_kind
from hwmodel.resources import RESOURCES, DesignBatch, component_resources, load_coefficients
from hwmodel.template import AcceleratorConfig

__all__ = ["estimate", "estimate_table", "parse_widths"]

_DEFAULTS = {f.name: f.default for f in fields(AcceleratorConfig) if f.name != "extra"}
_INT_KNOBS = ("pe", "synapses_per_cycle", "sample_lanes", "k_bits", "membrane_bits", "reuse")
_INT_KNOBS += ("input_bits", "timesteps", "samples", "seed")
_SCHEDULE_KEYS = ["widths", "ensemble", "sampling", "timesteps", "samples", "sample_lanes", "_npc"]
_PART_FIELDS = ("lut", "ff", "bram36", "dsp", "lutram", "static_w", "ps_w")


def parse_widths(value: str | Sequence[int]) -> tuple[int, ...]:
    """'784,512,10' or a sequence of integers -> a tuple; anything else is a user error."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = [float(str(v).strip()) for v in items]
    except ValueError:
        numbers = []
    if len(numbers) < 2 or any(n != int(n) or n < 1 for n in numbers):
        raise HardwareInputError(
            f"widths: {value!r} must be at least two positive integers separated by commas "
            "(inputs, hidden..., classes), e.g. 784,512,512,10"
        )
    return tuple(int(n) for n in numbers)


def _validate_cap(util_cap: float | None) -> float:
    cap = 1.0 if util_cap is None else float(util_cap)
    if not 0 < cap <= 1:
        raise HardwareInputError(f"util_cap: {util_cap} must be a fraction in (0, 1], e.g. 0.8")
    return cap


def _price_group(
    schedule: AcceleratorConfig,
    batch: DesignBatch,
    clock_mhz: np.ndarray,
    part: dict[str, np.ndarray],
    per_lane: np.ndarray,
    cal: Calibration | None,
    cap: float,
) -> dict[str, np.ndarray | dict]:
    """Every metric for designs sharing `schedule`'s cycle structure, as arrays."""
    coeffs = load_coefficients()
    comps = apply_calibration(component_resources(batch, coeffs), cal)
    offsets = cal.offsets if cal is not None else {}
    total = {
        r: sum(c[r] for c in comps.values()) + offsets.get(r, 0.0) for r in (*RESOURCES, "lutram")
    }
    out: dict = {
        "lut": np.rint(total["lut"]),
        "ff": np.rint(total["ff"]),
        "bram18": np.ceil(np.round(total["bram18"], 6)),
        "dsp": np.ceil(np.round(total["dsp"], 6)),
        "lutram": np.rint(total["lutram"]),
    }
    out["bram36"] = out["bram18"] / 2  # a RAMB18 is half a BRAM36 tile, as Vivado counts
    for res in ("lut", "ff", "bram36", "dsp", "lutram"):
        out[f"util_{res}"] = out[res] / part[res]
    out["fits"] = np.all(
        [out[f"util_{r}"] <= cap for r in ("lut", "ff", "bram36", "dsp", "lutram")], axis=0
    )

    cyc = schedule_cycles(schedule, per_lane)
    out["cycles"] = cyc["total"]
    out["cycles_per_layer"] = cyc["per_layer"]
    out["cycles_sampling"] = cyc["sampling"]
    score_vectors = schedule.samples if schedule.ensemble == "repeat" else 1
    out["cycles_io"] = io_cycles(schedule.widths, batch.input_bits, score_vectors, coeffs["io"])
    seconds = (out["cycles"] + out["cycles_io"]) / (clock_mhz * 1e6)
    out["latency_us"] = seconds * 1e6
    out["throughput_ips"] = 1.0 / seconds
    out["synops_per_inference"] = synops_per_inference(schedule, per_lane)
    out["synops_per_s"] = out["synops_per_inference"] * out["throughput_ips"]
    out["ops_per_inference"] = np.full(len(clock_mhz), float(dense_ops_per_inference(schedule)))
    out["gops"] = out["ops_per_inference"] * out["throughput_ips"] / 1e9
    out["gops_per_dsp"] = out["gops"] / np.maximum(out["dsp"], 1.0)

    counts = {k: out[k] for k in ("lut", "ff", "bram36", "dsp")}
    by_kind = dynamic_power_by_kind(counts, clock_mhz, coeffs, cal.power if cal else None)
    out["power_static_w"] = part["static_w"]
    out["power_dynamic_w"] = sum(by_kind.values())
    out["power_w"] = out["power_static_w"] + out["power_dynamic_w"]
    out["power_ps_w"] = part["ps_w"]
    out["power_total_w"] = out["power_w"] + out["power_ps_w"]
    out["energy_uj"] = out["power_w"] * out["latency_us"]
    out["clock_mhz"] = clock_mhz
    out["components"] = comps
    return out


def _part_arrays(names: pd.Series) -> dict[str, np.ndarray]:
    parts = {name: get_part(name) for name in names.unique()}
    return {
        f: names.map({n: getattr(p, f) for n, p in parts.items()}).to_numpy(float)
        for f in _PART_FIELDS
    }


def estimate(
    config: AcceleratorConfig,
    activity: Sequence[float] | None = None,
    spike_rate: float = 0.1,
    calibration: Calibration | str | None = None,
    util_cap: float | None = None,
) -> dict:
    """Price one design; `activity` is models.evaluation's list (index 0 = n0)."""
    cap = _validate_cap(util_cap)
    per_lane = activity_matrix(config.widths, 1, activity, spike_rate)
    out = _price_group(
        config,
        DesignBatch.from_configs([config]),
        np.array([float(config.clock_mhz)]),
        _part_arrays(pd.Series([config.part])),
        per_lane,
        resolve_calibration(calibration),
        cap,
    )
    result = {
        k: _scalar(v[0]) for k, v in out.items() if k not in ("components", "cycles_per_layer")
    }
    result["cycles_per_layer"] = [float(c) for c in out["cycles_per_layer"][0]]
    result["components"] = {
        comp: {r: float(v[0]) for r, v in per.items() if r in RESOURCES}
        for comp, per in out["components"].items()
    }
    result["part"] = config.part
    return result


def _scalar(value: np.generic) -> float | bool:
    return bool(value) if isinstance(value, np.bool_) else float(value)


def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Fill default knobs, parse widths, check integer knobs (one line per bad column)."""
    if "widths" not in df.columns:
        raise HardwareInputError(
            "widths: the design table needs a 'widths' column, e.g. 784,512,10"
        )
    table = df.copy()
    for name, default in _DEFAULTS.items():
        if name not in table.columns:
            table[name] = default
        elif name != "widths":
            table[name] = table[name].where(table[name].notna(), default)
    table["widths"] = table["widths"].map(parse_widths)
    for name in _INT_KNOBS:
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise HardwareInputError(
                f"{name}: {table[name].to_numpy()[bad][0]!r} must be an integer"
            )
        table[name] = values.astype(np.int64)
    clock = pd.to_numeric(table["clock_mhz"], errors="coerce").astype(float)
    if clock.isna().any():
        raise HardwareInputError(
            f"clock_mhz: {table['clock_mhz'][clock.isna()].iloc[0]!r} must be a number in MHz"
        )
    table["clock_mhz"] = clock
    table["_npc"] = table["pe"] * table["synapses_per_cycle"]
    return table


def _group_schedule(sub: pd.DataFrame) -> AcceleratorConfig:
    """The group's first design as a config (it carries the shared cycle schedule), after
    validating the group through AcceleratorConfig at its column-wise extremes: every
    per-knob check is an interval and the cross-knob ones involve only schedule keys."""
    first = sub.iloc[0]
    base = {k: first[k] for k in _DEFAULTS if k not in _INT_KNOBS + ("clock_mhz",)}

    def knobs(pick) -> dict:
        values = {k: int(pick(sub[k])) for k in _INT_KNOBS}
        return {**values, "clock_mhz": float(pick(sub["clock_mhz"]))}

    AcceleratorConfig(**base, **knobs(pd.Series.min))
    AcceleratorConfig(**base, **knobs(pd.Series.max))
    return AcceleratorConfig(**base, **knobs(lambda col: col.iloc[0]))


def estimate_table(
    df: pd.DataFrame,
    calibration: Calibration | str | None = None,
    util_cap: float | None = None,
) -> pd.DataFrame:
    """Price every row of `df` (AcceleratorConfig columns; optional `spike_rate` or
    `activity` per row); returns the estimate's keys as columns, index aligned with `df`."""
    cap = _validate_cap(util_cap)
    cal = resolve_calibration(calibration)
    table = _prepare(df)
    n = len(table)
    columns: dict[str, np.ndarray] = {}
    layer_cycles: list[pd.Series] = []
    positions = table.groupby(_SCHEDULE_KEYS, sort=False).indices
    for idx in positions.values():
        sub = table.iloc[idx]
        schedule = _group_schedule(sub)
        activity = np.stack(sub["activity"].to_numpy()) if "activity" in sub else None
        rate = sub["spike_rate"].to_numpy(float) if "spike_rate" in sub else 0.1
        batch = DesignBatch(
            widths=schedule.widths,
            memory_sampling=np.full(len(idx), schedule.sampling == "memory"),
            **{
                k: sub[k].to_numpy(np.int64)
                for k in ("pe", "synapses_per_cycle", "sample_lanes", "k_bits")
                + ("membrane_bits", "reuse", "input_bits")
            },
        )
        priced = _price_group(
            schedule,
            batch,
            sub["clock_mhz"].to_numpy(float),
            _part_arrays(sub["part"]),
            activity_matrix(schedule.widths, len(idx), activity, rate),
            cal,
            cap,
        )
        for key, values in priced.items():
            if key in ("components", "cycles_per_layer"):
                continue
            columns.setdefault(key, np.zeros(n, dtype=np.asarray(values).dtype))[idx] = values
        layer_cycles.append(pd.Series(list(priced["cycles_per_layer"]), index=table.index[idx]))
    result = pd.DataFrame(columns, index=table.index)
    result["cycles_per_layer"] = pd.concat(layer_cycles).reindex(table.index).map(list)
    result["part"] = table["part"]
    return result
