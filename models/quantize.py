"""Quantize a converted SNN into what the accelerator stores, and say when b bits cannot hold it.

Units.  The current of weight layer l is an integer sum of +-1 weights times the layer's
input: spikes (0/1) for l >= 1, and pixels scaled by ``2**input_bits - 1`` for l = 0, so the
float thresholds, biases and initial membranes of layer 0 are multiplied by that scale.  The
membrane adds ``scale_current(I, shift) + bias`` every timestep (`hwmodel.template`): the
current times ``2**shift``, the per-layer `shift` being signed (a left shift, or an arithmetic
right shift that floors), so thresholds, biases and initial values are in units of
``2**-shift`` current units.

The scale of each layer (its shift).  For a spiking layer, the largest shift under which

* the largest threshold stays below ``2**(b - 2)``: a quarter of the range, leaving room
  above the threshold (a neuron can hold up to about two thresholds before it fires) and the
  same room below zero; and
* every bias and initial membrane fits the b-bit range (a converted bias can be several
  thresholds: it is the batch-norm mean folded into the neuron).

A negative shift floors the current; its mean loss, ``(1 - 2**shift) / 2`` units, is added
to the bias before rounding, so rounding is unbiased on average.  For the (non-spiking)
output layer the shift is the largest one >= 0 under which T timesteps of the worst-case
current plus bias and initial value cannot saturate the membrane; scores saturate rather
than lose resolution when b is too small for that.

Strict layers.  An imported network's neurons fire when ``v > threshold`` (NIR's and
snnTorch's rule, `ConvertedLayer.strict`); the hardware compares ``v >= threshold``.  On
integers ``v > t`` is ``v - 1 >= t``, so a strict layer's integer membranes start one unit
below its rounded initial value: the same spikes, with no change to the datapath.

Feasibility.  Scaling down trades resolution for range: every timestep, the scaled current
and the bias are each rounded by under one unit, so over a T-step run a neuron's membrane
can drift by up to about T units from the float model's.  While the smallest threshold of
every spiking layer spans at least T units, that drift moves a neuron's spike count by at
most about one; below, rounding decides spikes, and `numerics_reason` reports the design as
infeasible (the search marks it so) instead of letting it quietly degrade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwmodel.template import AcceleratorConfig, IntegerLayer, IntegerNetwork, quantize_probability
from models.errors import ModelInputError
from models.snn_spec import ConvertedLayer, ConvertedSNN

__all__ = [
    "current_bits",
    "input_scale",
    "numerics_reason",
    "quantize_input",
    "quantize_network",
    "score_divisor",
]

# Largest bit width of a shifted current, so that v + scaled current + bias fits int64.
_MAX_SHIFTED_BITS = 62


def quantize_input(x: np.ndarray, input_bits: int) -> np.ndarray:
    """Inputs in [0, 1] to `input_bits`-bit unsigned integers: round(x * (2**bits - 1))."""
    top = (1 << input_bits) - 1
    scaled = np.floor(np.asarray(x, dtype=np.float64) * top + 0.5)
    return np.clip(scaled, 0, top).astype(np.int64)


def input_scale(layer: int, input_bits: int) -> int:
    """Integer current units per float current unit of weight layer `layer`."""
    return (1 << input_bits) - 1 if layer == 0 else 1


def _peak_bits(fan_in: int, index: int, input_bits: int) -> int:
    """Width of the exact current accumulator of a layer with `fan_in` inputs per neuron."""
    return int(fan_in * input_scale(index, input_bits)).bit_length() + 1


def current_bits(net: IntegerNetwork, index: int) -> int:
    """Width of the exact synaptic-current accumulator of weight layer `index` (a
    convolution's fan-in is its window, C_in x 9): `AcceleratorConfig.current_bits` of a
    dense network."""
    return _peak_bits(net.layers[index].codes.shape[1], index, net.input_bits)


def _round(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5)


def _floor_loss(shift: int) -> float:
    """Mean amount by which flooring a current shifted right by -shift bits lowers it."""
    return (1.0 - 2.0**shift) / 2.0 if shift < 0 else 0.0


@dataclass(frozen=True)
class _Units:
    """One layer's float parameters in integer current units (before the shift)."""

    threshold: np.ndarray
    bias: np.ndarray
    initial: np.ndarray
    fan_in: int  # the largest current: inputs per neuron times the largest input
    spiking: bool
    current_bits: int  # of the exact current accumulator

    @classmethod
    def of(cls, layer: ConvertedLayer, index: int, input_bits: int) -> _Units:
        scale = input_scale(index, input_bits)
        return cls(
            threshold=np.asarray(layer.threshold, dtype=np.float64) * scale,
            bias=np.asarray(layer.bias, dtype=np.float64) * scale,
            initial=np.asarray(layer.initial, dtype=np.float64) * scale,
            fan_in=layer.prob.shape[1] * scale,
            spiking=layer.spiking,
            current_bits=_peak_bits(layer.prob.shape[1], index, input_bits),
        )

    def bias_at(self, shift: int) -> np.ndarray:
        """Rounded bias at `shift`, the mean flooring loss of the current added back."""
        return _round(self.bias * 2.0**shift + _floor_loss(shift))

    def fits(self, shift: int, bits: int) -> bool:
        """Thresholds below 2**(b - 2), biases and initial values within the b-bit range."""
        hi = (1 << (bits - 1)) - 1
        top = max(int(np.ceil(self.threshold.max(initial=1.0))), 1)
        return (
            top * 2.0**shift < 1 << (bits - 2)
            and np.abs(self.bias_at(shift)).max(initial=0) <= hi
            and np.abs(_round(self.initial * 2.0**shift)).max(initial=0) <= hi
        )


def _spiking_shift(units: _Units, bits: int, current_bits: int) -> int:
    """The largest shift at which the layer fits b bits (module doc), or the lowest tried."""
    shift = _MAX_SHIFTED_BITS - current_bits
    while shift > -current_bits and not units.fits(shift, bits):
        shift -= 1
    return shift


def _output_shift(units: _Units, config: AcceleratorConfig) -> int:
    hi = (1 << (config.membrane_bits - 1)) - 1
    worst = config.timesteps * (units.fan_in + float(np.abs(units.bias).max(initial=0.0)))
    worst += float(np.abs(units.initial).max(initial=0.0))
    shift = 0
    while worst * (1 << (shift + 1)) <= hi and shift < config.membrane_bits:
        shift += 1
    return shift


def _layer_shift(units: _Units, config: AcceleratorConfig) -> int:
    if units.spiking:
        return _spiking_shift(units, config.membrane_bits, units.current_bits)
    return _output_shift(units, config)


def _layer_reason(units: _Units, index: int, shift: int, config: AcceleratorConfig) -> str | None:
    """Why layer `index` cannot be held by b-bit membranes at `shift`, or None."""
    if not units.spiking:
        return None
    bits, steps = config.membrane_bits, config.timesteps
    if not units.fits(shift, bits):
        return (
            f"membrane_bits: layer {index}'s thresholds, biases and initial membranes do not "
            f"fit {bits} bits at any shift; use more membrane bits"
        )
    smallest = int(_round(units.threshold.min() * 2.0**shift))
    if smallest >= steps:
        return None
    return (
        f"membrane_bits: {bits} bits leave layer {index}'s smallest threshold {smallest} "
        f"units (shift {shift}), under T = {steps}: rounding over a run outweighs a "
        "threshold; use more membrane bits or fewer timesteps"
    )


def _check_widths(snn: ConvertedSNN, config: AcceleratorConfig) -> None:
    if tuple(snn.widths) != tuple(config.widths):
        raise ModelInputError(
            f"widths: the network has {list(snn.widths)} but the design says "
            f"{list(config.widths)}; set the design's widths from the model"
        )


def numerics_reason(snn: ConvertedSNN, config: AcceleratorConfig) -> str | None:
    """Why the design's membrane width cannot represent `snn` (module doc), or None if it can.

    The first failing layer is named; `quantize_network` still quantizes such a network (what
    the hardware would compute), so the reason is what marks the design infeasible.
    """
    _check_widths(snn, config)
    for index, layer in enumerate(snn.layers):
        units = _Units.of(layer, index, config.input_bits)
        reason = _layer_reason(units, index, _layer_shift(units, config), config)
        if reason is not None:
            return reason
    return None


def _to_membrane(values: np.ndarray, bits: int, lowest: int | None = None) -> np.ndarray:
    lo = -(1 << (bits - 1)) if lowest is None else lowest
    return np.clip(values, lo, (1 << (bits - 1)) - 1).astype(np.int64)


def quantize_network(snn: ConvertedSNN, config: AcceleratorConfig) -> IntegerNetwork:
    """Quantize a converted SNN to the integers the accelerator stores (see module doc)."""
    _check_widths(snn, config)
    bits = config.membrane_bits
    layers = []
    for index, layer in enumerate(snn.layers):
        units = _Units.of(layer, index, config.input_bits)
        shift = _layer_shift(units, config)
        if units.spiking:
            threshold = _to_membrane(_round(units.threshold * 2.0**shift), bits, lowest=1)
        else:
            threshold = np.ones(layer.prob.shape[0], dtype=np.int64)
        initial = _round(units.initial * 2.0**shift) - (1 if units.spiking and layer.strict else 0)
        layers.append(
            IntegerLayer(
                codes=quantize_probability(layer.prob, config.k_bits),
                threshold=threshold,
                bias=_to_membrane(units.bias_at(shift), bits),
                initial=_to_membrane(initial, bits),
                shift=shift,
                spiking=units.spiking,
                conv=layer.conv,
            )
        )
    return IntegerNetwork(layers=layers, input_bits=config.input_bits)


def score_divisor(net: IntegerNetwork) -> float:
    """Divide an integer class score by this to get the float model's score."""
    last = len(net.layers) - 1
    return float(input_scale(last, net.input_bits) * 2.0 ** net.layers[-1].shift)
