"""`dse csim`: build an exported project's kernel and testbench with g++ and compare every
class score, spike count and cycle count with the golden vectors, bit for bit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hls.checks import CsimError, accuracy_of, check_golden, check_project, design_settings
from hls.files import content_digest, stamp_matches, write_stamp
from hls.golden import mismatches, read_golden, read_outputs
from hls.vitis.ap_types import ap_types_dir
from hwmodel.errors import HardwareInputError

__all__ = ["CsimError", "CsimSummary", "PROJECT_FILES", "run_csim"]

# What makes a folder an exported project.
PROJECT_FILES = ("design.json", "Makefile", "src/snn_kernel.cpp", "tb/snn_tb.cpp", "tb/golden.txt")
OUTPUT_FILE = "build/csim/csim_out.txt"
BUILD_DIR = "build/csim"
#: What make builds in BUILD_DIR, and the digest of the sources it was built from.
BUILT = ("snn_kernel.o", "snn_tb.o", "snn_csim")
STAMP = "sources.sha256"
_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


@dataclass
class CsimSummary:
    """Outcome of one C-simulation."""

    images: int
    score_mismatches: int
    spike_mismatches: int
    cycle_mismatches: int
    accuracy: float  # of the kernel's scores against the golden labels
    golden_accuracy: float  # of the integer model's scores (the same when bit-exact)
    cycles_kernel: float  # mean cycles per image counted by the kernel's loops
    cycles_golden: float  # the same from the integer model's events
    cycles_estimate: float | None  # the cost model's estimate (design.json), if recorded
    estimate_source: str
    log: str  # make's output

    @property
    def mismatches(self) -> int:
        """Differing values over scores, spike counts and cycle counts."""
        return self.score_mismatches + self.spike_mismatches + self.cycle_mismatches

    @property
    def exact(self) -> bool:
        """True when the C-simulation reproduced the integer model bit for bit."""
        return self.mismatches == 0


def _sources(root: Path) -> list[Path]:
    """Every file the C-simulation compiles: the Makefile, src/ and the testbench's code."""
    code = [p for p in (root / "src").iterdir() if p.is_file()] if (root / "src").is_dir() else []
    code += [p for p in (root / "tb").glob("*") if p.suffix in (".cpp", ".h", ".hpp")]
    return [root / "Makefile", *code]


def check_includes(root: Path, sources: list[Path]) -> None:
    """Every quoted #include of the sources exists (beside its includer or in src/): a
    deleted header is one line naming it, not a reused binary or a compiler's page."""
    for source in sources:
        if source.suffix not in (".cpp", ".h", ".hpp"):
            continue
        text = source.read_text(encoding="utf-8", errors="replace")
        for name in _INCLUDE.findall(text):
            if not any((folder / name).is_file() for folder in (source.parent, root / "src")):
                raise HardwareInputError(
                    f"project: {root}: {source.relative_to(root)} includes {name!r}, which is "
                    "missing; re-run `dse export` to write the project again"
                )


def _forget_stale_build(root: Path, digest: str) -> None:
    """Remove the objects and binary of BUILD_DIR unless they were built from sources with
    this digest (make would keep them for a source with an older timestamp)."""
    build = root / BUILD_DIR
    if stamp_matches(build / STAMP, digest):
        return
    for name in (STAMP, *BUILT):
        (build / name).unlink(missing_ok=True)


def _check_tools(cxx: str) -> None:
    for tool in (cxx, "make"):
        if shutil.which(tool) is None:
            raise HardwareInputError(
                f"{tool}: not found on PATH; install it (e.g. apt-get install g++ make) "
                "or set CXX to a C++14 compiler"
            )


def run_csim(project_dir: str | Path, cxx: str | None = None) -> CsimSummary:
    """Build with the project's Makefile (g++ -O2 -Wall -Wextra -Werror), run, compare."""
    root = Path(project_dir)
    check_project(root, PROJECT_FILES)
    cxx = cxx or os.environ.get("CXX", "g++")
    _check_tools(cxx)
    ap = ap_types_dir()
    scoring, estimate, shape = design_settings(root / "design.json")
    golden = read_golden(root / "tb" / "golden.txt")
    check_golden(root / "tb" / "golden.txt", golden, shape)
    sources = _sources(root)
    check_includes(root, sources)
    flags = [cxx, str(ap), os.environ.get("CXXFLAGS", "")]
    digest = content_digest(root, sources, flags)
    _forget_stale_build(root, digest)
    output = root / OUTPUT_FILE
    output.unlink(missing_ok=True)
    proc = subprocess.run(
        [
            "make",
            "-j2",
            "--no-print-directory",
            "-C",
            str(root),
            "csim",
            f"CXX={cxx}",
            f"AP_TYPES={ap}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    log = proc.stdout + proc.stderr
    if (root / BUILD_DIR / "snn_csim").is_file():  # built now from these sources, or kept
        write_stamp(root / BUILD_DIR / STAMP, digest)
    if not output.is_file():
        tail = "\n".join(log.strip().splitlines()[-30:])
        raise CsimError(f"C-simulation of {root} did not produce results:\n{tail}")
    got = read_outputs(output)
    counts = mismatches(golden, got, f"C-simulation of {root}")
    return CsimSummary(
        images=len(golden.labels),
        **counts,
        accuracy=accuracy_of(got.scores, golden.labels, scoring),
        golden_accuracy=accuracy_of(golden.scores, golden.labels, scoring),
        cycles_kernel=float(got.cycles.mean()),
        cycles_golden=float(golden.cycles.mean()),
        cycles_estimate=float(estimate["cycles"]) if "cycles" in estimate else None,
        estimate_source=str(estimate.get("source", "")),
        log=log,
    )
