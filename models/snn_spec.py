"""The converted (float) spiking network: what ANN-to-SNN conversion hands to the simulators.

Plain numpy (no torch), so that the quantization (`models.quantize`) and the HLS generator
read it as arrays.  Units: the synaptic current of weight layer l is ``sum_i w_ji x_i`` with
w in {-1, +1} and x the layer's input (first layer: the input in [0, 1]; later layers:
spikes in {0, 1}).  A hidden neuron adds ``current + bias`` to its membrane every timestep
and fires when the membrane reaches ``threshold`` (reset by subtraction).  A `strict` layer
fires only above its threshold, as NIR's and snnTorch's neurons do (an imported network's,
`models.nir_import`); the hardware compares with ``>=`` and gets the same spikes by starting
such a layer's integer membranes one unit lower (`models.quantize`).

Convolutional layers come first and are stored like dense ones
(`hwmodel.template.NetworkGeometry`): `prob` is [C_out, C_in * 9], kernel index
``(c_in * 3 + ky) * 3 + kx`` (ky = 0 the row above, kx = 0 the column to the left), the same
weights at every pixel; threshold, bias and initial are per output channel [C_out], and
`conv` holds the geometry.  A neuron at (c, y, x) integrates the sum over its 3x3 x C_in
window (zeros outside the image); with `conv.pool` the layer hands on, per timestep, the OR
of each 2x2 group of its spikes.  The last block's output is flattened channel-major,
``(c * H + y) * W + x``, into the first dense layer, and the network's input is an image
(C, H, W) flattened the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwmodel.architecture import ConvShape
from hwmodel.template import GeometryView, NetworkGeometry

__all__ = ["ConvertedLayer", "ConvertedSNN"]


@dataclass
class ConvertedLayer:
    """One weight layer after folding batch-norm and the quantized ReLU's clip value."""

    prob: np.ndarray  # float [n_out, n_in]: P(w = +1), batch-norm sign flips already applied
    threshold: np.ndarray  # float [n_out] > 0 (hidden layers); ones for the output layer
    bias: np.ndarray  # float [n_out]: added every timestep
    initial: np.ndarray  # float [n_out]: membrane at the start of a run (e.g. threshold / 2)
    spiking: bool = True
    conv: ConvShape | None = None  # a 3x3 convolution: n_out = channels, n_in = C_in x 9
    strict: bool = False  # fires when v > threshold (NIR's rule) instead of v >= threshold


@dataclass
class ConvertedSNN(GeometryView):
    """A whole converted network plus the output scale fitted on the validation split."""

    layers: list[ConvertedLayer]
    output_scale: float = 1.0  # probabilities are softmax(output_scale * scores / timesteps)

    @property
    def geometry(self) -> NetworkGeometry:
        """The network's shape (validated): convolutions, neurons, fan-outs."""
        return NetworkGeometry(
            tuple(tuple(int(n) for n in layer.prob.shape) for layer in self.layers),
            tuple(layer.conv for layer in self.layers),
        )
