"""A study on the user's own images (`dataset: {name: npz, path: ...}`) through the CLI: it
runs end to end with the MLP, its cache key follows the file's content, bad input exits 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from npz_data import synthetic, write_npz
from optuna.trial import TrialState

from dse.cli import main
from dse.holdout import held_out_scores
from dse.metrics import trial_metrics
from dse.objective import training_key
from dse.schema import parse_study
from models.training import TrainConfig

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"


def study_file(folder: Path, study: str = "rgb", **dataset: object) -> Path:
    """The tiny study on `dataset` (default: the npz file rgb.npz beside the study file)."""
    raw = yaml.safe_load(TINY.read_text())
    raw.update(name=study, output_dir=str(folder / "out" / study), n_trials=3)
    raw["dataset"] = dataset or {"name": "npz", "path": "rgb.npz", "max_selection": 30}
    path = folder / f"{study}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_study_runs_on_a_three_channel_npz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # paths in a study are relative to the current directory
    write_npz(tmp_path / "rgb.npz")
    assert main(["run", str(study_file(tmp_path))]) == 0
    storage = f"sqlite:///{tmp_path / 'out' / 'rgb' / 'study.db'}"
    study = optuna.load_study(study_name="rgb", storage=storage)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 3
    for trial in trials:
        widths = trial_metrics(trial)["accelerator"]["widths"]
        assert (widths[0], widths[-1]) == (192, 3)  # 3 x 8 x 8 inputs, 3 classes
    # The classes are separable (each brightens its channel): the images reached the MLP.
    assert max(trial_metrics(t)["accuracy"] for t in trials) > 0.9
    scored = held_out_scores(study)  # the front, scored once on x_test
    assert scored and all(s["test_images"] == 60 for s in scored.values())


def test_the_cache_key_follows_the_npz_content(tmp_path: Path) -> None:
    def key(path: Path | None, name: str = "npz") -> dict:
        dataset = {"name": name} if path is None else {"name": name, "path": str(path)}
        raw = yaml.safe_load(study_file(tmp_path, **dataset).read_text())
        return training_key(parse_study(raw), TrainConfig(widths=(8,)))

    first = key(write_npz(tmp_path / "a.npz"))
    shutil.copy(tmp_path / "a.npz", tmp_path / "b.npz")
    assert key(tmp_path / "b.npz") == first  # the content counts, not where the file is
    x_train, _ = synthetic(200, seed=7)
    changed = key(write_npz(tmp_path / "a.npz", x_train=x_train))
    assert changed["dataset"]["sha256"] != first["dataset"]["sha256"]
    assert changed["train"] == first["train"]
    assert "sha256" not in key(None, "digits")["dataset"]  # the named datasets' keys stay


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"name": "npz"}, "dataset.path: missing; name: npz reads your images from an .npz"),
        ({"name": "digits", "path": "rgb.npz"}, "dataset.path: is for name: npz; digits is"),
        ({"name": "npz", "path": "absent.npz"}, "dataset.path: 'absent.npz': no such file"),
        ({"name": "npz", "path": "bad.npz"}, "bad.npz: x_test: dtype int16 is not allowed"),
    ],
)
def test_bad_npz_studies_exit_2_with_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dataset: dict,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_npz(tmp_path / "rgb.npz")
    write_npz(tmp_path / "bad.npz", x_test=np.zeros((60, 8, 8, 3), np.int16))
    assert main(["run", str(study_file(tmp_path, **dataset))]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err
