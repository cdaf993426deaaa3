"""The accelerator template: the one description of the datapath.

Everything that decides *what the hardware computes* lives here, in pure numpy, so that
the integer SNN in `models/`, the HLS kernel in `hls/` and the cost model in `hwmodel/`
cannot drift apart.  `docs/accelerator.md` is the prose version; this module is the law.

Datapath summary (a layer-sequential, event-driven machine):

* Network: `widths = (n0, n1, ..., nL)`; weight layer `l` maps `n_l` inputs to `n_{l+1}`
  neurons.  Hidden layers are integrate-and-fire neurons; the last layer is a
  non-spiking accumulator whose final membrane is the class score.
* Weights are +1/-1.  Each is stored as a k-bit Bernoulli code
  ``c = round(p * (2**k - 1))`` (see `quantize_probability`) and sampled by comparing
  with a random number ``r`` uniform on ``0 .. 2**k - 2``: ``w = +1 if r < c else -1``,
  so ``P(w = +1) = c / (2**k - 1)``.  Code 0 is always -1 and the top code always +1
  (saturated posteriors stay deterministic), the scheme is symmetric about p = 1/2, and
  k = 1 gives the mode (sign) weights: r is always 0, the code is the sign, and the plan
  builds no random-number hardware for such a design (`AcceleratorConfig.deterministic`).
  ``r = (x * (2**k - 1)) >> 32`` for a 32-bit random word x: a shift and a subtraction in
  hardware, no multiplier.
* Random numbers come from a counter-based generator (`prng_word`): a 32-bit xorshift
  LFSR step interleaved with key additions, keyed by (seed, sample, layer) and counted by
  the weight *group*.  Weights are numbered input-major, ``index = i * n_out + j``, and
  ``group = index // reuse``: `reuse` consecutive weights (the same input, neighbouring
  neurons, i.e. lanes of the same cycle) share one random number; `reuse` is a power of 2,
  so the group is a shift of the index.  The stream is a pure
  function of (seed, sample, layer, group), so the result does not depend on the number
  of PEs, synapses per cycle or lanes, and both weight-sampling strategies
  (``memory``: sample every weight into a 1-bit memory at the start of a weight sample;
  ``regenerate``: recompute the word whenever a weight is touched) give identical bits.
* Per timestep and layer: the synaptic current ``I_j = sum_i w_ji * x_i`` is accumulated
  exactly (an integer of `current_bits` width), then the membrane is updated once,
  saturating to `membrane_bits` two's complement:
  ``v = sat(v + scale_current(I, shift) + bias)``, the per-layer `shift` being signed:
  ``I << shift`` for shift >= 0, the arithmetic (flooring) ``I >> -shift`` below, so that
  thresholds and biases of any size fit the membrane (`scale_current`); a hidden neuron
  spikes when ``v >= threshold`` and subtracts the threshold (reset by subtraction).  The
  output layer never spikes.
* Inputs of the first layer are multi-bit (`input_bits` unsigned, direct encoding) and
  constant over time, so the first layer's current is computed once per weight sample.
* Ensembles: ``repeat`` runs `samples` independent T-step runs (membranes start from
  `initial` each run); ``time`` runs one T-step run in which the weight sample changes at
  timestep boundaries, sample ``s(t) = t * samples // timesteps`` (needs samples <= T).
* Class scores: ``repeat`` gives one score vector per sample, ``time`` gives one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from hwmodel.architecture import (
    KERNEL,
    ConvBlock,
    ConvShape,
    conv_shapes,
    flat_size,
    parse_blocks,
)
from hwmodel.errors import HardwareInputError

__all__ = [
    "AcceleratorConfig",
    "IntegerLayer",
    "IntegerNetwork",
    "GeometryView",
    "NetworkGeometry",
    "KEY_CONSTANTS",
    "MASK32",
    "layer_key",
    "parse_shape",
    "prng_word",
    "quantize_probability",
    "random_codes",
    "sample_signs",
    "saturate",
    "scale_current",
    "scale_word",
    "segment_of_timestep",
    "time_segments",
    "xorshift32",
]

Ensemble = Literal["time", "repeat"]
Sampling = Literal["memory", "regenerate"]

MASK32 = 0xFFFFFFFF
# Key-schedule constants (fractional parts of the golden ratio and sqrt(2), sqrt(3), sqrt(5));
# the HLS generator renders them into the kernel from here.
KEY_CONSTANTS = (0x9E3779B9, 0x6A09E667, 0xBB67AE85, 0x3C6EF372)
_C0, _C1, _C2, _C3 = KEY_CONSTANTS


@dataclass(frozen=True)
class AcceleratorConfig:
    """Every hardware knob of one design; validated on construction (one-line errors)."""

    widths: tuple[int, ...]
    pe: int = 64
    synapses_per_cycle: int = 1
    sample_lanes: int = 1
    k_bits: int = 8
    membrane_bits: int = 16
    reuse: int = 1
    sampling: Sampling = "memory"
    clock_mhz: float = 100.0
    part: str = "xc7z020clg400-1"
    ensemble: Ensemble = "repeat"
    timesteps: int = 8
    samples: int = 10
    input_bits: int = 8
    seed: int = 1
    #: (channels, height, width) of the image; needed by a convolutional front.
    input_shape: tuple[int, int, int] | None = None
    #: The convolutional blocks before the dense layers `widths` (hwmodel.architecture).
    conv: tuple[ConvBlock, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        widths = tuple(self.widths)
        if len(widths) < 2 or any(int(w) != w or w < 1 for w in widths):
            raise HardwareInputError(
                f"widths: {list(widths)} must be at least two positive integers "
                "(inputs, ..., classes), e.g. 784,512,10"
            )
        object.__setattr__(self, "widths", tuple(int(w) for w in widths))
        self._check_front()
        positive = {
            "pe": self.pe,
            "synapses_per_cycle": self.synapses_per_cycle,
            "sample_lanes": self.sample_lanes,
            "reuse": self.reuse,
            "timesteps": self.timesteps,
            "samples": self.samples,
        }
        for name, value in positive.items():
            if int(value) != value or value < 1:
                raise HardwareInputError(f"{name}: {value!r} must be a positive integer")
        if self.reuse & (self.reuse - 1):
            raise HardwareInputError(
                f"reuse: {self.reuse} must be a power of 2 (1, 2, 4, ...): weight groups are "
                "index >> log2(reuse), so the hardware needs no divider"
            )
        if not 1 <= self.k_bits <= 16:
            raise HardwareInputError(f"k_bits: {self.k_bits} must be between 1 and 16")
        if not 4 <= self.membrane_bits <= 32:
            raise HardwareInputError(
                f"membrane_bits: {self.membrane_bits} must be between 4 and 32"
            )
        if not 1 <= self.input_bits <= 16:
            raise HardwareInputError(f"input_bits: {self.input_bits} must be between 1 and 16")
        if self.sampling not in ("memory", "regenerate"):
            raise HardwareInputError(
                f"sampling: {self.sampling!r} must be 'memory' or 'regenerate'"
            )
        if self.ensemble not in ("time", "repeat"):
            raise HardwareInputError(f"ensemble: {self.ensemble!r} must be 'time' or 'repeat'")
        if self.ensemble == "time" and self.samples > self.timesteps:
            raise HardwareInputError(
                f"samples: {self.samples} exceeds timesteps {self.timesteps}; the 'time' "
                "ensemble spreads samples over timesteps, so use samples <= timesteps"
            )
        if not self.clock_mhz > 0:
            raise HardwareInputError(f"clock_mhz: {self.clock_mhz} must be positive")

    def _check_front(self) -> None:
        """Normalise and check `input_shape` and `conv` (one-line errors naming the field)."""
        object.__setattr__(self, "conv", parse_blocks(self.conv or ()))
        shape = parse_shape(self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        if self.conv and shape is None:
            raise HardwareInputError(
                f"conv: blocks {','.join(map(str, self.conv))} need input_shape (channels, "
                "height, width), e.g. 1x28x28"
            )
        if shape is not None:
            flat = flat_size(shape, self.conv)
            if self.widths[0] != flat:
                front = f"{','.join(map(str, self.conv))} over " if self.conv else ""
                raise HardwareInputError(
                    f"widths: the first width {self.widths[0]} must be the flattened input "
                    f"{flat} ({front}{'x'.join(map(str, shape))})"
                )

    # Derived quantities the kernel, the integer model and the estimates share.
    @cached_property
    def conv_shapes(self) -> tuple[ConvShape, ...]:
        """The geometry of every convolutional block (none for a dense design)."""
        return conv_shapes(self.input_shape, self.conv) if self.conv else ()

    @property
    def n_conv(self) -> int:
        """Convolutional weight layers: global layers 0 .. n_conv - 1, the dense ones after."""
        return len(self.conv)

    @property
    def n_layers(self) -> int:
        """Number of weight layers: the convolutional blocks, then the dense layers."""
        return self.n_conv + len(self.widths) - 1

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Inputs of every weight layer, then the classes: `widths` for a dense design; a
        convolutional front puts the image's pixels and every block's (pooled) outputs
        before them.  Index l is what an event count of weight layer l counts."""
        shapes = self.conv_shapes
        return (*(s.in_channels * s.height * s.width for s in shapes), *self.widths)

    def fan_in(self, layer: int) -> int:
        """Synapses of one neuron of weight layer `layer` (a 3x3 kernel over every input
        channel for a convolution)."""
        if layer < self.n_conv:
            return self.conv_shapes[layer].fan_in
        return self.widths[layer - self.n_conv]

    def layer_outputs(self, layer: int) -> int:
        """Neurons weight layer `layer` updates per input position: its output channels for a
        convolution (the same neurons at every pixel), its width for a dense layer."""
        if layer < self.n_conv:
            return self.conv_shapes[layer].channels
        return self.widths[layer - self.n_conv + 1]

    @property
    def neurons_per_cycle(self) -> int:
        """Neurons of one layer updated per cycle by all PEs together."""
        return self.pe * self.synapses_per_cycle

    @property
    def deterministic(self) -> bool:
        """k = 1: a code is round(p), 0 or 1, and the random number is always 0, so the weight
        is +1 iff the code is 1: the code is the sign, and nothing needs to be drawn."""
        return self.k_bits == 1

    @property
    def runs(self) -> int:
        """T-step runs per inference (one for `time`, one per sample for `repeat`)."""
        return 1 if self.ensemble == "time" else self.samples

    def current_bits(self, layer: int) -> int:
        """Width of the exact synaptic-current accumulator of weight layer `layer`: the fan-in
        times the largest input (an input_bits pixel for layer 0, a spike after it)."""
        peak = self.fan_in(layer) * ((1 << self.input_bits) - 1 if layer == 0 else 1)
        return int(peak).bit_length() + 1

    def as_dict(self) -> dict:
        """Plain-JSON view, for design.json and trial attributes; a dense design without an
        input shape has no `input_shape` or `conv` entry (as before the convolutional front),
        a convolutional one gives them as ``[1, 28, 28]`` and ``"8p,16p"``."""
        out = asdict(self)
        out["widths"] = list(self.widths)
        out.pop("extra")
        if self.input_shape is None and not self.conv:
            del out["input_shape"], out["conv"]
        else:
            out["input_shape"] = None if self.input_shape is None else list(self.input_shape)
            out["conv"] = ",".join(map(str, self.conv))
        return out


@dataclass(frozen=True)
class NetworkGeometry:
    """The shape of a network of weight layers, read from its matrices (what `IntegerNetwork`
    and `models.snn_spec.ConvertedSNN` share).

    `matrices[l]` is weight layer l's (n_out, n_in); `convs[l]` its `ConvShape` when it is a
    3x3 convolution, stored as a [C_out, C_in * 9] matrix (kernel index
    ``(c_in * 3 + ky) * 3 + kx``, ky = 0 the row above), shared by every pixel.  Convolutions
    come first; the last one's (pooled) output, flattened channel-major
    ``(c * H + y) * W + x``, is the first dense layer's input.
    """

    matrices: tuple[tuple[int, int], ...]
    convs: tuple[ConvShape | None, ...]

    def __post_init__(self) -> None:
        if not self.matrices or len(self.convs) != len(self.matrices):
            raise HardwareInputError("layers: a network needs one or more weight layers")
        shapes = self.conv_shapes
        if any(conv is not None for conv in self.convs[len(shapes) :]):
            raise HardwareInputError("layers: convolutional layers must come before dense ones")
        if len(shapes) == len(self.matrices):
            raise HardwareInputError("layers: a convolutional front needs a dense layer after it")
        for index, (conv, (n_out, n_in)) in enumerate(zip(shapes, self.matrices, strict=False)):
            if (n_out, n_in) != (conv.channels, conv.fan_in):
                raise HardwareInputError(
                    f"layers: convolution {index} stores [{n_out}, {n_in}] weights, but its "
                    f"shape needs [{conv.channels}, {conv.fan_in}]"
                )
            if index and (conv.in_channels, conv.height, conv.width) != (
                shapes[index - 1].channels,
                shapes[index - 1].out_height,
                shapes[index - 1].out_width,
            ):
                raise HardwareInputError(
                    f"layers: convolution {index}'s input does not match convolution "
                    f"{index - 1}'s output"
                )
        dense = self.matrices[len(shapes) :]
        ins = [self.input_size if not shapes else shapes[-1].outputs]
        ins += [n_out for n_out, _ in dense[:-1]]
        for offset, ((_, n_in), expected) in enumerate(zip(dense, ins, strict=True)):
            if n_in != expected:
                raise HardwareInputError(
                    f"layers: layer {len(shapes) + offset} takes {n_in} inputs, but the layer "
                    f"before hands on {expected}"
                )

    @property
    def conv_shapes(self) -> tuple[ConvShape, ...]:
        """The convolutions, in order (empty for a dense network)."""
        return tuple(conv for conv in self.convs if conv is not None)

    @property
    def widths(self) -> tuple[int, ...]:
        """(inputs, ..., classes) of the dense layers (after a convolutional front, its
        flattened outputs are the inputs): what `AcceleratorConfig.widths` describes."""
        dense = self.matrices[len(self.conv_shapes) :]
        return (dense[0][1], *(n_out for n_out, _ in dense))

    @property
    def input_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) of the input image of a convolutional network; None for a dense one."""
        if not self.conv_shapes:
            return None
        first = self.conv_shapes[0]
        return (first.in_channels, first.height, first.width)

    @property
    def input_size(self) -> int:
        """Input values per image: C x H x W, or the first dense layer's inputs."""
        shape = self.input_shape
        return self.matrices[0][1] if shape is None else shape[0] * shape[1] * shape[2]

    @property
    def neurons(self) -> tuple[int, ...]:
        """(input values, neurons of weight layer 0, 1, ...); a convolution has channels x H x
        W neurons (before pooling)."""
        return (
            self.input_size,
            *(
                n_out if conv is None else conv.neurons
                for (n_out, _), conv in zip(self.matrices, self.convs, strict=True)
            ),
        )

    @property
    def layer_inputs(self) -> tuple[int, ...]:
        """Input values of each weight layer per timestep: C_in x H x W for a convolution
        (after the previous block's pooling), n_in for a dense layer."""
        return tuple(
            n_in if conv is None else conv.in_channels * conv.height * conv.width
            for (_, n_in), conv in zip(self.matrices, self.convs, strict=True)
        )

    @property
    def macs(self) -> tuple[int, ...]:
        """Multiply-adds of each weight layer per timestep and image: neurons x fan-in (every
        3x3 window whole for a convolution, its zero padding included)."""
        return tuple(
            n_out * n_in if conv is None else conv.neurons * conv.fan_in
            for (n_out, n_in), conv in zip(self.matrices, self.convs, strict=True)
        )

    @classmethod
    def dense(cls, widths: tuple[int, ...]) -> NetworkGeometry:
        """The geometry of a dense network of `widths` (inputs, ..., classes)."""
        widths = tuple(int(w) for w in widths)
        return cls(tuple(zip(widths[1:], widths[:-1], strict=True)), (None,) * (len(widths) - 1))

    @property
    def fan_outs(self) -> tuple[int, ...]:
        """Synapses one input value drives, per weight layer: n_out for a dense layer, C_out x
        9 for a convolution (fewer at the image border, where the window leaves it)."""
        return tuple(
            n_out if conv is None else conv.channels * KERNEL * KERNEL
            for (n_out, _), conv in zip(self.matrices, self.convs, strict=True)
        )


class GeometryView:
    """The shape facts of a network that has a `geometry` (`IntegerNetwork` and
    `models.snn_spec.ConvertedSNN`), read through it so that the two cannot differ."""

    geometry: NetworkGeometry

    @property
    def widths(self) -> tuple[int, ...]:
        """(inputs, ..., classes) of the dense layers, after a convolutional front the inputs
        are its flattened outputs."""
        return self.geometry.widths

    @property
    def conv_shapes(self) -> tuple[ConvShape, ...]:
        """The convolutional layers' geometry (empty for a dense network)."""
        return self.geometry.conv_shapes

    @property
    def input_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) of the input image of a convolutional network; None for a dense one."""
        return self.geometry.input_shape

    @property
    def input_size(self) -> int:
        """Input values per image (C x H x W, or the dense network's first width)."""
        return self.geometry.input_size


def parse_shape(value: object) -> tuple[int, int, int] | None:
    """An input shape (channels, height, width) from ``"1x28x28"``, ``"1,28,28"`` or a
    sequence of three positive integers; None (or "") is none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    items = value.lower().replace("x", ",").split(",") if isinstance(value, str) else value
    try:
        numbers = [float(str(v).strip()) for v in items]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 3 or any(n != int(n) or n < 1 for n in numbers):
        raise HardwareInputError(
            f"input_shape: {value!r} must be three positive integers (channels, height, "
            "width), e.g. 1x28x28"
        )
    c, h, w = (int(n) for n in numbers)
    return c, h, w


@dataclass
class IntegerLayer:
    """One weight layer as the hardware stores it.

    A convolution (`conv` set) stores its kernels as `codes` [C_out, C_in * 9] (kernel index
    ``(c_in * 3 + ky) * 3 + kx``, `NetworkGeometry`), and threshold, bias and initial per
    output channel [C_out]; the weights drawn for a sample serve every pixel.
    """

    codes: np.ndarray  # uint16 [n_out, n_in]: k-bit Bernoulli codes (P(w=+1) ~ code / 2**k)
    threshold: np.ndarray  # int64 [n_out]: firing threshold (> 0); ignored by the output layer
    bias: np.ndarray  # int64 [n_out]: added to the membrane every timestep
    initial: np.ndarray  # int64 [n_out]: membrane at the start of every run
    shift: int = 0  # signed: current << shift, or >> -shift (floor) if negative (scale_current)
    spiking: bool = True
    conv: ConvShape | None = None  # a 3x3 convolution (hwmodel.architecture), else dense


@dataclass
class IntegerNetwork(GeometryView):
    """A converted network quantized for the template: what goes into the parameter header.

    Weight layers are numbered globally, convolutions first (`NetworkGeometry`); the PRNG key
    of layer l is ``layer_key(seed, sample, l)`` whatever its kind.
    """

    layers: list[IntegerLayer]
    input_bits: int

    @property
    def geometry(self) -> NetworkGeometry:
        """The network's shape (validated)."""
        return NetworkGeometry(
            tuple(tuple(int(n) for n in layer.codes.shape) for layer in self.layers),
            tuple(layer.conv for layer in self.layers),
        )


def xorshift32(x: np.ndarray) -> np.ndarray:
    """One step of Marsaglia's 32-bit xorshift LFSR (13, 17, 5); `x` holds uint64 < 2**32."""
    x = x ^ ((x << 13) & MASK32)
    x = x ^ (x >> 17)
    return x ^ ((x << 5) & MASK32)


def _add32(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return (a + b) & MASK32


def layer_key(seed: int, sample: np.ndarray | int, layer: int) -> np.ndarray:
    """The per-(seed, sample, layer) key; the hardware computes it once per weight sample."""
    x = np.asarray(seed, dtype=np.uint64) & MASK32
    x = xorshift32(_add32(x, _C0))
    x = xorshift32(_add32(x, np.asarray(sample, dtype=np.uint64) + _C1))
    return xorshift32(_add32(x, np.uint64(layer) + _C2))


def prng_word(key: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The 32-bit random word of weight group `group` under `key` (broadcasting, uint64)."""
    x = xorshift32(_add32(np.asarray(group, dtype=np.uint64), key))
    x = xorshift32(_add32(x, (key >> 16) | ((key << 16) & MASK32)))
    return xorshift32(_add32(x, _C3))


def random_codes(
    seed: int, sample: np.ndarray | int, layer: int, n_in: int, n_out: int, reuse: int, k: int
) -> np.ndarray:
    """Random numbers on 0 .. 2**k - 2 for every weight of a layer, shaped [..., n_out, n_in].

    `sample` may be an array of sample indices; its shape leads the result.
    """
    sample_arr = np.asarray(sample, dtype=np.uint64)
    key = layer_key(seed, sample_arr, layer)[..., None, None]
    j = np.arange(n_out, dtype=np.uint64)[:, None]
    i = np.arange(n_in, dtype=np.uint64)[None, :]
    group = (i * np.uint64(n_out) + j) // np.uint64(reuse)
    return scale_word(prng_word(key, group), k)


def scale_word(word: np.ndarray, k: int) -> np.ndarray:
    """Map a 32-bit word onto 0 .. 2**k - 2: ``(word * (2**k - 1)) >> 32`` = shift - word."""
    word = np.asarray(word, dtype=np.uint64)
    return (((word << np.uint64(k)) - word) >> np.uint64(32)).astype(np.uint32)


def quantize_probability(p: np.ndarray, k: int) -> np.ndarray:
    """k-bit Bernoulli code of P(w=+1): round(p * (2**k - 1)), within [0, 2**k - 1]."""
    scaled = np.floor(np.asarray(p, dtype=np.float64) * ((1 << k) - 1) + 0.5)
    return np.clip(scaled, 0, (1 << k) - 1).astype(np.uint16)


def sample_signs(codes: np.ndarray, randoms: np.ndarray) -> np.ndarray:
    """Weights in {-1, +1} (int8) from codes and random numbers on 0 .. 2**k - 2."""
    return np.where(randoms < codes, np.int8(1), np.int8(-1))


def saturate(v: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement saturation to `bits` bits."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(v, lo, hi)


def scale_current(current: np.ndarray, shift: int) -> np.ndarray:
    """A layer's current in membrane units: ``I << shift``, or ``floor(I / 2**-shift)`` (the
    arithmetic right shift, free wiring in hardware) for a negative shift."""
    current = np.asarray(current, dtype=np.int64)
    return current << shift if shift >= 0 else current >> -shift


def segment_of_timestep(t: np.ndarray | int, timesteps: int, samples: int) -> np.ndarray:
    """Weight sample in force at timestep `t` of a `time`-ensemble run."""
    return (np.asarray(t) * samples) // timesteps


def time_segments(timesteps: int, samples: int) -> list[tuple[int, int]]:
    """[t0, t1) of each weight sample of a `time` run: the t with segment_of_timestep == s."""
    starts = [-(-s * timesteps // samples) for s in range(samples + 1)]
    return list(zip(starts[:-1], starts[1:], strict=True))
