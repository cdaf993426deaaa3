"""`dse measure`: read back real Vitis HLS / Vivado reports (or `dse synth`'s Yosys counts)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dse.commands.options import Storage, switch
from dse.errors import StudyInputError
from dse.terminal import console

if TYPE_CHECKING:  # optuna and pandas load when the command runs, not for --help
    import optuna
    import pandas as pd


def _format(value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value == int(value) and abs(value) >= 10:
        return f"{int(value):,}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _table(compared: pd.DataFrame, with_estimates: bool) -> Table:
    table = Table(title="Measured against estimated" if with_estimates else "Measured")
    table.add_column("quantity")
    if with_estimates:
        table.add_column("estimated", justify="right")
    table.add_column("measured", justify="right")
    if with_estimates:
        table.add_column("measured / estimated", justify="right")
    for name, row in compared.iterrows():
        cells = [str(name)]
        if with_estimates:
            cells.append(_format(row["estimated"]))
        cells.append(_format(row["measured"]))
        if with_estimates:
            cells.append("-" if math.isnan(row["ratio"]) else f"{row['ratio']:.2f}x")
        table.add_row(*cells)
    return table


def _study_file(given: str, project: Path) -> Path:
    """design.json may hold the study file relative to where `dse export` ran or to itself."""
    path = Path(given)
    if path.is_absolute() or path.is_file():
        return path
    return project / path


def open_source_study(ref: object, project: Path, storage: str | None) -> tuple[optuna.Study, int]:
    """The study and trial a design was exported from (design.json's `study` entry)."""
    from dse.api import trial_started
    from dse.runner import open_study  # imports torch; only needed when there is a study
    from dse.schema import load_study_file

    if not (isinstance(ref, dict) and "study_file" in ref and isinstance(ref.get("trial"), int)):
        raise StudyInputError(
            f"{project / 'design.json'}: study: {ref!r} needs study_file and a trial number; "
            "re-run `dse export`"
        )
    cfg = load_study_file(_study_file(str(ref["study_file"]), project))
    study = open_study(cfg, storage, create=False)
    number, started = ref["trial"], ref.get("trial_started")  # exports before it lack it
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    now = None if trial is None else trial_started(trial)
    if started is not None and now != started:
        raise StudyInputError(
            f"{project / 'design.json'}: study: trial {number} of study {cfg.name!r} "
            f"started {now or 'never'}, not {started} as the exported one did (the study was "
            "re-created); re-export the design from this study"
        )
    return study, number


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""

    @app.command("measure")
    def measure_command(
        project: Annotated[Path, typer.Argument(help="Project folder written by `dse export`.")],
        report: Annotated[
            list[Path] | None,
            typer.Option(
                "--report",
                "-r",
                help="A csynth.xml/.rpt, report_utilization or report_power file; repeatable. "
                "Replaces any report of the same kind found in the project folder.",
            ),
        ] = None,
        storage: Storage = None,
        force: Annotated[
            bool,
            switch(
                "force", "Record reports whose top, part, clock or DSPs differ from the export."
            ),
        ] = False,
    ) -> None:
        """Parse Vitis HLS / Vivado reports into measured.json (or read the one `dse synth`
        wrote), compare with the estimates and record the figures on the study."""
        from hls.tools.measure import (
            MEASURED_FILE,
            comparison,
            load_design,
            measure,
            predicted_fmax,
            record_on_study,
        )
        from hls.tools.timing import verdict

        out = console()
        measured = measure(project, report, force=force)
        if measured.get("tool") == "yosys":
            out.print(f"read {project / MEASURED_FILE} (Yosys cell counts from dse synth)")
        else:
            out.print(f"wrote {project / MEASURED_FILE}", soft_wrap=True)
            for source in sorted(set(measured["sources"].values())):
                out.print(f"  from {source}", highlight=False, soft_wrap=True)
        design = load_design(project) or {}
        estimates = design.get("estimates")
        if estimates is not None:
            estimates = {**estimates, "fmax_mhz": predicted_fmax(design, measured.get("tool"))}
        out.print(_table(comparison(measured, estimates), estimates is not None))
        if estimates is None:
            out.print(f"no design.json with estimates in {project}; showing measured only")
        if "clock_estimate" in measured:  # dse synth's netlist clock against the design's target
            target = (design.get("config") or {}).get("clock_mhz")
            line = verdict(measured["clock_estimate"], target)
            out.print(line, highlight=False, soft_wrap=True, markup=False)
        blocks = measured.get("power_breakdown_w")
        if blocks:
            parts = ", ".join(f"{name} {watts:.3f}" for name, watts in blocks.items())
            out.print(f"power by block (W): {parts}", highlight=False, soft_wrap=True)
        out.print(f"BRAM: {measured['units']['bram18k']}", highlight=False)
        if design.get("study"):
            study, trial = open_source_study(design["study"], project, storage)
            key = record_on_study(study, trial, measured)
            out.print(
                f"recorded as study user attribute {key!r} of study {study.study_name!r} "
                "(Optuna keeps a finished trial's attributes read-only)",
                highlight=False,
            )
