"""Workers sharing one PostgreSQL study: exact total, unique numbers, one training per key,
and a worker killed mid-trial whose trial is failed, retried and the study still finished."""

from __future__ import annotations

import os
import signal
import time

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from dse.metrics import trial_metrics
from dse.parallel import SURPLUS_ATTR, run_parallel
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
    workers = [mimic_worker(postgres_url, study.study_name, 6, 0.3, tmp_path) for _ in range(2)]
    assert [w.wait(timeout=90) for w in workers] == [0, 0]
    complete = _check_finished(study, 6)
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


def test_dse_workers_share_a_real_study(postgres_url: str, tmp_path, capfd) -> None:
    """`run_parallel` (= `dse run --jobs 2`) starts two `dse worker`s on one study."""
    name = f"tiny-{time.time_ns()}"
    study = {
        "name": name,
        "output_dir": str(tmp_path / "out"),
        "dataset": {"name": "digits", "max_train": 100, "max_test": 50},
        "training": {"epochs": 1, "bn_samples": 1, "calib_samples": 2},
        "search": {"width": 8, "depth": 1, "timesteps": {"low": 2, "high": 4}, "samples": 1},
        "objectives": [
            {"metric": "accuracy", "direction": "maximize"},
            {"metric": "energy_pl_uj", "direction": "minimize"},
        ],
        "sampler": {"name": "random"},
    }
    study_file = tmp_path / "tiny.yaml"
    study_file.write_text(yaml.safe_dump(study))
    run_parallel(study_file, 2, n_trials=3, storage_url=postgres_url)
    printed = capfd.readouterr()
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in printed.out + printed.err
    assert printed.out.count("postgresql://postgres:***@127.0.0.1") == 2
    loaded = optuna.load_study(study_name=name, storage=open_storage(postgres_url))
    trials = loaded.get_trials()
    assert len({t.number for t in trials}) == len(trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3
    for t in complete:
        assert {"accuracy", "energy_pl_uj", "lut", "cache_hit", "model_key"} <= set(
            trial_metrics(t)
        )
    # One training key (fixed width and depth): trained once, by one of the two workers.
    assert len({trial_metrics(t)["model_key"] for t in complete}) == 1
    assert sum(not trial_metrics(t)["cache_hit"] for t in complete) == 1
    assert len([p for p in (tmp_path / "out" / "models").iterdir() if p.name != ".locks"]) == 1
