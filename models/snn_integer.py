"""The integer, hardware-exact SNN: what the accelerator (and the HLS kernel) computes.

Everything here follows `hwmodel.template` literally: k-bit Bernoulli codes, the counter-based
PRNG keyed by (seed, sample, layer, group) with its reuse, the exact synaptic current, one
saturating b-bit membrane update per timestep, integer thresholds with reset by subtraction,
the `repeat`/`time` ensemble schedules and the event-driven cycle count.  Inputs use direct
encoding only: the first layer sees `input_bits`-bit unsigned pixels at every timestep.

Units.  The current of weight layer l is an integer sum of +-1 weights times the layer's
input: spikes (0/1) for l >= 1, and pixels scaled by ``2**input_bits - 1`` for l = 0, so the
float thresholds, biases and initial membranes of layer 0 are multiplied by that scale.  The
current is then shifted left by a per-layer `shift` before it meets the membrane, which gives
the thresholds fractional resolution.  For a spiking layer the shift is the largest one that
keeps the largest threshold below ``2**(membrane_bits - 2)``: a quarter of the range, leaving
room above the threshold (a neuron can hold up to about two thresholds before it fires) and
the same room below zero.  Thresholds too large for the membrane even at shift 0 are clipped to
the largest membrane value (the neuron then fires only at saturation).  For the (non-spiking)
output layer the shift is the largest one under which T timesteps of the worst-case current
plus bias and initial value cannot saturate the membrane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwmodel.template import (
    AcceleratorConfig,
    IntegerLayer,
    IntegerNetwork,
    cycle_breakdown_from_events,
    quantize_probability,
    random_codes,
    sample_signs,
    segment_of_timestep,
)
from models.errors import ModelInputError
from models.snn_spec import ConvertedSNN

__all__ = [
    "IntegerResult",
    "class_probabilities",
    "input_scale",
    "quantize_input",
    "quantize_network",
    "run_integer",
    "sampled_weights",
    "score_divisor",
]

# Largest bit width of a shifted current, so that v + (I << shift) + bias stays inside int64.
_MAX_SHIFTED_BITS = 62
# Images per chunk: bounds memory at [samples, chunk, width] arrays.
_CHUNK = 512


@dataclass
class IntegerResult:
    """Outputs of one integer run over a batch (all int64)."""

    scores: np.ndarray  # [runs, B, C]: final output membranes, one vector per run
    spikes: np.ndarray  # [B, hidden layers]: spikes summed over runs, timesteps and neurons
    events: np.ndarray  # [B, rounds, T, layers]: input events per weight layer (index 0: n0)
    cycles: np.ndarray  # [B]: cycles of one inference (hwmodel.template schedule)
    cycles_per_layer: np.ndarray  # [B, layers]: the part of `cycles` spent in each layer


def quantize_input(x: np.ndarray, input_bits: int) -> np.ndarray:
    """Inputs in [0, 1] to `input_bits`-bit unsigned integers: round(x * (2**bits - 1))."""
    top = (1 << input_bits) - 1
    scaled = np.floor(np.asarray(x, dtype=np.float64) * top + 0.5)
    return np.clip(scaled, 0, top).astype(np.int64)


def input_scale(layer: int, input_bits: int) -> int:
    """Integer current units per float current unit of weight layer `layer`."""
    return (1 << input_bits) - 1 if layer == 0 else 1


def _spiking_shift(threshold_units: np.ndarray, bits: int, current_bits: int) -> int:
    base = max(int(np.ceil(threshold_units.max(initial=1.0))), 1)
    shift = max(0, (bits - 2) - base.bit_length())
    return min(shift, _MAX_SHIFTED_BITS - current_bits)


def _output_shift(fan_in: int, bias: np.ndarray, initial: np.ndarray, config: AcceleratorConfig):
    hi = (1 << (config.membrane_bits - 1)) - 1
    worst = config.timesteps * (fan_in + float(np.abs(bias).max(initial=0.0)))
    worst += float(np.abs(initial).max(initial=0.0))
    shift = 0
    while worst * (1 << (shift + 1)) <= hi and shift < config.membrane_bits:
        shift += 1
    return shift


def _to_membrane(values: np.ndarray, bits: int, lowest: int | None = None) -> np.ndarray:
    rounded = np.floor(np.asarray(values, dtype=np.float64) + 0.5)
    lo = -(1 << (bits - 1)) if lowest is None else lowest
    return np.clip(rounded, lo, (1 << (bits - 1)) - 1).astype(np.int64)


def quantize_network(snn: ConvertedSNN, config: AcceleratorConfig) -> IntegerNetwork:
    """Quantize a converted SNN to the integers the accelerator stores (see module doc)."""
    if tuple(snn.widths) != tuple(config.widths):
        raise ModelInputError(
            f"widths: the network has {list(snn.widths)} but the design says "
            f"{list(config.widths)}; set the design's widths from the model"
        )
    bits = config.membrane_bits
    last = len(snn.layers) - 1
    layers = []
    for index, layer in enumerate(snn.layers):
        scale = input_scale(index, config.input_bits)
        threshold = np.asarray(layer.threshold, dtype=np.float64) * scale
        bias = np.asarray(layer.bias, dtype=np.float64) * scale
        initial = np.asarray(layer.initial, dtype=np.float64) * scale
        spiking = index < last
        if spiking:
            shift = _spiking_shift(threshold, bits, config.current_bits(index))
            threshold_int = _to_membrane(threshold * (1 << shift), bits, lowest=1)
        else:
            shift = _output_shift(layer.prob.shape[1] * scale, bias, initial, config)
            threshold_int = np.ones(layer.prob.shape[0], dtype=np.int64)
        layers.append(
            IntegerLayer(
                codes=quantize_probability(layer.prob, config.k_bits),
                threshold=threshold_int,
                bias=_to_membrane(bias * (1 << shift), bits),
                initial=_to_membrane(initial * (1 << shift), bits),
                shift=shift,
                spiking=spiking,
            )
        )
    return IntegerNetwork(layers=layers, input_bits=config.input_bits)


def score_divisor(net: IntegerNetwork) -> float:
    """Divide an integer class score by this to get the float model's score."""
    last = len(net.layers) - 1
    return float(input_scale(last, net.input_bits) * (1 << net.layers[-1].shift))


def class_probabilities(
    scores: np.ndarray, *, output_scale: float, divisor: float, timesteps: int
) -> np.ndarray:
    """Predictive distribution [B, C] of integer scores [runs, B, C]:
    softmax(output_scale * score / (divisor * T)), averaged over runs (`divisor`:
    `score_divisor(net)`)."""
    logits = output_scale * np.asarray(scores, dtype=np.float64) / (divisor * timesteps)
    logits -= logits.max(axis=-1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=-1, keepdims=True)
    return probs.mean(axis=0)


def sampled_weights(net: IntegerNetwork, config: AcceleratorConfig, sample: int) -> list:
    """The +-1 weights of weight sample `sample`, per layer as float32 [n_in, n_out].

    float32 keeps the matrix products exact: every partial sum is an integer below 2**24
    (checked by `_product_dtype`).
    """
    out = []
    for index, layer in enumerate(net.layers):
        n_out, n_in = layer.codes.shape
        randoms = random_codes(config.seed, sample, index, n_in, n_out, config.reuse, config.k_bits)
        signs = sample_signs(layer.codes, randoms)
        out.append(signs.T.astype(np.float32))
    return out


def _product_dtype(config: AcceleratorConfig, layer: int) -> type:
    return np.float32 if config.current_bits(layer) <= 24 else np.float64


def _check_inputs(net: IntegerNetwork, x_int: np.ndarray, config: AcceleratorConfig) -> np.ndarray:
    if tuple(net.widths) != tuple(config.widths) or net.input_bits != config.input_bits:
        raise ModelInputError(
            f"config: network widths {list(net.widths)} / input_bits {net.input_bits} differ "
            f"from the design's {list(config.widths)} / {config.input_bits}; quantize the "
            "network with the same AcceleratorConfig"
        )
    x = np.asarray(x_int)
    top = (1 << config.input_bits) - 1
    if x.ndim != 2 or x.shape[1] != config.widths[0]:
        raise ModelInputError(
            f"x_int: shape {x.shape} must be [batch, {config.widths[0]}]; flatten the inputs"
        )
    if x.size and (x.min() < 0 or x.max() > top):
        raise ModelInputError(
            f"x_int: values must be integers in [0, {top}]; apply quantize_input(x, "
            f"{config.input_bits}) first"
        )
    return x.astype(np.int64)


class _Runner:
    """One chunk of images through the schedule; weights are shared across chunks."""

    def __init__(self, net: IntegerNetwork, config: AcceleratorConfig, weights: dict) -> None:
        self.net, self.config, self.weights = net, config, weights
        self.bits = config.membrane_bits

    def _stack(self, samples: np.ndarray) -> list[np.ndarray]:
        return [
            np.stack([self.weights[int(s)][index] for s in samples]).astype(
                _product_dtype(self.config, index), copy=False
            )
            for index in range(len(self.net.layers))
        ]

    def _update(self, index: int, v: np.ndarray, current: np.ndarray) -> np.ndarray:
        """v = sat(v + (I << shift) + bias), updating `v` in place."""
        layer = self.net.layers[index]
        v += current * (1 << layer.shift) if layer.shift else current
        v += layer.bias
        lo, hi = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return np.clip(v, lo, hi, out=v)

    def _round_events(self, spikes: np.ndarray) -> np.ndarray:
        """[lanes-rows, B, n] bool -> [B, rounds]: inputs that spiked in any lane of a round."""
        if self.config.ensemble == "time":
            return spikes[0].sum(axis=-1)[:, None]
        lanes = self.config.sample_lanes
        rounds = -(-spikes.shape[0] // lanes)
        padded = np.zeros((rounds * lanes, *spikes.shape[1:]), dtype=bool)
        padded[: spikes.shape[0]] = spikes
        grouped = padded.reshape(rounds, lanes, *spikes.shape[1:]).any(axis=1)
        return grouped.sum(axis=-1).T

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg, layers = self.config, self.net.layers
        n_layers, batch = len(layers), x.shape[0]
        rows = cfg.samples if cfg.ensemble == "repeat" else 1
        rounds = -(-cfg.samples // cfg.sample_lanes) if cfg.ensemble == "repeat" else 1
        events = np.zeros((batch, rounds, cfg.timesteps, n_layers), dtype=np.int64)
        events[..., 0] = cfg.widths[0]
        spikes = np.zeros((batch, n_layers - 1), dtype=np.int64)
        v = [np.broadcast_to(lay.initial, (rows, batch, lay.initial.size)).copy() for lay in layers]
        x_first = x.astype(_product_dtype(cfg, 0))[None]
        current_sample, weights, first = None, None, None
        for t in range(cfg.timesteps):
            if cfg.ensemble == "repeat":
                samples = np.arange(cfg.samples)
            else:
                samples = np.array([int(segment_of_timestep(t, cfg.timesteps, cfg.samples))])
            key = tuple(samples.tolist())
            if key != current_sample:  # a new weight sample: the first layer's current again
                current_sample, weights = key, self._stack(samples)
                first = np.matmul(x_first, weights[0]).astype(np.int64)
            current, fired = first, None
            for index, layer in enumerate(layers):
                if fired is not None:  # event-driven layer: the previous layer's spikes
                    events[:, :, t, index] = self._round_events(fired)
                    current = np.matmul(fired.astype(weights[index].dtype), weights[index])
                    current = current.astype(np.int64)
                v[index] = self._update(index, v[index], current)
                if layer.spiking:
                    fired = v[index] >= layer.threshold
                    v[index] -= fired * layer.threshold
                    spikes[:, index] += fired.sum(axis=(0, 2))
        return v[-1], spikes, events


def run_integer(net: IntegerNetwork, x_int: np.ndarray, config: AcceleratorConfig) -> IntegerResult:
    """Run the hardware-exact datapath on integer inputs [B, n0] (see module doc)."""
    x = _check_inputs(net, x_int, config)
    weights = {s: sampled_weights(net, config, s) for s in range(config.samples)}
    runner = _Runner(net, config, weights)
    parts = [runner.run(x[start : start + _CHUNK]) for start in range(0, len(x), _CHUNK)]
    if not parts:
        parts = [runner.run(x)]
    scores = np.concatenate([p[0] for p in parts], axis=1)
    spikes = np.concatenate([p[1] for p in parts], axis=0)
    events = np.concatenate([p[2] for p in parts], axis=0)
    cycles = cycle_breakdown_from_events(config, events)
    return IntegerResult(
        scores=scores,
        spikes=spikes,
        events=events,
        cycles=np.rint(cycles["total"]).astype(np.int64),
        cycles_per_layer=np.rint(cycles["per_layer"]).astype(np.int64),
    )
