"""Trials per hour of 1, 2 and 4 `dse worker` processes on one PostgreSQL study.

    python benchmarks/workers_scaling.py --storage postgresql://dse@db.lan/dse [--workers 1 2 4]

Each run is a fresh study (same file, new name, cold model cache) whose total is
`--trials-per-worker` times the number of workers, so every worker has the same amount of
work. Prints wall time, the span from the first trial's start to the last trial's end, and
trials per hour by both clocks. On a machine with fewer cores than workers the trials
compete for CPU, so the table shows the coordination cost rather than a speed-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pandas as pd
import yaml
from optuna.trial import TrialState

from dse.parallel import STORAGE_ENV, worker_command
from dse.storage import open_storage, redact_url

# A small study: digits, tiny networks, one epoch; most trials reuse one of four models.
TINY_STUDY = {
    "name": "scaling",
    "dataset": {"name": "digits", "max_train": 400, "max_test": 200},
    "training": {"epochs": 2, "bn_samples": 1, "calib_samples": 2},
    "search": {"width": [16, 32], "levels": [2, 4], "timesteps": {"low": 2, "high": 8}},
    "objectives": [
        {"metric": "accuracy", "direction": "maximize"},
        {"metric": "energy_pl_uj", "direction": "minimize"},
    ],
    "sampler": {"name": "random"},
}


def run_once(base: dict, workers: int, per_worker: int, url: str, workdir: Path) -> dict:
    """Run `workers` processes on a fresh copy of the study; return its timings."""
    name = f"{base['name']}-w{workers}-{time.time_ns()}"
    study_file = workdir / f"{name}.yaml"
    study_file.write_text(yaml.safe_dump({**base, "name": name, "output_dir": str(workdir / name)}))
    total = workers * per_worker
    env = {**os.environ, STORAGE_ENV: url}
    start = time.monotonic()
    procs = [
        subprocess.Popen(
            worker_command(study_file, total, None, index), env=env, stdout=subprocess.DEVNULL
        )
        for index in range(workers)
    ]
    codes = [p.wait() for p in procs]
    wall = time.monotonic() - start
    if any(codes):
        raise SystemExit(f"a worker failed (exit codes {codes}); run one by hand to see why")
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    span = (
        max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)
    ).total_seconds()
    return {
        "workers": workers,
        "complete": len(done),
        "wall_s": round(wall, 1),
        "trial_span_s": round(span, 1),
        "trials_per_hour_wall": round(3600 * len(done) / wall),
        "trials_per_hour_span": round(3600 * len(done) / span),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=os.environ.get(STORAGE_ENV), help="PostgreSQL URL")
    parser.add_argument("--study", type=Path, help="study file (default: a tiny digits study)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--trials-per-worker", type=int, default=6)
    args = parser.parse_args()
    if not args.storage or not args.storage.startswith("postgresql"):
        parser.error(f"--storage (or {STORAGE_ENV}) must be a postgresql:// URL")
    base = yaml.safe_load(args.study.read_text()) if args.study else TINY_STUDY
    print(f"storage {redact_url(args.storage)}, {os.cpu_count()} CPUs, study {base['name']!r}")
    with tempfile.TemporaryDirectory(prefix="dse-scaling-") as tmp:
        rows = [
            run_once(base, n, args.trials_per_worker, args.storage, Path(tmp)) for n in args.workers
        ]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
