"""The three energies per inference, each recomputed by hand from the estimate's latency,
I/O cycles and clock and from the device and board data.

The hand-counted design of test_hw_handworked.py (xc7z020 at 100 MHz on a PYNQ-Z2): 1564
cycles, 342 of them I/O, so latency 15.64 us and t_io = 342 / 100 MHz = 3.42 us; PS7 1.53 W
active and 0.74 W in WFI (devices.json), board idle 1.5 W (boards.json):
  energy_pl_uj    = power_w x 15.64
  energy_soc_uj   = energy_pl_uj + 1.53 x 3.42 + 0.74 x (15.64 - 3.42)
  energy_board_uj = (1.5 + power_dynamic_w) x 15.64 + (1.53 - 0.74) x 3.42
The PL power is taken from the estimate (its hand count lives in test_hw_handworked.py).
"""

import json
from importlib import resources

import pandas as pd
import pytest
from test_hw_handworked import DESIGN  # the hand-counted design, defined once

from dse.cli import main
from hwmodel.devices import BOARDS, PARTS, get_board
from hwmodel.errors import HardwareInputError
from hwmodel.estimate import estimate, estimate_table
from hwmodel.template import AcceleratorConfig


def _data(name: str) -> dict:
    return json.loads(resources.files("hwmodel").joinpath(f"data/{name}").read_text())


def test_three_energies_by_hand() -> None:
    r = estimate(AcceleratorConfig(**DESIGN), spike_rate=0.25, calibration="first-principles")
    assert (r["cycles"], r["cycles_io"], r["clock_mhz"]) == (1564, 342, 100.0)
    latency, t_io = 15.64, 3.42
    assert r["latency_us"] == pytest.approx(latency)
    assert (r["power_ps_w"], r["power_ps_idle_w"], r["board"]) == (1.53, 0.74, "pynq-z2")
    pl = r["power_w"] * latency
    soc = pl + 1.53 * t_io + 0.74 * (latency - t_io)
    board = (1.5 + r["power_dynamic_w"]) * latency + (1.53 - 0.74) * t_io
    assert r["energy_pl_uj"] == pytest.approx(pl, rel=1e-12)
    assert r["energy_soc_uj"] == pytest.approx(soc, rel=1e-12)
    assert r["energy_board_uj"] == pytest.approx(board, rel=1e-12)
    assert r["power_board_w"] == pytest.approx(1.5 + r["power_dynamic_w"])
    # The first-principles PL power of the hand count (test_hw_handworked): 0.20349964 W.
    assert r["energy_pl_uj"] == pytest.approx(0.20349964 * latency, rel=1e-6)
    assert r["energy_pl_uj"] < r["energy_soc_uj"] < r["energy_board_uj"]


@pytest.mark.parametrize("part", ["xc7z007s", "xc7z020", "xc7z045"])
@pytest.mark.parametrize("clock_mhz", [50.0, 200.0])
def test_pl_is_below_soc_and_board_on_every_design(part: str, clock_mhz: float) -> None:
    for widths, pe in (((64, 16, 4), 4), ((784, 128, 10), 32)):
        config = AcceleratorConfig(widths=widths, pe=pe, part=part, clock_mhz=clock_mhz)
        r = estimate(config)
        assert r["energy_pl_uj"] < r["energy_soc_uj"]
        assert r["energy_pl_uj"] < r["energy_board_uj"]
        assert r["energy_pl_uj"] == pytest.approx(r["power_w"] * r["latency_us"])


def test_table_prices_the_energies_as_estimate_does() -> None:
    rows = [{**DESIGN, "spike_rate": 0.25}, {**DESIGN, "pe": 8, "clock_mhz": 150.0}]
    rows[1]["spike_rate"] = 0.1
    table = estimate_table(pd.DataFrame(rows))
    assert set(table["board"]) == {"pynq-z2"}
    for i, row in enumerate(rows):
        knobs = {k: v for k, v in row.items() if k != "spike_rate"}
        single = estimate(AcceleratorConfig(**knobs), spike_rate=row["spike_rate"])
        for key in ("energy_pl_uj", "energy_soc_uj", "energy_board_uj", "power_board_w"):
            assert table.loc[i, key] == pytest.approx(single[key], rel=1e-12), (i, key)


def test_ps_idle_and_board_data_say_where_they_come_from() -> None:
    devices = _data("devices.json")
    assert "WFI" in devices["_sources"]["ps_idle_w"]
    assert "0.647" in devices["_sources"]["ps_idle_w"]
    for name, row in devices["parts"].items():
        assert row["ps_idle_w"] == round(row["ps_w"] * 0.485, 2), name
        assert PARTS[name].ps_idle_w == row["ps_idle_w"]
    boards = _data("boards.json")
    assert "assumed, not measured" in boards["_sources"]["idle_w"]
    assert "1.67 W" in boards["_sources"]["idle_w"]
    board = get_board("PYNQ-Z2")
    assert (board.name, board.idle_w, board.part) == ("pynq-z2", 1.5, "xc7z020clg400-1")
    assert list(BOARDS) == list(boards["boards"])


def test_the_fixture_rails_give_the_idle_share() -> None:
    """0.485 is the PS7 share left when the Vccpint dynamic current (cores) stops: the
    fixture's PS7 1.256 W less 0.647 A at 1.0 V."""
    assert round((1.256 - 0.647) / 1.256, 3) == 0.485


def test_unknown_board_is_a_one_line_error(capsys) -> None:
    with pytest.raises(HardwareInputError) as err:
        estimate(AcceleratorConfig(**DESIGN), board="zedboard")
    text = str(err.value)
    assert text.startswith("board: 'zedboard'") and "pynq-z2" in text and "\n" not in text
    with pytest.raises(HardwareInputError):
        estimate_table(pd.DataFrame([DESIGN]), board="zedboard")
    assert main(["estimate", "--layers", "64,16,4", "--board", "zedboard"]) == 2
    err_text = capsys.readouterr().err.strip()
    assert "board: 'zedboard'" in err_text and "\n" not in err_text
