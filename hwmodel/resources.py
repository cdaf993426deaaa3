"""LUT / FF / BRAM / DSP cost of a hardware plan, component by component.

Every figure prices something `hwmodel.plan.build_plan` lists: its arrays (by their storage
kind, width, depth, banks and ports), its PRNG units and lanes of processing elements, and
the bus of one backend (`BACKENDS`): the RTL's AXI4-Lite wrapper and its buffers, or the
HLS kernel's m_axi bundles; nothing else is priced, so an estimate is the price of what that
backend builds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources as _files
from pathlib import Path
from types import MappingProxyType

from hwmodel.errors import HardwareInputError
from hwmodel.plan import Array, HardwarePlan

__all__ = [
    "BACKENDS",
    "COMPONENTS",
    "CONV_COMPONENTS",
    "RESOURCES",
    "array_cost",
    "bram18",
    "coefficients",
    "component_resources",
    "load_coefficients",
    "layer_datapaths",
]

COMPONENTS = (
    "pe",
    "prng",
    "sampler",
    "events",
    "weight_memory",
    "sample_memory",
    "neuron_memory",
    "spike_buffers",
    "control",
    "axi",
    "conv_pe",
    "conv_buffers",
)
#: The components only a convolutional front builds: a profile fits their multipliers on conv
#: designs alone (`hwmodel.calibration.fit_conv`), holding every other component's.
CONV_COMPONENTS = ("conv_pe", "conv_buffers")
RESOURCES = ("lut", "ff", "bram18", "dsp")
#: What the estimate prices: the Verilog backend (what dse builds, simulates and synthesizes)
#: or the Vitis HLS one; they differ only in their bus (`axi`).
BACKENDS = ("rtl", "hls")


@cache
def _default_coefficients() -> str:
    return _files.files("hwmodel").joinpath("data/coefficients.json").read_text()


def load_coefficients(path: str | Path | None = None) -> dict:
    """The model coefficients (default: the packaged `data/coefficients.json`), a fresh copy
    the caller may change; `coefficients()` is the packaged set parsed once, read-only."""
    text = Path(path).read_text() if path is not None else _default_coefficients()
    return json.loads(text)


def _read_only(value: object) -> object:
    """A JSON value whose objects are read-only mappings and whose arrays are tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: _read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_read_only(v) for v in value)
    return value


@cache
def coefficients() -> Mapping:
    """The packaged coefficients, parsed once and shared: a read-only view (assigning to it
    raises TypeError), so no caller can change what later estimates price with."""
    return _read_only(json.loads(_default_coefficients()))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


#: The aspect ratios (depth, width) of a RAMB18E1 and of a RAMB36E1 (two RAMB18s' worth), the
#: widest of each simple dual-port (one read and one write port, as every plan array has).
_BLOCK_SHAPES = (
    (1, ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))),
    (2, ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))),
)


def _column_bram18(depth: int, width: int, rows_per_word: bool) -> int:
    """RAMB18s of one depth x width column in the cheapest block shape: a shape `width` or
    wider, holding several rows per word when `rows_per_word` (a ROM, read through a mux)."""
    return min(
        halves * _ceil_div(depth, d * (w // width if rows_per_word else 1))
        for halves, shapes in _BLOCK_SHAPES
        for d, w in shapes
        if w >= width
    )


def _lane_bram18(depth: int, width: int) -> int:
    """RAMB18s of a written memory whose rows sit side by side in 9-bit byte lanes (the write
    enables' grain) across up to 16 blocks of one shape: several rows per wide word."""
    lanes = _ceil_div(width, 9)
    return min(
        halves * g * _ceil_div(depth, d * rows)
        for halves, shapes in _BLOCK_SHAPES
        for d, w in shapes
        if w >= 9
        for g in range(1, 17)
        if (rows := g * (w // 9) // lanes)
    )


@cache
def bram18(depth: int, width: int, rom: bool = False) -> int:
    """RAMB18 count of a depth x width memory as Yosys's synth_xilinx maps it (measured on
    ROMs and RAMs of many shapes, tests/hwmodel/test_bram_rule.py): the word split into equal
    columns, each in its cheapest RAMB18 or RAMB36 shape.  A ROM also packs several rows into
    one block word (a 2,304 x 5 ROM: three rows per 1K x 18 word, one RAMB18 where FINN's
    aspect-ratio rule, which Vivado follows, counts two); a written memory packs them only at
    byte lanes, possibly across several blocks (`_lane_bram18`).
    """
    d, w = int(depth), int(width)
    columns = min(_ceil_div(w, cw) * _column_bram18(d, cw, rom) for cw in range(1, min(w, 72) + 1))
    return columns if rom else min(columns, _lane_bram18(d, w))


def array_cost(array: Array) -> dict[str, float]:
    """lut, ff, bram18 and lutram (the LUTRAM share of lut) of one plan array, all banks.

    registers: a flip-flop per bit and, per bit of width, a LUT6 4:1 read mux per 4 words,
    none for a single word (a ROM in registers is constant logic: a LUT per bit, none for a
    single word, no flip-flop); lutram: a RAM64X1S LUT per bit and 64 words, a RAM64X1D (two)
    when the bank is also written, and a flip-flop per bit of each registered read port
    (`hwmodel.plan.READ_LATENCY`: 1); bram: Yosys's RAMB18 count (`bram18`).  Each is of the word's
    bits that synthesis keeps (`Array.kept_width`: a ROM's padding elements are dropped).
    """
    w, d, banks = array.kept_width, array.depth, array.banks
    kind = array.kind
    out = {"lut": 0.0, "ff": 0.0, "bram18": 0.0, "lutram": 0.0}
    if kind == "registers":
        mux = 0 if d == 1 else (1 if array.rom else _ceil_div(d, 4))
        out["lut"] = w * mux * banks
        out["ff"] = 0.0 if array.rom else d * w * banks
    elif kind == "lutram":
        luts = w * _ceil_div(d, 64) * (2 if array.writes and not array.rom else 1) * banks
        out["lut"] = out["lutram"] = luts
        out["ff"] = w * array.reads * banks
    else:
        out["bram18"] = bram18(d, w, array.rom) * banks
    return out


def _arrays_cost(arrays: list[Array]) -> dict[str, float]:
    """lut, ff, bram18 and lutram of some arrays together."""
    costs = [array_cost(a) for a in arrays]
    return {r: sum(c[r] for c in costs) for r in ("lut", "ff", "bram18", "lutram")}


def _component(**values: float) -> dict[str, float]:
    out = {"lut": 0.0, "ff": 0.0, "bram18": 0.0, "lutram": 0.0, "dsp": 0.0}
    out.update({k: float(v) for k, v in values.items()})
    return out


def layer_datapaths(plan: HardwarePlan, layer: int) -> tuple[int, int]:
    """(neuron datapaths, PRNG units) of weight layer `layer` that compute something: a row
    holds NPC neurons of every lane, but a layer narrower than NPC leaves the padding
    neurons (and the PRNG units only they would use) idle, and synthesis removes them."""
    config = plan.config
    npc = min(plan.npc, config.layer_outputs(layer))
    units = min(npc, -(-(npc - 1) // config.reuse) + 1, plan.prng_units)
    return npc * plan.lanes, units * plan.lanes


def _axi(plan: HardwarePlan, coeffs: Mapping, backend: str) -> dict[str, float]:
    """The bus of `backend`: the RTL wrapper's slave logic, result counter and buffers, or an
    m_axi adapter per HLS bundle."""
    if backend == "hls":
        ax, bundles = coeffs["axi"]["hls"], len(plan.bundles)
        return _component(**{r: ax[r] * bundles for r in ("lut", "ff", "bram18")})
    if backend != "rtl":
        raise HardwareInputError(
            f"backend: {backend!r} is not a backend; use one of {', '.join(BACKENDS)}"
        )
    ax, buffers = coeffs["axi"]["rtl"], _arrays_cost(list(plan.wrapper))
    counter = plan.array("bus_results").depth.bit_length()  # counts the result words 0..n
    return _component(
        lut=ax["lut"] + buffers["lut"],
        ff=ax["ff"] + counter + buffers["ff"],
        bram18=buffers["bram18"],
        lutram=buffers["lutram"],
    )


def component_resources(
    plan: HardwarePlan, coeffs: Mapping, backend: str = "rtl"
) -> dict[str, dict[str, float]]:
    """Per component, per resource (lut, ff, bram18, dsp, lutram) of one plan, with the bus
    of `backend` (`BACKENDS`).

    Every weight layer has its own datapaths: the current stage of its first-current or
    event loop and the integrate-and-fire stage of its fire loop.  One sign sampler (the
    lanes' PRNG units and a comparator per neuron and lane) serves the loops that draw
    weights (the `sample_l` loops with the memory strategy; first_current and `events_l`
    with regenerate), one at a time.  A deterministic plan (no PRNG units) has no sampler
    and no layer-key pipeline: its loops read the codes as the signs.
    """
    config = plan.config
    k, b = plan.type("code").bits, plan.type("membrane").bits
    pe_c, pr, sa, ev = coeffs["pe"], coeffs["prng"], coeffs["sampler"], coeffs["events"]
    lut = dict.fromkeys(("pe", "prng", "sampler", "events"), 0.0)
    ff = dict.fromkeys(("pe", "prng", "sampler", "events"), 0.0)
    signs = units = 0
    for layer in range(config.n_conv):  # sampled by the same sampler (conv_resources)
        neurons, generators = layer_datapaths(plan, layer)
        signs, units = max(signs, neurons), max(units, generators)
    for layer in range(config.n_conv, config.n_layers):
        neurons, generators = layer_datapaths(plan, layer)
        cbits = plan.type(f"current_{layer}").bits
        ubits = plan.type(f"update_{layer}").bits
        fire = b if layer < config.n_layers - 1 else 0
        lut["pe"] += neurons * (
            pe_c["lut_per_current_bit"] * cbits
            + pe_c["lut_per_update_bit"] * ubits
            + pe_c["lut_per_fire_bit"] * fire
        )
        # The fire loop's pipeline registers of each datapath (plan stages' `registers`).
        staged = sum(stage.registers for stage in plan.loop(f"fire_{layer}").stages)
        ff["pe"] += neurons * pe_c["ff_per_pipeline_bit"] * staged
        if layer > 0:  # its event loop walks the set bits of the previous layer's masks
            lut["events"] += ev["lut_per_loop"] + ev["lut_per_neuron"] * neurons
            ff["events"] += ev["ff_per_loop"] + ev["ff_per_neuron"] * neurons
        signs = max(signs, neurons)
        units = max(units, generators)
    # One sign sampler serves every loop that draws weights (one runs at a time): the PRNG
    # units and comparators the widest layer uses, and a select of each loop's codes, row
    # bases (two 32-bit words) and layer keys in front of it.  Each drawing loop carries its
    # 32-bit weight-index base (two adders) down its pipeline to the compare, a word per
    # stage up to its `sign` stage.
    lut["prng"], ff["prng"] = units * pr["lut_per_unit"], units * pr["ff_per_unit"]
    if plan.prng_units:
        select = (config.n_layers - 1) * (plan.npc * k + 64 + 32 * plan.lanes)
        lut["sampler"] = signs * (sa["lut_per_code_bit"] * k + sa["lut_per_sign"])
        lut["sampler"] += sa["lut_per_select_bit"] * select
        ff["sampler"] = signs * sa["ff_per_sign"]
        drawing = plan.drawing_loops
        lut["sampler"] += sa["lut_per_drawing_loop"] * len(drawing)
        base_stages = sum(loop.stage("sign").index for loop in drawing)
        ff["sampler"] += sa["ff_per_base_stage"] * 32 * base_stages
    out = {name: _component(lut=lut[name], ff=ff[name]) for name in lut}
    out["pe"]["dsp"] = float(plan.dsp)
    out["conv_pe"] = _conv_datapaths(plan, coeffs)
    arrays = {}
    names = ("weight_memory", "sample_memory", "neuron_memory", "spike_buffers", "control")
    for name in (*names, "conv_buffers"):
        arrays[name] = _arrays_cost([a for a in plan.arrays if a.component == name])
        out[name] = _component(**arrays[name])
    ct = coeffs["control"]
    keys = arrays["control"]  # the layer keys of every lane
    key_lanes = plan.lanes if plan.prng_units else 0  # each lane's layer-key pipeline
    loops = len(plan.loops)
    out["control"] = _component(
        lut=ct["lut"] + ct["lut_per_loop"] * loops + ct["lut_per_lane"] * key_lanes + keys["lut"],
        ff=ct["ff"] + ct["ff_per_loop"] * loops + ct["ff_per_lane"] * key_lanes + keys["ff"],
        bram18=keys["bram18"],
        lutram=keys["lutram"],
    )
    out["axi"] = _axi(plan, coeffs, backend)
    out["conv_buffers"] = _component(**arrays["conv_buffers"])
    return {name: out[name] for name in COMPONENTS}


def _conv_datapaths(plan: HardwarePlan, coeffs: Mapping) -> dict[str, float]:
    """The logic of the convolutional layers (`conv_pe`; none in a dense design).

    Per layer and neuron datapath: the 9-tap sum of one input channel (a LUT per tap bit:
    the masked popcount of 9 spikes, or the masked adder tree of 9 first-layer pixels), the
    current's accumulator, the membrane update and the fire logic as a dense layer's, and
    the OR that pools its spike; the conv loop's pipeline registers per datapath (plan
    stages' `registers`).  Per layer and lane that owns a window (the first layer's taps are
    the lanes' common pixels): the select of the slot's taps out of the window, a LUT6 per
    four inputs of each tap bit, and their registers; per layer its slot, pixel and border
    counters (`lut_per_layer`, `ff_per_layer`).  First-principles figures (a profile scales
    them by its conv multipliers)."""
    config = plan.config
    cv, b = coeffs["conv"], config.membrane_bits
    lut = ff = 0.0
    for layer, shape in enumerate(config.conv_shapes):
        neurons, _ = layer_datapaths(plan, layer)
        bits = config.input_bits if layer == 0 else 1  # of one tap
        cbits = plan.type(f"current_{layer}").bits
        ubits = plan.type(f"update_{layer}").bits
        lut += neurons * (
            cv["lut_per_tap_bit"] * 9 * bits
            + cv["lut_per_current_bit"] * cbits
            + cv["lut_per_update_bit"] * ubits
            + cv["lut_per_fire_bit"] * b
            + cv["lut_per_pool_bit"] * shape.pool
        )
        staged = sum(stage.registers for stage in plan.loop(f"conv_{layer}").stages)
        ff += neurons * cv["ff_per_pipeline_bit"] * staged
        windows = 1 if layer == 0 else plan.lanes
        inputs = shape.in_channels * (1 if layer == 0 else config.timesteps)
        select = 0 if inputs == 1 else -(-inputs // 4)
        lut += windows * 9 * bits * cv["lut_per_mux4"] * select
        ff += windows * 9 * bits
        lut += cv["lut_per_layer"]
        ff += cv["ff_per_layer"]
    return _component(lut=lut, ff=ff)
