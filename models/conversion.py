"""ANN-to-SNN conversion: fold batch-norm and the quantized ReLU into IF-neuron parameters.

Hidden layer l of the ANN computes a = q(gamma (z - m) / sigma + beta) with z = W x,
sigma = sqrt(var + eps) from the running statistics (recomputed with sampled weights by
training), and q the quantized ReLU with clip c.  The SNN neuron integrates
``W' s + bias`` per timestep and fires at ``threshold`` (reset by subtraction), so its rate
is clamp((W' r + bias) / threshold, 0, 1), r being the input rates.  Matching rate = a / c:

* the input of layer l is x = k r with k = 1 for the first layer (x in [0, 1]) and k = c for
  later layers (a spike stands for one clip value);
* s = sign(gamma); W' = s W, i.e. P(w'=+1) = 1 - P(w=+1) where gamma < 0, so that the
  threshold stays positive (the hardware compares v >= threshold);
* threshold = sigma c / (|gamma| k), bias = -s m / k + beta sigma / (|gamma| k);
* the membrane starts at threshold / 2, which turns the IF neuron's floor into the quantized
  ReLU's half-up rounding: for a constant input and T = levels - 1 the spike count equals the
  quantized activation exactly.

The output layer is a non-spiking accumulator: logits = g (W a) + b = g k (W r + b / (g k)),
so its bias is b / (g k) and ``output_scale`` = g k times the temperature fitted on
validation: probabilities = softmax(output_scale * scores / T).

Convolutional layers fold the same way per output channel (BatchNorm2d's gamma, beta, mean
and variance are per channel, and so are the thresholds and biases); their Bernoulli
parameters stay in the [C_out, C_in * 9] layout of the trained layer
(`models.snn_spec`).  Pooling changes no scale: the ANN max-pools quantized activations
a / c in {0, 1/(L-1), ..., 1}, the SNN ORs the spikes that stand for them, and a spike after
pooling still stands for one clip value (k = c for the layer after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from models.errors import ModelInputError
from models.imported import ImportedModel
from models.snn_spec import ConvertedLayer, ConvertedSNN
from models.training import TrainedModel

__all__ = ["convert"]

WeightSource = Literal["sample", "mode"]


def _probabilities(lam: torch.Tensor, weights: WeightSource) -> np.ndarray:
    """P(w=+1) per weight: the posterior (sample) or its 0/1 mode (frequentist)."""
    if weights == "sample":
        prob = torch.sigmoid(2.0 * lam.double())
    elif weights == "mode":
        prob = (lam >= 0).double()
    else:
        raise ModelInputError(f"weights: {weights!r} must be 'sample' or 'mode'")
    return prob.numpy()


def _threshold_scales(scales: Sequence[float] | None, n_hidden: int) -> np.ndarray:
    if scales is None:
        return np.ones(n_hidden)
    arr = np.asarray(list(scales), dtype=np.float64)
    if arr.shape != (n_hidden,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ModelInputError(
            f"threshold_scales: {list(scales)} must be {n_hidden} positive numbers, "
            "one per hidden layer"
        )
    return arr


@torch.no_grad()
def convert(
    model: TrainedModel | ImportedModel,
    threshold_scales: Sequence[float] | None = None,
    weights: WeightSource = "sample",
) -> ConvertedSNN:
    """The converted SNN of `model`; `threshold_scales` multiply each hidden threshold.

    ``weights="mode"`` gives the deterministic binary SNN (probabilities 0/1) with the output
    scale fitted for the mode network; ``"sample"`` keeps the Bernoulli posterior.  An
    imported model is already a (deterministic) SNN: it is handed on, thresholds scaled.
    """
    if isinstance(model, ImportedModel):
        _probabilities(torch.zeros(0), weights)  # the same check of `weights`
        return model.converted(threshold_scales)
    net = model.network
    n_hidden = len(net.norms)
    scales = _threshold_scales(threshold_scales, n_hidden)
    clip = net.clip
    layers: list[ConvertedLayer] = []
    in_scale = 1.0
    convs = [*net.conv_shapes, *([None] * (n_hidden - len(net.conv_shapes)))]
    for layer, norm, t_scale, conv in zip(net.layers[:-1], net.norms, scales, convs, strict=True):
        prob = _probabilities(layer.lam.detach().cpu(), weights)
        gamma = norm.weight.detach().cpu().double().numpy()
        beta = norm.bias.detach().cpu().double().numpy()
        mean = norm.running_mean.detach().cpu().double().numpy()
        sigma = np.sqrt(norm.running_var.detach().cpu().double().numpy() + norm.eps)
        sign = np.where(gamma < 0, -1.0, 1.0)
        mag = np.maximum(np.abs(gamma), 1e-12)
        prob = np.where(sign[:, None] < 0, 1.0 - prob, prob)
        threshold = sigma * clip / (mag * in_scale) * t_scale
        bias = -sign * mean / in_scale + beta * sigma / (mag * in_scale)
        layers.append(
            ConvertedLayer(prob, threshold, bias, threshold / 2.0, spiking=True, conv=conv)
        )
        in_scale = clip
    out = net.layers[-1]
    gain_k = net.gain * in_scale
    bias = net.out_bias.detach().cpu().double().numpy() / gain_k
    n_out = out.out_features
    layers.append(
        ConvertedLayer(
            _probabilities(out.lam.detach().cpu(), weights),
            threshold=np.ones(n_out),
            bias=bias,
            initial=np.zeros(n_out),
            spiking=False,
        )
    )
    temperature = model.output_scale_mode if weights == "mode" else model.output_scale
    return ConvertedSNN(layers=layers, output_scale=float(gain_k * temperature))
