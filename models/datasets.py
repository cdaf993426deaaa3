"""Datasets for the search: train/val/test tensors plus out-of-distribution inputs.

Every split is ``(x, y)``: ``x`` float32 ``[N, D]`` scaled to [0, 1] (flattened images, the
layout the binary MLP and the accelerator consume) and ``y`` int64 ``[N]``.  The images'
shape is ``image_shape`` ``(C, H, W)``, channel first, and the flat view is channel-major:
pixel ``(c, y, x)`` is input ``(c * H + y) * W + x``, the order the convolutional front
(`hwmodel.architecture`) reads, so ``x.reshape(N, C, H, W)`` recovers the images.

* ``digits`` - scikit-learn's 8x8 digits (1797 images, ships with scikit-learn). The test set
  is a fixed stratified 20 % (independent of the seed, so that test metrics of different
  seeds compare like with like); the other splits are carved from the rest by the seed.
* ``mnist``, ``fashion-mnist`` - the standard four IDX files (plain or ``.gz``) from a
  directory; the official 10k test set is the test set and the other splits are carved from
  the 60k training set by the seed.
* ``npz`` - the user's own images: one ``.npz`` archive (``numpy.savez``) holding ``x_train``,
  ``y_train``, ``x_test`` and ``y_test``.  Images are uint8 (0..255), ``[N, H, W]`` (one
  channel) or ``[N, H, W, C]`` (channels last, as Keras and most image files have them; the
  loader transposes them to channel first); labels are integers ``0..K-1`` (``[N]`` or
  ``[N, 1]``), every class present in the training images, K >= 2.  ``x_test`` is the test set
  and the other splits are carved from ``x_train`` by the seed, as for MNIST.  The archive is
  read without pickle (`numpy.load(allow_pickle=False)`); other arrays in it are ignored.

Four disjoint splits: ``train`` (the weights), ``val`` (batch-norm-free calibration: the
output scale, i.e. temperature), ``selection`` (what a search compares designs on: every
objective, constraint and choice) and ``test`` (scored once for the designs a search chose,
never read by the search).  The selection split is empty unless ``selection_fraction`` asks
for one: benchmarks that score one fixed recipe on the test split need none.

Where the IDX files are looked for, first hit wins: the ``root`` argument (a directory
holding the four files); otherwise ``$DSE_DATA_ROOT/<name>/``, ``../shared/datasets/<name>/``
relative to the working directory and to the repository, and for Fashion-MNIST
``/usr/share/datasets/fashion-mnist/`` (Debian's ``dataset-fashion-mnist``).

Decoded arrays are cached per process: a study loads the same dataset for every trial (an
``npz`` file per version: a file changed on disk is read again, `npz_digest`).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from models.errors import ModelInputError
from models.idx import read_idx

Split = tuple[torch.Tensor, torch.Tensor]

#: Datasets known by name (also usable as another dataset's out-of-distribution set).
DATASETS = ("digits", "mnist", "fashion-mnist")
#: (inputs, classes) of each dataset's flattened images, known without loading them (an
#: imported network is checked against them; a test holds them equal to the loaded data).
SHAPES = {"digits": (64, 10), "mnist": (784, 10), "fashion-mnist": (784, 10)}
#: The user's own images in one .npz file; ``root`` names the file.
NPZ = "npz"
KINDS = (*DATASETS, NPZ)
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
#: How a missing .npz file's error tells the user to name it, unless the caller says.
NPZ_HINT = "pass --data-root FILE.npz"
OOD_TRANSFORMS = ("noise", "flip")
DATA_ROOT_ENV = "DSE_DATA_ROOT"
#: How a missing dataset's error tells the user to name its folder, unless the caller says.
ROOT_HINT = "pass --data-root DIR"
IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_SYSTEM_ROOTS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
_REPO_ROOT = Path(__file__).resolve().parents[1]
_DIGITS_TEST_FRACTION = 0.2
_DIGITS_TEST_SEED = 0
_NUM_CLASSES = 10
#: An npz file modified this recently is not cached by its stamp (`_by_version`).
_SETTLED_NS = 3_000_000_000


@dataclass(frozen=True)
class DatasetSplits:
    """One dataset split four ways; ``input_dim`` is the flattened image size and
    ``image_shape`` the images' ``(C, H, W)`` (``C * H * W == input_dim``; the flat view is
    channel-major).  Built without a shape (data that are no images), it is ``(1, 1, D)``."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    input_dim: int
    selection: Split = (torch.empty(0, 0), torch.empty(0, dtype=torch.int64))
    image_shape: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        shape = (1, 1, self.input_dim) if self.image_shape is None else self.image_shape
        shape = tuple(int(v) for v in shape)
        if len(shape) != 3 or min(shape) < 1 or math.prod(shape) != self.input_dim:
            raise ValueError(f"image_shape {shape} does not hold {self.input_dim} inputs")
        object.__setattr__(self, "image_shape", shape)


@dataclass(frozen=True)
class _Raw:
    """Decoded, read-only arrays before splitting: uint8 pixels flattened channel-major, their
    full-scale value, the images' (C, H, W) and the number of classes."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    scale: float
    image_shape: tuple[int, int, int]
    num_classes: int = 10


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mark cached arrays read-only so that no caller can corrupt the cache."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


@lru_cache(maxsize=1)
def _digits_raw() -> _Raw:
    bunch = load_digits()
    x = bunch.data.astype(np.uint8)  # integer pixel values 0..16
    y = bunch.target.astype(np.int64)
    x_pool, x_test, y_pool, y_test = train_test_split(
        x, y, test_size=_DIGITS_TEST_FRACTION, random_state=_DIGITS_TEST_SEED, stratify=y
    )
    return _Raw(*_frozen(x_pool, y_pool, x_test, y_test), scale=16.0, image_shape=(1, 8, 8))


def _find_idx(directory: Path, stem: str) -> Path | None:
    """The plain or gzipped IDX file named ``stem`` in ``directory``, if present."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _candidate_roots(name: str) -> list[Path]:
    """Conventional directories for ``name`` in the order they are tried."""
    roots = []
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        roots.append(Path(env) / name)
    roots.append(Path.cwd().parent / "shared" / "datasets" / name)
    roots.append(_REPO_ROOT.parent / "shared" / "datasets" / name)
    if name in _SYSTEM_ROOTS:
        roots.append(_SYSTEM_ROOTS[name])
    unique: list[Path] = []
    for root in roots:
        if root.resolve() not in [u.resolve() for u in unique]:
            unique.append(root)
    return unique


def resolve_root(name: str, root: str | Path | None = None, hint: str | None = None) -> Path:
    """Directory holding ``name``'s four IDX files; ModelInputError naming the fix if none.

    ``hint`` is how the caller's user names the folder (default `ROOT_HINT`, the command
    line's ``--data-root``; a study says ``dataset.root``)."""
    fix = (
        f"{hint or ROOT_HINT} holding the four IDX files, or set {DATA_ROOT_ENV} to a "
        f"directory with a {name}/ subdirectory"
    )
    if root is not None:
        directory = Path(root).expanduser()
        missing = [s for s in IDX_STEMS if _find_idx(directory, s) is None]
        if missing:
            raise ModelInputError(f"{name}: {directory / missing[0]}(.gz) not found; {fix}")
        return directory
    tried = _candidate_roots(name)
    for directory in tried:
        if all(_find_idx(directory, s) is not None for s in IDX_STEMS):
            return directory
    places = ", ".join(str(d) for d in tried)
    raise ModelInputError(f"{name}: IDX files not found in any of {places}; {fix}")


def _verify_checksums(directory: Path, paths: list[Path]) -> None:
    """Compare ``paths`` with the directory's ``SHA256SUMS`` (sha256sum format), if it has one."""
    sums = directory / "SHA256SUMS"
    if not sums.is_file():
        return
    expected = {}
    for line in sums.read_text().splitlines():
        digest, _, name = line.strip().partition(" ")
        expected[name.strip().lstrip("*")] = digest.lower()
    for path in paths:
        if (
            path.name in expected
            and hashlib.sha256(path.read_bytes()).hexdigest() != expected[path.name]
        ):
            raise ModelInputError(
                f"{path}: SHA256 differs from {sums}; replace the file with an intact copy"
            )


@lru_cache(maxsize=4)
def _idx_raw(directory: Path) -> _Raw:
    paths = [_find_idx(directory, s) for s in IDX_STEMS]
    _verify_checksums(directory, paths)  # type: ignore[arg-type]
    x_pool, y_pool, x_test, y_test = (read_idx(p) for p in paths)  # type: ignore[arg-type]
    for images, labels, img_path, lbl_path in (
        (x_pool, y_pool, paths[0], paths[1]),
        (x_test, y_test, paths[2], paths[3]),
    ):
        if (
            images.ndim != 3
            or len(images) == 0
            or images.dtype != np.uint8
            or images.shape[1:] != x_pool.shape[1:]
        ):
            raise ModelInputError(
                f"{img_path}: expected uint8 images [N>0, H, W] matching the training images, "
                f"got {images.dtype} {images.shape}; replace it with an intact copy"
            )
        if labels.shape != (len(images),) or labels.min() < 0 or labels.max() >= _NUM_CLASSES:
            raise ModelInputError(
                f"{lbl_path}: expected {len(images)} labels in 0..{_NUM_CLASSES - 1}, got shape "
                f"{labels.shape}; replace it with an intact copy"
            )
    flat = [x_pool.reshape(len(x_pool), -1), x_test.reshape(len(x_test), -1)]
    return _Raw(
        *_frozen(flat[0], y_pool.astype(np.int64), flat[1], y_test.astype(np.int64)),
        scale=255.0,
        image_shape=(1, *x_pool.shape[1:]),
    )


def _npz_stamp(path: str | Path, hint: str | None = None) -> tuple[Path, int, int, int]:
    """The .npz file's resolved path and what says it changed (mtime, size, inode)."""
    path = Path(path).expanduser()
    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelInputError(
            f"npz: {path}: cannot be read ({exc.strerror}); {hint or NPZ_HINT}"
        ) from None
    if not path.is_file():
        raise ModelInputError(f"npz: {path}: is not a file; {hint or NPZ_HINT}")
    return path.resolve(), stat.st_mtime_ns, stat.st_size, stat.st_ino


def _by_version(read: Callable[..., Any], path: str | Path, hint: str | None) -> Any:
    """``read(path, *stamp)``, cached per version of the file.  A file modified in the last
    few seconds is read afresh every time (as git treats a "racily clean" file): the clock
    that stamps modification times is coarse, so a file rewritten at once with the same size
    could carry the same stamp."""
    resolved, mtime_ns, *rest = _npz_stamp(path, hint)
    if time.time_ns() - mtime_ns < _SETTLED_NS:
        return read.__wrapped__(resolved, mtime_ns, *rest)  # type: ignore[attr-defined]
    return read(resolved, mtime_ns, *rest)


@lru_cache(maxsize=8)
def _file_sha256(path: Path, *stamp: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def npz_digest(path: str | Path, hint: str | None = None) -> str:
    """SHA-256 of the .npz file's content (computed once per version of the file): the part
    of a trained model's cache key that makes a changed file train again."""
    return _by_version(_file_sha256, path, hint)


def _npz_images(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """``x`` checked and as ``[N, C, H, W]``: uint8, ``[N, H, W]`` or ``[N, H, W, C]``."""
    where = f"{path}: {key}"
    if x.dtype != np.uint8:
        fix = (
            "scale floats in [0, 1] with (x * 255).round().astype(np.uint8)"
            if x.dtype.kind == "f"
            else "store pixels 0..255 as x.astype(np.uint8)"
        )
        raise ModelInputError(f"{where}: dtype {x.dtype} is not allowed; images are uint8: {fix}")
    if x.ndim not in (3, 4) or min(x.shape) < 1:
        raise ModelInputError(
            f"{where}: shape {x.shape} is not allowed; use [N, H, W] (one channel) or "
            "[N, H, W, C] (channels last), N >= 1"
        )
    if x.ndim == 3:
        return x[:, None]
    if x.shape[1] <= 4 < x.shape[3]:  # (N, 3, 32, 32): channels first, read as 32 channels
        raise ModelInputError(
            f"{where}: shape {x.shape} looks channels-first [N, C, H, W]; store channels last "
            "[N, H, W, C]: x.transpose(0, 2, 3, 1)"
        )
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _npz_labels(path: Path, key: str, y: np.ndarray, n: int, images: str) -> np.ndarray:
    """``y`` checked and as int64 ``[N]``: integers, ``[N]`` or ``[N, 1]``, none negative."""
    where = f"{path}: {key}"
    if y.dtype.kind not in "iu":
        raise ModelInputError(
            f"{where}: dtype {y.dtype} is not allowed; labels are integers 0..K-1: "
            "y.astype(np.int64)"
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,):
        raise ModelInputError(
            f"{where}: shape {y.shape} does not give one label per image of {images} ({n}); "
            f"store {n} labels as [N] or [N, 1]"
        )
    y = y.astype(np.int64)
    if y.min() < 0:
        raise ModelInputError(
            f"{where}: label {int(y.min())} is not allowed; labels are class numbers 0..K-1"
        )
    return y


def _brief(exc: BaseException) -> str:
    """An exception's text on one short line."""
    return " ".join(str(exc).split())[:80]


@lru_cache(maxsize=2)
def _npz_decode(path: Path, *stamp: int) -> _Raw:
    """The .npz file's arrays, checked (one line naming the array and the fix)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelInputError(
            f"{path}: not a readable .npz archive ({_brief(exc)}); save the arrays with "
            "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelInputError(
            f"{path}: holds one array, not an .npz archive; save the four arrays with "
            "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
        )
    arrays = {}
    with archive:
        for key in NPZ_KEYS:
            if key not in archive.files:
                have = ", ".join(archive.files[:8]) or "nothing"
                raise ModelInputError(
                    f"{path}: {key}: missing (the archive holds {have}); save it with "
                    "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
                )
            try:
                arrays[key] = archive[key]
            except ValueError:  # an object array: refused without pickle
                raise ModelInputError(
                    f"{path}: {key}: holds Python objects, not numbers; store a numeric "
                    "array (np.asarray(..., dtype=np.uint8) for images, int for labels)"
                ) from None
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise ModelInputError(
                    f"{path}: {key}: cannot be read ({_brief(exc)}); write the file again"
                ) from None
    x_pool = _npz_images(path, "x_train", arrays["x_train"])
    x_test = _npz_images(path, "x_test", arrays["x_test"])
    if x_test.shape[1:] != x_pool.shape[1:]:
        raise ModelInputError(
            f"{path}: x_test: images of (C, H, W) {x_test.shape[1:]} differ from x_train's "
            f"{x_pool.shape[1:]}; store both at one size"
        )
    y_pool = _npz_labels(path, "y_train", arrays["y_train"], len(x_pool), "x_train")
    y_test = _npz_labels(path, "y_test", arrays["y_test"], len(x_test), "x_test")
    classes = int(y_pool.max()) + 1
    if classes < 2:
        raise ModelInputError(
            f"{path}: y_train: every label is 0; a classifier needs at least 2 classes"
        )
    if classes > len(y_pool):
        raise ModelInputError(
            f"{path}: y_train: label {classes - 1} exceeds the {len(y_pool)} training images, "
            "so some class has none; number the classes 0..K-1"
        )
    absent = np.flatnonzero(np.bincount(y_pool, minlength=classes) == 0)
    if len(absent):
        raise ModelInputError(
            f"{path}: y_train: class {int(absent[0])} has no training image (classes are "
            f"0..{classes - 1}); number the classes present 0..K-1"
        )
    if int(y_test.max()) >= classes:
        raise ModelInputError(
            f"{path}: y_test: label {int(y_test.max())} is not a class of y_train "
            f"(0..{classes - 1}); use the training set's class numbers"
        )
    image_shape = tuple(int(v) for v in x_pool.shape[1:])
    return _Raw(
        *_frozen(x_pool.reshape(len(x_pool), -1), y_pool, x_test.reshape(len(x_test), -1), y_test),
        scale=255.0,
        image_shape=image_shape,  # type: ignore[arg-type]
        num_classes=classes,
    )


def _raw(name: str, root: str | Path | None, hint: str | None = None) -> _Raw:
    if name == "digits":
        return _digits_raw()
    if name == NPZ:
        if root is None:
            raise ModelInputError(f"npz: no .npz file named; {hint or NPZ_HINT}")
        return _by_version(_npz_decode, root, hint)
    return _idx_raw(resolve_root(name, root, hint).resolve())


def _split(
    y: np.ndarray, n_second: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a random two-way split, stratified by class wherever that is possible."""
    counts = np.bincount(y)
    stratify = (
        y
        if min(n_second, len(y) - n_second) >= np.count_nonzero(counts)
        and counts[counts > 0].min() >= 2
        else None
    )
    first, second = train_test_split(
        np.arange(len(y)), test_size=n_second, random_state=rng, stratify=stratify
    )
    return np.sort(first), np.sort(second)


def _tensors(x: np.ndarray, y: np.ndarray, idx: np.ndarray, scale: float) -> Split:
    xs = x[idx].astype(np.float32) / np.float32(scale)
    return torch.from_numpy(xs), torch.from_numpy(y[idx].copy())


def _check_count(field: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ModelInputError(f"{field}: {value!r} is not a positive integer; pass e.g. 1000")


def load_dataset(
    name: str,
    root: str | Path | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    max_train: int | None = None,
    max_test: int | None = None,
    selection_fraction: float = 0.0,
    max_selection: int | None = None,
    root_hint: str | None = None,
) -> DatasetSplits:
    """Load ``name`` split into train/val/selection/test, deterministic in ``seed``.

    ``max_train`` caps the training pool (train + val + selection) by a seeded,
    class-stratified subset and ``max_test`` the test set (a fixed subset, the same for every
    seed): quick runs and tests use them. ``selection_fraction`` of the pool becomes the
    selection split (carved before the validation split, whose size stays ``val_fraction``
    of the pool), and ``max_selection`` scores a seeded subset of it (a cap that does not
    change the training images). ``root`` is the IDX datasets' folder and ``npz``'s file
    (required); ``digits`` ships with scikit-learn. ``root_hint`` names the folder's (file's)
    setting in a missing dataset's error (`resolve_root`).
    """
    if name not in KINDS:
        raise ModelInputError(f"dataset: unknown name {name!r}; choose one of {list(KINDS)}")
    if not 0.0 < val_fraction < 1.0:
        raise ModelInputError(f"val_fraction: {val_fraction!r} is not in (0, 1); use e.g. 0.1")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ModelInputError(f"seed: {seed!r} is not an integer in [0, 2**32); use e.g. 0")
    _check_count("max_train", max_train)
    _check_count("max_test", max_test)
    _check_count("max_selection", max_selection)
    if not 0.0 <= selection_fraction < 1.0:
        raise ModelInputError(
            f"selection_fraction: {selection_fraction!r} is not in [0, 1); use e.g. 0.25"
        )
    raw = _raw(name, root, root_hint)
    rng = np.random.RandomState(seed)

    pool = np.arange(len(raw.y_pool))
    if max_train is not None and max_train < len(pool):
        pool, _ = _split(raw.y_pool, len(pool) - max_train, rng)
    n_val = round(val_fraction * len(pool))
    n_selection = round(selection_fraction * len(pool))
    if not 1 <= n_val < len(pool) - n_selection or (selection_fraction and not n_selection):
        raise ModelInputError(
            f"val_fraction: {val_fraction} and selection_fraction: {selection_fraction} of "
            f"{len(pool)} training images leave an empty train, validation or selection set; "
            "raise max_train or change the fractions"
        )
    selection = np.array([], dtype=np.int64)
    if n_selection:
        rest, chosen = _split(raw.y_pool[pool], n_selection, rng)
        pool, selection = pool[rest], pool[chosen]
        if max_selection is not None and max_selection < len(selection):
            # Its own generator: the cap must not move the training or validation images.
            cap_rng = np.random.RandomState(seed)
            kept, _ = _split(raw.y_pool[selection], len(selection) - max_selection, cap_rng)
            selection = selection[kept]
    train_local, val_local = _split(raw.y_pool[pool], n_val, rng)

    test = np.arange(len(raw.y_test))
    if max_test is not None and max_test < len(test):
        test, _ = _split(raw.y_test, len(test) - max_test, np.random.RandomState(0))

    return DatasetSplits(
        name=name,
        train=_tensors(raw.x_pool, raw.y_pool, pool[train_local], raw.scale),
        val=_tensors(raw.x_pool, raw.y_pool, pool[val_local], raw.scale),
        test=_tensors(raw.x_test, raw.y_test, test, raw.scale),
        num_classes=raw.num_classes,
        input_dim=raw.x_pool.shape[1],
        selection=_tensors(raw.x_pool, raw.y_pool, selection, raw.scale),
        image_shape=raw.image_shape,
    )


def load_ood(
    spec: str,
    like: DatasetSplits,
    seed: int = 0,
    n: int | None = None,
    root: str | Path | None = None,
    split: Literal["selection", "test"] = "test",
    root_hint: str | None = None,
) -> torch.Tensor:
    """Out-of-distribution inputs ``[n, like.input_dim]`` to score a model trained on ``like``.

    ``spec``: ``noise`` - i.i.d. uniform [0, 1] pixels (far OOD); ``flip`` - ``like``'s
    `split` images mirrored top-to-bottom (near OOD; symmetric classes such as 0, 1 and 8 stay
    in-distribution, so expect a modest AUROC); or another dataset's name (its test images,
    from ``root``), e.g. ``fashion-mnist`` against an ``mnist`` model. ``n`` defaults to the
    size of ``like``'s `split`; a smaller ``n`` takes a seeded random subset.  A search scores
    OOD against its selection split, so `flip` then mirrors selection images, never test ones.
    """
    _check_count("ood n", n)
    images = getattr(like, split)[0]
    count = len(images) if n is None else n
    gen = torch.Generator().manual_seed(seed)
    if spec == "noise":
        return torch.rand(count, like.input_dim, generator=gen)
    if spec == "flip":
        channels, height, width = like.image_shape
        if height < 2:
            raise ModelInputError(
                f"ood: 'flip' needs images, {like.name} has rows of {like.input_dim} inputs; "
                "use noise or another dataset"
            )
        x = images.reshape(-1, channels, height, width).flip(2).reshape(-1, like.input_dim)
    elif spec in DATASETS:
        if spec == like.name:
            raise ModelInputError(
                f"ood: {spec!r} is the in-distribution dataset; choose another dataset, "
                f"or one of {list(OOD_TRANSFORMS)}"
            )
        raw = _raw(spec, root, root_hint)
        x = torch.from_numpy(raw.x_test.astype(np.float32) / np.float32(raw.scale))
        if x.shape[1] != like.input_dim:
            raise ModelInputError(
                f"ood: {spec} has {x.shape[1]} inputs but {like.name} has {like.input_dim}; "
                f"choose a dataset of the same image size or one of {list(OOD_TRANSFORMS)}"
            )
    else:
        raise ModelInputError(
            f"ood: unknown spec {spec!r}; choose one of {list(OOD_TRANSFORMS + DATASETS)}"
        )
    if count > len(x):
        raise ModelInputError(f"ood n: {count} exceeds the {len(x)} {spec} images; lower n")
    if count < len(x):
        x = x[torch.randperm(len(x), generator=gen)[:count].sort().values]
    return x
