"""Price designs: resources, utilisation, cycles, latency, throughput, GOPS and power.

`estimate` prices one `AcceleratorConfig`; `estimate_table` prices a DataFrame of designs.
Both price the design's `hwmodel.plan` with the bus of one backend (the RTL's AXI4-Lite
wrapper unless told `backend="hls"`) and go through `_price`, so a table row and a single
estimate agree.  A plan is built and priced once per distinct plan (`_plan_key`: whatever
the clock, part, activity and calibration, and PEs x synapses per cycle as one product) and
its price kept for later calls (the last `PRICED_CACHE` plans); `_price` then combines the
prices of many designs with array operations that add the same terms in the same order as
`hwmodel.cycles` and `hwmodel.power` do for one design, so the figures are bit for bit
theirs (tests/hwmodel/test_pricing_cache.py).  `cycles` is everything the kernel's counter
counts for one image, I/O included; `cycles_io`, `cycles_sampling` and `cycles_per_layer`
split it.

Conventions (docs/accelerator.md):
* GOPS counts dense-equivalent operations, 2 per weight per timestep per run (multiply and
  accumulate), whatever the sparsity, so that it compares with dense accelerators.
* GOPS/DSP divides by max(DSP, 1): the kernel binds no DSP, and a design with none is
  credited as if it used one rather than with an infinite figure.
* power_w is the programmable logic (static + dynamic); PS7 is power_ps_w (active) and
  power_ps_idle_w (cores in WFI), power_total_w = power_w + power_ps_w; power_board_w is the
  board's idle draw (`hwmodel/data/boards.json`) + the PL dynamic power.
* Three energies per inference, each saying what it includes (t_io = cycles_io / clock, the
  time the processor spends on the AXI4-Lite transfers; it waits in WFI for the rest):
  energy_pl_uj = power_w x latency (the PL alone);
  energy_soc_uj = energy_pl_uj + power_ps_w x t_io + power_ps_idle_w x (latency - t_io);
  energy_board_uj = power_board_w x latency + (power_ps_w - power_ps_idle_w) x t_io.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from hwmodel.architecture import ConvBlock, parse_blocks
from hwmodel.calibration import Calibration, shared_calibration
from hwmodel.cycles import (
    IO_LOOPS,
    activity_matrix,
    conv_ops_per_inference,
    conv_synops_per_inference,
    dense_ops_per_inference,
    synops_per_inference,
)
from hwmodel.devices import Board, get_board, get_part
from hwmodel.errors import HardwareInputError
from hwmodel.fmax import FmaxModel
from hwmodel.plan import IMAGE_HANDSHAKE, HardwarePlan, build_plan
from hwmodel.power import (
    POWER_CLASSES,
    class_shares,
    datapath_layer,
    duties,
    dynamic_power_by_class,
    predicted_toggle,
)
from hwmodel.profiles import FIRST_PRINCIPLES
from hwmodel.resources import (
    COMPONENTS,
    RESOURCES,
    coefficients,
    component_resources,
    layer_datapaths,
)
from hwmodel.template import AcceleratorConfig, parse_shape

__all__ = ["estimate", "estimate_columns", "estimate_table", "parse_widths"]

_DEFAULTS = {f.name: f.default for f in fields(AcceleratorConfig) if f.name != "extra"}
#: The network's shape beside `widths`: a convolutional front (text "8p,16p") over an image
#: (text "1x28x28" or three integers); a design without them is a dense network.
_FRONT = ("conv", "input_shape")
_INT_KNOBS = ("pe", "synapses_per_cycle", "sample_lanes", "k_bits", "membrane_bits", "reuse")
_INT_KNOBS += ("input_bits", "timesteps", "samples", "seed")
_PART_FIELDS = ("lut", "ff", "bram36", "dsp", "lutram", "static_w", "ps_w", "ps_idle_w")
_UTIL = ("lut", "ff", "bram36", "dsp", "lutram")


def parse_widths(value: str | Sequence[int]) -> tuple[int, ...]:
    """'784,512,10' or a sequence of integers -> a tuple; anything else is a user error."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = [float(str(v).strip()) for v in items]
    except ValueError:
        numbers = []
    if len(numbers) < 2 or any(n != int(n) or n < 1 for n in numbers):
        raise HardwareInputError(
            f"widths: {value!r} must be at least two positive integers separated by commas "
            "(inputs, hidden..., classes), e.g. 784,512,512,10"
        )
    return tuple(int(n) for n in numbers)


def _validate_cap(util_cap: float | None) -> float:
    cap = 1.0 if util_cap is None else float(util_cap)
    if not 0 < cap <= 1:
        raise HardwareInputError(f"util_cap: {util_cap} must be a fraction in (0, 1], e.g. 0.8")
    return cap


#: Per power class figures of a single estimate (dicts by class; not table columns).
_PER_CLASS = ("duty", "toggle", "power_by_class")
_PLAN_KNOBS = ["widths", "pe", "synapses_per_cycle", "sample_lanes", "k_bits", "membrane_bits"]
_PLAN_KNOBS += ["reuse", "input_bits", "sampling", "ensemble", "timesteps", "samples"]
#: Each component's figures, in this order, in `_Priced.components`.
_FIGURES = (*RESOURCES, "lutram")
#: Cell types of the power classes (`hwmodel.power.class_resources`).
_CELLS = ("lut", "ff", "bram18", "dsp")
#: Distinct plans whose prices are kept (a few kB each): a study re-prices the designs of
#: recent models (its variants, duplicates), a table prices each distinct plan once.
PRICED_CACHE = 4096


@dataclass(frozen=True, eq=False)
class _Priced:
    """What one plan costs, independent of clock, part, activity and calibration, as arrays
    that `_price` combines for many plans at once.

    `loops` has a row per loop (named as `hwmodel.cycles.loop_cycles` names them) and the
    columns `_LOOP_COLUMNS`, then two masks of the weight layers the loop's cycles count
    for: in `plan_cycles`' per_layer, and in `class_duty`'s datapath duty.  A row of zeros
    adds nothing to any sum, so plans with fewer loops are padded with them."""

    components: np.ndarray  # [component, _FIGURES], uncalibrated
    shares: np.ndarray  # [component, _CELLS, POWER_CLASSES]: hwmodel.power.class_shares
    fmax_mhz: float  # the clock the model vouches for (hwmodel.fmax, guard included)
    critical: str  # the stage on its critical path
    slots: float  # event-loop passes per layer per image (HardwarePlan.event_slots)
    prng_rate: float  # min(1, NPC / reuse): how often a drawing loop changes the PRNG hash
    weights: np.ndarray  # [layer]: datapath bits of each weight layer (class_duty)
    weights_sum: float
    loops: np.ndarray  # [loop, len(_LOOP_COLUMNS) + 2 x layers]


_LOOP_COLUMNS = ("fixed", "per_event", "event_layer", "io", "sampling", "drawing")


def _loop_table(plan: HardwarePlan) -> np.ndarray:
    """`_Priced.loops` of a plan: how `plan_cycles` and `class_duty` count each loop."""
    layers = plan.config.n_layers
    drawing = {loop.name for loop in plan.drawing_loops}
    named = {loop.name: loop for loop in plan.loops}  # as loop_cycles keys them
    table = np.zeros((len(named), len(_LOOP_COLUMNS) + 2 * layers))
    cycle_mask, duty_mask = len(_LOOP_COLUMNS), len(_LOOP_COLUMNS) + layers
    for row, (name, loop) in zip(table, named.items(), strict=True):
        row[0] = loop.fixed_cycles
        row[1] = loop.cycles_per_event
        row[2] = loop.event_layer or 0  # a loop with a fixed trip count: per_event is 0
        row[3] = name in IO_LOOPS
        row[4] = name == "keys" or name.startswith("sample_")
        row[5] = name in drawing
        if not (row[3] or row[4]):  # plan_cycles counts the rest for a layer
            layer = datapath_layer(name)
            if layer is None:  # as plan_cycles' per_layer[..., None]: every layer
                row[cycle_mask:duty_mask] = 1.0
            else:
                row[cycle_mask + layer] = 1.0
        layer = datapath_layer(name)
        if layer is not None:
            row[duty_mask + layer] = 1.0
    return table


def _priced_plan(plan: HardwarePlan, backend: str, fmax: FmaxModel) -> _Priced:
    """Price one plan (`_priced` keeps the result per distinct plan)."""
    comps = component_resources(plan, coefficients(), backend)
    shares = class_shares(plan, comps)
    share_table = np.zeros((len(COMPONENTS), len(_CELLS), len(POWER_CLASSES)))
    for c, comp in enumerate(COMPONENTS):
        for cls, fractions in shares[comp].items():
            share_table[c, :, POWER_CLASSES.index(cls)] = [fractions.get(f, 0.0) for f in _CELLS]
    path_ns, critical = fmax.critical(plan)
    layers = plan.config.n_layers
    weights = np.array(
        [
            layer_datapaths(plan, layer)[0] * plan.type(f"update_{layer}").bits
            for layer in range(layers)
        ],
        dtype=np.float64,
    )
    return _Priced(
        components=np.array([[comps[comp][r] for r in _FIGURES] for comp in COMPONENTS]),
        shares=share_table,
        fmax_mhz=fmax.clock_mhz(path_ns),
        critical=critical,
        slots=float(plan.event_slots),
        prng_rate=min(1.0, plan.npc / plan.config.reuse),
        weights=weights,
        weights_sum=float(weights.sum()),
        loops=_loop_table(plan),
    )


def _plan_key(config: AcceleratorConfig) -> AcceleratorConfig:
    """The design with only what its plan depends on: the plan takes PEs and synapses per
    cycle only as their product (NPC), builds one lane for the `time` ensemble and at most
    `samples` for `repeat`, and draws nothing in a deterministic design whatever `sampling`
    says; clock, part and seed are not plan knobs.  Designs with one key have one plan."""
    lanes = 1 if config.ensemble == "time" else min(config.sample_lanes, config.samples)
    key = (config.neurons_per_cycle, lanes, "memory" if config.deterministic else config.sampling)
    same = (config.pe, config.sample_lanes, config.sampling) == key
    if same and config.synapses_per_cycle == 1 and _defaults_of(config) == _KEY_DEFAULTS:
        return config
    return replace(
        config,
        pe=key[0],
        synapses_per_cycle=1,
        sample_lanes=key[1],
        sampling=key[2],
        clock_mhz=_DEFAULTS["clock_mhz"],
        part=_DEFAULTS["part"],
        seed=_DEFAULTS["seed"],
        extra={},
    )


def _defaults_of(config: AcceleratorConfig) -> tuple:
    return config.clock_mhz, config.part, config.seed


_KEY_DEFAULTS = (_DEFAULTS["clock_mhz"], _DEFAULTS["part"], _DEFAULTS["seed"])


@lru_cache(maxsize=PRICED_CACHE)
def _priced(key: AcceleratorConfig, backend: str, fmax: FmaxModel) -> _Priced:
    """The price of the plan of `key` (a `_plan_key`), kept per distinct plan: the plan is
    built for it, not kept (`build_plan`'s own cache would keep every plan alive)."""
    return _priced_plan(build_plan.__wrapped__(key), backend, fmax)


def _fmax_model(cal: Calibration | None) -> FmaxModel:
    """The profile's fitted clock model, or the first-principles one."""
    return FmaxModel.from_dict(cal.fmax if cal is not None else None)


def _accumulate(terms: np.ndarray, start: float | np.ndarray = 0.0) -> np.ndarray:
    """start + terms[:, 0] + terms[:, 1] + ..., added left to right as a Python loop adds them
    (np.add.accumulate is sequential; a sum or reduce may pair the terms differently)."""
    first = np.broadcast_to(np.asarray(start, dtype=np.float64), terms[:, :1].shape)
    return np.add.accumulate(np.concatenate([first, terms], axis=1), axis=1)[:, -1]


def _price(
    priced: Sequence[_Priced],
    codes: np.ndarray,
    net: AcceleratorConfig,
    cols: Mapping[str, np.ndarray],
    part: Mapping[str, np.ndarray],
    per_lane: np.ndarray,
    loop_events: np.ndarray,
    cal: Calibration | None,
    cap: float,
    toggle: Mapping[str, float] | None = None,
    components: bool = False,
) -> dict:
    """Every metric for designs of one network (`net`'s widths, convolutional front and input
    shape): design i has the plan `priced[codes[i]]`; `toggle` (rate per power class) replaces
    the predicted switching activity; `components` adds each component's calibrated figures
    (per component, per resource)."""
    widths = net.widths
    coeffs = coefficients()
    n = len(codes)
    # What depends only on the plan (and the calibration) is computed once per plan.
    comps = np.stack([p.components for p in priced])  # [plan, component, figure]
    offsets = cal.offsets if cal is not None else {}
    if cal is not None:  # apply_calibration: each resource's multiplier per component
        multipliers = {r: cal.multipliers.get(r, {}) for r in RESOURCES}
        scale = np.array(
            [
                [multipliers[r].get(comp, 1.0) if r in RESOURCES else 1.0 for r in _FIGURES]
                for comp in COMPONENTS
            ]
        )
        comps = comps * scale
    figures = {}
    for f, res in enumerate(_FIGURES):
        figures[res] = sum(comps[:, c, f] for c in range(len(COMPONENTS))) + offsets.get(res, 0.0)
    per_plan: dict[str, np.ndarray] = {
        "lut": np.rint(figures["lut"]),
        "ff": np.rint(figures["ff"]),
        "bram18": np.ceil(np.round(figures["bram18"], 6)),
        "dsp": np.ceil(np.round(figures["dsp"], 6)),
        "lutram": np.rint(figures["lutram"]),
    }
    # class_resources: each component's cells go to the power classes by its shares.
    shares = np.stack([p.shares for p in priced])  # [plan, component, cell, class]
    cells_by_comp = comps[:, :, : len(_CELLS), None] * shares
    cells = np.add.accumulate(
        np.concatenate([np.zeros_like(cells_by_comp[:, :1]), cells_by_comp], axis=1), axis=1
    )[:, -1]  # [plan, cell, class]
    control = POWER_CLASSES.index("control")
    for cell, value in offsets.items():
        if cell in _CELLS:
            cells[:, _CELLS.index(cell), control] = cells[:, _CELLS.index(cell), control] + value

    out: dict = {res: per_plan[res][codes] for res in per_plan}
    out["bram36"] = out["bram18"] / 2  # a RAMB18 is half a BRAM36 tile, as Vivado counts
    for res in _UTIL:
        out[f"util_{res}"] = out[res] / part[res]
    out["fits"] = np.all([out[f"util_{r}"] <= cap for r in _UTIL], axis=0)
    if components:
        out["components"] = {
            comp: {res: comps[codes, c, f] for f, res in enumerate(_FIGURES)}
            for c, comp in enumerate(COMPONENTS)
        }

    # Events each loop visits per image: per timestep and round, times rounds x timesteps.
    slots = np.array([p.slots for p in priced])[codes]
    cycles = _plan_cycles_batch(priced, codes, loop_events * slots[:, None])
    out["cycles"] = cycles["total"]
    out["cycles_io"] = cycles["io"]
    out["cycles_sampling"] = cycles["sampling"]
    out["cycles_per_layer"] = cycles["per_layer"]
    runs = np.where(cols["ensemble"] == "repeat", cols["samples"], 1)
    clock = cols["clock_mhz"]
    seconds = out["cycles"] / (clock * 1e6)
    out["latency_us"] = seconds * 1e6
    out["throughput_ips"] = 1.0 / seconds
    if net.conv:
        shapes, steps = net.conv_shapes, cols["timesteps"]
        out["synops_per_inference"] = conv_synops_per_inference(
            shapes, widths, per_lane, steps, runs
        )
        out["ops_per_inference"] = conv_ops_per_inference(shapes, widths, steps, runs)
    else:
        out["synops_per_inference"] = synops_per_inference(
            widths, per_lane, cols["samples"], cols["timesteps"], runs
        )
        out["ops_per_inference"] = dense_ops_per_inference(widths, cols["timesteps"], runs)
    out["synops_per_s"] = out["synops_per_inference"] * out["throughput_ips"]
    out["gops"] = out["ops_per_inference"] * out["throughput_ips"] / 1e9
    out["gops_per_dsp"] = out["gops"] / np.maximum(out["dsp"], 1.0)

    by_cell = cells[codes]
    class_cells = {
        cls: {cell: by_cell[:, i, k] for i, cell in enumerate(_CELLS)}
        for k, cls in enumerate(POWER_CLASSES)
    }
    if toggle is None:
        toggle = predicted_toggle(
            cycles["duty"], cal.activity if cal else None, coeffs["power"]["reference_toggle"]
        )
    else:
        toggle = {cls: np.full(n, float(toggle[cls])) for cls in POWER_CLASSES}
    by_class = dynamic_power_by_class(
        class_cells, clock, toggle, coeffs, cal.power if cal else None
    )
    out["duty"], out["toggle"], out["power_by_class"] = cycles["duty"], toggle, by_class
    out["power_static_w"] = part["static_w"]
    out["power_dynamic_w"] = sum(by_class.values())
    out["power_w"] = out["power_static_w"] + out["power_dynamic_w"]
    out["power_ps_w"] = part["ps_w"]
    out["power_ps_idle_w"] = part["ps_idle_w"]
    out["power_total_w"] = out["power_w"] + out["power_ps_w"]
    out["power_board_w"] = part["board_idle_w"] + out["power_dynamic_w"]
    io_us = out["cycles_io"] / clock  # the PS feeds the image and reads the scores
    wait_us = out["latency_us"] - io_us  # the PS waits in WFI for the done interrupt
    out["energy_pl_uj"] = out["power_w"] * out["latency_us"]
    out["energy_soc_uj"] = (
        out["energy_pl_uj"] + out["power_ps_w"] * io_us + out["power_ps_idle_w"] * wait_us
    )
    out["energy_board_uj"] = (
        out["power_board_w"] * out["latency_us"]
        + (out["power_ps_w"] - out["power_ps_idle_w"]) * io_us
    )
    out["clock_mhz"] = clock
    out["fmax_mhz"] = np.array([p.fmax_mhz for p in priced])[codes]
    out["fmax_stage"] = np.array([p.critical for p in priced], dtype=object)[codes]
    out["meets_clock"] = clock <= out["fmax_mhz"]
    out["calibrated"] = np.full(n, calibrated(cal, net))
    return out


def calibrated(cal: Calibration | None, config: AcceleratorConfig) -> bool:
    """Whether a design's figures come from a profile fitted to measured designs of its kind:
    not with first-principles coefficients, and for a convolutional front only with a
    profile whose conv fit met its leave-one-out criteria (`fit.conv_calibrated`, set by
    `hls.tools.calibrate.conv_criteria_met`)."""
    if cal is None or cal.name == FIRST_PRINCIPLES:
        return False
    return not config.conv or cal.fit.get("conv_calibrated") is True


def _plan_cycles_batch(priced: Sequence[_Priced], codes: np.ndarray, events: np.ndarray) -> dict:
    """`hwmodel.cycles.plan_cycles` of each design at its events [n, layers], and the duty of
    each power class (`hwmodel.power.class_duty`) under "duty", for every design at once:
    each sum adds the same terms in the same order as those functions do."""
    n, layers = events.shape
    width = max(len(p.loops) for p in priced)
    tables = np.zeros((len(priced), width, len(_LOOP_COLUMNS) + 2 * layers))
    for i, p in enumerate(priced):
        tables[i, : len(p.loops)] = p.loops
    loops = tables[codes]  # [design, loop, column]
    visited = np.take_along_axis(events, loops[:, :, 2].astype(np.intp), axis=1)
    cost = loops[:, :, 0] + loops[:, :, 1] * visited  # loop_cycles: [design, loop]
    io_loop, sampling_loop, drawing = (loops[:, :, k] > 0 for k in (3, 4, 5))
    first = len(_LOOP_COLUMNS)
    cycle_mask = loops[:, :, first : first + layers] > 0
    duty_mask = loops[:, :, first + layers :] > 0

    def by_layer(mask: np.ndarray) -> np.ndarray:  # [design, layer], each summed in order
        terms = np.where(mask, cost[:, :, None], 0.0)
        start = np.zeros((n, 1, layers))
        return np.add.accumulate(np.concatenate([start, terms], axis=1), axis=1)[:, -1]

    per_layer = np.ascontiguousarray(by_layer(cycle_mask))
    io = _accumulate(np.where(io_loop, cost, 0.0), float(IMAGE_HANDSHAKE))
    sampling = _accumulate(np.where(sampling_loop, cost, 0.0))
    out = {"total": io + sampling + per_layer.sum(axis=-1), "io": io, "sampling": sampling}
    out["per_layer"] = per_layer

    # class_duty
    total = np.maximum(_accumulate(cost), 1.0)
    duty_layers = by_layer(duty_mask)
    weights = np.stack([p.weights for p in priced])[codes]
    weighted = sum(weights[:, layer] * duty_layers[:, layer] for layer in range(layers))
    share = weighted / np.array([p.weights_sum for p in priced])[codes] / total
    drawn = _accumulate(np.where(drawing, cost, 0.0)) / total
    io_share = _accumulate(np.where(io_loop, cost, 0.0)) / total
    rate = np.array([p.prng_rate for p in priced])[codes]
    out["duty"] = duties(share, drawn, rate, io_share)
    return out


def estimate(
    config: AcceleratorConfig,
    activity: Sequence[float] | None = None,
    spike_rate: float = 0.1,
    calibration: Calibration | str | None = None,
    util_cap: float | None = None,
    loop_events: Sequence[float] | None = None,
    backend: str = "rtl",
    board: str = "pynq-z2",
    toggle: Mapping[str, float] | None = None,
) -> dict:
    """Price one design as `backend` builds it on `board`; `activity` is models.evaluation's
    list (index 0 = n0; one entry per weight layer, `AcceleratorConfig.layer_sizes`' inputs).

    `loop_events` (same layout) is the measured mean number of inputs each event loop visits
    per timestep and round (the union over lanes); by default the per-lane `activity`.
    `board` (`hwmodel/data/boards.json`) gives energy_board_uj its idle draw.
    `toggle` is a measured toggle rate per power class (`dse sim --toggles`), priced instead
    of the profile's prediction.
    """
    cap = _validate_cap(util_cap)
    sizes = config.layer_sizes
    per_lane = activity_matrix(sizes, 1, activity, spike_rate)
    loop = (
        per_lane
        if loop_events is None
        else activity_matrix(sizes, 1, loop_events, name="loop_events")
    )
    part = get_part(config.part)
    idle_w = get_board(board).idle_w
    cols = {k: np.array([getattr(config, k)]) for k in (*_INT_KNOBS, "clock_mhz")}
    cols.update(sampling=np.array([config.sampling]), ensemble=np.array([config.ensemble]))
    cal = shared_calibration(calibration)
    out = _price(
        [_priced(_plan_key(config), backend, _fmax_model(cal))],
        np.zeros(1, dtype=np.intp),
        config,
        cols,
        {f: np.array([float(getattr(part, f))]) for f in _PART_FIELDS}
        | {"board_idle_w": np.array([idle_w])},
        per_lane,
        loop,
        cal,
        cap,
        toggle,
        components=True,
    )
    skip = ("components", "cycles_per_layer", "fmax_stage", *_PER_CLASS)
    result = {k: _scalar(v[0]) for k, v in out.items() if k not in skip}
    for key in _PER_CLASS:
        result[key] = {cls: float(v[0]) for cls, v in out[key].items()}
    result["cycles_per_layer"] = [float(c) for c in out["cycles_per_layer"][0]]
    result["components"] = {
        comp: {r: float(v[0]) for r, v in per.items() if r in RESOURCES}
        for comp, per in out["components"].items()
    }
    result["fmax_stage"] = str(out["fmax_stage"][0])
    result["part"] = config.part
    result["board"] = get_board(board).name
    return result


def _scalar(value: np.generic) -> float | bool:
    return bool(value) if isinstance(value, np.bool_) else float(value)


class _FrontParser:
    """parse_blocks or parse_shape once per distinct spelling; a missing value (None, NaN, "")
    is no front (no blocks, no shape)."""

    def __init__(self, parse: Any) -> None:
        self.parse = parse
        self.seen: dict[object, object] = {}

    def __call__(self, value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            value = ""
        key = tuple(value) if isinstance(value, list | np.ndarray) else value
        if key not in self.seen:
            self.seen[key] = self.parse(value)
        return self.seen[key]


def _front_parsers() -> dict[str, _FrontParser]:
    """A parser of each `_FRONT` column."""
    return {"conv": _FrontParser(parse_blocks), "input_shape": _FrontParser(parse_shape)}


class _WidthsParser:
    """parse_widths once per distinct spelling: a table repeats a few widths many times."""

    def __init__(self) -> None:
        self.seen: dict[object, tuple[int, ...]] = {}

    def __call__(self, value: str | Sequence[int]) -> tuple[int, ...]:
        key = value if isinstance(value, str | tuple) else tuple(value)
        if key not in self.seen:
            self.seen[key] = parse_widths(value)
        return self.seen[key]


def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Fill default knobs, parse widths, check integer knobs (one line per bad column)."""
    if "widths" not in df.columns:
        raise HardwareInputError(
            "widths: the design table needs a 'widths' column, e.g. 784,512,10"
        )
    table = df.copy()
    for name, default in _DEFAULTS.items():
        if name in _FRONT:
            continue
        if name not in table.columns:
            table[name] = default
        elif name != "widths":
            table[name] = table[name].where(table[name].notna(), default)
    table["widths"] = table["widths"].map(_WidthsParser())
    for name, parse in _front_parsers().items():
        if name in table.columns:
            table[name] = pd.Series(list(map(parse, table[name])), index=table.index, dtype=object)
    for name in _INT_KNOBS:
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise HardwareInputError(
                f"{name}: {table[name].to_numpy()[bad][0]!r} must be an integer"
            )
        table[name] = values.astype(np.int64)
    clock = pd.to_numeric(table["clock_mhz"], errors="coerce").astype(float)
    if clock.isna().any():
        raise HardwareInputError(
            f"clock_mhz: {table['clock_mhz'][clock.isna()].iloc[0]!r} must be a number in MHz"
        )
    if (clock <= 0).any():
        raise HardwareInputError(f"clock_mhz: {clock[clock <= 0].iloc[0]} must be positive")
    table["clock_mhz"] = clock
    return table


def _group_codes(keys: Sequence[object]) -> tuple[list, np.ndarray]:
    """The distinct keys in order of first appearance, and each item's index among them."""
    index: dict[object, int] = {}
    codes = np.array([index.setdefault(key, len(index)) for key in keys], dtype=np.intp)
    return list(index), codes


def _table_parts(names: np.ndarray) -> dict[str, np.ndarray]:
    """Device figures per row: each distinct part string is resolved once."""
    distinct, codes = _group_codes(names)
    parts = [get_part(name) for name in distinct]
    return {f: np.array([float(getattr(p, f)) for p in parts])[codes] for f in _PART_FIELDS}


def _plan_configs(network: tuple, cols: Mapping[str, np.ndarray]) -> tuple[list, np.ndarray]:
    """The distinct plan keys (`_plan_key`) of designs of one network (widths, convolutional
    front, input shape), and each design's index among them; every distinct set of plan
    knobs is validated as an AcceleratorConfig."""
    knobs = _PLAN_KNOBS[1:]
    values = [
        [str(v) for v in cols[k]] if k in ("sampling", "ensemble") else cols[k].tolist()
        for k in knobs
    ]
    distinct, codes = _group_codes(list(zip(*values, strict=True)))
    widths, conv, shape = network
    front = {"conv": conv, "input_shape": shape} if conv or shape is not None else {}
    configs = [
        AcceleratorConfig(widths, **front, **dict(zip(knobs, d, strict=True))) for d in distinct
    ]
    keys = [_plan_key(config) for config in configs]
    plans, remap = _group_codes(keys)
    return plans, remap[codes]


def _estimate_rows(
    cols: Mapping[str, np.ndarray],
    cal: Calibration | None,
    cap: float,
    backend: str,
    board: Board,
) -> tuple[dict[str, np.ndarray], list]:
    """Price n designs given as columns (`_prepare`d knobs, `widths` as tuples, `conv` as
    tuples of blocks and `input_shape` as tuples or None (both optional), optional
    `activity`, `spike_rate`, `loop_events`): each metric as an array of n, and each
    design's cycles per layer (a list)."""
    fmax = _fmax_model(cal)
    n = len(cols["clock_mhz"])
    part = _table_parts(cols["part"])
    part["board_idle_w"] = np.full(n, board.idle_w)
    columns: dict[str, np.ndarray] = {}
    layer_cycles: list = [None] * n
    fronts = [cols[k] if k in cols else [() if k == "conv" else None] * n for k in _FRONT]
    groups, network_codes = _group_codes(list(zip(cols["widths"], *fronts, strict=True)))
    for g, network in enumerate(groups):
        idx = np.flatnonzero(network_codes == g) if len(groups) > 1 else np.arange(n)
        sub = {k: v[idx] for k, v in cols.items() if k not in ("widths", *_FRONT)}
        keys, codes = _plan_configs(network, sub)
        priced = [_priced(key, backend, fmax) for key in keys]
        net = keys[0]  # the network's widths, front and shape (what every key shares)
        sizes = net.layer_sizes
        activity = np.stack(sub["activity"]) if "activity" in sub else None
        rate = sub["spike_rate"].astype(float) if "spike_rate" in sub else 0.1
        per_lane = activity_matrix(sizes, len(idx), activity, rate)
        loop = (
            activity_matrix(sizes, len(idx), np.stack(sub["loop_events"]), name="loop_events")
            if "loop_events" in sub
            else per_lane
        )
        parts = {f: v[idx] for f, v in part.items()}
        out = _price(priced, codes, net, sub, parts, per_lane, loop, cal, cap)
        for key, values in out.items():
            if key in ("cycles_per_layer", *_PER_CLASS):
                continue
            columns.setdefault(key, np.zeros(n, dtype=np.asarray(values).dtype))[idx] = values
        for i, row in zip(idx, out["cycles_per_layer"], strict=True):
            layer_cycles[i] = list(row)
    return columns, layer_cycles


def _integers(name: str, value: Any) -> np.ndarray:
    """An integer knob's values as int64 (as `_prepare` checks a table's column)."""
    values = np.asarray(value)
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    try:
        numbers = values.astype(float)
    except (TypeError, ValueError):
        numbers = np.array([_number(v) for v in values.reshape(-1)]).reshape(values.shape)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    if bad.any():
        raise HardwareInputError(f"{name}: {values[bad].tolist()[0]!r} must be an integer")
    return numbers.astype(np.int64)


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _one_widths(value: object) -> bool:
    """One widths ("784,512,10" or a sequence of integers), not one per design."""
    if isinstance(value, str):
        return True
    items = list(value)  # type: ignore[call-overload]
    return bool(items) and all(isinstance(v, int | np.integer) for v in items)


def _single(name: str, value: Any) -> bool:
    """Whether `value` is one value for every design, not a sequence of one per design."""
    if name == "widths":
        return _one_widths(value)
    if name == "conv":  # "8p,16p" (or blocks) for all, or one such text per design
        return isinstance(value, str) or all(isinstance(v, ConvBlock) for v in value)
    if name == "input_shape":  # "1x28x28" or (1, 28, 28) for all, or one per design
        return value is None or isinstance(value, str) or _one_widths(value)
    if name in ("activity", "loop_events"):  # one list of numbers, or one per design
        if isinstance(value, np.ndarray):
            return value.ndim == 1 and value.dtype != object
        items = list(value)
        return not items or np.ndim(items[0]) == 0
    return np.ndim(value) == 0


def _design_columns(designs: Mapping[str, Any]) -> dict[str, Any]:
    """`estimate_columns`' designs as `_estimate_rows` takes them (defaults filled, widths
    parsed, integer knobs checked, every column one value per design)."""
    if "widths" not in designs:
        raise HardwareInputError("widths: the designs need widths, e.g. 784,512,10")
    lists = ("activity", "loop_events")
    one = {name: _single(name, value) for name, value in designs.items()}
    lengths = {name: len(designs[name]) for name, single in one.items() if not single}
    if len(set(lengths.values())) > 1:
        raise HardwareInputError(
            f"designs: every column gives one value for all designs or one per design; "
            f"got {', '.join(f'{k}: {v}' for k, v in lengths.items())}"
        )
    n = next(iter(lengths.values()), 1)

    def column(name: str) -> np.ndarray:
        value = designs.get(name, _DEFAULTS.get(name))
        if one.get(name, True):
            return np.full(n, value, dtype=object)
        return np.asarray(value, dtype=object)

    cols: dict[str, Any] = {}
    widths = designs["widths"]
    cols["widths"] = (
        [parse_widths(widths)] * n if one["widths"] else list(map(_WidthsParser(), widths))
    )
    for name, parse in _front_parsers().items():
        if name in designs:
            value = designs[name]
            cols[name] = [parse(value)] * n if one[name] else list(map(parse, value))
    for name in _INT_KNOBS:
        value = designs.get(name, _DEFAULTS[name])
        single = one.get(name, True)
        cols[name] = np.full(n, _integers(name, [value])[0]) if single else _integers(name, value)
    clock = designs.get("clock_mhz", _DEFAULTS["clock_mhz"])
    given = np.ravel(np.asarray([clock] if one.get("clock_mhz", True) else clock))
    number = given.astype(float) if given.dtype.kind in "iuf" else np.vectorize(_number)(given)
    if np.isnan(number).any():
        raise HardwareInputError(
            f"clock_mhz: {given[np.isnan(number)].tolist()[0]!r} must be a number in MHz"
        )
    if (number <= 0).any():
        raise HardwareInputError(f"clock_mhz: {number[number <= 0][0]} must be positive")
    cols["clock_mhz"] = np.broadcast_to(number, (n,)) if len(number) == 1 else number
    for name in ("sampling", "ensemble", "part"):
        cols[name] = column(name)
    if "spike_rate" in designs:
        cols["spike_rate"] = np.broadcast_to(np.asarray(designs["spike_rate"], float), (n,))
    for name in lists:
        if name not in designs:
            continue
        values = designs[name]
        if one[name]:  # one list of event counts, the same row for every design
            row = np.asarray(values, dtype=np.float64)
            cols[name] = np.broadcast_to(row, (n, len(row)))
        else:
            cols[name] = np.empty(n, dtype=object)
            for i, events in enumerate(values):
                cols[name][i] = events
    return cols


def estimate_columns(
    designs: Mapping[str, Any],
    calibration: Calibration | str | None = None,
    util_cap: float | None = None,
    backend: str = "rtl",
    board: str = "pynq-z2",
) -> dict[str, np.ndarray]:
    """`estimate_table` without a DataFrame, for callers that price many designs often (the
    inner hardware search): the same figures, as arrays with one entry per design.

    `designs` maps AcceleratorConfig knobs (a missing one: its default) to one value for
    every design or to a sequence with one per design; `widths` is one widths ("784,512,10"
    or a sequence of integers) or a sequence of them; `activity` and `loop_events` one list
    (index 0 = n0) or one per design; `spike_rate` one number or one per design.  Values
    are not filled in: a missing one (None, NaN) is an error.  `cycles_per_layer` is a list
    per design."""
    cap = _validate_cap(util_cap)
    on = get_board(board)
    cal = shared_calibration(calibration)
    cols = _design_columns(designs)
    columns, layer_cycles = _estimate_rows(cols, cal, cap, backend, on)
    n = len(cols["clock_mhz"])
    columns["cycles_per_layer"] = np.empty(n, dtype=object)
    columns["cycles_per_layer"][:] = layer_cycles
    columns["part"] = cols["part"]
    columns["board"] = np.full(n, on.name, dtype=object)
    return columns


def estimate_table(
    df: pd.DataFrame,
    calibration: Calibration | str | None = None,
    util_cap: float | None = None,
    backend: str = "rtl",
    board: str = "pynq-z2",
) -> pd.DataFrame:
    """Price every row of `df` (AcceleratorConfig columns; optional `spike_rate` or
    `activity` per row) as `backend` builds it on `board`; returns the estimate's keys as
    columns, index aligned with `df`."""
    cap = _validate_cap(util_cap)
    on = get_board(board)
    cal = shared_calibration(calibration)
    table = _prepare(df)
    names = [*_INT_KNOBS, "clock_mhz", "sampling", "ensemble", "part"]
    names += [k for k in ("activity", "spike_rate", "loop_events") if k in table.columns]
    cols = {k: table[k].to_numpy() for k in names}
    cols["widths"] = table["widths"].tolist()
    cols.update({k: table[k].tolist() for k in _FRONT if k in table.columns})
    columns, layer_cycles = _estimate_rows(cols, cal, cap, backend, on)
    result = pd.DataFrame(columns, index=table.index)
    result["cycles_per_layer"] = pd.Series(layer_cycles, index=table.index, dtype=object)
    result["part"] = table["part"]
    result["board"] = on.name
    return result
