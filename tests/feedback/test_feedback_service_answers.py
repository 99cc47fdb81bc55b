"""Survey answers through the service: one-time tokens, NPS/CSAT results, triggers, signals."""

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
    nps_csat_survey,
    stamp,
    utc,
)
from sqlalchemy import func, select

from crm.events.v1 import client_events_pb2, feedback_events_pb2, risk_events_pb2
from crm.feedback.v1 import feedback_service_pb2, followup_pb2, survey_pb2
from crm_feedback.domain.tokens import mint_token
from crm_feedback.models import AnswerRow
from crm_feedback.scheduler import run_once

NOW = utc(2026, 9, 1, 8)


async def define(h, survey_id: str = "post_disbursement") -> str:
    """Create the standard survey; return its name."""
    created = await h.stub.CreateSurvey(
        feedback_service_pb2.CreateSurveyRequest(
            survey=nps_csat_survey(), survey_id=survey_id, request_id=new_request_id()
        ),
        metadata=h.ops(),
    )
    return created.name


async def send(h, survey: str, clients: list[str]) -> list[tuple[str, str]]:
    """Send a survey to clients; return (dispatch name, answer token) per client, in order."""
    reply = await h.stub.SendSurvey(
        feedback_service_pb2.SendSurveyRequest(
            survey=survey, clients=clients, request_id=new_request_id()
        ),
        metadata=h.ops(),
    )
    tokens = await h.dispatch_tokens()
    return [(name, tokens[name]) for name in reply.dispatches]


def answer(dispatch: str, token: str, nps: int | None = None, csat: int | None = None,
           comment: str = "") -> feedback_service_pb2.AnswerSurveyRequest:
    """Return an AnswerSurveyRequest."""
    request = feedback_service_pb2.AnswerSurveyRequest(
        dispatch=dispatch, answer_token=token, request_id=new_request_id()
    )
    if nps is not None:
        request.answers.add(question_id="nps", score=nps)
    if csat is not None:
        request.answers.add(question_id="csat", score=csat)
    if comment:
        request.answers.add(question_id="comment", text=comment)
    return request


async def answer_count(h) -> int:
    async with h.ctx.db.read() as session:
        counted = await session.execute(select(func.count()).select_from(AnswerRow))
        return int(counted.scalar_one())


async def results(h, survey: str, *group_by: int) -> feedback_service_pb2.GetSurveyResultsResponse:
    return await h.stub.GetSurveyResults(
        feedback_service_pb2.GetSurveyResultsRequest(survey=survey, group_by=list(group_by)),
        metadata=h.ops(),
    )


class TestOneTimeTokens:
    async def test_used_token_is_rejected_and_nothing_changes(self, store_url, identity):
        """A second answer with a used token is FAILED_PRECONDITION; the first answer stands."""
        async with feedback_service(store_url, identity, now=NOW) as h:
            survey = await define(h)
            [(dispatch, token)] = await send(h, survey, ["clients/c1"])
            first = await h.stub.AnswerSurvey(answer(dispatch, token, nps=9), metadata=h.system())
            assert first.name == f"{dispatch}/answer"
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.AnswerSurvey(answer(dispatch, token, nps=0), metadata=h.system())
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert details(caught.value)[0] == "SURVEY_ALREADY_ANSWERED"
            assert await answer_count(h) == 1
            summary = (await results(h, survey)).groups[0]
            assert (summary.nps.promoter_count, summary.nps.detractor_count) == (1, 0)

    async def test_foreign_and_forged_tokens_are_denied_and_store_nothing(
        self, store_url, identity
    ):
        """Another dispatch's token, a tampered one and a foreign secret's: PERMISSION_DENIED."""
        async with feedback_service(store_url, identity, now=NOW) as h:
            survey = await define(h)
            (_, t1), (d2, t2) = await send(h, survey, ["clients/c1", "clients/c2"])
            dispatch_id = d2.rsplit("/", 1)[1]
            forged = mint_token(b"x" * 32, dispatch_id, "clients/c2")
            tampered = t2[:-2] + ("AA" if not t2.endswith("AA") else "BB")
            cases = [(t1, "ANSWER_TOKEN_MISMATCH"), (tampered, "ANSWER_TOKEN_INVALID"),
                     (forged, "ANSWER_TOKEN_INVALID")]
            for token, reason in cases:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await h.stub.AnswerSurvey(answer(d2, token, nps=10), metadata=h.system())
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
                assert details(caught.value)[0] == reason
            assert await answer_count(h) == 0
            listed = await h.stub.ListSurveyDispatches(
                feedback_service_pb2.ListSurveyDispatchesRequest(parent=survey), metadata=h.ops()
            )
            assert {d.state for d in listed.dispatches} == {survey_pb2.DISPATCH_STATE_SENT}
            # The right token still works afterwards.
            await h.stub.AnswerSurvey(answer(d2, t2, nps=10), metadata=h.system())
            assert await answer_count(h) == 1

    async def test_invalid_answer_stores_nothing_and_keeps_the_token_usable(
        self, sqlite_url, identity
    ):
        """An NPS of 11 is INVALID_ARGUMENT naming answers.nps; the token can still be used."""
        async with feedback_service(sqlite_url, identity, now=NOW) as h:
            survey = await define(h)
            [(dispatch, token)] = await send(h, survey, ["clients/c1"])
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.AnswerSurvey(answer(dispatch, token, nps=11), metadata=h.system())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[1] == ["answers.nps"]
            assert await answer_count(h) == 0
            await h.stub.AnswerSurvey(answer(dispatch, token, nps=7), metadata=h.system())

    async def test_late_answer_and_people_are_refused(self, sqlite_url, identity):
        """After the due time the answer is FAILED_PRECONDITION; an RM may not answer at all."""
        async with feedback_service(sqlite_url, identity, now=NOW) as h:
            survey = await define(h)
            [(dispatch, token)] = await send(h, survey, ["clients/c1"])
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.AnswerSurvey(answer(dispatch, token, nps=7), metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            h.ctx.clock.advance(days=31)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.AnswerSurvey(answer(dispatch, token, nps=7), metadata=h.system())
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert details(caught.value)[0] == "DISPATCH_EXPIRED"
            assert await answer_count(h) == 0


NPS_SCORES = [10, 10, 9, 9, 9, 8, 7, 6, 5, 3, 0]
CSAT_SCORES = [5, 4, 4, 3, 5, 2, 1, 4, 5, 3, None]


class TestResults:
    async def test_nps_and_csat_match_hand_computation(self, store_url, identity):
        """11 of 12 answer: NPS 9.09 [-44.09, 62.27]; CSAT 0.6 [0.3127, 0.8318], mean 3.6."""
        async with feedback_service(store_url, identity, now=NOW) as h:
            survey = await define(h)
            clients = [f"clients/c{i:02d}" for i in range(12)]
            sent = await send(h, survey, clients)
            for (dispatch, token), nps, csat in zip(sent, NPS_SCORES, CSAT_SCORES, strict=False):
                await h.stub.AnswerSurvey(answer(dispatch, token, nps, csat), metadata=h.system())
            [group] = (await results(h, survey)).groups
        # Promoters 10,10,9,9,9 = 5; passives 8,7 = 2; detractors 6,5,3,0 = 4; n = 11.
        assert (group.dispatched_count, group.answered_count) == (12, 11)
        assert group.response_rate == pytest.approx(11 / 12)
        nps = group.nps
        assert (nps.answer_count, nps.promoter_count, nps.passive_count, nps.detractor_count) == (
            11, 5, 2, 4
        )
        # NPS = 100 * (5 - 4) / 11; SE = 100 * sqrt((9/11 - (1/11)^2) / 11) = 27.1346.
        assert nps.score == pytest.approx(9.0909090909)
        assert (nps.ci_low, nps.ci_high) == (pytest.approx(-44.0920014), pytest.approx(62.2738196))
        # CSAT: 4s and 5s = 6 of 10 answers; mean 36 / 10; Wilson 95 % interval of 6/10.
        csat = group.csat
        assert (csat.answer_count, csat.satisfied_share, csat.mean_score) == (10, 0.6, 3.6)
        assert (csat.ci_low, csat.ci_high) == (pytest.approx(0.3126738), pytest.approx(0.8318197))

    async def test_no_answers_and_all_detractors(self, store_url, identity):
        """No answers: rate 0 and no score. Ten detractors: NPS -100 with a collapsed interval."""
        async with feedback_service(store_url, identity, now=NOW) as h:
            silent = await define(h, "silent")
            await send(h, silent, ["clients/a", "clients/b", "clients/c"])
            [quiet] = (await results(h, silent)).groups
            unhappy = await define(h, "unhappy")
            sent = await send(h, unhappy, [f"clients/u{i}" for i in range(10)])
            for index, (dispatch, token) in enumerate(sent):
                await h.stub.AnswerSurvey(answer(dispatch, token, nps=index % 7, csat=1),
                                          metadata=h.system())
            [angry] = (await results(h, unhappy)).groups
            [nothing] = (await results(h, "surveys/never_sent")).groups
        assert (quiet.dispatched_count, quiet.answered_count, quiet.response_rate) == (3, 0, 0.0)
        assert quiet.nps.answer_count == 0 and not quiet.nps.HasField("score")
        assert not quiet.csat.HasField("satisfied_share")
        assert angry.nps.detractor_count == 10
        assert (angry.nps.score, angry.nps.ci_low, angry.nps.ci_high) == (-100.0, -100.0, -100.0)
        assert (angry.csat.satisfied_share, angry.csat.ci_low) == (0.0, 0.0)
        assert nothing.dispatched_count == 0 and not nothing.HasField("response_rate")

    async def test_groups_by_rm_and_segment_and_themes(self, sqlite_url, identity):
        """Results split by the RM and segments known at dispatch; comments grouped in themes."""
        async with feedback_service(sqlite_url, identity, now=NOW) as h:
            await h.deliver(
                client_events_pb2.ClientCreated(client="clients/c1", relationship_manager=RM_A,
                                                team=TEAM_1),
                client_events_pb2.ClientCreated(client="clients/c2", relationship_manager=RM_B,
                                                team=TEAM_1),
                client_events_pb2.SegmentMembershipChanged(
                    client="clients/c1", joined=["segments/high-growth", "segments/sme"]
                ),
                source="client",
            )
            survey = await define(h)
            (d1, t1), (d2, t2) = await send(h, survey, ["clients/c1", "clients/c2"])
            await h.stub.AnswerSurvey(answer(d1, t1, 10, 5, "审批太慢，等了很久"),
                                      metadata=h.system())
            await h.stub.AnswerSurvey(answer(d2, t2, 4, 2, "The approval process took too long"),
                                      metadata=h.system())
            by_rm = await results(h, survey, survey_pb2.RESULT_DIMENSION_RELATIONSHIP_MANAGER)
            by_segment = await results(h, survey, survey_pb2.RESULT_DIMENSION_SEGMENT)
            in_q3 = await h.stub.GetSurveyResults(
                feedback_service_pb2.GetSurveyResultsRequest(
                    survey=survey, period="2026-Q3",
                    group_by=[survey_pb2.RESULT_DIMENSION_PERIOD],
                    period_granularity=survey_pb2.PERIOD_GRANULARITY_MONTH,
                ),
                metadata=h.ops(),
            )
            in_q2 = await h.stub.GetSurveyResults(
                feedback_service_pb2.GetSurveyResultsRequest(survey=survey, period="2026-Q2"),
                metadata=h.ops(),
            )
            as_rm = await h.stub.GetSurveyResults(
                feedback_service_pb2.GetSurveyResultsRequest(survey=survey), metadata=h.rm(RM_B)
            )
        assert {g.relationship_manager: g.nps.score for g in by_rm.groups} == {
            RM_A: 100.0, RM_B: -100.0
        }
        assert {g.segment: g.answered_count for g in by_segment.groups} == {
            "segments/high-growth": 1, "segments/sme": 1, "": 1
        }
        assert [(t.theme, t.count) for t in by_rm.themes] == [("approval_speed", 2)]
        assert [(g.period, g.answered_count) for g in in_q3.groups] == [("2026-09", 2)]
        assert [g.dispatched_count for g in in_q2.groups] == [0]
        # An RM sees only their own clients' answers.
        assert [g.nps.score for g in as_rm.groups] == [-100.0]


class TestTriggersAndSignals:
    async def test_disbursement_schedules_a_survey_sent_thirty_days_later(
        self, sqlite_url, identity
    ):
        """A disbursement event schedules post_disbursement; it is sent once, 30 days later."""
        async with feedback_service(sqlite_url, identity, now=NOW) as h:
            await define(h, "post_disbursement")
            event = followup_pb2.LoanEvent(
                event_id="disb-1", kind=followup_pb2.LOAN_EVENT_KIND_DISBURSED,
                facility="clients/c1/facilities/f1", occur_time=stamp(NOW),
                plan=followup_pb2.FollowupPlan(
                    facility_type=followup_pb2.FACILITY_TYPE_WORKING_CAPITAL,
                    risk_tier=followup_pb2.RISK_TIER_LOW,
                    disbursement_date={"year": 2026, "month": 9, "day": 1},
                    maturity_date={"year": 2027, "month": 9, "day": 1},
                ),
            )
            request = feedback_service_pb2.RecordLoanEventsRequest(events=[event, event])
            reply = await h.stub.RecordLoanEvents(request, metadata=h.system())
            assert (reply.recorded_count, reply.duplicate_count) == (1, 1)
            assert reply.scheduled_survey_count == 1
            assert await h.events(feedback_events_pb2.SurveyDispatched) == []
            h.ctx.clock.advance(days=29)
            assert (await run_once(h.ctx)).sent == 0
            h.ctx.clock.advance(days=2)
            assert (await run_once(h.ctx)).sent == 1
            assert (await run_once(h.ctx)).sent == 0
            [sent] = await h.events(feedback_events_pb2.SurveyDispatched)
        assert sent.trigger == "loan_disbursed"
        assert sent.client == "clients/c1"
        assert sent.answer_token

    async def test_resolved_warning_schedules_a_resolution_survey(self, sqlite_url, identity):
        """WarningStatusChanged(resolved) schedules warning_resolution three days later."""
        async with feedback_service(sqlite_url, identity, now=NOW) as h:
            await define(h, "warning_resolution")
            await h.deliver(
                risk_events_pb2.WarningRaised(warning="warnings/w1", client="clients/c1",
                                              level="yellow", raise_time=stamp(NOW)),
                risk_events_pb2.WarningStatusChanged(warning="warnings/w1", client="clients/c1",
                                                     state="resolved", change_time=stamp(NOW)),
            )
            h.ctx.clock.advance(days=3, seconds=1)
            assert (await run_once(h.ctx)).sent == 1
            [sent] = await h.events(feedback_events_pb2.SurveyDispatched)
        assert sent.trigger == "warning_resolved"

    async def test_risky_comment_becomes_external_signals(self, sqlite_url, identity):
        """A comment about a delayed project and tight funds raises two signals for risk."""
        async with feedback_service(sqlite_url, identity, now=NOW) as h:
            survey = await define(h)
            [(dispatch, token)] = await send(h, survey, ["clients/c9"])
            stored = await h.stub.AnswerSurvey(
                answer(dispatch, token, 3, 2, "项目延期了，最近资金紧张"), metadata=h.system()
            )
            signals = await h.events(feedback_events_pb2.ExternalSignalRaised, subscriber="risk")
        assert list(stored.risk_signal_codes) == ["PROJECT_DELAYED", "PAYMENT_DIFFICULTY"]
        assert [(s.code, s.client, s.source) for s in signals] == [
            ("PROJECT_DELAYED", "clients/c9", dispatch),
            ("PAYMENT_DIFFICULTY", "clients/c9", dispatch),
        ]
