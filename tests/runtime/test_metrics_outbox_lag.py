"""Outbox lag seen from the producer's /metrics: it rises while a consumer hangs and falls
back to 0 when it answers again (client → risk, both real processes).

Two outages: `hang` freezes the consumer with SIGSTOP (connections open, nothing answers) and
thaws it with SIGCONT, so it needs no second start (default suite); `kill` SIGKILLs it and
starts it again, slow on a loaded machine (two cold starts plus the relay's backoff), so it
runs with `./run.sh metrics` only.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from metrics_harness import Scrape, numbered_client, scrape_until
from process_harness import ServiceProcess

from crm.client.v1 import client_service_pb2_grpc
from crm_runtime.auth import Role
from crm_runtime.channels import open_channel
from crm_runtime.testing import IdentityKit, free_port, pii_env

pytestmark = pytest.mark.process

RM = "staff/rm-metrics"
LAG = "crm_outbox_lag_seconds"
BACKLOG = "crm_outbox_backlog"
CREATE_COUNT = "rpc_server_duration_milliseconds_count"


def _to_risk(scrape: Scrape, name: str) -> float:
    return scrape.value(name, subscriber="risk", crm_source="client")


def _stop(risk: ServiceProcess, outage: str) -> None:
    assert risk.proc is not None
    if outage == "kill":
        risk.kill()
    else:
        risk.proc.send_signal(signal.SIGSTOP)


def _resume(risk: ServiceProcess, outage: str) -> None:
    if outage == "kill":
        risk.start()
    elif risk.proc is not None and risk.proc.poll() is None:
        risk.proc.send_signal(signal.SIGCONT)


@pytest.mark.parametrize("outage", ["hang", pytest.param("kill", marks=pytest.mark.metrics)])
async def test_outbox_lag_rises_while_the_consumer_is_out_and_falls_when_it_returns(
    outage: str, identity: IdentityKit, tmp_path: Path
):
    client_metrics, risk_metrics = free_port(), free_port()
    risk = ServiceProcess("crm_risk", {}, tmp_path / "risk.log")
    client = ServiceProcess("crm_client", {}, tmp_path / "client.log")
    risk.env = {
        **identity.env("risk"), **pii_env(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/risk.db",
        "METRICS_PORT": str(risk_metrics),
        "LOG_LEVEL": "warning",
    }
    client.env = {
        **identity.env("client"), **pii_env(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/client.db",
        "EVENT_SUBSCRIBERS": f"risk={risk.address}",
        "METRICS_PORT": str(client_metrics),
        "METRICS_SAMPLE_SECONDS": "0.2",
        "RELAY_INTERVAL_SECONDS": "0.05",
        "LOG_LEVEL": "warning",
    }
    begun = time.monotonic()
    risk.start()
    client.start()
    rm = identity.metadata(RM, Role.RELATIONSHIP_MANAGER)
    try:
        await risk.wait_serving("crm.risk.v1.RiskService")
        await client.wait_serving("crm.client.v1.ClientService")
        print(f"\nboth serving after {time.monotonic() - begun:.1f} s")
        async with open_channel(client.address) as channel:
            clients = client_service_pb2_grpc.ClientServiceStub(channel)
            await clients.CreateClient(numbered_client(0), metadata=rm)
            await scrape_until(
                client_metrics, lambda s: _to_risk(s, BACKLOG) == 0 and _to_risk(s, LAG) == 0,
                what="the first event delivered")

            _stop(risk, outage)
            for index in range(1, 6):
                await clients.CreateClient(numbered_client(index), metadata=rm)
            behind = await scrape_until(
                client_metrics, lambda s: _to_risk(s, BACKLOG) >= 5 and _to_risk(s, LAG) > 0.3,
                what=f"backlog and lag while risk is out ({outage})")
            later = await scrape_until(
                client_metrics, lambda s: _to_risk(s, LAG) > _to_risk(behind, LAG),
                what="lag still rising")
            print(f"\nrisk out ({outage}): backlog {_to_risk(behind, BACKLOG):.0f}, lag "
                  f"{_to_risk(behind, LAG):.2f} s then {_to_risk(later, LAG):.2f} s")

            _resume(risk, outage)
            started = time.monotonic()
            caught_up = await scrape_until(
                client_metrics, lambda s: _to_risk(s, BACKLOG) == 0 and _to_risk(s, LAG) == 0,
                what="backlog and lag back to 0 after risk returned", timeout=40)
            print(f"risk back ({outage}): backlog and lag 0 after "
                  f"{time.monotonic() - started:.1f} s")
        created = caught_up.value(
            CREATE_COUNT, rpc_service="crm.client.v1.ClientService", rpc_method="CreateClient",
            rpc_grpc_status_code="0", rpc_system="grpc")
        assert created == 6
        # The consumer applied the events it had not answered for, through its inbox.
        consumer = await scrape_until(
            risk_metrics,
            lambda s: s.total("crm_inbox_events_total", crm_outcome="applied",
                              crm_source="client") >= 5,
            what="the missed events applied at risk")
        # A batch applied but not acknowledged in time is sent again: its duplicates are
        # counted, not applied twice.
        print(f"risk inbox: {consumer.total('crm_inbox_events_total', crm_outcome='applied'):.0f}"
              f" applied, {consumer.total('crm_inbox_events_total', crm_outcome='duplicate'):.0f}"
              " duplicates dropped")
    finally:
        if outage == "hang":
            _resume(risk, outage)
        client.terminate()
        risk.terminate()
