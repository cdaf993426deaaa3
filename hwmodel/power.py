"""Dynamic power of the programmable logic, class by class, at each class's switching activity.

The cells of a design split into power classes (`POWER_CLASSES`): the datapath (current,
event, fire and reset loops; a convolution's fill and conv loops), the sampler (PRNG units and
sign compare), control (sequencer and layer keys), I/O (the bus wrapper) and the memories by
storage kind.  Each class draws

    f / f_ref x [ clock x FF  +  toggle / toggle_ref x (logic x LUT + register x FF
                                 + signal x (LUT + FF) + block RAM x BRAM36 + DSP x DSP) ]

with the per-cell watts of `data/coefficients.json` ("power": a routed Vivado report's
breakdown, its source stated there): the clock tree's share does not depend on the data,
the rest scales with the class's toggle rate.

The toggle rate of a class is predicted from how much of the inference the class works
(`class_duty`: the fraction of cycles its loops run, from the same expected events the
cycle count uses): toggle = a + b x duty, a and b per class fitted by `dse calibrate` to the
toggles a clocked simulation counts (`hls.rtl.activity`).  Without a fitted profile every class
toggles at the reference rate, Vivado's vectorless default.

`power_w` in an estimate is the programmable logic only (device static + this dynamic
power); the processing system is reported beside it (`hwmodel.estimate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hwmodel.cycles import IO_LOOPS, datapath_layer
from hwmodel.plan import HardwarePlan
from hwmodel.resources import array_cost, layer_datapaths

__all__ = [
    "MEMORY_CLASSES",
    "POWER_CLASSES",
    "POWER_KINDS",
    "class_duty",
    "class_resources",
    "dynamic_power_by_class",
    "datapath_layer",
    "duties",
    "dynamic_power_by_kind",
    "fit_toggle",
    "predicted_toggle",
]

POWER_KINDS = ("lut", "ff", "bram36", "dsp")
MEMORY_CLASSES = ("registers", "lutram", "bram")
POWER_CLASSES = ("datapath", "prng", "sampler", "control", "io", *MEMORY_CLASSES)
#: The class of each cost-model component's logic (its arrays go to their storage kind).
_COMPONENT_CLASS = {
    "pe": "datapath",
    "events": "datapath",
    "prng": "prng",
    "sampler": "sampler",
    "weight_memory": "registers",
    "sample_memory": "registers",
    "neuron_memory": "registers",
    "spike_buffers": "registers",
    "control": "control",
    "axi": "io",
    "conv_pe": "datapath",
    "conv_buffers": "registers",
}
_CELLS = ("lut", "ff", "bram18", "dsp")


def class_shares(plan: HardwarePlan, components: Mapping[str, Mapping[str, float]]) -> dict:
    """Per component and cell type, the fraction of its cells in each power class: a
    component's arrays go to their storage kind (priced by `array_cost`), the rest of it to
    the class of its logic.  `components` is `component_resources` of the plan, before any
    calibration multiplier (the fractions then apply to the calibrated counts)."""
    by_component: dict[str, dict[str, dict[str, float]]] = {}
    arrays: dict[str, dict[str, dict[str, float]]] = {}
    for array in plan.arrays:
        cost = array_cost(array)
        per_kind = arrays.setdefault(array.component, {})
        kind = per_kind.setdefault(array.kind, dict.fromkeys(_CELLS, 0.0))
        for cell in ("lut", "ff", "bram18"):
            kind[cell] += cost[cell]
    for comp, cells in components.items():
        shares: dict[str, dict[str, float]] = {}
        home = _COMPONENT_CLASS[comp]
        stored = arrays.get(comp, {}) if comp != "axi" else {}  # the bus is I/O, buffers too
        for cell in _CELLS:
            total = float(cells.get(cell, 0.0))
            left = 1.0
            for kind, cost in stored.items():
                frac = cost[cell] / total if total > 0 else 0.0
                shares.setdefault(kind, {})[cell] = frac
                left -= frac
            shares.setdefault(home, {})[cell] = shares.get(home, {}).get(cell, 0.0) + left
        by_component[comp] = shares
    return by_component


def class_resources(
    components: Mapping[str, Mapping[str, np.ndarray]],
    shares: list[dict],
    offsets: Mapping[str, float] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Cells per power class of n designs: `components` holds each component's (calibrated)
    cells as arrays of n, `shares[i]` is design i's `class_shares`; a profile's offsets
    are control logic."""
    n = len(shares)
    out = {cls: {c: np.zeros(n) for c in _CELLS} for cls in POWER_CLASSES}
    for comp, cells in components.items():
        for cell in _CELLS:
            values = np.asarray(cells.get(cell, np.zeros(n)), dtype=np.float64)
            for i, share in enumerate(shares):
                for cls, frac in share[comp].items():
                    out[cls][cell][i] += values[i] * frac.get(cell, 0.0)
    for cell, value in (offsets or {}).items():
        if cell in _CELLS:
            out["control"][cell] = out["control"][cell] + value
    return out


def class_duty(plan: HardwarePlan, loop_cycles: Mapping[str, np.ndarray]) -> dict:
    """How much of an inference each class works, from the cycles of every loop
    (`hwmodel.cycles.loop_cycles`): the fraction of cycles its loops run.

    Each weight layer has its own datapaths and neuron memories, which work only in that
    layer's loops: the datapath's and the register files' duty is the layers' duties
    weighted by their datapath bits.  The PRNG's hash changes only when the first weight
    group of its row window does, every cycle of a drawing loop when a row spans at least
    `reuse` weights (NPC >= reuse), every reuse / NPC cycles otherwise.  I/O works in the load
    and store loops, the other memories whenever I/O does not, control always."""
    total = np.maximum(sum(np.asarray(c, dtype=np.float64) for c in loop_cycles.values()), 1.0)
    drawing = {loop.name for loop in plan.drawing_loops}
    n_layers = plan.config.n_layers
    weights = np.array(
        [
            layer_datapaths(plan, layer)[0] * plan.type(f"update_{layer}").bits
            for layer in range(n_layers)
        ],
        dtype=np.float64,
    )
    per_layer = [np.zeros_like(total) for _ in range(n_layers)]
    drawn, io = np.zeros_like(total), np.zeros_like(total)
    for name, cycles in loop_cycles.items():
        layer = datapath_layer(name)
        if layer is not None:
            per_layer[layer] = per_layer[layer] + cycles
        drawn = drawn + (cycles if name in drawing else 0.0)
        io = io + (cycles if name in IO_LOOPS else 0.0)
    layers = sum(w * c for w, c in zip(weights, per_layer, strict=True)) / weights.sum() / total
    return duties(layers, drawn / total, min(1.0, plan.npc / plan.config.reuse), io / total)


def duties(layers: np.ndarray, drawn: np.ndarray, prng_rate: Any, io: np.ndarray) -> dict:
    """Each class's duty from the shares of cycles `class_duty` works out: the layers' weighted
    datapath loops, the drawing loops (times how often they change the PRNG hash) and I/O."""
    duty = {
        "datapath": layers,
        "prng": drawn * prng_rate,
        "sampler": drawn,
        "control": np.ones_like(layers),
        "io": io,
        "registers": layers,
    }
    for cls in ("lutram", "bram"):
        duty[cls] = 1.0 - io
    return duty


def predicted_toggle(
    duty: Mapping[str, np.ndarray], model: Mapping[str, list[float]] | None, reference: float
) -> dict[str, np.ndarray]:
    """Toggle rate per class: a + b x duty with a profile's fitted (a, b) per class, the
    reference rate without one; never below 0 or above 1."""
    out = {}
    for cls in POWER_CLASSES:
        d = np.asarray(duty[cls], dtype=np.float64)
        if model and cls in model:
            a, b = model[cls]
            out[cls] = np.clip(a + b * d, 0.0, 1.0)
        else:
            out[cls] = np.full_like(d, reference)
    return out


def dynamic_power_by_class(
    cells: Mapping[str, Mapping[str, np.ndarray]],
    clock_mhz: np.ndarray,
    toggle: Mapping[str, np.ndarray],
    coeffs: dict,
    multipliers: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Dynamic watts per power class (module doc); `multipliers` per cell kind (a profile
    fitted to measured power) scale each kind's share."""
    pw = coeffs["power"]
    m = {kind: 1.0 for kind in POWER_KINDS} | dict(multipliers or {})
    scale = np.asarray(clock_mhz, dtype=np.float64) / pw["reference_clock_mhz"]
    out = {}
    for cls in POWER_CLASSES:
        c = cells[cls]
        lut, ff = np.asarray(c["lut"], float), np.asarray(c["ff"], float)
        activity = np.asarray(toggle[cls], dtype=np.float64) / pw["reference_toggle"]
        switching = (
            m["lut"] * lut * (pw["w_per_lut"] + pw["w_signal_per_cell"])
            + m["ff"] * ff * (pw["w_per_ff"] + pw["w_signal_per_cell"])
            + m["bram36"] * np.asarray(c["bram18"], float) / 2 * pw["w_per_bram36"]
            + m["dsp"] * np.asarray(c["dsp"], float) * pw["w_per_dsp"]
        )
        out[cls] = scale * (m["ff"] * ff * pw["w_clock_per_ff"] + activity * switching)
    return out


def dynamic_power_by_kind(
    counts: Mapping[str, np.ndarray],
    clock_mhz: np.ndarray,
    coeffs: dict,
    multipliers: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Dynamic watts per cell kind (lut, ff, bram36, dsp) of whole-design counts at the
    reference toggle rate: how a design's dynamic power divides among its cell kinds (the
    FF share includes the clock tree), used to fit power multipliers and to carry
    resource errors into power."""
    pw = coeffs["power"]
    m = {kind: 1.0 for kind in POWER_KINDS} | dict(multipliers or {})
    scale = np.asarray(clock_mhz, dtype=np.float64) / pw["reference_clock_mhz"]
    per_cell = {
        "lut": pw["w_per_lut"] + pw["w_signal_per_cell"],
        "ff": pw["w_per_ff"] + pw["w_signal_per_cell"] + pw["w_clock_per_ff"],
        "bram36": pw["w_per_bram36"],
        "dsp": pw["w_per_dsp"],
    }
    return {
        kind: np.asarray(counts[kind], dtype=np.float64) * per_cell[kind] * scale * m[kind]
        for kind in POWER_KINDS
    }


def fit_toggle(duty: Mapping[str, np.ndarray], measured: Mapping[str, np.ndarray]) -> dict:
    """(a, b) per class of toggle = a + b x duty, least squares over the designs that build
    the class (a NaN measured rate: none); a class with fewer than 3 such designs or no
    spread of duty gets its mean rate and no slope."""
    model: dict[str, list[float]] = {}
    for cls in POWER_CLASSES:
        x = np.asarray(duty[cls], dtype=np.float64)
        y = np.asarray(measured[cls], dtype=np.float64)
        keep = np.isfinite(y)
        x, y = x[keep], y[keep]
        if len(y) == 0:
            continue
        if len(y) < 3 or np.ptp(x) < 1e-9:
            model[cls] = [float(y.mean()), 0.0]
            continue
        b, a = np.polyfit(x, y, 1)
        model[cls] = [float(a), float(b)]
    return model
