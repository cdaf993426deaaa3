"""Trial selectors against a hand-built study whose front and knee are known."""

import optuna
import pytest

from dse.errors import StudyInputError
from dse.selection import front_trials, select_trial


def _study() -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    # (accuracy, energy): 0, 1, 2 and 3 are non-dominated; 4 is dominated by 1; 5 infeasible.
    points = [(0.99, 10.0), (0.95, 2.0), (0.90, 1.0), (0.80, 0.9), (0.94, 3.0), (1.0, 0.1)]
    for number, values in enumerate(points):
        study.add_trial(
            optuna.trial.create_trial(
                values=list(values),
                system_attrs={"constraints": [1.0 if number == 5 else -1.0]},
            )
        )
    return study


def test_front_is_ordered_best_first_on_the_first_objective():
    assert [t.number for t in front_trials(_study())] == [0, 1, 2, 3]


def test_selectors():
    study = _study()
    assert select_trial(study, "best").number == 0
    assert select_trial(study, "front:3").number == 3
    assert select_trial(study, 4).number == 4
    # Scaled to [0, 1] over the front: trial 1 is (0.79, 0.86) from the ideal (1, 1), the
    # nearest (trial 2: (0.53, 0.99); trial 0: (1, 0); trial 3: (0, 1)).
    assert select_trial(study, "knee").number == 1


@pytest.mark.parametrize("spec", ["front:4", "12", "middle", "front:x"])
def test_bad_selectors_are_one_line_errors(spec):
    with pytest.raises(StudyInputError, match="--trial"):
        select_trial(_study(), spec)
