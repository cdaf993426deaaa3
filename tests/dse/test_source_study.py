"""A project knows the study trial it was exported from, and refuses a look-alike: `dse sim`
and `dse measure` record their figures on that trial only, not on trial N of a study that was
deleted and created again under the same name (the trial's start time tells them apart)."""

import time
from pathlib import Path

import optuna
import pytest
import yaml

from dse.commands.measure_command import open_source_study
from dse.errors import StudyInputError
from dse.runner import open_study
from dse.schema import load_study_file


def _one_trial(study: optuna.Study) -> str:
    study.add_trial(optuna.trial.create_trial(values=[0.5], params={}, distributions={}))
    return study.trials[-1].datetime_start.isoformat()


def test_a_recreated_study_of_the_same_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    spec = {"name": "again", "output_dir": str(tmp_path / "run"), "dataset": {"name": "digits"}}
    spec["objectives"] = [{"metric": "accuracy", "direction": "maximize"}]
    path.write_text(yaml.safe_dump(spec))
    cfg = load_study_file(path)
    started = _one_trial(open_study(cfg))
    ref = {"study_file": str(path), "study_name": "again", "trial": 0, "trial_started": started}
    study, trial = open_source_study(ref, tmp_path, None)
    assert (study.study_name, trial) == ("again", 0)
    assert open_source_study({**ref, "trial_started": None}, tmp_path, None)[1] == 0  # old export

    optuna.delete_study(study_name="again", storage=cfg.storage_url())
    time.sleep(0.01)
    _one_trial(open_study(cfg))
    with pytest.raises(StudyInputError) as info:
        open_source_study(ref, tmp_path, None)
    line = str(info.value)
    assert "trial 0 of study 'again' started" in line and "re-export the design" in line
    assert "\n" not in line
    with pytest.raises(StudyInputError, match="trial 5 of study 'again' started never"):
        open_source_study({**ref, "trial": 5}, tmp_path, None)  # not there at all
