"""The search space: every design knob, how a study file may specify it, and how a trial
draws it.

A knob is written in the study file in one of three forms: a fixed value (`timesteps: 8`,
not searched), a list of choices (`levels: [2, 4, 8]`), or a range
(`clock_mhz: {low: 100, high: 200, step: 25}`, `threshold_scale: {low: 0.5, high: 2, log:
true}`).  `width` and `threshold_scale` are per hidden layer: a trial draws `width_0` ...
`width_{depth-1}` (and the same for the scale), so they are conditional on `depth`.
`conv` is a convolutional front written as blocks (`hwmodel.architecture`: `conv: "8p,16p"`,
or choices `conv: ["", "8p", "8p,16p"]`; "" is none, the MLP), kept in canonical spelling.
Its blocks are hidden layers of the SNN too, so a threshold scale is drawn for each of them
before the dense ones: `threshold_scale_0` .. `threshold_scale_{blocks+depth-1}`.

The same `suggest_design` runs on a live `optuna.Trial` and on a `FrozenTrial`, which
returns its recorded values; that is how `dse export` rebuilds a finished trial.
"""

from __future__ import annotations

import itertools
import math
import reprlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from hwmodel.architecture import parse_blocks
from hwmodel.devices import get_part, known_parts
from hwmodel.errors import HardwareInputError

if TYPE_CHECKING:  # the schema (and so `dse --help`) needs the knobs, not optuna
    import optuna

Kind = Literal["int", "float", "choice", "part", "blocks"]
PER_LAYER = ("width", "threshold_scale")
#: Most points the grid sampler may visit: Optuna's GridSampler builds them all at once (a
#: million take half a second and hundreds of MB), and each is a trained model.
MAX_GRID_POINTS = 100_000
#: Most convolutional blocks of a `conv` knob value (the depth knob's bound on dense layers).
MAX_CONV_BLOCKS = 8


@dataclass(frozen=True)
class KnobRule:
    """What values one knob accepts and its default when the study file omits it."""

    kind: Kind
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    positive: bool = False  # strictly greater than zero (floats)
    doc: str = ""

    def allowed(self) -> str:
        """The fix part of an error message: what the knob accepts."""
        if self.kind == "part":
            return f"use a Zynq-7000 part such as xc7z020clg400-1 (dies: {known_parts()})"
        if self.kind == "blocks":
            return (
                f"use at most {MAX_CONV_BLOCKS} comma-separated blocks of at most "
                f'{self.maximum:g} channels, p for 2x2 pooling, e.g. "8p,16p" ("" for none)'
            )
        if self.kind == "choice":
            return "use one of " + ", ".join(self.choices)
        noun = "an integer" if self.kind == "int" else "a number"
        if self.positive:
            upper = "" if self.maximum is None else f" and <= {self.maximum:g}"
            return f"use {noun} > 0{upper}"
        if self.maximum is None:
            return f"use {noun} >= {self.minimum:g}"
        return f"use {noun} between {self.minimum:g} and {self.maximum:g}"

    def check(self, value: Any) -> bool:
        """Whether one value is allowed (no coercion beyond int -> float)."""
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "part":
            return isinstance(value, str) and _is_part(value)
        if self.kind == "blocks":  # YAML reads `conv: 16` (one unpooled block) as a number
            text = value if isinstance(value, str) else _whole(value)
            return text is not None and _is_front(text, self.maximum)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        if not math.isfinite(value) or (self.positive and not value > 0):
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return self.maximum is None or value <= self.maximum


# Upper bounds are what a Zynq-7000 design and a search on it can hold: the largest part has
# 900 DSPs, ~1000 BRAM18 and a fabric clock below 500 MHz; a hidden layer over 4096 neurons or
# more than 1024 timesteps/samples per inference only makes trials run for hours.
KNOBS: dict[str, KnobRule] = {
    "method": KnobRule(
        "choice",
        "bayesbinn",
        choices=("bayesbinn", "ste", "mode"),
        doc="training method: BayesBiNN (sampled), its posterior mode, or STE (changes training)",
    ),
    "timesteps": KnobRule("int", 8, 1, 1024, doc="SNN timesteps T per run"),
    "levels": KnobRule("int", 4, 2, 256, doc="quantized-ReLU levels L (changes training)"),
    "threshold_scale": KnobRule(
        "float", 1.0, maximum=16, positive=True, doc="threshold scale per layer"
    ),
    "samples": KnobRule("int", 4, 1, 1024, doc="weight samples S per inference"),
    "ensemble": KnobRule("choice", "repeat", choices=("time", "repeat"), doc="ensemble mode"),
    "depth": KnobRule("int", 1, 1, 8, doc="hidden layers (changes training)"),
    "width": KnobRule("int", 64, 1, 4096, doc="neurons per hidden layer (changes training)"),
    "conv": KnobRule(
        "blocks",
        "",
        maximum=4096,
        doc='convolutional blocks before the dense layers, e.g. "8p,16p" (changes training)',
    ),
    "k_bits": KnobRule("int", 8, 1, 16, doc="bits of the stored Bernoulli parameter"),
    "membrane_bits": KnobRule("int", 16, 4, 32, doc="membrane register bits"),
    "input_bits": KnobRule("int", 8, 1, 16, doc="bits of the direct-encoded input"),
    "reuse": KnobRule("int", 1, 1, 1024, doc="weights sharing one random number (a power of 2)"),
    "pe": KnobRule("int", 64, 1, 1024, doc="processing elements"),
    "synapses_per_cycle": KnobRule("int", 1, 1, 64, doc="synapses per PE per cycle"),
    "sample_lanes": KnobRule("int", 1, 1, 64, doc="weight samples computed in parallel"),
    "sampling": KnobRule(
        "choice", "memory", choices=("memory", "regenerate"), doc="weight-sampling strategy"
    ),
    "clock_mhz": KnobRule("float", 100.0, maximum=500, positive=True, doc="clock frequency"),
    "part": KnobRule("part", "xc7z020clg400-1", doc="Zynq-7000 part (see hwmodel.devices)"),
}


#: Methods whose network is deterministic binary (no weight sampling); `imported` is the method
#: of a study of an imported model (`model:`), never drawn.
DETERMINISTIC_METHODS = ("ste", "mode", "imported")
#: What the hardware builds for a deterministic network: the code is the weight's sign, one
#: run of T steps, no random numbers; these knobs are not drawn for such a trial.
DETERMINISTIC_DESIGN: dict[str, Any] = {
    "k_bits": 1,
    "samples": 1,
    "ensemble": "repeat",
    "reuse": 1,
    "sampling": "memory",
    "sample_lanes": 1,
}


def _is_part(name: str) -> bool:
    try:
        get_part(name)
    except HardwareInputError:
        return False
    return True


def _is_front(text: str, max_channels: float | None) -> bool:
    try:
        blocks = parse_blocks(text)
    except HardwareInputError:
        return False
    wide = max_channels is not None and any(b.channels > max_channels for b in blocks)
    return len(blocks) <= MAX_CONV_BLOCKS and not wide


def _whole(value: Any) -> str | None:
    """A whole number (not a bool) as text, else None."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


def canonical_blocks(value: str | int) -> str:
    """A front in the spelling models and plans print ("8P, 16p" -> "8p,16p", 16 -> "16"), so
    that two spellings of one front are one choice, one trained model and one parameter value."""
    return ",".join(str(block) for block in parse_blocks(str(value)))


class _ShortRepr(reprlib.Repr):
    """reprlib's bounded repr, keeping a mapping's keys in the order the user wrote them."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxdict, self.maxlist = 2, 4, 4
        self.maxstring = self.maxother = self.maxlong = 40

    def repr_dict(self, x: dict, level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = itertools.islice(x.items(), self.maxdict)
        pieces = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in items]
        return "{" + ", ".join(pieces + ["..."] * (len(x) > self.maxdict)) + "}"


_REPR = _ShortRepr()


def short_repr(value: Any) -> str:
    """A bounded repr for error lines: huge or deeply aliased input never reaches the terminal."""
    return _REPR.repr(value)


class KnobError(ValueError):
    """A bad knob specification: `where` is the sub-field (e.g. 'low'), `value` the culprit."""

    def __init__(self, where: str, value: Any, fix: str) -> None:
        self.where, self.value, self.fix = where, value, fix
        super().__init__(f"{where}: {short_repr(value)} is not allowed; {fix}")


@dataclass(frozen=True)
class Knob:
    """One knob of a study: fixed, a list of choices, or a range."""

    name: str
    kind: Kind
    fixed: Any = None
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    @property
    def searched(self) -> bool:
        """Whether trials draw this knob (otherwise it is the fixed value)."""
        return bool(self.choices) or self.low is not None

    def suggest(self, trial: optuna.trial.BaseTrial, param: str) -> Any:
        """Draw (or, for a FrozenTrial, read back) this knob's value under `param`."""
        if not self.searched:
            return self.fixed
        if self.choices:
            return trial.suggest_categorical(param, list(self.choices))
        if self.kind == "int":
            step = int(self.step or 1)
            return trial.suggest_int(param, int(self.low), int(self.high), step=step, log=self.log)
        return trial.suggest_float(param, self.low, self.high, step=self.step, log=self.log)

    def grid_count(self) -> float:
        """How many values `grid_values` gives, computed without building them (``inf``
        past any float), so that a grid too large to build is refused before it exists."""
        if not self.searched:
            return 1
        if self.choices:
            return len(self.choices)
        step = self.step or (1 if self.kind == "int" else None)
        if step is None:
            rng = {"low": self.low, "high": self.high}
            raise KnobError(
                self.name, rng, "add a step: the grid sampler needs one for float ranges"
            )
        ratio = (self.high - self.low) / step
        return float(round(ratio) + 1) if math.isfinite(ratio) else math.inf

    def grid_values(self) -> list[Any]:
        """Every value a grid search visits; ranges need a step (ints default to 1)."""
        count = self.grid_count()
        if count > MAX_GRID_POINTS:
            fix = f"it gives {count_text(count)} grid values, at most {MAX_GRID_POINTS}; "
            raise KnobError(f"{self.name}.step", self.step, fix + "use a larger step")
        if not self.searched:
            return [self.fixed]
        if self.choices:
            return list(self.choices)
        step = self.step or 1
        values = [self.low + i * step for i in range(int(count))]
        return [int(v) if self.kind == "int" else float(v) for v in values]


def parse_knob(name: str, raw: Any, rule: KnobRule) -> Knob:
    """Validate one knob's study-file entry; raises KnobError naming the bad sub-field."""
    if isinstance(raw, list):
        if not raw:
            raise KnobError("choices", raw, "give at least one value")
        for i, value in enumerate(raw):
            if not rule.check(value):
                raise KnobError(str(i), value, rule.allowed())
        if rule.kind == "blocks":
            raw = [canonical_blocks(value) for value in raw]
        if len(set(raw)) != len(raw):
            raise KnobError("choices", raw, "list each choice once")
        return Knob(name, rule.kind, choices=tuple(raw))
    if isinstance(raw, dict):
        return _parse_range(name, raw, rule)
    if not rule.check(raw):
        raise KnobError("value", raw, rule.allowed())
    if rule.kind == "blocks":
        return Knob(name, rule.kind, fixed=canonical_blocks(raw))
    return Knob(name, rule.kind, fixed=float(raw) if rule.kind == "float" else raw)


def _parse_range(name: str, raw: dict, rule: KnobRule) -> Knob:
    if rule.kind in ("choice", "part", "blocks"):
        raise KnobError("range", raw, f"{name} takes a value or a list; {rule.allowed()}")
    unknown = set(raw) - {"low", "high", "step", "log"}
    if unknown:
        key = sorted(unknown)[0]
        raise KnobError(key, raw[key], "a range has only low, high, step and log")
    for key in ("low", "high"):
        if key not in raw:
            raise KnobError(key, None, "a range needs both low and high")
        if not rule.check(raw[key]):
            raise KnobError(key, raw[key], rule.allowed())
    low, high, step, log = raw["low"], raw["high"], raw.get("step"), raw.get("log", False)
    if high < low:
        raise KnobError("high", high, f"use a value >= low ({low})")
    if not isinstance(log, bool):
        raise KnobError("log", log, "use true or false")
    if step is not None:
        integral = rule.kind != "int" or isinstance(step, int)
        number = isinstance(step, int | float) and not isinstance(step, bool)
        if not number or not math.isfinite(step) or step <= 0:
            raise KnobError("step", step, "use a positive number")
        if not integral:
            raise KnobError("step", step, "use a positive integer")
        if log:
            raise KnobError("log", log, "a log-scale range cannot have a step")
    if log and low <= 0:
        raise KnobError("low", low, "a log-scale range needs low > 0")
    as_num = float if rule.kind == "float" else int
    return Knob(
        name,
        rule.kind,
        low=as_num(low),
        high=as_num(high),
        step=None if step is None else as_num(step),
        log=log,
    )


def default_knob(name: str) -> Knob:
    """The knob fixed at its default value (the study file did not mention it)."""
    rule = KNOBS[name]
    return Knob(name, rule.kind, fixed=rule.default)


def suggest_design(trial: optuna.trial.BaseTrial, space: dict[str, Knob]) -> dict[str, Any]:
    """Draw one design: every knob, with per-layer widths and scales as lists of `depth`.

    The `time` ensemble spreads samples over timesteps, so it needs samples <= T; rather
    than pruning (wasting a trial) the effective sample count is clamped to T and the
    design records it; the drawn `samples` parameter stays in the trial for the sampler.
    It also runs one weight sample at a time, so the hardware has one lane whatever
    `sample_lanes` says: that knob is drawn only for `repeat` (a conditional parameter), and
    a `time` design records 1, so no two trials price the same hardware under two names.
    For the same reason a deterministic `method` draws none of the sampling knobs and records
    `DETERMINISTIC_DESIGN`, what the hardware builds for it.
    """
    design: dict[str, Any] = {"method": space["method"].suggest(trial, "method")}
    if design["method"] in DETERMINISTIC_METHODS:
        design.update(DETERMINISTIC_DESIGN)
    for name, knob in space.items():
        if name not in PER_LAYER and name not in design and name != "sample_lanes":
            design[name] = knob.suggest(trial, name)
    if "sample_lanes" not in design:
        design["sample_lanes"] = (
            1
            if design["ensemble"] == "time"
            else space["sample_lanes"].suggest(trial, "sample_lanes")
        )
    layers = {"width": design["depth"], "threshold_scale": _hidden_layers(design)}
    for name in PER_LAYER:
        design[name] = [space[name].suggest(trial, f"{name}_{i}") for i in range(layers[name])]
    if design["ensemble"] == "time":
        design["samples"] = min(design["samples"], design["timesteps"])
    return design


def _hidden_layers(design: dict[str, Any]) -> int:
    """Hidden layers of the SNN: the convolutional blocks, then the dense ones."""
    return len(parse_blocks(design["conv"])) + design["depth"]


def _max_layers(space: dict[str, Knob]) -> dict[str, int]:
    """{per-layer knob: its most layers in the space} (the deepest network, the longest
    convolutional front)."""
    depth = space["depth"]
    max_depth = int(depth.high if depth.low is not None else max(depth.grid_values()))
    blocks = max(len(parse_blocks(front)) for front in space["conv"].grid_values())
    return {"width": max_depth, "threshold_scale": blocks + max_depth}


def grid_dimensions(space: dict[str, Knob]) -> dict[str, float]:
    """{grid parameter: number of values} of `grid_search_space`, computed without building
    a value (per-layer knobs once per layer of the deepest network)."""
    layers = _max_layers(space)
    dims: dict[str, float] = {}
    for name, knob in space.items():
        if not knob.searched:
            continue
        if name in PER_LAYER:
            dims.update({f"{name}_{i}": knob.grid_count() for i in range(layers[name])})
        else:
            dims[name] = knob.grid_count()
    return dims


def check_grid_size(space: dict[str, Knob]) -> None:
    """Raise `GridTooLarge` when the grid sampler would visit more than `MAX_GRID_POINTS`
    points (Optuna's GridSampler builds every point when it is created), `KnobError` naming
    the knob when one range alone has more values; nothing is built."""
    dims = grid_dimensions(space)
    for name, count in dims.items():
        if count > MAX_GRID_POINTS:
            knob = name.rsplit("_", 1)[0] if name not in space else name
            fix = f"it gives {count_text(count)} grid values, at most {MAX_GRID_POINTS}; "
            raise KnobError(f"{knob}.step", space[knob].step, fix + "use a larger step")
    points = math.prod(dims.values())
    if points > MAX_GRID_POINTS:
        raise GridTooLarge(points, dims)


class GridTooLarge(ValueError):
    """The grid sampler's grid holds more than `MAX_GRID_POINTS` points."""

    def __init__(self, points: float, dims: dict[str, float]) -> None:
        self.points, self.dims = points, dims
        largest = sorted(dims.items(), key=lambda item: -item[1])[:4]
        sizes = " x ".join(f"{name} {count_text(n)}" for name, n in largest)
        more = " x ..." if len(dims) > len(largest) else ""
        super().__init__(
            f"search: the grid sampler's grid has {count_text(points)} points ({sizes}{more}), "
            f"at most {MAX_GRID_POINTS}; use fewer choices or larger steps, "
            "or another sampler (sampler.name: random, tpe, nsga2)"
        )


def count_text(count: float) -> str:
    """A count for an error line: digits when it is short, else a power of ten."""
    if not math.isfinite(count):
        return "more than 1e308"
    return f"{count:.0f}" if count < 1e12 else f"{count:.1e}"


def grid_search_space(space: dict[str, Knob]) -> dict[str, list[Any]]:
    """The grid for optuna's GridSampler: searched knobs only, per-layer ones for max depth."""
    check_grid_size(space)
    layers = _max_layers(space)
    grid: dict[str, list[Any]] = {}
    for name, knob in space.items():
        if not knob.searched:
            continue
        if name in PER_LAYER:
            grid.update({f"{name}_{i}": knob.grid_values() for i in range(layers[name])})
        else:
            grid[name] = knob.grid_values()
    return grid
