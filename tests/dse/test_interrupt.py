"""Ctrl-C and SIGTERM on real `dse run` processes: one resume line, exit 130, nothing counted
as a failure, and the `--jobs` workers stopped with their parent."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"


def _study_file(tmp_path: Path, **overrides) -> Path:
    raw = yaml.safe_load(TINY.read_text())
    # Training long enough (a few seconds) for the signal to land inside a trial.
    raw["training"].update(epochs=60)
    raw.update(name="sig", output_dir=str(tmp_path / "out"), **overrides)
    path = tmp_path / "sig.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _states(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db) as conn:
            return [row[0] for row in conn.execute("SELECT state FROM trials ORDER BY number")]
    except sqlite3.OperationalError:  # not created yet
        return []


def _wait_running(db: Path, proc: subprocess.Popen, count: int = 1) -> None:
    deadline = time.monotonic() + 120
    while _states(db).count("RUNNING") < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no trial started"
        time.sleep(0.1)
    time.sleep(0.5)


def _as_foreground_job() -> None:
    """A terminal's foreground job takes Ctrl-C; a suite started in the background (`cmd &`,
    nohup) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _dse(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("DSE_QUIET_INTERRUPT", None)
    command = [sys.executable, "-m", "dse.cli", *args]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_as_foreground_job,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_says_how_to_resume_and_the_resume_exits_0(tmp_path, sig) -> None:
    study = _study_file(tmp_path, n_trials=1)
    db = tmp_path / "out" / "study.db"
    proc = _dse("run", str(study))
    _wait_running(db, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    lines = [line for line in text.splitlines() if "interrupted" in line]
    assert lines == [f"interrupted; resume with: dse run {study}"]
    assert _states(db) == ["FAIL"]  # failed at once, not left RUNNING for the heartbeat
    # The interrupted trial is not a failure of the study: a budget of 1 still completes.
    resumed = _dse("run", str(study))
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    assert _states(db) == ["FAIL", "COMPLETE"]
    assert "Pareto front" in out.decode()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_the_n_jobs_parent_stops_its_workers(tmp_path, sig) -> None:
    study = _study_file(tmp_path, n_trials=4)
    db = tmp_path / "out" / "study.db"
    proc = _dse("run", str(study), "--jobs", "2")
    _wait_running(db, proc, count=2)
    workers = _children(proc.pid)
    assert len(workers) == 2
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    assert [line for line in text.splitlines() if "interrupted" in line] == [
        f"interrupted; resume with: dse run {study} --jobs 2"
    ]
    assert not [pid for pid in workers if _alive(pid)]
    assert "RUNNING" not in _states(db)  # the workers failed their trials on the way out


LOST = """
import os, signal, time, weakref
from dse.interrupt import resumable

class Thing:
    pass

with resumable("dse run lost.yaml"):
    thing = Thing()
    ref = weakref.ref(thing, lambda _: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.1)))
    del thing  # the callback runs here: the interrupt lands inside it, where Python drops it
    time.sleep(5)
    print("went on")
"""


def test_an_interrupt_raised_inside_a_callback_still_stops_the_run(tmp_path: Path) -> None:
    """Python swallows an exception raised in a weakref callback ("Exception ignored in");
    a Ctrl-C that lands there must still stop the run at once, with no traceback."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("DSE_QUIET_INTERRUPT", None)
    proc = subprocess.run(
        [sys.executable, "-c", LOST],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_as_foreground_job,
    )
    assert proc.returncode == 130, proc.stderr
    assert "went on" not in proc.stdout
    assert proc.stderr.strip() == "interrupted; resume with: dse run lost.yaml"


# `dse run --jobs 2` in a real parent process whose workers stand in for `dse worker` (they
# sleep, leave their pid in a file and exit 130 on SIGINT like a worker, or ignore it), so
# that only the parent's handling of the interrupt is timed: seconds, no training.
PARALLEL = """
import os, signal, sys, time, weakref
import dse.parallel as parallel
import dse.progress as progress
from dse.cli import main

study, pids, mode = sys.argv[1:4]
WORKER = (
    "import os, signal, sys, time; "
    f"open(os.path.join({pids!r}, str(os.getpid())), 'w').close(); "
    + ("signal.signal(signal.SIGINT, signal.SIG_IGN); " if mode == "twice" else
       "signal.signal(signal.SIGINT, lambda *_: sys.exit(130)); ")
    + "time.sleep(60)"
)
parallel.worker_command = lambda *args: [sys.executable, "-c", WORKER]
refresh = progress.StudyProgress.refresh


class Thing:
    pass


def injected(self, study):
    if len(os.listdir(pids)) == 2 and not getattr(injected, "done", False):
        injected.done = True
        if mode == "weakref":  # the interrupt lands in a callback, where Python drops it
            thing = Thing()
            stop = lambda _: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2))
            ref = weakref.ref(thing, stop)
            del thing
        elif mode == "swallowed":  # a library that catches everything, KeyboardInterrupt too
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)
            except KeyboardInterrupt:
                pass
    return refresh(self, study)


progress.StudyProgress.refresh = injected
sys.exit(main(["run", study, "--jobs", "2"]))
"""


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("mode", ["plain", "weakref", "swallowed", "twice"])
def test_ctrl_c_under_n_jobs_2_stops_the_run_and_every_worker(tmp_path: Path, mode) -> None:
    """SIGINT to `dse run --jobs 2`: exit 130, one resume line, both workers gone, within
    seconds; also when the KeyboardInterrupt is dropped in a weakref callback or swallowed by
    code that catches everything, and when a second Ctrl-C cuts the workers' grace short."""
    raw = yaml.safe_load(TINY.read_text())
    raw.update(name="par", output_dir=str(tmp_path / "out"))
    study = tmp_path / "par.yaml"
    study.write_text(yaml.safe_dump(raw))
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("DSE_QUIET_INTERRUPT", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", PARALLEL, str(study), str(pids), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_foreground_job,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers := [int(p.name) for p in pids.iterdir()]) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        start = time.monotonic()
        if mode in ("plain", "twice"):
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
        if mode == "twice":  # the workers ignore it: a second Ctrl-C during their grace
            time.sleep(1.0)
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - start
    finally:
        proc.kill()
        _kill_all(workers)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == f"interrupted; resume with: dse run {study} --jobs 2"
    assert "Traceback" not in err and "Exception ignored" not in err
    assert elapsed < 15, f"the run went on for {elapsed:.0f} s after the interrupt"
    time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)], "a worker outlived the run"
