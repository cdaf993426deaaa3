"""Study speed: what the storage costs a quickstart run on SQLite against the journal file, what
one trial costs the storage as the study grows, and (`--cache`) the model cache against
retraining every trial.

    OMP_NUM_THREADS=1 python benchmarks/study_speed.py [--trials 30] [--repeats 3]
        [--sizes 100,1000,3000] [--parts 1,2] [--out DIR]

Part 1 runs the shipped quickstart (TPE, the exact inner hardware search recording up to 4
variants per evaluated model) for `--trials` sampled trials on a warm model cache, once on
SQLite (the default storage) and once on Optuna's journal file, `--repeats` times,
alternating which goes first.  Every model of the space is trained before any timing, and an
untimed run warms the process, so the clock measures sampling, evaluation, pricing and the
storage.  Both sides run the same seeded sampler on the same cache, so they record the same
trials; the table counts the sampled trials (the variants apart) and every stored trial.
Time is CPU time of this process (`time.process_time`; the machine is shared, so wall time
is printed beside it with the load average, 1 minute, before and after each run).

Part 2 measures the per-trial overhead at 100, 1,000 and 3,000 stored trials: a synthetic
quickstart study whose objective keeps everything a trial does to the storage and to the
study (the design drawn by a seeded random sampler, parameter writes, the two grouped
metric attributes, three constraints, four hardware variants added as finished trials, tell,
the runner's callbacks: the trial budget, the failure check, the progress bar) but answers
evaluation and pricing with canned figures.  The study is filled up to each size through
that same objective, then 20 more sampled trials are timed one by one (median CPU ms per
sampled trial, each with its 4 variants), on SQLite, the journal file and Optuna's
in-memory storage (no storage cost at all: the floor).

Part 3 (`--parts 1,2,3`) runs the quickstart from a cold cache (every training key is trained
once, inside the timing), then half as many trials more on the warm cache, and a loop that retrains
the model on every trial (same objective, a cache that never hits) for a few trials: trials
per hour, sampled trials only.  Samplers' search quality is benchmarks/search_quality.py's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml
from optuna.exceptions import ExperimentalWarning

import dse.objective
import dse.runner
from benchmarks.search_quality import train_every_key
from dse.inner import INNER_ATTR
from dse.metrics import metric
from dse.objective import TrialFailure, TrialObjective, build_configs
from dse.parallel import optimize_to_total
from dse.progress import StudyProgress
from dse.runner import _StopWhenFailing, open_study, run_study
from dse.schema import StudyConfig, parse_study
from dse.space import suggest_design
from dse.storage import open_storage
from hwmodel.estimate import estimate

ROOT = Path(__file__).resolve().parents[1]
#: Sampled trials timed at each size of part 2.
TIMED = 20


def quickstart(out_dir: Path, name: str, **overrides: Any) -> StudyConfig:
    """The shipped quickstart study with its output elsewhere and some fields replaced."""
    raw = yaml.safe_load((ROOT / "studies" / "quickstart.yaml").read_text())
    raw.update(name=name, output_dir=str(out_dir), storage=None, **overrides)
    return parse_study(raw, "quickstart.yaml")


def load() -> float:
    return os.getloadavg()[0]


def fresh(path: Path, scheme: str) -> str:
    """The storage URL of `path` (sqlite or journal), its files from an earlier run removed."""
    for old in path.parent.glob(f"{path.name}*"):
        old.unlink()
    return f"{scheme}:///{path}"


def sampled(trials: list[optuna.trial.FrozenTrial]) -> int:
    """Trials the sampler drew (finished ones), hardware variants apart."""
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return sum(t.state in done and INNER_ATTR not in t.user_attrs for t in trials)


# --- part 1 ---------------------------------------------------------------------------


def timed_run(cfg: StudyConfig, url: str, trials: int) -> dict[str, Any]:
    """One quickstart run of `trials` sampled trials on the storage at `url`."""
    before = load()
    wall, cpu = time.perf_counter(), time.process_time()
    study = run_study(cfg, n_trials=trials, storage_url=url, progress=False)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stored = study.get_trials(deepcopy=False)
    return {
        "cpu": cpu,
        "wall": wall,
        "sampled": sampled(stored),
        "stored": len(stored),
        "load": (before, load()),
    }


def storage_ratio(out_dir: Path, trials: int, repeats: int) -> None:
    """Part 1: the quickstart on SQLite against the journal file."""
    cfg = quickstart(out_dir, "speed")
    run_study(cfg, n_trials=3, storage_url=fresh(out_dir / "warmup.log", "journal"), progress=False)
    print(f"part 1: the quickstart, {trials} sampled trials per run, warm model cache")
    print(f"{'run':<10}{'storage':<9}{'CPU s':>7}{'wall s':>8}{'sampled':>9}{'stored':>8}  load")
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "journal": []}
    for repeat in range(repeats):
        order = ("journal", "sqlite") if repeat % 2 == 0 else ("sqlite", "journal")
        for kind in order:
            name = f"{kind}-{repeat}"
            url = (
                fresh(out_dir / f"{name}.db", "sqlite")
                if kind == "sqlite"
                else fresh(out_dir / f"{name}.log", "journal")
            )
            run = timed_run(cfg, url, trials)
            runs[kind].append(run)
            print(
                f"{repeat:<10}{kind:<9}{run['cpu']:>7.2f}{run['wall']:>8.2f}"
                f"{run['sampled']:>9}{run['stored']:>8}  {run['load'][0]:.1f} -> "
                f"{run['load'][1]:.1f}",
                flush=True,
            )
    med = {
        k: {m: statistics.median(r[m] for r in v) for m in ("cpu", "wall")} for k, v in runs.items()
    }
    print(
        f"median over {repeats}: SQLite {med['sqlite']['cpu']:.2f} s CPU "
        f"({med['sqlite']['wall']:.2f} s wall), journal {med['journal']['cpu']:.2f} s CPU "
        f"({med['journal']['wall']:.2f} s wall); SQLite / journal "
        f"{med['sqlite']['cpu'] / med['journal']['cpu']:.2f}x CPU, "
        f"{med['sqlite']['wall'] / med['journal']['wall']:.2f}x wall (goal: <= 1.3x)\n",
        flush=True,
    )


# --- part 2 ---------------------------------------------------------------------------


class CannedObjective(TrialObjective):
    """The quickstart's objective with evaluation and pricing answered from canned figures
    (one real evaluation and one real estimate), objective values drawn at random so that the
    front stays a front: what is left is what a trial does to the storage and the study."""

    def __init__(self, cfg: StudyConfig, seed: int = 0) -> None:
        super().__init__(cfg)
        self._rng = np.random.default_rng(seed)
        knobs = cfg.knobs
        params = {n: k.choices[0] if k.choices else k.low for n, k in knobs.items() if k.searched}
        params.update({"width_0": knobs["width"].grid_values()[0], "threshold_scale_0": 1.0})
        design = suggest_design(optuna.trial.FixedTrial(params), knobs)
        model = self._evaluate(design)  # the quickstart's cache is warm (part 1)
        model.pop("infeasible_reason", None)  # every canned design is feasible
        _, _, accel = build_configs(cfg, design, self.splits)
        cost = estimate(accel, activity=model["activity"], calibration=self._calibration)
        cost.pop("duty", None)
        cost.update({k: 0.5 for k in cost if k.startswith("util_")}, fmax_mhz=250.0)
        self._cost, self._canned = cost, model

    def _evaluate(self, design: dict[str, Any], refine: bool = False) -> dict[str, Any]:
        if hasattr(self, "_canned"):
            return {**self._canned, "accuracy": float(self._rng.uniform(0.6, 0.97))}
        return super()._evaluate(design, refine)

    def _priced(self, design: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
        cost = {**self._cost, "energy_pl_uj": float(self._rng.lognormal(1.0, 1.0))}
        cost["clock_mhz"] = design["clock_mhz"]
        hardware = {k: design[k] for k in ("pe", "synapses_per_cycle", "sample_lanes", "part")}
        return {**cost, **model, "accelerator": {**hardware, "clock_mhz": design["clock_mhz"]}}


def canned_front(accelerator, activity, grid, *args: Any, own=None, **kwargs: Any) -> list:
    """Four hardware designs of the grid other than the evaluated one (`hardware_front`'s
    stand-in: the designs, not the search, are what the storage sees)."""
    designs = []
    for pe in grid.get("pe", [accelerator["pe"]]):
        for clock in grid.get("clock_mhz", [accelerator["clock_mhz"]]):
            design = {k: v[0] for k, v in grid.items()}
            design.update(pe=pe, clock_mhz=clock)
            if design != own:
                designs.append(design)
    return designs[:4]


def canned_study(cfg: StudyConfig, url: str | None) -> optuna.Study:
    storage = open_storage(url) if url else optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        study_name=cfg.name,
        storage=storage,
        sampler=optuna.samplers.RandomSampler(seed=0),
        directions=[o.direction for o in cfg.objectives],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        study.set_metric_names([o.metric for o in cfg.objectives])
    return study


def per_trial_ms(cfg: StudyConfig, url: str | None, sizes: list[int]) -> list[float]:
    """Median CPU ms per sampled trial (with its variants) at each size of `sizes`."""
    study = canned_study(cfg, url)
    objective = CannedObjective(cfg)
    clock: list[float] = []

    def tick(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        clock.append(time.process_time())

    results = []
    for size in sizes:
        stored = len(study.get_trials(deepcopy=False))
        to_fill = max(size - stored, 0) // 5  # a sampled trial stores itself and 4 variants
        total = sampled(study.get_trials(deepcopy=False)) + to_fill
        run(study, objective, total, [])
        total += TIMED
        bar = StudyProgress(study, total, enabled=False)
        clock.clear()
        clock.append(time.process_time())
        run(study, objective, total, [_StopWhenFailing(total), bar, tick])
        results.append(1000 * statistics.median(np.diff(clock)))
    return results


def run(study: optuna.Study, objective: TrialObjective, total: int, callbacks: list) -> None:
    optimize_to_total(study, objective, total, callbacks=callbacks, catch=(TrialFailure,))


def storage_overhead(out_dir: Path, sizes: list[int]) -> None:
    """Part 2: per-trial overhead as the study grows."""
    cfg = quickstart(out_dir, "overhead")
    real = dse.objective.hardware_front
    dse.objective.hardware_front = canned_front
    try:
        columns = {
            "SQLite": per_trial_ms(cfg, fresh(out_dir / "overhead.db", "sqlite"), sizes),
            "journal": per_trial_ms(cfg, fresh(out_dir / "overhead.log", "journal"), sizes),
            "in-memory": per_trial_ms(cfg, None, sizes),
        }
    finally:
        dse.objective.hardware_front = real
    print(
        "part 2: per-trial overhead (CPU ms per sampled trial with its 4 variants, median of "
        f"{TIMED}; evaluation and pricing canned, random sampler); load {load():.1f}"
    )
    print(f"{'stored trials':>14}" + "".join(f"{name:>11}" for name in columns))
    for i, size in enumerate(sizes):
        print(f"{size:>14,}" + "".join(f"{v[i]:>11.1f}" for v in columns.values()))
    print(flush=True)


# --- part 3 ---------------------------------------------------------------------------


class RetrainEveryTrial:
    """A cache that never hits: every trial trains its model from scratch."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, key: dict) -> Path:
        return self.root / "unused"

    def lookup(self, key: dict) -> Path | None:
        return None

    def count(self) -> int:
        return 0

    def get_or_train(self, key: dict, train) -> tuple[Path, bool]:
        directory = Path(tempfile.mkdtemp(dir=self.root))
        train(directory)
        return directory, False


def cached_rate(cfg: StudyConfig, total: int) -> tuple[float, int]:
    """Sampled trials per hour of the study run up to `total` sampled trials, and the cache
    misses on the way."""
    before = {t.number for t in open_study(cfg).get_trials(deepcopy=False)}
    start = time.perf_counter()
    study = run_study(cfg, n_trials=total, progress=False)
    elapsed = time.perf_counter() - start
    new = [t for t in study.get_trials(deepcopy=False) if t.number not in before]
    new = [t for t in new if t.state == optuna.trial.TrialState.COMPLETE]
    new = [t for t in new if INNER_ATTR not in t.user_attrs]
    misses = sum(1 for t in new if metric(t, "cache_hit") is False)
    return 3600.0 * len(new) / elapsed, misses


def retrain_rate(cfg: StudyConfig, trials: int) -> float:
    """Sampled trials per hour when every trial trains its own model."""
    study = dse.runner.open_study(cfg, "sqlite:///" + str(cfg.out_dir / "baseline.db"))
    objective = TrialObjective(cfg)
    objective.cache = RetrainEveryTrial(cfg.out_dir)
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, catch=(TrialFailure,))
    return 3600.0 * trials / (time.perf_counter() - start)


def cache_against_retraining(out_dir: Path, trials: int, baseline_trials: int) -> None:
    """Part 3: the model cache against retraining every trial."""
    cfg = quickstart(out_dir / "cold", "speed_cached")
    cold, misses = cached_rate(cfg, trials)
    warm, _ = cached_rate(cfg, trials + trials // 2)
    baseline = retrain_rate(quickstart(out_dir / "baseline", "speed_retrain"), baseline_trials)
    print("part 3: model cache against retraining every trial (sampled trials per hour)")
    print(f"{'run':<44}{'trials/hour':>12}{'speed-up':>10}")
    rows = (
        (f"cache, first {trials} trials ({misses} trainings)", cold),
        (f"cache, next {trials // 2} trials (warm)", warm),
        (f"retrain every trial ({baseline_trials} trials)", baseline),
    )
    for label, rate in rows:
        print(f"{label:<44}{rate:>12.0f}{rate / baseline:>9.1f}x")
    print("target: >= 10x\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="sampled trials per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="100,1000,3000", help="stored trials (part 2)")
    parser.add_argument("--parts", default="1,2", help="which parts to run (3: the cache)")
    parser.add_argument("--baseline-trials", type=int, default=6)
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary directory")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="dse-study-speed-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"output: {out_dir}; {os.cpu_count()} CPUs; load average at start {load():.1f}\n")
    parts = {int(p) for p in args.parts.split(",")}
    if parts & {1, 2}:
        models = train_every_key(quickstart(out_dir, "speed"))
        print(f"{models} models of the quickstart's space cached beforehand\n")
    if 1 in parts:
        storage_ratio(out_dir, args.trials, args.repeats)
    if 2 in parts:
        storage_overhead(out_dir, [int(s) for s in args.sizes.split(",")])
    if 3 in parts:
        cache_against_retraining(out_dir, 40, args.baseline_trials)


if __name__ == "__main__":
    main()
