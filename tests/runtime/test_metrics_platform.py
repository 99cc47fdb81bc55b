"""Every process of the platform scraped under load: each metric the SRE runbook names is there
with values that match the traffic (client, risk, notify, feedback and the gateway as real
processes, wired as in Kubernetes). Slow (five cold starts): `./run.sh metrics`."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time
from pathlib import Path

import grpc
import httpx
import pytest
from gateway_harness import AUDIENCE, ISSUER, Sso
from google.protobuf import empty_pb2
from metrics_harness import (
    Scrape,
    alert_expressions,
    dashboard_expressions,
    metric_names,
    numbered_client,
    repeat,
    scrape,
    scrape_until,
)
from process_harness import ServiceProcess
from risk_harness import a_facility, round_trip, stream

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.events.v1 import event_pb2, event_pb2_grpc
from crm.notify.v1 import common_pb2, notify_service_pb2, notify_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_runtime.auth import Role
from crm_runtime.outbox import make_envelope
from crm_runtime.testing import IdentityKit, free_port, pii_env

pytestmark = [pytest.mark.process, pytest.mark.metrics]

CLIENTS = "crm.client.v1.ClientService"
COUNT = "rpc_server_duration_milliseconds_count"
SERVICES = ("client", "risk", "notify", "feedback")


def _platform(identity: IdentityKit, tmp_path: Path) -> tuple[dict[str, ServiceProcess], int]:
    """Return the five processes (not started), wired as the k8s overlays wire them."""
    procs = {
        name: ServiceProcess(f"crm_{name}", {}, tmp_path / f"{name}.log")
        for name in (*SERVICES, "gateway")
    }
    addr = {name: proc.address for name, proc in procs.items()}

    def subscribers(*names: str) -> str:
        return ",".join(f"{n}={addr[n]}" for n in names)

    common = {"METRICS_SAMPLE_SECONDS": "0.5", "LOG_LEVEL": "warning",
              "RELAY_INTERVAL_SECONDS": "0.05"}
    for name, proc in procs.items():
        proc.env = {**identity.env(name), **common, "METRICS_PORT": str(free_port()),
                    "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/{name}.db"}
        if name != "gateway":
            proc.env.update(pii_env())
    procs["client"].env["EVENT_SUBSCRIBERS"] = subscribers("risk", "notify", "feedback")
    procs["risk"].env["EVENT_SUBSCRIBERS"] = subscribers("client", "notify", "feedback")
    procs["feedback"].env.update({
        "EVENT_SUBSCRIBERS": subscribers("risk", "notify"), "CLIENT_ADDR": addr["client"],
        "ANSWER_TOKEN_SECRET": base64.b64encode(os.urandom(32)).decode(),
    })
    procs["notify"].env.update({
        "CLIENT_ADDR": addr["client"],
        # Nothing listens there: every chat message fails and, with one attempt allowed,
        # goes to the dead letters.
        "CHAT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook",
        "CHAT_WEBHOOK_SECRET": "metrics-test-secret", "WEBHOOK_ALLOW_PRIVATE": "1",
        "RETRY_MAX_ATTEMPTS": "1", "DELIVERY_INTERVAL_SECONDS": "0.2",
    })
    sso = Sso()
    (tmp_path / "jwks.json").write_text(json.dumps(sso.jwks()))
    http_port = free_port()
    procs["gateway"].env.update({
        "HTTP_PORT": str(http_port), "JWKS_FILE": str(tmp_path / "jwks.json"),
        "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
        **{f"{n.upper()}_ADDR": addr[n] for n in SERVICES},
    })
    procs["gateway"].env["SSO_TOKEN"] = sso.token("rm-metrics", Role.RELATIONSHIP_MANAGER)
    return procs, http_port


def _port(proc: ServiceProcess) -> int:
    return int(proc.env["METRICS_PORT"])


async def _drive(procs: dict[str, ServiceProcess], http_port: int, identity: IdentityKit) -> int:
    """Send a few hundred mixed calls; return how many went through the gateway."""
    bearer = (("authorization", f"Bearer {procs['gateway'].env['SSO_TOKEN']}"),)
    system = identity.metadata("systems/core-banking", Role.SYSTEM)
    async with grpc.aio.insecure_channel(procs["gateway"].address) as gw, \
            grpc.aio.insecure_channel(procs["risk"].address) as risk_channel, \
            grpc.aio.insecure_channel(procs["notify"].address) as notify_channel:
        clients = client_service_pb2_grpc.ClientServiceStub(gw)
        names: list[str] = []

        async def create(i: int) -> None:
            names.append((await clients.CreateClient(numbered_client(i), metadata=bearer)).name)

        async def get(i: int) -> None:
            request = client_service_pb2.GetClientRequest(name=names[i % len(names)])
            await clients.GetClient(request, metadata=bearer)

        async def missing(i: int) -> None:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await clients.GetClient(client_service_pb2.GetClientRequest(
                    name=f"clients/{i:08d}-0000-4000-8000-000000000000"), metadata=bearer)
            # Someone else's client and no client look alike to an RM (no existence leak).
            assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED

        await repeat(20, create)
        # One scrape of each face while the reads run: the endpoint answers under load.
        during, _ = await asyncio.gather(scrape(_port(procs["gateway"])), repeat(200, get))
        print(f"gateway scraped during the load: {during.total(COUNT):.0f} calls so far")
        assert during.total(COUNT, crm_transport="grpc") >= 20
        await repeat(20, missing)
        await repeat(20, lambda i: clients.ListClients(
            client_service_pb2.ListClientsRequest(page_size=5), metadata=bearer))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
            for _ in range(20):
                reply = await http.get("/v1/clients", headers=dict(bearer))
                assert reply.status_code == 200, reply.text
        gateway_calls = 280  # 260 on the gRPC face, 20 on the HTTP face

        # Monitoring: a round trip (资金回流) on a facility of one of the new clients.
        risks = risk_service_pb2_grpc.RiskServiceStub(risk_channel)
        deadline = time.monotonic() + 30
        while True:
            try:
                facility = await risks.CreateFacility(risk_service_pb2.CreateFacilityRequest(
                    parent=names[0], facility=a_facility()), metadata=system)
                break
            except grpc.aio.AioRpcError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        client_id = names[0].removeprefix("clients/")
        acks = await stream(risks, [round_trip(client_id, facility.name, prefix=f"M{i}")
                                    for i in range(5)], system)
        assert len(acks) == 5

        notify = notify_service_pb2_grpc.NotificationServiceStub(notify_channel)
        for i in range(5):
            await notify.SendMessage(notify_service_pb2.SendMessageRequest(
                recipient="staff/rm-metrics", template="templates/warning-raised",
                variables={"client_name": f"客户{i}", "level": "orange", "rule": "R1",
                           "summary": "test", "sla_due": "2026-12-31"},
                urgency=common_pb2.URGENCY_URGENT, channels=[common_pb2.CHANNEL_CHAT]),
                metadata=system)
        # A redelivered event (the same envelope twice): the inbox drops the second.
        sink = event_pb2_grpc.EventSinkServiceStub(notify_channel)
        envelope = make_envelope(empty_pb2.Empty(), source="client", subject="clients/x")
        for _ in range(2):
            await sink.DeliverEvents(
                event_pb2.DeliverEventsRequest(events=[envelope]), metadata=system)
    return gateway_calls


def _settled(s: Scrape) -> bool:
    backlog = s.select("crm_outbox_backlog")
    return bool(backlog) and all(b.value == 0 for b in backlog)


async def test_every_named_metric_is_scraped_under_load(identity: IdentityKit, tmp_path: Path):
    procs, http_port = _platform(identity, tmp_path)
    begun = time.monotonic()
    for proc in procs.values():
        proc.start()
    try:
        for name, proc in procs.items():
            service = "crm.gateway.v1.GatewayService" if name == "gateway" else {
                "client": CLIENTS, "risk": "crm.risk.v1.RiskService",
                "notify": "crm.notify.v1.NotificationService",
                "feedback": "crm.feedback.v1.FeedbackService"}[name]
            await proc.wait_serving(service, timeout=90)
        print(f"\nfive processes serving after {time.monotonic() - begun:.1f} s")
        begun = time.monotonic()
        gateway_calls = await _drive(procs, http_port, identity)
        print(f"load: {gateway_calls} calls through the gateway plus monitoring, notify and "
              f"redelivery calls in {time.monotonic() - begun:.1f} s")
        scrapes = {name: await scrape(_port(proc)) for name, proc in procs.items()}
        for name in ("client", "risk", "feedback"):
            scrapes[name] = await scrape_until(_port(procs[name]), _settled,
                                               what=f"{name}'s outbox drained")
        scrapes["notify"] = await scrape_until(
            _port(procs["notify"]), lambda s: s.total("crm_notify_dead_letters") >= 5,
            what="five dead letters at notify")
        _check(scrapes, gateway_calls)
        # What the alerts and the dashboard ask for is in these real scrapes.
        scraped = set().union(*(s.names() for s in scrapes.values()))
        for name, expr in {**alert_expressions(), **dashboard_expressions()}.items():
            assert metric_names(expr) <= scraped, (name, metric_names(expr) - scraped)
        _show(scrapes)
    finally:
        for proc in procs.values():
            proc.terminate()


def _check(scrapes: dict[str, Scrape], gateway_calls: int) -> None:
    for name, s in scrapes.items():
        served = s.total(COUNT, rpc_system="grpc")
        print(f"{name}: rpc.server.duration count {served:.0f}")
        assert served > 0, name
    client, gateway = scrapes["client"], scrapes["gateway"]
    assert client.total(COUNT, rpc_method="GetClient", rpc_grpc_status_code="0") >= 200
    assert client.total(COUNT, rpc_method="CreateClient", rpc_grpc_status_code="0") == 20
    assert client.total(COUNT, rpc_method="GetClient", rpc_grpc_status_code="7") == 20
    assert gateway.total(COUNT, crm_transport="grpc") == gateway_calls - 20
    assert gateway.total(COUNT, crm_transport="http") == 20
    upstream = gateway.total("rpc_client_duration_milliseconds_count", rpc_service=CLIENTS)
    print(f"gateway: rpc.client.duration count to client {upstream:.0f}, audit backlog "
          f"{gateway.total('crm_gateway_audit_backlog'):.0f}")
    assert upstream >= gateway_calls
    assert gateway.select("crm_gateway_audit_backlog")
    for name, subscribers in (("client", 3), ("risk", 3), ("feedback", 2)):
        lag = scrapes[name].select("crm_outbox_lag_seconds")
        backlog = scrapes[name].select("crm_outbox_backlog")
        assert (len(lag), len(backlog)) == (subscribers, subscribers), name
    for name in ("risk", "notify", "feedback"):
        applied = scrapes[name].total("crm_inbox_events_total", crm_outcome="applied")
        print(f"{name}: inbox applied {applied:.0f}")
        assert applied >= 1, name
    notify = scrapes["notify"]
    assert notify.total("crm_inbox_events_total", crm_outcome="duplicate") == 1
    assert notify.select("crm_notify_queue_depth")
    print(f"notify: queue depth {notify.total('crm_notify_queue_depth'):.0f}, "
          f"dead letters {notify.total('crm_notify_dead_letters'):.0f}")
    risk = scrapes["risk"]
    batches = risk.total("crm_risk_monitoring_batch_latency_milliseconds_count")
    print(f"risk: monitoring batches {batches:.0f}, queue depth "
          f"{risk.total('crm_risk_monitoring_queue_depth'):.0f}")
    assert batches == 5
    assert risk.select("crm_risk_monitoring_queue_depth")


_SHOWN = re.compile(
    r"^(rpc_server_duration_milliseconds_count\{.*GetClient|rpc_client_duration_milliseconds_count"
    r"\{.*GetClient|crm_outbox_|crm_inbox_events_total|crm_notify_|crm_gateway_audit|"
    r"crm_risk_monitoring_(queue|batch_latency_milliseconds_count))"
)

_SCOPE_LABELS = re.compile(r'otel_scope_[a-z_]+="[^"]*",?')


def _show(scrapes: dict[str, Scrape]) -> None:
    """Print the scraped lines of the named metrics (scope labels left out), as evidence."""
    for name, s in scrapes.items():
        for line in s.text.splitlines():
            if _SHOWN.match(line):
                print(f"{name}: {_SCOPE_LABELS.sub('', line)}")
