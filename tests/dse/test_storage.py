"""open_storage gives concurrent-ready storages; redact_url never leaks a password."""

from __future__ import annotations

import sqlite3
import time

import optuna
import pytest
from optuna.storages import JournalStorage, RDBStorage
from optuna.trial import TrialState

from dse.errors import StudyInputError
from dse.storage import GRACE_ENV, HEARTBEAT_ENV, count_trials, open_storage, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bob:s3cr3t@db.lan:5432/dse", "postgresql://bob:***@db.lan:5432/dse"),
        ("postgresql+psycopg://bob:p%40ss@h/dse", "postgresql+psycopg://bob:***@h/dse"),
        ("postgresql://bob@h/dse?password=s3cr3t&sslmode=require",
         "postgresql://bob@h/dse?password=***&sslmode=require"),
        ("sqlite:///runs/study.db", "sqlite:///runs/study.db"),
        ("journal:///runs/study.log", "journal:///runs/study.log"),
    ],
)  # fmt: skip
def test_redact_url_hides_passwords_only(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_sqlite_storage_has_heartbeats_wal_and_busy_timeout(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(HEARTBEAT_ENV, "2")
    monkeypatch.setenv(GRACE_ENV, "5")
    db = tmp_path / "sub" / "study.db"
    storage = open_storage(f"sqlite:///{db}")
    assert isinstance(storage, RDBStorage)
    assert storage.get_heartbeat_interval() == 2
    assert storage.grace_period == 5
    assert storage.get_heartbeat_stale_trial_callback() is not None
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_stale_sqlite_trial_is_failed_and_reenqueued(tmp_path, monkeypatch) -> None:
    """A RUNNING trial whose heartbeat stopped becomes FAIL plus a WAITING copy of its params."""
    monkeypatch.setenv(HEARTBEAT_ENV, "1")
    monkeypatch.setenv(GRACE_ENV, "2")
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    trial.suggest_int("x", 0, 100)
    storage.record_heartbeat(trial._trial_id)  # the worker beats once, then is "killed"
    time.sleep(3.5)  # past the 2 s grace with a margin for the database's timestamp rounding
    optuna.storages.fail_stale_trials(study)
    assert count_trials(study) == {"FAIL": 1, "WAITING": 1}
    waiting = study.get_trials(states=(TrialState.WAITING,))[0]
    assert waiting.params == trial.params


def test_journal_storage_for_file_systems_without_sqlite_locks(tmp_path) -> None:
    storage = open_storage(f"journal:///{tmp_path / 'j' / 'study.log'}")
    assert isinstance(storage, JournalStorage)
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    reopened = optuna.load_study(
        study_name="s", storage=open_storage(f"journal://{tmp_path}/j/study.log")
    )
    assert count_trials(reopened) == {"COMPLETE": 3}


@pytest.mark.parametrize(
    ("url", "field"),
    [("redis://u:topsecret@h/0", "unknown scheme"), ("journal:///", "names no file")],
)
def test_bad_storage_urls_are_user_errors_without_the_password(url: str, field: str) -> None:
    with pytest.raises(StudyInputError, match=field) as info:
        open_storage(url)
    assert "topsecret" not in str(info.value)


@pytest.mark.parametrize(("interval", "grace"), [("0", "10"), ("5", "5"), ("x", "10")])
def test_bad_heartbeat_settings_are_user_errors(monkeypatch, interval: str, grace: str) -> None:
    monkeypatch.setenv(HEARTBEAT_ENV, interval)
    monkeypatch.setenv(GRACE_ENV, grace)
    with pytest.raises(StudyInputError, match="DSE_HEARTBEAT"):
        open_storage("sqlite://")


@pytest.mark.postgres
def test_postgres_storage_and_wrong_password(postgres_url: str) -> None:
    storage = open_storage(postgres_url)
    assert isinstance(storage, RDBStorage)
    assert storage.engine.dialect.driver == "psycopg"
    study = optuna.create_study(study_name=f"storage-{time.time_ns()}", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert count_trials(study) == {"COMPLETE": 2}
    password = postgres_url.split(":")[2].split("@")[0]
    wrong = postgres_url.replace(password, "not-the-password")
    with pytest.raises(StudyInputError, match="cannot be opened") as info:
        open_storage(wrong)
    assert "not-the-password" not in str(info.value)
    assert password not in redact_url(postgres_url)
