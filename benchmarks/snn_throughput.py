"""Throughput of dse's float and integer SNN simulators against snnTorch at its best.

    python benchmarks/snn_throughput.py [--threads 1] [--batches 1 200 1000] [--seconds 3]

Network 784-1024-1024-10 with random Bernoulli parameters, S = 10 weight samples, T = 8,
`repeat` ensemble, direct encoding, MNIST test images (noise if MNIST is missing).  Inputs and
parameters are multiples of 1/256 with few significant bits, so every float32 sum is exact
whatever its order: the snnTorch references, given the very same sampled weights, must produce
*identical* class scores and spike counts, and the script checks that before timing.

The snnTorch references use the same neurons (`snntorch.Leaky` with beta = 1: integrate and
fire, reset by subtraction, firing at the threshold; the output layer without reset) and are
written as a user who wants speed would write them:

* ``snnTorch step``: batched over weight samples and images ([S, B, n] tensors, one batched
  product per layer and step), the dense first layer's current computed once per sample
  outside the time loop, then the usual loop over timesteps through the layers;
* ``snnTorch layer``: the same, layer by layer: each hidden layer's neuron steps through all
  timesteps, then the next layer's currents for all timesteps come from one batched product
  (what dse's core does, in float32 instead of int8).

Both run a batch in chunks of images, at the chunk size where each is fastest per image
(measured at 1 thread, 400 images, ms CPU per image: step 4.66 / 3.64 / 3.27 / 3.27 / 3.30
in chunks of 25 / 50 / 100 / 200 / 400, layer 3.22 / 3.29 / 3.40 / 3.77 / 3.67; unchunked at
batch 1000 step takes 5.0 ms and layer 6.1 ms per image).  The ratios are against the faster
of the two at each batch size (``best``).  Timed: one
inference call over a batch, weights already drawn (dse's float model and snnTorch get the
same `SampledWeights`; the integer model its hardware-PRNG draw, as `models.evaluation` does;
the draws are timed apart).  Each cell is the fastest of repeated calls within about
`--seconds`: CPU seconds (`time.process_time`, all threads) and wall seconds, with the 1-min
load average of the machine beside them; the ratios are of CPU time, which other jobs on
shared cores disturb less than wall time.
"""

from __future__ import annotations

import argparse
import os
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
    """The same network in snnTorch, batched over weight samples and images.

    Weights are stacked [S, n_in, n_out] (float32, as an snnTorch model holds them); every
    tensor is [S, B, n].  snnTorch's Leaky applies a spike's subtraction at the next step
    (`reset_delay`), which gives the same spikes and final membranes as subtracting at once.
    """

    step_chunk = 200  # images per call of `_step`
    layer_chunk = 25  # images per call of `_layer`

    def __init__(self, snn: ConvertedSNN, weights: SampledWeights) -> None:
        self.weights = [w.float().contiguous() for w in weights.layers]
        self.bias = [torch.as_tensor(lay.bias, dtype=torch.float32) for lay in snn.layers]
        self.initial = [torch.as_tensor(lay.initial, dtype=torch.float32) for lay in snn.layers]
        self.neurons = [
            snntorch.Leaky(
                beta=1.0,
                threshold=torch.as_tensor(layer.threshold, dtype=torch.float32),
                spike_grad=_fires_at_threshold,
                reset_mechanism="subtract" if layer.spiking else "none",
            )
            for layer in snn.layers
        ]

    def _first_current(self, x: torch.Tensor) -> torch.Tensor:
        """The dense first layer's current [S, B, n1], once per sample: x is the same at
        every timestep."""
        return torch.baddbmm(self.bias[0], x.expand(len(self.weights[0]), -1, -1), self.weights[0])

    def _initial(self, index: int, batch: int) -> torch.Tensor:
        return self.initial[index].expand(len(self.weights[0]), batch, -1).clone()

    def step(self, x: torch.Tensor, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores [S, B, C] and spike counts [B, hidden layers]: time loop outside, layers
        inside."""
        return self._chunked(self._step, x, timesteps, self.step_chunk)

    def layer(self, x: torch.Tensor, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The same, layer by layer: one batched product per layer for all timesteps."""
        return self._chunked(self._layer, x, timesteps, self.layer_chunk)

    @staticmethod
    def _chunked(run, x: torch.Tensor, timesteps: int, chunk: int):
        parts = [run(x[start : start + chunk], timesteps) for start in range(0, len(x), chunk)]
        return torch.cat([p[0] for p in parts], dim=1), torch.cat([p[1] for p in parts])

    @torch.inference_mode()
    def _step(self, x: torch.Tensor, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = len(self.neurons) - 1
        spikes = torch.zeros(x.shape[0], hidden)
        mems = [self._initial(index, x.shape[0]) for index in range(len(self.neurons))]
        first = self._first_current(x)
        for _ in range(timesteps):
            current = first
            for index, neuron in enumerate(self.neurons):
                signal, mems[index] = neuron(current, mems[index])
                if index < hidden:
                    spikes[:, index] += signal.sum(dim=(0, 2))
                    weight = self.weights[index + 1]
                    current = torch.baddbmm(self.bias[index + 1], signal, weight)
        return mems[-1], spikes

    @torch.inference_mode()
    def _layer(self, x: torch.Tensor, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = len(self.neurons) - 1
        samples, batch = len(self.weights[0]), x.shape[0]
        spikes = torch.zeros(batch, hidden)
        currents = self._first_current(x).expand(timesteps, -1, -1, -1)  # [T, S, B, n1]
        for index, neuron in enumerate(self.neurons):
            mem = self._initial(index, batch)
            train = []
            for t in range(timesteps):
                signal, mem = neuron(currents[t], mem)
                train.append(signal)
            if index < hidden:  # the spikes as [S, T * B, n]: one product for all steps
                stacked = torch.stack(train, dim=1)  # [S, T, B, n]
                spikes[:, index] = stacked.sum(dim=(0, 1, 3))
                inputs = stacked.view(samples, timesteps * batch, -1)
                flat = torch.baddbmm(self.bias[index + 1], inputs, self.weights[index + 1])
                currents = flat.view(samples, timesteps, batch, -1).transpose(0, 1)
        return mem, spikes


def fastest(run: Callable[[], object], seconds: float) -> tuple[float, float, float]:
    """(CPU s, wall s, load) of the fastest call: one warm-up, then calls until `seconds` of
    wall time have passed (at least two, at most 50); fastest by CPU time, the wall time of
    the fastest by wall time (the calls least disturbed by other jobs)."""
    run()
    cpu, wall = [], []
    deadline = time.perf_counter() + seconds
    while len(cpu) < 2 or (time.perf_counter() < deadline and len(cpu) < 50):
        c0, w0 = time.process_time(), time.perf_counter()
        run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall), os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 200, 1000])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per cell")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    snn = random_snn(WIDTHS)
    images = load_images(max(args.batches))
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

    check = ours(images[:200])
    rate = (check.activity[1] + check.activity[2]) / 2048
    for name, run in (("step", reference.step), ("layer", reference.layer)):
        ref_scores, ref_spikes = run(images[:200], TIMESTEPS)
        same = torch.equal(check.scores, ref_scores)
        same = same and torch.equal(check.spikes.float(), ref_spikes)
        print(f"outputs identical to snnTorch {name} (scores and spike counts): {same}")
        if not same:
            raise SystemExit(f"float simulator and snnTorch {name} disagree")
    print(
        f"mean hidden spike rate per timestep: {rate:.3f}; weight draw {draw_s * 1e3:.0f} ms "
        f"(float), {integer_draw_s * 1e3:.0f} ms (integer, hardware PRNG)"
    )

    title = (
        f"ms per call: CPU / wall (load), {WIDTHS}, S={SAMPLES}, T={TIMESTEPS}, "
        f"{args.threads} thread(s); ratios: snnTorch best CPU time / dse CPU time"
    )
    table = Table(title=title)
    columns = ("batch", "snnTorch step", "snnTorch layer", "dse float", "dse integer")
    for column in (*columns, "float x", "integer x", "integer images/CPU-s"):
        table.add_column(column, justify="right")
    for batch in args.batches:
        x = images[:batch]
        x_int = quantize_input(x.numpy(), config.input_bits)
        cells = [
            fastest(fn, args.seconds)
            for fn in (
                lambda x=x: reference.step(x, TIMESTEPS),
                lambda x=x: reference.layer(x, TIMESTEPS),
                lambda x=x: ours(x),
                lambda x_int=x_int: integer(x_int),
            )
        ]
        best = min(cells[0][0], cells[1][0])
        table.add_row(
            str(batch),
            *(f"{c * 1e3:.1f} / {w * 1e3:.1f} ({load:.1f})" for c, w, load in cells),
            f"{best / cells[2][0]:.2f}x",
            f"{best / cells[3][0]:.2f}x",
            f"{batch / cells[3][0]:.0f}",
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
