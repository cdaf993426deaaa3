"""Convolutional Bayesian binary networks: training (BayesBiNN and STE), per-channel
conversion, settings and save/load."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.baselines import train_ste
from models.conversion import convert
from models.datasets import load_dataset
from models.errors import ModelInputError
from models.io import SETTINGS_FILE, load_model, save_model
from models.network import BayesBinaryNet
from models.training import TrainConfig, image_shape, train_model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def trained(digits):
    cfg = TrainConfig(conv="4,6p", widths=(16,), epochs=4, calib_samples=2, bn_samples=1)
    return train_model(cfg, digits, progress=False)


def accuracy(model, digits, mode="mode"):
    with torch.no_grad():
        logits = model.network.eval()(digits.test[0], mode)
    return float((logits.argmax(1) == digits.test[1]).float().mean())


def test_bayesbinn_and_ste_train_a_conv_net_above_chance(trained, digits):
    net = trained.network
    assert net.input_shape == (1, 8, 8) and [str(b) for b in net.blocks] == ["4", "6p"]
    assert net.widths == (96, 16, 10) and len(net.layers) == 4 and len(net.norms) == 3
    assert accuracy(trained, digits) > 0.4  # chance is 0.1
    assert trained.metrics["val_accuracy"] > 0.4
    ste = train_ste(TrainConfig(method="ste", conv="4p", widths=(16,), epochs=4), digits)
    assert ste.config.method == "ste" and ste.config.conv == "4p"
    assert accuracy(ste, digits) > 0.4
    assert all(layer.lam.abs().max() <= 1 for layer in ste.network.layers)


def test_weight_modes_draw_kernels_like_matrices():
    net = BayesBinaryNet((8, 10), input_shape=(2, 4, 4), blocks="2p", lam_init=2.0)
    conv = net.layers[0]
    assert conv.lam.shape == (2, 18)
    x = torch.rand(3, 32)
    image = x.view(3, 2, 4, 4)
    kernel = torch.where(conv.lam >= 0, 1.0, -1.0).view(2, 2, 3, 3)
    expected = F.conv2d(image, kernel, padding=1)
    torch.testing.assert_close(conv(image, "mode"), expected)
    # The kernel index is (c_in * 3 + ky) * 3 + kx, ky = 0 the row above the output pixel.
    only = torch.zeros(2, 18)
    only[1, (1 * 3 + 0) * 3 + 2] = 1.0  # output channel 1 reads channel 1, above and right
    with torch.no_grad():
        conv.lam.copy_(only * 5 - 5 * (1 - only))
    # All -1 but that one: out[1, y, x] = 2 * x[1, y - 1, x + 1] - (sum of the window).
    window = image[:, :, 0:3, 0:3].sum(dim=(1, 2, 3))  # the window of pixel (1, 1)
    got = conv(image, "mode")[:, 1, 1, 1]
    torch.testing.assert_close(got, 2 * image[:, 1, 0, 2] - window)
    for mode in ("relaxed", "sample", "mean", "ste"):
        assert net(x, mode).shape == (3, 10)


def test_conv_layers_fold_batchnorm_per_channel(trained, digits):
    net = trained.network
    snn = convert(trained, weights="mode")
    assert snn.conv_shapes == net.conv_shapes and snn.input_shape == (1, 8, 8)
    assert snn.widths == net.widths
    first, second = snn.layers[:2]
    assert first.prob.shape == (4, 9) and second.prob.shape == (6, 36)
    assert first.threshold.shape == (4,) and second.bias.shape == (6,)
    # A mirrored channel (w -> -w, mean -> -mean, gamma -> -gamma) computes the same function;
    # its conversion must undo the mirror.
    mirrored = copy.deepcopy(trained)
    with torch.no_grad():
        mirrored.network.layers[1].lam[::2] *= -1
        mirrored.network.norms[1].weight[::2] *= -1
        mirrored.network.norms[1].running_mean[::2] *= -1
    x = digits.test[0][:50]
    with torch.no_grad():
        torch.testing.assert_close(mirrored.network.eval()(x, "mode"), net.eval()(x, "mode"))
    for a, b in zip(convert(trained).layers, convert(mirrored).layers, strict=True):
        np.testing.assert_allclose(b.prob, a.prob, atol=1e-6)
        np.testing.assert_allclose(b.threshold, a.threshold, rtol=1e-6)
        np.testing.assert_allclose(b.bias, a.bias, rtol=1e-5, atol=1e-6)


def test_first_conv_layer_is_exact_at_t_equal_levels_minus_one(trained, digits):
    """IF neurons starting at half the threshold count the quantized ReLU's value in
    T = L - 1 steps of a constant input: per channel and pixel, as for dense layers."""
    net = trained.network.eval()
    snn = convert(trained, weights="mode")
    x = digits.test[0][:100]
    with torch.no_grad():
        ann = net.hidden(x, "mode")[0].numpy() / net.clip  # block "4": no pooling
    layer = snn.layers[0]
    kernel = torch.from_numpy(np.where(layer.prob >= 0.5, 1.0, -1.0)).view(4, 1, 3, 3)
    current = F.conv2d(x.double().view(-1, 1, 8, 8), kernel, padding=1).numpy()
    per = (slice(None), None, None)
    v = np.broadcast_to(layer.initial[per], current.shape).copy()
    count = np.zeros_like(current)
    for _ in range(net.levels - 1):
        v += current + layer.bias[per]
        fired = v >= layer.threshold[per]
        v -= fired * layer.threshold[per]
        count += fired
    rates = count / (net.levels - 1)
    assert np.mean(np.isclose(rates, ann, atol=1e-6)) > 0.995


def test_save_and_load_round_trip(trained, digits, tmp_path):
    save_model(trained, tmp_path / "m")
    settings = json.loads((tmp_path / "m" / SETTINGS_FILE).read_text())
    assert settings["conv"] == "4,6p" and settings["input_shape"] == [1, 8, 8]
    assert settings["config"]["conv"] == "4,6p"
    loaded = load_model(tmp_path / "m")
    x = digits.test[0][:40]
    with torch.no_grad():
        torch.testing.assert_close(loaded.network(x, "mode"), trained.network.eval()(x, "mode"))
    assert loaded.network.conv_shapes == trained.network.conv_shapes
    for a, b in zip(convert(loaded).layers, convert(trained).layers, strict=True):
        np.testing.assert_array_equal(a.prob, b.prob)
        assert a.conv == b.conv


def test_settings_and_image_shapes():
    assert TrainConfig(conv=" 8P, 16p ").conv == "8p,16p"
    assert "conv" not in TrainConfig().to_dict()  # an MLP's settings (and cache keys) as before
    assert TrainConfig.from_dict(TrainConfig(conv="4p").to_dict()).conv == "4p"
    assert TrainConfig(conv="4p", widths=()).widths == ()  # the classifier alone after it
    with pytest.raises(ModelInputError, match="conv: 'x3'"):
        TrainConfig(conv="x3")
    with pytest.raises(ModelInputError, match="widths"):
        TrainConfig(widths=())

    class Splits:
        input_dim, num_classes = 784, 10

    assert image_shape(Splits()) == (1, 28, 28)
    assert image_shape(Splits(), (4, 14, 14)) == (4, 14, 14)
    with pytest.raises(ModelInputError, match="input_shape"):
        image_shape(Splits(), (3, 28, 28))
    with pytest.raises(ModelInputError, match="pools a 1x1 map"):
        BayesBinaryNet((1, 10), input_shape=(1, 2, 2), blocks="2p,2p")
    with pytest.raises(ModelInputError, match="take 10 inputs"):
        BayesBinaryNet((10, 10), input_shape=(1, 4, 4), blocks="2p")
