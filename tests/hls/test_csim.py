"""C-simulation of exported kernels with g++ against the integer model, bit for bit."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conv_designs import export_conv

from dse.cli import app, main
from hls.export import export_project
from hls.tools.design_spread import random_design
from hls.vitis.csim import CsimError, run_csim
from hwmodel.template import AcceleratorConfig
from models.snn_spec import ConvertedSNN

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")

N_DESIGNS = 24


def export_random(
    seed: int, out: Path, n_images: int = 6, design: tuple | None = None
) -> tuple[ConvertedSNN, AcceleratorConfig]:
    snn, config = random_design(seed) if design is None else design
    rng = np.random.default_rng(seed + 1000)
    images = rng.uniform(0, 1, (n_images, config.widths[0]))
    labels = rng.integers(0, config.widths[-1], n_images)
    export_project(snn, config, images, labels, out, design_name=f"random{seed}")
    return snn, config


def test_random_designs_cover_every_mode():
    configs = [random_design(seed)[1] for seed in range(N_DESIGNS)]
    assert {c.ensemble for c in configs} == {"repeat", "time"}
    assert {c.sampling for c in configs} == {"memory", "regenerate"}
    assert any(c.sample_lanes > 1 and c.ensemble == "repeat" and c.samples > 1 for c in configs)
    assert any(c.reuse > 1 for c in configs)
    assert {len(c.widths) for c in configs} == {2, 3, 4}
    assert {(c.ensemble, c.sampling, c.sample_lanes) for c in configs} == {
        (e, s, n) for e in ("repeat", "time") for s in ("memory", "regenerate") for n in (1, 2, 3)
    }
    assert {c.membrane_bits for c in configs} >= {4, 32}
    assert any(c.neurons_per_cycle > max(c.widths[1:]) for c in configs)
    assert any(c.widths[1] % c.neurons_per_cycle for c in configs)


@pytest.mark.parametrize("seed", range(N_DESIGNS))
def test_csim_matches_integer_model_bit_for_bit(seed: int, tmp_path: Path):
    snn, config = export_random(seed, tmp_path)
    summary = run_csim(tmp_path)
    assert summary.images == 6
    # Scores and spike counts bit for bit; the kernel's own count of its loop passes equals
    # the plan's schedule at the integer model's events...
    assert summary.exact, summary.log
    assert summary.accuracy == summary.golden_accuracy
    # ...and the cost model, given the mean events of the same images, is within 1 %.
    assert summary.estimate_source == "hwmodel.estimate.estimate"
    assert summary.cycles_estimate == pytest.approx(summary.cycles_kernel, rel=0.01)
    # The ap_int types at the plan's widths are what was compiled.
    header = (tmp_path / "src" / "snn_types.h").read_text()
    assert f"typedef ap_int<{config.membrane_bits}> membrane_t;" in header
    assert f"typedef ap_uint<{config.k_bits}> code_t;" in header


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("project")
    export_random(3, out)
    return out


def test_csim_reports_a_corrupted_golden_value(project: Path, tmp_path: Path):
    corrupted = tmp_path / "corrupted"
    shutil.copytree(project, corrupted)
    golden_file = corrupted / "tb" / "golden.txt"
    lines = golden_file.read_text().splitlines()
    header = [int(v) for v in lines[0].split()]
    values = lines[2].split()
    position = 1 + header[1]  # first score of the second image
    values[position] = str(int(values[position]) + 1)
    lines[2] = " ".join(values)
    golden_file.write_text("\n".join(lines) + "\n")
    summary = run_csim(corrupted)
    assert (summary.score_mismatches, summary.spike_mismatches, summary.cycle_mismatches) == (
        1,
        0,
        0,
    )
    assert not summary.exact
    # The command's exit status (typer's own runner: dse.cli.main drops it, see the report).
    assert app(args=["csim", str(corrupted)], standalone_mode=False) == 1
    assert main(["csim", str(project)]) == 0
    golden_file.write_text(lines[0] + "\n" + lines[1] + "\n")  # an image short
    assert main(["csim", str(corrupted)]) == 2
    (corrupted / "design.json").write_text("{}")
    assert main(["csim", str(corrupted)]) == 2


def test_csim_needs_a_project_and_a_compiler(project: Path, tmp_path: Path, monkeypatch):
    assert main(["csim", str(tmp_path)]) == 2
    monkeypatch.setenv("CXX", "no-such-compiler-dse")
    assert main(["csim", str(project)]) == 2


def _rewrite_older(path: Path, text: str) -> None:
    """Give `path` new content and a timestamp an hour older than before (a restored backup,
    a copy that kept its times): make alone would keep the binary built from the old one."""
    before = path.stat()
    path.write_text(text)
    os.utime(path, (before.st_atime - 3600, before.st_mtime - 3600))


def test_csim_rebuilds_a_header_changed_with_an_older_timestamp(project: Path, tmp_path: Path):
    copy = shutil.copytree(project, tmp_path / "copy")
    assert run_csim(copy).exact  # built (or already built): the stale binary to avoid
    header = copy / "src" / "snn_params.h"
    original = header.read_text()
    _rewrite_older(header, original + '\n#error "this header changed"\n')
    with pytest.raises(CsimError, match="this header changed"):
        run_csim(copy)  # rebuilt from the changed header, never "bit-exact" from the old one
    _rewrite_older(header, original)
    summary = run_csim(copy)
    assert summary.exact and "snn_kernel.o" in summary.log  # compiled again, then unchanged
    assert "snn_kernel.o" not in run_csim(copy).log  # same sources: make's own reuse


def test_csim_refuses_a_deleted_header(project: Path, tmp_path: Path, capsys):
    copy = shutil.copytree(project, tmp_path / "copy")
    assert run_csim(copy).exact
    (copy / "src" / "snn_types.h").unlink()
    assert main(["csim", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "snn_types.h" in err and "dse export" in err


def _last_value(text: str, value: str) -> str:
    """The golden file with its last value (the last image's cycle count) replaced."""
    return text.rstrip().rsplit(maxsplit=1)[0] + f" {value}\n"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda text: _last_value(text, "99999999999999999999"), "64-bit"),
        (lambda text: _last_value(text, "-9223372036854775809"), "64-bit"),
        (lambda text: text.encode() + b"caf\xe9\n", "not ASCII"),
        (lambda text: text.replace(" ", " \u0661\u0662 ", 1).encode(), "not ASCII"),  # digits
        (lambda text: text.replace(text.split()[0], "-1", 1), "well-formed"),
    ],
    ids=["over-int64", "under-int64", "latin-1", "arabic-digits", "negative-count"],
)
def test_csim_refuses_an_unreadable_golden_file(project, tmp_path, change, fragment, capsys):
    copy = shutil.copytree(project, tmp_path / "copy")
    golden = copy / "tb" / "golden.txt"
    changed = change(golden.read_text())
    golden.write_bytes(changed if isinstance(changed, bytes) else changed.encode())
    assert main(["csim", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "golden.txt" in err and fragment in err and "dse export" in err


def _function_bodies(source: str) -> dict[str, str]:
    """Name -> body of every function defined at any level of the kernel source."""
    bodies = {}
    pattern = re.compile(r"\b(\w+)\s*\([^;{}]*\)\s*\{")
    for match in pattern.finditer(source):
        name = match.group(1)
        if name in {"if", "for", "while", "switch"}:
            continue
        depth, pos = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(source[pos], 0)
            pos += 1
        bodies[name] = source[match.end() : pos - 1]
    return bodies


@pytest.fixture(scope="module")
def conv_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conv") / "p"
    export_conv(1, out)  # two blocks, drawing its weights (tests/hls/test_csim_conv.py)
    return out


@pytest.mark.parametrize("which", ["dense", "conv"])
def test_kernel_is_synthesizable_c(which: str, request: pytest.FixtureRequest):
    project = request.getfixturevalue("project" if which == "dense" else "conv_project")
    sources = [project / "src" / name for name in ("snn_kernel.cpp", "snn_datapath.h")]
    kernel = "\n".join(path.read_text() for path in sources)
    code = re.sub(r"//[^\n]*", "", kernel)
    for banned in ("new ", "malloc", "free(", "std::", "vector", "while", "goto"):
        assert banned not in code, banned
    bounds = re.findall(r"for \(\w+ \w+ = 0; \w+ < ([^;]+);", code)
    assert len(bounds) >= 10
    for bound in bounds:  # constants from the headers, or the image count with its pragma
        assert re.fullmatch(r"[A-Z_0-9]+|\d+|WORD::width|total|store|count", bound), bound
    assert "LOOP_TRIPCOUNT" in code
    bodies = _function_bodies(code)
    first = {"dense": {"fire_0", "first_current"}, "conv": {"fill_0", "conv_0", "conv_1"}}
    assert {"run_image", "snn_top", "prng_word", *first[which]} <= set(bodies)
    for name, body in bodies.items():
        assert not re.search(rf"\b{name}\s*[<(]", body), f"{name} is recursive"


def test_export_from_a_real_tiny_study(tmp_path: Path):
    """Train, search and score a two-trial study, export its best trial, simulate it."""
    study_file = tmp_path / "tiny.yaml"
    study = {
        "name": "csimtiny",
        "output_dir": str(tmp_path / "run"),
        "dataset": {"name": "digits", "max_train": 200, "max_test": 40},
        "training": {"epochs": 2, "batch_size": 64, "bn_samples": 1, "calib_samples": 2},
        "evaluation": {"mode": "integer"},
        "search": {
            "width": 12,
            "timesteps": 3,
            "samples": 2,
            "ensemble": "time",
            "pe": [4, 8],
            "k_bits": 5,
            "membrane_bits": 12,
            "reuse": 4,
            "sample_lanes": 2,
        },
        "objectives": [{"metric": "accuracy", "direction": "maximize"}],
        "sampler": {"name": "random", "seed": 0},
        "n_trials": 2,
    }
    study_file.write_text(yaml.safe_dump(study))
    assert main(["run", str(study_file)]) == 0
    out = tmp_path / "project"
    assert (
        main(["export", str(study_file), "--trial", "1", "--out", str(out), "--images", "40"]) == 0
    )
    summary = run_csim(out)
    assert summary.exact and summary.images == 40
    design = yaml.safe_load((out / "design.json").read_text())  # JSON is YAML
    assert design["study"]["trial"] == 1 and design["study"]["study_name"] == "csimtiny"
    assert design["config"]["reuse"] == 4 and design["config"]["k_bits"] == 5
    # The front design was scored once on the test split by the same integer datapath, on
    # the same 40 test images (one run per image in the time ensemble, so the top class does
    # not depend on calibration); the search itself only saw the selection split.
    import dse
    from dse.holdout import held_out_scores

    tested = held_out_scores(dse.load(study_file))
    assert summary.accuracy == pytest.approx(tested[1]["test_accuracy"])
    assert "test_accuracy" not in design["metrics"]
