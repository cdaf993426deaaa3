"""The study file: a pydantic schema and a loader whose errors are one line per problem.

`load_study_file(path)` is the only way the CLI reads a study; a wrong file raises
`StudyInputError` whose message has one line per problem, each naming the field path, the
bad value and what is allowed, e.g.
``study.yaml: search.timesteps.low: -3 is not allowed; use an integer >= 1``.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dse.errors import StudyInputError
from dse.inner import grid_size, hardware_grid
from dse.space import (
    KNOBS,
    Knob,
    KnobError,
    default_knob,
    grid_search_space,
    parse_knob,
)

# Scalar metrics a trial records and a study may optimise (directions are the user's).
OBJECTIVE_METRICS = (
    "accuracy",
    "ece",
    "nll",
    "brier",
    "entropy",
    "ood_auroc",
    "spikes_per_inference",
    "synops_per_inference",
    "lut",
    "ff",
    "bram36",
    "dsp",
    "util_lut",
    "util_ff",
    "util_bram36",
    "util_dsp",
    "cycles",
    "latency_us",
    "throughput_ips",
    "synops_per_s",
    "gops",
    "gops_per_dsp",
    "power_static_w",
    "power_dynamic_w",
    "power_w",
    "energy_uj",
)
Metric = Literal[OBJECTIVE_METRICS]  # type: ignore[valid-type]


class _Section(BaseModel):
    """Base of every section: unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(_Section):
    """Which data the models train and are scored on."""

    name: Literal["digits", "mnist", "fashion-mnist"] = "digits"
    root: Path | None = None
    val_fraction: float = Field(0.1, gt=0, lt=1)
    seed: int = 0
    max_train: int | None = Field(None, ge=2)  # cap the training pool (quick studies)
    max_test: int | None = Field(None, ge=1)  # cap the test set the metrics are taken on
    ood: str | None = None  # a dataset name or "noise": adds the ood_auroc metric
    ood_root: Path | None = None


class EvaluationConfig(_Section):
    """How a trained model is scored: float SNN or the hardware-exact integer model."""

    mode: Literal["float", "integer"] = "float"
    seed: int = 0
    calibration: Path | None = None  # hwmodel calibration profile (JSON) for the estimates


class Objective(_Section):
    """One objective: a recorded metric and whether to minimise or maximise it."""

    metric: Metric
    direction: Literal["minimize", "maximize"]


class ConstraintsConfig(_Section):
    """Feasibility: infeasible trials are kept, marked, and left off the Pareto front."""

    fit_device: bool = True
    util_cap: float = Field(1.0, gt=0, le=1)  # highest allowed utilisation of any resource
    power_cap_w: float | None = Field(None, gt=0)
    min_accuracy: float | None = Field(None, ge=0, le=1)


class SamplerConfig(_Section):
    """The Optuna sampler; always named explicitly (Optuna's defaults changed in v5)."""

    name: Literal["nsga2", "tpe", "gp", "random", "grid"] | None = None
    seed: int = 0
    population_size: int = Field(20, ge=2)  # NSGA-II generation size
    n_startup_trials: int = Field(10, ge=1)  # TPE/GP random start


class HardwareSearchConfig(_Section):
    """Exact inner optimisation over the hardware-only knobs (dse.inner)."""

    exact: bool = False  # price every hardware design of each evaluated model, record its front
    max_designs: int = Field(4, ge=1, le=1000)  # hardware variants recorded per evaluation
    clock_step_mhz: float = Field(5.0, gt=0, allow_inf_nan=False)  # grid of a stepless clock


#: Most hardware designs priced per evaluated model (about 2 s of the vectorised cost model).
MAX_HARDWARE_GRID = 100_000


def _knob_field(name: str) -> Any:
    """A SearchSpace field: parses the raw entry with the knob's rule; default is fixed."""

    def validate(raw: Any) -> Knob:
        if isinstance(raw, Knob):
            return raw
        try:
            return parse_knob(name, raw, KNOBS[name])
        except KnobError as exc:
            where = f"search.{name}" + ("" if exc.where == "value" else f".{exc.where}")
            ctx = {"where": where, "value": exc.value, "fix": exc.fix}
            raise PydanticCustomError("knob", "bad knob", ctx) from None

    return (Annotated[Knob, PlainValidator(validate)], default_knob(name))


SearchSpace = create_model(
    "SearchSpace",
    __base__=_Section,
    __doc__="Every design knob: fixed, choices or a range (see dse.space).",
    **{name: _knob_field(name) for name in KNOBS},
)


class StudyConfig(_Section):
    """A whole study file, validated; `search` holds one `Knob` per design knob."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    output_dir: Path | None = None
    storage: str | None = None
    dataset: DatasetConfig = DatasetConfig()
    training: dict[str, Any] = {}
    evaluation: EvaluationConfig = EvaluationConfig()
    search: SearchSpace = SearchSpace()
    objectives: list[Objective] = Field(min_length=1)
    constraints: ConstraintsConfig = ConstraintsConfig()
    sampler: SamplerConfig = SamplerConfig()
    hardware_search: HardwareSearchConfig = HardwareSearchConfig()
    n_trials: int = Field(40, ge=1)
    timeout: float | None = Field(None, gt=0)
    n_jobs: int = Field(1, ge=1)

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_consistency(self) -> StudyConfig:
        metrics = [o.metric for o in self.objectives]
        for metric in metrics:
            if metrics.count(metric) > 1:
                raise PydanticCustomError(
                    "knob",
                    "duplicate",
                    {"where": "objectives", "value": metric, "fix": "list each metric once"},
                )
        if "ood_auroc" in metrics and self.dataset.ood is None:
            raise PydanticCustomError(
                "knob",
                "ood",
                {"where": "objectives", "value": "ood_auroc", "fix": "set dataset.ood to use it"},
            )
        if self.sampler.name == "grid":
            try:
                grid_search_space(self.knobs)
            except KnobError as exc:
                ctx = {"where": f"search.{exc.where}", "value": exc.value, "fix": exc.fix}
                raise PydanticCustomError("knob", "grid", ctx) from None
        if self.hardware_search.exact:
            size = grid_size(hardware_grid(self.knobs, self.hardware_search.clock_step_mhz))
            if size > MAX_HARDWARE_GRID:
                fix = (
                    f"at most {MAX_HARDWARE_GRID}: use fewer hardware choices, "
                    "a coarser clock step, or hardware_search.exact: false"
                )
                ctx = {"where": "hardware_search", "value": f"{size} designs", "fix": fix}
                raise PydanticCustomError("knob", "grid", ctx)
        _check_training(self.training)
        return self

    # Resolved settings (defaults that depend on other fields).
    @property
    def knobs(self) -> dict[str, Knob]:
        """The search space as {knob name: Knob}."""
        return {name: getattr(self.search, name) for name in KNOBS}

    @property
    def out_dir(self) -> Path:
        """Where everything of this study goes: output_dir, else runs/<name>/."""
        return self.output_dir if self.output_dir is not None else Path("runs") / self.name

    def storage_url(self) -> str:
        """The Optuna storage URL: `storage`, else SQLite in the output directory."""
        if self.storage:
            return self.storage
        return f"sqlite:///{(self.out_dir / 'study.db').resolve()}"

    @property
    def sampler_name(self) -> str:
        """The sampler actually used: NSGA-II for several objectives, TPE for one."""
        if self.sampler.name:
            return self.sampler.name
        return "nsga2" if len(self.objectives) > 1 else "tpe"

    @property
    def source(self) -> Path | None:
        """The study file this config was read from (None when built in code)."""
        return self._source


def _check_training(training: dict[str, Any]) -> None:
    """Fixed training settings must be valid TrainConfig fields that the search does not own."""
    from models.errors import ModelInputError
    from models.training import TrainConfig

    allowed = [f.name for f in fields(TrainConfig) if f.name not in ("widths", "levels")]
    for key in training:
        if key not in allowed:
            ctx = {"where": f"training.{key}", "value": key, "fix": "known: " + ", ".join(allowed)}
            raise PydanticCustomError("knob", "training", ctx)
    try:
        TrainConfig(**training)
    except ModelInputError as exc:
        raise PydanticCustomError("line", "training", {"text": f"training.{exc}"}) from None


def _format_error(err: dict, label: str) -> str:
    """One line for one pydantic error: path, bad value, what is allowed."""
    if err["type"] == "line":
        return f"{label}: {err['ctx']['text']}"
    if err["type"] == "knob":
        ctx = err["ctx"]
        return f"{label}: {ctx['where']}: {ctx['value']!r} is not allowed; {ctx['fix']}"
    path = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch":
        msg = "use letters, digits, '_', '.' and '-', starting with a letter or digit"
    if err["type"] == "missing":
        return f"{label}: {path}: missing; this field is required"
    if err["type"] == "extra_forbidden":
        known = ", ".join(KNOBS) if err["loc"][0] == "search" else "see docs/study.md"
        return f"{label}: {path}: unknown field; remove it or fix its spelling ({known})"
    return f"{label}: {path}: {err.get('input')!r} is not allowed; {msg[:1].lower()}{msg[1:]}"


def parse_study(data: Any, label: str = "study") -> StudyConfig:
    """Validate an already-parsed study mapping; errors as `load_study_file` gives them."""
    if not isinstance(data, dict):
        raise StudyInputError(f"{label}: the file must be a YAML mapping (name: ..., search: ...)")
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        lines = [_format_error(e, label) for e in exc.errors(include_url=False)]
        raise StudyInputError("\n".join(dict.fromkeys(lines))) from None


def load_study_file(path: str | Path) -> StudyConfig:
    """Read and validate a study YAML file (yaml.safe_load); one error line per problem."""
    path = Path(path)
    label = path.name
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise StudyInputError(f"{path}: no such study file; check the path") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise StudyInputError(f"{label}:{where}: not valid YAML; fix the syntax") from None
    cfg = parse_study(data, label)
    cfg._source = path
    return cfg
