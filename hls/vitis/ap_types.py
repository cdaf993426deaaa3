"""Where Xilinx's arbitrary-precision headers (ap_int.h) are: hls4ml's wheel ships the real ones.

Found at run time from the installed package (no import: hls4ml's own import is heavy), so a
C-simulation uses the very `ap_int`/`ap_uint` arithmetic that Vitis HLS synthesises.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hwmodel.errors import HardwareInputError

__all__ = ["ap_types_dir"]


def ap_types_dir() -> Path:
    """The folder holding ap_int.h, or a one-line error naming the fix."""
    spec = importlib.util.find_spec("hls4ml")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for root in locations:
        folder = Path(root) / "templates" / "vivado" / "ap_types"
        if (folder / "ap_int.h").is_file():
            return folder.resolve()
    raise HardwareInputError(
        "ap_int.h: Xilinx's ap_types headers were not found; install them with "
        "`pip install 'dse[hls]'` (hls4ml ships them)"
    )
