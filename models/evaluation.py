"""Evaluate one design point: convert, simulate (float or hardware-exact), calibrate, score.

This is what the search calls per trial.  Steps:

1. convert the trained model (`models.conversion.convert`) unless a `ConvertedSNN` is given,
   which is then evaluated as is (its probabilities and thresholds already fixed);
2. run the SNN on the validation split and the scored split (and the OOD inputs): the
   scored split is ``selection`` while a search compares designs and ``test`` once for the
   designs it chose (`models.datasets` has the four splits); the float simulator
   (`models.snn_float`, weights drawn once from the seed and shared by every batch, as the
   hardware does) or the integer datapath (`models.snn_integer`, scores divided back to
   float units);
3. temperature scaling *of the SNN itself*: the output scale that minimises the validation
   NLL of ``mean over runs softmax(scale * scores / T)`` (`models.temperature`), starting
   from the conversion's `output_scale`, so the scored images never fit it;
   `ece_uncalibrated` is the scored split's ECE before it and every other probability
   metric is after it;
4. metrics on the scored split (`models.metrics`), OOD AUROC by predictive entropy, each
   accuracy-like metric with its bootstrap standard error over its images (`<metric>_se`);
5. the numerics check (`models.quantize.numerics_reason`, in both evaluation modes, since the
   hardware is built with `membrane_bits` either way): when b-bit membranes cannot hold the
   converted network, ``infeasible_reason`` says why (the metrics are still those computed).

`evaluate_seeds` repeats this with more weight-sample seeds: with few samples S the
ensemble's output depends on which weights were drawn, and the standard error then adds that
spread (see `seed_repeats` for when the search does it).

Activity conventions (what `hwmodel.estimate` prices): ``activity[l]`` is the mean number of
input events of weight layer l per timestep, per run (weight-sample lane) and per image,
index 0 being the dense input (n0, or C x H x W pixels) under direct encoding, and a layer
after a pooled convolutional block counting the block's spikes after the OR pooling;
``spikes_per_inference`` and ``spikes_per_layer`` count the spikes hidden layers hand on per
image (after pooling) summed over all runs and timesteps; ``synops_per_inference`` counts
executed add/subtract operations: spikes times fan-out (C_out x 9 for a convolution), plus
``samples * n0 * n1`` for the dense first layer computed once per weight sample
(`models.snn_float.synaptic_operations`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import torch

from hwmodel.template import AcceleratorConfig
from models.conversion import convert
from models.errors import ModelInputError
from models.metrics import (
    SE_METRICS,
    bootstrap_standard_errors,
    classification_metrics,
    ood_auroc,
    per_image_scores,
    spike_statistics,
)
from models.snn_float import (
    Encoding,
    Ensemble,
    default_device,
    sample_weights,
    simulate,
    synaptic_operations,
)
from models.snn_integer import (
    draw_weights,
    numerics_reason,
    quantize_input,
    quantize_network,
    run_integer,
    score_divisor,
)
from models.snn_spec import ConvertedSNN
from models.temperature import fit_output_scale, mc_probs
from models.threads import synaptic_work, threads_for

__all__ = [
    "EvalConfig",
    "Prediction",
    "Predictor",
    "correct_bits",
    "datapath_config",
    "evaluate",
    "evaluate_seeds",
    "fit_predictor",
    "seed_repeats",
]

_CHOICES = {
    "ensemble": ("time", "repeat"),
    "encoding": ("direct", "rate"),
    "evaluation": ("float", "integer"),
    "weights": ("sample", "mode"),
}


@dataclass(frozen=True)
class EvalConfig:
    """Every evaluation-time knob (none of them changes the trained weights)."""

    timesteps: int = 8
    samples: int = 10
    ensemble: Ensemble = "repeat"
    encoding: Encoding = "direct"
    evaluation: Literal["float", "integer"] = "float"
    weights: Literal["sample", "mode"] = "sample"
    k_bits: int = 8  # integer evaluation: Bernoulli-parameter bits
    membrane_bits: int = 16  # integer evaluation: saturating membrane width
    reuse: int = 1  # integer evaluation: weights sharing one random number
    input_bits: int = 8  # integer evaluation: pixel bits
    threshold_scales: tuple[float, ...] | None = None  # per hidden layer, at conversion
    seed: int = 0
    batch_size: int = 500  # images per float simulation call (memory ~ S * T * batch * width)
    device: str | None = None  # None: CUDA when available, else CPU

    def __post_init__(self) -> None:
        for name in ("timesteps", "samples", "batch_size"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ModelInputError(f"{name}: {value!r} must be a positive integer")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ModelInputError(
                    f"{name}: {getattr(self, name)!r} is not one of {', '.join(allowed)}"
                )
        if self.ensemble == "time" and self.samples > self.timesteps:
            raise ModelInputError(
                f"samples: {self.samples} exceeds timesteps {self.timesteps}; the 'time' "
                "ensemble spreads samples over timesteps, so use samples <= timesteps"
            )
        if self.evaluation == "integer" and self.encoding != "direct":
            raise ModelInputError(
                f"encoding: {self.encoding!r} has no hardware datapath; integer evaluation "
                "needs encoding 'direct'"
            )
        if self.threshold_scales is not None:
            object.__setattr__(self, "threshold_scales", tuple(self.threshold_scales))

    @property
    def runs(self) -> int:
        """T-step runs per inference."""
        return self.samples if self.ensemble == "repeat" else 1


@dataclass
class _Outputs:
    """One split through the SNN: float-unit scores [runs, N, C], events [N, L], synops [N]."""

    scores: torch.Tensor
    events: torch.Tensor
    synops: torch.Tensor

    def logits(self, snn: ConvertedSNN, cfg: EvalConfig) -> torch.Tensor:
        """The conversion's logits per run: output_scale * scores / T."""
        return snn.output_scale * self.scores.double() / cfg.timesteps


def _work(snn: ConvertedSNN, cfg: EvalConfig, batch: int) -> int:
    """Multiply-adds of one simulator call on `batch` images (what `threads_for` reads)."""
    dense = cfg.encoding == "direct"
    return synaptic_work(snn.geometry, cfg.samples, cfg.timesteps, batch, cfg.runs, dense)


def _float_runner(snn: ConvertedSNN, cfg: EvalConfig) -> Callable[[torch.Tensor], _Outputs]:
    device = torch.device(cfg.device) if cfg.device else default_device()
    weights = sample_weights(snn, cfg.samples, cfg.seed, cfg.encoding, device)

    def run(x: torch.Tensor) -> _Outputs:
        with threads_for(_work(snn, cfg, min(len(x), cfg.batch_size))):
            parts = [
                simulate(
                    snn,
                    x[start : start + cfg.batch_size],
                    cfg.timesteps,
                    cfg.samples,
                    cfg.ensemble,
                    cfg.encoding,
                    seed=cfg.seed + index,
                    device=device,
                    weights=weights,
                )
                for index, start in enumerate(range(0, len(x), cfg.batch_size))
            ]
        return _Outputs(
            scores=torch.cat([p.scores.cpu() for p in parts], dim=1),
            events=torch.cat([p.events for p in parts]),
            synops=torch.cat([p.synops for p in parts]),
        )

    return run


def datapath_config(snn: ConvertedSNN, cfg: EvalConfig) -> AcceleratorConfig:
    """The datapath knobs of the evaluation (the parallelism does not change results)."""
    return AcceleratorConfig(
        widths=snn.widths,
        k_bits=cfg.k_bits,
        membrane_bits=cfg.membrane_bits,
        reuse=cfg.reuse,
        ensemble=cfg.ensemble,
        timesteps=cfg.timesteps,
        samples=cfg.samples,
        input_bits=cfg.input_bits,
        seed=cfg.seed,
    )


def _integer_runner(snn: ConvertedSNN, cfg: EvalConfig) -> Callable[[torch.Tensor], _Outputs]:
    config = datapath_config(snn, cfg)
    net = quantize_network(snn, config)
    divisor = score_divisor(net)
    weights = draw_weights(net, config)  # once per evaluation, as the hardware does per seed

    def run(x: torch.Tensor) -> _Outputs:
        x_int = quantize_input(x.cpu().numpy(), cfg.input_bits)
        with threads_for(_work(snn, cfg, len(x))):
            result = run_integer(net, x_int, config, weights)
        events = torch.as_tensor(result.events.sum(axis=(1, 2)), dtype=torch.float64)
        # The dense first layer is not an event loop; count it as the float model does.
        events[:, 0] = float(snn.input_size * cfg.runs * cfg.timesteps)
        return _Outputs(
            scores=torch.as_tensor(result.scores / divisor),
            events=events,
            synops=synaptic_operations(snn.geometry, events, cfg.samples, cfg.encoding),
        )

    return run


def _converted(model: Any, cfg: EvalConfig) -> ConvertedSNN:
    if isinstance(model, ConvertedSNN):
        return model
    return convert(model, threshold_scales=cfg.threshold_scales, weights=cfg.weights)


def _labels(split: Sequence[torch.Tensor], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = split
    if len(x) == 0:
        raise ModelInputError(f"splits.{name}: empty; evaluation needs at least one image")
    return x, y


def correct_bits(probs: torch.Tensor, labels: torch.Tensor) -> str:
    """Which images the prediction gets right, packed (numpy.packbits, hex): what a paired
    comparison of two designs scored on the same images needs (dse.paired)."""
    correct = per_image_scores(probs, labels)["accuracy"].astype(np.uint8)
    return np.packbits(correct).tobytes().hex()


def evaluate(
    model: Any,
    splits: Any,
    eval_cfg: EvalConfig,
    ood: torch.Tensor | None = None,
    *,
    split: Literal["selection", "test"],
) -> dict[str, Any]:
    """Metrics of one design point on `split` (keys as in docs/architecture.md; module doc).

    `model` is a `TrainedModel` (converted here with the config's threshold scales and
    weight source) or a `ConvertedSNN`; `splits` has `val` and `split` as (x, y).  A search
    scores on ``selection``; ``test`` is for the designs it chose, once, after it.  Besides the
    metrics: ``<split>_images`` (how many) and ``<split>_correct`` (`correct_bits`).
    """
    start = time.perf_counter()
    snn = _converted(model, eval_cfg)
    run = (_integer_runner if eval_cfg.evaluation == "integer" else _float_runner)(snn, eval_cfg)
    x_val, y_val = _labels(splits.val, "val")
    x_eval, y_eval = _labels(getattr(splits, split), split)
    fit = fit_output_scale(run(x_val).logits(snn, eval_cfg), y_val)
    scored = run(x_eval)
    logits = scored.logits(snn, eval_cfg)
    probs = mc_probs(logits, fit.scale)
    metrics: dict[str, Any] = classification_metrics(probs, y_eval)
    metrics["ece_uncalibrated"] = classification_metrics(mc_probs(logits, 1.0), y_eval)["ece"]
    ood_probs = None if ood is None else mc_probs(run(ood).logits(snn, eval_cfg), fit.scale)
    if ood_probs is not None:
        metrics["ood_auroc"] = ood_auroc(probs, ood_probs)
    metrics.update(bootstrap_standard_errors(probs, y_eval, ood_probs))
    metrics[f"{split}_images"] = len(y_eval)
    metrics[f"{split}_correct"] = correct_bits(probs, y_eval)
    spikes = scored.events[:, 1:]
    metrics.update(spike_statistics(spikes.numpy(), list(snn.geometry.fan_outs[1:])))
    metrics["synops_per_inference"] = float(scored.synops.mean())
    per_step = scored.events.mean(dim=0) / (eval_cfg.runs * eval_cfg.timesteps)
    metrics["activity"] = [float(a) for a in np.asarray(per_step)]
    reason = numerics_reason(snn, datapath_config(snn, eval_cfg))
    if reason is not None:  # b-bit membranes cannot hold this network: the design is infeasible
        metrics["infeasible_reason"] = reason
    metrics["eval_seconds"] = time.perf_counter() - start
    return metrics


def seed_repeats(samples: int) -> int:
    """Weight-sample seeds the search evaluates a design with: 3 when S <= 2, else 1.

    Measured on two quickstart digits models (integer model, T = 8, k = 6, 5 seeds each):
    the spread of accuracy over seeds is up to 0.7 points at S <= 2 and up to 0.46 at
    S >= 4, against a bootstrap SE over the 360 test images of 1.0-1.3 points; one seed at
    S = 1 would understate the SE by up to ~17 %, at S >= 4 by under ~9 %.
    """
    return 3 if samples <= 2 else 1


def _seed_free(model: Any, cfg: EvalConfig) -> bool:
    """Whether the seed cannot change the metrics: binary weights (probabilities 0 or 1, so
    no random number decides a sign, at any k_bits) and direct-encoded input."""
    if cfg.encoding != "direct":
        return False
    if isinstance(model, ConvertedSNN):
        return all(np.isin(layer.prob, (0.0, 1.0)).all() for layer in model.layers)
    return cfg.weights == "mode"


def evaluate_seeds(
    model: Any,
    splits: Any,
    eval_cfg: EvalConfig,
    seeds: int,
    ood: torch.Tensor | None = None,
    *,
    split: Literal["selection", "test"],
) -> dict[str, Any]:
    """`evaluate` with seed ``seed`` (the hardware's), and ``seeds - 1`` more for the error.

    The metrics are those of ``seed``: the design as exported, whose C-simulation must match
    them. The other seeds only measure how much that figure owes to the weights drawn:
    ``<metric>_se`` becomes ``sqrt(bootstrap SE^2 + variance over seeds)``, the error of a
    one-seed figure as an estimate of the design's expected quality; ``<metric>_seed_mean``
    and ``<metric>_seed_sd`` are the mean and spread over the seeds.  A deterministic network
    (`_seed_free`) is evaluated once: every seed would run the same network.
    """
    if seeds < 1:
        raise ModelInputError(f"seeds: {seeds!r} must be a positive integer")
    if _seed_free(model, eval_cfg):
        seeds = 1
    runs = [
        evaluate(model, splits, replace(eval_cfg, seed=eval_cfg.seed + i), ood, split=split)
        for i in range(seeds)
    ]
    metrics = {**runs[0], "eval_seeds": seeds}
    if seeds == 1:
        return metrics
    for name in SE_METRICS:
        if name in metrics:
            values = np.array([r[name] for r in runs])
            metrics[f"{name}_se"] = math.sqrt(runs[0][f"{name}_se"] ** 2 + values.var(ddof=1))
            metrics[f"{name}_seed_mean"] = float(values.mean())
            metrics[f"{name}_seed_sd"] = float(values.std(ddof=1))
    metrics["eval_seconds"] = float(sum(r["eval_seconds"] for r in runs))
    return metrics


@dataclass
class Prediction:
    """One input set through a `Predictor`: probabilities [N, C] and activity per image."""

    probs: torch.Tensor  # after the SNN's temperature scaling
    probs_uncalibrated: torch.Tensor  # at the conversion's output scale
    spikes: torch.Tensor  # [N, hidden layers]: spikes summed over runs and timesteps
    synops: torch.Tensor  # [N]: synaptic operations (see the module doc)


@dataclass
class Predictor:
    """A design point whose temperature is fitted on validation, to score any input set
    (shifted or OOD) exactly as `evaluate` scores a split."""

    snn: ConvertedSNN
    cfg: EvalConfig
    scale: float
    run: Callable[[torch.Tensor], _Outputs]

    def __call__(self, x: torch.Tensor) -> Prediction:
        out = self.run(x)
        logits = out.logits(self.snn, self.cfg)
        return Prediction(
            probs=mc_probs(logits, self.scale),
            probs_uncalibrated=mc_probs(logits, 1.0),
            spikes=out.events[:, 1:],
            synops=out.synops,
        )


def fit_predictor(model: Any, splits: Any, eval_cfg: EvalConfig) -> Predictor:
    """Steps 1-3 of `evaluate`: convert, build the simulator, fit the SNN's temperature."""
    snn = _converted(model, eval_cfg)
    run = (_integer_runner if eval_cfg.evaluation == "integer" else _float_runner)(snn, eval_cfg)
    x_val, y_val = _labels(splits.val, "val")
    fit = fit_output_scale(run(x_val).logits(snn, eval_cfg), y_val)
    return Predictor(snn=snn, cfg=eval_cfg, scale=fit.scale, run=run)
