"""What a scorecard version adds to its fitted factors: expert overlays and warning caps.

The fitted part of a version (factors, bins, coefficients, calibration) is JSON in
``fitted/`` written by the offline fit. Repayment behaviour, external signals and market
sensitivity cannot be fitted on statement data, so they enter as expert overlays: log-odds
add-ons along piecewise-linear knots, zero for a client with a clean record. They are
judgement, documented here, and reviewed with the version; SC-2026.1 (retired) scored the
same facts as fixed point deductions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# (x, value) pairs with x strictly ascending.
Knots = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Overlay:
    """An expert log-odds add-on: its reason code, dimension, label and knots."""

    code: str
    dimension: str
    label: str
    knots: Knots


@dataclass(frozen=True)
class ScorecardConfig:
    """The non-fitted part of a scorecard version."""

    version: str
    overlays: tuple[Overlay, ...]
    # Added when the client has no statement on file: no statement is not good news.
    no_statement_log_odds: float
    # Adverse or disclaimed audit opinions: the statements cannot be relied on.
    unreliable_audit_log_odds: float
    # Corroborated warning level -> best grade allowed while it is open.
    warning_caps: dict[str, str]
    # Reason codes list factors that cost at least this many points.
    min_reason_points: float


DEFAULT_SCORECARD: Final = "SC-2027.3"

# Judgement shared by the SC-2027 versions: they differ only in their fitted factors.
_OVERLAYS: Final = (
    Overlay("BH_PAST_DUE", "behaviour", "maximum days past due in 12 months",
            ((0, 0.0), (1, 0.3), (30, 1.2), (60, 2.0), (89, 2.6))),
    Overlay("BH_LATE_PAYMENTS", "behaviour", "late payments in 12 months",
            ((0, 0.0), (1, 0.2), (3, 0.5), (6, 0.9))),
    Overlay("SG_CROSS_DEFAULT", "signals", "cross-default signals in 12 months",
            ((0, 0.0), (1, 2.0), (2, 2.5))),
    Overlay("SG_LITIGATION", "signals", "litigation signals in 12 months",
            ((0, 0.0), (1, 0.3), (3, 0.8), (6, 1.2))),
    Overlay("SG_TAX_ARREARS", "signals", "tax-arrears signals in 12 months",
            ((0, 0.0), (1, 0.6), (2, 1.0))),
    Overlay("SG_MANAGEMENT_CHANGE", "signals", "management changes in 12 months",
            ((0, 0.0), (1, 0.2), (3, 0.5))),
    Overlay("SG_NEGATIVE_NEWS", "signals", "negative news in 12 months",
            ((0, 0.0), (2, 0.15), (5, 0.4), (10, 0.6))),
    Overlay("MK_FLOATING_RATE", "market", "share of debt at floating rates",
            ((0.0, 0.0), (1.0, 0.2))),
    Overlay("MK_FX_REVENUE", "market", "share of revenue in foreign currency",
            ((0.0, 0.0), (1.0, 0.3))),
)


def _sc_2027(version: str) -> ScorecardConfig:
    return ScorecardConfig(
        version=version,
        overlays=_OVERLAYS,
        no_statement_log_odds=1.0,
        unreliable_audit_log_odds=1.5,
        # The same ceilings as SC-2026.1, now applied only to corroborated warnings.
        warning_caps={"red": "B", "orange": "BB", "yellow": "BBB-"},
        min_reason_points=2.0,
    )


# Every version stays rateable so that the ratings it made can be reproduced. SC-2027.2 is
# SC-2027.1 refitted on the corrected generator with the binning fix, size and trend
# factors; SC-2027.3 is SC-2027.2's factors with a calibration curve from score to PD
# (docs/RISK.md).
SCORECARDS: Final[dict[str, ScorecardConfig]] = {
    version: _sc_2027(version) for version in ("SC-2027.1", "SC-2027.2", "SC-2027.3")
}
