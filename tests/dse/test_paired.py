"""The paired accuracy test and what it decides: `best`, `knee`, twins, the report's ties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from dse.cli import main
from dse.commands.study_commands import _print_front
from dse.paired import CORRECT_ATTR, IMAGES_ATTR, correct_vector, mcnemar, ties_of
from dse.report import pareto_frame, write_report
from dse.runner import open_study
from dse.schema import load_study_file
from dse.selection import best_trial, front_trials, knee_trial, select_trial, tie_table
from dse.summary import selection_note, ties_line

IMAGES = 360
TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"


def _correct(right: int, shift: int = 0) -> np.ndarray:
    """Correct on `right` of the IMAGES images, starting at image `shift` (wrapping)."""
    return np.roll(np.arange(IMAGES) < right, shift)


def _attrs(correct: np.ndarray | None, **extra: object) -> dict[str, object]:
    attrs: dict[str, object] = dict(extra)
    if correct is not None:
        attrs[CORRECT_ATTR] = np.packbits(correct.astype(np.uint8)).tobytes().hex()
        attrs[IMAGES_ATTR] = len(correct)
    return attrs


def _study(designs: list[tuple[np.ndarray, float]], vectors: bool = True) -> optuna.Study:
    """Trials 0, 1, ... with (correctness, energy); accuracy is the vector's mean."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.set_metric_names(["accuracy", "energy_pl_uj"])
    for correct, energy in designs:
        study.add_trial(
            optuna.trial.create_trial(
                values=[float(correct.mean()), energy],
                user_attrs=_attrs(correct if vectors else None),
            )
        )
    return study


def test_the_correct_vector_survives_packbits_padding() -> None:
    correct = np.random.default_rng(0).random(IMAGES + 5) < 0.9  # not a multiple of 8
    assert np.array_equal(correct_vector(_attrs(correct)), correct)
    assert correct_vector({}) is None
    with pytest.raises(ValueError, match="bits"):
        correct_vector({CORRECT_ATTR: "ff", IMAGES_ATTR: 9})


def test_mcnemar_counts_only_discordant_images() -> None:
    a = _correct(340)
    few = mcnemar(a, _correct(337))  # 3 discordant, all one way: p = 2 / 2**3
    assert (few.only_a, few.only_b, few.p_value, few.tied) == (3, 0, 0.25, True)
    many = mcnemar(a, _correct(325))  # 15 discordant, all one way
    assert many.p_value == pytest.approx(2 / 2**15) and not many.tied
    # Equal accuracy, 20 images swapped each way: no evidence either way.
    swapped = mcnemar(a, _correct(340, shift=40))
    assert (swapped.only_a, swapped.only_b, swapped.p_value) == (20, 20, 1.0)
    assert mcnemar(a, a).p_value == 1.0
    with pytest.raises(ValueError, match="same images"):
        mcnemar(a, a[:-1])


@pytest.mark.parametrize("only_a, only_b", [(0, 1), (3, 0), (7, 12), (21, 58), (150, 171)])
def test_mcnemar_p_is_scipys_exact_binomial_test(only_a: int, only_b: int) -> None:
    """The symmetric shortcut against scipy's general exact test (a second implementation)."""
    from scipy.stats import binomtest

    a = np.array([True] * only_a + [False] * only_b + [True] * 40)
    b = np.array([False] * only_a + [True] * only_b + [True] * 40)
    expected = binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert mcnemar(a, b).p_value == pytest.approx(expected, rel=1e-9)


def test_best_is_the_cheapest_design_tied_with_the_most_accurate() -> None:
    # 0: most accurate, 10 uJ; 1: 3 images fewer (tied), 5 uJ; 2: 40 fewer, 1 uJ.
    study = _study([(_correct(340), 10.0), (_correct(337), 5.0), (_correct(300), 1.0)])
    front = front_trials(study)
    assert [t.number for t in front] == [0, 1, 2]  # front:0 stays the most accurate
    assert ties_of(front[0], front) == {1: 0.25}
    assert best_trial(study, front).number == 1
    assert select_trial(study, "best").number == 1
    assert select_trial(study, "front:0").number == 0


def test_a_design_with_many_discordant_images_is_not_tied() -> None:
    study = _study([(_correct(340), 10.0), (_correct(325), 5.0), (_correct(300), 1.0)])
    assert select_trial(study, "best").number == 0
    assert tie_table(study, front_trials(study)) == {0: {}, 1: {}, 2: {}}


def _knee_designs() -> list[tuple[np.ndarray, float]]:
    """A front whose geometric knee is trial 1; trial 2 is cheaper and tied with it (3
    images), trial 4 is tied with 2 (3 images) but not with 1 (6 images)."""
    return [
        (_correct(340), 10.0),
        (_correct(320), 3.0),
        (_correct(317), 2.8),
        (_correct(250), 1.0),
        (_correct(314), 2.6),
    ]


def test_the_knee_moves_one_step_to_a_cheaper_tied_design() -> None:
    study = _study(_knee_designs())
    front = front_trials(study)
    assert front[2].number == 2 and set(ties_of(front[2], front)) == {1, 4}  # a chain 1-2-4
    assert select_trial(study, "knee").number == 2  # not 4: ties are not transitive
    assert knee_trial(study, front).number == 2
    assert select_trial(study, "best").number == 0  # 20 images apart from the next


def test_without_selection_results_the_old_choices_hold() -> None:
    study = _study(_knee_designs(), vectors=False)
    assert select_trial(study, "knee").number == 1
    assert select_trial(study, "best").number == 0
    assert tie_table(study, front_trials(study)) == {}
    assert selection_note(study, front_trials(study)) is None
    assert "tied_with_most_accurate" not in pareto_frame(study).columns
    assert ties_line(study, study.trials[0]) is None


def test_the_report_and_summary_name_the_ties() -> None:
    study = _study([(_correct(340), 10.0), (_correct(337), 5.0), (_correct(300), 1.0)])
    frame = pareto_frame(study).set_index("number")
    assert list(frame["tied_with_most_accurate"]) == [True, True, False]
    assert list(frame["indistinguishable_from"]) == ["[1]", "[0]", "[]"]
    note = selection_note(study, front_trials(study))
    assert note is not None and "trial 1 apart" in note and "trial 1." in note
    assert ties_line(study, study.trials[0]) == (
        "trial 0: accuracy indistinguishable from front trial 1 (p = 0.25) on the 360 "
        "selection images (exact McNemar test)"
    )
    assert "distinguishable from every other" in ties_line(study, study.trials[2])


def test_a_front_the_selection_split_cannot_resolve_is_said_so() -> None:
    study = _study([(_correct(340), 10.0), (_correct(339), 5.0), (_correct(338), 1.0)])
    note = selection_note(study, front_trials(study))
    assert note == (
        "The 360 selection images cannot tell the accuracy of these 3 front designs apart "
        "(exact McNemar test, p >= 0.05); rank them by energy_pl_uj: --trial best is the best of "
        "them on it, trial 2."
    )


def _variant(source: int, pe: int, synapses: int, lut: float) -> dict:
    return {
        "inner_of": source,
        "accelerator": {"pe": pe, "synapses_per_cycle": synapses, "sample_lanes": 1},
        "lut": lut,
        "latency_us": 100.0 / lut,
    }


def test_twins_on_the_front_collapse_to_the_canonical_design() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.set_metric_names(["accuracy", "lut"])
    rows = [
        (0.9, _variant(0, 32, 1, 500.0)),  # 0 and 1: one design (same evaluation and cost)
        (0.9, _variant(0, 16, 2, 500.0)),  # canonical: fewer PEs
        (0.9, _variant(0, 4, 1, 100.0)),
        (0.9, _variant(7, 8, 1, 500.0)),  # same scores and cost, another evaluation
    ]
    for accuracy, attrs in rows:
        study.add_trial(
            optuna.trial.create_trial(values=[accuracy, attrs["lut"]], user_attrs=attrs)
        )
    assert sorted(t.number for t in study.best_trials) == [2]  # lut 100 dominates
    study.add_trial(optuna.trial.create_trial(values=[0.95, 500.0], user_attrs=rows[0][1]))
    study.add_trial(optuna.trial.create_trial(values=[0.95, 500.0], user_attrs=rows[1][1]))
    study.add_trial(optuna.trial.create_trial(values=[0.95, 500.0], user_attrs=rows[3][1]))
    assert sorted(t.number for t in study.best_trials) == [2, 4, 5, 6]
    assert sorted(t.number for t in front_trials(study)) == [2, 5, 6]  # 4 is 5's twin
    assert sorted(pd.Series(pareto_frame(study)["number"])) == [2, 5, 6]


def test_show_and_the_report_say_which_designs_are_tied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load(TINY.read_text())
    raw.update(
        name="ties",
        output_dir=str(tmp_path / "out"),
        objectives=[
            {"metric": "accuracy", "direction": "maximize"},
            {"metric": "energy_pl_uj", "direction": "minimize"},
        ],
    )
    path = tmp_path / "ties.yaml"
    path.write_text(yaml.safe_dump(raw))
    study = open_study(load_study_file(path))
    for right, energy in ((340, 10.0), (339, 5.0), (338, 1.0)):
        correct = _correct(right)
        study.add_trial(
            optuna.trial.create_trial(values=[correct.mean(), energy], user_attrs=_attrs(correct))
        )
    assert main(["show", str(path), "--trial", "best"]) == 0
    out = capsys.readouterr().out
    assert "ties: trial 2 (complete)" in out
    assert "trial 2: accuracy indistinguishable from front trials 0 (p = 0.5), 1 (p = 1)" in out
    # What `dse run` and `dse report` print after the front (`dse report` itself would score
    # these made-up designs on the test split, so the page is written directly).
    assert _print_front(study) == 3
    out = " ".join(capsys.readouterr().out.split())  # the sentence may wrap
    assert "cannot tell the accuracy of these 3 front designs apart" in out
    html = write_report(study, tmp_path / "report")["report.html"].read_text()
    assert "cannot tell the accuracy of these 3 front designs apart" in html
    assert "1 (p = 1), 2 (p = 0.5)" in html  # trial 0's row of the front table
