"""Hardware-exact accuracy against membrane bits b and Bernoulli-parameter bits k (prints tables).

    python benchmarks/numerics.py                                   # digits, 64-128-10
    python benchmarks/numerics.py --dataset mnist --data-root ../shared/datasets/mnist \\
        --widths 256 --epochs 4 --max-train 20000 --max-test 2000 --bits 6,7,8,10

Trains one Bayesian binary network (or loads `--model`), converts it once, and evaluates the
integer hardware-exact model (`models.evaluation`, evaluation "integer") at every membrane
width b (k fixed at `--k`) and every code width k (b fixed at `--b`), averaging `--seeds`
evaluation seeds (the weight draws of the hardware PRNG).  Each row also says whether the
width is feasible (`models.quantize.numerics_reason`) and the first layer's scale: below the
first infeasible width the search marks designs infeasible with that reason.  The float
model's accuracy with the same samples is the reference line.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from rich.console import Console
from rich.table import Table

from models.conversion import convert
from models.datasets import load_dataset
from models.evaluation import EvalConfig, datapath_config, evaluate
from models.io import load_model
from models.quantize import quantize_network
from models.training import TrainConfig, train_model


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _first_shift(snn, cfg: EvalConfig) -> int:
    return quantize_network(snn, datapath_config(snn, cfg)).layers[0].shift


def _row(snn, splits, cfg: EvalConfig, seeds: int) -> tuple[float, float, str | None]:
    """Mean and standard error of the accuracy over evaluation seeds, and the reason if any."""
    runs = [evaluate(snn, splits, replace(cfg, seed=seed), split="test") for seed in range(seeds)]
    acc = np.array([r["accuracy"] for r in runs])
    error = acc.std(ddof=1) / np.sqrt(len(acc)) if len(acc) > 1 else float("nan")
    return float(acc.mean()), float(error), runs[0].get("infeasible_reason")


def _table(title: str, knob: str, rows: list[tuple]) -> Table:
    table = Table(title=title)
    for column in (knob, "accuracy %", "+-", "layer-0 shift", "feasible"):
        table.add_column(column, justify="right")
    table.add_column("reason", justify="left")
    for value, acc, error, shift, reason in rows:
        feasible = "yes" if reason is None else "NO"
        table.add_row(
            str(value), f"{100 * acc:.1f}", f"{100 * error:.1f}", str(shift), feasible, reason or ""
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--model", default=None, help="a saved model directory (skip training)")
    parser.add_argument("--widths", default="128", help="hidden widths, e.g. 256,256")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=None)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3, help="evaluation seeds per row")
    parser.add_argument("--bits", default="6,7,8,9,10,11,12,13,14,15,16", help="membrane bits b")
    parser.add_argument("--ks", default="1,2,3,4,5,6,7,8", help="Bernoulli-parameter bits k")
    parser.add_argument("--b", type=int, default=16, help="membrane bits of the k sweep")
    parser.add_argument("--k", type=int, default=8, help="code bits of the b sweep")
    args = parser.parse_args()
    start = time.perf_counter()
    splits = load_dataset(
        args.dataset, root=args.data_root, max_train=args.max_train, max_test=args.max_test
    )
    if args.model:
        model = load_model(args.model)
    else:
        train_cfg = TrainConfig(
            widths=tuple(_ints(args.widths)), levels=args.levels, epochs=args.epochs, seed=0
        )
        model = train_model(train_cfg, splits, progress=False)
    snn = convert(model)
    trained = time.perf_counter() - start
    base = EvalConfig(
        timesteps=args.timesteps, samples=args.samples, evaluation="integer", k_bits=args.k
    )
    float_acc, float_err, _ = _row(snn, splits, replace(base, evaluation="float"), args.seeds)
    console = Console()
    console.print(
        f"{args.dataset}: widths {snn.widths}, T={args.timesteps}, S={args.samples} repeat, "
        f"{len(splits.test[1])} test images, {args.seeds} evaluation seeds; float SNN "
        f"{100 * float_acc:.1f} +- {100 * float_err:.1f} %  (model ready in {trained:.0f} s)"
    )
    sweeps = (
        ("b", f"accuracy against membrane bits b (k = {args.k})", "membrane_bits", args.bits),
        ("k", f"accuracy against code bits k (b = {args.b})", "k_bits", args.ks),
    )
    for knob, title, field, values in sweeps:
        rows = []
        for value in _ints(values):
            fixed = {"k_bits": args.k} if knob == "b" else {"membrane_bits": args.b}
            cfg = replace(base, **fixed, **{field: value})
            acc, error, reason = _row(snn, splits, cfg, args.seeds)
            rows.append((value, acc, error, _first_shift(snn, cfg), reason))
        console.print(_table(title, knob, rows))
    console.print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
