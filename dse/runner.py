"""Create or resume the Optuna study of a study file and run trials in this process.

`n_trials` is the study's total: trials that finished (complete or pruned) in any process on
the same storage count, so re-running an interrupted study only tops it up.  Failed trials
(a diverging training, a killed worker) do not count; the storage's heartbeat retries a
killed worker's trial, and a run aborts (StudyFailing) once as many trials failed as the study
wants in total, so a study in which everything fails cannot run for ever.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from dse.errors import StudyInputError
from dse.holdout import score_front
from dse.objective import (
    FAIL_REASON_ATTR,
    TrialFailure,
    TrialObjective,
    count_models,
    model_cache,
)
from dse.parallel import optimize_to_total
from dse.progress import StudyProgress, count_done
from dse.sampling import VARIANTS_IN_HISTORY, TrialHistory
from dse.schema import StudyConfig
from dse.space import grid_search_space
from dse.storage import creation_lock, open_storage, redact_url
from dse.watch import FinishedTrials, at_end, shared_read

#: Study attribute holding the objective metric names, so reports need only the storage.
OBJECTIVES_ATTR = "dse_objectives"


def build_sampler(cfg: StudyConfig, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The study's sampler, always named explicitly (Optuna 5's multi-objective default is TPE).

    `worker` offsets the seed so that parallel workers on one storage draw different trials.
    TPE and GP read the study's trials once per trial, not once per parameter, and learn from
    the hardware variants or not as `sampler.variants_in_history` says, by default as
    measured for each (`dse.sampling.VARIANTS_IN_HISTORY`; `TrialHistory`).
    """
    seed = cfg.sampler.seed + worker
    name = cfg.sampler_name
    variants = cfg.sampler.variants_in_history
    if variants is None:
        variants = VARIANTS_IN_HISTORY.get(name, True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=cfg.sampler.population_size, seed=seed)
    if name == "tpe":
        return TrialHistory(
            optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.sampler.n_startup_trials),
            variants,
        )
    if name == "gp":
        return TrialHistory(
            # The knobs a method draws conditionally (the sampling knobs of a Bayesian method)
            # are drawn at random, by design: GP models the knobs every trial has.
            optuna.samplers.GPSampler(
                seed=seed,
                n_startup_trials=cfg.sampler.n_startup_trials,
                warn_independent_sampling=False,
            ),
            variants,
        )
    if name == "grid":
        return optuna.samplers.GridSampler(grid_search_space(cfg.knobs), seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def open_study(
    cfg: StudyConfig, storage_url: str | None = None, worker: int = 0, create: bool = True
) -> optuna.Study:
    """Load the study named in `cfg` from its storage (creating it when `create`)."""
    url = storage_url or cfg.storage_url()
    missing = url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()
    if missing and not create:
        raise StudyInputError(
            f"study {cfg.name!r} is not in {redact_url(url)} (no such file); run `dse run` first"
        )
    directions = [o.direction for o in cfg.objectives]
    metrics = [o.metric for o in cfg.objectives]
    sampler = build_sampler(cfg, worker)
    if not create:
        try:
            storage = open_storage(url)
            return optuna.load_study(study_name=cfg.name, storage=storage, sampler=sampler)
        except KeyError:
            raise StudyInputError(
                f"study {cfg.name!r} is not in {redact_url(url)}; run `dse run` first"
            ) from None
    with creation_lock(url):  # workers started together must not race to create the study
        study = optuna.create_study(
            study_name=cfg.name,
            storage=open_storage(url),
            sampler=sampler,
            directions=directions,
            load_if_exists=True,
        )
        stored = study.user_attrs.get(OBJECTIVES_ATTR)
        if stored is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                study.set_metric_names(metrics)
            study.set_user_attr(OBJECTIVES_ATTR, metrics)
            stored = metrics
    wanted = [d.upper() for d in directions]
    if stored != metrics or [d.name for d in study.directions] != wanted:
        raise StudyInputError(
            f"objectives: {metrics} differ from the stored study's {stored} in "
            f"{redact_url(url)}; rename the study or use another storage"
        )
    return study


def count_failed(study: optuna.Study) -> int:
    """Trials whose design could not be scored (they carry a ``fail_reason``).

    Trials failed by an interruption (Ctrl-C, a signal), by a dead worker's stale heartbeat
    or turned away by the trial budget say nothing about the study and are not counted.
    """
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return sum(1 for t in failed if FAIL_REASON_ATTR in t.user_attrs)


class StudyFailing(RuntimeError):
    """As many trials failed as the study should finish: a broken run, not bad luck."""


class _StopWhenFailing:
    """Abort the run once as many trials failed as the study should finish in total."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._finished = FinishedTrials()  # each finished trial looked at once
        self._failed = 0

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        new = self._finished.new(shared_read(study, at_end(trial.number)))
        self._failed += sum(
            t.state == TrialState.FAIL and FAIL_REASON_ATTR in t.user_attrs for t in new
        )
        failed = self._failed
        if failed >= self._limit:
            reason = trial.user_attrs.get(FAIL_REASON_ATTR, "see the trials' fail_reason")
            raise StudyFailing(f"{failed} trials failed; the last: {reason}")


def run_study(
    cfg: StudyConfig,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage_url: str | None = None,
    progress: bool = True,
    worker: int = 0,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
) -> optuna.Study:
    """Run trials in this process until the study's total of finished trials is `n_trials`,
    then score the front designs not yet scored on the test split (`dse.holdout`).

    Defaults come from the study file; `worker` is the index of a parallel worker (it only
    changes the sampler's seed); `callbacks` run after each trial, as in `Study.optimize`.
    """
    total = n_trials if n_trials is not None else cfg.n_trials
    if total < 1:
        raise StudyInputError(f"--n-trials: {total} is not allowed; use an integer >= 1")
    timeout = timeout if timeout is not None else cfg.timeout
    previous = optuna.logging.get_verbosity()
    if progress:
        optuna.logging.set_verbosity(logging.WARNING)
    try:
        study = open_study(cfg, storage_url, worker)
        bar = StudyProgress(
            study,
            total,
            enabled=progress,
            n_models=count_models(cfg),
            timeout=timeout,
            cached_models=model_cache(cfg).count,
        )
        try:
            if count_done(study) < total:
                optimize_to_total(
                    study,
                    TrialObjective(cfg, on_phase=bar.phase),
                    total,
                    timeout=timeout,
                    callbacks=[_StopWhenFailing(total), bar, *callbacks],
                    catch=(TrialFailure,),
                )
            score_front(cfg, study, lambda done, n: bar.phase(f"test split: design {done}/{n}"))
        finally:
            bar.close()
    finally:
        optuna.logging.set_verbosity(previous)
    return study
