"""CPU and wall time of one simulator call at 1 thread and at N threads, by network size.

    python benchmarks/eval_threads.py [--threads 2] [--seconds 2]

For each network and batch: the float simulator (`simulate`) and the integer datapath
(`run_integer`), S = 10, T = 8, `repeat`, weights drawn once, timed at 1 thread and at
`--threads`; each cell is the fastest call (CPU by `time.process_time`, all threads; wall
by `time.perf_counter`) within `--seconds`, with the 1-min load average.  The last column
is the work the thread rule (`models.threads.evaluation_threads`) reads: multiply-adds per
call, `models.threads.synaptic_work`.  This is the measurement that set its threshold
(docs/measurements.md, "Simulator speed").
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from hwmodel.template import AcceleratorConfig
from models.snn_float import sample_weights, simulate
from models.snn_integer import draw_weights, quantize_input, quantize_network, run_integer
from models.snn_spec import ConvertedLayer, ConvertedSNN
from models.threads import synaptic_work

SAMPLES, TIMESTEPS = 10, 8
CASES = [  # (widths, batch): digits-sized to MNIST-sized networks
    ((64, 256, 10), 50),
    ((64, 256, 10), 500),
    ((64, 256, 256, 10), 500),
    ((784, 256, 10), 500),
    ((784, 1024, 10), 200),
    ((784, 1024, 1024, 10), 20),
    ((784, 1024, 1024, 10), 200),
]


def random_snn(widths: tuple[int, ...], seed: int = 0) -> ConvertedSNN:
    """Random posteriors, thresholds near sqrt(fan-in) so that a fair share of neurons fires."""
    rng = np.random.default_rng(seed)
    layers = []
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        last = index == len(widths) - 2
        threshold = np.ones(n_out) if last else rng.uniform(0.5, 1.5, n_out) * np.sqrt(n_in)
        initial = np.zeros(n_out) if last else threshold / 2
        prob = rng.beta(0.5, 0.5, (n_out, n_in))
        layers.append(ConvertedLayer(prob, threshold, np.zeros(n_out), initial, not last))
    return ConvertedSNN(layers=layers)


def fastest(run: Callable[[], object], seconds: float) -> tuple[float, float]:
    """(CPU s, wall s) of the fastest calls within `seconds` (at least 3) after a warm-up."""
    run()
    cpu, wall = [], []
    deadline = time.perf_counter() + seconds
    while len(cpu) < 3 or time.perf_counter() < deadline:
        c0, w0 = time.process_time(), time.perf_counter()
        run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall)


def simulators(widths: tuple[int, ...], batch: int) -> dict[str, Callable[[], object]]:
    """One float and one integer call on `batch` random images, weights drawn beforehand."""
    snn = random_snn(widths)
    x = torch.rand(batch, widths[0], generator=torch.Generator().manual_seed(1))
    weights = sample_weights(snn, SAMPLES, device="cpu")
    config = AcceleratorConfig(widths=widths, timesteps=TIMESTEPS, samples=SAMPLES)
    net = quantize_network(snn, config)
    integer_weights = draw_weights(net, config)
    x_int = quantize_input(x.numpy(), config.input_bits)
    return {
        "float": lambda: simulate(snn, x, TIMESTEPS, SAMPLES, device="cpu", weights=weights),
        "integer": lambda: run_integer(net, x_int, config, integer_weights),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print(
        f"{'model':>7} {'widths':>20} {'batch':>5} {'1 thread CPU/wall ms':>21} "
        f"{f'{args.threads} threads CPU/wall ms':>22} {'load':>5} {'work (MAC)':>11}"
    )
    for widths, batch in CASES:
        work = synaptic_work(widths, SAMPLES, TIMESTEPS, batch)
        for name, run in simulators(widths, batch).items():
            cells = []
            for threads in (1, args.threads):
                torch.set_num_threads(threads)
                cpu, wall = fastest(run, args.seconds)
                cells.append(f"{cpu * 1e3:9.1f} / {wall * 1e3:9.1f}")
            print(
                f"{name:>7} {'-'.join(map(str, widths)):>20} {batch:>5} {cells[0]:>21} "
                f"{cells[1]:>22} {os.getloadavg()[0]:>5.1f} {work:>11.2e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
