"""Several workers on one Optuna storage: a trial budget that is the study's total, and
worker processes for ``--jobs`` on one machine.

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

import contextlib
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Container, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, Trial, TrialState

from dse.errors import StudyInputError
from dse.inner import INNER_ATTR
from dse.interrupt import QUIET_ENV, deferred, hold, interrupted, release
from dse.redaction import STORAGE_ENV
from dse.schema import load_study_file
from dse.storage import creation_lock, open_storage
from dse.watch import FinishedTrials, at_end, at_start, shared_read

#: Trial states that count towards a study's total (a pruned trial finished its budget too).
DONE_STATES: tuple[TrialState, ...] = (TrialState.COMPLETE, TrialState.PRUNED)
SURPLUS_ATTR = "dse_surplus"
#: User attribute of a trial failed because its process was interrupted (Ctrl-C, SIGTERM).
INTERRUPTED_ATTR = "dse_interrupted"
#: Seconds a worker gets to fail its running trial after SIGINT before it is killed.
STOP_GRACE_S = 20.0
#: Seconds between two looks of the `--n-jobs` parent at its workers and at `interrupted()`.
POLL_S = 0.25
#: The KeyboardInterrupt raised when the parent finds the signal flag set.
SIGNAL_POLLED = "signal (its KeyboardInterrupt was swallowed)"


class SurplusTrial(Exception):
    """A trial started after the budget was filled; it ends as FAIL without doing work."""


class TrialBudget:
    """Optuna callback and admission check that keep a study at `total` finished trials."""

    def __init__(self, total: int, done_states: Container[TrialState] = DONE_STATES) -> None:
        self.total = total
        self.done_states = done_states
        self._finished = FinishedTrials()  # each finished trial counted once, as it appears
        self._done = 0

    def counts(
        self, study: optuna.Study, moment: tuple[str, int] | None = None
    ) -> tuple[int, list[FrozenTrial]]:
        """(finished trials that count, running trials) of all workers, as read at `moment`
        (`dse.watch.shared_read`; now if None)."""
        trials = shared_read(study, moment)
        for trial in self._finished.new(trials):
            self._done += trial.state in self.done_states and INNER_ATTR not in trial.user_attrs
        unfinished = self._finished.unfinished_trials(trials)
        return self._done, [t for t in unfinished if t.state == TrialState.RUNNING]

    def admit(self, trial: Trial) -> None:
        """Raise `SurplusTrial` if lower-numbered trials already fill the budget."""
        done, running = self.counts(trial.study, at_start(trial.number))
        ahead = sum(t.number < trial.number for t in running)
        if done + ahead >= self.total:
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise SurplusTrial(f"trial {trial.number}: the study's {self.total} trials are taken")

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """After each trial: stop this worker when no trial is left for it to start."""
        done, running = self.counts(study, at_end(trial.number))
        if done + len(running) >= self.total:
            study.stop()

    def wait_for_slot(self, study: optuna.Study, deadline: float | None, poll_s: float) -> bool:
        """Wait while others' running trials fill the budget; True once a slot is free again.

        Stale trials (dead workers) are failed here, which re-enqueues them for this worker.
        """
        while deadline is None or time.monotonic() < deadline:
            if interrupted():  # a signal whose KeyboardInterrupt was swallowed
                raise KeyboardInterrupt(SIGNAL_POLLED)
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
    ask = study.ask
    asked = [False]

    def ask_held(*args: Any, **kwargs: Any) -> Trial:
        # Optuna fails a trial only when its objective raises: a signal between the new trial's
        # row and its objective (the sampler's reads, the heartbeat) would leave it RUNNING.
        # There it only sets the flag, and the objective raises it first thing.
        hold()
        asked[0] = True
        try:
            return ask(*args, **kwargs)
        except BaseException:
            asked[0] = False
            release()
            raise

    def admitted(trial: Trial) -> float | Sequence[float]:
        if asked[0]:
            asked[0] = False
            release()
        try:
            if interrupted():  # held since ask, or swallowed on its way: start nothing
                raise KeyboardInterrupt(SIGNAL_POLLED)
            budget.admit(trial)
            return objective(trial)
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED_ATTR, True)  # Optuna then fails the trial
            raise

    deadline = None if timeout is None else time.monotonic() + timeout
    study.ask = ask_held  # type: ignore[method-assign]
    try:
        while budget.wait_for_slot(study, deadline, poll_s):
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            study.optimize(
                admitted,
                timeout=remaining,
                callbacks=[budget, *callbacks],
                catch=(SurplusTrial, *catch),
            )
    finally:
        del study.ask  # the study's own again
        if asked[0]:  # asked, but an error came before the objective
            release()


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


class WorkersFailed(RuntimeError):
    """A worker process of `--jobs` exited with an error."""


def run_parallel(
    study_file: str | os.PathLike[str],
    n_jobs: int,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage_url: str | None = None,
    on_tick: Callable[[], None] | None = None,
    tick_s: float = 2.0,
) -> None:
    """Run `n_jobs` `dse worker` processes on one storage until the study's total is reached.

    `on_tick` runs every `tick_s` seconds while they work (the parent's progress bar).  The
    workers run in their own sessions, so a terminal's Ctrl-C reaches only this process; on
    any interruption of this process (Ctrl-C, SIGTERM turned into KeyboardInterrupt) they get
    SIGINT, which fails their running trials at once, and are killed if they linger or at a
    second Ctrl-C.  The interruption cannot be lost: the loop looks at the signal flag
    (`dse.interrupt.interrupted`) every `POLL_S`, so a KeyboardInterrupt swallowed on its way
    (a weakref callback, a library catching everything) stops the run all the same, and a
    signal that arrives while a worker starts takes effect once that worker is known.
    """
    if n_jobs < 1:
        raise StudyInputError(f"--jobs: {n_jobs} is not allowed; use an integer >= 1")
    path = Path(study_file)
    cfg = load_study_file(path)  # user errors surface here, once, not in every worker
    url = storage_url or cfg.storage_url()
    with creation_lock(url):  # create the tables once so workers never race to create them
        open_storage(url)
    env = {**os.environ, STORAGE_ENV: url, QUIET_ENV: "1"}
    # Split the cores between the workers: J processes each spinning up every core's worth
    # of OpenMP threads oversubscribe the machine and make small tensor ops 10x slower.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n_jobs)))
    workers: list[subprocess.Popen] = []
    try:
        for index in range(n_jobs):
            command = worker_command(path, n_trials, timeout, index)
            with deferred():  # a Ctrl-C mid-start would leave a worker that nobody stops
                workers.append(subprocess.Popen(command, env=env, start_new_session=True))
        next_tick = time.monotonic()
        while (alive := [w for w in workers if w.poll() is None]) != []:
            if on_tick is not None and time.monotonic() >= next_tick:
                on_tick()
                next_tick = time.monotonic() + tick_s
            if interrupted():  # its KeyboardInterrupt was swallowed (a weakref callback...)
                raise KeyboardInterrupt(SIGNAL_POLLED)
            with contextlib.suppress(subprocess.TimeoutExpired):
                alive[0].wait(timeout=min(tick_s, POLL_S))
    except BaseException:
        stop_workers(workers)
        raise
    failed = [(i, w.returncode) for i, w in enumerate(workers) if w.returncode != 0]
    if failed:
        raise WorkersFailed(
            f"{len(failed)} of {n_jobs} workers failed (index, exit code): {failed}"
        )


def stop_workers(workers: Sequence[subprocess.Popen], grace_s: float = STOP_GRACE_S) -> None:
    """Interrupt the workers (their running trials fail at once); kill any still alive later,
    or at once on a second interruption (another Ctrl-C must not leave them running on)."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    try:
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=max(deadline - time.monotonic(), 0.0))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
