"""Does a bit-packed +-1 x 0/1 product beat the simulators' int8 product on the CPU?

    python benchmarks/bitpack_product.py [--rows 1600] [--rate 0.2]

One block of the integer model's hidden layer at MNIST size: `--rows` spike vectors
(T = 8 timesteps of 200 images) of 1024 inputs times one 1024 x 1024 weight sample.  Timed
at 1 thread, CPU ms, fastest of 5:

* ``int8``: `torch._int_mm` (what `models.snn_core.product` runs): spikes as int8 0/1,
  weights as int8 +-1, exact int32 sums;
* ``packed numpy``: spikes and the weights' +1 positions packed 64 to a uint64 word;
  ``sum_i w_i s_i = 2 popcount(s & plus) - popcount(s)`` with `np.bitwise_and` and
  `np.bitwise_count`, 64 rows at a time;
* ``packed torch``: the same on bytes, popcount by a 256-entry lookup table (torch has no
  popcount).

All three results are checked equal.  Without a compiled kernel of its own the packed
product loses: stock numpy and torch have no fused AND-popcount-accumulate, so every
intermediate goes through memory.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch


def fastest_ms(run: Callable[[], object], repeats: int = 5) -> tuple[float, object]:
    result = run()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times) * 1e3, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1600)
    parser.add_argument("--rate", type=float, default=0.2, help="spike probability")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n_in = n_out = 1024
    spikes = rng.random((args.rows, n_in)) < args.rate
    plus = rng.random((n_in, n_out)) < 0.5  # where the weight is +1

    spikes8 = torch.from_numpy(spikes).view(torch.int8)
    weight8 = torch.from_numpy(np.where(plus, 1, -1).astype(np.int8))
    int8_ms, expected = fastest_ms(lambda: torch._int_mm(spikes8, weight8))

    words = np.packbits(spikes, axis=1, bitorder="little").view(np.uint64)  # [rows, 16]
    plus_words = np.ascontiguousarray(np.packbits(plus.T, axis=1, bitorder="little"))
    plus_words = plus_words.view(np.uint64)  # [n_out, 16]
    active = np.bitwise_count(words).sum(axis=1, dtype=np.int32)[:, None]

    def packed_numpy(chunk: int = 64) -> np.ndarray:
        out = np.empty((args.rows, n_out), np.int32)
        for start in range(0, args.rows, chunk):
            both = np.bitwise_and(words[start : start + chunk, None, :], plus_words[None])
            out[start : start + chunk] = np.bitwise_count(both).sum(axis=-1, dtype=np.int32)
        return 2 * out - active

    numpy_ms, numpy_result = fastest_ms(packed_numpy)

    spike_bytes = torch.from_numpy(np.packbits(spikes, axis=1, bitorder="little"))
    plus_bytes = torch.from_numpy(
        np.ascontiguousarray(np.packbits(plus.T, axis=1, bitorder="little"))
    )
    table = torch.tensor([bin(i).count("1") for i in range(256)], dtype=torch.int32)

    def packed_torch(chunk: int = 32) -> torch.Tensor:
        out = torch.empty((args.rows, n_out), dtype=torch.int32)
        for start in range(0, args.rows, chunk):
            both = spike_bytes[start : start + chunk, None, :] & plus_bytes[None]
            out[start : start + chunk] = table[both.long()].sum(dim=-1, dtype=torch.int32)
        return 2 * out - torch.from_numpy(active)

    torch_ms, torch_result = fastest_ms(packed_torch, repeats=1)
    same = np.array_equal(numpy_result, expected.numpy()) and torch.equal(torch_result, expected)
    print(f"{args.rows} x {n_in} spikes (rate {args.rate}) times {n_in} x {n_out} +-1 weights")
    print(f"results identical: {same}; load {os.getloadavg()[0]:.1f}")
    print(f"int8 _int_mm   {int8_ms:8.1f} ms CPU")
    print(f"packed numpy   {numpy_ms:8.1f} ms CPU ({numpy_ms / int8_ms:.1f}x the int8 product)")
    print(f"packed torch   {torch_ms:8.1f} ms CPU ({torch_ms / int8_ms:.1f}x the int8 product)")


if __name__ == "__main__":
    main()
