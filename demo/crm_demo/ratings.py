"""Demo step: statements are submitted, risk rates the clients, tiers reach the client service.

The synthetic economy of ``crm_sim.rating`` (the world the scorecard is fitted and validated
on) simulates each demo client as a firm of its own industry, size class and founding date
and spreads its years into CAS statements (up to three, the latest for fiscal 2025). Like a
bank's book, the rated clients are firms still performing at the end of 2025: a simulated
firm that defaulted earlier is drawn again with the same identity. The statements are
submitted for demo clients that monitoring does not use; a risk officer rates each client
(``RateClient``), and every rating goes out as ``RatingChanged`` through the outbox. The
step reports the grades, the ratio warnings the statements raised, the caps applied and
how the firms fared in 2026 in the simulation, then reads the client service back: each
client's credit grade and tier there must equal what risk issued, and the credit-tier
segments must hold exactly those clients.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import date
from functools import partial

import grpc

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.risk.v1 import rating_pb2, risk_service_pb2, risk_service_pb2_grpc
from crm_client.segmentation.features import CREDIT_TIERS, MASTER_SCALE, credit_tier
from crm_demo.launcher import Service
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_demo.progress import bar
from crm_demo.risk_ready import once_known
from crm_risk.rating.model.statements import FinancialStatement
from crm_risk.rating.statement_input import to_message
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit
from crm_sim.rating.book import FirmHistory, firm
from crm_sim.rating.stats import binomial_interval
from crm_sim.rating.traits import FirmSpec
from crm_sim.rating.world import World, make_world

RATED_CLIENTS = 300
FIRST_RATED = 200  # Monitoring streams to the first 200 clients; rate others.
SEED = 29  # the demo's world; not a seed used to fit or validate the model
LATEST_FISCAL_YEAR = 2025
CONCURRENCY = 8
# Redraws of a firm that defaulted before the rating date use their own random streams.
REDRAW_STRIDE = 100_000
MAX_DRAWS = 50


def _history(p: PortfolioClient, world: World) -> FirmHistory:
    """Simulate the demo client as a firm of its own industry, size class and age that is
    still performing at the end of LATEST_FISCAL_YEAR (or has filed nothing yet).

    Rating a firm that the simulation had already let default, from its last statements
    before the default, is what made an earlier demo report a mean PD of 8 % against 2.4 %
    observed: a bank does not rate its written-off borrowers as current clients.
    """
    founded = p.create.client.founding_date
    spec = FirmSpec(industry_code=p.create.client.industry_code, size_class=p.size_class,
                    founded=date(founded.year, founded.month, founded.day))
    history = firm(SEED, p.index, world, spec=spec)
    for draw in range(1, MAX_DRAWS):
        filing_later = history.default_year is None and not history.statements_up_to(
            LATEST_FISCAL_YEAR)
        if history.performing_at(LATEST_FISCAL_YEAR) or filing_later:
            break
        history = firm(SEED, p.index + draw * REDRAW_STRIDE, world, spec=spec)
    return history


async def _submit_and_rate(
    stub: risk_service_pb2_grpc.RiskServiceStub,
    name: str,
    statements: Sequence[FinancialStatement],
    *,
    system: tuple[tuple[str, str], ...],
    officer: tuple[tuple[str, str], ...],
) -> tuple[rating_pb2.Rating, str]:
    """Submit a client's statements (oldest first), rate it; return the rating and the
    level of the ratio warning its latest statement raised ("none" if none)."""
    requests = [
        risk_service_pb2.CreateFinancialStatementRequest(parent=name, statement=to_message(s))
        for s in statements
    ]
    for index, request in enumerate(requests):
        call = partial(stub.CreateFinancialStatement, request, metadata=system)
        made = await (once_known(call) if index == 0 else call())
    ratios = await stub.GetStatementRatios(
        risk_service_pb2.GetStatementRatiosRequest(name=f"{made.name}/ratios"),
        metadata=officer)
    # Statements are accepted before risk has the client's facts; a rating needs them.
    rating = await once_known(partial(
        stub.RateClient, risk_service_pb2.RateClientRequest(client=name), metadata=officer))
    return rating, ratios.warning_level


async def _client_view(
    client: Service, identity: IdentityKit, names: Sequence[str], issued: dict[str, str]
) -> tuple[int, Counter[str]]:
    """Wait until the client service shows the issued grades; return matches and tier sizes."""
    ops = identity.metadata("staff/ops-demo", Role.OPS)
    async with grpc.aio.insecure_channel(client.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        matched = 0
        for _ in range(60):
            shown = await asyncio.gather(
                *(
                    stub.GetClient(client_service_pb2.GetClientRequest(name=n), metadata=ops)
                    for n in names
                )
            )
            matched = sum(
                c.credit_grade == issued[c.name] and c.credit_tier == credit_tier(issued[c.name])
                for c in shown
            )
            if matched == len(names):
                break
            await asyncio.sleep(0.5)
        segments: Counter[str] = Counter()
        for tier in CREDIT_TIERS:
            reply = await stub.GetSegment(
                client_service_pb2.GetSegmentRequest(
                    name=f"segments/tier-{tier.replace('_', '-')}"
                ),
                metadata=ops,
            )
            segments[tier] = reply.member_count
    return matched, segments


def _rating_figures(
    chosen: Sequence[str], ratings: dict[str, rating_pb2.Rating], levels: dict[str, str],
    histories: dict[str, FirmHistory],
) -> dict[str, float | int]:
    """Return what the step reports about the ratings against the simulated outcomes."""
    defaults = sum(histories[n].defaulted_in(LATEST_FISCAL_YEAR + 1) for n in chosen)
    warned = sum(levels[n] != "none" for n in chosen)
    mean_pd = sum(ratings[n].probability_of_default for n in chosen) / len(chosen)
    # A few hundred clients: judge the default count against the mean PD's 95 % interval.
    low, high = binomial_interval(len(chosen), mean_pd)
    return {
        "mean_pd": mean_pd,
        "defaults_2026": defaults,
        "defaults_expected_low": low,
        "defaults_expected_high": high,
        "default_rate_2026": defaults / len(chosen),
        "warned": warned,
        "warned_share": warned / len(chosen),
        "red": sum(levels[n] == "red" for n in chosen),
        "capped": sum(bool(ratings[n].caps_applied) for n in chosen),
    }


async def run(
    risk: Service,
    client: Service,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
    loaded: LoadResult,
    *,
    first: int = FIRST_RATED,
    count: int = RATED_CLIENTS,
) -> dict[str, object]:
    """Submit statements, rate clients, and print the grades and how they reached the CRM."""
    world = make_world(SEED, last_year=LATEST_FISCAL_YEAR + 1)
    histories = {loaded.names[p.index]: _history(p, world)
                 for p in portfolio[first : first + count]}
    filed = {n: h.statements_up_to(LATEST_FISCAL_YEAR) for n, h in histories.items()}
    # Firms founded after 2025 have filed nothing yet; they wait for their first statement.
    chosen = [n for n, statements in filed.items() if statements]
    system = identity.metadata("systems/finance-intake", Role.SYSTEM)
    officer = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    ratings: dict[str, rating_pb2.Rating] = {}
    levels: dict[str, str] = {}
    limit = asyncio.Semaphore(CONCURRENCY)
    async with grpc.aio.insecure_channel(risk.address) as channel:
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)

        async def one(name: str, statements: Sequence[FinancialStatement]) -> None:
            async with limit:
                ratings[name], levels[name] = await _submit_and_rate(
                    stub, name, statements, system=system, officer=officer
                )

        started = asyncio.get_running_loop().time()
        with bar("ratings: statements submitted, clients rated", len(chosen)) as advance:

            async def counted(name: str) -> None:
                await one(name, filed[name])
                advance(1)

            await asyncio.gather(*(counted(n) for n in chosen))
        seconds = asyncio.get_running_loop().time() - started
    issued = {n: r.grade for n, r in ratings.items()}
    with bar("ratings: waiting for the client service to show the grades", None):
        matched, segments = await _client_view(client, identity, chosen, issued)
    grades = Counter(issued.values())
    statements = sum(len(filed[n]) for n in chosen)
    print(
        f"\nRatings: {statements} annual statements for {len(chosen)} clients submitted and "
        f"rated in {seconds:.1f} s ({len(histories) - len(chosen)} founded after 2025 have "
        "no statement yet)."
    )
    print("  grades: " + ", ".join(f"{g} {grades[g]}" for g in MASTER_SCALE if grades[g]))
    figures = _rating_figures(chosen, ratings, levels, histories)
    print(
        f"  {next(iter(ratings.values())).scorecard_version} from statements alone: mean PD "
        f"{figures['mean_pd']:.2%}; in the simulation {figures['defaults_2026']} of these "
        f"firms defaulted in 2026 ({figures['default_rate_2026']:.2%}; 95 % binomial interval "
        f"at the mean PD: {figures['defaults_expected_low']} to "
        f"{figures['defaults_expected_high']} defaults). Ratio warnings on "
        f"{figures['warned']} clients ({figures['warned_share']:.1%}), red on "
        f"{figures['red']}; grades capped: {figures['capped']} (caps need a corroborated "
        "warning)."
    )
    tiers = Counter(credit_tier(g) for g in issued.values())
    print(
        f"  RatingChanged reached the client service: {matched}/{len(chosen)} clients show the "
        "grade and tier risk issued."
    )
    in_segments = sum(segments[t] for t in CREDIT_TIERS if t != "unrated")
    print(
        "  credit-tier segments: "
        + ", ".join(f"{t} {segments[t]}" for t in CREDIT_TIERS if t != "unrated" and segments[t])
        + f"; still unrated: {segments['unrated']}. Rated here: "
        + ", ".join(f"{t} {tiers[t]}" for t in CREDIT_TIERS if tiers[t])
        + f"; the other {in_segments - len(chosen)} were re-rated by risk itself after orange "
        "or red warnings from monitoring (a warning caps a grade only when corroborated)."
    )
    return {
        "rated": len(chosen),
        "statements": statements,
        **figures,
        "grades": dict(grades),
        "client_service_matches": matched,
        "tier_segments": dict(segments),
    }
