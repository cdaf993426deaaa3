"""What a person reads: units (accuracy in %, energy in µJ) in `dse run`'s summary, `dse show`
and `dse estimate`; `dse show --json`; the grouped trial view and its cycle counts."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import yaml

from dse.cli import main
from dse.metrics import trial_metrics
from dse.summary import CYCLE_KINDS

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"
#: An accuracy-like word followed closely by a fraction such as 0.9375 (not "93.75 %").
FRACTION_AFTER_ACCURACY = re.compile(r"accuracy[^\n%]{0,40}?(?<![\d.])0\.\d{2,}(?![\d.]*\s*%)")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, optuna.Study]:
    """A tiny study run with `dse run`: (study file, what the run printed, the study)."""
    root = tmp_path_factory.mktemp("show")
    raw = yaml.safe_load(TINY.read_text())
    raw.update(output_dir=str(root / "out"), name="show")
    study_file = root / "show.yaml"
    study_file.write_text(yaml.safe_dump(raw))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", str(study_file)]) == 0
    study = optuna.load_study(study_name="show", storage=f"sqlite:///{root / 'out' / 'study.db'}")
    return study_file, printed.getvalue(), study


def _show(capsys: pytest.CaptureFixture[str], study_file: Path, *args: str) -> str:
    capsys.readouterr()
    assert main(["show", str(study_file), *args]) == 0
    return capsys.readouterr().out


def _check_units(text: str) -> None:
    assert "uJ" not in text, "energy must read µJ"
    assert not FRACTION_AFTER_ACCURACY.search(text), FRACTION_AFTER_ACCURACY.search(text)


def test_human_outputs_read_percent_and_microjoules(ran, capsys, tmp_path) -> None:
    study_file, summary, study = ran
    front = [t for t in study.best_trials]
    _check_units(summary)
    assert "accuracy [%]" in summary and "[µJ]" in summary
    for trial in front:  # each front accuracy in %, never as the stored fraction
        assert f"{100 * trial_metrics(trial)['accuracy']:.4g} %" in summary
        assert f"{trial_metrics(trial)['accuracy']:.4g}" not in summary.replace(" %", "")
    shown = _show(capsys, study_file, "--trial", str(front[0].number))
    _check_units(shown)
    assert f"{100 * trial_metrics(front[0])['accuracy']:.4g} %" in shown and "µJ" in shown
    assert main(["estimate", "--layers", "64,16,10", "--pe", "4"]) == 0
    estimated = capsys.readouterr().out
    _check_units(estimated)
    assert "µJ" in estimated and "µs" in estimated
    out = tmp_path / "export"
    assert (
        main(["export", str(study_file), "--trial", str(front[0].number), "--out", str(out)]) == 0
    )
    exported = capsys.readouterr().out
    _check_units(exported)
    assert re.search(r"hardware-exact accuracy \d+\.\d\d %", exported)


def test_show_json_is_one_object_in_stored_units(ran, capsys) -> None:
    study_file, _, study = ran
    trial = study.trials[0]
    data = json.loads(_show(capsys, study_file, "--trial", "0", "--json"))
    assert data["trial"] == 0 and data["state"] == "complete"
    assert data["params"] == trial.params
    assert list(data["objectives"].values()) == pytest.approx(trial.values)
    assert set(data["objectives"]) == {"accuracy", "power_w"}
    assert data["constraints"] == pytest.approx(trial.constraints)
    assert data["user_attrs"]["accuracy"] == pytest.approx(trial_metrics(trial)["accuracy"])
    assert 0 <= data["user_attrs"]["accuracy"] <= 1  # a fraction, not %
    assert data["user_attrs"]["energy_pl_uj"] == pytest.approx(trial_metrics(trial)["energy_pl_uj"])


def test_show_groups_objectives_knobs_hardware_then_the_rest(ran, capsys) -> None:
    study_file, _, study = ran
    text = _show(capsys, study_file, "--trial", "0")
    order = ["objective", "constraint", "knob", "hardware", "metric", "test"]
    kinds = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    groups = [k for k in kinds if k in order]
    seen = list(dict.fromkeys(groups))
    assert seen[:4] == order[:4] and seen == sorted(seen, key=order.index)
    assert groups == sorted(groups, key=order.index)  # each group in one block
    # the knobs come before the 150-line rest: the first knob within the first 15 rows
    assert groups.index("knob") < 15


def test_show_explains_the_four_cycle_counts(ran, capsys, tmp_path) -> None:
    from dse.commands.hardware_commands import _record_simulation

    study_file, _, study = ran
    trial = study.trials[0]
    text = _show(capsys, study_file, "--trial", "0")
    for kind in CYCLE_KINDS:
        assert kind in text
    assert f"{trial_metrics(trial)['cycles']:,.0f}" in text
    assert text.count("not recorded") == 2  # nothing simulated or measured yet
    # `dse sim` of this trial's RTL export records its cycles; `dse measure` its report's
    project = tmp_path / "t0"
    project.mkdir()
    ref = {"study_file": str(study_file), "trial": 0}
    (project / "design.json").write_text(json.dumps({"study": ref}))
    summary = SimpleNamespace(cycles_sim=1234.0, cycles_plan=1234.0, images=4, exact=True)
    _record_simulation(project, summary, None)
    loaded = optuna.load_study(study_name="show", storage=study._storage)
    loaded.set_user_attr("measured_trial_0", {"latency_cycles": 98765})
    text = _show(capsys, study_file, "--trial", "0")
    assert "1,234" in text and "98,765" in text and "not recorded" not in text
