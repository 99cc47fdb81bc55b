"""The gateway's gRPC face over TLS (issue 12, item 2), with certificates made at test time.

A real gateway process (GRPC_TLS_* and HTTP_TLS from its environment) in front of real risk and
notify services: core banking's MonitorTransactions stream and an RM's push stream go through
it on a secure channel; a plaintext caller is refused by the TLS port. With
GRPC_TLS_CLIENT_AUTH=require, a caller without a client certificate, or with one from another
CA, is refused on both faces, and one with a certificate from the configured CA gets in.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import grpc
import httpx
import pytest
from gateway_harness import AUDIENCE, ISSUER, Pki, Sso, gateway_service, write_keys
from grpc_health.v1 import health_pb2, health_pb2_grpc
from notify_harness import RM_A, notify_service
from process_harness import ServiceProcess
from risk_harness import a_facility, risk_service, round_trip, stream

from crm.notify.v1 import message_pb2, notify_service_pb2, notify_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_gateway.apikeys import new_api_key
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port

pytestmark = pytest.mark.process
GATEWAY_HEALTH = "crm.gateway.v1.GatewayService"


def _gateway_env(tmp: Path, identity: IdentityKit, pki: Pki, sso: Sso) -> dict[str, str]:
    (tmp / "jwks.json").write_text(json.dumps(sso.jwks()))
    return {
        **identity.env("gateway"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/gateway.db",
        "JWKS_FILE": str(tmp / "jwks.json"),
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "API_KEYS_FILE": str(tmp / "api_keys.json"),
        "GRPC_TLS_CERT_FILE": str(pki.path("server.crt")),
        "GRPC_TLS_KEY_FILE": str(pki.path("server.key")),
        "HTTP_TLS": "true",
    }


async def _push_through(channel: grpc.aio.Channel, notify, token: str) -> message_pb2.PushMessage:
    """Open RM A's push stream on `channel`, send a message afterwards, return what arrives."""
    stub = notify_service_pb2_grpc.NotificationServiceStub(channel)
    call = stub.StreamMessages(
        notify_service_pb2.StreamMessagesRequest(cursors=[message_pb2.PushCursor(recipient=RM_A)]),
        metadata=(("authorization", f"Bearer {token}"),),
    )
    try:
        await call.initial_metadata()  # The gateway sends it once the stream is admitted.
        sent = await notify.send(RM_A, "templates/edge-notice", client_name="华东精密")
        async with asyncio.timeout(10):
            async for page in call:
                if page.messages:
                    (pushed,) = page.messages
                    assert pushed.message == sent.messages[0].name
                    return pushed
    finally:
        call.cancel()
    raise AssertionError("the push stream ended without the message")


async def test_streams_through_the_gateway_over_tls(identity, tmp_path):
    """MonitorTransactions (bidirectional) and StreamMessages (server stream) through a TLS
    gateway process; a plaintext channel to the same port is refused; an HTTP-only client
    receives the next push as a server-sent event over HTTPS with the same certificate."""
    pki = Pki(tmp_path).issue()
    sso = Sso()
    core_key, core_entry = new_api_key("core-1", "core-banking", [Role.SYSTEM])
    write_keys(tmp_path / "api_keys.json", [core_entry])
    risk_port, notify_port, http_port = free_port(), free_port(), free_port()
    gateway = ServiceProcess(
        "crm_gateway",
        {
            **_gateway_env(tmp_path, identity, pki, sso),
            "HTTP_PORT": str(http_port),
            "RISK_ADDR": f"127.0.0.1:{risk_port}",
            "NOTIFY_ADDR": f"127.0.0.1:{notify_port}",
        },
        tmp_path / "gateway.log",
    )
    gateway.start()  # Boots while the services below start (upstreams are dialled lazily).
    try:
        async with risk_service(
            f"sqlite+aiosqlite:///{tmp_path}/risk.db", identity, grpc_port=risk_port
        ) as risk, notify_service(
            f"sqlite+aiosqlite:///{tmp_path}/notify.db", identity, grpc_port=notify_port
        ) as notify:
            await notify.template("edge-notice")
            client = await risk.known_client("c-edge")
            facility = await risk.stub.CreateFacility(
                risk_service_pb2.CreateFacilityRequest(parent=client, facility=a_facility()),
                metadata=risk.system(),
            )
            secure = pki.channel_credentials()
            await gateway.wait_serving(GATEWAY_HEALTH, credentials=secure, host="localhost")
            async with grpc.aio.secure_channel(f"localhost:{gateway.port}", secure) as channel:
                risks = risk_service_pb2_grpc.RiskServiceStub(channel)
                (ack,) = await stream(
                    risks, [round_trip("c-edge", facility.name)], (("x-api-key", core_key),)
                )
                assert (ack.accepted, ack.alerts, len(ack.warnings)) == (4, 1, 1), ack
                pushed = await _push_through(
                    channel, notify, sso.token("rm-a", Role.RELATIONSHIP_MANAGER)
                )
                assert (pushed.recipient, pushed.sequence) == (RM_A, 1)
                assert "华东精密" in pushed.body
            async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as plain:
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await health_pb2_grpc.HealthStub(plain).Check(
                        health_pb2.HealthCheckRequest(), timeout=3
                    )
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            # An HTTP-only client over HTTPS: the push arrives as a server-sent event.
            verify = ssl.create_default_context(cafile=str(pki.path("ca.crt")))
            token = sso.token("rm-a", Role.RELATIONSHIP_MANAGER)
            async with httpx.AsyncClient(verify=verify, timeout=10) as https, https.stream(
                "GET",
                f"https://127.0.0.1:{http_port}/v1/messages:events",
                params={"recipient": RM_A, "lastEventId": f"{RM_A}=1"},
                headers={"authorization": f"Bearer {token}"},
            ) as events:
                assert events.status_code == 200
                lines = events.aiter_lines()
                await anext(lines)  # The stream is open before the message is written.
                sent = await notify.send(RM_A, "templates/edge-notice", client_name="第二家")
                async with asyncio.timeout(10):
                    async for line in lines:
                        if line.startswith("data:"):
                            break
            assert json.loads(line.removeprefix("data:"))["message"] == sent.messages[0].name
    finally:
        code = gateway.terminate()
    assert code == 0, gateway.log_path.read_text()[-2000:]


async def _health(port: int, credentials: grpc.ChannelCredentials) -> grpc.StatusCode:
    """Return OK when a health check over `credentials` is answered, else the refusal."""
    async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=3
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


async def test_client_certificates_required_when_configured(identity, tmp_path):
    """GRPC_TLS_CLIENT_AUTH=require: no client certificate or one from another CA is refused
    at the handshake (gRPC UNAVAILABLE, HTTPS connection error); the configured CA's is let
    through on both faces."""
    pki = Pki(tmp_path).issue()
    (tmp_path / "other").mkdir()
    stranger = Pki(tmp_path / "other").issue()
    overrides = {
        "grpc_tls_cert_file": pki.path("server.crt"),
        "grpc_tls_key_file": pki.path("server.key"),
        "grpc_tls_client_ca_file": pki.path("ca.crt"),
        "grpc_tls_client_auth": "require",
        "http_tls": True,
    }
    async with gateway_service(tmp_path, identity, **overrides) as gw:
        port = gw.running.grpc.port
        assert await _health(port, pki.channel_credentials()) == grpc.StatusCode.UNAVAILABLE
        foreign = grpc.ssl_channel_credentials(
            pki.path("ca.crt").read_bytes(),
            stranger.path("gateway.key").read_bytes(),
            stranger.path("gateway.crt").read_bytes(),
        )
        assert await _health(port, foreign) == grpc.StatusCode.UNAVAILABLE
        assert await _health(port, pki.channel_credentials(client_cert=True)) == grpc.StatusCode.OK

        url = f"https://127.0.0.1:{gw.running.http_port}/openapi.json"
        without = ssl.create_default_context(cafile=str(pki.path("ca.crt")))
        async with httpx.AsyncClient(verify=without) as https:
            with pytest.raises(httpx.HTTPError):
                await https.get(url)
        with_cert = ssl.create_default_context(cafile=str(pki.path("ca.crt")))
        with_cert.load_cert_chain(pki.path("gateway.crt"), pki.path("gateway.key"))
        async with httpx.AsyncClient(verify=with_cert) as https:
            assert (await https.get(url)).status_code == 200
