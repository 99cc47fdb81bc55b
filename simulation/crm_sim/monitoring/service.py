"""Quality of monitoring through the real service: the labelled book over the gRPC API.

Starts the risk service in-process on a throwaway SQLite store, tells it about every synthetic
client (ClientCreated events through its inbox, monitoring profiles and facilities through the
API), streams the postings in batches over MonitorTransactions, then reads the warnings back
with ListWarnings and scores their signals with ``evaluate``'s definitions.

Run: ``python -m crm_sim.monitoring.service [--clients 2000] [--seed N | --holdout] [--check]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import grpc
import uvloop

from crm.events.v1 import event_pb2_grpc
from crm.risk.v1 import monitoring_pb2, risk_service_pb2, risk_service_pb2_grpc, warning_pb2
from crm_risk.app import build, migrate
from crm_risk.config import RiskSettings
from crm_risk.monitoring.engine.model import Alert, Transaction
from crm_risk.monitoring.store.convert import transaction_message
from crm_runtime.auth import Role
from crm_runtime.logging import configure_logging
from crm_runtime.server import start_service
from crm_runtime.testing import IdentityKit, pii_env
from crm_sim.monitoring.evaluate import HOLDOUT_SEED, Evaluation, format_report, score
from crm_sim.monitoring.registration import Metadata, register
from crm_sim.monitoring.world import World, generate


@dataclass(frozen=True)
class StreamStats:
    """What the stream measured."""

    transactions: int
    batches: int
    seconds: float
    latencies_ms: list[float]
    rejected: int

    @property
    def rate(self) -> float:
        """Return postings per second over the stream."""
        return self.transactions / self.seconds if self.seconds else 0.0


def messages(txns: Sequence[Transaction],
             names: dict[str, str]) -> list[monitoring_pb2.MonitoredTransaction]:
    """Return the stream messages of postings, facility tags mapped to service names."""
    return [transaction_message(t, facility=names[t.facility_id] if t.facility_id else "")
            for t in txns]


async def stream_all(
    stub: risk_service_pb2_grpc.RiskServiceStub, txns: Sequence[Transaction],
    names: dict[str, str], *, batch_size: int, system: Metadata,
) -> StreamStats:
    """Stream every posting in batches on one MonitorTransactions call."""
    payload = messages(txns, names)

    async def batches() -> AsyncIterator[risk_service_pb2.MonitorTransactionsRequest]:
        for number, start in enumerate(range(0, len(payload), batch_size)):
            yield risk_service_pb2.MonitorTransactionsRequest(
                batch_id=str(number), transactions=payload[start:start + batch_size]
            )

    started = time.perf_counter()
    latencies, accepted, count, rejected = [], 0, 0, 0
    async for ack in stub.MonitorTransactions(batches(), metadata=system):
        if ack.HasField("error"):
            msg = f"batch {ack.batch_id} refused: {ack.error.message}"
            raise RuntimeError(msg)
        latencies.append(ack.receipt_to_commit_ms)
        accepted += ack.accepted
        rejected += len(ack.rejected)
        count += 1
    return StreamStats(accepted, count, time.perf_counter() - started, latencies, rejected)


async def read_alerts(
    stub: risk_service_pb2_grpc.RiskServiceStub, names: dict[str, str], officer: Metadata
) -> list[Alert]:
    """Read every transaction warning back and return one Alert per signal."""
    synthetic_id = {name.rsplit("/", 1)[1]: fid for fid, name in names.items()}
    alerts: list[Alert] = []
    token = ""
    while True:
        page = await stub.ListWarnings(
            risk_service_pb2.ListWarningsRequest(
                source=warning_pb2.WARNING_SOURCE_TRANSACTIONS, page_size=500, page_token=token
            ),
            metadata=officer,
        )
        for warning in page.warnings:
            facility = (synthetic_id.get(warning.facility.rsplit("/", 1)[-1])
                        if warning.facility else None)
            for signal in warning.signals:
                alerts.append(Alert(
                    rule_id=signal.rule, rule_version=signal.rule_version,
                    level=warning_pb2.WarningLevel.Name(signal.level)  # type: ignore[arg-type]
                    .removeprefix("WARNING_LEVEL_").lower(),
                    client_id=warning.client.removeprefix("clients/"), facility_id=facility,
                    window_key=warning.dedupe_key,
                    evidence_txn_ids=list(signal.evidence_transactions),
                    message=signal.message, facts=dict(signal.facts),
                    raised_at=signal.detect_time.ToDatetime(tzinfo=UTC),
                ))
        token = page.next_page_token
        if not token:
            return alerts


async def run_evaluation(
    world: World, *, batch_size: int = 500, folder: Path | None = None
) -> tuple[Evaluation, StreamStats]:
    """Run ``world`` through a fresh in-process risk service and score what it stored."""
    with tempfile.TemporaryDirectory(prefix="crm-risk-eval-") as tmp:
        root = folder or Path(tmp)
        kit = IdentityKit.create(root / "identity")
        env = {k.lower(): v for k, v in pii_env().items()}
        settings = RiskSettings(
            database_url=f"sqlite+aiosqlite:///{root}/risk.db", grpc_port=0,
            identity_trusted_keys_dir=kit.directory,
            identity_signing_key_file=kit.private_files["risk"], identity_signing_kid="risk",
            monitoring_max_batch=max(batch_size, 1), review_enabled=False,
            **env,  # type: ignore[arg-type]
        )
        migrate(settings)
        definition, _ = await build(settings, review=False)
        running = await start_service(definition)
        channel = grpc.aio.insecure_channel(running.address)
        try:
            stub = risk_service_pb2_grpc.RiskServiceStub(channel)
            system = kit.metadata("systems/core-banking", Role.SYSTEM)
            names = await register(
                stub, event_pb2_grpc.EventSinkServiceStub(channel), world.clients,
                world.facilities, system=system,
                client_relay=kit.metadata("systems/client-relay", Role.SYSTEM, kid="client"),
            )
            stats = await stream_all(stub, world.transactions, names, batch_size=batch_size,
                                     system=system)
            alerts = await read_alerts(stub, names, kit.metadata("staff/eval", Role.RISK_OFFICER))
        finally:
            await channel.close()
            await running.stop(drain_seconds=0)
    return score(world, alerts, stats.seconds), stats


def format_stats(stats: StreamStats) -> str:
    """Return the stream's throughput and latency as text."""
    ordered = sorted(stats.latencies_ms) or [0.0]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
    return (
        f"service stream: {stats.transactions:,} postings in {stats.batches} batches, "
        f"{stats.seconds:.1f} s ({stats.rate:,.0f} postings/s), {stats.rejected} refused; "
        f"receipt-to-commit per batch p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the labelled book, run it through the service, print recall and precision."""
    parser = argparse.ArgumentParser(prog="python -m crm_sim.monitoring.service",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--holdout", action="store_true",
                        help=f"use the held-out seed {HOLDOUT_SEED} (report only, never tune)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--check", action="store_true", help="exit 1 unless every goal is met")
    args = parser.parse_args(argv)
    configure_logging(level="warning", service="risk")
    seed = HOLDOUT_SEED if args.holdout else args.seed
    world = generate(n_clients=args.clients, seed=seed, days=args.days)
    result, stats = uvloop.run(run_evaluation(world, batch_size=args.batch))
    kind = "held-out" if seed == HOLDOUT_SEED else "tuning"
    report = format_report(result, title=f"== seed {seed} ({kind}), through the service")
    sys.stdout.write(report.replace("s CPU", "s streaming") + "\n" + format_stats(stats) + "\n")
    if args.check and not result.meets_goals():
        sys.stdout.write("goals not met\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
