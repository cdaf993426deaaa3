"""Damage that a file's format does not notice, shared by the tests that must catch it."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path


def flip_tensor_bytes(path: Path, count: int = 64) -> None:
    """Invert `count` bytes in the middle of the largest tensor of a torch save file (a zip):
    torch still loads the state dict, a silently different model."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        entry = max(archive.infolist(), key=lambda info: info.file_size)
    name_len, extra_len = struct.unpack(
        "<HH", data[entry.header_offset + 26 : entry.header_offset + 30]
    )
    start = entry.header_offset + 30 + name_len + extra_len + entry.file_size // 2
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    path.write_bytes(bytes(data))
