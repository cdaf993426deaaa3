"""Parsers read the exact figures out of real (and old-format) Vitis/Vivado reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from hls.tools.reports import (
    ReportError,
    normalize_part,
    parse_csynth_rpt,
    parse_csynth_xml,
    parse_power,
    parse_report,
    parse_utilization,
)
from hwmodel.errors import HardwareInputError

# Real reports from ../shared/fixtures; skipped with a reason where ../shared is absent.
pytestmark = pytest.mark.shared
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "reports"
LOCAL = Path(__file__).resolve().parent / "fixtures"
PREFIX = "Thifjj__Iris_hls4ml_pynqZ2__"
XML = SHARED / f"{PREFIX}myproject_csynth.xml"
RPT = SHARED / f"{PREFIX}myproject_csynth.rpt"
UTIL = SHARED / f"{PREFIX}design_1_wrapper_utilization_placed.rpt"
POWER = SHARED / f"{PREFIX}design_1_wrapper_power_routed.rpt"
OLD_XML = LOCAL / "vivado_hls_2019_csynth.xml"
OLD_RPT = LOCAL / "vivado_hls_2019_csynth.rpt"

VITIS_HLS = {
    "part": "xc7z020clg400-1",
    "top": "myproject",
    "hls_version": "2025.1",
    "target_clock_ns": 5.0,
    "estimated_clock_ns": 3.624,
    "latency_cycles": 32,
    "latency_best_cycles": 32,
    "interval_cycles": 1,
    "lut": 4725,
    "ff": 13240,
    "bram18k": 3,
    "dsp": 110,
}
VIVADO_HLS = {
    "part": "xc7z020clg400-1",
    "top": "snn_top",
    "hls_version": "2019.1",
    "target_clock_ns": 10.0,
    "estimated_clock_ns": 8.144,
    "latency_cycles": 20891,
    "latency_best_cycles": 160,
    "interval_cycles": 20890,
    "lut": 4546,
    "ff": 1680,
    "bram18k": 9,
    "dsp": 4,
}


@pytest.mark.parametrize(
    ("parser", "path", "expected"),
    [
        (parse_csynth_xml, XML, VITIS_HLS),
        (parse_csynth_rpt, RPT, VITIS_HLS),
        (parse_csynth_xml, OLD_XML, VIVADO_HLS),
        (parse_csynth_rpt, OLD_RPT, VIVADO_HLS),
    ],
)
def test_hls_reports_give_exact_figures(parser, path, expected) -> None:
    assert parser(path) == expected


def test_utilization_counts_block_ram_in_18kb_units() -> None:
    assert parse_utilization(UTIL) == {
        "part": "xc7z020clg400-1",
        "utilization_state": "Fully Placed",
        "lut": 3455,
        "ff": 5126,
        "dsp": 110,
        "bram18k": 3,  # "Block RAM Tile 1.5" = three 18 Kb blocks
    }


def test_power_gives_totals_and_top_level_blocks() -> None:
    assert parse_power(POWER) == {
        "part": "xc7z020clg400-1",
        "power_state": "routed",
        "power_confidence": "Medium",
        "power_w": 1.603,
        "power_dynamic_w": 1.463,
        "power_static_w": 0.139,
        "power_breakdown_w": {
            "Clocks": 0.024,
            "Slice Logic": 0.030,
            "Signals": 0.046,
            "Block RAM": 0.002,
            "DSPs": 0.105,
            "PS7": 1.256,
        },
    }


@pytest.mark.parametrize(
    ("path", "kind"),
    [(XML, "csynth_xml"), (RPT, "csynth_rpt"), (UTIL, "utilization"), (POWER, "power")],
)
def test_kind_is_found_from_contents(tmp_path: Path, path: Path, kind: str) -> None:
    renamed = tmp_path / ("report.xml" if kind == "csynth_xml" else "report.txt")
    renamed.write_bytes(path.read_bytes())
    assert parse_report(renamed)[0] == kind


def test_undef_latency_is_left_out(tmp_path: Path) -> None:
    text = OLD_XML.read_text().replace("<Worst-caseLatency>20891<", "<Worst-caseLatency>undef<")
    (tmp_path / "c.xml").write_text(text)
    figures = parse_csynth_xml(tmp_path / "c.xml")
    assert "latency_cycles" not in figures
    assert figures["latency_best_cycles"] == 160


def test_part_names_agree_between_hls_and_vivado_spelling() -> None:
    assert normalize_part("xc7z020-clg400-1") == "xc7z020clg400-1"
    assert normalize_part("XC7Z020CLG400-1") == "xc7z020clg400-1"
    assert normalize_part("xc7z045ffg900-2") == "xc7z045ffg900-2"
    assert normalize_part("xczu9eg-ffvb1156-2-e") == "xczu9eg-ffvb1156-2-e"


@pytest.mark.parametrize("path", [XML, RPT, UTIL, POWER, OLD_XML, OLD_RPT])
def test_report_cut_in_half_is_a_one_line_error(tmp_path: Path, path: Path) -> None:
    text = path.read_text()
    cut = tmp_path / path.name
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(ReportError) as info:
        parse_report(cut)
    message = str(info.value)
    assert "\n" not in message
    assert str(cut) in message
    assert any(word in message for word in ("truncated", "missing"))


def test_garbage_is_not_a_report(tmp_path: Path) -> None:
    junk = tmp_path / "junk.rpt"
    junk.write_bytes(b"\x00\xffnot a report at all\n" * 20)
    with pytest.raises(ReportError, match="not a recognised report"):
        parse_report(junk)
    with pytest.raises(ReportError, match="not well-formed XML"):
        parse_csynth_xml(junk)


def test_xml_without_resources_names_the_section(tmp_path: Path) -> None:
    text = XML.read_text()
    start, end = text.index("<AreaEstimates>"), text.index("</AreaEstimates>")
    path = tmp_path / "no_area_csynth.xml"
    path.write_text(text[:start] + text[end + len("</AreaEstimates>") :])
    with pytest.raises(ReportError, match=r"no <AreaEstimates>/<Resources> section"):
        parse_csynth_xml(path)


def test_non_numeric_resource_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad_csynth.xml"
    path.write_text(XML.read_text().replace("<LUT>4725</LUT>", "<LUT>lots</LUT>"))
    with pytest.raises(ReportError, match=r"<Resources>/<LUT> is 'lots'"):
        parse_csynth_xml(path)


def test_wrong_parser_and_missing_file_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="not a Vivado power report"):
        parse_power(UTIL)
    with pytest.raises(ReportError, match="not a Vivado utilization report"):
        parse_utilization(POWER)
    with pytest.raises(HardwareInputError, match="cannot read the report"):
        parse_power(tmp_path / "absent.rpt")


def test_utilization_without_block_ram_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "util.rpt"
    path.write_text(UTIL.read_text().replace("| Block RAM Tile    |", "| Block RAM Tyle    |"))
    with pytest.raises(ReportError, match="no 'Block RAM Tile' row"):
        parse_utilization(path)
