"""`dse run`, `dse report`, `dse show` through the CLI entry point, with exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dse.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny study (3 trials) with its output in a temporary directory, already run."""
    root = tmp_path_factory.mktemp("cli")
    raw = yaml.safe_load((FIXTURES / "tiny.yaml").read_text())
    raw.update(name="cli", output_dir=str(root / "out"), n_trials=3)
    path = root / "cli.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path)]) == 0
    return path


def test_run_prints_summary_and_resume_is_a_no_op(
    study_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(study_file), "--n-trials", "3"]) == 0
    out = capsys.readouterr().out
    assert "study 'cli': 3 finished trials" in out
    assert re.search(r"on the Pareto front, this run (\d+ min )?\d+ s;", out)  # how long
    assert f"next: dse report {study_file}; dse show {study_file} --trial knee" in out
    # The front: every knob and the key hardware figures, in units, none dropped.
    for header in ("trial", "accuracy [%]", "power_w [W]", "lut", "latency_us [µs]"):
        assert header in out
    for knob in ("pe", "width_0", "timesteps", "samples", "ensemble"):
        assert knob in out
    assert "(knee)" in out and "…" not in out


def test_show_takes_selectors_and_prints_units(
    study_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dse.runner import open_study
    from dse.schema import load_study_file
    from dse.selection import select_trial

    study = open_study(load_study_file(study_file), create=False)
    for spec in ("knee", "best", "front:0"):
        number = select_trial(study, spec).number
        assert main(["show", str(study_file), "--trial", spec]) == 0
        out = capsys.readouterr().out
        assert f"cli: trial {number} (complete)" in out
        assert f"--trial {number} --out build/t{number}" in out
        assert "ok (margin" in out and "% of the part" in out
        assert " %" in out and " W" in out
    assert main(["show", str(study_file), "--trial", "front:99"]) == 2
    assert "front:0 to front:" in capsys.readouterr().err


def test_report_writes_files_and_prints_the_front(
    study_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(study_file), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "accuracy" in out
    for name in ("trials.csv", "pareto.csv", "report.html"):
        assert (tmp_path / name).is_file()
        assert f"wrote {tmp_path / name}" in out


def test_show_prints_a_trial_and_its_export_command(
    study_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(study_file), "--trial", "1"]) == 0
    out = capsys.readouterr().out
    for word in ("width_0", "energy_pl_uj", "model_key", "utilisation", "objective"):
        assert word in out
    assert f"dse export {study_file} --trial 1 --out build/t1" in out


def test_user_errors_exit_2_with_one_line(
    study_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(study_file), "--trial", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--trial: 99 is not in study" in err
    assert main(["run", str(FIXTURES / "bad_training.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "training.epochs: 0 must be" in err and "Traceback" not in err
    assert main(["run", str(study_file), "--jobs", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'--jobs': Input should be greater than or equal to 1" in err and "\n" not in err


def test_report_before_run_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load((FIXTURES / "tiny.yaml").read_text())
    raw.update(name="never_run", output_dir=str(tmp_path))
    path = tmp_path / "never.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["report", str(path)]) == 2
    assert "study 'never_run' is not in" in capsys.readouterr().err


def test_parallel_workers_top_up_the_same_study(
    study_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(study_file), "--jobs", "2", "--n-trials", "5"]) == 0
    out = capsys.readouterr().out
    assert "study 'cli': 5 finished trials" in out
    assert main(["show", str(study_file), "--trial", "4"]) == 0
    assert "cache_hit" in capsys.readouterr().out
