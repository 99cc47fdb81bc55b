"""Tests for the synthetic portfolio's people, activity, segments and teams (demo/crm_demo).

Run with PYTHONPATH=/work/main/demo until the lead adds demo/ to the path file.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from demo_portfolio_support import AS_OF, N, day, default_portfolio, share

from crm.client.v1 import client_pb2
from crm_client.domain.person_id import (
    birth_date_from_id,
    gender_from_id,
    mobile_problem,
    person_id_problem,
)
from crm_client.domain.region import PROVINCE_NAMES
from crm_client.segmentation.builtin import BUILTIN_SEGMENTS
from crm_client.segmentation.engine import completed_years
from crm_demo import PortfolioClient, describe, rm_roster
from crm_demo.expectations import expected_segments, to_date, wan

ROLES = client_pb2.KeyPersonRole


@pytest.fixture(scope="module")
def portfolio() -> list[PortfolioClient]:
    """The default 1,200-client portfolio, shared across the demo test modules."""
    return list(default_portfolio())


@pytest.fixture(scope="module")
def segments(portfolio: list[PortfolioClient]) -> list[frozenset[str]]:
    """The built-in segments each client should join, by the service's own engine."""
    return [expected_segments(c, as_of=AS_OF) for c in portfolio]


def role_count(client: PortfolioClient, role: str) -> int:
    """Return how many key persons of ``client`` have ``role``."""
    return sum(r.key_person.role == ROLES.Value(role) for r in client.key_persons)


class TestKeyPersons:
    def test_role_shares(self, portfolio: list[PortfolioClient]) -> None:
        """One legal rep each; controllers ~60%, CFOs ~40%, contacts ~50%, guarantors ~10%."""
        def having(role: str) -> int:
            return sum(role_count(c, role) > 0 for c in portfolio)

        assert all(role_count(c, "KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE") == 1
                   for c in portfolio)
        assert abs(share(having("KEY_PERSON_ROLE_ACTUAL_CONTROLLER")) - 60) <= 5
        assert abs(share(having("KEY_PERSON_ROLE_CFO")) - 40) <= 5
        assert abs(share(having("KEY_PERSON_ROLE_CONTACT")) - 50) <= 5
        assert abs(share(having("KEY_PERSON_ROLE_GUARANTOR")) - 10) <= 5

    def test_parent_left_empty(self, portfolio: list[PortfolioClient]) -> None:
        """The loader fills in the parent after creating the client."""
        assert all(r.parent == "" for c in portfolio for r in c.key_persons)

    def test_identity_numbers_valid_and_consistent(self, portfolio: list[PortfolioClient]) -> None:
        """ID numbers are valid; birth date, gender and age 25-75 agree with them."""
        identified = [r.key_person for c in portfolio for r in c.key_persons
                      if r.key_person.id_number]
        assert len(identified) > N
        for person in identified:
            number = person.id_number
            assert person_id_problem(number, today=AS_OF) is None, number
            assert number[:2] in PROVINCE_NAMES
            assert to_date(person.birth_date) == birth_date_from_id(number)
            expected_gender = "GENDER_MALE" if gender_from_id(number) == "male" else "GENDER_FEMALE"
            assert client_pb2.Gender.Name(person.gender) == expected_gender
            assert 25 <= completed_years(birth_date_from_id(number), AS_OF) <= 75
            assert person.education != client_pb2.EDUCATION_UNSPECIFIED
            assert person.income_band != client_pb2.INCOME_BAND_UNSPECIFIED

    def test_contacts_carry_no_identity(self, portfolio: list[PortfolioClient]) -> None:
        """Contacts have a name, job and mobile only (minimum necessary personal data)."""
        contact = ROLES.Value("KEY_PERSON_ROLE_CONTACT")
        for c in portfolio:
            for r in c.key_persons:
                if r.key_person.role == contact:
                    assert r.key_person.display_name and r.key_person.mobile_number
                    assert not r.key_person.id_number and not r.key_person.birth_date.year

    def test_mobiles_and_names(self, portfolio: list[PortfolioClient]) -> None:
        """Every person has a valid mobile and a Chinese name of two to four characters."""
        for c in portfolio:
            for r in c.key_persons:
                assert mobile_problem(r.key_person.mobile_number) is None
                assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", r.key_person.display_name)

    def test_owner_demography(self, portfolio: list[PortfolioClient]) -> None:
        """Legal reps are mostly men, mostly 40-59, with a university share that is realistic."""
        reps = [r.key_person for c in portfolio for r in c.key_persons
                if r.key_person.role == ROLES.Value("KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE")]
        ages = Counter(
            "under40" if (a := completed_years(day(p.birth_date), AS_OF)) < 40
            else "40to59" if a < 60 else "60plus"
            for p in reps
        )
        assert 60 <= share(sum(p.gender == client_pb2.GENDER_MALE for p in reps)) <= 95
        assert share(ages["40to59"]) >= 45
        assert share(ages["under40"]) >= 10 and share(ages["60plus"]) >= 10
        degrees = sum(p.education >= client_pb2.EDUCATION_BACHELOR for p in reps)
        assert 40 <= share(degrees) <= 75


class TestActivity:
    def test_two_consecutive_periods_ending_as_of(self, portfolio: list[PortfolioClient]) -> None:
        """Each client has two 90-day periods, back to back, the later ending on the as-of date."""
        for c in portfolio:
            earlier, later = c.activity
            assert day(later.period_end) == AS_OF
            assert day(later.period_start) == AS_OF - timedelta(days=89)
            assert day(earlier.period_end) == AS_OF - timedelta(days=90)
            assert day(earlier.period_start) == AS_OF - timedelta(days=179)
            assert earlier.client == later.client == ""

    def test_money_is_cny_and_ledger_balances(self, portfolio: list[PortfolioClient]) -> None:
        """Amounts are CNY and non-negative; the later end balance = earlier end + in - out."""
        for c in portfolio:
            earlier, later = c.activity
            for summary in c.activity:
                for money in (summary.inflow, summary.outflow, summary.average_balance,
                              summary.end_balance):
                    assert money.currency_code == "CNY" and money.units >= 0
                assert summary.products_used >= summary.loan_products_used >= 0
            assert wan(later.end_balance) == (
                wan(earlier.end_balance) + wan(later.inflow) - wan(later.outflow)
            )

    def test_last_transaction_inside_or_before_period(
        self, portfolio: list[PortfolioClient]
    ) -> None:
        """A last-transaction date is never after the period; it is unset only with no activity."""
        for c in portfolio:
            for summary in c.activity:
                last = to_date(summary.last_transaction_date)
                if summary.transaction_count:
                    assert last is not None
                    assert day(summary.period_start) <= last <= day(summary.period_end)
                elif last is not None:
                    assert last < day(summary.period_start)
                    assert (AS_OF - last).days > 90


ARCHETYPE_TARGETS = {
    "stable": 38, "growth": 15, "dormant": 10, "declining": 10, "young": 8,
    "high_value": 7.5, "project_finance": 5, "collapsing": 5,
}  # fmt: skip


class TestSegmentation:
    def test_archetype_proportions(self, portfolio: list[PortfolioClient]) -> None:
        """Every archetype is present within 5 points of its designed share."""
        counts: Counter[str] = Counter(c.behaviour for c in portfolio)
        assert set(counts) == set(ARCHETYPE_TARGETS)
        for behaviour, target in ARCHETYPE_TARGETS.items():
            assert abs(share(counts[behaviour]) - target) <= 5, (behaviour, counts[behaviour])

    def test_behavioural_segments_follow_archetypes(
        self, portfolio: list[PortfolioClient], segments: list[frozenset[str]]
    ) -> None:
        """High value, dormant, declining and risk segments hold exactly their archetypes."""
        expected = {
            "beh-high-value": {"high_value"},
            "beh-dormant": {"dormant"},
            "beh-declining-balance": {"declining", "collapsing"},
            "beh-potential-risk": {"collapsing"},
        }
        for c, joined in zip(portfolio, segments, strict=True):
            for segment, behaviours in expected.items():
                assert (segment in joined) == (c.behaviour in behaviours), (c.profile, segment)
            if c.behaviour in {"high_value", "growth", "young"}:
                assert "beh-active" in joined, c.profile
            if c.behaviour == "dormant":
                assert "beh-active" not in joined
            if c.behaviour == "high_value":  # a 2,000万 balance needs a matching turnover
                assert c.create.client.annual_revenue.units >= 200_000_000

    def test_demographic_segments_follow_facts(
        self, portfolio: list[PortfolioClient], segments: list[frozenset[str]]
    ) -> None:
        """Project-finance, young-firm and size segments match the generated facts."""
        for c, joined in zip(portfolio, segments, strict=True):
            assert ("demo-project-finance" in joined) == (c.behaviour == "project_finance")
            assert f"demo-size-{c.size_class}" in joined
            if c.behaviour == "young":
                assert "demo-young-firms" in joined

    def test_every_segment_but_ratings_is_populated(self, segments: list[frozenset[str]]) -> None:
        """All built-in segments except the rated credit tiers have members; all are unrated."""
        counts = Counter(segment for joined in segments for segment in joined)
        for definition in BUILTIN_SEGMENTS:
            if definition.kind == "credit_tier":
                continue
            assert counts[definition.segment_id] >= 0.02 * N, definition.segment_id
        assert counts["tier-unrated"] == N
        assert abs(share(counts["beh-active"]) - 75) <= 10


class TestTeamsAndSummary:
    def test_teams_and_managers(self, portfolio: list[PortfolioClient]) -> None:
        """Clients get branch teams (pf teams for projects) and RMs listed in the roster."""
        roster = rm_roster(portfolio)
        manager_teams: dict[str, set[str]] = {}
        for c in portfolio:
            request = c.create
            if request.client.project_finance:
                assert re.fullmatch(r"teams/pf-\d+", request.team)
            else:
                assert request.team.startswith(f"teams/{c.branch}-")
            assert re.fullmatch(r"staff/rm-\d{3,}", request.relationship_manager)
            assert request.relationship_manager in roster[request.team]
            manager_teams.setdefault(request.relationship_manager, set()).add(request.team)
        assert all(len(teams) == 1 for teams in manager_teams.values())
        book = Counter(c.create.relationship_manager for c in portfolio)
        assert max(book.values()) <= 25

    def test_describe_counts_every_client(self, portfolio: list[PortfolioClient]) -> None:
        """Each summary counter covers the whole portfolio."""
        summary = describe(portfolio)
        assert {"sizes", "sectors", "archetypes", "profiles"} <= set(summary)
        assert all(sum(counter.values()) == N for counter in summary.values())
        assert summary["sizes"].keys() == {"large", "medium", "small", "micro"}
        assert "C Manufacturing" in summary["sectors"]
