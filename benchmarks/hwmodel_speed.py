"""Pricing speed in CPU time: distinct plans, repeated plans, one design at a time, and the
inner hardware search (`dse.inner.hardware_front`) on the quickstart's grid.

* distinct plans: a random table from a search-like knob space in which nearly every row is
  its own plan, priced from cold (no plan priced before); plans/s counts distinct plans, and
  the time `hwmodel.plan.build_plan` alone takes for them is shown beside it (what is left
  when the pricing itself is free).
* repeated plans: a table whose rows share 20 plans (each at many clocks, parts and spike
  rates), the plans priced before: rows/s.
* one at a time: `estimate` on 500 distinct designs from cold: designs/s.
* hardware_front: one call per evaluated model on the quickstart grid (studies/
  quickstart.yaml: 5 PEs x 2 synapses x 2 lanes x 5 clocks x 2 parts = 200 designs), each for
  a new model (its plans never priced before: what a study pays), then the same models again
  (every plan kept): ms per evaluation.
* --reference REV: the same distinct-plans table through the closed-form model of commit
  REV (default d87b1a4^, the last before the hardware plan; needs git), in a subprocess:
  its rows/s and the ratio.

Every line gives CPU seconds (`time.process_time`) and wall seconds with the 1-minute load
average beside them: on a shared machine the wall clock measures the neighbours.

    python benchmarks/hwmodel_speed.py [--designs 10000] [--evaluations 20] [--seed 0]
                                       [--reference REV | --no-reference]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwmodel.estimate import estimate, estimate_table
from hwmodel.template import AcceleratorConfig

WIDTHS = [(784, 512, 512, 10), (784, 256, 10), (64, 128, 10), (784, 1024, 1024, 10)]
PARTS = ["xc7z020clg400-1", "xc7z045ffg900-2", "xc7z010clg400-1", "xc7z100ffg900-2"]
PLAN_KNOBS = ["widths", "pe", "synapses_per_cycle", "sample_lanes", "k_bits", "membrane_bits"]
PLAN_KNOBS += ["reuse", "sampling", "ensemble", "timesteps", "samples"]
ROOT = Path(__file__).resolve().parents[1]
CLOSED_FORM = "d87b1a4^"  # the last commit whose estimate is the closed-form model


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


def repeated_table(table: pd.DataFrame, plans: int, n: int, seed: int) -> pd.DataFrame:
    """n rows over the first `plans` distinct plans of `table`, at random clocks, parts and
    spike rates."""
    rng = np.random.default_rng(seed)
    distinct = table.drop_duplicates(PLAN_KNOBS).head(plans).reset_index(drop=True)
    rows = distinct.iloc[rng.integers(0, len(distinct), n)].reset_index(drop=True)
    rows["clock_mhz"] = rng.uniform(50, 250, n)
    rows["part"] = rng.choice(PARTS, n)
    rows["spike_rate"] = rng.uniform(0.01, 0.5, n)
    return rows


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float, float]:
    """fn's result, its CPU and wall seconds, and the 1-minute load average after it."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall, os.getloadavg()[0]


def forget_prices() -> None:
    """Drop every kept plan and price, so that the next pricing starts cold (a tree from
    before the prices were kept kept its plans in `build_plan`'s cache)."""
    from hwmodel import estimate as module
    from hwmodel.plan import build_plan

    build_plan.cache_clear()
    if hasattr(module._priced, "cache_clear"):
        module._priced.cache_clear()


def line(mode: str, count: int, unit: str, cpu: float, wall: float, load: float) -> None:
    print(
        f"{mode:<40}{count:>8,}{cpu:>9.3f}{wall:>9.3f}{load:>6.2f}"
        f"{count / cpu:>13,.0f} {unit}/s CPU"
    )


def plan_building(table: pd.DataFrame) -> tuple[int, float]:
    """Distinct plans of `table` and the CPU seconds `build_plan` alone takes for them."""
    from hwmodel import estimate as module
    from hwmodel.plan import build_plan

    _plan_key = getattr(module, "_plan_key", lambda config: config)

    knobs = [k for k in PLAN_KNOBS if k != "widths"]
    keys = {
        _plan_key(AcceleratorConfig(widths=row["widths"], **{k: row[k] for k in knobs}))
        for row in table[PLAN_KNOBS].to_dict("records")
    }
    _, cpu, _, _ = timed(lambda: [build_plan.__wrapped__(key) and None for key in keys])
    return len(keys), cpu


def quickstart_models(count: int, seed: int) -> list[tuple[dict, list[float], float]]:
    """(accelerator, activity, accuracy) of `count` models the quickstart's search could
    evaluate, each with its own plan knobs."""
    rng = np.random.default_rng(seed)
    seen: set = set()
    models = []
    while len(models) < count:
        width = int(rng.choice([128, 256]))
        ensemble = str(rng.choice(["time", "repeat"]))
        timesteps = int(rng.choice([2, 4, 6, 8]))
        samples = int(rng.integers(1, 9))
        samples = min(samples, timesteps) if ensemble == "time" else samples
        knobs = {
            "widths": (64, width, 10),
            "timesteps": timesteps,
            "samples": samples,
            "ensemble": ensemble,
            "k_bits": int(rng.integers(3, 9)),
            "membrane_bits": int(rng.choice([10, 12, 16])),
            "reuse": int(rng.choice([1, 4, 16])),
        }
        key = tuple(knobs.values())
        if key in seen:
            continue
        seen.add(key)
        accel = AcceleratorConfig(**knobs).as_dict()
        activity = [float(rng.uniform(10, 64)), float(rng.uniform(0.02, 0.3) * width)]
        models.append((accel, activity, float(rng.uniform(0.5, 0.95))))
    return models


def hardware_front_runs(evaluations: int, seed: int) -> list[Callable[[], Any]]:
    """One `hardware_front` call per quickstart model, as the study's objective makes it."""
    import yaml

    from dse.inner import hardware_front, hardware_grid
    from dse.objective import constraint_values
    from dse.schema import parse_study

    path = ROOT / "studies" / "quickstart.yaml"
    cfg = parse_study(yaml.safe_load(path.read_text()), str(path))
    grid = hardware_grid(cfg.knobs, cfg.hardware_search.clock_step_mhz)
    objectives = [(o.metric, o.direction) for o in cfg.objectives]

    def run(accel: dict, activity: list[float], accuracy: float) -> Callable[[], Any]:
        def feasible(priced: pd.DataFrame) -> np.ndarray:  # dse.objective's check
            metrics = {**{c: priced[c].to_numpy() for c in priced.columns}, "accuracy": accuracy}
            values = constraint_values(cfg, metrics).values()
            return np.all([np.broadcast_to(v, len(priced)) <= 0 for v in values], axis=0)

        return lambda: hardware_front(
            accel,
            activity,
            grid,
            objectives,
            feasible,
            cfg.hardware_search.max_designs,
            calibration=str(cfg.evaluation.calibration),
            util_cap=cfg.constraints.util_cap,
        )

    return [run(*model) for model in quickstart_models(evaluations, seed)]


def closed_form(rev: str, designs: int, seed: int) -> tuple[float, float, float] | None:
    """CPU and wall seconds and the load of the closed-form model of commit `rev` pricing the
    distinct-plans table (None when git cannot give that commit)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "hwmodel"], capture_output=True
        )
        if archive.returncode != 0:
            print(f"closed-form reference: git archive {rev} failed; no ratio", file=sys.stderr)
            return None
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        script = (
            "import sys, time, os\n"
            f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
            "from hwmodel_speed import design_table\n"
            "from hwmodel.estimate import estimate_table\n"
            f"table = design_table({designs}, {seed})\n"
            "estimate_table(table.head(100))\n"
            "cpu, wall = time.process_time(), time.perf_counter()\n"
            "estimate_table(table)\n"
            "print(time.process_time() - cpu, time.perf_counter() - wall, os.getloadavg()[0])\n"
        )
        env = {**os.environ, "PYTHONPATH": tmp}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp
        )
        if done.returncode != 0:
            print(f"closed-form reference failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return None
        cpu, wall, load = (float(x) for x in done.stdout.split()[-3:])
        return cpu, wall, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=10_000)
    parser.add_argument("--evaluations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", default=CLOSED_FORM, help="commit of the closed form")
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    table = design_table(args.designs, args.seed)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    print(f"{'mode':<40}{'count':>8}{'CPU s':>9}{'wall s':>9}{'load':>6}{'rate':>13}")

    estimate_table(table.head(50))  # imports, part catalog, profile: not what is measured
    forget_prices()
    priced, cpu, wall, load = timed(lambda: estimate_table(table))
    distinct = len(table.drop_duplicates(PLAN_KNOBS))
    built, build_cpu = plan_building(table)
    line("estimate_table, distinct plans (cold)", distinct, "plans", cpu, wall, load)
    line("  the same, per row", len(table), "rows", cpu, wall, load)
    rest_us = (cpu - build_cpu) / distinct * 1e6
    print(
        f"  {built:,} plans built (twins merged), build_plan alone {build_cpu / built * 1e6:.0f} "
        f"us each ({built / build_cpu:,.0f}/s CPU); the rest {rest_us:.0f} us per distinct "
        f"plan; fits: {priced['fits'].mean():.0%}"
    )

    repeated = repeated_table(table, 20, args.designs, args.seed)
    estimate_table(repeated)  # its 20 plans priced
    _, cpu, wall, load = timed(lambda: estimate_table(repeated))
    line("estimate_table, 20 repeated plans", len(repeated), "rows", cpu, wall, load)

    singles = table.drop_duplicates(PLAN_KNOBS).head(500)
    configs = [
        (AcceleratorConfig(**{k: v for k, v in row.items() if k != "spike_rate"}), rate)
        for row, rate in zip(singles.to_dict("records"), singles["spike_rate"], strict=True)
    ]
    forget_prices()
    _, cpu, wall, load = timed(lambda: [estimate(c, spike_rate=r) for c, r in configs])
    line("estimate, one at a time (cold)", len(configs), "designs", cpu, wall, load)
    _, cpu, wall, load = timed(lambda: [estimate(c, spike_rate=r) for c, r in configs])
    line("estimate, one at a time (plans kept)", len(configs), "designs", cpu, wall, load)

    runs = hardware_front_runs(args.evaluations, args.seed)
    runs[0]()  # imports and the study's profile
    forget_prices()
    for label in ("new model each (cold)", "same models again (plans kept)"):
        _, cpu, wall, load = timed(lambda: [run() for run in runs])
        ms, wall_ms = cpu / len(runs) * 1e3, wall / len(runs) * 1e3
        print(
            f"{'hardware_front, ' + label:<40}{len(runs):>8,}{cpu:>9.3f}{wall:>9.3f}"
            f"{load:>6.2f}{ms:>10.1f} ms CPU per evaluation ({wall_ms:.1f} ms wall)"
        )

    if not args.no_reference:
        ref = closed_form(args.reference, args.designs, args.seed)
        if ref is not None:
            ref_cpu, ref_wall, ref_load = ref
            line(f"closed form ({args.reference}), same table", len(table), "rows", *ref)
            _, cpu, _, _ = timed(lambda: (forget_prices(), estimate_table(table)))
            print(
                f"  this model takes {cpu / ref_cpu:.1f}x the closed form's CPU time on that "
                f"table (this model again: {len(table) / cpu:,.0f} rows/s CPU)"
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
