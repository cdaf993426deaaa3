"""The study file: a pydantic schema and a loader whose errors are one line per problem.

`load_study_file(path)` is the only way the CLI reads a study; a wrong file raises
`StudyInputError` whose message has one line per problem, each naming the field path, the
bad value and what is allowed, e.g.
``study.yaml: search.timesteps.low: -3 is not allowed; use an integer >= 1``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    Strict,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dse.errors import StudyInputError
from dse.inner import hardware_grid_counts
from dse.redaction import redact_url
from dse.space import (
    KNOBS,
    GridTooLarge,
    Knob,
    KnobError,
    check_grid_size,
    count_text,
    default_knob,
    parse_knob,
    short_repr,
)
from dse.terminal import printable
from hwmodel.architecture import conv_shapes, parse_blocks
from hwmodel.errors import HardwareInputError
from hwmodel.profiles import DEFAULT_PROFILE, NAMES

#: Limits on a study file, far above any real one (the shipped ones are < 2 kB, depth < 6):
#: bytes read, nesting depth, and YAML nodes after alias expansion, so that no input can hang
#: the loader or the error printer ("billion laughs" expands 10 aliases 9 times over).
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 100_000
#: Longest study name: a safe file and database name (PostgreSQL's study_name is VARCHAR(512)).
MAX_NAME = 128
#: Longest free string (a storage URL, a path), and the file system's limits on a path:
#: Linux's PATH_MAX and NAME_MAX, in bytes.
MAX_TEXT = 4096
MAX_PATH_BYTES = 4095
MAX_NAME_BYTES = 255
#: Seeds are handed to numpy and torch, which take unsigned 32-bit integers.
Seed = Annotated[int, Field(ge=0, lt=2**32)]

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
    "energy_pl_uj",
    "energy_soc_uj",
    "energy_board_uj",
)
#: Metrics a study file may no longer name -> what to write instead (one line, `_format_error`).
RETIRED_METRICS = {
    "energy_uj": (
        "energy_uj is now three figures; use energy_pl_uj (programmable logic only), "
        "energy_soc_uj (PL + processing system) or energy_board_uj (the PYNQ-Z2 board)"
    ),
}


def _not_retired(value: Any) -> Any:
    """A retired metric name is refused with what replaces it, before the Literal's list."""
    if isinstance(value, str) and value in RETIRED_METRICS:
        raise PydanticCustomError("retired", "retired metric", {"text": RETIRED_METRICS[value]})
    return value


Metric = Annotated[Literal[OBJECTIVE_METRICS], BeforeValidator(_not_retired)]  # type: ignore[valid-type]


class _Section(BaseModel):
    """Base of every section: unknown keys are errors (typos must not pass silently),
    inf/NaN are refused wherever a number belongs, and scalars are strict: an integer field
    takes no `true`, `3.0` or `'40'`, a number field no `'1e3'` (an integer is a number), a
    boolean no `'off'` or `1`, a string no `!!binary` bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


def _existing(kind: str) -> Any:
    """A path that must exist now (a file or a directory), so a typo fails before training."""

    def check(path: Path) -> Path:
        ok = path.is_file() if kind == "file" else path.is_dir()
        if not ok:
            raise PydanticCustomError(
                "path", "missing path", {"fix": f"no such {kind}; fix the path"}
            )
        return path

    return Annotated[Path, Strict(False), BeforeValidator(_path_text), AfterValidator(check)]


def _path_text(value: Any) -> Any:
    """A path is written as text (a Path when built in code), at most MAX_TEXT characters."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise PydanticCustomError(
            "path", "long", {"fix": f"longer than {MAX_TEXT} characters; use a shorter path"}
        )
    if not isinstance(value, str | os.PathLike):
        raise PydanticCustomError("path_type", "use a path written as text", {})
    return value


def _profile() -> Any:
    """A packaged calibration profile's name, first-principles (kept as given) or an
    existing file; null is none of them (an unset key is the default profile)."""

    def named(value: Any) -> Any:
        if value is None:
            names = ", ".join(NAMES)
            fix = f"null names no profile; give one ({names}) or a file, or leave the key out"
            raise PydanticCustomError("path", "no profile", {"fix": fix})
        return value

    def check(value: str | Path) -> str | Path:
        _path_text(value)
        if str(value) in NAMES:
            return str(value)
        path = Path(value)
        if not path.is_file():
            names = ", ".join(NAMES)
            raise PydanticCustomError(
                "path", "missing path", {"fix": f"no such file or profile name ({names})"}
            )
        return path

    return Annotated[str | Path, BeforeValidator(named), AfterValidator(check)]


#: A study's default share of the training pool for its selection split: digits' 1437 pool
#: images give 359 (as many as its 360 test images), MNIST's 60,000 give 5,000, and so do
#: CIFAR-10's 50,000 as an npz file.
SELECTION_FRACTION = {"digits": 0.25, "mnist": 1 / 12, "fashion-mnist": 1 / 12, "npz": 0.1}
#: (channels, height, width) of the named datasets' images (`DatasetSplits.image_shape`,
#: which needs torch), so that a `conv` front is checked against them at load; an npz file's
#: shape is known once it is read, and checked then.
IMAGE_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28)}


class DatasetConfig(_Section):
    """Which data the models train and are scored on."""

    name: Literal["digits", "mnist", "fashion-mnist", "npz"] = "digits"
    root: _existing("directory") | None = None  # the IDX files' folder (mnist, fashion-mnist)
    path: _existing("file") | None = None  # name: npz: the user's .npz file (models.datasets)
    val_fraction: float = Field(0.1, gt=0, lt=1)
    seed: Seed = 0
    max_train: int | None = Field(None, ge=2)  # cap the training pool (quick studies)
    max_test: int | None = Field(None, ge=1)  # cap the test set the front is reported on
    # share of the training pool every objective is measured on (None: the dataset's default,
    # SELECTION_FRACTION); max_selection scores a seeded subset of it
    selection_fraction: float | None = Field(None, gt=0, lt=1)
    max_selection: int | None = Field(None, ge=1)
    # a dataset name, "noise" or "flip": adds the ood_auroc metric
    ood: Literal["noise", "flip", "digits", "mnist", "fashion-mnist"] | None = None
    ood_root: _existing("directory") | None = None

    @model_validator(mode="after")
    def _check_source(self) -> DatasetConfig:
        text = None
        if self.name == "npz" and self.path is None:
            text = (
                "dataset.path: missing; name: npz reads your images from an .npz file, "
                "e.g. path: data/cifar10.npz (docs/study.md)"
            )
        elif self.name == "npz" and self.root is not None:
            text = "dataset.root: is for the IDX datasets; an npz file is named by dataset.path"
        elif self.name != "npz" and self.path is not None:
            text = (
                f"dataset.path: is for name: npz; {self.name} is found by dataset.root, "
                "or remove path"
            )
        if text is not None:
            raise PydanticCustomError("line", "dataset", {"text": text})
        return self

    @property
    def source(self) -> Path | None:
        """Where the data are read from: the npz file, else the IDX folder (None: found)."""
        return self.path if self.name == "npz" else self.root

    @property
    def selection_share(self) -> float:
        """The share of the training pool in the selection split (the default resolved)."""
        if self.selection_fraction is not None:
            return self.selection_fraction
        return SELECTION_FRACTION[self.name]


class RefineConfig(_Section):
    """Re-evaluation of designs on or near the front: more selection images and/or seeds."""

    images: int | None = Field(None, ge=1)  # selection images (None: the whole selection split)
    seeds: int = Field(1, ge=1, le=100)  # weight-sample seeds for the standard error


class EvaluationConfig(_Section):
    """How a trained model is scored: float SNN or the hardware-exact integer model."""

    mode: Literal["float", "integer"] = "float"
    seed: Seed = 0
    # hwmodel calibration profile: a packaged name (hwmodel.profiles: yosys-rtl, the RTL as
    # Yosys builds it; first-principles, uncalibrated) or a JSON file
    calibration: _profile() = DEFAULT_PROFILE
    refine_front: RefineConfig | None = None


class Objective(_Section):
    """One objective: a recorded metric and whether to minimise or maximise it."""

    metric: Metric
    direction: Literal["minimize", "maximize"]


class ConstraintsConfig(_Section):
    """Feasibility: infeasible trials are kept, marked, and left off the Pareto front."""

    fit_device: bool = True
    util_cap: float = Field(1.0, gt=0, le=1)  # highest allowed utilisation of any resource
    power_cap_w: float | None = Field(None, gt=0, le=1000)
    min_accuracy: float | None = Field(None, ge=0, le=1)


class SamplerConfig(_Section):
    """The Optuna sampler; always named explicitly (Optuna's defaults changed in v5)."""

    name: Literal["nsga2", "tpe", "gp", "random", "grid"] | None = None
    seed: Seed = 0
    population_size: int = Field(20, ge=2, le=10_000)  # NSGA-II generation size
    n_startup_trials: int = Field(10, ge=1, le=100_000)  # TPE/GP random start
    # TPE/GP learn from the inner search's hardware variants too; None: as measured for each
    # (dse.sampling.VARIANTS_IN_HISTORY: TPE yes, GP no)
    variants_in_history: bool | None = None


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


#: Knobs that decide the trained weights: a study of a saved model (`model:`) takes them from it.
MODEL_KNOBS = ("method", "levels", "depth", "width", "conv")


class StudyConfig(_Section):
    """A whole study file, validated; `search` holds one `Knob` per design knob."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=MAX_NAME)
    output_dir: Annotated[Path, Strict(False), BeforeValidator(_path_text)] | None = None
    storage: str | None = Field(None, max_length=MAX_TEXT)
    # a saved model (`dse train`, `dse import`): trials train nothing and search only the
    # evaluation and hardware knobs of this one network
    model: _existing("directory") | None = None
    dataset: DatasetConfig = DatasetConfig()
    training: dict[str, Any] = {}
    evaluation: EvaluationConfig = EvaluationConfig()
    search: SearchSpace = SearchSpace()
    objectives: list[Objective] = Field(min_length=1)
    constraints: ConstraintsConfig = ConstraintsConfig()
    sampler: SamplerConfig = SamplerConfig()
    n_trials: int = Field(40, ge=1, le=1_000_000)
    timeout: float | None = Field(None, gt=0, le=1e7)
    n_jobs: int = Field(1, ge=1, le=256)
    hardware_search: HardwareSearchConfig = HardwareSearchConfig()

    _source: Path | None = PrivateAttr(default=None)
    _saved: Any = PrivateAttr(default=None)  # models.imported.ModelSummary of `model`

    @field_validator("output_dir")
    @classmethod
    def _check_output_dir(cls, path: Path | None) -> Path | None:
        if path is not None:
            _check_directory_path(path)
        return path

    @field_validator("storage")
    @classmethod
    def _check_storage(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"(sqlite|postgresql(\+\w+)?|journal)://", url):
            fix = "use postgresql://user@host/db, sqlite:///path.db or journal:///path.log"
            raise PydanticCustomError(
                "knob", "storage", {"where": "storage", "value": redact_url(url), "fix": fix}
            )
        if url is not None:
            try:
                _check_storage_path(url)
            except StudyInputError as exc:
                raise PydanticCustomError("line", "storage", {"text": str(exc)}) from None
        return url

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
        if self.sampler.name == "grid":  # counted, not built: Optuna builds every point
            try:
                check_grid_size(self.knobs)
            except KnobError as exc:
                ctx = {"where": f"search.{exc.where}", "value": exc.value, "fix": exc.fix}
                raise PydanticCustomError("knob", "grid", ctx) from None
            except GridTooLarge as exc:
                raise PydanticCustomError("line", "grid", {"text": str(exc)}) from None
        if self.hardware_search.exact:
            _check_hardware_grid(self.knobs, self.hardware_search.clock_step_mhz)
        _check_conv(self.knobs["conv"], self.dataset.name)
        _check_training(self.training)
        if self.model is not None:
            self._saved = _check_saved_model(self)
        if self.storage is not None:
            try:
                _check_shared_storage(self.storage, self.n_jobs, "n_jobs")
            except StudyInputError as exc:
                raise PydanticCustomError("line", "storage", {"text": str(exc)}) from None
        return self

    # Resolved settings (defaults that depend on other fields).
    @property
    def knobs(self) -> dict[str, Knob]:
        """The search space as {knob name: Knob}; a study of a saved model fixes `method` (the
        model's: bayesbinn, ste or imported) and `depth` (its hidden layers)."""
        knobs = {name: getattr(self.search, name) for name in KNOBS}
        if self._saved is not None:
            knobs["method"] = Knob("method", "choice", fixed=self._saved.method)
            knobs["depth"] = Knob("depth", "int", fixed=len(self._saved.widths) - 2)
        return knobs

    @property
    def saved_model(self) -> Any:
        """What `model:` names (`models.imported.ModelSummary`: widths, dataset, method), or
        None for a study that trains its models."""
        return self._saved

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


def _path_problem(path: Path) -> str | None:
    """Why `path` cannot name a file or directory on Linux (too long, a component too long,
    a NUL byte), or None."""
    text = str(path.absolute())
    if "\0" in text:
        return "it holds a NUL character; fix the path"
    size = len(os.fsencode(text))
    if size > MAX_PATH_BYTES:
        return f"{size} bytes long, over the {MAX_PATH_BYTES} a path may have; use a shorter path"
    longest = max(path.parts, key=lambda part: len(os.fsencode(part)), default="")
    if len(os.fsencode(longest)) > MAX_NAME_BYTES:
        return (
            f"a component is {len(os.fsencode(longest))} bytes long, over the "
            f"{MAX_NAME_BYTES} a file name may have; use a shorter name"
        )
    return None


def _existing_parent(path: Path) -> Path | None:
    """The nearest existing folder above `path` (None if what exists there is not one)."""
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    return parent if parent is not None and parent.is_dir() else None


def _check_hardware_grid(knobs: dict[str, Knob], clock_step_mhz: float) -> None:
    """The exact inner search prices at most MAX_HARDWARE_GRID designs per model; counted
    without building the grid, which a tiny clock step would make endless."""
    counts = hardware_grid_counts(knobs, clock_step_mhz)
    size = math.prod(counts.values())
    if size <= MAX_HARDWARE_GRID:
        return
    name, count = max(counts.items(), key=lambda item: item[1])
    knob = knobs[name]
    designs = f"{count_text(size)} hardware designs per model, at most {MAX_HARDWARE_GRID}"
    stepless = knob.kind == "float" and not knob.choices and knob.step is None
    if count > MAX_HARDWARE_GRID and stepless:  # a clock range gridded at the step
        text = (
            f"hardware_search.clock_step_mhz: {short_repr(clock_step_mhz)} is not allowed; "
            f"it cuts {name} {knob.low:g}..{knob.high:g} into {count_text(count)} values, "
            f"{designs}: use a coarser clock step (e.g. 5), or hardware_search.exact: false"
        )
    elif count > MAX_HARDWARE_GRID:
        text = (
            f"search.{name}.step: {short_repr(knob.step)} is not allowed; it gives "
            f"{count_text(count)} values, {designs}: use a larger step, "
            "or hardware_search.exact: false"
        )
    else:
        text = (
            f"hardware_search: {count_text(size)} designs per model is not allowed; at most "
            f"{MAX_HARDWARE_GRID}: use fewer hardware choices, a coarser clock step, "
            "or hardware_search.exact: false"
        )
    raise PydanticCustomError("line", "grid", {"text": text})


def _check_conv(knob: Knob, dataset: str) -> None:
    """Every `conv` front leaves at least one pixel of the dataset's images (where known):
    a pooling stage too many for 8x8 digits fails at load, not in the first trial."""
    shape = IMAGE_SHAPES.get(dataset)
    problem = None if shape is None else conv_problem(knob, shape, dataset)
    if problem is not None:
        raise PydanticCustomError("line", "conv", {"text": problem})


def conv_problem(knob: Knob, shape: tuple[int, int, int], images: str) -> str | None:
    """The error line for the first `conv` value that pools `images` of `shape` (C, H, W)
    to nothing, else None."""
    values = enumerate(knob.choices) if knob.choices else [(None, knob.fixed)]
    for index, value in values:
        try:
            conv_shapes(shape, parse_blocks(value))
        except HardwareInputError as exc:
            where = "search.conv" if index is None else f"search.conv.{index}"
            image = "x".join(map(str, shape))
            problem = str(exc).split(": ", 1)[-1].split("; ")[0]
            return (
                f"{where}: {short_repr(value)} is not allowed; on the {image} images of "
                f"{images} {problem}: use fewer pooled blocks"
            )
    return None


def _check_directory_path(path: Path) -> None:
    """`path` can become a directory: a valid path, not a file, under a directory."""
    problem = _path_problem(path)
    if problem:
        raise PydanticCustomError("path", "long", {"fix": problem})
    if path.exists() and not path.is_dir():
        raise PydanticCustomError("path", "file", {"fix": "it is a file; name a directory"})
    if _existing_parent(path) is None:
        parent = next((p for p in path.absolute().parents if p.exists()), None)
        raise PydanticCustomError("path", "parent", {"fix": f"{parent} is not a directory"})


def storage_file(url: str) -> Path | None:
    """The local file of a sqlite or journal storage URL; None for a server or an in-memory
    database (sqlite://, sqlite:///:memory:). Parsed without SQLAlchemy (a light check)."""
    match = re.match(r"(sqlite(?:\+\w+)?|journal)://(.*)", url, re.S)
    if match is None:
        return None
    rest = match[2]
    if match[1].startswith("sqlite"):
        rest = rest.split("?", 1)[0]
        database = rest[1:] if rest.startswith("/") else rest
        return None if database in ("", ":memory:") else Path(database)
    return Path(rest)


def _storage_error(url: str, problem: str) -> StudyInputError:
    return StudyInputError(f"storage: {short_repr(redact_url(url))}: {problem}")


def _check_storage_path(url: str) -> None:
    """A sqlite or journal file can be created where the URL says (checked at load)."""
    path = storage_file(url)
    if path is None:
        return
    if not path.name:
        raise _storage_error(url, "names no file; give a file such as /path/study.db")
    problem = _path_problem(path)
    if problem:
        raise _storage_error(url, problem)
    if path.is_dir():
        raise _storage_error(url, "is a directory; name a file in it, e.g. study.db")
    if _existing_parent(path) is None:
        raise _storage_error(url, "a folder on its path is a file; choose a path under a folder")


def _check_shared_storage(url: str, jobs: int, flag: str) -> None:
    """An in-memory SQLite database lives in one process: worker processes cannot share it."""
    in_memory = re.match(r"sqlite(\+\w+)?://", url) and storage_file(url) is None
    if in_memory and jobs > 1:
        raise _storage_error(
            url,
            f"an in-memory database cannot be shared by {jobs} worker processes ({flag}); "
            "use a file (sqlite:///path/study.db), leave storage out, or run one job",
        )


def check_storage(url: str, jobs: int, flag: str = "n_jobs") -> None:
    """Before any trial: the storage can hold `jobs` workers and its file can be written
    (its folder is created now, and a probe file written and removed beside it)."""
    _check_shared_storage(url, jobs, flag)
    _check_storage_path(url)
    path = storage_file(url)
    if path is None:
        return
    folder = path.absolute().parent
    failed = _write_probe(folder)
    if failed is not None:
        raise _storage_error(
            url, f"cannot write in {_shown(folder)} ({failed}); choose a writable path"
        )


def _write_probe(folder: Path) -> str | None:
    """Create `folder` and a file in it (then remove the file); why that failed, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".dse-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        return str(exc.strerror or exc)
    return None


def check_writable(cfg: StudyConfig) -> Path:
    """The output directory, created now: a command that writes fails before any trial runs."""
    out = cfg.out_dir
    failed = _write_probe(out)
    if failed is not None:
        raise StudyInputError(
            f"output_dir: {_shown(out)} is not writable ({failed}); "
            "choose a directory you can write to"
        ) from None
    return out


def _check_saved_model(cfg: StudyConfig) -> Any:
    """`model:` is a readable model directory for the study's dataset, and nothing else in the
    study asks to train: the model knobs and `training` are the model's."""
    from models.errors import ModelInputError
    from models.imported import read_summary

    try:
        summary = read_summary(cfg.model)
    except ModelInputError as exc:
        text = f"model: {str(exc).removeprefix('model directory: ')}"
        raise PydanticCustomError("line", "model", {"text": text}) from None
    where = f"model: {cfg.model}"
    for name in MODEL_KNOBS:
        if name in cfg.search.model_fields_set:
            text = (
                f"search.{name}: a study of a saved model ({where}) takes {name} from the "
                f"model and trains nothing; remove search.{name}"
            )
            raise PydanticCustomError("line", "model", {"text": text})
    if cfg.training:
        text = f"training: a study of a saved model ({where}) trains nothing; remove training"
        raise PydanticCustomError("line", "model", {"text": text})
    if summary.conv:  # the trials would price a dense design, evaluate a convolutional one
        text = (
            f"model: {cfg.model} has a convolutional front (conv {summary.conv}), and a study "
            "of a saved model takes dense models only for now; search the front with "
            f"search.conv: {summary.conv!r} and no model:"
        )
        raise PydanticCustomError("line", "model", {"text": text})
    if summary.dataset != cfg.dataset.name:
        text = (
            f"dataset.name: {cfg.dataset.name} is not the dataset of the model in "
            f"{cfg.model} ({summary.dataset or 'none recorded'}); set dataset.name: "
            f"{summary.dataset or 'the dataset it classifies'}"
        )
        raise PydanticCustomError("line", "model", {"text": text})
    return summary


def _check_training(training: dict[str, Any]) -> None:
    """Fixed training settings must be valid TrainConfig fields that the search does not own."""
    from models.errors import ModelInputError
    from models.train_config import TrainConfig

    searched = {"widths": "width", "levels": "levels", "method": "method", "conv": "conv"}
    allowed = [f.name for f in fields(TrainConfig) if f.name not in searched]
    for key in training:
        if key in searched:
            fix = f"the search sets it; write it as search.{searched[key]}"
            raise PydanticCustomError(
                "knob", "training", {"where": f"training.{key}", "value": key, "fix": fix}
            )
        if key not in allowed:
            ctx = {"where": f"training.{key}", "value": key, "fix": "known: " + ", ".join(allowed)}
            raise PydanticCustomError("knob", "training", ctx)
    try:
        TrainConfig(**training)
    except ModelInputError as exc:
        raise PydanticCustomError("line", "training", {"text": f"training.{exc}"}) from None


#: What to write instead, for a scalar of the wrong YAML type (the sections are strict).
_STRICT_FIXES = {
    "int_type": "use a whole number without quotes, e.g. 40 (not true/yes, 3.0 or '40')",
    "float_type": "use a number without quotes, e.g. 0.5 (not '1e3' or true)",
    "bool_type": "use true or false without quotes (not 'off', 'yes' or 1)",
    "string_type": "use text (not a number, a boolean or !!binary data)",
}


def _key(key: Any) -> str:
    """A key of the user's file for an error line: control characters escaped (a key cannot
    clear the screen or forge a second error line), a very long one shortened."""
    text = printable(key)
    return text if len(text) <= 80 else text[:60] + "..." + text[-17:]


def _format_error(err: dict, label: str) -> str:
    """One line for one pydantic error: path, bad value, what is allowed."""
    if err["type"] == "line":
        return f"{label}: {err['ctx']['text']}"
    if err["type"] == "knob":
        ctx = err["ctx"]
        where = ".".join(_key(part) for part in ctx["where"].split("."))
        return f"{label}: {where}: {short_repr(ctx['value'])} is not allowed; {ctx['fix']}"
    path = ".".join(_key(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "path":
        return f"{label}: {path}: {_shown(err['input'])}: {err['ctx']['fix']}"
    if err["type"] == "retired":
        return f"{label}: {path}: {err['ctx']['text']}"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch":
        msg = "use letters, digits, '_', '.' and '-', starting with a letter or digit"
    msg = _STRICT_FIXES.get(err["type"], msg)
    if err["type"] == "missing":
        return f"{label}: {path}: missing; this field is required"
    if err["type"] == "extra_forbidden":
        known = ", ".join(KNOBS) if err["loc"][0] == "search" else "see docs/study.md"
        return f"{label}: {path}: unknown field; remove it or fix its spelling ({known})"
    value = short_repr(err.get("input"))
    if err["loc"][0] == "storage":  # a list or mapping may hold a URL: its password stays hidden
        value = f"a value of type {type(err.get('input')).__name__}"
    return f"{label}: {path}: {value} is not allowed; {msg[:1].lower()}{msg[1:]}"


def parse_study(data: Any, label: str = "study") -> StudyConfig:
    """Validate an already-parsed study mapping; errors as `load_study_file` gives them."""
    label = printable(label)
    if not isinstance(data, dict):
        raise StudyInputError(f"{label}: the file must be a YAML mapping (name: ..., search: ...)")
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        # One line per problem, whatever the user's keys and values hold.
        lines = [printable(_format_error(e, label)) for e in exc.errors(include_url=False)]
        raise StudyInputError("\n".join(dict.fromkeys(lines))) from None


class _BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses deep nesting, counts nodes after alias expansion, and
    refuses a key given twice in one mapping (yaml.safe_load keeps the last silently).

    Each composed node's expanded size (itself plus its children, an alias counting as the
    whole node it names) is computed bottom-up, so an alias bomb is refused after composing a
    few hundred real nodes, long before anything expands it.  Merge keys (`<<: *base`) may
    still be overridden by the mapping's own keys, as YAML intends.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LimitError(f"nested deeper than {MAX_DEPTH} levels", self.peek_event())
        node = super().compose_node(parent, index)
        self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
        if size > MAX_NODES:
            raise _LimitError(f"more than {MAX_NODES} values once aliases expand", node)
        self._sizes[id(node)] = size
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    repeated = key in first
                except TypeError:  # an unhashable key: the base class says so
                    continue
                if repeated:
                    raise _LimitError(
                        f"key {short_repr(key)} is given twice (first on line {first[key] + 1}), "
                        "and only the last would count",
                        key_node,
                        "keep one",
                    )
                first[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


class _LimitError(yaml.YAMLError):
    """A study file over the loader's limits or with a repeated key; `mark` says where."""

    def __init__(self, problem: str, at: yaml.Event | yaml.Node, fix: str = "fix the file") -> None:
        super().__init__(problem)
        self.problem, self.problem_mark, self.fix = problem, at.start_mark, fix


def _shown(path: Any) -> str:
    """A path for an error line: whole (the OS bounds it), quoted, the end kept if very long."""
    text = str(path)
    return repr(text if len(text) <= 300 else "..." + text[-297:])


def _read_text(path: Path) -> str:
    """The file's text: a regular UTF-8 file of at most MAX_FILE_BYTES, else a one-line error."""
    if path.is_dir():
        raise StudyInputError(f"{_shown(path)}: is a directory; give the study YAML file")
    try:
        with path.open("rb") as handle:
            if not path.is_file():
                raise StudyInputError(
                    f"{_shown(path)}: not a regular file; give the study YAML file"
                )
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise StudyInputError(f"{_shown(path)}: no such study file; check the path") from None
    except OSError as exc:
        raise StudyInputError(
            f"{_shown(path)}: cannot be read ({exc.strerror}); check its permissions"
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise StudyInputError(
            f"{printable(path.name)}: larger than {MAX_FILE_BYTES // 1024} KiB; "
            "a study file is a few lines"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StudyInputError(
            f"{printable(path.name)}: byte {exc.start} is not UTF-8; save the file as UTF-8 text"
        ) from None


def load_study_file(path: str | Path) -> StudyConfig:
    """Read and validate a study YAML file (safe, bounded loader); one error line per problem."""
    path = Path(path)
    label = printable(path.name)
    text = _read_text(path)
    try:
        data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        if isinstance(exc, _LimitError):
            raise StudyInputError(f"{label}:{where}: {exc.problem}; {exc.fix}") from None
        raise StudyInputError(f"{label}:{where}: not valid YAML; fix the file") from None
    except (ValueError, RecursionError):  # e.g. an integer of more than 4300 digits
        raise StudyInputError(
            f"{label}: a value cannot be read (a number too long?); fix it"
        ) from None
    cfg = parse_study(data, label)
    cfg._source = path
    return cfg
