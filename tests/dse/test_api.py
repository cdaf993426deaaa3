"""The Python API on a tiny study: run from a dict, load by file, tables, export the knee."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

import dse
from dse.errors import StudyInputError
from dse.metrics import trial_metrics
from dse.selection import front_trials, select_trial

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict:
    raw = yaml.safe_load(TINY.read_text())
    raw.update(name="api", output_dir=str(tmp_path_factory.mktemp("api") / "out"))
    return raw


@pytest.fixture(scope="module")
def study(spec: dict) -> optuna.Study:
    return dse.run(spec, progress=False)


def test_run_from_a_dict_returns_the_optuna_study(study: optuna.Study, spec: dict) -> None:
    assert isinstance(study, optuna.Study)
    assert study.study_name == "api"
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == spec["n_trials"]
    assert (Path(spec["output_dir"]) / "study.db").is_file()
    again = dse.run(spec, n_trials=spec["n_trials"], progress=False)  # complete: a no-op
    assert [t.number for t in again.trials] == [t.number for t in study.trials]


def test_load_by_file_and_trials_frames(study: optuna.Study, spec: dict, tmp_path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(spec))
    loaded = dse.load(path)
    assert [t.values for t in loaded.trials] == [t.values for t in study.trials]
    frame = dse.trials(loaded)
    assert isinstance(frame, pd.DataFrame) and len(frame) == spec["n_trials"]
    assert {"accuracy", "power_w", "params_pe", "feasible", "state"} <= set(frame.columns)
    assert frame["accuracy"].tolist() == [trial_metrics(t)["accuracy"] for t in study.trials]
    front = dse.trials(study, front=True)
    assert sorted(front["number"]) == sorted(t.number for t in study.best_trials)


def test_export_the_knee(study: optuna.Study, tmp_path) -> None:
    knee = select_trial(study, "knee")
    assert knee in front_trials(study)
    result = dse.export(study, trial="knee", out=tmp_path / "knee", images=4)
    design = json.loads((tmp_path / "knee" / "design.json").read_text())
    assert result.out_dir == tmp_path / "knee"
    assert design["golden"]["images"] == 4
    assert design["source"]["study_file"] is None  # a dict study has no file
    assert design["source"]["trial"] == knee.number
    assert design["source"]["model_dir"] == trial_metrics(knee)["model_dir"]
    assert (tmp_path / "knee" / "build.tcl").is_file()
    # Again into the same folder: the advice is the API's keyword, not the CLI's flag.
    with pytest.raises(StudyInputError, match="force=True") as err:
        dse.export(study, trial="knee", out=tmp_path / "knee", images=4)
    assert "--force" not in str(err.value)
    assert dse.export(study, trial="knee", out=tmp_path / "knee", images=4, force=True)


def test_a_foreign_study_and_bad_trials_are_user_errors(study: optuna.Study, tmp_path) -> None:
    foreign = optuna.create_study(study_name="x", directions=["maximize", "minimize"])
    with pytest.raises(StudyInputError, match="did not come from dse.run or dse.load"):
        dse.trials(foreign)
    with pytest.raises(StudyInputError, match="front:0 to front:"):
        dse.export(study, trial="front:99", out=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_import_dse_stays_light() -> None:
    code = "import sys, dse; print(sorted({'optuna', 'torch', 'pandas'} & set(sys.modules)))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    ).stdout
    assert out.strip() == "[]"
    assert set(dse.__all__) >= {"run", "load", "trials", "export"}


BAD_STUDIES = [[1, 2], None, 3, b"study.yaml", ("a", "b")]


@pytest.mark.parametrize("bad", BAD_STUDIES, ids=repr)
def test_a_study_that_is_no_file_or_dict_is_a_user_error(bad, tmp_path) -> None:
    with pytest.raises(StudyInputError, match=r"^study: .* is not a study; pass a study file's"):
        dse.run(bad)
    for function in (dse.load, dse.trials):
        with pytest.raises(StudyInputError, match="or the optuna.Study that dse.run"):
            function(bad)


def _tiny(tmp_path: Path) -> dict:
    raw = yaml.safe_load(TINY.read_text())
    raw.update(name="bad-args", output_dir=str(tmp_path / "out"))
    return raw


BAD_ARGUMENTS = [
    ("timeout", float("nan")),
    ("timeout", float("inf")),
    ("timeout", -1.0),
    ("timeout", 0),
    ("timeout", "60"),
    ("timeout", True),
    ("n_trials", 0),
    ("n_trials", 2.5),
    ("n_trials", float("nan")),
    ("n_trials", 10**7),
    ("n_jobs", 0),
    ("n_jobs", 1000),
    ("storage", ["postgresql://u:hunter2@h/d"]),
    ("progress", "no"),
]


@pytest.mark.parametrize(
    ("name", "value"), BAD_ARGUMENTS, ids=[f"{n}={v!r}" for n, v in BAD_ARGUMENTS]
)
def test_a_bad_run_argument_is_refused_before_any_trial(name, value, tmp_path) -> None:
    spec = _tiny(tmp_path)
    with pytest.raises(StudyInputError) as info:
        dse.run(spec, **{name: value})
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    assert "hunter2" not in message
    assert not (tmp_path / "out").exists()  # nothing written, no trial run


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0"])
def test_the_cli_timeout_is_a_positive_finite_number_of_seconds(value, tmp_path, capsys) -> None:
    from dse.cli import main

    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(_tiny(tmp_path)))
    assert main(["run", str(study), f"--timeout={value}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--timeout" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
