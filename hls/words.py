"""The integer network laid out in the plan's row words, as both backends store it: a word
holds the NPC neurons a cycle updates (the HLS kernel's ROM initialisers, the RTL's
`$readmemh` files)."""

from __future__ import annotations

import numpy as np

__all__ = ["code_words", "row_words", "tap_words"]


def row_words(values: np.ndarray, npc: int, pad: int) -> np.ndarray:
    """Per-neuron values [n] as row words [rows, npc], padded with `pad`."""
    n = len(values)
    rows = -(-n // npc)
    out = np.full(rows * npc, pad, dtype=np.int64)
    out[:n] = values
    return out.reshape(rows, npc)


def code_words(codes: np.ndarray, npc: int) -> np.ndarray:
    """Codes [n_out, n_in] as words [n_in * rows, npc]: address i * rows + row holds the codes
    of neurons row * npc + p for input i; padding neurons get code 0 (always -1)."""
    n_out, n_in = codes.shape
    rows = -(-n_out // npc)
    padded = np.zeros((n_in, rows * npc), dtype=np.int64)
    padded[:, :n_out] = codes.T
    return padded.reshape(n_in * rows, npc)


def tap_words(codes: np.ndarray, in_channels: int, npc: int) -> np.ndarray:
    """A convolution's codes [C_out, C_in * 9] (kernel index c * 9 + tap) as a bank per tap,
    [9, C_in * rows, npc]: bank `tap`, address c * rows + row holds that tap's codes of input
    channel c for output channels row * npc + p, so that a slot reads its 9 taps at once."""
    words = code_words(codes, npc)  # [(c * 9 + tap) * rows + row, npc]
    taps = codes.shape[1] // in_channels
    rows = words.shape[0] // codes.shape[1]
    split = words.reshape(in_channels, taps, rows, npc).transpose(1, 0, 2, 3)
    return split.reshape(taps, in_channels * rows, npc)
