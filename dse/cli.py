"""The `dse` command line: one Typer app, each command group registered by its own module."""

from __future__ import annotations

import importlib
import sys

import typer

from dse import __version__
from dse.errors import USER_ERRORS
from dse.terminal import console, flagged, printable

app = typer.Typer(
    name="dse",
    help="Design-space explorer for Bayesian binary spiking neural networks on Zynq-7000.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines `register(app)`; the order is the order of `dse --help`.
COMMAND_MODULES = (
    "dse.commands.model_commands",  # train, evaluate
    "dse.commands.estimate_command",  # estimate
    "dse.commands.study_commands",  # run, report, show
    "dse.commands.worker_command",  # worker
    "dse.commands.hardware_commands",  # export, csim, sim
    "dse.commands.interop_commands",  # import
    "dse.commands.synth_command",  # synth
    "dse.commands.measure_command",  # measure
    "dse.commands.calibrate_command",  # calibrate
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dse {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Show the version.",
        metavar="",
    ),
) -> None:
    """Find the best Bayesian binary SNNs for a Zynq-7000 part and export them to HLS."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one red line and exit code 2, never a traceback."""
    err = console(stderr=True)
    try:
        # Without standalone mode, a command's typer.Exit(code) comes back as the result.
        result = app(args=argv, standalone_mode=False)
    except USER_ERRORS as exc:
        err.print(flagged("error:", "red", exc))
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("interrupted; run the same command again to resume")
        return 130
    except typer.TyperException as exc:  # usage errors: one line, the flag and where to look
        ctx = getattr(exc, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        err.print(flagged("error:", "red", printable(exc.format_message() + hint)))
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
