"""Measured figures of an exported design: find its reports, merge them, compare, tabulate.

`measure(project_dir)` finds the Vitis HLS synthesis report (`<proj>/<solution>/syn/report/`)
and the Vivado placed-utilization and routed-power reports under the project folder (or takes
the files named), merges them into one `measured.json` beside the export's `design.json`, and
says which file gave which number. Implementation (placed) resources supersede the HLS
estimates, which are kept as `hls_lut`, `hls_ff`, `hls_bram18k`, `hls_dsp`. A project
without reports whose `measured.json` came from `dse synth` (Yosys cell counts of an RTL
export) is taken as it is. Every measured.json says its `tool` (vitis_hls, vivado, yosys).
`comparison` sets the figures beside the cost model's, its predicted clock (`predicted_fmax`)
beside the measured or estimated one. `measured_table` turns many such folders into the
DataFrame `hwmodel.calibration` fits.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import optuna

from hls.tools.reports import BRAM_UNITS, ReportError, normalize_part, parse_report

__all__ = [
    "DESIGN_FILE",
    "MEASURED_FILE",
    "comparison",
    "find_reports",
    "load_design",
    "measure",
    "measured_table",
    "predicted_fmax",
    "record_on_study",
]

DESIGN_FILE = "design.json"
MEASURED_FILE = "measured.json"
UNITS = {
    "bram18k": BRAM_UNITS,
    "clock": "ns",
    "latency": "clock cycles, worst case",
    "power": "W (Vivado report_power, whole device including the PS)",
}
RESOURCES = ("lut", "ff", "bram18k", "dsp")
#: The calibration profile (hwmodel.profiles) fitted to each measuring tool's figures.
TOOL_PROFILES = {"yosys": "yosys-rtl"}
_REBUILD = "re-run the Vitis HLS / Vivado step that writes it, or name the right file"
# Later kinds override earlier ones: implementation results beat HLS estimates.
_ORDER = ("csynth_rpt", "csynth_xml", "utilization", "power")
_HLS_KINDS = ("csynth_rpt", "csynth_xml")
# Where Vivado writes its reports, best first (routed, then placed, beat post-synthesis
# utilization; the RTL export's vivado.tcl writes reports/<top>_utilization_routed.rpt).
_VIVADO_PATTERNS = {
    "utilization": ("*utilization_routed.rpt", "*utilization_placed.rpt", "*utilization_synth.rpt"),
    "power": ("*power_routed.rpt",),
}


def _choose_csynth(directory: Path, suffix: str) -> Path | None:
    """The top-level HLS report of one `syn/report` folder.

    Vitis writes `csynth.<suffix>` for the top plus `<module>_csynth.<suffix>` per module;
    without the plain file, the top is the module with the most LUTs (it contains the rest).
    """
    plain = directory / f"csynth.{suffix}"
    if plain.is_file():
        return plain
    candidates = sorted(directory.glob(f"*_csynth.{suffix}"))
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    return max(candidates, key=lambda p: (parse_report(p)[1].get("lut", -1), -len(p.name)))


def find_reports(project_dir: Path, skip: Iterable[str] = ()) -> dict[str, Path]:
    """Report files under a project folder by kind, except the `skip` kinds (named by the
    user); several candidates of one kind are an error, not a guess."""
    project_dir = Path(project_dir)
    skip = set(skip)
    found: dict[str, Path] = {}
    if not skip & set(_HLS_KINDS):
        folders = sorted({p.parent for p in project_dir.rglob("syn/report/*csynth.*")})
        if len(folders) > 1:
            raise ReportError(
                f"{project_dir}: several HLS solutions ({', '.join(map(str, folders))}); "
                "name the one to measure with --report"
            )
        # The XML carries the same figures as the text report and parses unambiguously.
        for folder in folders:
            if xml := _choose_csynth(folder, "xml"):
                found["csynth_xml"] = xml
            elif rpt := _choose_csynth(folder, "rpt"):
                found["csynth_rpt"] = rpt
    for kind, patterns in _VIVADO_PATTERNS.items():
        if kind in skip:
            continue
        for pattern in patterns:
            if matches := sorted(project_dir.rglob(pattern)):
                found[kind] = _one_of(project_dir, pattern, matches)
                break
    return found


def _one_of(project_dir: Path, pattern: str, matches: list[Path]) -> Path:
    """Vivado writes a run's reports into the run folder and a build script often writes them
    again; copies that agree are one report (the shallowest is kept), others are ambiguous."""
    figures = {
        json.dumps({k: v for k, v in parse_report(m)[1].items() if not k.endswith("_state")})
        for m in matches
    }
    if len(figures) > 1:
        raise ReportError(
            f"{project_dir}: {pattern} files disagree ({', '.join(map(str, matches))}); "
            "name the one to measure with --report"
        )
    return min(matches, key=lambda m: (len(m.relative_to(project_dir).parts), str(m)))


def _shown(path: Path, project_dir: Path) -> str:
    """A report's path as recorded: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(project_dir.resolve()))
    except ValueError:
        return str(path.resolve())


def _merge(parsed: list[tuple[str, Path, dict]], project_dir: Path) -> dict:
    """One dict of figures plus `sources`; reports of different parts are refused."""
    parsed = sorted(parsed, key=lambda item: _ORDER.index(item[0]))
    parts = {figures["part"]: path for _, path, figures in parsed if "part" in figures}
    if len(parts) > 1:
        listing = ", ".join(f"{part} ({path})" for part, path in parts.items())
        raise ReportError(f"reports are for different parts: {listing}; measure one build")
    measured: dict = {}
    sources: dict[str, str] = {}
    for kind, path, figures in parsed:
        for key, value in figures.items():
            keys = [key, f"hls_{key}"] if kind in _HLS_KINDS and key in RESOURCES else [key]
            for name in keys:
                measured[name] = value
                sources[name] = _shown(path, project_dir)
    measured["sources"] = dict(sorted(sources.items()))
    measured["units"] = UNITS
    # One calibration profile per measuring tool: say which tool the figures come from.
    implemented = any(kind not in _HLS_KINDS for kind, _, _ in parsed)
    measured["tool"] = "vivado" if implemented else "vitis_hls"
    return measured


def cell_limits() -> dict[str, int]:
    """The most cells of each resource a report may claim: 10x the largest Zynq-7000 part's
    (HLS estimates of a design that does not fit can exceed the part, never by that much)."""
    from hwmodel.devices import PARTS

    largest = {
        "lut": max(p.lut for p in PARTS.values()),
        "ff": max(p.ff for p in PARTS.values()),
        "bram18k": max(p.bram18 for p in PARTS.values()),
        "dsp": max(p.dsp for p in PARTS.values()),
    }
    return {key: 10 * count for key, count in largest.items()}


def _check_plausible(path: Path, figures: dict) -> None:
    """Counts, clocks and latencies are finite and not negative, and cell counts at most
    `cell_limits` (a corrupt or edited report: LUT 1e308 would poison every calibration)."""
    limits = cell_limits()
    for key, value in figures.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value) or value < 0:
            raise ReportError(f"{path}: {key} is {value}, which no build reports; {_REBUILD}")
        limit = limits.get(key.removeprefix("hls_"))
        if limit is not None and value > limit:
            raise ReportError(
                f"{path}: {key} is {value:g}, more than 10x the largest Zynq-7000 part has "
                f"({limit:,}); {_REBUILD}"
            )


def _expected_top(project_dir: Path) -> str:
    """The HLS top function of the export (build.tcl's set_top), `snn_top` by default."""
    tcl = project_dir / "build.tcl"
    text = tcl.read_text(encoding="utf-8", errors="replace") if tcl.is_file() else ""
    match = re.search(r"^\s*set_top\s+(\S+)", text, re.M)
    return match[1] if match else "snn_top"


def design_mismatch(measured: dict, design: dict, project_dir: Path) -> str | None:
    """Why the reports are not of this export (top function, part, clock, DSP use), or None.

    The DSP check allows for the few DSPs synthesis infers for address arithmetic, but not
    for a design that multiplies where the exported one adds (110 against 0)."""
    config, estimates = (
        value if isinstance(value, dict) else {}
        for value in (design.get("config"), design.get("estimates"))
    )
    top = measured.get("top")
    # `dse synth` names its own top (the RTL core); build.tcl's set_top is the HLS one.
    if top is not None and measured.get("tool") != "yosys" and top != _expected_top(project_dir):
        return (
            f"the HLS report is for top {top!r}, this export builds {_expected_top(project_dir)!r}"
        )
    part, built = str(config.get("part", "")), measured.get("part")
    if part and built:
        want, got = normalize_part(part), normalize_part(str(built))
        if not (got.startswith(want) or want.startswith(got)):
            return f"the reports are for part {got}, this export targets {want}"
    clock, period = config.get("clock_mhz"), measured.get("target_clock_ns")
    number = int | float
    if isinstance(clock, number) and clock > 0 and period and abs(1000 / period / clock - 1) > 0.01:
        return f"the build ran at {1000.0 / period:g} MHz, this export is for {clock:g} MHz"
    dsp, expected = measured.get("dsp"), estimates.get("dsp")
    if isinstance(dsp, number) and isinstance(expected, number) and dsp > 2 * expected + 16:
        return f"the build uses {dsp:g} DSPs where this export expects about {expected:g}"
    return None


def measure(project_dir: Path, reports: Iterable[Path] | None = None, force: bool = False) -> dict:
    """Parse the project's reports (named ones replace found ones of their kind), check that
    they are of this export (`design_mismatch`, unless `force`), write `measured.json` in the
    project folder and return its contents. Nothing is written when a check fails."""
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise ReportError(f"{project_dir}: no such project folder; give the `dse export` folder")
    named: dict[str, tuple[Path, dict]] = {}
    for given in reports or ():
        kind, figures = parse_report(Path(given))
        if kind in named:
            raise ReportError(f"--report: {named[kind][0]} and {given} are both {kind}; give one")
        named[kind] = (Path(given), figures)
    found = find_reports(project_dir, skip=named)  # a named HLS report replaces both HLS kinds
    parsed = [(kind, path, figures) for kind, (path, figures) in named.items()]
    parsed += [(kind, path, parse_report(path)[1]) for kind, path in found.items()]
    if not parsed and (synthesized := _synthesized(project_dir)) is not None:
        measured = synthesized
    elif not parsed:
        raise ReportError(
            f"{project_dir}: no reports found (looked for */syn/report/*csynth.xml|rpt, "
            "*utilization_{routed,placed,synth}.rpt, *power_routed.rpt) and no "
            f"{MEASURED_FILE} from `dse synth`; run the Vitis HLS / Vivado build first (or "
            "`dse synth` for an RTL export), or name the report files with --report"
        )
    else:
        for _, path, figures in parsed:
            _check_plausible(path, figures)
        measured = _merge(parsed, project_dir)
    design = load_design(project_dir)
    reason = None if force or design is None else design_mismatch(measured, design, project_dir)
    if reason:
        raise ReportError(f"{project_dir}: {reason}; measure the right build, or pass --force")
    if measured.get("tool") == "yosys":  # dse synth wrote it; nothing to merge
        return measured
    target = project_dir / MEASURED_FILE
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(measured, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return measured


def _json_file(path: Path, command: str) -> object | None:
    """The JSON in `path`, None when there is no such file; a damaged one names `command`."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc}); re-run `{command}`") from None


def _synthesized(project_dir: Path) -> dict | None:
    """The figures `dse synth` wrote (measured.json with tool yosys), or None."""
    path = project_dir / MEASURED_FILE
    measured = _json_file(path, "dse synth")
    if not (isinstance(measured, dict) and measured.get("tool") == "yosys"):
        return None
    limits = cell_limits()
    for key in RESOURCES:
        value = measured.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limits[key]:
            raise ReportError(
                f"{path}: {key} is {str(value)[:40]}, not a cell count (0 to {limits[key]:,}); "
                "re-run `dse synth`"
            )
    return measured


def load_design(project_dir: Path) -> dict | None:
    """The export's `design.json` (config, estimates, study), or None when there is none."""
    path = Path(project_dir) / DESIGN_FILE
    design = _json_file(path, "dse export")
    if design is None:
        return None
    if not isinstance(design, dict):
        raise ReportError(f"{path}: expected a JSON object; re-run `dse export`")
    return design


def predicted_fmax(design: dict, tool: str | None) -> float | None:
    """The clock (MHz) the cost model predicts for the exported design, priced with the
    profile fitted to the tool that measured it; None without a config."""
    config = design.get("config")
    if not isinstance(config, dict):
        return None
    from hwmodel.estimate import estimate  # the cost model: only when there is a design
    from hwmodel.template import AcceleratorConfig

    model = estimate(AcceleratorConfig(**config), calibration=TOOL_PROFILES.get(tool))
    return model["fmax_mhz"]


def _ratio(estimated: float | None, measured: float | None) -> float | None:
    if estimated is None or measured is None or estimated == 0:
        return None
    return measured / estimated


def comparison(measured: dict, estimates: dict | None) -> pd.DataFrame:
    """Measured beside estimated, in common units (BRAM in 18 Kb blocks, power with and
    without the PS as the report has it), with the ratio measured / estimated. The model's
    `fmax_mhz` sits beside each clock the build estimated (HLS's achievable clock, the
    netlist estimate of `dse synth`).

    Rows where neither side has a figure are left out; a missing side stays NaN.
    """
    estimates = estimates or {}
    bram36 = estimates.get("bram36")
    target_ns = measured.get("target_clock_ns")
    achieved_ns = measured.get("estimated_clock_ns")
    achievable = achieved_ns and 1000.0 / achieved_ns
    fmax = estimates.get("fmax_mhz")
    cycles = measured.get("latency_cycles")
    ps_w = (measured.get("power_breakdown_w") or {}).get("PS7")
    netlist_clock = (measured.get("clock_estimate") or {}).get("fmax_mhz")
    rows = {
        "LUT": (estimates.get("lut"), measured.get("lut")),
        "FF": (estimates.get("ff"), measured.get("ff")),
        "BRAM (18 Kb)": (None if bram36 is None else 2 * bram36, measured.get("bram18k")),
        "DSP": (estimates.get("dsp"), measured.get("dsp")),
        # Vivado's total includes the Zynq PS (PS7 block) when the design instantiates it;
        # hwmodel's power_w is the PL alone and power_total_w adds its PS figure.
        "Power, on chip (W)": (
            estimates.get("power_w" if ps_w is None else "power_total_w"),
            measured.get("power_w"),
        ),
        "Power, PL without PS7 (W)": (
            None if ps_w is None else estimates.get("power_w"),
            None if ps_w is None or "power_w" not in measured else measured["power_w"] - ps_w,
        ),
        "Clock target (MHz)": (estimates.get("clock_mhz"), target_ns and 1000.0 / target_ns),
        "Clock achievable (MHz)": (achievable and fmax, achievable),
        "Clock, netlist estimate (MHz)": (netlist_clock and fmax, netlist_clock),
        # csynth's latency is one image (the image loop's trip count is 1) with every event
        # loop at its worst case (every input firing): compared with the plan at that
        # activity, never with the typical per-image estimate.
        "Cycles per image, all inputs firing": (estimates.get("cycles_worst"), cycles),
        "Latency per image, all inputs firing (µs)": (
            estimates.get("latency_worst_us"),
            None if cycles is None or target_ns is None else cycles * target_ns / 1000.0,
        ),
    }
    table = pd.DataFrame(
        [
            {"quantity": name, "estimated": est, "measured": meas, "ratio": _ratio(est, meas)}
            for name, (est, meas) in rows.items()
            if est is not None or meas is not None
        ],
        columns=["quantity", "estimated", "measured", "ratio"],
    )
    return table.set_index("quantity").astype(float)


def record_on_study(study: optuna.Study, trial: int, measured: dict) -> str:
    """Store the figures as study user attribute `measured_trial_<N>` (Vitis HLS / Vivado)
    or `measured_yosys_trial_<N>` (`dse synth`); returns its name.

    Optuna freezes a finished trial's user attributes, so the study carries them instead.
    Each tool keeps its own attribute: their LUT counts differ, so each calibrates apart.
    """
    if trial not in {t.number for t in study.get_trials(deepcopy=False)}:
        raise ReportError(
            f"design.json study.trial: {trial} is not a trial of study {study.study_name!r}; "
            "re-export the design from that study"
        )
    key = (
        f"measured_yosys_trial_{trial}"
        if measured.get("tool") == "yosys"
        else f"measured_trial_{trial}"
    )
    study.set_user_attr(key, {k: v for k, v in measured.items() if k != "units"})
    return key


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def measured_table(paths: Iterable[Path]) -> pd.DataFrame:
    """One row per measured design (a project folder or its measured.json): the measured
    figures and their `tool`, the power per block as `power_<block>_w` (with `includes_ps`
    when the report has the PS7 block), `fmax_estimate_mhz` of a `dse synth` netlist, and the
    design knobs and `backend` of design.json (the bus the model prices it with).

    What the reports say wins over design.json: `part` is the reports' part and `clock_mhz`
    the HLS target clock, else the design's clock.
    """
    rows = []
    for given in paths:
        path = Path(given)
        path = path / MEASURED_FILE if path.is_dir() else path
        try:
            measured = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ReportError(f"{path}: unreadable ({exc}); run `dse measure` there") from None
        if not isinstance(measured, dict):
            raise ReportError(f"{path}: not a JSON object; run `dse measure` there")
        _check_plausible(path, {k: v for k, v in measured.items() if k in RESOURCES})
        design = load_design(path.parent) or {}
        row: dict = {"project": str(path.parent), **design.get("config", {})}
        if "backend" in design:
            row["backend"] = design["backend"]
        for key, value in measured.items():
            if key == "power_breakdown_w":
                row.update({f"power_{_slug(block)}_w": watts for block, watts in value.items()})
                row["includes_ps"] = "PS7" in value  # Zynq PS power is in the total
            elif not isinstance(value, dict):
                row[key] = value
        if measured.get("target_clock_ns"):  # the clock the build was made for
            row["clock_mhz"] = 1000.0 / measured["target_clock_ns"]
        if (measured.get("clock_estimate") or {}).get("fmax_mhz"):  # dse synth's estimate
            row["fmax_estimate_mhz"] = measured["clock_estimate"]["fmax_mhz"]
        rows.append(row)
    return pd.DataFrame(rows)
