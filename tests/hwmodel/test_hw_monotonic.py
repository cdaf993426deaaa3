"""Properties every design must satisfy, whatever its knobs (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from hwmodel.estimate import estimate
from hwmodel.plan import build_plan
from hwmodel.template import AcceleratorConfig

widths = st.lists(st.integers(1, 300), min_size=2, max_size=4)
designs = st.fixed_dictionaries(
    {
        "widths": widths.map(tuple),
        "pe": st.integers(1, 96),
        "synapses_per_cycle": st.integers(1, 4),
        "sample_lanes": st.integers(1, 4),
        "k_bits": st.integers(1, 12),
        "membrane_bits": st.integers(4, 24),
        "reuse": st.sampled_from([1, 2, 4, 8, 16, 32, 64]),
        "sampling": st.sampled_from(["memory", "regenerate"]),
        "timesteps": st.integers(1, 8),
        "samples": st.integers(1, 8),
        "clock_mhz": st.floats(10, 300),
        "part": st.sampled_from(["xc7z010clg400-1", "xc7z020clg400-1", "xc7z045ffg900-2"]),
    }
)
rates = st.floats(0.0, 1.0)
SETTINGS = settings(max_examples=40, deadline=None)


def _config(d: dict) -> AcceleratorConfig:
    return AcceleratorConfig(**d, ensemble="repeat")


@SETTINGS
@given(designs, st.integers(1, 64), rates)
def test_more_pes_never_fewer_logic_luts_never_more_cycles(
    d: dict, extra: int, rate: float
) -> None:
    """Datapath logic grows with the PEs; memories repack (wider, shallower words may need
    fewer read-mux LUTs), so only the PE and PRNG logic is monotonic. Cycles never grow by
    more than the deeper pipeline the wider rows need (a popcount tree over more neurons
    adds a register stage to every pass of its loop)."""
    small = estimate(_config(d), spike_rate=rate)
    bigger = {**d, "pe": d["pe"] + extra}
    big = estimate(_config(bigger), spike_rate=rate)

    def logic(r: dict) -> float:
        return r["components"]["pe"]["lut"] + r["components"]["prng"]["lut"]

    assert logic(big) >= logic(small)
    before, after = build_plan(_config(d)), build_plan(_config(bigger))
    deeper = sum(
        loop.passes * max(0, after.loop(loop.name).depth - loop.depth) for loop in before.loops
    )
    assert big["cycles"] <= small["cycles"] + deeper + 1e-9


@SETTINGS
@given(designs, st.floats(1.01, 4.0), rates)
def test_higher_clock_more_dynamic_power_same_cycles(d: dict, factor: float, rate: float) -> None:
    slow = estimate(_config(d), spike_rate=rate)
    fast = estimate(_config({**d, "clock_mhz": d["clock_mhz"] * factor}), spike_rate=rate)
    assert fast["power_dynamic_w"] > slow["power_dynamic_w"]
    assert fast["cycles"] == slow["cycles"]
    assert fast["latency_us"] < slow["latency_us"]


@SETTINGS
@given(designs, rates, rates)
def test_more_spikes_more_cycles(d: dict, r1: float, r2: float) -> None:
    lo, hi = sorted((r1, r2))
    few = estimate(_config(d), spike_rate=lo)
    many = estimate(_config(d), spike_rate=hi)
    assert many["cycles"] >= few["cycles"] - 1e-9
    hidden_inputs = sum(d["widths"][1:-1])
    if hi - lo > 1e-6 and hidden_inputs > 0:
        assert many["cycles"] > few["cycles"]
