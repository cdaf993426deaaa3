"""The values the Verilog templates need: the hardware plan of the design plus the network's
numbers as `$readmemh` files.

Every memory's kind, width and depth, every loop's depth and the stage at which each loop
compares weights come from `hwmodel.plan.build_plan`; this module only names them for the
templates and packs the integer network into the plan's row words (element p of a word in
bits p x element width and up, two's complement).
"""

from __future__ import annotations

import numpy as np

from hls.conv_facts import conv_block, queue_stride
from hls.words import code_words, row_words, tap_words
from hwmodel.architecture import KERNEL
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
        real = min(plan.npc, plan.config.layer_sizes[index + 1])  # padding neurons never fire
        spikes = plan.lanes * real
        levels = popcount_levels(spikes)
        out["real"] = real
        out["queue"] = loop.stage("queue").index
        out["spike_tree"] = popcount_tree(spikes, levels)
        out["any_tree"] = popcount_tree(real, levels)
    return out


def _queue_source(plan: HardwarePlan, index: int) -> dict:
    """The queue the event loop of layer `index` walks: a dense layer's rows of NPC neurons, or
    the last convolutional block's positions (a bank per timestep, a mask bit per channel,
    channel-major inputs: a bit steps H' x W' inputs)."""
    config = plan.config
    if index == config.n_conv:
        positions = queue_stride(plan, index)
        return {
            "aw": _bits(positions - 1),
            "ev_bits": plan.type(f"events_{index}").bits,
            "mask": config.conv_shapes[-1].channels,
            "stride": positions,
            "read": "bank",  # the walker's view of its timestep's bank
        }
    return {
        "aw": _bits(plan.rows[index - 1] - 1),
        "ev_bits": plan.type(f"events_{index}").bits,
        "mask": plan.npc,
        "stride": 1,
        "read": "rdata",
    }


def _layers(net: IntegerNetwork, plan: HardwarePlan) -> list[dict]:
    """The dense layers (the head of a convolutional design)."""
    config = plan.config
    memory = plan.sampling == "memory"
    w = config.layer_sizes
    out = []
    for index, layer in enumerate(net.layers):
        if index < config.n_conv:
            continue
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
            entry["src"] = _queue_source(plan, index)
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


def _tree(leaves: int, levels: int) -> list[int]:
    """Nodes per level of a pairwise adder tree over `leaves` that ends in one node after
    `levels` levels (level 0: the leaves)."""
    nodes = [leaves]
    while nodes[-1] > 1:
        nodes.append(-(-nodes[-1] // 2))
    if len(nodes) != levels + 1:
        raise ValueError(f"a tree of {leaves} leaves takes {len(nodes) - 1} levels, not {levels}")
    return nodes


def _conv_layers(net: IntegerNetwork, plan: HardwarePlan) -> list[dict]:
    """The convolutional blocks: geometry, slots, every stage of fill_l and conv_l by name, the
    storage of each array, the popcounts of the pool stage and (last block) the head's queue."""
    config = plan.config
    t = config.timesteps
    out = []
    for index, shape in enumerate(config.conv_shapes):
        layer = net.layers[index]
        rows = plan.rows[index]
        conv = plan.loop(f"conv_{index}")
        named = {stage.name: stage.index for stage in conv.stages}
        taps = [s.index for s in conv.stages if s.name.startswith("taps")]
        if index and len(taps) != 1:  # the template counts 9 spiking taps in one stage
            raise ValueError(f"conv_{index}: {len(taps)} tap stages; the RTL builds one")
        real = min(plan.npc, shape.channels)
        levels = popcount_levels(plan.lanes * real)
        last = index == config.n_conv - 1
        source = "image" if index == 0 else f"fmap_{index - 1}"
        fill = plan.loop(f"fill_{index}")
        positions = shape.out_height * shape.out_width
        entry = {
            **conv_block(plan, index, layer.shift),
            "positions": positions,
            "bits": config.input_bits if index == 0 else t,  # per channel of an input position
            "cb": plan.type(f"current_{index}").bits,
            "ub": plan.type(f"update_{index}").bits,
            "aw_rows": _bits(rows - 1),
            "aw_pos": _bits(shape.height * shape.width + shape.width),  # reads run W + 1 ahead
            "aw_out": _bits(positions - 1),
            "aw_col": _bits(shape.width - 1),
            "aw_y": _bits(shape.height - 1),
            "aw_c": _bits(shape.in_channels - 1),
            "aw_slot": _bits(plan.slots[index] - 1),
            "aw_in": _bits(shape.height * shape.width - 1),  # an input map's address
            "aw_half": _bits(shape.out_width - 1),
            "aw_codes": _bits(shape.in_channels * rows - 1),
            "source": _storage(plan, source),
            "lines": _storage(plan, f"lines_{index}"),
            "codes": _storage(plan, f"codes_{index}"),
            "row": _storage(plan, f"membrane_{index}"),
            "constants": _storage(plan, f"bias_{index}"),
            "pool_row": _storage(plan, f"pool_{index}") if shape.pool else None,
            "fmap": None if last else _storage(plan, f"fmap_{index}"),
            "fill": {"depth": fill.depth, "shift": fill.stage("shift").index},
            "conv": {"depth": conv.depth, **named, "tap_stages": taps},
            # The first layer's pixels: an adder tree, a level per tap stage (9 -> 5 -> 3 -> 2
            # -> 1); spikes: one popcount of the 9 taps in the one tap stage.
            "tree": _tree(KERNEL * KERNEL, len(taps)) if index == 0 else None,
            "real": real,
            "spike_tree": popcount_tree(plan.lanes * real, levels),
            "any_tree": popcount_tree(real, levels),
            "last": last,
            "signs": None,  # a deterministic design reads its codes
        }
        if plan.sampling != "none":
            sets = plan.array(f"signs_{index}").depth // (shape.in_channels * rows)
            entry["signs"] = _storage(plan, f"signs_{index}")
            entry["sets"] = sets
            entry["aw_signs"] = _bits(shape.in_channels * rows * sets - 1)
            entry["sample"] = _loop(plan.loop(f"sample_{index}"))
        if last:
            head = index + 1
            entry["queue"] = _storage(plan, f"queue_addr_{index}")
            entry["qa_bits"] = plan.array(f"queue_addr_{index}").element_bits
            if plan.sampling == "regenerate":
                entry["qi_bits"] = plan.array(f"queue_index_{index}").element_bits
            entry["fill_bits"] = plan.array(f"queue_fill_{index}").element_bits
            entry["ev_bits"] = plan.array(f"queue_events_{index}").element_bits
            entry["rows_next"] = plan.rows[head]
            entry["n_next"] = config.layer_sizes[head + 1]
        out.append(entry)
    return out


def _prng_users(plan: HardwarePlan) -> list[dict]:
    """The loops that drive the shared PRNG units: state, layer, base delay line, the stage
    that compares (its `sign` stage) and the codes it compares (a convolution's tap); none in a
    deterministic design.  A convolution's weights are always sampled into memory."""
    nc = plan.config.n_conv
    layers = range(plan.config.n_layers)
    if plan.sampling == "none":
        users = []
    elif plan.sampling == "memory":
        users = [(f"SAMPLE_{i}", i, f"sp{i}_base", f"sample_{i}") for i in layers]
    else:
        users = [(f"SAMPLE_{i}", i, f"sp{i}_base", f"sample_{i}") for i in range(nc)]
        users += [] if nc else [("FIRST", 0, "fc_base", "first_current")]
        first = max(nc, 1)  # the event loops: every dense layer but a dense first one
        users += [(f"EVENTS_{i}", i, f"ev{i}_base", f"events_{i}") for i in layers if i >= first]
    return [
        {
            "state": state,
            "layer": i,
            "base": base,
            "cmp": plan.loop(loop).stage("sign").index,
            "offset": 1 if loop.startswith("events_") else 0,  # its base line starts at 1
            "codes": f"sp{i}_codes" if i < nc else f"codes{i}_rdata",
            # The layer key: of the lane's sample, or under a convolutional `time` ensemble of
            # the set being drawn (a block's sampling pass) or in force (the head).
            "key": _key_index(plan, i, f"sp{i}_set" if i < nc else "t_sample"),
        }
        for state, i, base, loop in users
    ]


def _key_index(plan: HardwarePlan, layer: int, weight_set: str) -> str:
    """The `keys` word of `layer`: one per layer, or per (weight set, layer) where the plan holds
    every weight sample's keys (a convolutional front under the `time` ensemble)."""
    if plan.array("keys").depth == plan.config.n_layers:
        return str(layer)
    return f"{weight_set} * {plan.config.n_layers} + {layer}"


def _states(plan: HardwarePlan) -> list[str]:
    """One state per loop of the plan (and idle, done)."""
    loops = {loop.name for loop in plan.loops}
    nc = plan.config.n_conv
    states = ["IDLE", "LOAD", "KEYS", "FIRST", "SCORES", "COUNTS", "DONE"]
    if "keys" not in loops:  # deterministic: a weight sample starts with its first current
        states.remove("KEYS")
    if nc:  # a convolutional front instead of the dense first layer
        states.remove("FIRST")
    for layer in range(plan.config.n_layers):
        if layer < nc:
            states += [f"FILL_{layer}", f"CONV_{layer}"]
            states += [f"SAMPLE_{layer}"] if f"sample_{layer}" in loops else []
            continue
        states += [f"RESET_{layer}", f"FIRE_{layer}"]
        if f"sample_{layer}" in loops:
            states.append(f"SAMPLE_{layer}")
        if layer > 0:
            states.append(f"EVENTS_{layer}")
    return states


def _check(plan: HardwarePlan) -> None:
    """The RTL backend keeps the layer keys in registers (at most 8 words)."""
    if not plan.prng_units or plan.array("keys").kind == "registers":
        return
    config = plan.config
    if plan.array("keys").depth > config.n_layers:  # a conv front under `time`: every sample's
        raise HardwareInputError(
            f"samples: {config.samples} weight samples x {config.n_layers} weight layers of "
            "keys, held at once by a convolutional front under the time ensemble; the RTL "
            "backend keeps at most 8 in registers, so use fewer samples"
        )
    raise HardwareInputError(
        f"widths: {config.n_layers} weight layers; the RTL backend keeps the layer keys "
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
    segments = _time_segments(config.timesteps, config.samples)
    starts = [t0 for t0, _ in segments]
    nc = config.n_conv
    n_inputs = config.layer_sizes[0]
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
        "n_conv": nc,
        "head": nc,  # the first dense layer
        "conv_layers": _conv_layers(net, plan),
        "n_inputs": n_inputs,
        # Under the `time` ensemble, the weight sample in force at each timestep.
        "t_samples": [s for s, (t0, t1) in enumerate(segments) for _ in range(t0, t1)],
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
        "aw_img": _bits(n_inputs - 1),
        "img": _storage(plan, "image"),
        "membrane_top": (1 << (b - 1)) - 1,
        "membrane_top_bits": f"{b}'d{(1 << (b - 1)) - 1}",
        "membrane_bottom_bits": f"{b}'d{1 << (b - 1)}",
        "score_extend": "sc_score" if b == 32 else f"{{{{{32 - b}{{sc_score[B-1]}}}}, sc_score}}",
        "layers": _layers(net, plan),
        "first": None if nc else _loop(plan.loop("first_current")),
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
        if layer.conv is None:
            words = code_words(layer.codes, npc)
        else:  # the 9 tap banks side by side, tap-major: one read per slot
            banks = tap_words(layer.codes, layer.conv.in_channels, npc)  # [taps, c * rows + row]
            words = banks.transpose(1, 0, 2).reshape(banks.shape[1], -1)
        files[f"codes_{index}.mem"] = _hex_words(words, config.k_bits)
        if layer.spiking:
            files[f"threshold_{index}.mem"] = _hex_words(row_words(layer.threshold, npc, top), b)
        files[f"bias_{index}.mem"] = _hex_words(row_words(layer.bias, npc, 0), b)
        files[f"initial_{index}.mem"] = _hex_words(row_words(layer.initial, npc, 0), b)
    return files
