"""Bayesian binary layer modes, quantized ReLU and the MLP's shapes."""

import pytest
import torch

from models.bayes_layers import BayesBinaryLinear
from models.errors import ModelInputError
from models.network import BayesBinaryMLP
from models.quant import QuantReLU


def _layer_with(lam: torch.Tensor, tau: float = 1.0) -> BayesBinaryLinear:
    layer = BayesBinaryLinear(lam.shape[1], lam.shape[0], tau=tau)
    with torch.no_grad():
        layer.lam.copy_(lam)
    return layer


def test_mode_is_the_sign_and_mean_is_tanh():
    lam = torch.tensor([[-2.0, 0.0, 0.3], [1.0, -0.1, 5.0]])
    layer = _layer_with(lam)
    assert torch.equal(layer.weight("mode"), torch.tensor([[-1.0, 1.0, 1.0], [1.0, -1.0, 1.0]]))
    torch.testing.assert_close(layer.weight("mean"), torch.tanh(lam))
    x = torch.tensor([[1.0, 2.0, 3.0]])
    torch.testing.assert_close(layer(x, "mode"), torch.tensor([[4.0, 2.0]]))


def test_sample_frequencies_follow_sigmoid_2lam():
    lam = torch.tensor([[-1.0, -0.25, 0.0, 0.5, 1.5]])
    layer = _layer_with(lam)
    torch.manual_seed(0)
    draws = torch.stack([layer.weight("sample") for _ in range(4000)])
    assert set(draws.unique().tolist()) == {-1.0, 1.0}
    freq = (draws == 1).float().mean(0)
    torch.testing.assert_close(freq, torch.sigmoid(2 * lam), atol=0.03, rtol=0)
    torch.testing.assert_close(layer.prob, torch.sigmoid(2 * lam))


def test_relaxed_samples_are_soft_and_sharpen_as_tau_shrinks():
    lam = torch.full((50, 50), 0.5)
    torch.manual_seed(0)
    soft = _layer_with(lam, tau=1.0).weight("relaxed")
    sharp = _layer_with(lam, tau=1e-3).weight("relaxed")
    assert soft.abs().max() < 1 and soft.requires_grad
    assert (sharp.abs() > 0.99).float().mean() > 0.98
    # the relaxed sample is +1 with probability sigmoid(2 lam) in the tau -> 0 limit
    assert abs(float((sharp > 0).float().mean()) - float(torch.sigmoid(torch.tensor(1.0)))) < 0.03


def test_unknown_mode_and_bad_tau_are_input_errors():
    with pytest.raises(ModelInputError, match="mode"):
        BayesBinaryLinear(2, 2).weight("bogus")
    with pytest.raises(ModelInputError, match="tau"):
        BayesBinaryLinear(2, 2, tau=0)


def test_quant_relu_levels_rounding_and_straight_through_gradient():
    q = QuantReLU(levels=4, clip=1.5)
    x = torch.tensor([-1.0, 0.2, 0.25, 0.7, 1.2, 3.0], requires_grad=True)
    y = q(x)
    torch.testing.assert_close(y.detach(), torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.5]))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ModelInputError, match="levels"):
        QuantReLU(levels=1)


def test_mlp_shapes_quantized_activations_and_mc_logits():
    torch.manual_seed(0)
    net = BayesBinaryMLP((8, 6, 5, 3), levels=3)
    x = torch.rand(4, 8)
    assert net(x, "sample").shape == (4, 3)
    net.eval()
    hidden = net.hidden(x, "mode")
    assert [h.shape[1] for h in hidden] == [6, 5]
    assert set(torch.cat([h.flatten() for h in hidden]).unique().tolist()) <= {0.0, 0.5, 1.0}
    logits = net.mc_logits(x, samples=5)
    assert logits.shape == (5, 4, 3) and not torch.allclose(logits[0], logits[1])
    assert len(net.binary_parameters()) == 3 and net.gain > 0
    with pytest.raises(ModelInputError, match="widths"):
        BayesBinaryMLP((8,))


def test_public_api_resolves_every_name_lazily():
    import models

    for name in models.__all__:
        assert getattr(models, name) is not None
    with pytest.raises(AttributeError):
        models.no_such_name  # noqa: B018
