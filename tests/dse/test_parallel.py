"""`dse.parallel.optimize_to_total` in this process: an interruption never leaves a trial
RUNNING, wherever in the trial it arrives."""

from __future__ import annotations

import os
import signal

import optuna
import pytest

from dse import interrupt
from dse.parallel import INTERRUPTED_ATTR, optimize_to_total


class SignalInAsk(optuna.samplers.RandomSampler):
    """Sends this process SIGINT from inside `study.ask`, after the new trial's row exists
    (where Optuna's own loop cannot fail it: its objective has not started)."""

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        super().before_trial(study, trial)
        if trial.number == 1:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def resumable_handler():
    """The handler `dse.interrupt.resumable` installs, and a clean flag after the test."""
    previous = signal.signal(signal.SIGINT, interrupt._raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupt._SIGNALLED.clear()


def test_a_signal_inside_ask_fails_the_new_trial_instead_of_leaving_it_running(
    resumable_handler,
) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=SignalInAsk(seed=0))
    ran: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        ran.append(trial.number)
        return trial.suggest_float("x", 0.0, 1.0)

    with pytest.raises(KeyboardInterrupt):
        optimize_to_total(study, objective, 5, poll_s=0.01)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]
    assert study.trials[1].user_attrs[INTERRUPTED_ATTR] is True
    assert ran == [0]  # the interrupted trial's objective did no work
    assert "ask" not in vars(study)  # the study's own ask again
    assert interrupt._DEFERRED == [0]  # signals raise again at once
