"""A terminal progress bar for a study: trials done of the total, time left, Pareto size."""

from __future__ import annotations

import time

import optuna
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from dse.inner import INNER_ATTR

#: Trial states that count towards a study's total (failed trials are retried, not counted).
COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
#: Seconds between Pareto-front recounts: `study.best_trials` deep-copies every trial, which
#: costs more than a cached trial itself once a study holds a few hundred trials.
PARETO_REFRESH_S = 2.0


def count_done(study: optuna.Study) -> int:
    """Finished trials that count towards `n_trials` (all workers together); hardware variants
    recorded by the inner optimisation are not sampled trials and do not count."""
    trials = study.get_trials(deepcopy=False, states=COUNTED_STATES)
    return sum(INNER_ATTR not in t.user_attrs for t in trials)


class StudyProgress:
    """Optuna callback drawing one tqdm bar; counts trials of every worker on the storage."""

    def __init__(self, study: optuna.Study, total: int, enabled: bool = True) -> None:
        self._bar = tqdm(
            total=total,
            initial=min(count_done(study), total),
            desc=study.study_name,
            unit="trial",
            disable=not enabled,
            dynamic_ncols=True,
        )
        self._pareto_at = -PARETO_REFRESH_S
        self._pareto = 0

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.refresh(study)

    def refresh(self, study: optuna.Study) -> None:
        """Redraw from the storage (also used to watch worker processes from outside)."""
        done = min(count_done(study), self._bar.total)
        failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
        now = time.monotonic()
        if done >= self._bar.total or now - self._pareto_at >= PARETO_REFRESH_S:
            self._pareto, self._pareto_at = len(study.best_trials), now
        self._bar.set_postfix(pareto=self._pareto, failed=failed, refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Finish the bar line."""
        self._bar.close()
