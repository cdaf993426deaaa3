"""The seed paper's three claims, measured on MNIST with intervals over seeds.

Trains (or loads from the cache) the Bayesian binary MLP (BayesBiNN) and the straight-through
(STE) deterministic binary MLP of the same architecture and training budget for every
training seed, evaluates every design for every evaluation seed (the hardware PRNG seed of the
integer model, the torch seed of the ANN), averages the evaluation seeds within each training
seed, and prints mean ± half-width of the 95 % Student-t interval over the training seeds
(n = train seeds: the unit is the trained network; the test subset is fixed, so this
interval covers training and sampling noise, not the choice of test images). Every a - b
comparison is printed twice: the t-interval of the per-seed differences, and a paired
bootstrap over the test images (per-image correctness and NLL of both designs, averaged
over the seeds, resampled together), which covers the choice of test images. Every table
states the training budget (architecture, epochs, batch, optimizers) both methods had:

* claim 1 - accuracy of the hardware-exact integer Bayesian SNN (k = 4 and 8, time ensemble)
  against the Bayesian binary ANN with full-precision Bernoulli parameters (float mu, S
  sampled weight sets) and the mode (sign) ANN;
* claim 2 - spikes and synaptic operations per inference of the time ensemble against the
  S-run repeat ensemble and the deterministic STE binary SNN at several T;
* claim 3 - accuracy, ECE, NLL, Brier, selective accuracy at 90/95 % coverage and AURC on the
  test set and under rotation (15-60 degrees), OOD AUROC against Fashion-MNIST and uniform
  noise, for the Bayesian SNN against the mode SNN with its own batch-norm statistics, the
  STE SNN, each with and without temperature scaling;
* equal budget - every SNN on the whole test subset: accuracy, NLL, ECE, hidden spikes and
  synaptic operations per image, the deterministic ones (mode, STE) at k = 1 (their weights
  are +-1 for certain, so one code bit is exact).

``--designs`` runs a subset of the designs (the others print as "-"), ``--ood`` picks the OOD
sets (Fashion-MNIST needs its IDX files, see `models.datasets`), ``--device cuda`` trains on
a GPU, ``--tables-only`` prints what the cache holds without training or evaluating.

Trained models are cached under ``--cache`` (models.io format) and finished runs in
``runs-<settings hash>.json`` there, so a re-run only evaluates what is missing::

    OMP_NUM_THREADS=2 python benchmarks/paper_claims.py            # the documented run
    for s in 0 1 2; do python benchmarks/paper_claims.py --train-seed $s & done; wait
    python benchmarks/paper_claims.py                              # tables from the cache
    python benchmarks/paper_claims.py --max-train 2000 --epochs 2 --test-n 300 --ood noise \\
        --shift-n 200 --val-n 200 --repeat-n 200 --cache runs/claims-tiny   # smoke test

The mnist98 budget (studies/mnist98.yaml's training: 784-512-512-10, 60 epochs, batch 100,
N = 1e6, all 60,000 training images, 6,000 of them for validation; every test image)::

    python benchmarks/paper_claims.py --widths 512,512 --epochs 60 --batch-size 100 \\
        --max-train 0 --val-n 6000 --test-n 10000 --ood noise --device cuda \\
        --designs time-k4,mode-snn,ste-snn,ste-snn-T2 --ste-timesteps 2,8 \\
        --cache runs/claims-mnist98 --train-seed S     # one process per seed, then
    python benchmarks/paper_claims.py ... --tables-only --markdown
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock
from rich.console import Console
from rich.table import Table

from models.baselines import mode_network, train_ste
from models.datasets import load_dataset, load_ood
from models.evaluation import EvalConfig, Prediction, fit_predictor
from models.intervals import paired_bootstrap, t_interval
from models.io import load_model, save_model
from models.metrics import classification_metrics, ood_auroc, per_image_scores
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
    p.add_argument("--ood", default="fashion-mnist,noise", help="OOD sets: fashion-mnist, noise")
    p.add_argument("--widths", default="128,128")
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    p.add_argument("--dataset-size", type=float, default=1e6)
    p.add_argument(
        "--max-train", type=int, default=10000, help="cap on train+val images (0: all 60,000)"
    )
    p.add_argument("--device", default="auto", help="training device: auto, cpu, cuda")
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
    p.add_argument("--designs", default=None, help="comma-separated subset (default: all)")
    p.add_argument("--cache", type=Path, default=REPO / "runs" / "paper_claims")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument(
        "--tables-only", action="store_true", help="print the cached runs; train nothing"
    )
    args = p.parse_args()
    known = design_names(args)
    chosen = known if args.designs is None else [d for d in args.designs.split(",") if d]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        p.error(f"--designs: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    args.chosen = set(chosen)
    return args


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def ste_design(steps: int, args: argparse.Namespace) -> str:
    """Design name of the STE binary SNN at `steps` timesteps."""
    return "ste-snn" if steps == args.timesteps else f"ste-snn-T{steps}"


def design_names(args: argparse.Namespace) -> list[str]:
    """Every design the benchmark can run under these settings."""
    steps = {ste_design(n, args) for n in ints(args.ste_timesteps)} - {"ste-snn"}
    fixed = ["mode-snn", "ste-snn", "mode-ann-sampledbn", "mode-ann", "ste-ann"]
    return [*fixed, *sorted(steps), "bayes-ann", "time-k8", "time-k4", "repeat-k8"]


def train_config(args: argparse.Namespace, seed: int) -> TrainConfig:
    """The training budget both methods (BayesBiNN and STE) get."""
    return TrainConfig(
        widths=tuple(ints(args.widths)),
        levels=args.levels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        dataset_size=args.dataset_size,
        seed=seed,
        device=args.device,
    )


def budget(args: argparse.Namespace) -> str:
    """The training budget, stated beside every comparison with the STE network."""
    cfg = train_config(args, 0)
    pool = args.max_train or 60000
    return (
        f"Budget of both methods, per training seed: 784-{args.widths.replace(',', '-')}-10 "
        f"MLP, L = {cfg.levels}, {cfg.epochs} epochs ({cfg.stage1} ReLU + "
        f"{cfg.epochs - cfg.stage1} quantized), batch {cfg.batch_size}, {pool} train+val "
        f"images ({args.val_n} val), device {args.device}; BayesBiNN lr {cfg.lr}, "
        f"N = {cfg.dataset_size:g} (Adam {cfg.lr_other} for BN / gain / bias) vs STE: Adam "
        f"lr {cfg.lr_other} on every parameter; cosine schedule per stage for both."
    )


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


def images(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, list[float]]:
    """Per-image correctness and NLL, for the paired bootstrap over test images."""
    terms = per_image_scores(probs, labels)
    return {"accuracy": terms["accuracy"].tolist(), "nll": np.round(terms["nll"], 6).tolist()}


class Sets:
    """The fixed test subset, its rotated copies and the OOD sets."""

    def __init__(self, splits: Any, args: argparse.Namespace) -> None:
        x, y = splits.test
        n = min(args.shift_n, len(y))
        self.test = (x, y)
        self.shifted = {a: (rotate_images(x[:n], a), y[:n]) for a in ints(args.angles)}
        self.ood = {
            name: load_ood(name, splits, n=n, root=args.fashion_root)
            for name in args.ood.split(",")
            if name
        }
        self.repeat_n = min(args.repeat_n, len(y))


def snn_record(pred: Callable[[torch.Tensor], Prediction], sets: Sets, scope: str) -> dict:
    """Figures of one SNN design with (`ts`) and without (`raw`) its temperature scaling.

    `scope`: ``sub`` - the first `repeat_n` test images only (claim 2); ``test`` - the test
    subset; ``full`` - the test subset, its rotated copies and the OOD sets.
    """
    m = sets.repeat_n
    x, y = sets.test
    if scope == "sub":
        x, y = x[:m], y[:m]
    test = pred(x)
    out: dict[str, Any] = {
        "spikes_sub": float(test.spikes[:m].sum(1).mean()),
        "synops_sub": float(test.synops[:m].mean()),
        "images": images(test.probs, y),
    }
    for tag, probs in (("ts", test.probs), ("raw", test.probs_uncalibrated)):
        out[f"sub/{tag}"] = {"accuracy": float((probs[:m].argmax(1) == y[:m]).double().mean())}
    if scope == "sub":
        return out
    out["spikes"] = float(test.spikes.sum(1).mean())
    out["synops"] = float(test.synops.mean())
    for tag, probs in (("ts", test.probs), ("raw", test.probs_uncalibrated)):
        out[f"test/{tag}"] = scores(probs, y)
    if scope == "test":
        return out
    for angle, (xs, ys) in sets.shifted.items():
        p = pred(xs)
        out[f"rot{angle}/ts"] = scores(p.probs, ys)
        out[f"rot{angle}/raw"] = scores(p.probs_uncalibrated, ys)
    for name, xo in sets.ood.items():
        p, n = pred(xo), len(xo)
        out[f"ood_{name}/ts"] = ood_auroc(test.probs[:n], p.probs)
        out[f"ood_{name}/raw"] = ood_auroc(test.probs_uncalibrated[:n], p.probs_uncalibrated)
    return out


def ann_record(model: TrainedModel, sets: Sets, mode: str, samples: int, scale: float) -> dict:
    x, y = sets.test
    probs = mc_probs(model.network.eval().mc_logits(x, samples, mode), scale)
    return {"test/ts": scores(probs, y), "images": images(probs, y)}


def evaluate_seed(
    train_seed: int, args: argparse.Namespace, console: Console, done: dict[str, Any]
) -> None:
    """Every chosen design of one training seed; results land in `done` keyed by run.

    The networks are trained (or loaded) on first use, so a process running only STE
    designs trains no Bayesian network and vice versa.
    """
    pool = args.max_train or 60000
    splits = load_dataset(
        "mnist",
        root=args.root,
        seed=train_seed,
        val_fraction=min(0.5, args.val_n / pool),
        max_train=args.max_train or None,
        max_test=args.test_n,
    )
    cfg = train_config(args, train_seed)
    trainers = {
        "bayes": lambda: train_model(cfg, splits, progress=False),
        "ste": lambda: train_ste(cfg, splits),
    }
    trained: dict[str, TrainedModel] = {}

    def model(kind: str) -> TrainedModel:
        if kind not in trained:
            trained[kind] = (
                mode_network(model("bayes"), splits)
                if kind == "mode"
                else cached_model(kind, cfg, args, trainers[kind])
            )
        return trained[kind]

    sets = Sets(splits, args)
    t, s = args.timesteps, args.samples

    def run(key: str, make: Callable[[], dict]) -> None:
        if key in done or key.split("|")[0] not in args.chosen:
            return
        start = time.perf_counter()
        done[key] = make()
        console.log(f"{key}: {time.perf_counter() - start:.0f} s")
        save_done(args, train_seed, {key: done[key]})

    def snn(kind: str, scope: str, **kw: Any) -> Callable[[], dict]:
        cfg = EvalConfig(evaluation="integer", **kw)
        return lambda: snn_record(fit_predictor(model(kind), splits, cfg), sets, scope)

    # Deterministic networks: weights +-1 for certain, so one code bit is exact.
    det = {"samples": 1, "weights": "mode", "k_bits": 1}
    run(f"mode-snn|{train_seed}", snn("mode", "full", timesteps=t, **det))
    run(f"ste-snn|{train_seed}", snn("ste", "full", timesteps=t, **det))
    for steps in ints(args.ste_timesteps):
        if steps != t:
            run(
                f"{ste_design(steps, args)}|{train_seed}",
                snn("ste", "test", timesteps=steps, **det),
            )
    run(
        f"mode-ann-sampledbn|{train_seed}",
        lambda: ann_record(model("bayes"), sets, "mode", 1, model("bayes").output_scale_mode),
    )
    run(f"mode-ann|{train_seed}", lambda: ann_record(model("mode"), sets, "mode", 1, 1.0))
    run(f"ste-ann|{train_seed}", lambda: ann_record(model("ste"), sets, "mode", 1, 1.0))
    for eval_seed in range(args.eval_seeds):
        tag = f"{train_seed}.{eval_seed}"
        torch.manual_seed(eval_seed)
        run(
            f"bayes-ann|{tag}",
            lambda: ann_record(model("bayes"), sets, "sample", s, model("bayes").output_scale),
        )
        common = {"timesteps": t, "samples": s, "seed": eval_seed}
        run(f"time-k8|{tag}", snn("bayes", "full", ensemble="time", k_bits=8, **common))
        run(f"time-k4|{tag}", snn("bayes", "test", ensemble="time", k_bits=4, **common))
        run(f"repeat-k8|{tag}", snn("bayes", "sub", ensemble="repeat", k_bits=8, **common))


def runs_file(args: argparse.Namespace, train_seed: int) -> Path:
    """Finished runs of one training seed under these settings (every flag but the cache,
    thread count, seed and design selection and output format)."""
    ignored = ("cache", "threads", "train_seed", "train_seeds", "markdown", "designs", "chosen")
    ignored += ("tables_only",)
    settings = {k: str(v) for k, v in vars(args).items() if k not in ignored}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return args.cache / f"runs-{digest}-seed{train_seed}.json"


def save_done(args: argparse.Namespace, train_seed: int, new: dict[str, Any]) -> None:
    """Add `new` runs to the seed's runs file (processes of one seed may share it)."""
    path = runs_file(args, train_seed)
    with FileLock(f"{path}.lock"):
        old = json.loads(path.read_text()) if path.is_file() else {}
        path.write_text(json.dumps({**old, **new}, sort_keys=True))


def runs_of(done: dict[str, Any], design: str) -> Iterator[tuple[str, dict]]:
    """(training seed, record) of every run of `design`."""
    for key, record in done.items():
        name, run = key.split("|")
        if name == design:
            yield run.split(".")[0], record


def per_train_seed(done: dict[str, Any], design: str, path: str, figure: str | None) -> dict:
    """Mean of one figure per training seed (over its evaluation seeds)."""
    found: dict[str, list[float]] = {}
    for seed, record in runs_of(done, design):
        item = record.get(path)
        if item is not None and (figure is None or figure in item):
            found.setdefault(seed, []).append(item[figure] if figure else item)
    return {seed: float(np.mean(v)) for seed, v in found.items()}


def seed_values(done: dict[str, Any], design: str, path: str, figure: str | None = None) -> list:
    """One value per training seed (its evaluation seeds averaged): the interval's unit."""
    return list(per_train_seed(done, design, path, figure).values())


def paired(done: dict[str, Any], a: tuple, b: tuple, figure: str | None) -> list[float]:
    """Differences a - b per training seed: (design, path) pairs, same trained weights."""
    first, second = per_train_seed(done, *a, figure), per_train_seed(done, *b, figure)
    return [first[seed] - second[seed] for seed in sorted(first) if seed in second]


def per_image(done: dict[str, Any], design: str, figure: str) -> dict[str, np.ndarray]:
    """Per-image values of `figure` per training seed, averaged over evaluation seeds."""
    found: dict[str, list[list[float]]] = {}
    for seed, record in runs_of(done, design):
        if "images" in record:
            found.setdefault(seed, []).append(record["images"][figure])
    return {seed: np.mean(v, axis=0) for seed, v in found.items()}


def image_bootstrap(done: dict[str, Any], a: str, b: str, figure: str) -> str:
    """Paired bootstrap over test images of design a - design b: per-image values averaged
    over the training seeds both have (and the images both saw: a claim-2 design sees only
    the first `repeat_n`), resampled together."""
    first, second = per_image(done, a, figure), per_image(done, b, figure)
    seeds = sorted(set(first) & set(second))
    if not seeds:
        return "-"
    n = min(len(first[seeds[0]]), len(second[seeds[0]]))
    mean_a = np.mean([first[seed][:n] for seed in seeds], axis=0)
    mean_b = np.mean([second[seed][:n] for seed in seeds], axis=0)
    return f"{paired_bootstrap(mean_a, mean_b):.4f}"


def cell(values: list[float], spec: str = ".4f") -> str:
    return f"{t_interval(values):{spec}} (n={len(values)})" if values else "-"


def load_done(args: argparse.Namespace) -> dict[str, Any]:
    done: dict[str, Any] = {}
    for train_seed in range(args.train_seeds):
        runs = runs_file(args, train_seed)
        done.update(json.loads(runs.read_text()) if runs.is_file() else {})
    return done


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
    if table.caption:
        lines += ["", f"*{table.caption}*"]
    print("\n".join(lines) + "\n")


def print_tables(done: dict[str, Any], args: argparse.Namespace, console: Console) -> None:
    t, s = args.timesteps, args.samples
    spent = budget(args)
    oods = [name for name in args.ood.split(",") if name]
    c1 = Table(title=f"Claim 1: test accuracy on {args.test_n} MNIST test images", caption=spent)
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
        c1.add_row(name, *(cell(seed_values(done, design, path, f)) for f in ("accuracy", "nll")))
    show(console, c1, args.markdown)

    c2 = Table(
        title=f"Claim 2: activity per inference on the first {args.repeat_n} test images",
        caption=spent,
    )
    for col in ("model", "accuracy", "spikes", "synops", "spikes / time ens."):
        c2.add_column(col)
    base = np.mean(seed_values(done, "time-k8", "spikes_sub") or [np.nan])
    rows2 = [
        (f"Bayesian time ensemble S={s} T={t}", "time-k8"),
        (f"Bayesian repeat ensemble S={s} runs x T={t}", "repeat-k8"),
        (f"mode SNN (own BN) T={t}", "mode-snn"),
        *((f"STE binary SNN T={n}", ste_design(n, args)) for n in ints(args.ste_timesteps)),
    ]
    for name, design in rows2:
        spikes = seed_values(done, design, "spikes_sub")
        ratio = f"{np.mean(spikes) / base:.2f}x" if spikes else "-"
        c2.add_row(
            name,
            cell(seed_values(done, design, "sub/ts", "accuracy")),
            cell(spikes, ".0f"),
            cell(seed_values(done, design, "synops_sub"), ".0f"),
            ratio,
        )
    show(console, c2, args.markdown)

    equal = Table(
        title=f"Equal budget: integer SNNs on {args.test_n} MNIST test images, after TS",
        caption=spent,
    )
    for col in ("model", "accuracy", "nll", "ece", "hidden spikes / image", "synops / image"):
        equal.add_column(col)
    rows_equal = [
        (f"Bayesian time ensemble k=4, S={s} T={t}", "time-k4"),
        (f"Bayesian time ensemble k=8, S={s} T={t}", "time-k8"),
        (f"mode SNN (own BN) k=1, T={t}", "mode-snn"),
        *((f"STE binary SNN k=1, T={n}", ste_design(n, args)) for n in ints(args.ste_timesteps)),
    ]
    for name, design in rows_equal:
        figures = [
            cell(seed_values(done, design, "test/ts", f)) for f in ("accuracy", "nll", "ece")
        ]
        activity = [cell(seed_values(done, design, k), ".0f") for k in ("spikes", "synops")]
        equal.add_row(name, *figures, *activity)
    show(console, equal, args.markdown)

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
        c3 = Table(title=f"Claim 3: {title}, T={t}", caption=spent)
        for col in ("model", *FIGURES):
            c3.add_column(col)
        for name, design, tag in models3:
            path = f"{cond}/{tag}"
            c3.add_row(name, *(cell(seed_values(done, design, path, f)) for f in FIGURES))
        show(console, c3, args.markdown)
    ood = Table(
        title=f"Claim 3: OOD AUROC by predictive entropy ({args.shift_n} vs {args.shift_n})",
        caption=spent,
    )
    for col in ("model", *oods):
        ood.add_column(col)
    for name, design, tag in models3:
        ood.add_row(name, *(cell(seed_values(done, design, f"ood_{o}/{tag}")) for o in oods))
    show(console, ood, args.markdown)

    diffs = Table(
        title="Paired differences a - b: t-interval over training seeds (eval seeds averaged "
        "first) and paired bootstrap over test images (mean [95 % interval])",
        caption=spent,
    )
    columns = ["a - b", "accuracy (seeds)", "accuracy (images)", "nll (seeds)", "nll (images)"]
    for col in (*columns, "ece (seeds)", "aurc (seeds)", *(f"AUROC {o} (seeds)" for o in oods)):
        diffs.add_column(col)
    bayes = ("time-k8", "test/ts")
    bayes4 = ("time-k4", "test/ts")
    pairs = [
        ("Bayes SNN k=4 - k=8", bayes4, bayes),
        ("Bayes SNN k=8 - Bayes ANN float mu", bayes, ("bayes-ann", "test/ts")),
        ("Bayes SNN k=8 - mode SNN own BN + TS", bayes, ("mode-snn", "test/ts")),
        ("Bayes SNN k=8 - STE SNN + TS", bayes, ("ste-snn", "test/ts")),
        ("Bayes SNN k=4 - mode SNN own BN + TS", bayes4, ("mode-snn", "test/ts")),
        *(
            (f"Bayes SNN k=4 T={t} - STE SNN T={n} + TS", bayes4, (ste_design(n, args), "test/ts"))
            for n in ints(args.ste_timesteps)
        ),
        ("repeat - time ensemble (claim-2 subset)", ("repeat-k8", "sub/ts"), ("time-k8", "sub/ts")),
    ]
    for name, a, b in pairs:
        cells = []
        for f in ("accuracy", "nll"):
            cells += [cell(paired(done, a, b, f)), image_bootstrap(done, a[0], b[0], f)]
        cells += [cell(paired(done, a, b, f)) for f in ("ece", "aurc")]
        for o in oods:
            ends = [(d, f"ood_{o}/{p.split('/')[1]}") for d, p in (a, b)]
            cells.append(cell(paired(done, ends[0], ends[1], None)))
        diffs.add_row(name, *cells)
    show(console, diffs, args.markdown)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    console = Console(width=200)
    args.cache.mkdir(parents=True, exist_ok=True)
    done = load_done(args)
    start = time.perf_counter()
    seeds = range(args.train_seeds) if args.train_seed is None else [args.train_seed]
    for train_seed in [] if args.tables_only else seeds:
        evaluate_seed(train_seed, args, console, done)
    console.print(
        f"MNIST {args.widths} L={args.levels} E={args.epochs} N={args.dataset_size:g}; "
        f"{args.train_seeds} train x {args.eval_seeds} eval seeds; "
        f"{time.perf_counter() - start:.0f} s"
    )
    print_tables(load_done(args), args, console)


if __name__ == "__main__":
    main()
