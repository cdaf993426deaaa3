"""A deterministic design (k = 1: the codes are the signs) builds no random-number hardware, and
`sampling` and `reuse`, which only shape that hardware, then change nothing in the plan or its
price."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from dse.cli import main
from hwmodel.estimate import estimate
from hwmodel.plan import PRNG_STAGES, READ_LATENCY, build_plan
from hwmodel.template import AcceleratorConfig, scale_word

DESIGN = AcceleratorConfig(
    widths=(96, 40, 24, 10), pe=4, synapses_per_cycle=2, sample_lanes=2, k_bits=1, samples=3
)


def _built(config: AcceleratorConfig) -> tuple:
    """What the plan builds, without the knobs it was built from."""
    plan = build_plan(config)
    return plan.sampling, plan.prng_units, plan.types, plan.arrays, plan.loops, plan.lanes


def test_k1_is_deterministic_because_the_random_number_is_always_0() -> None:
    assert DESIGN.deterministic and not replace(DESIGN, k_bits=2).deterministic
    words = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
    assert scale_word(words, 1).tolist() == [0] * 5  # so w = +1 iff the code is 1
    assert scale_word(words, 2).tolist() == [0, 0, 1, 1, 2]


@pytest.mark.parametrize("sampling", ["memory", "regenerate"])
def test_a_deterministic_plan_has_no_prng_keys_signs_or_sampling(sampling: str) -> None:
    plan = build_plan(replace(DESIGN, sampling=sampling))
    assert plan.sampling == "none" and plan.prng_units == 0
    arrays = {a.name for a in plan.arrays}
    loops = {loop.name for loop in plan.loops}
    assert "keys" not in arrays and "keys" not in loops
    assert not {n for n in arrays if n.startswith(("signs_", "queue_index_"))}
    assert not {n for n in loops if n.startswith("sample_")}
    assert not {"random", "word"} & {t.name for t in plan.types}
    # The codes are read straight into the add-write stage: no PRNG or sign stages, and the
    # loop is only as deep as the read (after the walker's registered address) needs.
    for name in ("first_current", "events_1", "events_2"):
        layer = 0 if name == "first_current" else int(name[-1])
        loop = plan.loop(name)
        names = [stage.name for stage in loop.stages]
        assert not [n for n in names if n.startswith(("prng", "sign"))], name
        walk = 0 if layer == 0 else 2  # an event loop's code address is ready in stage 2
        reads = [READ_LATENCY[plan.array(f"codes_{layer}").kind] + walk]
        reads.append(READ_LATENCY[plan.array(f"membrane_{layer}").kind])
        if layer == 0:
            reads.append(READ_LATENCY[plan.array("image").kind])
        assert loop.depth == max(*reads, 1) == loop.stage("current").index, name
    # The same design drawing its weights builds all of it.
    drawn = build_plan(replace(DESIGN, sampling=sampling, k_bits=2))
    assert drawn.prng_units > 0 and drawn.array("keys") and drawn.loop("keys")
    if sampling == "memory":
        assert drawn.array("signs_0") and drawn.loop("sample_0")
    else:
        first = drawn.loop("first_current")
        names = [stage.name for stage in first.stages]
        assert names[:PRNG_STAGES] == ["prng_select", "prng1", "prng2", "prng3"]
        assert first.depth == first.stage("sign").index + 1 > plan.loop("first_current").depth


def test_sampling_and_reuse_change_nothing_in_a_deterministic_design() -> None:
    variants = [
        replace(DESIGN, sampling=s, reuse=r) for s in ("memory", "regenerate") for r in (1, 8)
    ]
    assert len({_built(c) for c in variants}) == 1
    figures = ("lut", "ff", "bram18", "dsp", "cycles", "power_w", "energy_pl_uj")
    priced = [estimate(c, spike_rate=0.2) for c in variants]
    assert all({k: p[k] for k in figures} == {k: priced[0][k] for k in figures} for p in priced)
    # At k = 2 the same knobs build different hardware (the check can tell them apart).
    drawn = [replace(c, k_bits=2) for c in variants]
    assert len({_built(c) for c in drawn}) == len(drawn)


def test_the_cost_model_prices_no_random_number_hardware() -> None:
    det = estimate(DESIGN, spike_rate=0.2)
    drawn = estimate(replace(DESIGN, k_bits=2, sampling="regenerate"), spike_rate=0.2)
    for component in ("prng", "sampler", "sample_memory"):
        assert det["components"][component] == {"lut": 0.0, "ff": 0.0, "bram18": 0.0, "dsp": 0.0}
    assert drawn["components"]["prng"]["lut"] > 0 and drawn["components"]["sampler"]["lut"] > 0
    # Control: no keys array and no layer-key pipeline per lane.
    assert det["components"]["control"]["lut"] < drawn["components"]["control"]["lut"]
    assert det["components"]["control"]["ff"] < drawn["components"]["control"]["ff"]
    assert det["cycles_sampling"] == 0 < drawn["cycles_sampling"]
    assert det["lut"] < drawn["lut"] and det["ff"] < drawn["ff"]


def test_dse_estimate_prices_a_deterministic_design(capsys: pytest.CaptureFixture) -> None:
    args = ["estimate", "--part", "xc7z020clg400-1", "--layers", "96,40,24,10", "--pe", "4"]
    args += ["--synapses-per-cycle", "2", "--sample-lanes", "2", "--samples", "3"]
    args += ["--k-bits", "1", "--json"]
    outs = []
    for sampling, reuse in (("memory", "1"), ("regenerate", "8")):
        assert main([*args, "--sampling", sampling, "--reuse", reuse]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    expected = estimate(DESIGN, calibration="yosys-rtl")  # the command's default profile
    for out in outs:
        assert (out["lut"], out["ff"], out["cycles"]) == (
            expected["lut"],
            expected["ff"],
            expected["cycles"],
        )
