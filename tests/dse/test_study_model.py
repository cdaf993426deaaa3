"""A study of a saved model (`model:`): an imported network is searched over its evaluation
and hardware knobs only, nothing is trained, and the chosen design exports; a study that
asks to train as well, or names a model of another dataset, is refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

nir = pytest.importorskip("nir", reason="needs nir (the [test] extra)")

import dse  # noqa: E402
from dse.cli import main  # noqa: E402
from dse.metrics import trial_metrics  # noqa: E402
from dse.space import DETERMINISTIC_DESIGN  # noqa: E402


def imported(tmp: Path) -> Path:
    """A 64-12-10 binary IF network written as a NIR file and imported by `dse import`."""
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(input_type=np.array([64])),
        "fc0": nir.Affine(np.where(rng.random((12, 64)) < 0.5, 1.0, -1.0), np.zeros(12)),
        "lif0": nir.IF(r=np.ones(12), v_threshold=np.full(12, 3.0)),
        "fc1": nir.Affine(np.where(rng.random((10, 12)) < 0.5, 1.0, -1.0), np.zeros(10)),
        "output": nir.Output(output_type=np.array([10])),
    }
    names = list(nodes)
    nir.write(tmp / "m.nir", nir.NIRGraph(nodes, list(zip(names[:-1], names[1:], strict=True))))
    assert main(["import", str(tmp / "m.nir"), "--out", str(tmp / "m"), "--dataset", "digits"]) == 0
    return tmp / "m"


def study(tmp: Path, model_dir: Path, **extra) -> dict:
    return {  # a `model` in `extra` replaces model_dir
        "name": "imported",
        "model": str(model_dir),
        "output_dir": str(tmp / "out"),
        "dataset": {"name": "digits", "max_selection": 60, "max_test": 60},
        "evaluation": {"mode": "integer"},
        "search": {"timesteps": [4, 8], "pe": [2, 8], "membrane_bits": [10, 16]},
        "objectives": [
            {"metric": "accuracy", "direction": "maximize"},
            {"metric": "energy_pl_uj", "direction": "minimize"},
        ],
        "sampler": {"name": "random", "seed": 0},
        "n_trials": 4,
    } | extra


def test_a_study_of_an_imported_model_searches_hardware_only(tmp_path: Path) -> None:
    model = imported(tmp_path)
    result = dse.run(study(tmp_path, model), progress=False)
    trials = [t for t in result.trials if t.state.name == "COMPLETE"]
    assert len(trials) == 4
    assert set().union(*(t.params for t in trials)) <= {"timesteps", "pe", "membrane_bits"}
    for trial in trials:
        attrs = trial_metrics(trial)
        assert attrs["model_dir"] == str(model) and attrs["method"] == "imported"
        assert attrs["train_seconds"] < 1 and attrs["cache_hit"]
        assert attrs["train_config"] is None  # no BayesBiNN defaults posing as its training
        assert attrs["accelerator"]["widths"] == [64, 12, 10]
        for knob, value in DETERMINISTIC_DESIGN.items():  # no weight sampling hardware
            assert attrs["accelerator"][knob] == value
    assert not (tmp_path / "out" / "models").exists()  # nothing trained, nothing cached
    exported = dse.export(result, "knee", tmp_path / "knee.nir", backend="nir")
    assert exported.snn.widths == (64, 12, 10) and "deterministic" in exported.weights


def test_a_study_of_a_model_trains_nothing_else(tmp_path: Path, capsys) -> None:
    model = imported(tmp_path)
    capsys.readouterr()
    cases = [
        ({"search": {"width": [8, 16]}}, "search.width: a study of a saved model"),
        ({"search": {"method": "ste"}}, "search.method: a study of a saved model"),
        ({"training": {"epochs": 3}}, "training: a study of a saved model"),
        ({"dataset": {"name": "mnist"}}, "dataset.name: mnist is not the dataset"),
        ({"model": str(tmp_path)}, "model: "),
    ]
    for extra, words in cases:
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(study(tmp_path, model, **extra)))
        assert main(["run", str(path)]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, err
