"""The integer, hardware-exact SNN: what the accelerator (and the HLS kernel) computes.

Everything here follows `hwmodel.template` literally: k-bit Bernoulli codes, the counter-based
PRNG keyed by (seed, sample, layer, group) with its reuse, the exact synaptic current, one
saturating b-bit membrane update per timestep, integer thresholds with reset by subtraction,
the `repeat`/`time` ensemble schedules and the event-driven cycle count.  Inputs use direct
encoding only: the first layer sees `input_bits`-bit unsigned pixels at every timestep.
The weights depend only on (seed, sample, layer) and the codes, so `draw_weights` draws them
once per network and design and `run_integer(..., weights=)` reuses them for every batch.

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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from hwmodel.template import (
    AcceleratorConfig,
    IntegerLayer,
    IntegerNetwork,
    cycle_breakdown_from_events,
    quantize_probability,
    random_codes,
    sample_signs,
    segment_of_timestep,
    time_segments,
)
from models.errors import ModelInputError
from models.snn_spec import ConvertedSNN

__all__ = [
    "IntegerResult",
    "IntegerWeights",
    "class_probabilities",
    "draw_weights",
    "input_scale",
    "quantize_input",
    "quantize_network",
    "run_integer",
    "sampled_weights",
    "score_divisor",
]

# Largest bit width of a shifted current, so that v + (I << shift) + bias stays inside int64.
_MAX_SHIFTED_BITS = 62
# Images per chunk: bounds the [samples, T, chunk, width] spike trains and currents (about
# 40 MB at MNIST size) and keeps them cache-friendly; 64-256 measured equally fast.
_CHUNK = 128


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
    """The +-1 weights (int8) of weight sample `sample`, per layer as [n_in, n_out]."""
    out = []
    for index, layer in enumerate(net.layers):
        n_out, n_in = layer.codes.shape
        randoms = random_codes(config.seed, sample, index, n_in, n_out, config.reuse, config.k_bits)
        out.append(np.ascontiguousarray(sample_signs(layer.codes, randoms).T))
    return out


def _draw_key(config: AcceleratorConfig) -> tuple[int, int, int, int]:
    """The design knobs a weight draw depends on (besides the codes)."""
    return (config.seed, config.samples, config.reuse, config.k_bits)


@dataclass(frozen=True)
class IntegerWeights:
    """Every weight sample of a network under one design, drawn once with the hardware PRNG.

    The weights depend only on (seed, sample, layer) and the codes, as on the hardware, so one
    draw serves every call and batch of an evaluation (the draw costs far more than a batch-1
    inference).  `layers[l]` is [samples, n_in, n_out] in the dtype of its exact product
    (`_weight_dtype`).
    """

    layers: list[torch.Tensor]
    network: IntegerNetwork
    key: tuple[int, int, int, int]  # `_draw_key` of the design they were drawn for


def _weight_dtype(config: AcceleratorConfig, index: int) -> torch.dtype:
    """int8 for layers fed by spikes (exact int8 x int8 -> int32 products); float32 for the
    multi-bit first layer while its currents stay below 2**24 (exact), float64 beyond."""
    if index > 0:
        return torch.int8
    return torch.float32 if config.current_bits(0) <= 24 else torch.float64


def draw_weights(net: IntegerNetwork, config: AcceleratorConfig) -> IntegerWeights:
    """All `config.samples` weight samples of `net` (pass them to `run_integer`)."""
    per_sample = [sampled_weights(net, config, s) for s in range(config.samples)]
    layers = [
        torch.from_numpy(np.stack([draw[index] for draw in per_sample])).to(
            _weight_dtype(config, index)
        )
        for index in range(len(net.layers))
    ]
    return IntegerWeights(layers=layers, network=net, key=_draw_key(config))


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


def _check_weights(
    weights: IntegerWeights, net: IntegerNetwork, config: AcceleratorConfig
) -> IntegerWeights:
    if weights.network is not net or weights.key != _draw_key(config):
        raise ModelInputError(
            f"weights: drawn for another network or design (seed, samples, reuse, k_bits = "
            f"{weights.key}, this design {_draw_key(config)}); draw them with "
            "draw_weights(net, config) for this network and design"
        )
    return weights


def _blocks(config: AcceleratorConfig) -> list[tuple[int, int, int, int]]:
    """(sample, run, t0, t1): the stretches of a run under one weight sample.

    `repeat`: one block per run (all T timesteps); `time`: one per segment of the single run.
    """
    if config.ensemble == "repeat":
        return [(s, s, 0, config.timesteps) for s in range(config.samples)]
    return [
        (s, 0, t0, t1) for s, (t0, t1) in enumerate(time_segments(config.timesteps, config.samples))
    ]


def _spike_counts(train: torch.Tensor) -> torch.Tensor:
    """Spikes over the last axis of a bool train, as int32 (an int8 product: faster than sum)."""
    return _product(train, torch.ones((train.shape[-1], 1), dtype=torch.int8))[..., 0]


def _product(inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """[..., n_in] @ [n_in, n_out], exact: int8 x int8 -> int32, or in the float dtype."""
    rows = inputs.reshape(-1, inputs.shape[-1])
    if weight.dtype == torch.int8:
        spikes = rows.view(torch.int8) if rows.dtype == torch.bool else rows.to(torch.int8)
        out = torch._int_mm(spikes, weight)
    else:
        out = rows.to(weight.dtype) @ weight
    return out.view(*inputs.shape[:-1], weight.shape[-1])


class _Runner:
    """One chunk of images through the schedule, layer by layer over all timesteps.

    The structure does the work: the first layer's current is computed once per weight
    sample, the currents of an event-driven layer for all timesteps of a block in one exact
    int8 product of the binary spike train, and an output layer that cannot saturate (static
    bound) multiplies each block's spike counts once; only the membrane recurrence loops over
    time.  All arithmetic is integer (or float with integer values below 2**24 / 2**53).
    """

    def __init__(self, net: IntegerNetwork, config: AcceleratorConfig, weights: IntegerWeights):
        self.net, self.config, self.weights = net, config, weights
        self.blocks = _blocks(config)
        self.runs = config.runs
        self.lo, self.hi = -(1 << (config.membrane_bits - 1)), (1 << (config.membrane_bits - 1)) - 1
        self.dtypes = [self._membrane_dtype(index) for index in range(len(net.layers))]

    def _peak(self, index: int) -> int:
        """Largest |current << shift| of layer `index`."""
        layer = self.net.layers[index]
        return layer.codes.shape[1] * input_scale(index, self.config.input_bits) << layer.shift

    def _membrane_dtype(self, index: int) -> torch.dtype:
        """int32 when v + (I << shift) + bias cannot overflow it before saturation."""
        layer = self.net.layers[index]
        worst = self.hi + 1 + self._peak(index) + int(np.abs(layer.bias).max(initial=0))
        return torch.int32 if worst < 1 << 31 else torch.int64

    def _never_saturates(self, index: int) -> bool:
        """True when T updates of the worst-case current stay inside the membrane."""
        layer = self.net.layers[index]
        worst = int(np.abs(layer.initial).max(initial=0)) + self.config.timesteps * (
            self._peak(index) + int(np.abs(layer.bias).max(initial=0))
        )
        return worst <= self.hi

    def _first_current(self, x: torch.Tensor) -> torch.Tensor:
        """[samples, B, n1]: the first layer's current under every weight sample."""
        weight = self.weights.layers[0]
        return torch.matmul(x.to(weight.dtype)[None], weight).to(torch.int64)

    def _spike_currents(self, train: torch.Tensor, index: int) -> torch.Tensor:
        """Currents [runs, T, B, n_out] (int32) of a spike train [runs, T, B, n_in]."""
        weight = self.weights.layers[index]
        runs, steps, batch, _ = train.shape
        out = torch.empty((runs, steps, batch, weight.shape[-1]), dtype=torch.int32)
        for sample, run, t0, t1 in self.blocks:
            out[run, t0:t1] = _product(train[run, t0:t1], weight[sample])
        return out

    def _integrate(self, index: int, current_at, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Membrane recurrence of one layer over all timesteps, in place.

        `current_at(t)` is the layer's current at step t, already shifted, plus the bias.
        Returns the final membranes [runs, B, n] and the spike train [runs, T, B, n] (empty
        for the output layer).
        """
        layer = self.net.layers[index]
        n = layer.initial.size
        dtype = self.dtypes[index]
        v = torch.as_tensor(layer.initial, dtype=dtype).expand(self.runs, batch, n).clone()
        threshold = torch.as_tensor(layer.threshold, dtype=dtype)
        steps = self.config.timesteps if layer.spiking else 0
        train = torch.empty((self.runs, steps, batch, n), dtype=torch.bool)
        for t in range(self.config.timesteps):
            v.add_(current_at(t)).clamp_(self.lo, self.hi)
            if layer.spiking:
                fired = torch.ge(v, threshold, out=train[:, t])
                v.addcmul_(fired, threshold, value=-1)
        return v, train

    def _summed_scores(self, index: int, x: torch.Tensor, train: torch.Tensor | None):
        """Output membranes [runs, B, C] from the currents summed over time, per block."""
        layer, weight = self.net.layers[index], self.weights.layers[index]
        current = torch.zeros((self.runs, x.shape[0], weight.shape[-1]), dtype=torch.int64)
        for sample, run, t0, t1 in self.blocks:
            if train is None:  # pixels: the same current at every step of the block
                current[run] += (t1 - t0) * _product(x, weight[sample]).to(torch.int64)
            else:
                current[run] += _product(train[run, t0:t1], weight[sample]).sum(0)
        scores = current * (1 << layer.shift)
        bias = torch.as_tensor(layer.bias, dtype=torch.int64)
        return (
            scores
            + torch.as_tensor(layer.initial, dtype=torch.int64)
            + self.config.timesteps * bias
        )

    def _events(self, train: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """[B, rounds, T]: inputs that spiked in any lane of a round, per timestep.

        `counts` [runs, T, B] are the spikes per lane, the answer for a single lane.
        """
        lanes = 1 if self.config.ensemble == "time" else self.config.sample_lanes
        if lanes > 1:
            rounds = -(-train.shape[0] // lanes)
            padded = torch.zeros((rounds * lanes, *train.shape[1:]), dtype=torch.bool)
            padded[: train.shape[0]] = train
            counts = _spike_counts(padded.view(rounds, lanes, *train.shape[1:]).any(dim=1))
        return counts.permute(2, 0, 1)

    def _shifted(self, index: int, current: torch.Tensor) -> torch.Tensor:
        """(I << shift) + bias, in the layer's membrane dtype."""
        layer = self.net.layers[index]
        dtype = self.dtypes[index]
        current = current.to(dtype)
        if layer.shift:
            current.mul_(1 << layer.shift)
        return current.add_(torch.as_tensor(layer.bias, dtype=dtype))

    def _current_source(
        self, index: int, x: torch.Tensor, train: torch.Tensor | None
    ) -> Callable[[int], torch.Tensor]:
        """t -> the shifted current plus bias of layer `index` at step t.

        Pixels (train None): the first layer's current of each weight sample, computed once
        and reused at every step; spikes: one product per block for all its steps.
        """
        if train is not None:
            currents = self._shifted(index, self._spike_currents(train, index))
            return lambda t: currents[:, t]
        first = self._shifted(index, self._first_current(x))
        if self.config.ensemble == "repeat":
            return lambda t: first
        cfg = self.config
        return lambda t: first[int(segment_of_timestep(t, cfg.timesteps, cfg.samples))]

    @torch.inference_mode()
    def run(self, x_np: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg, layers = self.config, self.net.layers
        n_layers, batch = len(layers), x_np.shape[0]
        rounds = -(-cfg.samples // cfg.sample_lanes) if cfg.ensemble == "repeat" else 1
        events = torch.zeros((batch, rounds, cfg.timesteps, n_layers), dtype=torch.int64)
        events[..., 0] = cfg.widths[0]
        spikes = torch.zeros((batch, n_layers - 1), dtype=torch.int64)
        x = torch.from_numpy(x_np)
        train: torch.Tensor | None = None  # the current layer's input spikes, if not pixels
        for index, layer in enumerate(layers):
            if train is not None:
                counts = _spike_counts(train)  # [runs, T, B]
                spikes[:, index - 1] = counts.sum(dim=(0, 1))
                events[..., index] = self._events(train, counts)
            if not layer.spiking and self._never_saturates(index):
                scores = self._summed_scores(index, x, train)
                break
            current_at = self._current_source(index, x, train)
            scores, train = self._integrate(index, current_at, batch)
        return scores.to(torch.int64).numpy(), spikes.numpy(), events.numpy()


def run_integer(
    net: IntegerNetwork,
    x_int: np.ndarray,
    config: AcceleratorConfig,
    weights: IntegerWeights | None = None,
) -> IntegerResult:
    """Run the hardware-exact datapath on integer inputs [B, n0] (see module doc).

    `weights` (from `draw_weights(net, config)`) lets a caller draw the weights once for many
    calls; without it they are drawn here.  Runs on the CPU (exact int8 products).
    """
    x = _check_inputs(net, x_int, config)
    weights = draw_weights(net, config) if weights is None else weights
    runner = _Runner(net, config, _check_weights(weights, net, config))
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
