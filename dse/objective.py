"""One trial: draw a design, train (or reuse) its model, score it, cost it, report it.

Only `method`, `levels`, `depth`, the per-layer widths, the convolutional front `conv` and the
fixed `training:` settings change the trained weights; they form the training key, and trials
that share it reuse one cached model (`dse.cache`).  A study of a saved model (`model:`, e.g.
one `dse import` wrote) trains nothing: every trial evaluates that model, and only the
evaluation and hardware knobs vary.  A `mode` model is derived from the cached BayesBiNN model
of the same settings (its own cache entry), so BayesBiNN trains once for both.  Everything
else only changes evaluation (`models.evaluation`) or the hardware estimate
(`hwmodel.estimate`).  The metrics go into two JSON user attributes, `model` and `hardware`
(`dse.metrics`: two storage writes per trial, not one per metric; read them with
`dse.metrics.trial_metrics`); constraints go in with `trial.set_constraint` (values <= 0 are
feasible), so infeasible trials stay in the study, marked.  A hardware variant is one
`study.add_trial` of a finished trial with all its attributes (one transaction).
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
from dse.inner import HARDWARE_KNOBS, INNER_ATTR, hardware_front, hardware_grid
from dse.intervals import standard_errors, within_front_interval
from dse.metrics import grouped, has_model_metrics, model_metrics, trial_metrics
from dse.schema import StudyConfig
from dse.selection import RunningFront
from dse.space import DETERMINISTIC_METHODS, suggest_design
from dse.watch import FinishedTrials, at_start, shared_read
from hwmodel.architecture import flat_size, parse_blocks
from hwmodel.estimate import estimate
from hwmodel.template import AcceleratorConfig
from models.baselines import mode_network
from models.datasets import NPZ, DatasetSplits, load_dataset, load_ood, npz_digest
from models.evaluation import EvalConfig, evaluate_seeds, seed_repeats
from models.io import load_model, save_model
from models.training import TrainConfig, train_model

#: Samplers that breed generations: a hardware variant joins its evaluated trial's.
GA_SAMPLERS = (optuna.samplers.NSGAIISampler, optuna.samplers.NSGAIIISampler)
#: Bump when a change in this package makes old cached models unusable.
CACHE_FORMAT = 1
#: User attribute of a trial whose design could not be scored (what went wrong).
FAIL_REASON_ATTR = "fail_reason"


class TrialFailure(RuntimeError):
    """A trial that could not be scored (diverged training, bad design); the study goes on."""


#: How a missing dataset's error names its folder to a study's user: the study file's key,
#: not the `--data-root` flag, which `dse run` does not take.
ROOT_HINT = "set dataset.root in the study file to the folder"
OOD_ROOT_HINT = "set dataset.ood_root in the study file to the folder"
NPZ_HINT = "fix dataset.path in the study file"


def load_splits(dataset: Any) -> DatasetSplits:
    """The study's dataset splits, loaded once per process (`dataset`: a DatasetConfig) and
    per version of an npz file (a file changed on disk is read again)."""
    version = npz_digest(dataset.path, NPZ_HINT) if dataset.name == NPZ else None
    return _load_splits(dataset, version)


@functools.lru_cache(maxsize=4)
def _load_splits(dataset: Any, version: str | None) -> DatasetSplits:
    return load_dataset(
        dataset.name,
        root=dataset.source,
        seed=dataset.seed,
        val_fraction=dataset.val_fraction,
        max_train=dataset.max_train,
        max_test=dataset.max_test,
        selection_fraction=dataset.selection_share,
        max_selection=dataset.max_selection,
        root_hint=NPZ_HINT if dataset.name == NPZ else ROOT_HINT,
    )


load_splits.cache_clear = _load_splits.cache_clear  # type: ignore[attr-defined]


def load_study_ood(dataset: Any, splits: DatasetSplits, split: str) -> Any:
    """The study's OOD inputs against `split` (None without `dataset.ood`)."""
    if not dataset.ood:
        return None
    return load_ood(
        dataset.ood,
        splits,
        seed=dataset.seed,
        root=dataset.ood_root,
        split=split,
        root_hint=OOD_ROOT_HINT,
    )


def build_configs(
    cfg: StudyConfig, design: dict[str, Any], splits: DatasetSplits
) -> tuple[TrainConfig, EvalConfig, AcceleratorConfig]:
    """The training, evaluation and hardware settings of one design (the hidden widths of a
    saved model's, in a study of one)."""
    saved = cfg.saved_model
    hidden = tuple(saved.widths[1:-1] if saved is not None else map(int, design["width"]))
    method = "ste" if design["method"] == "ste" else "bayesbinn"  # mode: of a BayesBiNN model
    conv = design["conv"]
    train_cfg = TrainConfig(
        widths=hidden, conv=conv, levels=design["levels"], method=method, **cfg.training
    )
    eval_cfg = EvalConfig(
        timesteps=design["timesteps"],
        samples=design["samples"],
        ensemble=design["ensemble"],
        evaluation=cfg.evaluation.mode,
        weights="mode" if design["method"] in DETERMINISTIC_METHODS else "sample",
        k_bits=design["k_bits"],
        membrane_bits=design["membrane_bits"],
        reuse=design["reuse"],
        input_bits=design["input_bits"],
        threshold_scales=tuple(design["threshold_scale"]),
        seed=cfg.evaluation.seed,
    )
    # A convolutional front is planned and priced over the images; its dense head takes the
    # last block's pooled outputs.  A dense design has no image shape, as before `conv`.
    shape = splits.image_shape
    accel = AcceleratorConfig(
        widths=(flat_size(shape, parse_blocks(conv)), *hidden, splits.num_classes),
        input_shape=shape if conv else None,
        conv=conv,
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


def training_key(cfg: StudyConfig, train_cfg: TrainConfig, mode: bool = False) -> dict[str, Any]:
    """Everything that changes the trained weights (the data location is not one of them;
    an npz file's content is, by its SHA-256, so a changed file trains again).

    `mode`: the key of the posterior-mode network derived from this BayesBiNN model.  A
    BayesBiNN key has no `method` entry, as before the knob existed, so the caches of existing
    studies stay valid.
    """
    if cfg.saved_model is not None:  # nothing is trained: the key names the saved model
        saved = cfg.saved_model
        return {"format": CACHE_FORMAT, "saved_model": str(saved.path), "digest": saved.digest}
    settings = train_cfg.to_dict()
    settings.pop("device")
    if settings["method"] == "bayesbinn":
        del settings["method"]
    data = cfg.dataset
    dataset = {
        "name": data.name,
        "seed": data.seed,
        "val_fraction": data.val_fraction,
        "selection_fraction": data.selection_share,
        "max_train": data.max_train,
    }
    if data.name == NPZ:  # only here: the keys of the named datasets stay as they were
        dataset["sha256"] = npz_digest(data.path, NPZ_HINT)
    key = {"format": CACHE_FORMAT, "dataset": dataset, "train": settings}
    return {**key, "derived": "mode"} if mode else key


def count_models(cfg: StudyConfig) -> int:
    """Distinct models the search space caches: levels x widths per hidden layer, per depth,
    per convolutional front, per method; `mode` adds its BayesBiNN model when `bayesbinn` is
    not searched (a mode model itself is derived, not trained)."""
    knobs = cfg.knobs
    methods = set(knobs["method"].grid_values())
    if "mode" in methods:
        methods.add("bayesbinn")
    widths = len(knobs["width"].grid_values())
    depths = knobs["depth"].grid_values()
    settings = len(knobs["levels"].grid_values()) * sum(widths ** int(d) for d in depths)
    return len(methods) * len(knobs["conv"].grid_values()) * settings


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
    recorded = trial_metrics(trial).get("model_dir")  # the model the trial was scored with
    if recorded is not None:
        return train_cfg, eval_cfg, accel, Path(recorded)
    if cfg.model is not None:
        return train_cfg, eval_cfg, accel, Path(cfg.model)
    key = training_key(cfg, train_cfg, mode=design["method"] == "mode")
    return train_cfg, eval_cfg, accel, model_cache(cfg).path_for(key)


def constraint_values(cfg: StudyConfig, metrics: dict[str, Any]) -> dict[str, Any]:
    """Optuna constraints (<= 0 feasible): device utilisation, power cap, minimum accuracy,
    `numerics` (1, violated) when the membrane width cannot hold the network, and `timing`
    (MHz over the clock the design is predicted to reach, `hwmodel.fmax`).

    Metrics may be numbers (one trial) or numpy arrays (a priced table of hardware designs).
    """
    rules = cfg.constraints
    values: dict[str, Any] = {}
    if metrics.get("infeasible_reason"):
        values["numerics"] = 1.0
    if "fmax_mhz" in metrics:  # priced only at a clock the design reaches (hwmodel.fmax)
        clock = np.asarray(metrics["clock_mhz"], dtype=float)
        values["timing"] = clock - np.asarray(metrics["fmax_mhz"], dtype=float)
    if rules.fit_device:
        utils = [np.asarray(v, dtype=float) for k, v in metrics.items() if k.startswith("util_")]
        values["utilisation"] = np.max(np.stack(utils), axis=0) - rules.util_cap
    if rules.power_cap_w is not None:
        values["power_w"] = np.asarray(metrics["power_w"], dtype=float) - rules.power_cap_w
    if rules.min_accuracy is not None:
        values["accuracy"] = rules.min_accuracy - np.asarray(metrics["accuracy"], dtype=float)
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


def _model_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that decide training and evaluation (all but the hardware-only knobs)."""
    return {k: v for k, v in params.items() if k not in HARDWARE_KNOBS}


def _model_key(params: dict[str, Any]) -> tuple:
    return tuple(sorted(_model_params(params).items()))


class _StudyView:
    """What a trial needs to know of the finished trials, read incrementally: the earliest
    completed trial of each model configuration (a *twin* source) and the running feasible
    front.  Each finished trial is read once (`FinishedTrials`), so a trial costs the same at
    30 stored trials and at 3,000."""

    def __init__(self) -> None:
        self._study: optuna.Study | None = None

    def _start(self, study: optuna.Study) -> None:
        self._study = study
        self._finished = FinishedTrials()
        self.front = RunningFront(study.directions)
        self._evaluated: dict[tuple, FrozenTrial] = {}
        self.trials: list[FrozenTrial] = []

    def update(self, study: optuna.Study, moment: tuple[str, int] | None = None) -> None:
        """Take in the trials that finished since the last update, as read at `moment`
        (`dse.watch.shared_read`; now if None)."""
        if study is not self._study:
            self._start(study)
        self.trials = shared_read(study, moment)
        for trial in self._finished.new(self.trials):
            self.front.add(trial)
            if trial.state == TrialState.COMPLETE and has_model_metrics(trial):
                key = _model_key(trial.params)
                known = self._evaluated.get(key)
                if known is None or trial.number < known.number:
                    self._evaluated[key] = trial

    def earlier_twin(self, trial: optuna.Trial) -> FrozenTrial | None:
        """A completed trial whose model configuration is this one's (samplers repeat designs,
        NSGA-II often): its model need not be trained, evaluated or explored again."""
        return self._evaluated.get(_model_key(trial.params))

    def frozen(self, trial: optuna.Trial) -> FrozenTrial:
        """The stored state of the running trial as of the last `update` (its system
        attributes: a GA sampler's generation)."""
        number = trial.number
        if number < len(self.trials) and self.trials[number].number == number:
            return self.trials[number]  # numbers run 0, 1, 2, ... in storage order
        return next(t for t in self.trials if t.number == number)


def _copied(twin: FrozenTrial) -> dict[str, Any]:
    """A twin's model metrics: training and scoring are deterministic, so they are this
    trial's; only the hardware estimate is redone (this trial may pick other hardware)."""
    metrics = model_metrics(twin)
    attrs = trial_metrics(twin)
    first = attrs.get(INNER_ATTR, attrs.get("duplicate_of", twin.number))
    metrics.update(cache_hit=True, train_seconds=0.0, eval_seconds=0.0, duplicate_of=first)
    return metrics


def _record(target: Any, metrics: dict[str, Any], model_keys: Any) -> None:
    """Set `metrics` as the two grouped user attributes of a running trial (`dse.metrics`):
    two storage writes, whatever the number of metrics."""
    for name, value in grouped(_jsonable(metrics), model_keys).items():
        target.set_user_attr(name, value)


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
        self.ood = load_study_ood(cfg.dataset, self.splits, "selection")
        self.cache = model_cache(cfg)
        self._models: dict[Path, Any] = {}
        self._cache_size = cache_size
        search = cfg.hardware_search
        self._grid = hardware_grid(cfg.knobs, search.clock_step_mhz) if search.exact else None
        self._calibration = str(cfg.evaluation.calibration)
        self._view = _StudyView()

    def _model(self, directory: Path) -> Any:
        """Load a cached model, keeping the last few in memory (most trials share one)."""
        if directory not in self._models:
            if len(self._models) >= self._cache_size:
                self._models.pop(next(iter(self._models)))
            self._models[directory] = load_model(directory)
        return self._models[directory]

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        design = suggest_design(trial, self.cfg.knobs)
        self._view.update(trial.study, at_start(trial.number))  # the read the budget made
        twin = self._view.earlier_twin(trial)
        try:
            if twin is None:
                model = self._evaluate(design)
                if self._near_front(trial, self._priced(design, model)):
                    model = self._evaluate(design, refine=True)
            else:
                model = _copied(twin)
            self._phase("estimating")
            metrics = self._priced(design, model)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr(FAIL_REASON_ATTR, reason)
            raise TrialFailure(reason) from exc
        _record(trial, metrics, model)
        for name, value in constraint_values(self.cfg, metrics).items():
            trial.set_constraint(name, float(value))
        values = self._values(metrics)
        bad = [o.metric for o, v in zip(self.cfg.objectives, values, strict=True) if math.isnan(v)]
        if bad:
            trial.set_user_attr(FAIL_REASON_ATTR, f"objective {bad[0]} is NaN")
            raise TrialFailure(f"objective {bad[0]} is NaN")
        if twin is None and self._grid:
            self._record_hardware_front(trial, design, model)
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
        self._view.update(study)  # trials other workers finished while this one evaluated
        front = self._view.front.best_trials  # `study.best_trials`, without copying the study
        return within_front_interval(values, ses, front, names, study.directions)

    def _values(self, metrics: dict[str, Any]) -> tuple[float, ...]:
        return tuple(float(metrics[o.metric]) for o in self.cfg.objectives)

    def _evaluate(self, design: dict[str, Any], refine: bool = False) -> dict[str, Any]:
        """Train or reuse, then evaluate: the model's metrics (no hardware knob changes them).

        Weight-sample seeds: `models.evaluation.seed_repeats` (more when S is small), or
        `evaluation.refine_front.seeds` with its selection images when `refine`.  Every
        figure is measured on the selection split; the test split is `dse.holdout`'s."""
        train_cfg, eval_cfg, _ = build_configs(self.cfg, design, self.splits)
        mode = design["method"] == "mode"
        key = training_key(self.cfg, train_cfg, mode=mode)

        label = ""  # what the progress bar says while this trial trains

        def epoch_done(done: int, total: int) -> None:
            self._phase(f"{label}, epoch {done}/{total}")

        def train(directory: Path) -> None:
            model = train_model(train_cfg, self.splits, progress=False, on_epoch=epoch_done)
            save_model(model, directory)

        def derive_mode(directory: Path) -> None:
            """The posterior mode of the BayesBiNN model, trained first if not cached."""
            base, _ = self.cache.get_or_train(training_key(self.cfg, train_cfg), train)
            save_model(mode_network(self._model(base), self.splits), directory)

        start = time.perf_counter()
        if self.cfg.model is not None:  # a saved model: nothing to train
            model_dir, hit = Path(self.cfg.model), True
        else:
            if self.cache.lookup(key) is None:
                verb = "deriving (posterior mode)" if mode else "training"
                label = f"{verb} model {self.cache.count() + 1}/{self._n_models}"
                self._phase(label if mode else f"{label}, epoch 0/{train_cfg.epochs}")
            model_dir, hit = self.cache.get_or_train(key, derive_mode if mode else train)
        train_s = time.perf_counter() - start
        self._phase("evaluating")
        start = time.perf_counter()
        splits, seeds = self.splits, seed_repeats(eval_cfg.samples)
        if refine and (more := self.cfg.evaluation.refine_front) is not None:
            seeds = max(seeds, more.seeds)
            wider = self.cfg.dataset.model_copy(update={"max_selection": more.images})
            splits = load_splits(wider)
        scores = evaluate_seeds(
            self._model(model_dir), splits, eval_cfg, seeds, ood=self.ood, split="selection"
        )
        eval_s = time.perf_counter() - start
        model = {
            **scores,
            "model_key": key_digest(key),
            "model_dir": str(model_dir),
            "cache_hit": hit,
            "train_seconds": train_s,
            "eval_seconds": eval_s,
            "method": design["method"],
            **({"conv": train_cfg.conv} if train_cfg.conv else {}),  # dense: as before conv
            # a saved model was not trained with these settings: no training settings to show
            "train_config": None if self.cfg.model is not None else train_cfg.to_dict(),
            "threshold_scales": list(eval_cfg.threshold_scales),
            "evaluation": self.cfg.evaluation.mode,
            "refined": refine,
        }
        return model

    def _priced(self, design: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
        """The model's metrics with the hardware estimate of `design` (measured figures win)."""
        _, _, accel = build_configs(self.cfg, design, self.splits)
        cost = estimate(
            accel,
            activity=model["activity"],
            calibration=self._calibration,
            util_cap=self.cfg.constraints.util_cap,
        )
        del cost["duty"]  # the activity fit's input (design.json keeps it), not a trial figure
        return {**cost, **model, "accelerator": accel.as_dict()}

    def _feasible(self, accuracy: float) -> Any:
        """Which rows of a priced hardware table satisfy the study's constraints."""

        def check(priced: Any) -> np.ndarray:
            metrics = {**{c: priced[c].to_numpy() for c in priced.columns}, "accuracy": accuracy}
            values = constraint_values(self.cfg, metrics).values()
            return np.all([np.broadcast_to(v, len(priced)) <= 0 for v in values], axis=0)

        return check

    def _record_hardware_front(
        self, trial: optuna.Trial, design: dict[str, Any], model: dict[str, Any]
    ) -> None:
        """Add the feasible non-dominated hardware designs of this model as trials (none when
        the membrane width cannot hold the model: every design of it is infeasible)."""
        if model.get("infeasible_reason"):
            return
        _, _, accel = build_configs(self.cfg, design, self.splits)
        objectives = [(o.metric, o.direction) for o in self.cfg.objectives]
        # Only the knobs this trial drew vary (a `time` design has no sample_lanes: one lane).
        grid = {k: v for k, v in self._grid.items() if k in trial.params}
        own = {name: design[name] for name in grid}
        front = hardware_front(
            accel.as_dict(),
            model["activity"],
            grid,
            objectives,
            self._feasible(float(model["accuracy"])),
            self.cfg.hardware_search.max_designs,
            calibration=self._calibration,
            util_cap=self.cfg.constraints.util_cap,
            own=own,
        )
        variants = [v for v in map(_jsonable, front) if v != own]
        if not variants:
            return
        generation: dict[str, Any] = {}
        if isinstance(trial.study.sampler, GA_SAMPLERS):  # it sets the generation as it draws
            self._view.update(trial.study)
            attrs = self._view.frozen(trial).system_attrs
            generation = {k: v for k, v in attrs.items() if k.endswith(":generation")}
        for variant in variants:
            metrics = self._priced({**design, **variant}, model)
            constraints = constraint_values(self.cfg, metrics)
            attrs = grouped(_jsonable(metrics), model)
            attrs[INNER_ATTR] = trial.number
            # One finished trial with every attribute: one transaction, three attribute rows.
            trial.study.add_trial(
                optuna.trial.create_trial(
                    values=self._values(metrics),
                    params={**trial.params, **variant},
                    distributions=trial.distributions,
                    user_attrs=attrs,
                    system_attrs=dict(generation),  # GA samplers (NSGA-II): same generation
                    constraints={k: float(v) for k, v in constraints.items()},
                )
            )
