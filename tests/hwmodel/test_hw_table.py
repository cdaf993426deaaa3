"""estimate_table prices a DataFrame exactly as estimate prices each row."""

import numpy as np
import pandas as pd
import pytest

from hwmodel.errors import HardwareInputError
from hwmodel.estimate import estimate, estimate_table
from hwmodel.template import AcceleratorConfig

ROWS = [
    dict(widths=(64, 32, 10), pe=4, clock_mhz=100.0, spike_rate=0.1),
    dict(widths=(64, 32, 10), pe=2, synapses_per_cycle=2, k_bits=3, spike_rate=0.3),
    dict(widths="64,32,10", pe=8, reuse=4, sampling="regenerate", part="xc7z045ffg900-2"),
    dict(widths=(784, 128, 128, 10), pe=16, ensemble="time", samples=4, timesteps=8),
    dict(widths=(784, 128, 128, 10), pe=16, sample_lanes=3, samples=7, spike_rate=0.5),
    dict(widths=(16, 10), pe=1, membrane_bits=12, clock_mhz=50.0),
]
SCALARS = ["lut", "ff", "bram36", "dsp", "util_lut", "util_ff", "util_bram36", "util_dsp"]
SCALARS += ["fits", "cycles", "cycles_sampling", "latency_us", "throughput_ips", "synops_per_s"]
SCALARS += ["gops", "gops_per_dsp", "power_static_w", "power_dynamic_w", "power_w", "energy_pl_uj"]
SCALARS += ["energy_soc_uj", "energy_board_uj", "power_board_w", "power_ps_idle_w"]


def _single(row: dict) -> dict:
    knobs = {k: v for k, v in row.items() if k != "spike_rate"}
    if isinstance(knobs["widths"], str):
        knobs["widths"] = tuple(int(w) for w in knobs["widths"].split(","))
    return estimate(AcceleratorConfig(**knobs), spike_rate=row.get("spike_rate", 0.1))


def test_table_equals_estimate_row_by_row() -> None:
    df = pd.DataFrame(ROWS)
    df["spike_rate"] = df["spike_rate"].fillna(0.1)
    table = estimate_table(df.iloc[::-1])  # order must not matter
    assert list(table.index) == list(df.index[::-1])
    for i, row in enumerate(ROWS):
        single = _single(row)
        for key in SCALARS:
            assert table.loc[i, key] == pytest.approx(single[key], rel=1e-12), (i, key)
        assert table.loc[i, "cycles_per_layer"] == pytest.approx(single["cycles_per_layer"])


def test_activity_column_is_used_per_row() -> None:
    df = pd.DataFrame(
        {"widths": [(64, 32, 10)] * 2, "pe": [4, 4], "activity": [[64, 1.0], [64, 9.0]]}
    )
    table = estimate_table(df)
    one = estimate(AcceleratorConfig(widths=(64, 32, 10), pe=4), activity=[64, 9.0])
    assert table.loc[1, "cycles"] == pytest.approx(one["cycles"])
    assert table.loc[1, "cycles"] - table.loc[0, "cycles"] == pytest.approx(
        8 * 3 * 8 * 10
    )  # events x rows x T x runs


def test_util_cap_changes_fits() -> None:
    df = pd.DataFrame({"widths": [(784, 512, 10)], "pe": [64], "k_bits": [2]})
    full = estimate_table(df)
    assert bool(full.loc[0, "fits"])
    capped = estimate_table(df, util_cap=0.5 * float(full.loc[0, "util_lut"]))
    assert not bool(capped.loc[0, "fits"])


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("pe", 0, "pe: 0"),
        ("pe", 2.5, "pe: 2.5"),
        ("widths", "784,x,10", "widths"),
        ("part", "xc7z999", "part"),
        ("k_bits", 40, "k_bits"),
    ],
)
def test_bad_rows_are_one_line_errors(column: str, value: object, fragment: str) -> None:
    good = {"pe": 4, "widths": (64, 10), "part": "xc7z020", "k_bits": 8}
    df = pd.DataFrame({"widths": [(64, 10), (64, 10)], "pe": [4, 4]})
    df[column] = pd.Series([good[column], value], dtype=object)
    with pytest.raises(HardwareInputError) as err:
        estimate_table(df)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_many_designs_are_vectorised() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame(
        {
            "widths": [(784, 256, 10)] * n,
            "pe": rng.choice([16, 32, 64], n),
            "k_bits": rng.integers(1, 9, n),
            "clock_mhz": rng.uniform(50, 200, n),
            "spike_rate": rng.uniform(0, 0.5, n),
        }
    )
    table = estimate_table(df)
    assert len(table) == n and table["cycles"].notna().all()
    assert (table.groupby(df["pe"])["cycles"].max().diff().dropna() < 0).all()
