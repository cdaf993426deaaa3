"""Throughput of the float SNN simulator against a plain snnTorch loop (and the integer model).

    python benchmarks/snn_throughput.py [--threads 2] [--large-batch 1000] [--repeats 20]

Network 784-1024-1024-10 with random Bernoulli parameters, S = 10 weight samples, T = 8,
`repeat` ensemble, direct encoding, MNIST test images (noise if MNIST is missing).  Inputs and
parameters are multiples of 1/256 with few significant bits, so every float32 sum is exact
whatever its order: the snnTorch reference, given the very same sampled weights, must produce
*identical* class scores and spike counts, and the script checks that before timing.

Timed: one inference call over a batch, weights already drawn (both simulators get the same
`SampledWeights`; the hardware draws them once per seed, and so does `models.evaluation`).
The integer model gets its weights drawn once with the hardware PRNG (`draw_weights`, as
`models.evaluation` does); both draws are timed separately.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import snntorch
import torch
from rich.console import Console
from rich.table import Table

from hwmodel.template import AcceleratorConfig
from models.idx import read_idx
from models.snn_float import SampledWeights, sample_weights, simulate
from models.snn_integer import draw_weights, quantize_input, quantize_network, run_integer
from models.snn_spec import ConvertedLayer, ConvertedSNN

WIDTHS = (784, 1024, 1024, 10)
TIMESTEPS, SAMPLES = 8, 10
MNIST_TEST = Path(__file__).resolve().parents[2] / "shared/datasets/mnist/t10k-images-idx3-ubyte.gz"


def random_snn(widths: tuple[int, ...], seed: int = 0) -> ConvertedSNN:
    """Random converted SNN with dyadic parameters and thresholds giving moderate spiking."""
    rng = np.random.default_rng(seed)
    layers = []
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        prob = 1.0 / (1.0 + np.exp(-rng.normal(0.0, 3.0, (n_out, n_in))))
        spiking = index < len(widths) - 2
        threshold = rng.integers(12, 28, n_out).astype(np.float64) if spiking else np.ones(n_out)
        bias = rng.integers(-64, 65, n_out) / 256.0
        initial = threshold / 2 if spiking else np.zeros(n_out)
        layers.append(ConvertedLayer(prob, threshold, bias, initial, spiking))
    return ConvertedSNN(layers=layers, output_scale=1.0)


def load_images(count: int, seed: int = 0) -> torch.Tensor:
    """MNIST test images as multiples of 1/256 (exact in float32 sums); noise without MNIST."""
    if MNIST_TEST.exists():
        pixels = read_idx(MNIST_TEST)[:count].reshape(count, -1).astype(np.float32)
    else:
        pixels = np.random.default_rng(seed).integers(0, 256, (count, WIDTHS[0]))
    return torch.as_tensor(pixels, dtype=torch.float32) / 256.0


def _fires_at_threshold(mem_shift: torch.Tensor) -> torch.Tensor:
    """Spike when the membrane *reaches* the threshold (snnTorch's default is strictly above)."""
    return (mem_shift >= 0).float()


class SnnTorchReference:
    """The same network as a plain snnTorch model, run sample by sample, step by step."""

    def __init__(self, snn: ConvertedSNN, weights: SampledWeights) -> None:
        self.snn = snn
        self.samples = [
            [torch.nn.Linear(w.shape[1], w.shape[2]) for w in weights.layers]
            for _ in range(weights.samples)
        ]
        for sample, linears in enumerate(self.samples):
            for linear, w, layer in zip(linears, weights.layers, snn.layers, strict=True):
                linear.weight.data = w[sample].T.float().contiguous()
                linear.bias.data = torch.as_tensor(layer.bias, dtype=torch.float32)
        self.neurons = [
            snntorch.Leaky(
                beta=1.0,
                threshold=torch.as_tensor(layer.threshold, dtype=torch.float32),
                spike_grad=_fires_at_threshold,
                reset_mechanism="subtract" if layer.spiking else "none",
            )
            for layer in snn.layers
        ]

    @torch.inference_mode()
    def run(self, x: torch.Tensor, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores [S, B, C] and spike counts [B, hidden layers]."""
        scores, spikes = [], torch.zeros(x.shape[0], len(self.neurons) - 1)
        initial = [torch.as_tensor(lay.initial, dtype=torch.float32) for lay in self.snn.layers]
        for linears in self.samples:
            mems = [init.expand(x.shape[0], -1).clone() for init in initial]
            for _ in range(timesteps):
                signal = x
                for index, (linear, neuron) in enumerate(zip(linears, self.neurons, strict=True)):
                    signal, mems[index] = neuron(linear(signal), mems[index])
                    if index < len(self.neurons) - 1:
                        spikes[:, index] += signal.sum(dim=1)
            scores.append(mems[-1])
        return torch.stack(scores), spikes


def best_time(run: Callable[[], object], repeats: int) -> float:
    """Fastest of `repeats` calls after one warm-up (least disturbed by the shared cores)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--large-batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls at batch 1")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    snn = random_snn(WIDTHS)
    images = load_images(args.large_batch)
    start = time.perf_counter()
    weights = sample_weights(snn, SAMPLES, seed=0, device="cpu")
    draw_s = time.perf_counter() - start
    reference = SnnTorchReference(snn, weights)
    config = AcceleratorConfig(widths=WIDTHS, timesteps=TIMESTEPS, samples=SAMPLES)
    integer_net = quantize_network(snn, config)
    start = time.perf_counter()
    integer_weights = draw_weights(integer_net, config)
    integer_draw_s = time.perf_counter() - start

    def ours(x: torch.Tensor):
        return simulate(snn, x, TIMESTEPS, SAMPLES, device="cpu", weights=weights)

    def integer(x_int: np.ndarray):
        return run_integer(integer_net, x_int, config, integer_weights)

    check = ours(images)
    ref_scores, ref_spikes = reference.run(images, TIMESTEPS)
    same = torch.equal(check.scores, ref_scores) and torch.equal(check.spikes.float(), ref_spikes)
    rate = (check.activity[1] + check.activity[2]) / 2048
    print(f"outputs identical to snnTorch (scores and spike counts): {same}")
    print(
        f"mean hidden spike rate per timestep: {rate:.3f}; weight draw {draw_s * 1e3:.0f} ms "
        f"(float), {integer_draw_s * 1e3:.0f} ms (integer, hardware PRNG)"
    )
    if not same:
        raise SystemExit("float simulator and snnTorch disagree")

    table = Table(title=f"images/s, {WIDTHS}, S={SAMPLES}, T={TIMESTEPS}, {args.threads} threads")
    for column in ("batch", "snnTorch", "float", "float/snnTorch", "integer", "integer/snnTorch"):
        table.add_column(column, justify="right")
    for batch, repeats in ((1, args.repeats), (args.large_batch, 1)):
        x = images[:batch]
        x_int = quantize_input(x.numpy(), config.input_bits)
        rates = [
            batch / best_time(fn, count)
            for fn, count in (
                (lambda x=x: reference.run(x, TIMESTEPS), repeats),
                (lambda x=x: ours(x), repeats),
                (lambda x_int=x_int: integer(x_int), repeats),
            )
        ]
        ref = rates[0]
        table.add_row(
            str(batch),
            f"{ref:.1f}",
            f"{rates[1]:.1f}",
            f"{rates[1] / ref:.2f}x",
            f"{rates[2]:.1f}",
            f"{rates[2] / ref:.2f}x",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
