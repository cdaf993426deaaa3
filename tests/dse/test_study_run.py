"""A tiny study end to end: SQLite storage, cache hits, constraints, failures, resume."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

import dse.objective
from dse.metrics import trial_metrics
from dse.objective import trial_configuration
from dse.paired import correct_vector, ties_of
from dse.report import write_report
from dse.runner import StudyFailing, open_study, run_study
from dse.schema import StudyConfig, parse_study
from dse.selection import front_trials, select_trial
from models.training import TrainingDivergedError

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"
REQUIRED_ATTRS = (
    *("accuracy", "ece", "nll", "brier", "spikes_per_inference"),
    *("lut", "ff", "bram36", "dsp", "latency_us", "throughput_ips", "gops", "gops_per_dsp"),
    *("power_w", "energy_pl_uj", "energy_soc_uj", "energy_board_uj", "fits", "model_key"),
    *("model_dir", "cache_hit"),
    *("train_seconds", "eval_seconds", "train_config", "accelerator"),
)


def tiny(out_dir: Path, **overrides) -> StudyConfig:
    raw = yaml.safe_load(TINY.read_text())
    raw.update(output_dir=str(out_dir), **overrides)
    return parse_study(raw, "tiny.yaml")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output directory (and model cache) shared by this module's studies."""
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture(scope="module")
def study(out_dir: Path) -> optuna.Study:
    return run_study(tiny(out_dir), progress=False)


def test_tiny_study_lands_in_sqlite_and_reloads(study: optuna.Study, out_dir: Path) -> None:
    assert (out_dir / "study.db").is_file()
    loaded = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out_dir / 'study.db'}")
    trials = loaded.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 5
    assert loaded.metric_names == ["accuracy", "power_w"]
    for trial in trials:
        missing = [name for name in REQUIRED_ATTRS if name not in trial_metrics(trial)]
        assert not missing
        assert 0.0 <= trial_metrics(trial)["accuracy"] <= 1.0
        assert trial.values == [trial_metrics(trial)["accuracy"], trial_metrics(trial)["power_w"]]
        assert trial_metrics(trial)["accelerator"]["pe"] == trial.params["pe"]
        assert set(trial.constraints) == {"utilisation", "timing"}
        peak = max(v for k, v in trial_metrics(trial).items() if k.startswith("util_"))
        assert trial.constraints["utilisation"] == pytest.approx(peak - 0.9)
        over = trial_metrics(trial)["clock_mhz"] - trial_metrics(trial)["fmax_mhz"]
        assert trial.constraints["timing"] == pytest.approx(over)


def test_cache_hits_for_trials_that_share_a_training_key(
    study: optuna.Study, out_dir: Path
) -> None:
    trials = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    seen: set[str] = set()
    for trial in trials:
        key = trial_metrics(trial)["model_key"]
        assert trial_metrics(trial)["cache_hit"] == (key in seen)
        assert trial_metrics(trial)["model_key"] == Path(trial_metrics(trial)["model_dir"]).name
        seen.add(key)
    widths = {t.params["width_0"] for t in trials}
    assert len(seen) == len(widths) < len(trials)  # width is the only training knob searched
    cached = [p for p in (out_dir / "models").iterdir() if not p.name.startswith(".")]
    assert len(cached) == len(seen)


def test_pareto_csv_is_the_front(study: optuna.Study, out_dir: Path) -> None:
    """Optuna's best trials without twins (`dse.selection.front_trials`)."""
    pareto = pd.read_csv(write_report(study, out_dir / "report")["pareto.csv"])
    front = sorted(t.number for t in front_trials(study))
    assert list(pareto["number"]) == front
    assert set(front) <= {t.number for t in study.best_trials}
    # The three energies, each what it says (hwmodel.estimate): PL < PL + PS, PL < board.
    energies = pareto[["energy_pl_uj", "energy_soc_uj", "energy_board_uj"]]
    assert "energy_uj" not in pareto.columns and energies.notna().all().all()
    assert (energies["energy_pl_uj"] < energies["energy_soc_uj"]).all()
    assert (energies["energy_pl_uj"] < energies["energy_board_uj"]).all()
    assert energies["energy_pl_uj"].to_numpy() == pytest.approx(
        (pareto["power_w"] * pareto["latency_us"]).to_numpy()
    )


def test_best_is_chosen_among_designs_tied_on_the_selection_split(study: optuna.Study) -> None:
    """Real selection results: each trial's correct vector gives its accuracy, and `best` is
    the lowest-power front design the paired test cannot tell from the most accurate."""
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        correct = correct_vector(trial_metrics(trial))
        assert correct is not None and len(correct) == 60
        assert correct.mean() == pytest.approx(trial_metrics(trial)["accuracy"])
    front = front_trials(study)
    tied = [front[0], *(t for t in front if t.number in ties_of(front[0], front))]
    best = select_trial(study, "best")
    assert best.number in {t.number for t in tied}
    assert best.values[1] == min(t.values[1] for t in tied)


def test_standard_errors_are_recorded_and_reported(study: optuna.Study, out_dir: Path) -> None:
    """Every accuracy-like metric has its SE; S <= 2 adds the spread over 3 seeds to it."""
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    for trial in trials:
        attrs = trial_metrics(trial)
        assert attrs["selection_images"] == 60 and attrs["eval_seeds"] == 3  # samples are 1 or 2
        assert not any(k.startswith("test_") for k in attrs)  # the search never sees test
        acc = attrs["accuracy"]
        binomial = (acc * (1 - acc) / 60) ** 0.5  # the image part alone, one seed
        assert attrs["accuracy_se"] >= 0.7 * binomial and attrs["accuracy_se"] > 0
        assert attrs["accuracy_se"] >= attrs["accuracy_seed_sd"]  # seed spread is part of it
        assert 0.0 <= attrs["accuracy_seed_mean"] <= 1.0
        for name in ("ece", "nll", "brier"):
            assert attrs[f"{name}_se"] > 0, name
    paths = write_report(study, out_dir / "report-se")
    pareto = pd.read_csv(paths["pareto.csv"])
    by_number = {t.number: t for t in trials}
    for _, row in pareto.iterrows():
        se = trial_metrics(by_number[row["number"]])["accuracy_se"]
        assert row["values_accuracy_se"] == pytest.approx(se)
        assert f"{100 * row['values_accuracy']:.1f} ± {196 * se:.1f}" in paths[
            "report.html"
        ].read_text(encoding="utf-8")
    html = paths["report.html"].read_text(encoding="utf-8")
    assert "Small selection split" in html and "60 selection images" in html


def test_refine_front_re_evaluates_with_more_images_and_seeds(out_dir: Path) -> None:
    cfg = tiny(
        out_dir,
        name="refined",
        n_trials=2,
        evaluation={"refine_front": {"images": None, "seeds": 4}},
    )
    first = run_study(cfg, progress=False).get_trials(states=(TrialState.COMPLETE,))[0]
    recorded = trial_metrics(first)
    assert recorded["refined"] is True  # the first feasible design is the front
    assert recorded["selection_images"] == 100 and recorded["eval_seeds"] == 4


def test_trial_configuration_rebuilds_a_trial(study: optuna.Study, out_dir: Path) -> None:
    cfg = tiny(out_dir)
    trial = study.get_trials(states=(TrialState.COMPLETE,))[-1]
    train_cfg, eval_cfg, accel, model_dir = trial_configuration(cfg, trial)
    assert str(model_dir) == trial_metrics(trial)["model_dir"]
    assert train_cfg.to_dict() == trial_metrics(trial)["train_config"]
    assert accel.as_dict() == trial_metrics(trial)["accelerator"]
    assert eval_cfg.timesteps == trial.params["timesteps"]
    assert accel.widths == (64, trial.params["width_0"], 10)


def test_resume_after_interruption_finishes_the_total(
    out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny(out_dir, name="resumed", n_trials=4)
    real_evaluate = dse.objective.evaluate_seeds
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third trial
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(dse.objective, "evaluate_seeds", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study(cfg, progress=False)
    monkeypatch.setattr(dse.objective, "evaluate_seeds", real_evaluate)
    *first, interrupted_trial = open_study(cfg, create=False).get_trials()
    assert interrupted_trial.state == TrialState.FAIL
    assert first and all(t.state == TrialState.COMPLETE for t in first)
    study = run_study(cfg, progress=False)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 4
    assert [t.datetime_start for t in done[: len(first)]] == [t.datetime_start for t in first]
    assert run_study(cfg, progress=False).trials == study.trials  # already complete: no-op


def test_failed_training_is_a_failed_trial_and_the_study_goes_on(
    out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_train = dse.objective.train_model

    def diverge_wide(train_cfg, splits, progress=True, on_epoch=None):
        if train_cfg.widths == (16,):
            raise TrainingDivergedError("loss became nan at epoch 1")
        return real_train(train_cfg, splits, progress=progress, on_epoch=on_epoch)

    monkeypatch.setattr(dse.objective, "train_model", diverge_wide)
    cfg = tiny(out_dir, name="diverging", training={"epochs": 1, "seed": 7}, n_trials=3)
    study = run_study(cfg, progress=False)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3
    assert failed and all(t.params["width_0"] == 16 for t in failed)
    assert all(
        "TrainingDivergedError: loss became nan" in trial_metrics(t)["fail_reason"] for t in failed
    )


def test_repeated_designs_reuse_the_earlier_trial(out_dir: Path) -> None:
    search = {"width": [8, 16], "timesteps": 2, "samples": 1, "pe": [4, 16], "clock_mhz": 100}
    cfg = tiny(out_dir, name="twins", search=search, n_trials=6)
    trials = run_study(cfg, progress=False).get_trials(states=(TrialState.COMPLETE,))
    twins = [t for t in trials if "duplicate_of" in trial_metrics(t)]
    assert len(twins) >= 2  # six trials, two model configurations, four designs
    hardware = ("pe",)
    for twin in twins:
        first = trials[trial_metrics(twin)["duplicate_of"]]
        assert "duplicate_of" not in trial_metrics(first) and first.number < twin.number
        model = {k: v for k, v in twin.params.items() if k not in hardware}
        assert model == {k: v for k, v in first.params.items() if k not in hardware}
        assert trial_metrics(twin)["eval_seconds"] == 0.0
        assert trial_metrics(twin)["accuracy"] == trial_metrics(first)["accuracy"]
        assert trial_metrics(twin)["accelerator"]["pe"] == twin.params["pe"]
        if twin.params == first.params:
            assert twin.values == first.values and twin.constraints == first.constraints
    assert any(t.params != trials[trial_metrics(t)["duplicate_of"]].params for t in twins)
    assert any(t.params == trials[trial_metrics(t)["duplicate_of"]].params for t in twins)


def test_integer_evaluation_is_recorded(out_dir: Path) -> None:
    cfg = tiny(out_dir, name="integer", evaluation={"mode": "integer"}, n_trials=1)
    trial = run_study(cfg, progress=False).trials[0]
    assert trial.state == TrialState.COMPLETE
    assert trial_metrics(trial)["evaluation"] == "integer"
    assert 0.0 <= trial_metrics(trial)["accuracy"] <= 1.0


def test_a_study_where_every_trial_fails_stops(
    out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_diverge(train_cfg, splits, progress=True, on_epoch=None):
        raise TrainingDivergedError("loss became nan at epoch 1")

    monkeypatch.setattr(dse.objective, "train_model", always_diverge)
    cfg = tiny(out_dir, name="hopeless", training={"epochs": 1, "seed": 11}, n_trials=2)
    with pytest.raises(StudyFailing, match="2 trials failed; the last: TrainingDivergedError"):
        run_study(cfg, progress=False)
    assert len(open_study(cfg, create=False).trials) == 2
