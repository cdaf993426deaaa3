"""Calibration profiles shipped with the package, by the name a study file or flag gives.

A profile is named when it was fitted to measurements of one backend and tool (`dse
calibrate` writes them; its command is recorded in the profile's `fit`).  Kept free of numpy
and pandas so that validating a study file stays light.
"""

from __future__ import annotations

from importlib import resources as _files
from pathlib import Path

__all__ = ["PROFILES", "profile_file"]

#: name -> packaged file: the RTL backend as Yosys synth_xilinx maps it for 7-series cells.
PROFILES = {"yosys-rtl": "data/yosys_rtl.json"}


def profile_file(name: str | Path) -> Path | None:
    """The packaged file of a profile name (None for anything that is not one)."""
    entry = PROFILES.get(str(name))
    return None if entry is None else Path(str(_files.files("hwmodel").joinpath(entry)))
