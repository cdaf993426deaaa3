"""Spreads of small random designs: the C/RTL simulation tests and the calibration set.

A design is a random converted network (`random_snn`) plus an `AcceleratorConfig`.  Both
samplers are deterministic in their seed and stratified: the seed (or the design's index)
walks every ensemble x sampling x lane-count combination, so that any run of 12 consecutive
designs covers them all, and the other knobs are drawn at random.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hwmodel.architecture import ConvShape, flat_size, parse_blocks
from hwmodel.template import AcceleratorConfig
from models.snn_spec import ConvertedLayer, ConvertedSNN

__all__ = [
    "calibration_designs",
    "conv_calibration_designs",
    "random_conv_snn",
    "random_design",
    "random_snn",
    "stratum",
]

Design = tuple[ConvertedSNN, AcceleratorConfig]
MAX_DATAPATHS = 16
#: Images of the conv calibration designs: small, so that each synthesizes in well under a minute.
CONV_SHAPES = ((1, 6, 6), (2, 4, 4), (1, 8, 8), (3, 4, 4))


def random_snn(widths: tuple[int, ...], rng: np.random.Generator) -> ConvertedSNN:
    """Random posteriors, thresholds near sqrt(fan-in) so that neurons do fire."""
    last = len(widths) - 2
    layers = [
        _random_layer(n_in, n_out, index == last, rng)
        for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True))
    ]
    return ConvertedSNN(layers=layers, output_scale=float(rng.uniform(0.5, 3)))


def random_conv_snn(config: AcceleratorConfig, rng: np.random.Generator) -> ConvertedSNN:
    """`random_snn` of a design with a convolutional front: its blocks' kernels (fan-in 9 x
    input channels, one threshold per output channel), then the dense head."""
    n = config.n_layers
    layers = [
        _random_layer(
            config.fan_in(index),
            config.layer_outputs(index),
            index == n - 1,
            rng,
            config.conv_shapes[index] if index < config.n_conv else None,
        )
        for index in range(n)
    ]
    return ConvertedSNN(layers=layers, output_scale=float(rng.uniform(0.5, 3)))


def _random_layer(
    n_in: int, n_out: int, last: bool, rng: np.random.Generator, conv: ConvShape | None = None
) -> ConvertedLayer:
    threshold = rng.uniform(0.2, 1.5, n_out) * np.sqrt(n_in)
    return ConvertedLayer(
        prob=rng.beta(0.5, 0.5, (n_out, n_in)),
        threshold=np.ones(n_out) if last else threshold,
        bias=rng.normal(0.0, 0.5, n_out),
        initial=rng.uniform(0.0, 0.5, n_out) * threshold,
        spiking=not last,
        conv=conv,
    )


def stratum(index: int) -> dict:
    """Ensemble, sampling and lane count of the `index`-th design: a walk over all 12."""
    return {
        "ensemble": ("repeat", "time")[index % 2],
        "sampling": ("memory", "regenerate")[(index // 2) % 2],
        "sample_lanes": 1 + (index // 4) % 3,
    }


def random_design(seed: int, n: int = 24, deterministic: bool = False) -> Design:
    """A tiny random network and design (the simulation tests): widths 2..16, the membrane
    width spread over 4..32 across seeds 0..n-1, every other knob random.  `deterministic`
    gives the same draw at k = 1 with one sample: the form a straight-through or posterior-
    mode network takes (its codes are its signs; nothing is drawn)."""
    rng = np.random.default_rng(seed)
    hidden = rng.integers(3, 13, size=rng.integers(0, 3)).tolist()
    widths = (int(rng.integers(4, 17)), *hidden, int(rng.integers(2, 11)))
    walk = stratum(seed)
    timesteps = int(rng.integers(1, 7))
    high = timesteps if walk["ensemble"] == "time" else 4
    config = AcceleratorConfig(
        widths=widths,
        pe=int(rng.choice([1, 2, 3, 4, 8, 64])),
        synapses_per_cycle=int(rng.choice([1, 2])),
        k_bits=int(rng.integers(1, 17)),
        membrane_bits=4 + (28 * seed) // (n - 1),
        reuse=int(2 ** rng.integers(0, 4)),
        timesteps=timesteps,
        samples=int(rng.integers(1, high + 1)),
        input_bits=int(rng.integers(1, 17)),
        seed=int(rng.integers(0, 2**32)),
        **walk,
    )
    if deterministic:
        config = replace(config, k_bits=1, samples=1)
    return random_snn(widths, rng), config


def calibration_designs(n: int = 24, seed: int = 0) -> list[Design]:
    """`n` small designs for fitting the cost model to synthesis (each synthesizes in Yosys
    in seconds): 16..64 inputs, 0-2 hidden layers of 8..48, 2..10 classes; PEs 1..8,
    synapses per cycle 1-2, 1-3 lanes, k 2..8, membranes 6..16 bits, reuse 1..8, at most
    `MAX_DATAPATHS` neuron datapaths (PEs x synapses x lanes built) so that each synthesizes
    in a minute or two on a loaded machine.  Every fifth design (index 4, 9, ...: both
    ensembles) is deterministic, k = 1 with one sample, as a straight-through or posterior-
    mode network is: it builds no PRNG, keys or sign memory, which the fit must tell apart.

    Layer widths are drawn so that weight memories land in every storage kind of the plan:
    a third of the designs get a first layer of at most 64 weight words per lane (LUTRAM),
    the rest deeper (BRAM); narrow hidden layers give register arrays.
    """
    rng = np.random.default_rng(seed)
    designs = []
    for index in range(n):
        walk = stratum(index)
        spc = int(rng.choice([1, 2]))
        lanes = walk["sample_lanes"] if walk["ensemble"] == "repeat" else 1
        pe = int(rng.choice([p for p in (1, 2, 4, 8) if p * spc * lanes <= MAX_DATAPATHS]))
        npc = pe * spc
        hidden = rng.integers(8, 49, size=int(rng.integers(0, 3))).tolist()
        classes = int(rng.integers(2, 11))
        first_out = hidden[0] if hidden else classes
        rows = -(-first_out // npc)
        if index % 3 == 0:  # a shallow first layer: n0 x rows <= 64 words (LUTRAM)
            n0 = int(rng.integers(16, max(64 // rows, 16) + 1))
        else:
            n0 = int(rng.integers(16, 65))
        widths = (n0, *hidden, classes)
        timesteps = int(rng.integers(2, 5))
        config = AcceleratorConfig(
            widths=widths,
            pe=pe,
            synapses_per_cycle=spc,
            **_datapath_knobs(rng, walk, timesteps),
            **walk,
        )
        if index % 5 == 4:  # drawn like the others, so that they stay the same designs
            config = replace(config, k_bits=1, samples=1)
        designs.append((random_snn(widths, rng), config))
    return designs


def _datapath_knobs(rng: np.random.Generator, walk: dict, timesteps: int) -> dict:
    """The knobs both spreads draw alike, in one order (the designs depend on it): weight and
    membrane bits, reuse, samples (repeat: at least as many as lanes, so that every lane is
    built and used), input bits and the PRNG seed."""
    low, high = (1, timesteps) if walk["ensemble"] == "time" else (walk["sample_lanes"], 3)
    return {
        "k_bits": int(rng.integers(2, 9)),
        "membrane_bits": int(rng.integers(6, 17)),
        "reuse": int(2 ** rng.integers(0, 4)),
        "timesteps": timesteps,
        "samples": int(rng.integers(low, high + 1)),
        "input_bits": int(rng.integers(4, 9)),
        "seed": int(rng.integers(0, 2**32)),
    }


def conv_calibration_designs(n: int = 12, seed: int = 0) -> list[Design]:
    """`n` small designs with a convolutional front, to fit the conv components
    (`conv_pe`, `conv_buffers`) that dense designs never build: images of `CONV_SHAPES`, one
    or two blocks (every third design two) of 2..8 channels, pooled or not, a head of 0-1
    hidden layers of 4..16 and 2..6 classes; the ensemble x sampling x lane walk of
    `stratum`, PEs 1..4, the other knobs drawn as `calibration_designs` draws them.  Every
    fifth design is deterministic (k = 1, one sample), as there; a time ensemble draws at
    most 8 samples x weight layers (what the RTL backend holds in registers)."""
    rng = np.random.default_rng(seed + 7919)  # not the dense spread's draws
    designs = []
    for index in range(n):
        walk = stratum(index)
        shape = CONV_SHAPES[index % len(CONV_SHAPES)]
        blocks = [f"{int(rng.integers(2, 9))}{'p' if rng.random() < 0.5 else ''}"]
        if index % 3 == 1:
            blocks.insert(0, f"{int(rng.integers(2, 5))}p")
        conv = ",".join(blocks)
        hidden = rng.integers(4, 17, size=int(rng.integers(0, 2))).tolist()
        timesteps = int(rng.integers(2, 5))
        config = AcceleratorConfig(
            widths=(flat_size(shape, parse_blocks(conv)), *hidden, int(rng.integers(2, 7))),
            input_shape=shape,
            conv=conv,
            pe=int(rng.choice([1, 2, 4])),
            synapses_per_cycle=int(rng.choice([1, 2])),
            **_datapath_knobs(rng, walk, timesteps),
            **walk,
        )
        if index % 5 == 4:
            config = replace(config, k_bits=1, samples=1)
        elif walk["ensemble"] == "time":  # the RTL holds at most 8 samples x layers of keys
            config = replace(config, samples=min(config.samples, 8 // config.n_layers))
        designs.append((random_conv_snn(config, rng), config))
    return designs
