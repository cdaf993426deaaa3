"""Which trial a user means: a number, `best`, `knee` or `front:N`.

One definition shared by the CLI (`--trial`), the report (the highlighted knee) and the
Python API, so that "the knee" is the same design everywhere.

* `front` is `study.best_trials` (Optuna's feasible non-dominated set), ordered by the
  first objective from best to worst, ties by trial number; `front:N` is its N-th design
  (0-based).
* `best` is `front:0`: the best design on the first objective.
* `knee` is the front design nearest (Euclidean) to the ideal point after scaling every
  objective to [0, 1] over the front, with minimised objectives flipped so that 1 is
  always best: the balanced compromise. A single-design front is its own knee.
"""

from __future__ import annotations

import math

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from dse.errors import StudyInputError

__all__ = ["front_trials", "knee_trial", "select_trial"]


def front_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The feasible Pareto front, best first on the first objective."""
    sign = -1.0 if study.directions[0] == StudyDirection.MAXIMIZE else 1.0
    return sorted(study.best_trials, key=lambda t: (sign * t.values[0], t.number))


def knee_trial(front: list[FrozenTrial], directions: list[StudyDirection]) -> FrozenTrial:
    """The front design closest to the ideal point in objective space scaled to [0, 1]."""
    if not front:
        raise ValueError("knee_trial: the front is empty")
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
    best = min(range(len(front)), key=lambda i: (distances[i], front[i].number))
    return front[best]


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
        return front[0]
    if text == "knee":
        return knee_trial(front, list(study.directions))
    index = text.removeprefix("front:")
    if not index.isdigit() or int(index) >= len(front):
        raise StudyInputError(
            f"--trial: {text!r} is not on the front; use front:0 to front:{len(front) - 1}"
        )
    return front[int(index)]
