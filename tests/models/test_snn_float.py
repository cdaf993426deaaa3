"""The float SNN simulator against hand-worked spike trains and a step-by-step reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwmodel.template import time_segments
from models.errors import ModelInputError
from models.snn_core import spike_counts, step_counts
from models.snn_float import sample_weights, simulate
from models.snn_spec import ConvertedLayer, ConvertedSNN


def _layer(prob, threshold, bias, initial, spiking=True) -> ConvertedLayer:
    arr = [np.asarray(v, dtype=np.float64) for v in (prob, threshold, bias, initial)]
    return ConvertedLayer(*arr, spiking=spiking)


def hand_network() -> ConvertedSNN:
    """2-2-2-2 network with deterministic weights (probs 0/1), worked by hand below.

    W0 = [[+1, -1], [+1, +1]], thresholds [1, 2], bias [0, -0.5], initial [0.5, 1].
    With x = [0.75, 0.25] the first-layer current plus bias is [0.5, 0.5] every step:
      neuron 0: v 0.5 -> 1.0 fire (0) -> 0.5 -> 1.0 fire (0) -> 0.5   spikes 1 0 1 0
      neuron 1: v 1.0 -> 1.5 -> 2.0 fire (0) -> 0.5 -> 1.0            spikes 0 1 0 0
    W1 = [[+1, +1], [+1, -1]], thresholds [1, 1], bias 0, initial [0, 0.5]; currents
    [1, 1], [1, -1], [1, 1], [0, 0]:
      neuron 0: v 0 -> 1 fire (0) -> 1 fire (0) -> 1 fire (0) -> 0      spikes 1 1 1 0
      neuron 1: v 0.5 -> 1.5 fire (0.5) -> -0.5 -> 0.5 -> 0.5           spikes 1 0 0 0
    W2 = [[+1, -1], [-1, -1]], bias [0.25, 0], initial [0, 1]; currents [0, -2], [1, -1],
    [1, -1], [0, 0]:  score 0 = 0 + 2 + 4 * 0.25 = 3,  score 1 = 1 - 4 = -3.
    """
    return ConvertedSNN(
        [
            _layer([[1, 0], [1, 1]], [1, 2], [0, -0.5], [0.5, 1]),
            _layer([[1, 1], [1, 0]], [1, 1], [0, 0], [0, 0.5]),
            _layer([[1, 0], [0, 0]], [1, 1], [0.25, 0], [0, 1], spiking=False),
        ]
    )


def random_network(widths, seed=0) -> ConvertedSNN:
    """Random dyadic network: every float sum is exact, so orders of summation agree."""
    rng = np.random.default_rng(seed)
    layers = []
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        spiking = index < len(widths) - 2
        threshold = rng.integers(1, 5, n_out).astype(float) if spiking else np.ones(n_out)
        layers.append(
            _layer(
                rng.uniform(0.05, 0.95, (n_out, n_in)),
                threshold,
                rng.integers(-4, 5, n_out) / 8,
                threshold / 2 if spiking else np.zeros(n_out),
                spiking,
            )
        )
    return ConvertedSNN(layers)


def reference(snn, x, weights, timesteps, ensemble, inputs=None):
    """Plain loops over runs, timesteps and layers; the first layer recomputed every step."""
    samples, n_layers = weights.samples, len(snn.layers)
    runs = samples if ensemble == "repeat" else 1
    scores, spikes = [], torch.zeros(x.shape[0], n_layers - 1)
    for run in range(runs):
        v = [
            torch.as_tensor(lay.initial, dtype=torch.float32).repeat(len(x), 1)
            for lay in snn.layers
        ]
        for t in range(timesteps):
            sample = run if ensemble == "repeat" else t * samples // timesteps
            signal = x if inputs is None else inputs[run, t].float()
            for index, layer in enumerate(snn.layers):
                w = weights.layers[index][sample].float()
                v[index] += signal @ w + torch.as_tensor(layer.bias, dtype=torch.float32)
                if index < n_layers - 1:
                    threshold = torch.as_tensor(layer.threshold, dtype=torch.float32)
                    signal = (v[index] >= threshold).float()
                    v[index] -= signal * threshold
                    spikes[:, index] += signal.sum(1)
        scores.append(v[-1])
    return torch.stack(scores), spikes


def test_hand_worked_network_repeat_and_time():
    snn, x = hand_network(), torch.tensor([[0.75, 0.25]])
    repeat = simulate(snn, x, timesteps=4, samples=2, ensemble="repeat", device="cpu")
    assert repeat.scores.tolist() == [[[3.0, -3.0]], [[3.0, -3.0]]]
    assert repeat.spikes.tolist() == [[6, 8]]  # (3 + 4 spikes) per run, two runs
    assert repeat.activity == [2.0, 0.75, 1.0]  # n0, then spikes per timestep per run
    assert repeat.synops.tolist() == [2 * 2 * 2 + 6 * 2 + 8 * 2]
    timed = simulate(snn, x, timesteps=4, samples=2, ensemble="time", device="cpu")
    assert timed.scores.tolist() == [[[3.0, -3.0]]]
    assert timed.spikes.tolist() == [[3, 4]]
    assert timed.synops.tolist() == [2 * 2 * 2 + 3 * 2 + 4 * 2]
    probs = repeat.probabilities(output_scale=2.0)
    expected = torch.softmax(torch.tensor([1.5, -1.5]), dim=0)  # 2 * score / T
    torch.testing.assert_close(probs[0], expected)


def test_time_segments_follow_the_template_schedule():
    for timesteps, samples in [(8, 3), (5, 2), (4, 4), (7, 1)]:
        got = [
            s for s, (t0, t1) in enumerate(time_segments(timesteps, samples)) for _ in range(t0, t1)
        ]
        assert got == [t * samples // timesteps for t in range(timesteps)]


@pytest.mark.parametrize("ensemble, samples", [("repeat", 3), ("time", 3), ("time", 6)])
def test_matches_step_by_step_reference(ensemble, samples):
    snn = random_network((12, 16, 8, 3), seed=1)
    x = torch.randint(0, 17, (5, 12)) / 16.0
    weights = sample_weights(snn, samples, seed=4, device="cpu")
    got = simulate(snn, x, 6, samples, ensemble=ensemble, device="cpu", weights=weights)
    scores, spikes = reference(snn, x, weights, 6, ensemble)
    assert got.spikes.sum() > 0
    assert torch.equal(got.scores, scores)
    assert torch.equal(got.spikes.float(), spikes)


def test_time_ensemble_switches_weights_at_segment_boundaries():
    """Sample s must drive exactly the timesteps t with t * S // T == s, and no others."""
    snn = random_network((6, 5, 2), seed=2)
    x = torch.full((1, 6), 0.5)
    weights = sample_weights(snn, 2, seed=1, device="cpu")
    got = simulate(snn, x, 5, 2, ensemble="time", device="cpu", weights=weights).scores
    shifted = reference(snn, x, weights, 5, "time")[0]  # uses t * S // T: segments 3 + 2
    assert torch.equal(got, shifted)
    swapped = type(weights)([w.flip(0) for w in weights.layers], weights.encoding)
    assert not torch.equal(got, reference(snn, x, swapped, 5, "time")[0])


@pytest.mark.parametrize("encoding", ["direct", "rate"])
def test_first_sample_does_not_depend_on_the_sample_count(encoding):
    """Draws are keyed by (seed, sample, layer): S = 2 and S = 5 share their first samples."""
    snn = random_network((12, 16, 8, 3), seed=7)
    x = torch.rand(6, 12, generator=torch.Generator().manual_seed(0))
    two, five = (
        simulate(snn, x, 4, samples, encoding=encoding, seed=3, device="cpu") for samples in (2, 5)
    )
    drawn = [sample_weights(snn, s, seed=3, encoding=encoding, device="cpu") for s in (2, 5)]
    for small, large in zip(drawn[0].layers, drawn[1].layers, strict=True):
        assert torch.equal(small, large[:2])
    assert not torch.equal(drawn[1].layers[0][0], drawn[1].layers[0][1])
    assert torch.equal(two.scores[0], five.scores[0])  # run 0 = weight sample 0
    assert torch.equal(two.scores[1], five.scores[1])
    assert not torch.equal(five.scores[0], five.scores[2])
    assert two.spikes.sum() > 0


def test_rate_encoding_of_binary_inputs_equals_direct_encoding():
    snn = random_network((10, 12, 4), seed=3)
    x = torch.randint(0, 2, (6, 10)).float()
    direct = simulate(snn, x, 5, 2, encoding="direct", seed=7, device="cpu")
    rate = simulate(snn, x, 5, 2, encoding="rate", seed=7, device="cpu")
    assert torch.equal(direct.scores, rate.scores)
    assert torch.equal(direct.spikes, rate.spikes)
    assert rate.activity[0] == pytest.approx(x.sum(1).mean().item())  # events, not dense n0


def test_rate_encoding_statistics_and_reference():
    snn = random_network((4, 6, 3), seed=5)
    x = torch.tensor([[0.0, 0.25, 0.5, 1.0]]).repeat(40, 1)
    got = simulate(snn, x, 100, 1, encoding="rate", seed=11, device="cpu")
    per_step = got.events[:, 0] / 100  # input spikes per timestep, expected sum(x) = 1.75
    standard_error = np.sqrt((0.25 * 0.75 + 0.25) / (100 * 40))
    assert abs(per_step.mean().item() - 1.75) < 4 * standard_error
    assert got.synops.tolist() == (got.events[:, 0] * 6 + got.events[:, 1] * 3).tolist()
    weights = sample_weights(snn, 2, seed=3, encoding="rate", device="cpu")
    small = simulate(snn, x[:3], 4, 2, encoding="rate", seed=3, device="cpu", weights=weights)
    generator = torch.Generator().manual_seed(3 + 1)
    inputs = torch.rand((2, 4, 3, 4), generator=generator) < x[:3]
    scores, spikes = reference(snn, x[:3], weights, 4, "repeat", inputs=inputs)
    assert torch.equal(small.scores, scores)
    assert torch.equal(small.spikes.float(), spikes)


@pytest.mark.parametrize(
    "shape, density",
    [((3, 8, 5, 70), 0.3), ((1, 300, 2, 9), 0.9), ((4, 1, 1, 1), 1.0), ((2, 6, 0, 16), 0.5)],
)
def test_integer_spike_counts_equal_the_float64_sums(shape, density):
    """The simulators count spikes in integers (int8 product, uint8 sum over time): the same
    figures as the float64 sums they replace, including past 255 timesteps."""
    generator = torch.Generator().manual_seed(sum(shape))
    train = torch.rand(shape, generator=generator) < density
    per_image = spike_counts(train).sum(dim=(0, 1), dtype=torch.int64)
    assert torch.equal(per_image.double(), train.sum(dim=(0, 1, 3), dtype=torch.float64))
    for run in range(shape[0]):
        counts = step_counts(train[run])
        assert not counts.dtype.is_floating_point
        assert torch.equal(counts.double(), train[run].sum(0, dtype=torch.float64))


def test_deterministic_for_a_seed():
    snn = random_network((8, 10, 10, 3), seed=6)
    x = torch.rand(4, 8)
    runs = [simulate(snn, x, 4, 3, encoding="rate", seed=s, device="cpu") for s in (1, 1, 2)]
    assert torch.equal(runs[0].scores, runs[1].scores)
    assert torch.equal(runs[0].events, runs[1].events)
    assert not torch.equal(runs[0].scores, runs[2].scores)


def test_input_errors_name_the_field_and_fix():
    snn = hand_network()
    x = torch.tensor([[0.5, 0.5]])
    with pytest.raises(
        ModelInputError, match="samples: 5 exceeds timesteps 4.*samples <= timesteps"
    ):
        simulate(snn, x, 4, 5, ensemble="time", device="cpu")
    with pytest.raises(ModelInputError, match=r"x: shape \(1, 3\) must be \[batch, 2\]"):
        simulate(snn, torch.zeros(1, 3), 4, 1, device="cpu")
    with pytest.raises(ModelInputError, match="x: values must lie in"):
        simulate(snn, x * 3, 4, 1, device="cpu")
    with pytest.raises(ModelInputError, match="encoding: 'poisson'"):
        simulate(snn, x, 4, 1, encoding="poisson", device="cpu")
    weights = sample_weights(snn, 2, device="cpu")
    with pytest.raises(ModelInputError, match="weights: drawn for 2 samples"):
        simulate(snn, x, 4, 3, device="cpu", weights=weights)
