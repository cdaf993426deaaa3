"""`dse estimate`: the JSON contract, the readable table and exit code 2 on bad values."""

import json

import pytest

from dse.cli import main
from hwmodel.estimate import estimate
from hwmodel.template import AcceleratorConfig

BASE = ["estimate", "--part", "xc7z020clg400-1", "--layers", "64,16,4", "--pe", "4"]
BASE += ["--clock-mhz", "100", "--timesteps", "2", "--samples", "2", "--k-bits", "4"]
BASE += ["--membrane-bits", "8", "--input-bits", "4"]
KEYS = {"lut", "ff", "bram36", "dsp", "fits", "latency_us", "throughput_ips", "gops"}
KEYS |= {"gops_per_dsp", "power_w", "util_lut", "util_ff", "util_bram36"}
KEYS |= {"energy_pl_uj", "energy_soc_uj", "energy_board_uj", "power_board_w", "board"}
KEYS |= {"util_dsp", "cycles_per_layer", "cycles", "power_static_w", "power_dynamic_w"}


def test_json_holds_the_contract_keys(capsys) -> None:
    """The hand-counted design (tests/hwmodel/test_hw_handworked.py) under first principles,
    and by default under the yosys-rtl profile."""
    uncalibrated = [*BASE, "--spike-rate", "0.25", "--json", "--calibration", "first-principles"]
    assert main(uncalibrated) == 0
    out = json.loads(capsys.readouterr().out)
    assert out.keys() >= KEYS
    assert (out["lut"], out["ff"], out["bram36"], out["cycles"]) == (2990, 2016, 1.0, 1564)
    assert out["config"]["widths"] == [64, 16, 4]
    assert out["calibration"] == "first-principles"
    assert main([*BASE, "--spike-rate", "0.25", "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    config = AcceleratorConfig(**{**out["config"], "widths": (64, 16, 4)})
    profiled = estimate(config, spike_rate=0.25, calibration="yosys-rtl")
    assert default["calibration"] == "yosys-rtl"
    assert (default["lut"], default["ff"]) == (profiled["lut"], profiled["ff"]) != (2990, 2016)


def test_activity_file_and_table(tmp_path, capsys) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"activity": [64, 2.0]}))
    assert main([*BASE, "--activity", str(path), "--json"]) == 0
    # the hand count's layer 1 with 2 inputs firing per timestep (test_hw_handworked.py)
    assert json.loads(capsys.readouterr().out)["cycles_per_layer"][1] == 56
    assert main([*BASE, "--calibration", "first-principles"]) == 0
    text = capsys.readouterr().out
    assert "BRAM36" in text and "GOPS" in text and "2990" in text
    assert "profile first-principles" in text


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--part", "xc7z999"], "part"),
        (["--pe", "0"], "pe"),
        (["--layers", "784,5x,10"], "--layers"),
        (["--spike-rate", "1.5"], "spike_rate"),
        (["--ensemble", "both"], "ensemble"),
        (["--calibration", "yosys"], "--calibration: 'yosys' is not a calibration profile"),
    ],
)
def test_bad_values_exit_2_with_one_line(args: list[str], fragment: str, capsys) -> None:
    assert main([*BASE, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err


def test_json_and_table_carry_the_three_energies(capsys, monkeypatch) -> None:
    """--json has energy_pl_uj, energy_soc_uj and energy_board_uj (no energy_uj); the table
    says what each includes and names the board and its idle draw."""
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    assert main([*BASE, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "energy_uj" not in out
    assert out["board"] == "pynq-z2"
    assert out["energy_pl_uj"] < out["energy_soc_uj"] < out["energy_board_uj"]
    assert out["energy_pl_uj"] == pytest.approx(out["power_w"] * out["latency_us"])
    assert out["power_board_w"] == pytest.approx(1.5 + out["power_dynamic_w"])
    assert main(BASE) == 0
    text = capsys.readouterr().out
    for fragment in ("energy_pl_uj", "energy_soc_uj", "energy_board_uj", "programmable logic"):
        assert fragment in text
    assert "pynq-z2 board: 1.50 W idle (assumed)" in text
