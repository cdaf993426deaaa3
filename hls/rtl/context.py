"""The values the Verilog templates need: the hardware plan of the design plus the network's
numbers as `$readmemh` files.

Every memory's kind, width and depth, every loop's depth and the stage at which each loop
compares weights come from `hwmodel.plan.build_plan`; this module only names them for the
templates and packs the integer network into the plan's row words (element p of a word in
bits p x element width and up, two's complement).
"""

from __future__ import annotations

import numpy as np

from hls.words import code_words, row_words
from hwmodel.errors import HardwareInputError
from hwmodel.pipeline import popcount_levels, popcount_tree
from hwmodel.plan import AXI_LATENCY, READ_LATENCY, HardwarePlan, Loop, build_plan
from hwmodel.template import KEY_CONSTANTS, MASK32, AcceleratorConfig, IntegerNetwork, xorshift32
from hwmodel.template import time_segments as _time_segments

__all__ = ["STYLE", "memory_files", "rtl_context"]

# The plan's storage kinds as the STYLE parameter of rtl/snn_mem.v, and as the ram_style
# attribute of the wrapper's buffers (declared in snn_axi.v itself).
STYLE = {"registers": 0, "lutram": 1, "bram": 2}
RAM_STYLE = {"registers": "logic", "lutram": "distributed", "bram": "block"}


def _bits(n: int) -> int:
    """Bits of an unsigned value that holds 0 .. n (at least 1)."""
    return max(int(n).bit_length(), 1)


def _storage(plan: HardwarePlan, name: str) -> dict:
    array = plan.array(name)
    return {"style": STYLE[array.kind], "latency": READ_LATENCY[array.kind], "kind": array.kind}


def _loop(loop: Loop) -> dict:
    """Depth, and the stage that compares regenerated weights (the write stage if none)."""
    names = {stage.name for stage in loop.stages}
    return {"depth": loop.depth, "cmp": loop.stage("sign").index if "sign" in names else loop.depth}


def _fire(plan: HardwarePlan, index: int, spiking: bool) -> dict:
    """Fire loop `index`'s stages: the membrane write, the queue, the popcount trees."""
    loop = plan.loop(f"fire_{index}")
    out = {"depth": loop.depth, "write": loop.stage("fire" if spiking else "saturate").index}
    if spiking:
        real = min(plan.npc, plan.config.widths[index + 1])  # padding neurons never fire
        spikes = plan.lanes * real
        levels = popcount_levels(spikes)
        out["real"] = real
        out["queue"] = loop.stage("queue").index
        out["spike_tree"] = popcount_tree(spikes, levels)
        out["any_tree"] = popcount_tree(real, levels)
    return out


def _layers(net: IntegerNetwork, plan: HardwarePlan) -> list[dict]:
    config = plan.config
    memory = plan.sampling == "memory"
    w = config.widths
    out = []
    for index, layer in enumerate(net.layers):
        rows = plan.rows[index]
        n_out, n_in = layer.codes.shape
        entry = {
            "index": index,
            "n_in": n_in,
            "n_out": n_out,
            "rows": rows,
            "last_row": n_out - (rows - 1) * plan.npc,
            "shift": layer.shift,
            "spiking": layer.spiking,
            "cb": plan.type(f"current_{index}").bits,
            "ub": plan.type(f"update_{index}").bits,
            "aw_rows": _bits(rows - 1),
            "aw_codes": _bits(n_in * rows - 1),
            "codes": _storage(plan, f"codes_{index}"),
            "row": _storage(plan, f"membrane_{index}"),
            "constants": ("threshold", "bias", "initial") if layer.spiking else ("bias", "initial"),
            "reset": _loop(plan.loop(f"reset_{index}")),
            "fire": _fire(plan, index, layer.spiking),
        }
        if memory:
            entry["signs"] = _storage(plan, f"signs_{index}")
            entry["sample"] = _loop(plan.loop(f"sample_{index}"))
        if index > 0:
            entry["events"] = _loop(plan.loop(f"events_{index}"))
        if layer.spiking:
            entry["queue"] = _storage(plan, f"queue_addr_{index}")
            entry["qa_bits"] = plan.array(f"queue_addr_{index}").element_bits
            if plan.sampling == "regenerate":
                entry["qi_bits"] = plan.array(f"queue_index_{index}").element_bits
            entry["ev_bits"] = plan.type(f"events_{index + 1}").bits
            entry["rows_next"] = plan.rows[index + 1]
            entry["n_next"] = w[index + 2]
        out.append(entry)
    return out


def _prng_users(plan: HardwarePlan) -> list[dict]:
    """The loops that drive the shared PRNG units: state, layer, base delay line and the stage
    that compares (its `sign` stage); none in a deterministic design."""
    layers = range(plan.config.n_layers)
    if plan.sampling == "none":
        users = []
    elif plan.sampling == "memory":
        users = [(f"SAMPLE_{i}", i, f"sp{i}_base", f"sample_{i}") for i in layers]
    else:
        users = [("FIRST", 0, "fc_base", "first_current")]
        users += [(f"EVENTS_{i}", i, f"ev{i}_base", f"events_{i}") for i in layers if i]
    return [
        {
            "state": state,
            "layer": i,
            "base": base,
            "cmp": plan.loop(loop).stage("sign").index,
            "offset": 1 if loop.startswith("events_") else 0,  # its base line starts at 1
        }
        for state, i, base, loop in users
    ]


def _states(plan: HardwarePlan) -> list[str]:
    """One state per loop of the plan (and idle, done)."""
    loops = {loop.name for loop in plan.loops}
    states = ["IDLE", "LOAD", "KEYS", "FIRST", "SCORES", "COUNTS", "DONE"]
    if "keys" not in loops:  # deterministic: a weight sample starts with its first current
        states.remove("KEYS")
    for layer in range(plan.config.n_layers):
        states += [f"RESET_{layer}", f"FIRE_{layer}"]
        if f"sample_{layer}" in loops:
            states.append(f"SAMPLE_{layer}")
        if layer > 0:
            states.append(f"EVENTS_{layer}")
    return states


def _check(plan: HardwarePlan) -> None:
    if plan.prng_units and plan.array("keys").kind != "registers":
        raise HardwareInputError(
            f"widths: {plan.config.n_layers} weight layers; the RTL backend keeps the layer keys "
            "in registers (at most 8 layers), so use fewer layers or the HLS backend"
        )


def rtl_context(net: IntegerNetwork, config: AcceleratorConfig, design_name: str) -> dict:
    """Everything the RTL templates render from."""
    plan = build_plan(config)
    _check(plan)
    b = config.membrane_bits
    states = _states(plan)
    lanes = plan.lanes
    key_x0 = int(xorshift32(np.uint64((config.seed + KEY_CONSTANTS[0]) & MASK32)))
    starts = [t0 for t0, _ in _time_segments(config.timesteps, config.samples)]
    scores = plan.loop("store_scores")
    results = plan.array("bus_results").depth  # scores, spike counts, cycles
    return {
        "design_name": design_name,
        "config": config,
        "plan": plan,
        "widths": list(config.widths),
        "n_layers": config.n_layers,
        "lanes": lanes,
        "rounds": plan.rounds,
        "npc": plan.npc,
        "npc_bits": _bits(plan.npc - 1),
        "prng_units": plan.prng_units,
        "log2_reuse": config.reuse.bit_length() - 1,
        "key_x0": key_x0,
        "key_constants": KEY_CONSTANTS,
        "memory": plan.sampling == "memory",
        "regenerate": plan.sampling == "regenerate",
        # The state that starts a weight sample: its layer keys, or (deterministic) the first
        # layer's current.
        "sample_start": "KEYS" if "KEYS" in states else "FIRST",
        "time_ensemble": config.ensemble == "time",
        "segment_starts": starts,
        "states": states,
        "state_bits": _bits(len(states) - 1),
        "round_bits": _bits(plan.rounds - 1),
        "t_bits": _bits(config.timesteps),
        "sample_bits": _bits(config.samples),
        "lane_bits": _bits(lanes),
        "layer_bits": _bits(config.n_layers - 1),
        "class_bits": _bits(config.widths[-1] - 1),
        "aw_img": _bits(config.widths[0] - 1),
        "img": _storage(plan, "image"),
        "membrane_top": (1 << (b - 1)) - 1,
        "membrane_top_bits": f"{b}'d{(1 << (b - 1)) - 1}",
        "membrane_bottom_bits": f"{b}'d{1 << (b - 1)}",
        "score_extend": "sc_score" if b == 32 else f"{{{{{32 - b}{{sc_score[B-1]}}}}, sc_score}}",
        "layers": _layers(net, plan),
        "first": _loop(plan.loop("first_current")),
        "prng_users": _prng_users(plan),
        "keys_loop": {"depth": plan.loop("keys").depth} if "KEYS" in states else None,
        "load": {"depth": plan.loop("load_image").depth},
        "scores": {
            "depth": scores.depth,
            "read": scores.stage("select").index,
            "beat": scores.stage("select").index + 1,
        },
        "counts": {"depth": plan.loop("store_counts").depth},
        # What a board builds and `dse synth` measures: the core inside its AXI4-Lite wrapper.
        "top": "snn_axi",
        "clock_port": "aclk",
        "bus_styles": {a.name: RAM_STYLE[a.kind] for a in plan.wrapper},
        "runs": config.runs,
        "results": results,
        "result_bits": _bits(results),
        "axi_latency": AXI_LATENCY,
    }


def _hex_words(values: np.ndarray, bits: int) -> str:
    """Rows of `values` [depth, elements] as one hex word per line, element p in bits p*bits."""
    mask = (1 << bits) - 1
    digits = max(1, -(-bits * values.shape[1] // 4))
    lines = []
    for row in np.asarray(values, dtype=np.int64).tolist():
        word = 0
        for p, value in enumerate(row):
            word |= (int(value) & mask) << (p * bits)
        lines.append(f"{word:0{digits}x}")
    return "\n".join(lines) + "\n"


def memory_files(net: IntegerNetwork, config: AcceleratorConfig) -> dict[str, str]:
    """The ROM contents: file name -> `$readmemh` text (codes, thresholds, biases, initial
    membranes of every layer in the plan's row words; padding neurons: code 0, threshold at
    the membrane's top, bias and initial value 0)."""
    plan = build_plan(config)
    npc, b = plan.npc, config.membrane_bits
    top = (1 << (b - 1)) - 1
    files = {}
    for index, layer in enumerate(net.layers):
        files[f"codes_{index}.mem"] = _hex_words(code_words(layer.codes, npc), config.k_bits)
        if layer.spiking:
            files[f"threshold_{index}.mem"] = _hex_words(row_words(layer.threshold, npc, top), b)
        files[f"bias_{index}.mem"] = _hex_words(row_words(layer.bias, npc, 0), b)
        files[f"initial_{index}.mem"] = _hex_words(row_words(layer.initial, npc, 0), b)
    return files
