"""The plan's storage rule, per-array pricing and PRNG unit count."""

import numpy as np
import pytest

from hwmodel.errors import HardwareInputError
from hwmodel.plan import Array, build_plan, storage_kind
from hwmodel.resources import array_cost, bram18, component_resources, load_coefficients
from hwmodel.template import AcceleratorConfig, random_codes


def test_one_storage_rule_by_bank_depth() -> None:
    assert [storage_kind(d) for d in (1, 8, 9, 64, 65)] == [
        "registers",
        "registers",
        "lutram",
        "lutram",
        "bram",
    ]


def test_array_cost_by_kind_and_ports() -> None:
    regs = array_cost(Array("a", "neuron_memory", 8, 4, 8, banks=3))
    assert (regs["ff"], regs["lut"]) == (8 * 32 * 3, 32 * 2 * 3)  # a 4:1 mux per 4 words
    rom = array_cost(Array("b", "neuron_memory", 8, 4, 8, writes=0, rom=True))
    assert (rom["ff"], rom["lut"]) == (0, 32)
    ram = array_cost(Array("c", "weight_memory", 8, 1, 64, banks=2))
    assert (ram["lut"], ram["lutram"], ram["bram18"]) == (32, 32, 0)  # RAM64X1D: 2 per bit
    block = array_cost(Array("d", "weight_memory", 8, 4, 1000, banks=2, writes=0, rom=True))
    assert (block["lut"], block["bram18"]) == (0, 2 * bram18(1000, 32, rom=True))


def test_time_ensemble_builds_one_lane() -> None:
    knobs = dict(widths=(20, 10, 4), samples=4, timesteps=8, sample_lanes=4)
    assert build_plan(AcceleratorConfig(**knobs, ensemble="time")).lanes == 1
    repeat = build_plan(AcceleratorConfig(**knobs, ensemble="repeat"))
    assert (repeat.lanes, repeat.rounds) == (4, 1)
    banks = {a.name: a.banks for a in repeat.arrays}
    assert banks["membrane_0"] == 4 and banks["codes_0"] == 1


def test_prng_units_cover_every_row_window() -> None:
    """The most distinct groups among NPC consecutive weight indices, at every row window of
    every layer, never exceeds the plan's unit count (and reaches it somewhere)."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        widths = tuple(int(w) for w in rng.integers(1, 40, size=3))
        pe, reuse = int(rng.integers(1, 17)), int(2 ** rng.integers(0, 5))
        plan = build_plan(AcceleratorConfig(widths=widths, pe=pe, reuse=reuse))
        worst = 0
        for n_in, n_out, rows in zip(widths[:-1], widths[1:], plan.rows, strict=True):
            starts = (np.arange(n_in)[:, None] * n_out + np.arange(rows) * pe).ravel()
            first, last = starts // reuse, (starts + pe - 1) // reuse
            worst = max(worst, int((last - first).max()) + 1)
        assert worst <= plan.prng_units == min(pe, -(-(pe - 1) // reuse) + 1)


def test_regenerated_words_follow_the_reuse_groups() -> None:
    """Weights of one group (index >> log2 reuse) share their random number."""
    codes = random_codes(7, 0, 1, 6, 8, 4, 8)  # [n_out, n_in]
    flat = codes.T.ravel()  # input-major: index i * n_out + j
    assert all(len(set(flat[g * 4 : g * 4 + 4])) == 1 for g in range(12))


def test_rom_padding_of_a_one_row_layer_is_not_priced() -> None:
    """64-128-10 at NPC 32: codes_1 (one row) holds 22 padding codes in every word, which
    synthesis drops: 128 x 40 bits, 2 RAMB18 instead of 4; codes_0 (four full rows) keeps
    every bit.  Yosys built this design's core in 8 RAMB18 (two per sign memory)."""
    config = AcceleratorConfig(
        widths=(64, 128, 10), pe=16, synapses_per_cycle=2, k_bits=4, ensemble="time",
        samples=2, timesteps=4,
    )  # fmt: skip
    plan = build_plan(config)
    codes = plan.array("codes_1")
    assert (codes.width, codes.padding, codes.kept_width) == (128, 22, 40)
    assert array_cost(codes)["bram18"] == bram18(128, 40, rom=True) == 2
    assert plan.array("codes_0").padding == 0 and array_cost(plan.array("codes_0"))["bram18"] == 4
    assert {a.name for a in plan.arrays if a.padding} == {"codes_1", "bias_1", "initial_1"}
    core = sum(array_cost(a)["bram18"] for a in plan.arrays)
    assert core == 8
    several_rows = build_plan(AcceleratorConfig(widths=(64, 40, 10), pe=16, synapses_per_cycle=2))
    assert several_rows.array("codes_0").padding == 0  # its last row's padding is not constant


def test_wrapper_buffers_are_never_registers() -> None:
    """The RTL wrapper's image and result buffers by the storage rule less its register tier
    (the result words are read combinationally: distributed RAM however deep); measured with
    Yosys (top snn_axi against snn_core): 4 pixels and 3 results in RAM32M, 784 pixels in a
    RAMB18, 81 results in RAM32M."""
    for n0, classes, samples, kinds in (
        (4, 2, 1, ("lutram", "lutram")),
        (784, 2, 1, ("bram", "lutram")),
        (16, 10, 8, ("lutram", "lutram")),
    ):
        plan = build_plan(AcceleratorConfig(widths=(n0, classes), samples=samples))
        pixels, results = plan.array("bus_pixels"), plan.array("bus_results")
        assert (pixels.kind, results.kind) == kinds
        assert results.depth == samples * classes + 1  # scores of every run, the cycle count
    assert storage_kind(4) == "registers"  # the core's arrays keep the register tier


def test_each_backend_prices_its_own_bus() -> None:
    plan = build_plan(AcceleratorConfig(widths=(784, 10), input_bits=8, samples=1))
    coeffs = load_coefficients()
    rtl = component_resources(plan, coeffs)["axi"]
    # 50 LUT, 8 FF of slave logic; a 4-bit counter of 11 result words; 784 x 8 pixels in one
    # RAMB18; 11 result words in LUTRAM, two LUTs per bit, and their 32-bit read register.
    assert (rtl["lut"], rtl["ff"], rtl["bram18"]) == (50 + 64, 8 + 4 + 32, 1)
    hls = component_resources(plan, coeffs, "hls")["axi"]
    assert (hls["lut"], hls["ff"], hls["bram18"]) == (900, 1300, 2)
    with pytest.raises(HardwareInputError, match="backend: 'vhdl' is not a backend"):
        component_resources(plan, coeffs, "vhdl")
