"""Memory mapping (FINN's BRAM rule), PRNG unit count and the current widths."""

import numpy as np

from hwmodel.resources import DesignBatch, current_bits, finn_bram18, memory_cost, prng_units
from hwmodel.template import AcceleratorConfig

MEM = {"register_max_depth": 1, "lutram_max_depth": 64}


def test_finn_bram18_aspect_ratios() -> None:
    depth = np.array([16384, 16385, 8192, 5000, 3000, 1500, 600, 400, 400])
    width = np.array([1, 1, 2, 4, 8, 16, 20, 36, 72])
    # w=1: d/16K; w=2: d/8K; w<=4: 2*1; w<=9: 2*1; w<=18: 2*1; d>512: 1*2; else 1*1, 1*2
    assert finn_bram18(depth, width).tolist() == [1, 2, 1, 2, 2, 2, 2, 1, 2]


def test_memory_cost_by_depth() -> None:
    cost = memory_cost(np.array([1, 64, 65]), np.array([8, 8, 8]), 3, MEM)
    assert cost["ff"].tolist() == [24, 0, 0]
    assert cost["lut"].tolist() == [24, 24, 0]  # register mux LUTs, then RAM64X1S LUTs
    assert cost["lutram"].tolist() == [0, 24, 0]
    assert cost["bram18"].tolist() == [0, 0, 3]


def _batch(**knobs) -> DesignBatch:
    return DesignBatch.from_configs([AcceleratorConfig(**knobs)])


def test_prng_units_cover_every_group_a_window_touches() -> None:
    cases = [((64, 1), 64), ((64, 2), 33), ((64, 64), 2), ((1, 8), 1), ((7, 4), 3)]
    for (npc, reuse), expected in cases:
        batch = _batch(widths=(10, 30, 5), pe=npc, reuse=reuse, sampling="regenerate")
        assert prng_units(batch).tolist() == [expected]
        # the memory strategy's flat windows may cross the one layer boundary: 2 more
        memory = _batch(widths=(10, 30, 5), pe=npc, reuse=reuse)
        assert prng_units(memory).tolist() == [min(npc, expected + 2)]
        # brute force: most distinct groups among npc consecutive indices at any offset
        worst = max(len({(s + j) // reuse for j in range(npc)}) for s in range(2 * reuse))
        assert expected == worst


def test_current_bits_agree_with_the_template() -> None:
    config = AcceleratorConfig(widths=(784, 300, 100, 10), input_bits=6)
    bits = current_bits(DesignBatch.from_configs([config]))[0].tolist()
    assert bits == [config.current_bits(i) for i in range(3)]
