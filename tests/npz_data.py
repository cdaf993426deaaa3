"""A small synthetic image set saved as an .npz file, the format of `dataset: {name: npz}`."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def synthetic(n: int, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` 8x8 RGB images, channels last, whose class brightens its own channel."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.integers(0, 60, size=(n, 8, 8, 3), dtype=np.uint8)
    for c in range(classes):
        x[y == c, :, :, c % 3] += 150
    return x, y.astype(np.uint8)


def write_npz(path: Path, classes: int = 3, **replace: np.ndarray) -> Path:
    """A 200-train / 60-test synthetic archive; `replace` swaps or drops (None) arrays."""
    (x_train, y_train), (x_test, y_test) = synthetic(200, classes), synthetic(60, classes, 1)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    arrays.update(replace)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path
