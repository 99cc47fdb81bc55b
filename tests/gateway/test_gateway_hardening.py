"""Hostile, malformed and overloading calls at the gateway get clean answers (issue 11)."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager

import grpc
import pytest
from gateway_harness import NOTIFY, RISK, gateway_service, gateway_with_echo
from google.rpc import error_details_pb2, status_pb2
from test_gateway_audit import record_calls

from crm_gateway.access import AccessRules, Rule
from crm_gateway.app import MIGRATIONS
from crm_gateway.audit import AuditLog
from crm_gateway.audit_query import verify_chains
from crm_runtime.auth import Role
from crm_runtime.db import Database
from crm_runtime.migrations import upgrade_head

GATEWAY = "/crm.gateway.v1.GatewayService"
# Field 1, length 5, one byte present: truncated whatever the message type.
MALFORMED = bytes.fromhex("0a05ff")


def _reason(error: grpc.aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


@pytest.fixture
async def gw(identity, tmp_path):
    async with gateway_service(tmp_path, identity) as harness:
        yield harness


@pytest.fixture
async def echo(identity, tmp_path):
    async with gateway_with_echo(tmp_path, identity, max_concurrent_rpcs=3) as pair:
        yield pair


class TestGatewayLocalMethods:
    @pytest.mark.parametrize("method", ["ListAuditRecords", "VerifyAuditChain"])
    async def test_malformed_bytes_are_invalid_argument(self, gw, method):
        """Defect 2: the gateway's own methods answer INVALID_ARGUMENT, not INTERNAL."""
        call = gw.channel.unary_unary(f"{GATEWAY}/{method}")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(MALFORMED, metadata=gw.person("aud-1", Role.AUDITOR))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "DecodeError" not in (caught.value.details() or "")


class TestHttpBodies:
    @pytest.mark.parametrize(
        "content",
        [b"[" * 5000 + b"]" * 5000, b"1", b"true", b"1e999999", b"[1,2,3]", b'"text"',
         b"null", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"],
        ids=["deep", "number", "bool", "huge-number", "array", "string", "null", "deep-field"],
    )
    async def test_bad_json_is_400_without_python_text(self, gw, content):
        """Defect 3: hostile JSON on a body "*" route is 400 INVALID_ARGUMENT, never 500."""
        reply = await gw.http.post(
            "/v1/auditRecords:verifyChain", content=content,
            headers={**gw.person_headers("aud-1", Role.AUDITOR),
                     "content-type": "application/json"})
        assert reply.status_code == 400, reply.text
        status = reply.json()
        assert status["code"] == 3
        for leak in ("Error", "Python", "<class", "Traceback", "dict", "list"):
            assert leak not in status["message"], status["message"]


class TestUnknownMethods:
    async def test_unknown_methods_are_unimplemented_every_time(self, echo):
        """Defect 5: a method not in the descriptor set is UNIMPLEMENTED, never INTERNAL."""
        gw, upstream = echo
        codes = []
        for index in range(40):
            call = gw.channel.unary_unary(f"{NOTIFY}/NoSuch{index % 4}")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(b"x", metadata=gw.system())
            codes.append(caught.value.code())
        assert set(codes) == {grpc.StatusCode.UNIMPLEMENTED}
        assert upstream.calls == []

    async def test_unknown_methods_are_answered_by_the_gateway_itself(self, gw):
        """Defect 5: the answer comes from the descriptor set, not from proxying the call: with
        the upstream down, an unknown method is still UNIMPLEMENTED (not UNAVAILABLE)."""
        for kind in ("unary_unary", "stream_stream"):
            call = getattr(gw.channel, kind)(f"{NOTIFY}/NoSuchMethod")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                if kind == "unary_unary":
                    await call(b"x", metadata=gw.system())
                else:
                    await call(iter([b"x"]), metadata=gw.system()).read()
            assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED, kind


class TestBoundedCaches:
    def test_access_decisions_are_bounded(self):
        """Defect 4: made-up method names cannot grow the decision cache without bound."""
        rules = AccessRules([Rule("/crm.client.v1.ClientService/*", None)])
        for _ in range(20_000):
            rules.exposed(f"/crm.client.v1.ClientService/{uuid.uuid4().hex}")
        assert rules.cached_decisions <= AccessRules.MAX_CACHED_DECISIONS
        assert rules.cached_decisions < 20_000

    async def test_anonymous_made_up_methods_cache_nothing(self, echo):
        """Defect 4: through the gRPC face, unknown names never reach the decision cache."""
        gw, _ = echo
        rules = gw.running.gateway.gate.rules
        before = rules.cached_decisions
        for index in range(200):
            call = gw.channel.unary_unary(f"{NOTIFY}/Made{index}")
            with pytest.raises(grpc.aio.AioRpcError):
                await call(b"x")
        assert rules.cached_decisions == before


class TestOverload:
    async def test_overload_is_resource_exhausted_and_audited(self, echo):
        """Defect 6: past the gateway's concurrency limit calls are refused at once with
        RESOURCE_EXHAUSTED, reason SERVER_OVERLOADED and a RetryInfo, and audited."""
        gw, _ = echo
        slow = gw.channel.unary_unary(f"{NOTIFY}/GetTemplate")
        results = await asyncio.gather(
            *(slow(b"x", metadata=gw.person(f"rm-{i}", Role.RELATIONSHIP_MANAGER), timeout=15)
              for i in range(12)),
            return_exceptions=True)
        codes = [r.code() if isinstance(r, grpc.aio.AioRpcError) else grpc.StatusCode.OK
                 for r in results]
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
        assert 1 <= codes.count(grpc.StatusCode.OK) <= 3
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert {_reason(r) for r in refused} == {"SERVER_OVERLOADED"}
        await gw.flush_audit()
        records = await gw.channel.unary_unary(f"{GATEWAY}/ListAuditRecords")(
            b"", metadata=gw.person("aud-1", Role.AUDITOR))
        assert b"RESOURCE_EXHAUSTED" in records


class CancelAfterCommit(Database):
    """The real store, with the writer cancelled once right after its batch committed: what a
    stop or a loaded event loop does between the commit and the coroutine's next step."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.cancel_next = True

    @asynccontextmanager
    async def write(self):
        async with super().write() as session:
            yield session
        if self.cancel_next:
            self.cancel_next = False
            raise asyncio.CancelledError


class TestAuditBatchesWrittenOnce:
    async def test_batch_committed_then_cancelled_is_not_written_again(self, store_url):
        """Defect 10: a batch that committed but whose coroutine was cancelled is written
        once: the retry (and the graceful stop's final flush) finds it stored and moves on."""
        database = CancelAfterCommit(store_url)
        upgrade_head(MIGRATIONS, database.url)
        log = AuditLog(database, instance="t", batch_size=10)
        record_calls(log, 25)
        with pytest.raises(asyncio.CancelledError):
            await log.flush()
        await log.close()  # Before the fix: UNIQUE constraint failed (chain, seq).
        record_calls(log, 5)
        await log.close()
        result = await verify_chains(database, log.key, chain=log.chain)
        assert (result.intact, result.record_count) == (True, 30)
        await database.dispose()

    async def test_retry_with_more_entries_starts_after_the_stored_batch(self, store_url):
        """A batch of 4 committed, then cancelled; a fifth call arrives before the retry.
        The retry's batch is longer than the stored one: it must start after what the store
        holds (before: the whole 5 written again, UNIQUE constraint failed, seen in a loaded
        full-suite run at the gateway's graceful stop)."""
        database = CancelAfterCommit(store_url)
        upgrade_head(MIGRATIONS, database.url)
        log = AuditLog(database, instance="t", batch_size=10)
        record_calls(log, 4)
        with pytest.raises(asyncio.CancelledError):
            await log.flush()
        record_calls(log, 1)
        await log.close()
        result = await verify_chains(database, log.key, chain=log.chain)
        assert (result.intact, result.record_count) == (True, 5)
        assert log.backlog == 0
        await database.dispose()


class TestStreamsApartFromUnary:
    async def test_open_streams_do_not_use_up_unary_slots(self, identity, tmp_path):
        """Defect 7 (per caller): a system holding its monitoring streams can still make
        unary calls; streams have their own per-caller limit."""
        async with gateway_with_echo(
            tmp_path, identity, max_in_flight_per_principal=2, max_streams_per_principal=3
        ) as (gw, _):
            calls = [gw.channel.stream_stream(f"{RISK}/MonitorTransactions")(
                metadata=gw.system()) for _ in range(3)]
            try:
                for index, call in enumerate(calls):  # Three streams open and answering.
                    await call.write(f"s{index}".encode())
                    assert await call.read() == f"s{index}".encode()[::-1]
                reply = await gw.channel.unary_unary(f"{NOTIFY}/GetMessage")(
                    b"x", metadata=gw.system())
                assert reply == b"echo:x"
                fourth = gw.channel.stream_stream(f"{RISK}/MonitorTransactions")(
                    metadata=gw.system())
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await fourth.read()
                assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            finally:
                for call in calls:
                    call.cancel()
