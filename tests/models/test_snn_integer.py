"""The integer hardware-exact SNN against a slow per-neuron reference and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwmodel.template import (
    AcceleratorConfig,
    IntegerLayer,
    IntegerNetwork,
    random_codes,
    sample_signs,
    scale_current,
)
from models.errors import ModelInputError
from models.snn_core import pixel_currents, pixel_offset
from models.snn_integer import (
    class_probabilities,
    draw_weights,
    numerics_reason,
    quantize_input,
    quantize_network,
    run_integer,
    sampled_weights,
    score_divisor,
)
from models.snn_spec import ConvertedLayer, ConvertedSNN


def random_snn(widths, rng, threshold=3.0):
    """A converted network with random posteriors, thresholds around `threshold` units."""
    layers = []
    last = len(widths) - 2
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        thr = np.ones(n_out) if index == last else rng.uniform(0.5, 1.5, n_out) * threshold
        layers.append(
            ConvertedLayer(
                prob=rng.beta(0.5, 0.5, (n_out, n_in)),
                threshold=thr,
                bias=rng.normal(0.0, 0.5, n_out),
                initial=np.zeros(n_out) if index == last else thr / 2,
                spiking=index != last,
            )
        )
    return ConvertedSNN(layers=layers, output_scale=1.5)


def template_signs(net: IntegerNetwork, cfg: AcceleratorConfig, sample: int) -> list:
    """Each layer's +-1 weights of `sample` [n_out, n_in] from the template's own primitives
    (`random_codes`, `sample_signs`), not from the model's vectorised draw."""
    out = []
    for index, layer in enumerate(net.layers):
        n_out, n_in = layer.codes.shape
        r = random_codes(cfg.seed, sample, index, n_in, n_out, cfg.reuse, cfg.k_bits)
        out.append(sample_signs(layer.codes, r).astype(np.int64))
    return out


def reference_run(net: IntegerNetwork, x: np.ndarray, cfg: AcceleratorConfig):
    """Image by image, sample by sample, neuron by neuron: the template's prose, literally."""
    n_layers = len(net.layers)
    lo, hi = -(1 << (cfg.membrane_bits - 1)), (1 << (cfg.membrane_bits - 1)) - 1

    def step(state, w, inputs, index):
        layer = net.layers[index]
        fired = np.zeros(layer.codes.shape[0], dtype=bool)
        for j in range(layer.codes.shape[0]):
            current = int(sum(int(w[j, i]) * int(inputs[i]) for i in range(len(inputs))))
            v = state[j] + int(scale_current(current, layer.shift)) + int(layer.bias[j])
            v = min(max(v, lo), hi)
            if layer.spiking and v >= layer.threshold[j]:
                v -= int(layer.threshold[j])
                fired[j] = True
            state[j] = v
        return fired

    scores, spikes = [], np.zeros((len(x), n_layers - 1), dtype=np.int64)
    for b, image in enumerate(x):
        runs = []
        for run in range(cfg.runs):
            state = [[int(v) for v in layer.initial] for layer in net.layers]
            for t in range(cfg.timesteps):
                sample = run if cfg.ensemble == "repeat" else t * cfg.samples // cfg.timesteps
                w = template_signs(net, cfg, sample)
                inputs = image
                for index in range(n_layers):
                    inputs = step(state[index], w[index], inputs, index)
                    if net.layers[index].spiking:
                        spikes[b, index] += inputs.sum()
            runs.append(state[-1])
        scores.append(runs)
    return np.array(scores).transpose(1, 0, 2), spikes


DESIGNS = [
    dict(ensemble="repeat", samples=3, timesteps=3, reuse=1, k_bits=4, membrane_bits=8),
    dict(ensemble="repeat", samples=4, timesteps=2, reuse=4, k_bits=8, sample_lanes=3),
    dict(ensemble="time", samples=3, timesteps=5, reuse=2, k_bits=3, membrane_bits=6),
    dict(ensemble="time", samples=2, timesteps=4, reuse=8, k_bits=1, input_bits=4),
]


@pytest.mark.parametrize("design", DESIGNS)
def test_matches_slow_reference(design):
    rng = np.random.default_rng(len(str(design)))
    cfg = AcceleratorConfig(widths=(7, 6, 5, 4), pe=2, seed=11, **design)
    net = quantize_network(random_snn(cfg.widths, rng, threshold=2.0), cfg)
    x = quantize_input(rng.uniform(0, 1, (3, 7)), cfg.input_bits)
    result = run_integer(net, x, cfg)
    scores, spikes = reference_run(net, x, cfg)
    np.testing.assert_array_equal(result.scores, scores)
    np.testing.assert_array_equal(result.spikes, spikes)
    assert result.spikes.sum() > 0  # the test exercises spiking, not just silence


def test_output_layer_that_may_saturate_is_stepped():
    # A larger output shift lets T steps saturate the output membrane: the scores can no
    # longer be summed over time in one product and must follow the per-step reference.
    rng = np.random.default_rng(8)
    cfg = AcceleratorConfig(widths=(7, 6, 4), samples=2, timesteps=4, membrane_bits=8, seed=5)
    net = quantize_network(random_snn(cfg.widths, rng, threshold=2.0), cfg)
    net.layers[-1].shift += 3
    x = quantize_input(rng.uniform(0, 1, (6, 7)), cfg.input_bits)
    result = run_integer(net, x, cfg)
    scores, spikes = reference_run(net, x, cfg)
    assert np.abs(scores).max() == 128  # saturated somewhere (at -128)
    np.testing.assert_array_equal(result.scores, scores)
    np.testing.assert_array_equal(result.spikes, spikes)


def test_weights_drawn_once_serve_every_call():
    rng = np.random.default_rng(9)
    cfg = AcceleratorConfig(widths=(8, 6, 3), samples=3, timesteps=3, seed=4, reuse=2)
    net = quantize_network(random_snn(cfg.widths, rng, threshold=2.0), cfg)
    x = quantize_input(rng.uniform(0, 1, (5, 8)), cfg.input_bits)
    weights = draw_weights(net, cfg)
    assert [tuple(w.shape) for w in weights.layers] == [(3, 8, 6), (3, 6, 3)]
    for sample in range(3):
        for drawn, single in zip(weights.layers, sampled_weights(net, cfg, sample), strict=True):
            np.testing.assert_array_equal(drawn[sample].numpy(), single)
    whole = run_integer(net, x, cfg, weights)
    parts = [run_integer(net, x[i : i + 2], cfg, weights) for i in (0, 2, 4)]
    np.testing.assert_array_equal(whole.scores, np.concatenate([p.scores for p in parts], axis=1))
    np.testing.assert_array_equal(whole.scores, run_integer(net, x, cfg).scores)
    other = AcceleratorConfig(widths=(8, 6, 3), samples=3, timesteps=3, seed=5, reuse=2)
    with pytest.raises(ModelInputError, match="weights"):
        run_integer(net, x, other, weights)
    with pytest.raises(ModelInputError, match="weights"):
        run_integer(quantize_network(random_snn(cfg.widths, rng), cfg), x, cfg, weights)


@pytest.mark.parametrize("batch", [0, 1, 7])
def test_pixel_currents_in_int8_equal_the_float_product(batch):
    """(x - 128) W + 128 * column sums: exact for pixels 0..255, the extremes included."""
    rng = np.random.default_rng(batch)
    weight = torch.from_numpy(rng.choice(np.array([-1, 1], dtype=np.int8), (3, 40, 9)))
    x = torch.from_numpy(rng.integers(0, 256, (batch, 40)))
    if batch:
        x[0], x[-1, :20] = 255, 0
    expected = torch.matmul(x.double()[None], weight.double())
    got = pixel_currents(x, weight, pixel_offset(weight))
    assert got.dtype == torch.int32
    assert torch.equal(got.double(), expected)
    assert torch.equal(pixel_currents(x, weight), got)  # offset computed when not given


def test_quantize_input_rounds_and_clips():
    np.testing.assert_array_equal(
        quantize_input(np.array([[0.0, 0.5, 1.0, 1.2, -0.1, 0.002]]), 8),
        [[0, 128, 255, 255, 0, 1]],
    )


def test_quantize_network_units_and_shifts():
    rng = np.random.default_rng(0)
    snn = random_snn((10, 8, 3), rng, threshold=3.0)
    cfg = AcceleratorConfig(widths=(10, 8, 3), membrane_bits=16, input_bits=8, timesteps=4)
    net = quantize_network(snn, cfg)
    first, out = net.layers
    # First layer: thresholds in units of 255 * current, shifted to sit below 2**(b-2).
    assert first.threshold.max() < 1 << 14
    assert first.threshold.max() >= 1 << 13  # the largest shift that fits was taken
    expected = np.floor(snn.layers[0].threshold * 255 * (1 << first.shift) + 0.5)
    np.testing.assert_array_equal(first.threshold, expected)
    # Output layer: T timesteps of the worst-case current cannot saturate the membrane.
    worst = 4 * (8 + np.abs(snn.layers[1].bias).max()) * (1 << out.shift)
    assert worst <= (1 << 15) - 1 < 2 * worst
    assert score_divisor(net) == 1 << out.shift
    assert not out.spiking and first.spiking


def test_oversized_thresholds_scale_down_instead_of_clipping():
    rng = np.random.default_rng(1)
    snn = random_snn((10, 4, 2), rng, threshold=1000.0)
    cfg = AcceleratorConfig(widths=(10, 4, 2), membrane_bits=8, timesteps=4)
    first = quantize_network(snn, cfg).layers[0]
    # 1000 * 255 current units need a right shift of 13 to sit below 2**6 = 64.
    assert first.shift == -13
    assert first.threshold.max() < 64 <= 2 * first.threshold.max()
    expected = np.floor(snn.layers[0].threshold * 255 * 2.0**-13 + 0.5)
    np.testing.assert_array_equal(first.threshold, expected)  # rounded, not clipped
    assert len(set(first.threshold.tolist())) > 1
    # The flooring right shift loses (1 - 2**-13) / 2 units per step on average: the bias
    # carries it back.
    loss = (1 - 2.0**-13) / 2
    bias = np.floor(snn.layers[0].bias * 255 * 2.0**-13 + loss + 0.5)
    np.testing.assert_array_equal(first.bias, bias)
    assert numerics_reason(snn, cfg) is None  # thresholds of 20+ units resolve T = 4
    long_runs = AcceleratorConfig(widths=(10, 4, 2), membrane_bits=8, timesteps=32)
    reason = numerics_reason(snn, long_runs)
    assert reason is not None and reason.startswith("membrane_bits: 8 bits leave layer 0's")
    assert "(shift -13), under T = 32" in reason
    # At 5 bits the thresholds would need a shift beyond the current's own 13 bits.
    narrow = AcceleratorConfig(widths=(10, 4, 2), membrane_bits=5, timesteps=4)
    assert numerics_reason(snn, narrow) == (
        "membrane_bits: layer 0's thresholds, biases and initial membranes do not fit 5 bits "
        "at any shift; use more membrane bits"
    )


def test_biases_set_the_scale_when_they_outgrow_the_thresholds():
    rng = np.random.default_rng(3)
    snn = random_snn((10, 4, 2), rng, threshold=2.0)
    snn.layers[0].bias[:] = [-12.0, 0.0, 3.0, 1.0]  # 12 * 255 = 3060 current units
    cfg = AcceleratorConfig(widths=(10, 4, 2), membrane_bits=12, timesteps=4)
    first = quantize_network(snn, cfg).layers[0]
    # Thresholds alone (<= 3 * 255) would allow shift 1; the bias -3060 needs <= 2047: -1.
    assert first.shift == -1
    assert first.bias.min() == np.floor(-3060 / 2 + 0.25 + 0.5) >= -2048
    assert first.threshold.max() < 1 << 10


def test_widths_mismatch_is_an_input_error():
    snn = random_snn((10, 4, 2), np.random.default_rng(2))
    with pytest.raises(ModelInputError, match="widths"):
        quantize_network(snn, AcceleratorConfig(widths=(10, 5, 2)))
    cfg = AcceleratorConfig(widths=(10, 4, 2), input_bits=4)
    net = quantize_network(snn, cfg)
    with pytest.raises(ModelInputError, match="x_int"):
        run_integer(net, np.full((1, 10), 16), cfg)


def _constant_net(bias, shift=0, codes_value=1, spiking=False, k=1, n_in=2):
    layer = IntegerLayer(
        codes=np.full((1, n_in), codes_value, dtype=np.uint16),
        threshold=np.array([1]),
        bias=np.array([bias]),
        initial=np.array([0]),
        shift=shift,
        spiking=spiking,
    )
    return IntegerNetwork(layers=[layer], input_bits=4)


def test_membrane_saturates_both_ways():
    cfg = AcceleratorConfig(
        widths=(2, 1), k_bits=1, membrane_bits=6, samples=1, timesteps=5, input_bits=4
    )
    # Weights all +1 (top code), input 15 + 15 = 30 per step plus bias 10: 40 > 31 at once.
    up = run_integer(_constant_net(10), np.array([[15, 15]]), cfg)
    assert up.scores.tolist() == [[[31]]]
    # All -1 (code 0): -30 per step saturates at -32, not below.
    down = run_integer(_constant_net(0, codes_value=0), np.array([[15, 15]]), cfg)
    assert down.scores.tolist() == [[[-32]]]
    # Unsaturated: 5 steps of (3 + 1) with shift 1 = 5 * (3 * 2 + 1) = 35 > 31 -> 31;
    # 4 steps would be 28: check with T = 4.
    cfg4 = AcceleratorConfig(
        widths=(2, 1), k_bits=1, membrane_bits=6, samples=1, timesteps=4, input_bits=4
    )
    mid = run_integer(_constant_net(1, shift=1), np.array([[1, 2]]), cfg4)
    assert mid.scores.tolist() == [[[28]]]


def test_reuse_shares_one_random_number_per_group():
    rng = np.random.default_rng(3)
    n_in, n_out, reuse = 5, 6, 4
    snn = random_snn((n_in, n_out), rng)
    snn.layers[0].prob[:] = 0.5  # every weight compares the same code with its random number
    cfg = AcceleratorConfig(widths=(n_in, n_out), reuse=reuse, k_bits=8, samples=3)
    net = quantize_network(snn, cfg)
    for sample in range(3):
        w = sampled_weights(net, cfg, sample)[0]  # [n_in, n_out], input-major like the index
        flat = w.ravel()  # index = i * n_out + j
        groups = np.arange(flat.size) // reuse
        for g in np.unique(groups):
            assert len(set(flat[groups == g].tolist())) == 1
        assert len(set(flat.tolist())) == 2  # and groups do differ
    # Without reuse the same weights are drawn independently: some group splits.
    w1 = sampled_weights(net, AcceleratorConfig(widths=(n_in, n_out), k_bits=8), 0)[0].ravel()
    assert any(len(set(w1[groups == g].tolist())) > 1 for g in np.unique(groups))


def test_k1_gives_the_mode_weights():
    rng = np.random.default_rng(4)
    snn = random_snn((9, 7, 3), rng)
    cfg = AcceleratorConfig(widths=(9, 7, 3), k_bits=1, samples=4)
    net = quantize_network(snn, cfg)
    for sample in range(4):
        for layer, w in zip(snn.layers, sampled_weights(net, cfg, sample), strict=True):
            np.testing.assert_array_equal(w.T, np.where(layer.prob >= 0.5, 1.0, -1.0))


@pytest.mark.parametrize("reuse", [1, 4])
def test_k1_weights_are_the_codes_read_as_signs(reuse: int):
    """The deterministic hardware (hwmodel.plan: k = 1 builds no PRNG) reads each 1-bit code as
    its weight's sign; the integer model still draws through the PRNG, and must get the same
    weights in every sample, whatever the seed and reuse."""
    rng = np.random.default_rng(12)
    snn = random_snn((11, 9, 4), rng)
    for seed in (0, 7, 2**32 - 1):
        cfg = AcceleratorConfig(widths=(11, 9, 4), k_bits=1, samples=3, reuse=reuse, seed=seed)
        assert cfg.deterministic
        net = quantize_network(snn, cfg)
        drawn = draw_weights(net, cfg)
        for layer, weights in zip(net.layers, drawn.layers, strict=True):
            assert set(np.unique(layer.codes).tolist()) == {0, 1}
            signs = np.where(layer.codes == 1, 1, -1).T  # [n_in, n_out], as drawn
            for sample in range(cfg.samples):
                np.testing.assert_array_equal(weights[sample].numpy(), signs)


def test_time_ensemble_switches_samples_at_segment_boundaries():
    rng = np.random.default_rng(5)
    snn = random_snn((6, 5, 3), rng, threshold=2.0)
    x = quantize_input(rng.uniform(0, 1, (4, 6)), 8)
    base = dict(widths=(6, 5, 3), timesteps=4, membrane_bits=12, seed=3)
    one = AcceleratorConfig(ensemble="time", samples=1, **base)
    rep = AcceleratorConfig(ensemble="repeat", samples=1, **base)
    net = quantize_network(snn, one)
    # One sample: the time ensemble is the first repeat run.
    np.testing.assert_array_equal(run_integer(net, x, one).scores, run_integer(net, x, rep).scores)
    # Two samples over four steps: sample 0 for t < 2, sample 1 after (the slow reference).
    two = AcceleratorConfig(ensemble="time", samples=2, **base)
    result = run_integer(net, x, two)
    scores, _ = reference_run(net, x, two)
    np.testing.assert_array_equal(result.scores, scores)
    assert result.scores.shape == (1, 4, 3)
    assert not np.array_equal(result.scores, run_integer(net, x, one).scores)


def test_cycles_follow_the_schedule_by_hand():
    # widths 4-3-2 with 2 neurons per cycle, memory sampling, one sample, one step; every
    # array is at most 8 deep (registers, no read latency); a loop pass costs trip + depth + 2,
    # the depth being the loop's last register stage (hwmodel/pipeline.py):
    # load 4+64+2, resets 2+1+2 and 1+1+2, keys 2+2+2 (three key stages), sampling 8+4+2
    # and 3+4+2 (PRNG select and rounds 0-3, sign compared and written 4), first layer
    # 8+1+2 (the register read and add in stage 1), fire 2+5+2 (scale, integrate, saturate,
    # fire, queue, count), events e+2+2 (walk, address, the read and add), output pass 1+2+2
    # (written from the saturate stage), scores 2+65+2 (select registered, beat, bus), counts
    # 2+64+2, handshake 2:
    # 276 + e cycles.
    cfg = AcceleratorConfig(widths=(4, 3, 2), pe=2, samples=1, timesteps=1, membrane_bits=10)
    snn = random_snn(cfg.widths, np.random.default_rng(6), threshold=0.5)
    net = quantize_network(snn, cfg)
    result = run_integer(net, np.array([[255, 255, 0, 128], [0, 0, 0, 0]]), cfg)
    hidden_spikes = result.spikes[:, 0]
    np.testing.assert_array_equal(result.cycles, 276 + hidden_spikes)
    np.testing.assert_array_equal(result.events[:, 0, 0, 1], hidden_spikes)
    assert result.events[:, 0, 0, 0].tolist() == [4, 4]


def test_lane_events_count_inputs_spiking_in_any_lane():
    rng = np.random.default_rng(7)
    base = dict(widths=(8, 10, 3), samples=4, timesteps=3, seed=2, membrane_bits=12)
    one_lane = AcceleratorConfig(sample_lanes=1, **base)
    two_lanes = AcceleratorConfig(sample_lanes=2, **base)
    net = quantize_network(random_snn(base["widths"], rng, threshold=2.0), one_lane)
    x = quantize_input(rng.uniform(0, 1, (5, 8)), 8)
    a, b = run_integer(net, x, one_lane), run_integer(net, x, two_lanes)
    np.testing.assert_array_equal(a.scores, b.scores)  # lanes change time, never results
    assert b.events.shape == (5, 2, 3, 2)
    pairs = a.events[..., 1].reshape(5, 2, 2, 3)  # [B, round, lane, T]
    assert (b.events[..., 1] >= pairs.max(axis=2)).all()
    assert (b.events[..., 1] <= pairs.sum(axis=2)).all()
    assert b.cycles.sum() < a.cycles.sum()


def test_class_probabilities_average_runs():
    scores = np.array([[[4, 0]], [[0, 4]]])  # two runs, one image, opposite votes
    probs = class_probabilities(scores, output_scale=1.0, divisor=2.0, timesteps=1)
    np.testing.assert_allclose(probs, [[0.5, 0.5]])
    single = class_probabilities(scores[:1], output_scale=1.0, divisor=2.0, timesteps=1)
    np.testing.assert_allclose(single, [[np.exp(2) / (np.exp(2) + 1), 1 / (np.exp(2) + 1)]])
