"""Approval-process analytics through the service: ingest, dedupe, bottlenecks, trends."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from feedback_harness import details, feedback_service

from crm.feedback.v1 import approval_pb2, feedback_service_pb2
from crm_feedback.domain.approval_timelines import StageEvent
from crm_sim.feedback.wire import record_stage_events, stage_event
from crm_sim.feedback.world import generate_approval_events

BRANCH = [approval_pb2.APPROVAL_DIMENSION_BRANCH]


async def ingest(h, events, batch: int = 500) -> tuple[int, int]:
    """Send events through RecordStageEvents as loan origination; return (recorded, dups)."""
    return await record_stage_events(
        h.stub, events, metadata=h.system("systems/loan-origination"), batch=batch
    )


def hand_p90_hours(clean: tuple[StageEvent, ...], branch: str, stage: str) -> float:
    """Recompute a stage's p90 total time (wait + processing) from the clean events.

    Cases move through stages one after another, so a visit's wait starts at the previous
    completion in its case; p90 is the nearest-rank value (rank ceil(0.9 n)).
    """
    by_case: dict[str, list[StageEvent]] = defaultdict(list)
    for event in clean:
        by_case[event.case_id].append(event)
    totals: list[timedelta] = []
    for events in by_case.values():
        events.sort(key=lambda e: (e.at, e.kind != "entered"))
        last_completion = None
        entered_at = None
        for event in events:
            if event.kind == "entered":
                entered_at = event.at
                continue
            if event.branch == branch and event.stage == stage:
                start = last_completion if last_completion is not None else entered_at
                totals.append(event.at - start)
            last_completion = event.at
    totals.sort()
    rank = -(-9 * len(totals) // 10)
    return totals[rank - 1].total_seconds() / 3600


class TestPlantedBottleneck:
    async def test_planted_slow_stage_ranks_first_in_its_branch(self, store_url, identity):
        """Credit review planted 3x slower in chengdu is chengdu's #1 bottleneck, with its p90."""
        data = generate_approval_events(n_cases=400, seed=7)
        async with feedback_service(store_url, identity) as h:
            recorded, duplicates = await ingest(h, list(data.delivered))
            assert recorded == len(data.clean)
            assert duplicates == len(data.delivered) - len(data.clean)
            reply = await h.stub.ListBottlenecks(
                feedback_service_pb2.ListBottlenecksRequest(group_by=BRANCH, top=3),
                metadata=h.ops(),
            )
        first = {b.branch: b for b in reply.bottlenecks if b.rank == 1}
        assert set(first) == {"shanghai", "shenzhen", "chengdu", "wuhan"}
        slow = first[data.planted.branch]
        assert slow.stage == approval_pb2.APPROVAL_STAGE_CREDIT_REVIEW
        p90_hours = slow.total_p90.ToTimedelta().total_seconds() / 3600
        assert p90_hours == pytest.approx(hand_p90_hours(data.clean, "chengdu", "credit_review"))
        # Elsewhere due diligence (8 h wait + 48 h work) stays the slowest stage.
        for branch in ("shanghai", "shenzhen", "wuhan"):
            assert first[branch].stage == approval_pb2.APPROVAL_STAGE_DUE_DILIGENCE
            assert first[branch].total_p90.ToTimedelta() < slow.total_p90.ToTimedelta() / 2
        print(  # Figures for the report (pytest -s).
            f"\nchengdu #1 {approval_pb2.ApprovalStage.Name(slow.stage)} p90={p90_hours:.1f}h "
            f"p50={slow.total_p50.ToTimedelta().total_seconds() / 3600:.1f}h "
            f"n={slow.measured_count} breach={slow.breach_rate:.2f}; others #1 p90 "
            + ", ".join(
                f"{b}={first[b].total_p90.ToTimedelta().total_seconds() / 3600:.1f}h"
                for b in ("shanghai", "shenzhen", "wuhan")
            )
        )

    async def test_redelivery_and_order_do_not_change_statistics(self, sqlite_url, identity):
        """Reversed order and a second full delivery give the same statistics; nothing new."""
        data = generate_approval_events(n_cases=120, seed=3)
        async with feedback_service(sqlite_url, identity) as h:
            await ingest(h, list(reversed(data.delivered)), batch=97)
            before = await h.stub.ListStageStatistics(
                feedback_service_pb2.ListStageStatisticsRequest(group_by=BRANCH),
                metadata=h.ops(),
            )
            recorded, duplicates = await ingest(h, list(data.clean))
            after = await h.stub.ListStageStatistics(
                feedback_service_pb2.ListStageStatisticsRequest(group_by=BRANCH),
                metadata=h.ops(),
            )
        assert (recorded, duplicates) == (0, len(data.clean))
        assert before == after
        assert before.case_count == 120
        rework = sum(s.rework_count for s in before.statistics)
        assert rework > 0  # The generator sends ~8 % of cases back from committee.


def shifted(events, prefix: str, offset: timedelta) -> list[StageEvent]:
    """Return copies with new ids and times (another batch of cases)."""
    return [
        dataclasses.replace(
            e, event_id=f"{prefix}-{e.event_id}", case_id=f"{prefix}-{e.case_id}", at=e.at + offset
        )
        for e in events
    ]


class TestPeriods:
    async def test_trend_shows_the_stage_that_got_slower(self, sqlite_url, identity):
        """Chengdu credit review normal in 2025, 3x slower in 2026: SLOWER, others unchanged-ish."""
        start = datetime(2025, 3, 1, tzinfo=UTC)
        normal = generate_approval_events(n_cases=200, seed=5, slowdown=1.0, start=start)
        slow = generate_approval_events(n_cases=200, seed=5, slowdown=3.0, start=start)
        async with feedback_service(sqlite_url, identity) as h:
            await ingest(h, shifted(normal.delivered, "a", timedelta(0)))
            await ingest(h, shifted(slow.delivered, "b", timedelta(days=365)))
            reply = await h.stub.CompareApprovalPeriods(
                feedback_service_pb2.CompareApprovalPeriodsRequest(
                    period_a="2025", period_b="2026", group_by=BRANCH
                ),
                metadata=h.ops(),
            )
            by_period = await h.stub.ListBottlenecks(
                feedback_service_pb2.ListBottlenecksRequest(
                    group_by=[*BRANCH, approval_pb2.APPROVAL_DIMENSION_PERIOD], top=1,
                    period_granularity=3,
                ),
                metadata=h.ops(),
            )
        trends = {(t.branch, t.stage): t for t in reply.trends}
        credit = trends[("chengdu", approval_pb2.APPROVAL_STAGE_CREDIT_REVIEW)]
        assert credit.direction == approval_pb2.TREND_DIRECTION_SLOWER
        assert credit.relative_change > 1.0
        # Same seed, same noise: other branches' stages did not move at all.
        unchanged = trends[("wuhan", approval_pb2.APPROVAL_STAGE_CREDIT_REVIEW)]
        assert unchanged.direction == approval_pb2.TREND_DIRECTION_UNCHANGED
        tops = {(b.branch, b.period): b.stage for b in by_period.bottlenecks}
        assert tops[("chengdu", "2025")] == approval_pb2.APPROVAL_STAGE_DUE_DILIGENCE
        assert tops[("chengdu", "2026")] == approval_pb2.APPROVAL_STAGE_CREDIT_REVIEW


class TestBadInput:
    async def test_event_without_stage_names_the_field(self, sqlite_url, identity):
        """A batch with an event lacking a stage is INVALID_ARGUMENT naming it; nothing stored."""
        data = generate_approval_events(n_cases=2, seed=1)
        good = stage_event(data.clean[0])
        bad = stage_event(data.clean[1])
        bad.ClearField("stage")
        async with feedback_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.RecordStageEvents(
                    feedback_service_pb2.RecordStageEventsRequest(events=[good, bad]),
                    metadata=h.system(),
                )
            stats = await h.stub.ListStageStatistics(
                feedback_service_pb2.ListStageStatisticsRequest(), metadata=h.ops()
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert details(caught.value)[1] == ["events[1].stage"]
        assert stats.case_count == 0

    async def test_relationship_manager_may_not_ingest_or_read(self, sqlite_url, identity):
        """Stage events come from systems; RMs get PERMISSION_DENIED for ingest and analytics."""
        async with feedback_service(sqlite_url, identity) as h:
            for call in (
                h.stub.RecordStageEvents(
                    feedback_service_pb2.RecordStageEventsRequest(), metadata=h.rm()
                ),
                h.stub.ListBottlenecks(
                    feedback_service_pb2.ListBottlenecksRequest(), metadata=h.rm()
                ),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
