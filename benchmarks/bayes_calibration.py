"""Does the Bayesian part matter?  Calibration and OOD detection of Bayesian vs mode SNNs.

Trains the digits MLP 64-256-256-10 with BayesBiNN for several seeds and training settings,
converts each network to an SNN twice (Bernoulli posterior / its deterministic mode, i.e. the
frequentist binary SNN) and evaluates it with `models.evaluation.evaluate` (float SNN, T=8):

* ``ann S10``   the Bayesian binary ANN, 10 weight samples (probabilities averaged);
* ``snn S10 repeat``  10 independent T-step runs, one weight sample each;
* ``snn S8 time``     one T-step run whose weight sample changes every timestep;
* ``snn mode``        deterministic binary SNN (sign of lam), its own output scale.

Columns: test accuracy, ECE before / after temperature scaling (fitted on validation),
NLL, OOD AUROC (uniform-noise images, predictive entropy), fraction of weights with
|mu| < 0.9; mean +- std over seeds.  Usage::

    python benchmarks/bayes_calibration.py [--seeds 3] [--settings default,N1e6,...]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from models.datasets import load_dataset, load_ood
from models.evaluation import EvalConfig, evaluate
from models.metrics import classification_metrics, ood_auroc
from models.temperature import mc_probs
from models.training import TrainConfig, train_model

SETTINGS = {
    "default": {},
    "N1e5": {"dataset_size": 1e5},
    "N1e6": {"dataset_size": 1e6},
    "no-floor N1e5": {"slope_floor": 0.0, "dataset_size": 1e5},
    "no-floor N3e5": {"slope_floor": 0.0},
    "no-bn-recal": {"bn_samples": 0},
}
SNN_ROWS = {
    "snn S10 repeat": EvalConfig(timesteps=8, samples=10, ensemble="repeat"),
    "snn S8 time": EvalConfig(timesteps=8, samples=8, ensemble="time"),
    "snn mode": EvalConfig(timesteps=8, samples=1, weights="mode"),
}
COLUMNS = ("accuracy", "ece_uncalibrated", "ece", "nll", "ood_auroc", "frac_uncertain")


def ann_metrics(model, splits, ood: torch.Tensor) -> dict[str, float]:
    """The Bayesian ANN with 10 samples and the output scale fitted in training."""
    net = model.network.eval()
    x, y = splits.test
    torch.manual_seed(0)
    logits = net.mc_logits(x, 10, "sample")
    probs = mc_probs(logits, model.output_scale)
    found = classification_metrics(probs, y)
    found["ece_uncalibrated"] = classification_metrics(mc_probs(logits), y)["ece"]
    found["ood_auroc"] = ood_auroc(probs, mc_probs(net.mc_logits(ood, 10), model.output_scale))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny models: threads only add overhead on shared cores
    console = Console(width=170)
    results: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    start = time.perf_counter()
    for name in args.settings.split(","):
        for seed in range(args.seeds):
            splits = load_dataset("digits", seed=seed)
            ood = load_ood("noise", like=splits, seed=seed)
            cfg = TrainConfig(widths=(256, 256), epochs=args.epochs, seed=seed, **SETTINGS[name])
            model = train_model(cfg, splits, progress=False)
            uncertain = model.metrics["frac_uncertain"]
            results[(name, "ann S10")].append(
                {**ann_metrics(model, splits, ood), "frac_uncertain": uncertain}
            )
            for row, eval_cfg in SNN_ROWS.items():
                found = evaluate(model, splits, eval_cfg, ood=ood, split="test")
                results[(name, row)].append({**found, "frac_uncertain": uncertain})
            console.print(f"{name} seed {seed}: {time.perf_counter() - start:.0f} s")
    table = Table(title=f"digits 64-256-256-10, T=8, {args.seeds} seeds (mean +- std)")
    for col in ("setting", "model", *COLUMNS):
        table.add_column(col, justify="left" if col in ("setting", "model") else "right")
    for (name, row), runs in results.items():
        cells = []
        for col in COLUMNS:
            values = np.array([r[col] for r in runs], dtype=float)
            cells.append(f"{values.mean():.3f}±{values.std():.3f}")
        table.add_row(name, row, *cells)
    console.print(table)
    console.print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
