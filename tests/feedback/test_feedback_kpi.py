"""Tests for RM KPI scorecards: figures recomputed from raw inputs, renormalising, ranking."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm_feedback.domain.kpi import (
    KPI_WEIGHTS,
    KpiInputs,
    RankEntry,
    Scorecard,
    WarningRecord,
    rank,
    scorecard,
    warning_response,
)
from crm_feedback.domain.metrics import csat, nps

AS_OF = datetime(2026, 10, 1, tzinfo=UTC)
NPS_SCORES = [10] * 6 + [8] * 2 + [3] * 2
CSAT_SCORES = [5, 5, 4, 3, 2]


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


WARNINGS = [
    # acked in 2 h (SLA 4 h), resolved in 2 days (SLA 5 days): both within SLA.
    WarningRecord("yellow", at(9, 1), at(9, 1, 2), at(9, 3), timedelta(hours=4),
                  timedelta(days=5)),
    # acked in 10 h (SLA 8 h), resolved in 15 days (SLA 5 days): both breached.
    WarningRecord("orange", at(9, 5), at(9, 5, 10), at(9, 20), timedelta(hours=8),
                  timedelta(days=5)),
    # acked in 1 h (SLA 24 h); never resolved and the 10-day SLA ran out: resolve breach.
    WarningRecord("yellow", at(9, 10), at(9, 10, 1), None, timedelta(hours=24),
                  timedelta(days=10)),
    # never acked, 24 h SLA ran out: ack breach; resolve SLA still running: pending.
    WarningRecord("yellow", at(9, 28), None, None, timedelta(hours=24), timedelta(days=10)),
    # raised 12 h before as_of with a 1-day SLA: pending on both.
    WarningRecord("blue", at(9, 30, 12), None, None, timedelta(days=1), timedelta(days=10)),
]


def make_inputs(**changes: object) -> KpiInputs:
    inputs = KpiInputs(
        rm_id="rm-07",
        period="2026-Q3",
        as_of=AS_OF,
        nps=nps(NPS_SCORES),
        csat=csat(CSAT_SCORES),
        warnings=WARNINGS,
        followups_planned=8,
        followups_on_time=6,
        exposure_start=Decimal("100000000"),
        exposure_end=Decimal("110000000"),
        grade_upgrades=1,
        grade_downgrades=3,
        npl_share=0.01,
    )
    return replace(inputs, **changes)  # type: ignore[arg-type]


def independent_scores() -> dict[str, float]:
    """Recompute every component score from the raw inputs, without the domain code."""
    promoters = sum(1 for s in NPS_SCORES if s >= 9)
    detractors = sum(1 for s in NPS_SCORES if s <= 6)
    nps_value = 100 * (promoters - detractors) / len(NPS_SCORES)
    csat_share = sum(1 for s in CSAT_SCORES if s >= 4) / len(CSAT_SCORES)
    ack_ok = ack_n = res_ok = res_n = 0
    for w in WARNINGS:
        if w.acknowledged_at is not None:
            ack_n += 1
            ack_ok += (w.acknowledged_at - w.raised_at) <= w.sla_ack
        elif w.raised_at + w.sla_ack <= AS_OF:
            ack_n += 1
        if w.resolved_at is not None:
            res_n += 1
            res_ok += (w.resolved_at - w.raised_at) <= w.sla_resolve
        elif w.raised_at + w.sla_resolve <= AS_OF:
            res_n += 1
    growth = (110_000_000 - 100_000_000) / 100_000_000
    return {
        "nps": (nps_value + 100) / 2,
        "csat": 100 * csat_share,
        "warning_ack": 100 * ack_ok / ack_n,
        "warning_resolve": 100 * res_ok / res_n,
        "followup_on_time": 100 * 6 / 8,
        "portfolio_growth": min(100.0, max(0.0, 50 + 50 * growth / 0.20)),
        "grade_migration": 50 * (1 + (1 - 3) / (1 + 3)),
        "npl": min(100.0, max(0.0, 100 * (1 - 0.01 / 0.05))),
    }


class TestWarningResponse:
    def test_shares_and_median_ack(self) -> None:
        """2 of 4 decided acks and 1 of 3 decided resolutions met SLA; median ack is 2 h."""
        response = warning_response(WARNINGS, as_of=AS_OF)
        assert (response.n, response.ack_measured, response.acked_within_sla) == (5, 4, 2)
        assert response.ack_within_sla_share == 0.5
        assert (response.resolve_measured, response.resolved_within_sla) == (3, 1)
        assert response.resolved_within_sla_share == pytest.approx(1 / 3)
        assert response.median_ack == timedelta(hours=2)

    def test_no_warnings(self) -> None:
        """Without warnings nothing is measured."""
        response = warning_response([], as_of=AS_OF)
        assert response.ack_within_sla_share is None and response.median_ack is None

    def test_ack_before_raise_is_rejected(self) -> None:
        """An acknowledgement before the warning was raised is impossible."""
        bad = replace(WARNINGS[0], acknowledged_at=at(8, 31))
        with pytest.raises(ValueError, match="before raised_at"):
            warning_response([bad], as_of=AS_OF)


class TestScorecard:
    def test_components_match_independent_recomputation(self) -> None:
        """Every component score and the total equal figures recomputed from raw inputs."""
        card = scorecard(make_inputs())
        expected = independent_scores()
        weights = KPI_WEIGHTS["KPI-2026.1"]
        for name, score in expected.items():
            assert card.components[name].score_0_100 == pytest.approx(score), name
            assert card.components[name].weight == weights[name]
        expected_total = sum(expected[n] * weights[n] for n in expected) / sum(weights.values())
        assert card.total == pytest.approx(expected_total)
        assert card.total == pytest.approx(60.5)
        assert (card.rm_id, card.period, card.version) == ("rm-07", "2026-Q3", "KPI-2026.1")

    def test_component_values_are_the_raw_measures(self) -> None:
        """Values are NPS points, shares, growth and net migration, not scores."""
        components = scorecard(make_inputs()).components
        assert components["nps"].value == 40.0
        assert components["csat"].value == 0.6
        assert components["portfolio_growth"].value == pytest.approx(0.10)
        assert components["grade_migration"].value == -0.5
        assert components["npl"].value == 0.01

    def test_weights_sum_to_one(self) -> None:
        """The configured weights of every version sum to 1."""
        for weights in KPI_WEIGHTS.values():
            assert sum(weights.values()) == pytest.approx(1.0)

    def test_scales_clamp(self) -> None:
        """Growth of +50 % scores 100, -50 % scores 0; NPL of 8 % scores 0."""
        up = scorecard(make_inputs(exposure_end=Decimal("150000000"), npl_share=0.08))
        assert up.components["portfolio_growth"].score_0_100 == 100.0
        assert up.components["npl"].score_0_100 == 0.0
        down = scorecard(make_inputs(exposure_end=Decimal("50000000")))
        assert down.components["portfolio_growth"].score_0_100 == 0.0

    def test_unmeasured_components_are_renormalised_away(self) -> None:
        """Components without data have None scores and the rest are re-weighted."""
        card = scorecard(
            make_inputs(nps=nps([]), csat=csat([]), warnings=[], grade_upgrades=0,
                        grade_downgrades=0, exposure_start=Decimal(0))
        )
        present = {n for n, c in card.components.items() if c.score_0_100 is not None}
        assert present == {"followup_on_time", "npl"}
        assert card.components["nps"].value is None
        assert card.total == pytest.approx((0.15 * 75 + 0.10 * 80) / 0.25)

    def test_nothing_measured_gives_no_total(self) -> None:
        """With no data at all the total is None."""
        card = scorecard(
            make_inputs(nps=nps([]), csat=csat([]), warnings=[], followups_planned=0,
                        followups_on_time=0, grade_upgrades=0, grade_downgrades=0,
                        exposure_start=Decimal(0), npl_share=None)
        )
        assert card.total is None

    @pytest.mark.parametrize(
        "changes",
        [{"followups_on_time": 9}, {"grade_upgrades": -1}, {"npl_share": 1.5},
         {"exposure_end": Decimal(-1)}],
    )
    def test_impossible_inputs_raise(self, changes: dict[str, object]) -> None:
        """Counts and shares that cannot be right are rejected."""
        with pytest.raises(ValueError, match="must"):
            scorecard(make_inputs(**changes))

    def test_unknown_version_raises(self) -> None:
        """Only configured weight versions can be used."""
        with pytest.raises(ValueError, match="unknown KPI version"):
            scorecard(make_inputs(), version="KPI-1999.1")


def card(rm_id: str, total: float | None, version: str = "KPI-2026.1") -> Scorecard:
    return Scorecard(rm_id, "2026-Q3", {}, total, version)


class TestRank:
    def test_highest_first_with_rm_id_tie_break(self) -> None:
        """Equal totals rank by rm_id; totals without data come last."""
        cards = [card("rm-c", 70.0), card("rm-a", None), card("rm-b", 70.0),
                 card("rm-d", 81.5), card("rm-e", 0.1 + 0.2)]
        assert rank(cards) == [
            RankEntry(1, "rm-d", 81.5),
            RankEntry(2, "rm-b", 70.0),
            RankEntry(3, "rm-c", 70.0),
            RankEntry(4, "rm-e", 0.1 + 0.2),
            RankEntry(5, "rm-a", None),
        ]

    def test_float_noise_does_not_break_ties(self) -> None:
        """Totals equal up to float rounding tie and fall back to rm_id."""
        assert [e.rm_id for e in rank([card("rm-z", 0.3), card("rm-y", 0.1 + 0.2)])] == [
            "rm-y", "rm-z"]

    def test_ranking_is_order_independent(self) -> None:
        """Shuffled input gives the same ranking."""
        cards = [card(f"rm-{i}", float(i % 3)) for i in range(9)]
        assert rank(cards) == rank(list(reversed(cards)))

    def test_mixed_versions_and_duplicates_raise(self) -> None:
        """Scorecards of different versions or repeated RMs cannot be ranked together."""
        with pytest.raises(ValueError, match="one KPI version"):
            rank([card("a", 1.0), card("b", 2.0, version="KPI-2027.1")])
        with pytest.raises(ValueError, match="only once"):
            rank([card("a", 1.0), card("a", 2.0)])
