"""gRPC proxying: raw bytes both ways, streams, deadlines, request ids, identity and errors."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from gateway_harness import NOTIFY, RISK, EchoUpstream, Pki, gateway_service, gateway_with_echo
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crm_runtime.auth import Role


@pytest.fixture
async def echo(identity, tmp_path):
    """A gateway in front of an upstream that records what reaches it."""
    async with gateway_with_echo(tmp_path, identity) as pair:
        yield pair


def unary(gw, path):
    """Return a raw-bytes unary callable on the gateway."""
    return gw.channel.unary_unary(path)


class TestUnaryForwarding:
    async def test_bytes_reach_upstream_unchanged_with_minted_identity(self, echo):
        """Request bytes arrive untouched (even bytes that are no valid message), and the
        upstream sees the gateway-signed identity of the caller, not the caller's token."""
        gw, upstream = echo
        payload = bytes(range(256))
        reply = await unary(gw, f"{NOTIFY}/GetMessage")(
            payload, metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER, teams=("teams/east",))
        )
        assert reply == b"echo:" + payload
        seen = upstream.calls[-1]
        assert seen.principal == "staff/rm-a"
        assert seen.roles == ("relationship_manager",)
        assert "authorization" not in seen.metadata

    async def test_request_id_passed_on_or_created(self, echo):
        """A caller's x-request-id reaches the upstream; without one the gateway creates one
        and returns it to the caller in trailing metadata."""
        gw, upstream = echo
        call = unary(gw, f"{NOTIFY}/GetMessage")
        await call(b"x", metadata=(*gw.system(), ("x-request-id", "caller-req-1")))
        assert upstream.calls[-1].metadata["x-request-id"] == "caller-req-1"
        pending = call(b"x", metadata=gw.system())
        await pending
        created = dict(await pending.trailing_metadata())["x-request-id"]
        assert len(created) == 16
        assert upstream.calls[-1].metadata["x-request-id"] == created

    async def test_default_deadline_when_caller_sets_none(self, echo):
        """A call without a deadline reaches the upstream with the default (10 s)."""
        gw, upstream = echo
        await unary(gw, f"{NOTIFY}/GetMessage")(b"x", metadata=gw.system())
        remaining = upstream.calls[-1].time_remaining
        assert remaining is not None
        # gRPC rounds a timeout up on the wire to keep header values few (100 ms steps from
        # 10 s), so the upstream may see up to 0.1 s more than the gateway asked for.
        assert 9.0 < remaining <= gw.settings.default_deadline_seconds + 0.1

    async def test_caller_deadline_passed_on_as_remaining_time(self, echo):
        """A 2 s caller deadline reaches the upstream as at most 2 s."""
        gw, upstream = echo
        await unary(gw, f"{NOTIFY}/GetMessage")(b"x", timeout=2.0, metadata=gw.system())
        remaining = upstream.calls[-1].time_remaining
        assert remaining is not None
        assert 1.0 < remaining <= 2.0

    async def test_deadline_exceeded_promptly_and_upstream_cancelled(self, echo):
        """300 ms deadline on a 1 s upstream: DEADLINE_EXCEEDED within 350 ms, and the
        upstream handler is cancelled."""
        gw, upstream = echo
        started = time.perf_counter()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary(gw, f"{NOTIFY}/GetTemplate")(b"x", timeout=0.3, metadata=gw.system())
        elapsed = time.perf_counter() - started
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert elapsed < 0.35
        for _ in range(20):
            if upstream.calls[-1].cancelled:
                break
            await asyncio.sleep(0.01)
        assert upstream.calls[-1].cancelled

    async def test_upstream_error_relayed_with_details(self, echo):
        """The upstream's code, message and ErrorInfo reach the caller unchanged."""
        gw, _ = echo
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary(gw, f"{NOTIFY}/GetAlert")(b"x", metadata=gw.system())
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert caught.value.details() == "alert not found"
        status = rpc_status.from_call(caught.value)
        info = error_details_pb2.ErrorInfo()
        status.details[0].Unpack(info)
        assert (info.reason, info.domain) == ("ALERT_NOT_FOUND", "notify.crm")

    async def test_unrouted_package_is_unimplemented(self, echo):
        """A method outside every routed package is UNIMPLEMENTED."""
        gw, _ = echo
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary(gw, "/crm.ledger.v1.LedgerService/GetEntry")(b"", metadata=gw.system())
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


class TestStreams:
    async def test_server_stream_proxied(self, echo):
        """A server-streaming call relays every upstream message in order."""
        gw, upstream = echo
        call = gw.channel.unary_stream(f"{NOTIFY}/StreamMessages")
        items = [
            item async for item in call(b"m", metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER))
        ]
        assert items == [b"m0", b"m1", b"m2", b"m3", b"m4"]
        assert upstream.calls[-1].principal == "staff/rm-a"

    async def test_streams_get_the_long_default_deadline(self, echo):
        """Push streams are not cut at the unary default: they get the stream default."""
        gw, upstream = echo
        call = gw.channel.unary_stream(f"{NOTIFY}/StreamMessages")
        _ = [item async for item in call(b"m", metadata=gw.system())]
        assert upstream.calls[-1].time_remaining > gw.settings.default_deadline_seconds

    async def test_bidirectional_stream_proxied_both_ways(self, echo):
        """A bidi stream carries requests up and responses down as they flow."""
        gw, _ = echo
        call = gw.channel.stream_stream(f"{RISK}/MonitorTransactions")(metadata=gw.system())
        replies = []
        for word in (b"abc", b"hello", b"xyz"):
            await call.write(word)
            replies.append(await call.read())
        await call.done_writing()
        assert replies == [b"cba", b"olleh", b"zyx"]
        assert await call.code() == grpc.StatusCode.OK

    async def test_stream_methods_keep_their_rules(self, echo):
        """MonitorTransactions is for systems: a person is PERMISSION_DENIED."""
        gw, _ = echo
        call = gw.channel.stream_stream(f"{RISK}/MonitorTransactions")(
            metadata=gw.person("ro-1", Role.RISK_OFFICER)
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_method_unknown_to_this_build_is_unimplemented(self, echo):
        """A method the gateway has no descriptor for (a newer service) is UNIMPLEMENTED at
        the gateway and never reaches the upstream (issue 11, defect 5): the gateway serves
        exactly the methods of the descriptor set it was built with."""
        gw, upstream = echo
        call = gw.channel.stream_unary(f"{NOTIFY}/FutureUpload")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(iter([b"a", b"b", b"c"]), metadata=gw.system())
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert upstream.calls == []


class TestTracing:
    async def test_caller_trace_continues_upstream(self, echo):
        """The caller's W3C trace id reaches the upstream through the gateway's span."""
        gw, upstream = echo
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        parent = f"00-{trace_id}-00f067aa0ba902b7-01"
        await unary(gw, f"{NOTIFY}/GetMessage")(
            b"x", metadata=(*gw.system(), ("traceparent", parent))
        )
        forwarded = upstream.calls[-1].metadata["traceparent"]
        assert forwarded.split("-")[1] == trace_id
        assert forwarded.split("-")[2] != "00f067aa0ba902b7"  # The gateway's own span.


class TestUpstreamTls:
    async def test_mtls_to_upstream(self, identity, tmp_path, tmp_path_factory):
        """With UPSTREAM_TLS_* set the gateway presents its client certificate and verifies
        the upstream's; without a client certificate the upstream refuses the handshake."""
        pki = Pki(tmp_path).issue()
        upstream = EchoUpstream(identity)
        address = (await upstream.start(pki.server_credentials())).replace("127.0.0.1", "localhost")
        try:
            tls = {
                "upstream_tls_ca_file": tmp_path / "ca.crt",
                "upstream_tls_cert_file": tmp_path / "gateway.crt",
                "upstream_tls_key_file": tmp_path / "gateway.key",
            }
            first, second = tmp_path_factory.mktemp("gw_tls"), tmp_path_factory.mktemp("gw_plain")
            async with gateway_service(first, identity, notify_addr=address, **tls) as gw:
                reply = await unary(gw, f"{NOTIFY}/GetMessage")(b"tls", metadata=gw.system())
                assert reply == b"echo:tls"
            no_cert = {"upstream_tls_ca_file": tmp_path / "ca.crt"}
            async with gateway_service(second, identity, notify_addr=address, **no_cert) as gw:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await unary(gw, f"{NOTIFY}/GetMessage")(b"x", timeout=3, metadata=gw.system())
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await upstream.stop()
