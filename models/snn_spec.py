"""The converted (float) spiking network: what ANN-to-SNN conversion hands to the simulators.

Plain numpy (no torch), so that the quantization (`models.quantize`) and the HLS generator
read it as arrays.  Units: the synaptic current of weight layer l is ``sum_i w_ji x_i`` with
w in {-1, +1} and x the layer's input (first layer: the input in [0, 1]; later layers:
spikes in {0, 1}).  A hidden neuron adds ``current + bias`` to its membrane every timestep
and fires when the membrane reaches ``threshold`` (reset by subtraction).  A `strict` layer
fires only above its threshold, as NIR's and snnTorch's neurons do (an imported network's,
`models.nir_import`); the hardware compares with ``>=`` and gets the same spikes by starting
such a layer's integer membranes one unit lower (`models.quantize`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConvertedLayer", "ConvertedSNN"]


@dataclass
class ConvertedLayer:
    """One weight layer after folding batch-norm and the quantized ReLU's clip value."""

    prob: np.ndarray  # float [n_out, n_in]: P(w = +1), batch-norm sign flips already applied
    threshold: np.ndarray  # float [n_out] > 0 (hidden layers); ones for the output layer
    bias: np.ndarray  # float [n_out]: added every timestep
    initial: np.ndarray  # float [n_out]: membrane at the start of a run (e.g. threshold / 2)
    spiking: bool = True
    strict: bool = False  # fires when v > threshold (NIR's rule) instead of v >= threshold


@dataclass
class ConvertedSNN:
    """A whole converted network plus the output scale fitted on the validation split."""

    layers: list[ConvertedLayer]
    output_scale: float = 1.0  # probabilities are softmax(output_scale * scores / timesteps)

    @property
    def widths(self) -> tuple[int, ...]:
        """(inputs, ..., classes)."""
        return (self.layers[0].prob.shape[1], *(lay.prob.shape[0] for lay in self.layers))
