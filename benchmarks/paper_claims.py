"""The seed paper's three claims, measured on MNIST with intervals over seeds.

Trains (or loads from the cache) the Bayesian binary MLP (BayesBiNN) and the straight-through
(STE) deterministic binary MLP of the same architecture for every training seed, evaluates
every design for every evaluation seed (the hardware PRNG seed of the integer model, the torch
seed of the ANN), and prints mean ± half-width of the 95 % Student-t interval over the runs
(n = train seeds x eval seeds for stochastic models, n = train seeds for deterministic ones;
the test subset is fixed, so the interval covers training and sampling noise, not the
choice of test images):

* claim 1 - accuracy of the hardware-exact integer Bayesian SNN (k = 4 and 8, time ensemble)
  against the Bayesian binary ANN with full-precision Bernoulli parameters (float mu, S
  sampled weight sets) and the mode (sign) ANN;
* claim 2 - spikes and synaptic operations per inference of the time ensemble against the
  S-run repeat ensemble and the deterministic STE binary SNN at several T;
* claim 3 - accuracy, ECE, NLL, Brier, selective accuracy at 90/95 % coverage and AURC on the
  test set and under rotation (15-60 degrees), OOD AUROC against Fashion-MNIST and uniform
  noise, for the Bayesian SNN against the mode SNN with its own batch-norm statistics, the
  STE SNN, each with and without temperature scaling.

Trained models are cached under ``--cache`` (models.io format) and finished runs in
``runs-<settings hash>.json`` there, so a re-run only evaluates what is missing::

    OMP_NUM_THREADS=2 python benchmarks/paper_claims.py            # the documented run
    for s in 0 1 2; do python benchmarks/paper_claims.py --train-seed $s & done; wait
    python benchmarks/paper_claims.py                              # tables from the cache
    python benchmarks/paper_claims.py --max-train 2000 --epochs 2 --test-n 300 \\
        --shift-n 200 --val-n 200 --repeat-n 200 --cache runs/claims-tiny   # smoke test
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from models.baselines import mode_network, train_ste
from models.datasets import load_dataset, load_ood
from models.evaluation import EvalConfig, Prediction, fit_predictor
from models.intervals import t_interval
from models.io import load_model, save_model
from models.metrics import classification_metrics, ood_auroc
from models.selective import selective_metrics
from models.shift import rotate_images
from models.temperature import mc_probs
from models.training import TrainConfig, TrainedModel, train_model

REPO = Path(__file__).resolve().parents[1]
MNIST_ROOT = REPO.parent / "shared" / "datasets" / "mnist"
FIGURES = ("accuracy", "ece", "nll", "brier", "acc@90", "acc@95", "aurc")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=MNIST_ROOT)
    p.add_argument("--fashion-root", type=Path, default=None)
    p.add_argument("--widths", default="128,128")
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--dataset-size", type=float, default=1e6)
    p.add_argument("--max-train", type=int, default=10000, help="cap on train+val images")
    p.add_argument("--train-seeds", type=int, default=3)
    p.add_argument(
        "--train-seed",
        type=int,
        default=None,
        help="run only this training seed (one process per seed runs them in parallel); "
        "the tables use every seed finished so far",
    )
    p.add_argument("--eval-seeds", type=int, default=3)
    p.add_argument("--timesteps", type=int, default=8)
    p.add_argument("--samples", type=int, default=8, help="S of both ensembles and the ANN")
    p.add_argument("--val-n", type=int, default=1000, help="validation images (temperature)")
    p.add_argument("--test-n", type=int, default=2000, help="fixed test subset")
    p.add_argument("--shift-n", type=int, default=500, help="images per rotated / OOD set")
    p.add_argument("--repeat-n", type=int, default=500, help="test images for claim 2")
    p.add_argument("--angles", default="15,30,45,60")
    p.add_argument("--ste-timesteps", default="2,4,8,16")
    p.add_argument("--cache", type=Path, default=REPO / "runs" / "paper_claims")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    return p.parse_args()


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def cached_model(
    kind: str, cfg: TrainConfig, args: argparse.Namespace, train: Callable[[], TrainedModel]
) -> TrainedModel:
    """Load the model of (kind, cfg, data settings) from the cache, training it if absent."""
    key = json.dumps([kind, cfg.to_dict(), args.max_train, args.val_n], sort_keys=True)
    path = args.cache / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (path / "settings.json").is_file():
        return load_model(path)
    model = train()
    save_model(model, path)
    return model


def scores(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    return {**classification_metrics(probs, labels), **selective_metrics(probs, labels)}


class Sets:
    """The fixed test subset, its rotated copies and the OOD sets."""

    def __init__(self, splits: Any, args: argparse.Namespace) -> None:
        x, y = splits.test
        n = min(args.shift_n, len(y))
        self.test = (x, y)
        self.shifted = {a: (rotate_images(x[:n], a), y[:n]) for a in ints(args.angles)}
        self.ood = {
            "fashion": load_ood("fashion-mnist", splits, n=n, root=args.fashion_root),
            "noise": load_ood("noise", splits, n=n),
        }
        self.repeat_n = min(args.repeat_n, len(y))


def snn_record(pred: Callable[[torch.Tensor], Prediction], sets: Sets, full: bool) -> dict:
    """Figures of one SNN design with (`ts`) and without (`raw`) its temperature scaling."""
    x, y = sets.test
    test = pred(x)
    m = sets.repeat_n
    out: dict[str, Any] = {
        "spikes": float(test.spikes.sum(1).mean()),
        "synops": float(test.synops.mean()),
        "spikes_sub": float(test.spikes[:m].sum(1).mean()),
        "synops_sub": float(test.synops[:m].mean()),
    }
    for tag, probs in (("ts", test.probs), ("raw", test.probs_uncalibrated)):
        out[f"test/{tag}"] = scores(probs, y)
        out[f"sub/{tag}"] = {"accuracy": float((probs[:m].argmax(1) == y[:m]).double().mean())}
    if not full:
        return out
    for angle, (xs, ys) in sets.shifted.items():
        p = pred(xs)
        out[f"rot{angle}/ts"] = scores(p.probs, ys)
        out[f"rot{angle}/raw"] = scores(p.probs_uncalibrated, ys)
    n = len(next(iter(sets.ood.values())))
    for name, xo in sets.ood.items():
        p = pred(xo)
        out[f"ood_{name}/ts"] = ood_auroc(test.probs[:n], p.probs)
        out[f"ood_{name}/raw"] = ood_auroc(test.probs_uncalibrated[:n], p.probs_uncalibrated)
    return out


def ann_record(model: TrainedModel, sets: Sets, mode: str, samples: int, scale: float) -> dict:
    x, y = sets.test
    probs = mc_probs(model.network.eval().mc_logits(x, samples, mode), scale)
    return {"test/ts": scores(probs, y)}


def subset(splits: Any, n: int) -> Any:
    """`splits` with its test split cut to the first n images (claim 2's repeat ensemble)."""
    x, y = splits.test
    return replace(splits, test=(x[:n], y[:n]))


def evaluate_seed(
    train_seed: int, args: argparse.Namespace, console: Console, done: dict[str, Any]
) -> None:
    """Every design of one training seed; results land in `done` keyed by run."""
    pool = args.max_train or 60000
    splits = load_dataset(
        "mnist",
        root=args.root,
        seed=train_seed,
        val_fraction=min(0.5, args.val_n / pool),
        max_train=args.max_train,
        max_test=args.test_n,
    )
    cfg = TrainConfig(
        widths=tuple(ints(args.widths)),
        levels=args.levels,
        epochs=args.epochs,
        dataset_size=args.dataset_size,
        seed=train_seed,
        device="cpu",
    )
    bayes = cached_model("bayes", cfg, args, lambda: train_model(cfg, splits, progress=False))
    ste = cached_model("ste", cfg, args, lambda: train_ste(cfg, splits))
    mode = mode_network(bayes, splits)
    sets = Sets(splits, args)
    short = subset(splits, sets.repeat_n)
    t, s = args.timesteps, args.samples

    def run(key: str, make: Callable[[], dict]) -> None:
        if key in done:
            return
        start = time.perf_counter()
        done[key] = make()
        console.log(f"{key}: {time.perf_counter() - start:.0f} s")
        save_done(args, train_seed, done)

    def snn(model: TrainedModel, full: bool, data: Any = splits, **kw: Any) -> Callable[[], dict]:
        cfg = EvalConfig(evaluation="integer", **kw)
        return lambda: snn_record(fit_predictor(model, data, cfg), sets, full)

    det = {"samples": 1, "weights": "mode"}
    run(f"mode-snn|{train_seed}", snn(mode, True, timesteps=t, **det))
    run(f"ste-snn|{train_seed}", snn(ste, True, timesteps=t, **det))
    for steps in ints(args.ste_timesteps):
        if steps != t:
            run(f"ste-snn-T{steps}|{train_seed}", snn(ste, False, short, timesteps=steps, **det))
    run(
        f"mode-ann-sampledbn|{train_seed}",
        lambda: ann_record(bayes, sets, "mode", 1, bayes.output_scale_mode),
    )
    run(f"mode-ann|{train_seed}", lambda: ann_record(mode, sets, "mode", 1, 1.0))
    run(f"ste-ann|{train_seed}", lambda: ann_record(ste, sets, "mode", 1, 1.0))
    for eval_seed in range(args.eval_seeds):
        tag = f"{train_seed}.{eval_seed}"
        torch.manual_seed(eval_seed)
        run(f"bayes-ann|{tag}", lambda: ann_record(bayes, sets, "sample", s, bayes.output_scale))
        common = {"timesteps": t, "samples": s, "seed": eval_seed}
        run(f"time-k8|{tag}", snn(bayes, True, ensemble="time", k_bits=8, **common))
        run(f"time-k4|{tag}", snn(bayes, False, ensemble="time", k_bits=4, **common))
        run(f"repeat-k8|{tag}", snn(bayes, False, short, ensemble="repeat", k_bits=8, **common))


def runs_file(args: argparse.Namespace, train_seed: int) -> Path:
    """Finished runs of one training seed under these settings (every flag but the cache,
    thread count and seed selection)."""
    ignored = ("cache", "threads", "train_seed", "markdown")
    settings = {k: str(v) for k, v in vars(args).items() if k not in ignored}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return args.cache / f"runs-{digest}-seed{train_seed}.json"


def save_done(args: argparse.Namespace, train_seed: int, done: dict[str, Any]) -> None:
    mine = {k: v for k, v in done.items() if k.split("|")[1].split(".")[0] == str(train_seed)}
    runs_file(args, train_seed).write_text(json.dumps(mine, indent=1, sort_keys=True))


def collect(done: dict[str, Any], design: str, path: str, figure: str | None = None) -> list:
    """Values of one figure over every run of `design`."""
    values = []
    for key, record in done.items():
        if key.split("|")[0] == design and path in record:
            item = record[path]
            values.append(item[figure] if figure else item)
    return values


def per_train_seed(done: dict[str, Any], design: str, path: str, figure: str | None) -> dict:
    """Mean of one figure per training seed (over its evaluation seeds)."""
    found: dict[str, list[float]] = {}
    for key, record in done.items():
        name, run = key.split("|")
        item = record.get(path) if name == design else None
        if item is not None and (figure is None or figure in item):
            found.setdefault(run.split(".")[0], []).append(item[figure] if figure else item)
    return {seed: float(np.mean(v)) for seed, v in found.items()}


def paired(done: dict[str, Any], a: tuple, b: tuple, figure: str | None) -> list[float]:
    """Differences a - b per training seed: (design, path) pairs, same trained weights."""
    first, second = per_train_seed(done, *a, figure), per_train_seed(done, *b, figure)
    return [first[seed] - second[seed] for seed in sorted(first) if seed in second]


def cell(values: list[float], spec: str = ".4f") -> str:
    return f"{t_interval(values):{spec}} (n={len(values)})" if values else "-"


def show(console: Console, table: Table, markdown: bool) -> None:
    """Print `table` as a terminal table, or as a Markdown table for docs/bayesian.md."""
    if not markdown:
        console.print(table)
        return
    columns = [[str(c.header), *map(str, c.cells)] for c in table.columns]
    rows = list(zip(*columns, strict=True))
    lines = [f"**{table.title}**", "", "| " + " | ".join(rows[0]) + " |"]
    lines.append("|" + "---|" * len(rows[0]))
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    print("\n".join(lines) + "\n")


def print_tables(done: dict[str, Any], args: argparse.Namespace, console: Console) -> None:
    t, s = args.timesteps, args.samples
    c1 = Table(title=f"Claim 1: test accuracy on {args.test_n} MNIST test images")
    for col in ("model", "accuracy", "nll"):
        c1.add_column(col)
    rows1 = [
        (f"Bayesian SNN integer k=8, time S={s} T={t}", "time-k8", "test/ts"),
        (f"Bayesian SNN integer k=4, time S={s} T={t}", "time-k4", "test/ts"),
        (f"Bayesian binary ANN, float mu, S={s}", "bayes-ann", "test/ts"),
        ("mode ANN, own BN stats", "mode-ann", "test/ts"),
        ("mode ANN, BN stats of sampled weights", "mode-ann-sampledbn", "test/ts"),
        ("STE binary ANN", "ste-ann", "test/ts"),
    ]
    for name, design, path in rows1:
        c1.add_row(name, *(cell(collect(done, design, path, f)) for f in ("accuracy", "nll")))
    show(console, c1, args.markdown)

    c2 = Table(title=f"Claim 2: activity per inference on the first {args.repeat_n} test images")
    for col in ("model", "accuracy", "spikes", "synops", "spikes / time ens."):
        c2.add_column(col)
    base = np.mean(collect(done, "time-k8", "spikes_sub") or [np.nan])
    rows2 = [
        (f"Bayesian time ensemble S={s} T={t}", "time-k8"),
        (f"Bayesian repeat ensemble S={s} runs x T={t}", "repeat-k8"),
        (f"mode SNN (own BN) T={t}", "mode-snn"),
        *(
            (f"STE binary SNN T={steps}", "ste-snn" if steps == t else f"ste-snn-T{steps}")
            for steps in ints(args.ste_timesteps)
        ),
    ]
    for name, design in rows2:
        spikes = collect(done, design, "spikes_sub")
        ratio = f"{np.mean(spikes) / base:.2f}x" if spikes else "-"
        c2.add_row(
            name,
            cell(collect(done, design, "sub/ts", "accuracy")),
            cell(spikes, ".0f"),
            cell(collect(done, design, "synops_sub"), ".0f"),
            ratio,
        )
    show(console, c2, args.markdown)

    models3 = [
        (f"Bayesian SNN k=8 time S={s} + TS", "time-k8", "ts"),
        ("mode SNN, own BN", "mode-snn", "raw"),
        ("mode SNN, own BN + TS", "mode-snn", "ts"),
        ("STE binary SNN", "ste-snn", "raw"),
        ("STE binary SNN + TS", "ste-snn", "ts"),
    ]
    conditions = [("test", f"test set ({args.test_n})")]
    conditions += [(f"rot{a}", f"rotated {a} deg ({args.shift_n})") for a in ints(args.angles)]
    for cond, title in conditions:
        c3 = Table(title=f"Claim 3: {title}, T={t}")
        for col in ("model", *FIGURES):
            c3.add_column(col)
        for name, design, tag in models3:
            path = f"{cond}/{tag}"
            c3.add_row(name, *(cell(collect(done, design, path, f)) for f in FIGURES))
        show(console, c3, args.markdown)
    ood = Table(
        title=f"Claim 3: OOD AUROC by predictive entropy ({args.shift_n} vs {args.shift_n})"
    )
    for col in ("model", "Fashion-MNIST (near)", "uniform noise (far)"):
        ood.add_column(col)
    for name, design, tag in models3:
        ood.add_row(
            name, *(cell(collect(done, design, f"ood_{o}/{tag}")) for o in ("fashion", "noise"))
        )
    show(console, ood, args.markdown)

    diffs = Table(title="Paired differences, per training seed (eval seeds averaged), n = seeds")
    for col in ("a - b", "accuracy", "nll", "ece", "aurc", "AUROC Fashion", "AUROC noise"):
        diffs.add_column(col)
    bayes = ("time-k8", "test/ts")
    pairs = [
        ("Bayes SNN k=4 - k=8", ("time-k4", "test/ts"), bayes),
        ("Bayes SNN k=8 - Bayes ANN float mu", bayes, ("bayes-ann", "test/ts")),
        ("Bayes SNN - mode SNN own BN + TS", bayes, ("mode-snn", "test/ts")),
        ("Bayes SNN - STE SNN + TS", bayes, ("ste-snn", "test/ts")),
        ("repeat - time ensemble (claim-2 subset)", ("repeat-k8", "sub/ts"), ("time-k8", "sub/ts")),
    ]
    for name, a, b in pairs:
        cells = [cell(paired(done, a, b, f)) for f in ("accuracy", "nll", "ece", "aurc")]
        for o in ("fashion", "noise"):
            ends = [(d, f"ood_{o}/{p.split('/')[1]}") for d, p in (a, b)]
            cells.append(cell(paired(done, ends[0], ends[1], None)))
        diffs.add_row(name, *cells)
    show(console, diffs, args.markdown)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    console = Console(width=200)
    args.cache.mkdir(parents=True, exist_ok=True)
    done: dict[str, Any] = {}
    seeds = range(args.train_seeds)
    for train_seed in seeds:
        runs = runs_file(args, train_seed)
        done.update(json.loads(runs.read_text()) if runs.is_file() else {})
    start = time.perf_counter()
    for train_seed in seeds if args.train_seed is None else [args.train_seed]:
        evaluate_seed(train_seed, args, console, done)
    console.print(
        f"MNIST {args.widths} L={args.levels} E={args.epochs} N={args.dataset_size:g}; "
        f"{args.train_seeds} train x {args.eval_seeds} eval seeds; "
        f"{time.perf_counter() - start:.0f} s"
    )
    print_tables(done, args, console)


if __name__ == "__main__":
    main()
