"""Money against works on a project facility: pure functions, no I/O.

Cumulative drawdowns as a share of the project budget are compared with the latest verified
physical progress. Money running ahead of the works by more than a margin is a classic
diversion signal (挪用): the loan pays for something other than the project. The planned
S-curve is reported alongside, for the reader; the warning rests on verified progress only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

CurvePoint = tuple[date, float]


@dataclass(frozen=True)
class Progress:
    """Latest verified physical progress (percent) and the date it was observed."""

    percent: float
    as_of: date


@dataclass(frozen=True)
class Gap:
    """How far money runs ahead of the works, in percentage points."""

    drawn_percent: float
    verified_percent: float
    as_of: date | None
    planned_percent: float
    points: float
    margin: float

    @property
    def ahead(self) -> bool:
        """Whether drawdowns run ahead of verified progress by more than the margin."""
        return self.points > self.margin

    def describe(self) -> str:
        """Return the gap in words, naming drawn %, verified % and the progress date."""
        seen = f"as of {self.as_of.isoformat()}" if self.as_of else "none verified yet"
        return (
            f"drawdowns at {self.drawn_percent:.1f}% of the budget run {self.points:.1f} points "
            f"ahead of verified progress {self.verified_percent:.1f}% ({seen}); "
            f"margin {self.margin:.1f} points, planned {self.planned_percent:.1f}%"
        )


def planned_percent(curve: Sequence[CurvePoint], on: date) -> float:
    """Return the planned cumulative drawdown on `on`: linear between the curve's points,
    0 before the first, the last point's value after the last."""
    if not curve or on < curve[0][0]:
        return 0.0
    for (start, low), (end, high) in pairwise(curve):
        if start <= on <= end:
            span = (end - start).days
            return low + (high - low) * ((on - start).days / span) if span else high
    return curve[-1][1]


def curve_problems(curve: Sequence[CurvePoint]) -> list[str]:
    """Return what is wrong with a planned curve (empty when it is a valid S-curve)."""
    if not curve:
        return ["needs at least one point"]
    problems = []
    if any(not 0.0 <= pct <= 100.0 for _, pct in curve):
        problems.append("percents must be between 0 and 100")
    pairs = list(pairwise(curve))
    if any(b[0] <= a[0] for a, b in pairs):
        problems.append("dates must be strictly ascending")
    if any(b[1] < a[1] for a, b in pairs):
        problems.append("cumulative percents must not fall")
    return problems


def compare(
    *, drawn: Decimal, budget: Decimal, progress: Progress | None, margin: float,
    curve: Sequence[CurvePoint], today: date,
) -> Gap:
    """Compare cumulative drawdowns with verified progress (none verified counts as 0%)."""
    drawn_percent = float(drawn / budget * 100) if budget > 0 else 0.0
    verified = progress.percent if progress is not None else 0.0
    return Gap(
        drawn_percent=round(drawn_percent, 2),
        verified_percent=verified,
        as_of=progress.as_of if progress is not None else None,
        planned_percent=round(planned_percent(curve, today), 2),
        points=round(drawn_percent - verified, 2),
        margin=margin,
    )
