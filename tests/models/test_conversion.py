"""ANN-to-SNN conversion: exact folding, sign flips, knobs, and rate agreement."""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from models.conversion import convert
from models.datasets import load_dataset
from models.errors import ModelInputError
from models.training import TrainConfig, train_model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def trained(digits):
    cfg = TrainConfig(widths=(32, 24), epochs=4, levels=4, calib_samples=2, bn_samples=1)
    return train_model(cfg, digits, progress=False)


@pytest.fixture(scope="module")
def mirrored(trained):
    """The same function with a third of layer 0's neurons mirrored: w -> -w, mean -> -mean,
    gamma -> -gamma.  Its conversion must undo the mirror (flip P(w=+1) to 1 - P)."""
    model = copy.deepcopy(trained)
    with torch.no_grad():
        model.network.layers[0].lam[::3] *= -1
        model.network.norms[0].weight[::3] *= -1
        model.network.norms[0].running_mean[::3] *= -1
    return model


def _if_rates(snn, x, timesteps):
    """Reference IF simulation (one fixed weight draw, mode SNN): rates per hidden layer and
    accumulated output scores."""
    ws = [np.where(layer.prob >= 0.5, 1.0, -1.0) for layer in snn.layers]
    v = [np.tile(layer.initial, (len(x), 1)) for layer in snn.layers]
    counts = [np.zeros_like(vv) for vv, layer in zip(v, snn.layers, strict=True) if layer.spiking]
    for _ in range(timesteps):
        s = x
        for i, layer in enumerate(snn.layers):
            v[i] = v[i] + s @ ws[i].T + layer.bias
            if layer.spiking:
                s = (v[i] >= layer.threshold).astype(float)
                v[i] -= s * layer.threshold
                counts[i] += s
    return [c / timesteps for c in counts], v[-1]


def test_first_layer_is_exact_at_t_equal_levels_minus_one(trained, digits):
    snn = convert(trained, weights="mode")
    x = digits.test[0][:200]
    net = trained.network.eval()
    with torch.no_grad():
        ann = net.hidden(x, "mode")[0].numpy() / net.clip
    single = dataclasses.replace(snn, layers=snn.layers[:1])
    rates, _ = _if_rates(single, x.double().numpy(), net.levels - 1)
    # rounding ties may land either side of a threshold in float arithmetic
    assert np.mean(np.isclose(rates[0], ann, atol=1e-6)) > 0.995


def test_large_t_rates_approach_the_ann_and_predictions_agree(trained, digits):
    snn = convert(trained, weights="mode")
    x = digits.test[0][:200]
    net = trained.network.eval()
    rates, scores = _if_rates(snn, x.double().numpy(), 96)
    with torch.no_grad():
        ann = [h.numpy() / net.clip for h in net.hidden(x, "mode")]
        ann_pred = net(x, "mode").argmax(1).numpy()
    for rate, act in zip(rates, ann, strict=True):
        assert np.mean(np.abs(rate - act)) < 0.1  # quantization step is 1/3
    y = digits.test[1][:200].numpy()
    snn_acc, ann_acc = np.mean(scores.argmax(1) == y), np.mean(ann_pred == y)
    assert snn_acc > ann_acc - 0.05 and np.mean(scores.argmax(1) == ann_pred) > 0.8
    probs = torch.softmax(torch.tensor(snn.output_scale * scores / 96), -1)
    assert probs.shape == (200, 10)


def test_negative_gamma_flips_weight_signs(trained, mirrored, digits):
    x = digits.test[0][:50]
    with torch.no_grad():
        torch.testing.assert_close(
            mirrored.network.eval()(x, "mode"), trained.network.eval()(x, "mode")
        )
    assert (mirrored.network.norms[0].weight < 0).any()
    for weights in ("sample", "mode"):
        a, b = convert(trained, weights=weights), convert(mirrored, weights=weights)
        for la, lb in zip(a.layers, b.layers, strict=True):
            np.testing.assert_allclose(lb.prob, la.prob, atol=1e-6)
            np.testing.assert_allclose(lb.threshold, la.threshold, rtol=1e-6)
            np.testing.assert_allclose(lb.bias, la.bias, rtol=1e-5, atol=1e-6)


def test_folding_probabilities_and_output_scale(trained):
    net = trained.network
    snn = convert(trained)
    mode = convert(trained, weights="mode")
    assert snn.widths == net.widths == mode.widths
    prob = torch.sigmoid(2 * net.layers[1].lam.detach()).double().numpy()
    gamma = net.norms[1].weight.detach().numpy()
    expected = np.where(gamma[:, None] < 0, 1 - prob, prob)
    np.testing.assert_allclose(snn.layers[1].prob, expected, atol=1e-6)
    assert set(np.unique(mode.layers[1].prob)) <= {0.0, 1.0}
    for layer in snn.layers[:-1]:
        assert layer.spiking and np.all(layer.threshold > 0)
        np.testing.assert_allclose(layer.initial, layer.threshold / 2)
    out = snn.layers[-1]
    assert not out.spiking and np.all(out.initial == 0)
    np.testing.assert_allclose(snn.output_scale, net.gain * net.clip * trained.output_scale)
    np.testing.assert_allclose(
        out.bias, net.out_bias.detach().double().numpy() / (net.gain * net.clip), rtol=1e-6
    )
    assert mode.output_scale == pytest.approx(net.gain * net.clip * trained.output_scale_mode)


def test_threshold_scales_multiply_thresholds_and_are_validated(trained):
    base = convert(trained)
    scaled = convert(trained, threshold_scales=[2.0, 0.5])
    np.testing.assert_allclose(scaled.layers[0].threshold, 2 * base.layers[0].threshold)
    np.testing.assert_allclose(scaled.layers[1].threshold, 0.5 * base.layers[1].threshold)
    np.testing.assert_allclose(scaled.layers[0].bias, base.layers[0].bias)
    with pytest.raises(ModelInputError, match="threshold_scales"):
        convert(trained, threshold_scales=[1.0])
    with pytest.raises(ModelInputError, match="threshold_scales"):
        convert(trained, threshold_scales=[1.0, -1.0])
    with pytest.raises(ModelInputError, match="weights"):
        convert(trained, weights="mean")
