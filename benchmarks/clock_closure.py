"""The cost model against what Yosys builds, on designs the calibration never saw: cells and
clock.  Each design is priced at the highest clock of the shipped studies' grid (100-200
MHz, step 25) that the model accepts, exported as RTL, simulated (bit- and cycle-exact) and
mapped by Yosys; the netlist estimate must reach that clock.

    python benchmarks/clock_closure.py --out /tmp/closure [--profile yosys-rtl]

Designs: five of the calibration spread with a seed the fit never used (they draw their
weights, k 2-8), the first three of them again at k = 1, S = 1 (deterministic, as a
straight-through or posterior-mode network is built), the quickstart's knee shape
(64-128-10, 16 PEs x 2 synapses, k = 1) and two designs with a convolutional front that the
conv fit never saw (`conv_calibration_designs(2, seed=101)`, as tests/hls/test_synth.py).
Prints a Markdown table (docs/rtl.md carries it) and the CPU time beside the wall time.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from hls.tools.calibrate import run_designs
from hls.tools.design_spread import calibration_designs, conv_calibration_designs, random_snn
from hwmodel.estimate import estimate
from hwmodel.template import AcceleratorConfig

GRID = (100.0, 125.0, 150.0, 175.0, 200.0)
KNEE = AcceleratorConfig(
    widths=(64, 128, 10),
    pe=16,
    synapses_per_cycle=2,
    k_bits=1,
    membrane_bits=10,
    timesteps=2,
    samples=1,
    part="xc7z010clg400-1",
)


def designs() -> list[tuple[str, object, AcceleratorConfig]]:
    """The held-out designs: (name, network, config)."""
    unseen = [(f"unseen{i}", *d) for i, d in enumerate(calibration_designs(n=5, seed=101))]
    deterministic = [
        (f"{name}-k1", net, replace(config, k_bits=1, samples=1))
        for name, net, config in unseen[:3]
    ]
    knee = ("knee", random_snn(KNEE.widths, np.random.default_rng(7)), KNEE)
    conv = [(f"conv{i}", *d) for i, d in enumerate(conv_calibration_designs(2, seed=101))]
    return [*unseen, *deterministic, knee, *conv]


def _cells(model: float, built: float) -> str:
    """Built / modelled, and the model's signed error."""
    return f"{built:,.0f} / {model:,.0f} ({(model - built) / built * 100:+.1f} %)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", default="yosys-rtl")
    args = parser.parse_args()
    wall, cpu = time.perf_counter(), time.process_time()
    chosen = []
    for name, net, config in designs():
        fmax = estimate(config, calibration=args.profile)["fmax_mhz"]
        clock = max((f for f in GRID if f <= fmax), default=None)
        chosen.append((name, net, replace(config, clock_mhz=clock or GRID[0]), fmax, clock))
    results = run_designs([c[:3] for c in chosen], args.out, jobs=2, images=2, progress=True)
    print(
        "| design | widths | NPC x lanes | k | LUT: Yosys / model | FF: Yosys / model | "
        "RAMB18 | clock accepted | predicted fmax | netlist estimate | meets | critical path |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, _, config, fmax, clock), result in zip(chosen, results, strict=True):
        if "error" in result:
            print(f"| {name} | error: {result['error']} |")
            continue
        cells = result["synth"]
        model = estimate(config, spike_rate=0.1, calibration=args.profile)
        est = cells["clock_estimate"]
        meets = "-" if clock is None else ("yes" if est["fmax_mhz"] >= clock else "**no**")
        lanes = min(config.sample_lanes, config.samples) if config.ensemble == "repeat" else 1
        front = f"{config.as_dict()['conv']} + " if config.conv else ""
        print(
            f"| {name} | {front}{'-'.join(map(str, config.widths))} | "
            f"{config.pe * config.synapses_per_cycle} x {lanes} | {config.k_bits} | "
            f"{_cells(model['lut'], cells['lut'])} | {_cells(model['ff'], cells['ff'])} | "
            f"{cells['bram18k']} / {model['bram18']:.0f} | "
            f"{'none' if clock is None else f'{clock:.0f} MHz'} | {fmax:.1f} MHz | "
            f"{est['fmax_mhz']:.1f} MHz | {meets} | {est['start']} -> {est['end']} |"
        )
    print(
        f"\nwall {time.perf_counter() - wall:.0f} s, CPU (this process) "
        f"{time.process_time() - cpu:.0f} s, load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
