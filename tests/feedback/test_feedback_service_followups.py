"""Post-loan follow-ups through the service: plans, visits, overdue flags, risk signals."""

from __future__ import annotations

import grpc
import pytest
from feedback_harness import (
    RM_A,
    RM_B,
    TEAM_1,
    details,
    feedback_service,
    new_request_id,
    stamp,
    utc,
)
from google.type import date_pb2

from crm.events.v1 import client_events_pb2, feedback_events_pb2
from crm.feedback.v1 import feedback_service_pb2, followup_pb2
from crm_feedback.scheduler import run_once

FACILITY = "clients/c1/facilities/f1"
TODAY = utc(2026, 6, 1, 9)


def day(year: int, month: int, day_: int) -> date_pb2.Date:
    return date_pb2.Date(year=year, month=month, day=day_)


def plan_request() -> feedback_service_pb2.CreateFollowupPlanRequest:
    """A high-risk project-finance loan: site visits every 2 months plus two milestones."""
    return feedback_service_pb2.CreateFollowupPlanRequest(
        parent=FACILITY,
        request_id=new_request_id(),
        followup_plan=followup_pb2.FollowupPlan(
            facility_type=followup_pb2.FACILITY_TYPE_PROJECT_FINANCE,
            risk_tier=followup_pb2.RISK_TIER_HIGH,
            disbursement_date=day(2026, 1, 10),
            maturity_date=day(2027, 1, 10),
            milestones=[
                followup_pb2.Milestone(display_name="foundation", due_date=day(2026, 4, 30)),
                followup_pb2.Milestone(display_name="structure", due_date=day(2026, 8, 31)),
            ],
            product="project_finance",
            amount={"currency_code": "CNY", "units": 80_000_000},
        ),
    )


def visit_request(visit: followup_pb2.Visit) -> feedback_service_pb2.RecordVisitRequest:
    return feedback_service_pb2.RecordVisitRequest(
        parent=FACILITY, visit=visit, request_id=new_request_id()
    )


async def setup(h) -> followup_pb2.FollowupPlan:
    await h.deliver(
        client_events_pb2.ClientCreated(client="clients/c1", relationship_manager=RM_A,
                                        team=TEAM_1),
        source="client",
    )
    return await h.stub.CreateFollowupPlan(plan_request(), metadata=h.system())


class TestPlans:
    async def test_plan_has_routine_visits_and_milestone_checks(self, store_url, identity):
        """Five bimonthly site visits before maturity plus two milestone checks, RM from client."""
        async with feedback_service(store_url, identity, now=TODAY) as h:
            plan = await setup(h)
        dues = [(v.due_date.month, v.kind) for v in plan.planned_visits]
        site = followup_pb2.VISIT_KIND_SITE_VISIT
        milestone = followup_pb2.VISIT_KIND_MILESTONE_CHECK
        assert dues == [(3, site), (4, milestone), (5, site), (7, site), (8, milestone),
                        (9, site), (11, site)]
        assert plan.relationship_manager == RM_A
        assert plan.name == f"{FACILITY}/followupPlan"

    async def test_overdue_visits_are_flagged_once_and_listed_for_their_rm(
        self, store_url, identity
    ):
        """By June, the May visit and the April milestone are overdue: flagged once, listed."""
        async with feedback_service(store_url, identity, now=TODAY) as h:
            await setup(h)
            await h.stub.RecordVisit(
                visit_request(followup_pb2.Visit(
                    visit_date=day(2026, 3, 5), kind=followup_pb2.VISIT_KIND_SITE_VISIT,
                    progress_percent=20, notes="Earthworks on schedule.",
                )),
                metadata=h.rm(),
            )
            first, second = await run_once(h.ctx), await run_once(h.ctx)
            flagged = await h.events(feedback_events_pb2.FollowupOverdue)
            mine = await h.stub.ListOverdueFollowups(
                feedback_service_pb2.ListOverdueFollowupsRequest(), metadata=h.rm()
            )
            theirs = await h.stub.ListOverdueFollowups(
                feedback_service_pb2.ListOverdueFollowupsRequest(), metadata=h.rm(RM_B)
            )
            plan = await h.stub.GetFollowupPlan(
                feedback_service_pb2.GetFollowupPlanRequest(name=f"{FACILITY}/followupPlan"),
                metadata=h.rm(),
            )
        assert (first.flagged, second.flagged) == (2, 0)
        assert sorted((e.due_date, e.kind, e.relationship_manager) for e in flagged) == [
            ("2026-04-30", "milestone_check", RM_A), ("2026-05-10", "site_visit", RM_A)
        ]
        listed = [(o.planned_visit.due_date.month, o.days_overdue) for o in mine.overdue_followups]
        assert listed == [(4, 32), (5, 22)]
        assert all(o.planned_visit.HasField("overdue_flag_time") for o in mine.overdue_followups)
        assert list(theirs.overdue_followups) == []
        states = [v.state for v in plan.planned_visits[:3]]
        assert states == [followup_pb2.PLANNED_VISIT_STATE_ON_TIME,
                          followup_pb2.PLANNED_VISIT_STATE_OVERDUE,
                          followup_pb2.PLANNED_VISIT_STATE_OVERDUE]


class TestVisits:
    async def test_delayed_project_visit_raises_a_signal_for_risk(self, store_url, identity):
        """A visit reporting PROJECT_DELAYED, 30 points behind plan, goes to risk as a signal."""
        async with feedback_service(store_url, identity, now=TODAY) as h:
            await setup(h)
            visit = await h.stub.RecordVisit(
                visit_request(followup_pb2.Visit(
                    visit_date=day(2026, 5, 28), kind=followup_pb2.VISIT_KIND_SITE_VISIT,
                    progress_percent=30, planned_progress_percent=60,
                    issue_codes=[followup_pb2.VISIT_ISSUE_PROJECT_DELAYED],
                    issues=["Steel deliveries late, pouring stopped for three weeks"],
                    next_steps="Meet the contractor; revised schedule within 2 weeks",
                )),
                metadata=h.rm(),
            )
            signals = await h.events(feedback_events_pb2.ExternalSignalRaised, "risk")
            listed = await h.stub.ListVisits(
                feedback_service_pb2.ListVisitsRequest(parent=FACILITY), metadata=h.rm()
            )
        assert [(s.code, s.severity) for s in visit.risk_signals] == [("PROJECT_DELAYED", "medium")]
        [signal] = signals
        assert (signal.client, signal.facility, signal.code, signal.source) == (
            "clients/c1", FACILITY, "PROJECT_DELAYED", visit.name
        )
        assert "reported issue" in signal.evidence and "30 vs planned 60" in signal.evidence
        assert signal.occurred_time.ToDatetime().date().isoformat() == "2026-05-28"
        assert [v.name for v in listed.visits] == [visit.name]

    async def test_progress_regression_without_reason_is_rejected(self, sqlite_url, identity):
        """Progress below the previous visit's without a reason: INVALID_ARGUMENT, no signal."""
        async with feedback_service(sqlite_url, identity, now=TODAY) as h:
            await setup(h)
            await h.stub.RecordVisit(
                visit_request(followup_pb2.Visit(
                    visit_date=day(2026, 3, 5), kind=followup_pb2.VISIT_KIND_SITE_VISIT,
                    progress_percent=40,
                )),
                metadata=h.rm(),
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.RecordVisit(
                    visit_request(followup_pb2.Visit(
                        visit_date=day(2026, 5, 5), kind=followup_pb2.VISIT_KIND_SITE_VISIT,
                        progress_percent=10, notes="project delayed by rain",
                    )),
                    metadata=h.rm(),
                )
            signals = await h.events(feedback_events_pb2.ExternalSignalRaised, "risk")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert details(caught.value)[1] == ["visit.progress_percent"]
        assert signals == []

    async def test_other_rm_may_not_record_or_read(self, sqlite_url, identity):
        """An RM who does not serve the client gets PERMISSION_DENIED for visits and the plan."""
        async with feedback_service(sqlite_url, identity, now=TODAY) as h:
            await setup(h)
            calls = [
                h.stub.RecordVisit(
                    visit_request(followup_pb2.Visit(
                        visit_date=day(2026, 5, 5), kind=followup_pb2.VISIT_KIND_PROGRESS_CHECK,
                    )),
                    metadata=h.rm(RM_B),
                ),
                h.stub.GetFollowupPlan(
                    feedback_service_pb2.GetFollowupPlanRequest(name=f"{FACILITY}/followupPlan"),
                    metadata=h.rm(RM_B),
                ),
                h.stub.GetFollowupPlan(
                    feedback_service_pb2.GetFollowupPlanRequest(
                        name="clients/c1/facilities/none/followupPlan"
                    ),
                    metadata=h.rm(RM_B),
                ),
            ]
            for call in calls:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_completion_ends_follow_ups(self, sqlite_url, identity):
        """After a completion event, visits planned after it are no longer due or overdue."""
        async with feedback_service(sqlite_url, identity, now=TODAY) as h:
            await setup(h)
            await h.stub.RecordLoanEvents(
                feedback_service_pb2.RecordLoanEventsRequest(events=[followup_pb2.LoanEvent(
                    event_id="done-1", kind=followup_pb2.LOAN_EVENT_KIND_COMPLETED,
                    facility=FACILITY, occur_time=stamp(utc(2026, 4, 1)),
                )]),
                metadata=h.system(),
            )
            plan = await h.stub.GetFollowupPlan(
                feedback_service_pb2.GetFollowupPlanRequest(name=f"{FACILITY}/followupPlan"),
                metadata=h.rm(),
            )
        assert plan.completion_date.month == 4
        assert [v.due_date.month for v in plan.planned_visits] == [3]
