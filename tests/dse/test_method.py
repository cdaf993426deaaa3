"""The `method` knob: BayesBiNN, its posterior mode, or STE, each trained or derived once and
each priced as the hardware builds it (a deterministic network samples nothing)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

import dse.objective
from dse.errors import StudyInputError
from dse.metrics import trial_metrics
from dse.objective import (
    build_configs,
    count_models,
    load_splits,
    training_key,
    trial_configuration,
)
from dse.runner import run_study
from dse.schema import parse_study
from dse.space import DETERMINISTIC_DESIGN, grid_search_space, suggest_design
from models.conversion import convert
from models.io import load_model

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"
SAMPLING = ("k_bits", "samples", "ensemble", "reuse", "sampling", "sample_lanes")
OBJECTIVES = [{"metric": "accuracy", "direction": "maximize"}]


def _config(**search):
    return parse_study({"name": "m", "objectives": OBJECTIVES, "search": search})


def test_deterministic_trials_draw_no_sampling_knob_and_record_the_built_design() -> None:
    cfg = _config(
        method=["bayesbinn", "ste", "mode"],
        k_bits=[4, 8],
        samples=[2, 4],
        ensemble=["time", "repeat"],
        reuse=[1, 4],
        sampling=["memory", "regenerate"],
        sample_lanes=[2, 4],
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    methods = set()
    for _ in range(30):
        trial = study.ask()
        design = suggest_design(trial, cfg.knobs)
        methods.add(design["method"])
        if design["method"] == "bayesbinn":
            assert {"k_bits", "samples", "ensemble", "reuse", "sampling"} <= set(trial.params)
            assert design["k_bits"] in (4, 8)
        else:
            assert not set(SAMPLING) & set(trial.params)
            assert {k: design[k] for k in SAMPLING} == DETERMINISTIC_DESIGN
        study.tell(trial, 0.0)
        assert suggest_design(study.trials[-1], cfg.knobs) == design  # how export rebuilds it
    assert methods == {"bayesbinn", "ste", "mode"}


def test_a_deterministic_design_is_evaluated_and_priced_without_sampling() -> None:
    cfg = _config(method=["ste", "mode"], k_bits=6, samples=8)
    splits = load_splits(cfg.dataset)
    design = suggest_design(optuna.trial.FixedTrial({"method": "ste"}), cfg.knobs)
    train_cfg, eval_cfg, accel = build_configs(cfg, design, splits)
    assert train_cfg.method == "ste"
    assert (eval_cfg.weights, eval_cfg.k_bits, eval_cfg.samples, eval_cfg.reuse) == (
        "mode",
        1,
        1,
        1,
    )
    assert (accel.k_bits, accel.samples, accel.sample_lanes, accel.ensemble) == (1, 1, 1, "repeat")
    mode = suggest_design(optuna.trial.FixedTrial({"method": "mode"}), cfg.knobs)
    assert build_configs(cfg, mode, splits)[0].method == "bayesbinn"  # the mode of that model


def test_the_training_key_tells_methods_apart_and_mode_derives_from_bayesbinn() -> None:
    cfg = _config(method=["bayesbinn", "ste", "mode"])
    splits = load_splits(cfg.dataset)
    keys = {}
    for method in ("bayesbinn", "ste", "mode"):
        design = suggest_design(optuna.trial.FixedTrial({"method": method}), cfg.knobs)
        train_cfg = build_configs(cfg, design, splits)[0]
        keys[method] = training_key(cfg, train_cfg, mode=method == "mode")
    assert len({yaml.safe_dump(k) for k in keys.values()}) == 3
    assert "method" not in keys["bayesbinn"]["train"]  # the key it had before the knob existed
    assert keys["ste"]["train"]["method"] == "ste"
    assert keys["mode"] == {**keys["bayesbinn"], "derived": "mode"}


@pytest.mark.parametrize(
    ("methods", "models"),
    [("bayesbinn", 2), (["bayesbinn", "mode"], 4), (["ste", "mode"], 6), (["ste"], 2)],
)
def test_count_models_counts_each_cache_entry(methods, models: int) -> None:
    assert count_models(_config(method=methods, width=[8, 16])) == models


@pytest.mark.parametrize(
    ("search", "training", "needle"),
    [
        ({"method": "sampled"}, {}, "search.method: 'sampled' is not allowed; use one of"),
        ({"method": ["ste", "bnn"]}, {}, "search.method.1: 'bnn' is not allowed"),
        ({}, {"method": "ste"}, "training.method: 'method' is not allowed; the search sets it"),
    ],
)
def test_the_schema_refuses_bad_methods(search, training, needle: str) -> None:
    raw = {"name": "m", "objectives": OBJECTIVES, "search": search, "training": training}
    with pytest.raises(StudyInputError, match=needle):
        parse_study(raw)


def test_the_schema_accepts_every_method() -> None:
    knob = _config(method=["bayesbinn", "ste", "mode"]).knobs["method"]
    assert knob.grid_values() == ["bayesbinn", "ste", "mode"]
    assert _config().knobs["method"].fixed == "bayesbinn"  # existing study files: as before


def test_the_grid_sampler_visits_deterministic_trials() -> None:
    cfg = _config(method=["bayesbinn", "ste"], k_bits=[4, 8])
    grid = grid_search_space(cfg.knobs)
    assert grid == {"method": ["bayesbinn", "ste"], "k_bits": [4, 8]}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(grid, seed=0))
    designs = []
    study.optimize(lambda trial: designs.append(suggest_design(trial, cfg.knobs)) or 0.0)
    drawn = sorted((d["method"], d["k_bits"]) for d in designs)
    assert drawn == [("bayesbinn", 4), ("bayesbinn", 8), ("ste", 1), ("ste", 1)]
    assert study.sampler.is_exhausted(study)


@pytest.fixture(scope="module")
def method_study(tmp_path_factory: pytest.TempPathFactory):
    """A tiny integer-datapath study with one trial per method, counting trainings."""
    out = tmp_path_factory.mktemp("method")
    raw = yaml.safe_load(TINY.read_text())
    raw.update(
        output_dir=str(out),
        n_trials=3,
        sampler={"name": "grid"},
        evaluation={"mode": "integer"},
        search={"method": ["bayesbinn", "ste", "mode"], "width": 8, "timesteps": 4, "samples": 2},
    )
    cfg = parse_study(raw, "tiny.yaml")
    trained: list[str] = []
    real = dse.objective.train_model

    def counted(train_cfg, splits, progress=True, on_epoch=None):
        trained.append(train_cfg.method)
        return real(train_cfg, splits, progress, on_epoch=on_epoch)

    patch = pytest.MonkeyPatch()
    patch.setattr(dse.objective, "train_model", counted)
    try:
        study = run_study(cfg, progress=False)
    finally:
        patch.undo()
    return cfg, study, trained


def test_a_study_scores_every_method_and_trains_bayesbinn_once(method_study) -> None:
    cfg, study, trained = method_study
    trials = {t.params["method"]: t for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert set(trials) == {"bayesbinn", "ste", "mode"}
    assert sorted(trained) == ["bayesbinn", "ste"]  # mode is derived from the bayesbinn model
    for method, trial in trials.items():
        attrs = trial_metrics(trial)
        assert 0.0 <= attrs["accuracy"] <= 1.0 and attrs["method"] == method
        sampled = method == "bayesbinn"
        assert (attrs["accelerator"]["k_bits"] == 1) != sampled
        assert attrs["eval_seeds"] == (3 if sampled else 1)  # seed_repeats; a binary net: 1
    keys = {m: trial_metrics(t)["model_key"] for m, t in trials.items()}
    assert len(set(keys.values())) == 3
    cached = [p for p in (cfg.out_dir / "models").iterdir() if not p.name.startswith(".")]
    assert len(cached) == 3 == count_models(cfg)


def test_a_mode_model_has_its_own_statistics_and_no_stale_temperature(method_study) -> None:
    cfg, study, _ = method_study
    trials = {t.params["method"]: t for t in study.get_trials(states=(TrialState.COMPLETE,))}
    base = load_model(trial_metrics(trials["bayesbinn"])["model_dir"])
    mode = load_model(trial_metrics(trials["mode"])["model_dir"])
    assert not base.network.norms[0].running_mean.equal(mode.network.norms[0].running_mean)
    assert base.network.layers[0].lam.equal(mode.network.layers[0].lam)
    snn = convert(mode, weights="mode")
    assert snn.output_scale == pytest.approx(mode.network.gain * mode.network.clip)
    assert {float(p) for p in snn.layers[0].prob.ravel()} <= {0.0, 1.0}


@pytest.mark.parametrize("method", ["ste", "mode"])
def test_trial_configuration_rebuilds_a_deterministic_trial(method_study, method: str) -> None:
    cfg, study, _ = method_study
    trial = next(t for t in study.get_trials() if t.params.get("method") == method)
    train_cfg, eval_cfg, accel, model_dir = trial_configuration(cfg, trial)
    assert train_cfg.method == ("ste" if method == "ste" else "bayesbinn")
    assert eval_cfg.weights == "mode" and accel.k_bits == 1 and accel.samples == 1
    assert model_dir == Path(trial_metrics(trial)["model_dir"])
    unrecorded = optuna.trial.create_trial(
        params=trial.params, distributions=trial.distributions, values=trial.values
    )
    assert trial_configuration(cfg, unrecorded)[3] == model_dir  # rebuilt from the key


def test_the_inner_hardware_search_varies_no_sampling_knob_of_a_deterministic_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = yaml.safe_load(TINY.read_text())
    raw.update(
        output_dir=str(tmp_path),
        n_trials=2,
        hardware_search={"exact": True},
        search={
            "method": "ste",
            "width": 8,
            "pe": [4, 16],
            "sampling": ["memory", "regenerate"],
            "sample_lanes": [1, 2],
        },
    )
    grids: list[dict] = []
    real = dse.objective.hardware_front

    def spy(accelerator, activity, grid, *args, **kwargs):
        grids.append(grid)
        return real(accelerator, activity, grid, *args, **kwargs)

    monkeypatch.setattr(dse.objective, "hardware_front", spy)
    study = run_study(parse_study(raw, "tiny.yaml"), progress=False)
    assert grids and all(set(g) == {"pe"} for g in grids)
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        accel = trial_metrics(trial)["accelerator"]
        assert (accel["sampling"], accel["sample_lanes"], accel["k_bits"]) == ("memory", 1, 1)


@pytest.mark.parametrize("method", ["ste", "mode"])
def test_export_converts_a_deterministic_trial_with_mode_weights(
    method_study, method: str, tmp_path: Path
) -> None:
    """The export builds the network the search evaluated (its signs, not a posterior): its
    golden images score as the search's evaluation scores them."""
    from types import SimpleNamespace

    from dse.api import trial_export_inputs
    from hls.export import export_design
    from models.evaluation import evaluate

    cfg, study, _ = method_study
    trial = next(t for t in study.get_trials() if t.params.get("method") == method)
    model_dir, accel, kwargs = trial_export_inputs(cfg, study, trial.number, None)
    assert kwargs["weights"] == "mode" and accel.k_bits == 1
    result = export_design(model_dir, accel, tmp_path / "hls", n_images=20, **kwargs)
    splits = kwargs["splits"]
    _, eval_cfg, _, _ = trial_configuration(cfg, trial)
    first = SimpleNamespace(val=splits.val, test=(splits.test[0][:20], splits.test[1][:20]))
    scored = evaluate(load_model(model_dir), first, eval_cfg, split="test")
    assert result.design["golden"]["accuracy"] == pytest.approx(scored["accuracy"])
