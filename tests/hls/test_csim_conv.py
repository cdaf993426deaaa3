"""The convolutional front of the Vitis HLS kernel, C-simulated with g++: every random design's
scores, spike counts and cycle counts bit-exact with the integer model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conv_designs import (
    N_DESIGNS,
    assert_fronts_fire,
    assert_modes_and_fronts_covered,
    export_conv,
    random_conv_design,
    save_conv_model,
)

from dse.cli import main
from hls.golden import format_golden, read_golden
from hls.vitis.csim import run_csim

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")


def test_random_conv_designs_cover_every_mode_and_front():
    configs = [random_conv_design(seed) for seed in range(N_DESIGNS)]
    assert_modes_and_fronts_covered(configs)
    assert {c.input_shape[0] for c in configs} >= {1, 2, 3}
    assert any(c.samples > 1 and c.ensemble == "time" for c in configs)  # every set's keys
    assert any(min(c.sample_lanes, c.samples) > 1 for c in configs if c.ensemble == "repeat")
    assert any(s.channels > c.neurons_per_cycle for c in configs for s in c.conv_shapes)
    assert any(s.width % 2 for c in configs for s in c.conv_shapes if s.pool)  # a dropped column


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_conv_csim_is_bit_exact_with_the_integer_model(tmp_path: Path):
    """All designs in one test (each build takes seconds): every one bit-exact in scores, spike
    counts and cycles, priced as counted, and the fronts do spike into the head, so the
    comparison means something."""
    failed, runs = [], []
    for seed in range(N_DESIGNS):
        config = export_conv(seed, tmp_path / f"d{seed}")
        summary = run_csim(tmp_path / f"d{seed}")
        runs.append((config, read_golden(tmp_path / f"d{seed}" / "tb" / "golden.txt").spikes))
        # the cost model at the mean events of the same images: within 1 % of the kernel's count
        priced = summary.cycles_estimate == pytest.approx(summary.cycles_kernel, rel=0.01)
        if not (summary.exact and summary.images == 3 and priced):
            failed.append((seed, config, summary.log[-2000:]))
    assert not failed, failed
    assert_fronts_fire(runs)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conv") / "p"
    export_conv(1, out)  # two blocks, time ensemble, sampled (`memory`) signs
    return out


def test_dse_csim_reports_a_changed_golden_value_of_a_conv_design(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """`dse csim` of a conv design: exit 0 when exact; one changed score and one changed spike
    count of the front in the golden file are reported as mismatches (exit 1)."""
    assert main(["csim", str(project)]) == 0
    assert "bit-exact" in capsys.readouterr().out
    corrupted = shutil.copytree(project, tmp_path / "corrupted")  # the build is reused
    path = corrupted / "tb" / "golden.txt"
    golden = read_golden(path)
    golden.scores[0, 1, 0] += 1
    golden.spikes[2, 0] += 1
    path.write_text(format_golden(golden))
    summary = run_csim(corrupted)
    assert (summary.score_mismatches, summary.spike_mismatches, summary.cycle_mismatches) == (
        1,
        1,
        0,
    )
    assert main(["csim", str(corrupted)]) != 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dse_export_and_csim_of_a_saved_conv_model(tmp_path: Path):
    """`dse export --model` takes a convolutional model's front into the design, and its HLS
    project C-simulates bit-exact."""
    pytest.importorskip("torch")
    args = save_conv_model(tmp_path / "m")
    assert main([*args, "--out", str(tmp_path / "h")]) == 0
    design = json.loads((tmp_path / "h" / "design.json").read_text())
    assert (design["config"]["conv"], design["config"]["input_shape"]) == ("4p", [1, 8, 8])
    assert main(["csim", str(tmp_path / "h")]) == 0
