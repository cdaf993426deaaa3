"""Terminal tables: units, constraint wording, nothing dropped (the ETA: test_progress)."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial
from rich.console import Console

from dse.summary import constraint_text, front_tables, shown


def test_units_and_rounding() -> None:
    assert shown("accuracy", 0.95555555) == "95.56 %"
    assert shown("energy_pl_uj", 20.43669119946667) == "20.44 µJ"
    assert shown("util_lut", 0.3477272727) == "34.77 %"
    assert shown("lut", 6120.0) == "6120"
    assert shown("part", "xc7z020clg400-1") == "xc7z020clg400-1"
    assert shown("spikes_per_layer", [1.5, 2]) == "[1.5, 2]"


def test_constraints_read_as_ok_or_violated() -> None:
    assert constraint_text("utilisation", -0.4522727) == "ok (margin 45.23 % of the part)"
    assert constraint_text("utilisation", 0.125) == "violated by 12.5 % of the part"
    assert constraint_text("accuracy", 0.05) == "violated by 5 % accuracy"
    assert constraint_text("power_w", -0.3) == "ok (margin 0.3 W)"


def _trial(number: int, values: list[float], params: dict) -> FrozenTrial:
    dists = {
        k: FloatDistribution(0, 1e6) if isinstance(v, float) else CategoricalDistribution([v])
        for k, v in params.items()
    }
    return optuna.trial.create_trial(
        values=values,
        params=params,
        distributions=dists,
        user_attrs={"lut": 1000.0 + number, "latency_us": 12.345678},
        constraints={"utilisation": -1.0},
    )


def test_front_tables_split_columns_and_drop_none() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["accuracy", "energy_pl_uj"])
    params = {f"a_rather_long_knob_name_{i}": float(i) + 0.5 for i in range(12)}
    for number, values in enumerate([[0.9, 5.0], [0.8, 1.0], [0.85, 2.0], [0.7, 9.0]]):
        study.add_trial(_trial(number, values, params))
    tables = front_tables(study, width=80)
    assert len(tables) > 1
    headers = [str(c.header) for t in tables for c in t.columns]
    for name in params:
        assert headers.count(name) == 1
    assert headers.count("trial") == len(tables)
    assert {"accuracy [%]", "energy_pl_uj [µJ]", "lut", "latency_us [µs]"} <= set(headers)
    console = Console(width=80, record=True)
    for table in tables:
        console.print(table)
    text = console.export_text()
    assert "(knee)" in text and "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "12.35 µs" in text
    # Best accuracy first; the dominated trial 3 is not on the front; the knee is trial 2
    # (scaled to the front: accuracy 0.5, energy 0.75, nearest to the ideal (1, 1)); no
    # selection results, so `best` is the most accurate.
    assert [str(c) for c in tables[0].columns[0]._cells] == ["0 (best)", "2 (knee)", "1"]


def test_clock_note_names_designs_close_to_their_fmax() -> None:
    from dse.summary import clock_note

    def trial(number: int, clock: float, fmax: float) -> optuna.trial.FrozenTrial:
        made = optuna.trial.create_trial(
            values=[0.9], user_attrs={"clock_mhz": clock, "fmax_mhz": fmax}
        )
        made.number = number
        return made

    front = [trial(3, 100.0, 150.0), trial(7, 125.0, 130.2), trial(9, 100.0, 111.1)]
    note = clock_note(front)
    assert note is not None and "10 %" in note
    assert "trials 7 (125 of 130.2 MHz), 9 (100 of 111.1 MHz)" in note and " 3 (" not in note
    assert clock_note(front[:1]) is None


def test_the_report_and_the_terminal_read_the_same_units() -> None:
    from dse.plots import METRIC_STYLES
    from dse.units import unit_of

    for name, style in METRIC_STYLES.items():
        if style.unit:
            assert unit_of(name) == (style.unit, style.scale), name
    assert unit_of("test_accuracy_se") == ("%", 100.0)
    assert unit_of("val_ece_before_scaling_mode") == ("%", 100.0)
    assert unit_of("latency_worst_us") == ("µs", 1.0)
    assert unit_of("energy_board_uj") == ("µJ", 1.0)
