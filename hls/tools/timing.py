"""A clock estimate for a netlist Yosys mapped to 7-series cells: the longest register-to-
register path, with datasheet-class cell delays, a routing delay per net that grows with its
fanout, and the clock uncertainty Vivado charges.

It is an estimate, not timing closure: nothing is placed or routed, so every net's delay is
an assumption (`net_delay_ns`), whereas Vivado's routed nets range from about 0.1 ns
(neighbouring slices) to several ns (high fanout, long distance). Use it to rank designs and
to flag a path far too deep for the target clock; take a real clock from Vivado's
`report_timing_summary`.

Cell delays (ns) are the maximum delays of Project X-Ray's Artix-7 timing database (the
Zynq-7010/7020 programmable logic is Artix-7 fabric), as Yosys ships them in the `specify`
blocks of `share/xilinx/cells_sim.v`. A LUT is charged its fastest input pin (0.127 ns, the
size of DS187's T_ILO at speed grade -1) because the placer puts a critical signal there.

Routing: a net with `fanout` sink pins costs 0.45 + 0.09 x max(1, sqrt(fanout / 8)) ns
(0.54 ns up to 8 sinks, 0.63 at 32, 0.81 at 128, 1.17 at 512, 1.89 at 2,048), every sink
being charged the delay to the farthest. The figures are nextpnr-xilinx's placement delay
model for xc7 (`Arch::predictDelay` in xilinx/arch.cc: 1.5 x (300 ps + 30 ps per tile column
+ 60 ps per tile row), those slopes holding for 18 columns and 6 rows): 0.45 ns of intercept
and 0.09 ns per CLB step, a CLB column with its interconnect being two tile columns. The
fanout enters as distance, the way Vivado estimates an unplaced net (UG906, "Interconnect"
setting: ideal placement, driver, load types and fanout): the sinks sit ideally, 8 to a CLB
(its 8 LUTs, UG474), in a square of fanout / 8 CLBs around the driver, so the farthest is
sqrt(fanout / 8) CLB steps away, and at least the neighbouring CLB. This is an assumption for
an unplaced netlist, optimistic where real placement is crowded (UG904's ExtraNetDelay
directives exist because estimated high-fanout delays are) and blind to the driver
replication that phys_opt_design does (UG474 recommends it for heavily loaded nets);
above about 1,100 sinks the square outgrows 6 rows, beyond which nextpnr-xilinx prices long
wires cheaper, so there the figure is pessimistic.
No routing is charged on a slice's dedicated wires: the carry chain (CARRY4 CO[3] to the
next CI), a LUT into the CARRY4 or MUXF7/MUXF8 beside it, and a LUT, MUXF or CARRY4 output
that feeds only the D input of one flip-flop (the two pack into one slice).

Clock uncertainty: every path is charged 0.154 ns, Vivado's setup uncertainty
((TSJ^2 + TIJ^2)^1/2 + DJ) / 2 + PE for the clock that drives the core on the board, the
Zynq PS fabric clock FCLK_CLK0 (no MMCM: DJ = PE = 0), at 100 MHz: total system jitter TSJ
0.071 ns and the input jitter TIJ the processing_system7 IP sets on clk_fpga_0, 3 % of the
period (0.300 ns at 10 ns; routed Zynq-7000 reports show 0.330 ns and 0.169 ns of
uncertainty at 11 ns, 0.600 ns and 0.302 ns at 20 ns). At 200 MHz Vivado would charge
0.083 ns, at 50 MHz 0.302 ns; a `create_clock` without input jitter (vivado.tcl's
out-of-context run) gets 0.035 ns.

Module inputs are taken as registered outside the top (the wrapper's registers), module
outputs as ending in a register outside it. DSP48E1 and any cell type not listed below are
treated as registers with zero delays and named in `unmodelled_cells`.
"""

from __future__ import annotations

import graphlib
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

__all__ = [
    "CLOCK_UNCERTAINTY_NS",
    "FF_CELLS",
    "ClockEstimate",
    "estimate_clock",
    "net_delay_ns",
    "slack_ns",
    "verdict",
]

# Routing by fanout (module doc): nextpnr-xilinx's xc7 intercept and slope per CLB step.
NET_BASE_NS = 0.45
NET_PER_CLB_NS = 0.09
SINKS_PER_CLB = 8
NET_MODEL = (
    f"{NET_BASE_NS} + {NET_PER_CLB_NS} x max(1, sqrt(fanout / {SINKS_PER_CLB})) ns per net; "
    "0 on dedicated slice wires"
)
#: Vivado's setup uncertainty of the Zynq PS clock FCLK_CLK0 at 100 MHz (module doc).
CLOCK_UNCERTAINTY_NS = 0.154
LUT_NS = 0.127  # LUT input to output, fastest pin
FF_CLK_Q_NS = 0.303
FF_SETUP_NS = {"D": 0.0, "CE": 0.109}  # reset/set/clear/preset: 0.404
FF_CONTROL_SETUP_NS = 0.404
MUXF_NS = {"MUXF7": (0.223, 0.296), "MUXF8": (0.104, 0.273)}  # (data input, select) to O
# CARRY4: from CI to CO[i] / O[i], and the worst of S, DI, CYINIT to CO[i] / O[i].
CARRY_CI_NS = {"CO": (0.271, 0.157, 0.228, 0.114), "O": (0.222, 0.334, 0.239, 0.313)}
CARRY_IN_NS = {"CO": (0.536, 0.494, 0.592, 0.580), "O": (0.482, 0.598, 0.584, 0.642)}
LUTRAM_CLK_OUT_NS = 1.161
LUTRAM_SETUP_NS = {"WE": 0.654, "DATA": 0.453, "ADDR": 0.362}
SRL_CLK_OUT_NS = 1.472
SRL_SETUP_NS = {"D": 0.173, "CE": 0.109}
BRAM_CLK_OUT_NS = (2.454, 0.882)  # DO without / with the output register (DO*_REG=1)
BRAM_SETUP_NS = {"ADDR": 0.566, "WE": 0.532, "DI": 0.737, "REGCE": 0.360, "RSTREG": 0.342}
BRAM_OTHER_SETUP_NS = 0.566  # enables and the latch reset

_LUT = re.compile(r"LUT[1-6]$|INV$")
#: Flip-flops and latches (FDRE, FDSE, FDCE, FDPE, LDCE, ...), as Vivado's "Slice Registers".
FF_CELLS = re.compile(r"(FD[A-Z]*E|LD[A-Z]*E)(_1)?$")
_LUTRAM = re.compile(r"RAM\d+(X\d+[SD]|M\d*)(_1)?$")
_SRL = re.compile(r"SRLC?(16|32)E?$")
_BRAM = re.compile(r"RAMB(18|36)E1$")
_CLOCKS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "G"}
_IGNORED = {"BUFG", "BUFGCTRL", "BUFHCE", "GND", "VCC", "$scopeinfo"}
METHOD = (
    "longest register-to-register path of the Yosys-mapped netlist; cell delays from Project "
    "X-Ray's Artix-7 (speed grade -1) timing database as shipped in Yosys's xilinx "
    f"cells_sim.v; routing assumed {NET_MODEL} (nextpnr-xilinx's xc7 delay to the farthest "
    f"sink, {SINKS_PER_CLB} sinks per CLB around the driver); clock uncertainty "
    f"{CLOCK_UNCERTAINTY_NS} ns; an estimate, not placed-and-routed timing"
)


@dataclass(frozen=True)
class ClockEstimate:
    """The critical path as estimated, and what it is made of."""

    fmax_mhz: float | None
    critical_path_ns: float
    lut_levels: int
    carry4_chain: int
    muxf: int
    start: str
    end: str
    method: str = METHOD
    net_model: str = NET_MODEL
    clock_uncertainty_ns: float = CLOCK_UNCERTAINTY_NS
    unmodelled_cells: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def net_delay_ns(fanout: int) -> float:
    """Assumed routing delay of a general-routing net with `fanout` sink pins, ns: to its
    farthest sink when the sinks are placed ideally around the driver (module doc)."""
    return NET_BASE_NS + NET_PER_CLB_NS * max(1.0, math.sqrt(fanout / SINKS_PER_CLB))


def _dedicated(src_kind: str, sink_kind: str, port: str, fanout: int) -> bool:
    """Whether a net runs on a slice's dedicated wires, which cost no routing."""
    return (
        (sink_kind == "carry" and port == "CI" and src_kind == "carry")
        or (sink_kind == "carry" and port in ("S", "DI") and src_kind == "lut")
        or (sink_kind == "muxf" and port != "S" and src_kind in ("lut", "muxf"))
        or (
            sink_kind == "ff"
            and port == "D"
            and src_kind in ("lut", "muxf", "carry")
            and fanout == 1
        )
    )


def _is_addr(port: str) -> bool:
    return port.startswith(("ADDR", "DPRA")) or re.fullmatch(r"A\d?", port) is not None


def _comb_delay(kind: str, cell: dict, port: str, idx: int, out: str, out_idx: int):
    """Delay from input pin (port, idx) to output pin (out, out_idx), None if no arc."""
    if kind == "lut":
        return LUT_NS
    if kind == "muxf":
        data, select = MUXF_NS[cell["type"]]
        return select if port == "S" else data
    if kind == "carry":
        table = CARRY_CI_NS if port == "CI" else CARRY_IN_NS
        if port in ("S", "DI") and idx > out_idx:  # a later stage cannot affect an earlier one
            return None
        return table[out][out_idx]
    if kind in ("lutram", "srl"):
        return LUT_NS if _is_addr(port) else None
    return None


def _kind(cell_type: str) -> str:
    for kind, pattern in (
        ("lut", _LUT),
        ("ff", FF_CELLS),
        ("lutram", _LUTRAM),
        ("srl", _SRL),
        ("bram", _BRAM),
    ):
        if pattern.match(cell_type):
            return kind
    if cell_type in MUXF_NS:
        return "muxf"
    if cell_type == "CARRY4":
        return "carry"
    return "ignored" if cell_type in _IGNORED else "unmodelled"


def _clk_to_out(kind: str, cell: dict, out: str) -> float | None:
    """Arrival at a registered output after the clock edge, None for a purely combinational one."""
    if kind == "ff":
        return FF_CLK_Q_NS
    if kind == "lutram":
        return LUTRAM_CLK_OUT_NS
    if kind == "srl":
        return SRL_CLK_OUT_NS
    if kind == "bram":
        port = re.match(r"DOP?([AB])", out)
        reg = str(cell.get("parameters", {}).get(f"DO{port[1]}_REG", "0")) if port else "0"
        registered = reg.isdigit() and int(reg, 2 if set(reg) <= {"0", "1"} else 10) > 0
        return BRAM_CLK_OUT_NS[1] if registered else BRAM_CLK_OUT_NS[0]
    if kind == "unmodelled":
        return 0.0
    return None


def _setup(kind: str, port: str) -> float | None:
    """Setup time of an input pin that ends a path, None where the pin ends none."""
    if port in _CLOCKS:
        return None
    if kind == "ff":
        return FF_SETUP_NS.get(port, FF_CONTROL_SETUP_NS)
    if kind == "lutram":
        if port == "WE":
            return LUTRAM_SETUP_NS["WE"]
        return LUTRAM_SETUP_NS["ADDR" if _is_addr(port) else "DATA"]
    if kind == "srl":
        return None if _is_addr(port) else SRL_SETUP_NS.get(port, SRL_SETUP_NS["D"])
    if kind == "bram":
        for prefix, value in BRAM_SETUP_NS.items():  # DIADI, DIPADIP... start with DI
            if port.startswith(prefix):
                return value
        return BRAM_OTHER_SETUP_NS
    if kind == "unmodelled":
        return 0.0
    return None


def _pins(cell: dict, direction: str):
    """(port, index, bit) of a cell's pins in one direction; constant bits are skipped."""
    for port, bits in cell.get("connections", {}).items():
        if cell.get("port_directions", {}).get(port) != direction:
            continue
        for idx, bit in enumerate(bits):
            if isinstance(bit, int):
                yield port, idx, bit


def estimate_clock(module: dict) -> ClockEstimate:
    """The critical path of one flattened module of a Yosys JSON netlist (`write_json`).

    Raises ValueError on a combinational loop (no finite clock exists).
    """
    cells = module.get("cells", {})
    kinds = {name: _kind(cell["type"]) for name, cell in cells.items()}
    driver: dict[int, tuple[str, str]] = {}  # bit -> (cell, kind)
    for name, cell in cells.items():
        for _, _, bit in _pins(cell, "output"):
            driver[bit] = (name, kinds[name])
    sinks: Counter[int] = Counter()
    for cell in cells.values():
        sinks.update(bit for _, _, bit in _pins(cell, "input"))
    outputs = {
        bit
        for port in module.get("ports", {}).values()
        if port["direction"] == "output"
        for bit in port["bits"]
        if isinstance(bit, int)
    }
    sinks.update(outputs)

    def net(bit: int, sink: str | None, port: str) -> float:
        source = driver.get(bit)
        dedicated = (
            source is not None
            and sink is not None
            and _dedicated(source[1], kinds[sink], port, sinks[bit])
        )
        return 0.0 if dedicated else net_delay_ns(sinks[bit])

    # Arrival times: start points first, then combinational arcs in topological order.
    arrival: dict[int, tuple[float, int | None, str | None]] = {}
    graph: dict[int, set[int]] = {}
    arcs: dict[int, list[tuple[int, float, str]]] = {}
    for name, cell in cells.items():
        kind = kinds[name]
        ins = list(_pins(cell, "input"))
        for out, out_idx, bit in _pins(cell, "output"):
            start = _clk_to_out(kind, cell, out)
            if start is not None:
                arrival[bit] = (start, None, name)
            for port, idx, in_bit in ins:
                delay = _comb_delay(kind, cell, port, idx, out, out_idx)
                if delay is not None:
                    arcs.setdefault(bit, []).append((in_bit, delay + net(in_bit, name, port), name))
                    graph.setdefault(bit, set()).add(in_bit)
    for port in module.get("ports", {}).values():
        if port["direction"] == "input":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    arrival[bit] = (FF_CLK_Q_NS, None, None)
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise ValueError(f"combinational loop through {len(exc.args[1]) - 1} nets") from None
    for bit in order:
        best = arrival.get(bit)
        for in_bit, delay, name in arcs.get(bit, ()):
            if in_bit in arrival and (best is None or arrival[in_bit][0] + delay > best[0]):
                best = (arrival[in_bit][0] + delay, in_bit, name)
        if best is not None:
            arrival[bit] = best

    # Path ends: setup pins of registers and memories, and the module's outputs.
    worst: tuple[float, int | None, str | None, str] = (0.0, None, None, "")
    for name, cell in cells.items():
        for port, _, bit in _pins(cell, "input"):
            setup = _setup(kinds[name], port)
            if setup is not None and bit in arrival:
                total = arrival[bit][0] + net(bit, name, port) + setup
                if total > worst[0]:
                    worst = (total, bit, name, port)
    for bit in outputs:
        if bit in arrival and arrival[bit][0] + net(bit, None, "") > worst[0]:
            worst = (arrival[bit][0] + net(bit, None, ""), bit, None, "")
    return _path(worst, arrival, module, kinds)


def _bit_names(module: dict) -> dict[int, str]:
    """A readable signal name per netlist bit (public names before Yosys's own)."""
    names: dict[int, str] = {}
    for hidden in (1, 0):  # public names written last win
        for name, net in module.get("netnames", {}).items():
            if bool(net.get("hide_name")) != bool(hidden):
                continue
            bits = net.get("bits", [])
            for idx, bit in enumerate(bits):
                if isinstance(bit, int):
                    names[bit] = name.lstrip("\\") + (f"[{idx}]" if len(bits) > 1 else "")
    return names


def _path(worst, arrival, module: dict, kinds: dict) -> ClockEstimate:
    """Walk the critical path back from its end and count what it passes through."""
    cells = module.get("cells", {})
    names = _bit_names(module)
    data_ns, bit, end_cell, end_port = worst
    total = data_ns + CLOCK_UNCERTAINTY_NS if data_ns > 0 else 0.0
    end = f"{names.get(bit, '?')} (output port)"
    if end_cell is not None:  # name a register or memory by what it drives
        outs = [b for _, _, b in _pins(cells[end_cell], "output")]
        driven = names.get(outs[0], end_cell) if outs else end_cell
        end = f"{driven} ({cells[end_cell]['type']}.{end_port})"
    counts: Counter[str] = Counter()
    start = end
    while bit is not None:
        _, previous, name = arrival[bit]
        if name is not None and previous is not None:
            counts[kinds[name]] += 1
        start = names.get(bit, "?")
        bit = previous
    unmodelled = Counter(cells[n]["type"] for n, k in kinds.items() if k == "unmodelled")
    return ClockEstimate(
        fmax_mhz=round(1000.0 / total, 1) if total > 0 else None,
        critical_path_ns=round(total, 3),
        lut_levels=counts["lut"] + counts["lutram"] + counts["srl"],
        carry4_chain=counts["carry"],
        muxf=counts["muxf"],
        start=start,
        end=end,
        unmodelled_cells=dict(sorted(unmodelled.items())),
    )


def slack_ns(clock_mhz: float, critical_path_ns: float) -> float:
    """What the target clock's period leaves over the critical path, ns (negative: missed)."""
    return round(1000.0 / clock_mhz - critical_path_ns, 3)


def verdict(clock: dict, clock_mhz: float | None) -> str:
    """One line: does the estimated critical path (`ClockEstimate.as_dict()`) meet the target
    clock, and where does it run; always said to be an estimate, never routed timing."""
    fmax = clock.get("fmax_mhz")
    if fmax is None:
        return f"clock: no estimate ({clock.get('problem', 'no register-to-register path')})"
    levels = clock["lut_levels"]
    path = (
        f"critical path {clock['start']} -> {clock['end']} ({clock['critical_path_ns']:g} ns: "
        f"{levels} LUT level{'' if levels == 1 else 's'}, {clock['carry4_chain']} CARRY4); "
        "estimated from the unplaced netlist, not routed timing"
    )
    if clock_mhz is None:
        return f"clock: estimate {fmax:g} MHz, no target clock_mhz in design.json; {path}"
    slack = slack_ns(clock_mhz, clock["critical_path_ns"])
    if slack >= 0:
        return (
            f"clock: meets {clock_mhz:g} MHz (estimate {fmax:g} MHz, slack {slack:+.2f} ns); {path}"
        )
    # A miss never reads as "by 0.00 ns".
    return (
        f"clock: misses the target {clock_mhz:g} MHz by {max(-slack, 0.01):.2f} ns "
        f"(estimate {fmax:g} MHz); {path}"
    )
