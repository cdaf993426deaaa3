"""`dse export`: project contents, design.json, path safety and --force."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from dse.cli import main
from hls.export import export_design, export_project
from hls.project import ProjectWriter
from hwmodel.errors import HardwareInputError
from hwmodel.template import AcceleratorConfig
from models.io import save_model
from models.network import BayesBinaryMLP
from models.snn_integer import quantize_network
from models.snn_spec import ConvertedLayer, ConvertedSNN
from models.training import TrainConfig, TrainedModel

EXPECTED_FILES = {
    "Makefile",
    "README.md",
    "block_design.tcl",
    "build.tcl",
    "design.json",
    "host/snn_driver.py",
    "src/snn_config.h",
    "src/snn_datapath.h",
    "src/snn_kernel.cpp",
    "src/snn_params.h",
    "src/snn_types.h",
    "tb/golden.txt",
    "tb/snn_tb.cpp",
}


def small_snn() -> ConvertedSNN:
    """5 inputs, 4 spiking neurons, 3 classes; posteriors from a fixed pattern."""
    prob1 = (np.arange(20).reshape(4, 5) % 7) / 6.0
    prob2 = (np.arange(12).reshape(3, 4) % 5) / 4.0
    hidden = ConvertedLayer(prob1, np.full(4, 1.5), np.zeros(4), np.full(4, 0.75))
    output = ConvertedLayer(prob2, np.ones(3), np.array([0.1, 0.0, -0.1]), np.zeros(3), False)
    return ConvertedSNN(layers=[hidden, output], output_scale=2.0)


CONFIG = AcceleratorConfig(
    widths=(5, 4, 3), pe=2, samples=3, timesteps=4, part="xc7z010clg400-1", clock_mhz=125.0
)


def export_small(out: Path, **kwargs):
    images = np.linspace(0, 1, 15).reshape(3, 5)
    return export_project(small_snn(), CONFIG, images, np.array([0, 1, 2]), out, **kwargs)


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_project_holds_every_file_and_only_inside_out(tmp_path: Path):
    (tmp_path / "neighbour.txt").write_text("keep")
    out = tmp_path / "deep" / "project"
    result = export_small(out, design_name="../../escape", metrics={"accuracy": 0.5})
    files = {str(Path(p).relative_to(out.resolve())) for p in result.files}
    assert files == EXPECTED_FILES
    assert {p for p in tree(out) if (out / p).is_file()} == EXPECTED_FILES
    inside = {f"deep/project/{p}" for p in tree(out)}
    assert tree(tmp_path) == {"neighbour.txt", "deep", "deep/project", *inside}
    assert (tmp_path / "neighbour.txt").read_text() == "keep"


def test_design_json_holds_parameters_and_metrics(tmp_path: Path):
    result = export_small(tmp_path / "p", metrics={"accuracy": 0.5}, source={"model_dir": "m"})
    design = json.loads((tmp_path / "p" / "design.json").read_text())
    assert design == json.loads(json.dumps(result.design))
    assert design["config"] == CONFIG.as_dict()
    assert design["metrics"] == {"accuracy": 0.5}
    assert design["source"] == {"model_dir": "m"}
    quant = design["quantization"]
    assert quant["output_scale"] == 2.0 and quant["input_scale"] == 255
    assert len(quant["shifts"]) == 2
    assert quant["score_divisor"] == 2 ** quant["shifts"][1]
    assert design["golden"]["images"] == 3
    assert design["estimates"]["cycles"] > 0 and design["estimates"]["source"]
    assert "study" not in design


def test_each_backend_prices_its_export_as_it_builds_it(tmp_path: Path):
    """design.json's estimates: the HLS kernel with its m_axi bundle at first principles (no
    profile is measured for Vitis HLS); the RTL core in its AXI4-Lite wrapper under the
    yosys-rtl profile, fitted to that backend."""
    from hwmodel.estimate import estimate

    hls = export_small(tmp_path / "hls").design["estimates"]
    rtl = export_small(tmp_path / "rtl", backend="rtl").design["estimates"]
    assert (hls["calibration"], rtl["calibration"]) == ("first-principles", "yosys-rtl")
    assert hls["components"]["axi"] == estimate(CONFIG, backend="hls")["components"]["axi"]
    assert hls["components"]["axi"]["bram18"] == 2  # two FIFOs of the m_axi adapter
    expected = estimate(CONFIG, calibration="yosys-rtl", backend="rtl")
    assert (rtl["lut"], rtl["ff"], rtl["bram18"]) == (
        expected["lut"],
        expected["ff"],
        expected["bram18"],
    )


def test_templates_carry_the_design_knobs(tmp_path: Path):
    export_small(tmp_path)
    build = (tmp_path / "build.tcl").read_text()
    assert "set_part {xc7z010clg400-1}" in build
    assert "create_clock -period 8.0000" in build
    for step in ("csim_design", "csynth_design", "cosim_design", "export_design"):
        assert step in build
    assert "xc7z010clg400-1" in (tmp_path / "block_design.tcl").read_text()
    kernel = (tmp_path / "src" / "snn_kernel.cpp").read_text()
    # 2 codes of 8 bits per word, packed into one 16-bit chunk per address
    params = (tmp_path / "src" / "snn_params.h").read_text()
    assert "typedef ap_uint<16> codes_0_word_t;" in params
    assert "static const uint16_t codes_0[10][1] = {" in params  # 5 inputs x 2 rows
    assert "BIND_STORAGE variable=codes_0 type=rom_1p" in kernel
    assert "mode=s_axilite port=return" in kernel and "mode=m_axi port=images" in kernel
    config = (tmp_path / "src" / "snn_config.h").read_text()
    assert "constexpr int NPC = 2;" in config and "constexpr int SAMPLES = 3;" in config
    makefile = (tmp_path / "Makefile").read_text()
    assert "-std=c++14 -O2 -Wall -Wextra -Werror -Wno-unknown-pragmas" in makefile
    assert "-std=c++14 -I$src" in build and "file normalize" in build
    driver = (tmp_path / "host" / "snn_driver.py").read_text()
    compile(driver, "snn_driver.py", "exec")  # valid Python, importable without pynq


def _rom_elements(params: str, name: str, bits: int) -> np.ndarray:
    """The elements [depth, elements] of a packed ROM's initialiser: its words from their
    chunks (lowest first), cut into `bits`-bit elements (lowest first)."""
    match = re.search(rf"uint(\d+)_t {name}\[(\d+)\]\[\d+\] = \{{(.*?)\}};", params, re.S)
    chunk, depth = int(match.group(1)), int(match.group(2))
    width = int(re.search(rf"typedef ap_uint<(\d+)> {name}_word_t;", params).group(1))
    words = [
        sum(int(v, 16) << (chunk * c) for c, v in enumerate(re.findall(r"0x([0-9a-f]+)", word)))
        for word in re.findall(r"\{([^{}]*)\}", match.group(3))
    ]
    assert len(words) == depth and all(word >> width == 0 for word in words)
    mask = (1 << bits) - 1
    return np.array([[(w >> (bits * p)) & mask for p in range(width // bits)] for w in words])


@pytest.mark.parametrize("sampling", ["memory", "regenerate"])
@pytest.mark.parametrize("reuse", [1, 2])
def test_kernel_shares_one_word_per_group(sampling: str, reuse: int, tmp_path: Path):
    config = dataclasses.replace(CONFIG, pe=4, reuse=reuse, sampling=sampling)
    export_project(small_snn(), config, np.zeros((1, 5)), np.array([0]), tmp_path)
    kernel = (tmp_path / "src" / "snn_kernel.cpp").read_text()
    # Generators sit inside the loop over the PRNG units, not one per synapse.
    assert re.search(r"for \(int u = 0; u < PRNG_UNITS; \+\+u\) \{[^}]*prng_word\(", kernel)
    # A row window of 4 consecutive indices spans 4 groups at reuse 1, 3 at reuse 2.
    config_h = (tmp_path / "src" / "snn_config.h").read_text()
    assert f"constexpr int PRNG_UNITS = {4 if reuse == 1 else 3};" in config_h
    assert f"constexpr int LOG2_REUSE = {reuse - 1};" in config_h
    params = (tmp_path / "src" / "snn_params.h").read_text()
    net = quantize_network(small_snn(), config)
    # Per layer, (input, row) words of 4 neurons: 4 and 3 outputs, one row each.
    for index, layer in enumerate(net.layers):
        n_out, n_in = layer.codes.shape
        rom = _rom_elements(params, f"codes_{index}", config.k_bits)
        assert rom.shape == (n_in, 4)
        np.testing.assert_array_equal(rom[:, :n_out], layer.codes.T)
        assert (rom[:, n_out:] == 0).all()


def test_host_driver_probabilities_match_the_export(tmp_path: Path):
    result = export_small(tmp_path)
    namespace: dict = {}
    exec((tmp_path / "host" / "snn_driver.py").read_text(), namespace)  # noqa: S102
    scores = np.array([[[8, 0, -8]], [[0, 8, 0]]])
    probs = namespace["probabilities"](scores)
    quant = result.design["quantization"]
    logits = quant["output_scale"] * scores / (quant["score_divisor"] * CONFIG.timesteps)
    expected = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).mean(0)
    np.testing.assert_allclose(probs, expected)


def test_non_empty_out_needs_force(tmp_path: Path):
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(HardwareInputError, match="--force"):
        export_small(tmp_path)
    assert tree(tmp_path) == {"old.txt"}
    export_small(tmp_path, force=True)
    assert tree(tmp_path) >= EXPECTED_FILES | {"old.txt"}
    (tmp_path / "file").write_text("x")
    with pytest.raises(HardwareInputError, match="is a file"):
        export_small(tmp_path / "file")


def test_writer_refuses_paths_outside_the_project(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    writer = ProjectWriter(tmp_path / "project")
    assert not (tmp_path / "project").exists()  # created by the first write, not before
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "link").symlink_to(outside, target_is_directory=True)
    for name in ("../escape.txt", str(outside / "abs.txt"), "link/through.txt", "a/../../x"):
        with pytest.raises(HardwareInputError, match="outside"):
            writer.write(name, "no")
    assert not any(outside.iterdir()) and not (tmp_path / "escape.txt").exists()
    assert writer.write("a/b/ok.txt", "yes").read_text() == "yes"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained but complete saved model (export only needs its weights and settings)."""
    torch.manual_seed(0)
    net = BayesBinaryMLP((64, 6, 10), levels=4, lam_init=2.0)
    net.eval()
    model = TrainedModel(network=net, config=TrainConfig(widths=(6,)), dataset="digits")
    return save_model(model, tmp_path_factory.mktemp("model"))


def test_export_from_a_model_directory(model_dir: Path, tmp_path: Path):
    out = tmp_path / "p"
    args = ["export", "--model", str(model_dir), "--out", str(out), "--images", "4"]
    assert main([*args, "--pe", "3", "--reuse", "2", "--ensemble", "time", "--samples", "2"]) == 0
    design = json.loads((out / "design.json").read_text())
    assert design["config"]["widths"] == [64, 6, 10]
    assert (design["config"]["pe"], design["config"]["ensemble"]) == (3, "time")
    assert design["source"]["dataset"] == "digits"
    assert design["golden"]["images"] == 4
    assert main(args) == 2  # not empty any more
    assert main([*args, "--force", "--k-bits", "3"]) == 0
    assert json.loads((out / "design.json").read_text())["config"]["k_bits"] == 3


def test_export_design_checks_widths(model_dir: Path, tmp_path: Path):
    with pytest.raises(HardwareInputError, match="widths"):
        export_design(model_dir, AcceleratorConfig(widths=(64, 7, 10)), tmp_path)
    with pytest.raises(HardwareInputError, match="--images"):
        export_design(model_dir, AcceleratorConfig(widths=(64, 6, 10)), tmp_path, n_images=0)


def test_export_command_needs_one_source(model_dir: Path, tmp_path: Path):
    study = tmp_path / "study.yaml"
    study.write_text("name: x\n")
    out = ["--out", str(tmp_path / "p")]
    assert main(["export", *out]) == 2
    assert main(["export", "--model", str(model_dir)]) == 2  # --out missing
    assert main(["export", str(study), "--model", str(model_dir), *out]) == 2
    assert main(["export", str(study), *out]) == 2  # --trial missing
    assert not (tmp_path / "p").exists()
    assert os.listdir(tmp_path) == ["study.yaml"]


def test_export_needs_a_full_part_string_and_spells_it_canonically(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """vitis_hls' set_part needs package and speed grade; a bare die is refused, nothing written."""
    args = ["export", "--model", str(model_dir), "--images", "2"]
    assert main([*args, "--out", str(tmp_path / "die"), "--part", "xc7z020"]) == 2
    assert "xc7z020clg400-1" in capsys.readouterr().err
    assert not (tmp_path / "die").exists()
    assert main([*args, "--out", str(tmp_path / "p"), "--part", "XC7Z020CLG400-1"]) == 0
    assert "set_part {xc7z020clg400-1}" in (tmp_path / "p" / "build.tcl").read_text()
