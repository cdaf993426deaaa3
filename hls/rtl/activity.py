"""Switching activity of a clocked simulation, split by the cost model's power classes.

The simulation of `dse sim --toggles` dumps every signal of the core to a VCD at each clock
edge; the transitions of each bit between dumps are its toggles.  (Verilator's own toggle
coverage is not used: it counts a bit again each time another slice of the same vector is
written in a cycle, up to several times too many on the PRNG's and the lanes' vectors.)

Each bit of the core (`hls/templates/rtl`) belongs to one power class of
`hwmodel.power.POWER_CLASSES`, decided by the names the template gives its signals:

* a core net on a memory's ports (``cur0_rdata``, ``q0_raddr``, ...: ``<array>_<port>``) is
  that memory's storage kind, read from the instance's STYLE parameter in the core's
  Verilog; the memory instances themselves are seen through these nets only (a memory's
  stored bits change only through its ports);
* the current, event, fire and reset loops are the datapath (``fc_``, ``ev<l>``, ``fi<l>``,
  ``rs<l>`` and their generate blocks), and so are a convolution's fill and conv loops
  (``fl<l>``, ``cv<l>``, ``pl<l>``, ``taps<l>``); the hash rounds of the sign generator
  ``u_signs`` are the PRNG, the rest of it, the sampling pass and the PRNG inputs the sampler
  (``sp<l>``, ``prng_``); the image load and the score and count stores are I/O (``pix_``,
  ``img_``, ``ld_``, ``load_``, ``out_``, ``sc_``, ``ct_``); the sequencer, the layer keys and
  a convolution's window and queue counters are control.

A bit that several scopes name (a port and the net it connects) is one VCD code: counted
once.  The clock is no data and is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hwmodel.power import POWER_CLASSES

__all__ = ["ClassActivity", "classify_signal", "memory_nets", "read_class_activity"]

_CORE = "TOP.snn_core"
_HASH = ("x1", "x2", "word", "r")  # snn_signs.v: the counter-based hash rounds and its scaling
_SIGNS_PORTS = ("keys", "base_in", "base_cmp", "codes", "plus")  # the core's prng_* nets
_PORT_NET = re.compile(r"^[a-z]+\d*_(raddr|rdata|waddr|wdata|we)$")
_STYLE_KIND = ("registers", "lutram", "bram")  # snn_mem.v's STYLE parameter
_INSTANCE = re.compile(r"snn_r[ao]m #\(.*\.STYLE\((\d)\)")
_CONNECTION = re.compile(r"\.(?:raddr|rdata|waddr|wdata|we)\((\w+)")
_CORE_CLASSES = (
    (
        "datapath",
        re.compile(
            r"^(fc_|g_fc_|ev\d|g_ev\d|fi\d|g_fi\d|rs\d|row\d|spike_count\d"
            r"|fl\d|cv\d|g_cv\d|pl\d|taps\d|g_real\d)"
        ),
    ),
    ("sampler", re.compile(r"^(sp\d|prng_)")),
    ("io", re.compile(r"^(pix_|img_|ld_|load_|out_|sc_|ct_|start$|done$)")),
)


@dataclass(frozen=True)
class ClassActivity:
    """Signal bits and transitions of one power class over a simulation."""

    bits: int
    toggles: int

    def rate(self, cycles: int) -> float:
        """Transitions per bit per cycle (0 for a class with no bits)."""
        return self.toggles / (self.bits * cycles) if self.bits and cycles else 0.0


def memory_nets(core: Path) -> dict[str, str]:
    """Storage kind of every net a memory instance of the core's Verilog connects to its
    ports (the instance header carries STYLE; its port list follows on the next lines)."""
    nets: dict[str, str] = {}
    kind: str | None = None
    for line in core.read_text(encoding="utf-8").splitlines():
        header = _INSTANCE.search(line)
        if header is not None:
            kind = _STYLE_KIND[int(header.group(1))]
        if kind is not None:
            for net in _CONNECTION.findall(line):
                if _PORT_NET.match(net):
                    nets[net] = kind
            if line.rstrip().endswith(");"):
                kind = None
    return nets


def _plain(component: str) -> str:
    return component.split("[", 1)[0].split("(", 1)[0]


def classify_signal(path: str, memories: dict[str, str]) -> str | None:
    """The power class of a signal by its hierarchical name inside the core (``fc_sum``,
    ``g_fc_lane[0].g_fc_p[1].prior``, ``u_signs.x1``), None for one counted elsewhere or not
    at all (the clock, a memory instance's insides, the sign generator's ports).  A memory
    port net that `memories` (`memory_nets`) does not know is an error: the template and
    this table have drifted apart."""
    parts = [_plain(p) for p in path.split(".")]
    name = parts[-1]
    if name == "clk":
        return None
    instances = [p for p in parts[:-1] if p.startswith("u_")]
    if instances:
        if instances != ["u_signs"] or name in _SIGNS_PORTS:
            return None
        return "prng" if name in _HASH else "sampler"
    if len(parts) == 1 and _PORT_NET.match(name):
        if name not in memories:
            raise ValueError(f"the core's net {name} looks like a memory port, of no memory")
        return memories[name]
    for cls, pattern in _CORE_CLASSES:
        if pattern.match(parts[0]):
            return cls
    return "control"


def read_class_activity(vcd: Path, core: Path) -> dict[str, ClassActivity]:
    """Bits and transitions per power class of a VCD of the core whose Verilog is `core`."""
    memories = memory_nets(core)
    scope: list[str] = []
    code_class: dict[str, str] = {}
    width: dict[str, int] = {}
    last: dict[str, int] = {}
    toggles = dict.fromkeys(POWER_CLASSES, 0)
    with vcd.open(encoding="ascii", errors="replace") as lines:
        for line in lines:  # the header: scopes and variables
            words = line.split()
            if not words:
                continue
            if words[0] == "$scope":
                scope.append(words[2])
            elif words[0] == "$upscope":
                scope.pop()
            elif words[0] == "$var":
                here = ".".join(scope)
                code = words[3]
                if (here == _CORE or here.startswith(_CORE + ".")) and code not in code_class:
                    inner = here[len(_CORE) + 1 :]
                    cls = classify_signal(f"{inner}.{words[4]}" if inner else words[4], memories)
                    if cls is not None:
                        code_class[code] = cls
                        width[code] = int(words[2])
            elif words[0] == "$enddefinitions":
                break
        for line in lines:  # the changes: "b<bits> <code>" or "<bit><code>"
            if line[0] == "b":
                value, code = line[1:].split()
                new = int(value.replace("x", "0").replace("z", "0"), 2)
            elif line[0] in "01xz":
                code = line[1:].strip()
                new = 1 if line[0] == "1" else 0
            else:
                continue
            cls = code_class.get(code)
            if cls is None:
                continue
            if code in last:  # the first dump sets the start value, no transition
                toggles[cls] += (new ^ last[code]).bit_count()
            last[code] = new
    bits = dict.fromkeys(POWER_CLASSES, 0)
    for code, cls in code_class.items():
        bits[cls] += width[code]
    return {cls: ClassActivity(bits=bits[cls], toggles=toggles[cls]) for cls in POWER_CLASSES}
