"""Progress that tells the truth: the epoch while a model trains, and a time left measured
from the recent trials (not from training time once every model is cached)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import FrozenTrial

import dse.runner
from dse.inner import INNER_ATTR
from dse.progress import StudyProgress, eta_seconds, reused_walls
from dse.runner import run_study
from dse.schema import parse_study
from models.datasets import load_dataset
from models.training import TrainConfig, train_model

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"
DAY1 = datetime(2026, 3, 1, 9, 0)  # an earlier run
DAY2 = datetime(2026, 3, 2, 9, 0)  # this run's start


def _trial(
    number: int,
    start: datetime,
    seconds: float,
    hit: bool,
    key: str = "a",
    train_s: float = 0.0,
) -> FrozenTrial:
    trial = optuna.trial.create_trial(
        values=[0.5],
        user_attrs={"cache_hit": hit, "model_key": key, "train_seconds": train_s},
    )
    trial.datetime_start, trial.datetime_complete = start, start + timedelta(seconds=seconds)
    trial.number = number
    return trial


def _earlier_run(n: int, trained: int, train_s: float = 600.0) -> list[FrozenTrial]:
    """`n` trials back to back on DAY1; the first `trained` each trained a model."""
    trials, at = [], DAY1
    for i in range(n):
        hit = i >= trained
        seconds = 1.0 if hit else train_s + 1.0
        trials.append(
            _trial(i, at, seconds, hit, key=f"m{min(i, trained)}", train_s=0 if hit else train_s)
        )
        at = trials[-1].datetime_complete
    return trials


def _this_run(first: int, n: int, overhead: float = 0.5, seconds: float = 1.0) -> list[FrozenTrial]:
    """`n` cached trials from DAY2 on: `overhead` s of sampler and storage before each."""
    trials, at = [], DAY2
    for i in range(n):
        trials.append(_trial(first + i, at + timedelta(seconds=overhead), seconds, True))
        at = trials[-1].datetime_complete
    return trials


def test_a_cached_run_counts_recent_trials_not_training() -> None:
    # The case: a 400-trial study resumed on a full cache.  Its earlier run trained
    # 3 models (10 min each); the space has 4 (a posterior-mode model's base model is trained
    # without a trial of its own), all 4 in the cache now.
    earlier = _earlier_run(360, trained=3)
    now = _this_run(360, 20)  # 1.5 s per trial: 1 s of trial, 0.5 s between trials
    trials = [*earlier, *now]
    assert reused_walls(trials, since=DAY2) == pytest.approx([1.5] * 19)
    eta = eta_seconds(trials, total=400, n_models=4, cached_models=4, since=DAY2)
    assert eta == pytest.approx(20 * 1.5)  # 30 s, no training left
    # Without the cache's count it must assume a model is left to train (what said 28:34).
    assert eta_seconds(trials, total=400, n_models=4, since=DAY2) > 600
    # With two models not in the cache, their measured training time is added.
    eta = eta_seconds(trials, total=400, n_models=4, cached_models=2, since=DAY2)
    assert eta == pytest.approx(20 * 1.5 + 2 * 600)
    assert eta_seconds(trials, total=400, n_models=4, workers=2, cached_models=2, since=DAY2) == (
        pytest.approx(20 * 1.5 + 2 * 600 / 2)
    )
    # never more models to train than trials left
    assert eta_seconds(trials, total=381, n_models=9, cached_models=2, since=DAY2) == (
        pytest.approx(1 * 1.5 + 1 * 600)
    )


def test_a_fresh_study_on_a_full_cache_is_never_stuck_at_unknown() -> None:
    first = _this_run(0, 1)
    assert eta_seconds([], total=50, n_models=2, cached_models=2, since=DAY2) is None
    # one trial: its duration stands in until a wall time is measured
    assert eta_seconds(first, total=50, n_models=2, cached_models=2, since=DAY2) == 49.0
    two = _this_run(0, 2)
    assert eta_seconds(two, total=50, n_models=2, cached_models=2, since=DAY2) == 48 * 1.5


def test_eta_adds_the_models_left_to_train_and_ignores_variants() -> None:
    cold = [_trial(0, DAY2, 31.0, False, "a", 30.0)]
    assert eta_seconds([], total=60, n_models=4, cached_models=0, since=DAY2) is None
    # after the first model: the trial less its training (1 s) stands in for a trial
    assert eta_seconds(cold, total=60, n_models=4, cached_models=1, since=DAY2) == (
        pytest.approx(59 * 1.0 + 3 * 30)
    )
    trials = [*cold, _trial(1, DAY2 + timedelta(seconds=31), 1.0, True, "a")]
    trials.append(_trial(2, DAY2 + timedelta(seconds=32), 2.0, True, "a"))
    # 57 trials left at the mean recent wall time (1 s, 2 s), 3 models left at 30 s
    assert eta_seconds(trials, total=60, n_models=4, cached_models=1, since=DAY2) == (
        pytest.approx(57 * 1.5 + 3 * 30)
    )
    assert eta_seconds(trials, total=3, n_models=4, cached_models=1, since=DAY2) == 0.0
    # hardware variants recorded within a trial are neither counted nor timed
    variants = [_trial(n, DAY2 + timedelta(seconds=40), 0.0, True) for n in (3, 4, 5)]
    for variant in variants:
        variant.user_attrs[INNER_ATTR] = 1
    with_variants = [*trials, *variants]
    assert eta_seconds(with_variants, total=60, n_models=4, cached_models=1, since=DAY2) == (
        pytest.approx(57 * 1.5 + 3 * 30)
    )
    # a timeout that comes first bounds the time left, also while the rest is unknown
    assert eta_seconds(trials, 60, 4, time_left=2.5, cached_models=1, since=DAY2) == 2.5
    assert eta_seconds(cold, 60, 4, time_left=-3.0, cached_models=0, since=DAY2) == 0.0


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_a_cached_runs_time_left_is_within_2x_of_the_truth() -> None:
    """A bar driven by a fake clock through a cached run whose trials take 1-2.5 s: once
    known, its time left is within a factor 2 of the time that was actually left."""
    study = optuna.create_study()
    for trial in _earlier_run(10, trained=2):
        study.add_trial(trial)
    clock = FakeClock(DAY2)
    total = 60
    bar = StudyProgress(study, total, enabled=False, n_models=2, cached_models=lambda: 2, now=clock)
    seen: list[tuple[datetime, float | None]] = []
    for i in range(total - 10):
        wall = 1.0 + 0.5 * (i % 4)  # 1, 1.5, 2, 2.5 s: trials differ
        start = clock.now + timedelta(seconds=0.3)
        trial = _trial(10 + i, start, wall - 0.3, True)
        study.add_trial(trial)
        clock.now = trial.datetime_complete
        bar.refresh(study)
        seen.append((clock.now, bar.time_left))
    end = clock.now
    known = [(at, left) for at, left in seen if left is not None]
    assert len(known) == len(seen)  # known from the first trial of the run on
    for at, left in known[:-1]:
        actual = (end - at).total_seconds()
        assert actual / 2 <= left <= 2 * actual, (at, left, actual)
    assert known[-1][1] == 0.0
    # between two trials the time left counts down
    bar2 = StudyProgress(
        study, total + 10, enabled=False, n_models=2, cached_models=lambda: 2, now=clock
    )
    bar2.refresh(study)
    before = bar2.time_left
    clock.now += timedelta(seconds=5)
    bar2.phase("evaluating")
    assert before is not None and bar2.time_left == pytest.approx(before - 5)
    assert list(bar2.descriptions) == ["evaluating"]


def test_training_reports_every_epoch() -> None:
    splits = load_dataset("digits", max_train=200)
    for method in ("bayesbinn", "ste"):
        seen: list[tuple[int, int]] = []
        cfg = TrainConfig(widths=(8,), epochs=3, method=method, bn_samples=1, calib_samples=2)
        train_model(
            cfg, splits, progress=False, on_epoch=lambda d, n, seen=seen: seen.append((d, n))
        )
        assert seen == [(1, 3), (2, 3), (3, 3)], method


def test_a_cold_run_shows_the_epoch_of_the_model_it_trains(tmp_path, monkeypatch) -> None:
    bars: list[StudyProgress] = []

    class Recorded(StudyProgress):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(dse.runner, "StudyProgress", Recorded)
    raw = yaml.safe_load(TINY.read_text())
    raw["training"]["epochs"] = 3
    raw.update(output_dir=str(tmp_path), n_trials=2)
    run_study(parse_study(raw, "tiny.yaml"), progress=False)
    described = list(bars[0].descriptions)
    epochs = [d for d in described if d.startswith("training model 1/2, epoch ")]
    assert epochs == [f"training model 1/2, epoch {e}/3" for e in range(4)]
    assert len(set(epochs)) >= 2
