"""The fast pricing (plans priced once and kept, figures combined for many designs at once)
gives, bit for bit, what the model's functions give for one design at a time with nothing
kept; and nothing a caller gets back can change what later estimates price with."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwmodel.calibration import (
    Calibration,
    apply_calibration,
    load_calibration,
    resolve_calibration,
    save_calibration,
)
from hwmodel.cycles import (
    activity_matrix,
    conv_ops_per_inference,
    conv_synops_per_inference,
    dense_ops_per_inference,
    loop_cycles,
    plan_cycles,
    synops_per_inference,
)
from hwmodel.devices import get_board, get_part
from hwmodel.errors import HardwareInputError
from hwmodel.estimate import estimate, estimate_columns, estimate_table
from hwmodel.fmax import FmaxModel
from hwmodel.plan import build_plan
from hwmodel.power import (
    class_duty,
    class_resources,
    class_shares,
    dynamic_power_by_class,
    predicted_toggle,
)
from hwmodel.resources import (
    COMPONENTS,
    RESOURCES,
    coefficients,
    component_resources,
    load_coefficients,
)
from hwmodel.template import AcceleratorConfig

WIDTHS = [(64, 128, 10), (784, 256, 10), (100, 40, 30, 10), (16, 10), (64, 7, 10)]
PARTS = ["xc7z020clg400-1", "xc7z010clg400-1", "xc7z045ffg900-2"]
UTIL = ("lut", "ff", "bram36", "dsp", "lutram")
PART_FIELDS = ("lut", "ff", "bram36", "dsp", "lutram", "static_w", "ps_w", "ps_idle_w")


def random_designs(n: int, seed: int) -> pd.DataFrame:
    """Designs over every plan knob, twins (PEs x synapses, lanes past the samples, k = 1)
    included, each with its own activity and loop events."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        widths = WIDTHS[rng.integers(len(WIDTHS))]
        hidden = rng.uniform(0, 1, len(widths) - 2) * np.array(widths[1:-1])
        rows.append({"widths": widths, **plan_knobs(rng, widths[0], hidden)})
    return pd.DataFrame(rows)


def plan_knobs(rng: np.random.Generator, inputs: int, events: np.ndarray) -> dict:
    """Every plan knob but the network drawn at random, and the activity of a network with
    `inputs` input values and `events` mean events per hidden layer."""
    timesteps = int(rng.choice([1, 2, 4, 8]))
    ensemble = str(rng.choice(["repeat", "time"]))
    samples = int(rng.integers(1, 9))
    return {
        "pe": int(rng.choice([1, 2, 4, 8, 16, 64])),
        "synapses_per_cycle": int(rng.choice([1, 2, 4])),
        "sample_lanes": int(rng.choice([1, 2, 3, 8])),
        "k_bits": int(rng.choice([1, 1, 3, 8, 12])),
        "membrane_bits": int(rng.integers(6, 25)),
        "reuse": int(rng.choice([1, 2, 4, 16])),
        "input_bits": int(rng.choice([1, 8])),
        "sampling": str(rng.choice(["memory", "regenerate"])),
        "clock_mhz": float(rng.uniform(50, 250)),
        "part": str(rng.choice(PARTS)),
        "ensemble": ensemble,
        "timesteps": timesteps,
        "samples": min(samples, timesteps) if ensemble == "time" else samples,
        "seed": int(rng.integers(0, 3)),
        "activity": np.array([inputs, *events]),
        "loop_events": np.array([inputs, *(events * rng.uniform(1, 2))]),
    }


def reference(row: dict, cal: Calibration | None, backend: str, cap: float) -> dict:
    """One design priced from the model's functions, nothing cached or shared: its own plan
    (built from every knob), freshly parsed coefficients."""
    knobs = {k: v for k, v in row.items() if k not in ("activity", "loop_events")}
    config = AcceleratorConfig(**knobs)
    plan = build_plan.__wrapped__(config)
    coeffs = load_coefficients()
    raw = component_resources(plan, coeffs, backend)
    fmax = FmaxModel.from_dict(cal.fmax if cal is not None else None)
    path_ns, critical = fmax.critical(plan)
    part = get_part(config.part)
    per_lane = activity_matrix(config.layer_sizes, 1, row["activity"])
    events = activity_matrix(config.layer_sizes, 1, row["loop_events"], name="loop_events")
    comps = {c: {r: np.array([raw[c][r]]) for r in (*RESOURCES, "lutram")} for c in COMPONENTS}
    comps = apply_calibration(comps, cal)
    offsets = cal.offsets if cal is not None else {}
    total = {
        r: sum(c[r] for c in comps.values()) + offsets.get(r, 0.0) for r in (*RESOURCES, "lutram")
    }
    out: dict = {
        "lut": np.rint(total["lut"]),
        "ff": np.rint(total["ff"]),
        "bram18": np.ceil(np.round(total["bram18"], 6)),
        "dsp": np.ceil(np.round(total["dsp"], 6)),
        "lutram": np.rint(total["lutram"]),
    }
    out["bram36"] = out["bram18"] / 2
    for res in UTIL:
        out[f"util_{res}"] = out[res] / float(getattr(part, res))
    out["fits"] = np.all([out[f"util_{r}"] <= cap for r in UTIL], axis=0)
    visited = events * plan.event_slots
    cycles = plan_cycles(plan, visited)
    out["cycles"], out["cycles_io"] = cycles["total"], cycles["io"]
    out["cycles_sampling"] = cycles["sampling"]
    runs = np.array([config.runs])
    clock = np.array([config.clock_mhz])
    samples, timesteps = np.array([config.samples]), np.array([config.timesteps])
    seconds = out["cycles"] / (clock * 1e6)
    out["latency_us"] = seconds * 1e6
    out["throughput_ips"] = 1.0 / seconds
    if config.conv:  # a convolutional front (tests/hwmodel/test_conv_plan.py)
        shapes = config.conv_shapes
        out["synops_per_inference"] = conv_synops_per_inference(
            shapes, config.widths, per_lane, timesteps, runs
        )
        out["ops_per_inference"] = conv_ops_per_inference(shapes, config.widths, timesteps, runs)
    else:
        out["synops_per_inference"] = synops_per_inference(
            config.widths, per_lane, samples, timesteps, runs
        )
        out["ops_per_inference"] = dense_ops_per_inference(config.widths, timesteps, runs)
    out["synops_per_s"] = out["synops_per_inference"] * out["throughput_ips"]
    out["gops"] = out["ops_per_inference"] * out["throughput_ips"] / 1e9
    out["gops_per_dsp"] = out["gops"] / np.maximum(out["dsp"], 1.0)
    cells = class_resources(comps, [class_shares(plan, raw)], offsets)
    duty = class_duty(plan, loop_cycles(plan, visited))
    toggle = predicted_toggle(
        duty, cal.activity if cal else None, coeffs["power"]["reference_toggle"]
    )
    by_class = dynamic_power_by_class(cells, clock, toggle, coeffs, cal.power if cal else None)
    out["power_static_w"] = np.array([part.static_w])
    out["power_dynamic_w"] = sum(by_class.values())
    out["power_w"] = out["power_static_w"] + out["power_dynamic_w"]
    out["power_ps_w"], out["power_ps_idle_w"] = np.array([part.ps_w]), np.array([part.ps_idle_w])
    out["power_total_w"] = out["power_w"] + out["power_ps_w"]
    out["power_board_w"] = get_board("pynq-z2").idle_w + out["power_dynamic_w"]
    io_us = out["cycles_io"] / clock
    wait_us = out["latency_us"] - io_us
    out["energy_pl_uj"] = out["power_w"] * out["latency_us"]
    out["energy_soc_uj"] = (
        out["energy_pl_uj"] + out["power_ps_w"] * io_us + out["power_ps_idle_w"] * wait_us
    )
    out["energy_board_uj"] = (
        out["power_board_w"] * out["latency_us"]
        + (out["power_ps_w"] - out["power_ps_idle_w"]) * io_us
    )
    out["clock_mhz"] = clock
    out["fmax_mhz"] = np.array([fmax.clock_mhz(path_ns)])
    out["fmax_stage"] = critical
    out["meets_clock"] = clock <= out["fmax_mhz"]
    figures = {k: v if isinstance(v, str) else np.asarray(v).item() for k, v in out.items()}
    figures["cycles_per_layer"] = list(cycles["per_layer"][0])
    figures["duty"] = {cls: float(v[0]) for cls, v in duty.items()}
    return figures


def bits(value: object) -> object:
    """A float by its bit pattern (0.0 and -0.0 differ), anything else as it is."""
    if isinstance(value, float | np.floating):
        return np.float64(value).view(np.int64).item()
    if isinstance(value, list):
        return [bits(v) for v in value]
    return value


def profile_with_everything() -> Calibration:
    """The packaged profile with offsets on every resource and power multipliers off 1."""
    cal = load_calibration("yosys-rtl")
    cal.offsets = {"lut": 37.5, "ff": -12.25, "bram18": 0.5, "dsp": 0.0, "lutram": 3.0}
    cal.power = {"lut": 1.1, "ff": 0.9, "bram36": 1.3, "dsp": 1.0}
    return cal


@pytest.mark.parametrize(
    ("calibration", "backend", "cap", "seed"),
    [(None, "rtl", 1.0, 0), ("yosys-rtl", "rtl", 0.8, 1), ("everything", "hls", 0.5, 2)],
)
def test_the_fast_pricing_is_the_uncached_pricing_bit_for_bit(
    calibration: str | None, backend: str, cap: float, seed: int
) -> None:
    designs = random_designs(150, seed)
    cal = profile_with_everything() if calibration == "everything" else calibration
    resolved = resolve_calibration(cal)
    expected = [reference(row, resolved, backend, cap) for row in designs.to_dict("records")]
    for _ in range(2):  # the second time every plan is a cache hit
        table = estimate_table(designs, calibration=cal, util_cap=cap, backend=backend)
        for i, want in enumerate(expected):
            for column, value in want.items():
                if column == "duty":
                    continue
                got = table[column].iloc[i]
                assert bits(got) == bits(value), (i, column, got, value)
    singles = designs.head(30).to_dict("records")
    for row, want in zip(singles, expected, strict=False):
        knobs = {k: v for k, v in row.items() if k not in ("activity", "loop_events")}
        got = estimate(
            AcceleratorConfig(**knobs),
            activity=row["activity"],
            loop_events=row["loop_events"],
            calibration=cal,
            util_cap=cap,
            backend=backend,
        )
        for column, value in want.items():
            assert bits(got[column]) == bits(value), (column, got[column], value)


def same_columns(columns: dict, table: pd.DataFrame) -> None:
    assert list(columns) == list(table.columns)
    for name in table.columns:
        got, want = list(columns[name]), list(table[name])
        assert [bits(v) for v in got] == [bits(v) for v in want], name
        assert np.asarray(columns[name]).dtype == table[name].to_numpy().dtype, name


def test_columns_priced_without_a_table_are_the_table() -> None:
    designs = random_designs(120, seed=3)
    table = estimate_table(designs, calibration="yosys-rtl", util_cap=0.7)
    per_design = {name: designs[name].to_list() for name in designs.columns}
    same_columns(estimate_columns(per_design, calibration="yosys-rtl", util_cap=0.7), table)

    # One value for every design beside columns of one per design, as the inner search gives.
    rng = np.random.default_rng(4)
    varying = {
        "pe": rng.choice([4, 8, 16], 30),
        "clock_mhz": rng.uniform(80, 200, 30),
        "part": rng.choice(PARTS, 30),
    }
    fixed = {"widths": [64, 128, 10], "k_bits": 5, "samples": 3, "sampling": "regenerate"}
    activity = [64.0, 21.5]
    frame = pd.DataFrame(varying).assign(**{k: [v] * 30 for k, v in fixed.items()})
    frame["activity"] = [np.array(activity)] * 30
    columns = estimate_columns({**fixed, **varying, "activity": activity})
    same_columns(columns, estimate_table(frame))


@pytest.mark.parametrize(
    ("designs", "fragment"),
    [
        ({"widths": (64, 10), "pe": [4, 0]}, "pe: 0"),
        ({"widths": (64, 10), "pe": [4, 2.5]}, "pe: 2.5 must be an integer"),
        ({"widths": (64, 10), "clock_mhz": [100.0, -5.0]}, "clock_mhz: -5.0 must be positive"),
        ({"widths": (64, 10), "clock_mhz": ["fast"]}, "clock_mhz: 'fast' must be a number"),
        ({"widths": "64,x", "pe": 4}, "widths"),
        ({"pe": 4}, "widths"),
        ({"widths": (64, 10), "pe": [4, 8], "part": ["xc7z020"] * 3}, "one per design"),
    ],
)
def test_bad_columns_are_one_line_errors(designs: dict, fragment: str) -> None:
    with pytest.raises(HardwareInputError) as err:
        estimate_columns(designs)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_twins_share_one_priced_plan_and_keep_their_own_figures() -> None:
    base = AcceleratorConfig(widths=(64, 128, 10), pe=16, samples=2, k_bits=1)
    twins = [
        base,
        replace(base, pe=8, synapses_per_cycle=2, clock_mhz=150.0, part="xc7z010"),
        replace(base, sample_lanes=2, seed=7, sampling="regenerate"),
        replace(base, sample_lanes=4, pe=4, synapses_per_cycle=4),  # lanes past the samples
    ]
    events = {"activity": [64, 30.0], "loop_events": [64, 30.0]}
    plain = [
        reference({**c.as_dict(), "widths": c.widths, **events}, None, "rtl", 1.0) for c in twins
    ]
    for config, want in zip(twins, plain, strict=True):
        got = estimate(config, activity=[64, 30.0])
        assert {k: bits(got[k]) for k in want if k != "duty"} == {
            k: bits(v) for k, v in want.items() if k != "duty"
        }


def test_changing_returned_coefficients_changes_no_later_estimate() -> None:
    config = AcceleratorConfig(widths=(64, 128, 10), pe=8, k_bits=4)
    before = estimate(config, calibration="yosys-rtl")
    fresh = load_coefficients()
    fresh["pe"]["lut_per_current_bit"] = 1e6
    fresh["power"]["w_per_lut"] = 1.0
    shared = coefficients()
    with pytest.raises(TypeError):
        shared["pe"]["lut_per_current_bit"] = 1e6
    with pytest.raises(TypeError):
        shared["power"] = {}
    assert load_coefficients()["pe"]["lut_per_current_bit"] != 1e6  # a fresh copy each time
    after = estimate(replace(config, clock_mhz=120.0), calibration="yosys-rtl")
    again = estimate(config, calibration="yosys-rtl")
    assert again == before and after["lut"] == before["lut"]


def test_changing_a_returned_profile_or_result_changes_no_later_estimate() -> None:
    config = AcceleratorConfig(widths=(64, 128, 10), pe=8, k_bits=4)
    before = estimate(config, calibration="yosys-rtl")
    mine = resolve_calibration("yosys-rtl")  # the caller's own copy, free to change
    mine.multipliers["lut"]["pe"] = 50.0
    mine.offsets["lut"] = 1e5
    before["components"]["pe"]["lut"] = -1.0
    before["duty"]["datapath"] = 2.0
    assert estimate(config, calibration="yosys-rtl")["lut"] < 1e5
    assert estimate(config, calibration="yosys-rtl")["components"]["pe"]["lut"] > 0
    assert estimate(config, calibration=mine)["lut"] > 1e5  # a profile object is used as given


def test_an_edited_profile_file_is_read_again(tmp_path: Path) -> None:
    config = AcceleratorConfig(widths=(64, 128, 10), pe=8, k_bits=4)
    path = tmp_path / "profile.json"
    save_calibration(load_calibration("yosys-rtl"), path)
    first = estimate(config, calibration=path)
    data = json.loads(path.read_text())
    data["offsets"]["lut"] = data["offsets"].get("lut", 0.0) + 1000.0
    path.write_text(json.dumps(data))  # same second, maybe the same size: read anyway
    assert estimate(config, calibration=path)["lut"] == first["lut"] + 1000.0
