"""The worked example of docs/accelerator.md ("Convolutions"): a convolutional design whose
loops, cycles and convolution components are counted by hand there; the model must give every
figure.

Design: input 1 x 28 x 28, blocks 8p,16p, dense 784-64-10, 16 PEs, T = 4, S = 2 (repeat, one
lane), k = 4, b = 12, 8-bit pixels, memory sampling; the head's inputs fire at 0.1.
"""

import pytest

from hwmodel.estimate import estimate
from hwmodel.plan import build_plan
from hwmodel.template import AcceleratorConfig

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
