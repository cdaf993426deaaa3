"""dse.sqlite_storage against Optuna's own RDBStorage: the same calls store the same rows and
read back the same trials, each storage reads the other's file, and the errors match."""

from __future__ import annotations

import datetime
import math
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.trial import TrialState, create_trial

from dse import sqlite_storage
from dse import storage as dse_storage
from dse.sqlite_storage import SQLiteStorage, sqlite_storage_supported

pytestmark = pytest.mark.skipif(
    not sqlite_storage_supported(), reason="this Optuna's tables are not the ones written"
)

#: What differs between two runs whatever the storage: the trials' clock readings, and the
#: alembic bookkeeping written when the file is created.
_TIMES = ("datetime_start", "datetime_complete")
_SKIPPED = {"alembic_version", "version_info", "sqlite_sequence"}


def _open(kind: type[RDBStorage], path: Path) -> RDBStorage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return kind(f"sqlite:///{path}", heartbeat_interval=60, grace_period=120)


def _drive(storage: RDBStorage, seed: int) -> optuna.Study:
    """A seeded mix of what studies do to a storage: asks with every kind of distribution,
    attributes, constraints, intermediate values, tells of every state, enqueued and added
    trials, reads in between."""
    rng = np.random.default_rng(seed)
    study = optuna.create_study(
        storage=storage,
        study_name="s",
        directions=["maximize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    study.set_metric_names(["accuracy", "energy"])
    study.enqueue_trial({"x": 0.5, "k": 4, "c": None}, user_attrs={"queued": True})
    for number in range(24):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        trial.suggest_int("k", 2, 16, step=2)
        trial.suggest_categorical("c", [None, True, "ste", 3])
        trial.set_user_attr("metrics", {"a": [1, 2.5, None], "b": {"n": number}})
        trial.set_user_attr("metrics", {"overwritten": number})  # an update of the same key
        trial.set_constraint("timing", float(rng.normal()))
        # `trial.report` is for single-objective studies; the storage call is what it makes.
        for step, value in enumerate((0.1, math.inf, -math.inf, math.nan, 0.2)):
            storage.set_trial_intermediate_value(trial._trial_id, step % 4, value)  # 0 twice
        study.get_trials(deepcopy=False)  # the cache's incremental read of running trials
        roll = rng.integers(4)
        if roll == 0:
            study.tell(trial, [float(rng.uniform()), math.inf if number % 5 == 0 else -1.0])
        elif roll == 1:
            study.tell(trial, state=TrialState.PRUNED)
        elif roll == 2:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, [float(rng.uniform()), float(rng.uniform())])
        if number % 3 == 0:
            study.add_trial(
                create_trial(
                    params={"x": 0.25, "k": 8, "c": "ste"},
                    distributions={  # not in the parameters' order
                        "c": CategoricalDistribution([None, True, "ste", 3]),
                        "x": FloatDistribution(0.0, 1.0),
                        "k": IntDistribution(2, 16, step=2),
                    },
                    values=[0.9, float(number)],
                    user_attrs={"variant_of": number, "nested": [[1], {"z": None}]},
                    system_attrs={"constraints:timing": -1.0},
                    intermediate_values={0: 0.5, 3: math.inf},
                )
            )
    waiting = create_trial(state=TrialState.WAITING, params={}, distributions={})
    study.add_trial(waiting)
    study.ask().suggest_float("x", 0.0, 1.0)  # the waiting trial, run and left running
    study.add_trial(waiting)
    return study


def _rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, clock readings replaced by whether they are set."""
    db = sqlite3.connect(path)
    tables = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name not in _SKIPPED
    ]
    found = {}
    for table in tables:
        columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
        rows = []
        for row in db.execute(f"SELECT * FROM {table} ORDER BY 1"):
            rows.append(
                tuple(
                    (v is not None) if table == "trials" and c in _TIMES else v
                    for c, v in zip(columns, row, strict=True)
                )
            )
        found[table] = rows
    db.close()
    return found


def _comparable(trial: optuna.trial.FrozenTrial) -> tuple:
    values = None if trial.values is None else [repr(v) for v in trial.values]
    steps = {k: repr(v) for k, v in trial.intermediate_values.items()}
    return (
        trial.number,
        trial._trial_id,
        trial.state,
        values,
        list(trial.params.items()),  # in the order drawn, as samplers see them
        list(trial.distributions.items()),
        list(trial.user_attrs.items()),
        list(trial.system_attrs.items()),
        list(steps.items()),
        trial.datetime_start is not None,
        trial.datetime_complete is not None,
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_same_calls_store_the_same_rows_and_trials(tmp_path: Path, seed: int) -> None:
    ours = _drive(_open(SQLiteStorage, tmp_path / "ours.db"), seed)
    optunas = _drive(_open(RDBStorage, tmp_path / "optuna.db"), seed)
    assert _rows(tmp_path / "ours.db") == _rows(tmp_path / "optuna.db")
    mine, theirs = ours.get_trials(), optunas.get_trials()
    assert len(mine) == 24 + 8 + 2  # enqueued and waiting trials are asked first
    assert {t.state for t in mine} == set(TrialState)  # every state written and read
    assert [_comparable(t) for t in mine] == [_comparable(t) for t in theirs]


def test_each_reads_the_other_s_file(tmp_path: Path) -> None:
    """A study written by one storage reads back identically through the other, times too."""
    for writer, reader in ((SQLiteStorage, RDBStorage), (RDBStorage, SQLiteStorage)):
        path = tmp_path / f"{writer.__name__}.db"
        written = _drive(_open(writer, path), seed=2).get_trials()
        read = optuna.load_study(study_name="s", storage=_open(reader, path)).get_trials()
        assert [(_comparable(t), t.datetime_start, t.datetime_complete) for t in read] == [
            (_comparable(t), t.datetime_start, t.datetime_complete) for t in written
        ]


def test_incremental_reads_match(tmp_path: Path) -> None:
    """The reads Optuna's cache makes (all trials, some states, the running ones again plus
    the newer ones; more running ones than SQLite takes as parameters) on one file."""
    path = tmp_path / "r.db"
    study_id = _drive(_open(SQLiteStorage, path), seed=3)._study_id
    ours, optunas = _open(SQLiteStorage, path), _open(RDBStorage, path)
    unfinished = {t._trial_id for t in ours.get_all_trials(study_id) if not t.state.is_finished()}
    for states, included, newer_than in (
        (None, set(), -1),
        ((TrialState.COMPLETE, TrialState.WAITING), set(), -1),
        (None, {3, 5, 40}, 12),
        ((TrialState.RUNNING,), unfinished, 20),
        (None, set(range(1, 30_001)), 30_000),
    ):
        mine = ours._get_trials(study_id, states, included, newer_than)
        theirs = optunas._get_trials(study_id, states, included, newer_than)
        assert mine, (states, newer_than)
        assert [_comparable(t) for t in mine] == [_comparable(t) for t in theirs]


def test_a_template_s_times_are_stored_as_optuna_stores_them(tmp_path: Path) -> None:
    """The clock text itself (what other tools parse), on a template whose times are fixed;
    a whole second too, where a plain isoformat would drop the microseconds."""
    start = datetime.datetime(2026, 1, 2, 3, 4, 5)
    template = create_trial(value=1.0, params={}, distributions={})
    template.datetime_start = start
    template.datetime_complete = start + datetime.timedelta(seconds=1, microseconds=7)
    stored = []
    for kind in (SQLiteStorage, RDBStorage):
        path = tmp_path / f"{kind.__name__}.db"
        optuna.create_study(storage=_open(kind, path), study_name="t").add_trial(template)
        db = sqlite3.connect(path)
        stored.append(db.execute("SELECT datetime_start, datetime_complete FROM trials").fetchall())
        db.close()
    assert stored[0] == stored[1]
    (trial,) = optuna.load_study(
        study_name="t", storage=_open(RDBStorage, tmp_path / "SQLiteStorage.db")
    ).trials
    assert (trial.datetime_start, trial.datetime_complete) == (
        template.datetime_start,
        template.datetime_complete,
    )


def _error(call) -> type[BaseException] | None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return type(exc)
    return None


def _errors(storage: RDBStorage) -> dict[str, object]:
    """What each wrong call raises (or returns) on `storage`."""
    study = optuna.create_study(storage=storage, study_name="e")
    trial = study.ask()
    storage.set_trial_param(trial._trial_id, "x", 0.0, FloatDistribution(0, 1))
    other = study.ask()
    done = study.ask()
    study.tell(done, 1.0)
    checks = {
        # A parameter's distribution changed within a study.
        "incompatible": lambda: storage.set_trial_param(
            other._trial_id, "x", 0.0, CategoricalDistribution(["a"])
        ),
        "finished param": lambda: storage.set_trial_param(
            done._trial_id, "y", 0.0, FloatDistribution(0, 1)
        ),
        "finished attr": lambda: storage.set_trial_user_attr(done._trial_id, "a", 1),
        "finished tell": lambda: storage.set_trial_state_values(
            done._trial_id, TrialState.COMPLETE, [2.0]
        ),
        "unknown trial": lambda: storage.get_trial(10_000),
        "unknown attr trial": lambda: storage.set_trial_system_attr(10_000, "a", 1),
        "unknown study": lambda: storage._get_trials(10_000, None, set(), -1),
        "unknown study trial": lambda: storage.create_new_trial(10_000),
    }
    found: dict[str, object] = {name: _error(check) for name, check in checks.items()}
    # Running a trial that is not waiting is refused, not an error.
    found["restart"] = storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING)
    return found


def test_errors_match_optuna_s(tmp_path: Path) -> None:
    ours = _errors(_open(SQLiteStorage, tmp_path / "ours.db"))
    assert ours == _errors(_open(RDBStorage, tmp_path / "optuna.db"))
    assert ours["finished attr"] is UpdateFinishedTrialError
    assert ours["incompatible"] is ValueError
    assert ours["unknown trial"] is KeyError
    assert ours["restart"] is False


def test_open_storage_falls_back_to_optuna_s(tmp_path: Path, monkeypatch) -> None:
    assert type(dse_storage.open_storage(f"sqlite:///{tmp_path}/a.db")) is SQLiteStorage
    monkeypatch.setattr(sqlite_storage, "sqlite_storage_supported", lambda: False)
    assert type(dse_storage.open_storage(f"sqlite:///{tmp_path}/b.db")) is RDBStorage


def test_a_waiting_trial_taken_meanwhile_is_refused(tmp_path: Path, monkeypatch) -> None:
    """Two workers taking one waiting trial: the one whose write comes second is told no
    (RDBStorage on SQLite would let both run it)."""
    path = tmp_path / "w.db"
    ours, other = _open(SQLiteStorage, path), _open(RDBStorage, path)
    study = optuna.create_study(storage=ours, study_name="w")
    study.enqueue_trial({})
    trial_id = ours.get_trial_id_from_study_id_trial_number(study._study_id, 0)
    read, reads = ours._updatable, []

    def read_then_taken(db, trial):
        found = read(db, trial)
        reads.append(found)
        if len(reads) == 1:  # the other worker takes it between this read and the write
            assert other.set_trial_state_values(trial, TrialState.RUNNING)
        return found

    monkeypatch.setattr(ours, "_updatable", read_then_taken)
    assert ours.set_trial_state_values(trial_id, TrialState.RUNNING) is False
    monkeypatch.undo()
    assert ours.get_trial(trial_id).state == TrialState.RUNNING
