"""The plan of a convolutional front (hwmodel.plan, "Convolutions"): the estimate prices
exactly the arrays and loops it states, over random designs, as for dense designs; its
schedule keeps the pipeline's rules; weight sampling, reuse, lanes and both ensembles."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from test_pricing_cache import (
    bits,
    plan_knobs,
    profile_with_everything,
    random_designs,
    reference,
)

from dse.cli import main
from hwmodel.architecture import ConvBlock, flat_size
from hwmodel.calibration import load_calibration, resolve_calibration
from hwmodel.cycles import plan_cycles
from hwmodel.errors import HardwareInputError
from hwmodel.estimate import estimate, estimate_columns, estimate_table
from hwmodel.plan import IMAGE_HANDSHAKE, LOOP_ENTRY, READ_LATENCY, build_plan
from hwmodel.resources import (
    COMPONENTS,
    CONV_COMPONENTS,
    array_cost,
    component_resources,
    load_coefficients,
)
from hwmodel.template import AcceleratorConfig

SHAPES = [(1, 28, 28), (1, 8, 8), (3, 12, 10), (2, 7, 9), (1, 5, 5), (3, 32, 32), (1, 16, 4)]
STORAGE = ("weight_memory", "sample_memory", "neuron_memory", "spike_buffers", "conv_buffers")


def random_front(rng: np.random.Generator) -> tuple[tuple[int, int, int], tuple[ConvBlock, ...]]:
    """An input shape and one to three blocks that it can pool."""
    shape = SHAPES[rng.integers(len(SHAPES))]
    height, width = shape[1:]
    blocks = []
    for _ in range(int(rng.integers(1, 4))):
        pool = bool(rng.integers(2)) and height >= 2 and width >= 2
        blocks.append(ConvBlock(int(rng.choice([1, 2, 3, 4, 8, 16, 32])), pool))
        height, width = (height // 2, width // 2) if pool else (height, width)
    return shape, tuple(blocks)


def random_conv_designs(n: int, seed: int) -> pd.DataFrame:
    """Designs with a convolutional front over every plan knob (as `random_designs`), each
    with its own activity and loop events per weight layer (`layer_sizes`)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        shape, blocks = random_front(rng)
        hidden = [(), (16,), (40, 12), (7,)][rng.integers(4)]
        widths = (flat_size(shape, blocks), *hidden, int(rng.choice([4, 10])))
        conv = ",".join(map(str, blocks))
        input_shape = "x".join(map(str, shape))
        sizes = AcceleratorConfig(widths, conv=conv, input_shape=input_shape).layer_sizes
        events = rng.uniform(0, 1, len(sizes) - 2) * np.array(sizes[1:-1])
        knobs = plan_knobs(rng, sizes[0], events)
        rows.append({"widths": widths, "conv": conv, "input_shape": input_shape, **knobs})
    return pd.DataFrame(rows)


def config_of(row: dict) -> AcceleratorConfig:
    return AcceleratorConfig(
        **{k: v for k, v in row.items() if k not in ("activity", "loop_events")}
    )


CONV_DESIGNS = random_conv_designs(60, seed=11).to_dict("records")


@pytest.mark.parametrize(
    ("calibration", "backend", "cap", "seed"),
    [(None, "rtl", 1.0, 0), ("yosys-rtl", "rtl", 0.8, 1), ("everything", "hls", 0.5, 2)],
)
def test_conv_designs_price_exactly_their_plans(
    calibration: str | None, backend: str, cap: float, seed: int
) -> None:
    """60 random convolutional designs beside 20 dense ones in one table: every figure is, bit
    for bit, the model's functions applied to the design's own plan, nothing cached (as
    tests/hwmodel/test_pricing_cache.py holds for dense designs), and so is every single
    estimate; the table groups each network apart."""
    conv = random_conv_designs(60, seed + 20)
    designs = pd.concat([conv, random_designs(20, seed)], ignore_index=True)
    designs = designs.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cal = profile_with_everything() if calibration == "everything" else calibration
    resolved = resolve_calibration(cal)
    records = designs.to_dict("records")
    for row in records:  # a dense row of the mixed frame has NaN for the front's columns
        if not isinstance(row.get("conv"), str):
            row.pop("conv", None), row.pop("input_shape", None)
    expected = [reference(row, resolved, backend, cap) for row in records]
    table = estimate_table(designs, calibration=cal, util_cap=cap, backend=backend)
    for i, want in enumerate(expected):
        for column, value in want.items():
            if column != "duty":
                assert bits(table[column].iloc[i]) == bits(value), (i, column)
        # Both profiles here carry the shipped conv fit, which met its criteria: every design
        # is calibrated with one and none without (a missed conv fit: the test below).
        assert table["calibrated"].iloc[i] == (calibration is not None), i
    for row, want in zip(records[:25], expected, strict=False):
        got = estimate(
            config_of(row),
            activity=row["activity"],
            loop_events=row["loop_events"],
            calibration=cal,
            util_cap=cap,
            backend=backend,
        )
        for column, value in want.items():
            assert bits(got[column]) == bits(value), column


@pytest.mark.parametrize("row", CONV_DESIGNS, ids=range(len(CONV_DESIGNS)))
def test_the_estimate_prices_each_array_once_and_counts_each_loop(row: dict) -> None:
    """Storage is the array rule applied to the plan's arrays, each in its component and no
    other; the cycles are the plan's loops, each pass trip x II + depth + entry (an event
    loop's trip per event), a convolution's H x W x T x slots and its fill W + 1 per round."""
    config = config_of(row)
    plan = build_plan(config)
    comps = component_resources(plan, load_coefficients())
    assert {a.component for a in plan.arrays} <= set(COMPONENTS) - {"axi"}
    for name in STORAGE:
        mine = [array_cost(a) for a in plan.arrays if a.component == name]
        for res in ("lut", "ff", "bram18", "lutram"):
            assert comps[name][res] == sum(c[res] for c in mine), (name, res)
    names = [a.name for a in (*plan.arrays, *plan.wrapper)]
    assert len(names) == len(set(names))

    # A layer's inputs bound its events per timestep (the estimate clips a larger figure).
    per_step = np.minimum(row["loop_events"], config.layer_sizes[:-1])
    events = per_step * plan.event_slots
    cycles = float(IMAGE_HANDSHAKE)
    for loop in plan.loops:
        trip = loop.total_trip if loop.total_trip is not None else loop.passes * loop.trip
        if loop.event_layer is not None:
            trip = loop.trip * events[loop.event_layer]
        cycles += trip * loop.ii + loop.passes * (loop.depth + LOOP_ENTRY)
    assert plan_cycles(plan, events)["total"] == pytest.approx(cycles, rel=1e-12)
    got = estimate(config, activity=row["activity"], loop_events=row["loop_events"])
    assert got["cycles"] == pytest.approx(cycles, rel=1e-12)

    t = config.timesteps
    for layer, shape in enumerate(config.conv_shapes):
        conv, fill = plan.loop(f"conv_{layer}"), plan.loop(f"fill_{layer}")
        assert conv.trip == shape.height * shape.width * t * plan.slots[layer]
        assert fill.trip == shape.width + 1
        assert conv.passes == fill.passes == plan.rounds and conv.event_layer is None
    # A convolution's cycles do not depend on spikes: only the head's event loops count them.
    busier = np.asarray(row["loop_events"], dtype=float).copy()
    busier[1 : config.n_conv] *= 3.0
    again = estimate(config, activity=row["activity"], loop_events=busier)
    assert again["cycles"] == got["cycles"]
    per_layer = np.array(again["cycles_per_layer"])
    assert (per_layer[: config.n_conv] == np.array(got["cycles_per_layer"])[: config.n_conv]).all()


@pytest.mark.parametrize("row", CONV_DESIGNS[:30], ids=range(30))
def test_the_conv_pipeline_keeps_the_pipeline_rules(row: dict) -> None:
    """conv_l: stages in order up to its depth, at most one carry chain per stage (a popcount
    within its levels), the signs arriving by the tap stage, and a timestep of one neuron
    never re-read before its membrane is written back (slots >= that distance)."""
    config = config_of(row)
    plan = build_plan(config)
    for layer, shape in enumerate(config.conv_shapes):
        loop = plan.loop(f"conv_{layer}")
        indices = [s.index for s in loop.stages]
        assert indices == sorted(indices) and loop.depth == indices[-1]
        for stage in loop.stages:
            chains = [p for p in stage.logic if p.kind in ("add", "compare")]
            assert len(chains) <= 1, (stage.name, stage.logic)
        named = {s.name: s.index for s in loop.stages}
        weights = plan.array(f"signs_{layer}" if plan.sampling != "none" else f"codes_{layer}")
        assert named["taps"] >= READ_LATENCY[weights.kind]
        assert named["taps"] > named["window"]
        membrane = plan.array(f"membrane_{layer}")
        distance = named["fire"] - named["integrate"] + 1 + READ_LATENCY[membrane.kind]
        rows = plan.rows[layer]
        assert plan.slots[layer] == max(rows * shape.in_channels, distance)
        assert rows == -(-shape.channels // plan.npc)


def test_weight_sampling_reuse_lanes_and_both_ensembles() -> None:
    base = AcceleratorConfig(
        widths=(196, 16, 10), conv="4p", input_shape="1x14x14", pe=4, k_bits=4, samples=4,
        timesteps=4, sample_lanes=2,
    )  # fmt: skip
    repeat = build_plan(base)
    assert (repeat.lanes, repeat.rounds, repeat.weight_samples) == (2, 2, 2)
    signs = repeat.array("signs_0")
    assert (signs.banks, signs.depth) == (9 * 2, 1)  # a bank per tap and lane, one set
    assert repeat.array("codes_0").banks == 9 and repeat.array("image").banks == 1
    assert repeat.array("window_0").banks == 1  # the lanes share layer 0's pixels
    assert repeat.array("membrane_0").banks == repeat.array("word_0").banks == 2
    assert repeat.array("keys").depth == repeat.config.n_layers
    sample = repeat.loop("sample_0")
    assert (sample.passes, sample.trip) == (2, 9 * 1 * 1)  # 9 x C_in x rows per weight sample

    time = build_plan(replace(base, ensemble="time"))
    assert (time.lanes, time.rounds, time.weight_samples) == (1, 1, 4)
    # Every pixel runs all T timesteps, which span the four samples: all held at once.
    assert time.array("signs_0").depth == 4 and time.array("keys").depth == 4 * 3
    assert time.array("signs_1").depth == 196 * 4  # the dense head re-draws its one set
    assert time.loop("sample_0").passes == 4

    # Regenerating designs still sample a convolution into memory; the head regenerates.
    regen = build_plan(replace(base, sampling="regenerate"))
    drawing = {loop.name for loop in regen.drawing_loops}
    assert drawing == {"sample_0", "events_1", "events_2"}
    assert "signs_0" in {a.name for a in regen.arrays}
    assert "signs_1" not in {a.name for a in regen.arrays}
    assert regen.array("queue_index_0").depth == 49 and regen.array("queue_index_0").banks == 4
    # Reuse shapes the PRNG units exactly as for a dense layer (rows of NPC channels).
    assert build_plan(replace(base, reuse=4)).prng_units == 2 < repeat.prng_units == 4

    # A deterministic design draws nothing: the conv loop reads the codes.
    det = build_plan(replace(base, k_bits=1))
    assert det.sampling == "none" and det.prng_units == 0
    names = {a.name for a in det.arrays} | {loop.name for loop in det.loops}
    assert not {n for n in names if n.startswith(("signs_", "sample_", "keys"))}


def test_the_heads_walker_reads_the_fronts_queue() -> None:
    config = AcceleratorConfig(
        widths=(392, 64, 10), conv="8p", input_shape="1x14x14", pe=16, k_bits=4, timesteps=4,
        samples=2, sample_lanes=2,
    )  # fmt: skip
    plan = build_plan(config)
    mask = plan.array("queue_mask_0")
    assert (mask.element_bits, mask.depth, mask.banks) == (8, 49, 2 * 4)  # channels, 7x7, lane x T
    assert plan.array("queue_addr_0").element_bits == (392 * 4 - 1).bit_length()
    walk = plan.loop("events_1").stage("walk")
    assert [p.bits for p in walk.logic] == [8, 49, 2, 8, 2]  # mask, entries, lanes, mask, select
    assert "first_current" not in {loop.name for loop in plan.loops}  # the head sees spikes
    assert plan.type("current_1").bits == (392).bit_length() + 1
    assert plan.type("current_0").bits == (9 * 255).bit_length() + 1


def test_config_errors_and_design_json() -> None:
    base = {"widths": (784, 64, 10), "conv": "8p,16p", "input_shape": "1x28x28"}
    config = AcceleratorConfig(**base)
    assert config.as_dict()["conv"] == "8p,16p" and config.as_dict()["input_shape"] == [1, 28, 28]
    assert AcceleratorConfig(**json.loads(json.dumps(config.as_dict()))) == config
    dense = AcceleratorConfig(widths=(784, 64, 10)).as_dict()
    assert "conv" not in dense and "input_shape" not in dense  # as before the front existed
    for kwargs, field in (
        ({"input_shape": None}, "conv"),
        ({"widths": (100, 10)}, "widths"),
        ({"conv": "8q"}, "conv"),
        ({"input_shape": "1x28"}, "input_shape"),
        ({"conv": "8p,8p,8p,8p,8p,8p"}, "conv"),
    ):
        with pytest.raises(HardwareInputError) as err:
            AcceleratorConfig(**{**base, **kwargs})
        assert str(err.value).startswith(f"{field}:") and "\n" not in str(err.value)


def test_columns_take_the_front_as_text_per_design_or_for_all() -> None:
    frame = random_conv_designs(12, seed=5).drop(columns=["activity", "loop_events"])
    table = estimate_table(frame, calibration="yosys-rtl")
    columns = estimate_columns({name: frame[name].to_list() for name in frame.columns})
    assert list(columns["cycles"]) == list(estimate_table(frame)["cycles"])
    assert table["calibrated"].all()  # the shipped profile's conv fit met its criteria
    missed = load_calibration("yosys-rtl")
    missed.fit["conv_calibrated"] = False
    assert not estimate_table(frame, calibration=missed)["calibrated"].any()
    # One front for every design, spelled as the inner search passes a design (as_dict).
    config = config_of(frame.iloc[0].to_dict())
    one = estimate_columns({**config.as_dict(), "pe": [1, 2, 4]})
    assert one["cycles"][0] == estimate(replace(config, pe=1), calibration=None)["cycles"]
    assert estimate(replace(config, pe=1), calibration="yosys-rtl")["calibrated"] is True
    assert estimate(replace(config, pe=1), calibration="first-principles")["calibrated"] is False
    dense = AcceleratorConfig(widths=(64, 16, 10))
    assert estimate(dense, calibration="yosys-rtl")["calibrated"] is True
    assert estimate(dense, calibration="first-principles")["calibrated"] is False
    for comp in CONV_COMPONENTS:
        assert estimate(dense)["components"][comp] == {"lut": 0, "ff": 0, "bram18": 0, "dsp": 0}


def test_dse_estimate_takes_a_convolutional_front(capsys: pytest.CaptureFixture) -> None:
    args = ["estimate", "--layers", "784,64,10", "--conv", "8p,16p", "--input-shape", "1x28x28"]
    args += ["--pe", "16", "--timesteps", "4", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["calibrated"] is True and out["config"]["conv"] == "8p,16p"
    config = AcceleratorConfig(**out["config"])
    assert out["cycles"] == estimate(config, calibration="yosys-rtl")["cycles"]
    bad = ["estimate", "--layers", "784,64,10", "--conv", "8p,16p", "--input-shape", "1x32x32"]
    assert main(bad) == 2
    err = capsys.readouterr().err.strip()
    assert "widths: the first width 784" in err and "\n" not in err
