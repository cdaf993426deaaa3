"""SQLite studies survive SIGKILL mid-trial and several local worker processes at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import optuna
from optuna.trial import TrialState

from dse.parallel import SURPLUS_ATTR
from dse.storage import count_trials, open_storage


def _integrity(db) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_sqlite_study_killed_mid_trial_resumes_to_its_total(mimic_worker, tmp_path) -> None:
    db = tmp_path / "study.db"
    url = f"sqlite:///{db}"
    study = optuna.create_study(study_name="crash", storage=open_storage(url))
    first = mimic_worker(url, "crash", 4, 0.5, tmp_path)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob(f"started-{first.pid}-*"))) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert _integrity(db) == "ok"
    assert count_trials(study) == {"COMPLETE": 1, "RUNNING": 1}
    rerun = mimic_worker(url, "crash", 4, 0.5, tmp_path)
    assert rerun.wait(timeout=60) == 0
    states = count_trials(study)
    print("after SIGKILL and re-run:", states)
    assert states == {"COMPLETE": 4, "FAIL": 1}
    killed = study.trials[1]
    assert killed.state == TrialState.FAIL
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == killed.params
    assert _integrity(db) == "ok"


def test_local_worker_processes_share_one_sqlite_file(mimic_worker, tmp_path) -> None:
    db = tmp_path / "study.db"
    url = f"sqlite:///{db}"
    study = optuna.create_study(study_name="local", storage=open_storage(url))
    workers = [mimic_worker(url, "local", 6, 0.2, tmp_path) for _ in range(3)]
    assert [w.wait(timeout=90) for w in workers] == [0, 0, 0]
    print("three local workers on SQLite:", count_trials(study))
    trials = study.get_trials()
    assert len({t.number for t in trials}) == len(trials)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 6
    assert all(t.state == TrialState.COMPLETE or t.user_attrs[SURPLUS_ATTR] for t in trials)
    assert _integrity(db) == "ok"
