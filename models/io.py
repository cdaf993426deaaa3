"""Save and load a TrainedModel: ``weights.pt`` (state dict) + ``settings.json``.

The weights are a plain state dict loaded with ``torch.load(weights_only=True)``, so a model
directory from elsewhere cannot execute code; everything needed to rebuild the network
(widths, levels, clip, tau; for a convolutional network its blocks ``conv``, e.g. "8p,16p",
and the image's ``input_shape`` [C, H, W]) is in ``settings.json``, with the SHA-256 of
``weights.pt``
(format 2): flipped bytes in a tensor still load as a state dict, so only the digest tells a
damaged model from a trained one.  Format-1 directories (no digest) still load.  A directory
written by `dse import` (``"kind": "imported"`` in settings.json) loads as the
`models.imported.ImportedModel` it holds.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from pathlib import Path
from typing import Any

import torch

from models.errors import ModelInputError
from models.imported import IMPORTED_KIND, ImportedModel, load_imported
from models.network import BayesBinaryNet
from models.training import TrainConfig, TrainedModel

__all__ = ["SETTINGS_FILE", "WEIGHTS_FILE", "load_model", "save_model"]

WEIGHTS_FILE = "weights.pt"
SETTINGS_FILE = "settings.json"
FORMAT_VERSION = 2


def save_model(model: TrainedModel, directory: str | Path) -> Path:
    """Write the model into `directory` (created if needed); returns the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    net = model.network
    settings: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "dataset": model.dataset,
        "widths": list(net.widths),
        "levels": net.levels,
        "clip": net.clip,
        "tau": net.layers[0].tau,
        "output_scale": model.output_scale,
        "output_scale_mode": model.output_scale_mode,
        "gain": net.gain,
        "wall_time_s": model.wall_time_s,
        "metrics": model.metrics,
        "config": model.config.to_dict(),
    }
    if net.conv_shapes:
        settings["conv"] = ",".join(str(block) for block in net.blocks)
        settings["input_shape"] = list(net.input_shape)
    torch.save(net.state_dict(), out / WEIGHTS_FILE)
    settings["weights_sha256"] = _sha256(out / WEIGHTS_FILE)
    (out / SETTINGS_FILE).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    return out


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class _WeightsChanged(ModelInputError):
    """weights.pt differs from the file save_model wrote; the message is the whole line."""


def _check_weights_digest(path: Path, settings: dict) -> None:
    """weights.pt is the file save_model wrote (format 2 records its SHA-256)."""
    recorded = settings.get("weights_sha256")
    if recorded is None and settings.get("format_version", 1) < 2:
        return  # written before the digest existed
    if recorded != _sha256(path / WEIGHTS_FILE):
        raise _WeightsChanged(
            f"model directory: {path} is corrupt ({WEIGHTS_FILE} does not match the SHA-256 "
            f"recorded in {SETTINGS_FILE}); delete the directory (a study's cached model is "
            "then trained again) or retrain it with `dse train`"
        )


def load_model(directory: str | Path) -> TrainedModel | ImportedModel:
    """Rebuild a TrainedModel saved by `save_model` (or the ImportedModel `dse import` wrote);
    bad or missing files are ModelInputError."""
    path = Path(directory)
    settings_path, weights_path = path / SETTINGS_FILE, path / WEIGHTS_FILE
    imported = _imported_settings(settings_path)
    if imported is not None:
        return load_imported(path, imported)
    if not settings_path.is_file() or not weights_path.is_file():
        raise ModelInputError(
            f"model directory: {path} has no {SETTINGS_FILE} and {WEIGHTS_FILE}; "
            "point to a directory written by `dse train`"
        )
    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
        _check_settings(settings)
        _check_weights_digest(path, settings)
        config = TrainConfig.from_dict(settings["config"])
        net = BayesBinaryNet(
            settings["widths"],
            levels=settings["levels"],
            clip=settings["clip"],
            tau=settings["tau"],
            lam_init=0.0,
            input_shape=settings.get("input_shape"),
            blocks=settings.get("conv", ""),
        )
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        model = TrainedModel(
            network=net,
            config=config,
            output_scale=float(settings["output_scale"]),
            output_scale_mode=float(settings.get("output_scale_mode", settings["output_scale"])),
            metrics=settings.get("metrics", {}),
            wall_time_s=float(settings.get("wall_time_s", 0.0)),
            dataset=settings.get("dataset", ""),
        )
    except _WeightsChanged:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RuntimeError,
        EOFError,
        pickle.PickleError,
        ModelInputError,
    ) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        reason = reason if len(reason) <= 120 else reason[:117] + "..."
        raise ModelInputError(
            f"model directory: {path} is corrupt ({reason}); retrain it with `dse train`"
        ) from None
    net.eval()
    return model


def _imported_settings(settings_path: Path) -> dict | None:
    """The settings of an imported model's directory, or None for anything else (a trained
    model's, or one unreadable: `load_model` then reports it as it always has)."""
    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(settings, dict) and settings.get("kind") == IMPORTED_KIND:
        return settings
    return None


def _check_settings(settings: Any) -> None:
    """settings.json holds the numbers the network is rebuilt from, each finite and in range
    (a NaN clip or a string level would otherwise build a network that silently misbehaves)."""
    if not isinstance(settings, dict):
        raise ValueError("settings.json is not a JSON object")
    widths = settings["widths"]
    if not (isinstance(widths, list) and len(widths) >= 2 and all(_count(w) for w in widths)):
        raise ValueError(f"widths {str(widths)[:40]} are not positive integers")
    conv, shape = settings.get("conv", ""), settings.get("input_shape")
    if not isinstance(conv, str):
        raise ValueError(f"conv {str(conv)[:40]} is not a string of blocks")
    if conv and not (isinstance(shape, list) and len(shape) == 3 and all(map(_count, shape))):
        raise ValueError(f"input_shape {str(shape)[:40]} is not [channels, height, width]")
    if not (_count(settings["levels"]) and settings["levels"] >= 2):
        raise ValueError(f"levels {str(settings['levels'])[:40]} is not an integer >= 2")
    for key in ("clip", "tau", "output_scale", "output_scale_mode"):
        value = settings.get(key, 1.0)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and value > 0):
            raise ValueError(f"{key} {str(value)[:40]} is not a finite positive number")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
