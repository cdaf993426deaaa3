"""The hardware plan: what one design builds, stated once for the cost model and every backend.

`build_plan(config)` turns the knobs of an `AcceleratorConfig` into a backend-neutral list of
facts: the schedule (effective lanes, rounds, weight samples, rows per layer), every loop with
its trip count, initiation interval and pipeline depth, every on-chip array with its storage
kind, element width, depth, banks and ports, every datapath type's width, the PRNG units and
the bus interfaces.  `hwmodel.resources` prices exactly these arrays and units,
`hwmodel.cycles` counts exactly these loops, the HLS generator renders them (and the Verilog
backend of issue 10 will), and tests compare the rendered sources with the plan.

Rules that live only here:

* Lanes run different weight samples of one image side by side; the `time` ensemble has a
  single weight sample in force at a time, so its effective lane count is 1 whatever
  `sample_lanes` says, and nothing is priced or built for the other lanes.
* Neurons of a layer are processed in rows of NPC = PEs x synapses per cycle.  Every per-neuron
  array is stored row-wise: address = row (or input x rows + row), one word of NPC elements
  per address, so a pipelined loop reads and writes one word per array per cycle and no bank
  index ever depends on data.
* Storage kind, one rule by the depth of a bank: at most `REGISTER_MAX_DEPTH` words are flip-
  flops, at most `LUTRAM_MAX_DEPTH` words distributed RAM, deeper block RAM.  The register
  limit is at least the event pipeline's depth, so an array that is read, modified and written
  by a pipelined loop and lives in RAM is never revisited within the pipeline (the kernel
  states that distance to the tool).
* A loop pass costs ``trip x II + depth + LOOP_ENTRY`` cycles (LOOP_ENTRY: the state that
  enters and leaves the loop), even when its trip count is 0.
* A deterministic design (k = 1, `AcceleratorConfig.deterministic`) draws nothing: its codes
  are the weight signs, read directly by the first-layer and event loops.  It builds no PRNG
  unit, no layer keys, no sign memory, no sampling phase and no PRNG stage in any pipeline,
  whatever `sampling` and `reuse` say (its `sampling` is "none"), so two settings of those
  knobs never price the same hardware differently.
* The bus differs by backend: the HLS kernel moves images and results over m_axi `ports`;
  the RTL core sits in an AXI4-Lite wrapper (`snn_axi`) that holds them in its own buffers
  (`wrapper`), which the processor writes and reads.  Each backend is priced with its own.

Convolutions (a design with `conv` blocks; weight layers 0 .. nc - 1, the dense head after):
a sliding window, FINN's, one layer at a time like the dense layers, every pixel's T
timesteps before the window slides.

* Per round (the lanes run their weight samples side by side) and convolutional layer l
  over a C_in x H x W input to C channels: `fill_l` reads the first W + 1 input positions into
  the line buffer (`lines_l`: two input rows, a word of both rows' channels per column) and
  the window (`window_l`: the 3 x 3 positions' channels, registers); then `conv_l` visits
  the output pixels in raster order, reading one input position (W + 1 ahead: the window's
  new column, the line buffer's two rows and the position itself; zero outside the map,
  which is the padding) in a pixel's first slot.  An input position holds, per channel, the
  pixel (input_bits, layer 0: the `image`, a bank per channel) or the spikes of all T
  timesteps of the previous block (T bits: `fmap_{l-1}`, written by that block).
* A pixel takes T x Q slots: per timestep t, per row of NPC output channels and per input
  channel c one slot, in which every datapath sums the 9 taps of (c, t) with their signs
  (`taps_l`: 2 x the popcount of the taps whose weight is +1 - the popcount of all taps; the
  first layer's pixels: an adder tree) into its current; the last channel's slot goes on to
  scale, integrate, saturate and fire.  Q = max(rows x C_in, D) (`conv_slots`, the plan's
  `slots`): D is the membrane's read-modify-write distance between two timesteps of one
  neuron, so a narrow layer idles the remaining slots instead of stalling.  The first layer
  re-adds its constant pixels every timestep (C_in slots per row): the same loop for every
  layer, at T x the cycles of a current computed once per weight sample.
* All T timesteps of a pixel run before the window slides, so a neuron lives only while its
  pixel is computed: the membranes are `membrane_l`, rows words of NPC (registers for C <= 8
  NPC), reset to `initial` at the pixel's first timestep, and the current one accumulator per
  datapath; no map of membranes is stored.  The timestep-major alternative (every pixel at
  timestep t before t + 1) keeps C x H x W membranes of b bits between timesteps (8 x 28 x 28
  x 16 bits = 100 kbit, 7 RAMB18, per lane, for an 8-channel first layer) and needs only a
  timestep's spikes in the line buffer; it is what an event-driven convolution would use.
  Here the line buffer, the window and the maps hold T bits per channel instead.
* The spikes of a pixel fill its word (`word_l`, C x T bits per lane), ORed, for a pooled
  block, with its left neighbour's (`pair_l`) and the pooled row above's (`pool_l`, W / 2
  words); the block's last pixel writes the word on: into `fmap_l` (the next block's input),
  or for the last block into the dense head's event queue, a bank per timestep
  (`queue_*_l`: one entry per position where a channel fired in any lane, its channel mask
  and code address; per timestep its entries and events).  The head's first layer is an
  event loop like any hidden layer's, whose walker steps a bit of the mask by H' x W' x rows
  code words (channel-major flattening) instead of rows.
* Codes: a ROM per layer with a bank per kernel tap, one NPC-code word per (input channel,
  row), so a slot reads the 9 taps' words at once.  A drawing design samples a convolution's
  weights into a sign memory of the same layout (`sample_l`, 9 x C_in x rows words per weight
  sample, whatever `sampling` says: regenerating 9 x NPC signs per cycle would take 9 x the
  PRNG units); under the `time` ensemble the memory and the layer keys hold all S samples
  (`_weight_sets`), since a pixel's T timesteps span every segment.  A deterministic design
  reads the codes.
* The cycles of a convolution do not depend on the spikes: conv_l is H x W x T x Q per round
  plus its depth and entry, fill_l W + 1; only the head's event loops count events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from hwmodel.architecture import KERNEL
from hwmodel.pipeline import Logic, Stage, popcount_stages
from hwmodel.template import AcceleratorConfig

__all__ = [
    "AXI_WORD_BITS",
    "LOOP_ENTRY",
    "LUTRAM_MAX_DEPTH",
    "REGISTER_MAX_DEPTH",
    "Array",
    "AxiPort",
    "DataType",
    "HardwarePlan",
    "Loop",
    "build_plan",
    "storage_kind",
]

Kind = Literal["registers", "lutram", "bram"]
Pass = Literal["image", "round", "weight_sample", "timestep"]
Drawing = Literal["memory", "regenerate", "none"]

REGISTER_MAX_DEPTH = 8  # >= every pipelined loop's depth (see module doc)
LUTRAM_MAX_DEPTH = 64  # one RAM64X1S LUT per bit of width
LOOP_ENTRY = 2  # cycles to enter and leave a pipelined loop
AXI_WORD_BITS = 32
AXI_LATENCY = 64  # m_axi round trip (Vitis HLS default LATENCY), first beat of a burst
IMAGE_HANDSHAKE = 2  # per image: the cycle that takes `start` and the cycle that signals done
# Read latency in cycles of each storage kind (BRAM: registered output; the others combinational).
READ_LATENCY = {"registers": 0, "lutram": 1, "bram": 2}
PRNG_STAGES = 4  # the registered inputs, then three key additions and xorshift rounds


def storage_kind(depth: int) -> Kind:
    """The one storage rule: by the depth (words) of one bank."""
    if depth <= REGISTER_MAX_DEPTH:
        return "registers"
    return "lutram" if depth <= LUTRAM_MAX_DEPTH else "bram"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class DataType:
    """A datapath value: `bits` wide, two's complement when `signed`."""

    name: str
    bits: int
    signed: bool
    role: str


@dataclass(frozen=True)
class Array:
    """One on-chip array: `banks` banks of `depth` words, each word `width` bits.

    A word holds `elements` elements of `element_bits` (width = elements x element_bits),
    two's complement when `signed`.  Ports are reads and writes per cycle of each bank.
    `component` names the cost-model component that prices it; `rom` arrays are initialised
    at build time; `per_lane` arrays have one bank per sample lane (banks = lanes);
    `read_modify_write` arrays are read and written back by one pipelined loop; `async_read`
    arrays are read combinationally (the event queues, which the event walker reads in the
    cycle it decides), so they are never block RAM: deeper than the register limit they are
    distributed RAM, however deep.  `buffer` arrays (the RTL wrapper's) are written by one
    side and read by the other, never by a pipeline's read-modify-write, so they skip the
    register tier: a few words are distributed RAM, which Yosys also picks for them, not a
    register file.  `padding` elements of every word belong to padding neurons (a layer of
    one row narrower than NPC); in a ROM they hold the same constant at every address, and
    synthesis keeps only the other bits (`kept_width`).
    """

    name: str
    component: str
    element_bits: int
    elements: int
    depth: int
    banks: int = 1
    reads: int = 1
    writes: int = 1
    signed: bool = False
    rom: bool = False
    per_lane: bool = False
    read_modify_write: bool = False
    async_read: bool = False
    buffer: bool = False
    padding: int = 0

    @property
    def width(self) -> int:
        """Bits of one word."""
        return self.element_bits * self.elements

    @property
    def kept_width(self) -> int:
        """Bits of one word that synthesis builds: Yosys's opt_mem removes every bit lane of a
        memory that holds the same constant at every address, as a ROM's padding elements do
        (measured: a 64-128-10 design at NPC 32 keeps 40 of the 128 bits of codes_1)."""
        return self.element_bits * (self.elements - self.padding)

    @property
    def kind(self) -> Kind:
        """Storage kind by the one rule (block RAM has no combinational read; a buffer is
        never registers)."""
        kind = storage_kind(self.depth)
        if kind == "registers" and self.buffer:
            return "lutram"
        return "lutram" if kind == "bram" and self.async_read else kind

    @property
    def bits(self) -> int:
        """Total bits stored."""
        return self.width * self.depth * self.banks


@dataclass(frozen=True)
class Loop:
    """One pipelined loop.

    It runs `passes` times per image (`per` says at which level of the schedule); each pass
    has `trip` iterations, or, for an event loop (`event_layer` set), `trip` iterations per
    input event of that weight layer.  `total_trip` is the fixed iterations per image (for
    loops whose trip differs between passes, e.g. the last round's lanes).
    """

    name: str
    per: Pass
    passes: int
    trip: int
    ii: int
    depth: int
    event_layer: int | None = None
    total_trip: int | None = None
    stages: tuple[Stage, ...] = ()

    def stage(self, name: str) -> Stage:
        """The stage called `name` (the RTL backend places its registers by these)."""
        return next(s for s in self.stages if s.name == name)

    @property
    def fixed_cycles(self) -> int:
        """Cycles per image that do not depend on the events."""
        overhead = self.passes * (self.depth + LOOP_ENTRY)
        if self.event_layer is not None:
            return overhead
        total = self.total_trip if self.total_trip is not None else self.passes * self.trip
        return overhead + total * self.ii

    @property
    def cycles_per_event(self) -> int:
        """Cycles per input event of `event_layer` (0 for a loop with a fixed trip count)."""
        return self.trip * self.ii if self.event_layer is not None else 0


@dataclass(frozen=True)
class AxiPort:
    """A top-level port: m_axi ports name their bundle, s_axilite ports the control bundle."""

    name: str
    mode: Literal["m_axi", "s_axilite"]
    bundle: str
    bits: int


@dataclass(frozen=True)
class HardwarePlan:
    """Everything one design builds (see the module doc)."""

    config: AcceleratorConfig
    lanes: int
    rounds: int
    weight_samples: int
    npc: int
    rows: tuple[int, ...]
    sampling: Drawing  # how weights are drawn: the config's strategy, or none (deterministic)
    prng_units: int
    types: tuple[DataType, ...]
    arrays: tuple[Array, ...]
    loops: tuple[Loop, ...]
    ports: tuple[AxiPort, ...]
    wrapper: tuple[Array, ...]
    control: Stage  # the sequencer's path, beside the loops' stages
    #: Per convolutional layer, the slots of one timestep of one pixel (`conv_slots`).
    slots: tuple[int, ...] = ()

    @property
    def bundles(self) -> tuple[str, ...]:
        """Distinct m_axi bundles."""
        return tuple(dict.fromkeys(p.bundle for p in self.ports if p.mode == "m_axi"))

    def type(self, name: str) -> DataType:
        """The datapath type called `name`."""
        return next(t for t in self.types if t.name == name)

    def array(self, name: str) -> Array:
        """The array called `name` (of the core or of the RTL wrapper)."""
        return next(a for a in (*self.arrays, *self.wrapper) if a.name == name)

    def loop(self, name: str) -> Loop:
        """The loop called `name`."""
        return next(loop for loop in self.loops if loop.name == name)

    @property
    def drawing_loops(self) -> tuple[Loop, ...]:
        """The loops that run the PRNG units: the sampling passes (memory), the first-layer
        and event loops (regenerate), none (a deterministic design)."""
        if self.sampling == "memory":
            return tuple(loop for loop in self.loops if loop.name.startswith("sample_"))
        if self.sampling == "regenerate":  # a convolution's weights are sampled into memory
            return tuple(
                loop
                for loop in self.loops
                if loop.name == "first_current"
                or loop.event_layer is not None
                or loop.name.startswith("sample_")
            )
        return ()

    @property
    def fixed_cycles(self) -> int:
        """Cycles per image that do not depend on spikes."""
        return sum(loop.fixed_cycles for loop in self.loops) + IMAGE_HANDSHAKE

    def cycles_per_event(self) -> tuple[int, ...]:
        """Cycles per loop event of each weight layer (index 0: the dense first layer, 0)."""
        out = [0] * self.config.n_layers
        for loop in self.loops:
            if loop.event_layer is not None:
                out[loop.event_layer] += loop.cycles_per_event
        return tuple(out)

    @property
    def event_slots(self) -> int:
        """Event-loop passes per layer per image: rounds x timesteps."""
        return self.rounds * self.config.timesteps

    @property
    def dsp(self) -> int:
        """Multipliers built in DSP48s: none (constant products are bound to fabric)."""
        return 0


def _bits(n: int) -> int:
    """Bits of an unsigned counter that holds 0 .. n."""
    return max(int(n).bit_length(), 1)


def _update_bits(config: AcceleratorConfig, layer: int) -> int:
    """v + (I << shift) + bias before saturation: shift < b, so current + b + 1 bits hold it."""
    return config.current_bits(layer) + config.membrane_bits + 1


def _sampling(config: AcceleratorConfig) -> Drawing:
    """The weight-sampling strategy built: none for a deterministic design (see module doc)."""
    return "none" if config.deterministic else config.sampling


def _types(config: AcceleratorConfig, rows: tuple[int, ...]) -> tuple[DataType, ...]:
    sizes = config.layer_sizes
    b = config.membrane_bits
    prng = not config.deterministic  # only the PRNG and its comparison use random and word
    types = [
        DataType("pixel", config.input_bits, False, "input pixel"),
        DataType("code", config.k_bits, False, "Bernoulli code"),
        *(
            [DataType("random", config.k_bits, False, "scaled random number on 0 .. 2^k - 2")]
            if prng
            else []
        ),
        DataType("membrane", b, True, "membrane, threshold, bias, initial value"),
        DataType("score", 32, True, "class score on the bus (a sign-extended membrane)"),
        *([DataType("word", 32, False, "PRNG word and layer key")] if prng else []),
        DataType("cycles", 64, False, "cycle counter"),
    ]
    for layer in range(config.n_layers):
        cbits = config.current_bits(layer)
        types.append(DataType(f"current_{layer}", cbits, True, f"current of weight layer {layer}"))
        types.append(
            DataType(f"update_{layer}", _update_bits(config, layer), True, "membrane update")
        )
    for layer in range(config.n_conv):
        what = "the 9 taps of one input channel: 2 x the taps whose weight is +1 - all taps"
        types.append(DataType(f"taps_{layer}", _tap_bits(config, layer), True, what))
    for layer in range(max(config.n_conv, 1), config.n_layers):
        n_in = sizes[layer]
        types.append(DataType(f"events_{layer}", _bits(n_in), False, "event count"))
        types.append(
            DataType(f"trips_{layer}", _bits(n_in * rows[layer]), False, "event-loop trips")
        )
    return tuple(types)


def _arrays(
    config: AcceleratorConfig, sampling: Drawing, lanes: int, rows: tuple[int, ...], npc: int
):
    w = config.layer_sizes
    b = config.membrane_bits
    memory = sampling == "memory"

    def lane(name: str, component: str, bits: int, elements: int, depth: int, **kw) -> Array:
        return Array(name, component, bits, elements, depth, banks=lanes, per_lane=True, **kw)

    def rom(name: str, component: str, bits: int, elements: int, depth: int, **kw) -> Array:
        return Array(name, component, bits, elements, depth, writes=0, rom=True, **kw)

    if config.conv:  # a bank per channel: the line buffer takes a position's pixels at once
        channels, height, width = config.input_shape
        image = Array("image", "spike_buffers", config.input_bits, 1, height * width, channels)
    else:
        image = Array("image", "spike_buffers", config.input_bits, 1, w[0])
    arrays = [image]
    if sampling != "none":  # the layer keys of the PRNG (of every weight sample held: _weight_sets)
        arrays.append(lane("keys", "control", 32, 1, config.n_layers * _weight_sets(config)))
    for layer in range(config.n_conv):
        arrays += _conv_arrays(config, layer, sampling, lanes, rows, npc)
    for layer in range(config.n_conv, config.n_layers):
        n_in, r = w[layer], rows[layer]
        spiking = layer < config.n_layers - 1
        cbits = config.current_bits(layer)
        # A layer of one row narrower than NPC has padding neurons in every word: their ROM
        # elements (code 0, threshold at the top, bias and initial value 0) are constants.
        padding = npc - w[layer + 1] if r == 1 else 0
        # Codes: input-major rows, one NPC-code word per (input, row).  Read by the sampling
        # phase (memory) or by the first-layer and event loops (regenerate, none).
        arrays.append(
            rom(f"codes_{layer}", "weight_memory", config.k_bits, npc, n_in * r, padding=padding)
        )
        if memory:  # sampled signs, one NPC-bit word per (input, row) and lane
            arrays.append(lane(f"signs_{layer}", "sample_memory", npc, 1, n_in * r))
        arrays.append(lane(f"membrane_{layer}", "neuron_memory", b, npc, r, signed=True))
        arrays.append(
            lane(
                f"current_{layer}",
                "neuron_memory",
                cbits,
                npc,
                r,
                signed=True,
                read_modify_write=True,
            )
        )
        constants = ("threshold", "bias", "initial") if spiking else ("bias", "initial")
        for name in constants:
            arrays.append(
                rom(f"{name}_{layer}", "neuron_memory", b, npc, r, signed=True, padding=padding)
            )
        if spiking:
            # The event queue: one entry per row of this layer that fired in any lane, written
            # once per fire-pass cycle (no dynamic multi-writes): the code address and (for the
            # regenerating PRNG) the flat weight index of the row's first neuron as an input of
            # the next layer, and each lane's NPC-bit spike mask.  The next layer's event loop
            # walks the set bits.
            addr_bits = _bits(w[layer + 1] * rows[layer + 1] - 1)
            queue = {"async_read": True}
            arrays.append(Array(f"queue_addr_{layer}", "spike_buffers", addr_bits, 1, r, **queue))
            if sampling == "regenerate":
                index_bits = _bits(w[layer + 1] * w[layer + 2] - 1)
                arrays.append(
                    Array(f"queue_index_{layer}", "spike_buffers", index_bits, 1, r, **queue)
                )
            arrays.append(lane(f"queue_mask_{layer}", "spike_buffers", npc, 1, r, **queue))
    return tuple(arrays)


def _read(kind: str, words: int) -> tuple[Logic, ...]:
    """The read logic in the stage a memory's data arrives: a mux over a register file's words
    (none for a single word); LUTRAM and block RAM deliver from a register."""
    return (Logic("read", words),) if kind == "registers" and words > 1 else ()


def _reads(kind: str, words: int, name: str) -> list[Stage]:
    """Stages 0 .. latency - 1 of a memory read: the LUTRAM lookup into its output register,
    or the block RAM's address and output-register stages."""
    latency = READ_LATENCY[kind]
    what = f"{name}: the {kind} read in flight"
    logic = (Logic("read", 1),) if kind == "lutram" else ()
    return [Stage(s, "read", logic if s == 0 else (), what) for s in range(latency)]


def _prng(first: int) -> list[Stage]:
    """The PRNG units from stage `first`: the driving loop's key and base selected and
    registered, then three rounds of a 32-bit add and xorshift32."""
    rounds = (Logic("add", 32), Logic("xorshift", 32))
    select = Stage(first, "prng_select", (Logic("mux", 4),), "select the loop's key and base")
    return [select] + [
        Stage(first + r, f"prng{r}", rounds, "PRNG round: key add, xorshift32")
        for r in range(1, PRNG_STAGES)
    ]


def _units(config: AcceleratorConfig, npc: int) -> Logic:
    """Before the sign's compare: each neuron's select among the PRNG units its row window
    spans, beside the select of the driving loop's codes (one loop per weight layer)."""
    units = min(npc, _ceil_div(npc - 1, config.reuse) + 1)
    return Logic("mux", max(units, config.n_layers))


def _current_stages(
    config: AcceleratorConfig,
    layer: int,
    weights: Array,
    rows_kind: Kind,
    regenerate: bool,
    lanes: int,
    npc: int,
    pixel: int,
) -> tuple[Stage, ...]:
    """first_current (layer 0) or an event loop: the walker (event loops), the weight read
    and (regenerate) the PRNG and the registered sign, then the current's add and write
    (where the pixel, read with latency `pixel`, arrives too)."""
    cbits = config.current_bits(layer)
    sizes = config.layer_sizes
    rows = _ceil_div(sizes[layer + 1], npc)
    walk = layer > 0
    stages: list[Stage] = []
    start = 0
    if walk:  # the next set bit of the queued masks, then its code address
        aw = _bits(sizes[layer] * rows - 1)
        # The previous layer's queue: a dense layer's entries are rows of NPC neurons, the
        # convolutional front's are positions of its last block's channels (per timestep).
        mask, entries = _queue_shape(config, layer - 1, npc)
        walker = (
            Logic("or", mask),  # no bits left: fetch the next entry
            Logic("read", entries),
            Logic("or", lanes),
            Logic("add", mask),  # the lowest set bit: x & (~x + 1) on a carry chain
            Logic("mux", 2),
        )
        what = "walk the queued spike masks: the lowest set bit (registered one-hot)"
        stages.append(Stage(0, "walk", walker, what))
        address = (Logic("or", npc), Logic("add", aw), Logic("mux", 2))
        what = "the bit's index x rows + the entry's address, or the previous + 1"
        stages.append(Stage(1, "address", address, what))
        start = 2
    latency = READ_LATENCY[weights.kind]
    if regenerate:  # the codes arrive with the PRNG's word; the sign is registered
        cmp = start + max(PRNG_STAGES, latency)
        stages += _prng(start)
        what = "sign: each neuron's unit, scaled random number < code (registered)"
        sign = (_units(config, npc), Logic("compare", config.k_bits))
        stages.append(Stage(cmp, "sign", sign, what, registers=1))
        depth = cmp + 1
    else:  # the signs (or 1-bit codes) are read to arrive where the current is added
        depth = max(start + latency, READ_LATENCY[rows_kind], pixel, 1)
        reads = _reads(weights.kind, weights.depth, "weight signs")
        stages += [replace(s, index=depth - latency + s.index) for s in reads]
    sign_read = () if regenerate else _read(weights.kind, weights.depth)
    if walk:
        what = f"current_{layer} +- 1 where the input fired (read, add, write)"
        fanout = npc  # each lane's update bit drives its NPC datapaths
    else:
        what = "current_0 = (first input ? 0 : current_0) +- pixel (read, add, write)"
        fanout = lanes * npc  # the pixel drives every datapath
    logic = (*sign_read, *_read(rows_kind, rows), Logic("add", cbits))
    stages.append(Stage(depth, "current", logic, what, fanout=fanout))
    return tuple(stages)


def _fire_stages(
    config: AcceleratorConfig, layer: int, kind: Kind, rows: int, lanes: int, npc: int
) -> tuple[Stage, ...]:
    """fire_l: scale and add the current, integrate, saturate, then (hidden layers) compare
    and subtract the threshold, queue the row and count its spikes.  Current and bias are
    read in stage 0 and the membrane in stage 1, each arriving where it is used; the
    threshold is read in stage 2 and registered beside the saturated membrane."""
    r = READ_LATENCY[kind]
    b = config.membrane_bits
    ub = _update_bits(config, layer)
    spiking = layer < config.n_layers - 1
    stages = _reads(kind, rows, "current, bias, membrane and threshold")
    read = _read(kind, rows)
    stages += [
        Stage(r, "scale", (*read, Logic("add", ub)), "(current << shift) + bias", lanes, ub),
        Stage(r + 1, "integrate", (*read, Logic("add", ub)), "membrane + that", registers=ub),
        Stage(
            r + 2,
            "saturate",
            (Logic("or", ub - b + 1), Logic("mux", 3)),
            "saturate to the membrane width" + ("" if spiking else "; write the membrane"),
            registers=b if spiking else 0,
        ),
    ]
    if not spiking:
        return tuple(stages)
    what = "v >= threshold (beside it v - threshold), select; write the membrane, clear the current"
    compare = (Logic("compare", b), Logic("mux", 2))
    stages.append(Stage(r + 3, "fire", compare, what, lanes, registers=1))
    spikes = lanes * min(npc, config.layer_sizes[layer + 1])  # padding neurons never fire
    counts = popcount_stages(spikes)
    for i, piece in enumerate(counts):
        lanes_or = (Logic("or", lanes),) if i == 0 else ()
        what = "any lane fired: queue the row; popcount of the spikes" if i == 0 else "popcount"
        name = "queue" if i == 0 else f"popcount{i}"
        stages.append(Stage(r + 4 + i, name, (*lanes_or, piece), what))
    what = "spike count + popcount, events + popcount of the rows' any-lane bits"
    stages.append(Stage(r + 4 + len(counts), "count", (Logic("add", 32),), what))
    return tuple(stages)


def _weight_sets(config: AcceleratorConfig) -> int:
    """Weight samples whose keys and convolution signs are held at once: a convolutional front
    runs every timestep of a pixel before the next, so under the `time` ensemble it needs all
    S samples in force during one pass (their signs drawn before it); one otherwise (and in
    every dense design, whose `time` run re-draws its single set at each segment)."""
    return config.samples if config.conv and config.ensemble == "time" else 1


def _tap_bits(config: AcceleratorConfig, layer: int) -> int:
    """Signed width of one channel's 9-tap sum 2 x (taps with weight +1) - (all taps)."""
    peak = KERNEL * KERNEL * ((1 << config.input_bits) - 1 if layer == 0 else 1)
    return int(peak).bit_length() + 1


def _queue_shape(config: AcceleratorConfig, layer: int, npc: int) -> tuple[int, int]:
    """(mask bits, words) of the event queue weight layer `layer` writes for the next one: a
    dense layer queues rows of NPC neurons; the last convolutional block queues, per timestep,
    its positions with the spikes of all its channels."""
    if layer == config.n_conv - 1:  # a bank per timestep: the walker reads one of them
        shape = config.conv_shapes[layer]
        return shape.channels, shape.out_height * shape.out_width
    return npc, _ceil_div(config.layer_sizes[layer + 1], npc)


def _loop(name: str, per: Pass, passes: int, trip: int, stages, **kw) -> Loop:
    """A loop at II 1 whose depth is its last stage."""
    depth = max(s.index for s in stages)
    return Loop(name, per, passes, trip, 1, depth, stages=tuple(stages), **kw)


def _conv_arrays(
    config: AcceleratorConfig,
    layer: int,
    sampling: Drawing,
    lanes: int,
    rows: tuple[int, ...],
    npc: int,
) -> list[Array]:
    """The arrays of convolutional layer `layer` (see the module doc, "Convolutions")."""
    shape = config.conv_shapes[layer]
    t, b, r = config.timesteps, config.membrane_bits, rows[layer]
    taps = KERNEL * KERNEL
    # Layer 0 reads the image, which every lane shares; later layers a map per lane.
    shared = {} if layer == 0 else {"banks": lanes, "per_lane": True}
    bits = config.input_bits if layer == 0 else t  # per channel of an input position
    padding = npc - shape.channels if r == 1 else 0

    def lane(name: str, component: str, bits: int, elements: int, depth: int, **kw) -> Array:
        return Array(name, component, bits, elements, depth, banks=lanes, per_lane=True, **kw)

    def rom(name: str, component: str, bits: int, depth: int, **kw) -> Array:
        return Array(name, component, bits, npc, depth, writes=0, rom=True, padding=padding, **kw)

    arrays = [
        # Two input rows per column (the line buffer) and the 3 x 3 positions of the window.
        Array(f"lines_{layer}", "conv_buffers", bits, 2 * shape.in_channels, shape.width, **shared),
        Array(f"window_{layer}", "conv_buffers", bits, taps * shape.in_channels, 1, **shared),
        # Codes: a bank per kernel tap, one NPC-code word per (input channel, row).
        rom(f"codes_{layer}", "weight_memory", config.k_bits, shape.in_channels * r, banks=taps),
    ]
    if sampling != "none":  # drawn into memory whatever `sampling` says (module doc)
        depth = shape.in_channels * r * _weight_sets(config)
        arrays.append(
            Array(
                f"signs_{layer}", "sample_memory", npc, 1, depth, banks=taps * lanes, per_lane=True
            )
        )
    rmw = {"signed": True, "read_modify_write": True}
    arrays.append(lane(f"membrane_{layer}", "neuron_memory", b, npc, r, **rmw))
    arrays.append(
        lane(f"current_{layer}", "neuron_memory", config.current_bits(layer), npc, 1, **rmw)
    )
    for name in ("threshold", "bias", "initial"):
        arrays.append(rom(f"{name}_{layer}", "neuron_memory", b, r, signed=True))
    # The pixel's spikes of every timestep and channel, pooled with those of its block.
    arrays.append(lane(f"word_{layer}", "conv_buffers", t, shape.channels, 1))
    if shape.pool:
        arrays.append(lane(f"pair_{layer}", "conv_buffers", t, shape.channels, 1))
        arrays.append(lane(f"pool_{layer}", "conv_buffers", t, shape.channels, shape.out_width))
    positions = shape.out_height * shape.out_width
    if layer < config.n_conv - 1:  # the next block's input
        arrays.append(lane(f"fmap_{layer}", "conv_buffers", t, shape.channels, positions))
        return arrays
    # The dense head's event queue, a bank of `positions` entries per timestep (the head's
    # event loop of timestep t walks bank t): the code address (and, regenerating, the flat
    # weight index) of the position's channel 0 as an input of the head, each lane's channel
    # mask; per timestep its entries and events.
    sizes, head = config.layer_sizes, layer + 1
    queue = {"async_read": True}
    addr_bits = _bits(sizes[head] * rows[head] - 1)
    arrays.append(Array(f"queue_addr_{layer}", "conv_buffers", addr_bits, 1, positions, t, **queue))
    if sampling == "regenerate":
        index_bits = _bits(sizes[head] * sizes[head + 1] - 1)
        arrays.append(
            Array(f"queue_index_{layer}", "conv_buffers", index_bits, 1, positions, t, **queue)
        )
    mask = {"banks": lanes * t, "per_lane": True, **queue}
    arrays.append(
        Array(f"queue_mask_{layer}", "conv_buffers", shape.channels, 1, positions, **mask)
    )
    arrays.append(Array(f"queue_fill_{layer}", "conv_buffers", _bits(positions), 1, t))
    arrays.append(Array(f"queue_events_{layer}", "conv_buffers", _bits(sizes[head]), 1, t))
    return arrays


def _read_widest(*arrays: Array) -> tuple[Logic, ...]:
    """The read logic of arrays read side by side: the widest register-file mux among them."""
    words = max((a.depth for a in arrays if a.kind == "registers"), default=1)
    return _read("registers", words)


def _tap_pieces(config: AcceleratorConfig, layer: int) -> list[tuple[Logic, ...]]:
    """One neuron's sum of the 9 taps of one input channel, a tuple of logic per stage: for
    spikes the popcount of (tap AND weight +1) (the popcount of the taps, shared by the
    neurons, beside it); for the first layer's pixels the adder tree of the taps whose weight
    is +1 (the sum of all taps beside it), one adder level per stage."""
    if layer > 0:
        return [(piece,) for piece in popcount_stages(KERNEL * KERNEL)]
    levels = (KERNEL * KERNEL - 1).bit_length()  # 9 -> 5 -> 3 -> 2 -> 1
    return [(Logic("add", config.input_bits + level),) for level in range(1, levels + 1)]


def _conv_stages(
    config: AcceleratorConfig, layer: int, arrays: dict, lanes: int, npc: int
) -> tuple[Stage, ...]:
    """conv_l: the first slot of a pixel reads the next input position and its line-buffer
    column; the window shifts it in and selects the taps of the slot's (channel, timestep);
    each datapath sums them (with the signs, read beside) and accumulates the current over
    the channels; the last channel's slot scales, integrates, saturates and fires; the spikes
    are pooled (OR with the block's other pixels) into the pixel's word, queued (last block)
    and counted."""
    shape = config.conv_shapes[layer]
    kinds = {name: a.kind for name, a in arrays.items()}
    b, rows = config.membrane_bits, _ceil_div(shape.channels, npc)
    ub = _update_bits(config, layer)
    source = arrays["image" if layer == 0 else f"fmap_{layer - 1}"]
    lines = arrays[f"lines_{layer}"]
    slow = max((source, lines), key=lambda a: READ_LATENCY[a.kind])
    r_in = READ_LATENCY[slow.kind]
    what = "the next input position and its line-buffer column (a pixel's first slot)"
    stages = _reads(slow.kind, slow.depth, what)
    select = shape.in_channels * (1 if layer == 0 else config.timesteps)
    read = _read_widest(source, lines)
    window = (*read, Logic("mux", 2), Logic("mux", select))
    what = "first slot: write the line buffer, shift the column in; the taps of the slot"
    stages.append(Stage(r_in, "window", window, what))
    weights = arrays.get(f"signs_{layer}", arrays[f"codes_{layer}"])
    start = max(r_in + 1, READ_LATENCY[weights.kind])  # the signs are read beside the taps
    fanout = npc * (lanes if layer == 0 else 1)  # a tap drives each datapath sharing it
    for i, logic in enumerate(_tap_pieces(config, layer)):
        sign = _read(weights.kind, weights.depth) if i == 0 else ()
        name, what = ("taps", "sum the taps of weight +1") if i == 0 else (f"taps{i}", "sum")
        stages.append(Stage(start + i, name, (*sign, *logic), what, fanout if i == 0 else 1))
    c = stages[-1].index + 1
    mem, rom = kinds[f"membrane_{layer}"], kinds[f"bias_{layer}"]
    what = "current = (first channel ? 0 : current) + 2 x sum - sum of the taps"
    stages.append(Stage(c, "current", (Logic("add", config.current_bits(layer)),), what))
    stages[-1] = replace(stages[-1], registers=config.current_bits(layer))
    stages += [
        Stage(
            c + 1,
            "scale",
            (*_read(rom, rows), Logic("add", ub)),
            "(current << shift) + bias",
            lanes,
            ub,
        ),
        Stage(
            c + 2,
            "integrate",
            (*_read(mem, rows), Logic("mux", 2), Logic("add", ub)),
            "(first timestep ? initial : membrane) + that",
            registers=ub,
        ),
        Stage(
            c + 3,
            "saturate",
            (Logic("or", ub - b + 1), Logic("mux", 3)),
            "saturate to the membrane width",
            registers=b,
        ),
        Stage(
            c + 4,
            "fire",
            (Logic("compare", b), Logic("mux", 2)),
            "v >= threshold (beside it v - threshold), select; write the membrane",
            lanes,
            registers=1,
        ),
    ]
    pooled = (Logic("or", 3),) if shape.pool else ()  # with the pair's and the pool row's bits
    counts = popcount_stages(lanes * min(npc, shape.channels))
    # The slot's (row, timestep) bits of the word are selected by a one-hot decoded in the
    # fire stage; a neuron's pooled spike is the OR of its row x timestep bits, into the
    # popcount.  The last block registers the timestep's channel mask here and queues the
    # position a stage later (its OR over lanes x channels beside that stage's own logic):
    # in one stage the entry was the critical path of the netlist (Yosys, docs/rtl.md).
    slot_bits = Logic("or", rows * config.timesteps)
    counted = Logic("mux", 2)  # only an output pixel's spikes are counted
    for i, piece in enumerate(counts):
        if i == 0:
            path = (*pooled, slot_bits, counted, piece)
            what = (
                "pool into the word (a block's last pixel: write it on, or register the "
                "timestep's channel mask, queued in the next stage); popcount"
            )
            stages.append(Stage(c + 5, "pool", path, what))
        else:
            stages.append(Stage(c + 5 + i, f"popcount{i}", (piece,), "popcount"))
    what = "spike count + popcount (the last block: its timestep's events too)"
    stages.append(Stage(c + 5 + len(counts), "count", (Logic("add", 32),), what))
    return tuple(stages)


def conv_slots(config: AcceleratorConfig, layer: int, stages: tuple[Stage, ...], kind: Kind) -> int:
    """Slots (cycles) of one timestep of one pixel: a slot per (row, input channel), at least
    as many as the membrane's read-modify-write needs between two timesteps of one neuron (its
    read, arriving in the integrate stage, to its write in the fire stage), idle otherwise."""
    shape = config.conv_shapes[layer]
    named = {s.name: s.index for s in stages}
    distance = named["fire"] - named["integrate"] + 1 + READ_LATENCY[kind]
    rows = _ceil_div(shape.channels, config.neurons_per_cycle)
    return max(rows * shape.in_channels, distance)


def _conv_loops(
    config: AcceleratorConfig, layer: int, arrays: dict, lanes: int, rounds: int, npc: int
) -> list[Loop]:
    """fill_l, the line buffer's first W + 1 positions, and conv_l, every pixel's timesteps
    (per round: the lanes run their weight samples side by side)."""
    shape = config.conv_shapes[layer]
    source = arrays["image" if layer == 0 else f"fmap_{layer - 1}"]
    lines = arrays[f"lines_{layer}"]
    slow = max((source, lines), key=lambda a: READ_LATENCY[a.kind])
    what = "an input position and its line-buffer column"
    read = _read_widest(source, lines)
    shift = Stage(
        max(READ_LATENCY[slow.kind], 1),
        "shift",
        (*read, Logic("mux", 2)),
        "write the line buffer, shift the column into the window",
    )
    fill = _loop(
        f"fill_{layer}",
        "round",
        rounds,
        shape.width + 1,
        [*_reads(slow.kind, slow.depth, what), shift],
    )
    stages = _conv_stages(config, layer, arrays, lanes, npc)
    slots = conv_slots(config, layer, stages, arrays[f"membrane_{layer}"].kind)
    trip = shape.height * shape.width * config.timesteps * slots
    return [fill, _loop(f"conv_{layer}", "round", rounds, trip, stages)]


def _control_stage(loops: tuple[Loop, ...]) -> Stage:
    """The sequencer: the running loop's last-iteration compare (on the widest counter) and
    drained flag, selected by the state (a state per loop, idle and done), the next phase."""
    counter = _bits(max(loop.total_trip or loop.trip for loop in loops))
    logic = (Logic("equal", counter), Logic("control", len(loops) + 2))
    return Stage(0, "sequencer", logic, "the state's last and drained flags, the next phase")


def _loops(
    config: AcceleratorConfig, sampling: Drawing, plan_arrays, lanes, rounds, samples_w, rows
):
    w = config.layer_sizes
    nc = config.n_conv
    npc = config.neurons_per_cycle
    memory = sampling == "memory"
    regenerate = sampling == "regenerate"
    steps = rounds * config.timesteps
    plan_arrays = {a.name: a for a in plan_arrays}
    kinds = {name: a.kind for name, a in plan_arrays.items()}

    def loop(name, per, passes, trip, stages, **kw) -> Loop:
        depth = max(s.index for s in stages)
        return Loop(name, per, passes, trip, 1, depth, stages=tuple(stages), **kw)

    bus = (Stage(AXI_LATENCY, "bus", (), "the bus round trip"),)
    loops = [loop("load_image", "image", 1, w[0], bus)]
    for layer in range(nc, config.n_layers):  # a convolution starts its neurons per pixel
        # Read the initial value, write it where it arrives.
        kind = kinds[f"initial_{layer}"]
        depth = max(READ_LATENCY[kind], 1)
        write = Stage(depth, "write", _read(kind, rows[layer]), "initial membrane -> membrane")
        stages = [*_reads(kind, rows[layer], "initial membrane"), write]
        loops.append(loop(f"reset_{layer}", "round", rounds, rows[layer], stages))
    if sampling != "none":
        key_rounds = [
            Stage(0, "key1", (Logic("add", 32),), "key schedule: seed + sample + constant"),
            Stage(1, "key2", (Logic("xorshift", 32), Logic("add", 32)), "xorshift32, + layer"),
            Stage(2, "key3", (Logic("xorshift", 32),), "xorshift32; write the layer key"),
        ]
        loops.append(loop("keys", "weight_sample", samples_w, config.n_layers, key_rounds))
    for layer in range(config.n_layers):
        # Every drawing design samples its convolutions into sign memories (_conv_arrays).
        if not (memory or (layer < nc and sampling != "none")):
            continue
        kind = kinds[f"codes_{layer}"]
        cmp = max(PRNG_STAGES, READ_LATENCY[kind])  # the codes arrive with the word
        sign = (_units(config, npc), Logic("compare", config.k_bits))
        what = "random number < code, written as the sign"
        stages = [*_prng(0), Stage(cmp, "sign", sign, what)]
        trip = config.fan_in(layer) * rows[layer]
        loops.append(loop(f"sample_{layer}", "weight_sample", samples_w, trip, stages))
    for layer in range(nc):
        loops += _conv_loops(config, layer, plan_arrays, lanes, rounds, npc)
    weights_of = "signs" if memory else "codes"
    for layer in range(nc, config.n_layers):
        rows_kind = kinds[f"membrane_{layer}"]
        weights = plan_arrays[f"{weights_of}_{layer}"]
        pixel = READ_LATENCY[kinds["image"]] if layer == 0 else 0
        stages = _current_stages(config, layer, weights, rows_kind, regenerate, lanes, npc, pixel)
        if layer == 0:
            loops.append(loop("first_current", "weight_sample", samples_w, w[0] * rows[0], stages))
        else:
            loops.append(
                loop(f"events_{layer}", "timestep", steps, rows[layer], stages, event_layer=layer)
            )
        fire = _fire_stages(config, layer, rows_kind, rows[layer], lanes, npc)
        loops.append(loop(f"fire_{layer}", "timestep", steps, rows[layer], fire))
    scores = config.runs * w[-1]
    # Read the output membrane, select the element, register it, then the bus's round trip.
    last = kinds[f"membrane_{config.n_layers - 1}"]
    r = READ_LATENCY[last]
    select = (Logic("mux", lanes), Logic("mux", npc))
    stages = [
        *_reads(last, rows[-1], "output membrane"),
        Stage(r, "select", (*_read(last, rows[-1]), *select), "the score of (lane, class)"),
        Stage(r + 1 + AXI_LATENCY, "bus", (), "the beat, then the bus round trip"),
    ]
    loops.append(loop("store_scores", "round", rounds, lanes * w[-1], stages, total_trip=scores))
    # Spike counts of the hidden layers, then the cycle count: one beat each.
    counts = (Logic("mux", config.n_layers), Logic("add", 32))
    stages = [
        Stage(0, "select", counts, "a spike count, or the cycle count + the pass's rest"),
        Stage(AXI_LATENCY, "bus", (), "the bus round trip"),
    ]
    loops.append(loop("store_counts", "image", 1, config.n_layers, stages))
    return tuple(loops)


def _wrapper(config: AcceleratorConfig) -> tuple[Array, ...]:
    """The RTL wrapper's buffers: the image (the core's pixel requests read it a cycle later)
    and the result words (scores of every run, hidden spike counts, the cycle count), which
    the bus reads combinationally into its read-data register."""
    results = config.runs * config.widths[-1] + config.n_layers
    pixels = config.layer_sizes[0]
    return (
        Array("bus_pixels", "axi", config.input_bits, 1, pixels, buffer=True),
        Array("bus_results", "axi", 32, 1, results, buffer=True, async_read=True),
    )


@cache
def build_plan(config: AcceleratorConfig) -> HardwarePlan:
    """The plan of one design (cached: configs are frozen and hashable)."""
    npc = config.neurons_per_cycle
    lanes = 1 if config.ensemble == "time" else min(config.sample_lanes, config.samples)
    rounds = _ceil_div(config.samples, lanes) if config.ensemble == "repeat" else 1
    samples_w = rounds if config.ensemble == "repeat" else config.samples
    rows = tuple(_ceil_div(config.layer_outputs(n), npc) for n in range(config.n_layers))
    # A row window holds NPC consecutive weight indices; with reuse R it spans at most
    # ceil((NPC - 1) / R) + 1 groups, never more than NPC.
    sampling = _sampling(config)
    units = 0 if sampling == "none" else min(npc, _ceil_div(npc - 1, config.reuse) + 1)
    arrays = _arrays(config, sampling, lanes, rows, npc)
    loops = _loops(config, sampling, arrays, lanes, rounds, samples_w, rows)
    ports = (
        AxiPort("images", "m_axi", "gmem", 16),
        AxiPort("scores", "m_axi", "gmem", 32),
        AxiPort("spikes", "m_axi", "gmem", 32),
        AxiPort("cycles", "m_axi", "gmem", 64),
        AxiPort("n_images", "s_axilite", "control", 32),
    )
    return HardwarePlan(
        config=config,
        lanes=lanes,
        rounds=rounds,
        weight_samples=samples_w,
        npc=npc,
        rows=rows,
        sampling=sampling,
        prng_units=units,
        types=_types(config, rows),
        arrays=arrays,
        loops=loops,
        ports=ports,
        wrapper=_wrapper(config),
        control=_control_stage(loops),
        slots=tuple(
            next(loop.trip for loop in loops if loop.name == f"conv_{layer}")
            // (shape.height * shape.width * config.timesteps)
            for layer, shape in enumerate(config.conv_shapes)
        ),
    )
