"""Estimates per second: one design at a time (`estimate`) and a table (`estimate_table`).

Target (issue hwmodel): 10,000 designs estimated in under 1 s.  The table is a random draw
from a search-like knob space; each distinct set of plan knobs is planned and priced once
(`hwmodel.plan.build_plan`, a few ms), so the cost grows with the number of distinct plans,
which the table reports.

    python benchmarks/hwmodel_speed.py [--designs 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from hwmodel.estimate import estimate, estimate_table
from hwmodel.template import AcceleratorConfig

WIDTHS = [(784, 512, 512, 10), (784, 256, 10), (64, 128, 10), (784, 1024, 1024, 10)]
PARTS = ["xc7z020clg400-1", "xc7z045ffg900-2", "xc7z010clg400-1", "xc7z100ffg900-2"]


def design_table(n: int, seed: int) -> pd.DataFrame:
    """A search-like random table of n designs (time ensemble keeps samples <= timesteps)."""
    rng = np.random.default_rng(seed)
    timesteps = rng.choice([4, 8, 16, 32], n)
    ensemble = rng.choice(["repeat", "time"], n)
    samples = np.minimum(rng.choice([1, 5, 10, 20], n), np.where(ensemble == "time", timesteps, 99))
    return pd.DataFrame(
        {
            "widths": [WIDTHS[i] for i in rng.integers(0, len(WIDTHS), n)],
            "pe": rng.choice([8, 16, 32, 64, 128], n),
            "synapses_per_cycle": rng.choice([1, 2], n),
            "sample_lanes": rng.choice([1, 2, 4], n),
            "k_bits": rng.integers(1, 9, n),
            "membrane_bits": rng.integers(8, 25, n),
            "reuse": rng.choice([1, 2, 4, 8, 16], n),
            "sampling": rng.choice(["memory", "regenerate"], n),
            "clock_mhz": rng.uniform(50, 250, n),
            "part": rng.choice(PARTS, n),
            "ensemble": ensemble,
            "timesteps": timesteps,
            "samples": samples,
            "spike_rate": rng.uniform(0.01, 0.5, n),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = design_table(args.designs, args.seed)

    singles = table.head(500)
    configs = [
        AcceleratorConfig(**{k: v for k, v in row.items() if k != "spike_rate"})
        for row in singles.to_dict("records")
    ]
    start = time.perf_counter()
    for cfg, rate in zip(configs, singles["spike_rate"], strict=True):
        estimate(cfg, spike_rate=rate)
    single_s = time.perf_counter() - start

    estimate_table(table.head(100))  # warm caches (coefficients, catalog)
    start = time.perf_counter()
    priced = estimate_table(table)
    table_s = time.perf_counter() - start
    knobs = [c for c in table.columns if c not in ("spike_rate", "clock_mhz", "part", "seed")]
    schedules = table.groupby(knobs).ngroups

    print(f"{'mode':<28}{'designs':>10}{'seconds':>10}{'estimates/s':>14}")
    print(
        f"{'estimate (one at a time)':<28}{len(configs):>10}{single_s:>10.3f}"
        f"{len(configs) / single_s:>14,.0f}"
    )
    print(
        f"{'estimate_table (vectorised)':<28}{len(table):>10}{table_s:>10.3f}"
        f"{len(table) / table_s:>14,.0f}"
    )
    print(f"distinct plans in the table: {schedules}; fits: {priced['fits'].mean():.0%}")
    per_10k = table_s * 10_000 / len(table)
    verdict = "met" if per_10k < 1.0 else "MISSED"
    print(f"target 10,000 designs < 1 s: {verdict} ({per_10k:.1f} s per 10,000 at this mix)")


if __name__ == "__main__":
    main()
