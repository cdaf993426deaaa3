"""Search quality over seeds: hypervolume at equal wall time, equal CPU time and equal
evaluations, and the evaluations and time needed to reach a fraction of the best-known front,
for random search, TPE, NSGA-II, Optuna's GPSampler, and each of TPE and GP with the exact inner
hardware optimisation (every evaluated model's hardware front recorded).

    OMP_NUM_THREADS=1 python benchmarks/search_quality.py [--seeds 5] [--trials 40] [--out DIR]
        [--spaces quickstart,three] [--strategies random,tpe,nsga2,inner,gp,gp-inner,...]
        [--reuse] [--target 0.9]

What the sampler learns from under the inner search (`sampler.variants_in_history`,
`dse.sampling`): `inner-all` and `gp-inner` every trial, the recorded hardware variants
included, `inner-sampled` and `gp-inner-sampled` the trials it sampled only; `inner` is TPE's
measured default (with the variants; GP's default is without them, `gp-inner-sampled`).

Which strategy is best depends on what an evaluation costs.  For cheap evaluations (digits,
well under a second) the study's time is the sampler's and the storage's as much as the
model's, so strategies are compared at equal wall time (and equal CPU time of this process,
which a busy machine inflates less).  For expensive ones (MNIST-size models: seconds to
minutes per evaluation) the sampler's time vanishes beside the evaluation, so they are
compared at equal evaluations.

Spaces: `quickstart` is studies/quickstart.yaml as shipped (accuracy against energy_pl_uj);
`three` is the same search space with three objectives (accuracy, latency, LUT).  Every run
has the same budget of sampled trials; all runs share one model cache, trained before any
timing starts, so wall time is search, evaluation and estimation, not training.  Studies are
kept in Optuna's journal file, which costs a trial about half the CPU SQLite does
(docs/measurements.md, "Study storage"), so that the storage weighs less in what is
compared.

Hypervolume is taken over feasible trials in a normalised objective space: accuracy as is,
the hardware metrics (energy_pl_uj, latency, LUT; they span decades) as log10, each scaled by the
range over all runs of the space, reference point 1.1 in every normalised coordinate.  The
reference front is the union of every run's feasible trials.  "evals" counts evaluated model
configurations (trials neither recorded by the inner optimisation nor answered from an
earlier twin), not Optuna trials.  Medians and interquartile ranges are over seeds; a run that
never reaches 95 % counts as infinite (the table shows how many reached it).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import plotly.colors
import plotly.graph_objects as go
import yaml
from optuna._hypervolume import compute_hypervolume  # what optuna's own HV plots call
from optuna.trial import FrozenTrial, TrialState

from dse.inner import INNER_ATTR
from dse.metrics import metric
from dse.objective import TrialObjective
from dse.runner import open_study, run_study
from dse.schema import StudyConfig, parse_study
from dse.space import suggest_design

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = {
    "random": {"sampler": {"name": "random"}},
    "tpe": {"sampler": {"name": "tpe"}},
    "nsga2": {"sampler": {"name": "nsga2", "population_size": 10}},
    "inner": {"sampler": {"name": "tpe"}, "hardware_search": {"exact": True}},
    "inner-all": {
        "sampler": {"name": "tpe", "variants_in_history": True},
        "hardware_search": {"exact": True},
    },
    "inner-sampled": {
        "sampler": {"name": "tpe", "variants_in_history": False},
        "hardware_search": {"exact": True},
    },
    "gp": {"sampler": {"name": "gp"}},
    "gp-inner": {
        "sampler": {"name": "gp", "variants_in_history": True},
        "hardware_search": {"exact": True},
    },
    "gp-inner-sampled": {
        "sampler": {"name": "gp", "variants_in_history": False},
        "hardware_search": {"exact": True},
    },
}
DEFAULT_STRATEGIES = ("random", "tpe", "nsga2", "inner", "gp", "gp-inner", "gp-inner-sampled")
SPACES = {
    "quickstart": None,  # the shipped objectives
    "three": [
        {"metric": "accuracy", "direction": "maximize"},
        {"metric": "latency_us", "direction": "minimize"},
        {"metric": "lut", "direction": "minimize"},
    ],
}
LOG_METRICS = ("energy_pl_uj", "latency_us", "lut")


def study_config(out_dir: Path, space: str, strategy: str, seed: int, trials: int) -> StudyConfig:
    """The quickstart with this space's objectives and this strategy's sampler settings."""
    raw = yaml.safe_load((ROOT / "studies" / "quickstart.yaml").read_text())
    raw.pop("hardware_search", None)
    if SPACES[space] is not None:
        raw["objectives"] = SPACES[space]
    settings = STRATEGIES[strategy]
    sampler = {**raw["sampler"], **settings["sampler"], "seed": seed}
    if sampler["name"] != "nsga2":
        sampler.pop("population_size", None)
    raw.update(
        name=f"{space}-{strategy}-{seed}",
        output_dir=str(out_dir),
        storage=f"journal:///{out_dir / 'studies' / f'{space}-{strategy}-{seed}.log'}",
        sampler=sampler,
        hardware_search=settings.get("hardware_search", {"exact": False}),
        n_trials=trials,
    )
    return parse_study(raw, "quickstart.yaml")


def train_every_key(cfg: StudyConfig) -> int:
    """Fill the shared model cache for every training key of the space, every method (a
    posterior-mode model is derived from its BayesBiNN model), before any timing; returns
    how many models it trained, derived or reused."""
    objective = TrialObjective(cfg)
    knobs = cfg.knobs
    first = {n: k.choices[0] if k.choices else k.low for n, k in knobs.items() if k.searched}
    count = 0
    for method in knobs["method"].grid_values():
        for levels in knobs["levels"].grid_values():
            for width in knobs["width"].grid_values():
                params = {**first, "method": method, "levels": levels}
                params.update({f"width_{i}": width for i in range(8)})
                params.update({f"threshold_scale_{i}": 1.0 for i in range(8)})
                design = suggest_design(optuna.trial.FixedTrial(params), knobs)
                objective._evaluate(design)  # trains, derives or reuses; then scores
                count += 1
    return count


@dataclass
class Run:
    """One study's trials in completion order, with seconds since the run started."""

    space: str
    strategy: str
    seed: int
    seconds: np.ndarray  # per trial
    cpu: np.ndarray  # CPU seconds of this process since the run started, per trial (nan: unknown)
    evals: np.ndarray  # evaluated configurations so far, per trial
    points: list[np.ndarray | None]  # raw objective values (minimised) if feasible, else None


def signed(values: list[float], directions: list[str]) -> np.ndarray:
    return np.array([v if d == "minimize" else -v for v, d in zip(values, directions, strict=True)])


class _Clock:
    """A trial callback noting (wall, CPU) time as each trial ends; the hardware variants its
    evaluation records complete before that moment."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.marks.append((time.time(), time.process_time()))


def _cpu_at(marks: list[tuple[float, float]], moments: list[float], cpu0: float) -> np.ndarray:
    """CPU seconds since `cpu0` at the first mark at or after each wall-clock moment."""
    if not marks:
        return np.full(len(moments), np.nan)
    walls = np.array([w for w, _ in marks])
    cpus = np.array([c for _, c in marks]) - cpu0
    at = np.minimum(np.searchsorted(walls, moments, side="left"), len(marks) - 1)
    return cpus[at]


def run_once(cfg: StudyConfig, space: str, strategy: str, seed: int, reuse: bool) -> Run:
    """Run one study (or, with `reuse`, read a finished one back; its clock starts at its
    first trial).  The CPU clock is kept beside the study's journal file."""
    clock_file = Path(cfg.storage_url().removeprefix("journal:///")).with_suffix(".cpu.json")
    start, cpu0 = time.time(), time.process_time()
    if reuse:
        study = open_study(cfg, create=False)
    else:
        marks = _Clock()
        study = run_study(cfg, progress=False, callbacks=[marks])
        clock = {"start": start, "cpu0": cpu0, "marks": marks.marks}
        clock_file.write_text(json.dumps(clock))
    clock = json.loads(clock_file.read_text()) if clock_file.exists() else {}
    if reuse:
        start = clock.get("start", min(t.datetime_start for t in study.trials).timestamp())
    directions = [o.direction for o in cfg.objectives]
    trials: list[FrozenTrial] = sorted(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
        key=lambda t: (t.datetime_complete, t.number),
    )
    seconds, evals, points, count = [], [], [], 0
    for t in trials:
        count += INNER_ATTR not in t.user_attrs and metric(t, "duplicate_of") is None
        seconds.append(t.datetime_complete.timestamp() - start)
        evals.append(count)
        feasible = all(v <= 0 for v in t.constraints.values())
        points.append(signed(t.values, directions) if feasible else None)
    moments = [start + s for s in seconds]
    cpu = _cpu_at([tuple(m) for m in clock.get("marks", [])], moments, clock.get("cpu0", 0.0))
    return Run(space, strategy, seed, np.array(seconds), cpu, np.array(evals), points)


class Normaliser:
    """Maps minimised objective vectors into [0, 1] by the range over every run of a space."""

    def __init__(self, runs: list[Run], metrics: list[str]) -> None:
        self.logs = np.array([m in LOG_METRICS for m in metrics])
        every = np.array([self._raw(p) for r in runs for p in r.points if p is not None])
        self.low, span = every.min(axis=0), np.ptp(every, axis=0)
        self.span = np.where(span > 0, span, 1.0)
        self.ref = np.full(len(metrics), 1.1)

    def _raw(self, point: np.ndarray) -> np.ndarray:
        return np.where(self.logs, np.log10(np.maximum(np.abs(point), 1e-12)), point)

    def __call__(self, points: list[np.ndarray]) -> np.ndarray:
        return (np.array([self._raw(p) for p in points]) - self.low) / self.span

    def hypervolume(self, points: list[np.ndarray]) -> float:
        if not points:
            return 0.0
        return float(compute_hypervolume(self(points), self.ref))


def history(run: Run, norm: Normaliser) -> np.ndarray:
    """Hypervolume after each trial of a run."""
    seen: list[np.ndarray] = []
    out = []
    for point in run.points:
        if point is not None:
            seen.append(point)
        out.append(norm.hypervolume(seen))
    return np.array(out)


def first_reach(run: Run, hv: np.ndarray, target: float) -> tuple[float, float, float]:
    """(evaluations, wall seconds, CPU seconds) when the run first reached `target`
    hypervolume (inf if never)."""
    hit = np.flatnonzero(hv >= target)
    if not len(hit):
        return float("inf"), float("inf"), float("inf")
    first = hit[0]
    return float(run.evals[first]), float(run.seconds[first]), float(run.cpu[first])


def reached_by(clock: np.ndarray, hv: np.ndarray, budget: float) -> float:
    """Hypervolume the run had reached when `clock` (its seconds, CPU seconds or evaluations
    per trial) was at `budget` (0 before its first trial)."""
    done = np.flatnonzero(clock <= budget)
    return float(hv[done[-1]]) if len(done) else 0.0


def median_iqr(values: list[float]) -> str:
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "n/a"
    q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75], method="inverted_cdf")
    if not np.isfinite(med):
        return "not reached"
    upper = f"{q3:.3g}" if np.isfinite(q3) else "inf"
    return f"{med:.3g} [{q1:.3g}, {upper}]"


def _common(runs: list[Run], last: str) -> float:
    """The same budget for every strategy: the smallest of the strategies' median final
    wall seconds, CPU seconds or evaluations (`last` names the Run field)."""
    return min(
        float(np.median([getattr(r, last)[-1] for r in runs if r.strategy == s]))
        for s in {r.strategy for r in runs}
    )


def table(space: str, runs: list[Run], norm: Normaliser, trials: int, target: float) -> list[str]:
    """Markdown rows: one per strategy, medians and IQRs over seeds."""
    union = [p for r in runs for p in r.points if p is not None]
    reference = norm.hypervolume(union)
    wall, cpu, evals = _common(runs, "seconds"), _common(runs, "cpu"), _common(runs, "evals")
    pct = f"{100 * target:.0f} %"
    lines = [
        f"space `{space}`: reference hypervolume {reference:.4f} (union of {len(runs)} runs, "
        f"{trials} sampled trials each); HV / ref at equal budgets: {wall:.3g} s wall, "
        f"{cpu:.3g} s CPU, {evals:.0f} evaluations",
        "",
        f"| strategy | final HV / ref | at {wall:.3g} s | at {cpu:.3g} s CPU "
        f"| at {evals:.0f} evals "
        f"| evals to {pct} | seconds to {pct} | CPU s to {pct} | reached {pct} "
        "| evals per run | seconds per run | CPU s per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for strategy in STRATEGIES:
        mine = [r for r in runs if r.strategy == strategy]
        if not mine:
            continue
        hvs = [history(r, norm) / reference for r in mine]
        pairs = list(zip(mine, hvs, strict=True))
        reach = [first_reach(r, hv, target) for r, hv in pairs]
        cells = [strategy, median_iqr([hv[-1] for hv in hvs])]
        for field, budget in (("seconds", wall), ("cpu", cpu), ("evals", evals)):
            cells.append(median_iqr([reached_by(getattr(r, field), hv, budget) for r, hv in pairs]))
        cells += [median_iqr([x[i] for x in reach]) for i in range(3)]
        cells.append(f"{sum(np.isfinite(x[1]) for x in reach)}/{len(mine)}")
        for field in ("evals", "seconds", "cpu"):
            cells.append(median_iqr([float(getattr(r, field)[-1]) for r in mine]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot(space: str, runs: list[Run], norm: Normaliser, out_dir: Path) -> Path:
    """Hypervolume (fraction of the reference) against wall time, one line per run."""
    reference = norm.hypervolume([p for r in runs for p in r.points if p is not None])
    colours = dict(zip(STRATEGIES, plotly.colors.qualitative.Safe, strict=False))
    fig = go.Figure()
    for run in runs:
        fig.add_trace(
            go.Scatter(
                x=run.seconds,
                y=history(run, norm) / reference,
                mode="lines",
                line={"color": colours[run.strategy], "shape": "hv"},
                name=run.strategy,
                legendgroup=run.strategy,
                showlegend=run.seed == min(r.seed for r in runs if r.strategy == run.strategy),
            )
        )
    fig.add_hline(y=0.95, line_dash="dot", annotation_text="95 %")
    fig.update_layout(
        title=f"search quality, space {space}",
        xaxis_title="wall time (s)",
        yaxis_title="hypervolume / reference",
    )
    path = out_dir / f"search_quality_{space}.html"
    fig.write_html(path, include_plotlyjs="cdn")
    try:
        fig.write_image(path.with_suffix(".png"))
    except (ImportError, ValueError, RuntimeError) as exc:  # kaleido (and Chrome) not installed
        print(f"(no PNG: {exc.__class__.__name__})")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=40, help="sampled trials per run")
    parser.add_argument("--spaces", default=",".join(SPACES))
    parser.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES))
    parser.add_argument(
        "--target", type=float, default=0.9, help="fraction of the reference hypervolume"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="analyse the finished runs in --out (give the --trials they ran with)",
    )
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="dse-search-quality-"))
    (out_dir / "studies").mkdir(parents=True, exist_ok=True)
    print(f"output: {out_dir}; load average at start {os.getloadavg()[0]:.1f}")
    for space in args.spaces.split(","):
        if not args.reuse:
            train_every_key(study_config(out_dir, space, "random", 0, args.trials))
        runs = []
        for seed in range(args.seeds):
            for strategy in args.strategies.split(","):
                cfg = study_config(out_dir, space, strategy, seed, args.trials)
                runs.append(run_once(cfg, space, strategy, seed, args.reuse))
                print(f"  {space} {strategy} seed {seed}: {runs[-1].seconds[-1]:.1f} s", flush=True)
        metrics = [o.metric for o in cfg.objectives]
        norm = Normaliser(runs, metrics)
        print("\n".join(table(space, runs, norm, args.trials, args.target)))
        print(f"plot: {plot(space, runs, norm, out_dir)}")
        print(f"load average now {os.getloadavg()[0]:.1f}\n", flush=True)


if __name__ == "__main__":
    main()
