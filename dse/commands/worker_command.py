"""`dse worker`: one more process (on this or another machine) working on a shared study."""

from __future__ import annotations

import os
import socket
import zlib
from pathlib import Path
from typing import Annotated

import typer

from dse.commands.options import NTrials, Storage, Timeout
from dse.interrupt import command_line, resumable
from dse.redaction import redact_url


def _default_index() -> int:
    """A worker index that differs between machines and processes, so seeds differ too."""
    return zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode()) % 100_000


def worker(
    study_file: Annotated[Path, typer.Argument(help="The study file (same on every machine).")],
    storage: Storage = None,
    n_trials: NTrials = None,
    timeout: Timeout = None,
    worker_index: Annotated[
        int | None,
        typer.Option("--worker-index", help="Seed offset of this worker (default: host and pid)."),
    ] = None,
) -> None:
    """Join the study on its storage and run trials until the study's total is reached."""
    flags = {"--storage": storage, "--n-trials": n_trials, "--timeout": timeout}
    flags["--worker-index"] = worker_index
    with resumable(command_line("worker", study_file, flags)):
        _work(study_file, storage, n_trials, timeout, worker_index)


def _work(
    study_file: Path,
    storage: str | None,
    n_trials: int | None,
    timeout: float | None,
    worker_index: int | None,
) -> None:
    from dse.schema import check_writable, load_study_file

    cfg = load_study_file(study_file)  # every input checked before torch and optuna load
    check_writable(cfg)
    from dse.preflight import check_resources

    check_resources(cfg)
    from dse.runner import StudyFailing, run_study
    from dse.storage import count_trials

    url = storage or cfg.storage_url()
    index = _default_index() if worker_index is None else worker_index
    typer.echo(f"worker {index}: study {cfg.name!r} on {redact_url(url)}")
    try:
        study = run_study(
            cfg, n_trials=n_trials, timeout=timeout, storage_url=url, progress=False, worker=index
        )
    except StudyFailing as exc:
        typer.echo(f"worker {index}: run failed: {exc}", err=True)
        raise typer.Exit(1) from None
    states = ", ".join(f"{n} {state}" for state, n in sorted(count_trials(study).items()))
    typer.echo(f"worker {index}: done; trials of study {cfg.name!r}: {states}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""
    app.command()(worker)
