"""Accuracy and training time of a convolutional Bayesian binary network against an MLP.

    python benchmarks/conv_accuracy.py [--dataset digits] [--conv 8p,16p] [--widths 64]
        [--mlp 128] [--epochs 40] [--timesteps 4,8] [--method bayesbinn] [--threads 1]

Trains the convolutional recipe and the MLP (hidden widths `--mlp`; `--mlp ""` skips it)
with `--method` (BayesBiNN or STE), on the same split and seed, then scores each on the whole
test split: the ANN (posterior mode, and the mean of 10 sampled-weight softmaxes), the
converted float SNN and the integer datapath (`--k-bits`, 16-bit membranes) at every
`--timesteps` T, with the time ensemble (S = T weight samples in one run; an STE network's
mode weights), as benchmarks/mnist_accuracy.py does.
Prints one row per network: weights, seconds per training epoch, accuracies.  MNIST comes
from ``../shared/datasets/mnist``, Fashion-MNIST from where the loader finds it (`--root`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from models.datasets import load_dataset
from models.evaluation import EvalConfig, evaluate
from models.training import TrainConfig, train_model

MNIST_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def _ann_accuracy(model, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    net = model.network.eval()
    with torch.no_grad():
        mode = (net(x, "mode").argmax(1) == y).float().mean()
        probs = torch.softmax(net.mc_logits(x, 10, "sample"), -1).mean(0)
    return float(mode), float((probs.argmax(1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--root", type=Path, default=None, help="default: the loader's search")
    parser.add_argument("--conv", default="8p,16p")
    parser.add_argument("--widths", type=_ints, default=(64,))
    parser.add_argument("--mlp", type=_ints, default=(128,))
    parser.add_argument("--method", default="bayesbinn", choices=("bayesbinn", "ste"))
    parser.add_argument("--lr", type=float, default=TrainConfig().lr)
    parser.add_argument("--lr-other", type=float, default=TrainConfig().lr_other)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dataset-size", type=float, default=TrainConfig().dataset_size)
    parser.add_argument("--timesteps", type=_ints, default=(4, 8))
    parser.add_argument("--k-bits", type=int, default=4)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = args.root or (MNIST_ROOT if args.dataset == "mnist" else None)
    splits = load_dataset(
        args.dataset, root=root, seed=0, max_train=args.max_train, max_test=args.max_test
    )
    x, y = splits.test
    recipes = {f"conv {args.conv} + {list(args.widths)}": (args.conv, args.widths)}
    if args.mlp:
        recipes[f"mlp {list(args.mlp)}"] = ("", args.mlp)
    print(
        f"{args.dataset}: {len(splits.train[1])} training, {len(y)} test images; "
        f"{args.method}, lr {args.lr}, lr_other {args.lr_other}, "
        f"L={args.levels}, {args.epochs} epochs, batch {args.batch_size}, "
        f"{args.threads} thread(s); SNN: time ensemble S=T, integer k={args.k_bits}, b=16"
    )
    for name, (conv, widths) in recipes.items():
        cfg = TrainConfig(
            method=args.method,
            lr=args.lr,
            lr_other=args.lr_other,
            conv=conv,
            widths=widths,
            levels=args.levels,
            epochs=args.epochs,
            batch_size=args.batch_size,
            dataset_size=args.dataset_size,
            seed=args.seed,
            device="cpu",
        )
        start = time.perf_counter()
        model = train_model(cfg, splits, progress=False)
        per_epoch = (time.perf_counter() - start) / args.epochs
        n_weights = sum(layer.lam.numel() for layer in model.network.layers)
        mode, sampled = _ann_accuracy(model, x, y)
        cells = [f"ANN mode {mode:.4f}"]
        if args.method == "bayesbinn":  # an STE network's latent weights are no posterior
            cells.append(f"ANN sampled {sampled:.4f}")
        for t in args.timesteps:
            for evaluation in ("float", "integer"):
                weights = "mode" if args.method == "ste" else "sample"
                cfg_eval = EvalConfig(
                    t, t, "time", evaluation=evaluation, k_bits=args.k_bits, weights=weights
                )
                begin = time.perf_counter()
                metrics = evaluate(model, splits, cfg_eval, split="test")
                seconds = time.perf_counter() - begin
                cells.append(f"{evaluation} T={t} {metrics['accuracy']:.4f} ({seconds:.0f} s)")
        print(f"{name}: {n_weights} weights, {per_epoch:.2f} s/epoch; " + ", ".join(cells))


if __name__ == "__main__":
    main()
