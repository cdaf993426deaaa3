"""Exact inner optimisation over hardware: the recorded variants against a brute force."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from optuna.trial import TrialState

from dse.errors import StudyInputError
from dse.inner import COST_FIGURES, INNER_ATTR, hardware_front, knob_grid
from dse.metrics import trial_metrics
from dse.objective import build_configs, load_splits, trial_configuration
from dse.runner import run_study
from dse.schema import StudyConfig, parse_study
from dse.selection import front_trials
from dse.space import Knob
from hwmodel.estimate import estimate
from hwmodel.profiles import DEFAULT_PROFILE
from hwmodel.template import AcceleratorConfig

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"
PES = [2, 4, 8, 16]
SYNAPSES = [1, 2]
LANES = [1, 2]
CLOCKS = [100.0, 125.0, 150.0]  # a stepless range 100..150 gridded at 25 MHz
PARTS = ["xc7z010clg400-1", "xc7z020clg400-1"]
SAMPLING = ["memory", "regenerate"]
UTIL_CAP = 0.3
OBJECTIVES = [("accuracy", "maximize"), ("latency_us", "minimize"), ("lut", "minimize")]


def study_config(out_dir: Path, **overrides) -> StudyConfig:
    raw = yaml.safe_load(TINY.read_text())
    raw["search"].update(
        pe=PES,
        synapses_per_cycle=SYNAPSES,
        sample_lanes=LANES,
        clock_mhz={"low": 100, "high": 150},
        part=PARTS,
        sampling=SAMPLING,
    )
    raw.update(
        name="inner",
        output_dir=str(out_dir),
        objectives=[{"metric": m, "direction": d} for m, d in OBJECTIVES],
        constraints={"fit_device": True, "util_cap": UTIL_CAP},
        hardware_search={"exact": True, "max_designs": 1000, "clock_step_mhz": 25},
        n_trials=2,
    )
    raw.update(overrides)
    return parse_study(raw, "tiny.yaml")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> optuna.Study:
    return run_study(study_config(tmp_path_factory.mktemp("inner")), progress=False)


def brute_force_front(evaluated: optuna.trial.FrozenTrial) -> dict[tuple, tuple]:
    """{hardware tuple: objective values} of the feasible (fitting, at a clock they reach)
    non-dominated designs, each priced alone by `estimate` and compared pairwise; of designs
    priced alike (twins) only the evaluated one, else the one with fewest PEs, then
    synapses, then lanes."""
    attrs = trial_metrics(evaluated)["accelerator"]
    base = AcceleratorConfig(**{**attrs, "widths": tuple(attrs["widths"])})
    accuracy = trial_metrics(evaluated)["accuracy"]
    feasible: dict[tuple, tuple] = {}
    priced_alike: dict[tuple, tuple] = {}  # (objectives, cost figures) -> canonical design
    own = hardware_of(evaluated)
    lane_choices = LANES if base.ensemble == "repeat" else (1,)  # `time` builds one lane
    for pe, spc, lanes, clock, part, sampling in itertools.product(
        PES, SYNAPSES, lane_choices, CLOCKS, PARTS, SAMPLING
    ):
        config = replace(
            base,
            pe=pe,
            synapses_per_cycle=spc,
            sample_lanes=lanes,
            clock_mhz=clock,
            part=part,
            sampling=sampling,
        )
        cost = estimate(
            config,
            activity=trial_metrics(evaluated)["activity"],
            calibration=DEFAULT_PROFILE,  # what the study prices with, naming none
            util_cap=UTIL_CAP,
        )
        peak = max(v for k, v in cost.items() if k.startswith("util_"))
        if peak <= UTIL_CAP and cost["meets_clock"]:  # fits, at a clock it reaches
            key = (pe, spc, lanes, clock, part, sampling)
            point = (-accuracy, cost["latency_us"], cost["lut"])
            twin = priced_alike.setdefault((point, *(cost[f] for f in COST_FIGURES)), key)
            if twin == key or key == own:  # the loop visits fewest PEs, synapses, lanes first
                feasible.pop(twin, None)
                feasible[key] = point
    assert 0 < len(feasible) < 96 * len(lane_choices)  # the constraint must matter

    def dominates(a: tuple, b: tuple) -> bool:
        pairs = list(zip(a, b, strict=True))
        return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)

    return {
        key: point
        for key, point in feasible.items()
        if not any(dominates(other, point) for other in feasible.values())
    }


def hardware_of(trial: optuna.trial.FrozenTrial) -> tuple:
    p = trial.params
    return (
        p["pe"],
        p["synapses_per_cycle"],
        p.get("sample_lanes", 1),  # not drawn for the `time` ensemble
        p["clock_mhz"],
        p["part"],
        p["sampling"],
    )


def test_recorded_variants_are_the_brute_force_front(study: optuna.Study) -> None:
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    evaluated = [t for t in trials if INNER_ATTR not in trial_metrics(t)]
    assert len(evaluated) == 2  # n_trials counts sampled trials, not the variants
    assert not any("duplicate_of" in trial_metrics(t) for t in evaluated)
    for trial in evaluated:
        front = brute_force_front(trial)
        variants = [t for t in trials if trial_metrics(t).get(INNER_ATTR) == trial.number]
        recorded = {hardware_of(t) for t in variants}
        assert len(recorded) == len(variants)  # no design recorded twice
        own = hardware_of(trial)
        assert own not in recorded  # the evaluated design is a trial already
        assert recorded | ({own} & set(front)) == set(front)
        for variant in variants:
            expected = front[hardware_of(variant)]
            assert variant.values[1:] == pytest.approx(list(expected[1:]))
            assert variant.values[0] == trial.values[0]
            assert variant.constraints["utilisation"] <= 0
            assert variant.constraints["timing"] <= 0
            assert set(trial_metrics(variant)) == set(trial_metrics(trial)) | {INNER_ATTR}
            assert trial_metrics(variant)["model_key"] == trial_metrics(trial)["model_key"]


def test_a_variant_is_a_trial_like_any_other(study: optuna.Study, tmp_path: Path) -> None:
    variant = next(t for t in study.trials if INNER_ATTR in trial_metrics(t))
    cfg = study_config(Path(trial_metrics(variant)["model_dir"]).parents[1])
    _, _, accel, model_dir = trial_configuration(cfg, variant)
    assert accel.as_dict() == trial_metrics(variant)["accelerator"]
    assert accel.pe == variant.params["pe"] and accel.part == variant.params["part"]
    assert str(model_dir) == trial_metrics(variant)["model_dir"]
    for name, dist in variant.distributions.items():
        assert dist._contains(dist.to_internal_repr(variant.params[name]))


def test_the_bound_keeps_a_spread_subset_and_samplers_keep_working(tmp_path: Path) -> None:
    bound = 3
    cfg = study_config(
        tmp_path,
        name="bounded",
        hardware_search={"exact": True, "max_designs": bound, "clock_step_mhz": 25},
        sampler={"name": "nsga2", "seed": 1, "population_size": 2},
        n_trials=3,
    )
    study = run_study(cfg, progress=False)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    sampled = [t for t in trials if INNER_ATTR not in trial_metrics(t)]
    assert len(sampled) == 3  # n_trials counts the sampler's trials, not the variants
    for trial in (t for t in sampled if "duplicate_of" not in trial_metrics(t)):
        front = brute_force_front(trial)
        variants = {hardware_of(t) for t in trials if t.user_attrs.get(INNER_ATTR) == trial.number}
        assert 0 < len(variants) <= bound and variants <= set(front)
        if len(front) > bound:  # the extremes of latency and LUT are kept
            by_latency = min(front, key=lambda k: front[k][1])
            assert by_latency in variants | {hardware_of(trial)}
    generation_key = "NSGAIISampler:generation"
    assert all(generation_key in t.system_attrs for t in trials)


def test_hardware_knobs_change_neither_training_nor_evaluation(tmp_path: Path) -> None:
    cfg = study_config(tmp_path)
    splits = load_splits(cfg.dataset)
    design = {
        **{name: knob_grid(knob, 25.0)[0] for name, knob in cfg.knobs.items()},
        "width": [16],
        "threshold_scale": [1.0],
    }
    train_a, eval_a, accel_a = build_configs(cfg, design, splits)
    other = dict(design, pe=16, synapses_per_cycle=2, sample_lanes=2, clock_mhz=150.0)
    other.update(part=PARTS[1], sampling="regenerate")
    train_b, eval_b, accel_b = build_configs(cfg, other, splits)
    assert train_a == train_b and eval_a == eval_b and accel_a != accel_b


def test_a_stepless_clock_is_gridded_with_both_ends() -> None:
    knob = Knob("clock_mhz", "float", low=100.0, high=142.0)
    assert knob_grid(knob, 10.0) == [100.0, 110.0, 120.0, 130.0, 140.0, 142.0]
    stepped = Knob("clock_mhz", "float", low=100.0, high=200.0, step=50.0)
    assert knob_grid(stepped, 10.0) == [100.0, 150.0, 200.0]


def test_a_hardware_grid_too_large_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(StudyInputError, match="hardware_search.*clock step"):
        study_config(
            tmp_path,
            hardware_search={"exact": True, "clock_step_mhz": 0.0001},
        )


def test_designs_priced_alike_are_one_design() -> None:
    """16 PEs x 1 synapse and 8 x 2 (and 4 x 4) build one multiply-accumulate width: one
    price, so only the canonical design (fewest PEs) or the evaluated one is kept."""
    accel = AcceleratorConfig(widths=(64, 128, 10), timesteps=4, samples=2).as_dict()
    grid = {"pe": [4, 8, 16], "synapses_per_cycle": [1, 2, 4]}
    objectives = [("accuracy", "maximize"), ("lut", "minimize"), ("latency_us", "minimize")]

    def front(own: dict | None = None) -> list[tuple[int, int]]:
        designs = hardware_front(
            accel, [10.0, 20.0], grid, objectives, lambda t: np.ones(len(t), bool), 100, own=own
        )
        return sorted((d["pe"], d["synapses_per_cycle"]) for d in designs)

    def price(pe: int, synapses: int) -> tuple:
        cost = estimate(replace(AcceleratorConfig(**accel), pe=pe, synapses_per_cycle=synapses))
        return tuple(cost[f] for f in COST_FIGURES)

    assert price(16, 1) == price(8, 2) == price(4, 4) != price(4, 2)  # the premise
    assert front() == [(4, 1), (4, 2), (4, 4), (8, 4), (16, 4)]
    assert front({"pe": 16, "synapses_per_cycle": 1}) == [(4, 1), (4, 2), (8, 4), (16, 1), (16, 4)]


def test_a_quickstart_like_front_shows_no_design_twice(tmp_path: Path) -> None:
    """The quickstart's hardware knobs on one model (accuracy, latency and LUTs, so that its
    hardware front is wide): every trial after the first re-draws hardware for the same model
    (`duplicate_of`), often a twin of a recorded variant."""
    cfg = study_config(
        tmp_path,
        name="twins",
        search={
            **yaml.safe_load(TINY.read_text())["search"],
            **{"width": [8], "timesteps": 2, "samples": 1, "ensemble": "repeat"},
            **{"pe": [4, 8, 16, 32, 64], "synapses_per_cycle": [1, 2], "sample_lanes": [1, 2]},
            **{"clock_mhz": 100, "part": PARTS[1]},
        },
        constraints={"fit_device": True, "util_cap": 0.8},
        n_trials=8,
    )
    study = run_study(cfg, progress=False)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    evaluated = [t for t in trials if not {INNER_ATTR, "duplicate_of"} & set(trial_metrics(t))]
    assert len(evaluated) == 1 and len(trials) > 8  # variants recorded, the rest duplicates

    def priced(trial: optuna.trial.FrozenTrial) -> tuple:
        return (*trial.values, *(trial_metrics(trial)[f] for f in COST_FIGURES))

    recorded = [t for t in trials if "duplicate_of" not in trial_metrics(t)]
    assert len({priced(t) for t in recorded}) == len(recorded)  # no variant twins its source
    front = front_trials(study)
    assert len({priced(t) for t in front}) == len(front)
    assert len(study.best_trials) > len(front)  # duplicates did land on twins: collapsed

    def parallelism(trial: optuna.trial.FrozenTrial) -> tuple[int, int, int]:
        accel = trial_metrics(trial)["accelerator"]
        return accel["pe"], accel["synapses_per_cycle"], accel["sample_lanes"]

    for trial in front:  # each kept design is the canonical one of its twins
        alike = [t for t in study.best_trials if priced(t) == priced(trial)]
        assert parallelism(trial) == min(map(parallelism, alike))
