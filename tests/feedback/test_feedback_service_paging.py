"""Surveys, scorecards, stage statistics and bottlenecks page (AIP-158): every item once,
in order; a caller that sends no page size gets the first 50 and a token."""

from __future__ import annotations

from feedback_harness import feedback_service, nps_csat_survey, stamp, text, utc
from google.protobuf import field_mask_pb2

from crm.events.v1 import client_events_pb2, risk_events_pb2
from crm.feedback.v1 import approval_pb2, feedback_service_pb2, kpi_pb2
from crm_sim.feedback.wire import record_stage_events
from crm_sim.feedback.world import generate_approval_events

RMS = [f"staff/rm-{index}" for index in range(5)]
BY_BRANCH_AND_PRODUCT = [
    approval_pb2.APPROVAL_DIMENSION_BRANCH, approval_pb2.APPROVAL_DIMENSION_PRODUCT
]


async def pages(call, request, field: str, *, page_size: int) -> tuple[list, int]:
    """Follow next_page_token from the first page; return every item and the page count."""
    items: list = []
    count = 0
    request.page_size = page_size
    while True:
        reply = await call(request)
        items.extend(getattr(reply, field))
        count += 1
        if not reply.next_page_token:
            return items, count
        request.page_token = reply.next_page_token


async def five_rms_with_warnings(h) -> None:
    """Give five RMs one client each and one warning raised in 2026-Q3."""
    await h.deliver(
        *[client_events_pb2.ClientCreated(client=f"clients/c{i}", relationship_manager=rm,
                                          team="teams/t1")
          for i, rm in enumerate(RMS)],
        source="client",
    )
    await h.deliver(
        *[risk_events_pb2.WarningRaised(
            warning=f"warnings/w{i}", client=f"clients/c{i}", level="yellow",
            raise_time=stamp(utc(2026, 8, 1)), sla_due_time=stamp(utc(2026, 8, 4)))
          for i in range(len(RMS))]
    )


class TestSurveyPages:
    async def test_live_surveys_page_by_id_at_their_current_versions(self, store_url, identity):
        async with feedback_service(store_url, identity) as h:
            for survey_id in ("s-a", "s-b", "s-c", "s-d"):
                await h.stub.CreateSurvey(
                    feedback_service_pb2.CreateSurveyRequest(
                        survey=nps_csat_survey(), survey_id=survey_id
                    ),
                    metadata=h.ops(),
                )
            changed = nps_csat_survey()
            changed.name = "surveys/s-c"
            changed.title.CopyFrom(text("新标题", "New title"))
            await h.stub.UpdateSurvey(
                feedback_service_pb2.UpdateSurveyRequest(
                    survey=changed, update_mask=field_mask_pb2.FieldMask(paths=["title"])
                ),
                metadata=h.ops(),
            )
            await h.stub.DeleteSurvey(
                feedback_service_pb2.DeleteSurveyRequest(name="surveys/s-b"), metadata=h.ops()
            )
            listed, count = await pages(
                lambda r: h.stub.ListSurveys(r, metadata=h.rm()),
                feedback_service_pb2.ListSurveysRequest(), "surveys", page_size=2,
            )
        assert [(s.name, s.version) for s in listed] == [
            ("surveys/s-a", 1), ("surveys/s-c", 2), ("surveys/s-d", 1)
        ]
        assert listed[1].title.en == "New title"
        assert count == 2


class TestScorecardPages:
    async def test_computed_and_frozen_scorecards_page_by_subject(self, store_url, identity):
        async with feedback_service(store_url, identity, now=utc(2026, 10, 5)) as h:
            await five_rms_with_warnings(h)

            async def call(request):
                return await h.stub.ListScorecards(request, metadata=h.ops())

            def request():
                return feedback_service_pb2.ListScorecardsRequest(period="2026-Q3")

            computed, computed_pages = await pages(call, request(), "scorecards", page_size=2)
            whole = await call(request())
            await h.stub.SnapshotKpiPeriod(
                feedback_service_pb2.SnapshotKpiPeriodRequest(period="2026-Q3"), metadata=h.ops()
            )
            frozen, frozen_pages = await pages(call, request(), "scorecards", page_size=2)
        assert [card.subject for card in computed] == RMS
        assert computed_pages == frozen_pages == 3
        assert list(whole.scorecards) == computed and not whole.next_page_token
        assert [card.subject for card in frozen] == RMS
        assert all(card.frozen for card in frozen)

    async def test_team_scope_pages_too(self, sqlite_url, identity):
        async with feedback_service(sqlite_url, identity, now=utc(2026, 10, 5)) as h:
            await five_rms_with_warnings(h)
            teams, count = await pages(
                lambda r: h.stub.ListScorecards(r, metadata=h.ops()),
                feedback_service_pb2.ListScorecardsRequest(
                    period="2026-Q3", scope=kpi_pb2.KPI_SCOPE_TEAM
                ),
                "scorecards", page_size=1,
            )
        assert [card.subject for card in teams] == ["teams/t1"]
        assert count == 1


class TestApprovalPages:
    async def test_statistics_and_bottlenecks_page_through_every_group(
        self, sqlite_url, identity
    ):
        data = generate_approval_events(n_cases=200, seed=11)
        async with feedback_service(sqlite_url, identity) as h:
            await record_stage_events(
                h.stub, list(data.delivered), metadata=h.system("systems/loan-origination")
            )

            async def stats(request):
                return await h.stub.ListStageStatistics(request, metadata=h.ops())

            async def ranks(request):
                return await h.stub.ListBottlenecks(request, metadata=h.ops())

            first = await stats(
                feedback_service_pb2.ListStageStatisticsRequest(group_by=BY_BRANCH_AND_PRODUCT)
            )
            rest = await stats(
                feedback_service_pb2.ListStageStatisticsRequest(
                    group_by=BY_BRANCH_AND_PRODUCT, page_token=first.next_page_token
                )
            )
            all_stats, stat_pages = await pages(
                stats,
                feedback_service_pb2.ListStageStatisticsRequest(group_by=BY_BRANCH_AND_PRODUCT),
                "statistics", page_size=500,
            )
            paged_stats, _ = await pages(
                stats,
                feedback_service_pb2.ListStageStatisticsRequest(group_by=BY_BRANCH_AND_PRODUCT),
                "statistics", page_size=7,
            )
            all_ranks, _ = await pages(
                ranks,
                feedback_service_pb2.ListBottlenecksRequest(group_by=BY_BRANCH_AND_PRODUCT),
                "bottlenecks", page_size=500,
            )
            paged_ranks, rank_pages = await pages(
                ranks,
                feedback_service_pb2.ListBottlenecksRequest(group_by=BY_BRANCH_AND_PRODUCT),
                "bottlenecks", page_size=10,
            )
        # 4 branches x 3 products x 7 stages: more than one default page.
        assert len(all_stats) > 50 and stat_pages == 1
        assert len(first.statistics) == 50 and first.next_page_token
        assert list(first.statistics) + list(rest.statistics) == all_stats
        assert not rest.next_page_token
        assert first.case_count == rest.case_count == 200
        assert paged_stats == all_stats
        assert paged_ranks == all_ranks and rank_pages == -(-len(all_ranks) // 10)
