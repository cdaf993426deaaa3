"""save_model / load_model round trip and one-line errors for bad directories."""

import json

import pytest
import torch
from damage import flip_tensor_bytes

from models.datasets import load_dataset
from models.errors import ModelInputError
from models.io import SETTINGS_FILE, WEIGHTS_FILE, load_model, save_model
from models.training import TrainConfig, train_model


@pytest.fixture(scope="module")
def trained():
    cfg = TrainConfig(widths=(16, 8), epochs=2, levels=3, calib_samples=2, bn_samples=1)
    return train_model(cfg, load_dataset("digits", seed=0), progress=False)


def test_round_trip_gives_identical_outputs(trained, tmp_path):
    save_model(trained, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.config == trained.config
    assert loaded.output_scale == trained.output_scale
    assert loaded.output_scale_mode == trained.output_scale_mode
    assert loaded.metrics == trained.metrics and loaded.dataset == "digits"
    assert loaded.network.levels == 3 and loaded.network.widths == (64, 16, 8, 10)
    x = torch.rand(5, 64)
    trained.network.eval()
    torch.testing.assert_close(loaded.network(x, "mode"), trained.network(x, "mode"))
    torch.manual_seed(3)
    a = loaded.network(x, "sample")
    torch.manual_seed(3)
    torch.testing.assert_close(a, trained.network(x, "sample"))
    settings = json.loads((tmp_path / "m" / SETTINGS_FILE).read_text())
    assert settings["widths"] == [64, 16, 8, 10] and settings["gain"] > 0


def test_missing_directory_names_the_path(tmp_path):
    with pytest.raises(ModelInputError, match="nowhere") as info:
        load_model(tmp_path / "nowhere")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("victim", [WEIGHTS_FILE, SETTINGS_FILE])
def test_corrupt_files_are_input_errors(trained, tmp_path, victim):
    save_model(trained, tmp_path)
    (tmp_path / victim).write_bytes(b"\x00garbage")
    with pytest.raises(ModelInputError, match="corrupt") as info:
        load_model(tmp_path)
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)


def test_weights_with_flipped_bytes_are_refused_by_their_digest(trained, tmp_path):
    """64 inverted bytes inside a tensor still load as a state dict (a silently different
    model); the SHA-256 recorded at save time names the file and the fix instead."""
    save_model(trained, tmp_path)
    settings = json.loads((tmp_path / SETTINGS_FILE).read_text())
    assert settings["format_version"] == 2 and len(settings["weights_sha256"]) == 64
    path = tmp_path / WEIGHTS_FILE
    flip_tensor_bytes(path)
    torch.load(path, weights_only=True)  # the damage is invisible to torch
    with pytest.raises(ModelInputError, match="does not match the SHA-256") as info:
        load_model(tmp_path)
    message = str(info.value)
    assert "\n" not in message and WEIGHTS_FILE in message and "retrain" in message
    assert "delete the directory" in message


def test_a_format_1_model_without_a_digest_still_loads(trained, tmp_path):
    save_model(trained, tmp_path)
    settings = json.loads((tmp_path / SETTINGS_FILE).read_text())
    del settings["weights_sha256"]
    settings["format_version"] = 1
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(settings))
    assert load_model(tmp_path).network.widths == trained.network.widths
