"""The calibration spread covers every knob and storage kind, and is reproducible."""

from hls.tools.design_spread import calibration_designs
from hwmodel.plan import build_plan


def test_calibration_designs_cover_the_knobs() -> None:
    designs = calibration_designs(24)
    configs = [c for _, c in designs]
    assert {(c.ensemble, c.sampling, c.sample_lanes) for c in configs[:12]} == {
        (e, s, n) for e in ("repeat", "time") for s in ("memory", "regenerate") for n in (1, 2, 3)
    }
    assert {c.pe for c in configs} == {1, 2, 4, 8}
    assert {c.synapses_per_cycle for c in configs} == {1, 2}
    assert {c.reuse for c in configs} == {1, 2, 4, 8}
    assert {len(c.widths) for c in configs} == {2, 3, 4}
    assert min(c.k_bits for c in configs) <= 3 and max(c.k_bits for c in configs) >= 7
    assert (
        min(c.membrane_bits for c in configs) <= 7 and max(c.membrane_bits for c in configs) >= 15
    )
    assert all(16 <= c.widths[0] <= 64 and 2 <= c.widths[-1] <= 10 for c in configs)
    plans = [build_plan(c) for c in configs]
    assert {p.array("codes_0").kind for p in plans} == {"lutram", "bram"}
    assert {a.kind for p in plans for a in p.arrays} == {"registers", "lutram", "bram"}
    assert any(p.lanes == 3 for p in plans)
    # Seeded: the same designs again; the first designs do not depend on how many are drawn.
    again = calibration_designs(30)
    assert [c for _, c in again[:24]] == configs
    assert (again[3][0].layers[0].prob == designs[3][0].layers[0].prob).all()
    assert [c for _, c in calibration_designs(24, seed=1)] != configs
