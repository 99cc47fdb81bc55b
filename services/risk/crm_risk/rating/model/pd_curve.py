"""The calibration curve of a scorecard version: the scorecard's log-odds → calibrated PD.

Calibration in the large (the intercept shift, ``scorecard_model``) makes the mean PD right
but leaves the shape alone. Measured on worlds the fit never saw, the shape of the
SC-2027.2 log-odds was off at both ends: the best scores defaulted at about 0.4 % whatever
their PD said (0.11-0.47 %), because every firm carries some risk its statements do not
show, while the BB and B grades were over-predicted. A straight line in the log-odds
(a + b · log-odds, the usual two-parameter recalibration) cannot bend at the bottom; on
those worlds it came out as the identity (b = 1.00). The curve adds a lower asymptote:

    PD = floor + (1 − floor) · σ(intercept + slope · log-odds)

``floor`` is the risk no score removes (fitted, not the regulatory PD floor of the master
scale, which still applies after the curve). With ``slope > 0`` the PD strictly rises with
the log-odds, so it strictly falls as the score rises and the ranking (AUC) is untouched.
The offline tool ``crm_sim.rating.recalibrate`` fits the three parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

# A lower asymptote this high would be a book-wide loss, not a calibration.
MAX_FLOOR: Final = 0.05


def sigmoid(z: float) -> float:
    """Return 1 / (1 + e^−z), 0 where e^−z would overflow.

    The formula is the one SC-2027.1 and SC-2027.2 used, so their PDs reproduce to the bit
    through the identity curve (0 + 1 · σ(0 + 1 · z) is σ(z) exactly).
    """
    if z < -700.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class CalibrationCurve:
    """PD = floor + (1 − floor) · σ(intercept + slope · log-odds); see the module doc."""

    floor: float = 0.0
    intercept: float = 0.0
    slope: float = 1.0

    def __post_init__(self) -> None:
        # A non-positive slope would reverse or flatten the ranking of the score.
        if not (self.slope > 0.0 and math.isfinite(self.slope)):
            msg = f"calibration slope must be positive and finite, got {self.slope}"
            raise ValueError(msg)
        if not 0.0 <= self.floor < MAX_FLOOR:
            msg = f"calibration floor must lie in [0, {MAX_FLOOR}), got {self.floor}"
            raise ValueError(msg)
        if not math.isfinite(self.intercept):
            msg = "calibration intercept must be finite"
            raise ValueError(msg)

    @property
    def is_identity(self) -> bool:
        """Return True when the curve leaves the scorecard's PD as it is."""
        return (self.floor, self.intercept, self.slope) == (0.0, 0.0, 1.0)

    def pd(self, log_odds: float) -> float:
        """Return the calibrated PD of the scorecard's log-odds."""
        return self.floor + (1.0 - self.floor) * sigmoid(self.intercept
                                                         + self.slope * log_odds)


IDENTITY: Final = CalibrationCurve()


def curve_from_json(raw: dict[str, Any] | None) -> CalibrationCurve:
    """Return the curve of a fitted document's ``calibration_curve`` (identity if absent)."""
    if raw is None:
        return IDENTITY
    if raw.get("form") != "floor_logistic":
        msg = f"unknown calibration curve form {raw.get('form')!r}"
        raise ValueError(msg)
    return CalibrationCurve(floor=float(raw["floor"]), intercept=float(raw["intercept"]),
                            slope=float(raw["slope"]))
