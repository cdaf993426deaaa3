"""BayesBiNN optimizer: one step against a hand computation, MC averaging, prior pull."""

import pytest
import torch

from models.bayes_layers import BayesBinaryLinear
from models.bayesbinn import BayesBiNN
from models.errors import ModelInputError


def _hand_step(lam0, eps, x, c, tau, lr, n, prior):
    """lam after one BayesBiNN step for the loss sum_j c_j (W x)_j, computed by hand."""
    delta = 0.5 * torch.log(eps / (1 - eps))
    w = torch.tanh((lam0 + delta) / tau)
    dl_dw = torch.outer(c, x[0])
    g = dl_dw * (1 - w**2) / tau / (1 - torch.tanh(lam0) ** 2)
    return (1 - lr) * lam0 - lr * (n * g - prior)


def test_one_step_matches_hand_computation():
    torch.manual_seed(0)
    layer = BayesBinaryLinear(3, 2, tau=0.7, lam_init=1.5)
    lam0 = layer.lam.detach().clone()
    x = torch.tensor([[0.2, -0.5, 1.0]])
    c = torch.tensor([0.3, -1.2])
    torch.manual_seed(123)
    eps = torch.rand(2, 3)
    expected = _hand_step(lam0, eps, x, c, tau=0.7, lr=0.1, n=50.0, prior=0.2)

    opt = BayesBiNN([layer.lam], lr=0.1, dataset_size=50, prior_lam=0.2, slope_floor=0)
    torch.manual_seed(123)
    opt.zero_grad()
    (layer(x, "relaxed") @ c).sum().backward()
    opt.step()
    torch.testing.assert_close(layer.lam.detach(), expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(layer.lam.detach(), lam0)


def test_mc_samples_average_the_gradients_and_need_a_closure():
    torch.manual_seed(1)
    layer = BayesBinaryLinear(3, 2, tau=1.0, lam_init=1.0)
    lam0 = layer.lam.detach().clone()
    x = torch.tensor([[1.0, 0.5, -0.3]])
    c = torch.tensor([1.0, 2.0])
    torch.manual_seed(7)
    eps1, eps2 = torch.rand(2, 3), torch.rand(2, 3)
    one = _hand_step(lam0, eps1, x, c, tau=1.0, lr=0.2, n=10.0, prior=0.0)
    two = _hand_step(lam0, eps2, x, c, tau=1.0, lr=0.2, n=10.0, prior=0.0)
    expected = (one + two) / 2  # the step is affine in g, so averaging g averages the steps

    opt = BayesBiNN([layer.lam], lr=0.2, dataset_size=10, mc_samples=2, slope_floor=0)

    def closure():
        opt.zero_grad()
        loss = (layer(x, "relaxed") @ c).sum()
        loss.backward()
        return loss

    torch.manual_seed(7)
    loss = opt.step(closure)
    torch.testing.assert_close(layer.lam.detach(), expected, rtol=1e-5, atol=1e-5)
    assert loss.ndim == 0
    with pytest.raises(ModelInputError, match="closure"):
        opt.step()


def test_slope_floor_bounds_the_gradient_of_confident_weights():
    lam = torch.nn.Parameter(torch.tensor([0.0, 3.0, -6.0]))
    lam.grad = torch.full((3,), 1e-3)
    BayesBiNN([lam], lr=1.0, dataset_size=1.0, slope_floor=0.1).step()
    # lr = 1: lam becomes -N g = -grad / max(1 - tanh(lam)^2, 0.1)
    torch.testing.assert_close(lam.detach(), torch.tensor([-1e-3, -1e-2, -1e-2]))
    lam = torch.nn.Parameter(torch.tensor([3.0]))
    lam.grad = torch.full((1,), 1e-3)
    BayesBiNN([lam], lr=1.0, dataset_size=1.0, slope_floor=0).step()
    expected = -1e-3 / (1 - torch.tanh(torch.tensor([3.0])) ** 2)
    torch.testing.assert_close(lam.detach(), expected)


def test_without_data_the_posterior_relaxes_to_the_prior():
    layer = BayesBinaryLinear(4, 4, lam_init=3.0)
    opt = BayesBiNN([layer.lam], lr=0.5, dataset_size=100, prior_lam=0.25)
    for _ in range(40):
        layer.lam.grad = torch.zeros_like(layer.lam)
        opt.step()
    torch.testing.assert_close(layer.lam.detach(), torch.full((4, 4), 0.25), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "kwargs",
    [{"lr": 0.0}, {"lr": 2.0}, {"dataset_size": -1}, {"mc_samples": 0}, {"slope_floor": 2}],
)
def test_bad_settings_are_input_errors(kwargs):
    with pytest.raises(ModelInputError):
        BayesBiNN([torch.nn.Parameter(torch.zeros(2))], **kwargs)
