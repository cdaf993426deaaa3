"""Reader for the IDX format that MNIST and Fashion-MNIST ship in (plain or gzip).

IDX layout: two zero bytes, a type code, the number of dimensions, then one big-endian
uint32 per dimension, then the data in big-endian order. Reading it with numpy keeps the
project free of torchvision and of any download logic.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from models.errors import ModelInputError

# IDX type code -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def _read_bytes(path: Path) -> bytes:
    """Whole file contents, transparently gunzipped when the name ends in .gz."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ModelInputError(
            f"{path}: cannot read IDX file ({exc}); replace it with an intact copy"
        ) from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Decode one IDX file into a native-endian numpy array of its declared shape."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ModelInputError(
            f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); "
            "replace it with an intact copy"
        )
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ModelInputError(
            f"{path}: truncated IDX header ({ndim} dimensions); replace it with an intact copy"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ModelInputError(
            f"{path}: IDX payload is {len(raw) - header} bytes but shape {shape} needs "
            f"{expected}; replace it with an intact copy"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)
