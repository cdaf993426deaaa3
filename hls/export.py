"""`dse export`: a self-contained Vitis HLS project from a converted SNN and a design.

`export_project` is the core (numpy only): quantize, run the integer hardware-exact model on
the golden images, render every template through one guarded writer.  `export_design` loads
a saved model directory first (torch, through `models`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from hls.golden import GoldenVectors, format_golden
from hls.project import TEMPLATE_DIR, ProjectWriter, render
from hls.rtl.context import memory_files, rtl_context
from hls.vitis.context import template_context
from hwmodel.architecture import ConvBlock
from hwmodel.errors import HardwareInputError
from hwmodel.template import AcceleratorConfig

if TYPE_CHECKING:  # torch-free at import time; the models come in when a project is built
    from models.datasets import DatasetSplits
    from models.snn_integer import IntegerResult
    from models.snn_spec import ConvertedSNN

__all__ = [
    "BACKENDS",
    "ExportResult",
    "export_design",
    "export_project",
    "golden_activity",
    "model_estimate",
]

# Per backend, the templates (under hls/templates/<backend>/) rendered and copied verbatim,
# as template path -> project path, and where the golden vectors go; `prng` names the static
# files only a design that draws its weights needs (a deterministic plan has no PRNG units).
_BACKENDS = {
    "hls": {
        "rendered": {
            "src/snn_config.h.j2": "src/snn_config.h",
            "src/snn_types.h.j2": "src/snn_types.h",
            "src/snn_params.h.j2": "src/snn_params.h",
            "src/snn_kernel.cpp.j2": "src/snn_kernel.cpp",
            "Makefile.j2": "Makefile",
            "build.tcl.j2": "build.tcl",
            "block_design.tcl.j2": "block_design.tcl",
            "host/snn_driver.py.j2": "host/snn_driver.py",
            "README.md.j2": "README.md",
        },
        "static": {"src/snn_datapath.h": "src/snn_datapath.h", "tb/snn_tb.cpp": "tb/snn_tb.cpp"},
        "golden": "tb/golden.txt",
    },
    "rtl": {
        "rendered": {
            "rtl/snn_core.v.j2": "rtl/snn_core.v",
            "rtl/snn_axi.v.j2": "rtl/snn_axi.v",
            "vivado.tcl.j2": "vivado.tcl",
            "README.md.j2": "README.md",
        },
        "static": {
            "rtl/snn_mem.v": "rtl/snn_mem.v",
            "rtl/snn_signs.v": "rtl/snn_signs.v",
            "sim/snn_sim.cpp": "sim/snn_sim.cpp",
        },
        "prng": ("rtl/snn_signs.v",),
        "golden": "sim/golden.txt",
    },
}
BACKENDS = tuple(_BACKENDS)


@dataclass
class ExportResult:
    """Where the project went and what the integer model said about the golden images."""

    out_dir: Path
    files: list[Path]
    design: dict = field(repr=False)


def golden_activity(config: AcceleratorConfig, result: IntegerResult) -> list[float]:
    """`models.evaluation`'s activity list from an integer run: mean input events per
    timestep per weight sample per image, index 0 the dense input (n0)."""
    per_sample = result.spikes.mean(axis=0) / (config.runs * config.timesteps)
    return [float(config.widths[0]), *map(float, per_sample)]


def model_estimate(config: AcceleratorConfig, result: IntegerResult, backend: str) -> dict:
    """The cost model's figures for this design as `backend` builds it (its bus: the RTL's
    AXI4-Lite wrapper or the HLS kernel's m_axi adapters) at the golden images' activity: the
    per-lane activity, and the inputs each event loop visited per timestep and round (the
    union over lanes that the integer model counts).  An RTL export is priced with the
    default profile, fitted to that backend under Yosys; no profile is measured for the HLS
    kernel, so its figures are first principles (`calibration` says which)."""
    from hwmodel.estimate import estimate  # pandas: only when a project is written
    from hwmodel.profiles import DEFAULT_PROFILE, FIRST_PRINCIPLES

    profile = DEFAULT_PROFILE if backend == "rtl" else FIRST_PRINCIPLES
    loop_events = result.events.mean(axis=(0, 1, 2))
    out = dict(
        estimate(
            config,
            activity=golden_activity(config, result),
            loop_events=[float(e) for e in loop_events],
            calibration=profile,
            backend=backend,
        )
    )
    # csynth's latency bound: every input firing
    worst = estimate(config, spike_rate=1.0, calibration=profile, backend=backend)
    out["cycles_worst"], out["latency_worst_us"] = worst["cycles"], worst["latency_us"]
    out["source"] = "hwmodel.estimate.estimate"
    out["calibration"] = profile
    return out


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def export_project(
    snn: ConvertedSNN,
    config: AcceleratorConfig,
    images: np.ndarray,
    labels: np.ndarray,
    out_dir: str | Path,
    *,
    force: bool = False,
    design_name: str = "snn",
    metrics: dict | None = None,
    source: dict | None = None,
    study: dict | None = None,
    backend: str = "hls",
) -> ExportResult:
    """Write the `backend` project ("hls": Vitis HLS, "rtl": Verilog) for `snn` under `config`
    into `out_dir` (see the module doc).

    `images` are floats in [0, 1] [N, n0] with their `labels`; they become the golden vectors.
    `metrics` (e.g. a trial's user attributes), `source` and `study` (study_file, study_name,
    trial; what `dse measure` needs to record on the study) go into design.json as given.
    """
    from models.snn_integer import (
        class_probabilities,
        quantize_input,
        quantize_network,
        run_integer,
        score_divisor,
    )

    if backend not in _BACKENDS:
        raise HardwareInputError(
            f"--backend: {backend!r} is not a backend; use one of {', '.join(BACKENDS)}"
        )
    writer = ProjectWriter(out_dir, force=force)
    net = quantize_network(snn, config)
    x_int = quantize_input(images, config.input_bits)
    labels = np.asarray(labels, dtype=np.int64)
    result = run_integer(net, x_int, config)
    probs = class_probabilities(
        result.scores,
        output_scale=snn.output_scale,
        divisor=score_divisor(net),
        timesteps=config.timesteps,
    )
    accuracy = float((probs.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")
    golden = GoldenVectors(
        scores=result.scores,
        spikes=result.spikes,
        cycles=result.cycles,
        inputs=x_int,
        labels=labels,
    )
    if backend == "rtl":
        context = rtl_context(net, config, design_name)
    else:
        context = template_context(net, config, len(x_int), design_name)
    design = {
        "name": design_name,
        "backend": backend,
        "config": config.as_dict(),
        "quantization": {
            "shifts": [layer.shift for layer in net.layers],
            "score_divisor": score_divisor(net),
            "output_scale": float(snn.output_scale),
            "input_scale": (1 << config.input_bits) - 1,
        },
        "golden": {
            "images": len(x_int),
            "accuracy": accuracy,
            "cycles_mean": float(result.cycles.mean()) if len(x_int) else 0.0,
            "spikes_per_layer_mean": result.spikes.mean(axis=0).tolist() if len(x_int) else [],
        },
        "estimates": model_estimate(config, result, backend) if len(x_int) else {},
        "metrics": metrics or {},
        "source": source or {},
    }
    if study:
        design["study"] = study
    context["design"] = design
    spec = _BACKENDS[backend]
    files = [
        writer.write(target, render(f"{backend}/{name}", context))
        for name, target in spec["rendered"].items()
    ]
    drawn = context["plan"].prng_units > 0
    files += [
        writer.write(target, (TEMPLATE_DIR / backend / name).read_text(encoding="utf-8"))
        for name, target in spec["static"].items()
        if drawn or name not in spec.get("prng", ())
    ]
    if backend == "rtl":
        files += [
            writer.write(f"rtl/{name}", text) for name, text in memory_files(net, config).items()
        ]
    files.append(writer.write(spec["golden"], format_golden(golden)))
    text = json.dumps(_json_ready(design), indent=2, allow_nan=True) + "\n"
    files.append(writer.write("design.json", text))
    return ExportResult(out_dir=writer.root, files=files, design=design)


def export_design(
    model_dir: str | Path,
    config: AcceleratorConfig,
    out_dir: str | Path,
    *,
    force: bool = False,
    n_images: int = 16,
    threshold_scales: Sequence[float] | None = None,
    weights: Literal["sample", "mode"] = "sample",
    splits: DatasetSplits | None = None,
    dataset_root: str | Path | None = None,
    metrics: dict | None = None,
    source: dict | None = None,
    study: dict | None = None,
    design_name: str = "snn",
    backend: str = "hls",
) -> ExportResult:
    """Export the model saved in `model_dir` under `config` as a `backend` project; golden
    images are the first `n_images` of the test split (`splits`, else the model's dataset from
    `dataset_root`).  `weights`: the posterior (`sample`) or its sign (`mode`, a deterministic
    network), converted as the search evaluated it."""
    from models.conversion import convert
    from models.datasets import load_dataset
    from models.io import load_model

    if n_images < 1:
        raise HardwareInputError(f"--images: {n_images} must be at least 1")
    model = load_model(model_dir)
    if tuple(model.widths) != tuple(config.widths):
        raise HardwareInputError(
            f"widths: the design has {list(config.widths)} but the model in {model_dir} has "
            f"{list(model.widths)}; take the widths from the model"
        )
    snn = convert(model, threshold_scales, weights=weights)
    if snn.conv_shapes != config.conv_shapes:  # a trained or an imported model's front
        blocks = ",".join(str(ConvBlock(s.channels, s.pool)) for s in snn.conv_shapes)
        image = "x".join(map(str, snn.input_shape or ()))
        raise HardwareInputError(
            f"conv: the design's front ({','.join(map(str, config.conv)) or 'none'}) is not the "
            f"model's ({f'{blocks} over {image}' if blocks else 'none'}); take it from the model"
        )
    if splits is None:
        splits = load_dataset(model.dataset, root=dataset_root)
    x, y = splits.test
    if n_images > len(x):  # never silently fewer golden vectors than asked for
        raise HardwareInputError(
            f"--images: {n_images} is more than the {len(x)} test images of {model.dataset}; "
            f"use at most {len(x)}"
        )
    images = np.asarray(x[:n_images], dtype=np.float64)
    labels = np.asarray(y[:n_images], dtype=np.int64)
    info = {"model_dir": str(Path(model_dir).resolve()), "dataset": model.dataset}
    info.update(source or {})
    return export_project(
        snn,
        config,
        images,
        labels,
        out_dir,
        force=force,
        design_name=design_name,
        metrics=metrics,
        source=info,
        study=study,
        backend=backend,
    )
