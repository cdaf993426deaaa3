"""The values the templates need: the hardware plan of the design plus the network's numbers.

Every size, width, storage pragma and loop constant comes from `hwmodel.plan.build_plan`;
this module only spells the integer network's row words (`hls.words`) as ROM initialisers
and the plan's arrays as Vitis HLS declarations and pragmas.
"""

from __future__ import annotations

import numpy as np

from hls.conv_facts import conv_block, queue_stride
from hls.vitis.ap_types import ap_types_dir
from hls.words import code_words, row_words, tap_words
from hwmodel.devices import get_part
from hwmodel.errors import HardwareInputError
from hwmodel.plan import (
    AXI_LATENCY,
    IMAGE_HANDSHAKE,
    LOOP_ENTRY,
    Array,
    HardwarePlan,
    build_plan,
)
from hwmodel.template import (
    KEY_CONSTANTS,
    MASK32,
    AcceleratorConfig,
    IntegerNetwork,
    time_segments,
)

__all__ = [
    "MAX_IMAGES",
    "array_declaration",
    "packed_words",
    "rom_chunks",
    "storage_pragmas",
    "template_context",
]

MAX_IMAGES = 1 << 16  # images per kernel call; bounds the image loop for the HLS tool
_LINE = 96  # characters per line of a ROM initialiser
# Arrays whose word is a row of elements (NPC neurons; a convolution's channels, or its
# window's taps): declared with an element dimension even when it holds one element.
_ROW_WORDS = (
    "codes",
    "membrane",
    "current",
    "threshold",
    "bias",
    "initial",
    "lines",
    "window",
    "word",
    "pair",
    "pool",
    "fmap",
)
_BIND_IMPL = {"lutram": "lutram", "bram": "bram"}
_CHUNK_BITS = (64, 32, 16, 8)  # the plain unsigned integers a ROM word is stored in


def rom_chunks(width: int) -> tuple[int, int]:
    """(bits per chunk, chunks per word) of a `width`-bit ROM word stored in plain unsigned
    integers (uint8_t .. uint64_t): the fewest unused bits, then the fewest chunks."""
    return min(
        ((bits, -(-width // bits)) for bits in _CHUNK_BITS),
        key=lambda pair: (pair[0] * pair[1] - width, pair[1]),
    )


def packed_words(values: np.ndarray, bits: int) -> np.ndarray:
    """Row words [depth, elements] of `bits`-bit elements (two's complement when negative) as
    chunks [depth, chunks] (uint64): element p of a word sits at bits p * bits .. p * bits +
    bits - 1 of the word, chunk c holds bits c * chunk .. c * chunk + chunk - 1."""
    values = np.asarray(values, dtype=np.int64)
    depth, elements = values.shape
    chunk, chunks = rom_chunks(bits * elements)
    masked = values & ((1 << bits) - 1)
    lanes = (masked[:, :, None] >> np.arange(bits)) & 1  # [depth, elements, bits]
    flat = np.zeros((depth, chunk * chunks), dtype=np.uint64)
    flat[:, : bits * elements] = lanes.reshape(depth, bits * elements)
    weights = np.left_shift(np.uint64(1), np.arange(chunk, dtype=np.uint64))
    return (flat.reshape(depth, chunks, chunk) * weights).sum(axis=2, dtype=np.uint64)


def _c_chunks(words: np.ndarray, chunk: int) -> str:
    """The initialiser {{0x..., ...}, ...} of packed words [depth, chunks], hex literals."""
    suffix = "ull" if chunk == 64 else "u"
    digits = chunk // 4
    rows = ["{" + ", ".join(f"0x{int(v):0{digits}x}{suffix}" for v in word) + "}" for word in words]
    per = max(1, _LINE // (len(rows[0]) + 2)) if rows else 1
    lines = [", ".join(rows[i : i + per]) for i in range(0, len(rows), per)]
    return ",\n".join("    " + line for line in lines)


def _rom(values: np.ndarray, bits: int) -> str:
    return _c_chunks(packed_words(values, bits), rom_chunks(bits * values.shape[1])[0])


def c_type(bits: int, signed: bool) -> str:
    """The ap_int type of a plan width."""
    return f"ap_int<{bits}>" if signed else f"ap_uint<{bits}>"


def _banked(array: Array) -> bool:
    """Whether the array's first dimension is its banks: per lane (even one lane), or several
    banks of one array (a convolution's taps, channels or timesteps)."""
    return array.per_lane or array.banks > 1


def array_declaration(array: Array) -> tuple[str, str]:
    """(element type, dimensions) of a plan array: [banks] when per lane or banked, [depth],
    then [elements] for row words (even when they hold one element).  A ROM is stored packed:
    [depth][chunks] plain unsigned integers holding its `width`-bit words (`rom_chunks`),
    which g++ and Vitis HLS initialise from integer literals at no cost per element."""
    banks = f"[{array.banks}]" if _banked(array) else ""
    if array.rom:
        chunk, chunks = rom_chunks(array.width)
        return f"uint{chunk}_t", f"{banks}[{array.depth}][{chunks}]"
    dims = banks + f"[{array.depth}]"
    if array.name.split("_")[0] in _ROW_WORDS:
        dims += f"[{array.elements}]"
    return c_type(array.element_bits, array.signed), dims


def storage_pragmas(array: Array) -> list[str]:
    """The ARRAY_PARTITION / ARRAY_RESHAPE / BIND_STORAGE / DEPENDENCE lines of a plan array.

    Lanes and banks are a complete partition of the first dimension; the elements of a word (the
    chunks of a packed ROM word) are reshaped into one wide word; a register array is
    completely partitioned along its depth, a RAM array is bound to the plan's kind with the
    ports it needs.
    """
    name = array.name
    lines = []
    dim = 1
    if _banked(array):
        lines.append(f"#pragma HLS ARRAY_PARTITION variable={name} type=complete dim=1")
        dim = 2
    if (rom_chunks(array.width)[1] if array.rom else array.elements) > 1:
        lines.append(f"#pragma HLS ARRAY_RESHAPE variable={name} type=complete dim={dim + 1}")
    if array.kind == "registers":
        lines.append(f"#pragma HLS ARRAY_PARTITION variable={name} type=complete dim={dim}")
        return lines
    ram = "rom_1p" if array.rom else ("ram_s2p" if array.writes and array.reads else "ram_1p")
    lines.append(
        f"#pragma HLS BIND_STORAGE variable={name} type={ram} impl={_BIND_IMPL[array.kind]}"
    )
    if array.read_modify_write:
        lines.append(
            f"#pragma HLS DEPENDENCE variable={name} type=inter direction=RAW dependent=true "
            f"distance={array.depth}"
        )
    return lines


def _check(config: AcceleratorConfig) -> None:
    part = get_part(config.part)
    if part.package is None or part.speed_grade is None:
        raise HardwareInputError(
            f"part: {config.part!r} names only the die; vitis_hls needs a full part string, "
            f"e.g. {part.part_strings()[0]} (one of {', '.join(part.part_strings())})"
        )
    bits = max(config.current_bits(layer) for layer in range(config.n_layers))
    if bits + config.membrane_bits + 1 > 64:
        raise HardwareInputError(
            f"input_bits: {config.input_bits} with {config.widths[0]} inputs needs a "
            f"{bits}-bit current; the membrane update holds 64 bits, so lower input_bits"
        )


def _layers(net: IntegerNetwork, plan: HardwarePlan) -> list[dict]:
    """The dense layers (a convolutional design's head): ROMs, widths, loops, and for an
    event loop the queue it walks (`_source`)."""
    npc = plan.npc
    sizes = plan.config.layer_sizes
    b = plan.config.membrane_bits
    top = (1 << (b - 1)) - 1
    layers = []
    for index in range(plan.config.n_conv, len(net.layers)):
        layer = net.layers[index]
        n_out, n_in = layer.codes.shape
        rows = plan.rows[index]
        entry = {
            "index": index,
            "n_in": n_in,
            "n_out": n_out,
            "rows": rows,
            "last_row": n_out - (rows - 1) * npc,  # neurons in the last row
            "shift": layer.shift,
            "spiking": layer.spiking,
            "codes": _rom(code_words(layer.codes, npc), plan.config.k_bits),
            "threshold": _rom(row_words(layer.threshold, npc, top), b),
            "bias": _rom(row_words(layer.bias, npc, 0), b),
            "initial": _rom(row_words(layer.initial, npc, 0), b),
            "current_bits": plan.type(f"current_{index}").bits,
            "update_bits": plan.type(f"update_{index}").bits,
            "events": plan.loop(f"events_{index}") if index > 0 else None,
            "source": _source(plan, index) if index > 0 else None,
            "fire": plan.loop(f"fire_{index}"),
            "reset": plan.loop(f"reset_{index}"),
            "sample": plan.loop(f"sample_{index}") if plan.sampling == "memory" else None,
        }
        if layer.spiking:
            entry["n_next"] = sizes[index + 2]
            entry["rows_next"] = plan.rows[index + 1]
        layers.append(entry)
    return layers


def _source(plan: HardwarePlan, index: int) -> dict:
    """The queue the event loop of dense layer `index` walks and what one mask bit steps: a
    dense layer's rows (a bit is the next neuron: `rows` code words, `n_out` weights), or the
    last convolutional block's bank of the timestep (a bit is the next channel, H' x W' inputs
    on: channel-major)."""
    config = plan.config
    stride = queue_stride(plan, index)
    rows, n_out = plan.rows[index], config.layer_sizes[index + 1]
    return {
        "layer": index - 1,
        "conv": index == config.n_conv,
        "step_addr": stride * rows,
        "step_index": stride * n_out,
    }


def _banked_rom(words: np.ndarray, bits: int) -> str:
    """The initialiser of a ROM with a bank per leading index of `words` [banks, depth, n]."""
    return ",\n".join("{\n" + _rom(bank, bits) + "\n}" for bank in words)


def _conv_layers(net: IntegerNetwork, plan: HardwarePlan) -> list[dict]:
    """The convolutional blocks: geometry, the plan's slots per timestep, ROMs (the codes a
    bank per tap) and loops; the last block also the head's queue steps."""
    config = plan.config
    npc, b = plan.npc, config.membrane_bits
    top = (1 << (b - 1)) - 1
    out = []
    for index, shape in enumerate(config.conv_shapes):
        layer = net.layers[index]
        entry = {
            **conv_block(plan, index, layer.shift),
            "positions": shape.height * shape.width,  # of the input map
            # the column of the input position after the fill's (a pixel reads W + 1 ahead)
            "first_col": plan.loop(f"fill_{index}").trip % shape.width,
            "codes": _banked_rom(tap_words(layer.codes, shape.in_channels, npc), config.k_bits),
            "threshold": _rom(row_words(layer.threshold, npc, top), b),
            "bias": _rom(row_words(layer.bias, npc, 0), b),
            "initial": _rom(row_words(layer.initial, npc, 0), b),
            "fill": plan.loop(f"fill_{index}"),
            "conv": plan.loop(f"conv_{index}"),
            "sample": plan.loop(f"sample_{index}") if plan.sampling != "none" else None,
            "last": index == config.n_conv - 1,
        }
        if entry["last"]:
            entry["rows_next"] = plan.rows[index + 1]
            entry["n_next"] = config.layer_sizes[index + 2]
        out.append(entry)
    return out


def template_context(
    net: IntegerNetwork, config: AcceleratorConfig, n_images: int, design_name: str
) -> dict:
    """Everything the templates render from (plain Python values and the plan)."""
    _check(config)
    plan = build_plan(config)
    widths = config.widths
    n_inputs = config.layer_sizes[0]  # the image's C x H x W pixels, or the first width
    images = max(n_images, 1)
    arrays = {}
    for array in plan.arrays:
        ctype, dims = array_declaration(array)
        arrays[array.name] = {
            "plan": array,
            "type": ctype,
            "dims": dims,
            "word": c_type(array.width, False),  # a packed ROM word as the kernel reads it
            "pragmas": storage_pragmas(array),
            "banked": _banked(array),  # its first dimension is its banks (maybe one)
        }
    try:
        ap_types = str(ap_types_dir())
    except HardwareInputError:
        ap_types = ""  # `dse csim` names the fix; the Vitis flow brings its own headers
    segments = time_segments(config.timesteps, config.samples)
    starts = [t0 for t0, _ in segments]
    keys = [a.depth for a in plan.arrays if a.name == "keys"]
    return {
        "design_name": design_name,
        "ap_types": ap_types,
        "config": config,
        "plan": plan,
        "widths": list(widths),
        "n_inputs": n_inputs,
        "n_conv": config.n_conv,
        "conv_layers": _conv_layers(net, plan),
        # Weight samples whose layer keys are held at once (all S under a convolutional
        # `time` ensemble: a pixel's timesteps span every segment), and each timestep's.
        "key_sets": keys[0] // config.n_layers if keys else 0,
        "t_samples": [s for s, (t0, t1) in enumerate(segments) for _ in range(t0, t1)],
        "n_layers": config.n_layers,
        "n_hidden": config.n_layers - 1,
        "runs": config.runs,
        "lanes": plan.lanes,
        "rounds": plan.rounds,
        "npc": plan.npc,
        "prng_units": plan.prng_units,
        "log2_reuse": config.reuse.bit_length() - 1,
        "segment_starts": starts + [config.timesteps],
        "arrays": arrays,
        "types": {t.name: c_type(t.bits, t.signed) for t in plan.types},
        # ap_int's default limit is 1024 bits; a wider ROM word raises it (Vitis HLS: 4096)
        "ap_int_max_w": max([1024, *(a.width for a in plan.arrays if a.rom)]),
        "loops": {loop.name: loop for loop in plan.loops},
        "loop_entry": LOOP_ENTRY,
        "image_handshake": IMAGE_HANDSHAKE,
        "axi_latency": AXI_LATENCY,
        "ports": plan.ports,
        "seed32": config.seed & MASK32,
        "key_constants": KEY_CONSTANTS,
        "max_images": MAX_IMAGES,
        "memory": plan.sampling == "memory",
        "regenerate": plan.sampling == "regenerate",
        "layers": _layers(net, plan),
        "depth": {
            "images": images * n_inputs,
            "scores": images * config.runs * widths[-1],
            "spikes": images * max(config.n_layers - 1, 1),
            "cycles": images,
        },
    }
