"""Tests for approval timelines, stage statistics, bottlenecks and trends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_feedback.domain.approvals import (
    APPROVAL_SLAS,
    StageEvent,
    StageStat,
    bottlenecks,
    reconstruct_cases,
    stage_stats,
    trend,
)

BASE = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def case_events(
    case_id: str, spans: list[tuple[str, float, float | None]], *, branch: str = "shanghai",
    product: str = "working_capital",
) -> list[StageEvent]:
    """Build events for one case from (stage, entered hour, completed hour or None)."""
    events: list[StageEvent] = []
    for index, (stage, entered, completed) in enumerate(spans):
        events.append(StageEvent(f"{case_id}-{index}-in", case_id, branch, product, stage,  # type: ignore[arg-type]
                                 "entered", BASE + entered * H, "alice"))
        if completed is not None:
            events.append(StageEvent(f"{case_id}-{index}-out", case_id, branch, product,
                                     stage, "completed", BASE + completed * H, "bob"))  # type: ignore[arg-type]
    return events


REWORK_CASE = case_events(
    "c1",
    [
        ("application_received", 0, 2),
        ("due_diligence", 5, 29),
        ("credit_review", 30, 40),
        ("committee", 48, 50),
        ("due_diligence", 52, 60),
        ("credit_review", 61, 63),
        ("committee", 64, None),
    ],
)


class TestReconstructCases:
    def test_waits_processing_and_rework(self) -> None:
        """Waits run from the last hand-over; repeated stages are rework loops."""
        timeline = reconstruct_cases(REWORK_CASE)["c1"]
        summary = [(v.stage, v.visit_index, v.wait, v.processing) for v in timeline.visits]
        assert summary == [
            ("application_received", 0, None, 2 * H),
            ("due_diligence", 0, 3 * H, 24 * H),
            ("credit_review", 0, 1 * H, 10 * H),
            ("committee", 0, 8 * H, 2 * H),
            ("due_diligence", 1, 2 * H, 8 * H),
            ("credit_review", 1, 1 * H, 2 * H),
            ("committee", 1, 1 * H, None),
        ]
        assert timeline.rework_count == 3
        assert not timeline.disbursed
        assert timeline.visits[1].total == 27 * H
        assert timeline.visits[-1].total is None
        assert timeline.anomalies == ()
        assert (timeline.visits[0].entered_by, timeline.visits[0].completed_by) == ("alice", "bob")
        assert timeline.visits[-1].completed_by is None

    def test_duplicates_and_reversed_order_change_nothing(self) -> None:
        """Copies of events and reversed delivery give the same timelines."""
        messy = list(reversed(REWORK_CASE)) + REWORK_CASE[:5] + REWORK_CASE[-3:]
        assert reconstruct_cases(messy) == reconstruct_cases(REWORK_CASE)

    @settings(max_examples=100, deadline=None)
    @given(st.data())
    def test_any_delivery_order_with_duplicates_gives_the_same_result(
        self, data: st.DataObject
    ) -> None:
        """Every permutation of the events plus duplicates reconstructs identically."""
        clean = REWORK_CASE + case_events(
            "c2", [("application_received", 1, 1), ("due_diligence", 1, 9)], branch="wuhan")
        delivered = data.draw(st.permutations(clean))
        extra = data.draw(st.lists(st.sampled_from(clean), max_size=10))
        assert reconstruct_cases(delivered + extra) == reconstruct_cases(clean)

    def test_zero_length_visit_pairs_entry_before_completion(self) -> None:
        """An entry and completion at the same instant form one zero-length visit."""
        events = case_events("c", [("application_received", 1, 1), ("due_diligence", 1, 4)])
        visits = reconstruct_cases(reversed(events))["c"].visits
        assert [(v.wait, v.processing) for v in visits] == [(None, 0 * H), (0 * H, 3 * H)]

    def test_orphan_completion_and_double_entry_are_recorded(self) -> None:
        """Unpaired events are ignored and noted as anomalies, not guessed at."""
        events = case_events("c", [("application_received", 0, 1), ("due_diligence", 2, 10)])
        events.append(StageEvent("x1", "c", "shanghai", "working_capital", "due_diligence",
                                 "entered", BASE + 3 * H, "carol"))
        events.append(StageEvent("x2", "c", "shanghai", "working_capital", "credit_review",
                                 "completed", BASE + 12 * H, "carol"))
        timeline = reconstruct_cases(events)["c"]
        assert [v.stage for v in timeline.visits] == ["application_received", "due_diligence"]
        assert timeline.visits[1].processing == 8 * H
        assert len(timeline.anomalies) == 2
        assert "entered again" in timeline.anomalies[0]
        assert "without an entry" in timeline.anomalies[1]

    def test_conflicting_copies_resolve_independently_of_order(self) -> None:
        """Two different events under one id: the same copy wins in any order."""
        first = StageEvent("e1", "c", "shanghai", "p", "application_received", "entered",
                           BASE, "a")
        second = StageEvent("e1", "c", "shanghai", "p", "application_received", "entered",
                            BASE + H, "a")
        one = reconstruct_cases([first, second])
        assert one == reconstruct_cases([second, first])
        assert one["c"].visits[0].entered_at == BASE
        assert one["c"].anomalies == ("conflicting copies of event e1",)

    def test_invalid_events_raise(self) -> None:
        """Unknown stages and naive timestamps are rejected."""
        bad_stage = StageEvent("e", "c", "b", "p", "lunch", "entered", BASE, "a")  # type: ignore[arg-type]
        naive = StageEvent("e", "c", "b", "p", "contract", "entered",
                           datetime(2026, 1, 1), "a")
        for event in (bad_stage, naive):
            with pytest.raises(ValueError, match="event e"):
                reconstruct_cases([event])


def review_cases() -> list[StageEvent]:
    """Ten cases whose credit review takes 1..10 hours right after due diligence."""
    events: list[StageEvent] = []
    for hours in range(1, 11):
        events += case_events(
            f"k{hours:02d}",
            [("due_diligence", 0, 5), ("credit_review", 5, 5 + hours)],
            product="fixed_asset" if hours % 2 else "working_capital",
        )
    return events


class TestStageStats:
    def test_nearest_rank_percentiles_and_breaches(self) -> None:
        """Processing 1..10 h: p50 5 h, p90 9 h; an 8 h SLA is breached twice."""
        stats = stage_stats(reconstruct_cases(review_cases()), by=(),
                            sla={"credit_review": 8 * H})
        review = next(s for s in stats if s.stage == "credit_review")
        assert (review.group, review.n, review.measured) == ((), 10, 10)
        assert (review.proc_p50, review.proc_p90) == (5 * H, 9 * H)
        assert (review.wait_p50, review.wait_p90) == (0 * H, 0 * H)
        assert (review.total_p50, review.total_p90) == (5 * H, 9 * H)
        assert (review.sla_breaches, review.breach_rate) == (2, 0.2)
        diligence = next(s for s in stats if s.stage == "due_diligence")
        assert diligence.wait_p50 is None and diligence.breach_rate is None

    def test_group_by_branch_and_product(self) -> None:
        """Groups split by product; odd hours are fixed_asset."""
        stats = stage_stats(reconstruct_cases(review_cases()).values(),
                            by=("branch", "product"))
        groups = sorted({s.group for s in stats})
        assert groups == [("shanghai", "fixed_asset"), ("shanghai", "working_capital")]
        fixed = next(s for s in stats if s.group == groups[0] and s.stage == "credit_review")
        assert fixed.proc_p90 == 9 * H  # 1,3,5,7,9 → rank ceil(4.5) = 5
        assert fixed.proc_p50 == 5 * H  # rank ceil(2.5) = 3

    def test_rework_is_counted_per_stage(self) -> None:
        """Rework visits count on the stage that was repeated."""
        stats = stage_stats(reconstruct_cases(REWORK_CASE))
        rework = {s.stage: s.rework_count for s in stats}
        assert rework == {"application_received": 0, "due_diligence": 1, "credit_review": 1,
                          "committee": 1}
        committee = next(s for s in stats if s.stage == "committee")
        assert (committee.n, committee.measured) == (2, 1)

    def test_default_sla_version_and_bad_arguments(self) -> None:
        """Defaults come from the versioned SLA table; bad by/sla raise."""
        assert APPROVAL_SLAS["SLA-2026.1"]["credit_review"] == timedelta(days=5)
        with pytest.raises(ValueError, match="by must be"):
            stage_stats([], by=("rm_id",))
        with pytest.raises(ValueError, match="unknown stages"):
            stage_stats([], sla={"lunch": H})


def stat(group: str, stage: str, p90: float | None, p50: float | None = None) -> StageStat:
    p90_td = None if p90 is None else p90 * H
    p50_td = None if p50 is None else p50 * H
    return StageStat((group,), stage, 5, 5, None, None, None, None, p50_td, p90_td, 0, 0, None)


class TestBottlenecksAndTrend:
    def test_ranked_within_groups_slowest_first(self) -> None:
        """Stages rank by p90 within each group; ties by p50 then stage order."""
        stats = [stat("b", "contract", 10, 5), stat("a", "committee", 30),
                 stat("a", "approval", 50), stat("b", "approval", 10, 7),
                 stat("b", "due_diligence", 10, 7), stat("a", "contract", None)]
        ranked = [(b.group, b.rank, b.stage, b.total_p90) for b in bottlenecks(stats)]
        assert ranked == [
            (("a",), 1, "approval", 50 * H),
            (("a",), 2, "committee", 30 * H),
            (("b",), 1, "due_diligence", 10 * H),
            (("b",), 2, "approval", 10 * H),
            (("b",), 3, "contract", 10 * H),
        ]

    def test_trend_directions(self) -> None:
        """Moves beyond 10 % are slower/faster; one-sided stages are new/gone."""
        before = [stat("a", "committee", 10), stat("a", "approval", 10),
                  stat("a", "contract", 10), stat("a", "disbursement", 5)]
        after = [stat("a", "committee", 15), stat("a", "approval", 8),
                 stat("a", "contract", 10.5), stat("a", "due_diligence", 3)]
        rows = {row.stage: (row.direction, row.relative_change) for row in trend(before, after)}
        expected = {"committee": ("slower", 0.5), "approval": ("faster", -0.2),
                    "contract": ("unchanged", 0.05)}
        for stage, (direction, change) in expected.items():
            assert rows[stage][0] == direction
            assert rows[stage][1] == pytest.approx(change)
        assert rows["disbursement"][0] == "gone"
        assert rows["due_diligence"][0] == "new"
        assert [r.stage for r in trend(before, after)] == [
            "due_diligence", "committee", "approval", "contract", "disbursement"]
