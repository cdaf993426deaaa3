"""`dse run`, `dse report`, `dse show`: run a study file, summarise it, inspect one trial."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dse.commands.options import NTrials, Storage, Timeout
from dse.errors import StudyInputError
from dse.terminal import console, flagged

if TYPE_CHECKING:  # optuna, pydantic and torch load inside the commands, not for --help
    import optuna

    from dse.schema import StudyConfig

StudyFile = Annotated[Path, typer.Argument(help="The study YAML file.")]


def run(
    study_file: StudyFile,
    n_trials: NTrials = None,
    storage: Storage = None,
    n_jobs: Annotated[
        int | None,
        typer.Option("--n-jobs", help="Worker processes on this machine.", min=1, max=256),
    ] = None,
    timeout: Timeout = None,
) -> None:
    """Run (or resume) the study until it has its total number of finished trials."""
    from dse.schema import check_writable, load_study_file

    cfg = load_study_file(study_file)  # every input checked before torch and optuna load
    check_writable(cfg)
    from dse.preflight import check_resources

    check_resources(cfg)
    from dse.progress import count_done
    from dse.redaction import redact_url
    from dse.runner import StudyFailing, run_study

    jobs = n_jobs if n_jobs is not None else cfg.n_jobs  # both bounded to 1..256
    url = storage or cfg.storage_url()
    try:
        if jobs > 1:
            study = _run_workers(study_file, cfg, jobs, n_trials, timeout, url)
        else:
            study = run_study(cfg, n_trials=n_trials, timeout=timeout, storage_url=url)
    except (StudyFailing, WorkersFailed) as exc:
        console(stderr=True).print(flagged("run failed:", "red", exc))
        raise typer.Exit(1) from None
    typer.echo(
        f"study {cfg.name!r}: {count_done(study)} finished trials, "
        f"{len(study.best_trials)} on the Pareto front; storage {redact_url(url)}"
    )
    typer.echo(f"next: dse report {study_file}")


class WorkersFailed(RuntimeError):
    """A worker process of `--n-jobs` exited with an error."""


def _run_workers(
    study_file: Path,
    cfg: StudyConfig,
    jobs: int,
    n_trials: int | None,
    timeout: float | None,
    url: str,
) -> optuna.Study:
    """Run `jobs` worker processes; this process draws the progress bar from the storage."""
    from dse.parallel import run_parallel
    from dse.progress import StudyProgress
    from dse.runner import open_study

    study = open_study(cfg, url)  # tables and study exist before the workers race for them
    failures: list[Exception] = []

    def work() -> None:
        try:
            run_parallel(study_file, jobs, n_trials=n_trials, timeout=timeout, storage_url=url)
        except RuntimeError as exc:  # run_parallel's report of failed workers
            failures.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    bar = StudyProgress(study, n_trials or cfg.n_trials)
    while thread.is_alive():
        thread.join(2.0)
        bar.refresh(study)
    bar.close()
    if failures:
        raise WorkersFailed(str(failures[0]))
    return study


def report(
    study_file: StudyFile,
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory for the files (default: output_dir).")
    ] = None,
    storage: Storage = None,
) -> None:
    """Write trials.csv, pareto.csv and report.html; print the Pareto front."""
    from dse.report import pareto_table, write_report
    from dse.runner import open_study
    from dse.schema import load_study_file

    cfg = load_study_file(study_file)
    study = open_study(cfg, storage, create=False)
    paths = write_report(study, out if out is not None else cfg.out_dir)
    screen = console()
    screen.print(pareto_table(study, width=screen.width))
    for path in paths.values():
        typer.echo(f"wrote {path}")


def show(
    study_file: StudyFile,
    trial: Annotated[int, typer.Option("--trial", help="Trial number.")],
    storage: Storage = None,
) -> None:
    """Every parameter and metric of one trial, and the command that exports it."""
    from dse.runner import open_study
    from dse.schema import load_study_file

    cfg = load_study_file(study_file)
    study = open_study(cfg, storage, create=False)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if trial not in trials:
        last = max(trials) if trials else None
        raise StudyInputError(
            f"--trial: {trial} is not in study {cfg.name!r}; use a number from 0 to {last}"
        )
    frozen = trials[trial]
    table = Table(title=f"{cfg.name}: trial {trial} ({frozen.state.name.lower()})")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("value", overflow="fold")
    names = study.metric_names or [f"values_{i}" for i in range(len(study.directions))]
    for name, value in zip(names, frozen.values or [], strict=False):
        table.add_row("objective", name, f"{value:.6g}")
    for name, value in frozen.params.items():
        table.add_row("parameter", name, str(value))
    for name, value in frozen.constraints.items():
        table.add_row("constraint", name, f"{value:.6g} ({'ok' if value <= 0 else 'violated'})")
    for name, value in sorted(frozen.user_attrs.items()):
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        table.add_row("metric", name, text)
    console().print(table)
    typer.echo(f"export: dse export {study_file} --trial {trial} --out build/t{trial}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""
    app.command()(run)
    app.command()(report)
    app.command()(show)
