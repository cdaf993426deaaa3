"""Cycles and operation counts per inference, from a measured or assumed activity profile.

The schedule itself is `hwmodel.template.cycle_breakdown_from_events` (the HLS kernel counts
its loop iterations with the same function); this module only turns an activity profile into
the expected event counts that function takes, and adds the I/O that surrounds the kernel's
compute loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwmodel.errors import HardwareInputError
from hwmodel.template import AcceleratorConfig, cycle_breakdown_from_events

__all__ = [
    "activity_matrix",
    "dense_ops_per_inference",
    "lane_union",
    "io_cycles",
    "schedule_cycles",
    "synops_per_inference",
]


def activity_matrix(
    widths: Sequence[int],
    n: int,
    activity: Sequence[float] | np.ndarray | None = None,
    spike_rate: float | np.ndarray = 0.1,
) -> np.ndarray:
    """Mean input events per timestep per weight sample, [n designs, weight layers].

    `activity` (one list per design, or one list for all) is what `models.evaluation`
    measures: index 0 is the dense input n0.  Without it, hidden inputs fire at `spike_rate`.
    """
    w = np.asarray(widths[:-1], dtype=np.float64)
    if activity is None:
        rate = np.broadcast_to(np.asarray(spike_rate, dtype=np.float64), (n,))
        if np.any(~np.isfinite(rate)) or np.any((rate < 0) | (rate > 1)):
            bad = rate[~((rate >= 0) & (rate <= 1))][0]
            raise HardwareInputError(
                f"spike_rate: {bad} must be a fraction between 0 and 1 (e.g. 0.1)"
            )
        events = rate[:, None] * w[None, :]
        events[:, 0] = w[0]
        return events
    act = np.asarray(activity, dtype=np.float64)
    act = np.broadcast_to(act, (n, act.shape[-1])) if act.ndim == 1 else act
    if act.shape != (n, len(w)):
        raise HardwareInputError(
            f"activity: {act.shape[-1]} entries per design, but widths {list(widths)} have "
            f"{len(w)} weight layers; give one mean event count per weight layer"
        )
    if np.any(~np.isfinite(act)) or np.any(act < 0):
        raise HardwareInputError("activity: event counts must be finite and non-negative")
    return np.minimum(act, w[None, :])


def lane_union(
    widths: Sequence[int], per_lane: np.ndarray, ensemble: str, samples: int, lanes: int
) -> np.ndarray:
    """Expected events per lane-round [n, rounds, L] that the shared event loop processes.

    In `repeat` mode a lane-round runs up to `lanes` samples at once and the loop visits an
    input if it fired in any lane: n (1 - (1 - rate)^lanes) for independent lanes.  `time`
    mode is one round of one lane.
    """
    w = np.asarray(widths[:-1], dtype=np.float64)
    if ensemble == "repeat":
        rounds = -(-samples // lanes)
        active = np.minimum(lanes, samples - np.arange(rounds) * lanes)
    else:
        active = np.ones(1)
    rate = np.minimum(per_lane / w, 1.0)
    return w * (1.0 - (1.0 - rate[:, None, :]) ** active[None, :, None])


def schedule_cycles(
    schedules: list[tuple[AcceleratorConfig, np.ndarray]], per_lane: np.ndarray
) -> dict[str, np.ndarray]:
    """The template's cycle breakdown (total, sampling, per_layer) for designs of one widths.

    `schedules` pairs each distinct schedule (a config) with the positions of its designs in
    `per_lane`; the lane unions are shared by schedules with the same ensemble, S and lanes.
    """
    n, layers = per_lane.shape
    out = {"total": np.empty(n), "sampling": np.empty(n), "per_layer": np.empty((n, layers))}
    unions: dict[tuple, np.ndarray] = {}
    for config, idx in schedules:
        key = (config.ensemble, config.samples, config.sample_lanes)
        if key not in unions:
            unions[key] = lane_union(config.widths, per_lane, *key)
        union = unions[key][idx]
        events = np.broadcast_to(
            union[:, :, None, :], (len(idx), union.shape[1], config.timesteps, layers)
        )
        cyc = cycle_breakdown_from_events(config, events)
        for name in out:
            out[name][idx] = cyc[name]
    return out


def io_cycles(
    widths: Sequence[int], input_bits: np.ndarray, score_vectors: np.ndarray | int, io: dict
) -> np.ndarray:
    """Cycles to fetch the image and write the scores over m_axi (outside the schedule)."""
    word = io["axi_word_bits"]
    load = -(-widths[0] * np.asarray(input_bits) // word)
    store = widths[-1] * score_vectors  # one 32-bit word per class score
    return 2 * io["axi_latency_cycles"] + load + store


def dense_ops_per_inference(
    widths: Sequence[int], timesteps: np.ndarray, runs: np.ndarray
) -> np.ndarray:
    """Dense-equivalent operations: 2 per weight per timestep per run (multiply + add)."""
    n_weights = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return 2.0 * n_weights * np.asarray(timesteps) * np.asarray(runs)


def synops_per_inference(
    widths: Sequence[int],
    per_lane: np.ndarray,
    samples: np.ndarray,
    timesteps: np.ndarray,
    runs: np.ndarray,
) -> np.ndarray:
    """Synaptic operations actually performed (one add/subtract each), per design.

    The dense first layer costs n0 x n1 per weight sample; a hidden-input event costs the
    layer's fan-out, every timestep of every run.
    """
    fan_out = np.asarray(widths[2:], dtype=np.float64)
    hidden = (per_lane[:, 1:] * fan_out).sum(axis=-1)
    return samples * widths[0] * widths[1] + np.asarray(timesteps) * runs * hidden
