"""The rendered kernel builds what the hardware plan says, and the cost model prices that.

For many random designs the sources are rendered (no compiler needed) and read back like a
reviewer would: array declarations, storage pragmas, loop labels, bounds and II, typedefs and
constants.  The arrays found in the source are then priced with the cost model's per-array
rule and must add up to the estimate's memory components.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from hls.project import render
from hls.rtl.context import memory_files
from hls.tools.design_spread import random_conv_snn, random_snn
from hls.vitis.context import template_context
from hwmodel.architecture import flat_size, parse_blocks
from hwmodel.estimate import estimate
from hwmodel.plan import Array, build_plan
from hwmodel.resources import array_cost
from hwmodel.template import AcceleratorConfig
from models.snn_integer import quantize_network

N_DESIGNS = 60
N_CONV = 20  # convolutional designs after the dense ones
_MEMORIES = ("weight_memory", "sample_memory", "neuron_memory", "spike_buffers", "conv_buffers")


def random_config(seed: int) -> AcceleratorConfig:
    """A random design over every knob, widths up to a few hundred (rendering only)."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(0, 4))
    widths = (int(rng.integers(4, 300)), *rng.integers(3, 200, size=depth).tolist())
    widths = (*widths, int(rng.integers(2, 12)))
    ensemble = str(rng.choice(["repeat", "time"]))
    timesteps = int(rng.integers(1, 9))
    return AcceleratorConfig(
        widths=tuple(int(w) for w in widths),
        pe=int(rng.choice([1, 2, 3, 8, 16, 64])),
        synapses_per_cycle=int(rng.choice([1, 2, 4])),
        sample_lanes=int(rng.integers(1, 5)),
        k_bits=int(rng.integers(1, 17)),
        membrane_bits=int(rng.integers(4, 33)),
        reuse=int(2 ** rng.integers(0, 7)),
        sampling=str(rng.choice(["memory", "regenerate"])),
        ensemble=ensemble,
        timesteps=timesteps,
        samples=int(rng.integers(1, (timesteps if ensemble == "time" else 6) + 1)),
        input_bits=int(rng.integers(1, 13)),
    )


def random_conv_config(seed: int) -> AcceleratorConfig:
    """A random design with a convolutional front of one to three blocks over an image of up
    to 3 x 28 x 28, and every knob as `random_config` draws it (rendering only)."""
    rng = np.random.default_rng(seed + 500)
    side = int(rng.choice([3, 5, 8, 12, 28]))
    shape = (int(rng.integers(1, 4)), side, side)
    blocks = []
    for _ in range(int(rng.integers(1, 4))):
        pool = side >= 2 and rng.random() < 0.6
        side = side // 2 if pool else side
        blocks.append(f"{int(rng.integers(1, 33))}{'p' if pool else ''}")
    conv = ",".join(blocks)
    knobs = random_config(seed).as_dict()
    head = (flat_size(shape, parse_blocks(conv)), *knobs["widths"][1:])
    return AcceleratorConfig(**{**knobs, "widths": head, "input_shape": shape, "conv": conv})


def config_of(seed: int) -> AcceleratorConfig:
    """Seeds 0 .. N_DESIGNS - 1: dense designs; the next N_CONV: convolutional ones."""
    return random_config(seed) if seed < N_DESIGNS else random_conv_config(seed)


def rendered(config: AcceleratorConfig, seed: int) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    snn = random_conv_snn(config, rng) if config.conv else random_snn(config.widths, rng)
    net = quantize_network(snn, config)
    context = template_context(net, config, 4, "plan")
    context["design"] = {"quantization": {"output_scale": 1.0, "score_divisor": 1.0}}
    names = ("snn_kernel.cpp", "snn_config.h", "snn_types.h", "snn_params.h")
    return {name: render(f"hls/src/{name}.j2", context) for name in names}


def _declaration(source: str, name: str) -> tuple[bool, int, tuple[int, ...]]:
    """(signed, element bits, dims) of `name`'s declaration."""
    match = re.search(rf"static (?:const )?ap_(u?)int<(\d+)> {name}((?:\[\d+\])+)", source)
    assert match, f"{name} is not declared"
    dims = tuple(int(d) for d in re.findall(r"\[(\d+)\]", match.group(3)))
    return match.group(1) == "", int(match.group(2)), dims


def _ap_type(source: str, name: str) -> tuple[bool, int]:
    """(signed, bits) of the ap_int typedef `name`."""
    match = re.search(rf"typedef ap_(u?)int<(\d+)> {name};", source)
    assert match, f"{name} is not an ap_int typedef"
    return match.group(1) == "", int(match.group(2))


def _packed_rom(source: str, name: str) -> tuple[bool, int, tuple[int, ...]]:
    """(signed, element bits, dims as [banks][depth][elements], banks only when declared) of a
    packed ROM: its chunks hold one word of its word type, which the kernel unpacks into
    elements of one datapath type."""
    match = re.search(rf"static const uint(\d+)_t {name}((?:\[\d+\]){{2,3}}) = ", source)
    assert match, f"{name} is not declared as a packed ROM"
    chunk = int(match.group(1))
    *banks, depth, chunks = (int(d) for d in re.findall(r"\d+", match.group(2)))
    signed, width = _ap_type(source, f"{name}_word_t")
    assert not signed and (chunks - 1) * chunk < width <= chunks * chunk, name
    # The word is assembled from its own chunks, and every use unpacks one element type.
    assert re.search(rf"{name}_word_t {name}_word = rom_word<{name}_word_t>\({name}\[", source)
    (element,) = set(re.findall(rf"element<(\w+)>\({name}_word, p\)", source))
    signed, bits = _ap_type(source, element)
    assert width % bits == 0, (name, width, bits)
    return signed, bits, (*banks, depth, width // bits)


def _pragmas(source: str, name: str) -> list[str]:
    return re.findall(rf"#pragma HLS (\w+ variable={name} [^\n]*)", source)


def _source_array(source: str, plan_array: Array) -> Array:
    """The array as the source builds it: declaration and pragmas, priced like the plan's."""
    name = plan_array.name
    rom = re.search(rf"static const uint\d+_t {name}\[", source) is not None
    signed, bits, dims = (_packed_rom if rom else _declaration)(source, name)
    pragmas = _pragmas(source, name)
    # Lanes or several banks: the source must split its first dimension.
    lane_split = plan_array.per_lane or plan_array.banks > 1
    if lane_split:
        assert f"ARRAY_PARTITION variable={name} type=complete dim=1" in pragmas
    banks = dims[0] if lane_split else 1
    depth = dims[1] if lane_split else dims[0]
    elements = dims[-1] if len(dims) == (3 if lane_split else 2) else 1
    depth_dim = 2 if lane_split else 1
    reshaped = f"ARRAY_RESHAPE variable={name} type=complete dim={depth_dim + 1}" in pragmas
    if rom:  # the chunks of a packed word are reshaped into one word
        chunks = int(re.search(rf" {name}(?:\[\d+\])*\[(\d+)\] = ", source).group(1))
        assert reshaped == (chunks > 1), name
    elif elements > 1:
        assert reshaped, name
    binds = [p for p in pragmas if p.startswith("BIND_STORAGE")]
    if f"ARRAY_PARTITION variable={name} type=complete dim={depth_dim}" in pragmas:
        kind = "registers"
        assert not binds
    else:
        (bind,) = binds
        kind = re.search(r"impl=(\w+)", bind).group(1)
        ram = re.search(r"type=(\w+)", bind).group(1)
        assert ram == ("rom_1p" if plan_array.rom else "ram_s2p"), (name, ram)
    built = Array(
        name,
        plan_array.component,
        bits,
        elements,
        depth,
        banks=banks,
        reads=plan_array.reads,
        writes=plan_array.writes,
        signed=signed,
        rom=rom,
        per_lane=plan_array.per_lane,
        read_modify_write=plan_array.read_modify_write,
        async_read=plan_array.async_read,
        padding=plan_array.padding,  # the params header fills these slots with constants
    )
    assert built.kind == kind, (name, built.kind, kind)
    return built


def _code(source: str) -> str:
    return re.sub(r"//[^\n]*", "", source)


@pytest.mark.parametrize("seed", range(N_DESIGNS + N_CONV))
def test_rendered_kernel_is_the_plan_and_the_priced_design(seed: int):
    config = config_of(seed)
    plan = build_plan(config)
    src = rendered(config, seed)
    kernel, params = src["snn_kernel.cpp"], src["snn_params.h"]
    header = src["snn_config.h"] + src["snn_types.h"]
    everything = kernel + params + header  # the ROMs' element types are in the header

    # Lanes: `time` builds one whatever sample_lanes says.
    lanes = 1 if config.ensemble == "time" else min(config.sample_lanes, config.samples)
    assert f"constexpr int LANES = {lanes};" in header
    assert plan.lanes == lanes
    assert f"constexpr int PRNG_UNITS = {plan.prng_units};" in header
    assert f"constexpr int NPC = {config.pe * config.synapses_per_cycle};" in header

    # Every plan array is declared, partitioned and bound as planned, and nothing else is.
    declared = set(re.findall(r"static (?:const )?(?:ap_u?int<\d+>|uint\d+_t) (\w+)\[", everything))
    assert declared == {a.name for a in plan.arrays}
    built = {}
    for array in plan.arrays:
        got = _source_array(everything, array)
        assert (got.width, got.depth, got.banks, got.signed) == (
            array.width,
            array.depth,
            array.banks,
            array.signed,
        ), array.name
        built[array.name] = got

    # Datapath types at the plan's widths.
    for dtype in plan.types:
        spelled = f"ap_{'' if dtype.signed else 'u'}int<{dtype.bits}>"
        if dtype.name in ("pixel", "code", "membrane", "word", "random"):
            assert f"typedef {spelled} {dtype.name}_t;" in header, dtype.name
        elif dtype.name.startswith(("current_", "update_", "events_", "trips_", "taps_")):
            kind, layer = dtype.name.split("_")
            assert f"typedef {spelled} {kind}{layer}_t;" in header, dtype.name

    # Every loop: its label, bound (trip count) and II in the kernel, its II and depth in the
    # header's counter constants.
    for loop in plan.loops:
        label = loop.name.upper()
        assert f"constexpr int II_{label} = {loop.ii};" in header
        assert f"constexpr int DEPTH_{label} = {loop.depth};" in header
        body = kernel[kernel.index(f"{label}:") :]
        head = body[: body.index("{")]
        ii = re.search(r"PIPELINE II=(\d+)", body[: len(head) + 120])
        assert ii and int(ii.group(1)) == loop.ii, label
        if loop.event_layer is not None:
            assert f"n_events * trips{loop.event_layer}_t({loop.trip})" in kernel
        elif loop.total_trip is None and label != "STORE_COUNTS":
            bound = re.search(r"< ([^;]+);", head).group(1)
            named = {"N_INPUTS": config.layer_sizes[0], "N_LAYERS": config.n_layers}
            assert named.get(bound) == loop.trip or bound == str(loop.trip), (label, bound)

    # No dividers and no modulo in the datapath; the one variable product is bound to fabric.
    code = _code(kernel)
    assert not re.search(r"[^/*]/[^/*]", code) and "%" not in code
    events = [loop for loop in plan.loops if loop.event_layer is not None]
    assert code.count("op=mul impl=fabric") == len(events)

    # The cost model prices exactly the arrays the source builds.
    priced = estimate(config)["components"]
    for component in _MEMORIES:
        got = [array_cost(a) for a in built.values() if a.component == component]
        for resource in ("lut", "ff", "bram18"):
            assert priced[component][resource] == pytest.approx(sum(c[resource] for c in got)), (
                component,
                resource,
            )
    assert priced["pe"]["dsp"] == 0


def test_random_designs_cover_the_knobs():
    configs = [random_config(seed) for seed in range(N_DESIGNS)]
    plans = [build_plan(c) for c in configs]
    assert {c.ensemble for c in configs} == {"repeat", "time"}
    assert {c.sampling for c in configs} == {"memory", "regenerate"}
    assert any(c.ensemble == "time" and c.sample_lanes > 1 for c in configs)
    assert any(p.lanes > 1 for p in plans)
    kinds = {a.kind for p in plans for a in p.arrays}
    assert kinds == {"registers", "lutram", "bram"}
    assert {len(c.widths) for c in configs} == {2, 3, 4, 5}


@pytest.mark.parametrize("seed", range(N_DESIGNS))
def test_priced_rom_bits_are_the_bits_that_vary(seed: int):
    """Synthesis keeps the bit lanes of a ROM that are not one constant at every address: of
    every weight ROM deep enough for random codes to vary (32 words), the lanes that vary in
    the RTL's $readmemh words are exactly the plan's kept width."""
    config = random_config(seed)
    plan = build_plan(config)
    net = quantize_network(random_snn(config.widths, np.random.default_rng(seed)), config)
    files = memory_files(net, config)
    for layer in range(config.n_layers):
        codes = plan.array(f"codes_{layer}")
        words = [int(word, 16) for word in files[f"codes_{layer}.mem"].split()]
        if codes.depth < 32:
            continue
        ones = zeros = 0
        for word in words:
            ones |= word
            zeros |= ~word
        varying = sum((ones >> bit) & (zeros >> bit) & 1 for bit in range(codes.width))
        assert varying == codes.kept_width, (layer, codes.padding)
