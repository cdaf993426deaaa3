"""The Python API for notebooks and scripts: the CLI's run, load, table and export as functions
that return the objects users already know (an `optuna.Study`, a `pandas.DataFrame`).

A study is named by its study file's path or by the same content as a dict; the functions that
take a study also take the `optuna.Study` that `run` or `load` returned (they remember which
study file it came from).
"""

from __future__ import annotations

import math
import numbers
import os
import re
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dse.errors import StudyInputError
from dse.schema import StudyConfig, load_study_file, parse_study
from dse.space import short_repr

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from hls.export import ExportResult
    from hwmodel.template import AcceleratorConfig
    from models.imported import ImportedModel
    from models.nir_export import NirExport

#: The study file or mapping behind each Study that `run` and `load` returned.
_SOURCES: weakref.WeakKeyDictionary[Any, tuple[StudyConfig, Path | None]] = (
    weakref.WeakKeyDictionary()
)


def _config(
    study: str | os.PathLike[str] | Mapping[str, Any], or_study: bool = False
) -> tuple[StudyConfig, Path | None]:
    """The validated study and its file; `or_study`: an optuna.Study was allowed too."""
    if isinstance(study, Mapping):
        return parse_study(dict(study), "study"), None
    if not isinstance(study, str | os.PathLike) or isinstance(os.fspath(study), bytes):
        also = ", or the optuna.Study that dse.run or dse.load returned" if or_study else ""
        raise StudyInputError(
            f"study: {_shown(study)} is not a study; pass a study file's path (str or Path) "
            f"or a dict of its content{also}"
        )
    return load_study_file(study), Path(study)


def _shown(value: Any) -> str:
    """A bad argument for an error line: its bounded repr and its type."""
    return f"{short_repr(value)} ({type(value).__name__})"


def _check_number(name: str, value: Any, kind: type, low: float, high: float, unset: str) -> None:
    """`value` is None or a finite `kind` (int, or float taking ints; never a bool) in
    [low, high], low excluded for a float; else one StudyInputError naming the argument."""
    number = isinstance(value, numbers.Real if kind is float else numbers.Integral)
    ok = number and not isinstance(value, bool) and math.isfinite(value) and value <= high
    ok = ok and (value > low if kind is float else value >= low)
    if value is not None and not ok:
        what = (
            f"a finite number of seconds > 0 and <= {high:.0f}"
            if kind is float
            else f"an integer from {low:.0f} to {high:.0f}"
        )
        raise StudyInputError(
            f"{name}: {_shown(value)} is not allowed; use {what}, or None for {unset}"
        )


def _check_storage(storage: Any) -> None:
    """A storage that is not a string is named by its type only: it may hold a password."""
    if storage is not None and not isinstance(storage, str):
        raise StudyInputError(
            f"storage: a value of type {type(storage).__name__} is not allowed; use a URL "
            "string such as postgresql://user@host/db, or None for the study's storage"
        )


def _opened(study: Any, storage: str | None) -> tuple[StudyConfig, Path | None, optuna.Study]:
    """(config, study file or None, optuna study) of any way of naming a study."""
    import optuna

    from dse.runner import open_study

    if isinstance(study, optuna.Study):
        if study not in _SOURCES:
            raise StudyInputError(
                "study: this optuna.Study did not come from dse.run or dse.load; "
                "pass its study file (or dict) instead"
            )
        cfg, path = _SOURCES[study]
        return cfg, path, study
    _check_storage(storage)
    cfg, path = _config(study, or_study=True)
    return cfg, path, open_study(cfg, storage, create=False)


def run(
    study: str | os.PathLike[str] | Mapping[str, Any],
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
) -> optuna.Study:
    """Run (or resume) a study until it holds its total of finished trials, like `dse run`.

    `n_jobs` > 1 runs worker processes; a dict study is then written to
    ``<output_dir>/study.yaml`` for them to read.
    """
    # The arguments first: a wrong one is refused before torch and optuna load.
    _check_number("n_trials", n_trials, int, 1, 1_000_000, "the study's n_trials")
    _check_number("timeout", timeout, float, 0, 1e7, "the study's timeout")
    _check_number("n_jobs", n_jobs, int, 1, 256, "the study's n_jobs")
    _check_storage(storage)
    if not isinstance(progress, bool):
        raise StudyInputError(f"progress: {_shown(progress)} is not allowed; use True or False")
    from dse.holdout import score_front
    from dse.parallel import run_parallel
    from dse.preflight import check_resources
    from dse.runner import open_study, run_study
    from dse.schema import check_writable

    cfg, path = _config(study)
    check_writable(cfg)
    check_resources(cfg)
    jobs = n_jobs if n_jobs is not None else cfg.n_jobs
    url = storage or cfg.storage_url()
    if jobs > 1:
        if path is None:
            path = cfg.out_dir / "study.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(dict(study)))
        open_study(cfg, url)
        run_parallel(path, jobs, n_trials=n_trials, timeout=timeout, storage_url=url)
        opened = open_study(cfg, url, create=False)
        score_front(cfg, opened)  # the workers scored the fronts they saw last
    else:
        opened = run_study(
            cfg, n_trials=n_trials, timeout=timeout, storage_url=url, progress=progress
        )
    _SOURCES[opened] = (cfg, path)
    return opened


def load(
    study: str | os.PathLike[str] | Mapping[str, Any], *, storage: str | None = None
) -> optuna.Study:
    """The stored `optuna.Study` of a study file (or dict), without running anything."""
    cfg, path, opened = _opened(study, storage)
    _SOURCES[opened] = (cfg, path)
    return opened


def trials(study: Any, *, front: bool = False, storage: str | None = None) -> pd.DataFrame:
    """One row per trial (or per Pareto-front design): parameters, metrics, constraints, state.

    The columns are those of ``trials.csv``; per-layer lists are JSON text.
    """
    from dse.report import pareto_frame, trials_frame

    _, _, opened = _opened(study, storage)
    return pareto_frame(opened) if front else trials_frame(opened)


def trial_export_inputs(
    cfg: StudyConfig, study: optuna.Study, spec: str | int, source: Path | None
) -> tuple[Path, AcceleratorConfig, dict[str, Any]]:
    """Model directory, hardware design and `export_design` keywords of a finished trial."""
    from optuna.trial import TrialState

    from dse.metrics import trial_metrics
    from dse.objective import load_splits, trial_configuration
    from dse.selection import select_trial

    trial = select_trial(study, spec)
    number = trial.number
    if trial.state != TrialState.COMPLETE:
        raise StudyInputError(
            f"--trial: {number} is a {trial.state.name.lower()} trial of study "
            f"{cfg.name!r}, not a completed one; try --trial knee (see `dse report`)"
        )
    _, eval_cfg, accel, model_dir = trial_configuration(cfg, trial)
    if not Path(model_dir).is_dir():
        raise StudyInputError(
            f"--trial: the model of trial {number} is not in the cache ({model_dir}); "
            "re-run the study (`dse run`) on this machine to rebuild it"
        )
    study_ref = None  # measure finds the study again from here; a dict study has no file
    if source is not None:
        study_ref = {"study_file": str(source.resolve()), "study_name": cfg.name, "trial": number}
        # The trial's start tells it from trial `number` of a re-created study of that name.
        study_ref["trial_started"] = trial_started(trial)
    kwargs = {
        "threshold_scales": eval_cfg.threshold_scales,
        "weights": eval_cfg.weights,
        "splits": load_splits(cfg.dataset),
        "metrics": trial_metrics(trial),
        "source": {"study_file": None if source is None else str(source), "trial": number},
        "study": study_ref,
        "design_name": re.sub(r"[^A-Za-z0-9_]", "_", f"{cfg.name}_trial{number}")[:64],
    }
    return Path(model_dir), accel, kwargs


def trial_started(trial: optuna.trial.FrozenTrial) -> str | None:
    """When the trial started (ISO 8601), or None."""
    return None if trial.datetime_start is None else trial.datetime_start.isoformat()


def export(
    study: Any,
    trial: str | int = "knee",
    out: str | os.PathLike[str] = "build/knee",
    *,
    images: int = 16,
    force: bool = False,
    storage: str | None = None,
    backend: str = "hls",
    weight_sample: str | int = 0,
) -> ExportResult | NirExport:
    """Write the Vitis HLS project of one trial (a number, best, knee or front:N), like
    `dse export`; returns where it went and the golden-vector summary.  `backend` "rtl" writes
    the Verilog project, "nir" the NIR file `out` (`weight_sample`: which weights of a
    Bayesian design, a sample index or "mode"; NIR has no weight sampling)."""
    from hls.export import export_design

    if backend not in ("hls", "rtl", "nir"):
        raise StudyInputError(f"backend: {backend!r} is not a backend; use hls, rtl or nir")
    target = Path(out)
    if backend != "nir" and target.is_dir() and any(target.iterdir()) and not force:
        raise StudyInputError(
            f"out: {target} is not empty; choose an empty directory or pass force=True"
        )
    cfg, path, opened = _opened(study, storage)
    model_dir, accel, kwargs = trial_export_inputs(cfg, opened, trial, path)
    if backend == "nir":
        from models.nir_export import export_nir

        return export_nir(
            model_dir,
            accel,
            target,
            threshold_scales=kwargs["threshold_scales"],
            weights=kwargs["weights"],
            weight_sample=weight_sample,
            force=force,
            source={"trial": kwargs["source"]["trial"], "study": cfg.name},
        )
    return export_design(
        model_dir, accel, target, force=force, n_images=images, backend=backend, **kwargs
    )


def import_nir(
    file: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    dataset: str,
    dt: float = 1e-4,
    force: bool = False,
    data_root: str | os.PathLike[str] | None = None,
) -> ImportedModel:
    """Import a NIR file (a feed-forward graph of Linear/Affine layers with +-1 weights and IF
    or leak-free LIF neurons) into the model directory `out`, like `dse import`; `dataset` is
    what the network classifies (``npz``: the .npz file `data_root`).  The model goes into a
    study as ``model: out`` and into `dse export --model out` (docs/interop.md)."""
    for name, value in (("file", file), ("out", out)):
        if not isinstance(value, str | os.PathLike) or isinstance(os.fspath(value), bytes):
            raise StudyInputError(f"{name}: {_shown(value)} is not allowed; pass a path")
    return imported_model(
        Path(file), Path(out), dataset, dt=dt, force=force, flag="out", data_root=data_root
    )


def imported_model(
    file: Path,
    out: Path,
    dataset: str,
    *,
    dt: float,
    force: bool,
    flag: str,
    data_root: str | os.PathLike[str] | None = None,
) -> ImportedModel:
    """`import_nir`'s body, shared with `dse import`; `flag` names `out` in error lines."""
    from models.imported import save_imported
    from models.nir_import import import_nir_file

    if out.exists() and not out.is_dir():
        raise StudyInputError(f"{flag}: {out} is a file; name a directory for the model")
    if out.is_dir() and any(out.iterdir()) and not force:
        fix = "--force" if flag.startswith("--") else "force=True"
        raise StudyInputError(f"{flag}: {out} is not empty; choose an empty directory or {fix}")
    model = import_nir_file(file, dataset, dt=dt, data_root=data_root)
    save_imported(model, out)
    return model
