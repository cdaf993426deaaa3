"""The test split is scored once, for the final front, and never read by the search."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
import yaml
from optuna.trial import TrialState

import dse.objective
from dse.holdout import gap_summary, held_out_scores
from dse.metrics import trial_metrics
from dse.report import write_report
from dse.runner import run_study
from dse.schema import StudyConfig, parse_study
from dse.selection import front_trials
from dse.summary import trial_table
from models.datasets import DatasetSplits

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"


def tiny(out_dir: Path) -> StudyConfig:
    raw = yaml.safe_load(TINY.read_text())
    raw.update(output_dir=str(out_dir), n_trials=4)
    return parse_study(raw, "tiny.yaml")


def _shuffled_test(splits: DatasetSplits) -> DatasetSplits:
    """The same splits with the test labels permuted: any figure that read them would move."""
    x, y = splits.test
    permuted = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    return DatasetSplits(
        name=splits.name,
        train=splits.train,
        val=splits.val,
        test=(x, (permuted + 1) % splits.num_classes),  # and no label left in place
        num_classes=splits.num_classes,
        input_dim=splits.input_dim,
        selection=splits.selection,
    )


def _run(out_dir: Path, monkeypatch: pytest.MonkeyPatch, shuffle: bool) -> optuna.Study:
    real = dse.objective.load_dataset
    if shuffle:
        monkeypatch.setattr(
            dse.objective, "load_dataset", lambda *a, **k: _shuffled_test(real(*a, **k))
        )
    dse.objective.load_splits.cache_clear()
    try:
        return run_study(tiny(out_dir), progress=False)
    finally:
        monkeypatch.setattr(dse.objective, "load_dataset", real)
        dse.objective.load_splits.cache_clear()


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> tuple[optuna.Study, optuna.Study]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        plain = _run(tmp_path_factory.mktemp("plain"), monkeypatch, shuffle=False)
        shuffled = _run(tmp_path_factory.mktemp("shuffled"), monkeypatch, shuffle=True)
    return plain, shuffled


def test_shuffled_test_labels_change_no_objective_and_no_front(
    studies: tuple[optuna.Study, optuna.Study],
) -> None:
    plain, shuffled = studies

    def trace(study: optuna.Study) -> list:
        done = study.get_trials(states=(TrialState.COMPLETE,))
        return [(t.number, t.params, t.values, t.constraints) for t in done]

    assert trace(plain) == trace(shuffled)
    assert [t.number for t in front_trials(plain)] == [t.number for t in front_trials(shuffled)]
    # ...while the test figures did read the labels: the shuffled ones are near chance.
    good, bad = held_out_scores(plain), held_out_scores(shuffled)
    assert set(good) == set(bad) == {t.number for t in front_trials(plain)}
    for number in good:
        assert bad[number]["test_accuracy"] < good[number]["test_accuracy"]
        assert bad[number]["test_accuracy"] <= 0.2


def test_front_carries_test_figures_and_the_search_does_not(
    studies: tuple[optuna.Study, optuna.Study], tmp_path: Path
) -> None:
    study, _ = studies
    front = {t.number for t in front_trials(study)}
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        assert "selection_correct" in trial_metrics(trial)
        assert not any(k.startswith("test_") for k in trial_metrics(trial))
    paths = write_report(study, tmp_path)
    pareto = pd.read_csv(paths["pareto.csv"])
    assert set(pareto["number"]) == front
    assert pareto["test_accuracy"].between(0, 1).all() and (pareto["test_images"] == 60).all()
    trials = pd.read_csv(paths["trials.csv"])
    tested = trials.loc[trials["test_accuracy"].notna(), "number"]
    assert set(tested) == front  # only the front designs were scored on test
    knee = next(iter(sorted(front)))
    trial = next(t for t in study.get_trials() if t.number == knee)
    rows = [
        tuple(cell.plain for cell in column.cells)
        for column in trial_table(study, trial, "").columns
    ]
    assert "test_accuracy" in rows[1] and "test" in rows[0]
    line = gap_summary(study)
    assert line is not None and "selection split" in line and "gap" in line
