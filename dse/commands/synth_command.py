"""`dse synth`: Yosys synthesis of an RTL export to 7-series cells, written to measured.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dse.terminal import console, flagged


def synth(
    project: Annotated[
        Path, typer.Argument(help="A project written by `dse export --backend rtl`.")
    ],
    top: Annotated[
        str | None,
        typer.Option(
            "--top",
            help="Top module to synthesize (default: snn_axi, the core in its AXI4-Lite "
            "wrapper, as a board builds it and as dse calibrate measures it).",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Stop Yosys after S seconds.", min=1.0)
    ] = 1800.0,
) -> None:
    """Map the RTL to xc7 cells with Yosys (synth_xilinx -abc9), count LUT/FF/BRAM/DSP,
    estimate the clock against the design's target, and write measured.json for `dse measure`."""
    from hls.tools.synth import DEFAULT_TOP, SynthFailed, synthesize
    from hls.tools.timing import verdict

    top = top or DEFAULT_TOP
    out = console()
    out.print(f"synthesizing {project} (top {top}) with Yosys ...", highlight=False)
    try:
        result = synthesize(project, top=top, timeout=timeout)
    except SynthFailed as exc:
        console(stderr=True).print(flagged("synth failed:", "red", exc))
        raise typer.Exit(1) from None
    measured = result.measured
    table = Table(title=f"Yosys {measured['family']} cells of {top}")
    table.add_column("resource")
    table.add_column("count", justify="right")
    sizes = ", ".join(f"{k} {v}" for k, v in measured["lut_by_size"].items() if v)
    rows = [
        ("LUT (slice LUTs)", measured["lut"]),
        (f"  logic ({sizes or 'none'})", measured["lut_logic"]),
        ("  distributed RAM", measured["lutram"]),
        ("  shift registers", measured["srl"]),
        ("FF", measured["ff"]),
        (
            f"BRAM (18 Kb; RAMB18E1 {measured['ramb18']}, RAMB36E1 {measured['ramb36']})",
            measured["bram18k"],
        ),
        ("DSP48E1", measured["dsp"]),
        ("CARRY4", measured["carry4"]),
        ("MUXF7 / MUXF8", f"{measured['muxf7']} / {measured['muxf8']}"),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) else value)
    out.print(table)
    line = verdict(measured["clock_estimate"], measured["clock_mhz"])
    out.print(line, highlight=False, soft_wrap=True, markup=False)  # signal names hold [..]
    out.print(
        f"wrote {result.project_dir / 'measured.json'} in {measured['seconds']:g} s "
        f"({measured['source']['version'].split(' (')[0]}; log {result.log}); "
        f"next: dse measure {project}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""
    app.command()(synth)
