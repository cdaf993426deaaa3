"""Hostile study files, every value within its bounds: grids too large to build are refused
before anything is built, and control characters in echoed input never reach the terminal.
Each case exits 2 with one error line, before any trial, in well under a second."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dse.cli import main

HEAD = "name: hostile\noutput_dir: {out}\nobjectives: [{{metric: accuracy, direction: maximize}}]\n"

# (case, study text after HEAD, the field the error line names, a word of its fix)
ENDLESS_GRIDS = [
    (
        "clock-step-1e-9",
        "search: {clock_mhz: {low: 100, high: 200}}\n"
        "hardware_search: {exact: true, clock_step_mhz: 1.0e-9}",
        "hardware_search.clock_step_mhz: 1e-09",
        "coarser clock step",
    ),
    (
        "clock-step-denormal",
        "search: {clock_mhz: {low: 100, high: 200}}\n"
        "hardware_search: {exact: true, clock_step_mhz: 5.0e-324}",
        "hardware_search.clock_step_mhz: 5e-324",
        "coarser clock step",
    ),
    (
        "hardware-stepped-clock",
        "search: {clock_mhz: {low: 100, high: 200, step: 1.0e-300}}\n"
        "hardware_search: {exact: true}",
        "search.clock_mhz.step: 1e-300",
        "larger step",
    ),
    (
        "grid-float-step-1e-300",
        "search: {clock_mhz: {low: 100, high: 200, step: 1.0e-300}}\nsampler: {name: grid}",
        "search.clock_mhz.step: 1e-300",
        "larger step",
    ),
    (
        "grid-three-int-ranges",
        "search: {pe: {low: 1, high: 1024}, timesteps: {low: 1, high: 1024},"
        " samples: {low: 1, high: 1024}}\nsampler: {name: grid}",
        "search: the grid sampler's grid has 1073741824 points",
        "another sampler",
    ),
    (
        "grid-per-layer-widths",
        "search: {width: {low: 1, high: 4096}, depth: {low: 1, high: 8}}\nsampler: {name: grid}",
        "search: the grid sampler's grid has 6.3e+29 points",
        "another sampler",
    ),
]


def _study(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(HEAD.format(out=tmp_path / "out") + body + "\n")
    return path


def _one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err[:400]
    assert err.startswith("error: study.yaml: ")
    return err


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("case", "body", "field", "fix"), ENDLESS_GRIDS, ids=[c[0] for c in ENDLESS_GRIDS]
)
def test_a_grid_too_large_to_build_is_refused_at_once(
    case, body, field, fix, tmp_path, capsys
) -> None:
    study = _study(tmp_path, body)
    start = time.perf_counter()
    assert main(["run", str(study)]) == 2
    assert time.perf_counter() - start < 2
    err = _one_line(capsys.readouterr().err)
    assert field in err and fix in err
    assert not (tmp_path / "out").exists()  # refused before anything was made


def test_grids_at_the_limits_still_load(tmp_path) -> None:
    from dse.schema import load_study_file

    for body in (
        # 100 x 1000 = 100,000 grid points, the most the grid sampler takes
        "search: {pe: {low: 1, high: 100}, timesteps: {low: 1, high: 1000}}\nsampler: {name: grid}",
        # 100,000 clocks, the most designs the exact hardware search prices
        "search: {clock_mhz: {low: 100, high: 199.999}}\n"
        "hardware_search: {exact: true, clock_step_mhz: 0.001}",
    ):
        assert load_study_file(_study(tmp_path, body)).name == "hostile"


# (case, the study's entries besides name/output_dir/objectives, a fragment of the error line)
CONTROL = [
    ("key-clear-screen", {"\x1b[2J\x1b[H": 1}, "\\x1b[2J\\x1b[H: unknown field"),
    ("key-window-title", {"\x1b]0;owned\x07": 1}, "\\x1b]0;owned\\x07: unknown field"),
    ("key-forged-line", {"x\nerror: all good": 1}, "x\\nerror: all good: unknown field"),
    ("key-carriage-return", {"x\rerror: all good": 1}, "x\\rerror: all good"),
    ("key-c1-csi-and-del", {"\x9b2J\x7f": 1}, "\\x9b2J\\x7f: unknown field"),
    ("key-bidi-override", {"a\u202eb": 1}, "a\\u202eb: unknown field"),
    ("search-key", {"search": {"pe\x1b[31m\nerror: x": 1}}, "search.pe\\x1b[31m\\nerror: x"),
    ("range-key", {"search": {"pe": {"low": 1, "high": 4, "st\x9bep": 1}}}, "search.pe.st\\x9bep"),
    ("training-key", {"training": {"ep\x1b[2J\nerror: x": 1}}, "training.ep\\x1b[2J\\nerror: x"),
    ("name-value", {"name": "a\x1b[31mred\nerror: forged"}, "name: 'a\\x1b[31mred\\nerror"),
    ("part-value", {"search": {"part": "xc\x1b]0;t\x07\nerror: x"}}, "search.part: 'xc\\x1b]0;t"),
    ("storage-value", {"storage": "x\x1b[2J\nerror: x"}, "storage: 'x\\x1b[2J\\nerror: x'"),
    ("root-value", {"dataset": {"root": "/no\x1b[2J\nerror: x"}}, "dataset.root: '/no\\x1b[2J"),
    ("metric-value", {"objectives": [{"metric": "a\x1b[2J\n", "direction": "maximize"}]}, "a\\x1b"),
]


def _terminal_safe(err: str) -> None:
    """One line, and nothing a terminal would act on: no C0 control but the final newline,
    no DEL, no C1 control, no bidirectional override (in the text or its bytes)."""
    _one_line(err)
    body = err[:-1]
    bad = [c for c in body if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c == "\u202e"]
    assert not bad, repr(err)
    raw = err.encode()
    assert not [b for b in raw[:-1] if b < 0x20 or b in (0x7F, 0x9B)], raw


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("case", "entries", "fragment"), CONTROL, ids=[c[0] for c in CONTROL])
def test_control_characters_in_a_study_are_escaped(case, entries, fragment, tmp_path, capsys):
    import yaml

    study = {
        "name": "hostile",
        "output_dir": str(tmp_path / "out"),
        "objectives": [{"metric": "accuracy", "direction": "maximize"}],
        **entries,
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study, allow_unicode=False))
    assert yaml.safe_load(path.read_text()) == study  # the characters reach the loader
    assert main(["run", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _terminal_safe(captured.err)
    assert fragment in captured.err


def test_a_study_file_name_with_control_characters_is_escaped(tmp_path, capsys) -> None:
    path = tmp_path / "a\x1b[2J\nerror: b.yaml"
    path.write_text("name: s\n")  # no objectives
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err
    assert "a\\x1b[2J\\nerror: b.yaml: objectives: missing" in err
