"""Frequentist baselines: the STE weight, the mode network's own BN statistics, STE training."""

from __future__ import annotations

import pytest
import torch

from models.baselines import mode_network, train_ste
from models.bayes_layers import BayesBinaryLinear
from models.datasets import load_dataset
from models.network import BayesBinaryMLP
from models.training import TrainConfig, recalibrate_batchnorm, train_model

TINY = {"widths": (32,), "epochs": 6, "calib_samples": 4, "bn_samples": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_ste_weight_is_the_sign_with_a_clipped_identity_gradient():
    layer = BayesBinaryLinear(4, 1, lam_init=0.0)
    with torch.no_grad():
        layer.lam.copy_(torch.tensor([[0.5, -0.25, 2.0, -3.0]]))
    w = layer.weight("ste")
    assert w.tolist() == [[1.0, -1.0, 1.0, -1.0]]
    (w * torch.tensor([[1.0, 2.0, 3.0, 4.0]])).sum().backward()
    assert layer.lam.grad.tolist() == [[1.0, 2.0, 0.0, 0.0]]  # zero where |lam| > 1


def test_mode_batchnorm_statistics_are_those_of_the_mode_weights():
    torch.manual_seed(0)
    net = BayesBinaryMLP((6, 5, 3))
    x = torch.rand(512, 6)
    recalibrate_batchnorm(net, x, passes=1, batch_size=512, mode="mode")  # one batch
    pre = (x @ torch.sign(net.layers[0].lam.detach()).T).double()
    norm = net.norms[0]
    assert norm.running_mean.double().numpy() == pytest.approx(pre.mean(0).numpy(), abs=1e-5)
    assert norm.running_var.double().numpy() == pytest.approx(pre.var(0).numpy(), rel=1e-4)


def test_mode_network_keeps_the_model_and_replaces_statistics(digits):
    model = train_model(TrainConfig(**TINY), digits, progress=False)
    before = model.network.norms[0].running_mean.clone()
    mode = mode_network(model, digits)
    assert torch.equal(model.network.norms[0].running_mean, before)  # original untouched
    assert not torch.allclose(mode.network.norms[0].running_mean, before)
    assert mode.output_scale_mode == 1.0
    for a, b in zip(model.network.layers, mode.network.layers, strict=True):
        assert torch.equal(a.lam, b.lam)


def test_ste_training_learns_digits_deterministically(digits):
    cfg = TrainConfig(**TINY)
    first, again = train_ste(cfg, digits), train_ste(cfg, digits)
    x, y = digits.test
    logits = first.network(x, "mode")
    assert (logits.argmax(1) == y).float().mean() > 0.7  # the BayesBiNN test's bar
    assert torch.equal(logits, again.network(x, "mode"))
    assert all(layer.lam.abs().max() <= 1.0 for layer in first.network.layers)
    assert first.output_scale_mode == 1.0


def test_train_model_trains_what_the_method_says(digits):
    """`method: ste` reaches the STE trainer through `train_model` (the search and `dse train`
    call only that), and the saved settings say so."""
    ste = TrainConfig(**{**TINY, "epochs": 2}, method="ste")
    model = train_model(ste, digits, progress=False)
    direct = train_ste(TrainConfig(**{**TINY, "epochs": 2}), digits)
    assert model.config == direct.config == ste
    x, _ = digits.test
    assert torch.equal(model.network(x, "mode"), direct.network(x, "mode"))
    assert model.output_scale_mode == 1.0 and not model.metrics  # no BayesBiNN calibration


def test_the_mode_network_is_the_same_whatever_torch_drew_before() -> None:
    """Its batch-norm statistics come from shuffled batches: seeded, not the global state."""
    from models.baselines import mode_network
    from models.datasets import load_dataset
    from models.training import TrainConfig, train_model

    data = load_dataset("digits", seed=0)
    model = train_model(TrainConfig(widths=(16,), epochs=1, bn_samples=1), data, progress=False)
    first = mode_network(model, data).network.norms[0].running_var.clone()
    torch.rand(7)  # anything else that draws from torch's global generator
    again = mode_network(model, data).network.norms[0].running_var
    assert torch.equal(first, again)
