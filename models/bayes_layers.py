"""Bayesian binary layers: every weight is +1/-1 drawn from a learned Bernoulli.

`BayesBinaryLinear` is the fully connected layer, `BayesBinaryConv2d` the 3x3 convolution
(stride 1, zero padding 1, `hwmodel.architecture`), whose natural parameters are stored as a
[C_out, C_in * 9] matrix (kernel index ``(c_in * 3 + ky) * 3 + kx``), so that both draw their
weights in the same modes, BayesBiNN and the STE update them alike, and conversion reads
both as matrices.

The layer owns the natural parameters ``lam`` of the Bernoulli posterior,
P(w = +1) = sigmoid(2 lam) and mean mu = tanh(lam).  The forward pass draws weights in one of
four modes:

* ``relaxed``  training: the Gumbel-softmax relaxation of BayesBiNN,
  w = tanh((lam + delta) / tau), delta = 0.5 log(eps / (1 - eps)), eps ~ U(0, 1).  It is
  differentiable, so autograd leaves dL/dw * (1 - w^2) / tau in ``lam.grad`` and the
  optimizer (``models.bayesbinn.BayesBiNN``) only divides by (1 - mu^2).
* ``sample``   one hard Bernoulli draw per call (what the hardware does).
* ``mode``     sign(lam): the deterministic binary network (the frequentist baseline).
* ``mean``     mu: the posterior mean, a deterministic real-valued surrogate.
* ``ste``      sign(lam) forward with the straight-through gradient of clamp(lam, -1, 1):
  the deterministic binary network trained as in BinaryConnect (``models.baselines``), whose
  ``lam`` are then latent real weights rather than natural parameters.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from hwmodel.architecture import KERNEL, PADDING
from models.errors import ModelInputError

__all__ = ["BayesBinaryConv2d", "BayesBinaryLinear", "WeightMode", "WEIGHT_MODES"]

WeightMode = Literal["relaxed", "sample", "mode", "mean", "ste"]
WEIGHT_MODES: tuple[str, ...] = get_args(WeightMode)


class BayesBinaryLinear(nn.Module):
    """y = x W^T with binary weights W drawn from Bernoulli(sigmoid(2 lam)); no bias.

    There is no bias on purpose: batch-norm (hidden layers) or the output bias provides it,
    and both fold into the SNN neuron's per-timestep bias.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        tau: float = 1.0,
        lam_init: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not tau > 0:
            raise ModelInputError(f"tau: {tau!r} must be positive, e.g. 1.0")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.tau = float(tau)
        self.lam = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.reset_parameters(lam_init, generator)

    def reset_parameters(self, lam_init: float, generator: torch.Generator | None = None) -> None:
        """lam ~ U(-lam_init, lam_init): random signs with a spread of confidences.

        lam_init = 0 (e.g. before loading a state dict) draws nothing, leaving the RNG as is.
        """
        with torch.no_grad():
            if lam_init == 0:
                self.lam.zero_()
                return
            u = torch.rand(self.lam.shape, generator=generator)
            self.lam.copy_((2.0 * u - 1.0) * lam_init)

    @property
    def mu(self) -> torch.Tensor:
        """Posterior mean of each weight, tanh(lam)."""
        return torch.tanh(self.lam)

    @property
    def prob(self) -> torch.Tensor:
        """P(w = +1) = sigmoid(2 lam)."""
        return torch.sigmoid(2.0 * self.lam)

    def weight(self, mode: WeightMode) -> torch.Tensor:
        """One weight matrix [out, in] drawn in `mode` (see the module docstring)."""
        lam = self.lam
        if mode == "relaxed":
            eps = torch.rand_like(lam).clamp_(1e-10, 1.0 - 1e-7)
            delta = 0.5 * torch.log(eps / (1.0 - eps))
            return torch.tanh((lam + delta) / self.tau)
        if mode == "sample":
            draw = torch.rand_like(lam) < torch.sigmoid(2.0 * lam.detach())
            return torch.where(draw, 1.0, -1.0).to(lam.dtype)
        if mode == "mode":
            return torch.where(lam.detach() >= 0, 1.0, -1.0).to(lam.dtype)
        if mode == "mean":
            return torch.tanh(lam)
        if mode == "ste":
            hard = torch.where(lam.detach() >= 0, 1.0, -1.0).to(lam.dtype)
            soft = lam.clamp(-1.0, 1.0)
            return hard + soft - soft.detach()
        raise ModelInputError(f"mode: {mode!r} must be one of {', '.join(WEIGHT_MODES)}")

    def forward(self, x: torch.Tensor, mode: WeightMode = "relaxed") -> torch.Tensor:
        return F.linear(x, self.weight(mode))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, tau={self.tau}"


class BayesBinaryConv2d(BayesBinaryLinear):
    """3x3 convolution, stride 1, zero padding 1, binary weights; no bias.

    ``lam`` is [out_channels, in_channels * 9] (the layout the SNN and the hardware store), so
    `weight(mode)` draws the kernels exactly as `BayesBinaryLinear` draws a matrix; the
    forward pass reshapes the draw to [out, in, 3, 3].  Inputs are [B, in_channels, H, W].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        tau: float = 1.0,
        lam_init: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(in_channels * KERNEL * KERNEL, out_channels, tau, lam_init, generator)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)

    def forward(self, x: torch.Tensor, mode: WeightMode = "relaxed") -> torch.Tensor:
        kernel = self.weight(mode).view(self.out_channels, self.in_channels, KERNEL, KERNEL)
        return F.conv2d(x, kernel, padding=PADDING)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"kernel={KERNEL}x{KERNEL}, padding={PADDING}, tau={self.tau}"
        )
