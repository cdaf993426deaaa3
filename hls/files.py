"""Bounded reads of files the user names or edits (reports, golden vectors): a FIFO must not
hang a command, nor a multi-gigabyte file exhaust its memory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hwmodel.errors import HardwareInputError

__all__ = ["MIB", "read_limited"]

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
