"""Wall time of the integer hardware-exact SNN at MNIST size (prints a table).

    python benchmarks/snn_integer_speed.py [--batch 1000]

A random 784-1024-1024-10 network (random posteriors and thresholds): the time depends on
the shapes and spike counts, not on trained values.  The hardware-PRNG weight draw
(`draw_weights`, once per evaluation) is timed apart from the inference over the batch.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hwmodel.template import AcceleratorConfig
from models.snn_integer import draw_weights, quantize_input, quantize_network, run_integer
from models.snn_spec import ConvertedLayer, ConvertedSNN


def random_network(widths: tuple[int, ...], rng: np.random.Generator) -> ConvertedSNN:
    """Thresholds near sqrt(fan-in) so that a fair share of neurons fires."""
    layers = []
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        last = index == len(widths) - 2
        thr = np.ones(n_out) if last else rng.uniform(0.5, 1.5, n_out) * np.sqrt(n_in)
        layers.append(
            ConvertedLayer(
                prob=rng.beta(0.5, 0.5, (n_out, n_in)),
                threshold=thr,
                bias=np.zeros(n_out),
                initial=np.zeros(n_out) if last else thr / 2,
                spiking=not last,
            )
        )
    return ConvertedSNN(layers=layers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    widths = (784, 1024, 1024, 10)
    x = quantize_input(rng.uniform(0, 1, (args.batch, widths[0])), 8)
    header = f"{'ensemble':>8} {'S':>3} {'T':>3} {'batch':>6} {'draw s':>7} {'run s':>7}"
    print(f"{header} {'images/s':>9} {'spikes/img':>11}")
    for ensemble, samples in (("repeat", 10), ("time", 8)):
        cfg = AcceleratorConfig(widths=widths, ensemble=ensemble, samples=samples, timesteps=8)
        net = quantize_network(random_network(widths, rng), cfg)
        start = time.perf_counter()
        weights = draw_weights(net, cfg)
        drawn = time.perf_counter()
        result = run_integer(net, x, cfg, weights)
        seconds = time.perf_counter() - drawn
        spikes = result.spikes.sum(axis=1).mean()
        print(
            f"{ensemble:>8} {cfg.samples:>3} {cfg.timesteps:>3} {args.batch:>6} "
            f"{drawn - start:>7.2f} {seconds:>7.2f} {args.batch / seconds:>9.1f} {spikes:>11.0f}"
        )


if __name__ == "__main__":
    main()
