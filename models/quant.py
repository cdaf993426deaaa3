"""Quantized ReLU: the activation whose levels become spike counts after conversion."""

from __future__ import annotations

import torch
from torch import nn

from models.errors import ModelInputError

__all__ = ["QuantReLU", "quantize_activation"]


def quantize_activation(x: torch.Tensor, levels: int, clip: float) -> torch.Tensor:
    """Clamp to [0, clip] and round half-up onto `levels` equally spaced values (0 included).

    Half-up rounding (floor(v + 0.5)) is what an integrate-and-fire neuron that starts at half
    its threshold computes for a constant input, so the converted SNN reproduces it exactly.
    """
    steps = levels - 1
    xc = x.clamp(0.0, clip)
    return torch.floor(xc * (steps / clip) + 0.5) * (clip / steps)


class QuantReLU(nn.Module):
    """ReLU clipped at `clip` and quantized to `levels` values; straight-through gradient.

    The gradient passes unchanged inside (0, clip) and is zero outside, the usual clipped
    straight-through estimator, because rounding itself has zero gradient almost everywhere.
    """

    def __init__(self, levels: int, clip: float = 1.0) -> None:
        super().__init__()
        if int(levels) != levels or levels < 2:
            raise ModelInputError(f"levels: {levels!r} must be an integer >= 2, e.g. 4")
        if not clip > 0:
            raise ModelInputError(f"clip: {clip!r} must be positive, e.g. 1.0")
        self.levels = int(levels)
        self.clip = float(clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xc = x.clamp(0.0, self.clip)
        return xc + (quantize_activation(xc, self.levels, self.clip) - xc).detach()

    def extra_repr(self) -> str:
        return f"levels={self.levels}, clip={self.clip}"
