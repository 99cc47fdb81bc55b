"""Rules that turn stored events into KPI inputs, and the domain additions the service uses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm_feedback.domain.followups import PlannedVisit, VisitRecord, tally
from crm_feedback.domain.kpi import COMPONENTS, KpiInputs, check_weights, scorecard
from crm_feedback.domain.kpi_sources import (
    Exposure,
    ack_sla,
    exposure_at,
    grade_move,
    grade_rank,
    resolve_sla,
)
from crm_feedback.domain.metrics import csat, nps


class TestGrades:
    def test_moves_follow_the_master_scale(self):
        """Better grade is +1, worse is -1; first ratings and unknown grades are 0."""
        assert grade_move("BBB", "A-") == 1
        assert grade_move("A", "BBB+") == -1
        assert grade_move("", "A") == 0
        assert grade_move("A", "A") == 0
        assert grade_move("ZZ", "A") == 0
        assert grade_rank("ccc") == grade_rank("CCC-C") == 17
        assert grade_move("BB", "BB-") == -1  # the notches MS-2027.1 added count too


class TestWarningSlas:
    def test_levels_have_ordered_slas(self):
        """Red is the tightest and yellow/blue the loosest; unknown levels fall back to yellow."""
        assert resolve_sla("red") == timedelta(days=3) < resolve_sla("orange") < resolve_sla("blue")
        assert ack_sla("RED") == timedelta(hours=4)
        assert ack_sla("purple") == ack_sla("yellow")


class TestExposure:
    def test_outstanding_between_disbursement_and_completion(self):
        """A facility counts from its disbursement day until the day before completion."""
        book = [
            Exposure(Decimal(10), date(2026, 1, 1), None),
            Exposure(Decimal(5), date(2026, 3, 1), date(2026, 6, 1)),
        ]
        assert exposure_at(book, date(2025, 12, 31)) == 0
        assert exposure_at(book, date(2026, 3, 1)) == 15
        assert exposure_at(book, date(2026, 6, 1)) == 10


class TestTallySince:
    def test_since_limits_plans_not_matching(self):
        """Plans before `since` drop out, but a visit still fulfils only one plan."""
        plans = [PlannedVisit(date(2026, 3, 1), "site_visit", "a"),
                 PlannedVisit(date(2026, 8, 1), "site_visit", "b")]
        visits = [VisitRecord(date(2026, 8, 3), "site_visit")]
        assert tally(plans, visits, date(2026, 10, 1)).due == 2
        window = tally(plans, visits, date(2026, 10, 1), since=date(2026, 7, 1))
        # The one visit fulfils the earliest open plan (March, late); August stays open.
        assert (window.due, window.on_time, window.overdue) == (1, 0, 1)


class TestConfiguredWeights:
    def _inputs(self) -> KpiInputs:
        return KpiInputs(
            rm_id="staff/x", period="2026-Q3", as_of=datetime(2026, 10, 1, tzinfo=UTC),
            nps=nps([10, 0]), csat=csat([5, 5]), warnings=(), followups_planned=0,
            followups_on_time=0, exposure_start=Decimal(0), exposure_end=Decimal(0),
            grade_upgrades=0, grade_downgrades=0, npl_share=None,
        )

    def test_custom_weights_replace_the_versions(self):
        """All weight on CSAT makes the total the CSAT score, under the custom label."""
        weights = dict.fromkeys(COMPONENTS, 0.0) | {"csat": 1.0}
        card = scorecard(self._inputs(), version="bank-2026", weights=weights)
        assert (card.total, card.version) == (100.0, "bank-2026")

    def test_weights_must_name_every_component(self):
        """Missing components or negative weights are rejected."""
        with pytest.raises(ValueError, match="components"):
            check_weights({"nps": 1.0})
        with pytest.raises(ValueError, match="non-negative"):
            check_weights(dict.fromkeys(COMPONENTS, 0.0) | {"nps": -1.0})
