"""Start-up time of the command line and of the modules other code imports.

Each line is the median wall time of fresh interpreters running one statement, beside the
interpreter's own start (`python -c pass`) measured in the same run, so a busy machine shows
up in the baseline rather than as a regression. Target (issue 9 item 7): `dse --help` under
a second on the project's 2-core machine.

    python benchmarks/cli_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "dse --help": [sys.executable, "-m", "dse.cli", "--help"],
    "dse estimate --help": [sys.executable, "-m", "dse.cli", "estimate", "--help"],
    "import dse.cli": [sys.executable, "-c", "import dse.cli"],
    "import dse.schema": [sys.executable, "-c", "import dse.schema"],
    "import hwmodel.template": [sys.executable, "-c", "import hwmodel.template"],
    "import hls.export": [sys.executable, "-c", "import hls.export"],
    "import torch (reference)": [sys.executable, "-c", "import torch"],
}


def timed(argv: list[str], repeat: int) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of `repeat` runs of `argv`; the CPU time
    is what the command itself costs, whatever else the cores are doing."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per line (median)")
    args = parser.parse_args()
    baseline = None
    print(f"{'what':28} {'wall s':>7} {'cpu s':>7} {'wall - baseline':>16}")
    for name, argv in CASES.items():
        wall, cpu = timed(argv, args.repeat)
        baseline = wall if baseline is None else baseline
        print(f"{name:28} {wall:7.3f} {cpu:7.3f} {wall - baseline:16.3f}")


if __name__ == "__main__":
    main()
