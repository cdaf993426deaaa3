"""`dse export` (a Vitis HLS project from a trial or a saved model) and `dse csim` (g++
C-simulation of an exported project, bit-exact against the integer model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dse.commands.design_flags import design_from_flags
from dse.errors import StudyInputError
from hwmodel.template import AcceleratorConfig

_DEFAULTS = AcceleratorConfig(widths=(1, 1))


def _from_study(
    study_file: Path, spec: str, storage: str | None
) -> tuple[Path, AcceleratorConfig, dict]:
    """Model directory, hardware design and export keyword arguments of a finished trial."""
    from dse.api import trial_export_inputs
    from dse.runner import open_study
    from dse.schema import load_study_file

    cfg = load_study_file(study_file)
    return trial_export_inputs(cfg, open_study(cfg, storage, create=False), spec, study_file)


def export(
    study_file: Annotated[
        Path | None, typer.Argument(help="The study YAML file (or use --model).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Project directory to create (required).")
    ] = None,
    trial: Annotated[
        str | None,
        typer.Option("--trial", help="Trial to export: a number, best, knee or front:N."),
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="A saved model directory instead of a study.")
    ] = None,
    storage: Annotated[
        str | None, typer.Option("--storage", help="Optuna storage URL (default: the study's).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty --out.")] = False,
    images: Annotated[int, typer.Option("--images", help="Golden test images.")] = 16,
    dataset_root: Annotated[
        Path | None, typer.Option("--dataset-root", help="Folder of IDX datasets (--model).")
    ] = None,
    pe: Annotated[int, typer.Option("--pe")] = _DEFAULTS.pe,
    synapses_per_cycle: Annotated[
        int, typer.Option("--synapses-per-cycle")
    ] = _DEFAULTS.synapses_per_cycle,
    sample_lanes: Annotated[int, typer.Option("--sample-lanes")] = _DEFAULTS.sample_lanes,
    k_bits: Annotated[int, typer.Option("--k-bits")] = _DEFAULTS.k_bits,
    membrane_bits: Annotated[int, typer.Option("--membrane-bits")] = _DEFAULTS.membrane_bits,
    reuse: Annotated[int, typer.Option("--reuse")] = _DEFAULTS.reuse,
    sampling: Annotated[
        str, typer.Option("--sampling", help="memory | regenerate")
    ] = _DEFAULTS.sampling,
    ensemble: Annotated[str, typer.Option("--ensemble", help="repeat | time")] = _DEFAULTS.ensemble,
    timesteps: Annotated[int, typer.Option("--timesteps")] = _DEFAULTS.timesteps,
    samples: Annotated[int, typer.Option("--samples")] = _DEFAULTS.samples,
    input_bits: Annotated[int, typer.Option("--input-bits")] = _DEFAULTS.input_bits,
    part: Annotated[str, typer.Option("--part")] = _DEFAULTS.part,
    clock_mhz: Annotated[float, typer.Option("--clock-mhz")] = _DEFAULTS.clock_mhz,
    seed: Annotated[int, typer.Option("--seed")] = _DEFAULTS.seed,
    threshold_scale: Annotated[
        list[float] | None,
        typer.Option("--threshold-scale", help="Per hidden layer (repeat the flag)."),
    ] = None,
) -> None:
    """Write a Vitis HLS project (kernel, testbench, golden vectors, Tcl, host driver)."""
    from hls.export import export_design

    if out is None:
        raise StudyInputError("--out: missing; name the project directory, e.g. --out build/t17")
    if (study_file is None) == (model is None):
        raise StudyInputError(
            "export: give either a study file with --trial N, or --model MODEL_DIR"
        )
    if model is not None:
        from models.io import load_model

        widths = load_model(model).widths
        config = design_from_flags(widths, locals())
        kwargs = {"threshold_scales": threshold_scale, "dataset_root": dataset_root}
        model_dir = model
    else:
        if trial is None:
            raise StudyInputError("--trial: missing; name the trial to export, e.g. --trial knee")
        model_dir, config, kwargs = _from_study(study_file, trial, storage)
    result = export_design(model_dir, config, out, force=force, n_images=images, **kwargs)
    golden = result.design["golden"]
    Console().print(
        f"exported {len(result.files)} files to {result.out_dir} "
        f"({golden['images']} golden images, hardware-exact accuracy "
        f"{golden['accuracy']:.4f}); next: dse csim {out}",
        highlight=False,
    )


def csim(
    project: Annotated[Path, typer.Argument(help="An exported project directory.")],
) -> None:
    """Build the kernel with g++, run the testbench, compare with the golden vectors."""
    from hls.csim import CsimError, run_csim

    console = Console()
    try:
        summary = run_csim(project)
    except CsimError as exc:
        Console(stderr=True).print(f"[red]csim failed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    table = Table(title=f"C-simulation of {project}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    estimate = summary.cycles_estimate
    rows = [
        ("images", str(summary.images)),
        ("score mismatches", str(summary.score_mismatches)),
        ("spike-count mismatches", str(summary.spike_mismatches)),
        ("cycle-count mismatches", str(summary.cycle_mismatches)),
        ("accuracy (hardware-exact run)", f"{summary.accuracy:.4f}"),
        ("cycles per image (kernel loops)", f"{summary.cycles_kernel:,.1f}"),
        ("cycles per image (integer model)", f"{summary.cycles_golden:,.1f}"),
        (
            f"cycles per image (estimate, {summary.estimate_source or 'none'})",
            "-" if estimate is None else f"{estimate:,.1f}",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if summary.exact:
        console.print("[green]bit-exact[/green]: the kernel matches the integer model")
        return
    console.print(f"[red]{summary.mismatches} mismatching values[/red]")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""
    app.command()(export)
    app.command()(csim)
