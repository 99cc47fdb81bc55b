"""Monitoring through the service: warnings from the stream, dedupe, restart, rule sets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import struct_pb2
from risk_harness import RM_A, a_facility, request_id, risk_service, round_trip, stream
from sqlalchemy import select

from crm.events.v1 import event_pb2, risk_events_pb2
from crm.risk.v1 import facility_pb2, monitoring_pb2, risk_service_pb2, warning_pb2
from crm_risk.early_warnings import Signal, raise_signal
from crm_risk.models_monitoring import MonitorStateRow
from crm_runtime.tables import OutboxMessage


async def facility_for(h, client_id: str) -> str:
    name = await h.known_client(client_id)
    created = await h.stub.CreateFacility(
        risk_service_pb2.CreateFacilityRequest(parent=name, facility=a_facility(),
                                               request_id=request_id()),
        metadata=h.system(),
    )
    return created.name


async def transaction_warnings(h, client: str) -> list[warning_pb2.Warning]:
    reply = await h.stub.ListWarnings(
        risk_service_pb2.ListWarningsRequest(
            client=client, source=warning_pb2.WARNING_SOURCE_TRANSACTIONS),
        metadata=h.officer(),
    )
    return list(reply.warnings)


async def outbox_events(h, event_type: str) -> list[bytes]:
    async with h.ctx.db.read() as session:
        rows = await session.execute(
            select(OutboxMessage.envelope).where(OutboxMessage.event_type == event_type)
        )
        return [r[0] for r in rows]


class TestWarningsFromTheStream:
    async def test_round_trip_raises_an_owned_orange_warning_with_evidence(
        self, store_url, identity
    ):
        """A round trip on the stream stores an orange warning owned by the client's RM,
        with its evidence, playbook and SLA, and queues WarningRaised for subscribers."""
        async with risk_service(store_url, identity, subscribers="client=127.0.0.1:1") as h:
            facility = await facility_for(h, "c-rt")
            acks = await stream(h.stub, [round_trip("c-rt", facility)], h.system())
            assert [a.accepted for a in acks] == [4]
            assert acks[0].alerts == 1 and len(acks[0].warnings) == 1
            assert acks[0].receipt_to_commit_ms > 0
            (warning,) = await transaction_warnings(h, "clients/c-rt")
            assert warning.name == acks[0].warnings[0]
            assert warning.rule == "round_trip"
            assert warning.level == warning_pb2.WARNING_LEVEL_ORANGE
            assert warning.state == warning_pb2.WARNING_STATE_OPEN
            assert warning.owner == RM_A
            assert warning.facility == facility
            assert warning.playbook.response_working_days == 5
            assert warning.sla_due_time.ToDatetime(tzinfo=UTC) > datetime.now(UTC)
            (signal,) = warning.signals
            assert "RT-c-rt-T00004" in signal.evidence_transactions
            assert signal.rule_version == "MON-2027.1"
            envelopes = await outbox_events(h, "crm.events.v1.WarningRaised")
            assert len(envelopes) == 1
            raised = risk_events_pb2.WarningRaised()
            assert event_pb2.EventEnvelope.FromString(envelopes[0]).payload.Unpack(raised)
            assert raised.warning == warning.name and raised.level == "orange"
            assert raised.owner == RM_A

    async def test_each_batch_is_acknowledged_without_waiting_for_the_next(
        self, sqlite_url, identity
    ):
        """A committed batch is acknowledged while the sender still holds the stream open
        (a paced core-banking feed must not see every ack one send interval late)."""
        async with risk_service(sqlite_url, identity) as h:
            facility = await facility_for(h, "c-ack")
            outgoing: asyncio.Queue[risk_service_pb2.MonitorTransactionsRequest | None] = (
                asyncio.Queue()
            )

            async def requests() -> AsyncIterator[risk_service_pb2.MonitorTransactionsRequest]:
                while (batch := await outgoing.get()) is not None:
                    yield batch

            call = h.stub.MonitorTransactions(requests(), metadata=h.system())
            for number in range(3):  # One batch at a time; the next only after its ack.
                outgoing.put_nowait(round_trip("c-ack", facility, prefix=f"ACK{number}"))
                ack = await asyncio.wait_for(call.read(), timeout=10)
                assert (ack.batch_id, ack.accepted) == (f"ACK{number}", 4)
            outgoing.put_nowait(None)
            assert await call.read() == grpc.aio.EOF
            assert await call.code() == grpc.StatusCode.OK

    async def test_resent_batch_is_ignored(self, store_url, identity):
        """A batch sent again (lost acknowledgement) is all duplicates and raises nothing."""
        async with risk_service(store_url, identity) as h:
            facility = await facility_for(h, "c-dup")
            batch = round_trip("c-dup", facility)
            first, second = await stream(h.stub, [batch, batch], h.system())
            assert (first.accepted, first.duplicates, first.alerts) == (4, 0, 1)
            assert (second.accepted, second.duplicates, second.alerts) == (0, 4, 0)
            assert len(await transaction_warnings(h, "clients/c-dup")) == 1

    async def test_window_state_survives_a_restart(self, store_url, identity):
        """Loan money paid out before a restart and returned after it is still a round trip."""
        async with risk_service(store_url, identity) as h:
            facility = await facility_for(h, "c-restart")
        batch = round_trip("c-restart", facility)
        before = risk_service_pb2.MonitorTransactionsRequest(transactions=batch.transactions[:3])
        after = risk_service_pb2.MonitorTransactionsRequest(transactions=batch.transactions[3:])
        async with risk_service(store_url, identity) as h:
            (ack,) = await stream(h.stub, [before], h.system())
            assert (ack.accepted, ack.alerts) == (3, 0)
        async with risk_service(store_url, identity) as h:
            # The graceful stop checkpointed the client's state (and the replay watermark).
            async with h.ctx.db.read() as session:
                units = set((await session.execute(select(MonitorStateRow.unit_id))).scalars())
            assert units == {"c:c-restart", "~watermark:default"}
            first, resent = await stream(h.stub, [after, before], h.system())
            assert first.alerts == 1
            assert (resent.accepted, resent.duplicates) == (0, 3)
            assert len(await transaction_warnings(h, "clients/c-restart")) == 1

    async def test_state_after_a_crash_is_replayed_from_the_log(self, sqlite_url, identity):
        """Without a checkpoint (a crash before any was written), the logged batch is replayed
        on start and the window state is back."""
        async with risk_service(sqlite_url, identity) as h:
            facility = await facility_for(h, "c-crash")
        batch = round_trip("c-crash", facility)
        async with risk_service(sqlite_url, identity,
                                monitoring_checkpoint_ms=0) as h:
            pipeline = h.ctx.monitoring()

            async def crash() -> int:  # no final checkpoint: what SIGKILL leaves behind
                return 0

            pipeline.checkpoint_all = crash  # type: ignore[method-assign]
            await stream(h.stub, [risk_service_pb2.MonitorTransactionsRequest(
                transactions=batch.transactions[:3])], h.system())
            assert pipeline.dirty_count == 1
        async with risk_service(sqlite_url, identity) as h:
            assert h.ctx.monitoring().replayed == 3
            (ack,) = await stream(h.stub, [risk_service_pb2.MonitorTransactionsRequest(
                transactions=batch.transactions[3:])], h.system())
            assert ack.alerts == 1


class TestWarningLifecycle:
    async def test_acknowledge_then_resolve_confirmed_marks_the_purpose_changed(
        self, sqlite_url, identity
    ):
        """The owner acknowledges and resolves as confirmed; the facility turns special mention
        and WarningStatusChanged goes out for each step."""
        async with risk_service(sqlite_url, identity, subscribers="client=127.0.0.1:1") as h:
            facility = await facility_for(h, "c-life")
            (ack,) = await stream(h.stub, [round_trip("c-life", facility)], h.system())
            name = ack.warnings[0]
            acked = await h.stub.AcknowledgeWarning(
                risk_service_pb2.AcknowledgeWarningRequest(name=name, comment="calling client"),
                metadata=h.rm(),
            )
            assert acked.state == warning_pb2.WARNING_STATE_ACKNOWLEDGED
            resolved = await h.stub.ResolveWarning(
                risk_service_pb2.ResolveWarningRequest(
                    name=name, reason="site visit: money returned to the borrower",
                    confirmed=True, etag=acked.etag),
                metadata=h.rm(),
            )
            assert resolved.state == warning_pb2.WARNING_STATE_RESOLVED and resolved.confirmed
            loan = await h.stub.GetFacility(risk_service_pb2.GetFacilityRequest(name=facility),
                                            metadata=h.officer())
            assert loan.category == facility_pb2.LOAN_CATEGORY_SPECIAL_MENTION
            assert len(await outbox_events(h, "crm.events.v1.WarningStatusChanged")) == 2

    async def test_only_a_risk_officer_may_dismiss(self, sqlite_url, identity):
        """An RM cannot dismiss; a risk officer can, with a reason, and the key is freed."""
        async with risk_service(sqlite_url, identity) as h:
            facility = await facility_for(h, "c-dis")
            (ack,) = await stream(h.stub, [round_trip("c-dis", facility)], h.system())
            name = ack.warnings[0]
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.DismissWarning(
                    risk_service_pb2.DismissWarningRequest(name=name, reason="noise"),
                    metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            dismissed = await h.stub.DismissWarning(
                risk_service_pb2.DismissWarningRequest(name=name, reason="known supplier refund"),
                metadata=h.officer())
            assert dismissed.state == warning_pb2.WARNING_STATE_DISMISSED
            assert dismissed.closed_by == "staff/risk-1"

    async def test_unrelated_signals_do_not_escalate_each_other(self, sqlite_url, identity):
        """An orange round trip and a yellow tax-arrears signal of the same client: the tax
        warning stays yellow (a count of unrelated signals is not evidence)."""
        async with risk_service(sqlite_url, identity) as h:
            facility = await facility_for(h, "c-esc")
            await stream(h.stub, [round_trip("c-esc", facility)], h.system())
            warning = await h.stub.RecordExternalSignal(
                risk_service_pb2.RecordExternalSignalRequest(
                    client="clients/c-esc",
                    signal=warning_pb2.ExternalSignal(
                        signal_type=warning_pb2.EXTERNAL_SIGNAL_TYPE_TAX_ARREARS,
                        summary="tax arrears of 1.2 million yuan", source_system="tax-bureau")),
                metadata=h.officer())
            assert warning.base_level == warning_pb2.WARNING_LEVEL_YELLOW
            assert warning.level == warning_pb2.WARNING_LEVEL_YELLOW
            assert warning.escalation_reason == ""
            again = await h.stub.RecordExternalSignal(
                risk_service_pb2.RecordExternalSignalRequest(
                    client="clients/c-esc",
                    signal=warning_pb2.ExternalSignal(
                        signal_type=warning_pb2.EXTERNAL_SIGNAL_TYPE_TAX_ARREARS,
                        summary="second notice")),
                metadata=h.officer())
            assert again.name == warning.name and len(again.signals) == 2

    async def test_a_second_rule_on_the_same_facility_corroborates(self, sqlite_url, identity):
        """An open orange warning on a facility and a new yellow hit of another rule on the
        same facility: the new warning opens one level up, naming what corroborated it."""
        async with risk_service(sqlite_url, identity) as h:
            facility = await facility_for(h, "c-cor")
            await stream(h.stub, [round_trip("c-cor", facility)], h.system())
            facility_id = facility.rsplit("/", 1)[1]
            signal = Signal(client_id="c-cor", rule="cash_structuring", source="transactions",
                            level="yellow", scope=f"loan_cash:{facility_id}",
                            message="Loan money withdrawn in cash", rule_version="MON-2027.1",
                            detect_time=datetime.now(UTC), facility_id=facility_id)
            async with h.ctx.db.write() as session:
                outcome = await raise_signal(session, h.ctx.outbox, signal,
                                             now=datetime.now(UTC), actor="tests")
            assert (outcome.warning.base_level, outcome.warning.level) == ("yellow", "orange")
            assert "round_trip" in outcome.warning.escalation_reason


class TestRulesetConfiguration:
    async def test_override_changes_the_label_and_is_kept_across_restarts(
        self, sqlite_url, identity
    ):
        """A valid override takes effect, names its fingerprint and is stored."""
        value = struct_pb2.Value(number_value=0.6)
        async with risk_service(sqlite_url, identity) as h:
            updated = await h.stub.UpdateMonitoringRuleset(
                risk_service_pb2.UpdateMonitoringRulesetRequest(
                    ruleset=monitoring_pb2.MonitoringRuleset(
                        version="MON-2027.1",
                        overrides=[monitoring_pb2.RuleParameterOverride(
                            rule="round_trip", parameter="return_share", value=value)])),
                metadata=h.officer())
            assert updated.label.startswith("MON-2027.1+")
            rules = {r.rule: r for r in updated.rules}
            assert rules["round_trip"].parameters["return_share"] == 0.6
        async with risk_service(sqlite_url, identity) as h:
            current = await h.stub.GetMonitoringRuleset(
                risk_service_pb2.GetMonitoringRulesetRequest(name="monitoringRuleset"),
                metadata=h.officer())
            assert current.label == updated.label
            assert h.ctx.monitoring().ruleset.label == updated.label
