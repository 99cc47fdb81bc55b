"""Tests for post-loan follow-up plans, overdue detection and visit validation."""

from __future__ import annotations

from datetime import date

import pytest

from crm_feedback.domain.followups import (
    FollowupTally,
    Milestone,
    PlannedVisit,
    VisitRecord,
    add_months,
    match_visits,
    overdue,
    plan_followups,
    tally,
    validate_visit,
)

START = date(2026, 1, 31)
MATURITY = date(2027, 1, 31)


def project_plan(tier: str = "medium") -> list[PlannedVisit]:
    return plan_followups(
        facility_type="project_finance",
        disbursed_on=START,
        maturity=MATURITY,
        milestones=[Milestone("foundation", date(2026, 6, 15)),
                    Milestone("topping_out", date(2026, 11, 20))],
        risk_tier=tier,
    )


class TestPlanFollowups:
    def test_project_finance_quarterly_site_visits_and_milestones(self) -> None:
        """Quarterly site visits from disbursement, month-end clamped, plus milestone checks."""
        plans = project_plan()
        assert [(p.due, p.kind) for p in plans] == [
            (date(2026, 4, 30), "site_visit"),
            (date(2026, 6, 15), "milestone_check"),
            (date(2026, 7, 31), "site_visit"),
            (date(2026, 10, 31), "site_visit"),
            (date(2026, 11, 20), "milestone_check"),
        ]
        assert plans[1].milestone == "foundation"
        assert "every 3 months" in plans[0].reason

    def test_higher_tiers_are_visited_more_often(self) -> None:
        """High risk visits every 2 months; the watch list monthly (before maturity)."""
        high = [p for p in project_plan("high") if p.kind == "site_visit"]
        watch = [p for p in project_plan("watch") if p.kind == "site_visit"]
        assert [p.due for p in high] == [date(2026, m, d) for m, d in
                                         ((3, 31), (5, 31), (7, 31), (9, 30), (11, 30))]
        assert len(watch) == 11
        assert watch[0].due == date(2026, 2, 28)

    def test_working_capital_gets_semiannual_progress_checks(self) -> None:
        """A one-year working-capital loan gets one check at six months (medium tier)."""
        plans = plan_followups(facility_type="working_capital", disbursed_on=date(2026, 3, 10),
                               maturity=date(2027, 3, 10), milestones=[], risk_tier="medium")
        assert plans == [PlannedVisit(date(2026, 9, 10), "progress_check",
                                      "routine progress_check every 6 months "
                                      "(working_capital, risk tier medium)")]
        high = plan_followups(facility_type="working_capital", disbursed_on=date(2026, 3, 10),
                              maturity=date(2027, 3, 10), milestones=[], risk_tier="high")
        assert [p.due for p in high] == [date(2026, 6, 10), date(2026, 9, 10), date(2026, 12, 10)]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"facility_type": "mortgage"}, "facility_type"),
            ({"risk_tier": "extreme"}, "risk_tier"),
            ({"maturity": START}, "maturity"),
            ({"milestones": [Milestone("a", date(2026, 5, 1))] * 2}, "unique"),
            ({"milestones": [Milestone("a", START)]}, "after disbursement"),
        ],
    )
    def test_bad_inputs_raise(self, kwargs: dict[str, object], message: str) -> None:
        """Unknown types and tiers, inverted dates and bad milestones are rejected."""
        args: dict[str, object] = {"facility_type": "project_finance", "disbursed_on": START,
                                   "maturity": MATURITY, "milestones": [],
                                   "risk_tier": "low"}
        args.update(kwargs)
        with pytest.raises(ValueError, match=message):
            plan_followups(**args)  # type: ignore[arg-type]

    def test_add_months_clamps_to_month_end(self) -> None:
        """Jan 31 + 1 month is Feb 28 (Feb 29 in a leap year); years roll over."""
        assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
        assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
        assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


class TestOverdue:
    def test_unvisited_past_plans_are_overdue(self) -> None:
        """Plans due before today without a matching visit are overdue."""
        plans = project_plan()
        visits = [VisitRecord(date(2026, 4, 28), "site_visit", 30.0)]
        late = overdue(plans, visits, date(2026, 8, 1))
        assert [(p.due, p.kind) for p in late] == [
            (date(2026, 6, 15), "milestone_check"),
            (date(2026, 7, 31), "site_visit"),
        ]

    def test_due_today_is_not_yet_overdue(self) -> None:
        """A plan due today is not overdue."""
        assert overdue(project_plan(), [], date(2026, 4, 30)) == []

    def test_site_visit_recording_a_milestone_fulfils_both(self) -> None:
        """One site visit that records a milestone fulfils its routine and milestone plans."""
        plans = project_plan()
        visits = [
            VisitRecord(date(2026, 4, 29), "site_visit", 20.0),
            VisitRecord(date(2026, 7, 10), "site_visit", 40.0, milestone="foundation"),
        ]
        assert overdue(plans, visits, date(2026, 8, 1)) == []
        outcomes = match_visits(plans, visits)
        assert [o.visit for o in outcomes] == [visits[0], visits[1], visits[1], None, None]

    def test_visit_too_early_does_not_count(self) -> None:
        """A visit more than 30 days before the due date fulfils nothing."""
        plans = [PlannedVisit(date(2026, 7, 31), "site_visit", "routine")]
        assert overdue(plans, [VisitRecord(date(2026, 6, 30), "site_visit")],
                       date(2026, 8, 1)) == plans
        assert overdue(plans, [VisitRecord(date(2026, 7, 1), "site_visit")],
                       date(2026, 8, 1)) == []

    def test_site_visit_fulfils_progress_check_but_not_vice_versa(self) -> None:
        """A site visit covers a progress check; a progress check covers no site visit."""
        check = [PlannedVisit(date(2026, 6, 1), "progress_check", "routine")]
        site = [PlannedVisit(date(2026, 6, 1), "site_visit", "routine")]
        assert overdue(check, [VisitRecord(date(2026, 6, 1), "site_visit")],
                       date(2026, 7, 1)) == []
        assert overdue(site, [VisitRecord(date(2026, 6, 1), "progress_check")],
                       date(2026, 7, 1)) == site

    def test_tally_splits_on_time_late_and_missing(self) -> None:
        """Due plans are on time within 14 days, late after, or overdue without a visit."""
        plans = [
            PlannedVisit(date(2026, 3, 1), "site_visit", "r"),
            PlannedVisit(date(2026, 6, 1), "site_visit", "r"),
            PlannedVisit(date(2026, 9, 1), "site_visit", "r"),
            PlannedVisit(date(2026, 12, 1), "site_visit", "r"),
        ]
        visits = [VisitRecord(date(2026, 3, 10), "site_visit"),
                  VisitRecord(date(2026, 7, 15), "site_visit")]
        assert tally(plans, visits, date(2026, 10, 1)) == FollowupTally(3, 1, 1, 1)


class TestValidateVisit:
    previous = VisitRecord(date(2026, 4, 29), "site_visit", 40.0)

    def test_valid_visit_passes(self) -> None:
        """A later visit with more progress is valid."""
        record = VisitRecord(date(2026, 7, 30), "site_visit", 55.5, notes="顺利")
        assert validate_visit(record, self.previous, today=date(2026, 8, 1)) == []

    def test_progress_must_be_in_range(self) -> None:
        """Progress outside 0..100 (or NaN) is rejected."""
        for bad in (-1.0, 100.5, float("nan")):
            record = VisitRecord(date(2026, 7, 30), "site_visit", bad)
            assert [v.field for v in validate_visit(record, None)] == ["progress_pct"]

    def test_progress_regression_needs_a_reason(self) -> None:
        """Lower progress than last time is rejected unless a reason is given."""
        regressed = VisitRecord(date(2026, 7, 30), "site_visit", 35.0)
        violations = validate_visit(regressed, self.previous)
        assert [v.field for v in violations] == ["progress_pct"]
        assert "40" in violations[0].description
        explained = VisitRecord(date(2026, 7, 30), "site_visit", 35.0,
                                regression_reason="监理复核后下调进度")
        assert validate_visit(explained, self.previous) == []

    def test_dates_kind_and_milestone(self) -> None:
        """Visits before the previous one, in the future, or unnamed milestone checks fail."""
        record = VisitRecord(date(2026, 4, 1), "milestone_check", 50.0, notes="x" * 4001)
        fields = {v.field for v in validate_visit(record, self.previous, today=date(2026, 3, 1))}
        assert fields == {"visited_on", "milestone", "notes"}
        odd = VisitRecord(date(2026, 5, 1), "drive_by", None)  # type: ignore[arg-type]
        assert [v.field for v in validate_visit(odd, None)] == ["kind"]
