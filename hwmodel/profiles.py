"""Calibration profiles shipped with the package, by the name a study file or flag gives.

A profile is named when it was fitted to measurements of one backend and tool (`dse
calibrate` writes them; its command is recorded in the profile's `fit`).  Studies, `dse
estimate` and RTL exports price with `DEFAULT_PROFILE` unless they name another profile, or
`FIRST_PRINCIPLES` for the uncalibrated coefficients; the library's `calibration=None` is
first principles too.  Kept free of numpy and pandas so that validating a study file stays
light.
"""

from __future__ import annotations

from importlib import resources as _files
from pathlib import Path

__all__ = ["DEFAULT_PROFILE", "FIRST_PRINCIPLES", "NAMES", "PROFILES", "profile_file"]

#: name -> packaged file: the RTL backend as Yosys synth_xilinx maps it for 7-series cells.
PROFILES = {"yosys-rtl": "data/yosys_rtl.json"}
#: What a study, `dse estimate` and an RTL export price with: the design as it is built.
DEFAULT_PROFILE = "yosys-rtl"
#: The name of no profile: the first-principles coefficients, every multiplier 1.
FIRST_PRINCIPLES = "first-principles"
#: Every name a study file or flag may give instead of a profile file.
NAMES = (*PROFILES, FIRST_PRINCIPLES)


def profile_file(name: str | Path) -> Path | None:
    """The packaged file of a profile name (None for anything that is not one)."""
    entry = PROFILES.get(str(name))
    return None if entry is None else Path(str(_files.files("hwmodel").joinpath(entry)))
