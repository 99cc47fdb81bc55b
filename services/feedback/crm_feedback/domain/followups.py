"""Post-loan follow-up plans, their fulfilment by visits, and visit record validation.

Routine visit cadence (months between visits, counted from disbursement, before maturity):

=================  =====  ======  ====  =====
facility           low    medium  high  watch
=================  =====  ======  ====  =====
project_finance    3      3       2     1
fixed_asset        3      3       2     1
working_capital    6      6       3     1
=================  =====  ======  ====  =====

Project-finance and fixed-asset loans (the 2024 fixed-asset rule absorbed project
finance) get site visits; working-capital loans get progress checks. Every milestone
gets a milestone check on its due date, whatever the facility type. Watch-list clients
are visited monthly, matching the "monthly checks" of orange warnings in DOMAIN §7.

Matching visits to plans (:func:`match_visits`): a visit may be done up to
``EARLY_WINDOW`` before a plan's due date. Visits are taken in date order and each one
fulfils the earliest-due open plan it is eligible for (earliest-deadline-first, which
maximises fulfilled plans). A site visit also fulfils a progress check. Milestone checks
are matched separately by milestone name, so one site visit that records a milestone
can fulfil both its routine plan and that milestone's check.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

from crm_feedback.domain.validation import FieldViolation

FacilityType = Literal["project_finance", "fixed_asset", "working_capital"]
RiskTier = Literal["low", "medium", "high", "watch"]
VisitKind = Literal["site_visit", "progress_check", "milestone_check"]
VISIT_KINDS: Final = ("site_visit", "progress_check", "milestone_check")

ROUTINE_INTERVAL_MONTHS: Final[Mapping[str, Mapping[str, int]]] = {
    "project_finance": {"low": 3, "medium": 3, "high": 2, "watch": 1},
    "fixed_asset": {"low": 3, "medium": 3, "high": 2, "watch": 1},
    "working_capital": {"low": 6, "medium": 6, "high": 3, "watch": 1},
}
ROUTINE_KIND: Final[Mapping[str, VisitKind]] = {
    "project_finance": "site_visit",
    "fixed_asset": "site_visit",
    "working_capital": "progress_check",
}
EARLY_WINDOW: Final = timedelta(days=30)
ON_TIME_GRACE: Final = timedelta(days=14)
MAX_NOTES_CHARS: Final = 4_000
MAX_REASON_CHARS: Final = 500
# A visit of the key kind fulfils plans of these kinds (milestones are matched by name).
_FULFILS: Final[Mapping[str, frozenset[str]]] = {
    "site_visit": frozenset({"site_visit", "progress_check"}),
    "progress_check": frozenset({"progress_check"}),
    "milestone_check": frozenset(),
}


@dataclass(frozen=True, slots=True)
class Milestone:
    """A project milestone and the date it is due."""

    name: str
    due: date


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    """A visit the RM must make; ``milestone`` names the milestone of a milestone check."""

    due: date
    kind: VisitKind
    reason: str
    milestone: str | None = None


@dataclass(frozen=True, slots=True)
class VisitRecord:
    """A visit the RM made; ``regression_reason`` explains progress going backwards."""

    visited_on: date
    kind: VisitKind
    progress_pct: float | None = None
    milestone: str | None = None
    regression_reason: str | None = None
    notes: str = ""


def add_months(day: date, months: int) -> date:
    """Return ``day`` moved by whole months, clamped to the month's end (1-31 → 2-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month_index = divmod(index, 12)
    last_day = calendar.monthrange(year, month_index + 1)[1]
    return date(year, month_index + 1, min(day.day, last_day))


def plan_followups(
    *,
    facility_type: str,
    disbursed_on: date,
    maturity: date,
    milestones: Sequence[Milestone],
    risk_tier: str,
) -> list[PlannedVisit]:
    """Return the follow-up visits of a facility, sorted by due date then kind."""
    if facility_type not in ROUTINE_INTERVAL_MONTHS:
        msg = f"facility_type must be one of {sorted(ROUTINE_INTERVAL_MONTHS)}"
        raise ValueError(msg)
    intervals = ROUTINE_INTERVAL_MONTHS[facility_type]
    if risk_tier not in intervals:
        msg = f"risk_tier must be one of {sorted(intervals)}"
        raise ValueError(msg)
    if maturity <= disbursed_on:
        msg = "maturity must be after disbursed_on"
        raise ValueError(msg)
    names = [milestone.name for milestone in milestones]
    if len(set(names)) != len(names) or any(not name.strip() for name in names):
        msg = "milestone names must be non-blank and unique"
        raise ValueError(msg)
    if any(milestone.due <= disbursed_on for milestone in milestones):
        msg = "milestones must be due after disbursement"
        raise ValueError(msg)

    months = intervals[risk_tier]
    kind = ROUTINE_KIND[facility_type]
    reason = f"routine {kind} every {months} months ({facility_type}, risk tier {risk_tier})"
    plans: list[PlannedVisit] = []
    step = 1
    # Always count from the disbursement date so month-end clamping never drifts.
    while (due := add_months(disbursed_on, step * months)) < maturity:
        plans.append(PlannedVisit(due, kind, reason))
        step += 1
    plans.extend(
        PlannedVisit(m.due, "milestone_check", f"milestone check: {m.name}", m.name)
        for m in milestones
    )
    plans.sort(key=lambda plan: (plan.due, VISIT_KINDS.index(plan.kind), plan.reason))
    return plans


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """A planned visit and the visit that fulfilled it (None if none did)."""

    plan: PlannedVisit
    visit: VisitRecord | None


def _eligible(plan: PlannedVisit, visit: VisitRecord) -> bool:
    """Tell whether a visit can fulfil a plan (kind or milestone fits, not too early)."""
    if visit.visited_on < plan.due - EARLY_WINDOW:
        return False
    if plan.kind == "milestone_check":
        return visit.milestone is not None and visit.milestone == plan.milestone
    return plan.kind in _FULFILS[visit.kind]


def match_visits(
    plans: Sequence[PlannedVisit], visits_done: Sequence[VisitRecord]
) -> list[PlanOutcome]:
    """Return each plan with the visit that fulfilled it, in the order of ``plans``."""
    ordered_visits = sorted(visits_done, key=lambda visit: (visit.visited_on, visit.kind))
    matched: dict[int, VisitRecord] = {}
    for milestone_pass in (False, True):
        # Each pass lets a visit fulfil at most one plan of that pass.
        in_pass = [
            i for i, plan in enumerate(plans) if (plan.kind == "milestone_check") == milestone_pass
        ]
        candidates = sorted(in_pass, key=lambda i: (plans[i].due, i))
        for visit in ordered_visits:
            for index in candidates:
                if index not in matched and _eligible(plans[index], visit):
                    matched[index] = visit
                    break
    return [PlanOutcome(plan, matched.get(index)) for index, plan in enumerate(plans)]


def overdue(
    plans: Sequence[PlannedVisit], visits_done: Sequence[VisitRecord], today: date
) -> list[PlannedVisit]:
    """Return the plans due before ``today`` that no visit has fulfilled, by due date."""
    late = [
        outcome.plan
        for outcome in match_visits(plans, visits_done)
        if outcome.visit is None and outcome.plan.due < today
    ]
    return sorted(late, key=lambda plan: (plan.due, VISIT_KINDS.index(plan.kind), plan.reason))


@dataclass(frozen=True, slots=True)
class FollowupTally:
    """Plans due by a date: fulfilled on time (within the grace), late, or still open."""

    due: int
    on_time: int
    late: int
    overdue: int


def tally(
    plans: Sequence[PlannedVisit],
    visits_done: Sequence[VisitRecord],
    today: date,
    *,
    grace: timedelta = ON_TIME_GRACE,
    since: date | None = None,
) -> FollowupTally:
    """Count plans due before ``today`` (and on or after ``since``) by outcome.

    This is the KPI's follow-up input; ``since`` limits it to one period's plans while
    visits are still matched against every plan of the facility.
    """
    on_time = late = missing = 0
    for outcome in match_visits(plans, visits_done):
        if outcome.plan.due >= today or (since is not None and outcome.plan.due < since):
            continue
        if outcome.visit is None:
            missing += 1
        elif outcome.visit.visited_on <= outcome.plan.due + grace:
            on_time += 1
        else:
            late += 1
    return FollowupTally(on_time + late + missing, on_time, late, missing)


def validate_visit(
    record: VisitRecord, previous: VisitRecord | None, *, today: date | None = None
) -> list[FieldViolation]:
    """Return every problem with a visit record given the facility's previous visit.

    Progress must be 0-100 and must not fall below the previous visit's progress unless
    ``regression_reason`` explains why (e.g. a re-survey corrected an over-report).
    """
    violations: list[FieldViolation] = []
    if record.kind not in VISIT_KINDS:
        violations.append(FieldViolation("kind", f"must be one of {list(VISIT_KINDS)}"))
    if today is not None and record.visited_on > today:
        violations.append(FieldViolation("visited_on", "must not be in the future"))
    progress = record.progress_pct
    if progress is not None and (not math.isfinite(progress) or not 0 <= progress <= 100):
        violations.append(FieldViolation("progress_pct", "must be between 0 and 100"))
    if record.kind == "milestone_check" and not (record.milestone or "").strip():
        violations.append(FieldViolation("milestone", "a milestone check must name its milestone"))
    reason = (record.regression_reason or "").strip()
    if len(reason) > MAX_REASON_CHARS:
        violations.append(
            FieldViolation("regression_reason", f"must be at most {MAX_REASON_CHARS} characters")
        )
    if len(record.notes) > MAX_NOTES_CHARS:
        violations.append(FieldViolation("notes", f"must be at most {MAX_NOTES_CHARS} characters"))
    if previous is None:
        return violations
    if record.visited_on < previous.visited_on:
        violations.append(FieldViolation("visited_on", "must not be before the previous visit"))
    if (
        progress is not None
        and previous.progress_pct is not None
        and progress < previous.progress_pct
        and not reason
    ):
        violations.append(
            FieldViolation(
                "progress_pct",
                f"is below the previous visit's {previous.progress_pct:g}; "
                "give a regression_reason",
            )
        )
    return violations
