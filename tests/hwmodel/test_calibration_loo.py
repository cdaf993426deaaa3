"""Leave-one-out scoring of a calibration on tables whose truth is known."""

import numpy as np
import pandas as pd
import pytest

from hls.tools.design_spread import calibration_designs
from hwmodel.calibration import leave_one_out, loo_summary, relative_error
from hwmodel.errors import HardwareInputError
from hwmodel.plan import build_plan
from hwmodel.resources import COMPONENTS, component_resources, load_coefficients

# Per resource and component: what the "synthesis" builds relative to the model.
TRUTH = {
    "lut": {**dict.fromkeys(COMPONENTS, 1.0), "pe": 1.4, "prng": 1.6, "control": 1.5, "axi": 0.6},
    "ff": {**dict.fromkeys(COMPONENTS, 1.0), "pe": 0.7, "prng": 1.3, "control": 0.4, "axi": 0.2},
    "bram18": dict.fromkeys(COMPONENTS, 1.0),
}


def measured_row(name: str, config, truth: dict, coeffs: dict) -> dict:
    """A design 'measured' as the model's components times `truth`'s multipliers, no DSP."""
    comps = component_resources(build_plan(config), coeffs)
    row = {"design": name, **config.as_dict()}
    for res, mult in truth.items():
        row[res] = sum(float(comps[c][res]) * m for c, m in mult.items())
    row["bram18k"], row["dsp"] = row.pop("bram18"), 0.0
    return row


def measured_table(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """The calibration spread 'measured' as the model's components times TRUTH, LUT and FF
    times a log-normal noise of `noise` (sigma), no DSP."""
    rng = np.random.default_rng(seed)
    coeffs = load_coefficients()
    rows = []
    for index, (_, config) in enumerate(calibration_designs(24)):
        row = measured_row(f"d{index}", config, TRUTH, coeffs)
        row["lut"] *= float(np.exp(rng.normal(0, noise)))
        row["ff"] *= float(np.exp(rng.normal(0, noise)))
        rows.append(row)
    return pd.DataFrame(rows)


def test_loo_recovers_exact_truth() -> None:
    table = leave_one_out(measured_table())
    assert len(table) == 24 * 4
    assert set(table["resource"]) == {"lut", "ff", "bram18", "dsp"}
    lut = table[table["resource"] == "lut"]
    # Before: the first-principles model is far off; after and left-out: the truth.
    assert lut["err_before"].median() > 0.2
    assert lut["err_after"].max() < 1e-3
    assert lut["err_loo"].max() < 1e-3
    summary = loo_summary(table)
    assert summary["ff"]["worst_loo"] < 1e-3
    assert summary["bram18"]["exact_loo"] == 24 and summary["dsp"]["exact_loo"] == 24
    assert summary["lut"]["designs"] == 24


def test_loo_with_noise_is_bounded_and_worse_than_the_fit() -> None:
    summary = loo_summary(leave_one_out(measured_table(noise=0.05)))
    for res in ("lut", "ff"):
        entry = summary[res]
        assert entry["median_after"] <= entry["median_loo"] < 0.08, (res, entry)
        assert entry["median_loo"] > 0.005  # the noise is seen, not fitted away
        assert entry["median_before"] > 2 * entry["median_loo"]


def test_one_outlier_shows_in_its_own_loo_error() -> None:
    table = measured_table()
    table.loc[5, "lut"] *= 1.5
    loo = leave_one_out(table).set_index(["design", "resource"])
    assert loo.loc[("d5", "lut"), "err_loo"] > 0.3
    errors = loo.xs("lut", level="resource")["err_loo"]
    assert errors.idxmax() == "d5"  # the worst case names the odd design
    assert loo.xs("ff", level="resource")["err_loo"].max() < 1e-3  # other resources untouched


def test_relative_error_of_zero_counts_is_absolute() -> None:
    assert relative_error(np.array([1.0, 0.0, 110.0]), np.array([0.0, 0.0, 100.0])).tolist() == [
        1.0,
        0.0,
        pytest.approx(0.1),
    ]


def test_loo_needs_two_designs() -> None:
    with pytest.raises(HardwareInputError, match="at least 2"):
        leave_one_out(measured_table().iloc[:1])


def conv_table() -> pd.DataFrame:
    """Eight conv designs 'measured' as TRUTH times the model's components, the conv ones
    at their own factors (conv_pe LUT 0.7, conv_buffers FF 1.8)."""
    from hls.tools.design_spread import conv_calibration_designs

    truth = {r: dict(m) for r, m in TRUTH.items()}
    truth["lut"]["conv_pe"], truth["ff"]["conv_buffers"] = 0.7, 1.8
    coeffs = load_coefficients()
    configs = [config for _, config in conv_calibration_designs(8)]
    return pd.DataFrame([measured_row(f"c{i}", c, truth, coeffs) for i, c in enumerate(configs)])


def test_conv_fit_holds_the_dense_multipliers_and_finds_the_conv_ones() -> None:
    from hwmodel.calibration import Calibration, conv_leave_one_out, fit_conv

    base = Calibration(name="truth")
    for res, mult in TRUTH.items():
        base.multipliers[res].update(mult)
    table = pd.concat([measured_table().iloc[:4], conv_table()], ignore_index=True)
    cal = fit_conv(table, base)
    assert cal.multipliers["lut"]["conv_pe"] == pytest.approx(0.7, rel=1e-4)
    assert cal.multipliers["ff"]["conv_buffers"] == pytest.approx(1.8, rel=1e-4)
    for res, mult in base.multipliers.items():  # every dense one bit for bit
        assert {c: v for c, v in cal.multipliers[res].items() if not c.startswith("conv")} == {
            c: v for c, v in mult.items() if not c.startswith("conv")
        }
    loo = conv_leave_one_out(table, base)
    assert set(loo["design"]) == {f"c{i}" for i in range(8)}  # the dense rows left out
    assert loo.loc[loo["resource"].isin(["lut", "ff"]), "err_loo"].max() < 1e-3
    assert loo.loc[loo["resource"] == "lut", "err_before"].median() > 0.05
    # A wrong dense multiplier shows in the conv designs' errors: the conv fit cannot hide it.
    base.multipliers["lut"]["pe"] = 1.0
    assert conv_leave_one_out(table, base).query("resource == 'lut'")["err_loo"].max() > 1e-3
