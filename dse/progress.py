"""A terminal progress bar for a study: trials done of the total, the phase, time left, front.

tqdm's own estimate divides the elapsed time by the trials done, which is wildly wrong for a
study: the first trials train models (minutes each), the rest reuse them (a fraction of a
second).  `eta_seconds` instead adds

* the trials still to run at the mean wall time of the recent trials that reused their model
  in this run: the time from one finished trial to the next (any worker), so the sampler,
  the storage and the callbacks count, and a pause between runs does not; and
* the models still to train (the search space's models not in the cache yet, at most one per
  trial left) at the mean training time measured so far.

Once every model is in the cache, training time no longer counts at all.  It says nothing
("?") until it has measured what it needs, and between two finished trials it counts down
from its last estimate, so the time left moves while a model trains.  While a model trains,
the phase names its epoch (``training model 1/4, epoch 3/20``).  A study with a timeout shows
the time to the timeout when that comes first: the run stops starting trials then.

The bar reads each finished trial once (`dse.watch.FinishedTrials`) and keeps its own
tally and running Pareto front (`dse.selection.RunningFront`): it never copies the study's
trials or asks for `study.best_trials`, so it costs the same per trial at 30 stored trials
and at 3,000, and nothing of the front is computed while the bar is off.
"""

from __future__ import annotations

import bisect
import statistics
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import optuna
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from dse.inner import INNER_ATTR
from dse.metrics import metric
from dse.objective import FAIL_REASON_ATTR
from dse.selection import RunningFront
from dse.watch import FinishedTrials, at_end, shared_read

#: Trial states that count towards a study's total (failed trials are retried, not counted).
COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
#: Finished trials whose wall times estimate the time left (the recent ones: a study's trials
#: get slower as the sampler and the storage hold more of them).
RECENT_TRIALS = 10
#: Phase descriptions a bar keeps (`StudyProgress.descriptions`), newest last.
KEPT_DESCRIPTIONS = 10_000
_FORMAT = "{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed}{postfix}"


def count_done(study: optuna.Study) -> int:
    """Finished trials that count towards `n_trials` (all workers together); hardware variants
    recorded by the inner optimisation are not sampled trials and do not count."""
    trials = study.get_trials(deepcopy=False, states=COUNTED_STATES)
    return sum(INNER_ATTR not in t.user_attrs for t in trials)


class TrialTally:
    """What the bar and the time left are computed from, gathered one finished trial at a
    time (`add`), so that a bar costs the same per trial at 30 stored trials and at 3,000.

    `since` is when this run started (`walls`)."""

    def __init__(self, since: datetime | None = None) -> None:
        self.since = since
        self.counted = 0  # sampled trials in COUNTED_STATES
        self.failed = 0  # trials whose design could not be scored (they carry a fail_reason)
        self.trained_keys: set[object] = set()  # model keys of complete trials that trained
        self.train_seconds: list[float] = []  # their recorded training times
        self.trained_rest: list[float] = []  # their durations less their training
        self.reused: list[float] = []  # durations of complete trials that reused their model
        # (completion, number, trained) of the counted sampled trials that completed since
        # `since`, in completion order: consecutive ones give the wall times.
        self._completions: list[tuple[datetime, int, bool]] = []

    def add(self, trial: FrozenTrial) -> None:
        """Take one finished trial into account (each once)."""
        if trial.state == TrialState.FAIL and FAIL_REASON_ATTR in trial.user_attrs:
            self.failed += 1
        if INNER_ATTR in trial.user_attrs or trial.state not in COUNTED_STATES:
            return  # a hardware variant is recorded within its trial: neither counted nor timed
        self.counted += 1
        hit = metric(trial, "cache_hit")
        complete = trial.datetime_complete
        if complete is not None and (self.since is None or complete >= self.since):
            bisect.insort(self._completions, (complete, trial.number, hit is False))
        if trial.state != TrialState.COMPLETE:
            return
        if hit is False:  # it trained (or derived) a model
            train = metric(trial, "train_seconds")
            self.trained_keys.add(metric(trial, "model_key"))
            if train is not None:
                self.train_seconds.append(float(train))
            self.trained_rest.append(trial.duration.total_seconds() - float(train or 0.0))
        elif hit:
            self.reused.append(trial.duration.total_seconds())

    def walls(self, recent: int | None = None) -> list[float]:
        """Wall seconds of the trials that reused their model (`reused_walls`), oldest first;
        the last `recent` only when given."""
        walls: list[float] = []
        done = self._completions
        for i in range(len(done) - 1, 0, -1):  # newest first
            if recent is not None and len(walls) >= recent:
                break
            (before, _, _), (after, _, trained) = done[i - 1], done[i]
            if not trained:
                walls.append((after - before).total_seconds())
        return walls[::-1]

    def eta(
        self,
        total: int,
        n_models: int | None,
        workers: int = 1,
        time_left: float | None = None,
        cached_models: int | None = None,
    ) -> float | None:
        """`eta_seconds` of the trials added."""
        eta = self._eta_to_total(total, n_models, workers, cached_models)
        if time_left is None:
            return eta
        return max(time_left, 0.0) if eta is None else min(eta, max(time_left, 0.0))

    def _eta_to_total(
        self, total: int, n_models: int | None, workers: int, cached_models: int | None
    ) -> float | None:
        remaining = total - self.counted
        if remaining <= 0:
            return 0.0
        workers = max(workers, 1)
        if cached_models is None:
            cached_models = len(self.trained_keys)
        to_train = min(max((n_models or 0) - cached_models, 0), remaining)
        walls = self.walls(RECENT_TRIALS)
        if walls:
            per_trial = statistics.mean(walls)
        else:  # the first trials of a run: their durations, less any training, stand in
            reused = self.reused or self.trained_rest
            if not reused:
                return None
            per_trial = max(statistics.median(reused), 0.0) / workers
        seconds = remaining * per_trial
        if to_train:
            if not self.train_seconds:
                return None
            seconds += to_train * statistics.mean(self.train_seconds) / workers
        return seconds


def _tally(trials: Iterable[FrozenTrial], since: datetime | None) -> TrialTally:
    tally = TrialTally(since)
    for trial in trials:
        if trial.state.is_finished():
            tally.add(trial)
    return tally


def reused_walls(trials: list[FrozenTrial], since: datetime | None = None) -> list[float]:
    """Wall seconds of each finished trial that reused its model, oldest first: from the
    previous trial's completion (any worker) to its own, counted only when that previous
    completion is at or after `since` (this run's start), so a pause between runs is not a
    trial's time.  With J workers this is the time per trial of all J together."""
    return _tally(trials, since).walls()


def eta_seconds(
    trials: list[FrozenTrial],
    total: int,
    n_models: int | None,
    workers: int = 1,
    time_left: float | None = None,
    cached_models: int | None = None,
    since: datetime | None = None,
) -> float | None:
    """Seconds until the study holds `total` finished trials or reaches its timeout (the
    `time_left` to it, if any), whichever comes first; None while unknown.

    `n_models` is how many distinct models the search space trains (None: unknown, assume
    the ones trained so far are all); `cached_models` how many the cache holds now (None:
    count the models the trials trained).  `since` is when this run started (`reused_walls`);
    without a wall time measured since then, the median duration of a trial that reused its
    model (else of a trial that trained one, less its training) stands in, divided by the
    `workers`.  Hardware variants (`inner_of`) are neither
    counted nor timed: they are recorded within their evaluated trial.
    """
    return _tally(trials, since).eta(total, n_models, workers, time_left, cached_models)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


class StudyProgress:
    """Optuna callback drawing one tqdm bar; counts trials of every worker on the storage.

    `cached_models` (e.g. the study's `ModelCache.count`) says how many models need no more
    training; `now` is the clock (tests pass a fake one; trials' timestamps are local time, as
    Optuna writes them).  `descriptions` keeps every phase shown and `time_left` the last
    estimate, for whoever watches the bar from code.
    """

    def __init__(
        self,
        study: optuna.Study,
        total: int,
        enabled: bool = True,
        n_models: int | None = None,
        workers: int = 1,
        timeout: float | None = None,
        cached_models: Callable[[], int] | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._name = study.study_name
        self._now = now
        self._started = now()
        self._deadline = None if timeout is None else self._started + timedelta(seconds=timeout)
        self._n_models = n_models
        self._workers = workers
        self._cached_models = cached_models
        # Each finished trial is read once (`FinishedTrials`): the bar never copies the study's
        # trials nor asks for its best trials, so it costs the same per trial at any size.
        self._finished = FinishedTrials()
        self._moment: tuple[str, int] | None = None  # set while called back after a trial
        self._tally = TrialTally(since=self._started)
        self._front = RunningFront(study.directions) if enabled else None
        self._absorb(study)
        self._bar = tqdm(
            total=total,
            initial=min(self._tally.counted, total),
            desc=f"{self._name}: starting",
            unit="trial",
            disable=not enabled,
            dynamic_ncols=True,
            bar_format=_FORMAT,
        )
        self._pareto = 0 if self._front is None else len(self._front.front())
        self._failed = self._tally.failed
        self._eta: tuple[float | None, datetime] = (None, self._started)
        self.descriptions: deque[str] = deque(maxlen=KEPT_DESCRIPTIONS)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._moment = at_end(trial.number)  # the read the other callbacks share
        try:
            self.refresh(study)
        finally:
            self._moment = None

    @property
    def time_left(self) -> float | None:
        """Seconds left by the last estimate, counted down to now (None while unknown)."""
        eta, at = self._eta
        if eta is None:
            return None
        return max(eta - (self._now() - at).total_seconds(), 0.0)

    def phase(self, text: str) -> None:
        """Show what the running trial is doing (``training model 2/4, epoch 3/20``,
        ``evaluating``); the time left counts down from the last estimate."""
        self.descriptions.append(text)
        self._bar.set_description_str(f"{self._name}: {text}", refresh=False)
        self._bar.set_postfix_str(self._postfix(), refresh=False)
        self._bar.refresh()

    def _postfix(self) -> str:
        return f"left {_clock(self.time_left)}, pareto {self._pareto}, failed {self._failed}"

    def _absorb(self, study: optuna.Study) -> bool:
        """Take in the trials that finished since the last look; whether the front changed."""
        changed = False
        for trial in self._finished.new(shared_read(study, self._moment)):
            self._tally.add(trial)
            if self._front is not None:
                changed = self._front.add(trial) or changed
        return changed

    def refresh(self, study: optuna.Study) -> None:
        """Redraw from the storage (also used to watch worker processes from outside)."""
        if self._absorb(study):
            self._pareto = len(self._front.front())
        done = min(self._tally.counted, self._bar.total)
        # Only designs that could not be scored; not interrupted or retried (stale) trials.
        self._failed = self._tally.failed
        now = self._now()
        time_left = None if self._deadline is None else (self._deadline - now).total_seconds()
        cached = None if self._cached_models is None else self._cached_models()
        eta = self._tally.eta(
            self._bar.total, self._n_models, self._workers, time_left, cached_models=cached
        )
        self._eta = (eta, now)
        self._bar.set_postfix_str(self._postfix(), refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Finish the bar line."""
        self._bar.close()
