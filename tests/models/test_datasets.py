"""Dataset loading: splits, determinism, IDX decoding, error messages and OOD sets."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from models.datasets import load_dataset, load_ood, resolve_root
from models.errors import ModelInputError
from models.idx import read_idx

MNIST_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "mnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def _write_idx(path: Path, array: np.ndarray, code: int = 0x08) -> None:
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def _fake_idx_dataset(directory: Path, n_train: int = 200, n_test: int = 50) -> Path:
    """Four small MNIST-shaped IDX files (train gzipped, test plain) with balanced labels."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n, ext in (("train", n_train, ".gz"), ("t10k", n_test, "")):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        _write_idx(directory / f"{prefix}-images-idx3-ubyte{ext}", images)
        _write_idx(
            directory / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n, dtype=np.uint8) % 10
        )
    return directory


def _rows(x: torch.Tensor) -> list[bytes]:
    return sorted(row.tobytes() for row in x.numpy())


def test_digits_splits_shapes_and_scaling() -> None:
    d = load_dataset("digits")
    assert (d.name, d.num_classes, d.input_dim) == ("digits", 10, 64)
    sizes = [len(s[0]) for s in (d.train, d.val, d.test)]
    assert sizes == [1293, 144, 360]  # 20 % test, then 10 % of the rest for validation
    for x, y in (d.train, d.val, d.test):
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape[1] == 64 and len(x) == len(y)
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
        assert torch.equal(x * 16, torch.round(x * 16))  # pixel values k/16
    # Stratified: every class within one image of its proportional share of the test set.
    counts = torch.bincount(d.test[1], minlength=10).numpy()
    assert counts.min() >= 35 and counts.max() <= 37


def test_digits_is_deterministic_in_the_seed() -> None:
    a, b, c = load_dataset("digits", seed=3), load_dataset("digits", seed=3), load_dataset("digits")
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split)[0], getattr(b, split)[0])
        assert torch.equal(getattr(a, split)[1], getattr(b, split)[1])
    assert not torch.equal(a.val[0], c.val[0])  # another seed, another validation set
    assert torch.equal(a.test[0], c.test[0])  # the test set does not move with the seed
    assert _rows(torch.cat([a.train[0], a.val[0]])) == _rows(torch.cat([c.train[0], c.val[0]]))


def test_subsetting_caps_pool_and_test() -> None:
    d = load_dataset("digits", seed=1, val_fraction=0.25, max_train=200, max_test=50)
    assert (len(d.train[0]), len(d.val[0]), len(d.test[0])) == (150, 50, 50)
    assert torch.bincount(d.val[1], minlength=10).tolist() == [5] * 10
    full_test = _rows(load_dataset("digits").test[0])
    assert set(_rows(d.test[0])) <= set(full_test)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "cifar"}, "dataset: unknown name 'cifar'"),
        ({"name": "digits", "val_fraction": 0.0}, "val_fraction: 0.0"),
        ({"name": "digits", "val_fraction": 1.0}, "val_fraction: 1.0"),
        ({"name": "digits", "max_train": 0}, "max_train: 0"),
        ({"name": "digits", "max_test": 2.5}, "max_test: 2.5"),
        ({"name": "digits", "seed": -1}, "seed: -1"),
        ({"name": "digits", "max_train": 5}, "an empty train, validation or selection set"),
    ],
)
def test_bad_arguments_raise_one_line_input_errors(kwargs: dict, field: str) -> None:
    with pytest.raises(ModelInputError, match=field) as info:
        load_dataset(**kwargs)
    assert "\n" not in str(info.value)


def test_read_idx_round_trips_plain_and_gzip(tmp_path: Path) -> None:
    data = np.arange(-60, 60, dtype=np.int16).reshape(4, 5, 6)
    for name in ("a-idx3", "a-idx3.gz"):
        _write_idx(tmp_path / name, data, code=0x0B)
        decoded = read_idx(tmp_path / name)
        assert decoded.dtype == np.int16 and np.array_equal(decoded, data)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00\x01\x08\x01\x00\x00\x00\x02ab", "bad magic number"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "payload is 3 bytes"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "bad-idx"
    path.write_bytes(payload)
    with pytest.raises(ModelInputError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad-idx.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ModelInputError, match="cannot read IDX file"):
        read_idx(path)


def test_idx_dataset_from_explicit_root(tmp_path: Path) -> None:
    root = _fake_idx_dataset(tmp_path / "fake")
    d = load_dataset("mnist", root=root, seed=2)
    assert (d.input_dim, d.num_classes, d.image_shape) == (784, 10, (1, 28, 28))
    assert [len(s[0]) for s in (d.train, d.val, d.test)] == [180, 20, 50]
    raw_test = read_idx(root / "t10k-images-idx3-ubyte").reshape(50, -1)
    assert torch.equal(d.test[0], torch.from_numpy(raw_test.astype(np.float32) / 255))
    assert torch.equal(d.test[1], torch.arange(50) % 10)


def test_idx_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_idx_dataset(tmp_path / "fashion-mnist", n_train=100, n_test=30)
    monkeypatch.setenv("DSE_DATA_ROOT", str(tmp_path))
    assert resolve_root("fashion-mnist") == tmp_path / "fashion-mnist"
    assert len(load_dataset("fashion-mnist").test[0]) == 30


def test_missing_files_name_path_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelInputError) as info:
        load_dataset("mnist", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "train-images-idx3-ubyte") in message
    assert "--data-root" in message and "DSE_DATA_ROOT" in message and "\n" not in message


def test_inconsistent_labels_are_rejected(tmp_path: Path) -> None:
    root = _fake_idx_dataset(tmp_path / "fake", n_train=100)
    _write_idx(root / "train-labels-idx1-ubyte.gz", np.full(100, 12, dtype=np.uint8))
    with pytest.raises(ModelInputError, match="labels in 0..9"):
        load_dataset("mnist", root=root)


def test_empty_image_file_is_rejected(tmp_path: Path) -> None:
    root = _fake_idx_dataset(tmp_path / "fake", n_train=100)
    _write_idx(root / "t10k-images-idx3-ubyte", np.zeros((0, 28, 28), dtype=np.uint8))
    with pytest.raises(ModelInputError, match="t10k-images-idx3-ubyte: expected uint8 images"):
        load_dataset("mnist", root=root)


def test_checksum_mismatch_is_rejected(tmp_path: Path) -> None:
    root = _fake_idx_dataset(tmp_path / "fake", n_train=100)
    good = hashlib.sha256((root / "t10k-images-idx3-ubyte").read_bytes()).hexdigest()
    (root / "SHA256SUMS").write_text(
        f"{good}  t10k-images-idx3-ubyte\n{'0' * 64}  train-images-idx3-ubyte.gz\n"
    )
    with pytest.raises(ModelInputError, match="train-images-idx3-ubyte.gz: SHA256 differs"):
        load_dataset("mnist", root=root)
    (root / "SHA256SUMS").write_text(f"{good} *t10k-images-idx3-ubyte\n")
    assert len(load_dataset("mnist", root=root).test[0]) == 50


def test_ood_noise_and_flip() -> None:
    d = load_dataset("digits")
    noise = load_ood("noise", d, seed=4)
    assert noise.shape == (360, 64) and noise.dtype == torch.float32
    assert float(noise.min()) >= 0.0 and float(noise.max()) < 1.0
    assert torch.equal(noise, load_ood("noise", d, seed=4))
    assert not torch.equal(noise, load_ood("noise", d, seed=5))
    flipped = load_ood("flip", d)
    assert torch.equal(flipped.reshape(-1, 8, 8), d.test[0].reshape(-1, 8, 8).flip(1))
    subset = load_ood("flip", d, n=40, seed=1)
    assert subset.shape == (40, 64) and set(_rows(subset)) <= set(_rows(flipped))


def test_ood_rejects_bad_specs(tmp_path: Path) -> None:
    d = load_dataset("digits")
    fake = _fake_idx_dataset(tmp_path / "fake")
    with pytest.raises(ModelInputError, match="mnist has 784 inputs but digits has 64"):
        load_ood("mnist", d, root=fake)
    with pytest.raises(ModelInputError, match="is the in-distribution dataset"):
        load_ood("digits", d)
    with pytest.raises(ModelInputError, match="unknown spec 'svhn'"):
        load_ood("svhn", d)
    with pytest.raises(ModelInputError, match="exceeds the 360"):
        load_ood("flip", d, n=1000)


@pytest.mark.shared
def test_real_mnist() -> None:
    labels = read_idx(MNIST_DIR / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,) and labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")[:3].tolist() == [7, 2, 1]
    d = load_dataset("mnist", root=MNIST_DIR, seed=0)
    assert [len(s[0]) for s in (d.train, d.val, d.test)] == [54000, 6000, 10000]
    assert d.test[1][:3].tolist() == [7, 2, 1]
    assert float(d.train[0].max()) == 1.0 and d.input_dim == 784
    # Default resolution finds ../shared/datasets/mnist next to the repository.
    assert resolve_root("mnist").resolve() == MNIST_DIR.resolve()


@pytest.mark.shared
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_as_ood_for_mnist() -> None:
    mnist = load_dataset("mnist", root=MNIST_DIR, max_train=500, max_test=200)
    fashion = load_dataset("fashion-mnist", root=FASHION_DIR, max_train=500, max_test=100)
    assert fashion.input_dim == 784
    assert read_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz")[:4].tolist() == [9, 0, 0, 3]
    ood = load_ood("fashion-mnist", mnist, root=FASHION_DIR, n=150, seed=0)
    assert ood.shape == (150, 784)
    assert torch.bincount(fashion.test[1], minlength=10).tolist() == [10] * 10


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_is_found_where_debian_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a root, `$DSE_DATA_ROOT` or a shared copy, Debian's package is the dataset."""
    monkeypatch.delenv("DSE_DATA_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    found = resolve_root("fashion-mnist")
    if not (MNIST_DIR.parent / "fashion-mnist").is_dir():  # a shared copy comes first
        assert found == FASHION_DIR
    d = load_dataset("fashion-mnist", max_train=300, max_test=50)
    assert (d.num_classes, d.input_dim, d.image_shape) == (10, 784, (1, 28, 28))


def test_selection_split_is_disjoint_seeded_and_leaves_the_rest_alone() -> None:
    """Four disjoint splits; the selection split is fixed by the seed, its cap moves no
    training image, and without one the other splits are what they always were."""
    d = load_dataset("digits", seed=2, selection_fraction=0.25)
    assert [len(s[0]) for s in (d.train, d.val, d.selection, d.test)] == [934, 144, 359, 360]
    x_all = torch.cat([d.train[0], d.val[0], d.selection[0], d.test[0]])
    assert len(x_all) == 1797  # together: every digit image once
    pool_rows = _rows(torch.cat([d.train[0], d.val[0], d.selection[0]]))
    plain = load_dataset("digits", seed=2)
    assert pool_rows == _rows(torch.cat([plain.train[0], plain.val[0]]))
    assert len(plain.selection[0]) == 0
    again = load_dataset("digits", seed=2, selection_fraction=0.25)
    assert torch.equal(again.selection[0], d.selection[0])
    other = load_dataset("digits", seed=3, selection_fraction=0.25)
    assert not torch.equal(other.selection[0], d.selection[0])
    capped = load_dataset("digits", seed=2, selection_fraction=0.25, max_selection=100)
    assert len(capped.selection[0]) == 100
    assert set(_rows(capped.selection[0])) <= set(_rows(d.selection[0]))
    assert torch.equal(capped.train[0], d.train[0]) and torch.equal(capped.val[0], d.val[0])
    with pytest.raises(ModelInputError, match="selection_fraction"):
        load_dataset("digits", selection_fraction=1.0)
