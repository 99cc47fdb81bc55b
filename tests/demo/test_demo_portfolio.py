"""Tests for the synthetic portfolio generator (demo/crm_demo): identifiers, mix, people.

Run with PYTHONPATH=/work/main/demo until the lead adds demo/ to the path file.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from demo_portfolio_support import N, day, default_portfolio, share
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.client.v1 import client_pb2
from crm_client.domain.credit_code import credit_code_problem
from crm_client.domain.industry import miit_sector_of, parse_industry
from crm_client.domain.region import region_problem
from crm_client.domain.size_class import classify_size, yuan_to_wan
from crm_demo import PortfolioClient, generate_portfolio
from crm_demo.expectations import size_class_of, wan
from crm_demo.financials import draw_size_figures
from crm_demo.reference import DISTRICTS, PROJECT_FINANCE_INDUSTRIES

ROLE = client_pb2.KeyPersonRole


@pytest.fixture(scope="module")
def portfolio() -> list[PortfolioClient]:
    """The default 1,200-client portfolio, shared across the demo test modules."""
    return list(default_portfolio())


class TestDeterminism:
    def test_same_seed_gives_identical_messages(self) -> None:
        """Two runs with one seed serialise to the same bytes, message by message."""
        first, second = generate_portfolio(n_clients=300), generate_portfolio(n_clients=300)

        def serialised(items: list[PortfolioClient]) -> list[bytes]:
            return [
                message.SerializeToString(deterministic=True)
                for c in items
                for message in (c.create, *c.key_persons, *c.activity)
            ]

        assert serialised(first) == serialised(second)
        assert [(c.profile, c.group) for c in first] == [(c.profile, c.group) for c in second]

    def test_other_seed_gives_other_portfolio(self) -> None:
        """A different seed yields different credit codes."""
        first = generate_portfolio(n_clients=50, seed=1)
        second = generate_portfolio(n_clients=50, seed=2)
        assert [c.create.client.credit_code for c in first] != [
            c.create.client.credit_code for c in second
        ]

    def test_size_and_bounds(self, portfolio: list[PortfolioClient]) -> None:
        """The default run has 1,200 clients indexed 0..1199; zero and negative are handled."""
        assert [c.index for c in portfolio] == list(range(N))
        assert generate_portfolio(n_clients=0) == []
        with pytest.raises(ValueError, match="negative"):
            generate_portfolio(n_clients=-1)


class TestIdentifiers:
    def test_credit_codes_valid_and_unique(self, portfolio: list[PortfolioClient]) -> None:
        """Every credit code passes both check characters and none repeats."""
        codes = [c.create.client.credit_code for c in portfolio]
        assert [code for code in codes if credit_code_problem(code) is not None] == []
        assert len(set(codes)) == N

    def test_registration_categories(self, portfolio: list[PortfolioClient]) -> None:
        """Almost all codes are enterprises (91); a few are individual businesses or co-ops."""
        prefixes = Counter(c.create.client.credit_code[:2] for c in portfolio)
        assert set(prefixes) <= {"91", "92", "93"}
        assert share(prefixes["91"]) >= 96
        assert prefixes["92"] + prefixes["93"] >= 3

    def test_codes_carry_the_registration_district(self, portfolio: list[PortfolioClient]) -> None:
        """Positions 3-8 equal the region code, a real district of a real province."""
        districts = {d.region_code for d in DISTRICTS}
        for c in portfolio:
            client = c.create.client
            assert client.credit_code[2:8] == client.region_code
            assert client.region_code in districts
            assert region_problem(client.region_code) is None

    def test_post_reform_firms_have_ma_bodies(self, portfolio: list[PortfolioClient]) -> None:
        """Firms founded after the 2015 reform get MA… bodies; older ones digit bodies."""
        for c in portfolio:
            founded = day(c.create.client.founding_date)
            body = c.create.client.credit_code[8:16]
            assert body.startswith("MA") == (founded >= date(2015, 10, 1)), body

    def test_names_unique_and_chinese(self, portfolio: list[PortfolioClient]) -> None:
        """Legal names are unique and end with a legal form or a business type."""
        names = [c.create.client.display_name for c in portfolio]
        assert len(set(names)) == N
        endings = (
            "有限公司", "有限责任公司", "专业合作社", "商行", "经营部", "百货店", "餐馆", "酒家",
        )
        assert all(name.endswith(endings) for name in names)
        assert all(re.fullmatch(r"[\u4e00-\u9fff（）]{6,40}", name) for name in names)

    def test_name_forms_follow_registration(self, portfolio: list[PortfolioClient]) -> None:
        """Foreign firms bracket their city; co-ops (93) and individual businesses (92) differ."""
        for c in portfolio:
            client = c.create.client
            prefix = client.credit_code[:2]
            if prefix == "93":
                assert client.display_name.endswith("专业合作社")
                assert client.ownership_type == client_pb2.OWNERSHIP_TYPE_COLLECTIVE
            elif prefix == "92":
                assert "公司" not in client.display_name
                assert c.size_class == "micro"
            elif client.ownership_type == client_pb2.OWNERSHIP_TYPE_FOREIGN:
                assert re.search(r"（[\u4e00-\u9fff]{2,3}）", client.display_name)

    def test_request_ids_unique(self, portfolio: list[PortfolioClient]) -> None:
        """Every request has its own idempotency key."""
        ids = [c.create.request_id for c in portfolio]
        ids += [r.request_id for c in portfolio for r in c.key_persons]
        assert len(ids) == len(set(ids))


class TestIndustryAndSize:
    def test_industry_codes_valid(self, portfolio: list[PortfolioClient]) -> None:
        """Every industry code is a 4-digit class with its section letter and a MIIT sector."""
        for c in portfolio:
            parsed = parse_industry(c.create.client.industry_code)
            assert parsed.klass is not None
            assert parsed.normalised == c.create.client.industry_code
            assert miit_sector_of(c.create.client.industry_code)

    def test_sector_mix(self, portfolio: list[PortfolioClient]) -> None:
        """Section shares match a corporate-lending book within 5 points."""
        sections = Counter(parse_industry(c.create.client.industry_code).section for c in portfolio)
        targets = {"C": 35, "F": 15, "E": 10, "D": 8 + 3, "K": 7, "I": 8, "G": 6}
        for section, target in targets.items():
            assert abs(share(sections[section]) - target) <= 5, (section, sections[section])

    def test_intended_size_class_is_the_rule_result(self, portfolio: list[PortfolioClient]) -> None:
        """classify_size on the generated figures gives the intended class for every client."""
        mismatches = [c.index for c in portfolio if size_class_of(c.create.client) != c.size_class]
        assert mismatches == []

    def test_size_mix(self, portfolio: list[PortfolioClient]) -> None:
        """Large 10%, medium 30%, small 40%, micro 20%, each within 5 points."""
        sizes: Counter[str] = Counter(c.size_class for c in portfolio)
        for size, target in {"large": 10, "medium": 30, "small": 40, "micro": 20}.items():
            assert abs(share(sizes[size]) - target) <= 5, (size, sizes[size])

    @settings(max_examples=200, deadline=None)
    @given(
        sector=st.sampled_from(sorted({miit_sector_of(code) for code in (
            "C3011", "E4710", "F5164", "F5211", "G5431", "G5920", "G6010", "H6110", "I6311",
            "I6513", "K7010", "K7020", "L7212", "A0111", "Q8411",
        )})),
        size_class=st.sampled_from(["large", "medium", "small", "micro"]),
        project_finance=st.booleans(),
        seed=st.integers(0, 2**32),
    )
    def test_size_figures_always_classify_as_intended(
        self, sector: str, size_class: str, project_finance: bool, seed: int
    ) -> None:
        """For any sector, class and seed, the drawn figures classify as the intended class."""
        figures = draw_size_figures(
            random.Random(seed), sector=sector, section="C", size_class=size_class,  # type: ignore[arg-type]
            project_finance=project_finance,
        )
        result = classify_size(
            sector=sector, employees=figures.employees,
            revenue_wan=yuan_to_wan(Decimal(figures.revenue_yuan)),
            assets_wan=yuan_to_wan(Decimal(figures.assets_yuan)),
        )
        assert result.size_class == size_class, result.reason
        assert figures.employees >= 1 and figures.revenue_yuan > 0 and figures.assets_yuan > 0


class TestFirmFacts:
    def test_ownership_mix(self, portfolio: list[PortfolioClient]) -> None:
        """Private majority, about 20% state-owned and 5% foreign, some mixed and collective."""
        owners = Counter(c.create.client.ownership_type for c in portfolio)
        assert share(owners[client_pb2.OWNERSHIP_TYPE_PRIVATE]) > 50
        assert abs(share(owners[client_pb2.OWNERSHIP_TYPE_STATE_OWNED]) - 20) <= 5
        assert abs(share(owners[client_pb2.OWNERSHIP_TYPE_FOREIGN]) - 5) <= 3
        assert owners[client_pb2.OWNERSHIP_TYPE_MIXED] > 0
        assert owners[client_pb2.OWNERSHIP_TYPE_COLLECTIVE] > 0

    def test_founding_dates(self, portfolio: list[PortfolioClient]) -> None:
        """Founded 1985-2025; some under three years old, most ten years or more."""
        founded = [day(c.create.client.founding_date) for c in portfolio]
        assert all(date(1985, 1, 1) <= day <= date(2025, 12, 31) for day in founded)
        young = sum(day > date(2023, 11, 28) for day in founded)
        established = sum(day <= date(2016, 11, 28) for day in founded)
        assert 5 <= share(young) <= 15
        assert share(established) >= 60

    def test_revenue_growth(self, portfolio: list[PortfolioClient]) -> None:
        """Most clients report last year's revenue; some grew over 20%, some shrank."""
        growth = [
            (wan(c.create.client.annual_revenue) - wan(c.create.client.previous_annual_revenue))
            / wan(c.create.client.previous_annual_revenue)
            for c in portfolio
            if c.create.client.previous_annual_revenue.currency_code
        ]
        assert share(len(growth)) >= 80
        assert share(sum(g > Decimal("0.2") for g in growth)) >= 10
        assert share(sum(g < 0 for g in growth)) >= 10

    def test_groups(self, portfolio: list[PortfolioClient]) -> None:
        """About 15% are grouped, 2-6 members a group, sharing ownership and any controller."""
        members: dict[str, list[PortfolioClient]] = {}
        for c in portfolio:
            assert c.group == c.create.client.group
            if c.group:
                members.setdefault(c.group, []).append(c)
        assert abs(share(sum(map(len, members.values()))) - 15) <= 5
        for group, clients in members.items():
            assert re.fullmatch(r"groups/[a-z0-9-]{1,64}", group)
            assert 2 <= len(clients) <= 6
            assert len({c.create.client.ownership_type for c in clients}) == 1
            controllers = {
                r.key_person.id_number for c in clients for r in c.key_persons
                if r.key_person.role == ROLE.Value("KEY_PERSON_ROLE_ACTUAL_CONTROLLER")
            }
            assert len(controllers) <= 1

    def test_project_finance(self, portfolio: list[PortfolioClient]) -> None:
        """About 5% are project-finance borrowers in generation, transport or development."""
        financed = [c for c in portfolio if c.create.client.project_finance]
        assert abs(share(len(financed)) - 5) <= 3
        codes = {choice.code for choice in PROJECT_FINANCE_INDUSTRIES}
        for c in financed:
            assert c.create.client.industry_code in codes
            assert c.profile == "project_finance_spv"
            assert re.fullmatch(r"teams/pf-\d+", c.create.team)
