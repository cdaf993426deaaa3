"""LUT / FF / BRAM / DSP cost of a hardware plan, component by component.

Every figure prices something `hwmodel.plan.build_plan` lists: its arrays (by their storage
kind, width, depth, banks and ports), its PRNG units and lanes of processing elements, its
bus bundles; nothing else is priced, so an estimate is the price of what the backends build.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources as _files
from pathlib import Path

from hwmodel.plan import Array, HardwarePlan

__all__ = [
    "COMPONENTS",
    "RESOURCES",
    "array_cost",
    "component_resources",
    "finn_bram18",
    "load_coefficients",
]

COMPONENTS = (
    "pe",
    "prng",
    "weight_memory",
    "sample_memory",
    "neuron_memory",
    "spike_buffers",
    "control",
    "axi",
)
RESOURCES = ("lut", "ff", "bram18", "dsp")


@cache
def _default_coefficients() -> str:
    return _files.files("hwmodel").joinpath("data/coefficients.json").read_text()


def load_coefficients(path: str | Path | None = None) -> dict:
    """The model coefficients (default: the packaged `data/coefficients.json`), a fresh copy."""
    text = Path(path).read_text() if path is not None else _default_coefficients()
    return json.loads(text)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def finn_bram18(depth: int, width: int) -> int:
    """RAMB18 count of a depth x width memory, FINN's aspect-ratio rule."""
    d, w = int(depth), int(width)
    if w == 1:
        return _ceil_div(d, 16384)
    if w == 2:
        return _ceil_div(d, 8192)
    if w <= 4:
        return _ceil_div(d, 4096) * _ceil_div(w, 4)
    if w <= 9:
        return _ceil_div(d, 2048) * _ceil_div(w, 9)
    if w <= 18 or d > 512:
        return _ceil_div(d, 1024) * _ceil_div(w, 18)
    return _ceil_div(d, 512) * _ceil_div(w, 36)


def array_cost(array: Array) -> dict[str, float]:
    """lut, ff, bram18 and lutram (the LUTRAM share of lut) of one plan array, all banks.

    registers: a flip-flop per bit and, per bit of width, a LUT6 4:1 read mux per 4 words (a
    ROM in registers is constant logic: a LUT per bit, no flip-flop); lutram: a RAM64X1S LUT
    per bit and 64 words, a RAM64X1D (two) when the bank is also written; bram: FINN's RAMB18 count.
    """
    w, d, banks = array.width, array.depth, array.banks
    kind = array.kind
    out = {"lut": 0.0, "ff": 0.0, "bram18": 0.0, "lutram": 0.0}
    if kind == "registers":
        out["lut"] = w * (1 if array.rom else _ceil_div(d, 4)) * banks
        out["ff"] = 0.0 if array.rom else d * w * banks
    elif kind == "lutram":
        luts = w * _ceil_div(d, 64) * (2 if array.writes and not array.rom else 1) * banks
        out["lut"] = out["lutram"] = luts
    else:
        out["bram18"] = finn_bram18(d, w) * banks
    return out


def _component(**values: float) -> dict[str, float]:
    out = {"lut": 0.0, "ff": 0.0, "bram18": 0.0, "lutram": 0.0, "dsp": 0.0}
    out.update({k: float(v) for k, v in values.items()})
    return out


def component_resources(plan: HardwarePlan, coeffs: dict) -> dict[str, dict[str, float]]:
    """Per component, per resource (lut, ff, bram18, dsp, lutram) of one plan."""
    config = plan.config
    units = plan.npc * plan.lanes  # neuron datapaths: NPC neurons of every lane per cycle
    cbits = max(plan.type(f"current_{i}").bits for i in range(config.n_layers))
    k, b = plan.type("code").bits, plan.type("membrane").bits
    pe_c = coeffs["pe"]
    out = {
        "pe": _component(
            lut=units
            * (
                pe_c["lut_per_comparator_bit"] * k
                + pe_c["lut_per_current_bit"] * cbits
                + pe_c["lut_per_membrane_bit"] * b
            )
            + config.pe * pe_c["lut_per_pe"],
            ff=units
            * (
                pe_c["ff_per_comparator"]
                + pe_c["ff_per_current_bit"] * cbits
                + pe_c["ff_per_membrane_bit"] * b
            )
            + config.pe * pe_c["ff_per_pe"],
            dsp=plan.dsp,
        )
    }
    pr = coeffs["prng"]
    generators = plan.prng_units * plan.lanes
    out["prng"] = _component(
        lut=generators * (pr["lut_per_unit"] + pr["lut_per_k_bit"] * k),
        ff=generators * (pr["ff_per_unit"] + pr["ff_per_k_bit"] * k),
    )
    arrays = {}
    for name in ("weight_memory", "sample_memory", "neuron_memory", "spike_buffers", "control"):
        costs = [array_cost(a) for a in plan.arrays if a.component == name]
        arrays[name] = {r: sum(c[r] for c in costs) for r in ("lut", "ff", "bram18", "lutram")}
        out[name] = _component(**arrays[name])
    ct = coeffs["control"]
    keys = arrays["control"]  # the layer keys of every lane
    out["control"] = _component(
        lut=ct["lut"]
        + ct["lut_per_layer"] * config.n_layers
        + ct["lut_per_lane"] * plan.lanes
        + keys["lut"],
        ff=ct["ff"]
        + ct["ff_per_layer"] * config.n_layers
        + ct["ff_per_lane"] * plan.lanes
        + keys["ff"],
        bram18=keys["bram18"],
        lutram=keys["lutram"],
    )
    ax = coeffs["axi"]
    bundles = len(plan.bundles)
    out["axi"] = _component(
        lut=ax["lut"] * bundles, ff=ax["ff"] * bundles, bram18=ax["bram18"] * bundles
    )
    return out
