"""Two-stage BayesBiNN training on digits: sanity accuracy, determinism, failures."""

import dataclasses

import pytest
import torch

from models.datasets import load_dataset
from models.errors import ModelInputError
from models.training import TrainConfig, TrainingDivergedError, batches, train_model

TINY = {"widths": (32,), "epochs": 5, "calib_samples": 4, "bn_samples": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_training_learns_digits_and_is_deterministic(digits):
    first = train_model(TrainConfig(**TINY), digits, progress=False)
    again = train_model(TrainConfig(**TINY), digits, progress=False)
    other = train_model(TrainConfig(**TINY, seed=1), digits, progress=False)
    net = first.network
    assert net.widths == (64, 32, 10) and net.quantized
    assert first.metrics["val_accuracy"] > 0.7
    assert first.metrics["val_accuracy_mode"] > 0.7
    assert 0 <= first.metrics["val_ece"] <= 1 and first.output_scale > 0
    assert 0 < first.metrics["frac_uncertain"] <= 1
    assert first.wall_time_s > 0 and first.dataset == "digits"
    for a, b in zip(net.state_dict().values(), again.network.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(net.layers[0].lam, other.network.layers[0].lam)


def test_stage_split_and_progress_bar(digits, capsys):
    cfg = TrainConfig(**{**TINY, "epochs": 2}, stage1_epochs=2)
    model = train_model(cfg, digits, progress=True)
    assert cfg.stage1 == 2 and model.network.quantized
    assert "2/2" in capsys.readouterr().err


def test_nan_loss_raises_a_clear_error(digits):
    x, y = digits.train
    broken = dataclasses.replace(digits, train=(torch.full_like(x, float("nan")), y))
    with pytest.raises(TrainingDivergedError, match="diverged"):
        train_model(TrainConfig(**TINY), broken, progress=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("widths", (0,)),
        ("levels", 1),
        ("epochs", 0),
        ("lr", 3.0),
        ("stage1_epochs", 9),
        ("method", "mode"),
    ],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ModelInputError, match=field):
        TrainConfig(**{**TINY, field: value})


def test_config_round_trips_through_a_dict():
    cfg = TrainConfig(**TINY, lr=0.02, method="ste")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ModelInputError, match="bogus"):
        TrainConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_output_scale_recovers_a_known_temperature():
    from models.temperature import fit_output_scale, mc_probs

    gen = torch.Generator().manual_seed(0)
    z = 2.0 * torch.randn(4000, 5, generator=gen)
    labels = torch.multinomial(torch.softmax(z, -1), 1, generator=gen).squeeze(1)
    fit = fit_output_scale(3.0 * z, labels)  # logits 3x too sharp: the scale should be ~1/3
    assert fit.scale == pytest.approx(1 / 3, rel=0.1)
    assert fit.ece_after < fit.ece_before and fit.nll_after < fit.nll_before
    # samples [S, B, C]: the softmax is averaged after scaling, not the logits
    two = torch.stack([z, -z])
    torch.testing.assert_close(mc_probs(two), (torch.softmax(z, -1) + torch.softmax(-z, -1)) / 2)


@pytest.mark.parametrize("method", ["bayesbinn", "ste"])
def test_a_last_batch_of_one_image_trains(digits, method: str) -> None:
    """65 training images in batches of 64: batch norm cannot train on the last one alone."""
    x, y = digits.train
    small = dataclasses.replace(digits, train=(x[:65], y[:65]))
    cfg = TrainConfig(widths=(8,), epochs=1, batch_size=64, bn_samples=1, method=method)
    net = train_model(cfg, small, progress=False).network
    assert net.gain > 0.0 and torch.isfinite(net.norms[0].running_var).all()
    assert torch.isfinite(net.mc_logits(x[:65], samples=2)).all()
    assert [len(b) for b in batches(65, 64, shuffle=True)] == [65]
    assert [len(b) for b in batches(129, 64, shuffle=False)] == [64, 65]
