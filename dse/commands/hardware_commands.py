"""`dse export` (a Vitis HLS or Verilog project from a trial or a saved model, or a NIR file:
`dse.commands.interop_commands`), `dse csim` (g++ C-simulation of an HLS project) and `dse sim`
(Verilator simulation of an RTL project), both bit-exact against the integer model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dse.commands.options import (
    HW_DEFAULTS,
    ClockMhz,
    DataRoot,
    Ensemble,
    HwSeed,
    InputBits,
    KBits,
    MembraneBits,
    Part,
    Pe,
    Reuse,
    SampleLanes,
    Samples,
    Sampling,
    Storage,
    SynapsesPerCycle,
    ThresholdScales,
    Timesteps,
    deprecated,
    switch,
)
from dse.errors import StudyInputError
from dse.terminal import console, flagged
from dse.units import percent

if TYPE_CHECKING:  # numpy and optuna load when a command runs, not for --help
    import optuna

    from hls.rtl.sim import Activity, RtlSimSummary
    from hwmodel.template import AcceleratorConfig


def _from_study(
    study_file: Path, spec: str, storage: str | None
) -> tuple[Path, AcceleratorConfig, dict]:
    """Model directory, hardware design and export keyword arguments of a finished trial."""
    from dse.api import trial_export_inputs
    from dse.runner import open_study
    from dse.schema import load_study_file

    cfg = load_study_file(study_file)
    study = open_study(cfg, storage, create=False)
    model_dir, accel, kwargs = trial_export_inputs(cfg, study, spec, study_file)
    _warn_if_not_chosen(study, study.trials[kwargs["source"]["trial"]])
    return model_dir, accel, kwargs


def _warn_if_not_chosen(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Exporting an infeasible or dominated design is allowed, but never by accident."""
    from dse.selection import front_trials

    violated = [name for name, value in (trial.constraints or {}).items() if value > 0]
    if violated:
        reason = f"infeasible (violates {', '.join(violated)})"
    elif trial.number not in {t.number for t in front_trials(study)}:
        reason = "not on the Pareto front (another design is at least as good on every objective)"
    else:
        return
    console(stderr=True).print(
        flagged("warning:", "yellow", f"trial {trial.number} is {reason}; exporting it anyway")
    )


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
    storage: Storage = None,
    force: Annotated[bool, switch("force", "Write into a non-empty --out.")] = False,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="hls (Vitis HLS C++, the default), rtl (Verilog for Verilator, "
            "Yosys and Vivado) or nir (a NIR file for snnTorch, Norse...: --out design.nir).",
        ),
    ] = "hls",
    weight_sample: Annotated[
        str | None,
        typer.Option(
            "--weight-sample",
            help="--backend nir, Bayesian design: the weight sample to write (default 0) or "
            "mode; NIR has no weight sampling.",
        ),
    ] = None,
    images: Annotated[
        int, typer.Option("--images", help="Golden test images (at most the test split).", min=1)
    ] = 16,
    data_root: DataRoot = None,
    pe: Pe = HW_DEFAULTS["pe"],
    synapses_per_cycle: SynapsesPerCycle = HW_DEFAULTS["synapses_per_cycle"],
    sample_lanes: SampleLanes = HW_DEFAULTS["sample_lanes"],
    k_bits: KBits = HW_DEFAULTS["k_bits"],
    membrane_bits: MembraneBits = HW_DEFAULTS["membrane_bits"],
    reuse: Reuse = HW_DEFAULTS["reuse"],
    sampling: Sampling = HW_DEFAULTS["sampling"],
    ensemble: Ensemble = HW_DEFAULTS["ensemble"],
    timesteps: Timesteps = HW_DEFAULTS["timesteps"],
    samples: Samples = HW_DEFAULTS["samples"],
    input_bits: InputBits = HW_DEFAULTS["input_bits"],
    part: Part = HW_DEFAULTS["part"],
    clock_mhz: ClockMhz = HW_DEFAULTS["clock_mhz"],
    seed: HwSeed = HW_DEFAULTS["seed"],
    threshold_scales: ThresholdScales = None,
    old_dataset_root: Annotated[Path | None, typer.Option("--dataset-root", hidden=True)] = None,
    old_threshold_scale: Annotated[
        list[float] | None, typer.Option("--threshold-scale", hidden=True)
    ] = None,
) -> None:
    """Write a Vitis HLS project (kernel, testbench, golden vectors, Tcl, host driver) or, with
    --backend rtl, a Verilog project (core, AXI4-Lite wrapper, Verilator testbench, Vivado Tcl).

    From a study (STUDY_FILE --trial N) the hardware flags are the trial's and are ignored;
    with --model they describe the design to build.
    """
    from dse.commands.design_flags import design_from_flags
    from dse.commands.model_commands import parse_float_list
    from hls.export import export_design

    if old_dataset_root is not None:
        deprecated("--dataset-root", "--data-root")
        data_root = data_root or old_dataset_root
    scales = parse_float_list(threshold_scales, "--threshold-scales")
    if old_threshold_scale:
        deprecated("repeated --threshold-scale", "--threshold-scales 1.0,0.9")
        scales = scales or tuple(old_threshold_scale)

    if out is None:
        raise StudyInputError("--out: missing; name the project directory, e.g. --out build/t17")
    if (study_file is None) == (model is None):
        raise StudyInputError(
            "export: give either a study file with --trial N, or --model MODEL_DIR"
        )
    if model is not None:
        from models.io import load_model
        from models.training import TrainedModel

        loaded = load_model(model)
        # A trained convolutional model's front is the design's: its blocks and image shape
        # (an imported model is dense: `dse import` refuses convolutions).
        front = {}
        if isinstance(loaded, TrainedModel):
            front = {"conv": loaded.network.blocks, "input_shape": loaded.network.input_shape}
        config = design_from_flags(loaded.widths, {**locals(), **front})
        kwargs = {"threshold_scales": scales, "dataset_root": data_root}
        model_dir = model
    else:
        if trial is None:
            raise StudyInputError("--trial: missing; name the trial to export, e.g. --trial knee")
        model_dir, config, kwargs = _from_study(study_file, trial, storage)
    if backend not in ("hls", "rtl", "nir"):
        raise StudyInputError(f"--backend: {backend!r} is not a backend; use hls, rtl or nir")
    if backend == "nir":
        from dse.commands.interop_commands import parse_weight_sample, write_nir

        sample = parse_weight_sample(weight_sample)
        write_nir(model_dir, config, out, weight_sample=sample, force=force, kwargs=kwargs)
        return
    if weight_sample is not None:
        raise StudyInputError("--weight-sample: only --backend nir takes it; remove it")
    result = export_design(
        model_dir, config, out, force=force, n_images=images, backend=backend, **kwargs
    )
    golden = result.design["golden"]
    check = "csim" if backend == "hls" else "sim"
    console().print(
        f"exported {len(result.files)} files to {result.out_dir} "
        f"({golden['images']} golden images, hardware-exact accuracy "
        f"{percent(golden['accuracy'])}); next: dse {check} {out}",
        highlight=False,
    )


def csim(
    project: Annotated[Path, typer.Argument(help="An exported project directory.")],
) -> None:
    """Build the kernel with g++, run the testbench, compare with the golden vectors."""
    from hls.vitis.csim import CsimError, run_csim

    out = console()
    try:
        summary = run_csim(project)
    except CsimError as exc:
        console(stderr=True).print(flagged("csim failed:", "red", exc))
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
        ("accuracy (hardware-exact run)", percent(summary.accuracy)),
        ("cycles per image (kernel loops)", f"{summary.cycles_kernel:,.1f}"),
        ("cycles per image (integer model)", f"{summary.cycles_golden:,.1f}"),
        (
            f"cycles per image (estimate, {summary.estimate_source or 'none'})",
            "-" if estimate is None else f"{estimate:,.1f}",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    if summary.exact:
        out.print(flagged("bit-exact:", "green", "the kernel matches the integer model"))
        return
    out.print(f"{summary.mismatches} mismatching values", style="red")
    raise typer.Exit(1)


def _activity_rows(act: Activity) -> list[tuple[str, str]]:
    """The measured toggle rate of each power class beside the model's prediction, and the
    dynamic power at each."""
    rows = [(f"toggle rate, all classes ({act.bits:,} signal bits)", f"{act.toggle_rate:.4f}")]
    for cls, rate in act.toggle.items():
        if act.bits_by_class.get(cls):
            model = act.toggle_model.get(cls)
            predicted = "-" if model is None else f"{model:.4f}"
            rows.append((f"toggle rate {cls} (measured / model)", f"{rate:.4f} / {predicted}"))
    if act.power_dynamic_w is not None and act.power_dynamic_model_w is not None:
        rows.append(
            (
                "dynamic power, W (at measured activity / model)",
                f"{act.power_dynamic_w:.4f} / {act.power_dynamic_model_w:.4f} "
                f"({act.power_error:+.1%})",
            )
        )
    return rows


def _record_simulation(project: Path, summary: RtlSimSummary, storage: str | None) -> None:
    """Put the simulated cycles on the study the design was exported from, where `dse show`
    prints them beside the estimates (study attribute `simulated_trial_<N>`); a design
    exported with --model has no study, and a study that cannot be opened is only noted."""
    import json

    from dse.commands.measure_command import open_source_study
    from dse.errors import USER_ERRORS
    from dse.summary import SIMULATED_ATTR

    try:
        ref = json.loads((project / "design.json").read_text(encoding="utf-8")).get("study")
    except (OSError, ValueError, AttributeError):
        return
    if not ref:
        return
    try:
        study, trial = open_source_study(ref, project, storage)
    except USER_ERRORS as exc:
        console(stderr=True).print(
            flagged("note:", "yellow", f"simulated cycles not recorded on the study: {exc}")
        )
        return
    key = SIMULATED_ATTR.format(trial)
    figures = {
        "cycles_sim": summary.cycles_sim,
        "cycles_plan": summary.cycles_plan,
        "images": summary.images,
        "exact": summary.exact,
    }
    study.set_user_attr(key, figures)
    console().print(f"recorded the cycles as study user attribute {key!r}", highlight=False)


def sim(
    project: Annotated[Path, typer.Argument(help="An RTL project (dse export --backend rtl).")],
    jobs: Annotated[int, typer.Option("--jobs", help="Parallel compile jobs.", min=1)] = 2,
    storage: Storage = None,
    toggles: Annotated[
        bool,
        switch(
            "toggles",
            "Also count every signal bit's toggles (a VCD of every clock edge; a slower build), "
            "per power class, and price dynamic power at the measured activity beside the "
            "model's prediction; writes sim/activity.json.",
        ),
    ] = False,
) -> None:
    """Build the core with Verilator, clock the golden images through it, and compare scores,
    spike counts and every image's measured cycles with the integer model and the plan; an
    export of a study's trial records its cycles on the study (`dse show` prints them)."""
    from hls.checks import CsimError
    from hls.rtl.sim import run_rtl_sim

    out = console()
    try:
        summary = run_rtl_sim(project, jobs=jobs, activity=toggles)
    except CsimError as exc:
        console(stderr=True).print(flagged("sim failed:", "red", exc))
        raise typer.Exit(1) from None
    table = Table(title=f"Verilator simulation of {project}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("images", str(summary.images)),
        ("score mismatches", str(summary.score_mismatches)),
        ("spike-count mismatches", str(summary.spike_mismatches)),
        ("images whose cycles differ from the plan", str(summary.cycle_mismatches)),
        ("core's cycle counter vs measured", str(summary.counter_mismatches)),
        ("accuracy (hardware-exact run)", percent(summary.accuracy)),
        ("cycles per image (measured, start to done)", f"{summary.cycles_sim:,.1f}"),
        ("cycles per image (plan at the model's events)", f"{summary.cycles_plan:,.1f}"),
        ("build / run seconds", f"{summary.build_seconds:.1f} / {summary.run_seconds:.2f}"),
    ]
    if summary.activity is not None:
        rows += _activity_rows(summary.activity)
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    _record_simulation(project, summary, storage)
    if summary.exact:
        out.print(
            flagged("exact:", "green", "bit-exact outputs and the plan's cycles on every image")
        )
        return
    out.print(f"{summary.mismatches} mismatching values", style="red")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""
    app.command()(export)
    app.command()(csim)
    app.command()(sim)
