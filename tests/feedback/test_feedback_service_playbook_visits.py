"""The ORANGE playbook's visit in feedback: risk's PlaybookActionChanged (visit_required)
becomes a planned site visit due by the SLA; the visit the RM records answers it and goes to
risk as VisitRecorded (with its progress, the verified progress of a project)."""

from __future__ import annotations

from feedback_harness import RM_A, TEAM_1, feedback_service, new_request_id, stamp, utc
from google.type import date_pb2

from crm.events.v1 import client_events_pb2, feedback_events_pb2, risk_events_pb2
from crm.feedback.v1 import feedback_service_pb2, followup_pb2

FACILITY = "clients/c1/facilities/f1"
PLAN = f"{FACILITY}/followupPlan"
TODAY = utc(2026, 6, 1, 9)


def day(year: int, month: int, day_: int) -> date_pb2.Date:
    return date_pb2.Date(year=year, month=month, day=day_)


async def setup(h) -> None:
    """A client of RM A with a project loan disbursed on 20 May: its first routine visit is
    due in July, so the first visit recorded answers the warning's visit (feedback matches a
    visit to the earliest open plan)."""
    await h.deliver(client_events_pb2.ClientCreated(
        client="clients/c1", relationship_manager=RM_A, team=TEAM_1), source="client")
    await h.stub.CreateFollowupPlan(
        feedback_service_pb2.CreateFollowupPlanRequest(
            parent=FACILITY, request_id=new_request_id(),
            followup_plan=followup_pb2.FollowupPlan(
                facility_type=followup_pb2.FACILITY_TYPE_PROJECT_FINANCE,
                risk_tier=followup_pb2.RISK_TIER_HIGH,
                disbursement_date=day(2026, 5, 20), maturity_date=day(2027, 5, 20),
                product="project_finance",
                amount={"currency_code": "CNY", "units": 80_000_000})),
        metadata=h.system())


def required(step: str = "visit_required") -> risk_events_pb2.PlaybookActionChanged:
    return risk_events_pb2.PlaybookActionChanged(
        action="clients/c1/playbookActions/a1", client="clients/c1", warning="warnings/w1",
        kind="visit_required", step=step, state="open", actor="staff/risk-1",
        due_time=stamp(utc(2026, 6, 8, 9)), change_time=stamp(TODAY), facility=FACILITY)


async def planned(h) -> list[followup_pb2.PlannedVisit]:
    plan = await h.stub.GetFollowupPlan(
        feedback_service_pb2.GetFollowupPlanRequest(name=PLAN), metadata=h.rm())
    return [v for v in plan.planned_visits if "warnings/w1" in v.reason]


async def test_a_required_visit_is_planned_by_the_sla_and_answered_by_the_visit(
    store_url, identity
):
    """The required visit is planned once, due by the SLA; a visit on time answers it, and
    risk hears of the visit with its progress."""
    async with feedback_service(store_url, identity, now=TODAY) as h:
        await setup(h)
        await h.deliver(required())
        await h.deliver(required(step="visit_recorded"))  # later steps plan nothing more
        (visit,) = await planned(h)
        assert visit.due_date == day(2026, 6, 8)
        assert visit.kind == followup_pb2.VISIT_KIND_SITE_VISIT
        assert visit.state == followup_pb2.PLANNED_VISIT_STATE_OPEN

        made = await h.stub.RecordVisit(
            feedback_service_pb2.RecordVisitRequest(
                parent=FACILITY, request_id=new_request_id(),
                visit=followup_pb2.Visit(
                    visit_date=day(2026, 6, 1), kind=followup_pb2.VISIT_KIND_SITE_VISIT,
                    progress_percent=35, notes="Main structure at level 6 of 12.")),
            metadata=h.rm())
        (visit,) = await planned(h)
        assert visit.state == followup_pb2.PLANNED_VISIT_STATE_ON_TIME
        (sent,) = await h.events(feedback_events_pb2.VisitRecorded, subscriber="risk")
        assert (sent.visit, sent.client, sent.facility) == (made.name, "clients/c1", FACILITY)
        assert (sent.visit_date, sent.kind, sent.recorded_by) == ("2026-06-01", "site_visit",
                                                                   RM_A)
        assert sent.has_progress and sent.progress_percent == 35
