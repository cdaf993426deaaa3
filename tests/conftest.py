"""Shared fixtures: a throwaway PostgreSQL server for the distributed-study tests.

`DSE_TEST_POSTGRES_URL` points the tests at an existing server. Otherwise, if Debian's
`initdb`/`pg_ctl` are installed (`.ci/postgres.sh`), a cluster is created in a temporary
directory, listening on 127.0.0.1 on a free port with a password, and removed at the end of
the session. initdb refuses to run as root, so as root the cluster belongs to `postgres`.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_ENV = "DSE_TEST_POSTGRES_URL"
#: The project's shared data (MNIST, real Vivado/Vitis reports), beside the repository.
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `shared` need ../shared; skip them, saying so, in a checkout without it.

    `.ci/run` refuses to start without ../shared, so in CI they always run.
    """
    if SHARED_DIR.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED_DIR} (the project's shared data) is not present")
    for item in items:
        if item.get_closest_marker("shared"):
            item.add_marker(skip)


def _find_pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, on PATH or in Debian's versioned directory."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_cluster_owner(args: list[str]) -> list[str]:
    """Prefix `args` so that they run as `postgres` when the tests run as root."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL (with a password) of a PostgreSQL database the tests may fill with studies."""
    if os.environ.get(POSTGRES_ENV):
        yield os.environ[POSTGRES_ENV]
        return
    pg_bin = _find_pg_bin()
    if pg_bin is None:
        pytest.skip(f"no PostgreSQL: set {POSTGRES_ENV} or install it (bash .ci/postgres.sh)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser; initdb cannot run as root")
    workdir = Path(tempfile.mkdtemp(prefix="dse-pg-"))
    data = workdir / "data"
    password = secrets.token_hex(8)
    pwfile = workdir / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(
        _as_cluster_owner(
            [str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256"]
            + [f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8"]
        ),
        **run,
    )
    options = f"-h 127.0.0.1 -p {port} -k {workdir} -c fsync=off -c max_connections=200"
    ctl = [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(workdir / "log")]
    subprocess.run(_as_cluster_owner([*ctl, "-o", options, "-w", "start"]), **run)
    try:
        yield f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_cluster_owner([*ctl, "-m", "fast", "-w", "stop"]), **run)
        shutil.rmtree(workdir, ignore_errors=True)


# A worker process whose trials mimic a real one: it samples a training key, gets the model from
# the shared cache (training it once per key), sleeps, records user attributes. Each trial
# writes started-<pid>-<number> into `workdir` once its params are stored, so a test can kill it
# mid-trial and compare the retry's params.
MIMIC_WORKER = """
import os, sys, time
from pathlib import Path
import optuna
from dse.cache import ModelCache
from dse.parallel import optimize_to_total
from dse.storage import open_storage

url, name, total, seconds, workdir = sys.argv[1:6]
workdir = Path(workdir)
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.create_study(study_name=name, storage=open_storage(url), load_if_exists=True)
cache = ModelCache(workdir / "cache")

def train(directory):
    with (workdir / "trainings.log").open("a") as log:
        log.write(f"{os.getpid()}\\n")
    time.sleep(float(seconds))
    (directory / "weights.bin").write_bytes(b"w")

def objective(trial):
    width = trial.suggest_categorical("width", [16])
    x = trial.suggest_float("x", 0.0, 1.0)
    (workdir / f"started-{os.getpid()}-{trial.number}").touch()  # params are stored by now
    _, hit = cache.get_or_train({"width": width}, train)
    time.sleep(float(seconds))
    trial.set_user_attr("worker", os.getpid())
    trial.set_user_attr("cache_hit", hit)
    trial.set_user_attr("accuracy", x)
    return x

optimize_to_total(study, objective, int(total), poll_s=0.2)
"""


@pytest.fixture
def mimic_worker(monkeypatch):
    """Start a mimic worker: (url, study name, total, seconds per trial, workdir) -> Popen."""
    monkeypatch.setenv("DSE_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("DSE_HEARTBEAT_GRACE", "4")
    started: list[subprocess.Popen] = []

    def spawn(url: str, name: str, total: int, seconds: float, workdir: Path) -> subprocess.Popen:
        args = [sys.executable, "-c", MIMIC_WORKER, url, name, str(total), str(seconds)]
        proc = subprocess.Popen([*args, str(workdir)])
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
