"""One vocabulary for the command line: each flag that several commands take is defined
once here, with the same name, format, bounds and help everywhere.

Choices made (docs/study.md lists them):
* `--widths` is always the hidden-layer widths (as in the study's `width` knob);
  `dse estimate` takes the full layer list, inputs to classes, as `--layers`.
* Lists are one comma-separated value: `--widths 256,256`, `--threshold-scales 1.0,0.9`.
* `--data-root` names the IDX dataset folder (the .npz file of `--dataset npz`) in every
  command that loads a dataset by itself; a study names it in the study file (`dataset.root`,
  `dataset.path`).
* `--jobs` is how much of a command's work runs at once (worker processes of `dse run`,
  compile jobs of `dse sim`, designs of `dse calibrate`); `--n-jobs` is a hidden deprecated
  spelling of `dse run --jobs`.
* Defaults are the study file's: a flag that names a design knob defaults to the knob's
  default (`dse.space.KNOBS`: `--samples 4`, `--timesteps 8`, ...) and every `--seed` to 0,
  the study's `evaluation.seed`, `dataset.seed` and `sampler.seed`.
* Booleans are `--x/--no-x` switches.
Hardware flags take the bounds of the study's knobs (`dse.space.KNOBS`), so a value the
search would refuse is refused on the command line too (exit 2, naming the flag).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dse.redaction import STORAGE_ENV
from dse.space import KNOBS

#: The study file's defaults of the hardware flags: each knob's default (`dse.space.KNOBS`) and
#: the hardware PRNG seed of a study (`evaluation.seed`, 0), so that a design given by flags is
#: the design a study with the same knobs builds; a test holds them equal to the study's.
#: (hwmodel.template.AcceleratorConfig's own defaults, S = 10 and seed 1, are the Python
#: API's and are not what the command line takes.)
HW_DEFAULTS: dict[str, Any] = {
    "pe": 64,
    "synapses_per_cycle": 1,
    "sample_lanes": 1,
    "k_bits": 8,
    "membrane_bits": 16,
    "reuse": 1,
    "sampling": "memory",
    "clock_mhz": 100.0,
    "part": "xc7z020clg400-1",
    "ensemble": "repeat",
    "timesteps": 8,
    "samples": 4,
    "input_bits": 8,
    "seed": 0,
}


def switch(name: str, help: str) -> Any:
    """A boolean `--name/--no-name` option, shown without a value placeholder."""
    return typer.Option(f"--{name}/--no-{name}", help=help, metavar="")


def _knob(name: str, help: str) -> Any:
    """An option bounded like the study knob `name`."""
    rule = KNOBS[name]
    low = rule.minimum if rule.minimum is not None else (1 if rule.positive else None)
    return typer.Option(f"--{name.replace('_', '-')}", help=help, min=low, max=rule.maximum)


Pe = Annotated[int, _knob("pe", "Processing elements P.")]
SynapsesPerCycle = Annotated[int, _knob("synapses_per_cycle", "Synapses per PE per cycle Q.")]
SampleLanes = Annotated[int, _knob("sample_lanes", "Weight samples computed in parallel.")]
KBits = Annotated[int, _knob("k_bits", "Bits of each stored Bernoulli parameter k.")]
MembraneBits = Annotated[int, _knob("membrane_bits", "Membrane register bits b.")]
Reuse = Annotated[int, _knob("reuse", "Weights sharing one random number.")]
InputBits = Annotated[int, _knob("input_bits", "Bits per input pixel.")]
Timesteps = Annotated[int, _knob("timesteps", "SNN timesteps T per run.")]
Samples = Annotated[int, _knob("samples", "Weight samples S per inference.")]
ClockMhz = Annotated[float, _knob("clock_mhz", "Kernel clock in MHz.")]
Ensemble = Annotated[
    str, typer.Option("--ensemble", help="repeat (S full runs) or time (samples over T).")
]
Sampling = Annotated[
    str, typer.Option("--sampling", help="memory (sample into 1-bit RAM) or regenerate.")
]
Part = Annotated[str, typer.Option("--part", help="Zynq-7000 part, e.g. xc7z020clg400-1.")]
HwSeed = Annotated[
    int,
    typer.Option(
        "--seed",
        help="Seed of the on-chip PRNG (a study's evaluation.seed; dse evaluate --seed).",
        min=0,
    ),
]
DataRoot = Annotated[
    Path | None,
    typer.Option("--data-root", help="Folder of the IDX dataset files; the .npz file for npz."),
]
ThresholdScales = Annotated[
    str | None,
    typer.Option("--threshold-scales", help="Threshold scale per hidden layer, e.g. 1.0,0.9."),
]
NTrials = Annotated[
    int | None,
    typer.Option(
        "--n-trials", help="The study's total of finished trials, all workers.", min=1, max=10**6
    ),
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        help="Worker processes on this machine (default: the study file's n_jobs).",
        min=1,
        max=256,
    ),
]
#: `dse run`'s former spelling of --jobs: hidden, still accepted with a deprecation warning.
OldNJobs = Annotated[int | None, typer.Option("--n-jobs", hidden=True, min=1, max=256)]
Timeout = Annotated[
    float | None,
    typer.Option("--timeout", help="Stop starting trials after S seconds.", min=1e-3, max=1e7),
]
Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar=STORAGE_ENV,
        help="Optuna storage URL, e.g. postgresql://user@host/db (default: the study file's; "
        f"env {STORAGE_ENV} keeps a password out of the process list).",
    ),
]


def deprecated(old: str, new: str) -> None:
    """Say on stderr that `old` is a deprecated spelling of `new` (still accepted)."""
    typer.echo(f"warning: {old} is deprecated; use {new}", err=True)
