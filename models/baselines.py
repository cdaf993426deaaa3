"""Frequentist binary baselines for the Bayesian binary network, on equal footing with it.

* `mode_network` - the posterior's mode sign(lam) as a deterministic network, with batch-norm
  statistics recomputed *with the mode weights* (the trained model's statistics come from
  sampled weights, which handicaps the mode network) and no temperature of its own.
* `train_ste` - the same architecture trained as a deterministic binary network with the
  straight-through estimator (BinaryConnect: latent real weights in [-1, 1], forward
  sign(w), gradient passed where |w| <= 1), the same two stages (plain ReLU, then the
  quantized ReLU) and step-size schedule as BayesBiNN training, and its own batch-norm
  statistics.

Both return a `TrainedModel` whose mode weights are the binary network (convert it with
``weights="mode"``) and whose ``output_scale_mode`` is 1: the trained output gain alone, no
temperature scaling.  Temperature scaling is then a separate, explicit step (the SNN's own,
in `models.evaluation`), so "with" and "without" it can be compared.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from models.network import BayesBinaryNet
from models.training import (
    EpochCallback,
    TrainConfig,
    TrainedModel,
    TrainingDivergedError,
    batches,
    build_network,
    recalibrate_batchnorm,
    seeded_device,
)

__all__ = ["mode_network", "train_ste"]


def mode_network(model: TrainedModel, splits: Any) -> TrainedModel:
    """The mode (sign) network of `model` with batch-norm statistics of its own weights.

    The statistics average shuffled batches, so the shuffle is seeded from the training seed
    (torch's random state forked): the same model always gives the same mode network."""
    net = copy.deepcopy(model.network)
    x = splits.train[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model.config.seed)
        recalibrate_batchnorm(net, x, passes=1, mode="mode")
    net.eval()
    return replace(model, network=net, output_scale=1.0, output_scale_mode=1.0, metrics={})


def _ste_stage(
    net: BayesBinaryNet,
    cfg: TrainConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    done_before: int = 0,
    on_epoch: EpochCallback | None = None,
) -> None:
    """Adam on every parameter, cosine-decayed; latent weights clipped to [-1, 1].

    `done_before` epochs ran in earlier stages; `on_epoch` is told each one that finishes."""
    n_batches = len(batches(len(x), cfg.batch_size, shuffle=False))
    if epochs == 0:
        return
    adam = torch.optim.Adam(net.parameters(), lr=cfg.lr_other)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(adam, epochs * n_batches)
    net.train()
    for epoch in range(done_before, done_before + epochs):
        for idx in batches(len(x), cfg.batch_size, shuffle=True):
            adam.zero_grad()
            loss = F.cross_entropy(net(x[idx], "ste"), y[idx])
            if not math.isfinite(loss.item()):
                raise TrainingDivergedError(
                    f"STE training diverged (loss {loss.item()}) in epoch {epoch + 1}; "
                    "lower lr_other"
                )
            loss.backward()
            adam.step()
            schedule.step()
            with torch.no_grad():
                for layer in net.layers:
                    layer.lam.clamp_(-1.0, 1.0)
        if on_epoch is not None:
            on_epoch(epoch + 1, cfg.epochs)


def train_ste(
    cfg: TrainConfig,
    splits: Any,
    on_epoch: EpochCallback | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> TrainedModel:
    """Train the deterministic binary network with the straight-through estimator (see module
    doc); `input_shape`: as for `models.training.train_model`.

    Uses `cfg`'s widths, levels, clip, epochs (and stage split), batch size, `lr_other` (Adam,
    for the latent weights too), `lam_init` (latent weights ~ U(-lam_init, lam_init)) and seed.
    The model records ``method="ste"``, so its saved settings say how it was trained.
    """
    start = time.perf_counter()
    with seeded_device(cfg) as device:
        x, y = (t.to(device) for t in splits.train)
        net = build_network(replace(cfg, tau=1.0), splits, min(cfg.lam_init, 1.0), input_shape).to(
            device
        )
        net.quantized = False
        _ste_stage(net, cfg, x, y, cfg.stage1, 0, on_epoch)
        net.quantized = True
        _ste_stage(net, cfg, x, y, cfg.epochs - cfg.stage1, cfg.stage1, on_epoch)
        recalibrate_batchnorm(net, x, passes=1, mode="mode")
        net.eval()
    net.cpu()
    return TrainedModel(
        network=net,
        config=replace(cfg, method="ste"),
        output_scale=1.0,
        output_scale_mode=1.0,
        wall_time_s=time.perf_counter() - start,
        dataset=getattr(splits, "name", ""),
    )
