"""The worked example of docs/accelerator.md ("Convolutions"): a convolutional design whose
loops, cycles and convolution components are counted by hand there; the model must give every
figure, and the integer model's schedule count on sampled images must be that hand count.

Design: input 1 x 28 x 28, blocks 8p,16p, dense 784-64-10, 16 PEs, T = 4, S = 2 (repeat, one
lane), k = 4, b = 12, 8-bit pixels, memory sampling; the head's inputs fire at 0.1.
"""

from dataclasses import replace

import numpy as np
import pytest

from hwmodel.estimate import estimate
from hwmodel.plan import build_plan
from hwmodel.template import AcceleratorConfig, IntegerLayer, IntegerNetwork

DESIGN = AcceleratorConfig(
    widths=(784, 64, 10), conv="8p,16p", input_shape="1x28x28", pe=16, timesteps=4,
    samples=2, k_bits=4, membrane_bits=12, input_bits=8,
)  # fmt: skip


def test_the_plan_is_the_hand_count() -> None:
    plan = build_plan(DESIGN)
    assert (plan.rows, plan.slots, plan.rounds, plan.weight_samples) == ((1, 1, 4, 1), (3, 8), 2, 2)
    assert [DESIGN.current_bits(layer) for layer in range(4)] == [13, 8, 11, 8]
    kinds = {a.name: a.kind for a in plan.arrays}
    assert kinds["image"] == kinds["fmap_0"] == "bram"
    assert (
        kinds["lines_0"] == kinds["lines_1"] == kinds["pool_0"] == kinds["queue_mask_1"] == "lutram"
    )
    assert kinds["pool_1"] == kinds["membrane_0"] == kinds["window_1"] == "registers"
    loops = {loop.name: (loop.passes, loop.trip, loop.depth) for loop in plan.loops}
    assert loops["fill_0"] == (2, 29, 2) and loops["conv_0"] == (2, 28 * 28 * 4 * 3, 13)
    assert loops["fill_1"] == (2, 15, 2) and loops["conv_1"] == (2, 14 * 14 * 4 * 8, 10)
    assert loops["events_2"] == (8, 4, 4) and loops["fire_2"] == (8, 4, 5)
    assert loops["events_3"] == (8, 1, 3) and loops["fire_3"] == (8, 1, 2)
    assert loops["reset_2"] == (2, 4, 1) and loops["reset_3"] == (2, 1, 1)
    assert [loops[f"sample_{layer}"][1] for layer in range(4)] == [9, 72, 3136, 64]
    stages = [s.name for s in plan.loop("conv_0").stages]
    assert stages[2:9] == ["window", "taps", "taps1", "taps2", "taps3", "current", "scale"]
    assert plan.fixed_cycles == 39458 and plan.cycles_per_event() == (0, 0, 4, 1)


def test_cycles_ops_and_conv_components_are_the_hand_count() -> None:
    r = estimate(DESIGN, spike_rate=0.1)
    assert r["cycles_per_layer"] == pytest.approx([18912, 12606, 150 + 4 * 627.2, 88 + 51.2])
    assert (r["cycles_sampling"], r["cycles_io"]) == (6626, 1076)
    assert r["cycles"] == pytest.approx(42018)
    assert r["latency_us"] == pytest.approx(420.18)
    assert r["ops_per_inference"] == 5328896
    assert r["components"]["conv_pe"] == {"lut": 4288, "ff": 1913, "bram18": 0, "dsp": 0}
    assert r["components"]["conv_buffers"] == {"lut": 592, "ff": 1288, "bram18": 1, "dsp": 0}
    assert r["calibrated"] is False


def random_network(rng: np.random.Generator) -> IntegerNetwork:
    """DESIGN's network with random codes, thresholds and biases that make it spike."""
    k = DESIGN.k_bits
    shapes = DESIGN.conv_shapes
    layers = []
    specs = [  # (n_out, n_in, shift, threshold, conv)
        (8, 9, -2, 150, shapes[0]),
        (16, 72, 0, 6, shapes[1]),
        (64, 784, 0, 12, None),
        (10, 64, 0, 1, None),
    ]
    for index, (n_out, n_in, shift, threshold, conv) in enumerate(specs):
        layers.append(
            IntegerLayer(
                codes=rng.integers(0, 1 << k, size=(n_out, n_in)).astype(np.uint16),
                threshold=rng.integers(threshold, 2 * threshold + 1, n_out).astype(np.int64),
                bias=rng.integers(0, max(threshold // 4, 1) + 1, n_out).astype(np.int64),
                initial=np.zeros(n_out, dtype=np.int64),
                shift=shift,
                spiking=index < len(specs) - 1,
                conv=conv,
            )
        )
    return IntegerNetwork(layers=layers, input_bits=DESIGN.input_bits)


def integer_model():
    """models.snn_integer.run_integer (imports torch, which the plan tests do not need)."""
    pytest.importorskip("torch")
    from models.snn_integer import run_integer

    return run_integer


def test_the_integer_models_cycles_are_the_hand_counted_schedule() -> None:
    """On 4 random images of a random network of the design: the cycles are the hand count
    at the events the integer model counts, the head's first layer visits the last block's
    pooled spikes, and the estimate at the mean events predicts the mean cycles."""
    run_integer = integer_model()
    rng = np.random.default_rng(3)
    net = random_network(rng)
    assert net.conv_shapes == DESIGN.conv_shapes and net.widths == DESIGN.widths
    x = rng.integers(0, 256, size=(4, 784))
    result = run_integer(net, x, DESIGN)
    events = result.events.sum(axis=(1, 2))  # [image, layer] over rounds and timesteps
    assert (events[:, 2] > 0).all()  # the head sees spikes of the front
    # One lane: the head's first layer visits exactly the last block's pooled spikes.
    np.testing.assert_array_equal(events[:, 2], result.spikes[:, 1])
    np.testing.assert_array_equal(result.cycles, 39458 + 4 * events[:, 2] + events[:, 3])
    assert (result.cycles_per_layer[:, :2] == [18912, 12606]).all()  # the front: fixed

    # The estimate at the mean events (per timestep and round) predicts the mean cycles.
    mean = result.events.mean(axis=(0, 1, 2))
    priced = estimate(DESIGN, activity=list(mean), loop_events=list(mean))
    assert priced["cycles"] == pytest.approx(result.cycles.mean(), rel=1e-9)


def test_lanes_and_the_time_ensemble_count_the_same_loops() -> None:
    """Two lanes (one round) and the time ensemble: the integer model's cycles are the plan's
    fixed cycles plus its cycles per event at the events the model counts, and the front's
    layers cost the same on every image."""
    run_integer = integer_model()
    rng = np.random.default_rng(4)
    net = random_network(rng)
    x = rng.integers(0, 256, size=(3, 784))
    for config in (replace(DESIGN, sample_lanes=2), replace(DESIGN, ensemble="time")):
        plan = build_plan(config)
        result = run_integer(net, x, config)
        events = result.events.sum(axis=(1, 2))
        per_event = np.array(plan.cycles_per_event())
        np.testing.assert_array_equal(result.cycles, plan.fixed_cycles + events @ per_event)
        assert (result.cycles_per_layer[:, :2] == result.cycles_per_layer[0, :2]).all()
