"""Which trial a user means: a number, `best`, `knee` or `front:N`.

One definition shared by the CLI (`--trial`), the report (the highlighted knee) and the
Python API, so that "the knee" is the same design everywhere.

* `front` is `study.best_trials` (Optuna's feasible non-dominated set) without twins,
  ordered by the first objective from best to worst, ties by trial number; `front:N` is its
  N-th design (0-based).  *Twins* are front designs of one model evaluation (the same
  evaluated trial: itself, its `duplicate_of` or its `inner_of`) with the same objective
  values and the same hardware figures (`dse.inner.COST_FIGURES`), e.g. 16 PEs x 2 synapses
  per cycle and 32 x 1: the cost model prices them alike, so they are one design, shown once
  as the canonical one (fewest PEs, then synapses per cycle, then lanes, then trial number).
* `best`: when the first objective is `accuracy` and the trials recorded their per-image
  selection results (`dse.paired`), the front designs whose accuracy the selection split
  cannot tell apart from the most accurate one (exact McNemar test, p >= 0.05) are tied, and
  `best` is the one of them best on the remaining objectives, compared in order (the second
  objective first, the third breaking its ties, ...; then the first, then trial number).
  Otherwise `best` is `front:0`, the best design on the first objective.
* `knee` is the front design nearest (Euclidean) to the ideal point after scaling every
  objective to [0, 1] over the front, with minimised objectives flipped so that 1 is
  always best: the balanced compromise.  A single-design front is its own knee.  With the
  paired test as for `best`, if front designs at least as good as that point on every other
  objective are indistinguishable from it in accuracy, the knee is the best of those on the
  remaining objectives (same order as for `best`).  This is one step from the geometric knee,
  not repeated from the design it moves to, so the knee cannot drift down the front through
  a chain of ties that each look small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from dse.errors import StudyInputError
from dse.holdout import evaluating_trial
from dse.inner import CANONICAL_KNOBS, COST_FIGURES
from dse.metrics import metric, trial_metrics
from dse.paired import correct_vector, ties_of

__all__ = [
    "RunningFront",
    "best_trial",
    "front_trials",
    "knee_trial",
    "paired",
    "roles",
    "select_trial",
    "tie_table",
]


def _canonical_order(trial: FrozenTrial) -> tuple[int, ...]:
    """Fewest PEs, then synapses per cycle, then sample lanes, then the earliest trial."""
    design = {**trial.params, **(metric(trial, "accelerator") or {})}
    return (*(int(design.get(k, 0)) for k in CANONICAL_KNOBS), trial.number)


def _without_twins(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """One trial per (evaluation, objective values, hardware figures): the canonical one."""
    kept: dict[tuple, FrozenTrial] = {}
    for trial in sorted(trials, key=_canonical_order):
        attrs = trial_metrics(trial)
        figures = tuple(attrs.get(f) for f in COST_FIGURES)
        kept.setdefault((evaluating_trial(trial), tuple(trial.values), figures), trial)
    return list(kept.values())


def front_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The feasible Pareto front without twins, best first on the first objective."""
    return _ordered_front(study.best_trials, study.directions)


def _ordered_front(
    best: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> list[FrozenTrial]:
    sign = -1.0 if directions[0] == StudyDirection.MAXIMIZE else 1.0
    return sorted(_without_twins(best), key=lambda t: (sign * t.values[0], t.number))


class RunningFront:
    """`study.best_trials` kept up to date one finished trial at a time: the feasible
    non-dominated complete trials (ties all kept), without copying a trial.

    `add(trial)` takes each finished trial once (`dse.watch.FinishedTrials`); `front()` is
    `front_trials` of the trials added so far (twins collapsed, best first)."""

    def __init__(self, directions: Sequence[StudyDirection]) -> None:
        self._directions = list(directions)
        self._signs = [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in directions]
        self._best: dict[int, tuple[list[float], FrozenTrial]] = {}

    def add(self, trial: FrozenTrial) -> bool:
        """Take one finished trial into account; whether it joined the front."""
        if trial.state != TrialState.COMPLETE or trial.values is None:
            return False
        if any(c > 0 for c in trial.constraints.values()):
            return False
        mine = [s * v for s, v in zip(self._signs, trial.values, strict=True)]
        beaten = []
        for number, (theirs, _) in self._best.items():
            if _dominates(theirs, mine):
                return False
            if _dominates(mine, theirs):
                beaten.append(number)
        for number in beaten:
            del self._best[number]
        self._best[trial.number] = (mine, trial)
        return True

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """What `study.best_trials` gives for the trials added (by trial number)."""
        return [t for _, (_, t) in sorted(self._best.items())]

    def front(self) -> list[FrozenTrial]:
        """`front_trials` of the trials added: without twins, best first."""
        return _ordered_front(self.best_trials, self._directions)


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether `a` dominates `b` (both minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def paired(study: optuna.Study) -> bool:
    """Whether ties are decided by the paired test: the first objective is accuracy."""
    return bool(study.metric_names) and study.metric_names[0] == "accuracy"


def _by_other_objectives(
    trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> FrozenTrial:
    """The trial best on objectives 2, 3, ... in order, then on the first, then earliest."""
    signs = [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in directions]
    order = [*range(1, len(directions)), 0]
    return min(trials, key=lambda t: (*(signs[k] * t.values[k] for k in order), t.number))


def best_trial(study: optuna.Study, front: Sequence[FrozenTrial]) -> FrozenTrial:
    """`best`: among the designs tied in accuracy with the most accurate, the best on the
    other objectives (`front[0]` when the study is not `paired`)."""
    if not front:
        raise ValueError("best_trial: the front is empty")
    top = front[0]
    if not paired(study):
        return top
    ties = ties_of(top, front)
    return _by_other_objectives([top, *(t for t in front if t.number in ties)], study.directions)


def tie_table(study: optuna.Study, front: Sequence[FrozenTrial]) -> dict[int, dict[int, float]]:
    """{front trial: {front trial it is tied with in accuracy: McNemar p}}, or {} when the
    study is not `paired` or its most accurate design recorded no selection results."""
    if not front or not paired(study) or correct_vector(trial_metrics(front[0])) is None:
        return {}
    return {t.number: ties_of(t, front) for t in front}


def _nearest_ideal(front: Sequence[FrozenTrial], directions: Sequence[StudyDirection]) -> int:
    """Index of the front design closest to the ideal point in objective space scaled to
    [0, 1]."""
    scores = []
    for k, direction in enumerate(directions):
        values = [t.values[k] for t in front]
        low, high = min(values), max(values)
        span = high - low
        maximise = direction == StudyDirection.MAXIMIZE
        scores.append(
            [
                1.0 if span == 0 else ((v - low) / span if maximise else (high - v) / span)
                for v in values
            ]
        )
    distances = [
        math.dist([1.0] * len(directions), [column[i] for column in scores])
        for i in range(len(front))
    ]
    return min(range(len(front)), key=lambda i: (distances[i], front[i].number))


def _no_worse_on_others(
    a: FrozenTrial, b: FrozenTrial, directions: Sequence[StudyDirection]
) -> bool:
    """Whether `a` is at least as good as `b` on every objective but the first."""
    return all(
        (x >= y) if d == StudyDirection.MAXIMIZE else (x <= y)
        for x, y, d in zip(a.values[1:], b.values[1:], directions[1:], strict=True)
    )


def knee_trial(study: optuna.Study, front: Sequence[FrozenTrial]) -> FrozenTrial:
    """`knee`: the geometric knee, or the best cheaper design tied with it in accuracy."""
    if not front:
        raise ValueError("knee_trial: the front is empty")
    directions = list(study.directions)
    knee = front[_nearest_ideal(front, directions)]
    if not paired(study) or len(directions) < 2:
        return knee
    cheaper = [t for t in front if t is not knee and _no_worse_on_others(t, knee, directions)]
    ties = ties_of(knee, cheaper)
    tied = [t for t in cheaper if t.number in ties]
    return _by_other_objectives(tied, directions) if tied else knee


def roles(study: optuna.Study, front: Sequence[FrozenTrial]) -> dict[int, str]:
    """{trial number: "best", "knee" or "best, knee"}: how the tables mark the two choices."""
    marked: dict[int, str] = {}
    if front:
        for role, chosen in (
            ("best", best_trial(study, front)),
            ("knee", knee_trial(study, front)),
        ):
            marked[chosen.number] = ", ".join(filter(None, (marked.get(chosen.number), role)))
    return marked


def select_trial(study: optuna.Study, spec: str | int) -> FrozenTrial:
    """Resolve a `--trial` value; bad or unavailable choices are one-line StudyInputErrors."""
    text = str(spec).strip()
    if text.isdigit():
        number = int(text)
        trials = {t.number: t for t in study.get_trials(deepcopy=False)}
        if number not in trials:
            last = max(trials) if trials else None
            span = f"a number from 0 to {last}" if trials else "run the study first"
            raise StudyInputError(f"--trial: {number} is not in study; use {span}")
        return trials[number]
    if text not in ("best", "knee") and not text.startswith("front:"):
        raise StudyInputError(
            f"--trial: {text!r} is not a trial; use a number, 'best', 'knee' or 'front:N'"
        )
    front = front_trials(study)
    if not front:
        raise StudyInputError(
            f"--trial: {text!r} needs a feasible Pareto front, and the study has none yet; "
            "run more trials or relax the constraints"
        )
    if text == "best":
        return best_trial(study, front)
    if text == "knee":
        return knee_trial(study, front)
    index = text.removeprefix("front:")
    if not index.isdigit() or int(index) >= len(front):
        raise StudyInputError(
            f"--trial: {text!r} is not on the front; use front:0 to front:{len(front) - 1}"
        )
    return front[int(index)]
