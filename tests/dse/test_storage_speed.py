"""Storage that does not dominate: a trial's writes are few and bounded, the progress bar and
the objective read each finished trial once and never ask for `study.best_trials`, and what
they keep is what Optuna would give."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import yaml
from optuna.trial import TrialState

import dse.runner
from dse.inner import INNER_ATTR
from dse.metrics import HARDWARE_ATTR, MODEL_ATTR, metric, trial_metrics
from dse.objective import TrialFailure, TrialObjective
from dse.progress import StudyProgress
from dse.runner import run_study
from dse.sampling import TrialHistory
from dse.schema import StudyConfig, parse_study
from dse.selection import RunningFront, front_trials
from dse.watch import FinishedTrials

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"
MAX_DESIGNS = 4
WRITES = ("create_new_trial", "set_trial_param", "set_trial_user_attr", "set_trial_system_attr")


class CountingStorage(optuna.storages.InMemoryStorage):
    """Optuna's in-memory storage, counting the writes it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def create_new_trial(self, study_id: int, template_trial: Any = None) -> int:
        self.calls["create_new_trial"] += 1
        return super().create_new_trial(study_id, template_trial)

    def set_trial_param(self, *args: Any) -> None:
        self.calls["set_trial_param"] += 1
        super().set_trial_param(*args)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.calls["set_trial_user_attr"] += 1
        super().set_trial_user_attr(trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.calls["set_trial_system_attr"] += 1
        super().set_trial_system_attr(trial_id, key, value)

    def set_trial_state_values(self, *args: Any, **kwargs: Any) -> bool:
        self.calls["set_trial_state_values"] += 1
        return super().set_trial_state_values(*args, **kwargs)


def inner_config(out_dir: Path, **overrides: Any) -> StudyConfig:
    """The tiny study with the exact inner hardware search over a grid with a front."""
    raw = yaml.safe_load(TINY.read_text())
    raw["search"].update(
        pe=[2, 4, 8, 16], synapses_per_cycle=[1, 2], clock_mhz={"low": 100, "high": 150}
    )
    raw.update(
        name="writes",
        output_dir=str(out_dir),
        objectives=[
            {"metric": "accuracy", "direction": "maximize"},
            {"metric": "latency_us", "direction": "minimize"},
            {"metric": "lut", "direction": "minimize"},
        ],
        constraints={"fit_device": True, "util_cap": 0.9},
        hardware_search={"exact": True, "max_designs": MAX_DESIGNS, "clock_step_mhz": 25},
    )
    raw.update(overrides)
    return parse_study(raw, "tiny.yaml")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("writes")


def test_an_evaluated_trial_and_its_variants_write_a_bounded_few_times(out_dir: Path) -> None:
    cfg = inner_config(out_dir)
    storage = CountingStorage()
    study = optuna.create_study(
        storage=storage,
        directions=[o.direction for o in cfg.objectives],
        sampler=optuna.samplers.RandomSampler(seed=1),
    )
    objective = TrialObjective(cfg)
    study.optimize(objective, n_trials=1, catch=(TrialFailure,))  # trains the model
    evaluated = None
    for seed in range(2, 12):  # one evaluated trial that records variants, on a warm cache
        storage.calls.clear()
        study.sampler = optuna.samplers.RandomSampler(seed=seed)
        study.optimize(objective, n_trials=1, catch=(TrialFailure,))
        if storage.calls["create_new_trial"] > 1:  # the trial, then its variants
            evaluated = study.get_trials(deepcopy=False)[-storage.calls["create_new_trial"]]
            break
    assert evaluated is not None, "no trial recorded a hardware variant"
    calls = storage.calls
    variants = [t for t in study.get_trials() if t.user_attrs.get(INNER_ATTR) == evaluated.number]
    assert 1 <= len(variants) <= MAX_DESIGNS
    # One insert for the trial, one per variant (every attribute inside it), however many
    # metrics there are: ~70 metrics used to be ~70 writes for the trial and each variant.
    assert calls["create_new_trial"] == 1 + len(variants)
    assert calls["set_trial_user_attr"] == 2  # the `model` and `hardware` groups
    assert calls["set_trial_system_attr"] == len(evaluated.constraints)  # one per constraint
    assert calls["set_trial_param"] == len(evaluated.params)  # one per knob drawn (Optuna's)
    assert calls["set_trial_state_values"] == 1
    assert sum(calls[w] for w in WRITES) <= len(evaluated.params) + 2 + 4 + 1 + MAX_DESIGNS
    # Grouped as stored, flat as read.
    assert set(evaluated.user_attrs) == {MODEL_ATTR, HARDWARE_ATTR}
    flat = trial_metrics(evaluated)
    assert {"accuracy", "lut", "latency_us", "model_key", "accelerator", "model_metrics"} <= set(
        flat
    )
    for variant in variants:
        assert set(variant.user_attrs) == {MODEL_ATTR, HARDWARE_ATTR, INNER_ATTR}
        assert variant.user_attrs[MODEL_ATTR] == evaluated.user_attrs[MODEL_ATTR]
        assert set(trial_metrics(variant)) == set(flat) | {INNER_ATTR}
        assert metric(variant, "accuracy") == flat["accuracy"]
        assert metric(variant, "accelerator")["pe"] == variant.params["pe"]


def test_old_flat_trials_read_the_same() -> None:
    flat = {"accuracy": 0.9, "lut": 100, "model_metrics": ["accuracy", "model_metrics"]}
    old = optuna.trial.create_trial(values=[0.9], user_attrs=flat)
    assert trial_metrics(old) == flat
    assert metric(old, "lut") == 100 and metric(old, "missing", "x") == "x"
    new = optuna.trial.create_trial(
        values=[0.9],
        user_attrs={MODEL_ATTR: {"accuracy": 0.9}, HARDWARE_ATTR: {"lut": 100}},
    )
    assert trial_metrics(new) == flat
    assert metric(new, "model_metrics") == flat["model_metrics"]
    assert metric(new, MODEL_ATTR) is None  # the groups are storage, not metrics


class NoBestTrials:
    """Stands in for `Study.best_trials`: fails the test when anything asks for it."""

    calls = 0

    def __get__(self, study: Any, owner: Any = None) -> Any:
        NoBestTrials.calls += 1
        raise AssertionError("study.best_trials was called")


@pytest.mark.parametrize("shown", [False, True])
def test_the_progress_bar_never_asks_for_best_trials(
    out_dir: Path, monkeypatch: pytest.MonkeyPatch, shown: bool
) -> None:
    cfg = inner_config(out_dir, name=f"bar-{shown}", n_trials=4)
    NoBestTrials.calls = 0
    scored: list[int] = []
    monkeypatch.setattr(dse.runner, "score_front", lambda cfg, study, _: scored.append(1))
    monkeypatch.setattr(optuna.study.Study, "best_trials", NoBestTrials())
    bars: list[StudyProgress] = []

    class Recorded(StudyProgress):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(dse.runner, "StudyProgress", Recorded)
    study = run_study(cfg, progress=shown)
    assert scored == [1] and NoBestTrials.calls == 0
    sampled = [t for t in study.get_trials() if INNER_ATTR not in t.user_attrs]
    assert len(sampled) == 4 and len(study.get_trials()) > 4  # variants were recorded
    monkeypatch.undo()
    if shown:  # the bar's running front is the front the tables show
        assert bars[0]._pareto == len(front_trials(study))


def _random_trials(n: int, seed: int) -> list[optuna.trial.FrozenTrial]:
    rng = np.random.default_rng(seed)
    trials = []
    for number in range(n):
        if rng.random() < 0.15:
            trial = optuna.trial.create_trial(state=TrialState.FAIL)
        else:
            trial = optuna.trial.create_trial(
                values=[float(v) for v in rng.integers(0, 8, size=2)],  # ties are frequent
                constraints={"cap": float(rng.normal(-1.0, 1.0))},
            )
        trial.number = number
        trials.append(trial)
    return trials


@pytest.mark.parametrize("seed", range(5))
def test_the_running_front_is_optunas_best_trials(seed: int) -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    running = RunningFront(study.directions)
    for trial in _random_trials(60, seed):  # ties and infeasible trials included
        study.add_trial(trial)
        running.add(trial)
        best = sorted(t.number for t in study.best_trials)
        assert [t.number for t in running.best_trials] == best


def test_finished_trials_are_handed_out_once_each() -> None:
    study = optuna.create_study()
    finished = FinishedTrials()
    running = study.ask()
    study.add_trial(optuna.trial.create_trial(value=1.0))
    assert [t.number for t in finished.new(study.get_trials(deepcopy=False))] == [1]
    assert finished.unfinished == {0}
    assert finished.new(study.get_trials(deepcopy=False)) == []
    study.tell(running, 2.0)
    study.add_trial(optuna.trial.create_trial(value=3.0))
    assert [t.number for t in finished.new(study.get_trials(deepcopy=False))] == [0, 2]
    assert finished.unfinished == set()


def test_tpe_can_learn_from_the_sampled_trials_only() -> None:
    study = optuna.create_study(directions=["minimize"])
    x = optuna.distributions.FloatDistribution(0.0, 1.0)
    for i in range(12):
        attrs = {INNER_ATTR: 0} if i % 3 else {}
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": i / 12}, distributions={"x": x}, value=i, user_attrs=attrs
            )
        )
    seen: list[int] = []

    class Recording(optuna.samplers.TPESampler):
        def sample_relative(self, study, trial, search_space):
            seen.append(len(study.get_trials(deepcopy=False)))
            return super().sample_relative(study, trial, search_space)

    study.sampler = TrialHistory(Recording(seed=0, n_startup_trials=2), variants=False)
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=1)
    assert seen == [5]  # 4 sampled trials and the running one; the 8 variants left out
    study.sampler = TrialHistory(Recording(seed=0, n_startup_trials=2), variants=True)
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=1)
    assert seen[-1] == 14


@pytest.mark.parametrize(
    ("sampler", "expected"),
    [
        ({"name": "tpe"}, True),
        ({"name": "gp"}, False),
        ({"name": "gp", "variants_in_history": True}, True),
        ({"name": "tpe", "variants_in_history": False}, False),
    ],
)
def test_each_sampler_learns_from_the_variants_as_measured_unless_the_study_says(
    sampler: dict, expected: bool
) -> None:
    """TPE keeps the hardware variants in its history, GP leaves them out (docs/measurements.md,
    "Search quality"); `sampler.variants_in_history` overrides either."""
    raw = {
        "name": "s",
        "objectives": [{"metric": "accuracy", "direction": "maximize"}],
        "sampler": sampler,
    }
    built = dse.runner.build_sampler(parse_study(raw, "s.yaml"))
    assert isinstance(built, TrialHistory) and built.variants is expected
