"""The values the templates need, derived from the integer network and the design knobs.

One function, so every generated file (kernel, parameters, Tcl, driver, README) reads the
same numbers.
"""

from __future__ import annotations

import numpy as np

from hwmodel.devices import get_part
from hwmodel.errors import HardwareInputError
from hwmodel.resources import DesignBatch, prng_units
from hwmodel.template import MASK32, PIPELINE_DEPTH, AcceleratorConfig, IntegerNetwork

__all__ = ["MAX_IMAGES", "template_context"]

MAX_IMAGES = 1 << 16  # images per kernel call; bounds the image loop for the HLS tool
_BRAM18_BITS = 18 * 1024
_PER_LINE = 24


def _c_array(values: np.ndarray) -> str:
    flat = [str(int(v)) for v in np.asarray(values).ravel()]
    lines = [", ".join(flat[i : i + _PER_LINE]) for i in range(0, len(flat), _PER_LINE)]
    return ",\n".join("    " + line for line in lines)


def _memory_impl(bits: int) -> str:
    """Small memories go to LUTRAM, the rest to block RAM (about half a BRAM18 as the cut)."""
    return "bram" if bits >= _BRAM18_BITS // 2 else "lutram"


def _row_codes(codes: np.ndarray, npc: int) -> tuple[np.ndarray, int]:
    """Codes [n_out, n_in] in (input, row) order, each row of npc neurons padded with code 0."""
    n_out, n_in = codes.shape
    rows = -(-n_out // npc)
    padded = np.zeros((n_in, rows * npc), dtype=codes.dtype)
    padded[:, :n_out] = codes.T
    return padded, rows


def _group_bases(sizes: list[int], reuse: int) -> np.ndarray:
    """First global group of each layer: groups numbered across layers, index // reuse."""
    groups = [-(-size // reuse) for size in sizes]
    return np.concatenate([[0], np.cumsum(groups)[:-1]]).astype(np.int64)


def template_context(
    net: IntegerNetwork, config: AcceleratorConfig, n_images: int, design_name: str
) -> dict:
    """Everything the templates render from (plain Python values)."""
    widths = config.widths
    part = get_part(config.part)
    if part.package is None or part.speed_grade is None:
        raise HardwareInputError(
            f"part: {config.part!r} names only the die; vitis_hls needs a full part string, "
            f"e.g. {part.part_strings()[0]} (one of {', '.join(part.part_strings())})"
        )
    current_bits = max(config.current_bits(layer) for layer in range(config.n_layers))
    if current_bits > 31:
        raise HardwareInputError(
            f"input_bits: {config.input_bits} with {widths[0]} inputs needs a "
            f"{current_bits}-bit current; the kernel holds 31 bits, so lower input_bits"
        )
    sizes = [a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    layers = []
    for index, layer in enumerate(net.layers):
        n_out, n_in = layer.codes.shape
        layers.append(
            {
                "index": index,
                "n_in": n_in,
                "n_out": n_out,
                "shift": layer.shift,
                "spiking": layer.spiking,
                "threshold": _c_array(layer.threshold),
                "bias": _c_array(layer.bias),
                "initial": _c_array(layer.initial),
            }
        )
    npc = config.neurons_per_cycle
    memory = config.sampling == "memory"
    units = int(prng_units(DesignBatch.from_configs([config]))[0])
    if memory:
        # Input-major codes per layer (index i * n_out + j), layers one after the other.
        flat = np.concatenate([layer.codes.T.ravel() for layer in net.layers])
        codes = _c_array(flat)
        code_arrays = [{"name": "CODES", "impl": _memory_impl(flat.size * config.k_bits)}]
    else:
        codes, code_arrays = "", []
        for entry, layer in zip(layers, net.layers, strict=True):
            rom, entry["rows"] = _row_codes(layer.codes, npc)
            entry["codes"] = _c_array(rom)
            impl = _memory_impl(rom.size * config.k_bits)
            code_arrays.append({"name": f"CODES_{entry['index']}", "impl": impl})
    lanes = 1 if config.ensemble == "time" else min(config.sample_lanes, config.samples)
    runs = config.runs
    hidden = config.n_layers - 1
    images = max(n_images, 1)
    return {
        "design_name": design_name,
        "config": config,
        "widths": list(widths),
        "n_layers": config.n_layers,
        "n_hidden": hidden,
        "runs": runs,
        "lanes": lanes,
        "rounds": -(-config.samples // lanes) if config.ensemble == "repeat" else 1,
        "npc": npc,
        "prng_units": units,  # generators per lane (sampling phase or row windows)
        "group_base": _group_bases(sizes, config.reuse).tolist(),
        "code_arrays": code_arrays,
        "pipeline_depth": PIPELINE_DEPTH,
        "seed32": config.seed & MASK32,
        "n_weights": int(sum(sizes)),
        "max_images": MAX_IMAGES,
        "max_current_bits": current_bits,
        "code_type": "uint8_t" if config.k_bits <= 8 else "uint16_t",
        "wmem_impl": _memory_impl(int(sum(sizes)) * lanes),
        "memory": memory,
        "offsets": offsets,
        "layers": layers,
        "codes": codes,
        "depth": {
            "images": images * widths[0],
            "scores": images * runs * widths[-1],
            "spikes": images * max(hidden, 1),
            "cycles": images,
        },
    }
