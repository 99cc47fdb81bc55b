"""Reads back what the platform found, through the same public APIs, and prints it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import date

import grpc

from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc
from crm_demo.expectations import expected_segments
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

CONCURRENCY = 8  # reads in flight while checking every client
Recommendations = client_service_pb2.ListRecommendationsResponse
KIND = {
    client_pb2.SEGMENT_KIND_DEMOGRAPHIC: "demographic",
    client_pb2.SEGMENT_KIND_BEHAVIOURAL: "behavioural",
    client_pb2.SEGMENT_KIND_CREDIT_TIER: "credit tier",
}


def _line(text: str = "") -> None:
    print(text)


async def report(
    address: str,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
    loaded: LoadResult,
    *,
    as_of: date,
) -> dict[str, object]:
    """Print the findings and return the key figures."""
    ops = identity.metadata("staff/ops-demo", Role.OPS)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        segments = (
            await stub.ListSegments(
                client_service_pb2.ListSegmentsRequest(page_size=500), metadata=ops
            )
        ).segments
        matched = await _check_memberships(stub, ops, portfolio, loaded, as_of)
        recommendations = await _recommendations(stub, ops, portfolio, loaded)
        rm_view = await _rm_view(stub, identity, portfolio)
        privacy = await _privacy(stub, identity, portfolio, loaded)
    rate = len(loaded.names) / loaded.seconds if loaded.seconds else 0.0
    _line(
        f"\nLoaded {len(loaded.names)} clients, {loaded.key_persons} key persons and "
        f"{loaded.summaries} activity summaries through the public API in "
        f"{loaded.seconds:.1f} s ({rate:.0f} clients/s)."
    )
    _line("\nSegments found (built-in definitions; members computed by the client service):")
    _line(f"  {'kind':<12} {'segment':<34} {'members':>7}  name")
    for segment in sorted(segments, key=lambda s: (s.kind, -s.member_count, s.name)):
        _line(
            f"  {KIND.get(segment.kind, '?'):<12} {segment.name.removeprefix('segments/'):<34} "
            f"{segment.member_count:>7}  {segment.display_name} / {segment.display_name_zh}"
        )
    _line(
        f"\nSegment memberships equal the generator's known truth for {matched}/"
        f"{len(loaded.names)} clients."
    )
    _line("\nNext-best actions across the portfolio (count, example reason):")
    for code, (count, reason) in sorted(recommendations.items(), key=lambda kv: -kv[1][0]):
        _line(f"  {code:<34} {count:>5}  e.g. {reason}")
    _line(
        f"\nObject-level access: {rm_view[0]} sees {rm_view[1]} of {len(loaded.names)} "
        f"clients (only their own and their team's)."
    )
    _line(
        f"Personal data: an RM reading a legal representative sees ID {privacy[0]} and "
        f"mobile {privacy[1]}; unmasking is for risk officers, with a reason, and audited."
    )
    return {
        "clients": len(loaded.names),
        "segments": {s.name: s.member_count for s in segments},
        "matched": matched,
        "recommendations": {k: v[0] for k, v in recommendations.items()},
    }


async def _check_memberships(
    stub: client_service_pb2_grpc.ClientServiceStub,
    ops: tuple[tuple[str, str], ...],
    portfolio: Sequence[PortfolioClient],
    loaded: LoadResult,
    as_of: date,
) -> int:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def matches(item: PortfolioClient) -> bool:
        async with limit:
            reply = await stub.ListClientSegments(
                client_service_pb2.ListClientSegmentsRequest(
                    client=loaded.names[item.index], page_size=500
                ),
                metadata=ops,
            )
        actual = {m.segment.removeprefix("segments/") for m in reply.memberships}
        return actual == set(expected_segments(item, as_of=as_of))

    return sum(await asyncio.gather(*(matches(item) for item in portfolio)))


async def _recommendations(
    stub: client_service_pb2_grpc.ClientServiceStub,
    ops: tuple[tuple[str, str], ...],
    portfolio: Sequence[PortfolioClient],
    loaded: LoadResult,
) -> dict[str, tuple[int, str]]:
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    limit = asyncio.Semaphore(CONCURRENCY)

    async def recommendations(item: PortfolioClient) -> Recommendations:
        async with limit:
            reply: Recommendations = await stub.ListRecommendations(
                client_service_pb2.ListRecommendationsRequest(client=loaded.names[item.index]),
                metadata=ops,
            )
        return reply

    # Gathered in portfolio order, so the example reason per code is always the same one.
    for reply in await asyncio.gather(*(recommendations(item) for item in portfolio)):
        for rec in reply.recommendations:
            counts[rec.code] += 1
            examples.setdefault(rec.code, rec.reason)
    return {code: (n, examples[code]) for code, n in counts.items()}


async def _rm_view(
    stub: client_service_pb2_grpc.ClientServiceStub,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
) -> tuple[str, int]:
    rm, team = portfolio[0].create.relationship_manager, portfolio[0].create.team
    metadata = identity.metadata(rm, Role.RELATIONSHIP_MANAGER, teams=(team,))
    seen = 0
    token = ""
    while True:
        page = await stub.ListClients(
            client_service_pb2.ListClientsRequest(page_size=500, page_token=token),
            metadata=metadata,
        )
        seen += len(page.clients)
        token = page.next_page_token
        if not token:
            return rm, seen


async def _privacy(
    stub: client_service_pb2_grpc.ClientServiceStub,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
    loaded: LoadResult,
) -> tuple[str, str]:
    item = portfolio[0]
    rm = identity.metadata(
        item.create.relationship_manager, Role.RELATIONSHIP_MANAGER, teams=(item.create.team,)
    )
    people = await stub.ListKeyPersons(
        client_service_pb2.ListKeyPersonsRequest(parent=loaded.names[item.index]), metadata=rm
    )
    person = people.key_persons[0]
    return person.id_number or "(none)", person.mobile_number or "(none)"
