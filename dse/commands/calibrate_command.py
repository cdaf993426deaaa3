"""`dse calibrate`: synthesize and simulate a spread of RTL designs, fit the cost model to
the measured cells and print its errors before and after, leave-one-out included."""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dse.terminal import console, flagged

if TYPE_CHECKING:  # pandas loads when the command runs, not for --help
    import pandas as pd


WIDE = 200  # columns of the per-design table


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.1f}"
    return "-" if value is None else str(value)


def rich_table(frame: pd.DataFrame, title: str) -> Table:
    """A DataFrame as a rich table: numbers right-aligned, one decimal."""
    table = Table(title=title)
    for column in frame.columns:
        numeric = frame[column].map(lambda v: isinstance(v, int | float)).all()
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def calibrate(
    out: Annotated[
        Path, typer.Option("--out", help="Folder of the designs, profile.json and the table.")
    ],
    designs: Annotated[
        int, typer.Option("--designs", help="Dense designs to measure (0 with --base).", min=0)
    ] = 24,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the design spread.", min=0)] = 0,
    jobs: Annotated[int, typer.Option("--jobs", help="Designs built at once.", min=1)] = 2,
    name: Annotated[str, typer.Option("--name", help="Name of the fitted profile.")] = (
        "yosys-rtl"
    ),
    images: Annotated[
        int, typer.Option("--sim-images", help="Random images each design simulates.", min=1)
    ] = 4,
    conv_designs: Annotated[
        int,
        typer.Option(
            "--conv-designs", help="Designs with a convolutional front to measure.", min=0
        ),
    ] = 12,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Profile (name or file) whose dense part is kept; only conv designs are fitted.",
        ),
    ] = None,
) -> None:
    """Export, simulate (Verilator) and synthesize (Yosys) a spread of small RTL designs,
    fit the cost model's multipliers to the cells and save the profile.

    Resumable: designs already measured in --out are read back, not rebuilt.
    """
    from hls.tools.calibrate import calibrate as run
    from hls.tools.calibrate import design_frame, summary_frame

    command = (
        f"dse calibrate --out {shlex.quote(str(out))} --designs {designs} --seed {seed} "
        f"--jobs {jobs} --name {shlex.quote(name)} --sim-images {images}"
        f" --conv-designs {conv_designs}"
        + (f" --base {shlex.quote(base)}" if base is not None else "")
    )
    result = run(
        out,
        designs,
        seed,
        jobs,
        name,
        images,
        command=command,
        conv_designs=conv_designs,
        base=base,
    )
    out_console = console()
    # Wide tables at full width (a narrow terminal wraps the lines; no cell is cut).
    out_console.width = max(out_console.width, WIDE)
    out_console.print(rich_table(design_frame(result.results, result.loo), "Designs"))
    title = f"Relative error of the model vs Yosys, {len(result.table)} designs"
    out_console.print(rich_table(summary_frame(result.loo), title))
    reused = sum(bool(r.get("cached")) for r in result.results)
    out_console.print(
        f"{reused} of {len(result.results)} designs read back from {out}; fit and "
        f"leave-one-out in {result.fit_seconds:.1f} s",
        highlight=False,
    )
    out_console.print(f"wrote {result.profile_path} and {result.table_path}", highlight=False)
    err = console(stderr=True)
    for r in result.results:
        sim = r.get("sim") or {}
        if sim and not (sim.get("exact") and sim.get("cycle_mismatches") == 0):
            err.print(
                flagged(
                    "warning:",
                    "yellow",
                    f"{r['design']}: the RTL simulation is not bit- and cycle-exact "
                    f"({sim.get('mismatches')} mismatching values, "
                    f"{sim.get('cycle_mismatches')} images off the plan's cycles)",
                )
            )
    for failed in result.failed:
        err.print(flagged("failed:", "red", f"{failed['design']}: {failed['error']}"))
    if result.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""
    app.command()(calibrate)
