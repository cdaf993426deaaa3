"""One trial: draw a design, train (or reuse) its model, score it, cost it, report it.

Only `levels`, `depth`, the per-layer widths and the fixed `training:` settings change the
trained weights; they form the training key, and trials that share it reuse one cached
model (`dse.cache`).  Everything else only changes evaluation (`models.evaluation`) or the
hardware estimate (`hwmodel.estimate`).  Every metric goes into the trial's user
attributes; constraints go in with `trial.set_constraint` (values <= 0 are feasible), so
infeasible trials stay in the study, marked.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from dse.cache import ModelCache, key_digest
from dse.errors import StudyInputError
from dse.intervals import standard_errors, within_front_interval
from dse.schema import StudyConfig
from dse.space import suggest_design
from hwmodel.estimate import estimate
from hwmodel.template import AcceleratorConfig
from models.datasets import DatasetSplits, load_dataset, load_ood
from models.evaluation import EvalConfig, evaluate_seeds, seed_repeats
from models.io import load_model, save_model
from models.training import TrainConfig, train_model

#: Bump when a change in this package makes old cached models unusable.
CACHE_FORMAT = 1
#: User attribute of a trial whose design could not be scored (what went wrong).
FAIL_REASON_ATTR = "fail_reason"


class TrialFailure(RuntimeError):
    """A trial that could not be scored (diverged training, bad design); the study goes on."""


@functools.lru_cache(maxsize=4)
def load_splits(dataset: Any) -> DatasetSplits:
    """The study's dataset splits, loaded once per process (`dataset`: a DatasetConfig)."""
    return load_dataset(
        dataset.name,
        root=dataset.root,
        seed=dataset.seed,
        val_fraction=dataset.val_fraction,
        max_train=dataset.max_train,
        max_test=dataset.max_test,
    )


def build_configs(
    cfg: StudyConfig, design: dict[str, Any], splits: DatasetSplits
) -> tuple[TrainConfig, EvalConfig, AcceleratorConfig]:
    """The training, evaluation and hardware settings of one design."""
    hidden = tuple(int(w) for w in design["width"])
    train_cfg = TrainConfig(widths=hidden, levels=design["levels"], **cfg.training)
    eval_cfg = EvalConfig(
        timesteps=design["timesteps"],
        samples=design["samples"],
        ensemble=design["ensemble"],
        evaluation=cfg.evaluation.mode,
        k_bits=design["k_bits"],
        membrane_bits=design["membrane_bits"],
        reuse=design["reuse"],
        input_bits=design["input_bits"],
        threshold_scales=tuple(design["threshold_scale"]),
        seed=cfg.evaluation.seed,
    )
    accel = AcceleratorConfig(
        widths=(splits.input_dim, *hidden, splits.num_classes),
        pe=design["pe"],
        synapses_per_cycle=design["synapses_per_cycle"],
        sample_lanes=design["sample_lanes"],
        k_bits=design["k_bits"],
        membrane_bits=design["membrane_bits"],
        reuse=design["reuse"],
        sampling=design["sampling"],
        clock_mhz=design["clock_mhz"],
        part=design["part"],
        ensemble=design["ensemble"],
        timesteps=design["timesteps"],
        samples=design["samples"],
        input_bits=design["input_bits"],
        seed=cfg.evaluation.seed,
    )
    return train_cfg, eval_cfg, accel


def training_key(cfg: StudyConfig, train_cfg: TrainConfig) -> dict[str, Any]:
    """Everything that changes the trained weights (the data location is not one of them)."""
    settings = train_cfg.to_dict()
    settings.pop("device")
    data = cfg.dataset
    dataset = {
        "name": data.name,
        "seed": data.seed,
        "val_fraction": data.val_fraction,
        "max_train": data.max_train,
    }
    return {"format": CACHE_FORMAT, "dataset": dataset, "train": settings}


def count_models(cfg: StudyConfig) -> int:
    """Distinct models the search space trains: levels x widths per hidden layer, per depth."""
    knobs = cfg.knobs
    widths = len(knobs["width"].grid_values())
    depths = knobs["depth"].grid_values()
    return len(knobs["levels"].grid_values()) * sum(widths ** int(d) for d in depths)


def model_cache(cfg: StudyConfig) -> ModelCache:
    """The study's trained-model cache (inside its output directory)."""
    return ModelCache(cfg.out_dir / "models")


def trial_configuration(
    cfg: StudyConfig, trial: optuna.trial.FrozenTrial
) -> tuple[TrainConfig, EvalConfig, AcceleratorConfig, Path]:
    """Rebuild a finished trial's settings and model directory (for `dse export`)."""
    splits = load_splits(cfg.dataset)
    try:
        design = suggest_design(trial, cfg.knobs)
    except (KeyError, ValueError):
        raise StudyInputError(
            f"--trial: trial {trial.number} does not match the study file's search space; "
            "use the study file the study was run with"
        ) from None
    train_cfg, eval_cfg, accel = build_configs(cfg, design, splits)
    recorded = trial.user_attrs.get("model_dir")  # the model the trial was scored with
    if recorded is not None:
        return train_cfg, eval_cfg, accel, Path(recorded)
    return train_cfg, eval_cfg, accel, model_cache(cfg).path_for(training_key(cfg, train_cfg))


def constraint_values(cfg: StudyConfig, metrics: dict[str, Any]) -> dict[str, float]:
    """Optuna constraints (<= 0 feasible): device utilisation, power cap, minimum accuracy,
    and `numerics` (1, violated) when the membrane width cannot hold the network."""
    rules = cfg.constraints
    values: dict[str, float] = {}
    if metrics.get("infeasible_reason"):
        values["numerics"] = 1.0
    if rules.fit_device:
        peak = max(float(v) for k, v in metrics.items() if k.startswith("util_"))
        values["utilisation"] = peak - rules.util_cap
    if rules.power_cap_w is not None:
        values["power_w"] = float(metrics["power_w"]) - rules.power_cap_w
    if rules.min_accuracy is not None:
        values["accuracy"] = rules.min_accuracy - float(metrics["accuracy"])
    return values


def _jsonable(value: Any) -> Any:
    """Plain JSON types for user attributes (numpy scalars and arrays, tuples)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _earlier_twin(trial: optuna.Trial) -> FrozenTrial | None:
    """A completed trial with identical parameters (samplers repeat designs, NSGA-II often)."""
    for other in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if other.params == trial.params and "model_key" in other.user_attrs:
            return other
    return None


def _copied(twin: FrozenTrial) -> dict[str, Any]:
    """A twin's metrics: training and scoring are deterministic, so they are this trial's."""
    metrics = dict(twin.user_attrs)
    metrics.update(cache_hit=True, train_seconds=0.0, eval_seconds=0.0, duplicate_of=twin.number)
    return metrics


class TrialObjective:
    """The callable handed to `study.optimize`: returns the objective values of one trial."""

    def __init__(
        self,
        cfg: StudyConfig,
        cache_size: int = 4,
        on_phase: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self._on_phase = on_phase  # told what the trial is doing, for the progress bar
        self._n_models = count_models(cfg)
        self.splits = load_splits(cfg.dataset)
        data = cfg.dataset
        self.ood = (
            load_ood(data.ood, self.splits, seed=data.seed, root=data.ood_root)
            if data.ood
            else None
        )
        self.cache = model_cache(cfg)
        self._models: dict[Path, Any] = {}
        self._cache_size = cache_size

    def _model(self, directory: Path) -> Any:
        """Load a cached model, keeping the last few in memory (most trials share one)."""
        if directory not in self._models:
            if len(self._models) >= self._cache_size:
                self._models.pop(next(iter(self._models)))
            self._models[directory] = load_model(directory)
        return self._models[directory]

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        design = suggest_design(trial, self.cfg.knobs)
        twin = _earlier_twin(trial)
        try:
            metrics = self._score(trial, design) if twin is None else _copied(twin)
            if twin is None and self._near_front(trial, metrics):
                metrics = {**self._score(trial, design, refine=True), "refined": True}
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr(FAIL_REASON_ATTR, reason)
            raise TrialFailure(reason) from exc
        for name, value in metrics.items():
            trial.set_user_attr(name, _jsonable(value))
        constraints = constraint_values(self.cfg, metrics)
        for name, value in constraints.items():
            trial.set_constraint(name, value)
        values = tuple(float(metrics[o.metric]) for o in self.cfg.objectives)
        bad = [o.metric for o, v in zip(self.cfg.objectives, values, strict=True) if math.isnan(v)]
        if bad:
            trial.set_user_attr(FAIL_REASON_ATTR, f"objective {bad[0]} is NaN")
            raise TrialFailure(f"objective {bad[0]} is NaN")
        return values

    def _phase(self, text: str) -> None:
        if self._on_phase is not None:
            self._on_phase(text)

    def _near_front(self, trial: optuna.Trial, metrics: dict[str, Any]) -> bool:
        """Whether `evaluation.refine_front` re-evaluates this design: feasible and on or
        within the 95 % interval of the front so far (`dse.intervals`)."""
        if self.cfg.evaluation.refine_front is None:
            return False
        if any(v > 0 for v in constraint_values(self.cfg, metrics).values()):
            return False
        names = [o.metric for o in self.cfg.objectives]
        values = [float(metrics[n]) for n in names]
        ses = standard_errors(metrics, names)
        study = trial.study
        return within_front_interval(values, ses, study.best_trials, names, study.directions)

    def _score(
        self, trial: optuna.Trial, design: dict[str, Any], refine: bool = False
    ) -> dict[str, Any]:
        """Train or reuse, evaluate, estimate; the returned dict becomes user attributes.

        Weight-sample seeds: `models.evaluation.seed_repeats` (more when S is small), or
        `evaluation.refine_front.seeds` with its test images when `refine`."""
        train_cfg, eval_cfg, accel = build_configs(self.cfg, design, self.splits)
        key = training_key(self.cfg, train_cfg)
        trial.set_user_attr("model_key", key_digest(key))
        trial.set_user_attr("model_dir", str(self.cache.path_for(key)))

        def train(directory: Path) -> None:
            save_model(train_model(train_cfg, self.splits, progress=False), directory)

        if self.cache.lookup(key) is None:
            self._phase(f"training model {self.cache.count() + 1}/{self._n_models}")
        start = time.perf_counter()
        model_dir, hit = self.cache.get_or_train(key, train)
        train_s = time.perf_counter() - start
        self._phase("evaluating")
        start = time.perf_counter()
        splits, seeds = self.splits, seed_repeats(eval_cfg.samples)
        if refine and (more := self.cfg.evaluation.refine_front) is not None:
            seeds = max(seeds, more.seeds)
            splits = load_splits(self.cfg.dataset.model_copy(update={"max_test": more.images}))
        scores = evaluate_seeds(self._model(model_dir), splits, eval_cfg, seeds, ood=self.ood)
        eval_s = time.perf_counter() - start
        self._phase("estimating")
        calibration = self.cfg.evaluation.calibration
        cost = estimate(
            accel,
            activity=scores["activity"],
            calibration=None if calibration is None else str(calibration),
            util_cap=self.cfg.constraints.util_cap,
        )
        return {  # the model's measured figures win over the estimate's expected ones
            **cost,
            **scores,
            "cache_hit": hit,
            "train_seconds": train_s,
            "eval_seconds": eval_s,
            "train_config": train_cfg.to_dict(),
            "accelerator": accel.as_dict(),
            "threshold_scales": list(eval_cfg.threshold_scales),
            "evaluation": self.cfg.evaluation.mode,
        }
