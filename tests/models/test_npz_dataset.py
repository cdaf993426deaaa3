"""The user's own images from an .npz file: layout, splits, image shape and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from npz_data import synthetic, write_npz

from models.datasets import load_dataset, load_ood, npz_digest
from models.errors import ModelInputError


@pytest.fixture
def npz(tmp_path: Path) -> Path:
    return write_npz(tmp_path / "rgb.npz")


def test_channels_last_images_become_channel_major_rows(npz: Path) -> None:
    d = load_dataset("npz", root=npz, selection_fraction=0.1)
    assert (d.name, d.num_classes, d.input_dim, d.image_shape) == ("npz", 3, 192, (3, 8, 8))
    assert [len(s[0]) for s in (d.train, d.val, d.selection, d.test)] == [160, 20, 20, 60]
    x_test = np.load(npz)["x_test"]
    # Input (c * H + y) * W + x is pixel (y, x) of channel c, scaled to [0, 1].
    images = d.test[0].reshape(-1, 3, 8, 8).numpy()
    assert np.array_equal(images, x_test.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    assert d.test[0][5, (2 * 8 + 3) * 8 + 4] == float(x_test[5, 3, 4, 2]) / 255
    assert torch.equal(d.test[1], torch.from_numpy(np.load(npz)["y_test"].astype(np.int64)))


def test_splits_are_carved_from_x_train_by_the_seed(npz: Path) -> None:
    a, b, c = (load_dataset("npz", root=npz, seed=s, selection_fraction=0.1) for s in (4, 4, 5))
    for split in ("train", "val", "selection", "test"):
        assert torch.equal(getattr(a, split)[0], getattr(b, split)[0])
    assert not torch.equal(a.selection[0], c.selection[0])  # another seed, another selection
    assert torch.equal(a.test[0], c.test[0])  # the test set is x_test, whatever the seed
    pool = sorted(r.tobytes() for r in torch.cat([a.train[0], a.val[0], a.selection[0]]).numpy())
    x_train = np.load(npz)["x_train"].transpose(0, 3, 1, 2).reshape(200, -1)
    assert pool == sorted(r.tobytes() for r in (x_train.astype(np.float32) / 255))
    assert torch.bincount(a.selection[1]).tolist() == [7, 7, 6]  # stratified


def test_grayscale_and_two_classes_and_column_labels(tmp_path: Path) -> None:
    x, y = synthetic(200, classes=2)
    gray = x[..., 0]  # [N, H, W]: one channel
    path = write_npz(
        tmp_path / "gray.npz",
        x_train=gray,
        y_train=y[:, None].astype(np.int64),  # Keras keeps CIFAR's labels as [N, 1]
        x_test=gray[:60],
        y_test=y[:60],
    )
    d = load_dataset("npz", root=path)
    assert (d.num_classes, d.input_dim, d.image_shape) == (2, 64, (1, 8, 8))
    assert torch.equal(d.test[0] * 255, torch.from_numpy(gray[:60].reshape(60, -1)).float())


def test_flip_ood_mirrors_each_channel_top_to_bottom(npz: Path) -> None:
    d = load_dataset("npz", root=npz, selection_fraction=0.1)
    flipped = load_ood("flip", d, split="selection").reshape(-1, 3, 8, 8)
    assert torch.equal(flipped, d.selection[0].reshape(-1, 3, 8, 8).flip(2))


def test_the_digest_follows_the_content_and_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "d.npz")
    first, before = npz_digest(path), load_dataset("npz", root=path).test[0]
    write_npz(tmp_path / "copy.npz")
    assert npz_digest(tmp_path / "copy.npz") == first  # the content, not the name
    x_test, _ = synthetic(60, seed=9)
    write_npz(path, x_test=x_test)
    assert npz_digest(path) != first
    assert not torch.equal(load_dataset("npz", root=path).test[0], before)


def test_named_datasets_carry_their_image_shape() -> None:
    assert load_dataset("digits").image_shape == (1, 8, 8)


FLOATS = np.zeros((200, 8, 8, 3), np.float32)


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({"y_test": None}, "y_test: missing (the archive holds x_train, y_train, x_test)"),
        ({"x_train": FLOATS}, "x_train: dtype float32 is not allowed; images are uint8: scale"),
        ({"x_test": np.zeros((60, 192), np.uint8)}, "x_test: shape (60, 192) is not allowed"),
        ({"x_train": np.zeros((200, 3, 8, 8), np.uint8)}, "looks channels-first [N, C, H, W]"),
        ({"x_test": np.zeros((60, 8, 8, 1), np.uint8)}, "x_test: images of (C, H, W) (1, 8, 8)"),
        ({"y_train": np.zeros(199, np.int64)}, "y_train: shape (199,) does not give one label"),
        ({"y_train": np.full(200, 0.5)}, "y_train: dtype float64 is not allowed; labels are"),
        ({"y_test": np.full(60, -1)}, "y_test: label -1 is not allowed; labels are class"),
        ({"y_test": np.full(60, 3)}, "y_test: label 3 is not a class of y_train (0..2)"),
        ({"y_train": np.zeros(200, np.int64)}, "y_train: every label is 0; a classifier needs"),
        ({"y_train": np.arange(200) % 3 * 2}, "y_train: class 1 has no training image"),
        ({"y_train": np.full(200, 10**9)}, "y_train: label 1000000000 exceeds the 200"),
        ({"x_train": np.array([None] * 200)}, "x_train: holds Python objects, not numbers"),
    ],
)
def test_bad_arrays_are_one_line_naming_the_array(
    tmp_path: Path, replace: dict, message: str
) -> None:
    path = write_npz(tmp_path / "bad.npz", **replace)
    with pytest.raises(ModelInputError) as info:
        load_dataset("npz", root=path)
    text = str(info.value)
    assert text.startswith(f"{path.resolve()}: ") and message in text and "\n" not in text


def test_bad_files_are_one_line(tmp_path: Path) -> None:
    not_zip = tmp_path / "a.npz"
    not_zip.write_bytes(b"x_train,y_train\n1,2\n")
    one = tmp_path / "one.npz"
    with open(one, "wb") as handle:
        np.save(handle, np.zeros(3, np.uint8))
    cases = [
        (not_zip, "not a readable .npz archive"),
        (one, "holds one array, not an .npz archive; save the four arrays with numpy.savez"),
        (tmp_path / "absent.npz", "cannot be read (No such file or directory); pass --data-root"),
        (tmp_path, "is not a file; pass --data-root FILE.npz"),
        (None, "npz: no .npz file named; pass --data-root FILE.npz"),
    ]
    for path, message in cases:
        with pytest.raises(ModelInputError) as info:
            load_dataset("npz", root=path)
        assert message in str(info.value) and "\n" not in str(info.value)
