"""`dse csim` of an MNIST-size design (784-512-512-10): wall time and peak memory, bit-exact.

    python benchmarks/mnist_csim.py [--study studies/mnist98.yaml] [--run-dir DIR]
                                    [--trial best] [--images 4] [--out DIR] [--random]

Exports one trial of the study with `dse export` from the models `dse run` cached (`--run-dir`:
the folder the study was run from, whose runs/<name>/ holds study.db and models/; default the
repository), else, with `--random` or when that cache is absent, a random 784-512-512-10
network (`hls.tools.design_spread.random_snn`) at the knobs of the mnist98 study's Bayesian designs
(k = 4, 32 PEs, regenerate: `codes_0` is 12,544 words of 32 codes).  Then runs `dse csim` on
it in a child process, as a user does, and reports its wall time and the peak resident memory
of that process tree (the largest of dse, make, g++ and the testbench, from `os.wait4`)
against the goal of under 4 GB and under 10 minutes.  Exit status 1 when the C-simulation is
not bit-exact or misses the goal.  Export and C-simulation each run in their own process, so
that neither this script's memory nor the export's counts toward the C-simulation's peak.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
WIDTHS = (784, 512, 512, 10)
GOAL_GB, GOAL_MIN = 4.0, 10.0
KNOBS = {  # the mnist98 study's Bayesian designs (trial 9: the codes_0[12544][32] of the issue)
    "pe": 32,
    "synapses_per_cycle": 1,
    "sample_lanes": 1,
    "k_bits": 4,
    "membrane_bits": 24,
    "reuse": 4,
    "sampling": "regenerate",
    "ensemble": "time",
    "timesteps": 8,
    "samples": 7,
    "input_bits": 8,
    "clock_mhz": 150.0,
    "part": "xc7z020clg400-1",
    "seed": 1,
}


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _dse(*args: str) -> list[str]:
    """`dse ARGS` from this repository whatever the working directory (`python -m` would put
    the working directory, perhaps another checkout, first on the path)."""
    code = "import sys; sys.path.insert(0, sys.argv.pop(1)); from dse.cli import main; "
    return [sys.executable, "-c", code + "sys.exit(main(sys.argv[1:]))", str(REPO), *args]


def random_export(out: Path, images: int, seed: int) -> None:
    """Write the random design's HLS project into `out` (run in a child process)."""
    import numpy as np

    from hls.export import export_project
    from hls.tools.design_spread import random_snn
    from hwmodel.template import AcceleratorConfig

    rng = np.random.default_rng(seed)
    config = AcceleratorConfig(widths=WIDTHS, **KNOBS)
    pixels = rng.uniform(0, 1, (images, WIDTHS[0]))
    labels = rng.integers(0, WIDTHS[-1], images)
    export_project(random_snn(WIDTHS, rng), config, pixels, labels, out, force=True)


def export(args: argparse.Namespace, out: Path) -> str:
    """Export the study's trial, else the random design; returns which one it was."""
    study = args.study.resolve()
    name = yaml.safe_load(study.read_text(encoding="utf-8"))["name"]
    if not args.random and (args.run_dir / "runs" / name / "study.db").is_file():
        command = ["export", str(study), "--trial", args.trial, "--out", str(out)]
        command += ["--images", str(args.images), "--force"]
        done = subprocess.run(
            _dse(*command),
            cwd=args.run_dir,
            env=_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return f"{name} --trial {args.trial} ({args.run_dir})"
        print(f"dse export: {done.stderr.strip()}; exporting a random design", file=sys.stderr)
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "import mnist_csim; mnist_csim.random_export(Path(sys.argv[2]), *map(int, sys.argv[3:]))"
    )
    where = str(Path(__file__).resolve().parent)
    subprocess.run(
        [sys.executable, "-c", code, where, str(out), str(args.images), str(args.seed)],
        env=_env(),
        check=True,
    )
    knobs = f"k={KNOBS['k_bits']}, {KNOBS['pe']} PEs, {KNOBS['sampling']}"
    return f"random {'-'.join(map(str, WIDTHS))}, {knobs} (seed {args.seed})"


def timed_csim(project: Path) -> tuple[int, float, float, str]:
    """(exit status, seconds, peak resident GB of the process tree, output) of `dse csim`."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        _dse("csim", str(project)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - began
    return proc.returncode, seconds, usage.ru_maxrss / 1024**2, output  # ru_maxrss: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=REPO / "studies" / "mnist98.yaml")
    parser.add_argument("--run-dir", type=Path, default=REPO, help="where `dse run` ran")
    parser.add_argument("--trial", default="best")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="project folder (default: temp)")
    parser.add_argument("--random", action="store_true", help="a random design, not the study's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="mnist_csim_") as temp:
        out = (args.out or Path(temp) / "project").resolve()
        began = time.perf_counter()
        design = export(args, out)
        export_s = time.perf_counter() - began
        params_mb = (out / "src" / "snn_params.h").stat().st_size / 1e6
        status, seconds, peak_gb, output = timed_csim(out)
    exact = status == 0 and "bit-exact: the kernel matches" in output
    table = Table(title=f"dse csim of {design}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("dse export seconds", f"{export_s:.1f}")
    table.add_row("src/snn_params.h MB", f"{params_mb:.2f}")
    table.add_row("dse csim seconds (g++ build + run)", f"{seconds:.1f}")
    table.add_row("dse csim peak resident GB", f"{peak_gb:.2f}")
    table.add_row("golden images", str(args.images))
    table.add_row("bit-exact", "yes" if exact else f"NO (exit {status})")
    console.print(table)
    within = seconds < 60 * GOAL_MIN and peak_gb < GOAL_GB
    verdict = "met" if within else "MISSED"
    console.print(f"goal (< {GOAL_GB:g} GB, < {GOAL_MIN:g} min): {verdict}", highlight=False)
    if not exact:
        console.print(output[-3000:], highlight=False, markup=False)
    return 0 if exact and within else 1


if __name__ == "__main__":
    sys.exit(main())
