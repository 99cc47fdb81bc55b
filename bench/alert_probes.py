"""Misuse probes for the alert latency benchmark, and the paced posting schedule they ride in.

A probe is a client of its own with one working-capital facility and its own relationship
manager (`staff/rm-probe-NN`), so the first push message on that RM's stream is the probe's
alert and nothing else. Its drawdown goes into the stream a few batches before its misuse
posting: five eighths of a payment to a broker is then loan money, which the
`securities_investment` rule raises as a red warning on that very posting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm.events.v1 import client_events_pb2, event_pb2
from crm.risk.v1 import monitoring_pb2, risk_service_pb2
from crm_risk.monitoring.engine.model import ClientContext, FacilityContext
from crm_risk.monitoring.store.convert import transaction_message
from crm_runtime.outbox import make_envelope
from crm_sim.monitoring.builders import TxnFactory
from crm_sim.monitoring.world import World

OPENING_BALANCE = 3e6
DRAWDOWN = 5e6
PAYMENT_TO_BROKER = 1.9e6
TAIL_BATCHES = 20  # background batches after the last probe's misuse posting


@dataclass
class Probe:
    """One injected misuse: who, and the two postings that make it."""

    index: int
    client: ClientContext
    facility: FacilityContext
    relationship_manager: str
    drawdown: monitoring_pb2.MonitoredTransaction | None = None
    payment: monitoring_pb2.MonitoredTransaction | None = None


def make_probes(count: int) -> list[Probe]:
    """Return `count` probe clients with their facilities (postings come with names)."""
    probes = []
    for i in range(count):
        client_id, account = f"PROBE{i:03d}", f"62280900{i:08d}"
        probes.append(Probe(
            index=i,
            client=ClientContext(client_id=client_id, own_accounts=frozenset({account}),
                                 related_parties=(), group="",
                                 display_name=f"探针{i:03d}号机械有限公司"),
            facility=FacilityContext(facility_id=f"PF{i:03d}", client_id=client_id,
                                     facility_type="working_capital", amount=DRAWDOWN,
                                     purpose_category="raw_materials",
                                     drawdown_account=account, entrusted=(),
                                     loan_account=f"LOAN-PF{i:03d}"),
            relationship_manager=f"staff/rm-probe-{i:02d}",
        ))
    return probes


def add_postings(probes: list[Probe], names: dict[str, str], start: datetime) -> None:
    """Give each probe its drawdown and its payment to a broker an hour later."""
    for probe in probes:
        account = probe.facility.drawdown_account
        factory = TxnFactory(probe.client.client_id, start=start, account=account,
                             balances={account: OPENING_BALANCE})
        facility = names[probe.facility.facility_id]
        drawdown = factory.drawdown(probe.facility.facility_id, DRAWDOWN, hours=1)
        payment = factory.debit(PAYMENT_TO_BROKER, hours=2, name="华泰证券客户资金专户",
                                counterparty_account="BROKER-1", kind="broker",
                                memo="银证转账")
        probe.drawdown = transaction_message(drawdown, facility=facility)
        probe.payment = transaction_message(payment)


def client_created(probe: Probe) -> event_pb2.EventEnvelope:
    """Return the ClientCreated event the client service would send for a probe client."""
    client = f"clients/{probe.client.client_id}"
    return make_envelope(
        client_events_pb2.ClientCreated(
            client=client, display_name=probe.client.display_name, industry_code="C3411",
            region_code="320500", size_class="medium",
            relationship_manager=probe.relationship_manager,
        ),
        source="client", subject=client,
    )


@dataclass
class Schedule:
    """The stream's requests, serialized ahead, and which batch carries which misuse."""

    batches: list[tuple[str, bytes]]
    misuse_in_batch: dict[str, int]  # batch id → probe index
    postings: int


def schedule(world: World, names: dict[str, str], probes: list[Probe], *, batch_size: int,
             every: int, lead: int) -> Schedule:
    """Cut the world's postings into batches; put probe k's drawdown into batch
    2 + k·every and its misuse posting `lead` batches later."""
    messages = [
        transaction_message(t, facility=names[t.facility_id] if t.facility_id else "")
        for t in world.transactions
    ]
    chunks = [messages[i:i + batch_size] for i in range(0, len(messages), batch_size)]
    needed = 2 + (len(probes) - 1) * every + lead + 1
    if len(chunks) < needed:
        raise ValueError(f"{len(chunks)} batches of background postings, {needed} needed")
    del chunks[needed + TAIL_BATCHES:]
    misuse: dict[str, int] = {}
    for probe in probes:
        assert probe.drawdown is not None and probe.payment is not None
        at = 2 + probe.index * every
        chunks[at].append(probe.drawdown)
        chunks[at + lead].append(probe.payment)
        misuse[str(at + lead)] = probe.index
    batches = [
        (str(n), risk_service_pb2.MonitorTransactionsRequest(
            batch_id=str(n), transactions=chunk).SerializeToString())
        for n, chunk in enumerate(chunks)
    ]
    return Schedule(batches, misuse, sum(len(c) for c in chunks))
