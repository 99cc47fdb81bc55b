"""Posting → the RM's alert on notify's push stream, end to end across processes (issue 18).

Three real processes on their own SQLite stores: risk (its events go to the client service and
to notify), notify and the client service. Risk learns 200 synthetic firms living an ordinary
life (`crm_sim.monitoring`) and 60 probe clients, each with its own RM (`bench.alert_probes`).
Core banking's postings are streamed over one MonitorTransactions call, paced at 2,000
postings a second (`--rate`) in a batch every 50 ms; every ninth batch (0.45 s) a probe's
drawdown rides along, and four batches later its payment to a broker, which raises a red
warning at once. The stream ends a second after the last probe. The latency is from
sending the batch with that payment to the first message on the probe RM's push stream,
through risk's monitoring, its outbox and relay, notify's inbox, alert, push write and stream.

The run is made twice on fresh processes: as is, and with the client service stopped with
SIGSTOP before the stream starts (a consumer that accepts connections and never answers).
The alerts must not wait for it. `--transport nats` sets EVENT_TRANSPORT=nats on every process
and gives them a nats-server of their own (JetStream on); the events then move however that
transport moves them. All figures are taken on a shared 2-core machine, loaded by other work:
the load averages before and after are in the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import grpc

from bench import alert_probes
from bench.alert_stream import AlertReader, stream_postings
from bench.tools import ROOT, percentile, wait_ready
from crm.events.v1 import event_pb2, event_pb2_grpc
from crm.notify.v1 import notify_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port, pii_env
from crm_sim.monitoring.registration import profile_of, register, register_facilities
from crm_sim.monitoring.world import World, generate

PROBES = 60
RATE = 2000  # postings per second
BATCH_SECONDS = 0.05  # a batch every 50 ms: 100 postings at 2,000/s
EVERY = 9  # batches between probes: 0.45 s
LEAD = 4  # batches from a probe's drawdown to its misuse posting
CLIENTS = 200
SEED = 7
ALERT_WAIT_SECONDS = 60.0
SERVICES = {"client": ("crm_client", "crm.client.v1.ClientService"),
            "notify": ("crm_notify", "crm.notify.v1.NotificationService"),
            "risk": ("crm_risk", "crm.risk.v1.RiskService")}


@contextmanager
def _platform(tmp: Path, kit: IdentityKit, transport: str,
              nats_url: str) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], str]]]:
    """Start client, notify and risk (in that order: risk's subscribers first)."""
    ports = {name: free_port() for name in SERVICES}
    address = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    extra = {
        "client": pii_env(),
        "notify": {"CLIENT_ADDR": address["client"]},
        "risk": {**pii_env(), "REVIEW_ENABLED": "false",
                 "EVENT_SUBSCRIBERS": f"client={address['client']},notify={address['notify']}"},
    }
    running: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for name, (module, _) in SERVICES.items():
            env = {**os.environ, **kit.env(name), **extra[name], "GRPC_HOST": "127.0.0.1",
                   "GRPC_PORT": str(ports[name]), "LOG_LEVEL": "warning",
                   "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/{name}.db",
                   "EVENT_TRANSPORT": transport, "NATS_URL": nats_url,
                   "MAX_CONNECTION_AGE_MS": str(3600 * 1000)}
            with (tmp / f"{name}.log").open("ab") as log:
                proc = subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT,
                                        stdout=log, stderr=subprocess.STDOUT)
            running[name] = (proc, address[name])
        yield running
    finally:
        for proc, _ in running.values():
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
        for proc, _ in running.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _start_nats(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    with (tmp / "nats.log").open("ab") as log:
        return subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js",
                                 "-sd", str(tmp / "jetstream")], stdout=log,
                                stderr=subprocess.STDOUT)


@asynccontextmanager
async def _own_nats(tmp: Path) -> AsyncIterator[str]:
    """Run a nats-server with JetStream in `tmp` on a free port; yield its URL."""
    port = free_port()
    proc = _start_nats(tmp, port)
    try:
        await asyncio.sleep(0.5)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def _register(channels: dict[str, grpc.aio.Channel], kit: IdentityKit, world: World,
                    probes: list[alert_probes.Probe]) -> dict[str, str]:
    """Make risk know the world and the probes, and notify the probes; return facility names."""
    system = kit.metadata("systems/core-banking", Role.SYSTEM)
    relay = kit.metadata("systems/client-relay", Role.SYSTEM, kid="client")
    risk = risk_service_pb2_grpc.RiskServiceStub(channels["risk"])
    names = await register(risk, event_pb2_grpc.EventSinkServiceStub(channels["risk"]),
                           world.clients, world.facilities, system=system, client_relay=relay)
    created = event_pb2.DeliverEventsRequest(
        events=[alert_probes.client_created(p) for p in probes])
    for name in ("risk", "notify"):
        await event_pb2_grpc.EventSinkServiceStub(channels[name]).DeliverEvents(
            created, metadata=relay, timeout=30)
    for probe in probes:
        await risk.UpdateMonitoringProfile(risk_service_pb2.UpdateMonitoringProfileRequest(
            profile=profile_of(probe.client)), metadata=system, timeout=30)
    names.update(await register_facilities(risk, [p.facility for p in probes], system=system))
    return names


async def _one_run(tmp: Path, world: World, transport: str, nats_url: str, *,
                   stall_client: bool, rate: float) -> dict[str, Any]:
    kit = IdentityKit.create(tmp / "identity")
    probes = alert_probes.make_probes(PROBES)
    batch = max(1, round(rate * BATCH_SECONDS))
    with _platform(tmp, kit, transport, nats_url) as running:
        for name, (_, address) in running.items():
            await wait_ready(address, SERVICES[name][1], timeout=300)
        channels = {name: grpc.aio.insecure_channel(address)
                    for name, (_, address) in running.items()}
        try:
            names = await _register(channels, kit, world, probes)
            alert_probes.add_postings(probes, names, world.transactions[0].booked_at)
            plan = alert_probes.schedule(world, names, probes, batch_size=batch,
                                         every=EVERY, lead=LEAD)
            reader = AlertReader(
                notify_service_pb2_grpc.NotificationServiceStub(channels["notify"]),
                [p.relationship_manager for p in probes],
                kit.metadata("systems/mobile-banking", Role.SYSTEM))
            await reader.start()
            if stall_client:
                running["client"][0].send_signal(signal.SIGSTOP)
            streamed = await stream_postings(
                channels["risk"], plan.batches, kit.metadata("systems/core-banking",
                                                             Role.SYSTEM),
                rate=rate, batch_size=batch)
            await reader.wait_all(ALERT_WAIT_SECONDS)
            reader.stop()
        finally:
            for channel in channels.values():
                await channel.close()
    sent, acked = streamed.sent, streamed.acked
    latencies, to_ack, after_ack, missing = [], [], [], 0
    for batch_id, index in plan.misuse_in_batch.items():
        arrived = reader.arrived.get(probes[index].relationship_manager)
        if arrived is None:
            missing += 1
            continue
        latencies.append((arrived - sent[batch_id]) * 1000)
        to_ack.append((acked[batch_id] - sent[batch_id]) * 1000)
        after_ack.append((arrived - acked[batch_id]) * 1000)
    return {
        "client_service_stopped": stall_client,
        "postings": plan.postings,
        "achieved_postings_per_s": round(plan.postings / streamed.seconds, 1),
        "alerts": len(latencies),
        "missing": missing,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "risk_ack_p50_ms": round(percentile(to_ack, 50), 1),
        "risk_ack_p99_ms": round(percentile(to_ack, 99), 1),
        # Risk's commit (its acknowledgement) → the alert: relay, notify inbox, push stream.
        "ack_to_alert_p50_ms": round(percentile(after_ack, 50), 1),
        "ack_to_alert_p99_ms": round(percentile(after_ack, 99), 1),
    }


async def run(transport: str = "grpc", rate: float = RATE) -> dict[str, Any]:
    """Run both scenarios on fresh processes and return their figures."""
    load_before = os.getloadavg()
    world = generate(n_clients=CLIENTS, seed=SEED)
    runs = {}
    for label, stall in (("all consumers up", False), ("client service stopped", True)):
        tmp = Path(tempfile.mkdtemp(prefix="crm-alert-bench-"))
        try:
            if transport == "nats":
                async with _own_nats(tmp) as url:
                    runs[label] = await _one_run(tmp, world, transport, url, stall_client=stall,
                                                 rate=rate)
            else:
                runs[label] = await _one_run(tmp, world, transport, "nats://127.0.0.1:1",
                                             stall_client=stall, rate=rate)
        except BaseException:
            print(f"run failed; the services' logs are in {tmp}", file=sys.stderr)
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return {"transport": transport, "rate_goal_per_s": rate, "probes": PROBES,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": runs}


def write_results(results: dict[str, Any]) -> Path:
    """Write bench/results/alert_latency[-nats].json and .md; return the .md path."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    stem = "alert_latency" + ("" if results["transport"] == "grpc" else f"-{results['transport']}")
    (folder / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"Posting → RM alert on the push stream, transport {results['transport']}, "
        f"{results['probes']} misuse postings in a stream paced at "
        f"{results['rate_goal_per_s']}/s ({results['when']}; shared 2-core machine, load "
        f"average {results['load_average_before']} before, {results['load_average_after']} "
        "after).",
        "",
        "| run | postings/s achieved | alerts | p50 ms | p99 ms | max ms "
        "| risk ack p50 / p99 ms | ack → alert p50 / p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in results["runs"].items():
        lines.append(f"| {label} | {r['achieved_postings_per_s']} | {r['alerts']} "
                     f"(missing {r['missing']}) | {r['p50_ms']} | {r['p99_ms']} | "
                     f"{r['max_ms']} | {r['risk_ack_p50_ms']} / {r['risk_ack_p99_ms']} | "
                     f"{r['ack_to_alert_p50_ms']} / {r['ack_to_alert_p99_ms']} |")
    path = folder / f"{stem}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transport", choices=("grpc", "nats"), default="grpc")
    parser.add_argument("--rate", type=float, default=RATE, help="postings per second")
    arguments = parser.parse_args()
    print(write_results(asyncio.run(run(arguments.transport, arguments.rate))).read_text())
