"""Files the user names or edits: bounded reads (reports, golden vectors: a FIFO must not
hang a command, nor a multi-gigabyte file exhaust its memory), and content digests of build
inputs (a changed source must never reuse a stale binary, whatever its timestamp)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path

from hwmodel.errors import HardwareInputError

__all__ = ["MIB", "content_digest", "read_limited", "stamp_matches", "write_stamp"]

MIB = 1 << 20


def read_limited(
    path: str | Path,
    limit: int,
    fix: str,
    error: type[HardwareInputError] = HardwareInputError,
    what: str = "file",
) -> bytes:
    """The bytes of a regular file (`what`) of at most `limit` bytes; anything else
    (missing, a directory, a FIFO or device, larger) is `error` naming the file and `fix`.

    The file is opened without blocking (a FIFO with no writer would wait for ever) and
    checked with fstat before a byte is read.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc}); {fix}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO, socket or device"
        raise error(f"{path}: is {kind}, not a regular file; {fix}")
    with os.fdopen(fd, "rb") as handle:
        too_big = error(
            f"{path}: larger than {limit // MIB} MiB ({info.st_size / MIB:,.0f} MiB), more "
            f"than such a file ever holds; {fix}"
        )
        if info.st_size > limit:
            raise too_big
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise error(f"{path}: cannot read the {what} ({exc.strerror or exc}); {fix}") from None
        if len(data) > limit:  # grew since fstat
            raise too_big
    return data


def content_digest(root: Path, files: list[Path], settings: list[str]) -> str:
    """SHA-256 over the names and contents of `files` (relative to `root`; a missing one
    counts as missing) and the build `settings`: the key of a build's inputs.

    make and Verilator decide what to rebuild from timestamps, so a source replaced by one
    with an older timestamp (a restored backup, a copy with preserved times) would reuse a
    stale binary; comparing this digest with the one kept beside the binary does not.
    """
    digest = hashlib.sha256()
    for setting in settings:
        digest.update(b"setting\0" + setting.encode("utf-8", "surrogateescape") + b"\0")
    for path in sorted(files):
        name = path.relative_to(root).as_posix().encode("utf-8", "surrogateescape")
        digest.update(b"file\0" + name + b"\0")
        try:
            with path.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def stamp_matches(stamp: Path, digest: str) -> bool:
    """Whether the digest kept in `stamp` (written by `write_stamp`) is `digest`."""
    try:
        return stamp.read_text(encoding="ascii").strip() == digest
    except (OSError, UnicodeDecodeError):
        return False


def write_stamp(stamp: Path, digest: str) -> None:
    """Keep `digest` beside a finished build (an unwritable folder only costs a rebuild)."""
    with contextlib.suppress(OSError):
        stamp.write_text(digest + "\n", encoding="ascii")
