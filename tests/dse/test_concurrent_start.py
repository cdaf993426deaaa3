"""Workers started in the same instant on an empty storage all join one study."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import optuna
import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dse.runner import OBJECTIVES_ATTR, open_study
from dse.schema import parse_study

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"
WORKERS = 4
ROUNDS = 10


def _join(barrier, urls: list[str], errors) -> None:
    """One worker: for each fresh storage, wait for the others, then create-or-load the study."""
    cfg = parse_study(yaml.safe_load(TINY.read_text()), "tiny.yaml")
    for url in urls:
        barrier.wait(timeout=60)
        try:
            open_study(cfg, url)
        except Exception as exc:  # reported to the test, which fails with it
            errors.put(f"{url.rsplit('/', 1)[-1]}: {type(exc).__name__}: {exc}")


def _start_together(urls: list[str]) -> list[str]:
    """Run WORKERS processes that open every storage in `urls` at the same moment each."""
    ctx = multiprocessing.get_context("fork")  # real processes, without re-importing torch
    barrier, errors = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_join, args=(barrier, urls, errors)) for _ in range(WORKERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0
    found = []
    while not errors.empty():
        found.append(errors.get())
    return found


def _assert_one_study(url: str) -> None:
    summaries = optuna.get_all_study_summaries(storage=url)
    assert [s.study_name for s in summaries] == ["tiny"]
    study = optuna.load_study(study_name="tiny", storage=url)
    assert study.user_attrs[OBJECTIVES_ATTR] == ["accuracy", "power_w"]
    assert study.metric_names == ["accuracy", "power_w"]


def test_four_workers_start_together_on_empty_sqlite(tmp_path) -> None:
    urls = [f"sqlite:///{tmp_path / f'round{i}' / 'study.db'}" for i in range(ROUNDS)]
    assert _start_together(urls) == []
    for url in urls:
        _assert_one_study(url)


@pytest.mark.postgres
def test_four_workers_start_together_on_empty_postgresql(postgres_url: str) -> None:
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    names = [f"race_{i}" for i in range(ROUNDS)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    base = make_url(postgres_url)
    urls = [base.set(database=name).render_as_string(hide_password=False) for name in names]
    assert _start_together(urls) == []
    for url in urls:
        _assert_one_study(url)
