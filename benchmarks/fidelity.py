"""How well the cost model and the plan predict what the RTL backend really builds.

For the calibration spread (`hls.tools.design_spread.calibration_designs`, 24 designs by default,
and `conv_calibration_designs`, 12 with a convolutional front),
through `hls.tools.calibrate`'s pipeline and cache (a second run with the same --out reads every
design back and only refits): each design exported as RTL, simulated with Verilator and
synthesized with Yosys for 7-series cells.  Prints

* per design: LUT, FF, BRAM18, DSP measured against the model before calibration and
  leave-one-out (the profile fitted on the other designs), and the plan's cycles per image
  against Verilator's;
* per resource: median and worst relative error before, after (fitted on all) and
  leave-one-out, and the designs whose BRAM / DSP count is exact, over dense and conv
  designs together and per kind (the conv components are fitted on the conv designs with
  the dense multipliers held; `--base yosys-rtl --designs 0` keeps the shipped dense part);
* the seconds each stage took (export, simulation, synthesis: sum and median per design,
  as measured when the design was built; the fit and leave-one-out now).

    python benchmarks/fidelity.py [--out runs/calibration] [--designs 24] [--conv-designs 12]
                                  [--base PROFILE] [--jobs 2]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from hls.tools.calibrate import STAGES, calibrate, design_frame, summary_frame


def cycles_frame(results: list[dict]) -> pd.DataFrame:
    """Plan against Verilator, per design: mean cycles per image and mismatching images."""
    rows = []
    for r in results:
        sim = r.get("sim") or {}
        rows.append(
            {
                "design": r["design"],
                "cycles plan": sim.get("cycles_plan"),
                "cycles sim": sim.get("cycles_sim"),
                "mismatching images": sim.get("cycle_mismatches"),
                "bit-exact": sim.get("exact"),
            }
        )
    return pd.DataFrame(rows)


def stage_frame(results: list[dict], fit_seconds: float) -> pd.DataFrame:
    """Seconds per stage over the designs (as built), and of the fit."""
    rows = []
    for stage in STAGES:
        seconds = pd.Series([r["seconds"][stage] for r in results if stage in r.get("seconds", {})])
        rows.append(
            {
                "stage": stage,
                "designs": len(seconds),
                "total s": seconds.sum(),
                "median s": seconds.median(),
            }
        )
    rows.append(
        {
            "stage": "fit + leave-one-out",
            "designs": 1,
            "total s": fit_seconds,
            "median s": fit_seconds,
        }
    )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="runs/calibration", help="cache folder (dse calibrate --out)"
    )
    parser.add_argument("--designs", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conv-designs", type=int, default=12)
    parser.add_argument("--base", help="profile whose dense part is kept (with --designs 0)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    start = time.perf_counter()
    command = (
        f"python benchmarks/fidelity.py --out {args.out} --designs {args.designs} "
        f"--conv-designs {args.conv_designs}" + (f" --base {args.base}" if args.base else "")
    )
    run = calibrate(
        args.out,
        args.designs,
        args.seed,
        args.jobs,
        "yosys-rtl",
        command=command,
        conv_designs=args.conv_designs,
        base=args.base,
    )
    wall = time.perf_counter() - start
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print("Model vs Yosys per design (error: model / measured - 1; BRAM18, DSP: measured/LOO)")
    print(
        design_frame(run.results, run.loo)
        .drop(columns=list(f"{s} s" for s in STAGES))
        .to_string(index=False, float_format="{:.1f}".format)
    )
    print("\nPlan vs Verilator, cycles per image (mean over the golden images)")
    print(cycles_frame(run.results).to_string(index=False, float_format="{:.1f}".format))
    kinds = list(run.loo.groupby("kind", sort=False))
    if len(kinds) > 1:
        kinds.insert(0, ("dense and conv", run.loo))
    for kind, loo in kinds:
        designs = loo["design"].nunique()
        print(f"\nRelative error per resource, {kind}, over {designs} designs (%)")
        print(summary_frame(loo).to_string(index=False, float_format="{:.1f}".format))
    print("\nTime per stage")
    print(
        stage_frame(run.results, run.fit_seconds).to_string(
            index=False, float_format="{:.1f}".format
        )
    )
    reused = sum(bool(r.get("cached")) for r in run.results)
    print(
        f"\n{reused} of {len(run.results)} designs read back from {args.out}; this run {wall:.1f} s"
    )
    for failed in run.failed:
        print(f"failed: {failed['design']}: {failed['error']}")


if __name__ == "__main__":
    main()
