"""`dse train` and `dse evaluate`: train one Bayesian binary network, score its SNN."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dse.commands.options import (
    HW_DEFAULTS,
    DataRoot,
    Ensemble,
    InputBits,
    KBits,
    MembraneBits,
    Reuse,
    Samples,
    ThresholdScales,
    Timesteps,
    switch,
)
from dse.terminal import console
from dse.units import shown, unit_of
from models.errors import ModelInputError


def parse_int_list(text: str, option: str) -> tuple[int, ...]:
    """'256,256' -> (256, 256); anything else is a one-line ModelInputError naming `option`."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise ModelInputError(
            f"{option}: {text!r} must be comma-separated positive integers, e.g. 256,256"
        )
    return values


def parse_float_list(text: str | None, option: str) -> tuple[float, ...] | None:
    """'1,0.8' -> (1.0, 0.8); None stays None."""
    if text is None:
        return None
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(v) for v in values):
        raise ModelInputError(f"{option}: {text!r} must be comma-separated numbers, e.g. 1.0,0.8")
    return values


def _metrics_table(title: str, metrics: dict[str, Any]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, float):  # accuracy-like in %, the rest to 4 decimals
            table.add_row(key, shown(key, value) if unit_of(key)[0] else f"{value:.4f}")
        elif isinstance(value, int | bool) or (isinstance(value, str) and len(value) <= 40):
            table.add_row(key, str(value))
        elif isinstance(value, list) and all(isinstance(v, int | float) for v in value):
            table.add_row(key, ", ".join(f"{v:.3g}" for v in value))
    return table


def train(
    out: Annotated[Path, typer.Option("--out", help="Directory for weights.pt + settings.json.")],
    dataset: Annotated[
        str, typer.Option(help="digits, mnist, fashion-mnist or npz (--data-root FILE).")
    ] = "digits",
    widths: Annotated[str, typer.Option(help="Hidden-layer widths, e.g. 256,256.")] = "256,256",
    levels: Annotated[int, typer.Option(help="Quantized-ReLU levels (0 included).")] = 4,
    method: Annotated[
        str, typer.Option(help="bayesbinn, or ste (deterministic straight-through baseline).")
    ] = "bayesbinn",
    epochs: Annotated[int | None, typer.Option(help="Total epochs (both stages).")] = None,
    stage1_epochs: Annotated[
        int | None, typer.Option(help="Plain-ReLU epochs (default: half).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Minibatch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="BayesBiNN step size.")] = None,
    dataset_size: Annotated[
        float | None, typer.Option(help="Effective data-set size N of BayesBiNN.")
    ] = None,
    tau: Annotated[float | None, typer.Option(help="Relaxation temperature.")] = None,
    lam_init: Annotated[float | None, typer.Option(help="lam ~ U(-lam_init, lam_init).")] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of split, init and training (a study's dataset.seed).")
    ] = 0,
    data_root: DataRoot = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    quiet: Annotated[bool, switch("quiet", "No progress bar.")] = False,
) -> None:
    """Train a Bayesian binary MLP with BayesBiNN (two stages) and save it to OUT.

    `--method ste` trains the deterministic binary network of the same size instead; the
    posterior mode of a BayesBiNN model is `dse evaluate --mode-weights`.  Unset training
    options take `models.training.TrainConfig`'s defaults (docs/bayesian.md).
    """
    from models.datasets import load_dataset
    from models.io import save_model
    from models.training import TrainConfig, train_model

    optional = {
        "epochs": epochs,
        "stage1_epochs": stage1_epochs,
        "batch_size": batch_size,
        "lr": lr,
        "dataset_size": dataset_size,
        "tau": tau,
        "lam_init": lam_init,
    }
    cfg = TrainConfig(
        widths=parse_int_list(widths, "--widths"),
        levels=levels,
        method=method,
        seed=seed,
        device=device,
        **{k: v for k, v in optional.items() if v is not None},
    )
    splits = load_dataset(dataset, root=data_root, seed=seed)
    model = train_model(cfg, splits, progress=not quiet)
    save_model(model, out)
    out = console()
    title = f"{dataset} {'-'.join(map(str, model.widths))}, {model.wall_time_s:.1f} s -> {out}"
    out.print(_metrics_table(title, model.metrics))


def evaluation_filename(timesteps: int, samples: int, ensemble: str, **flags: Any) -> str:
    """One JSON file per evaluation setting, e.g. eval_T8_S10_repeat_float.json."""
    name = f"eval_T{timesteps}_S{samples}_{ensemble}_{flags['evaluation']}"
    if flags.get("weights") == "mode":
        name += "_mode"
    if flags.get("encoding", "direct") != "direct":
        name += f"_{flags['encoding']}"
    if flags.get("ood"):
        name += f"_ood-{flags['ood']}"
    return name + ".json"


def evaluate(
    model_dir: Annotated[
        Path, typer.Argument(help="Directory written by `dse train` or `dse import`.")
    ],
    timesteps: Timesteps = HW_DEFAULTS["timesteps"],
    samples: Samples = HW_DEFAULTS["samples"],
    ensemble: Ensemble = HW_DEFAULTS["ensemble"],
    integer: Annotated[bool, switch("integer", "Hardware-exact integer datapath.")] = False,
    mode_weights: Annotated[
        bool,
        switch("mode-weights", "Deterministic binary SNN (sign of lam); always for an STE model."),
    ] = False,
    encoding: Annotated[str, typer.Option(help="direct or rate input encoding.")] = "direct",
    ood: Annotated[
        str | None, typer.Option(help="OOD set for AUROC: noise, flip, mnist, fashion-mnist.")
    ] = None,
    ood_root: Annotated[Path | None, typer.Option(help="IDX directory of the OOD set.")] = None,
    data_root: DataRoot = None,
    threshold_scales: ThresholdScales = None,
    k_bits: KBits = HW_DEFAULTS["k_bits"],
    membrane_bits: MembraneBits = HW_DEFAULTS["membrane_bits"],
    reuse: Reuse = HW_DEFAULTS["reuse"],
    input_bits: InputBits = HW_DEFAULTS["input_bits"],
    seed: Annotated[
        int, typer.Option(help="Seed of weight sampling (a study's evaluation.seed).")
    ] = 0,
) -> None:
    """Convert a trained model to an SNN (an imported one is one already), score it on the
    test split, write JSON into DIR."""
    from models.datasets import load_dataset, load_ood
    from models.evaluation import EvalConfig
    from models.evaluation import evaluate as run_evaluation
    from models.imported import ImportedModel
    from models.io import load_model

    scales = parse_float_list(threshold_scales, "--threshold-scales")  # flags before files
    model = load_model(model_dir)
    imported = isinstance(model, ImportedModel)  # deterministic, split like a study's (seed 0)
    cfg = EvalConfig(
        timesteps=timesteps,
        samples=samples,
        ensemble=ensemble,
        encoding=encoding,
        evaluation="integer" if integer else "float",
        # An STE model has no posterior: its latent weights are not probabilities.
        weights="mode" if mode_weights or imported or model.config.method == "ste" else "sample",
        k_bits=k_bits,
        membrane_bits=membrane_bits,
        reuse=reuse,
        input_bits=input_bits,
        threshold_scales=scales,
        seed=seed,
    )
    # The training seed fixes the validation split the output scale is fitted on.
    splits = load_dataset(model.dataset, root=data_root, seed=0 if imported else model.config.seed)
    ood_x = None
    if ood:
        ood_x = load_ood(
            ood, like=splits, seed=seed, root=ood_root, root_hint="pass --ood-root DIR"
        )
    metrics = run_evaluation(model, splits, cfg, ood=ood_x, split="test")
    settings = {k: v for k, v in vars(cfg).items() if k not in ("device", "batch_size")}
    path = model_dir / evaluation_filename(ood=ood, **settings)
    path.write_text(json.dumps({**metrics, "eval_config": settings}, indent=2) + "\n")
    title = f"{model.dataset} SNN, T={timesteps} S={samples} {ensemble} ({settings['evaluation']})"
    console().print(_metrics_table(title, metrics))
    console().print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add `train` and `evaluate` to the `dse` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
