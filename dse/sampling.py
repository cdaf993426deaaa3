"""What the sampler reads of the study: the trials once per trial, and which of them.

`TrialHistory` wraps a sampler (the study's TPE) and hands it a view of the study whose trial
list is read from the storage once per trial, not once per parameter (the read the trial
budget makes as the trial starts, `dse.watch.shared_read`): Optuna's TPE with
`constant_liar` (its default in Optuna 5, so that parallel workers see each other's running
trials) asks the storage for every trial at each of the ~20 parameters a design draws, and on
an RDB storage each of those reads goes back to the database.  Within one trial the list is
the one read at its first parameter, as Optuna's own per-trial cache does without the liar;
the running trials of other workers are still seen, as of that moment.

With `variants=False` the view also leaves out the hardware variants that the inner
optimisation records (`dse.inner`, user attribute `inner_of`): the sampler then learns from
the designs it sampled only.  Which of the two finds the front faster on the quickstart is
measured in docs/measurements.md ("Hardware variants in TPE's history" and "Search
quality"): TPE finds it faster with them, GP without; `VARIANTS_IN_HISTORY` holds that
default per sampler and a study's `sampler.variants_in_history` overrides it.
"""

from __future__ import annotations

import copy
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from dse.inner import INNER_ATTR
from dse.watch import at_start, shared_read

#: Whether each sampler learns from the recorded hardware variants too, as measured
#: (docs/measurements.md): TPE reaches the front sooner with them, GP sooner without them
#: (and its cost grows with the trials it reads).
VARIANTS_IN_HISTORY = {"tpe": True, "gp": False}


class _StudyView:
    """The study as the sampler sees it: every attribute the study's, but its trials the list
    read for the current trial."""

    def __init__(self, study: optuna.Study, trials: list[FrozenTrial]) -> None:
        self._study = study
        self._trials = trials

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = self._trials
        if states is not None:
            trials = [t for t in trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._get_trials(deepcopy, states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=True)


class TrialHistory(BaseSampler):
    """`sampler`, reading the study's trials once per trial; without the hardware variants
    when `variants` is False."""

    def __init__(self, sampler: BaseSampler, variants: bool) -> None:
        self.sampler = sampler
        self.variants = variants
        self._read: tuple[int, int, list[FrozenTrial]] | None = None

    def __str__(self) -> str:
        return f"{self.sampler}" if self.variants else f"{self.sampler} (sampled trials)"

    def _view(self, study: optuna.Study, trial: FrozenTrial) -> _StudyView:
        key = (id(study), trial.number)
        if self._read is None or self._read[:2] != key:
            trials = shared_read(study, at_start(trial.number))  # the trial budget's read
            if not self.variants:
                trials = [t for t in trials if INNER_ATTR not in t.user_attrs]
            self._read = (*key, trials)
        return _StudyView(study, self._read[2])

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.sampler.infer_relative_search_space(self._view(study, trial), trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.sampler.sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.sampler.sample_independent(
            self._view(study, trial), trial, param_name, param_distribution
        )

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._read = None  # a new trial: read the study again
        self.sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._read = None
        self.sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()
