"""Calibration recovers known multipliers from synthetic measurements and is applied."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from hwmodel.calibration import (
    CalibrationError,
    fit_calibration,
    load_calibration,
    save_calibration,
)
from hwmodel.devices import get_part
from hwmodel.errors import HardwareInputError
from hwmodel.estimate import estimate
from hwmodel.plan import build_plan
from hwmodel.power import dynamic_power_by_kind
from hwmodel.resources import COMPONENTS, component_resources, load_coefficients
from hwmodel.template import AcceleratorConfig

TRUE = {
    "lut": {
        **dict.fromkeys(COMPONENTS, 1.0),
        **{"pe": 1.3, "prng": 0.8, "sampler": 1.2, "events": 0.6, "sample_memory": 1.5},
        **{"neuron_memory": 0.9, "spike_buffers": 1.1, "control": 1.2, "axi": 0.7},
    },
    "ff": {
        **dict.fromkeys(COMPONENTS, 1.0),
        **{"prng": 1.4, "sampler": 0.8, "events": 1.3, "neuron_memory": 1.7},
        **{"control": 0.9, "axi": 1.1},
    },
    # The image (spike buffers) and the RTL wrapper's pixel buffer (axi) are the same block
    # RAM in every design here: the fit cannot tell them apart, so they share one truth.
    "bram18": {
        **dict.fromkeys(COMPONENTS, 1.0),
        **{"weight_memory": 1.25, "sample_memory": 0.5, "spike_buffers": 2.0, "axi": 2.0},
    },
}
#: Components that never hold block RAM (nor the PE flip-flops, all in the neuron memory):
#: their multiplier has nothing to fit.
NO_BRAM = ("pe", "prng", "sampler", "events", "control")
POWER = {"lut": 1.8, "ff": 0.7, "bram36": 1.2, "dsp": 1.0}


def _designs() -> list[AcceleratorConfig]:
    rng = np.random.default_rng(3)
    shapes = [(64, 32, 10), (784, 128, 10), (196, 100, 50, 10), (64, 300, 10), (100, 20)]
    out = []
    for i in range(24):
        out.append(
            AcceleratorConfig(
                widths=shapes[i % len(shapes)],
                pe=int(rng.choice([2, 4, 8, 16, 32])),
                synapses_per_cycle=int(rng.integers(1, 3)),
                sample_lanes=int(rng.integers(1, 4)),
                k_bits=int(rng.integers(2, 9)),
                membrane_bits=int(rng.integers(8, 20)),
                reuse=int(rng.choice([1, 2, 4])),
                sampling=["memory", "regenerate"][i % 2],
                clock_mhz=float(rng.uniform(50, 200)),
                part=["xc7z020clg400-1", "xc7z045ffg900-2"][i % 2],
            )
        )
    return out


def _synthetic_table() -> pd.DataFrame:
    coeffs = load_coefficients()
    rows = []
    for cfg in _designs():
        comps = component_resources(build_plan(cfg), coeffs)
        row = cfg.as_dict()
        for res, mult in TRUE.items():
            row[res] = sum(float(comps[c][res]) * m for c, m in mult.items())
        row["bram18k"] = row.pop("bram18")
        row["dsp"] = 3.0  # e.g. address arithmetic the model does not price
        counts = {"lut": row["lut"], "ff": row["ff"], "bram36": row["bram18k"] / 2, "dsp": 3.0}
        dyn = dynamic_power_by_kind(counts, cfg.clock_mhz, coeffs, POWER)
        part = get_part(cfg.part)
        row["power_w"] = float(sum(dyn.values())) + part.static_w + part.ps_w
        rows.append(row)
    return pd.DataFrame(rows)


def test_fit_recovers_known_multipliers(tmp_path) -> None:
    cal = fit_calibration(_synthetic_table(), name="synthetic")
    for res, mult in TRUE.items():
        for comp, m in mult.items():
            if res == "bram18" and comp in NO_BRAM:
                assert cal.multipliers[res][comp] == 1.0  # never priced: left alone
            else:
                assert cal.multipliers[res][comp] == pytest.approx(m, rel=1e-3), (res, comp)
    assert cal.offsets["dsp"] == pytest.approx(3.0)
    for kind, m in POWER.items():
        assert cal.power[kind] == pytest.approx(m, rel=1e-3), kind
    assert cal.fit["errors"]["lut"]["rms_after"] < 1e-2 * cal.fit["errors"]["lut"]["rms_before"]

    path = save_calibration(cal, tmp_path / "profiles" / "synthetic.json")
    loaded = load_calibration(path)
    assert loaded.multipliers == cal.multipliers and loaded.power == cal.power


def test_estimate_uses_the_profile(tmp_path) -> None:
    table = _synthetic_table()
    path = save_calibration(fit_calibration(table), tmp_path / "cal.json")
    cfg = _designs()[5]
    row = table.iloc[5]
    plain = estimate(cfg)
    calibrated = estimate(cfg, calibration=str(path))
    assert calibrated["lut"] == pytest.approx(row["lut"], abs=1)
    assert calibrated["ff"] == pytest.approx(row["ff"], abs=1)
    assert calibrated["dsp"] == 3 and plain["dsp"] == 0
    assert calibrated["power_total_w"] == pytest.approx(row["power_w"], rel=1e-3)
    assert calibrated["lut"] != plain["lut"]


def test_bad_inputs_are_user_errors(tmp_path) -> None:
    with pytest.raises(HardwareInputError, match="calibration"):
        estimate(_designs()[0], calibration=str(tmp_path / "missing.json"))
    with pytest.raises(HardwareInputError, match="bram18k"):
        fit_calibration(pd.DataFrame({"lut": [1], "widths": [(4, 2)]}))


@pytest.mark.parametrize(
    ("profile", "entry"),
    [
        ({"multipliers": {"lut": {"pe": "1.2"}}}, "multipliers.lut.pe is '1.2'"),
        ({"multipliers": {"lut": {"pe": float("nan")}}}, "multipliers.lut.pe is nan"),
        ({"multipliers": {"ff": {"pe": -0.5}}}, "multipliers.ff.pe is -0.5"),
        ({"multipliers": {"ff": {"pee": 1.0}}}, "multipliers.ff.pee"),
        ({"multipliers": {"luts": {"pe": 1.0}}}, "multipliers.luts"),
        ({"multipliers": {"lut": [1, 2]}}, "multipliers.lut is [1, 2]"),
        ({"offsets": {"dsp": float("inf")}}, "offsets.dsp is inf"),
        ({"offsets": {"dsp": True}}, "offsets.dsp is True"),
        ({"power": {"lut": "x"}}, "power.lut is 'x'"),
        ({"fmax": {"lut_ns": float("nan")}}, "fmax.lut_ns is nan"),
        ({"activity": {"io": [0.1]}}, "activity.io is [0.1]"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_a_profile_with_unusable_numbers_is_refused_on_load(tmp_path, profile, entry) -> None:
    """Strings, NaN or negative multipliers would pass a mere parse and fail (or price
    nonsense) later; every entry is checked when the profile is read."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(profile))  # NaN and inf as JSON's extensions
    with pytest.raises(CalibrationError, match=re.escape(entry)) as info:
        load_calibration(path)
    assert "\n" not in str(info.value) and "bad.json" in str(info.value)
    assert isinstance(info.value, HardwareInputError)
    with pytest.raises(HardwareInputError, match="calibration"):
        estimate(_designs()[0], calibration=str(path))


def test_the_packaged_profile_and_a_saved_one_pass_the_check(tmp_path) -> None:
    assert load_calibration("yosys-rtl").multipliers["lut"]
    saved = save_calibration(fit_calibration(_synthetic_table()), tmp_path / "cal.json")
    assert load_calibration(saved).name
