"""Project finance against progress, through the service: a project facility's budget and
S-curve, verified progress (a milestone check or a feedback visit), and a warning when the
money drawn runs ahead of the works by more than the margin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from contract_support import details
from risk_harness import RM_A, a_facility, cny, day, request_id, risk_service, test_settings

from crm.events.v1 import feedback_events_pb2
from crm.risk.v1 import facility_pb2, playbook_pb2, risk_service_pb2, warning_pb2
from crm_risk.config import RiskSettings

TODAY = datetime.now(UTC).date()


async def project(h, client_id: str) -> str:
    """Return a 10-million project facility with a 10-million budget and an S-curve."""
    client = await h.known_client(client_id, rm=RM_A)
    facility = (await h.stub.CreateFacility(
        risk_service_pb2.CreateFacilityRequest(
            parent=client, request_id=request_id(),
            facility=a_facility(
                facility_type=facility_pb2.FACILITY_TYPE_PROJECT_FINANCE,
                purpose_category=facility_pb2.PURPOSE_CATEGORY_CONSTRUCTION,
                total_project_investment=cny(20_000_000), term_months=36)),
        metadata=h.system(),
    )).name
    plan = await h.stub.SetProjectPlan(
        risk_service_pb2.SetProjectPlanRequest(plan=playbook_pb2.ProjectPlan(
            name=f"{facility}/projectPlan", budget=cny(10_000_000),
            curve=[playbook_pb2.CurvePoint(date=day(TODAY - timedelta(days=60)),
                                           cumulative_percent=0),
                   playbook_pb2.CurvePoint(date=day(TODAY + timedelta(days=300)),
                                           cumulative_percent=100)])),
        metadata=h.officer(),
    )
    assert plan.budget.units == 10_000_000 and len(plan.curve) == 2
    return facility


async def verify(h, facility: str, percent: float) -> playbook_pb2.ProjectStatus:
    return await h.stub.RecordProjectProgress(
        risk_service_pb2.RecordProjectProgressRequest(
            name=f"{facility}/projectStatus", request_id=request_id(),
            progress=playbook_pb2.ProjectProgress(
                percent=percent, as_of=day(TODAY - timedelta(days=2)),
                milestone="foundations complete")),
        metadata=h.officer(),
    )


async def draw(h, facility: str, yuan: int) -> None:
    await h.stub.RecordFacilityEvent(
        risk_service_pb2.RecordFacilityEventRequest(
            parent=facility, request_id=request_id(),
            event=facility_pb2.FacilityEvent(
                event_type=facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN, amount=cny(yuan),
                effective_date=day(TODAY))),
        metadata=h.system(),
    )


async def status(h, facility: str) -> playbook_pb2.ProjectStatus:
    return await h.stub.GetProjectStatus(
        risk_service_pb2.GetProjectStatusRequest(name=f"{facility}/projectStatus"),
        metadata=h.rm(RM_A))


async def gap_warnings(h, client: str) -> list[warning_pb2.Warning]:
    reply = await h.stub.ListWarnings(risk_service_pb2.ListWarningsRequest(client=client),
                                      metadata=h.officer())
    return [w for w in reply.warnings if w.rule == "project_drawdown_ahead"]


async def test_drawdowns_35_points_ahead_of_verified_progress_raise_a_warning(
    store_url, identity
):
    """Must show: 50% of the budget drawn against 15% verified progress (35 points, margin
    20) → a warning naming drawn %, verified % and the progress date; the status says so."""
    async with risk_service(store_url, identity) as h:
        facility = await project(h, "c-prj-ahead")
        await verify(h, facility, 15)
        await draw(h, facility, 5_000_000)
        (warning,) = await gap_warnings(h, "clients/c-prj-ahead")
        assert warning.facility == facility
        assert warning.level == warning_pb2.WARNING_LEVEL_YELLOW
        as_of = (TODAY - timedelta(days=2)).isoformat()
        for part in ("50.0%", "15.0%", "35.0 points", as_of):
            assert part in warning.summary
        facts = warning.signals[0].facts
        assert facts["gap_points"] == "35.0" and facts["progress_as_of"] == as_of
        seen = await status(h, facility)
        assert (seen.drawn_percent, seen.verified_percent, seen.gap_percentage_points) == (
            50.0, 15.0, 35.0)
        assert seen.ahead_of_works and seen.warning == warning.name
        assert seen.margin_percentage_points == 20.0
        assert seen.has_progress and seen.progress_as_of == day(TODAY - timedelta(days=2))
        assert 0 < seen.planned_percent < 100


async def test_drawdowns_within_the_margin_raise_no_warning(store_url, identity):
    """50% drawn against 40% verified (10 points) is within the 20-point margin."""
    async with risk_service(store_url, identity) as h:
        facility = await project(h, "c-prj-ok")
        await verify(h, facility, 40)
        await draw(h, facility, 5_000_000)
        assert await gap_warnings(h, "clients/c-prj-ok") == []
        seen = await status(h, facility)
        assert seen.gap_percentage_points == 10.0 and not seen.ahead_of_works
        assert seen.warning == ""


async def test_a_feedback_visit_is_verified_progress(store_url, identity):
    """A visit's progress (VisitRecorded from feedback) counts as verified progress: drawn
    money far ahead of what the visit saw raises the warning."""
    async with risk_service(store_url, identity) as h:
        facility = await project(h, "c-prj-visit")
        await verify(h, facility, 60)
        await draw(h, facility, 7_000_000)
        assert await gap_warnings(h, "clients/c-prj-visit") == []
        await h.deliver_events([feedback_events_pb2.VisitRecorded(
            visit=f"{facility}/visits/v-9", client="clients/c-prj-visit", facility=facility,
            visit_date=TODAY.isoformat(), kind="progress_check", has_progress=True,
            progress_percent=30, recorded_by=RM_A)], source="feedback")
        (warning,) = await gap_warnings(h, "clients/c-prj-visit")
        assert "40.0 points" in warning.summary and TODAY.isoformat() in warning.summary
        seen = await status(h, facility)
        assert seen.verified_percent == 30.0 and seen.ahead_of_works


async def test_a_facility_without_a_plan_has_no_status_and_bad_plans_are_refused(
    store_url, identity
):
    """Without a plan there is nothing to compare; a bad plan names every bad field; an RM
    may not set a plan."""
    async with risk_service(store_url, identity) as h:
        client = await h.known_client("c-prj-none", rm=RM_A)
        facility = (await h.stub.CreateFacility(
            risk_service_pb2.CreateFacilityRequest(parent=client, facility=a_facility()),
            metadata=h.system())).name
        assert not (await status(h, facility)).has_plan
        with pytest.raises(grpc.aio.AioRpcError) as none:
            await verify(h, facility, 10)
        assert details(none.value)[0] == "NO_PROJECT_PLAN"
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await h.stub.SetProjectPlan(
                risk_service_pb2.SetProjectPlanRequest(plan=playbook_pb2.ProjectPlan(
                    name=f"{facility}/projectPlan", budget=cny(-1),
                    curve=[playbook_pb2.CurvePoint(date=day(TODAY), cumulative_percent=50),
                           playbook_pb2.CurvePoint(date=day(TODAY), cumulative_percent=20)])),
                metadata=h.officer())
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(details(bad.value)[1]) == {"plan.budget", "plan.curve"}
        with pytest.raises(grpc.aio.AioRpcError) as rm:
            await h.stub.SetProjectPlan(
                risk_service_pb2.SetProjectPlanRequest(), metadata=h.rm(RM_A))
        assert rm.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("margin", [0.0, -5.0, 120.0])
def test_the_configured_margin_must_be_a_share_of_points(sqlite_url, identity, margin):
    """PROJECT_MARGIN_POINTS outside (0, 100] stops the service at start-up."""
    values = test_settings("risk", sqlite_url, identity, pii=True, project_margin_points=margin)
    with pytest.raises(ValueError, match="PROJECT_MARGIN_POINTS"):
        RiskSettings(**values)  # type: ignore[arg-type]


async def test_a_plan_may_widen_the_margin(store_url, identity):
    """A plan's own margin (40 points) replaces the configured 20: 35 points ahead is fine."""
    async with risk_service(store_url, identity) as h:
        facility = await project(h, "c-prj-wide")
        plan = playbook_pb2.ProjectPlan(
            name=f"{facility}/projectPlan", budget=cny(10_000_000),
            margin_percentage_points=40,
            curve=[playbook_pb2.CurvePoint(date=day(TODAY), cumulative_percent=100)])
        await h.stub.SetProjectPlan(risk_service_pb2.SetProjectPlanRequest(plan=plan),
                                    metadata=h.officer())
        await verify(h, facility, 15)
        await draw(h, facility, 5_000_000)
        assert await gap_warnings(h, "clients/c-prj-wide") == []
        seen = await status(h, facility)
        assert (seen.gap_percentage_points, seen.margin_percentage_points) == (35.0, 40.0)
        assert not seen.ahead_of_works
