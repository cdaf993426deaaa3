"""MNIST accuracy of one training recipe over several training seeds, float and hardware-exact.

Trains the recipe once per seed with BayesBiNN (two stages; CUDA when present), then scores
the converted SNN on all 10,000 test images with the time ensemble (T timesteps, S = T
weight samples in one run): the float simulator and the integer datapath at each `--k-bits`
(16-bit membranes).  Prints one row per seed and the mean with its 95 % t-interval over the
seeds; a `*` marks a figure whose design `models.quantize.numerics_reason` calls infeasible
at 16 bits.  The recipe table of docs/bayesian.md ("MNIST to 98 %") came from::

    python benchmarks/mnist_accuracy.py --widths 512,512 --epochs 60 --seeds 0,1,2 --k-bits 3,4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from models.datasets import load_dataset
from models.evaluation import EvalConfig, evaluate
from models.intervals import t_interval
from models.training import TrainConfig, train_model

MNIST_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=MNIST_ROOT)
    parser.add_argument("--widths", default="512,512")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=100)
    # MNIST's 784 inputs give smaller per-weight gradients: a larger N than digits' default.
    parser.add_argument("--dataset-size", type=float, default=1e6)
    parser.add_argument("--lr", type=float, default=TrainConfig().lr)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--k-bits", type=_ints, default=[4], help="e.g. 3,4")
    parser.add_argument("--seeds", type=_ints, default=[0, 1, 2], help="training seeds")
    parser.add_argument("--max-train", type=int, default=None, help="cap for a quick run")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    splits = load_dataset("mnist", root=args.root, seed=0, max_train=args.max_train)
    t = args.timesteps
    evals = {"float": EvalConfig(t, t, "time")}
    for k in args.k_bits:
        evals[f"integer k={k}"] = EvalConfig(t, t, "time", evaluation="integer", k_bits=k)
    rows: dict[str, list[float]] = {name: [] for name in ("train s", *evals)}
    table = Table(title=f"MNIST {args.widths}, L={args.levels}, {args.epochs} epochs, T=S={t}")
    for column in ("seed", *rows):
        table.add_column(column, justify="right")
    for seed in args.seeds:
        cfg = TrainConfig(
            widths=tuple(_ints(args.widths)),
            levels=args.levels,
            epochs=args.epochs,
            batch_size=args.batch_size,
            dataset_size=args.dataset_size,
            lr=args.lr,
            seed=seed,
        )
        model = train_model(cfg, splits, progress=True)
        rows["train s"].append(model.wall_time_s)
        cells = [f"{model.wall_time_s:.0f}"]
        for name, eval_cfg in evals.items():
            found = evaluate(model, splits, eval_cfg, split="test")
            rows[name].append(100 * found["accuracy"])
            mark = "*" if "infeasible_reason" in found else ""
            cells.append(f"{100 * found['accuracy']:.2f}{mark}")
        table.add_row(str(seed), *cells)
    table.add_row("mean ± 95 %", *(f"{t_interval(v):.2f}" for v in rows.values()))
    console.print(table)
    console.print(f"{len(splits.test[0])} test images; accuracy in %")


if __name__ == "__main__":
    main()
