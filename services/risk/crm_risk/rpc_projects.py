"""Project finance against progress: a facility's plan, verified progress and the gap."""

from __future__ import annotations

import math

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import playbook_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.projects.compare import CurvePoint, curve_problems
from crm_risk.projects.monitor import check_project, project_status, status_message
from crm_risk.projects.store import add_progress, set_plan
from crm_risk.store.facilities import load_facility
from crm_risk.validation import Violations, check_date, check_money
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import FailedPrecondition
from crm_runtime.wire import date_message, money_message, timestamp

MAX_POINTS = 120


def _check_curve(plan: playbook_pb2.ProjectPlan, v: Violations) -> list[CurvePoint]:
    """Return the plan's curve, recording every bad point and what is wrong with the whole."""
    if len(plan.curve) > MAX_POINTS:
        v.add("plan.curve", f"at most {MAX_POINTS} points")
    curve = []
    for index, point in enumerate(plan.curve):
        day = check_date(v, f"plan.curve[{index}].date", point.date, required=True)
        if day is not None:
            curve.append((day, point.cumulative_percent))
    if len(curve) == len(plan.curve):
        for problem in curve_problems(curve):
            v.add("plan.curve", problem)
    return curve


class ProjectsRpc:
    """Project plans, verified progress and money against works."""

    ctx: RiskContext

    async def SetProjectPlan(  # noqa: N802
        self, request: risk_service_pb2.SetProjectPlanRequest, context: grpc.aio.ServicerContext
    ) -> playbook_pb2.ProjectPlan:
        """Set (replace) a facility's budget and planned drawdown curve."""
        principal = require_roles(*access.FACILITY_ROLES)
        plan = request.plan
        ids = names.pattern_of(playbook_pb2.ProjectPlan).parse(plan.name, "plan.name")
        v = Violations()
        margin = plan.margin_percentage_points
        if not (math.isfinite(margin) and 0 <= margin <= 100):
            v.add("plan.margin_percentage_points", "must be between 0 and 100")
        curve = _check_curve(plan, v)
        now = self.ctx.clock()

        async def work(session: AsyncSession) -> playbook_pb2.ProjectPlan:
            facility = await load_facility(session, ids, principal, for_update=True)
            budget = check_money(v, "plan.budget", plan.budget, required=True,
                                 currencies=frozenset({facility.currency}), positive=True)
            v.raise_if_any()
            assert budget is not None
            await set_plan(session, facility, budget=budget, curve=curve, margin=margin,
                           actor=principal.subject, now=now)
            await check_project(session, self.ctx, facility, now=now, actor=principal.subject)
            return playbook_pb2.ProjectPlan(
                name=plan.name, budget=money_message(budget, facility.currency),
                curve=[playbook_pb2.CurvePoint(date=date_message(d), cumulative_percent=p)
                       for d, p in curve],
                margin_percentage_points=margin, updated_by=principal.subject,
                update_time=timestamp(now),
            )

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/SetProjectPlan",
            subject=principal.subject, response_type=playbook_pb2.ProjectPlan, work=work,
        )

    async def RecordProjectProgress(  # noqa: N802
        self,
        request: risk_service_pb2.RecordProjectProgressRequest,
        context: grpc.aio.ServicerContext,
    ) -> playbook_pb2.ProjectStatus:
        """Record verified progress (a checked milestone) and compare the money drawn."""
        principal = require_roles(*access.FACILITY_ROLES)
        ids = names.parse(request, "name")
        progress = request.progress
        v = Violations()
        if not (math.isfinite(progress.percent) and 0 <= progress.percent <= 100):
            v.add("progress.percent", "must be between 0 and 100")
        as_of = check_date(v, "progress.as_of", progress.as_of, required=True)
        v.text("progress.milestone", progress.milestone, required=False, limit=120)
        v.raise_if_any()
        assert as_of is not None
        now = self.ctx.clock()
        if as_of > now.date():
            Violations.single("progress.as_of", "must not be in the future")

        async def work(session: AsyncSession) -> playbook_pb2.ProjectStatus:
            facility = await load_facility(session, ids, principal, for_update=True)
            add_progress(session, facility, percent=progress.percent, as_of=as_of,
                         milestone=progress.milestone, source="", actor=principal.subject,
                         now=now)
            status = await check_project(session, self.ctx, facility, now=now,
                                         actor=principal.subject)
            if status.gap is None:
                raise FailedPrecondition("the facility has no project plan",
                                         reason="NO_PROJECT_PLAN")
            return status_message(facility, status)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/RecordProjectProgress",
            subject=principal.subject, response_type=playbook_pb2.ProjectStatus, work=work,
        )

    async def GetProjectStatus(  # noqa: N802
        self, request: risk_service_pb2.GetProjectStatusRequest, context: grpc.aio.ServicerContext
    ) -> playbook_pb2.ProjectStatus:
        """Return money drawn against works done (has_plan false without a plan)."""
        ids = names.parse(request, "name")
        async with self.ctx.db.read() as session:
            facility = await load_facility(session, ids, current_principal())
            status = await project_status(session, self.ctx, facility, now=self.ctx.clock())
        return status_message(facility, status)
