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

Weight sample s of layer l is drawn from its own generator keyed by (seed, s, l), as the
hardware PRNG is, so a design with more samples shares its first samples with one with
fewer.  Probabilities are ``mean over runs of softmax(output_scale * scores / T)``: dividing
by T turns the accumulated output membrane into a per-timestep rate, which is what the ANN's
logits convert to, and `output_scale` is the temperature fitted on the validation split.

The simulation itself is `models.snn_core.run_layers` (shared with the integer model) with
float32 membranes that never saturate.  Convolutional networks (`models.snn_spec`) take images
flattened channel-major, [B, C * H * W]; their convolutions run through the same runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from hwmodel.template import Ensemble, NetworkGeometry
from models.errors import ModelInputError
from models.snn_core import Schedule, images_per_chunk, per_neuron, run_layers, spike_counts
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


@dataclass
class SampledWeights:
    """`samples` draws of every weight layer, each [samples, n_in, n_out] (for ``x @ W``; a
    convolution's n_in is C_in * 9, its kernel index).

    Layers whose input is binary spikes and whose output spikes are int8 on CPU (for the
    exact int8 product); the others are float32.  Weights depend only on (seed, sample,
    layer), as on the hardware, so one draw serves every batch of an evaluation.
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


def _generator(seed: int, sample: int, layer: int, device: torch.device) -> torch.Generator:
    """The generator of one (seed, sample, layer) draw, independent of the others."""
    entropy = (int(seed) % (1 << 64), sample, layer)
    state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
    return torch.Generator(device).manual_seed(int(state))


def sample_weights(
    snn: ConvertedSNN,
    samples: int,
    seed: int = 0,
    encoding: Encoding = "direct",
    device: torch.device | str | None = None,
) -> SampledWeights:
    """Draw `samples` +-1 weight sets, ``P(w = +1) = prob``; draw s of layer l is keyed by
    (seed, s, l)."""
    if int(samples) != samples or samples < 1:
        raise ModelInputError(f"samples: {samples!r} must be a positive integer")
    _check_choice("encoding", encoding, ("direct", "rate"))
    device = torch.device(device) if device is not None else default_device()
    layers = []
    for index, layer in enumerate(snn.layers):
        prob = torch.as_tensor(np.ascontiguousarray(layer.prob.T), dtype=torch.float32)
        prob = prob.to(device)
        plus = torch.stack(
            [
                torch.rand(prob.shape, generator=_generator(seed, s, index, device), device=device)
                < prob
                for s in range(int(samples))
            ]
        )
        dtype = torch.int8 if _uses_int8(index, len(snn.layers), encoding, device) else None
        signs = torch.where(plus, 1.0, -1.0)
        layers.append(signs.to(dtype) if dtype is not None else signs)
    return SampledWeights(layers=layers, encoding=encoding)


def synaptic_operations(
    network: tuple[int, ...] | NetworkGeometry,
    events: torch.Tensor,
    samples: int,
    encoding: Encoding,
) -> torch.Tensor:
    """Add/subtract operations per image [B] from input events per weight layer [B, L].

    `network`: the widths of a dense network, or the geometry of any
    (`hwmodel.template.NetworkGeometry`).  Every input event of weight layer l drives its
    fan-out once: n_{l+1} synapses, or C_out x 9 for a convolution (an upper bound: a window
    at the image border leaves it).  The direct-encoded first layer is dense and its current
    is computed once per weight sample and reused over time, so it costs ``samples * n0 *
    n1`` whatever the input (this is also what the hardware executes; zero pixels are not
    skipped), for a convolution ``samples * C_out * H * W * C_in * 9`` (every window whole,
    the zero padding included).
    """
    if not isinstance(network, NetworkGeometry):
        network = NetworkGeometry.dense(tuple(network))
    fan_out = torch.tensor(network.fan_outs, dtype=torch.float64)
    ops = events.double() * fan_out
    if encoding == "direct":
        ops[:, 0] = float(samples * network.macs[0])
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
    n0 = snn.input_size
    if x.dim() != 2 or x.shape[1] != n0:
        raise ModelInputError(f"x: shape {tuple(x.shape)} must be [batch, {n0}]")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ModelInputError("x: values must lie in [0, 1]; scale the inputs first")
    if any(not lay.spiking for lay in snn.layers[:-1]) or snn.layers[-1].spiking:
        raise ModelInputError("layers: hidden layers must spike and the output layer must not")


class _FloatArithmetic:
    """float32 membranes, no scaling and no saturation (`models.snn_core.Arithmetic`)."""

    def __init__(self, snn: ConvertedSNN, device: torch.device) -> None:
        def param(values: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(values, dtype=torch.float32, device=device)

        def params(name: str) -> list[torch.Tensor]:
            return [param(per_neuron(getattr(lay, name), lay.conv)) for lay in snn.layers]

        self._bias = params("bias")
        self._threshold = params("threshold")
        self._initial = params("initial")
        self._strict = [layer.strict for layer in snn.layers]

    def dtype(self, index: int) -> torch.dtype:
        return torch.float32

    def scaled(self, index: int, current: torch.Tensor) -> torch.Tensor:
        return current.to(torch.float32)

    def driven(self, index: int, current: torch.Tensor) -> torch.Tensor:
        return self.scaled(index, current).add_(self._bias[index])

    def bias(self, index: int) -> torch.Tensor:
        return self._bias[index]

    def threshold(self, index: int) -> torch.Tensor:
        return self._threshold[index]

    def initial(self, index: int) -> torch.Tensor:
        return self._initial[index]

    def saturate(self, v: torch.Tensor) -> None:
        """Float membranes never saturate."""

    def summable(self, index: int) -> bool:
        return True

    def strict(self, index: int) -> bool:
        return self._strict[index]


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
    schedule = Schedule(ensemble, int(timesteps), int(samples))
    x = x.to(device=device, dtype=torch.float32)
    batch, n0 = x.shape
    events = torch.zeros((batch, len(snn.layers)), dtype=torch.float64, device=device)
    train = None  # the first layer's input spikes under rate encoding
    if encoding == "rate":
        generator = torch.Generator(device).manual_seed(int(seed) + 1)
        shape = (schedule.runs, schedule.timesteps, *x.shape)
        train = torch.rand(shape, generator=generator, device=device) < x
    else:
        events[:, 0] = float(n0 * schedule.runs * timesteps)

    arithmetic = _FloatArithmetic(snn, device)
    geometry = snn.geometry
    neurons = geometry.neurons
    chunk = images_per_chunk(schedule, neurons) if device.type == "cpu" else max(batch, 1)
    parts = []
    for start in range(0, batch, chunk) if batch else [0]:
        stop = start + chunk

        def observe(index: int, spikes: torch.Tensor, start: int = start) -> None:
            # Counted in integers, converted once: a float64 sum converts every spike first.
            counts = spike_counts(spikes).sum(dim=(0, 1), dtype=torch.int64)
            events[start : start + len(counts), index] = counts

        inputs = None if train is None else train[:, :, start:stop].contiguous()
        parts.append(
            run_layers(
                arithmetic,
                weights.layers,
                x[start:stop],
                schedule,
                inputs,
                observe,
                convs=geometry.convs,
            )
        )
    scores = torch.cat(parts, dim=1)
    events = events.cpu()
    synops = synaptic_operations(geometry, events, samples, encoding)
    return SimulationResult(scores=scores, events=events, synops=synops, timesteps=timesteps)
