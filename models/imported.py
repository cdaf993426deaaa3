"""A network imported from elsewhere (NIR, `models.nir_import`), stored as the SNN it is.

A trained model is a `BayesBinaryMLP` that `models.conversion.convert` turns into a
`ConvertedSNN`; an imported network already *is* one (its binary weights as probabilities 0
or 1, thresholds, biases, initial membranes, the firing rule), so its model directory holds
that: ``snn.npz`` (plain arrays, read without pickle) and ``settings.json`` with
``"kind": "imported"``, the widths, the dataset it classifies, the file it came from, what
the import assumed, and the SHA-256 of ``snn.npz``.  `models.io.load_model` returns an
`ImportedModel` for such a directory and `convert` hands its SNN on, so `dse evaluate`, a
study (`model:`), `dse export` and both hardware backends take it like a trained model.

Numpy and JSON only: the study schema reads a model directory's summary (`read_summary`)
without loading torch.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelInputError
from models.snn_spec import ConvertedLayer, ConvertedSNN

__all__ = [
    "IMPORTED_KIND",
    "SNN_FILE",
    "ImportedModel",
    "ModelSummary",
    "load_imported",
    "read_summary",
    "save_imported",
]

IMPORTED_KIND = "imported"
SNN_FILE = "snn.npz"
SETTINGS_FILE = "settings.json"  # the same name as a trained model's (models.io)
FORMAT_VERSION = 1
_FIELDS = ("prob", "threshold", "bias", "initial")


@dataclass
class ImportedModel:
    """An imported network: the converted SNN the simulators and backends run, plus where it
    came from.  Its weights are deterministic (probabilities 0 or 1)."""

    snn: ConvertedSNN
    dataset: str
    source: dict[str, Any] = field(default_factory=dict)  # file, sha256, producer, ...
    notes: list[str] = field(default_factory=list)  # what the import assumed, one line each
    layers: list[dict[str, Any]] = field(default_factory=list)  # per-layer import report
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0

    @property
    def widths(self) -> tuple[int, ...]:
        """(inputs, hidden..., classes)."""
        return tuple(self.snn.widths)

    def converted(self, threshold_scales: Any = None) -> ConvertedSNN:
        """The SNN, with each hidden layer's thresholds multiplied by `threshold_scales` (as a
        trained model's conversion does; initial membranes stay as imported)."""
        hidden = [layer for layer in self.snn.layers if layer.spiking]
        if threshold_scales is None:
            return self.snn
        scales = np.asarray(list(threshold_scales), dtype=np.float64)
        if scales.shape != (len(hidden),) or not np.all(np.isfinite(scales) & (scales > 0)):
            raise ModelInputError(
                f"threshold_scales: {list(threshold_scales)} must be {len(hidden)} positive "
                "numbers, one per hidden layer"
            )
        layers, index = [], 0
        for layer in self.snn.layers:
            if layer.spiking:
                layer = replace(layer, threshold=layer.threshold * scales[index])
                index += 1
            layers.append(layer)
        return ConvertedSNN(layers=layers, output_scale=self.snn.output_scale)


@dataclass(frozen=True)
class ModelSummary:
    """What a model directory's settings.json says, read without torch."""

    path: Path
    kind: str  # "trained" or "imported"
    widths: tuple[int, ...]
    dataset: str
    method: str  # bayesbinn or ste for a trained model, "imported" for an imported one
    digest: str  # SHA-256 of its weights file, as recorded ("" for a format-1 trained model)
    conv: str = ""  # a trained model's convolutional front, e.g. "8p,16p" ("" for an MLP)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_summary(directory: str | Path) -> ModelSummary:
    """The kind, widths, dataset, method and conv front of the model in `directory` (trained
    or imported) from its settings.json alone; a missing or unreadable one is one
    ModelInputError line."""
    path = Path(directory)
    settings_path = path / SETTINGS_FILE
    if not settings_path.is_file():
        raise ModelInputError(
            f"model directory: {path} has no {SETTINGS_FILE}; point to a directory written by "
            "`dse train` or `dse import`"
        )
    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
        kind = settings.get("kind", "trained")
        widths = tuple(int(w) for w in settings["widths"])
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError("widths")
        if kind == IMPORTED_KIND:
            method, digest = IMPORTED_KIND, str(settings["snn_sha256"])
        else:
            method = str(settings.get("config", {}).get("method", "bayesbinn"))
            digest = str(settings.get("weights_sha256", ""))
        dataset = str(settings.get("dataset", ""))
        conv = str(settings.get("conv", ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelInputError(
            f"model directory: {path} has an unreadable {SETTINGS_FILE} "
            f"({type(exc).__name__}); retrain or re-import it"
        ) from None
    return ModelSummary(path, kind, widths, dataset, method, digest, conv)


def save_imported(model: ImportedModel, directory: str | Path) -> Path:
    """Write `model` into `directory` (created if needed); returns the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "spiking": np.array([layer.spiking for layer in model.snn.layers]),
        "strict": np.array([layer.strict for layer in model.snn.layers]),
        "output_scale": np.array(model.snn.output_scale, dtype=np.float64),
    }
    for index, layer in enumerate(model.snn.layers):
        for name in _FIELDS:
            arrays[f"{name}_{index}"] = np.asarray(getattr(layer, name), dtype=np.float64)
    with (out / SNN_FILE).open("wb") as handle:
        np.savez(handle, **arrays)
    settings = {
        "format_version": FORMAT_VERSION,
        "kind": IMPORTED_KIND,
        "dataset": model.dataset,
        "widths": list(model.widths),
        "output_scale": float(model.snn.output_scale),
        "source": model.source,
        "notes": list(model.notes),
        "layers": model.layers,
        "metrics": model.metrics,
        "wall_time_s": model.wall_time_s,
        "snn_sha256": _sha256(out / SNN_FILE),
    }
    text = json.dumps(settings, indent=2, sort_keys=True, allow_nan=False)
    (out / SETTINGS_FILE).write_text(text + "\n")
    return out


def _layer(arrays: Any, index: int, spiking: bool, strict: bool) -> ConvertedLayer:
    values = {name: np.asarray(arrays[f"{name}_{index}"], dtype=np.float64) for name in _FIELDS}
    n_out = values["prob"].shape[0] if values["prob"].ndim == 2 else -1
    if n_out < 1 or values["prob"].shape[1] < 1:
        raise ValueError(f"layer {index}'s weights are not a matrix")
    for name in _FIELDS[1:]:
        if values[name].shape != (n_out,):
            raise ValueError(f"layer {index}'s {name} has {values[name].shape}, not ({n_out},)")
    if not all(np.all(np.isfinite(v)) for v in values.values()):
        raise ValueError(f"layer {index} holds a value that is not finite")
    if np.any((values["prob"] < 0) | (values["prob"] > 1)):
        raise ValueError(f"layer {index}'s probabilities leave [0, 1]")
    if spiking and np.any(values["threshold"] <= 0):
        raise ValueError(f"layer {index} has a threshold <= 0")
    return ConvertedLayer(**values, spiking=spiking, strict=strict)


def load_imported(directory: str | Path, settings: dict[str, Any]) -> ImportedModel:
    """The imported model in `directory`, whose settings.json holds `settings`; a damaged one
    is one ModelInputError line."""
    path = Path(directory)
    snn_path = path / SNN_FILE
    fix = "re-import it with `dse import`"
    if not snn_path.is_file():
        raise ModelInputError(f"model directory: {path} has no {SNN_FILE}; {fix}")
    if settings.get("snn_sha256") != _sha256(snn_path):
        raise ModelInputError(
            f"model directory: {path} is corrupt ({SNN_FILE} does not match the SHA-256 "
            f"recorded in {SETTINGS_FILE}); {fix}"
        )
    try:
        with np.load(snn_path, allow_pickle=False) as arrays:
            spiking = [bool(v) for v in arrays["spiking"]]
            strict = [bool(v) for v in arrays["strict"]]
            layers = [_layer(arrays, i, spiking[i], strict[i]) for i in range(len(spiking))]
            scale = float(arrays["output_scale"])
        snn = ConvertedSNN(layers=layers, output_scale=scale)
        widths = tuple(int(w) for w in settings["widths"])
        if widths != tuple(snn.widths):
            raise ValueError(f"{SNN_FILE} has widths {list(snn.widths)}, not {list(widths)}")
        if any(
            a.prob.shape[0] != b.prob.shape[1] for a, b in zip(layers, layers[1:], strict=False)
        ):
            raise ValueError("consecutive layers do not chain")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"output_scale {scale} is not a finite positive number")
        model = ImportedModel(
            snn=snn,
            dataset=str(settings.get("dataset", "")),
            source=dict(settings.get("source", {})),
            notes=list(settings.get("notes", [])),
            layers=list(settings.get("layers", [])),
            metrics=dict(settings.get("metrics", {})),
            wall_time_s=float(settings.get("wall_time_s", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problem = f"model directory: {path} is corrupt ({reason[:120]}); {fix}"
        raise ModelInputError(problem) from None
    return model
