"""Demo step: statements are submitted, risk rates the clients, tiers reach the client service.

The rating model's synthetic history (``crm_risk.rating.synthetic``) supplies three years of
statements, repayment behaviour and the true outcome for each firm. Here those statements are
submitted for demo clients that monitoring does not use, a risk officer rates each client
(``RateClient``), and every rating goes out as ``RatingChanged`` through the outbox. The step
then reads the client service back: each client's credit grade and tier there must equal what
risk issued, and the credit-tier segments must hold exactly those clients.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from functools import partial

import grpc

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_client.segmentation.features import CREDIT_TIERS, MASTER_SCALE, credit_tier
from crm_demo.launcher import Service
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_demo.risk_ready import once_known
from crm_risk.rating.statements import FinancialStatement
from crm_risk.rating.synthetic import generate_history
from crm_risk.statement_input import to_message
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

RATED_CLIENTS = 300
FIRST_RATED = 200  # Monitoring streams to the first 200 clients; rate others.
SEED = 29
CONCURRENCY = 8


async def _submit_and_rate(
    stub: risk_service_pb2_grpc.RiskServiceStub,
    name: str,
    statements: Sequence[FinancialStatement],
    *,
    system: tuple[tuple[str, str], ...],
    officer: tuple[tuple[str, str], ...],
) -> str:
    """Submit a client's statements (oldest first), rate it, and return the grade."""
    requests = [
        risk_service_pb2.CreateFinancialStatementRequest(parent=name, statement=to_message(s))
        for s in statements
    ]
    await once_known(partial(stub.CreateFinancialStatement, requests[0], metadata=system))
    for request in requests[1:]:
        await stub.CreateFinancialStatement(request, metadata=system)
    rating = await stub.RateClient(
        risk_service_pb2.RateClientRequest(client=name), metadata=officer
    )
    return str(rating.grade)


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


async def run(
    risk: Service,
    client: Service,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
    loaded: LoadResult,
) -> dict[str, object]:
    """Submit statements, rate clients, and print the grades and how they reached the CRM."""
    chosen = [loaded.names[p.index] for p in portfolio[FIRST_RATED : FIRST_RATED + RATED_CLIENTS]]
    histories = generate_history(n_clients=len(chosen), seed=SEED)
    system = identity.metadata("systems/finance-intake", Role.SYSTEM)
    officer = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    issued: dict[str, str] = {}
    limit = asyncio.Semaphore(CONCURRENCY)
    async with grpc.aio.insecure_channel(risk.address) as channel:
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)

        async def one(name: str, statements: Sequence[FinancialStatement]) -> None:
            async with limit:
                issued[name] = await _submit_and_rate(
                    stub, name, statements, system=system, officer=officer
                )

        started = asyncio.get_running_loop().time()
        await asyncio.gather(
            *(one(n, h.statements) for n, h in zip(chosen, histories, strict=True))
        )
        seconds = asyncio.get_running_loop().time() - started
    matched, segments = await _client_view(client, identity, chosen, issued)
    grades = Counter(issued.values())
    statements = sum(len(h.statements) for h in histories)
    print(
        f"\nRatings: {statements} annual statements for {len(chosen)} clients submitted and "
        f"rated in {seconds:.1f} s (scorecard with reason codes, versioned master scale)."
    )
    print("  grades: " + ", ".join(f"{g} {grades[g]}" for g in MASTER_SCALE if grades[g]))
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
        "or red warnings from monitoring (warning levels cap the grade)."
    )
    return {
        "rated": len(chosen),
        "statements": statements,
        "grades": dict(grades),
        "client_service_matches": matched,
        "tier_segments": dict(segments),
    }
