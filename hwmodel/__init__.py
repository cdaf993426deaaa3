"""Zynq-7000 cost model of the Bayesian binary SNN accelerator (numpy, no torch).

`hwmodel.template` defines the datapath; the rest prices it: `devices` (catalog),
`resources`, `cycles`, `power`, `estimate` (the entry points) and `calibration`.
Names load lazily (PEP 562): `import hwmodel.template` must not pay for pandas and scipy,
which only the calibration fit needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Calibration": "hwmodel.calibration",
    "fit_calibration": "hwmodel.calibration",
    "load_calibration": "hwmodel.calibration",
    "save_calibration": "hwmodel.calibration",
    "PARTS": "hwmodel.devices",
    "Part": "hwmodel.devices",
    "get_part": "hwmodel.devices",
    "HardwareInputError": "hwmodel.errors",
    "estimate": "hwmodel.estimate",
    "estimate_columns": "hwmodel.estimate",
    "estimate_table": "hwmodel.estimate",
    "parse_widths": "hwmodel.estimate",
    "AcceleratorConfig": "hwmodel.template",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hwmodel' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
