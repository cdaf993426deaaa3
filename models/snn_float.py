"""The fast float SNN simulator: the `hwmodel.template` datapath without integer rounding.

It computes what the accelerator computes, in float32 and with weights drawn by torch's RNG
(``w = +1`` with probability ``prob``) instead of the hardware PRNG:

* per timestep and weight layer, the current is ``I = W x`` (x: the input in [0, 1] for the
  first layer with direct encoding, 0/1 spikes otherwise); a hidden neuron updates
  ``v = v + (I + bias)``, fires when ``v >= threshold`` and subtracts the threshold; the
  output layer only accumulates, and its final membrane is the class score;
* membranes start at ``initial`` at the start of every run;
* ``repeat`` ensemble: `samples` independent T-step runs, one weight sample each;
  ``time`` ensemble: one T-step run whose weight sample is ``s(t) = t * samples // T``;
* ``direct`` encoding: x is applied at every timestep, so the first layer's current is
  computed once per weight sample and reused; ``rate`` encoding: Bernoulli(x) input spikes
  drawn independently per timestep (and per run).

Probabilities are ``mean over runs of softmax(output_scale * scores / T)``: dividing by T
turns the accumulated output membrane into a per-timestep rate, which is what the ANN's
logits convert to, and `output_scale` is the temperature fitted on the validation split.

Speed comes from the structure, not from a loop over samples: layers run multi-step (all
timesteps of a layer at once, then the next layer, as in SpikingJelly), the products of all
weight samples are done per contiguous block of (run, timesteps), products with binary spikes
use exact int8 x int8 -> int32 matrix products on CPU (weights are +-1, spikes 0/1), the
output layer multiplies spike *counts* per weight sample once instead of every timestep, and
only the neuron recurrence loops over timesteps, in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import torch

from hwmodel.template import Ensemble, time_segments
from models.errors import ModelInputError
from models.snn_spec import ConvertedSNN
from models.temperature import mc_probs

__all__ = [
    "Encoding",
    "SampledWeights",
    "SimulationResult",
    "default_device",
    "sample_weights",
    "simulate",
    "synaptic_operations",
]

Encoding = Literal["direct", "rate"]


def default_device() -> torch.device:
    """CUDA when available, else CPU (never required)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class _Schedule:
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
        return self.samples if self.ensemble == "repeat" else 1

    @property
    def blocks(self) -> list[tuple[int, int, int, int]]:
        if self.ensemble == "repeat":
            return [(s, s, 0, self.timesteps) for s in range(self.samples)]
        segments = time_segments(self.timesteps, self.samples)
        return [(s, 0, t0, t1) for s, (t0, t1) in enumerate(segments)]

    def sample_at(self, t: int) -> int:
        """Weight sample of the single `time` run at timestep t."""
        return t * self.samples // self.timesteps


@dataclass
class SampledWeights:
    """`samples` draws of every weight layer, each [samples, n_in, n_out] (for ``x @ W``).

    Layers whose input is binary spikes and whose output spikes are int8 on CPU (for the
    exact int8 product); the others are float32.  Weights depend only on (seed, sample),
    as on the hardware, so one draw serves every batch of an evaluation.
    """

    layers: list[torch.Tensor]
    encoding: Encoding

    @property
    def samples(self) -> int:
        """Number of weight samples."""
        return int(self.layers[0].shape[0])


def _uses_int8(index: int, n_layers: int, encoding: Encoding, device: torch.device) -> bool:
    spike_input = index > 0 or encoding == "rate"
    return device.type == "cpu" and spike_input and index < n_layers - 1


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ModelInputError(f"{name}: {value!r} is not one of {', '.join(allowed)}")


def sample_weights(
    snn: ConvertedSNN,
    samples: int,
    seed: int = 0,
    encoding: Encoding = "direct",
    device: torch.device | str | None = None,
) -> SampledWeights:
    """Draw `samples` +-1 weight sets, ``P(w = +1) = prob``, from a generator seeded by `seed`."""
    if int(samples) != samples or samples < 1:
        raise ModelInputError(f"samples: {samples!r} must be a positive integer")
    _check_choice("encoding", encoding, ("direct", "rate"))
    device = torch.device(device) if device is not None else default_device()
    generator = torch.Generator(device).manual_seed(int(seed))
    layers = []
    for index, layer in enumerate(snn.layers):
        prob = torch.as_tensor(np.ascontiguousarray(layer.prob.T), dtype=torch.float32)
        prob = prob.to(device)
        plus = torch.rand((samples, *prob.shape), generator=generator, device=device) < prob
        dtype = torch.int8 if _uses_int8(index, len(snn.layers), encoding, device) else None
        signs = torch.where(plus, 1.0, -1.0)
        layers.append(signs.to(dtype) if dtype is not None else signs)
    return SampledWeights(layers=layers, encoding=encoding)


def synaptic_operations(
    widths: tuple[int, ...], events: torch.Tensor, samples: int, encoding: Encoding
) -> torch.Tensor:
    """Add/subtract operations per image [B] from input events per weight layer [B, L].

    Every input event of weight layer l drives its n_{l+1} synapses once.  The direct-encoded
    first layer is dense and its current is computed once per weight sample and reused over
    time, so it costs ``samples * n0 * n1`` whatever the input (this is also what the
    hardware executes; zero pixels are not skipped).
    """
    fan_out = torch.tensor(widths[1:], dtype=torch.float64)
    ops = events.double() * fan_out
    if encoding == "direct":
        ops[:, 0] = float(samples * widths[0] * widths[1])
    return ops.sum(dim=1)


@dataclass
class SimulationResult:
    """Outputs of one simulated batch.

    `events[b, l]` counts the input events of weight layer l for image b, summed over runs
    and timesteps: for l >= 1 the spikes of hidden layer l - 1, for l = 0 the input spikes
    (rate encoding) or n0 per timestep and run (direct encoding: a dense input).
    `synops[b]` counts the add/subtract operations executed (`synaptic_operations`).
    """

    scores: torch.Tensor  # float32 [runs, B, C]: final output membranes
    events: torch.Tensor  # float64 [B, layers]
    synops: torch.Tensor  # float64 [B]
    timesteps: int

    @property
    def runs(self) -> int:
        """T-step runs per inference (S for `repeat`, 1 for `time`)."""
        return int(self.scores.shape[0])

    @property
    def spikes(self) -> torch.Tensor:
        """int64 [B, hidden layers]: spikes per hidden layer and image (all runs, timesteps)."""
        return self.events[:, 1:].round().long()

    @property
    def activity(self) -> list[float]:
        """Mean input events per timestep per run (weight-sample lane) per image, per layer."""
        return (self.events.mean(dim=0) / (self.runs * self.timesteps)).tolist()

    def probabilities(self, output_scale: float) -> torch.Tensor:
        """[B, C]: mean over runs of softmax(output_scale * scores / T)."""
        return mc_probs(self.scores.float().cpu() / self.timesteps, output_scale)


def _check_inputs(snn: ConvertedSNN, x: torch.Tensor, timesteps: int, samples: int, ensemble: str):
    if int(timesteps) != timesteps or timesteps < 1:
        raise ModelInputError(f"timesteps: {timesteps!r} must be a positive integer")
    _check_choice("ensemble", ensemble, ("time", "repeat"))
    if ensemble == "time" and samples > timesteps:
        raise ModelInputError(
            f"samples: {samples} exceeds timesteps {timesteps}; the 'time' ensemble spreads "
            "samples over timesteps, so use samples <= timesteps or ensemble 'repeat'"
        )
    n0 = snn.widths[0]
    if x.dim() != 2 or x.shape[1] != n0:
        raise ModelInputError(f"x: shape {tuple(x.shape)} must be [batch, {n0}]")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ModelInputError("x: values must lie in [0, 1]; scale the inputs first")
    if any(not lay.spiking for lay in snn.layers[:-1]) or snn.layers[-1].spiking:
        raise ModelInputError("layers: hidden layers must spike and the output layer must not")


def _product(inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """[M, n_in] @ [n_in, n_out]; exact int8 x int8 -> int32 when the weight is int8."""
    rows = inputs.reshape(-1, inputs.shape[-1])
    if weight.dtype == torch.int8:
        return torch._int_mm(rows.view(torch.int8), weight)
    return rows.to(weight.dtype) @ weight


@dataclass
class _Spikes:
    """A layer's output spikes and their per-block totals (what the next layer needs)."""

    train: torch.Tensor  # bool [R, T, B, n]
    counts: torch.Tensor  # float32 [blocks, B, n]: spikes per neuron within each block

    @classmethod
    def drawn(cls, x: torch.Tensor, schedule: _Schedule, generator: torch.Generator) -> _Spikes:
        """Rate encoding: independent Bernoulli(x) spikes per run and timestep."""
        shape = (schedule.runs, schedule.timesteps, *x.shape)
        train = torch.rand(shape, generator=generator, device=x.device) < x
        counts = torch.stack(
            [train[run, t0:t1].sum(0, dtype=torch.float32) for _, run, t0, t1 in schedule.blocks]
        )
        return cls(train, counts)


def _spike_currents(
    spikes: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, schedule: _Schedule
) -> torch.Tensor:
    """Currents plus bias [R, T, B, n_out] of spike inputs [R, T, B, n_in], block by block."""
    runs, t_len, batch, _ = spikes.shape
    out = torch.empty((runs, t_len, batch, weight.shape[-1]), device=spikes.device)
    for sample, run, t0, t1 in schedule.blocks:
        block = out[run, t0:t1]
        block.copy_(_product(spikes[run, t0:t1], weight[sample]).view(block.shape))
    return out.add_(bias)


def _reused_first_current(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, schedule: _Schedule
) -> Callable[[int], torch.Tensor]:
    """Direct encoding: one product per weight sample [S, B, n1], reused at every timestep."""
    first = torch.matmul(x, weight).add_(bias)
    if schedule.ensemble == "repeat":
        return lambda t: first
    return lambda t: first[schedule.sample_at(t)]


def _integrate_and_fire(
    current_at: Callable[[int], torch.Tensor],
    batch: int,
    schedule: _Schedule,
    threshold: torch.Tensor,
    initial: torch.Tensor,
) -> _Spikes:
    """Run one hidden layer over all timesteps, in place; counts spikes per block as it goes."""
    shape = (schedule.runs, batch, threshold.shape[0])
    v = initial.expand(shape).clone()
    fired = torch.empty(shape, device=v.device)
    train_shape = (shape[0], schedule.timesteps, *shape[1:])
    train = torch.empty(train_shape, dtype=torch.bool, device=v.device)
    counts = torch.zeros((len(schedule.blocks), *shape[1:]), device=v.device)
    for t in range(schedule.timesteps):
        v.add_(current_at(t))
        torch.ge(v, threshold, out=fired)
        v.addcmul_(fired, threshold, value=-1.0)
        train[:, t].copy_(fired)
        if schedule.ensemble == "repeat":
            counts.add_(fired)
        else:
            counts[schedule.sample_at(t)].add_(fired[0])
    return _Spikes(train, counts)


def _output_scores(
    inputs: _Spikes | None, x: torch.Tensor, weight: torch.Tensor, schedule: _Schedule
) -> torch.Tensor:
    """Output currents summed over time, [R, B, C], without bias and initial value.

    The output layer only accumulates, so each block's inputs are summed over its timesteps
    first and multiplied by the block's weight sample once.
    """
    scores = torch.zeros((schedule.runs, x.shape[0], weight.shape[-1]), device=x.device)
    for index, (sample, run, t0, t1) in enumerate(schedule.blocks):
        counts = (t1 - t0) * x if inputs is None else inputs.counts[index]
        scores[run] += counts @ weight[sample]
    return scores


@torch.inference_mode()
def simulate(
    snn: ConvertedSNN,
    x: torch.Tensor,
    timesteps: int,
    samples: int,
    ensemble: Ensemble = "repeat",
    encoding: Encoding = "direct",
    seed: int = 0,
    device: torch.device | str | None = None,
    weights: SampledWeights | None = None,
) -> SimulationResult:
    """Simulate the converted SNN on inputs x [B, n0] in [0, 1] (see the module docstring).

    `weights` (from `sample_weights`) lets a caller draw the weights once for many batches;
    without it they are drawn here from `seed`.  Rate-encoded input spikes come from a
    generator seeded by ``seed + 1``, independent of the weight draw.
    """
    _check_choice("encoding", encoding, ("direct", "rate"))
    _check_inputs(snn, x, timesteps, samples, ensemble)
    device = torch.device(device) if device is not None else default_device()
    if weights is None:
        weights = sample_weights(snn, samples, seed, encoding, device)
    if weights.samples != samples or weights.encoding != encoding:
        raise ModelInputError(
            f"weights: drawn for {weights.samples} samples and {weights.encoding!r} encoding, "
            f"but the simulation asks for {samples} and {encoding!r}; draw them again"
        )
    schedule = _Schedule(ensemble, int(timesteps), int(samples))
    x = x.to(device=device, dtype=torch.float32)
    batch, n0 = x.shape

    def param(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32, device=device)

    events = torch.zeros((batch, len(snn.layers)), dtype=torch.float64, device=device)
    spikes: _Spikes | None = None  # the current layer's input when it is spikes
    if encoding == "rate":
        generator = torch.Generator(device).manual_seed(int(seed) + 1)
        spikes = _Spikes.drawn(x, schedule, generator)
    else:
        events[:, 0] = float(n0 * schedule.runs * timesteps)
    for index, layer in enumerate(snn.layers):
        weight = weights.layers[index]
        bias = param(layer.bias)
        if spikes is not None:
            events[:, index] = spikes.counts.sum(dim=(0, 2), dtype=torch.float64)
        if index == len(snn.layers) - 1:
            scores = _output_scores(spikes, x, weight, schedule)
            scores += param(layer.initial) + timesteps * bias
            break
        if spikes is None:
            current_at = _reused_first_current(x, weight, bias, schedule)
        else:
            currents = _spike_currents(spikes.train, weight, bias, schedule)
            current_at = partial(torch.select, currents, 1)  # t -> currents[:, t]
        threshold, initial = param(layer.threshold), param(layer.initial)
        spikes = _integrate_and_fire(current_at, batch, schedule, threshold, initial)
    events = events.cpu()
    synops = synaptic_operations(snn.widths, events, samples, encoding)
    return SimulationResult(scores=scores, events=events, synops=synops, timesteps=timesteps)
