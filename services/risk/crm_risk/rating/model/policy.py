"""Rating governance rules: when a rating must be reviewed and whether an override is sound.

Who may approve and the four-eyes workflow itself live in the service; these pure checks
are what the workflow applies.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Final

from crm_risk.rating.model.scale import DEFAULT_MASTER_SCALE, grade_rank, is_grade

# Review cycles in months by the worst grade rank they cover (DESIGN §3 flow 4).
ANNUAL_UP_TO_RANK: Final = grade_rank("A-")
SEMI_ANNUAL_UP_TO_RANK: Final = grade_rank("BBB-")
LARGE_OVERRIDE_NOTCHES: Final = 3
LARGE_OVERRIDE_REASON_CHARS: Final = 20


def add_months(day: date, months: int) -> date:
    """Return ``day`` moved by whole months, clamping to the target month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def review_due(
    *, last_rated: date, grade: str, on_watch_list: bool,
    scale_version: str = DEFAULT_MASTER_SCALE,
) -> date:
    """Return the next review date: 12 months for A- and better, 6 for BBB+ to BBB-, else 3.

    Watch-list clients are reviewed quarterly whatever their grade.
    """
    rank = grade_rank(grade, version=scale_version)
    if on_watch_list or rank > SEMI_ANNUAL_UP_TO_RANK:
        months = 3
    elif rank > ANNUAL_UP_TO_RANK:
        months = 6
    else:
        months = 12
    return add_months(last_rated, months)


def validate_override(
    *, from_grade: str, to_grade: str, proposer: str, approver: str, reason: str,
    scale_version: str = DEFAULT_MASTER_SCALE,
) -> list[str]:
    """Return the problems with a proposed grade override; an empty list means acceptable."""
    problems: list[str] = []
    known = True
    for label, grade in (("from_grade", from_grade), ("to_grade", to_grade)):
        if not is_grade(grade, version=scale_version):
            problems.append(f"{label}: unknown grade {grade!r}")
            known = False
    who = proposer.strip().casefold()
    if not who:
        problems.append("proposer is required")
    if not approver.strip():
        problems.append("approver is required")
    elif approver.strip().casefold() == who:
        problems.append("approver must be a different person from the proposer")
    text = reason.strip()
    if not text:
        problems.append("reason is required")
    if known:
        notches = abs(grade_rank(to_grade, version=scale_version)
                      - grade_rank(from_grade, version=scale_version))
        if notches == 0:
            problems.append("override must change the grade")
        elif notches > LARGE_OVERRIDE_NOTCHES and len(text) < LARGE_OVERRIDE_REASON_CHARS:
            problems.append(
                f"an override of {notches} notches needs a reason of at least "
                f"{LARGE_OVERRIDE_REASON_CHARS} characters"
            )
    return problems
