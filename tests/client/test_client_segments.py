"""Segments: built-ins, editable versioned definitions, moves with history, events, activity."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import grpc
import pytest
from client_harness import a_client, client_service, create_request, money
from google.protobuf import field_mask_pb2
from google.type import date_pb2

from crm.client.v1 import client_pb2, client_service_pb2
from crm.events.v1 import event_pb2, event_pb2_grpc, risk_events_pb2
from crm_runtime.auth import Role
from crm_runtime.outbox import make_envelope

OPS = ("staff/ops-1", Role.OPS)


def d(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


async def segments_of(h, name: str) -> set[str]:
    reply = await h.stub.ListClientSegments(
        client_service_pb2.ListClientSegmentsRequest(client=name, page_size=500), metadata=h.rm()
    )
    return {m.segment.removeprefix("segments/") for m in reply.memberships}


async def deliver(h, *payloads) -> event_pb2.DeliverEventsResponse:
    stub = event_pb2_grpc.EventSinkServiceStub(h.channel)
    envelopes = [
        p
        if isinstance(p, event_pb2.EventEnvelope)
        else make_envelope(p, source="risk", subject=p.client)
        for p in payloads
    ]
    return await stub.DeliverEvents(
        event_pb2.DeliverEventsRequest(events=envelopes),
        metadata=h.identity.metadata("systems/risk-relay", Role.SYSTEM, kid="risk"),
    )


class TestBuiltins:
    async def test_new_client_lands_in_demographic_and_tier_segments(self, store_url, identity):
        """A medium manufacturer with no rating is in the medium, manufacturing and unrated sets."""
        async with client_service(store_url, identity) as h:
            listed = await h.stub.ListSegments(
                client_service_pb2.ListSegmentsRequest(page_size=500), metadata=h.rm()
            )
            assert len(listed.segments) >= 20
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            joined = await segments_of(h, created.name)
            assert {"demo-size-medium", "demo-industry-manufacturing", "tier-unrated"} <= joined
            members = await h.stub.ListSegmentMembers(
                client_service_pb2.ListSegmentMembersRequest(segment="segments/demo-size-medium"),
                metadata=h.rm(),
            )
            assert [m.client for m in members.memberships] == [created.name]


class TestRiskEvents:
    async def test_rating_changed_moves_credit_tier_once(self, store_url, identity):
        """RatingChanged moves the client to the tier's segment; a redelivery changes nothing."""
        async with client_service(store_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            event = make_envelope(
                risk_events_pb2.RatingChanged(
                    client=created.name,
                    grade="AA",
                    probability_of_default=0.0015,
                    trigger="initial",
                ),
                source="risk",
                subject=created.name,
            )
            first = await deliver(h, event)
            second = await deliver(h, event)
            assert list(first.applied_event_ids) == [event.event_id]
            assert list(second.duplicate_event_ids) == [event.event_id]
            joined = await segments_of(h, created.name)
            assert "tier-prime" in joined and "tier-unrated" not in joined
            got = await h.stub.GetClient(
                client_service_pb2.GetClientRequest(name=created.name), metadata=h.rm()
            )
            assert (got.credit_grade, got.credit_tier) == ("AA", "prime")
            moves = await h.stub.ListSegmentMoves(
                client_service_pb2.ListSegmentMovesRequest(client=created.name), metadata=h.rm()
            )
            rating_moves = [m for m in moves.moves if m.cause == "rating_changed"]
            assert sorted((m.segment, m.direction) for m in rating_moves) == [
                ("segments/tier-prime", client_pb2.SEGMENT_MOVE_DIRECTION_JOINED),
                ("segments/tier-unrated", client_pb2.SEGMENT_MOVE_DIRECTION_LEFT),
            ]
            assert {m.actor for m in rating_moves} == {"systems/risk"}

    async def test_concurrent_duplicate_delivery_applies_once(self, sqlite_url, identity):
        """The same event delivered by two callers at once has one effect."""
        async with client_service(sqlite_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            event = make_envelope(
                risk_events_pb2.RatingChanged(
                    client=created.name, grade="BB", probability_of_default=0.03
                ),
                source="risk",
                subject=created.name,
            )
            replies = await asyncio.gather(*(deliver(h, event) for _ in range(4)))
            assert sum(len(r.applied_event_ids) for r in replies) == 1
            assert sum(len(r.duplicate_event_ids) for r in replies) == 3

    async def test_red_warning_sets_potential_risk_until_resolved(self, store_url, identity):
        """WarningRaised (red) sets the potential-risk flag and segment; resolution clears them."""
        async with client_service(store_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            raised = risk_events_pb2.WarningRaised(
                warning="warnings/w1",
                client=created.name,
                level="red",
                rule="ROUND_TRIPPING",
                summary="loan money returned to the borrower",
            )
            raised.raise_time.GetCurrentTime()
            await deliver(h, raised)
            got = await h.stub.GetClient(
                client_service_pb2.GetClientRequest(name=created.name), metadata=h.rm()
            )
            assert got.potential_risk
            assert "beh-potential-risk" in await segments_of(h, created.name)
            await deliver(
                h,
                risk_events_pb2.WarningStatusChanged(
                    warning="warnings/w1", client=created.name, state="resolved", level="red"
                ),
            )
            got = await h.stub.GetClient(
                client_service_pb2.GetClientRequest(name=created.name), metadata=h.rm()
            )
            assert not got.potential_risk
            assert "beh-potential-risk" not in await segments_of(h, created.name)

    async def test_events_need_system_identity(self, sqlite_url, identity):
        """An RM cannot push events into the inbox."""
        async with client_service(sqlite_url, identity) as h:
            stub = event_pb2_grpc.EventSinkServiceStub(h.channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.DeliverEvents(event_pb2.DeliverEventsRequest(), metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


class TestDefinitions:
    async def test_create_update_version_and_recompute(self, store_url, identity):
        """A new definition computes members; changing it is a new version with recorded moves."""
        async with client_service(store_url, identity) as h:
            big = await h.stub.CreateClient(create_request(), metadata=h.rm())
            small = await h.stub.CreateClient(
                create_request(
                    a_client(
                        "91310115MA1K4L5N68",
                        employee_count=30,
                        annual_revenue=money(5_000_000),
                        total_assets=money(4_000_000),
                    )
                ),
                metadata=h.rm(),
            )
            ops = h.as_(*OPS)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateSegment(
                    client_service_pb2.CreateSegmentRequest(
                        segment_id="big-employers",
                        segment=client_pb2.Segment(
                            display_name="Big",
                            kind=client_pb2.SEGMENT_KIND_DEMOGRAPHIC,
                            expression="client.employees >= __import__('os')",
                        ),
                    ),
                    metadata=ops,
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            segment = await h.stub.CreateSegment(
                client_service_pb2.CreateSegmentRequest(
                    segment_id="big-employers",
                    request_id=str(uuid.uuid4()),
                    segment=client_pb2.Segment(
                        display_name="Big employers",
                        kind=client_pb2.SEGMENT_KIND_DEMOGRAPHIC,
                        expression="client.employees >= 100",
                    ),
                ),
                metadata=ops,
            )
            assert (segment.version, segment.member_count) == (1, 1)
            segment.expression = "client.employees >= 10"
            updated = await h.stub.UpdateSegment(
                client_service_pb2.UpdateSegmentRequest(
                    segment=segment, update_mask=field_mask_pb2.FieldMask(paths=["expression"])
                ),
                metadata=ops,
            )
            assert (updated.version, updated.member_count) == (2, 2)
            moves = await h.stub.ListSegmentMoves(
                client_service_pb2.ListSegmentMovesRequest(client=small.name), metadata=h.rm()
            )
            assert moves.moves[0].cause == "segment_changed"
            assert moves.moves[0].segment_version == 2
            assert moves.moves[0].actor == "staff/ops-1"
            assert "big-employers" in await segments_of(h, big.name)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.UpdateSegment(
                    client_service_pb2.UpdateSegmentRequest(
                        segment=segment, update_mask=field_mask_pb2.FieldMask(paths=["expression"])
                    ),
                    metadata=h.rm(),
                )
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


class TestActivity:
    async def test_activity_makes_dormant_then_active(self, store_url, identity):
        """Activity summaries from core banking move a client between behavioural segments."""
        async with client_service(store_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            today = date.today()

            def summary(end: date, count: int, last: date | None, balance: int):
                s = client_pb2.ActivitySummary(
                    client=created.name,
                    period_start=d(end - timedelta(days=89)),
                    period_end=d(end),
                    transaction_count=count,
                    inflow=money(count * 10_000),
                    outflow=money(count * 9_000),
                    average_balance=money(balance),
                    end_balance=money(balance),
                    products_used=2,
                    loan_products_used=1,
                )
                if last:
                    s.last_transaction_date.CopyFrom(d(last))
                return s

            quiet = client_service_pb2.RecordActivityRequest(
                summaries=[
                    summary(
                        today - timedelta(days=90), 120, today - timedelta(days=100), 8_000_000
                    ),
                    summary(today, 0, None, 7_900_000),
                ],
                request_id=str(uuid.uuid4()),
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.RecordActivity(quiet, metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            recorded = await h.stub.RecordActivity(quiet, metadata=h.system())
            assert recorded.recorded_count == 2 and recorded.segment_move_count >= 1
            assert "beh-dormant" in await segments_of(h, created.name)
            busy = client_service_pb2.RecordActivityRequest(
                summaries=[summary(today, 300, today, 9_000_000)]
            )
            await h.stub.RecordActivity(busy, metadata=h.system())
            joined = await segments_of(h, created.name)
            assert "beh-dormant" not in joined and "beh-active" in joined
            recs = await h.stub.ListRecommendations(
                client_service_pb2.ListRecommendationsRequest(client=created.name), metadata=h.rm()
            )
            assert recs.recommendations and all(r.reason for r in recs.recommendations)

    async def test_bad_activity_is_rejected_whole(self, sqlite_url, identity):
        """A batch with one bad summary is INVALID_ARGUMENT naming it; nothing is recorded."""
        async with client_service(sqlite_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            good = client_pb2.ActivitySummary(
                client=created.name,
                period_start=d(date(2026, 1, 1)),
                period_end=d(date(2026, 3, 31)),
                transaction_count=5,
            )
            bad = client_pb2.ActivitySummary(
                client=created.name,
                period_start=d(date(2026, 4, 1)),
                period_end=d(date(2026, 3, 1)),
                transaction_count=-2,
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.RecordActivity(
                    client_service_pb2.RecordActivityRequest(summaries=[good, bad]),
                    metadata=h.system(),
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "summaries[1]" in caught.value.details()


class TestOnboardingWithPeople:
    async def test_client_and_key_persons_in_one_call(self, store_url, identity):
        """Key persons sent with CreateClient are stored with it and drive owner segments."""
        from google.type import date_pb2 as dates

        async with client_service(store_url, identity) as h:
            owner = client_pb2.KeyPerson(
                display_name="李青年", role=client_pb2.KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE,
                id_number="110105199003071239", education=client_pb2.EDUCATION_MASTER)
            contact = client_pb2.KeyPerson(
                display_name="赵联系", role=client_pb2.KEY_PERSON_ROLE_CONTACT,
                mobile_number="13912345678")
            request = create_request()
            request.key_persons.extend([owner, contact])
            created = await h.stub.CreateClient(request, metadata=h.rm())
            people = await h.stub.ListKeyPersons(
                client_service_pb2.ListKeyPersonsRequest(parent=created.name), metadata=h.rm())
            assert [p.id_number for p in people.key_persons] == ["110105********1239", ""]
            assert "demo-young-professional-owners" in await segments_of(h, created.name)
            bad = create_request(a_client("91310115MA1K4L5N68"))
            wrong = client_pb2.KeyPerson()
            wrong.CopyFrom(owner)
            wrong.birth_date.CopyFrom(dates.Date(year=1991, month=1, day=1))
            bad.key_persons.extend([contact, wrong])
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateClient(bad, metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "key_persons[1].birth_date" in caught.value.details()
            listed = await h.stub.ListClients(
                client_service_pb2.ListClientsRequest(), metadata=h.rm())
            assert len(listed.clients) == 1
