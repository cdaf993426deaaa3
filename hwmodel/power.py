"""Power: device static + dynamic per resource kind x clock x toggle activity.

`power_w` is the programmable logic only (device static + the kernel's dynamic power); the
processing system (PS7, ~1.5 W on every Zynq-7000 whether or not the accelerator runs) is
reported beside it and added in `power_total_w`, the figure Vivado's report_power calls
"Total On-Chip Power" and the one board-level publications usually quote.
"""

from __future__ import annotations

import numpy as np

__all__ = ["POWER_KINDS", "dynamic_power_by_kind"]

POWER_KINDS = ("lut", "ff", "bram36", "dsp")


def dynamic_power_by_kind(
    counts: dict[str, np.ndarray],
    clock_mhz: np.ndarray,
    coeffs: dict,
    multipliers: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Dynamic watts per resource kind: count x W/unit x f/f_ref x toggle/toggle_ref x m."""
    pw = coeffs["power"]
    scale = (np.asarray(clock_mhz) / pw["reference_clock_mhz"]) * (
        pw["toggle"] / pw["reference_toggle"]
    )
    mult = multipliers or {}
    return {
        kind: np.asarray(counts[kind], dtype=np.float64)
        * pw[f"w_per_{kind}"]
        * scale
        * mult.get(kind, 1.0)
        for kind in POWER_KINDS
    }
