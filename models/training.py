"""Two-stage BayesBiNN training of the Bayesian binary network (the seed paper's recipe).

Stage 1 trains the binary posterior with a plain ReLU; stage 2 continues with the ReLU
quantized to `levels` values, so that activations map onto spike counts.  Afterwards the
batch-norm statistics are recomputed with *sampled* hard weights (the network the hardware
runs), and one output scale is fitted on the validation split (``models.temperature``).
See docs/bayesian.md for why the defaults are what they are.

The network is an MLP, or with ``TrainConfig.conv`` a convolutional front before it
(`models.network`), over images whose shape (C, H, W) comes from the data (`image_shape`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from hwmodel.architecture import flat_size, parse_blocks
from hwmodel.errors import HardwareInputError
from models.bayes_layers import WeightMode
from models.bayesbinn import BayesBiNN
from models.errors import ModelInputError
from models.network import BayesBinaryNet
from models.temperature import fit_output_scale, mc_probs
from models.train_config import TrainConfig

__all__ = [
    "EpochCallback",
    "TrainConfig",
    "TrainedModel",
    "TrainingDivergedError",
    "batches",
    "build_network",
    "image_shape",
    "recalibrate_batchnorm",
    "resolve_device",
    "train_model",
]


#: Told after every training epoch: (epochs done, total epochs), e.g. for a progress line.
EpochCallback = Callable[[int, int], None]


class TrainingDivergedError(RuntimeError):
    """The loss became NaN/inf: a failed run (not the user's input), e.g. lr too large."""


@dataclass
class TrainedModel:
    """A trained network with the settings and validation figures that produced it."""

    network: BayesBinaryNet
    config: TrainConfig
    output_scale: float = 1.0  # logit multiplier fitted on validation for sampled weights
    output_scale_mode: float = 1.0  # the same for the mode (frequentist binary) network
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0
    dataset: str = ""

    @property
    def widths(self) -> tuple[int, ...]:
        """(inputs, hidden..., classes)."""
        return self.network.widths


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present; anything else is passed to torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ModelInputError(f"device: {device!r} is not a torch device ({exc})") from None


@contextmanager
def seeded_device(cfg: TrainConfig) -> Iterator[torch.device]:
    """The training device, with torch's random state forked and seeded from `cfg.seed`, so
    a training is reproducible and leaves the caller's random state as it was."""
    device = resolve_device(cfg.device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(cfg.seed)
        yield device


def image_shape(splits: Any, input_shape: tuple[int, ...] | None = None) -> tuple[int, int, int]:
    """(C, H, W) of the data's images: `input_shape` when given, else the splits'
    ``image_shape``, else a square one-channel image of ``input_dim`` pixels (8x8 digits,
    28x28 MNIST)."""
    shape = input_shape if input_shape is not None else getattr(splits, "image_shape", None)
    if shape is None:
        side = math.isqrt(int(splits.input_dim))
        if side * side != splits.input_dim:
            raise ModelInputError(
                f"input_shape: {splits.input_dim} inputs are not a square image; give the "
                "image shape (channels, height, width) for a convolutional network"
            )
        return (1, side, side)
    shape = tuple(int(v) for v in shape)
    if len(shape) != 3 or math.prod(shape) != splits.input_dim:
        raise ModelInputError(
            f"input_shape: {shape} must be (channels, height, width) of {splits.input_dim} inputs"
        )
    return shape  # type: ignore[return-value]


def build_network(
    cfg: TrainConfig,
    splits: Any,
    lam_init: float | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> BayesBinaryNet:
    """The untrained network `cfg` describes for `splits` (its inputs and classes; with
    ``cfg.conv`` its image shape, `image_shape`)."""
    lam_init = cfg.lam_init if lam_init is None else lam_init
    if not cfg.conv:
        widths = (splits.input_dim, *cfg.widths, splits.num_classes)
        return BayesBinaryNet(widths, cfg.levels, cfg.clip, cfg.tau, lam_init)
    shape = image_shape(splits, input_shape)
    try:
        flat = flat_size(shape, parse_blocks(cfg.conv))
    except HardwareInputError as exc:
        raise ModelInputError(str(exc)) from None
    widths = (flat, *cfg.widths, splits.num_classes)
    return BayesBinaryNet(
        widths, cfg.levels, cfg.clip, cfg.tau, lam_init, input_shape=shape, blocks=cfg.conv
    )


def batches(n: int, batch_size: int, shuffle: bool) -> list[torch.Tensor]:
    """Index batches of `n` examples; a last batch of one joins the one before it, since
    batch norm cannot normalise a single example in training mode (n % batch_size == 1)."""
    order = torch.randperm(n) if shuffle else torch.arange(n)
    parts = list(order.split(batch_size))
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2:] = [torch.cat(parts[-2:])]
    return parts


@torch.no_grad()
def recalibrate_batchnorm(
    net: BayesBinaryNet,
    x: torch.Tensor,
    passes: int = 4,
    batch_size: int = 256,
    mode: WeightMode = "sample",
) -> None:
    """Recompute batch-norm running statistics with hard weights drawn in `mode`.

    Training sees relaxed weights in (-1, 1); the SNN sees +-1 draws, whose pre-activations
    have a different mean and a larger variance.  The statistics are the exact average over
    `passes` epochs of batches, each batch with a fresh weight draw per layer (``sample``).
    ``mode`` gives the deterministic mode network its own statistics (one pass suffices).
    """
    was_training = net.training
    momenta = [norm.momentum for norm in net.norms]
    for norm in net.norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    net.train()
    for _ in range(passes):
        for idx in batches(len(x), batch_size, shuffle=True):
            net.hidden(x[idx], mode)
    for norm, momentum in zip(net.norms, momenta, strict=True):
        norm.momentum = momentum
    net.train(was_training)


def _validation_metrics(
    net: BayesBinaryNet, x: torch.Tensor, y: torch.Tensor, samples: int
) -> tuple[float, float, dict[str, Any]]:
    """Fit output scales on validation (sampled ensemble and mode); their val metrics."""
    from models.metrics import classification_metrics

    y = y.cpu()
    metrics: dict[str, Any] = {"frac_uncertain": posterior_uncertainty(net)}
    scales = []
    for mode, n, suffix in (("sample", samples, ""), ("mode", 1, "_mode")):
        logits = net.mc_logits(x, n, mode).cpu()
        fit = fit_output_scale(logits, y)
        scales.append(fit.scale)
        found = classification_metrics(mc_probs(logits, fit.scale), y)
        metrics.update({f"val_{k}{suffix}": float(v) for k, v in found.items()})
        metrics[f"val_ece_before_scaling{suffix}"] = fit.ece_before
        metrics[f"val_nll_before_scaling{suffix}"] = fit.nll_before
    return scales[0], scales[1], metrics


def posterior_uncertainty(net: BayesBinaryNet, threshold: float = 0.9) -> float:
    """Fraction of weights whose posterior mean |mu| is below `threshold` (not near-certain)."""
    with torch.no_grad():
        total = sum(layer.lam.numel() for layer in net.layers)
        uncertain = sum(int((layer.mu.abs() < threshold).sum()) for layer in net.layers)
    return uncertain / total


def _run_stage(
    net: BayesBinaryNet,
    cfg: TrainConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    bar: tqdm,
    done_before: int = 0,
    on_epoch: EpochCallback | None = None,
) -> None:
    """One training stage: BayesBiNN on lam, Adam on the rest, cosine-decayed step sizes.

    `done_before` epochs ran in earlier stages; `on_epoch` is told each one that finishes."""
    n_steps = epochs * len(batches(len(x), cfg.batch_size, shuffle=False))
    if n_steps == 0:
        return
    bbinn = BayesBiNN(
        net.binary_parameters(),
        lr=cfg.lr,
        dataset_size=cfg.dataset_size or len(x),
        prior_lam=cfg.prior_lam,
        mc_samples=cfg.mc_samples,
        slope_floor=cfg.slope_floor,
    )
    adam = torch.optim.Adam(net.other_parameters(), lr=cfg.lr_other)
    schedules = [torch.optim.lr_scheduler.CosineAnnealingLR(o, n_steps) for o in (bbinn, adam)]
    net.train()
    for epoch in range(done_before + 1, done_before + epochs + 1):
        total, count = 0.0, 0
        for idx in batches(len(x), cfg.batch_size, shuffle=True):
            xb, yb = x[idx], y[idx]

            def closure(xb: torch.Tensor = xb, yb: torch.Tensor = yb) -> torch.Tensor:
                bbinn.zero_grad()
                adam.zero_grad()
                loss = F.cross_entropy(net(xb, "relaxed"), yb)
                loss.backward()
                return loss

            loss = float(bbinn.step(closure))
            if not math.isfinite(loss):
                raise TrainingDivergedError(
                    f"training diverged (loss {loss}) in epoch {epoch}; lower lr or lr_other"
                )
            adam.step()
            for schedule in schedules:
                schedule.step()
            total += loss * len(idx)
            count += len(idx)
        bar.set_postfix(loss=f"{total / count:.4f}", quantized=net.quantized)
        bar.update(1)
        if on_epoch is not None:
            on_epoch(epoch, cfg.epochs)


def train_model(
    cfg: TrainConfig,
    splits: Any,
    progress: bool = True,
    on_epoch: EpochCallback | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> TrainedModel:
    """Train a BayesBinaryNet on `splits` (models.datasets.DatasetSplits) with `cfg`.

    ``cfg.method == "ste"`` trains the deterministic baseline instead (`models.baselines`), so
    that every caller gets the model its settings describe.  `on_epoch(done, total)` is
    called after every epoch (a study's progress bar shows it).  `input_shape` (C, H, W):
    the images' shape for a convolutional network, when the splits do not say
    (`image_shape`)."""
    if cfg.method == "ste":
        from models.baselines import train_ste  # it builds on this module

        return train_ste(cfg, splits, on_epoch=on_epoch, input_shape=input_shape)
    start = time.perf_counter()
    with seeded_device(cfg) as device:
        x, y = (t.to(device) for t in splits.train)
        xv, yv = (t.to(device) for t in splits.val)
        net = build_network(cfg, splits, input_shape=input_shape).to(device)
        with tqdm(total=cfg.epochs, desc="train", unit="epoch", disable=not progress) as bar:
            net.quantized = False
            _run_stage(net, cfg, x, y, cfg.stage1, bar, 0, on_epoch)
            net.quantized = True
            _run_stage(net, cfg, x, y, cfg.epochs - cfg.stage1, bar, cfg.stage1, on_epoch)
        if cfg.bn_samples:
            recalibrate_batchnorm(net, x, passes=cfg.bn_samples)
        net.eval()
        scale, scale_mode, metrics = _validation_metrics(net, xv, yv, cfg.calib_samples)
    net.cpu()
    return TrainedModel(
        network=net,
        config=cfg,
        output_scale=scale,
        output_scale_mode=scale_mode,
        metrics=metrics,
        wall_time_s=time.perf_counter() - start,
        dataset=getattr(splits, "name", ""),
    )
