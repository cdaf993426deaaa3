"""measure: find reports in a project, merge, write measured.json, compare, record, tabulate."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import optuna
import pytest

from hls.tools.measure import (
    comparison,
    find_reports,
    load_design,
    measure,
    measured_table,
    record_on_study,
)
from hls.tools.reports import ReportError

# Real reports from ../shared/fixtures; skipped with a reason where ../shared is absent.
pytestmark = pytest.mark.shared
SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "reports").resolve()
PREFIX = "Thifjj__Iris_hls4ml_pynqZ2__"
XML = SHARED / f"{PREFIX}myproject_csynth.xml"
RPT = SHARED / f"{PREFIX}myproject_csynth.rpt"
UTIL = SHARED / f"{PREFIX}design_1_wrapper_utilization_placed.rpt"
POWER = SHARED / f"{PREFIX}design_1_wrapper_power_routed.rpt"
OLD_XML = Path(__file__).resolve().parent / "fixtures" / "vivado_hls_2019_csynth.xml"

# The layout of an exported project after its build.tcl and block_design.tcl ran.
HLS_DIR = Path("snn_hls/solution1/syn/report")
IMPL_DIR = Path("build/vivado/snn_system.runs/impl_1")
ESTIMATES = {
    "lut": 4000,
    "ff": 6400,
    "bram36": 2.5,
    "dsp": 0,
    "power_w": 0.2,
    "power_total_w": 1.5,
    "clock_mhz": 200.0,
    "cycles": 40,
    "latency_us": 0.2,
}
CONFIG = {"widths": [64, 32, 10], "pe": 16, "reuse": 4, "clock_mhz": 200.0, "part": "xc7z020"}


def make_project(root: Path, hls=(XML, RPT), impl=(UTIL, POWER), design: dict | None = None):
    """A folder laid out like a Vitis HLS run plus a Vivado implementation run."""
    for directory, files, names in (
        (HLS_DIR, hls, {XML: "csynth.xml", RPT: "csynth.rpt"}),
        (IMPL_DIR, impl, {UTIL: "top_utilization_placed.rpt", POWER: "top_power_routed.rpt"}),
    ):
        (root / directory).mkdir(parents=True, exist_ok=True)
        for source in files:
            shutil.copy(source, root / directory / names.get(source, source.name))
    if design is not None:
        (root / "design.json").write_text(json.dumps(design))
    return root


def test_measure_merges_implementation_over_hls(tmp_path: Path) -> None:
    measured = measure(make_project(tmp_path))
    assert json.loads((tmp_path / "measured.json").read_text()) == measured
    expected = {
        "part": "xc7z020clg400-1",
        "lut": 3455,
        "ff": 5126,
        "bram18k": 3,
        "dsp": 110,
        "hls_lut": 4725,
        "hls_ff": 13240,
        "hls_bram18k": 3,
        "hls_dsp": 110,
        "target_clock_ns": 5.0,
        "estimated_clock_ns": 3.624,
        "latency_cycles": 32,
        "interval_cycles": 1,
        "power_w": 1.603,
        "power_dynamic_w": 1.463,
        "power_static_w": 0.139,
    }
    assert {key: measured[key] for key in expected} == expected
    assert measured["power_breakdown_w"]["PS7"] == 1.256
    assert measured["sources"]["lut"] == str(IMPL_DIR / "top_utilization_placed.rpt")
    assert measured["sources"]["hls_lut"] == str(HLS_DIR / "csynth.xml")
    assert measured["sources"]["power_w"] == str(IMPL_DIR / "top_power_routed.rpt")
    assert "18 Kb" in measured["units"]["bram18k"]


def test_hls_only_leaves_implementation_figures_out(tmp_path: Path) -> None:
    measured = measure(make_project(tmp_path, hls=(RPT,), impl=()))
    assert measured["lut"] == measured["hls_lut"] == 4725
    assert measured["sources"]["lut"] == str(HLS_DIR / "csynth.rpt")
    assert not any(key.startswith("power") for key in measured)


def test_module_reports_without_plain_csynth_pick_the_top(tmp_path: Path) -> None:
    report = tmp_path / HLS_DIR
    report.mkdir(parents=True)
    shutil.copy(XML, report / "myproject_csynth.xml")
    module = XML.read_text().replace("<LUT>4725</LUT>", "<LUT>1037</LUT>")
    (report / "dense_latency_config2_s_csynth.xml").write_text(module)
    assert find_reports(tmp_path) == {"csynth_xml": report / "myproject_csynth.xml"}


def test_several_solutions_need_a_named_report(tmp_path: Path) -> None:
    make_project(tmp_path, impl=())
    other = tmp_path / "snn_hls/solution2/syn/report"
    other.mkdir(parents=True)
    shutil.copy(OLD_XML, other / "csynth.xml")
    with pytest.raises(ReportError, match="several HLS solutions"):
        measure(tmp_path)
    measured = measure(tmp_path, [other / "csynth.xml"])
    assert measured["lut"] == 4546
    assert measured["dsp"] == 4


def test_vivado_copies_that_agree_are_one_report(tmp_path: Path) -> None:
    make_project(tmp_path, hls=())
    copy = tmp_path / "build/vivado/utilization_placed.rpt"
    copy.write_text(UTIL.read_text().replace("Fully Placed", "Fully Routed"))
    assert find_reports(tmp_path)["utilization"] == copy  # shallowest of equal copies
    copy.write_text(UTIL.read_text().replace("| 3455 |", "| 3456 |", 1))
    with pytest.raises(ReportError, match="utilization_placed.rpt files disagree"):
        find_reports(tmp_path)


def test_rtl_vivado_tcl_reports_are_found(tmp_path: Path) -> None:
    """The RTL export's vivado.tcl writes reports/<top>_{utilization,power}_routed.rpt."""
    reports = tmp_path / "reports"
    reports.mkdir()
    shutil.copy(UTIL, reports / "snn_core_utilization_routed.rpt")
    shutil.copy(POWER, reports / "snn_core_power_routed.rpt")
    assert find_reports(tmp_path) == {
        "utilization": reports / "snn_core_utilization_routed.rpt",
        "power": reports / "snn_core_power_routed.rpt",
    }
    measured = measure(tmp_path)
    assert (measured["tool"], measured["lut"], measured["power_w"]) == ("vivado", 3455, 1.603)


def test_named_report_replaces_the_found_one(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    power = tmp_path / "elsewhere.rpt"
    power.write_text(POWER.read_text().replace("| Total On-Chip Power (W)  | 1.603", "| x | 1.9"))
    with pytest.raises(ReportError, match="'Total On-Chip Power \\(W\\)'"):
        measure(project, [power])
    power.write_text(POWER.read_text().replace("| 1.603        |", "| 1.900        |"))
    measured = measure(project, [power])
    assert measured["power_w"] == 1.9
    assert measured["sources"]["power_w"] == str(power.resolve())


def test_two_reports_of_one_kind_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="are both csynth_xml; give one"):
        measure(tmp_path, [XML, OLD_XML])


def test_malformed_design_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "design.json").write_text('{"config": ')
    with pytest.raises(ReportError, match="design.json: not valid JSON"):
        load_design(tmp_path)


def test_no_reports_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no reports found .* run the Vitis HLS / Vivado build"):
        measure(tmp_path)
    assert not (tmp_path / "measured.json").exists()


def test_reports_of_different_parts_are_refused(tmp_path: Path) -> None:
    make_project(tmp_path, hls=(), impl=(UTIL,))
    other = tmp_path / "other_csynth.xml"
    other.write_text(XML.read_text().replace("xc7z020-clg400-1", "xc7z010-clg400-1"))
    with pytest.raises(ReportError, match="different parts: .*xc7z010clg400-1"):
        measure(tmp_path, [other])


def test_comparison_converts_bram36_to_18kb_blocks() -> None:
    measured = {"lut": 3455, "bram18k": 3, "dsp": 110, "target_clock_ns": 5.0, "latency_cycles": 32}
    table = comparison(measured, ESTIMATES)
    assert math.isnan(table.loc["Power, on chip (W)", "measured"])  # no power report
    assert table.loc["BRAM (18 Kb)", "estimated"] == 5.0  # 2.5 tiles of 36 Kb
    assert table.loc["BRAM (18 Kb)", "ratio"] == pytest.approx(0.6)
    assert table.loc["LUT", "ratio"] == pytest.approx(3455 / 4000)
    assert table.loc["Latency per image, all inputs firing (µs)", "measured"] == pytest.approx(0.16)
    assert table.loc["Clock target (MHz)", "measured"] == pytest.approx(200.0)
    assert math.isnan(table.loc["DSP", "ratio"])  # estimated zero: no ratio
    assert math.isnan(table.loc["FF", "measured"])  # absent stays absent
    assert "Clock achievable (MHz)" not in table.index


def test_comparison_sets_the_models_fmax_beside_each_estimated_clock() -> None:
    estimates = {**ESTIMATES, "fmax_mhz": 150.0}
    hls = comparison({"estimated_clock_ns": 5.0}, estimates)  # HLS's achievable clock
    assert hls.loc["Clock achievable (MHz)"].tolist() == pytest.approx([150.0, 200.0, 4 / 3])
    assert "Clock, netlist estimate (MHz)" not in hls.index
    synth = comparison({"clock_estimate": {"fmax_mhz": 120.0}}, estimates)  # dse synth's
    assert synth.loc["Clock, netlist estimate (MHz)"].tolist() == pytest.approx([150.0, 120.0, 0.8])
    assert "Clock achievable (MHz)" not in synth.index
    nothing = comparison({"lut": 3455}, estimates)  # no clock of the build to set it beside
    assert not {"Clock achievable (MHz)", "Clock, netlist estimate (MHz)"} & set(nothing.index)


def test_comparison_sets_power_with_and_without_the_ps() -> None:
    measured = {"power_w": 1.603, "power_breakdown_w": {"DSPs": 0.105, "PS7": 1.256}}
    table = comparison(measured, ESTIMATES)
    assert table.loc["Power, on chip (W)"].tolist() == pytest.approx([1.5, 1.603, 1.603 / 1.5])
    assert table.loc["Power, PL without PS7 (W)", "estimated"] == 0.2
    assert table.loc["Power, PL without PS7 (W)", "measured"] == pytest.approx(0.347)
    without_ps = comparison({"power_w": 0.3}, ESTIMATES)  # e.g. an out-of-context PL design
    assert without_ps.loc["Power, on chip (W)", "estimated"] == 0.2
    assert "Power, PL without PS7 (W)" not in without_ps.index


def test_record_on_study_uses_a_study_attribute(tmp_path: Path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="s")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    key = record_on_study(study, 1, {"lut": 3455, "units": {}, "sources": {"lut": "a.rpt"}})
    assert key == "measured_trial_1"
    reloaded = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert reloaded.user_attrs[key] == {"lut": 3455, "sources": {"lut": "a.rpt"}}
    with pytest.raises(ReportError, match="study.trial: 7 is not a trial"):
        record_on_study(study, 7, {"lut": 1})


def test_measured_table_has_calibration_columns(tmp_path: Path) -> None:
    first = make_project(tmp_path / "a", design={"config": CONFIG, "estimates": ESTIMATES})
    second = make_project(tmp_path / "b", hls=(OLD_XML,), impl=())
    third = make_project(tmp_path / "c", hls=(), design={"config": {**CONFIG, "clock_mhz": 150.0}})
    for project in (first, second, third):
        measure(project, force=True)  # hls4ml's reports stand in for this design's build
    table = measured_table([first / "measured.json", second, third])
    for column in ("lut", "ff", "bram18k", "dsp", "power_w", "part", "clock_mhz", "pe", "reuse"):
        assert column in table.columns
    assert table["lut"].tolist() == [3455, 4546, 3455]
    assert table["part"].tolist() == ["xc7z020clg400-1"] * 3  # the reports' part
    assert table["clock_mhz"].tolist() == [200.0, 100.0, 150.0]  # HLS target, else the design
    assert table.loc[0, "power_ps7_w"] == 1.256
    assert table.loc[0, "includes_ps"] is True
    assert table.loc[0, "widths"] == [64, 32, 10]
    assert table.loc[0, "pe"] == 16
    assert math.isnan(table.loc[1, "power_w"])


def test_cli_measure_prints_and_records_on_study(tmp_path: Path, capsys) -> None:
    from dse.cli import main  # the whole CLI; imported here so parser tests run without it

    out = tmp_path / "run"
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        f"name: demo\noutput_dir: {out}\n"
        "objectives:\n  - {metric: accuracy, direction: maximize}\n"
    )
    out.mkdir()
    study = optuna.create_study(storage=f"sqlite:///{out / 'study.db'}", study_name="demo")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    ref = {"study_file": str(study_file), "study_name": "demo", "trial": 0}
    project = make_project(
        tmp_path / "t0", design={"config": CONFIG, "estimates": ESTIMATES, "study": ref}
    )
    assert main(["measure", str(project), "--force"]) == 0  # hls4ml's reports, forced
    printed = capsys.readouterr().out
    assert "measured_trial_0" in printed
    assert "3,455" in printed and "0.86x" in printed  # LUT 3455 against 4000
    reloaded = optuna.load_study(study_name="demo", storage=f"sqlite:///{out / 'study.db'}")
    assert reloaded.user_attrs["measured_trial_0"]["power_w"] == 1.603


def test_cli_without_reports_exits_2(tmp_path: Path, capsys) -> None:
    from dse.cli import main

    assert main(["measure", str(tmp_path)]) == 2
    message = " ".join(capsys.readouterr().err.split())  # rich wraps at the terminal width
    assert "no reports found" in message
    assert "run the Vitis HLS / Vivado build first" in message


def test_measured_table_feeds_the_calibration_fit(tmp_path: Path) -> None:
    """An HLS export's reports are fitted against the model of the HLS kernel (its m_axi
    bundle), as design.json's backend says."""
    calibration = pytest.importorskip("hwmodel.calibration")
    from hwmodel.estimate import estimate
    from hwmodel.template import AcceleratorConfig

    design = {"backend": "hls", "config": CONFIG, "estimates": ESTIMATES}
    project = make_project(tmp_path, design=design)
    measure(project, force=True)
    table = measured_table([project])
    assert table["backend"].tolist() == ["hls"]
    fitted = calibration.fit_calibration(table)
    assert fitted.fit["rows"] == 1
    assert fitted.fit["errors"]["lut"]["rms_after"] < fitted.fit["errors"]["lut"]["rms_before"]
    config = AcceleratorConfig(**{**CONFIG, "widths": tuple(CONFIG["widths"])})
    before = estimate(config, backend="hls")["lut"]
    assert fitted.fit["errors"]["lut"]["rms_before"] == pytest.approx(abs(before - 3455), abs=1)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({}, None),
        ({"clock_mhz": 125.0}, "the build ran at 100 MHz, this export is for 125 MHz"),
        ({"part": "xc7z010clg400-1"}, "the reports are for part xc7z020clg400-1, this export"),
        ({"top": "other_top"}, "the HLS report is for top 'snn_top', this export builds"),
        ({"dsp": -1}, None),  # estimates say 0 DSP; the build's 4 are address arithmetic
    ],
)
def test_measure_refuses_reports_of_another_design(tmp_path: Path, change, reason) -> None:
    config = {"widths": [64, 32, 10], "clock_mhz": 100.0, "part": "xc7z020"}
    config.update({k: v for k, v in change.items() if k in ("clock_mhz", "part")})
    project = make_project(
        tmp_path, hls=(OLD_XML,), impl=(), design={"config": config, "estimates": {"dsp": 0}}
    )
    if "top" in change:
        (project / "build.tcl").write_text(f"open_project x\nset_top {change['top']}\n")
    if reason is None:
        assert measure(project)["dsp"] == 4
        return
    with pytest.raises(ReportError, match=re.escape(reason)):
        measure(project)
    assert not (project / "measured.json").exists()  # nothing recorded
    assert measure(project, force=True)["lut"] == 4546


def test_measure_refuses_110_dsps_for_a_design_expecting_none(tmp_path: Path) -> None:
    config = {"widths": [4, 8, 3], "clock_mhz": 200.0, "part": "xc7z020clg400-1"}
    design = {"config": config, "estimates": {"dsp": 0}}
    (tmp_path / "build.tcl").write_text("set_top myproject\n")  # only the DSPs differ
    project = make_project(tmp_path, hls=(XML,), impl=(UTIL,), design=design)
    with pytest.raises(ReportError, match="uses 110 DSPs where this export expects about 0"):
        measure(project)


@pytest.mark.parametrize("bad", ["1e400", "-5", "1e308", "3000000"])
def test_corrupt_numbers_are_one_line_errors(tmp_path: Path, bad: str) -> None:
    xml = tmp_path / "csynth.xml"
    xml.write_text(re.sub(r"<LUT>\d+</LUT>", f"<LUT>{bad}</LUT>", OLD_XML.read_text(), count=1))
    with pytest.raises(ReportError, match=str(xml)) as info:
        measure(make_project(tmp_path / "p", hls=(), impl=()), [xml], force=True)
    assert "\n" not in str(info.value)


def test_a_yosys_count_over_the_largest_part_is_refused(tmp_path: Path) -> None:
    counts = {"lut": 10**308, "ff": 1, "bram18k": 0, "dsp": 0}
    (tmp_path / "measured.json").write_text(json.dumps({"tool": "yosys", **counts}))
    with pytest.raises(ReportError, match="lut is 1000.*not a cell count") as info:
        measure(tmp_path)
    assert "\n" not in str(info.value)


def test_measured_table_refuses_an_edited_lut_count(tmp_path: Path) -> None:
    (tmp_path / "measured.json").write_text(json.dumps({"tool": "vivado", "lut": 1e308}))
    with pytest.raises(ReportError, match="lut is 1e.308, more than 10x"):
        measured_table([tmp_path])
