"""Study throughput with the trained-model cache against retraining every trial, and the
hypervolume three samplers reach on the quickstart space.

    python benchmarks/study_speed.py [--trials 40] [--baseline-trials 6] [--out DIR]

Part 1 runs the quickstart study from a cold cache (every training key is trained once,
inside the timing), then half as many trials more on the warm cache, and, in the same
process, a loop that retrains the model on every trial (same objective, a cache that never
hits) for a few trials; all rates are trials per hour.  With k training keys the cold rate
can beat the loop by at most n_trials / k; the warm rate is the study's steady state.
Part 2 runs 40 trials of NSGA-II, TPE and random search with the same seed on a warm cache
and prints the hypervolume of each feasible front against one shared reference point.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import optuna
import yaml
from optuna.exceptions import ExperimentalWarning
from optuna.visualization import plot_hypervolume_history

from dse.objective import TrialFailure, TrialObjective
from dse.runner import open_study, run_study
from dse.schema import StudyConfig, parse_study
from dse.storage import open_storage

ROOT = Path(__file__).resolve().parents[1]


class RetrainEveryTrial:
    """A cache that never hits: every trial trains its model from scratch."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, key: dict) -> Path:
        return self.root / "unused"

    def get_or_train(self, key: dict, train) -> tuple[Path, bool]:
        directory = Path(tempfile.mkdtemp(dir=self.root))
        train(directory)
        return directory, False


def quickstart(out_dir: Path, name: str, **overrides) -> StudyConfig:
    """The shipped quickstart study with its output elsewhere and some fields replaced."""
    raw = yaml.safe_load((ROOT / "studies" / "quickstart.yaml").read_text())
    raw.update(name=name, output_dir=str(out_dir), storage=None, **overrides)
    return parse_study(raw, "quickstart.yaml")


def cached_rate(cfg: StudyConfig, total: int) -> tuple[float, int]:
    """Trials per hour of the study run up to `total` trials, and the cache misses on the way."""
    before = len(open_study(cfg).trials)
    start = time.perf_counter()
    study = run_study(cfg, n_trials=total, progress=False)
    elapsed = time.perf_counter() - start
    new = [t for t in study.trials[before:] if t.state == optuna.trial.TrialState.COMPLETE]
    misses = sum(1 for t in new if not t.user_attrs["cache_hit"])
    return 3600.0 * len(new) / elapsed, misses


def retrain_rate(cfg: StudyConfig, trials: int) -> float:
    """Trials per hour when every trial trains its own model."""
    storage = open_storage("sqlite:///" + str(cfg.out_dir / "baseline.db"))
    study = optuna.create_study(
        storage=storage,
        directions=[o.direction for o in cfg.objectives],
        sampler=optuna.samplers.NSGAIISampler(seed=cfg.sampler.seed),
    )
    objective = TrialObjective(cfg)
    objective.cache = RetrainEveryTrial(cfg.out_dir)
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, catch=(TrialFailure,))
    return 3600.0 * trials / (time.perf_counter() - start)


def hypervolumes(out_dir: Path, trials: int) -> dict[str, float]:
    """Hypervolume of each sampler's feasible front after `trials`, one reference point."""
    studies = {}
    for name in ("nsga2", "tpe", "random"):
        cfg = quickstart(out_dir, f"hv_{name}", sampler={"name": name, "seed": 0})
        run_study(cfg, n_trials=trials, progress=False)
        studies[name] = open_study(cfg, create=False)
    values = [t.values for s in studies.values() for t in s.best_trials]
    directions = next(iter(studies.values())).directions
    reference = []
    for k, direction in enumerate(directions):
        column = [v[k] for v in values]
        span = max(column) - min(column) or 1.0
        worst = max(column) if direction == optuna.study.StudyDirection.MINIMIZE else min(column)
        sign = 1 if direction == optuna.study.StudyDirection.MINIMIZE else -1
        reference.append(worst + sign * 0.1 * span)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return {
            name: float(plot_hypervolume_history(study, reference).data[0].y[-1])
            for name, study in studies.items()
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--baseline-trials", type=int, default=6)
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary directory")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="dse-study-speed-"))

    cfg = quickstart(out_dir, "speed_cached")
    cold, misses = cached_rate(cfg, args.trials)
    warm, _ = cached_rate(cfg, args.trials + args.trials // 2)
    baseline = retrain_rate(quickstart(out_dir / "baseline", "speed_retrain"), args.baseline_trials)
    print(f"{'run':<44}{'trials/hour':>12}{'speed-up':>10}")
    rows = (
        (f"cache, first {args.trials} trials ({misses} trainings)", cold),
        (f"cache, next {args.trials // 2} trials (warm)", warm),
        (f"retrain every trial ({args.baseline_trials} trials)", baseline),
    )
    for label, rate in rows:
        print(f"{label:<44}{rate:>12.0f}{rate / baseline:>9.1f}x")
    print("target: >= 10x\n")

    print(f"{'sampler':<10}{'hypervolume after ' + str(args.trials) + ' trials':>32}")
    for name, value in hypervolumes(out_dir, args.trials).items():
        print(f"{name:<10}{value:>32.5g}")


if __name__ == "__main__":
    main()
