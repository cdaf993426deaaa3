"""`dse train` and `dse evaluate` end to end on a tiny digits model; bad input exits 2."""

import json

import pytest

from dse.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    argv = ["train", "--widths", "24", "--levels", "3", "--epochs", "3", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    return out


def test_train_writes_a_loadable_model(model_dir, capsys):
    settings = json.loads((model_dir / "settings.json").read_text())
    assert settings["widths"] == [64, 24, 10] and settings["levels"] == 3
    assert settings["config"]["epochs"] == 3 and settings["dataset"] == "digits"
    assert 0 <= settings["metrics"]["val_accuracy"] <= 1
    assert (model_dir / "weights.pt").stat().st_size > 0


def test_evaluate_writes_one_json_per_setting(model_dir, capsys):
    assert main(["evaluate", str(model_dir), "--timesteps", "4", "--samples", "3"]) == 0
    argv = ["evaluate", str(model_dir), "--timesteps", "4", "--samples", "2"]
    assert main([*argv, "--ensemble", "time", "--mode-weights", "--ood", "noise"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "ece" in out
    repeat = json.loads((model_dir / "eval_T4_S3_repeat_float.json").read_text())
    timed = json.loads((model_dir / "eval_T4_S2_time_float_mode_ood-noise.json").read_text())
    for metrics in (repeat, timed):
        assert {"accuracy", "ece", "nll", "brier", "entropy"} <= set(metrics)
        assert 0.3 < metrics["accuracy"] <= 1
    assert repeat["eval_config"]["weights"] == "sample" and timed["eval_config"]["samples"] == 2
    assert 0 <= timed["ood_auroc"] <= 1 and "ood_auroc" not in repeat


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--widths", "64,x", "--out", "OUT"], "--widths"),
        (["train", "--widths", "64,0", "--out", "OUT"], "--widths"),
        (["train", "--levels", "1", "--out", "OUT"], "levels"),
        (["train", "--method", "mode", "--out", "OUT"], "method: 'mode' is not allowed; use"),
        (["train", "--dataset", "nope", "--out", "OUT"], "nope"),
        (["evaluate", "MISSING"], "MISSING"),
        (["evaluate", "MODEL", "--ensemble", "bogus"], "ensemble"),
        (["evaluate", "MODEL", "--threshold-scales", "1,a"], "--threshold-scales"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, model_dir, tmp_path, capsys):
    subs = {
        "OUT": str(tmp_path / "o"),
        "MISSING": str(tmp_path / "MISSING"),
        "MODEL": str(model_dir),
    }
    assert main([subs.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_train_method_ste_and_evaluate_it_as_the_deterministic_network(tmp_path, capsys):
    out = tmp_path / "ste"
    argv = ["train", "--widths", "24", "--epochs", "3", "--method", "ste", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    assert json.loads((out / "settings.json").read_text())["config"]["method"] == "ste"
    # its latent weights are not probabilities: evaluated with mode weights without asking
    assert main(["evaluate", str(out), "--timesteps", "4", "--samples", "1"]) == 0
    result = json.loads((out / "eval_T4_S1_repeat_float_mode.json").read_text())
    assert result["eval_config"]["weights"] == "mode" and 0.3 < result["accuracy"] <= 1
