"""Workers sharing one PostgreSQL study: exact total, unique numbers, one training per key,
and a worker killed mid-trial whose trial is failed, retried and the study still finished."""

from __future__ import annotations

import os
import signal
import time

import optuna
import pytest
from optuna.trial import TrialState

from dse.parallel import SURPLUS_ATTR
from dse.storage import count_trials, open_storage

pytestmark = pytest.mark.postgres


def _new_study(url: str, tag: str) -> optuna.Study:
    return optuna.create_study(study_name=f"{tag}-{time.time_ns()}", storage=open_storage(url))


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _check_finished(study: optuna.Study, total: int) -> list[optuna.trial.FrozenTrial]:
    """Exactly `total` COMPLETE trials with unique numbers and all their attributes."""
    trials = study.get_trials()
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) and sorted(numbers) == list(range(len(trials)))
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == total
    for t in complete:
        assert set(t.user_attrs) == {"worker", "cache_hit", "accuracy"}
        assert t.user_attrs["accuracy"] == t.value
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    return complete


def test_two_workers_finish_exactly_the_total(postgres_url: str, mimic_worker, tmp_path) -> None:
    study = _new_study(postgres_url, "two")
    workers = [mimic_worker(postgres_url, study.study_name, 8, 0.4, tmp_path) for _ in range(2)]
    assert [w.wait(timeout=90) for w in workers] == [0, 0]
    complete = _check_finished(study, 8)
    print("trial states:", count_trials(study))
    assert {t.user_attrs["worker"] for t in complete} == {w.pid for w in workers}
    # Every trial needs the same model: trained once, the other worker waited and reused it.
    assert len((tmp_path / "trainings.log").read_text().splitlines()) == 1
    assert sum(not t.user_attrs["cache_hit"] for t in complete) == 1
    # The only trials beyond the total are ones refused before doing any work.
    others = [t for t in study.get_trials() if t.state != TrialState.COMPLETE]
    assert all(t.state == TrialState.FAIL and t.user_attrs[SURPLUS_ATTR] for t in others)


def test_worker_killed_mid_trial_is_retried(postgres_url: str, mimic_worker, tmp_path) -> None:
    study = _new_study(postgres_url, "kill")
    survivor = mimic_worker(postgres_url, study.study_name, 6, 0.5, tmp_path)
    victim = mimic_worker(postgres_url, study.study_name, 6, 0.5, tmp_path)
    # Kill the victim in the middle of its second trial (after its first one completed).
    _wait_for(lambda: len(list(tmp_path.glob(f"started-{victim.pid}-*"))) >= 2)
    time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    killed_number = max(
        int(p.name.rsplit("-", 1)[1]) for p in tmp_path.glob(f"started-{victim.pid}-*")
    )
    assert survivor.wait(timeout=90) == 0
    _check_finished(study, 6)
    states = count_trials(study)
    print("trial states after SIGKILL:", states)
    killed = study.trials[killed_number]
    assert killed.state == TrialState.FAIL and SURPLUS_ATTR not in killed.user_attrs
    retries = [
        t for t in study.get_trials(states=(TrialState.COMPLETE,))
        if t.system_attrs.get("failed_trial") == killed.number  # set by the retry callback
    ]  # fmt: skip
    assert len(retries) == 1 and retries[0].params == killed.params
    assert retries[0].user_attrs["worker"] == survivor.pid
