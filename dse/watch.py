"""Watching a study grow at a cost that does not grow with it.

Every look at a study (`study.get_trials`) returns all its trials; what the progress bar,
the trial budget, the failure check and the objective's lookups need from them changes only
with the trials that finished since their last look.  `FinishedTrials` hands those out once
each, so that each of them costs the same per trial at 30 stored trials and at 3,000.
"""

from __future__ import annotations

from collections.abc import Sequence

from optuna.trial import FrozenTrial

__all__ = ["FinishedTrials"]


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
