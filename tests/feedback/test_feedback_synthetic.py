"""Tests on synthetic data with planted truth: slow stages, messy delivery, known NPS."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import cache

import pytest

from crm_feedback.domain.approvals import (
    Stage,
    StageEvent,
    bottlenecks,
    reconstruct_cases,
    stage_stats,
    trend,
)
from crm_feedback.domain.metrics import aggregate
from crm_feedback.domain.themes import themes_of
from crm_sim.feedback.report import render_report
from crm_sim.feedback.world import (
    SyntheticApprovals,
    generate_approval_events,
    generate_survey_answers,
)

PLANTS = [
    ("chengdu", "credit_review", 3.0, 7),
    ("shanghai", "contract", 4.0, 21),
    ("wuhan", "approval", 8.0, 99),
]


@cache
def generated(branch: str, stage: Stage, factor: float, seed: int) -> SyntheticApprovals:
    return generate_approval_events(n_cases=240, slow_branch=branch, slow_stage=stage,
                                    slowdown=factor, seed=seed)


def independent_p90(data: SyntheticApprovals, branch: str, stage: str) -> timedelta:
    """Recompute the stage's p90 total time from the clean event list, by hand."""
    totals: list[timedelta] = []
    by_case: dict[str, list[StageEvent]] = {}
    for event in data.clean:
        if event.branch == branch:
            by_case.setdefault(event.case_id, []).append(event)
    for events in by_case.values():
        last_completion: datetime | None = None
        handover: datetime | None = None
        entered_at = events[0].at
        for event in sorted(events, key=lambda e: e.at):
            if event.kind == "entered" and event.stage == stage:
                handover = last_completion
                entered_at = event.at
            if event.kind == "completed":
                if event.stage == stage:
                    totals.append(event.at - (handover or entered_at))
                last_completion = event.at
    totals.sort()
    return totals[math.ceil(0.9 * len(totals)) - 1]


class TestPlantedBottleneck:
    @pytest.mark.parametrize(("branch", "stage", "factor", "seed"), PLANTS)
    def test_planted_stage_ranks_first_in_its_branch(
        self, branch: str, stage: Stage, factor: float, seed: int
    ) -> None:
        """The planted slow stage is the slowest of its branch, with its p90 reported."""
        data = generated(branch, stage, factor, seed)
        ranked = bottlenecks(stage_stats(reconstruct_cases(data.delivered), by=("branch",)))
        top = next(b for b in ranked if b.group == (branch,) and b.rank == 1)
        assert top.stage == stage
        assert top.total_p90 == independent_p90(data, branch, stage)

    @pytest.mark.parametrize(("branch", "stage", "factor", "seed"), PLANTS)
    def test_other_branches_are_not_slow_there(
        self, branch: str, stage: Stage, factor: float, seed: int
    ) -> None:
        """Elsewhere the planted stage is not first and its p90 is much lower."""
        data = generated(branch, stage, factor, seed)
        ranked = bottlenecks(stage_stats(reconstruct_cases(data.delivered), by=("branch",)))
        planted = next(b for b in ranked if b.group == (branch,) and b.stage == stage)
        for item in ranked:
            if item.group != (branch,) and item.stage == stage:
                assert item.rank > 1
                assert item.total_p90 * 1.5 < planted.total_p90

    def test_messy_delivery_equals_clean_delivery(self) -> None:
        """Duplicated, shuffled events give the same timelines and stats as clean ones."""
        data = generated(*PLANTS[0])
        assert len(data.delivered) > len(data.clean)
        assert [e.at for e in data.delivered] != sorted(e.at for e in data.delivered)
        messy, clean = reconstruct_cases(data.delivered), reconstruct_cases(data.clean)
        assert messy == clean
        assert stage_stats(messy, by=("branch", "product")) == stage_stats(
            clean, by=("branch", "product"))
        assert all(not case.anomalies for case in clean.values())
        assert sum(case.rework_count for case in clean.values()) > 0

    def test_generation_is_deterministic(self) -> None:
        """The same parameters give the same events; another seed does not."""
        first = generate_approval_events(n_cases=20, seed=5)
        assert first == generate_approval_events(n_cases=20, seed=5)
        assert first.clean != generate_approval_events(n_cases=20, seed=6).clean

    def test_trend_flags_only_the_planted_slowdown(self) -> None:
        """Same seed without and with the slowdown: only the planted stage gets slower."""
        normal = generate_approval_events(n_cases=120, slowdown=1.0, seed=3)
        slowed = generate_approval_events(n_cases=120, slowdown=3.0, seed=3)
        rows = trend(stage_stats(reconstruct_cases(normal.clean)),
                     stage_stats(reconstruct_cases(slowed.clean)))
        changed = [(r.group, r.stage, r.direction) for r in rows if r.direction != "unchanged"]
        assert changed == [(("chengdu",), "credit_review", "slower")]

    def test_bad_plant_raises(self) -> None:
        """The planted branch must be one of the branches."""
        with pytest.raises(ValueError, match="slow_branch"):
            generate_approval_events(slow_branch="lhasa")


class TestSyntheticSurvey:
    def test_known_nps_is_recovered(self) -> None:
        """Aggregating the generated rows gives exactly the planted NPS and counts."""
        survey = generate_survey_answers(promoters=70, passives=20, detractors=30,
                                         unanswered=40)
        (total,) = aggregate(survey.rows, by=()).values()
        assert total.nps.nps == pytest.approx(survey.expected_nps)
        assert survey.expected_nps == pytest.approx(100 * (70 - 30) / 120)
        assert (total.nps.promoters, total.nps.passives, total.nps.detractors) == (70, 20, 30)
        assert total.response_rate == pytest.approx(120 / 160)

    def test_all_detractors_survey(self) -> None:
        """A survey of only detractors has NPS -100 overall and in every RM group."""
        survey = generate_survey_answers(promoters=0, passives=0, detractors=40, unanswered=0)
        groups = aggregate(survey.rows, by=("rm_id",))
        assert {g.nps.nps for g in groups.values()} == {-100.0}

    def test_comments_carry_their_themes(self) -> None:
        """Each generated comment has exactly the themes it was planted with."""
        survey = generate_survey_answers()
        assert survey.comments
        for text, themes in survey.comments:
            assert themes_of(text) == list(themes)

    def test_report_names_the_planted_stage(self) -> None:
        """The command-line report lists the planted stage first for its branch."""
        report = render_report(seed=7)
        assert "chengdu    #1 credit_review" in report
        assert "planted NPS 45.0" in report
