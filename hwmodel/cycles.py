"""Cycles and operation counts per image, from the plan's loops and the events they process.

Every pipelined loop of `hwmodel.plan` costs ``trip x II + depth + LOOP_ENTRY`` per pass; the
loops with a fixed trip count add up to `HardwarePlan.fixed_cycles`, and each event loop adds
its cycles per event times the events it processes.  The sum is linear in the events, so the
expected cycles of a design are its cycles at the expected events.

Events: the event loop of weight layer l visits an input that fired in *any* lane of a round
(the lanes share it and mask the update).  Lanes of one round run the same image under
different weight samples and fire mostly together, so without a measured figure the loop is
taken to visit as many inputs per timestep as one lane fires (`activity`); `loop_events`
gives the measured union instead (the integer model counts it: `IntegerResult.events`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwmodel.architecture import ConvShape
from hwmodel.errors import HardwareInputError
from hwmodel.plan import IMAGE_HANDSHAKE, HardwarePlan, build_plan
from hwmodel.template import AcceleratorConfig

__all__ = [
    "IO_LOOPS",
    "activity_matrix",
    "conv_ops_per_inference",
    "conv_synops_per_inference",
    "cycle_breakdown_from_events",
    "datapath_layer",
    "dense_ops_per_inference",
    "loop_cycles",
    "plan_cycles",
    "synops_per_inference",
]

#: The loops that move the image in and the results out over the bus.
IO_LOOPS = ("load_image", "store_scores", "store_counts")


def activity_matrix(
    widths: Sequence[int],
    n: int,
    activity: Sequence[float] | np.ndarray | None = None,
    spike_rate: float | np.ndarray = 0.1,
    name: str = "activity",
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
            f"{name}: {act.shape[-1]} entries per design, but widths {list(widths)} have "
            f"{len(w)} weight layers; give one mean event count per weight layer"
        )
    if np.any(~np.isfinite(act)) or np.any(act < 0):
        raise HardwareInputError(f"{name}: event counts must be finite and non-negative")
    return np.minimum(act, w[None, :])


def datapath_layer(name: str) -> int | None:
    """The weight layer whose datapaths loop `name` runs (None: not a datapath loop)."""
    if name == "first_current":
        return 0
    head, _, tail = name.rpartition("_")
    return int(tail) if head in ("events", "fire", "reset", "conv", "fill") else None


def loop_cycles(plan: HardwarePlan, events: np.ndarray) -> dict[str, np.ndarray]:
    """Cycles of every loop per image (`plan_cycles`' `events`), by loop name."""
    events = np.asarray(events, dtype=np.float64)
    return {
        loop.name: loop.fixed_cycles
        + (
            np.zeros(events.shape[:-1])
            if loop.event_layer is None
            else loop.cycles_per_event * events[..., loop.event_layer]
        )
        for loop in plan.loops
    }


def plan_cycles(plan: HardwarePlan, events: np.ndarray) -> dict[str, np.ndarray]:
    """Cycles per image: total, io, sampling and per_layer (they add up to total).

    `events[..., l]` is the number of inputs the event loop of weight layer l visits over the
    whole image (summed over rounds and timesteps; a layer without an event loop ignores its
    entry: a dense first layer, and the convolutions, whose sliding window takes the same
    cycles whatever spikes).  Leading axes broadcast.
    """
    events = np.asarray(events, dtype=np.float64)
    n_layers = plan.config.n_layers
    lead = events.shape[:-1]
    per_layer = np.zeros((*lead, n_layers))
    io = np.full(lead, float(IMAGE_HANDSHAKE))
    sampling = np.zeros(lead)
    for name, cost in loop_cycles(plan, events).items():
        if name in IO_LOOPS:
            io = io + cost
        elif name == "keys" or name.startswith("sample_"):
            sampling = sampling + cost
        else:
            layer = datapath_layer(name)
            per_layer[..., layer] += cost
    total = io + sampling + per_layer.sum(axis=-1)
    return {"total": total, "io": io, "sampling": sampling, "per_layer": per_layer}


def cycle_breakdown_from_events(
    config: AcceleratorConfig, events: np.ndarray
) -> dict[str, np.ndarray]:
    """Cycles of one image from counted events: `plan_cycles` of the design's plan.
    `events[..., r, t, l]` is the number of inputs of weight layer l that fired in any lane at
    timestep t of round r (as `models.snn_integer` counts them); leading axes broadcast.
    Returns total, io, sampling and per_layer."""
    events = np.asarray(events, dtype=np.float64)
    return plan_cycles(build_plan(config), events.sum(axis=(-3, -2)))


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


def conv_ops_per_inference(
    shapes: Sequence[ConvShape], widths: Sequence[int], timesteps: np.ndarray, runs: np.ndarray
) -> np.ndarray:
    """Dense-equivalent operations of a design with a convolutional front, 2 per multiply-
    accumulate per timestep per run: a convolution's every neuron (output channel and pixel)
    has 9 x input channels (the zero padding's taps included, as MAC counts of convolutions
    go), a dense layer's every weight one."""
    macs = sum(s.fan_in * s.neurons for s in shapes)
    macs += sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return 2.0 * macs * np.asarray(timesteps) * np.asarray(runs)


def conv_synops_per_inference(
    shapes: Sequence[ConvShape],
    widths: Sequence[int],
    per_lane: np.ndarray,
    timesteps: np.ndarray,
    runs: np.ndarray,
) -> np.ndarray:
    """Synaptic operations of a design with a convolutional front (one add per input event and
    synapse it reaches), every timestep of every run: an input of a convolution reaches the 9
    kernel positions of every output channel (at the border too: the taps on the padding are
    summed as zeros), the first layer's pixels count as events every timestep (its datapaths
    add them every timestep), and a dense input reaches the layer's width (the head's first
    layer is event-driven: its inputs are the front's spikes)."""
    fan_out = np.array([9.0 * s.channels for s in shapes] + [float(w) for w in widths[1:]])
    return np.asarray(timesteps) * runs * (per_lane * fan_out).sum(axis=-1)
