"""ModelCache: canonical keys, atomic publication, one trainer per key across processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dse.cache import KEY_FILE, MARKER, ModelCache, key_digest

# A worker process: trains (slowly, logging each training) or reuses the model for a key.
WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from dse.cache import ModelCache

    root, log, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])

    def train(directory):
        with log.open("a") as handle:
            handle.write("trained\\n")
        (directory / "weights.bin").write_bytes(b"w" * 1000)
        time.sleep(seconds)
        (directory / "settings.json").write_text("{}")

    path, hit = ModelCache(root).get_or_train({"widths": [32, 16], "levels": 4}, train)
    print(json.dumps({"path": str(path), "hit": hit}))
    """
)


def _spawn(root: Path, log: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(root), str(log), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _write_model(directory: Path) -> None:
    (directory / "weights.bin").write_bytes(b"\x01\x02")


def test_key_is_canonical_and_second_call_hits(tmp_path) -> None:
    cache = ModelCache(tmp_path / "cache")
    calls = []

    def train(directory: Path) -> None:
        calls.append(directory)
        _write_model(directory)

    path, hit = cache.get_or_train({"a": 1, "b": [1, 2]}, train)
    assert not hit
    assert path == tmp_path / "cache" / key_digest({"b": [1, 2], "a": 1})
    assert (path / "weights.bin").read_bytes() == b"\x01\x02"
    assert json.loads((path / KEY_FILE).read_text()) == {"a": 1, "b": [1, 2]}
    assert cache.get_or_train({"b": [1, 2], "a": 1}, train) == (path, True)
    other, hit = cache.get_or_train({"a": 2, "b": [1, 2]}, train)
    assert not hit and other != path
    assert len(calls) == 2
    assert calls[0].parent == tmp_path / "cache"  # trained beside its destination: same fs
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        [".locks", path.name, other.name]
    )


def test_failed_training_leaves_nothing_and_is_retried(tmp_path) -> None:
    cache = ModelCache(tmp_path)

    def broken(directory: Path) -> None:
        _write_model(directory)
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        cache.get_or_train({"k": 1}, broken)
    assert cache.lookup({"k": 1}) is None
    assert [p.name for p in tmp_path.iterdir()] == [".locks"]
    path, hit = cache.get_or_train({"k": 1}, _write_model)
    assert not hit and (path / MARKER).is_file()


def test_directory_without_marker_is_not_a_model(tmp_path) -> None:
    cache = ModelCache(tmp_path)
    partial = cache.path_for({"k": 1})
    partial.mkdir()
    (partial / "weights.bin").write_bytes(b"half")
    assert cache.lookup({"k": 1}) is None
    path, hit = cache.get_or_train({"k": 1}, _write_model)
    assert (path, hit) == (partial, False)
    assert (path / "weights.bin").read_bytes() == b"\x01\x02"


def test_concurrent_workers_train_a_key_once(tmp_path) -> None:
    log = tmp_path / "trainings.log"
    workers = [_spawn(tmp_path / "cache", log, 1.5) for _ in range(3)]
    results = [json.loads(w.communicate(timeout=60)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert log.read_text() == "trained\n"
    assert len({r["path"] for r in results}) == 1
    assert sorted(r["hit"] for r in results) == [False, True, True]
    assert (Path(results[0]["path"]) / "settings.json").is_file()


def test_trainer_killed_mid_training_publishes_nothing(tmp_path) -> None:
    root, log = tmp_path / "cache", tmp_path / "trainings.log"
    victim = _spawn(root, log, 30)
    deadline = time.monotonic() + 30
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    cache = ModelCache(root)
    key = {"widths": [32, 16], "levels": 4}
    assert cache.lookup(key) is None
    assert len(list(root.glob(".tmp-*"))) == 1  # the half-written model, never loaded
    survivor = _spawn(root, log, 0)
    result = json.loads(survivor.communicate(timeout=60)[0])
    assert result == {"path": str(cache.path_for(key)), "hit": False}
    assert list(root.glob(".tmp-*")) == []
    assert log.read_text() == "trained\ntrained\n"


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_model_with_marker_is_rebuilt(tmp_path, damage: str) -> None:
    key = {"k": damage}
    path, hit = ModelCache(tmp_path).get_or_train(key, _write_model)
    assert not hit and ModelCache(tmp_path).lookup(key) == path
    weights = path / "weights.bin"
    if damage == "flip":
        weights.write_bytes(b"\x01\x03")  # same size, one bit different
    elif damage == "truncate":
        weights.write_bytes(b"\x01")
    else:
        weights.unlink()
    fresh = ModelCache(tmp_path)  # a new process: nothing verified yet
    assert (path / MARKER).is_file() and fresh.lookup(key) is None
    again, hit = fresh.get_or_train(key, _write_model)
    assert (again, hit) == (path, False)
    assert weights.read_bytes() == b"\x01\x02"
    assert ModelCache(tmp_path).lookup(key) == path


def test_marker_without_checksums_is_not_trusted(tmp_path) -> None:
    cache = ModelCache(tmp_path)
    path, _ = cache.get_or_train({"k": 2}, _write_model)
    (path / MARKER).write_text(key_digest({"k": 2}) + "\n")  # the format before checksums
    assert ModelCache(tmp_path).lookup({"k": 2}) is None
