"""Several workers on one Optuna storage: a trial budget that is the study's total, and
worker processes for ``--n-jobs`` on one machine.

Optuna's ``MaxTrialsCallback`` stops a worker once the study holds `total` finished trials,
but every other worker then finishes the trial it is running, so the study overshoots by up
to one trial per worker. `optimize_to_total` avoids that: a worker stops asking for trials
once the finished plus the running trials of the others fill the budget, and waits instead of
leaving, because a running trial may still fail (its worker killed) and need a successor. The
one remaining race, two workers asking in the same instant, is settled by trial number: a
trial that finds the budget already filled by lower-numbered trials is marked FAIL at once
(user attribute ``dse_surplus``) without doing any work.

Processes rather than Optuna's ``n_jobs`` threads: training and evaluation hold the GIL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Container, Sequence
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, Trial, TrialState

from dse.errors import StudyInputError
from dse.inner import INNER_ATTR
from dse.schema import load_study_file
from dse.storage import open_storage

#: Trial states that count towards a study's total (a pruned trial finished its budget too).
DONE_STATES: tuple[TrialState, ...] = (TrialState.COMPLETE, TrialState.PRUNED)
SURPLUS_ATTR = "dse_surplus"
#: Environment variable that hands a storage URL to a worker without showing it in `ps`.
STORAGE_ENV = "DSE_STORAGE"


class SurplusTrial(Exception):
    """A trial started after the budget was filled; it ends as FAIL without doing work."""


class TrialBudget:
    """Optuna callback and admission check that keep a study at `total` finished trials."""

    def __init__(self, total: int, done_states: Container[TrialState] = DONE_STATES) -> None:
        self.total = total
        self.done_states = done_states

    def counts(self, study: optuna.Study) -> tuple[int, list[FrozenTrial]]:
        """(finished trials that count, running trials) of all workers."""
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state in self.done_states and INNER_ATTR not in t.user_attrs for t in trials)
        return done, [t for t in trials if t.state == TrialState.RUNNING]

    def admit(self, trial: Trial) -> None:
        """Raise `SurplusTrial` if lower-numbered trials already fill the budget."""
        done, running = self.counts(trial.study)
        ahead = sum(t.number < trial.number for t in running)
        if done + ahead >= self.total:
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise SurplusTrial(f"trial {trial.number}: the study's {self.total} trials are taken")

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """After each trial: stop this worker when no trial is left for it to start."""
        done, running = self.counts(study)
        if done + len(running) >= self.total:
            study.stop()

    def wait_for_slot(self, study: optuna.Study, deadline: float | None, poll_s: float) -> bool:
        """Wait while others' running trials fill the budget; True once a slot is free again.

        Stale trials (dead workers) are failed here, which re-enqueues them for this worker.
        """
        while deadline is None or time.monotonic() < deadline:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            done, running = self.counts(study)
            if done >= self.total:
                return False
            if done + len(running) < self.total:
                return True
            time.sleep(poll_s)
        return False


def optimize_to_total(
    study: optuna.Study,
    objective: Callable[[Trial], float | Sequence[float]],
    total: int,
    *,
    timeout: float | None = None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    catch: tuple[type[Exception], ...] = (),
    poll_s: float = 1.0,
) -> None:
    """Run trials in this process until the study (all workers) has `total` finished trials."""
    budget = TrialBudget(total)

    def admitted(trial: Trial) -> float | Sequence[float]:
        budget.admit(trial)
        return objective(trial)

    deadline = None if timeout is None else time.monotonic() + timeout
    while budget.wait_for_slot(study, deadline, poll_s):
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        study.optimize(
            admitted,
            timeout=remaining,
            callbacks=[budget, *callbacks],
            catch=(SurplusTrial, *catch),
        )


def worker_command(
    study_file: Path, n_trials: int | None, timeout: float | None, index: int
) -> list[str]:
    """The `dse worker` command line of worker `index` (the storage travels in the environment)."""
    command = [
        sys.executable,
        "-m",
        "dse.cli",
        "worker",
        str(study_file),
        "--worker-index",
        str(index),
    ]
    if n_trials is not None:
        command += ["--n-trials", str(n_trials)]
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    return command


def run_parallel(
    study_file: str | os.PathLike[str],
    n_jobs: int,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage_url: str | None = None,
) -> None:
    """Run `n_jobs` `dse worker` processes on one storage until the study's total is reached."""
    if n_jobs < 1:
        raise StudyInputError(f"--n-jobs: {n_jobs} is not allowed; use an integer >= 1")
    path = Path(study_file)
    cfg = load_study_file(path)  # user errors surface here, once, not in every worker
    url = storage_url or cfg.storage_url()
    open_storage(url)  # create the tables once so workers never race to create them
    env = {**os.environ, STORAGE_ENV: url}
    # Split the cores between the workers: J processes each spinning up every core's worth
    # of OpenMP threads oversubscribe the machine and make small tensor ops 10x slower.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n_jobs)))
    workers = [
        subprocess.Popen(worker_command(path, n_trials, timeout, index), env=env)
        for index in range(n_jobs)
    ]
    try:
        codes = [w.wait() for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
                w.wait()
    failed = [(i, c) for i, c in enumerate(codes) if c != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} of {n_jobs} workers failed (index, exit code): {failed}")
