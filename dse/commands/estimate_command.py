"""`dse estimate`: price one accelerator design with the analytical model, no training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dse.commands.options import (
    HW_DEFAULTS,
    ClockMhz,
    Ensemble,
    InputBits,
    KBits,
    MembraneBits,
    Part,
    Pe,
    Reuse,
    SampleLanes,
    Samples,
    Sampling,
    SynapsesPerCycle,
    Timesteps,
    deprecated,
    switch,
)
from dse.terminal import console
from hwmodel.errors import HardwareInputError
from hwmodel.profiles import DEFAULT_PROFILE, FIRST_PRINCIPLES

if TYPE_CHECKING:  # numpy and pandas load when the command runs, not for --help
    from hwmodel.template import AcceleratorConfig

_RATE_HELP = "Fraction of hidden inputs firing per timestep (default 0.1)."
_CONV_HELP = (
    "Convolutional blocks before the dense layers: output channels each, p for 2x2 pooling, "
    "e.g. 8p,16p (needs --input-shape; --layers then starts with their flattened outputs)."
)
_SHAPE_HELP = "Image shape channels x height x width, e.g. 1x28x28 (needed by --conv)."
_ACTIVITY_HELP = "JSON list of mean events per weight layer (index 0 = n0), or an object with one."
_BOARD_HELP = "Board for energy_board_uj (hwmodel/data/boards.json), e.g. pynq-z2."
_CALIBRATION_HELP = (
    f"Calibration profile: a packaged name ({DEFAULT_PROFILE}: the RTL as Yosys builds it; "
    f"{FIRST_PRINCIPLES}: the uncalibrated model) or a profile JSON file."
)


def _read_activity(path: Path) -> list[float]:
    """A JSON list, or an object with an `activity` list (e.g. saved evaluation metrics)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HardwareInputError(
            f"--activity: cannot read {str(path)!r} ({exc.__class__.__name__}); give a JSON "
            "list of mean events per weight layer, e.g. [784, 51.2, 40.3]"
        ) from None
    values = data.get("activity") if isinstance(data, dict) else data
    if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
        raise HardwareInputError(
            f"--activity: {str(path)!r} holds no list of numbers; give a JSON list such as "
            "[784, 51.2, 40.3] or an object with an 'activity' list"
        )
    return [float(v) for v in values]


def _print_report(result: dict, config: AcceleratorConfig, calibration: str) -> None:
    from hwmodel.devices import get_board, get_part

    out = console()
    part = get_part(config.part)
    board = get_board(result["board"])
    res = Table(title=f"Resources on {config.part} (fits: {result['fits']}; profile {calibration})")
    if config.conv and not result["calibrated"]:
        out.print(
            f"note: calibrated: False; the convolutional front "
            f"({','.join(map(str, config.conv))}) is priced by a profile whose conv fit misses "
            "the calibration criteria, or has none (docs/rtl.md, Calibration)"
        )
    for col in ("resource", "used", "available", "util %"):
        res.add_column(col, justify="right" if col != "resource" else "left")
    for key, avail in (("lut", part.lut), ("ff", part.ff), ("bram36", part.bram36)):
        res.add_row(
            key.upper(), f"{result[key]:g}", f"{avail}", f"{100 * result[f'util_{key}']:.1f}"
        )
    res.add_row("DSP", f"{result['dsp']:g}", f"{part.dsp}", f"{100 * result['util_dsp']:.1f}")
    res.add_row(
        "LUTRAM", f"{result['lutram']:g}", f"{part.lutram}", f"{100 * result['util_lutram']:.1f}"
    )
    out.print(res)

    comp = Table(title="Per component")
    for col in ("component", "LUT", "FF", "BRAM18", "DSP"):
        comp.add_column(col, justify="right" if col != "component" else "left")
    for name, figures in result["components"].items():
        if name.startswith("conv_") and not config.conv:
            continue  # a dense design builds none of the convolutional front
        comp.add_row(name, *(f"{figures[r]:g}" for r in ("lut", "ff", "bram18", "dsp")))
    out.print(comp)

    perf = Table(title=f"Performance at {result['clock_mhz']:g} MHz")
    perf.add_column("metric")
    perf.add_column("value", justify="right")
    rows = [
        ("cycles (schedule)", f"{result['cycles']:,.0f}"),
        ("  sampling phase", f"{result['cycles_sampling']:,.0f}"),
        *((f"  layer {i}", f"{c:,.0f}") for i, c in enumerate(result["cycles_per_layer"])),
        ("  I/O (m_axi)", f"{result['cycles_io']:,.0f}"),
        ("latency", f"{result['latency_us']:,.1f} µs"),
        ("throughput", f"{result['throughput_ips']:,.1f} inferences/s"),
        ("synaptic ops", f"{result['synops_per_s'] / 1e9:,.3f} G/s"),
        ("GOPS (dense-equivalent, 2/MAC)", f"{result['gops']:,.2f}"),
        ("GOPS/DSP (DSP floored at 1)", f"{result['gops_per_dsp']:,.2f}"),
        ("power PL static", f"{result['power_static_w']:.3f} W"),
        ("power PL dynamic", f"{result['power_dynamic_w']:.3f} W"),
        *(
            (f"  {cls} (toggle rate {result['toggle'][cls]:.1%})", f"{watts:.4f} W")
            for cls, watts in result["power_by_class"].items()
            if watts > 0
        ),
        ("power PL (power_w)", f"{result['power_w']:.3f} W"),
        ("power PS7 (not in power_w)", f"{result['power_ps_w']:.3f} W"),
        ("power PS7 waiting in WFI (estimate)", f"{result['power_ps_idle_w']:.3f} W"),
        ("power on-chip total", f"{result['power_total_w']:.3f} W"),
        (f"power board ({board.name}, idle + PL dynamic)", f"{result['power_board_w']:.3f} W"),
    ]
    for name, value in rows:
        perf.add_row(name, value)
    out.print(perf)

    energy = Table(title="Energy per inference: what each figure includes (none measured here)")
    for col in ("figure", "includes", "value"):
        energy.add_column(col, justify="right" if col == "value" else "left")
    ps, idle = result["power_ps_w"], result["power_ps_idle_w"]
    energy.add_row(
        "energy_pl_uj",
        "programmable logic only: power_w x latency",
        f"{result['energy_pl_uj']:,.2f} µJ",
    )
    energy.add_row(
        "energy_soc_uj",
        f"PL + PS7 ({ps:.2f} W on the bus transfers, {idle:.2f} W in WFI)",
        f"{result['energy_soc_uj']:,.2f} µJ",
    )
    energy.add_row(
        "energy_board_uj",
        f"{board.name} board: {board.idle_w:.2f} W idle (assumed) + PL dynamic "
        f"+ {ps - idle:.2f} W PS on the bus",
        f"{result['energy_board_uj']:,.2f} µJ",
    )
    out.print(energy)
    if part.device != get_part(board.part).device:
        out.print(
            f"note: the {board.name} carries {board.part}, not {config.part}; "
            "energy_board_uj uses its idle draw all the same"
        )


def register(app: typer.Typer) -> None:
    """Add `dse estimate` to the app."""

    @app.command("estimate")
    def estimate_command(
        layers: Annotated[
            str | None,
            typer.Option(help="Layer sizes, inputs to classes, e.g. 784,512,512,10 (required)."),
        ] = None,
        conv: Annotated[str, typer.Option(help=_CONV_HELP)] = "",
        input_shape: Annotated[str | None, typer.Option(help=_SHAPE_HELP)] = None,
        part: Part = HW_DEFAULTS["part"],
        pe: Pe = HW_DEFAULTS["pe"],
        clock_mhz: ClockMhz = HW_DEFAULTS["clock_mhz"],
        timesteps: Timesteps = HW_DEFAULTS["timesteps"],
        samples: Samples = HW_DEFAULTS["samples"],
        ensemble: Ensemble = HW_DEFAULTS["ensemble"],
        k_bits: KBits = HW_DEFAULTS["k_bits"],
        membrane_bits: MembraneBits = HW_DEFAULTS["membrane_bits"],
        reuse: Reuse = HW_DEFAULTS["reuse"],
        synapses_per_cycle: SynapsesPerCycle = HW_DEFAULTS["synapses_per_cycle"],
        sample_lanes: SampleLanes = HW_DEFAULTS["sample_lanes"],
        sampling: Sampling = HW_DEFAULTS["sampling"],
        input_bits: InputBits = HW_DEFAULTS["input_bits"],
        spike_rate: Annotated[float | None, typer.Option(help=_RATE_HELP)] = None,
        activity: Annotated[Path | None, typer.Option(help=_ACTIVITY_HELP)] = None,
        calibration: Annotated[str, typer.Option(help=_CALIBRATION_HELP)] = DEFAULT_PROFILE,
        board: Annotated[str, typer.Option(help=_BOARD_HELP)] = "pynq-z2",
        util_cap: Annotated[
            float | None, typer.Option(help="Utilisation cap (0-1].", min=0, max=1)
        ] = None,
        as_json: Annotated[
            bool, switch("json", "Print one JSON object instead of tables.")
        ] = False,
        old_widths: Annotated[str | None, typer.Option("--widths", hidden=True)] = None,
    ) -> None:
        """Price one design: resources, cycles, latency, GOPS and power, without training."""
        from dse.commands.design_flags import design_from_flags
        from hwmodel.estimate import estimate, parse_widths

        if old_widths is not None:  # before 0.2 estimate's --widths meant all layers
            deprecated("estimate --widths (all layers)", "--layers")
            layers = layers or old_widths
        if layers is None:
            raise HardwareInputError("--layers: missing; give the layer sizes, e.g. 784,512,10")
        from dse.preflight import check_calibration

        check_calibration(calibration, "--calibration")
        if spike_rate is not None and activity is not None:
            raise HardwareInputError(
                "--spike-rate/--activity: give one of them, not both (activity overrides rates)"
            )
        try:
            sizes = parse_widths(layers)
        except HardwareInputError as exc:
            raise HardwareInputError(f"--layers: {exc}".replace(": widths:", ":")) from None
        config = design_from_flags(sizes, locals())
        result = estimate(
            config,
            activity=_read_activity(activity) if activity is not None else None,
            spike_rate=0.1 if spike_rate is None else spike_rate,
            calibration=calibration,
            util_cap=util_cap,
            board=board,
        )
        if as_json:
            output = {**result, "config": config.as_dict(), "calibration": calibration}
            typer.echo(json.dumps(output, indent=2))
        else:
            _print_report(result, config, calibration)
