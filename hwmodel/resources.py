"""LUT / FF / BRAM / DSP cost of each component of the accelerator kernel.

The components are exactly the blocks `docs/accelerator.md` tells the HLS engineer to build,
so an estimate is the price of the kernel that gets exported.  Everything is numpy over a
batch of designs that share their layer widths (`DesignBatch`), so that pricing ten thousand
designs costs a handful of array operations; a single design is a batch of one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources as _files
from pathlib import Path

import numpy as np

from hwmodel.template import AcceleratorConfig

__all__ = [
    "COMPONENTS",
    "RESOURCES",
    "DesignBatch",
    "component_resources",
    "current_bits",
    "finn_bram18",
    "load_coefficients",
    "memory_cost",
    "prng_units",
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


@dataclass(frozen=True)
class DesignBatch:
    """Hardware knobs of many designs with the same widths, one numpy array per knob."""

    widths: tuple[int, ...]
    pe: np.ndarray
    synapses_per_cycle: np.ndarray
    sample_lanes: np.ndarray
    k_bits: np.ndarray
    membrane_bits: np.ndarray
    reuse: np.ndarray
    input_bits: np.ndarray
    memory_sampling: np.ndarray  # bool: sampling == "memory"

    @classmethod
    def from_configs(cls, configs: Sequence[AcceleratorConfig]) -> DesignBatch:
        """Stack configs that share their widths."""
        widths = configs[0].widths
        if any(c.widths != widths for c in configs):
            raise ValueError("DesignBatch.from_configs needs configs with identical widths")

        def col(name: str) -> np.ndarray:
            return np.array([getattr(c, name) for c in configs], dtype=np.int64)

        return cls(
            widths=widths,
            pe=col("pe"),
            synapses_per_cycle=col("synapses_per_cycle"),
            sample_lanes=col("sample_lanes"),
            k_bits=col("k_bits"),
            membrane_bits=col("membrane_bits"),
            reuse=col("reuse"),
            input_bits=col("input_bits"),
            memory_sampling=np.array([c.sampling == "memory" for c in configs]),
        )

    @property
    def npc(self) -> np.ndarray:
        """Neurons updated per cycle by all PEs (P x Q)."""
        return self.pe * self.synapses_per_cycle

    @property
    def n_weights(self) -> int:
        """Weights of the whole network."""
        return int(sum(a * b for a, b in zip(self.widths[:-1], self.widths[1:], strict=True)))


def _ceil_div(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return -(-np.asarray(a) // b)


def _bit_length(x: np.ndarray) -> np.ndarray:
    """Bits needed for the non-negative integers `x` (exact below 2**50)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, np.floor(np.log2(np.maximum(x, 1))) + 1, 0).astype(np.int64)


def current_bits(batch: DesignBatch) -> np.ndarray:
    """Exact current width per layer, [designs, layers]: AcceleratorConfig.current_bits."""
    w = batch.widths
    first = _bit_length(w[0] * ((1 << batch.input_bits) - 1)) + 1
    rest = [np.broadcast_to(_bit_length(n) + 1, first.shape) for n in w[1:-1]]
    return np.stack([first, *rest], axis=-1)


def finn_bram18(depth: np.ndarray, width: np.ndarray) -> np.ndarray:
    """RAMB18 count of a depth x width memory, FINN's aspect-ratio rule."""
    d = np.asarray(depth, dtype=np.int64)
    w = np.asarray(width, dtype=np.int64)
    return np.select(
        [w == 1, w == 2, w <= 4, w <= 9, (w <= 18) | (d > 512)],
        [
            _ceil_div(d, 16384),
            _ceil_div(d, 8192),
            _ceil_div(d, 4096) * _ceil_div(w, 4),
            _ceil_div(d, 2048) * _ceil_div(w, 9),
            _ceil_div(d, 1024) * _ceil_div(w, 18),
        ],
        _ceil_div(d, 512) * _ceil_div(w, 36),
    )


def memory_cost(
    depth: np.ndarray, width: np.ndarray, copies: np.ndarray | int, mem: dict
) -> dict[str, np.ndarray]:
    """Cost of `copies` identical depth x width memories, by depth (FINN's style of rule).

    depth <= register_max_depth: flip-flops, each with a LUT for its load/hold mux;
    depth <= lutram_max_depth: distributed RAM, one RAM64X1S LUT per bit of width;
    deeper: block RAM by `finn_bram18`.  Both small kinds cost `width` LUTs per copy, so
    splitting a memory over more PEs never lowers the LUT count.
    Returns lut, ff, bram18 and lutram (the LUTRAM share of lut, for utilisation).
    """
    d = np.asarray(depth, dtype=np.int64)
    w = np.asarray(width, dtype=np.int64)
    registers = d <= mem["register_max_depth"]
    lutram = ~registers & (d <= mem["lutram_max_depth"])
    block = ~registers & ~lutram
    return {
        "lut": np.where(block, 0, w) * copies,
        "ff": np.where(registers, d * w, 0) * copies,
        "bram18": np.where(block, finn_bram18(d, w), 0) * copies,
        "lutram": np.where(lutram, w, 0) * copies,
    }


def _sum_costs(costs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: sum(c[key] for c in costs) for key in costs[0]}


def prng_units(batch: DesignBatch) -> np.ndarray:
    """PRNG units per sample lane; the kernel builds exactly this many.

    A row window (npc neurons of one input, one layer) touches at most
    ceil((npc - 1) / reuse) + 1 weight groups (at most npc).  The `memory` strategy's
    sampling phase walks the flat weight space of all layers, so its windows may straddle
    layer boundaries; since ceil(a/R) + ceil(b/R) <= ceil((a+b)/R) + 1, each boundary adds
    at most two groups, hence 2 per boundary more (still at most npc).  This bound needs no
    alignment analysis, never falls as npc grows, and `tests/hls` checks it against the
    exact count.
    """
    npc, r = batch.npc, batch.reuse
    within = np.minimum(npc, _ceil_div(npc - 1, r) + 1)
    boundaries = 2 * (len(batch.widths) - 2) * batch.memory_sampling.astype(np.int64)
    return np.minimum(npc, within + boundaries)


def _window_rotator_luts(batch: DesignBatch) -> np.ndarray:
    """LUTs of the rotator that aligns a flat window of sampled bits to the PEs: per lane and
    bit, log2(npc) levels of 2:1 muxing, two levels per LUT6 (4:1 mux)."""
    npc = batch.npc
    levels = _ceil_div(np.ceil(np.log2(np.maximum(npc, 1))).astype(np.int64), 2)
    return npc * levels * batch.sample_lanes


def _component(
    lut: np.ndarray | float = 0.0,
    ff: np.ndarray | float = 0.0,
    bram18: np.ndarray | float = 0.0,
    lutram: np.ndarray | float = 0.0,
    shape: tuple[int, ...] = (),
) -> dict[str, np.ndarray]:
    out = {"lut": lut, "ff": ff, "bram18": bram18, "lutram": lutram}
    out = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for k, v in out.items()}
    out["dsp"] = np.zeros(shape)  # the datapath binds every add/compare to fabric
    return out


def component_resources(batch: DesignBatch, coeffs: dict) -> dict[str, dict[str, np.ndarray]]:
    """Per component, per resource (lut, ff, bram18, dsp, lutram): arrays over the batch."""
    w = batch.widths
    n_layers = len(w) - 1
    shape = batch.pe.shape
    P, Q, N = batch.pe, batch.synapses_per_cycle, batch.sample_lanes
    k, b = batch.k_bits, batch.membrane_bits
    npc = batch.npc
    mem = coeffs["memory"]
    cbits = current_bits(batch)
    rows = [_ceil_div(n, npc) for n in w[1:]]
    # PEs that own at least one neuron of a layer (narrow layers leave some PEs idle).
    owners = [np.minimum(P, _ceil_div(n, Q)) for n in w[1:]]

    pe_c = coeffs["pe"]
    units = P * Q * N
    pe = _component(
        lut=units
        * (
            pe_c["lut_per_comparator_bit"] * k
            + pe_c["lut_per_current_bit"] * cbits.max(axis=-1)
            + pe_c["lut_per_membrane_bit"] * b
        )
        + P * pe_c["lut_per_pe"],
        ff=units
        * (
            pe_c["ff_per_comparator"]
            + pe_c["ff_per_current_bit"] * cbits.max(axis=-1)
            + pe_c["ff_per_membrane_bit"] * b
        )
        + P * pe_c["ff_per_pe"],
        shape=shape,
    )

    pr = coeffs["prng"]
    generators = prng_units(batch) * N
    prng = _component(
        lut=generators * (pr["lut_per_unit"] + pr["lut_per_k_bit"] * k),
        ff=generators * (pr["ff_per_unit"] + pr["ff_per_k_bit"] * k),
        shape=shape,
    )

    # Weight codes: flat over all layers for the memory strategy (read by the sampling
    # phase), one memory per layer in (input, row) order for the regenerate strategy.
    flat_depth = _ceil_div(batch.n_weights, npc)
    flat_codes = memory_cost(flat_depth, Q * k, P, mem)
    layer_codes = _sum_costs(
        [memory_cost(w[i] * rows[i], Q * k, owners[i], mem) for i in range(n_layers)]
    )
    ms = batch.memory_sampling
    weight_memory = _component(
        **{key: np.where(ms, flat_codes[key], layer_codes[key]) for key in flat_codes},
        shape=shape,
    )

    # Sampled signs: 1 bit per weight per lane, flat words of npc x lanes bits in two banks
    # (even/odd words) so that a window straddling two words is read in one cycle, then
    # rotated onto the PEs.
    banks = memory_cost(_ceil_div(flat_depth, 2), npc * N, 2, mem)
    sample_memory = _component(
        lut=np.where(ms, banks["lut"] + _window_rotator_luts(batch), 0),
        ff=np.where(ms, banks["ff"], 0),
        bram18=np.where(ms, banks["bram18"], 0),
        lutram=np.where(ms, banks["lutram"], 0),
        shape=shape,
    )

    neuron_parts = []
    for i in range(n_layers):
        param_words = 3 if i < n_layers - 1 else 2  # threshold (hidden only), bias, initial
        neuron_parts += [
            memory_cost(rows[i], Q * N * b, owners[i], mem),  # membranes
            memory_cost(rows[i], Q * N * cbits[..., i], owners[i], mem),  # currents
            memory_cost(rows[i], Q * param_words * b, owners[i], mem),  # neuron constants
        ]
    neuron_memory = _component(**_sum_costs(neuron_parts), shape=shape)

    # Input image (dense, input_bits each) and one event queue per hidden layer: the
    # address of a neuron that fired in any lane plus its per-lane spike mask.
    buffers = [memory_cost(w[0], batch.input_bits, 1, mem)]
    buffers += [memory_cost(n, _bit_length(n - 1).clip(min=1) + N, 1, mem) for n in w[1:-1]]
    spike_buffers = _component(**_sum_costs(buffers), shape=shape)

    ct = coeffs["control"]
    control = _component(
        lut=ct["lut"] + ct["lut_per_layer"] * n_layers + ct["lut_per_lane"] * N,
        ff=ct["ff"] + ct["ff_per_layer"] * n_layers + ct["ff_per_lane"] * N,
        shape=shape,
    )
    ax = coeffs["axi"]
    axi = _component(lut=ax["lut"], ff=ax["ff"], bram18=ax["bram18"], shape=shape)

    return {
        "pe": pe,
        "prng": prng,
        "weight_memory": weight_memory,
        "sample_memory": sample_memory,
        "neuron_memory": neuron_memory,
        "spike_buffers": spike_buffers,
        "control": control,
        "axi": axi,
    }
