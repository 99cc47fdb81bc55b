"""Project monitoring: compare a project facility's drawdowns with its verified progress
after every drawdown and every verified progress, and warn when money runs ahead.

The warning (rule project_drawdown_ahead, one per facility) is yellow beyond the margin and
orange beyond twice the margin, which in turn sets the ORANGE playbook (a visit) going.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import playbook_pb2
from crm_risk.context import RiskContext
from crm_risk.early_warnings import Signal, raise_signal
from crm_risk.models import FacilityRow
from crm_risk.projects.compare import Gap, compare
from crm_risk.projects.store import curve_of, latest_progress, load_plan, open_gap_warning
from crm_runtime.wire import date_message

RULE = "project_drawdown_ahead"
RULE_VERSION = "PRJ-2026.1"


@dataclass(frozen=True)
class Status:
    """A project facility's gap (None without a plan) and its open warning id ("" if none)."""

    gap: Gap | None
    warning_id: str


async def project_status(session: AsyncSession, ctx: RiskContext, facility: FacilityRow,
                         *, now: datetime) -> Status:
    """Return the facility's gap today and its open gap warning."""
    plan = await load_plan(session, facility)
    if plan is None:
        return Status(None, "")
    gap = compare(
        drawn=facility.drawn, budget=plan.budget, progress=await latest_progress(session, facility),
        margin=plan.margin_points or ctx.settings.project_margin_points,
        curve=curve_of(plan), today=now.date(),
    )
    return Status(gap, await open_gap_warning(session, facility, RULE))


async def check_project(session: AsyncSession, ctx: RiskContext, facility: FacilityRow, *,
                        now: datetime, actor: str) -> Status:
    """Compare the facility's money with its works; raise (or fold into) the gap warning."""
    status = await project_status(session, ctx, facility, now=now)
    gap = status.gap
    if gap is None or not gap.ahead:
        return status
    outcome = await raise_signal(
        session, ctx.outbox,
        Signal(
            client_id=facility.client_id, rule=RULE, source="transactions",
            level="orange" if gap.points > 2 * gap.margin else "yellow",
            scope=facility.id, message=f"project facility {facility.id}: {gap.describe()}",
            rule_version=RULE_VERSION, detect_time=now, facility_id=facility.id,
            facts={"drawn_percent": gap.drawn_percent, "verified_percent": gap.verified_percent,
                   "progress_as_of": gap.as_of.isoformat() if gap.as_of else "",
                   "gap_points": gap.points, "margin_points": gap.margin},
        ),
        now=now, actor=actor,
    )
    return Status(gap, outcome.warning.id)


def status_message(facility: FacilityRow, status: Status) -> playbook_pb2.ProjectStatus:
    """Return the ProjectStatus message of a facility."""
    message = playbook_pb2.ProjectStatus(
        name=f"clients/{facility.client_id}/facilities/{facility.id}/projectStatus",
        has_plan=status.gap is not None,
        warning=f"warnings/{status.warning_id}" if status.warning_id else "",
    )
    gap = status.gap
    if gap is not None:
        message.drawn_percent, message.verified_percent = gap.drawn_percent, gap.verified_percent
        message.planned_percent, message.gap_percentage_points = gap.planned_percent, gap.points
        message.margin_percentage_points, message.ahead_of_works = gap.margin, gap.ahead
        message.has_progress = gap.as_of is not None
        if gap.as_of is not None:
            message.progress_as_of.CopyFrom(date_message(gap.as_of))
    return message
