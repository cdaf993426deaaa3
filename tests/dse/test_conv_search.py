"""The `conv` knob: a convolutional front searched like any training knob, on 8x8 digits.

A tiny study (one epoch, a few trials) runs from a study file through the CLI and from a dict
through `dse.run`; its trials train conv models, plan and price the front, show it, and say
that its costs are calibrated (or say so when a profile's conv fit missed), and export it.
"""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml
from npz_data import write_npz
from optuna.trial import FixedTrial, TrialState

import dse
from dse.cache import key_digest
from dse.cli import main
from dse.errors import StudyInputError
from dse.metrics import trial_metrics
from dse.objective import build_configs, load_splits, training_key
from dse.schema import IMAGE_SHAPES, parse_study
from dse.space import grid_search_space, suggest_design
from hwmodel.estimate import estimate
from hwmodel.profiles import DEFAULT_PROFILE, profile_file
from hwmodel.template import AcceleratorConfig

TINY = Path(__file__).parent / "fixtures" / "tiny.yaml"
#: The tiny study's training key of a one-layer, 8-wide BayesBiNN model as it was before the
#: `conv` knob existed (main at 8daee2f): a dense study keeps its cached models.
DENSE_KEY = "bf728fd506a325d2d18d89bed926850219ab1f9cecde8450dbe9edb4a5007d31"
#: Params of one trial of the tiny study (its searched knobs).
TINY_PARAMS = {"width_0": 8, "timesteps": 2, "samples": 1, "ensemble": "repeat", "pe": 4}


def tiny(**overrides: object) -> dict:
    raw = yaml.safe_load(TINY.read_text())
    raw.update(overrides)
    return raw


@pytest.mark.parametrize(
    ("search", "message"),
    [
        (
            {"conv": "8q"},
            "search.conv: '8q' is not allowed; use at most 8 comma-separated blocks of at "
            'most 4096 channels, p for 2x2 pooling, e.g. "8p,16p" ("" for none)',
        ),
        (
            {"conv": ["4p", "2p,2p,2p,2p"]},
            "search.conv.1: '2p,2p,2p,2p' is not allowed; on the 1x8x8 images of digits block "
            "4 (2p) pools a 1x1 map to nothing: use fewer pooled blocks",
        ),
        ({"conv": ["4p", "4P"]}, "search.conv.choices: ['4p', '4p'] is not allowed; list each"),
        ({"conv": {"low": 1, "high": 2}}, "search.conv.range: {'low': 1, 'high': 2} is not"),
        ({"conv": None}, "search.conv: None is not allowed; use at most 8"),
    ],
)
def test_bad_conv_values_are_one_line_naming_the_field(search: dict, message: str) -> None:
    with pytest.raises(StudyInputError) as info:
        parse_study(tiny(search=search), "s.yaml")
    assert str(info.value).startswith(f"s.yaml: {message}")
    assert "\n" not in str(info.value)


def test_dse_run_refuses_a_bad_conv_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny(search={"conv": ["4p", "3p,3p,3p,3p"]})))
    assert main(["run", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: bad.yaml: search.conv.1: '3p,3p,3p,3p' is not allowed; on the 1x8x8 images of "
        "digits block 4 (3p) pools a 1x1 map to nothing: use fewer pooled blocks"
    )


def test_conv_in_training_points_to_the_search_section() -> None:
    with pytest.raises(StudyInputError) as info:
        parse_study(tiny(training={"conv": "8p"}), "s.yaml")
    assert str(info.value) == (
        "s.yaml: training.conv: 'conv' is not allowed; the search sets it; write it as search.conv"
    )


def test_conv_values_are_spelled_canonically_and_counted_per_layer() -> None:
    cfg = parse_study(tiny(search={"conv": ["", "4P", " 2p, 4 ", 16], "depth": [1, 2]}))
    assert cfg.knobs["conv"].choices == ("", "4p", "2p,4", "16")
    grid = grid_search_space(cfg.knobs)
    assert grid["conv"] == ["", "4p", "2p,4", "16"]
    assert "threshold_scale_0" not in grid  # a fixed scale is no parameter
    scaled = parse_study(tiny(search={"conv": ["", "2p,4"], "threshold_scale": [1.0, 0.5]}))
    # The longest front (2 blocks) before the deepest dense network (1 layer).
    assert [k for k in grid_search_space(scaled.knobs) if k.startswith("threshold")] == [
        "threshold_scale_0",
        "threshold_scale_1",
        "threshold_scale_2",
    ]
    design = suggest_design(
        FixedTrial({"conv": "2p,4", **{f"threshold_scale_{i}": 0.5 for i in range(3)}}),
        scaled.knobs,
    )
    assert design["threshold_scale"] == [0.5, 0.5, 0.5] and design["width"] == [64]


def test_image_shapes_are_the_datasets() -> None:
    splits = load_splits(parse_study(tiny()).dataset)
    assert IMAGE_SHAPES["digits"] == splits.image_shape


def test_a_dense_study_keeps_its_cache_key_and_a_conv_one_gets_its_own() -> None:
    cfg = parse_study(tiny())
    splits = load_splits(cfg.dataset)
    design = suggest_design(FixedTrial(TINY_PARAMS), cfg.knobs)
    assert design["conv"] == ""
    train_cfg, _, accel = build_configs(cfg, design, splits)
    assert key_digest(training_key(cfg, train_cfg)) == DENSE_KEY
    assert accel.input_shape is None and accel.conv == () and accel.widths == (64, 8, 10)
    assert "conv" not in accel.as_dict()  # design.json and attributes as before

    conv_cfg = parse_study(tiny(search={**tiny()["search"], "conv": ["4p", "2p"]}))
    conv = suggest_design(FixedTrial({**TINY_PARAMS, "conv": "4p"}), conv_cfg.knobs)
    conv_train, _, conv_accel = build_configs(conv_cfg, conv, splits)
    key = training_key(conv_cfg, conv_train)
    assert key["train"]["conv"] == "4p" and key_digest(key) != DENSE_KEY
    # 4 channels over 8x8, pooled to 4x4: 64 inputs for the dense head.
    assert conv_accel.conv_shapes[0].outputs == 64
    assert (conv_accel.input_shape, conv_accel.widths) == ((1, 8, 8), (64, 8, 10))
    # The estimate plans the convolution: one more layer of cycles, calibrated by the profile.
    dense_cost = estimate(accel, calibration=DEFAULT_PROFILE)
    conv_cost = estimate(conv_accel, calibration=DEFAULT_PROFILE)
    assert len(conv_cost["cycles_per_layer"]) == len(dense_cost["cycles_per_layer"]) + 1
    assert conv_cost["cycles"] > dense_cost["cycles"]
    assert dense_cost["calibrated"] and conv_cost["calibrated"]


@pytest.fixture(scope="module")
def conv_study(tmp_path_factory: pytest.TempPathFactory) -> optuna.Study:
    """Three trials of a conv search (2p or 4p) from a dict, hardware-exact integer model."""
    out = tmp_path_factory.mktemp("conv") / "out"
    search = {**tiny()["search"], "conv": ["2p", "4p"]}
    spec = tiny(name="conv", output_dir=str(out), search=search, n_trials=3)
    spec["evaluation"] = {"mode": "integer"}
    return dse.run(spec, progress=False)


def test_a_conv_study_trains_plans_and_prices_the_front(conv_study: optuna.Study) -> None:
    trials = conv_study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 3
    for trial in trials:
        attrs = trial_metrics(trial)
        conv = trial.params["conv"]
        assert conv in ("2p", "4p") and attrs["conv"] == conv
        assert attrs["train_config"]["conv"] == conv
        assert attrs["accelerator"]["conv"] == conv
        assert attrs["accelerator"]["input_shape"] == [1, 8, 8]
        assert attrs["accelerator"]["widths"][0] == int(conv[0]) * 16  # C x 4 x 4 pooled
        assert attrs["calibrated"] is True  # the shipped profile's conv fit met its criteria
        # The trial's cycles are the plan's at the integer model's measured events.
        config = AcceleratorConfig(**attrs["accelerator"])
        assert len(attrs["activity"]) == config.n_layers == 3  # conv, hidden, output
        cost = estimate(config, activity=attrs["activity"], calibration=DEFAULT_PROFILE)
        assert attrs["cycles"] == pytest.approx(cost["cycles"])
    frame = dse.trials(conv_study)
    assert set(frame["params_conv"]) <= {"2p", "4p"}


def test_a_conv_trial_and_a_saved_conv_model_export_with_their_front(
    conv_study: optuna.Study, tmp_path: Path
) -> None:
    """Both backends' exports of a conv trial carry its front (tests/hls/test_csim_conv.py and
    tests/hls/test_rtl_conv.py run such projects); `--model` takes a saved model's front from
    the model."""
    for backend in ("hls", "rtl"):
        out = tmp_path / backend
        dse.export(conv_study, trial="knee", out=out, images=2, backend=backend)
        design = json.loads((out / "design.json").read_text())
        assert design["config"]["conv"] in ("2p", "4p") and design["backend"] == backend
        assert design["config"]["input_shape"] == [1, 8, 8]
    model_dir = trial_metrics(conv_study.trials[0])["model_dir"]
    assert main(["export", "--model", model_dir, "--out", str(tmp_path / "m")]) == 0
    saved = json.loads((tmp_path / "m" / "design.json").read_text())
    assert saved["config"]["conv"] == conv_study.trials[0].params["conv"]
    pytest.importorskip("nir")
    written = dse.export(conv_study, trial="knee", out=tmp_path / "knee.nir", backend="nir")
    assert (tmp_path / "knee.nir").is_file() and written is not None  # NIR takes convolutions


def test_a_study_of_a_saved_conv_model_is_refused_in_one_line(
    conv_study: optuna.Study, tmp_path: Path
) -> None:
    """A `model:` study prices the design its knobs describe: a dense one, for now."""
    model_dir = trial_metrics(conv_study.trials[0])["model_dir"]
    spec = {"name": "saved", "model": model_dir, "objectives": tiny()["objectives"]}
    with pytest.raises(StudyInputError) as info:
        parse_study(spec, "s.yaml")
    conv = conv_study.trials[0].params["conv"]
    assert str(info.value) == (
        f"s.yaml: model: {model_dir} has a convolutional front (conv {conv}), and a study of a "
        f"saved model takes dense models only for now; search the front with search.conv: "
        f"'{conv}' and no model:"
    )


def test_conv_study_from_the_cli_notes_uncalibrated_costs_and_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tiny(name="convcli", output_dir=str(tmp_path / "out"), n_trials=2)
    spec["search"] = {**spec["search"], "conv": "2p", "width": 8}
    # A profile whose conv fit missed its criteria: the front says its conv costs are rough.
    missed = json.loads(profile_file(DEFAULT_PROFILE).read_text())
    missed["fit"]["conv_calibrated"] = False
    (tmp_path / "missed.json").write_text(json.dumps(missed))
    spec["evaluation"] = {
        **spec.get("evaluation", {}),
        "calibration": str(tmp_path / "missed.json"),
    }
    path = tmp_path / "convcli.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Uncalibrated: trial" in out and "(conv 2p)" in out and "calibrated: false" in out
    assert main(["report", str(path)]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Uncalibrated: trial" in html
    capsys.readouterr()
    args = ["export", str(path), "--trial", "knee", "--out", str(tmp_path / "t")]
    assert main(args) == 0
    assert json.loads((tmp_path / "t" / "design.json").read_text())["config"]["conv"] == "2p"


def test_an_npz_conv_study_is_checked_against_the_file_then_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An npz file's image shape is only known once it is read: before the first trial."""
    write_npz(tmp_path / "rgb.npz")  # 3x8x8 images
    spec = tiny(name="rgbconv", output_dir=str(tmp_path / "out"), n_trials=1)
    spec["dataset"] = {"name": "npz", "path": str(tmp_path / "rgb.npz"), "max_selection": 30}
    spec["search"] = {**spec["search"], "conv": ["2p", "2p,2p,2p,2p"]}
    path = tmp_path / "rgbconv.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["run", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: search.conv.1: '2p,2p,2p,2p' is not allowed; on the 3x8x8 images of rgb.npz "
        "block 4 (2p) pools a 1x1 map to nothing: use fewer pooled blocks"
    )
    assert not (tmp_path / "out" / "models").exists()  # refused before any training
    spec["search"]["conv"] = "2p"
    path.write_text(yaml.safe_dump(spec))
    assert main(["run", str(path)]) == 0
    trial = dse.load(path).trials[0]
    assert trial_metrics(trial)["accelerator"]["input_shape"] == [3, 8, 8]
    assert trial_metrics(trial)["accelerator"]["widths"][0] == 2 * 4 * 4
