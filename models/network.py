"""The Bayesian binary MLP that BayesBiNN trains and `models.conversion` turns into an SNN.

Hidden layer: BayesBinaryLinear -> BatchNorm1d (affine) -> activation (plain ReLU in training
stage 1, the quantized ReLU of `levels` values in stage 2).  Output layer: BayesBinaryLinear,
then one learned positive scalar gain and a per-class bias.  There is deliberately no
per-class scale: the hardware accumulates +-1 synaptic events and cannot multiply, so the
output neuron can only add ``bias / gain`` per timestep; a global scale is free because
softmax(scale * scores) applies it in software.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from models.bayes_layers import WEIGHT_MODES, BayesBinaryLinear, WeightMode
from models.errors import ModelInputError
from models.quant import QuantReLU

__all__ = ["BayesBinaryMLP"]


class BayesBinaryMLP(nn.Module):
    """MLP over inputs in [0, 1]; `widths` = (inputs, hidden..., classes)."""

    def __init__(
        self,
        widths: Sequence[int],
        levels: int = 4,
        clip: float = 1.0,
        tau: float = 1.0,
        lam_init: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ModelInputError(
                f"widths: {list(widths)} must be at least two positive integers, e.g. 64,256,10"
            )
        self.widths = widths
        self.layers = nn.ModuleList(
            BayesBinaryLinear(n_in, n_out, tau=tau, lam_init=lam_init, generator=generator)
            for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(n) for n in widths[1:-1])
        self.quant = QuantReLU(levels, clip)
        self.quantized = True  # stage 1 of training switches this off (plain ReLU)
        # Positive output gain, initialised so that logits start at unit scale.
        self.log_gain = nn.Parameter(torch.tensor(-0.5 * math.log(widths[-2])))
        self.out_bias = nn.Parameter(torch.zeros(widths[-1]))

    @property
    def levels(self) -> int:
        """Activation levels of the quantized ReLU (0 included)."""
        return self.quant.levels

    @property
    def clip(self) -> float:
        """Clip value of the quantized ReLU: the activation that maps to one spike per step."""
        return self.quant.clip

    @property
    def gain(self) -> float:
        """The learned output gain (a plain float)."""
        return float(self.log_gain.detach().exp())

    def binary_parameters(self) -> list[nn.Parameter]:
        """The natural parameters that BayesBiNN updates."""
        return [layer.lam for layer in self.layers]

    def other_parameters(self) -> list[nn.Parameter]:
        """Batch-norm affine, output gain and bias: trained with an ordinary optimizer."""
        return [*self.norms.parameters(), self.log_gain, self.out_bias]

    def hidden(self, x: torch.Tensor, mode: WeightMode = "relaxed") -> list[torch.Tensor]:
        """Activations after every hidden layer (one weight draw per layer)."""
        outs = []
        act = self.quant if self.quantized else torch.relu
        for layer, norm in zip(self.layers[:-1], self.norms, strict=True):
            x = act(norm(layer(x, mode)))
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor, mode: WeightMode = "relaxed") -> torch.Tensor:
        """Logits [B, classes] with one weight draw in `mode`."""
        if mode not in WEIGHT_MODES:
            raise ModelInputError(f"mode: {mode!r} must be one of {', '.join(WEIGHT_MODES)}")
        hidden = self.hidden(x, mode)
        z = self.layers[-1](hidden[-1] if hidden else x, mode)
        return self.log_gain.exp() * z + self.out_bias

    @torch.no_grad()
    def mc_logits(
        self, x: torch.Tensor, samples: int = 10, mode: WeightMode = "sample"
    ) -> torch.Tensor:
        """Logits [samples, B, classes], a fresh weight draw per sample, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return torch.stack([self(x, mode) for _ in range(samples)])
        finally:
            self.train(was_training)
