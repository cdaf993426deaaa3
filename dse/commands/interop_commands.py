"""`dse import` (a NIR file in, as a model directory) and the NIR side of `dse export
--backend nir`: interchange with snnTorch, Norse and the rest of the NIR world
(docs/interop.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from dse.commands.options import DataRoot, switch
from dse.errors import StudyInputError
from dse.terminal import console, flagged

if TYPE_CHECKING:  # numpy and torch load when a command runs, not for --help
    from hwmodel.template import AcceleratorConfig
    from models.imported import ImportedModel
    from models.nir_export import NirExport

#: snnTorch's time step (models.nir_import.DEFAULT_DT), here so that --help imports nothing.
DEFAULT_DT = 1e-4


def parse_weight_sample(text: str | None) -> str | int:
    """--weight-sample: ``mode`` or a sample index (0 when not given)."""
    if text is None:
        return 0
    if text == "mode":
        return text
    if text.isdigit():
        return int(text)
    raise StudyInputError(
        f"--weight-sample: {text!r} is not allowed; use mode or a sample index >= 0, e.g. 0"
    )


def write_nir(
    model_dir: Path,
    config: AcceleratorConfig,
    out: Path,
    *,
    weight_sample: str | int,
    force: bool,
    kwargs: dict[str, Any],
) -> NirExport:
    """`models.nir_export.export_nir` of a trial or model, with the command's report."""
    from models.nir_export import export_nir

    source = kwargs.get("source") or {}
    result = export_nir(
        model_dir,
        config,
        out,
        threshold_scales=kwargs.get("threshold_scales"),
        weights=kwargs.get("weights", "sample"),
        weight_sample=weight_sample,
        force=force,
        source={k: v for k, v in source.items() if v is not None},
    )
    widths = "-".join(map(str, result.snn.widths))
    if result.snn.conv_shapes:  # the image and the blocks, as `conv:` spells them
        blocks = ",".join(f"{s.channels}{'p' if s.pool else ''}" for s in result.snn.conv_shapes)
        image = "x".join(map(str, result.snn.input_shape or ()))
        widths = f"{image} image, conv {blocks}, dense {widths}"
    console().print(
        f"wrote {result.path} (NIR: {widths}, T = {config.timesteps}; weights: "
        f"{result.weights}); load it with nir.read, see docs/interop.md",
        highlight=False,
    )
    for note in result.notes:
        console(stderr=True).print(flagged("note:", "yellow", note))
    return result


def _report(model: ImportedModel, file: Path, out: Path) -> None:
    """The layers as imported (ints: thresholds and biases are integers in current units, so
    the integer model is exact), the notes, and the commands to run next."""
    widths = "-".join(map(str, model.widths))
    table = Table(title=f"{file.name} -> {out} ({model.dataset}, {widths})")
    for col in ("layer", "nodes", "neurons", "|w|", "threshold", "bias", "fires", "reset", "ints"):
        table.add_column(col, justify="right" if col in ("layer", "neurons") else "left")
    resets = {"subtract": "subtract", "none (accumulator)": "-"}

    def span(pair: list[float]) -> str:
        return f"{pair[0]:g}" if pair[0] == pair[1] else f"{pair[0]:g}..{pair[1]:g}"

    for index, layer in enumerate(model.layers):
        table.add_row(
            str(index),
            " -> ".join(layer["nodes"]),
            str(layer["neurons"]),
            span(layer["weight_magnitude"]),
            span(layer["threshold"]) if layer["spiking"] else "-",
            span(layer["bias"]),
            layer["fire"].replace(" threshold", " th") if layer["spiking"] else "-",
            resets.get(layer["reset"], "0 -> subtract"),
            "yes" if layer["integral"] else "no",
        )
    out_console = console()
    out_console.print(table)
    for note in model.notes:
        console(stderr=True).print(flagged("note:", "yellow", note))
    layers = ",".join(map(str, model.widths))
    out_console.print(
        f"next: dse evaluate {out} --integer --samples 1 --k-bits 1; "
        f"dse estimate --layers {layers} --k-bits 1 --samples 1; "
        f"dse export --model {out} --backend rtl --k-bits 1 --samples 1 --out build/imported",
        highlight=False,
    )


def import_command(
    file: Annotated[Path, typer.Argument(help="The NIR file (nir.write, snnTorch's export).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Model directory to create (required).")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="digits, mnist, fashion-mnist or npz (--data-root FILE)."),
    ] = None,
    data_root: DataRoot = None,
    dt: Annotated[
        float,
        typer.Option(help="The file's time step in s (LIF: leak dt/tau, gain r*dt/tau).", min=0),
    ] = DEFAULT_DT,
    force: Annotated[bool, switch("force", "Write into a non-empty --out.")] = False,
) -> None:
    """Import a feed-forward NIR graph of binary IF layers (Linear/Affine with +-1 weights,
    IF or leak-free LIF neurons) as a model directory that `dse evaluate`, a study
    (`model:`), `dse export` and both hardware backends take (docs/interop.md)."""
    if out is None:
        raise StudyInputError("--out: missing; name the model directory, e.g. --out runs/m")
    if dataset is None:
        raise StudyInputError(
            "--dataset: missing; name what the network classifies (digits, mnist, "
            "fashion-mnist or npz with --data-root FILE)"
        )
    from dse.api import imported_model

    model = imported_model(
        file, out, dataset, dt=dt, force=force, flag="--out", data_root=data_root
    )
    _report(model, file, out)


def register(app: typer.Typer) -> None:
    """Add `dse import` to the app."""
    app.command("import")(import_command)
