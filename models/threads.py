"""How many torch threads a simulator call gets: one for small work or busy cores, the
configured count otherwise.

Torch's OpenMP threads spin while they wait for each other.  A second thread on small
tensors buys no time, and on cores that other jobs keep busy it costs far more than it
buys: one integer evaluation of a 64-256-10 network took 20-27 ms CPU on 1 thread and
75-720 ms on 2 threads at load 6-13.  `evaluation_threads` gives a call one thread below
`SMALL_WORK` multiply-adds (`synaptic_work`), and otherwise the configured count
(`torch.get_num_threads()`, which `OMP_NUM_THREADS` sets, as `dse.parallel` does per
worker) capped by the cores that the 1-minute load average, less this process's own
threads, leaves free.  `models.evaluation` runs every simulator call under `threads_for`.
Measured by `benchmarks/eval_threads.py` on 2 cores (docs/measurements.md, "Simulator
speed"): with the cores free, 2 threads cut the wall time 1.4-1.9x from 1.1e9 multiply-adds
per call up, for 4-35 % more CPU (one case of ten lost); at 1.8e8 they gave 1.15-1.85x
for up to 1.8x the CPU, at 1.8e7 nothing; at load 5-7 they lost at every size, up to 7x
the CPU and 6x the wall time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from hwmodel.template import NetworkGeometry

__all__ = ["SMALL_WORK", "evaluation_threads", "free_cores", "synaptic_work", "threads_for"]

#: Multiply-adds per simulator call below which one thread is used, however idle the cores.
SMALL_WORK = 500_000_000


def synaptic_work(
    widths: tuple[int, ...] | NetworkGeometry,
    samples: int,
    timesteps: int,
    batch: int,
    runs: int | None = None,
    dense_first: bool = True,
) -> int:
    """Multiply-adds of one simulator call on `batch` images.

    `widths`: of a dense network, or the geometry of any (`NetworkGeometry.macs`).
    `runs`: T-step runs (S by default, the `repeat` ensemble).  The dense first layer is
    computed once per weight sample (direct encoding; at every step of every run when
    `dense_first` is False), the other layers at every step of every run.
    """
    runs = samples if runs is None else runs
    if isinstance(widths, NetworkGeometry):
        pairs = list(widths.macs)
    else:
        pairs = [n_in * n_out for n_in, n_out in zip(widths[:-1], widths[1:], strict=False)]
    steps = runs * timesteps * batch
    first = samples * batch * pairs[0] if dense_first else steps * pairs[0]
    return first + steps * sum(pairs[1:])


def free_cores(load: float | None = None, own: int = 1) -> int:
    """Cores this process may use that other jobs leave idle: the cores it may run on, less
    the 1-minute load average beyond this process's own `own` threads (1 to all)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if load is None else load
    return max(1, min(cores, round(cores - max(0.0, load - own))))


def evaluation_threads(work: int, configured: int | None = None, load: float | None = None) -> int:
    """1 below `SMALL_WORK` multiply-adds; else `configured` (default: torch's count now),
    at most `free_cores(load, configured)`."""
    if work < SMALL_WORK:
        return 1
    configured = max(1, torch.get_num_threads() if configured is None else configured)
    return min(configured, free_cores(load, configured))


@contextmanager
def threads_for(work: int) -> Iterator[int]:
    """Run the block with `evaluation_threads(work)` torch threads, restored afterwards."""
    before = torch.get_num_threads()
    threads = evaluation_threads(work, before)
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if threads != before:
            torch.set_num_threads(before)
