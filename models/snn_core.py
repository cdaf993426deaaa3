"""The one SNN runner that the float and the integer simulators share.

Both simulators compute the `hwmodel.template` datapath; they differ only in their
arithmetic: `models.snn_float` keeps membranes in float32 and never saturates,
`models.snn_integer` scales the current by the layer's shift and saturates to b bits.  This
module holds everything else once: the schedule of weight samples over runs and timesteps,
the exact products, the current of each layer and the integrate-and-fire recurrence.

Speed comes from the structure, not from a loop over samples: layers run multi-step (all
timesteps of a layer at once, then the next layer, as in SpikingJelly); the products of a
layer are done per contiguous block of (run, timesteps) under one weight sample; products
with binary spikes are exact int8 x int8 -> int32 matrix products on CPU (weights +-1,
spikes 0/1), and so are the integer model's pixels of up to 8 bits, shifted by -128
(`pixel_currents`); a multi-bit first layer (direct encoding) is multiplied once per weight
sample and reused at every timestep; an output layer whose membrane cannot saturate
multiplies each block's spike *counts* once; only the neuron recurrence loops over
timesteps, in place.  Spikes are counted in integers (`spike_counts`, `step_counts`), never
by a float sum, which converts every spike first; on the CPU a batch runs in chunks of
images small enough that the allocator reuses their memory (`images_per_chunk`).  Why each
of these, with the figures: docs/measurements.md, "Simulator speed".

Convolutional layers (`hwmodel.architecture`; stored as [C_in * 9, C_out] weight matrices
per sample, `models.snn_spec`) run through the same recurrence: their neurons are the
C_out x H x W outputs, kept *channel-last* inside the runner (neuron ``(y * W + x) * C + c``)
so that a layer's currents come out of one product: spikes are unfolded into their 3x3
windows (``im2col``, zero padding, `conv_product`) and multiplied like a dense layer's, in
the exact int8 product; the multi-bit first layer of pixels is one `torch.nn.functional.conv2d`
per call over all weight samples (`conv_pixel_currents`; the integer model's in float64, so
exact).  Per-channel thresholds, biases and initial membranes are repeated per pixel
(`per_neuron`); pooling ORs each 2x2 group of a timestep's spikes (`or_pool`), and the last
block's spikes are put back channel-major before the dense layers (`channel_major`).

What stays with each simulator, and why: the weight draw (the float model draws +-1 from
the float posterior with torch's generator; the integer model compares the hardware PRNG's
words with k-bit codes: different arithmetic by design, keyed the same way by (seed,
sample, layer)); rate-encoded input spikes (float only: the hardware has no such input);
and the event bookkeeping, which each gets from the spike trains through an `Observer`
(float: totals per image; integer: per lane-round and timestep, for the cycle count).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from hwmodel.architecture import KERNEL, PADDING, POOL, ConvShape
from hwmodel.template import Ensemble, segment_of_timestep, time_segments

__all__ = [
    "CHUNK_BYTES",
    "Arithmetic",
    "Observer",
    "Schedule",
    "channel_major",
    "conv_pixel_currents",
    "conv_product",
    "or_pool",
    "per_neuron",
    "product",
    "images_per_chunk",
    "pixel_currents",
    "pixel_offset",
    "run_layers",
    "spike_counts",
    "step_counts",
]


@dataclass(frozen=True)
class Schedule:
    """Which weight sample drives which run at which timestep.

    A block ``(sample, run, t0, t1)`` is a stretch of one run under one weight sample:
    `repeat` has one block per run (all T timesteps), `time` one block per segment of its
    single run.  Tensors are laid out [runs, T, B, n], so every block is contiguous.
    """

    ensemble: Ensemble
    timesteps: int
    samples: int

    @property
    def runs(self) -> int:
        """T-step runs per inference (S for `repeat`, 1 for `time`)."""
        return self.samples if self.ensemble == "repeat" else 1

    @property
    def blocks(self) -> list[tuple[int, int, int, int]]:
        """(sample, run, t0, t1) of every stretch of a run under one weight sample."""
        if self.ensemble == "repeat":
            return [(s, s, 0, self.timesteps) for s in range(self.samples)]
        segments = time_segments(self.timesteps, self.samples)
        return [(s, 0, t0, t1) for s, (t0, t1) in enumerate(segments)]

    def sample_at(self, t: int) -> int:
        """Weight sample of the single `time` run at timestep t."""
        return int(segment_of_timestep(t, self.timesteps, self.samples))


#: Bytes of a layer's currents [runs, T, images, n] per chunk of images on the CPU: under
#: glibc's largest mmap threshold (32 MiB), so a freed chunk's memory serves the next one
#: instead of being unmapped and faulted in again.  784-1024-1024-10, S = 10, T = 8, 400
#: images, 1 thread: float 359 / 292 / 297 / 321 ms CPU in chunks of 400 / 100 / 80 / 48
#: images, integer 369 / 308 / 303 / 331 ms (36,000-47,000 page faults per call at 400).
CHUNK_BYTES = 24 << 20


def images_per_chunk(schedule: Schedule, widths: tuple[int, ...], itemsize: int = 4) -> int:
    """Images per chunk whose widest layer's currents (`itemsize` bytes each) fit
    `CHUNK_BYTES`."""
    per_image = schedule.runs * schedule.timesteps * max(widths[1:]) * itemsize
    return max(1, CHUNK_BYTES // per_image)


class Arithmetic(Protocol):
    """How a simulator turns currents into membranes: the only part that is not shared.

    `dtype(l)` is layer l's membrane dtype; `scaled(l, I)` maps a current of weight layer l
    (any dtype, integer-valued for the integer model) into membrane units and dtype, without
    the bias, in place when I already has that dtype; `driven(l, I)` is the same plus the
    bias (one pass where the arithmetic can); `bias`, `threshold` and `initial` are tensors
    in that dtype; `saturate(v)` clamps in place (or does nothing);
    `summable(l)` says whether layer l's final membrane may be computed from its current
    summed over time, i.e. whether the scaling is linear and the membrane cannot saturate;
    `strict(l)` whether layer l fires only above its threshold (``v > threshold``, NIR's rule)
    rather than at it.
    """

    def dtype(self, index: int) -> torch.dtype: ...
    def scaled(self, index: int, current: torch.Tensor) -> torch.Tensor: ...
    def driven(self, index: int, current: torch.Tensor) -> torch.Tensor: ...
    def bias(self, index: int) -> torch.Tensor: ...
    def threshold(self, index: int) -> torch.Tensor: ...
    def initial(self, index: int) -> torch.Tensor: ...
    def saturate(self, v: torch.Tensor) -> None: ...
    def summable(self, index: int) -> bool: ...
    def strict(self, index: int) -> bool: ...


#: Called with (weight layer, its input spike train [runs, T, B, n_in]) for every layer whose
#: input is spikes; the simulators count events and spikes from it.
Observer = Callable[[int, torch.Tensor], None]


def product(
    inputs: torch.Tensor, weight: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """[..., n_in] @ [n_in, n_out], exact: int8 x int8 -> int32, or in the weight's float dtype.

    `out`, when given, is a contiguous [..., n_out] tensor of the product's dtype to write
    into (no temporary: a fresh product of a large block costs its page faults as well).
    """
    rows = inputs.reshape(-1, inputs.shape[-1])
    target = None if out is None else out.view(-1, weight.shape[-1])
    if weight.dtype == torch.int8:
        spikes = rows.view(torch.int8) if rows.dtype == torch.bool else rows.to(torch.int8)
        result = torch._int_mm(spikes, weight, out=target)
    else:
        result = torch.mm(rows.to(weight.dtype), weight, out=target)
    return result.view(*inputs.shape[:-1], weight.shape[-1])


def spike_counts(train: torch.Tensor) -> torch.Tensor:
    """Spikes over the last axis of a bool train, as int32 (an int8 product: faster than sum)."""
    if train.device.type != "cpu":
        return train.sum(dim=-1, dtype=torch.int32)
    return product(train, torch.ones((train.shape[-1], 1), dtype=torch.int8))[..., 0]


def step_counts(train: torch.Tensor) -> torch.Tensor:
    """Spikes over the first (time) axis of a bool train [t, ...], exact and integer.

    uint8 while t < 256 (a same-dtype sum: 0.3 ms against 31 ms into int32 and 39 ms into
    float32 for a [10, 8, 200, 1024] train, since a wider sum converts every element first),
    int32 beyond.
    """
    if train.shape[0] < 256:
        return train.view(torch.uint8).sum(0, dtype=torch.uint8)
    return train.sum(0, dtype=torch.int32)


def pixel_offset(weight: torch.Tensor) -> torch.Tensor:
    """128 times each weight column's sum, [samples, 1, n_out] int32: what `pixel_currents`
    adds back for int8 weights (compute it once per weight draw: it costs a pass over them)."""
    return weight.sum(1, keepdim=True, dtype=torch.int32).mul_(128)


def pixel_currents(
    x: torch.Tensor, weight: torch.Tensor, offset: torch.Tensor | None = None
) -> torch.Tensor:
    """Currents [samples, B, n_out] of the dense first layer: inputs x [B, n_in] under each
    weight sample [samples, n_in, n_out].

    Float weights: one float product.  int8 weights (integer inputs of up to 8 bits): x - 128
    fits int8, so ``x W = (x - 128) W + 128 * sum_i W_i`` is one exact int8 product per sample
    plus `offset` (`pixel_offset(weight)`); 784-1024, S = 10, 1 thread: 8.7 ms against 34 ms
    in float32 at batch 200, 0.4 against 1.3 ms at batch 1.
    """
    if weight.dtype != torch.int8:
        return torch.matmul(x.to(weight.dtype)[None], weight)
    offset = pixel_offset(weight) if offset is None else offset
    shifted = x.sub(128).to(torch.int8)
    samples, _, n_out = weight.shape
    out = torch.empty((samples, x.shape[0], n_out), dtype=torch.int32, device=x.device)
    for sample in range(samples):
        product(shifted, weight[sample], out=out[sample])
    return out.add_(offset)


def per_neuron(values: np.ndarray, conv: ConvShape | None) -> np.ndarray:
    """A layer's per-neuron parameter: per-channel `values` [C] of a convolution repeated at
    every pixel (channel-last, [H * W * C]); a dense layer's as they are."""
    return values if conv is None else np.tile(values, conv.height * conv.width)


def conv_pixel_currents(x: torch.Tensor, weight: torch.Tensor, conv: ConvShape) -> torch.Tensor:
    """Currents [samples, B, H * W * C_out] (channel-last) of a convolutional first layer:
    images x [B, C_in * H * W] (channel-major) under each weight sample [samples, C_in * 9,
    C_out], in the weight's float dtype (exact for integer pixels in float64).  One
    convolution for all samples: their kernels are stacked as output channels."""
    samples, _, c_out = weight.shape
    kernels = weight.transpose(1, 2).reshape(samples * c_out, conv.in_channels, KERNEL, KERNEL)
    images = x.to(weight.dtype).view(-1, conv.in_channels, conv.height, conv.width)
    out = F.conv2d(images, kernels, padding=PADDING)  # [B, samples * C_out, H, W]
    out = out.view(len(images), samples, c_out, conv.height, conv.width)
    return out.permute(1, 0, 3, 4, 2).reshape(samples, len(images), conv.neurons)


def conv_product(
    inputs: torch.Tensor, weight: torch.Tensor, conv: ConvShape, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Currents [..., H * W * C_out] of a convolution of spikes [..., H * W * C_in] (both
    channel-last) under one weight sample [C_in * 9, C_out], exactly as `product` computes a
    dense layer's: every pixel's 3x3 x C_in window (zeros outside the image) is unfolded into
    a row, column ``c * 9 + ky * 3 + kx``, the weights' kernel index.  `out`: as for
    `product`."""
    lead = inputs.shape[:-1]
    height, width, channels = conv.height, conv.width, conv.in_channels
    images = inputs.reshape(-1, height, width, channels)
    dtype = torch.int8 if weight.dtype == torch.int8 else weight.dtype
    if images.dtype == torch.bool and dtype == torch.int8:
        images = images.view(torch.int8)
    padded = images.new_zeros(
        (len(images), height + 2 * PADDING, width + 2 * PADDING, channels), dtype=dtype
    )
    padded[:, PADDING : PADDING + height, PADDING : PADDING + width] = images
    windows = torch.stack(
        [
            padded[:, ky : ky + height, kx : kx + width]
            for ky in range(KERNEL)
            for kx in range(KERNEL)
        ],
        dim=-1,
    )  # [N, H, W, C_in, 9]: row (n, y, x), column c * 9 + ky * 3 + kx
    rows = windows.view(len(images) * height * width, channels * KERNEL * KERNEL)
    target = None if out is None else out.view(-1, weight.shape[-1])
    result = product(rows, weight, out=target)
    return result.view(*lead, height * width * weight.shape[-1])


def or_pool(train: torch.Tensor, conv: ConvShape) -> torch.Tensor:
    """2x2, stride-2 pooling of a channel-last spike train [..., H * W * C] (an odd last row
    or column dropped): a pooled neuron spikes in a timestep when any of its four did."""
    lead = train.shape[:-1]
    rows, cols = conv.out_height, conv.out_width
    grid = train.view(-1, conv.height, conv.width, conv.channels)
    grid = grid[:, : rows * POOL, : cols * POOL]
    pooled = grid.reshape(-1, rows, POOL, cols, POOL, conv.channels).any(dim=4).any(dim=2)
    return pooled.reshape(*lead, rows * cols * conv.channels)


def channel_major(train: torch.Tensor, conv: ConvShape) -> torch.Tensor:
    """A block's output train [..., H' * W' * C] (channel-last, after its pooling) in the
    dense layers' channel-major order [..., C * H' * W'] (the flatten)."""
    lead = train.shape[:-1]
    grid = train.view(-1, conv.out_height, conv.out_width, conv.channels)
    return grid.permute(0, 3, 1, 2).reshape(*lead, conv.outputs)


def channel_last(train: torch.Tensor, conv: ConvShape) -> torch.Tensor:
    """An input image train [..., C * H * W] (channel-major) channel-last [..., H * W * C]."""
    lead = train.shape[:-1]
    grid = train.reshape(-1, conv.in_channels, conv.height, conv.width)
    return grid.permute(0, 2, 3, 1).reshape(*lead, conv.height * conv.width * conv.in_channels)


Multiply = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def _multiplier(conv: ConvShape | None) -> Multiply:
    """`product` for a dense layer, `conv_product` for a convolution."""
    if conv is None:
        return product
    return lambda inputs, weight, out=None: conv_product(inputs, weight, conv, out)


def _spike_currents(
    arithmetic: Arithmetic,
    index: int,
    train: torch.Tensor,
    weight: torch.Tensor,
    schedule: Schedule,
    conv: ConvShape | None = None,
) -> torch.Tensor:
    """Scaled currents plus bias [runs, T, B, n_out] of a spike train [runs, T, B, n_in]
    (a convolution's n_out = H * W * C_out neurons, channel-last).

    One product per block, written straight into the result when the product's dtype is the
    membrane's, else into one reused block buffer and converted from there: a whole second
    [runs, T, B, n_out] tensor would double the memory and its page faults.
    """
    runs, steps, batch, _ = train.shape
    multiply = _multiplier(conv)
    neurons = weight.shape[-1] if conv is None else conv.neurons
    shape = (runs, steps, batch, neurons)
    out = torch.empty(shape, dtype=arithmetic.dtype(index), device=train.device)
    dtype = torch.int32 if weight.dtype == torch.int8 else weight.dtype
    longest = max(t1 - t0 for _, _, t0, t1 in schedule.blocks)
    buffer = None if dtype == out.dtype else out.new_empty((longest, *shape[2:]), dtype=dtype)
    for sample, run, t0, t1 in schedule.blocks:
        target = out[run, t0:t1] if buffer is None else buffer[: t1 - t0]
        multiply(train[run, t0:t1], weight[sample], target)
        if buffer is not None:
            out[run, t0:t1].copy_(target)
    return arithmetic.driven(index, out)


def _summed_current(
    x: torch.Tensor, train: torch.Tensor | None, weight: torch.Tensor, schedule: Schedule
) -> torch.Tensor:
    """The output layer's current summed over each run's timesteps, [runs, B, C].

    Each block's inputs are summed over its timesteps first (`step_counts`) and multiplied
    by the block's weight sample once, exactly: int8 weights take spike counts below 128 in
    an int8 product (int64 sums), other integer inputs in float64; float weights in their
    dtype.
    """
    shape = (schedule.runs, x.shape[0], weight.shape[-1])
    longest = max(t1 - t0 for _, _, t0, t1 in schedule.blocks)
    if weight.dtype == torch.int8 and train is not None and longest < 128:
        out = torch.zeros(shape, dtype=torch.int64, device=x.device)
        for sample, run, t0, t1 in schedule.blocks:
            counts = step_counts(train[run, t0:t1]).view(torch.int8)
            out[run] += product(counts, weight[sample])
        return out
    dtype = torch.float64 if weight.dtype == torch.int8 else weight.dtype
    out = torch.zeros(shape, dtype=dtype, device=x.device)
    for sample, run, t0, t1 in schedule.blocks:
        inputs = (t1 - t0) * x if train is None else step_counts(train[run, t0:t1])
        out[run] += inputs.to(dtype) @ weight[sample].to(dtype)
    return out


def _current_source(
    arithmetic: Arithmetic,
    index: int,
    x: torch.Tensor,
    train: torch.Tensor | None,
    weight: torch.Tensor,
    schedule: Schedule,
    offset: torch.Tensor | None,
    conv: ConvShape | None = None,
) -> Callable[[int], torch.Tensor]:
    """t -> the scaled current plus bias of layer `index` at step t.

    Pixels (train None, direct encoding): the current of each weight sample, computed once
    and reused at every step (`pixel_currents`, `conv_pixel_currents`); spikes: one product
    per block for all its steps.
    """
    if train is not None:
        driven = _spike_currents(arithmetic, index, train, weight, schedule, conv)
        return lambda t: driven[:, t]
    if conv is None:
        currents = pixel_currents(x, weight, offset)
    else:
        currents = conv_pixel_currents(x, weight, conv)
    first = arithmetic.driven(index, currents)
    if schedule.ensemble == "repeat":
        return lambda t: first
    return lambda t: first[schedule.sample_at(t)]


def _integrate(
    arithmetic: Arithmetic,
    index: int,
    current_at: Callable[[int], torch.Tensor],
    shape: tuple[int, int, int],
    schedule: Schedule,
    spiking: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Membrane recurrence of one layer over all timesteps, in place.

    Returns the final membranes [runs, B, n] and the spike train [runs, T, B, n] (no
    timesteps for a non-spiking layer).
    """
    v = arithmetic.initial(index).expand(shape).clone()
    threshold = arithmetic.threshold(index)
    fires = torch.gt if arithmetic.strict(index) else torch.ge
    steps = schedule.timesteps if spiking else 0
    train = torch.empty((shape[0], steps, *shape[1:]), dtype=torch.bool, device=v.device)
    fired = torch.empty_like(v)  # membrane dtype: addcmul_ would convert a bool every step
    for t in range(schedule.timesteps):
        v.add_(current_at(t))
        arithmetic.saturate(v)
        if spiking:
            fires(v, threshold, out=fired)
            v.addcmul_(fired, threshold, value=-1)
            train[:, t].copy_(fired)
    return v, train


def run_layers(
    arithmetic: Arithmetic,
    weights: list[torch.Tensor],
    x: torch.Tensor,
    schedule: Schedule,
    train: torch.Tensor | None = None,
    observe: Observer | None = None,
    offset: torch.Tensor | None = None,
    convs: Sequence[ConvShape | None] | None = None,
) -> torch.Tensor:
    """Final output membranes [runs, B, C] of the network on one batch.

    `weights[l]` is [samples, n_in, n_out]; `x` [B, n0] drives the first layer directly
    unless `train` (rate encoding: bool [runs, T, B, n0]) gives its input spikes.  Every
    layer but the last spikes.  `offset`: `pixel_offset(weights[0])` for int8 first-layer
    weights of a dense first layer, drawn once (computed here otherwise).  `convs[l]`: the
    geometry of weight layer l when it is a convolution (they come first; inputs are then
    images flattened channel-major).  `observe(l, train)` sees each layer's input spikes
    after the previous block's pooling (channel-last within the convolutional front).
    """
    batch = x.shape[0]
    last = len(weights) - 1
    convs = list(convs) if convs is not None else [None] * len(weights)
    if train is not None and convs[0] is not None:
        train = channel_last(train, convs[0])
    for index, (weight, conv) in enumerate(zip(weights, convs, strict=True)):
        if train is not None and observe is not None:
            observe(index, train)
        if index == last and arithmetic.summable(index):
            summed = arithmetic.scaled(index, _summed_current(x, train, weight, schedule))
            bias = arithmetic.bias(index) * schedule.timesteps
            return summed.add_(bias).add_(arithmetic.initial(index))
        current_at = _current_source(arithmetic, index, x, train, weight, schedule, offset, conv)
        neurons = weight.shape[-1] if conv is None else conv.neurons
        shape = (schedule.runs, batch, neurons)
        v, train = _integrate(arithmetic, index, current_at, shape, schedule, index < last)
        if conv is not None and conv.pool:
            train = or_pool(train, conv)
        if conv is not None and convs[index + 1] is None:
            train = channel_major(train, conv)
    return v
