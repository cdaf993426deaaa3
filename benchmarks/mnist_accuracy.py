"""MNIST accuracy of the converted Bayesian binary SNN on CPU, with wall times.

Target: SNN test accuracy >= 97.5 % at T <= 8 with hidden widths <= 1024.  Trains with
BayesBiNN (two stages, `TrainConfig` defaults unless overridden), then evaluates the float
SNN (`models.evaluation.evaluate`) with the repeat and time ensembles and the mode network::

    python benchmarks/mnist_accuracy.py [--widths 512,512 --epochs 24 --dataset-size 1e6]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from models.datasets import load_dataset
from models.evaluation import EvalConfig, evaluate
from models.metrics import classification_metrics
from models.temperature import mc_probs
from models.training import TrainConfig, train_model

MNIST_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=MNIST_ROOT)
    parser.add_argument("--widths", default="512,512")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=64)
    # MNIST's 784 inputs give smaller per-weight gradients: a larger N than digits' default.
    parser.add_argument("--dataset-size", type=float, default=1e6)
    parser.add_argument("--lr", type=float, default=TrainConfig().lr)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--max-train", type=int, default=None, help="cap for a quick run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    splits = load_dataset("mnist", root=args.root, seed=args.seed, max_train=args.max_train)
    cfg = TrainConfig(
        widths=tuple(int(w) for w in args.widths.split(",")),
        levels=args.levels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        dataset_size=args.dataset_size,
        lr=args.lr,
        seed=args.seed,
        device="cpu",
    )
    model = train_model(cfg, splits, progress=True)
    table = Table(title=f"MNIST {'-'.join(map(str, model.widths))}, L={args.levels}, CPU")
    for col in ("model", "accuracy", "ece", "nll", "wall s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    table.add_row("training (both stages)", "", "", "", f"{model.wall_time_s:.0f}")
    start = time.perf_counter()
    x, y = splits.test
    probs = mc_probs(model.network.eval().mc_logits(x, 10), model.output_scale)
    ann = classification_metrics(probs, y)
    wall = time.perf_counter() - start
    table.add_row("ANN S=10", *(f"{ann[k]:.4f}" for k in ("accuracy", "ece", "nll")), f"{wall:.0f}")
    rows = {
        f"SNN T={args.timesteps} S=10 repeat": EvalConfig(args.timesteps, 10, "repeat"),
        f"SNN T={args.timesteps} S={args.timesteps} time": EvalConfig(
            args.timesteps, args.timesteps, "time"
        ),
        f"SNN T={args.timesteps} mode": EvalConfig(args.timesteps, 1, weights="mode"),
    }
    for name, eval_cfg in rows.items():
        found = evaluate(model, splits, eval_cfg)
        cells = (f"{found[k]:.4f}" for k in ("accuracy", "ece", "nll"))
        table.add_row(name, *cells, f"{found['eval_seconds']:.0f}")
    console.print(table)
    console.print(f"train images {len(splits.train[0])}, val metrics {model.metrics}")


if __name__ == "__main__":
    main()
