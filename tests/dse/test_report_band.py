"""The report shows the cost model's measured error (a profile's leave-one-out errors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from dse.error_band import model_band, relative_band
from dse.metrics import trial_metrics
from dse.plots import KINDS, classify, pareto_figures
from dse.report import write_report
from hwmodel.calibration import Calibration
from hwmodel.estimate import estimate
from hwmodel.template import AcceleratorConfig

LOO = {
    "lut": {"designs": 24, "median_loo": 0.06, "worst_loo": 0.21},
    "ff": {"designs": 24, "median_loo": 0.04, "worst_loo": 0.12},
    "bram18": {"designs": 24, "median_loo": 0.0, "worst_loo": 0.0, "exact_loo": 24},
    "dsp": {"designs": 24, "median_loo": 0.0, "worst_loo": 0.0, "exact_loo": 24},
}


def _profile() -> Calibration:
    fit = {"loo": LOO, "measured_by": ["Yosys 0.70"], "command": "dse calibrate --out x"}
    return Calibration(name="yosys-rtl", fit=fit)


def _objective(trial: optuna.Trial) -> tuple[float, float]:
    pe = trial.suggest_categorical("pe", [1, 2, 4, 8, 16])
    cost = estimate(AcceleratorConfig(widths=(64, 32, 10), pe=pe, timesteps=4, samples=2))
    for key in ("lut", "ff", "bram36", "dsp", "clock_mhz", "power_w", "power_dynamic_w"):
        trial.set_user_attr(key, float(cost[key]))
    trial.set_user_attr("power_board_w", float(cost["power_board_w"]))
    return 0.8 + 0.01 * pe, float(cost["energy_pl_uj"])


@pytest.fixture(scope="module")
def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="band",
        directions=["maximize", "minimize"],
        sampler=optuna.samplers.GridSampler({"pe": [1, 2, 4, 8, 16]}),
    )
    study.set_metric_names(["accuracy", "energy_pl_uj"])
    study.optimize(_objective, n_trials=5)
    return study


def test_energy_band_is_the_resource_error_through_dynamic_power(study: optuna.Study) -> None:
    band = model_band(_profile())
    assert band is not None and band.designs == 24
    for trial in study.trials:
        attrs = {**trial_metrics(trial), "energy_pl_uj": trial.values[1]}
        rel = relative_band("energy_pl_uj", attrs, band)
        dynamic_share = attrs["power_dynamic_w"] / attrs["power_w"]
        # Between the FF and the LUT error, scaled by the dynamic share of the power.
        assert 0.04 * dynamic_share <= rel <= 0.06 * dynamic_share
        assert relative_band("lut", attrs, band) == 0.06
        assert relative_band("accuracy", attrs, band) is None
        # The board's energy carries the same watts of error, over the board's power.
        board = relative_band("energy_board_uj", attrs, band)
        assert board == pytest.approx(rel * attrs["power_w"] / attrs["power_board_w"])
    assert model_band(Calibration()) is None  # first principles: nothing measured


def test_front_carries_the_band(study: optuna.Study) -> None:
    plain = pareto_figures(study)[0][1]
    banded = pareto_figures(study, model_band(_profile()))[0][1]
    front_name = KINDS["front"][0]
    front = next(t for t in banded.data if t.name.startswith(front_name))
    band = model_band(_profile())
    on_front = [t for t in study.trials if classify(study)[t.number] == "front"]
    expected = [
        t.values[1] * relative_band("energy_pl_uj", {**trial_metrics(t), "energy_pl_uj": v}, band)
        for t in on_front
        for v in t.values[1:]
    ]
    assert list(front.x) == [t.values[1] for t in on_front]  # energy on x, the cost axis
    assert np.asarray(front.error_x.array) == pytest.approx(expected)
    assert min(expected) > 0 and not front.error_y.visible
    plain_front = next(t for t in plain.data if t.name.startswith(front_name))
    assert not plain_front.error_x.visible


def test_report_tabulates_the_band(study: optuna.Study, tmp_path: Path) -> None:
    page = write_report(study, tmp_path, _profile())["report.html"].read_text()
    assert "Model vs Yosys 0.70: leave-one-out error per resource, 24 designs" in page
    assert "profile yosys-rtl" in page
    assert "<td>6.0 %</td><td>21.0 %</td>" in page  # LUT median and worst
    assert "<td>24/24</td>" in page
    assert "dse calibrate --out x" in page
    plain = write_report(study, tmp_path / "plain")["report.html"].read_text()
    assert "leave-one-out" not in plain
