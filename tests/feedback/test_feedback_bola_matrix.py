"""BOLA matrix (RELIABILITY §7.17): every RPC of FeedbackService, generated from its descriptor.

Ownership model (crm_feedback/access.py, docs/FEEDBACK.md): relationship managers and team
leads see only what concerns their own clients, i.e. the RM and team recorded on the facility
(follow-up plans and visits) or on the dispatch (survey results); an RM's scorecard is their
own. Survey definitions are bank-wide; sending, answering, loan and stage events, rankings,
snapshots and approval analytics are for other roles.

The scaffolding and what the matrix asserts are in bola_support. Here: the fields that name a
resource (`name`, `parent`, `client`, `subject` for a scorecard's RM, or `<resource>.name` in
an update) make a method object-scoped; methods an RM may not call at all are classified
function-level and must refuse RM A by role. Lists are checked for B's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from bola_support import (
    Outcome,
    assert_refused_by_role,
    build_request,
    call,
    check_classified,
    denied,
    run_matrix,
)
from bola_support import resource_field as named_field
from bola_support import scoped_methods as scoped_in
from feedback_harness import RM_A, RM_B, feedback_service, nps_csat_survey, utc
from google.protobuf import field_mask_pb2, message
from google.type import date_pb2

from crm.events.v1 import client_events_pb2
from crm.feedback.v1 import feedback_service_pb2, followup_pb2, survey_pb2

SERVICE = feedback_service_pb2.DESCRIPTOR.services_by_name["FeedbackService"]
NOW = utc(2026, 6, 1, 9)
PERIOD = "2026-Q2"
TEAMS = {RM_A: "teams/t-a", RM_B: "teams/t-b"}
GHOST_CLIENT = "clients/c-ghost"
GHOST_FACILITY = f"{GHOST_CLIENT}/facilities/f-ghost"
GHOST_STAFF = "staff/rm-ghost"
GHOST_SURVEY = "surveys/bola_ghost"
# Every ownership refusal, for a facility's records as for a scorecard.
DENIED = "ACCESS_DENIED"

# Methods whose request names no RM- or client-owned resource, each with the reason it is safe.
NOT_OBJECT_SCOPED = {
    "GetSurvey": "survey definitions are bank-wide, not client data",
    "ListSurveys": "survey definitions are bank-wide, not client data",
    "ListSurveyDispatches": "a list (parent is a bank-wide survey): checked below for B's rows",
    "GetSurveyResults": "aggregates within the caller's view: checked below for B's rows",
    "ListOverdueFollowups": "a list: checked below for B's rows",
}
# Methods an RM may not call at all (function-level rule): RM A must be refused by role.
FUNCTION_LEVEL = {
    "CreateSurvey": "survey definitions are bank-wide: operations and bank systems only",
    "UpdateSurvey": "survey definitions are bank-wide: operations and bank systems only",
    "DeleteSurvey": "survey definitions are bank-wide: operations and bank systems only",
    "SendSurvey": "operations, bank systems and team leads only",
    "AnswerSurvey": "the answering app (a bank system) only; the one-time token names the answerer",
    "RecordLoanEvents": "ingestion from core banking: bank systems and operations only",
    "ListScorecards": "rankings: team leads (own team), operations, auditors and systems",
    "RankScorecards": "rankings: team leads (own team), operations, auditors and systems",
    "SnapshotKpiPeriod": "freezing a period: operations and bank systems only",
    "RecordStageEvents": "ingestion of approval stages: bank systems and operations only",
    "ListStageStatistics": "bank-wide approval analytics: not for relationship managers",
    "ListBottlenecks": "bank-wide approval analytics: not for relationship managers",
    "CompareApprovalPeriods": "bank-wide approval analytics: not for relationship managers",
}


@dataclass(frozen=True)
class World:
    """Two RMs' clients, facilities (with plans and a visit) and survey dispatches."""

    own_client: str
    own_facility: str
    own_dispatch: str
    other_client: str
    other_facility: str
    other_dispatch: str
    survey: str


def resource_field(method: Any) -> str | None:
    """Return the request field (dotted) that names the resource, or None."""
    return named_field(method, ("name", "parent", "client", "subject"))


def target(method: Any, world: World, *, whose: str) -> str:
    """Return the resource name of the kind `method` takes: A's, B's or a nonexistent one."""
    if method.name == "GetScorecard":
        return {"own": RM_A, "other": RM_B, "ghost": GHOST_STAFF}[whose]
    facility = {
        "own": world.own_facility,
        "other": world.other_facility,
        "ghost": GHOST_FACILITY,
    }[whose]
    if method.name == "CreateFollowupPlan" and whose == "own":
        facility = f"{world.own_client}/facilities/f-new"  # A's own facility has its plan.
    return f"{facility}/followupPlan" if method.name == "GetFollowupPlan" else facility


def day(year: int, month: int, day_: int) -> date_pb2.Date:
    return date_pb2.Date(year=year, month=month, day=day_)


def plan_terms(**fields: Any) -> followup_pb2.FollowupPlan:
    """A project-finance loan's terms (the RM comes from the client unless named)."""
    return followup_pb2.FollowupPlan(
        facility_type=followup_pb2.FACILITY_TYPE_PROJECT_FINANCE,
        risk_tier=followup_pb2.RISK_TIER_HIGH,
        disbursement_date=day(2026, 1, 10),
        maturity_date=day(2027, 1, 10),
        milestones=[followup_pb2.Milestone(display_name="foundation", due_date=day(2026, 4, 30))],
        product="project_finance",
        amount={"currency_code": "CNY", "units": 80_000_000},
        **fields,
    )


# Whatever else a valid request of the method needs besides its resource name.
BODIES: dict[str, Callable[[Any], None]] = {
    "CreateFollowupPlan": lambda r: r.followup_plan.CopyFrom(plan_terms()),
    "RecordVisit": lambda r: r.visit.CopyFrom(
        followup_pb2.Visit(
            visit_date=day(2026, 5, 20),
            kind=followup_pb2.VISIT_KIND_PROGRESS_CHECK,
            progress_percent=35,
            notes="On schedule.",
        )
    ),
    "GetScorecard": lambda r: setattr(r, "period", PERIOD),
    "UpdateSurvey": lambda r: (
        r.survey.title.CopyFrom(survey_pb2.LocalizedText(zh_cn="新标题", en="New title")),
        r.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=["title"])),
    ),
}


def build(method: Any, field: str | None, resource: str) -> message.Message:
    """Return a request of `method` naming `resource` (fresh request id where there is one)."""
    return build_request(method, field, resource, BODIES.get(method.name))


def request_for(method: Any, world: World, whose: str) -> message.Message:
    """Return the method's request naming A's, B's or a nonexistent record."""
    return build(method, resource_field(method), target(method, world, whose=whose))


def rm(h: Any, who: str) -> tuple[tuple[str, str], ...]:
    """Return an RM's metadata, carrying the RM's own team as the gateway would."""
    return h.rm(who, teams=(TEAMS[who],))


async def call_as(h: Any, method: Any, request: message.Message, who: str) -> Outcome:
    """Call `method` as RM `who`."""
    return await call(h.stub, method, request, rm(h, who))


async def seed(h: Any) -> World:
    """Give each RM a client with a planned facility, a visit and a survey dispatch."""
    made = {}
    for staff, suffix in ((RM_A, "a"), (RM_B, "b")):
        client, facility = f"clients/c-{suffix}", f"clients/c-{suffix}/facilities/f-{suffix}"
        await h.deliver(
            client_events_pb2.ClientCreated(
                client=client, relationship_manager=staff, team=TEAMS[staff]
            ),
            source="client",
        )
        await h.stub.CreateFollowupPlan(
            feedback_service_pb2.CreateFollowupPlanRequest(
                parent=facility, followup_plan=plan_terms(), request_id=str(uuid.uuid4())
            ),
            metadata=h.system(),
        )
        await h.stub.RecordVisit(
            feedback_service_pb2.RecordVisitRequest(
                parent=facility,
                visit=followup_pb2.Visit(
                    visit_date=day(2026, 3, 5),
                    kind=followup_pb2.VISIT_KIND_SITE_VISIT,
                    progress_percent=20,
                    notes="Earthworks on schedule.",
                ),
                request_id=str(uuid.uuid4()),
            ),
            metadata=rm(h, staff),
        )
        made[staff] = (client, facility)
    survey = await h.stub.CreateSurvey(
        feedback_service_pb2.CreateSurveyRequest(
            survey=nps_csat_survey(), survey_id="bola_survey", request_id=str(uuid.uuid4())
        ),
        metadata=h.ops(),
    )
    sent = await h.stub.SendSurvey(
        feedback_service_pb2.SendSurveyRequest(
            survey=survey.name,
            clients=[made[RM_A][0], made[RM_B][0]],
            request_id=str(uuid.uuid4()),
        ),
        metadata=h.ops(),
    )
    own_dispatch, other_dispatch = sent.dispatches
    return World(
        made[RM_A][0],
        made[RM_A][1],
        own_dispatch,
        made[RM_B][0],
        made[RM_B][1],
        other_dispatch,
        survey.name,
    )


async def snapshot(h: Any, world: World) -> tuple[bytes, ...]:
    """Return everything RM B sees of B's own records, serialised."""
    who = rm(h, RM_B)
    replies = (
        await h.stub.GetFollowupPlan(
            feedback_service_pb2.GetFollowupPlanRequest(
                name=f"{world.other_facility}/followupPlan"
            ),
            metadata=who,
        ),
        await h.stub.ListVisits(
            feedback_service_pb2.ListVisitsRequest(parent=world.other_facility), metadata=who
        ),
        await h.stub.ListOverdueFollowups(
            feedback_service_pb2.ListOverdueFollowupsRequest(), metadata=who
        ),
        await h.stub.GetScorecard(
            feedback_service_pb2.GetScorecardRequest(subject=RM_B, period=PERIOD), metadata=who
        ),
        await h.stub.ListSurveyDispatches(
            feedback_service_pb2.ListSurveyDispatchesRequest(parent=world.survey), metadata=who
        ),
    )
    return tuple(r.SerializeToString(deterministic=True) for r in replies)


async def plan_exists(h: Any, facility: str) -> bool:
    """Tell whether a facility has a plan (asked as operations, who may see NOT_FOUND)."""
    try:
        await h.stub.GetFollowupPlan(
            feedback_service_pb2.GetFollowupPlanRequest(name=f"{facility}/followupPlan"),
            metadata=h.ops(),
        )
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND
        return False
    return True


def scoped_methods() -> list[Any]:
    return scoped_in(SERVICE, resource_field, NOT_OBJECT_SCOPED, FUNCTION_LEVEL)


def test_every_method_is_classified():
    """A method that names no resource must be listed with its reason (new RPCs fail here)."""
    check_classified(SERVICE, resource_field, NOT_OBJECT_SCOPED, FUNCTION_LEVEL)


async def test_function_level_methods_refuse_an_rm(sqlite_url, identity):
    """RM A is refused by role on every method an RM may not call, whether the request names
    B's records (or an existing survey) or ones that do not exist."""
    async with feedback_service(sqlite_url, identity, now=NOW) as h:
        world = await seed(h)
        ghost_dispatch = f"{world.survey}/dispatches/{'0' * 32}"
        # What the requests name, for the methods that name anything.
        named = {
            "UpdateSurvey": ("survey.name", world.survey, GHOST_SURVEY),
            "DeleteSurvey": ("name", world.survey, GHOST_SURVEY),
            "SendSurvey": ("clients", world.other_client, GHOST_CLIENT),
            "AnswerSurvey": ("dispatch", world.other_dispatch, ghost_dispatch),
        }
        outcomes = {}
        for name in FUNCTION_LEVEL:
            method = SERVICE.methods_by_name[name]
            field, other, ghost = named.get(name, (None, "", ""))
            outcomes[name] = (
                await call_as(h, method, build(method, field, other), RM_A),
                await call_as(h, method, build(method, field, ghost), RM_A),
            )
    assert outcomes.keys() == FUNCTION_LEVEL.keys()
    assert_refused_by_role(outcomes)


async def test_bola_matrix(store_url, identity, capsys):
    """RM A gets the same PERMISSION_DENIED for B's records and for nonexistent ones, on
    every object-scoped method, while the same request on A's own record succeeds."""
    async with feedback_service(store_url, identity, now=NOW) as h:
        world = await seed(h)
        before = await snapshot(h, world)
        scoped = scoped_methods()
        assert len(scoped) >= 5
        await run_matrix(
            "FeedbackService",
            scoped,
            request_for=lambda method, whose: request_for(method, world, whose),
            call_as_a=lambda method, request: call_as(h, method, request, RM_A),
            reason_for=lambda method: DENIED,
            capsys=capsys,
        )
        assert await snapshot(h, world) == before
        assert not await plan_exists(h, GHOST_FACILITY)


async def test_an_rm_cannot_plan_another_managers_client_by_naming_themselves(store_url, identity):
    """A plan's terms may name its RM (for loan systems); RM A naming themselves on a new
    facility of B's client is refused like any other of B's records, and nothing is stored."""
    async with feedback_service(store_url, identity, now=NOW) as h:
        world = await seed(h)
        method = SERVICE.methods_by_name["CreateFollowupPlan"]
        answers = []
        for facility in (f"{world.other_client}/facilities/f-new", GHOST_FACILITY):
            request = feedback_service_pb2.CreateFollowupPlanRequest(
                parent=facility,
                followup_plan=plan_terms(relationship_manager=RM_A, team=TEAMS[RM_A]),
                request_id=str(uuid.uuid4()),
            )
            answers.append(await call_as(h, method, request, RM_A))
        stored = [
            await plan_exists(h, f"{world.other_client}/facilities/f-new"),
            await plan_exists(h, GHOST_FACILITY),
        ]
    assert answers[0] == answers[1]
    assert answers[0].verdict == denied(DENIED)
    assert stored == [False, False]


async def test_lists_never_include_the_other_managers_rows(store_url, identity):
    """Overdue follow-ups, survey dispatches and survey results seen by RM A show none of B's,
    and filtering by B's client or RM answers exactly as for a nonexistent one."""
    async with feedback_service(store_url, identity, now=NOW) as h:
        world = await seed(h)
        who = rm(h, RM_A)
        overdue = await h.stub.ListOverdueFollowups(
            feedback_service_pb2.ListOverdueFollowupsRequest(page_size=500), metadata=who
        )
        overdue_by = [
            await h.stub.ListOverdueFollowups(
                feedback_service_pb2.ListOverdueFollowupsRequest(relationship_manager=staff),
                metadata=who,
            )
            for staff in (RM_B, GHOST_STAFF)
        ]
        dispatches = await h.stub.ListSurveyDispatches(
            feedback_service_pb2.ListSurveyDispatchesRequest(parent=world.survey, page_size=500),
            metadata=who,
        )
        dispatches_by = [
            await h.stub.ListSurveyDispatches(
                feedback_service_pb2.ListSurveyDispatchesRequest(
                    parent=world.survey, client=client
                ),
                metadata=who,
            )
            for client in (world.other_client, GHOST_CLIENT)
        ]
        by_rm = survey_pb2.RESULT_DIMENSION_RELATIONSHIP_MANAGER
        results = await h.stub.GetSurveyResults(
            feedback_service_pb2.GetSurveyResultsRequest(group_by=[by_rm]), metadata=who
        )
        results_by = [
            await h.stub.GetSurveyResults(
                feedback_service_pb2.GetSurveyResultsRequest(relationship_manager=staff),
                metadata=who,
            )
            for staff in (RM_B, GHOST_STAFF)
        ]
        everyone = await h.stub.ListOverdueFollowups(
            feedback_service_pb2.ListOverdueFollowupsRequest(page_size=500), metadata=h.ops()
        )
    assert RM_B in {o.relationship_manager for o in everyone.overdue_followups}
    assert overdue.overdue_followups
    assert {(o.facility, o.relationship_manager) for o in overdue.overdue_followups} == {
        (world.own_facility, RM_A)
    }
    assert overdue_by[0] == overdue_by[1]
    assert not overdue_by[0].overdue_followups
    assert [(d.name, d.client) for d in dispatches.dispatches] == [
        (world.own_dispatch, world.own_client)
    ]
    assert dispatches_by[0] == dispatches_by[1]
    assert not dispatches_by[0].dispatches
    assert [(g.relationship_manager, g.dispatched_count) for g in results.groups] == [(RM_A, 1)]
    assert results_by[0] == results_by[1]
    assert sum(g.dispatched_count for g in results_by[0].groups) == 0
