"""Optuna's RDB storage on SQLite, with the per-trial reads and writes as plain SQL statements.

A quickstart trial makes about twenty small storage calls (ask, one per parameter drawn, the
grouped metrics, the constraints, each hardware variant, tell) and reads the running trial
back a few times.  `RDBStorage` runs each through a SQLAlchemy ORM session (object loads,
identity map, flush, relationship loading): 0.5 to 14 ms of CPU per call, many times what
SQLite itself spends, which made the quickstart 2.3x as slow on SQLite as on the journal
file (docs/measurements.md, "Study storage").  `SQLiteStorage` keeps Optuna's schema,
transactions, checks and error types (`optuna-dashboard`, `optuna.load_study` and plain
`RDBStorage` read and write the same file) and replaces only the per-trial methods that
Optuna's `_CachedStorage` calls, with SQL on the connection SQLAlchemy hands out (written by
hand on purpose: SQLAlchemy Core still costs about 80 us a statement against 6 us for the
driver).  Study creation,
heartbeats and everything else stay Optuna's.

The SQL follows Optuna's table layout (`optuna.storages._rdb.models`, private):
`sqlite_storage_supported` checks the installed Optuna's tables are the ones written
against, and `dse.storage` falls back to plain `RDBStorage` when they are not.
tests/dse/test_sqlite_storage.py runs the same calls on both storages and compares what
each stores and returns.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Container, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import optuna
from optuna import distributions
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.exc import SQLAlchemyError

try:  # Optuna's table definitions; private, hence the guard
    from optuna.storages._rdb import models
except ImportError:  # pragma: no cover - depends on the installed Optuna
    models = None

__all__ = ["SQLiteStorage", "sqlite_storage_supported"]

#: The tables and columns the SQL below is written against (Optuna 5.x).
_EXPECTED_COLUMNS = {
    "studies": {"study_id", "study_name"},
    "trials": {"trial_id", "number", "study_id", "state", "datetime_start", "datetime_complete"},
    "trial_params": {"param_id", "trial_id", "param_name", "param_value", "distribution_json"},
    "trial_values": {"trial_value_id", "trial_id", "objective", "value", "value_type"},
    "trial_user_attributes": {"trial_user_attribute_id", "trial_id", "key", "value_json"},
    "trial_system_attributes": {"trial_system_attribute_id", "trial_id", "key", "value_json"},
    "trial_intermediate_values": {
        "trial_intermediate_value_id",
        "trial_id",
        "step",
        "intermediate_value",
        "intermediate_value_type",
    },
}
_ATTR_TABLES = ("trial_user_attributes", "trial_system_attributes")
#: A trial's objective values are written once, when it finishes (or from a template).
_INSERT_VALUES = (
    "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)"
)


def sqlite_storage_supported() -> bool:
    """Whether the installed Optuna's tables are the ones this module writes (and SQLite has
    the upsert it uses); otherwise `dse.storage` opens plain `RDBStorage`."""
    if models is None or sqlite3.sqlite_version_info < (3, 24, 0):
        return False
    tables = models.BaseModel.metadata.tables
    return all(
        name in tables and {c.name for c in tables[name].columns} == columns
        for name, columns in _EXPECTED_COLUMNS.items()
    )


def _stored_time(moment: datetime | None) -> str | None:
    """Naive local time as Optuna stores it: naive UTC in SQLAlchemy's SQLite text format."""
    if moment is None:
        return None
    return f"{moment.astimezone(UTC).replace(tzinfo=None):%Y-%m-%d %H:%M:%S.%f}"


def _local_time(stored: str | None) -> datetime | None:
    if stored is None:
        return None
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


def _value_row(trial_id: int, objective: int, value: float) -> tuple:
    stored, kind = models.TrialValueModel.value_to_stored_repr(value)
    return trial_id, objective, stored, kind.name


def _step_row(trial_id: int, step: int, value: float) -> tuple:
    stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)
    return trial_id, step, stored, kind.name


class SQLiteStorage(RDBStorage):
    """`RDBStorage` for SQLite whose per-trial calls are a few SQL statements each."""

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The driver's connection inside one committed transaction; errors as
        `RDBStorage` raises them."""
        try:
            with self.engine.begin() as conn:
                yield conn.connection.driver_connection
        except sqlite3.IntegrityError:
            raise  # the callers that expect one handle it, as RDBStorage's do
        except (sqlite3.Error, SQLAlchemyError) as exc:
            raise optuna.exceptions.StorageInternalError(
                "An exception is raised during the commit. This typically happens due to "
                "invalid data in the commit, e.g. exceeding max length."
            ) from exc

    def _updatable(self, db: sqlite3.Connection, trial_id: int) -> tuple[int, TrialState]:
        """The study and state of a trial that may still be written; `RDBStorage`'s errors
        otherwise."""
        row = db.execute(
            "SELECT study_id, state FROM trials WHERE trial_id = ?", (trial_id,)
        ).fetchone()
        if row is None:
            raise KeyError(models.NOT_FOUND_MSG)
        state = TrialState[row[1]]
        self.check_trial_is_updatable(trial_id, state)
        return row[0], state

    @staticmethod
    def _check_distribution(
        db: sqlite3.Connection,
        study_id: int,
        name: str,
        distribution: distributions.BaseDistribution,
    ) -> None:
        """`distribution` against the one the study already stores for parameter `name`."""
        row = db.execute(
            "SELECT p.distribution_json FROM trial_params p JOIN trials t "
            "ON t.trial_id = p.trial_id WHERE t.study_id = ? AND p.param_name = ? LIMIT 1",
            (study_id, name),
        ).fetchone()
        if row is not None:
            distributions.check_distribution_compatibility(
                distributions.json_to_distribution(row[0]), distribution
            )

    # --- writes -------------------------------------------------------------------------

    def _create_new_trial(
        self, study_id: int, template_trial: FrozenTrial | None = None
    ) -> FrozenTrial:
        template = template_trial
        start = datetime.now() if template is None else template.datetime_start
        complete = None if template is None else template.datetime_complete
        with self._transaction() as db:
            # The insert takes SQLite's write lock, so counting the trials before it is safe.
            cursor = db.execute(
                "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete) "
                "SELECT NULL, study_id, 'RUNNING', ?, ? FROM studies WHERE study_id = ?",
                (_stored_time(start), _stored_time(complete), study_id),
            )
            if cursor.rowcount != 1:
                raise KeyError(models.NOT_FOUND_MSG)
            trial_id = cursor.lastrowid
            if template is not None:
                self._write_template(db, study_id, trial_id, template)
            (number,) = db.execute(
                "SELECT COUNT(*) FROM trials WHERE study_id = ? AND trial_id < ?",
                (study_id, trial_id),
            ).fetchone()
            state = TrialState.RUNNING if template is None else template.state
            db.execute(
                "UPDATE trials SET number = ?, state = ? WHERE trial_id = ?",
                (number, state.name, trial_id),
            )
        if template is None:
            return FrozenTrial(
                number=number,
                state=TrialState.RUNNING,
                value=None,
                values=None,
                datetime_start=start,
                datetime_complete=None,
                params={},
                distributions={},
                user_attrs={},
                system_attrs={},
                intermediate_values={},
                trial_id=trial_id,
            )
        frozen = copy.deepcopy(template)  # what RDBStorage returns, and _CachedStorage keeps
        frozen.number = number
        frozen._trial_id = trial_id
        return frozen

    def _write_template(
        self, db: sqlite3.Connection, study_id: int, trial_id: int, template: FrozenTrial
    ) -> None:
        """A template trial's values, parameters, attributes and intermediate values."""
        for name, distribution in template.distributions.items():
            self._check_distribution(db, study_id, name, distribution)
        values = [] if template.values is None else template.values
        db.executemany(_INSERT_VALUES, [_value_row(trial_id, i, v) for i, v in enumerate(values)])
        db.executemany(
            "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
            "VALUES (?, ?, ?, ?)",
            [
                (
                    trial_id,
                    name,
                    template.distributions[name].to_internal_repr(value),
                    distributions.distribution_to_json(template.distributions[name]),
                )
                for name, value in template.params.items()  # RDBStorage's order
            ],
        )
        for table, attrs in zip(
            _ATTR_TABLES, (template.user_attrs, template.system_attrs), strict=True
        ):
            db.executemany(
                f"INSERT INTO {table} (trial_id, key, value_json) VALUES (?, ?, ?)",
                [(trial_id, key, json.dumps(value)) for key, value in attrs.items()],
            )
        db.executemany(
            "INSERT INTO trial_intermediate_values "
            "(trial_id, step, intermediate_value, intermediate_value_type) VALUES (?, ?, ?, ?)",
            [_step_row(trial_id, s, v) for s, v in template.intermediate_values.items()],
        )

    def _set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: distributions.BaseDistribution,
        previous_distribution: distributions.BaseDistribution | None,
    ) -> None:
        try:
            with self._transaction() as db:
                study_id, _ = self._updatable(db, trial_id)
                if previous_distribution is None:
                    self._check_distribution(db, study_id, param_name, distribution)
                else:
                    distributions.check_distribution_compatibility(
                        previous_distribution, distribution
                    )
                db.execute(
                    "INSERT INTO trial_params (trial_id, param_name, param_value, "
                    "distribution_json) VALUES (?, ?, ?, ?)",
                    (
                        trial_id,
                        param_name,
                        param_value_internal,
                        distributions.distribution_to_json(distribution),
                    ),
                )
        except sqlite3.IntegrityError:
            pass  # as RDBStorage: another writer stored this parameter first

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_attr("trial_user_attributes", trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_attr("trial_system_attributes", trial_id, key, value)

    def _set_attr(self, table: str, trial_id: int, key: str, value: Any) -> None:
        with self._transaction() as db:
            self._updatable(db, trial_id)
            db.execute(
                f"INSERT INTO {table} (trial_id, key, value_json) VALUES (?, ?, ?) "
                "ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json",
                (trial_id, key, json.dumps(value)),
            )

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        try:
            with self._transaction() as db:
                _, current = self._updatable(db, trial_id)
                if state == TrialState.RUNNING and current != TrialState.WAITING:
                    return False
                now = _stored_time(datetime.now())
                changed = db.execute(
                    "UPDATE trials SET state = ?, "
                    "datetime_start = CASE WHEN ? THEN ? ELSE datetime_start END, "
                    "datetime_complete = CASE WHEN ? THEN ? ELSE datetime_complete END "
                    "WHERE trial_id = ? AND state = ?",
                    (
                        state.name,
                        state == TrialState.RUNNING,
                        now,
                        state.is_finished(),
                        now,
                        trial_id,
                        current.name,
                    ),
                ).rowcount
                if not changed:
                    # Another process changed the state since it was read (two workers
                    # taking one waiting trial, a stale trial failed): as if read after.
                    self._updatable(db, trial_id)
                    return False
                db.executemany(
                    _INSERT_VALUES, [_value_row(trial_id, i, v) for i, v in enumerate(values or ())]
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        with self._transaction() as db:
            self._updatable(db, trial_id)
            db.execute(
                "INSERT INTO trial_intermediate_values "
                "(trial_id, step, intermediate_value, intermediate_value_type) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (trial_id, step) DO UPDATE SET "
                "intermediate_value = excluded.intermediate_value, "
                "intermediate_value_type = excluded.intermediate_value_type",
                _step_row(trial_id, step, intermediate_value),
            )

    # --- reads --------------------------------------------------------------------------

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._transaction() as db:
            trials = self._read(db, "t.trial_id = ?", (trial_id,))
        if not trials:
            raise KeyError(models.NOT_FOUND_MSG)
        return trials[0]

    def _get_trials(
        self,
        study_id: int,
        states: Container[TrialState] | None,
        included_trial_ids: set[int],
        trial_id_greater_than: int,
    ) -> list[FrozenTrial]:
        included = sorted(i for i in included_trial_ids if i <= trial_id_greater_than)
        states_clause, args = "", [study_id]
        if states is not None:
            names = [s.name for s in TrialState if s in states]
            states_clause = f" AND t.state IN ({', '.join('?' * len(names))})"
            args += names
        if len(included) >= 30_000:  # more than SQLite takes as parameters: read from the oldest
            trial_id_greater_than, included = included[0] - 1, []
        with self._transaction() as db:
            if (
                db.execute("SELECT 1 FROM studies WHERE study_id = ?", (study_id,)).fetchone()
                is None
            ):
                raise KeyError(models.NOT_FOUND_MSG)
            if trial_id_greater_than < 0:
                return self._read(db, f"t.study_id = ?{states_clause}", tuple(args))
            # "+t.study_id": an incremental read finds its trials by id (the primary key),
            # not by scanning every trial of the study through the study index.
            base = f"+t.study_id = ?{states_clause}"
            found = []
            if included:  # the running trials of the last read, all older than the rest
                marks = ", ".join("?" * len(included))
                found = self._read(db, f"{base} AND t.trial_id IN ({marks})", (*args, *included))
            return found + self._read(
                db, f"{base} AND t.trial_id > ?", (*args, trial_id_greater_than)
            )

    def _read(self, db: sqlite3.Connection, where: str, args: tuple) -> list[FrozenTrial]:
        """The trials matching `where` (over `trials t`), by trial id; each other table is
        read in one query joined on the same condition."""
        rows = db.execute(
            "SELECT t.trial_id, t.number, t.state, t.datetime_start, t.datetime_complete "
            f"FROM trials t WHERE {where} ORDER BY t.trial_id",
            args,
        ).fetchall()
        if not rows:
            return []

        def children(columns: str, table: str, order: str) -> dict[int, list[tuple]]:
            found: dict[int, list[tuple]] = {}
            query = (
                f"SELECT c.trial_id, {columns} FROM {table} c JOIN trials t "
                f"ON t.trial_id = c.trial_id WHERE {where} ORDER BY c.trial_id, {order}"
            )
            for row in db.execute(query, args):
                found.setdefault(row[0], []).append(row[1:])
            return found

        params = children(
            "c.param_name, c.param_value, c.distribution_json", "trial_params", "c.param_id"
        )
        values = children("c.objective, c.value, c.value_type", "trial_values", "c.objective")
        # Attributes by key: the order Optuna's relationship loads give (the unique index).
        user, system = (children("c.key, c.value_json", table, "c.key") for table in _ATTR_TABLES)
        steps = children(
            "c.step, c.intermediate_value, c.intermediate_value_type",
            "trial_intermediate_values",
            "c.step",
        )
        return [
            _frozen(
                row,
                params.get(row[0], []),
                values.get(row[0], []),
                user.get(row[0], []),
                system.get(row[0], []),
                steps.get(row[0], []),
            )
            for row in rows
        ]


def _frozen(
    row: tuple,
    params: list[tuple],
    values: list[tuple],
    user: list[tuple],
    system: list[tuple],
    steps: list[tuple],
) -> FrozenTrial:
    """A FrozenTrial from its rows, as `RDBStorage._build_frozen_trial_from_trial_model`."""
    trial_id, number, state, start, complete = row
    dists = {name: distributions.json_to_distribution(text) for name, _, text in params}
    stored_values = None
    if values:
        stored_values = [0.0] * len(values)
        kinds = models.TrialValueModel.TrialValueType
        for objective, value, kind in values:
            stored_values[objective] = models.TrialValueModel.stored_repr_to_value(
                value, kinds[kind]
            )
    step_kinds = models.TrialIntermediateValueModel.TrialIntermediateValueType
    return FrozenTrial(
        number=number,
        state=TrialState[state],
        value=None,
        values=stored_values,
        datetime_start=_local_time(start),
        datetime_complete=_local_time(complete),
        params={name: dists[name].to_external_repr(value) for name, value, _ in params},
        distributions=dists,
        user_attrs={key: json.loads(text) for key, text in user},
        system_attrs={key: json.loads(text) for key, text in system},
        intermediate_values={
            step: models.TrialIntermediateValueModel.stored_repr_to_intermediate_value(
                value, step_kinds[kind]
            )
            for step, value, kind in steps
        },
        trial_id=trial_id,
    )
