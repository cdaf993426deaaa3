"""hls.tools.timing: the fanout-dependent net delay, the clock uncertainty and the verdict line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hls.tools.timing import CLOCK_UNCERTAINTY_NS, estimate_clock, net_delay_ns, verdict

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "rtl"
FF_CLK_Q = 0.303
LUT = 0.127
NET_1 = 0.45 + 0.09  # a net of up to 8 sinks: to the neighbouring CLB


def _cell(kind: str, **pins: tuple[str, list]) -> dict:
    return {
        "type": kind,
        "port_directions": {port: direction for port, (direction, _) in pins.items()},
        "connections": {port: bits for port, (_, bits) in pins.items()},
    }


def _ff(d: int, q: int) -> dict:
    return _cell("FDRE", C=("input", [1]), CE=("input", ["1"]), R=("input", ["0"]),
                 D=("input", [d]), Q=("output", [q]))  # fmt: skip


def _module(cells: dict, **names: list[int]) -> dict:
    return {
        "ports": {"clk": {"direction": "input", "bits": [1]}},
        "netnames": {name: {"bits": bits} for name, bits in names.items()},
        "cells": cells,
    }


def _two_luts() -> dict:
    """q0 -> LUT2 -> LUT3 (also fed by q1) -> D of r2: two LUT levels, two routed nets (q0
    has 3 sinks, the LUT2 one; the LUT3 packs with the flip-flop it alone feeds)."""
    return _module(
        {
            "f0": _ff(12, 10),
            "f1": _ff(10, 11),
            "f2": _ff(21, 12),
            "l1": _cell("LUT2", I0=("input", [10]), I1=("input", [10]), O=("output", [20])),
            "l2": _cell(
                "LUT3",
                I0=("input", [20]),
                I1=("input", [11]),
                I2=("input", [11]),
                O=("output", [21]),
            ),  # fmt: skip
        },
        q0=[10],
        q1=[11],
        r2=[12],
    )


def test_net_delay_grows_with_fanout_from_the_neighbouring_clb() -> None:
    delays = [net_delay_ns(fanout) for fanout in range(1, 5000)]
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))  # never shrinks
    assert net_delay_ns(1) == net_delay_ns(8) == pytest.approx(0.54)  # fits one CLB
    assert net_delay_ns(32) == pytest.approx(0.63)  # 4 CLBs: 2 steps to the farthest
    assert net_delay_ns(2048) == pytest.approx(0.45 + 0.09 * 16)
    assert net_delay_ns(512) > net_delay_ns(64) > net_delay_ns(9) > net_delay_ns(8)


def test_clock_uncertainty_is_charged_on_the_path() -> None:
    """q0 -> D of q1 and back: clock to Q, one routed net of one sink, D setup 0, and the
    clock uncertainty: 0.303 + 0.54 + 0.154 = 0.997 ns."""
    clock = estimate_clock(_module({"f0": _ff(11, 10), "f1": _ff(10, 11)}, q0=[10], q1=[11]))
    assert CLOCK_UNCERTAINTY_NS == 0.154
    assert clock.critical_path_ns == pytest.approx(FF_CLK_Q + NET_1 + CLOCK_UNCERTAINTY_NS)
    assert clock.fmax_mhz == pytest.approx(1000 / 0.997, abs=0.05)
    assert clock.clock_uncertainty_ns == CLOCK_UNCERTAINTY_NS
    assert "fanout" in clock.net_model and "uncertainty 0.154 ns" in clock.method


def test_clock_estimate_of_a_hand_made_netlist() -> None:
    module = _two_luts()
    clock = estimate_clock(module)
    expected = FF_CLK_Q + 2 * (NET_1 + LUT) + CLOCK_UNCERTAINTY_NS  # 1.791 ns
    assert clock.critical_path_ns == pytest.approx(expected)
    assert clock.fmax_mhz == pytest.approx(1000 / expected, abs=0.05)
    assert (clock.lut_levels, clock.carry4_chain, clock.start) == (2, 0, "q0")
    assert clock.end == "r2 (FDRE.D)"
    module["cells"]["l1"]["connections"]["I1"] = [21]  # l1 <-> l2: a combinational loop
    with pytest.raises(ValueError, match="combinational loop"):
        estimate_clock(module)


def test_a_high_fanout_net_lengthens_the_path() -> None:
    """q0 feeds the LUT on the critical path and 31 more flip-flops: 32 sinks, so its net
    reaches 2 CLBs away (0.63 ns) instead of the neighbouring one (0.54 ns)."""
    module = _two_luts()
    alone = estimate_clock(module).critical_path_ns
    module["cells"].update({f"g{i}": _ff(10, 100 + i) for i in range(29)})  # 3 + 29 sinks
    assert estimate_clock(module).critical_path_ns == pytest.approx(
        alone + net_delay_ns(32) - net_delay_ns(3)
    )


def test_dedicated_slice_wires_cost_no_routing() -> None:
    """q0 -> LUT1 -> S[0] of a CARRY4 -> CO[3] -> CI of the next -> O[0] -> D of r1: only the
    flip-flop's output net is routed; LUT to S, CO to CI and O to a lone D are slice wires."""
    zero, low = "0", ["0"] * 4
    carry0 = _cell("CARRY4", CI=("input", [zero]), CYINIT=("input", [zero]),
                   DI=("input", low), S=("input", [20, zero, zero, zero]),
                   CO=("output", [31, 32, 33, 30]), O=("output", [34, 35, 36, 37]))  # fmt: skip
    carry1 = _cell("CARRY4", CI=("input", [30]), CYINIT=("input", [zero]), DI=("input", low),
                   S=("input", low), CO=("output", [41, 42, 43, 44]),
                   O=("output", [40, 45, 46, 47]))  # fmt: skip
    module = _module(
        {
            "f0": _ff(11, 10),
            "f1": _ff(40, 11),
            "l1": _cell("LUT1", I0=("input", [10]), O=("output", [20])),
            "c0": carry0,
            "c1": carry1,
        },
        q0=[10],
        r1=[11],
    )
    clock = estimate_clock(module)
    s0_to_co3, ci_to_o0 = 0.580, 0.222
    assert clock.critical_path_ns == pytest.approx(
        FF_CLK_Q + NET_1 + LUT + s0_to_co3 + ci_to_o0 + CLOCK_UNCERTAINTY_NS
    )
    assert (clock.lut_levels, clock.carry4_chain, clock.end) == (1, 2, "r1 (FDRE.D)")


def test_clock_estimate_of_a_stored_counter_netlist() -> None:
    """counter.v as Yosys mapped it: count[0] -> INV -> CARRY4 S[0]..CO[3] -> next CARRY4
    CI..O[1] -> count[5]: 0.303 + 0.54 (one routed net) + 0.127 + 0.580 + 0.334 ns, plus
    the clock uncertainty."""
    netlist = json.loads((FIXTURES / "counter_netlist.json").read_text())
    clock = estimate_clock(netlist["modules"]["counter"])
    assert clock.critical_path_ns == pytest.approx(
        FF_CLK_Q + NET_1 + LUT + 0.580 + 0.334 + CLOCK_UNCERTAINTY_NS
    )
    assert (clock.lut_levels, clock.carry4_chain) == (1, 2)
    assert (clock.start, clock.end) == ("count[0]", "count[5] (FDRE.D)")
    assert "estimate" in clock.method


PATH = (
    "critical path q0 -> r2 (FDRE.D) (1.791 ns: 2 LUT levels, 0 CARRY4); estimated from the "
    "unplaced netlist, not routed timing"
)


def test_verdict_when_the_clock_is_met() -> None:
    clock = estimate_clock(_two_luts()).as_dict()  # 1.791 ns, 558.3 MHz
    line = verdict(clock, 100.0)
    assert line == f"clock: meets 100 MHz (estimate 558.3 MHz, slack +8.21 ns); {PATH}"


def test_verdict_when_the_clock_is_missed() -> None:
    clock = estimate_clock(_two_luts()).as_dict()
    line = verdict(clock, 600.0)  # a 1.667 ns period, 0.124 ns short
    assert line == f"clock: misses the target 600 MHz by 0.12 ns (estimate 558.3 MHz); {PATH}"
    assert "by 0.01 ns" in verdict(clock, 1000 / 1.787)  # 4 ps short still reads as a miss


def test_verdict_without_a_target_or_an_estimate() -> None:
    clock = estimate_clock(_two_luts()).as_dict()
    assert verdict(clock, None).startswith("clock: estimate 558.3 MHz, no target clock_mhz")
    problem = {"fmax_mhz": None, "problem": "combinational loop through 2 nets"}
    assert verdict(problem, 100.0) == "clock: no estimate (combinational loop through 2 nets)"
