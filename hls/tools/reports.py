"""Parsers for real Vitis HLS / Vivado HLS and Vivado reports.

Each parser returns only the figures the report holds (never a default or a guess) under
the names `measured.json` uses: `part`, `top`, `target_clock_ns`,
`estimated_clock_ns`, `hls_version`, `latency_cycles` (worst case), `latency_best_cycles`,
`interval_cycles` (worst case), `lut`, `ff`, `bram18k`, `dsp`, `power_w`,
`power_dynamic_w`, `power_static_w`, `power_breakdown_w`. Block RAM is always counted in
18 Kb blocks: a 36 Kb tile counts 2, so Vivado's "Block RAM Tile 1.5" is 3.

A report that is not what it claims, or is cut short, raises `ReportError` naming the file
and the missing piece, because a silently partial parse would corrupt the calibration.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from hls.files import MIB, read_limited
from hwmodel.errors import HardwareInputError

__all__ = [
    "BRAM_UNITS",
    "PARSERS",
    "ReportError",
    "normalize_part",
    "parse_csynth_rpt",
    "parse_csynth_xml",
    "parse_power",
    "parse_report",
    "parse_utilization",
    "report_kind",
]

BRAM_UNITS = "bram18k counts 18 Kb blocks; a 36 Kb tile counts 2"
_FIX = "re-run the Vitis HLS / Vivado step that writes it, or name the right file with --report"
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


class ReportError(HardwareInputError):
    """A report file is missing, malformed or truncated; the message names file and field."""


def _fail(path: Path, problem: str) -> ReportError:
    return ReportError(f"{path}: {problem}; {_FIX}")


def normalize_part(name: str) -> str:
    """Spell a 7-series part as Vivado and `hwmodel` do: HLS writes xc7z020-clg400-1, Vivado
    xc7z020clg400-1 (newer families keep the hyphen in both, so they are left alone)."""
    name = name.strip().lower()
    match = re.fullmatch(r"(xc7\w+?)-([a-z]+\d+)(-.+)", name)
    return f"{match[1]}{match[2]}{match[3]}" if match else name


#: Largest report read: real csynth, utilization and power reports are well under 10 MiB.
MAX_REPORT_BYTES = 64 * MIB


def _read(path: Path) -> str:
    """The report's text; a FIFO, a directory or a file over MAX_REPORT_BYTES is refused
    before anything is read (it would hang or exhaust memory)."""
    raw = read_limited(path, MAX_REPORT_BYTES, "check the path", ReportError, "report")
    return raw.decode("utf-8", errors="replace")


def _number(path: Path, text: str | None, what: str) -> float | None:
    """First number in `text`; None for the tools' 'undef', '?' or '-' (unknown) markers."""
    if text is None or text.strip() in ("", "undef", "?", "-", "NA"):
        return None
    match = _NUMBER.search(text)
    if match is None:
        raise _fail(path, f"{what} is {text.strip()!r}, not a number")
    value = float(match[0])
    if not math.isfinite(value):  # e.g. 1e400: no tool writes it, the file is corrupt
        raise _fail(path, f"{what} is {match[0][:40]!r}, not a finite number")
    return value


def _count(path: Path, text: str | None, what: str) -> int | None:
    value = _number(path, text, what)
    if value is not None and value != int(value):
        raise _fail(path, f"{what} is {value}, not a whole count")
    return None if value is None else int(value)


def _put(out: dict, key: str, value: object) -> None:
    """Record a figure only if the report holds it: absent stays absent, never invented."""
    if value is not None:
        out[key] = value


# --- csynth.xml (Vitis HLS and the older Vivado HLS tag set) --------------------------------

_XML_RESOURCES = {
    "lut": ("LUT",),
    "ff": ("FF",),
    "bram18k": ("BRAM_18K",),
    "dsp": ("DSP", "DSP48E"),  # Vitis HLS writes DSP; Vivado HLS wrote DSP48E
}


def parse_csynth_xml(path: Path) -> dict:
    """Figures from an HLS `csynth.xml`: part, clocks, worst-case latency/interval, resources."""
    path = Path(path)
    try:
        root = ET.fromstring(_read(path))
    except ET.ParseError as exc:
        raise _fail(path, f"not well-formed XML ({exc}): truncated or not XML") from None
    resources = root.find("AreaEstimates/Resources")
    if resources is None:
        raise _fail(path, "no <AreaEstimates>/<Resources> section, so not an HLS csynth.xml")
    out: dict = {}
    for key, tags in _XML_RESOURCES.items():
        node = next((n for n in map(resources.find, tags) if n is not None), None)
        if node is not None:
            _put(out, key, _count(path, node.text, f"<Resources>/<{node.tag}>"))
    if not out:
        raise _fail(path, "<Resources> holds none of LUT, FF, BRAM_18K, DSP/DSP48E")

    def text(xpath: str) -> str | None:
        return root.findtext(xpath)

    if text("UserAssignments/Part"):
        out["part"] = normalize_part(text("UserAssignments/Part"))
    _put(out, "top", text("UserAssignments/TopModelName"))
    _put(out, "hls_version", text("ReportVersion/Version"))
    for key, xpath in (
        ("target_clock_ns", "UserAssignments/TargetClockPeriod"),
        ("estimated_clock_ns", "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod"),
    ):
        _put(out, key, _number(path, text(xpath), f"<{xpath.rsplit('/', 1)[1]}>"))
    latency = "PerformanceEstimates/SummaryOfOverallLatency/"
    for key, tag in (
        ("latency_cycles", "Worst-caseLatency"),
        ("latency_best_cycles", "Best-caseLatency"),
        ("interval_cycles", "Interval-max"),
    ):
        _put(out, key, _count(path, text(latency + tag), f"<{tag}>"))
    if "interval_cycles" not in out:
        ii = text(latency + "PipelineInitiationInterval")
        _put(out, "interval_cycles", _count(path, ii, "<PipelineInitiationInterval>"))
    return out


# --- ASCII tables shared by the text reports ------------------------------------------------


def _tables(text: str) -> list[list[list[str]]]:
    """Every `+---+` / `|a|b|` table as rows of raw cells (separator lines dropped).

    Cells keep their spaces because Vivado marks sub-rows by indentation; a row cut short
    (no closing bar) is dropped, so a truncated table simply lacks that row.
    """
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("+", "|")):
            current = [] if current is None else current
            if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
                current.append(stripped[1:-1].split("|"))
        elif current is not None:
            if current:
                tables.append(current)
            current = None
    if current:
        tables.append(current)
    return tables


def _clean(cells: list[str]) -> list[str]:
    return [cell.strip().rstrip("*").strip() for cell in cells]


# --- csynth.rpt -------------------------------------------------------------------------------

_HLS_TITLE = re.compile(r"== (?:Vitis|Vivado) HLS Report for '([^']+)'")
# Sections every csynth.rpt has, in this order; the last one missing means a cut-off file.
_HLS_SECTIONS = ("Performance Estimates", "Utilization Estimates", "Interface")


def parse_csynth_rpt(path: Path) -> dict:
    """Figures from an HLS `csynth.rpt` (text twin of csynth.xml, Vitis or Vivado HLS)."""
    path = Path(path)
    text = _read(path)
    title = _HLS_TITLE.search(text)
    if title is None:
        raise _fail(path, "no \"== Vitis HLS Report for '<top>'\" title, so not a csynth.rpt")
    for section in _HLS_SECTIONS:
        if f"== {section}" not in text:
            raise _fail(path, f"no '== {section}' section (truncated report?)")
    out: dict = {"top": title[1]}
    device = re.search(r"^\* Target device:\s*(\S+)", text, re.MULTILINE)
    if device:
        out["part"] = normalize_part(device[1])
    version = re.search(r"^\* Version:\s*(\S+)", text, re.MULTILINE)
    _put(out, "hls_version", version[1] if version else None)

    tables = [[_clean(row) for row in table] for table in _tables(text)]
    for table in tables:
        if table[0][:3] == ["Clock", "Target", "Estimated"] and len(table) > 1:
            _put(out, "target_clock_ns", _number(path, table[1][1], "timing Target"))
            _put(out, "estimated_clock_ns", _number(path, table[1][2], "timing Estimated"))
            break
    for table in tables:
        if "Interval" in table[0] and table[0][0].startswith("Latency") and len(table) > 2:
            row = table[2]
            # Vitis: cycles min/max, absolute min/max, interval min/max, type;
            # Vivado HLS: cycles min/max, interval min/max, type.
            interval = {7: 5, 5: 3}.get(len(row))
            if interval is None:
                raise _fail(path, f"latency summary row has {len(row)} cells, expected 5 or 7")
            _put(out, "latency_best_cycles", _count(path, row[0], "latency min"))
            _put(out, "latency_cycles", _count(path, row[1], "latency max"))
            _put(out, "interval_cycles", _count(path, row[interval], "interval max"))
            break
    for table in tables:
        header = table[0]
        total = next((row for row in table if row[0] == "Total"), None)
        if header[0] == "Name" and "LUT" in header and total is not None:
            columns = dict(zip(header, total, strict=False))
            for key, names in _XML_RESOURCES.items():
                name = next((n for n in names if n in columns), None)
                if name is not None:
                    _put(out, key, _count(path, columns[name], f"utilization Total {name}"))
            return out
    raise _fail(path, "no '== Utilization Estimates' summary with a Total row (truncated?)")


# --- Vivado report_utilization ------------------------------------------------------------------

_UTILIZATION_ROWS = {
    "lut": "Slice LUTs",
    "ff": "Slice Registers",
    "bram_tiles": "Block RAM Tile",
    "dsp": "DSPs",
}


def _site_rows(text: str) -> dict[str, str]:
    """First 'Used' value of each site type over all Site Type tables of the report."""
    used: dict[str, str] = {}
    for table in _tables(text):
        header = _clean(table[0])
        if header[0] != "Site Type" or "Used" not in header:
            continue
        column = header.index("Used")
        for row in table[1:]:
            cells = _clean(row)
            if len(cells) > column:
                used.setdefault(cells[0], cells[column])
    return used


def _check_contents(path: Path, text: str) -> None:
    """Vivado lists its sections in a Table of Contents; one missing from the body is a cut."""
    toc = re.search(r"Table of Contents\n-+\n(.*?)\n\s*\n", text, re.DOTALL)
    if toc is None:
        return
    body = text[toc.end() :]
    for entry in (line.strip() for line in toc[1].splitlines()):
        if entry and not re.search(rf"^{re.escape(entry)}\s*$", body, re.MULTILINE):
            raise _fail(path, f"section '{entry}' of its Table of Contents is missing (truncated?)")


def _header_field(text: str, name: str) -> str | None:
    match = re.search(rf"^\|\s*{re.escape(name)}\s*:\s*(.+?)\s*$", text, re.MULTILINE)
    return match[1] if match else None


def parse_utilization(path: Path) -> dict:
    """Figures from Vivado `report_utilization` text (Zynq-7000 site names)."""
    path = Path(path)
    text = _read(path)
    if "report_utilization" not in text and "Utilization Design Information" not in text:
        raise _fail(path, "no 'report_utilization' header, so not a Vivado utilization report")
    _check_contents(path, text)
    used = _site_rows(text)
    missing = [row for row in _UTILIZATION_ROWS.values() if row not in used]
    if missing:
        raise _fail(path, f"no {', '.join(repr(m) for m in missing)} row (truncated report?)")
    out: dict = {}
    device = _header_field(text, "Device")
    if device:
        out["part"] = normalize_part(device)
    _put(out, "utilization_state", _header_field(text, "Design State"))
    for key in ("lut", "ff", "dsp"):
        out[key] = _count(path, used[_UTILIZATION_ROWS[key]], f"{_UTILIZATION_ROWS[key]} Used")
    tiles = _number(path, used["Block RAM Tile"], "Block RAM Tile Used")
    if tiles is None or tiles * 2 != int(tiles * 2):
        raise _fail(path, f"Block RAM Tile Used is {used['Block RAM Tile']!r}, not a half count")
    out["bram18k"] = int(tiles * 2)
    return out


# --- Vivado report_power ------------------------------------------------------------------------

_POWER_SUMMARY = {
    "power_w": "Total On-Chip Power (W)",
    "power_dynamic_w": "Dynamic (W)",
    "power_static_w": "Device Static (W)",
}
_NOT_BLOCKS = ("Static Power", "Total")


def parse_power(path: Path) -> dict:
    """Total, dynamic and static on-chip power plus the per-block breakdown (PS7 included)."""
    path = Path(path)
    text = _read(path)
    if "report_power" not in text and "Power Report" not in text:
        raise _fail(path, "no 'report_power' header, so not a Vivado power report")
    _check_contents(path, text)
    summary: dict[str, str] = {}
    breakdown: dict[str, float] = {}
    for table in _tables(text):
        header = _clean(table[0])
        if header[0] == _POWER_SUMMARY["power_w"] and len(header) == 2:
            summary = {_clean(row)[0]: _clean(row)[1] for row in table if len(row) == 2}
        if header[:2] == ["On-Chip", "Power (W)"]:
            for row in table[1:]:
                # Top-level blocks sit one space from the bar; indented rows are sub-items.
                name, power = row[0], row[1]
                if len(name) - len(name.lstrip()) <= 1 and name.strip() not in _NOT_BLOCKS:
                    value = _number(path, power, f"on-chip power of {name.strip()}")
                    _put(breakdown, name.strip(), value)
    missing = [label for label in _POWER_SUMMARY.values() if label not in summary]
    if missing:
        raise _fail(path, f"summary lacks {', '.join(repr(m) for m in missing)} (truncated?)")
    out: dict = {key: _number(path, summary[label], label) for key, label in _POWER_SUMMARY.items()}
    if out["power_w"] is None:
        raise _fail(path, f"'Total On-Chip Power (W)' is {summary[_POWER_SUMMARY['power_w']]!r}")
    out = {key: value for key, value in out.items() if value is not None}
    device = _header_field(text, "Device")
    if device:
        out["part"] = normalize_part(device)
    _put(out, "power_confidence", summary.get("Confidence Level"))
    _put(out, "power_state", _header_field(text, "Design State"))
    if breakdown:
        out["power_breakdown_w"] = breakdown
    return out


# --- dispatch ---------------------------------------------------------------------------------

PARSERS: dict[str, Callable[[Path], dict]] = {
    "csynth_xml": parse_csynth_xml,
    "csynth_rpt": parse_csynth_rpt,
    "utilization": parse_utilization,
    "power": parse_power,
}


def report_kind(path: Path) -> str:
    """Which parser a file needs, from its contents (names vary between flows)."""
    path = Path(path)
    if path.suffix.lower() == ".xml":
        return "csynth_xml"
    head = _read(path)[:4000]
    if _HLS_TITLE.search(head):
        return "csynth_rpt"
    if "report_utilization" in head or "Utilization Design Information" in head:
        return "utilization"
    if "report_power" in head or "Power Report" in head:
        return "power"
    raise ReportError(
        f"{path}: not a recognised report; expected an HLS csynth.xml/csynth.rpt or Vivado "
        "report_utilization / report_power text"
    )


def parse_report(path: Path) -> tuple[str, dict]:
    """Parse any supported report: (kind, figures)."""
    kind = report_kind(path)
    return kind, PARSERS[kind](Path(path))
