"""BayesBiNN (Meng, Bachmann, Khan, ICML 2020) as a torch optimizer over natural parameters.

The parameters handed to this optimizer are the ``lam`` tensors of
``models.bayes_layers.BayesBinaryLinear``.  After a relaxed forward/backward pass autograd
has put dL/dlam = dL/dw * (1 - w^2) / tau into ``lam.grad``; dividing by dmu/dlam = 1 - mu^2
turns it into the BayesBiNN gradient g (the natural-gradient direction in mean
parameters).  The update is the mirror-descent step on the Bernoulli's natural parameters

    lam <- (1 - lr) lam - lr (N g - prior_lam)

with N the effective data-set size (the weight of the likelihood against the prior) and
``prior_lam`` the prior's natural parameter (0 = P(+1) = 1/2).  Its fixed point is
lam = prior_lam - N g, so N directly sets how confident the posterior may become.

``slope_floor`` bounds the division: g = lam.grad / max(1 - mu^2, slope_floor).  For a
confident weight the ratio (1 - w^2) / (1 - mu^2) behaves like (1 - eps) / eps, a
heavy-tailed variable with infinite mean, so without a floor rare relaxed draws kick
confident weights by N times a huge g and flip them at random; that is what made large N
(a sharp posterior) lose accuracy.  The floor (default 0.1, i.e. |lam| ~ 1.8) damps those
kicks; 0 gives the textbook rule.

With ``mc_samples > 1`` the step needs a closure (as for LBFGS) that zeroes the gradients,
draws a relaxed forward pass, back-propagates and returns the loss; g is averaged over the
samples.  With one sample the closure is optional (call ``loss.backward()`` before step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from models.errors import ModelInputError

__all__ = ["BayesBiNN"]

# 1 - mu^2 is never below this, so that a saturated lam cannot divide by zero.
_MIN_SLOPE = 1e-20


class BayesBiNN(torch.optim.Optimizer):
    """Mirror-descent BayesBiNN update of natural parameters (see the module docstring)."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        dataset_size: float = 1.0,
        prior_lam: float = 0.0,
        mc_samples: int = 1,
        slope_floor: float = 0.1,
    ) -> None:
        if not 0 < lr <= 1:
            raise ModelInputError(f"lr: {lr!r} must be in (0, 1], e.g. 0.01")
        if not dataset_size > 0:
            raise ModelInputError(f"dataset_size: {dataset_size!r} must be positive")
        if int(mc_samples) != mc_samples or mc_samples < 1:
            raise ModelInputError(f"mc_samples: {mc_samples!r} must be a positive integer")
        if not 0 <= slope_floor <= 1:
            raise ModelInputError(f"slope_floor: {slope_floor!r} must be in [0, 1], e.g. 0.1")
        defaults = {
            "lr": lr,
            "dataset_size": float(dataset_size),
            "prior_lam": float(prior_lam),
            "mc_samples": int(mc_samples),
            "slope_floor": max(float(slope_floor), _MIN_SLOPE),
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """One update; returns the mean closure loss over the MC samples (None without one)."""
        samples = max(group["mc_samples"] for group in self.param_groups)
        if samples > 1 and closure is None:
            raise ModelInputError("closure: BayesBiNN with mc_samples > 1 needs a closure")
        grads: dict[torch.Tensor, torch.Tensor] = {}
        losses = []
        for _ in range(samples if closure is not None else 1):
            if closure is not None:
                with torch.enable_grad():
                    losses.append(closure().detach())
            for group in self.param_groups:
                for lam in group["params"]:
                    if lam.grad is None:
                        continue
                    slope = (1.0 - torch.tanh(lam).square()).clamp_min(group["slope_floor"])
                    g = lam.grad / slope
                    grads[lam] = grads[lam] + g if lam in grads else g
        for group in self.param_groups:
            lr, n, prior = group["lr"], group["dataset_size"], group["prior_lam"]
            for lam in group["params"]:
                if lam not in grads:
                    continue
                g = grads[lam] / max(len(losses), 1)
                lam.mul_(1.0 - lr).add_(n * g - prior, alpha=-lr)
        return torch.stack(losses).mean() if losses else None
