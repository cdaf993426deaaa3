"""Spread of accuracy over weight-sample seeds against the bootstrap SE over test images.

Decides `models.evaluation.seed_repeats` (when the search averages several seeds):

    python benchmarks/seed_spread.py runs/quickstart/models [--models 2] [--seeds 5]

prints, per cached model, ensemble mode and sample count S, the mean accuracy, its standard
deviation over seeds and the mean bootstrap SE, in points (digits, integer model, T = 8).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from models.datasets import load_dataset
from models.evaluation import EvalConfig, evaluate
from models.io import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="a study's model cache (runs/NAME/models)")
    parser.add_argument("--models", dest="count", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    splits = load_dataset("digits", seed=0)
    dirs = sorted(p for p in args.models.iterdir() if not p.name.startswith("."))
    print("model     ensemble  S  accuracy %  seed sd  bootstrap SE (points)")
    for directory in dirs[: args.count]:
        model = load_model(directory)
        for ensemble in ("repeat", "time"):
            for samples in (1, 2, 4, 8):
                runs = [
                    evaluate(
                        model,
                        splits,
                        EvalConfig(
                            timesteps=8,
                            samples=samples,
                            ensemble=ensemble,
                            evaluation="integer",
                            k_bits=6,
                            seed=1 + seed,
                        ),
                        split="test",
                    )
                    for seed in range(args.seeds)
                ]
                acc = 100 * np.array([r["accuracy"] for r in runs])
                se = 100 * np.mean([r["accuracy_se"] for r in runs])
                print(
                    f"{directory.name[:8]}  {ensemble:8s} {samples:2d}  {acc.mean():10.2f}"
                    f"  {acc.std(ddof=1):7.2f}  {se:6.2f}"
                )


if __name__ == "__main__":
    main()
