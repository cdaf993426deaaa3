"""Price designs: resources, utilisation, cycles, latency, throughput, GOPS and power.

`estimate` prices one `AcceleratorConfig`; `estimate_table` prices a DataFrame of designs.
Both price the design's `hwmodel.plan` (built and priced once per distinct set of plan knobs,
whatever the clock, part and activity) with the bus of one backend (the RTL's AXI4-Lite
wrapper unless told `backend="hls"`) and go through `_price`, so a table row and a single
estimate agree.  `cycles` is everything the kernel's counter counts for one image, I/O
included; `cycles_io`, `cycles_sampling` and `cycles_per_layer` split it.

Conventions (docs/accelerator.md):
* GOPS counts dense-equivalent operations, 2 per weight per timestep per run (multiply and
  accumulate), whatever the sparsity, so that it compares with dense accelerators.
* GOPS/DSP divides by max(DSP, 1): the kernel binds no DSP, and a design with none is
  credited as if it used one rather than with an infinite figure.
* power_w is the programmable logic (static + dynamic); PS7 is power_ps_w (active) and
  power_ps_idle_w (cores in WFI), power_total_w = power_w + power_ps_w; power_board_w is the
  board's idle draw (`hwmodel/data/boards.json`) + the PL dynamic power.
* Three energies per inference, each saying what it includes (t_io = cycles_io / clock, the
  time the processor spends on the AXI4-Lite transfers; it waits in WFI for the rest):
  energy_pl_uj = power_w x latency (the PL alone);
  energy_soc_uj = energy_pl_uj + power_ps_w x t_io + power_ps_idle_w x (latency - t_io);
  energy_board_uj = power_board_w x latency + (power_ps_w - power_ps_idle_w) x t_io.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from hwmodel.calibration import Calibration, apply_calibration, resolve_calibration
from hwmodel.cycles import (
    activity_matrix,
    dense_ops_per_inference,
    loop_cycles,
    plan_cycles,
    synops_per_inference,
)
from hwmodel.devices import get_board, get_part
from hwmodel.errors import HardwareInputError
from hwmodel.fmax import FmaxModel
from hwmodel.plan import HardwarePlan, build_plan
from hwmodel.power import (
    POWER_CLASSES,
    class_duty,
    class_resources,
    class_shares,
    dynamic_power_by_class,
    predicted_toggle,
)
from hwmodel.resources import COMPONENTS, RESOURCES, component_resources, load_coefficients
from hwmodel.template import AcceleratorConfig

__all__ = ["estimate", "estimate_table", "parse_widths"]

_DEFAULTS = {f.name: f.default for f in fields(AcceleratorConfig) if f.name != "extra"}
_INT_KNOBS = ("pe", "synapses_per_cycle", "sample_lanes", "k_bits", "membrane_bits", "reuse")
_INT_KNOBS += ("input_bits", "timesteps", "samples", "seed")
_PART_FIELDS = ("lut", "ff", "bram36", "dsp", "lutram", "static_w", "ps_w", "ps_idle_w")
_UTIL = ("lut", "ff", "bram36", "dsp", "lutram")


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


#: Per power class figures of a single estimate (dicts by class; not table columns).
_PER_CLASS = ("duty", "toggle", "power_by_class")
_PLAN_KNOBS = ["widths", "pe", "synapses_per_cycle", "sample_lanes", "k_bits", "membrane_bits"]
_PLAN_KNOBS += ["reuse", "input_bits", "sampling", "ensemble", "timesteps", "samples"]


@dataclass
class _Priced:
    """What one plan costs, independent of clock, part and activity."""

    plan: HardwarePlan
    components: dict[str, dict[str, float]]
    per_event: np.ndarray  # cycles per visited input of each weight layer
    fmax_mhz: float  # the clock the model vouches for (hwmodel.fmax, guard included)
    critical: str  # the stage on its critical path
    shares: dict  # each component's cells per power class (hwmodel.power.class_shares)


def _priced(config: AcceleratorConfig, backend: str, fmax: FmaxModel) -> _Priced:
    plan = build_plan(config)
    path_ns, critical = fmax.critical(plan)
    components = component_resources(plan, load_coefficients(), backend)
    return _Priced(
        plan=plan,
        components=components,
        per_event=np.array(plan.cycles_per_event(), dtype=np.float64),
        fmax_mhz=fmax.clock_mhz(path_ns),
        critical=critical,
        shares=class_shares(plan, components),
    )


def _fmax_model(cal: Calibration | None) -> FmaxModel:
    """The profile's fitted clock model, or the first-principles one."""
    return FmaxModel.from_dict(cal.fmax if cal is not None else None)


def _price(
    priced: list[_Priced],
    cols: dict[str, np.ndarray],
    part: dict[str, np.ndarray],
    per_lane: np.ndarray,
    loop_events: np.ndarray,
    cal: Calibration | None,
    cap: float,
    toggle: Mapping[str, float] | None = None,
) -> dict:
    """Every metric for designs with the same widths: `priced[i]` is design i's plan;
    `toggle` (rate per power class) replaces the predicted switching activity."""
    coeffs = load_coefficients()
    widths = priced[0].plan.config.widths
    comps = {
        comp: {r: np.array([p.components[comp][r] for p in priced]) for r in (*RESOURCES, "lutram")}
        for comp in COMPONENTS
    }
    comps = apply_calibration(comps, cal)
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
    for res in _UTIL:
        out[f"util_{res}"] = out[res] / part[res]
    out["fits"] = np.all([out[f"util_{r}"] <= cap for r in _UTIL], axis=0)
    out["components"] = comps

    # Events each loop visits per image: per timestep and round, times rounds x timesteps.
    slots = np.array([p.plan.event_slots for p in priced], dtype=np.float64)
    cycles = _plan_cycles_batch(priced, loop_events * slots[:, None])
    out["cycles"] = cycles["total"]
    out["cycles_io"] = cycles["io"]
    out["cycles_sampling"] = cycles["sampling"]
    out["cycles_per_layer"] = cycles["per_layer"]
    runs = np.where(cols["ensemble"] == "repeat", cols["samples"], 1)
    clock = cols["clock_mhz"]
    seconds = out["cycles"] / (clock * 1e6)
    out["latency_us"] = seconds * 1e6
    out["throughput_ips"] = 1.0 / seconds
    out["synops_per_inference"] = synops_per_inference(
        widths, per_lane, cols["samples"], cols["timesteps"], runs
    )
    out["synops_per_s"] = out["synops_per_inference"] * out["throughput_ips"]
    out["ops_per_inference"] = dense_ops_per_inference(widths, cols["timesteps"], runs)
    out["gops"] = out["ops_per_inference"] * out["throughput_ips"] / 1e9
    out["gops_per_dsp"] = out["gops"] / np.maximum(out["dsp"], 1.0)

    cells = class_resources(comps, [p.shares for p in priced], offsets)
    if toggle is None:
        toggle = predicted_toggle(
            cycles["duty"], cal.activity if cal else None, coeffs["power"]["reference_toggle"]
        )
    else:
        toggle = {cls: np.full(len(priced), float(toggle[cls])) for cls in POWER_CLASSES}
    by_class = dynamic_power_by_class(cells, clock, toggle, coeffs, cal.power if cal else None)
    out["duty"], out["toggle"], out["power_by_class"] = cycles["duty"], toggle, by_class
    out["power_static_w"] = part["static_w"]
    out["power_dynamic_w"] = sum(by_class.values())
    out["power_w"] = out["power_static_w"] + out["power_dynamic_w"]
    out["power_ps_w"] = part["ps_w"]
    out["power_ps_idle_w"] = part["ps_idle_w"]
    out["power_total_w"] = out["power_w"] + out["power_ps_w"]
    out["power_board_w"] = part["board_idle_w"] + out["power_dynamic_w"]
    io_us = out["cycles_io"] / clock  # the PS feeds the image and reads the scores
    wait_us = out["latency_us"] - io_us  # the PS waits in WFI for the done interrupt
    out["energy_pl_uj"] = out["power_w"] * out["latency_us"]
    out["energy_soc_uj"] = (
        out["energy_pl_uj"] + out["power_ps_w"] * io_us + out["power_ps_idle_w"] * wait_us
    )
    out["energy_board_uj"] = (
        out["power_board_w"] * out["latency_us"]
        + (out["power_ps_w"] - out["power_ps_idle_w"]) * io_us
    )
    out["clock_mhz"] = clock
    out["fmax_mhz"] = np.array([p.fmax_mhz for p in priced])
    out["fmax_stage"] = np.array([p.critical for p in priced], dtype=object)
    out["meets_clock"] = clock <= out["fmax_mhz"]
    return out


def _plan_cycles_batch(priced: list[_Priced], events: np.ndarray) -> dict:
    """plan_cycles of each design at its events [n, layers], one call per distinct plan, and
    the duty of each power class (`hwmodel.power.class_duty`) under "duty"."""
    n, layers = events.shape
    out = {"total": np.empty(n), "io": np.empty(n), "sampling": np.empty(n)}
    out["per_layer"] = np.empty((n, layers))
    duty = {cls: np.empty(n) for cls in POWER_CLASSES}
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(priced):
        groups.setdefault(id(p), []).append(i)
    for idx in groups.values():
        plan = priced[idx[0]].plan
        cyc = plan_cycles(plan, events[idx])
        for key, values in cyc.items():
            out[key][idx] = values
        for cls, values in class_duty(plan, loop_cycles(plan, events[idx])).items():
            duty[cls][idx] = values
    out["duty"] = duty
    return out


def estimate(
    config: AcceleratorConfig,
    activity: Sequence[float] | None = None,
    spike_rate: float = 0.1,
    calibration: Calibration | str | None = None,
    util_cap: float | None = None,
    loop_events: Sequence[float] | None = None,
    backend: str = "rtl",
    board: str = "pynq-z2",
    toggle: Mapping[str, float] | None = None,
) -> dict:
    """Price one design as `backend` builds it on `board`; `activity` is models.evaluation's
    list (index 0 = n0).

    `loop_events` (same layout) is the measured mean number of inputs each event loop visits
    per timestep and round (the union over lanes); by default the per-lane `activity`.
    `board` (`hwmodel/data/boards.json`) gives energy_board_uj its idle draw.
    `toggle` is a measured toggle rate per power class (`dse sim --toggles`), priced instead
    of the profile's prediction.
    """
    cap = _validate_cap(util_cap)
    per_lane = activity_matrix(config.widths, 1, activity, spike_rate)
    loop = (
        per_lane
        if loop_events is None
        else activity_matrix(config.widths, 1, loop_events, name="loop_events")
    )
    part = get_part(config.part)
    idle_w = get_board(board).idle_w
    cols = {k: np.array([getattr(config, k)]) for k in (*_INT_KNOBS, "clock_mhz")}
    cols.update(sampling=np.array([config.sampling]), ensemble=np.array([config.ensemble]))
    cal = resolve_calibration(calibration)
    out = _price(
        [_priced(config, backend, _fmax_model(cal))],
        cols,
        {f: np.array([float(getattr(part, f))]) for f in _PART_FIELDS}
        | {"board_idle_w": np.array([idle_w])},
        per_lane,
        loop,
        cal,
        cap,
        toggle,
    )
    skip = ("components", "cycles_per_layer", "fmax_stage", *_PER_CLASS)
    result = {k: _scalar(v[0]) for k, v in out.items() if k not in skip}
    for key in _PER_CLASS:
        result[key] = {cls: float(v[0]) for cls, v in out[key].items()}
    result["cycles_per_layer"] = [float(c) for c in out["cycles_per_layer"][0]]
    result["components"] = {
        comp: {r: float(v[0]) for r, v in per.items() if r in RESOURCES}
        for comp, per in out["components"].items()
    }
    result["fmax_stage"] = str(out["fmax_stage"][0])
    result["part"] = config.part
    result["board"] = get_board(board).name
    return result


def _scalar(value: np.generic) -> float | bool:
    return bool(value) if isinstance(value, np.bool_) else float(value)


class _WidthsParser:
    """parse_widths once per distinct spelling: a table repeats a few widths many times."""

    def __init__(self) -> None:
        self.seen: dict[object, tuple[int, ...]] = {}

    def __call__(self, value: str | Sequence[int]) -> tuple[int, ...]:
        key = value if isinstance(value, str | tuple) else tuple(value)
        if key not in self.seen:
            self.seen[key] = parse_widths(value)
        return self.seen[key]


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
    table["widths"] = table["widths"].map(_WidthsParser())
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
    if (clock <= 0).any():
        raise HardwareInputError(f"clock_mhz: {clock[clock <= 0].iloc[0]} must be positive")
    table["clock_mhz"] = clock
    return table


def _table_parts(names: pd.Series) -> dict[str, np.ndarray]:
    """Device figures per row: each distinct part string is resolved once."""
    codes, uniques = pd.factorize(names)
    parts = [get_part(name) for name in uniques]
    return {f: np.array([float(getattr(p, f)) for p in parts])[codes] for f in _PART_FIELDS}


def _plan_config(widths: tuple[int, ...], cols: dict[str, np.ndarray], i: int) -> AcceleratorConfig:
    """The config of row `i` of a widths group, plan knobs only (validated here)."""
    knobs = {k: int(cols[k][i]) for k in _PLAN_KNOBS[1:] if k not in ("sampling", "ensemble")}
    return AcceleratorConfig(
        widths=widths, sampling=str(cols["sampling"][i]), ensemble=str(cols["ensemble"][i]), **knobs
    )


def estimate_table(
    df: pd.DataFrame,
    calibration: Calibration | str | None = None,
    util_cap: float | None = None,
    backend: str = "rtl",
    board: str = "pynq-z2",
) -> pd.DataFrame:
    """Price every row of `df` (AcceleratorConfig columns; optional `spike_rate` or
    `activity` per row) as `backend` builds it on `board`; returns the estimate's keys as
    columns, index aligned with `df`."""
    cap = _validate_cap(util_cap)
    on = get_board(board)
    cal = resolve_calibration(calibration)
    fmax = _fmax_model(cal)
    table = _prepare(df)
    part = _table_parts(table["part"])
    n = len(table)
    part["board_idle_w"] = np.full(n, on.idle_w)
    columns: dict[str, np.ndarray] = {}
    layer_cycles: list[pd.Series] = []
    for widths, idx in table.groupby("widths", sort=False).indices.items():
        sub = table.iloc[idx]
        cols = {k: sub[k].to_numpy() for k in (*_INT_KNOBS, "clock_mhz", "sampling", "ensemble")}
        plans: list[_Priced | None] = [None] * len(idx)
        for pos in sub.groupby(_PLAN_KNOBS[1:], sort=False).indices.values():
            one = _priced(_plan_config(widths, cols, int(pos[0])), backend, fmax)
            for p in pos:
                plans[p] = one
        activity = np.stack(sub["activity"].to_numpy()) if "activity" in sub else None
        rate = sub["spike_rate"].to_numpy(float) if "spike_rate" in sub else 0.1
        per_lane = activity_matrix(widths, len(idx), activity, rate)
        loop = (
            activity_matrix(
                widths, len(idx), np.stack(sub["loop_events"].to_numpy()), name="loop_events"
            )
            if "loop_events" in sub
            else per_lane
        )
        priced = _price(plans, cols, {f: v[idx] for f, v in part.items()}, per_lane, loop, cal, cap)
        for key, values in priced.items():
            if key in ("components", "cycles_per_layer", *_PER_CLASS):
                continue
            columns.setdefault(key, np.zeros(n, dtype=np.asarray(values).dtype))[idx] = values
        layer_cycles.append(pd.Series(list(priced["cycles_per_layer"]), index=table.index[idx]))
    result = pd.DataFrame(columns, index=table.index)
    result["cycles_per_layer"] = pd.concat(layer_cycles).reindex(table.index).map(list)
    result["part"] = table["part"]
    result["board"] = on.name
    return result
