"""The model side of dse: data, Bayesian binary networks, conversion, SNN simulation, metrics.

Names are loaded lazily (PEP 562) so that `import models.errors` - which the CLI does for
every command - does not pull in torch.  `from models import train_model` works as usual.
"""

from __future__ import annotations

import importlib
from typing import Any

from models.errors import ModelInputError

_EXPORTS: dict[str, str] = {
    "DatasetSplits": "models.datasets",
    "load_dataset": "models.datasets",
    "load_ood": "models.datasets",
    "classification_metrics": "models.metrics",
    "ood_auroc": "models.metrics",
    "BayesBinaryLinear": "models.bayes_layers",
    "BayesBinaryConv2d": "models.bayes_layers",
    "BayesBiNN": "models.bayesbinn",
    "QuantReLU": "models.quant",
    "BayesBinaryMLP": "models.network",
    "BayesBinaryNet": "models.network",
    "TrainConfig": "models.train_config",
    "TrainedModel": "models.training",
    "TrainingDivergedError": "models.training",
    "train_model": "models.training",
    "fit_output_scale": "models.temperature",
    "save_model": "models.io",
    "load_model": "models.io",
    "convert": "models.conversion",
    "ConvertedLayer": "models.snn_spec",
    "ConvertedSNN": "models.snn_spec",
    "simulate": "models.snn_float",
    "quantize_network": "models.quantize",
    "quantize_input": "models.quantize",
    "numerics_reason": "models.quantize",
    "run_integer": "models.snn_integer",
    "EvalConfig": "models.evaluation",
    "evaluate": "models.evaluation",
}

__all__ = ["ModelInputError", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
