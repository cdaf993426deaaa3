"""Watching a study grow at a cost that does not grow with it.

Every look at a study (`study.get_trials`) returns all its trials; what the progress bar,
the trial budget, the failure check and the objective's lookups need from them changes only
with the trials that finished since their last look.  `FinishedTrials` hands those out once
each, so that each of them costs the same per trial at 30 stored trials and at 3,000.

Each look is also a storage read (on SQLite a query, and the running trials read again
whole), and several parts of a run look at one moment: the trial budget, the sampler and
the objective when a trial starts, the budget, the failure check and the progress bar when
it has finished.  `shared_read` reads once per such moment and hands the same list to each.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence
from typing import Any

from optuna.trial import FrozenTrial

__all__ = ["FinishedTrials", "at_end", "at_start", "shared_read"]

#: The last shared read of each study: (moment, its trials).
_READS: weakref.WeakKeyDictionary[Any, tuple[Hashable, list[FrozenTrial]]] = (
    weakref.WeakKeyDictionary()
)


def at_start(number: int) -> tuple[str, int]:
    """The moment trial `number` starts (after Optuna created it, before it draws)."""
    return ("start", number)


def at_end(number: int) -> tuple[str, int]:
    """The moment trial `number` has finished (its callbacks run)."""
    return ("end", number)


def shared_read(study: Any, moment: Hashable | None = None) -> list[FrozenTrial]:
    """`study.get_trials(deepcopy=False)`, read once for `moment` (`at_start`, `at_end`) and
    the same list for every later call with that moment; a fresh read without one."""
    if moment is None:
        return study.get_trials(deepcopy=False)
    last = _READS.get(study)
    if last is not None and last[0] == moment:
        return last[1]
    trials = study.get_trials(deepcopy=False)
    _READS[study] = (moment, trials)
    return trials


class FinishedTrials:
    """The trials of a study that finished since the last look, each handed out once.

    `new(trials)` takes the study's trials in number order (`study.get_trials(deepcopy=False)`
    gives them so) and returns those that finished since the previous call, looking only at
    the trials added since then and at those it last saw unfinished (another worker's
    running trial, a retried one), so that watching a study costs the same per trial at 30
    stored trials and at 3,000.
    """

    def __init__(self) -> None:
        self._next = 0  # trials before this index were all looked at
        self._pending: set[int] = set()  # their numbers that were not finished then

    def new(self, trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        by_index = all(_at(trials, n) is not None for n in self._pending)
        if not by_index:  # numbers not 0, 1, 2, ... (never in Optuna): look them up
            numbers = {t.number: t for t in trials}
        fresh = []
        for number in sorted(self._pending):
            trial = _at(trials, number) if by_index else numbers.get(number)
            if trial is None or trial.state.is_finished():
                self._pending.discard(number)
                if trial is not None:
                    fresh.append(trial)
        for trial in trials[self._next :]:
            if trial.state.is_finished():
                fresh.append(trial)
            else:
                self._pending.add(trial.number)
        self._next = max(self._next, len(trials))
        return fresh

    @property
    def unfinished(self) -> set[int]:
        """Numbers of the trials last seen running or waiting."""
        return set(self._pending)

    def unfinished_trials(self, trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        """The trials of `trials` (the list last given to `new`) that were unfinished then."""
        found = [_at(trials, n) for n in sorted(self._pending)]
        if any(t is None for t in found):  # numbers not list indices (never in Optuna)
            return [t for t in trials if t.number in self._pending]
        return found


def _at(trials: Sequence[FrozenTrial], number: int) -> FrozenTrial | None:
    """The trial numbered `number` where trial numbers are list indices (Optuna's order)."""
    if 0 <= number < len(trials) and trials[number].number == number:
        return trials[number]
    return None
