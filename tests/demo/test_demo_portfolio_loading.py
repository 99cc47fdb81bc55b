"""Load a sample of the synthetic portfolio into a real client service and compare segments.

The generator itself does no I/O; this test plays the demo loader's part on an in-process
service (SQLite, and PostgreSQL when available) to prove the generated requests pass the
service's validation and land the clients in the segments their archetypes predict.
Run with PYTHONPATH=/work/main/demo until the lead adds demo/ to the path file.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, time

from client_harness import client_service
from demo_portfolio_support import AS_OF, default_portfolio

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client.rpc_clients import CREATE_FIELDS
from crm_client.validation import STAFF_RE, TEAM_RE, Violations, check_client_fields, check_person
from crm_demo import PortfolioClient
from crm_demo.expectations import expected_segments

PER_ARCHETYPE = 1
SIZE_CLASSES = {
    "large": client_pb2.SIZE_CLASS_LARGE,
    "medium": client_pb2.SIZE_CLASS_MEDIUM,
    "small": client_pb2.SIZE_CLASS_SMALL,
    "micro": client_pb2.SIZE_CLASS_MICRO,
}


def sample() -> list[PortfolioClient]:
    """Return a few clients of every archetype plus a grouped firm and a non-91 registrant."""
    portfolio = default_portfolio()
    picked: list[PortfolioClient] = []
    seen: Counter[str] = Counter()
    for client in portfolio:
        if seen[client.behaviour] < PER_ARCHETYPE:
            picked.append(client)
            seen[client.behaviour] += 1
    picked.append(next(c for c in portfolio if c.group and c not in picked))
    picked.append(next(c for c in portfolio if c.create.client.credit_code[:2] != "91"))
    return picked


async def load(h, client: PortfolioClient) -> client_pb2.Client:
    """Create the client, its key persons and its activity as the demo loader would."""
    caller = h.rm(client.create.relationship_manager, teams=(client.create.team,))
    created = await h.stub.CreateClient(client.create, metadata=caller)
    for template in client.key_persons:
        request = client_service_pb2.CreateKeyPersonRequest()
        request.CopyFrom(template)
        request.parent = created.name
        await h.stub.CreateKeyPerson(request, metadata=caller)
    summaries = []
    for template in client.activity:
        summary = client_pb2.ActivitySummary()
        summary.CopyFrom(template)
        summary.client = created.name
        summaries.append(summary)
    await h.stub.RecordActivity(
        client_service_pb2.RecordActivityRequest(summaries=summaries, request_id=str(uuid.uuid4())),
        metadata=h.system(),
    )
    return created


async def segments_of(h, name: str) -> set[str]:
    """Return the ids of the segments the service lists for a client."""
    reply = await h.stub.ListClientSegments(
        client_service_pb2.ListClientSegmentsRequest(client=name, page_size=500),
        metadata=h.system(),
    )
    return {m.segment.removeprefix("segments/") for m in reply.memberships}


class TestServiceValidation:
    def test_every_request_passes_the_service_checks(self):
        """The service's own field checks find nothing wrong in any of the 1,200 clients."""
        for client in default_portfolio():
            violations = Violations()
            check_client_fields(violations, client.create.client, CREATE_FIELDS, today=AS_OF)
            for request in client.key_persons:
                check_person(violations, request.key_person, today=AS_OF)
            assert [(v.field, v.description) for v in violations.items] == [], client.profile
            assert STAFF_RE.match(client.create.relationship_manager)
            assert TEAM_RE.match(client.create.team)


class TestLoadingIntoTheService:
    async def test_service_accepts_and_segments_as_predicted(self, store_url, identity):
        """Sampled clients load without errors, size as intended and segment as predicted."""
        async with client_service(store_url, identity) as h:
            # Pin the service's clock to the portfolio's as-of date: day counts depend on it.
            h.ctx.clock = lambda: datetime.combine(AS_OF, time(12), tzinfo=UTC)
            for client in sample():
                created = await load(h, client)
                assert created.size_class == SIZE_CLASSES[client.size_class], client.profile
                assert created.team == client.create.team
                assert created.relationship_manager == client.create.relationship_manager
                joined = await segments_of(h, created.name)
                assert joined == set(expected_segments(client, as_of=AS_OF)), client.profile
