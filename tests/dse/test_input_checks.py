"""Secrets never printed, user text printed as written, checks that can fail (csim, export)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import optuna
import pytest
from sqlalchemy.engine import make_url

from dse.cli import main
from dse.redaction import redact_url

# Passwords SQLAlchemy accepts raw (everything up to the first "@" after "user:"), and one
# with "@" that must be percent-encoded in the URL.
RAW_PASSWORDS = ["s3/cr#et", "a?b", "x:y/z#w?v", "#?/:", "pw/with/slashes"]
ENCODED_PASSWORDS = ["p@ss:w/rd#1?"]


@pytest.mark.parametrize("password", RAW_PASSWORDS + ENCODED_PASSWORDS)
@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg"])
def test_redaction_hides_every_password_sqlalchemy_accepts(password: str, driver: str) -> None:
    written = password if password in RAW_PASSWORDS else quote(password, safe="")
    url = f"{driver}://bob:{written}@db.lan:5432/dse?sslmode=require"
    assert make_url(url).password == password  # SQLAlchemy reads it this way
    shown = redact_url(url)
    assert shown == f"{driver}://bob:***@db.lan:5432/dse?sslmode=require"
    assert written not in shown and password not in shown


def test_redaction_hides_query_passwords_and_leaves_others() -> None:
    assert redact_url("postgresql://bob@h/d?sslmode=x&password=a/b#c") == (
        "postgresql://bob@h/d?sslmode=x&password=***"
    )
    for url in ("sqlite:///runs/a:b@c.db", "journal:///runs/x.log", "postgresql://h:5432/d"):
        assert redact_url(url) == url


#: Storage URLs whose password (always "hunter2") no output may show, whatever their shape:
#: mistyped (one slash, a leading space, no scheme), unsupported, long enough to be shortened
#: in an error line, or valid and unreachable (port 1 refuses at once).
LEAKY_URLS = [
    "postgresql:/u:hunter2@h/d",
    " postgresql://u:hunter2@h/d",
    "postgresql:/" + "x" * 80 + ":hunter2@h/d",
    " postgresql://u:" + "hunter2" * 12 + "@h/d",
    "mysql+pymysql://u:hunter2@h/d",
    "postgresql://u:hunter2@127.0.0.1:1/d?sslmode=x",
    "u:hunter2@host",
    "postgresql:hunter2@h/d",
    "postgresql://h/d?sslmode=x&password=hunter2",
    "host=h password=hunter2 dbname=d",
]


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert "hunter2" not in text and "hunter" not in text, text


@pytest.mark.parametrize("url", LEAKY_URLS)
def test_redaction_hides_the_password_of_any_shape(url: str) -> None:
    shown = redact_url(url)
    _no_secret(shown)
    assert "***" in shown


@pytest.mark.parametrize("url", LEAKY_URLS)
def test_a_storage_url_of_any_shape_never_shows_its_password(url, tmp_path, capsys) -> None:
    """In the study file's `storage:` key, in --storage, and in the resume line."""
    from dse.interrupt import command_line

    study = tmp_path / "s.yaml"
    head = f"name: s\noutput_dir: {tmp_path / 'out'}\nn_trials: 1\n"
    head += "objectives: [{metric: accuracy, direction: maximize}]\n"
    study.write_text(head + f"storage: {json.dumps(url)}\n")
    assert main(["run", str(study)]) == 2
    from_file = capsys.readouterr()
    assert from_file.err.startswith("error: ") and from_file.err.count("\n") == 1
    bare = tmp_path / "bare.yaml"
    bare.write_text(head)
    assert main(["run", str(bare), "--storage", url]) == 2
    from_flag = capsys.readouterr()
    assert from_flag.err.startswith("error: ") and from_flag.err.count("\n") == 1
    resume = command_line("run", bare, {"--storage": url, "--n-trials": None})
    _no_secret(from_file.out, from_file.err, from_flag.out, from_flag.err, resume)


@pytest.mark.parametrize("value", [["postgresql://u:hunter2@h/d"], {"url": "u:hunter2@h"}])
def test_a_storage_that_is_no_string_is_not_echoed(value, tmp_path, capsys) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(
        "name: s\nobjectives: [{metric: accuracy, direction: maximize}]\n"
        f"storage: {json.dumps(value)}\n"
    )
    assert main(["run", str(study)]) == 2
    err = capsys.readouterr().err
    assert "storage: a value of type" in err
    _no_secret(err)


@pytest.mark.parametrize("url", LEAKY_URLS)
def test_the_api_error_carries_no_password(url, tmp_path) -> None:
    """Neither the message nor any exception chained to it (a notebook shows those)."""
    import dse
    from dse.errors import StudyInputError

    spec = {
        "name": "s",
        "output_dir": str(tmp_path / "out"),
        "objectives": [{"metric": "accuracy", "direction": "maximize"}],
    }
    with pytest.raises(StudyInputError) as info:
        dse.run(spec, storage=url, progress=False)
    exc: BaseException | None = info.value
    while exc is not None:
        _no_secret(str(exc), repr(exc))
        exc = exc.__cause__ or exc.__context__
    with pytest.raises(StudyInputError) as info:
        dse.run({**spec, "storage": url}, progress=False)
    _no_secret(str(info.value))


@pytest.mark.postgres
def test_no_password_in_any_output_with_a_real_postgres(postgres_url, tmp_path, capsys) -> None:
    """A role whose password holds / # ? @ : runs, reports, shows and fails without leaking it."""
    import psycopg

    password = "Pw/with#odd?chars@and:colons"
    role = f"dse_secret_{time.time_ns()}"
    admin = make_url(postgres_url)
    with psycopg.connect(
        host=admin.host, port=admin.port, user=admin.username, password=admin.password,
        dbname=admin.database, autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f"GRANT ALL ON SCHEMA public TO {role}")
        conn.execute(f"CREATE DATABASE {role} OWNER {role}")
    url = f"postgresql://{role}:{quote(password, safe='/#?:')}@{admin.host}:{admin.port}/{role}"
    assert make_url(url).password == password
    out = tmp_path / "out"
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        f"name: secret\noutput_dir: {out}\nstorage: '{url}'\n"
        "objectives: [{metric: accuracy, direction: maximize}]\nn_trials: 1\n"
    )
    # One finished trial already in the study, so `run` and `worker` only report on it.
    from dse.runner import open_study
    from dse.schema import load_study_file

    study = open_study(load_study_file(study_file))
    study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs={"accuracy": 0.5}))
    wrong = study_file.parent / "wrong.yaml"
    wrong.write_text(study_file.read_text().replace("Pw/", "Px/"))
    results = [
        main(["run", str(study_file)]),
        main(["worker", str(study_file)]),
        main(["show", str(study_file), "--trial", "0"]),
        main(["run", str(wrong)]),
    ]
    assert results == [0, 0, 0, 2]
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert f"postgresql://{role}:***@" in printed
    written = [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()]
    for text in [printed, *written]:
        for secret in (password, quote(password, safe="/#?:"), "with#odd", "chars@and"):
            assert secret not in text


def test_user_text_is_printed_as_written(tmp_path: Path, capsys) -> None:
    """Paths with rich markup neither crash the printer nor lose their brackets."""
    folder = tmp_path / "a[/x]" / "[bold]b"
    folder.mkdir(parents=True)
    assert main(["run", str(folder / "missing[/red].yaml")]) == 2
    err = capsys.readouterr().err
    assert "a[/x]/[bold]b/missing[/red].yaml" in err and err.count("\n") == 1
    study = folder / "s.yaml"
    study.write_text("name: s\nobjectives: [{metric: '[bold]acc', direction: maximize}]\n")
    assert main(["run", str(study)]) == 2
    assert "[bold]acc" in capsys.readouterr().err


def test_a_study_naming_energy_uj_exits_2_naming_the_fix(tmp_path: Path, capsys) -> None:
    study = tmp_path / "old.yaml"
    study.write_text("name: s\nobjectives: [{metric: energy_uj, direction: minimize}]\n")
    assert main(["run", str(study)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "objectives.0.metric: energy_uj is now three figures; use energy_pl_uj" in err


# --- export and csim ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported project of an untrained model, 4 golden images."""
    import torch

    from models.io import save_model
    from models.network import BayesBinaryMLP
    from models.training import TrainConfig, TrainedModel

    torch.manual_seed(0)
    net = BayesBinaryMLP((64, 6, 10), levels=4, lam_init=2.0)
    model = TrainedModel(network=net, config=TrainConfig(widths=(6,)), dataset="digits")
    root = tmp_path_factory.mktemp("export")
    save_model(model, root / "model")
    args = ["export", "--model", str(root / "model"), "--out", str(root / "p"), "--images", "4"]
    assert main(args) == 0
    return root


def test_export_refuses_more_images_than_the_test_split(project: Path, capsys) -> None:
    out = project / "too-many"
    args = ["export", "--model", str(project / "model"), "--out", str(out)]
    assert main([*args, "--images", "100000"]) == 2
    err = capsys.readouterr().err
    assert "--images: 100000 is more than the 360 test images of digits" in err
    assert not out.exists()


@pytest.mark.parametrize("kept", [0, 3])
def test_csim_refuses_a_golden_file_with_other_image_count(project, tmp_path, kept, capsys):
    copy = tmp_path / "p"
    shutil.copytree(project / "p", copy)
    golden = copy / "tb" / "golden.txt"
    header, *rows = golden.read_text().splitlines()
    fields = header.split()
    golden.write_text(
        " ".join([str(kept), *fields[1:]]) + "\n" + "".join(r + "\n" for r in rows[:kept])
    )
    assert main(["csim", str(copy)]) == 2
    err = capsys.readouterr().err
    assert f"holds {kept} images of 64 inputs, design.json says 4 of 64" in err
    assert not (copy / "build").exists()  # refused before compiling


def test_export_warns_on_infeasible_and_dominated_trials(capsys) -> None:
    from dse.commands.hardware_commands import _warn_if_not_chosen

    study = optuna.create_study(directions=["maximize", "minimize"])
    for values, constraint in (([0.9, 1.0], -0.1), ([0.8, 2.0], -0.1), ([0.95, 0.5], 0.3)):
        trial = optuna.trial.create_trial(values=values)
        trial.set_constraint("utilisation", constraint)
        study.add_trial(trial)
    trials = study.get_trials()
    _warn_if_not_chosen(study, trials[0])
    assert capsys.readouterr().err == ""
    _warn_if_not_chosen(study, trials[1])
    assert "trial 1 is not on the Pareto front" in capsys.readouterr().err
    _warn_if_not_chosen(study, trials[2])
    assert "trial 2 is infeasible (violates utilisation)" in capsys.readouterr().err
    assert [t.number for t in study.best_trials] == [0]
