"""Dataset shift: test images rotated by a fixed angle (the standard MNIST shift protocol of
Ovadia et al., NeurIPS 2019, "Can you trust your model's uncertainty?").

Images are square and flattened ``[N, side * side]`` in [0, 1]; they are rotated about their
centre, counter-clockwise for positive angles, by bilinear interpolation, with zero (black)
fill outside the original frame, and keep their size.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import rotate

from models.errors import ModelInputError

__all__ = ["rotate_images"]


def rotate_images(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """``x`` [N, side*side] rotated by ``degrees`` (float32, clipped to [0, 1])."""
    n, dim = x.shape
    side = math.isqrt(dim)
    if side * side != dim:
        raise ModelInputError(f"rotation: needs square images, got {dim} inputs per image")
    images = x.detach().cpu().numpy().reshape(n, side, side).astype(np.float64)
    turned = rotate(images, degrees, axes=(2, 1), reshape=False, order=1, mode="constant")
    return torch.from_numpy(np.clip(turned, 0.0, 1.0).reshape(n, dim).astype(np.float32))
