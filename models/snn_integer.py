"""The integer, hardware-exact SNN: what the accelerator (and the HLS kernel) computes.

Everything here follows `hwmodel.template` literally: k-bit Bernoulli codes, the counter-based
PRNG keyed by (seed, sample, layer, group) with its reuse, the exact synaptic current scaled
by the layer's signed shift, one saturating b-bit membrane update per timestep, integer
thresholds with reset by subtraction, the `repeat`/`time` ensemble schedules and the
event-driven cycle count.  Inputs use direct encoding only: the first layer sees
`input_bits`-bit unsigned pixels at every timestep.  The weights depend only on (seed,
sample, layer) and the codes, so `draw_weights` draws them once per network and design and
`run_integer(..., weights=)` reuses them for every batch.

The quantization (units, the per-layer shift, when b bits are infeasible) is
`models.quantize`; the simulation is `models.snn_core.run_layers`, shared with the float
model, with the saturating integer arithmetic of `_IntegerArithmetic`.  Runs on the CPU
(exact int8 products).

Convolutional networks (`hwmodel.template.NetworkGeometry`) take images flattened
channel-major, [B, C * H * W]; a convolution's current is the exact integer sum over each
neuron's 3x3 x C_in window (zeros outside the image) of weight times input (pixels in the
first layer, computed once per weight sample in float64, which holds such sums exactly;
spikes after, in the int8 product), then the same shift, bias, saturation, threshold and
reset as a dense layer, with the layer's per-channel parameters; a pooled block hands on the
OR of each 2x2 group of its spikes per timestep.  Weight layers are numbered globally,
convolutions first, and so are their PRNG keys (seed, sample, layer) and the events.

What `IntegerResult` counts (the cycle model, `hwmodel.cycles`, reads `events`):
``events[b, r, t, l]`` is the number of input values of weight layer l at timestep t of round
r that spiked in any lane: for l = 0 every input value (C x H x W pixels, or n0: the first
layer is dense), for a layer after a convolutional block the block's spikes *after* its
pooling (for the first dense layer, the flattened pooled spikes), and for other layers the
previous layer's spikes; ``spikes[b, l]`` is the same for hidden layer l's output (the input
of layer l + 1), summed over runs, timesteps and lanes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hwmodel.cycles import cycle_breakdown_from_events
from hwmodel.template import (
    AcceleratorConfig,
    IntegerNetwork,
    random_codes,
    sample_signs,
)
from models.errors import ModelInputError
from models.quantize import (
    current_bits,
    input_scale,
    numerics_reason,
    quantize_input,
    quantize_network,
    score_divisor,
)
from models.snn_core import (
    Schedule,
    images_per_chunk,
    per_neuron,
    pixel_offset,
    run_layers,
    spike_counts,
)

__all__ = [
    "IntegerResult",
    "IntegerWeights",
    "class_probabilities",
    "draw_weights",
    "input_scale",
    "numerics_reason",
    "quantize_input",
    "quantize_network",
    "run_integer",
    "sampled_weights",
    "score_divisor",
]


@dataclass
class IntegerResult:
    """Outputs of one integer run over a batch (all int64)."""

    scores: np.ndarray  # [runs, B, C]: final output membranes, one vector per run
    spikes: np.ndarray  # [B, hidden layers]: spikes handed on (after pooling), over runs etc.
    events: np.ndarray  # [B, rounds, T, layers]: input events per weight layer (index 0: n0)
    # [B]: cycles of one inference (hwmodel.template schedule); None for a convolutional
    # network on a design whose plan does not describe its convolutions (`_plan_prices`)
    cycles: np.ndarray | None
    cycles_per_layer: np.ndarray | None  # [B, layers]: the part of `cycles` in each layer


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
    (`_weight_dtype`); `pixel_offset` is `models.snn_core.pixel_offset` of an int8 first
    layer (None for a float one).
    """

    layers: list[torch.Tensor]
    network: IntegerNetwork
    key: tuple[int, int, int, int]  # `_draw_key` of the design they were drawn for
    pixel_offset: torch.Tensor | None = None


def _weight_dtype(net: IntegerNetwork, config: AcceleratorConfig, index: int) -> torch.dtype:
    """int8 for layers fed by spikes and for a dense first layer of pixels of up to 8 bits
    (exact int8 x int8 -> int32 products, `models.snn_core.pixel_currents`); for wider pixels
    float32 while the first layer's currents stay below 2**24 (exact), float64 beyond; a
    convolutional first layer float64 (`models.snn_core.conv_pixel_currents`: exact)."""
    if index > 0:
        return torch.int8
    if net.layers[0].conv is not None:
        return torch.float64
    if config.input_bits <= 8:
        return torch.int8
    return torch.float32 if current_bits(net, 0) <= 24 else torch.float64


def draw_weights(net: IntegerNetwork, config: AcceleratorConfig) -> IntegerWeights:
    """All `config.samples` weight samples of `net` (pass them to `run_integer`)."""
    per_sample = [sampled_weights(net, config, s) for s in range(config.samples)]
    layers = [
        torch.from_numpy(np.stack([draw[index] for draw in per_sample])).to(
            _weight_dtype(net, config, index)
        )
        for index in range(len(net.layers))
    ]
    dense_pixels = layers[0].dtype == torch.int8 and net.layers[0].conv is None
    offset = pixel_offset(layers[0]) if dense_pixels else None
    return IntegerWeights(layers=layers, network=net, key=_draw_key(config), pixel_offset=offset)


def _check_inputs(net: IntegerNetwork, x_int: np.ndarray, config: AcceleratorConfig) -> np.ndarray:
    if tuple(net.widths) != tuple(config.widths) or net.input_bits != config.input_bits:
        raise ModelInputError(
            f"config: network widths {list(net.widths)} / input_bits {net.input_bits} differ "
            f"from the design's {list(config.widths)} / {config.input_bits}; quantize the "
            "network with the same AcceleratorConfig"
        )
    x = np.asarray(x_int)
    top = (1 << config.input_bits) - 1
    if x.ndim != 2 or x.shape[1] != net.input_size:
        raise ModelInputError(
            f"x_int: shape {x.shape} must be [batch, {net.input_size}]; flatten the inputs"
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


class _IntegerArithmetic:
    """Saturating b-bit membranes and signed per-layer shifts (`models.snn_core.Arithmetic`).

    Membranes are int32 where ``v + scaled current + bias`` cannot overflow it before
    saturation, int64 otherwise.
    """

    def __init__(self, net: IntegerNetwork, config: AcceleratorConfig) -> None:
        self.net, self.config = net, config
        bits = config.membrane_bits
        self.lo, self.hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        self.dtypes = [self._membrane_dtype(index) for index in range(len(net.layers))]

    def _peak(self, index: int) -> int:
        """Largest |scaled current| of layer `index` (rounded up; a convolution's fan-in is its
        window, C_in x 9)."""
        layer = self.net.layers[index]
        peak = layer.codes.shape[1] * input_scale(index, self.config.input_bits)
        return peak << layer.shift if layer.shift >= 0 else -(-peak >> -layer.shift)

    def _largest_bias(self, index: int) -> int:
        return int(np.abs(self.net.layers[index].bias).max(initial=0))

    def _membrane_dtype(self, index: int) -> torch.dtype:
        worst = self.hi + 1 + self._peak(index) + self._largest_bias(index)
        return torch.int32 if worst < 1 << 31 else torch.int64

    def summable(self, index: int) -> bool:
        """A left shift is linear, and T updates of the worst-case current stay inside."""
        layer = self.net.layers[index]
        worst = int(np.abs(layer.initial).max(initial=0)) + self.config.timesteps * (
            self._peak(index) + self._largest_bias(index)
        )
        return layer.shift >= 0 and worst <= self.hi

    def dtype(self, index: int) -> torch.dtype:
        return self.dtypes[index]

    def scaled(self, index: int, current: torch.Tensor) -> torch.Tensor:
        """`hwmodel.template.scale_current` in the layer's membrane dtype (in place when
        `current` has it)."""
        shift = self.net.layers[index].shift
        current = current.to(self.dtypes[index])
        if shift > 0:
            return current.mul_(1 << shift)
        return current.bitwise_right_shift_(-shift) if shift < 0 else current

    def driven(self, index: int, current: torch.Tensor) -> torch.Tensor:
        """`scaled` plus the bias; a left shift and the bias in one pass."""
        shift = self.net.layers[index].shift
        if shift <= 0:
            return self.scaled(index, current).add_(self.bias(index))
        current = current.to(self.dtypes[index])
        return torch.add(self.bias(index), current, alpha=1 << shift, out=current)

    def _param(self, index: int, name: str) -> torch.Tensor:
        layer = self.net.layers[index]
        return torch.as_tensor(
            per_neuron(getattr(layer, name), layer.conv), dtype=self.dtypes[index]
        )

    def bias(self, index: int) -> torch.Tensor:
        return self._param(index, "bias")

    def threshold(self, index: int) -> torch.Tensor:
        return self._param(index, "threshold")

    def initial(self, index: int) -> torch.Tensor:
        return self._param(index, "initial")

    def saturate(self, v: torch.Tensor) -> None:
        v.clamp_(self.lo, self.hi)

    def strict(self, index: int) -> bool:
        """Never: the hardware compares with >=; a strict layer's integer membranes start one
        unit lower instead (`models.quantize`), which is the same test on integers."""
        return False


def _events(config: AcceleratorConfig, train: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """[B, rounds, T]: inputs that spiked in any lane of a round, per timestep.

    `counts` [runs, T, B] are the spikes per lane, the answer for a single lane.
    """
    lanes = 1 if config.ensemble == "time" else config.sample_lanes
    if lanes > 1:
        rounds = -(-train.shape[0] // lanes)
        padded = torch.zeros((rounds * lanes, *train.shape[1:]), dtype=torch.bool)
        padded[: train.shape[0]] = train
        counts = spike_counts(padded.view(rounds, lanes, *train.shape[1:]).any(dim=1))
    return counts.permute(2, 0, 1)


@torch.inference_mode()
def _run_chunk(
    arithmetic: _IntegerArithmetic, weights: IntegerWeights, x_np: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, spikes and events of one chunk of images (see `IntegerResult`)."""
    cfg, net = arithmetic.config, arithmetic.net
    n_layers, batch = len(net.layers), x_np.shape[0]
    rounds = -(-cfg.samples // cfg.sample_lanes) if cfg.ensemble == "repeat" else 1
    events = torch.zeros((batch, rounds, cfg.timesteps, n_layers), dtype=torch.int64)
    events[..., 0] = net.input_size
    spikes = torch.zeros((batch, n_layers - 1), dtype=torch.int64)

    def observe(index: int, train: torch.Tensor) -> None:
        counts = spike_counts(train)  # [runs, T, B]
        spikes[:, index - 1] = counts.sum(dim=(0, 1))
        events[..., index] = _events(cfg, train, counts)

    schedule = Schedule(cfg.ensemble, cfg.timesteps, cfg.samples)
    x = torch.from_numpy(x_np)
    scores = run_layers(
        arithmetic,
        weights.layers,
        x,
        schedule,
        observe=observe,
        offset=weights.pixel_offset,
        convs=[layer.conv for layer in net.layers],
    )
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
    weights = _check_weights(weights, net, config)
    arithmetic = _IntegerArithmetic(net, config)
    schedule = Schedule(config.ensemble, config.timesteps, config.samples)
    itemsize = max(dtype.itemsize for dtype in arithmetic.dtypes)
    chunk = images_per_chunk(schedule, net.geometry.neurons, itemsize)
    starts = range(0, len(x), chunk) if len(x) else [0]
    parts = [_run_chunk(arithmetic, weights, x[start : start + chunk]) for start in starts]
    scores = np.concatenate([p[0] for p in parts], axis=1)
    spikes = np.concatenate([p[1] for p in parts], axis=0)
    events = np.concatenate([p[2] for p in parts], axis=0)
    if not _plan_prices(net, config):
        return IntegerResult(scores, spikes, events, cycles=None, cycles_per_layer=None)
    cycles = cycle_breakdown_from_events(config, events)
    return IntegerResult(
        scores=scores,
        spikes=spikes,
        events=events,
        cycles=np.rint(cycles["total"]).astype(np.int64),
        cycles_per_layer=np.rint(cycles["per_layer"]).astype(np.int64),
    )


def _plan_prices(net: IntegerNetwork, config: AcceleratorConfig) -> bool:
    """Whether the design's plan has every weight layer of `net`: always for a dense network;
    for a convolutional one only where the design describes its convolutions (its weight
    layers counted globally, and its `conv_shapes` the network's)."""
    if not net.conv_shapes:
        return True
    return config.n_layers == len(net.layers) and config.conv_shapes == net.conv_shapes
