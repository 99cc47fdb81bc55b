"""Generate a deterministic synthetic corporate-lending portfolio as protobuf requests.

``generate_portfolio`` is pure: no I/O and no RPCs. It returns, per client, the
CreateClientRequest (with its first relationship manager and team), the
CreateKeyPersonRequests (parent left empty: the loader knows the client's name only after
creating it) and two 90-day ActivitySummary periods (client left empty likewise). Each
client also carries its hidden archetype, so tests and the demo can check that the
service segments it as intended. One ``random.Random(seed)`` drives every draw, in a
fixed order, so a seed always yields byte-identical messages.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client.domain.industry import SECTIONS_BY_LETTER, miit_sector_of, parse_industry
from crm_client.domain.size_class import SizeClassName
from crm_demo.activity import activity_periods
from crm_demo.behaviours import (
    GROWTH_RANGES,
    PROJECT_FINANCE_SHARE,
    Behaviour,
    draw_behaviour,
    profile_label,
)
from crm_demo.financials import (
    PROJECT_FINANCE_SIZE_MIX,
    SIZE_MIX,
    SizeFigures,
    cny,
    date_message,
    draw_size_figures,
    previous_revenue,
    registered_capital,
    weighted_choice,
)
from crm_demo.firms import (
    COLLECTIVE,
    FOREIGN,
    MIXED,
    PRIVATE,
    STATE_OWNED,
    GroupPlan,
    draw_ownership,
    founding_date,
    plan_groups,
    registration_prefix,
)
from crm_demo.identity import FirmIdentities
from crm_demo.key_people import key_people, legal_representative, new_controller
from crm_demo.people import Person, PersonFactory, key_person_request, request_id
from crm_demo.reference import (
    DISTRICTS,
    INDUSTRIES,
    PROJECT_FINANCE_INDUSTRIES,
    SECTION_NOUNS,
    District,
    IndustryChoice,
)
from crm_demo.teams import assign_teams

DEFAULT_SEED: Final = 20261128
DEFAULT_AS_OF: Final = date(2026, 11, 28)
_MISSING_PREVIOUS_REVENUE: Final = 0.05  # some files simply lack last year's figures

_INDUSTRY_OPTIONS: Final = tuple((choice, choice.weight) for choice in INDUSTRIES)
_PROJECT_FINANCE_OPTIONS: Final = tuple(
    (choice, choice.weight) for choice in PROJECT_FINANCE_INDUSTRIES
)
_DISTRICT_OPTIONS: Final = tuple((district, district.weight) for district in DISTRICTS)


@dataclass(frozen=True)
class PortfolioClient:
    """One synthetic client: the requests that load it and its hidden archetype.

    ``size_class`` is the MIIT class the figures were drawn for; ``behaviour`` the
    archetype of its account activity; ``profile`` both, with the kind of firm, e.g.
    "declining_real_estate" or "project_finance_spv".
    """

    index: int
    create: client_service_pb2.CreateClientRequest
    key_persons: tuple[client_service_pb2.CreateKeyPersonRequest, ...]
    activity: tuple[client_pb2.ActivitySummary, ...]
    group: str
    profile: str
    behaviour: Behaviour
    size_class: SizeClassName
    branch: str


class _Generator:
    """Hold the shared random source and the registries that keep identifiers unique."""

    def __init__(self, rng: random.Random, as_of: date, n_clients: int) -> None:
        self.rng = rng
        self.as_of = as_of
        self.identities = FirmIdentities(rng)
        self.people = PersonFactory(rng, as_of)
        self.groups = plan_groups(rng, self.identities, n_clients)
        self.group_controllers: dict[str, Person] = {}

    def client(self, index: int) -> PortfolioClient:
        """Return client ``index``; its request carries no team or manager yet."""
        rng = self.rng
        project_finance = rng.random() < PROJECT_FINANCE_SHARE
        industry: IndustryChoice = weighted_choice(
            rng, _PROJECT_FINANCE_OPTIONS if project_finance else _INDUSTRY_OPTIONS
        )
        parsed = parse_industry(industry.code)
        size_class = weighted_choice(rng, PROJECT_FINANCE_SIZE_MIX if project_finance else SIZE_MIX)
        figures = draw_size_figures(
            rng,
            sector=miit_sector_of(industry.code),
            section=parsed.section,
            size_class=size_class,
            project_finance=project_finance,
        )
        behaviour: Behaviour = (
            "project_finance"
            if project_finance
            else draw_behaviour(
                rng,
                section=parsed.section,
                size_class=size_class,
                revenue_yuan=figures.revenue_yuan,
            )
        )
        group = self.groups.get(index)
        ownership = (
            group.ownership
            if group is not None
            else draw_ownership(rng, section=parsed.section, project_finance=project_finance)
        )
        prefix2 = registration_prefix(
            rng,
            section=parsed.section,
            division=parsed.division or "",
            size_class=size_class,
            grouped=group is not None,
        )
        ownership = {"92": PRIVATE, "93": COLLECTIVE}.get(prefix2, ownership)
        district: District = weighted_choice(rng, _DISTRICT_OPTIONS)
        founded = founding_date(rng, behaviour=behaviour, as_of=self.as_of)

        client = self._firm(
            industry=industry,
            figures=figures,
            size_class=size_class,
            behaviour=behaviour,
            ownership=ownership,
            prefix2=prefix2,
            district=district,
            founded=founded,
            group=group,
        )
        people = self._people(
            ownership=ownership,
            prefix2=prefix2,
            size_class=size_class,
            province=district.region_code[:2],
            founded=founded,
            group=group,
        )
        return PortfolioClient(
            index=index,
            create=client_service_pb2.CreateClientRequest(
                client=client, request_id=request_id(rng)
            ),
            key_persons=tuple(key_person_request(rng, person, role) for person, role in people),
            activity=activity_periods(
                rng,
                behaviour=behaviour,
                revenue_yuan=client.annual_revenue.units,
                as_of=self.as_of,
            ),
            group=client.group,
            profile=profile_label(behaviour, SECTION_NOUNS[parsed.section]),
            behaviour=behaviour,
            size_class=size_class,
            branch=district.branch,
        )

    def _firm(
        self,
        *,
        industry: IndustryChoice,
        figures: SizeFigures,
        size_class: SizeClassName,
        behaviour: Behaviour,
        ownership: client_pb2.OwnershipType,
        prefix2: str,
        district: District,
        founded: date,
        group: GroupPlan | None,
    ) -> client_pb2.Client:
        """Return the Client message: identity, classification and figures."""
        rng = self.rng
        brand = group.brand if group is not None else self.identities.brand()[0]
        if prefix2 == "92":
            name = self.identities.individual_business_name(district=district, brand=brand)
        elif prefix2 == "93":
            name = self.identities.cooperative_name(district=district, brand=brand)
        else:
            name = self.identities.company_name(
                district=district,
                brand=brand,
                words=industry.words,
                foreign=ownership == FOREIGN,
                holding_style=size_class == "large" and ownership in (STATE_OWNED, MIXED),
            )
        client = client_pb2.Client(
            display_name=name,
            credit_code=self.identities.credit_code(
                prefix2=prefix2, region_code=district.region_code, founded=founded
            ),
            industry_code=industry.code,
            region_code=district.region_code,
            ownership_type=ownership,
            founding_date=date_message(founded),
            registered_capital=cny(
                registered_capital(rng, figures.assets_yuan, state_owned=ownership == STATE_OWNED)
            ),
            employee_count=figures.employees,
            annual_revenue=cny(figures.revenue_yuan),
            total_assets=cny(figures.assets_yuan),
            group=group.name if group is not None else "",
            project_finance=behaviour == "project_finance",
        )
        # Only firms with two full years of accounts can report last year's revenue.
        has_history = founded <= self.as_of - timedelta(days=2 * 365)
        if has_history and rng.random() >= _MISSING_PREVIOUS_REVENUE:
            previous = previous_revenue(rng, figures.revenue_yuan, GROWTH_RANGES[behaviour])
            client.previous_annual_revenue.CopyFrom(cny(previous))
        return client

    def _people(
        self,
        *,
        ownership: client_pb2.OwnershipType,
        prefix2: str,
        size_class: SizeClassName,
        province: str,
        founded: date,
        group: GroupPlan | None,
    ) -> list[tuple[Person, client_pb2.KeyPersonRole]]:
        """Return the client's key people; group members share the group's controller."""
        young_firm = founded > self.as_of - timedelta(days=3 * 365)
        owner = legal_representative(
            self.people,
            self.rng,
            ownership=ownership,
            prefix2=prefix2,
            size_class=size_class,
            province=province,
            young_firm=young_firm,
        )
        group_controller = None
        if group is not None and group.ownership != STATE_OWNED:
            group_controller = self.group_controllers.get(group.name)
            if group_controller is None:
                group_controller = new_controller(
                    self.people, self.rng, size_class="large", province=province
                )
                self.group_controllers[group.name] = group_controller
        return key_people(
            self.people,
            self.rng,
            owner=owner,
            ownership=ownership,
            prefix2=prefix2,
            size_class=size_class,
            province=province,
            group_controller=group_controller,
        )


def generate_portfolio(
    *, n_clients: int = 1200, seed: int = DEFAULT_SEED, as_of: date = DEFAULT_AS_OF
) -> list[PortfolioClient]:
    """Return ``n_clients`` synthetic clients; the same arguments give identical messages.

    Raise ValueError if ``n_clients`` is negative.
    """
    if n_clients < 0:
        msg = "n_clients must not be negative"
        raise ValueError(msg)
    # A seeded PRNG on purpose: the data must be reproducible, and nothing here is secret.
    generator = _Generator(random.Random(seed), as_of, n_clients)  # noqa: S311
    clients = [generator.client(index) for index in range(n_clients)]
    assignments = assign_teams(
        generator.rng,
        ((c.index, c.branch, c.create.client.project_finance) for c in clients),
    )
    for portfolio_client in clients:
        assignment = assignments[portfolio_client.index]
        portfolio_client.create.team = assignment.team
        portfolio_client.create.relationship_manager = assignment.relationship_manager
    return clients


def rm_roster(portfolio: list[PortfolioClient]) -> dict[str, list[str]]:
    """Return team → sorted relationship-manager subjects ("staff/rm-001") serving it."""
    roster: dict[str, set[str]] = {}
    for portfolio_client in portfolio:
        request = portfolio_client.create
        roster.setdefault(request.team, set()).add(request.relationship_manager)
    return {team: sorted(managers) for team, managers in sorted(roster.items())}


def describe(portfolio: list[PortfolioClient]) -> dict[str, Counter[str]]:
    """Return counts for a printout: sizes, sectors, archetypes, profiles, ownership, branches."""
    ownership_names = {
        value: client_pb2.OwnershipType.Name(value).removeprefix("OWNERSHIP_TYPE_").lower()
        for value in client_pb2.OwnershipType.values()
    }
    sectors: Counter[str] = Counter()
    for portfolio_client in portfolio:
        code = portfolio_client.create.client.industry_code
        section = SECTIONS_BY_LETTER[parse_industry(code).section]
        sectors[f"{section.letter} {section.name_en}"] += 1
    return {
        "sizes": Counter(c.size_class for c in portfolio),
        "sectors": sectors,
        "archetypes": Counter(c.behaviour for c in portfolio),
        "profiles": Counter(c.profile for c in portfolio),
        "ownership": Counter(ownership_names[c.create.client.ownership_type] for c in portfolio),
        "branches": Counter(c.branch for c in portfolio),
    }
