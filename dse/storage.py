"""Open the Optuna storage a study lives in, so that several processes and machines share it.

Optuna's RDB storage is the distributed engine: PostgreSQL for several machines, SQLite for one
machine. Both get heartbeats, so a worker killed mid-trial leaves a RUNNING trial that the next
worker fails after the grace period and re-enqueues (same parameters) through
``RetryHeartbeatStaleTrialCallback`` (Optuna 4.9+); only that trial's partial work is lost.

Local multi-process runs (``--jobs``) stay on SQLite rather than the journal file: SQLite's
file locking serialises the few writes a trial makes (ask, attributes, tell, one heartbeat every
few seconds), a busy timeout makes writers wait instead of failing with "database is locked",
and WAL mode lets readers run beside the writer. The journal file storage has no heartbeats, so
a killed worker's trial would stay RUNNING for ever; it is still available as
``journal:///path/to/study.log`` for file systems where SQLite's locks are unreliable (NFS).

A SQLite file opens as `dse.sqlite_storage.SQLiteStorage`, Optuna's RDB storage with a trial's
reads and writes as plain SQL (same tables, same file); PostgreSQL opens as `RDBStorage`.
"""

from __future__ import annotations

import os
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import optuna
from filelock import FileLock
from optuna.exceptions import ExperimentalWarning
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from dse.errors import StudyInputError
from dse.redaction import redact_url

__all__ = ["count_trials", "heartbeat_settings", "open_storage", "redact_url"]

#: Seconds between heartbeats of a running trial, and seconds without one before it is stale.
#: The grace period covers a heartbeat thread starved by training on busy cores.
DEFAULT_HEARTBEAT_INTERVAL = 10
DEFAULT_GRACE_PERIOD = 60
#: How often a trial that lost its worker is re-run with the same parameters.
MAX_RETRY = 3
#: Seconds a SQLite writer waits for the lock held by another process.
SQLITE_BUSY_TIMEOUT_S = 120

HEARTBEAT_ENV = "DSE_HEARTBEAT_INTERVAL"
GRACE_ENV = "DSE_HEARTBEAT_GRACE"

#: PostgreSQL advisory-lock key that serialises schema and study creation (any int64).
_CREATION_LOCK_KEY = zlib.crc32(b"dse: create storage and study")

_RDB_SCHEMES = ("postgresql", "sqlite")

T = TypeVar("T")


def heartbeat_settings() -> tuple[int, int]:
    """Heartbeat interval and grace period in seconds (environment overrides for short tests)."""
    values = []
    for env, default in (
        (HEARTBEAT_ENV, DEFAULT_HEARTBEAT_INTERVAL),
        (GRACE_ENV, DEFAULT_GRACE_PERIOD),
    ):
        raw = os.environ.get(env, str(default))
        if not raw.isdigit() or int(raw) < 1:
            raise StudyInputError(
                f"{env}={raw!r} is not a whole number of seconds >= 1; fix or unset it"
            )
        values.append(int(raw))
    interval, grace = values
    if grace <= interval:
        raise StudyInputError(
            f"{GRACE_ENV}={grace} must exceed {HEARTBEAT_ENV}={interval}; use about 3x the interval"
        )
    return interval, grace


def open_storage(url: str) -> BaseStorage:
    """Open (and create the tables of) the storage at `url`, ready for concurrent workers."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "journal":
        return _open_journal(url)
    if scheme not in _RDB_SCHEMES:
        raise StudyInputError(
            f"storage {redact_url(url)!r} has an unknown scheme; use postgresql://, "
            "sqlite:///path.db or journal:///path.log"
        )
    interval, grace = heartbeat_settings()
    engine_kwargs: dict = {"pool_pre_ping": True}
    if scheme == "sqlite":
        _make_parent(_sqlite_path(url), url)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}

    kind = RDBStorage
    if scheme == "sqlite":  # imports Optuna's table models: only for SQLite files
        from dse.sqlite_storage import SQLiteStorage, sqlite_storage_supported

        if sqlite_storage_supported():
            kind = SQLiteStorage

    def connect() -> RDBStorage:
        with warnings.catch_warnings():  # heartbeats are "experimental", but needed
            warnings.simplefilter("ignore", ExperimentalWarning)
            return kind(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=interval,
                grace_period=grace,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                    max_retry=MAX_RETRY
                ),
            )

    storage = _opened(url, connect)
    if scheme == "sqlite":
        _enable_wal(storage)
    return storage


def _opened(url: str, connect: Callable[[], T]) -> T:
    """`connect()`, with a missing driver or an unreachable database turned into one line
    naming the fix.

    That error is raised outside the `except` block, so that it carries no context: the
    driver's exception (and SQLAlchemy's, which quotes a URL it cannot parse whole) would
    otherwise travel with it, password and all, into a traceback or a notebook.
    """
    try:
        return connect()
    except ImportError as exc:
        problem = (
            f"storage {redact_url(url)!r} needs a database driver ({exc.name}); "
            "install it with pip install -e '.[postgres]'"
        )
    except (SQLAlchemyError, OSError) as exc:  # refused, bad credentials, unknown database
        # The driver's message can echo the URL, so only the exception type is shown.
        problem = (
            f"storage {redact_url(url)!r} cannot be opened ({type(exc).__name__}); "
            "check the host, port, user, password and database name"
        )
    raise StudyInputError(problem)


@contextmanager
def creation_lock(url: str) -> Iterator[None]:
    """Hold a lock, shared by every process using `url`, while the schema and study are created.

    Optuna creates its tables and the study without guarding against a concurrent creator
    (its maintainers advise creating them first), so workers started together on an empty
    database race and one fails with an IntegrityError.  PostgreSQL gets a session advisory
    lock on the database itself; SQLite a file lock beside the database file; the journal
    file storage has its own lock and needs none.
    """
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        path = _sqlite_path(url)
        if path is None:  # an in-memory database belongs to one process
            yield
            return
        _make_parent(path, url)
        try:
            lock = FileLock(f"{path}.create.lock")
            lock.acquire()
        except OSError as exc:
            raise _unwritable(url, path, exc) from None
        try:
            yield
        finally:
            lock.release()
        return
    if scheme != "postgresql":
        yield
        return
    engine = _opened(url, lambda: create_engine(url, poolclass=NullPool))
    conn = _opened(url, engine.connect)
    try:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _CREATION_LOCK_KEY})
        yield
    finally:
        conn.close()  # ending the session releases its advisory lock
        engine.dispose()


def _sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite URL, or None for an in-memory database."""
    database = make_url(url).database
    return None if database in (None, "", ":memory:") else Path(database)


def _make_parent(path: Path | None, url: str) -> None:
    """Create the folder of a storage file; an impossible location is one line, not a
    traceback (a file on the path, a read-only or virtual file system, a name too long)."""
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(url, path, exc) from None


def _unwritable(url: str, path: Path, exc: OSError) -> StudyInputError:
    return StudyInputError(
        f"storage {redact_url(url)!r}: cannot create {str(path)[-200:]!r} "
        f"({exc.strerror or type(exc).__name__}); choose a writable path"
    )


def _enable_wal(storage: RDBStorage) -> None:
    """Switch the SQLite file to write-ahead logging (persistent), so readers never block.

    With WAL, ``synchronous=NORMAL`` stays crash-safe (a power cut may lose the last
    commits, never corrupt the file) and makes Optuna's many small commits (one per parameter
    drawn, per constraint, per metric group) several times cheaper; it is a per-connection
    setting, hence the listener.
    """

    def _normal_sync(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(storage.engine, "connect", _normal_sync)
    storage.engine.dispose()  # pooled connections made before the listener reconnect
    with storage.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")


def _open_journal(url: str) -> JournalStorage:
    """Journal-file storage with an open(O_EXCL) lock, which also works on NFS."""
    path = Path(url.split("://", 1)[1])
    if not path.name:
        raise StudyInputError(
            f"storage {redact_url(url)!r} names no file; use journal:///absolute/path/study.log"
        )
    _make_parent(path, url)
    try:
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
    except OSError as exc:
        raise _unwritable(url, path, exc) from None
    return JournalStorage(backend)


def count_trials(study: optuna.Study) -> dict[str, int]:
    """Trials per state name (``COMPLETE``, ``RUNNING``, ...), for progress lines and tests."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts
