"""Trained-model cache shared by concurrent workers, on one machine or on a shared path.

Only some knobs change the trained weights, so trials with the same training key reuse one
model. The key is hashed canonically (JSON with sorted keys) into ``root/<sha256>/``. A model is
trained into a temporary directory on the same file system and renamed into place, and it is
valid only once its completion marker exists, so no reader ever loads a half-written model.
The marker records the SHA-256 of every file written, so a model damaged later (a disk error,
a file edited or truncated by hand) is found on first use in each process and trained again
instead of failing every trial that shares its key.
A per-key file lock (``filelock``; flock, which NFSv4 forwards to the server) makes a second
worker with the same key wait for the first and then reuse its model instead of training again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

MARKER = "COMPLETE"
KEY_FILE = "key.json"
_TMP_PREFIX = ".tmp-"


def key_digest(key: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of `key`: equal keys give equal digests in any dict order."""
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ModelCache:
    """Content-addressed directories of trained models under `root`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._verified: set[Path] = set()  # checked against their checksums in this process

    def path_for(self, key: dict[str, Any]) -> Path:
        """Where the model for `key` lives (whether or not it exists yet)."""
        return self.root / key_digest(key)

    def lookup(self, key: dict[str, Any]) -> Path | None:
        """The finished, undamaged model directory for `key`, or None."""
        path = self.path_for(key)
        if path in self._verified:
            return path
        if not _intact(path):
            return None
        self._verified.add(path)
        return path

    def count(self) -> int:
        """Finished models in the cache (any key; checksums are not checked here)."""
        return sum(1 for _ in self.root.glob(f"*/{MARKER}"))

    def get_or_train(self, key: dict[str, Any], train: Callable[[Path], None]) -> tuple[Path, bool]:
        """Return (model directory, hit); on a miss run ``train(tmp_dir)`` once across workers."""
        found = self.lookup(key)
        if found is not None:
            return found, True
        digest = key_digest(key)
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with FileLock(locks / f"{digest}.lock"):
            found = self.lookup(key)
            if found is not None:
                return found, True
            self._discard_leftovers(digest)
            tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{digest}-", dir=self.root))
            try:
                train(tmp)
                self._finish(tmp, key)
                self._publish(tmp, key)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)  # gone after a successful rename
        return self.root / digest, False

    def _publish(self, tmp: Path, key: dict[str, Any]) -> None:
        """Atomically rename the finished model into place (first finisher wins)."""
        try:
            os.rename(tmp, self.path_for(key))
        except OSError:
            # Only on a file system that ignores the lock: another machine finished first.
            if self.lookup(key) is None:
                raise
        _fsync_dir(self.root)

    def _discard_leftovers(self, digest: str) -> None:
        """Remove what a killed trainer of `digest` left (only the lock holder writes these)."""
        for tmp in self.root.glob(f"{_TMP_PREFIX}{digest}-*"):
            shutil.rmtree(tmp, ignore_errors=True)
        unfinished = self.root / digest
        if unfinished.exists():  # no marker (copied in by hand) or damaged since
            shutil.rmtree(unfinished)
            self._verified.discard(unfinished)

    @staticmethod
    def _finish(directory: Path, key: dict[str, Any]) -> None:
        """Write the key, flush every file, then write the marker with their checksums."""
        (directory / KEY_FILE).write_text(json.dumps(key, sort_keys=True, indent=1))
        for path in directory.rglob("*"):
            if path.is_file():
                _fsync_file(path)
        marker = {"key": key_digest(key), "sha256": _checksums(directory)}
        (directory / MARKER).write_text(json.dumps(marker, sort_keys=True, indent=1))
        _fsync_file(directory / MARKER)
        _fsync_dir(directory)


def _checksums(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under `directory` except the marker, by relative path."""
    sums = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MARKER:
            with open(path, "rb") as handle:
                sums[path.relative_to(directory).as_posix()] = hashlib.file_digest(
                    handle, "sha256"
                ).hexdigest()
    return sums


def _intact(directory: Path) -> bool:
    """Whether `directory` holds a finished model whose files match the marker's checksums."""
    try:
        recorded = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):  # no marker yet, or one without checksums
        return False
    return isinstance(recorded, dict) and recorded.get("sha256") == _checksums(directory)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
