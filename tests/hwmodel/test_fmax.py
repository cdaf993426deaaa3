"""The clock model: stages bounded by the widths, a fit that recovers known delays, the guard,
and a search that never prices a design above the clock it reaches."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hwmodel.estimate import estimate, estimate_table
from hwmodel.fmax import FmaxModel, fit_fmax, stage_features
from hwmodel.pipeline import POPCOUNT_LEVELS, popcount_stages
from hwmodel.plan import build_plan
from hwmodel.template import AcceleratorConfig

BASE = AcceleratorConfig(widths=(64, 128, 10), pe=16, synapses_per_cycle=2, k_bits=1, samples=1)


def _configs(n: int, seed: int) -> list[AcceleratorConfig]:
    rng = np.random.default_rng(seed)
    return [
        AcceleratorConfig(
            widths=(int(rng.integers(16, 200)), int(rng.integers(8, 300)), 10),
            pe=int(rng.choice([1, 4, 16, 64])),
            synapses_per_cycle=int(rng.choice([1, 2])),
            sample_lanes=int(rng.integers(1, 4)),
            k_bits=int(rng.integers(1, 9)),
            membrane_bits=int(rng.integers(6, 25)),
            samples=int(rng.integers(1, 4)),
            sampling=str(rng.choice(["memory", "regenerate"])),
        )
        for _ in range(n)
    ]


def test_wider_rows_add_popcount_stages_not_logic_per_stage():
    narrow = build_plan(replace(BASE, pe=1, synapses_per_cycle=1)).loop("fire_0")
    wide = build_plan(replace(BASE, pe=64)).loop("fire_0")

    def counting(loop) -> int:
        return sum(s.name.startswith(("queue", "popcount")) for s in loop.stages)

    assert counting(wide) > counting(narrow)  # 128 spikes to count: more stages
    assert max(s.lut_levels for s in wide.stages) <= max(s.lut_levels for s in narrow.stages) + 1
    for bits in (1, 6, 7, 48, 384):
        pieces = popcount_stages(bits)
        assert all(piece.levels[1] - piece.levels[0] <= POPCOUNT_LEVELS for piece in pieces)
        assert pieces[-1].levels[1] >= pieces[0].levels[0]


def test_every_loop_with_logic_has_no_empty_stage_before_its_last():
    """No stage only carries an address while the logic is bunched in another: besides the
    bus waits and memory reads, every stage of the datapath loops holds logic."""
    for config in _configs(20, seed=1):
        for loop in build_plan(config).loops:
            for stage in loop.stages:
                if stage.name in ("bus", "read", "write"):
                    continue
                assert stage.logic, (loop.name, stage.name)


def test_fit_recovers_the_delays_that_made_the_paths():
    plans = [build_plan(c) for c in _configs(24, seed=2)]
    truth = FmaxModel(base_ns=1.5, lut_ns=0.5, carry_ns=0.2, fanout_ns=0.15)
    measured = np.array([truth.path_ns(p) for p in plans])
    fitted, loo = fit_fmax(plans, measured)
    for plan, ns in zip(plans, measured, strict=True):
        assert replace(fitted, guard=0.0).path_ns(plan) == pytest.approx(ns, rel=0.02)
    assert np.allclose(loo, 1000.0 / measured, rtol=0.05)
    assert 0.0 <= fitted.guard < 0.05


def test_the_guard_keeps_every_accepted_clock_below_what_was_measured():
    plans = [build_plan(c) for c in _configs(16, seed=3)]
    rng = np.random.default_rng(0)
    truth = FmaxModel(base_ns=1.5, lut_ns=0.5, carry_ns=0.2, fanout_ns=0.15)
    measured = np.array([truth.path_ns(p) for p in plans]) * rng.uniform(0.9, 1.1, len(plans))
    fitted, loo = fit_fmax(plans, measured)
    assert fitted.guard > 0  # noisy paths: some left-out designs were over-predicted
    # Every left-out prediction, lowered by the guard, is at or under the measured clock.
    assert np.all(loo / (1.0 + fitted.guard) <= 1000.0 / measured + 1e-9)


def test_estimate_carries_the_clock_and_says_whether_it_is_met():
    fast = estimate(replace(BASE, clock_mhz=50.0))
    assert fast["fmax_mhz"] > 50.0 and fast["meets_clock"]
    assert "." in fast["fmax_stage"] or fast["fmax_stage"] == "sequencer"
    slow = estimate(replace(BASE, clock_mhz=fast["fmax_mhz"] + 1.0))
    assert not slow["meets_clock"]
    assert slow["fmax_mhz"] == pytest.approx(fast["fmax_mhz"])  # the clock does not move it
    model = FmaxModel()
    stage = build_plan(BASE).control
    assert float(np.dot(stage_features(stage), model.coefficients)) > model.base_ns


def test_timing_constraint_rejects_clocks_above_fmax():
    import pandas as pd

    from dse.objective import constraint_values
    from dse.schema import StudyConfig

    cfg = StudyConfig.model_validate(
        {
            "name": "t",
            "dataset": {"name": "digits"},
            "objectives": [{"metric": "accuracy", "direction": "maximize"}],
        }
    )
    table = pd.DataFrame([{**BASE.as_dict(), "clock_mhz": c} for c in (50.0, 400.0)])
    table["widths"] = [",".join(map(str, BASE.widths))] * 2
    priced = estimate_table(table)
    values = constraint_values(cfg, {c: priced[c].to_numpy() for c in priced.columns})
    assert list(values["timing"] <= 0) == [True, False]
