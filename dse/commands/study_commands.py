"""`dse run`, `dse report`, `dse show`: run a study file, summarise it, inspect one trial."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dse.commands.options import (
    Jobs,
    NTrials,
    OldNJobs,
    Storage,
    Timeout,
    deprecated,
    switch,
)
from dse.interrupt import command_line, resumable
from dse.terminal import console, flagged

if TYPE_CHECKING:  # optuna, pydantic and torch load inside the commands, not for --help
    import optuna

    from dse.schema import StudyConfig

StudyFile = Annotated[Path, typer.Argument(help="The study YAML file.")]


def run(
    study_file: StudyFile,
    n_trials: NTrials = None,
    storage: Storage = None,
    jobs: Jobs = None,
    timeout: Timeout = None,
    old_n_jobs: OldNJobs = None,
) -> None:
    """Run (or resume) the study until it has its total number of finished trials."""
    if old_n_jobs is not None:
        deprecated("--n-jobs", "--jobs")
        jobs = jobs if jobs is not None else old_n_jobs
    flags = {"--n-trials": n_trials, "--storage": storage, "--jobs": jobs, "--timeout": timeout}
    with resumable(command_line("run", study_file, flags)):
        _run(study_file, n_trials, storage, jobs, timeout)


def _run(
    study_file: Path,
    n_trials: int | None,
    storage: str | None,
    jobs: int | None,
    timeout: float | None,
) -> None:
    from dse.schema import check_storage, check_writable, load_study_file

    cfg = load_study_file(study_file)  # every input checked before torch and optuna load
    check_writable(cfg)
    check_storage(
        storage or cfg.storage_url(),
        jobs if jobs is not None else cfg.n_jobs,
        "--jobs" if jobs is not None else "n_jobs",
    )
    from dse.preflight import check_resources

    check_resources(cfg)
    from dse.parallel import WorkersFailed
    from dse.progress import count_done
    from dse.redaction import redact_url
    from dse.runner import StudyFailing, run_study

    jobs = jobs if jobs is not None else cfg.n_jobs  # both bounded to 1..256
    url = storage or cfg.storage_url()
    start = time.perf_counter()
    try:
        if jobs > 1:
            study = _run_workers(study_file, cfg, jobs, n_trials, timeout, url)
        else:
            study = run_study(cfg, n_trials=n_trials, timeout=timeout, storage_url=url)
    except (StudyFailing, WorkersFailed) as exc:
        console(stderr=True).print(flagged("run failed:", "red", exc))
        raise typer.Exit(1) from None
    front = _print_front(study)
    typer.echo(
        f"study {cfg.name!r}: {count_done(study)} finished trials, "
        f"{front} on the Pareto front, this run {_duration(start)}; "
        f"storage {redact_url(url)}"
    )
    typer.echo(f"next: dse report {study_file}; dse show {study_file} --trial knee")


def _duration(start: float) -> str:
    """Wall time since `start` as "12 min 5 s" (long studies are read in minutes)."""
    minutes, seconds = divmod(round(time.perf_counter() - start), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _print_front(study: optuna.Study) -> int:
    """The front as tables that fit the terminal (split, never truncated), how its selection
    figures compare with the test split, and whether the selection split resolves its
    accuracy differences; returns the front's size."""
    from dse.holdout import gap_summary
    from dse.selection import front_trials
    from dse.summary import clock_note, conv_note, front_tables, selection_note

    out = console()
    front = front_trials(study)
    for table in front_tables(study, width=out.width):
        out.print(table)
    notes = (gap_summary(study), selection_note(study, front), clock_note(front), conv_note(front))
    for line in notes:
        if line is not None:
            typer.echo(line)
    return len(front)


def _run_workers(
    study_file: Path,
    cfg: StudyConfig,
    jobs: int,
    n_trials: int | None,
    timeout: float | None,
    url: str,
) -> optuna.Study:
    """Run `jobs` worker processes; this process draws the progress bar from the storage."""
    from dse.holdout import score_front
    from dse.objective import count_models, model_cache
    from dse.parallel import run_parallel
    from dse.progress import StudyProgress
    from dse.runner import open_study

    study = open_study(cfg, url)  # tables and study exist before the workers race for them
    bar = StudyProgress(
        study,
        n_trials or cfg.n_trials,
        n_models=count_models(cfg),
        workers=jobs,
        timeout=timeout if timeout is not None else cfg.timeout,
        cached_models=model_cache(cfg).count,
    )
    bar.phase(f"{jobs} workers")
    try:
        run_parallel(
            study_file,
            jobs,
            n_trials=n_trials,
            timeout=timeout,
            storage_url=url,
            on_tick=lambda: bar.refresh(study),
        )
        bar.refresh(study)
        # The workers scored the front each saw last; the final front may hold more.
        score_front(cfg, study, lambda done, n: bar.phase(f"test split: design {done}/{n}"))
    finally:
        bar.close()
    return study


def report(
    study_file: StudyFile,
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory for the files (default: output_dir).")
    ] = None,
    storage: Storage = None,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png",
            help="Also save the first Pareto plot as this PNG (drawn by headless Chromium), "
            "e.g. docs/pareto.png.",
        ),
    ] = None,
) -> None:
    """Write trials.csv, pareto.csv and report.html; print the Pareto front."""
    from dse.holdout import score_front
    from dse.report import write_png, write_report
    from dse.runner import open_study
    from dse.schema import load_study_file
    from hwmodel.calibration import load_calibration

    cfg = load_study_file(study_file)
    study = open_study(cfg, storage, create=False)
    scored = score_front(cfg, study)  # front designs a run did not score (interrupted, older)
    if scored:
        typer.echo(f"scored {len(scored)} front design(s) on the test split")
    calibration = load_calibration(cfg.evaluation.calibration)
    paths = write_report(study, out if out is not None else cfg.out_dir, calibration)
    _print_front(study)
    if png is not None:
        paths["png"] = write_png(study, png)
    for path in paths.values():
        typer.echo(f"wrote {path}")


def show(
    study_file: StudyFile,
    trial: Annotated[
        str, typer.Option("--trial", help="A trial number, best, knee or front:N (0 = best).")
    ],
    storage: Storage = None,
    as_json: Annotated[bool, switch("json", "Print one JSON object instead of tables.")] = False,
) -> None:
    """Every parameter and metric of one trial, grouped (objectives and constraints, knobs,
    hardware figures, the rest), its cycle counts side by side, and the command that exports
    it; --json: its params, objectives, constraints, user attributes and test figures, in
    stored units."""
    from dse.runner import open_study
    from dse.schema import load_study_file
    from dse.selection import select_trial
    from dse.summary import cycle_table, ties_line, trial_json, trial_table

    cfg = load_study_file(study_file)
    study = open_study(cfg, storage, create=False)
    frozen = select_trial(study, trial)
    number = frozen.number
    if as_json:
        typer.echo(json.dumps(trial_json(study, frozen), indent=2))
        return
    title = f"{cfg.name}: trial {number} ({frozen.state.name.lower()})"
    out = console()
    out.print(trial_table(study, frozen, title))
    out.print(cycle_table(study, frozen))
    line = ties_line(study, frozen)
    if line is not None:
        typer.echo(line)
    typer.echo(f"export: dse export {study_file} --trial {number} --out build/t{number}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `dse` app."""
    app.command()(run)
    app.command()(report)
    app.command()(show)
