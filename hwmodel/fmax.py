"""The clock a design reaches, predicted from its plan's pipeline stages.

Every stage of every loop (`hwmodel.pipeline.Stage`) and the sequencer is a register-to-
register path; its delay is priced as

    base + lut x LUT levels + carry x CARRY4 cells + fanout x log2(widest broadcast)

and the design's critical path is the slowest stage.  The four coefficients are fitted by
`dse calibrate` (least squares on the relative error of the critical path) to the netlist
estimates `dse synth` makes of the calibration designs (`hls.tools.timing`: Yosys-mapped cells,
Project X-Ray delays, a fan-out dependent net delay, the clock uncertainty), with leave-one-out
errors reported beside LUT and FF.  `guard` lowers every prediction by the largest leave-one-
out over-prediction of the fit, so that a clock the model accepts is one the netlist estimate
reaches on every calibration design.

The defaults (no profile) are first-principles figures from the same delays: a flip-flop's
clock-to-out, a net and the setup and uncertainty per stage, a LUT and a net per level, a
CARRY4 hop per cell, a tenth of a nanosecond per doubling of fan-out.  Like the netlist
estimate they stand for, they are estimates, not routed timing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np

from hwmodel.pipeline import Logic, Stage
from hwmodel.plan import HardwarePlan

__all__ = ["FmaxModel", "fit_fmax", "stage_features"]


@dataclass(frozen=True)
class FmaxModel:
    """Delay coefficients (ns) and the guard band (a fraction of the predicted clock)."""

    base_ns: float = 1.2
    lut_ns: float = 0.66
    carry_ns: float = 0.12
    fanout_ns: float = 0.1
    guard: float = 0.0

    @classmethod
    def from_dict(cls, data: dict | None) -> FmaxModel:
        """The model a profile stores (unknown keys ignored; none: the defaults)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in (data or {}).items() if k in names})

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def coefficients(self) -> np.ndarray:
        return np.array([self.base_ns, self.lut_ns, self.carry_ns, self.fanout_ns])

    def critical(self, plan: HardwarePlan) -> tuple[float, str]:
        """The predicted critical path of a design (ns, before the guard) and the stage on it
        (`loop.stage`, or `sequencer`)."""
        stages = _stages(plan)
        delays = np.array([stage_features(stage) for _, stage in stages]) @ self.coefficients
        worst = int(np.argmax(delays))
        return float(delays[worst]), stages[worst][0]

    def path_ns(self, plan: HardwarePlan) -> float:
        """The predicted critical path of a design (ns), before the guard."""
        return self.critical(plan)[0]

    def clock_mhz(self, path_ns: float) -> float:
        """The highest clock the model vouches for on a path: lowered by the guard."""
        return 1000.0 / path_ns / (1.0 + self.guard)

    def fmax_mhz(self, plan: HardwarePlan) -> float:
        """The highest clock the model vouches for on a design."""
        return self.clock_mhz(self.path_ns(plan))


def stage_features(stage: Stage) -> tuple[float, float, float, float]:
    """(1, LUT levels, CARRY4 cells, log2 fan-out) of one stage's path (`Stage.lut_levels`
    and `Stage.carry4`, each piece's figures worked out once per distinct piece)."""
    levels = carry = 0
    for piece in stage.logic:
        lut, chain = _piece(piece)
        levels += lut
        carry += chain
    return (1.0, float(levels), float(carry), math.log2(max(stage.fanout, 1)))


@lru_cache(maxsize=4096)
def _piece(logic: Logic) -> tuple[int, int]:
    """LUT levels and CARRY4 cells of one piece of logic (pieces repeat across plans)."""
    return logic.lut_levels, logic.carry4


def _stages(plan: HardwarePlan) -> list[tuple[str, Stage]]:
    named = [(f"{loop.name}.{stage.name}", stage) for loop in plan.loops for stage in loop.stages]
    return [*named, ("sequencer", plan.control)]


def _features(plan: HardwarePlan) -> np.ndarray:
    return np.array([stage_features(stage) for _, stage in _stages(plan)])


def _fit(features: list[np.ndarray], measured_ns: np.ndarray, start: np.ndarray) -> np.ndarray:
    from scipy.optimize import least_squares

    def residuals(c: np.ndarray) -> np.ndarray:
        predicted = np.array([np.max(f @ c) for f in features])
        return predicted / measured_ns - 1.0

    return least_squares(residuals, start, bounds=(0.0, np.inf)).x


def fit_fmax(plans: list[HardwarePlan], measured_ns: np.ndarray) -> tuple[FmaxModel, np.ndarray]:
    """The model fitted to measured critical paths (ns), and each design's leave-one-out
    predicted clock (MHz, unguarded); the guard is the worst leave-one-out over-prediction."""
    features = [_features(plan) for plan in plans]
    measured_ns = np.asarray(measured_ns, dtype=float)
    start = FmaxModel().coefficients
    coefficients = _fit(features, measured_ns, start)
    loo = np.empty(len(plans))
    for i in range(len(plans)):
        keep = [j for j in range(len(plans)) if j != i]
        c = _fit([features[j] for j in keep], measured_ns[keep], coefficients)
        loo[i] = 1000.0 / float(np.max(features[i] @ c))
    over = loo / (1000.0 / measured_ns) - 1.0
    guard = max(float(np.max(over)), 0.0) if len(plans) > 2 else 0.0
    base, lut, carry, fanout = (float(x) for x in coefficients)
    return FmaxModel(base, lut, carry, fanout, guard), loo
