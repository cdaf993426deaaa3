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


def _options() -> list[tuple[str, typer.core.TyperOption]]:
    """(command name, option) for every shown option of every command."""
    commands = typer.main.get_command(app).commands
    return [
        (name, p)
        for name, cmd in commands.items()
        for p in cmd.params
        if p.param_type_name == "option" and not p.hidden and p.name != "help"
    ]


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


def test_hardware_flag_defaults_are_the_templates() -> None:
    from hwmodel.template import AcceleratorConfig

    template = {
        f.name: f.default
        for f in dataclasses.fields(AcceleratorConfig)
        if f.name not in ("widths", "extra")
    }
    assert template == HW_DEFAULTS


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
