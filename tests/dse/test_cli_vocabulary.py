"""One CLI vocabulary: help on every option, switches for booleans, shared flags identical in
every command, and imports light enough for `dse --help` (issue 12 item 9, issue 9 item 7)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import typer

from dse.cli import app
from dse.commands.options import HW_DEFAULTS


def _all_options() -> list[tuple[str, typer.core.TyperOption]]:
    """(command name, option) for every option of every command, hidden ones included."""
    commands = typer.main.get_command(app).commands
    return [
        (name, p)
        for name, cmd in commands.items()
        for p in cmd.params
        if p.param_type_name == "option"
    ]


def _options() -> list[tuple[str, typer.core.TyperOption]]:
    """(command name, option) for every shown option of every command."""
    return [(c, p) for c, p in _all_options() if not p.hidden and p.name != "help"]


def test_every_option_has_help_and_booleans_are_switches() -> None:
    options = _options()
    assert len(options) > 60
    for command, option in options:
        assert option.help, f"dse {command} {option.opts[0]} has no help"
        if option.is_flag:
            assert option.secondary_opts, f"dse {command} {option.opts[0]} is not --x/--no-x"
            assert option.metavar == "", f"dse {command} {option.opts[0]} shows <bool>"


def test_a_flag_means_the_same_in_every_command() -> None:
    seen: dict[str, tuple] = {}
    for command, option in _options():
        name = option.opts[0]
        described = (option.help, option.min, option.max, option.bare_type())
        # --out is each command's own product; --force overrides each command's own refusal;
        # --timeout bounds each command's own work (trials started, a Yosys run); --jobs is
        # how much of it runs at once (compiler jobs of dse sim, designs of dse calibrate)
        own = ("--out", "--trial", "--seed", "--force", "--timeout", "--jobs")
        if name in seen and name not in own:
            assert seen[name][1:] == described, f"{name} differs in dse {command}"
        seen.setdefault(name, (command, *described))
    assert "--dataset-root" not in seen and "--threshold-scale" not in seen
    assert {"--data-root", "--threshold-scales", "--layers", "--widths"} <= set(seen)
    # --widths is the hidden-layer list wherever it is shown
    assert all(o.opts[0] != "--widths" or "idden" in (o.help or "") for _, o in _options())


def test_hardware_flag_defaults_are_the_study_files() -> None:
    from dse.schema import EvaluationConfig
    from dse.space import KNOBS
    from hwmodel.template import AcceleratorConfig

    # The network's shape (widths, a convolutional front over an input shape) is no knob.
    network = {"widths", "input_shape", "conv", "extra"}
    knobs = {f.name for f in dataclasses.fields(AcceleratorConfig)} - network
    assert set(HW_DEFAULTS) == knobs
    expected = {name: KNOBS[name].default for name in knobs - {"seed"}}
    expected["seed"] = EvaluationConfig().seed  # a study's hardware PRNG seed
    assert expected == HW_DEFAULTS


#: Concepts several commands take: the parameter names a command may give one, and the one
#: flag that spells it everywhere.
CONCEPTS = {
    "jobs": ({"jobs", "n_jobs", "workers", "processes"}, "--jobs"),
    "data root": ({"data_root", "dataset_root", "root"}, "--data-root"),
    "seed": ({"seed", "random_seed"}, "--seed"),
    "trials": ({"n_trials", "trials"}, "--n-trials"),
    "storage": ({"storage", "storage_url", "url"}, "--storage"),
    "samples": ({"samples", "n_samples"}, "--samples"),
    "timesteps": ({"timesteps", "steps"}, "--timesteps"),
}


def test_one_concept_one_flag_and_one_default() -> None:
    """For every command: a concept is spelled by one flag, a design knob's flag defaults to
    the study file's default, and every seed defaults to the study's (0)."""
    from dse.schema import DatasetConfig, EvaluationConfig, SamplerConfig
    from dse.space import KNOBS
    from models.train_config import TrainConfig

    study_seeds = {
        EvaluationConfig().seed,
        DatasetConfig().seed,
        SamplerConfig().seed,
        TrainConfig().seed,
    }
    assert study_seeds == {0}
    knob_flags = {f"--{name.replace('_', '-')}": rule.default for name, rule in KNOBS.items()}
    checked = set()
    for command, option in _options():
        flag = option.opts[0]
        for concept, (names, spelling) in CONCEPTS.items():
            if option.name in names:
                assert flag == spelling, f"dse {command}: {concept} is {flag}, not {spelling}"
        if flag in knob_flags:
            assert option.default == knob_flags[flag], f"dse {command} {flag}: default"
            checked.add(flag)
        if flag == "--seed":
            assert option.default == 0, f"dse {command} --seed defaults to {option.default}"
            checked.add(flag)
        if flag == "--jobs" and command == "run":
            assert option.default is None and "n_jobs" in option.help  # the study file's
    assert {"--samples", "--timesteps", "--pe", "--seed", "--k-bits"} <= checked
    seeds = {c for c, o in _options() if o.opts[0] == "--seed"}
    assert {"train", "evaluate", "export", "calibrate"} <= seeds
    jobs = {c for c, o in _options() if o.opts[0] == "--jobs"}
    assert {"run", "sim", "calibrate"} <= jobs


def test_run_takes_jobs_and_the_old_n_jobs_with_a_warning(tmp_path, capsys) -> None:
    from dse.cli import main

    missing = str(tmp_path / "nope.yaml")
    assert main(["run", missing, "--n-jobs", "2"]) == 2  # parsed; the file is what fails
    err = capsys.readouterr().err
    assert "--n-jobs is deprecated; use --jobs" in err and "no such study file" in err
    assert main(["run", missing, "--jobs", "2"]) == 2
    assert "deprecated" not in capsys.readouterr().err
    hidden = [o for c, o in _all_options() if c == "run" and o.opts[0] == "--n-jobs"]
    assert len(hidden) == 1 and hidden[0].hidden


def test_missing_mnist_names_what_each_command_takes(tmp_path, capsys) -> None:
    """`dse run` reads the dataset folder from the study file, never from --data-root."""
    import yaml

    from dse.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    study = tmp_path / "mnist.yaml"
    raw = {
        "name": "no_mnist",
        "output_dir": str(tmp_path / "out"),
        "dataset": {"name": "mnist", "root": str(empty)},
        "objectives": [{"metric": "accuracy", "direction": "maximize"}],
    }
    study.write_text(yaml.safe_dump(raw))
    assert main(["run", str(study)]) == 2
    err = capsys.readouterr().err
    assert "set dataset.root in the study file" in err and "--data-root" not in err
    argv = ["train", "--dataset", "mnist", "--data-root", str(empty), "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "pass --data-root DIR" in capsys.readouterr().err


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


@pytest.mark.parametrize(
    ("statement", "absent"),
    [
        ("import hwmodel.template", {"pandas", "scipy", "torch", "optuna"}),
        ("import dse.cli", {"pandas", "scipy", "torch", "optuna", "numpy", "sqlalchemy"}),
        ("import hls.export", {"torch"}),
        ("from dse.schema import load_study_file", {"torch", "optuna", "pandas"}),
    ],
)
def test_light_imports(statement: str, absent: set[str]) -> None:
    assert not (_modules_after(statement) & absent)


def test_deprecated_spellings_still_work_with_a_warning(capsys) -> None:
    from dse.cli import main

    argv = ["estimate", "--widths", "64,16,4", "--pe", "4", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "deprecated; use --layers" in captured.err
    assert '"lut"' in captured.out
