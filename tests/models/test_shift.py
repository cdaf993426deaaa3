"""Rotation shift: exact quarter turns, identity at 0 degrees, square images only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.errors import ModelInputError
from models.shift import rotate_images


def test_quarter_turn_is_counter_clockwise_and_zero_is_identity():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3, 6, 6)).astype(np.float32)
    x = torch.from_numpy(images.reshape(3, 36))
    turned = rotate_images(x, 90).numpy().reshape(3, 6, 6)
    assert turned == pytest.approx(np.rot90(images, 1, axes=(1, 2)), abs=1e-5)
    assert rotate_images(x, 0).numpy() == pytest.approx(x.numpy(), abs=1e-6)


def test_small_rotation_moves_mass_off_axis_and_keeps_range():
    image = np.zeros((9, 9), np.float32)
    image[4, 4:] = 1.0  # a bar from the centre to the right edge
    out = rotate_images(torch.from_numpy(image.reshape(1, 81)), 45).numpy().reshape(9, 9)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out[4, 8] < 0.1  # the end of the bar has left the row...
    assert out[1:4, 5:8].sum() > 1.0  # ...towards the top right (counter-clockwise)


def test_non_square_images_are_rejected():
    with pytest.raises(ModelInputError, match="square"):
        rotate_images(torch.zeros(2, 12), 15)
