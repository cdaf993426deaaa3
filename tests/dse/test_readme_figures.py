"""README's quickstart figures are written from the stored run (docs/readme_quickstart.py):
run on a tiny study with every training method, the block holds that run's trial counts,
knee and per-method figures, and --check tells a stale block from a current one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

import dse
from dse.metrics import trial_metrics

ROOT = Path(__file__).resolve().parents[2]
TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"


def _script():
    spec = importlib.util.spec_from_file_location(
        "readme_quickstart", ROOT / "docs" / "readme_quickstart.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("readme")
    raw = yaml.safe_load(TINY.read_text())
    raw.update(
        output_dir=str(out / "run"),
        n_trials=3,
        sampler={"name": "grid"},
        evaluation={"mode": "integer"},
        search={
            "method": ["bayesbinn", "ste", "mode"],
            "width": 8,
            "timesteps": 4,
            "samples": 2,
            "pe": 4,
            "clock_mhz": 100,
        },
        objectives=[
            {"metric": "accuracy", "direction": "maximize"},
            {"metric": "energy_pl_uj", "direction": "minimize"},
        ],
    )
    path = out / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    dse.run(str(path), progress=False)
    return path


def test_the_block_is_written_from_the_run_and_checked(study_file: Path, tmp_path: Path):
    script = _script()
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{script.START}\nold figures\n{script.END}\nrest\n")
    args = ["--study", str(study_file), "--readme", str(readme)]
    assert script.main([*args, "--check"]) == 1  # the typed figures are not the run's
    assert script.main(args) == 0
    text = readme.read_text()
    assert text.startswith(f"intro\n{script.START}\n") and text.endswith(f"{script.END}\nrest\n")
    assert "old figures" not in text
    assert script.main([*args, "--check"]) == 0

    study = dse.load(str(study_file))
    table = dse.trials(study)
    assert f"{len(table)} trials" in text
    front = dse.trials(study, front=True)
    assert f"a front of {len(front)} designs" in text
    knee = script.figures(str(study_file))["knee"]
    assert f"trial {knee.number}: " in text
    assert f"{100 * trial_metrics(knee)['accuracy']:.2f} % on the selection images" in text
    for method in ("BayesBiNN", "posterior mode", "STE"):
        assert f"{method} " in text.split("most accurate feasible design of each method")[1]


def test_a_readme_without_the_markers_is_refused(study_file: Path, tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="quickstart-figures"):
        _script().main(["--study", str(study_file), "--readme", str(readme)])
