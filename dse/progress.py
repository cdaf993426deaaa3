"""A terminal progress bar for a study: trials done of the total, the phase, time left, front.

tqdm's own estimate divides the elapsed time by the trials done, which is wildly wrong for a
study: the first trials train models (tens of seconds each), the rest reuse them (a fraction
of a second).  `eta_seconds` instead adds the models still to train at their measured training
time and the trials still to run at the median time of a trial that reused its model, and
says nothing ("?") until it has measured both that it needs.  A study with a timeout shows
the time to the timeout when that comes first: the run stops starting trials then.
"""

from __future__ import annotations

import statistics
import time

import optuna
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from dse.inner import INNER_ATTR
from dse.objective import FAIL_REASON_ATTR
from dse.selection import front_trials

#: Trial states that count towards a study's total (failed trials are retried, not counted).
COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
#: Seconds between Pareto-front recounts (`front_trials`, the front without twins, as every
#: table shows it): `study.best_trials` deep-copies every trial, which costs more than a
#: cached trial itself once a study holds a few hundred trials.
PARETO_REFRESH_S = 2.0
_FORMAT = "{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed}{postfix}"


def count_done(study: optuna.Study) -> int:
    """Finished trials that count towards `n_trials` (all workers together); hardware variants
    recorded by the inner optimisation are not sampled trials and do not count."""
    trials = study.get_trials(deepcopy=False, states=COUNTED_STATES)
    return sum(INNER_ATTR not in t.user_attrs for t in trials)


def eta_seconds(
    trials: list[FrozenTrial],
    total: int,
    n_models: int | None,
    workers: int = 1,
    time_left: float | None = None,
) -> float | None:
    """Seconds until the study holds `total` finished trials or reaches its timeout (the
    `time_left` to it, if any), whichever comes first; None while unknown.

    `n_models` is how many distinct models the search space trains (None: unknown, assume
    the ones trained so far are all). Hardware variants (`inner_of`) are neither counted nor
    timed: they are recorded within their evaluated trial.
    """
    eta = _eta_to_total(trials, total, n_models, workers)
    if time_left is None:
        return eta
    return max(time_left, 0.0) if eta is None else min(eta, max(time_left, 0.0))


def _eta_to_total(
    trials: list[FrozenTrial], total: int, n_models: int | None, workers: int
) -> float | None:
    trials = [t for t in trials if INNER_ATTR not in t.user_attrs]
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    remaining = total - sum(t.state in COUNTED_STATES for t in trials)
    if remaining <= 0:
        return 0.0
    reused = [t.duration.total_seconds() for t in done if t.user_attrs.get("cache_hit")]
    trained = [t for t in done if t.user_attrs.get("cache_hit") is False]
    models = {t.user_attrs.get("model_key") for t in trained}
    to_train = max((n_models or 0) - len(models), 0)
    if not reused or (to_train and not trained):
        return None
    seconds = remaining * statistics.median(reused)
    if to_train:
        seconds += to_train * statistics.mean(float(t.user_attrs["train_seconds"]) for t in trained)
    return seconds / max(workers, 1)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


class StudyProgress:
    """Optuna callback drawing one tqdm bar; counts trials of every worker on the storage."""

    def __init__(
        self,
        study: optuna.Study,
        total: int,
        enabled: bool = True,
        n_models: int | None = None,
        workers: int = 1,
        timeout: float | None = None,
    ) -> None:
        self._name = study.study_name
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._n_models = n_models
        self._workers = workers
        self._bar = tqdm(
            total=total,
            initial=min(count_done(study), total),
            desc=f"{self._name}: starting",
            unit="trial",
            disable=not enabled,
            dynamic_ncols=True,
            bar_format=_FORMAT,
        )
        self._pareto_at = -PARETO_REFRESH_S
        self._pareto = 0

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.refresh(study)

    def phase(self, text: str) -> None:
        """Show what the running trial is doing (``training model 2/4``, ``evaluating``)."""
        self._bar.set_description_str(f"{self._name}: {text}", refresh=True)

    def refresh(self, study: optuna.Study) -> None:
        """Redraw from the storage (also used to watch worker processes from outside)."""
        trials = study.get_trials(deepcopy=False)
        sampled = [t for t in trials if INNER_ATTR not in t.user_attrs]
        done = min(sum(t.state in COUNTED_STATES for t in sampled), self._bar.total)
        # Only designs that could not be scored; not interrupted or retried (stale) trials.
        failed = sum(
            t.state == TrialState.FAIL and FAIL_REASON_ATTR in t.user_attrs for t in trials
        )
        now = time.monotonic()
        if done >= self._bar.total or now - self._pareto_at >= PARETO_REFRESH_S:
            self._pareto, self._pareto_at = len(front_trials(study)), now
        time_left = None if self._deadline is None else self._deadline - now
        eta = eta_seconds(sampled, self._bar.total, self._n_models, self._workers, time_left)
        self._bar.set_postfix_str(
            f"left {_clock(eta)}, pareto {self._pareto}, failed {failed}", refresh=False
        )
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Finish the bar line."""
        self._bar.close()
