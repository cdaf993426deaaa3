"""Zynq-7000 cost model of the Bayesian binary SNN accelerator (pure numpy, no torch).

`hwmodel.template` defines the datapath; the rest prices it: `devices` (catalog),
`resources`, `cycles`, `power`, `estimate` (the entry points) and `calibration`.
"""

from hwmodel.calibration import (
    Calibration,
    fit_calibration,
    load_calibration,
    save_calibration,
)
from hwmodel.devices import PARTS, Part, get_part
from hwmodel.errors import HardwareInputError
from hwmodel.estimate import estimate, estimate_table, parse_widths
from hwmodel.template import AcceleratorConfig

__all__ = [
    "PARTS",
    "AcceleratorConfig",
    "Calibration",
    "HardwareInputError",
    "Part",
    "estimate",
    "estimate_table",
    "fit_calibration",
    "get_part",
    "load_calibration",
    "parse_widths",
    "save_calibration",
]
