"""Monitoring RPCs: the transaction stream, the rule set in force and client profiles."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import monitoring_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.models import MonitoringProfileRow, RulesetConfigRow
from crm_risk.monitoring.store import backtest
from crm_risk.monitoring.store.profiles import (
    P,
    masked_update,
    parse_profile,
    profile_message,
    save_profile,
)
from crm_risk.monitoring.store.rulesets import (
    current_config,
    masked_ruleset,
    parse_overrides,
    ruleset_message,
)
from crm_risk.store.facilities import facility_names
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import InvalidArgument, NotFound

Response = risk_service_pb2.MonitorTransactionsResponse
# A profile names itself (the resource's own name, not a reference to another).
PROFILE_NAME = names.pattern_of(monitoring_pb2.MonitoringProfile)

DEFAULT_BACKTEST_CHANGES = 100
MAX_BACKTEST_CHANGES = 1000


class MonitoringRpc:
    """The monitoring stream and its configuration."""

    ctx: RiskContext

    async def MonitorTransactions(  # noqa: N802
        self,
        request_iterator: AsyncIterator[risk_service_pb2.MonitorTransactionsRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[risk_service_pb2.MonitorTransactionsResponse]:
        """Process each batch in order and acknowledge it as soon as it is committed.

        Up to `monitoring_stream_depth` batches are in flight: the next one is read and
        decoded while earlier ones commit. They commit and are acknowledged in arrival order.
        Reading runs in its own task so that an acknowledgement never waits for the caller's
        next batch (a paced sender would otherwise see each ack one send interval late).
        """
        require_roles(*access.MONITOR_ROLES)
        pipeline = self.ctx.monitoring()
        slots = asyncio.Semaphore(max(1, self.ctx.settings.monitoring_stream_depth))
        acks: asyncio.Queue[asyncio.Future[Response] | None] = asyncio.Queue()

        async def read() -> None:
            try:
                await slots.acquire()
                async for request in request_iterator:
                    received = time.perf_counter()
                    acks.put_nowait(
                        asyncio.ensure_future(pipeline.process(request, received=received))
                    )
                    await slots.acquire()
            finally:
                acks.put_nowait(None)  # End of the stream (or a read error, raised below).

        reader = asyncio.create_task(read())
        in_flight: list[asyncio.Future[Response]] = []
        try:
            while (future := await acks.get()) is not None:
                in_flight.append(future)
                response = await future
                in_flight.pop()
                slots.release()
                yield response
            await reader  # Raises what ended the read, if anything did.
        finally:
            reader.cancel()
            while not acks.empty():
                queued = acks.get_nowait()
                if queued is not None:
                    in_flight.append(queued)
            for future in in_flight:
                future.cancel()

    async def GetMonitoringRuleset(  # noqa: N802
        self,
        request: risk_service_pb2.GetMonitoringRulesetRequest,
        context: grpc.aio.ServicerContext,
    ) -> monitoring_pb2.MonitoringRuleset:
        """Return the rule set in force with every effective parameter."""
        names.parse(request, "name")
        return await self._ruleset_in_force()

    async def _ruleset_in_force(self) -> monitoring_pb2.MonitoringRuleset:
        async with self.ctx.db.read() as session:
            row = await current_config(session)
        overrides = json.loads(row.overrides_json) if row else {}
        return ruleset_message(self.ctx.monitoring().ruleset, overrides, row)

    async def UpdateMonitoringRuleset(  # noqa: N802
        self,
        request: risk_service_pb2.UpdateMonitoringRulesetRequest,
        context: grpc.aio.ServicerContext,
    ) -> monitoring_pb2.MonitoringRuleset:
        """Validate and store a rule-set version with overrides, then put it in force."""
        principal = require_roles(*access.RULESET_ROLES)
        if request.ruleset.name not in ("", "monitoringRuleset"):
            raise InvalidArgument.of("ruleset.name", "must be monitoringRuleset")
        wanted = request.ruleset
        if request.update_mask.paths:
            wanted = masked_ruleset(await self._ruleset_in_force(), request.ruleset,
                                    request.update_mask)
        ruleset, overrides = parse_overrides(wanted)
        now = self.ctx.clock()

        async def store(session: AsyncSession) -> monitoring_pb2.MonitoringRuleset:
            row = RulesetConfigRow(
                version=ruleset.version, overrides_json=json.dumps(overrides, sort_keys=True),
                label=ruleset.label, updated_by=principal.subject, update_time=now,
            )
            session.add(row)
            return ruleset_message(ruleset, overrides, row)

        response = await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/UpdateMonitoringRuleset",
            subject=principal.subject, response_type=monitoring_pb2.MonitoringRuleset,
            work=store,
        )
        await self.ctx.monitoring().switch_ruleset(ruleset)
        return response

    async def BacktestMonitoringRuleset(  # noqa: N802
        self,
        request: risk_service_pb2.BacktestMonitoringRulesetRequest,
        context: grpc.aio.ServicerContext,
    ) -> monitoring_pb2.MonitoringBacktest:
        """Replay a proposed rule set against the one in force and report the difference."""
        require_roles(*access.RULESET_ROLES)
        if request.ruleset.name not in ("", "monitoringRuleset"):
            raise InvalidArgument.of("ruleset.name", "must be monitoringRuleset")
        if not 0 <= request.max_changes <= MAX_BACKTEST_CHANGES:
            raise InvalidArgument.of("max_changes", f"must be 0 to {MAX_BACKTEST_CHANGES}")
        proposed, _ = parse_overrides(request.ruleset)
        pipeline = self.ctx.monitoring()
        current = pipeline.ruleset
        start = request.start_time.ToDatetime(UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(UTC) if request.HasField("end_time") else None
        if start is not None and end is not None and end <= start:
            raise InvalidArgument.of("end_time", "must be after start_time")
        if request.transactions:
            txns = backtest.parse_supplied(request.transactions)
            before, after = await backtest.replay_supplied(pipeline, current, proposed, txns)
            replayed = backtest.Replayed()
            replayed.add(txns)
            source = "supplied_postings"
        else:
            before, after, replayed = await backtest.replay_history(
                pipeline, current, proposed, start=start, end=end)
            source = "stored_history"
        facilities = {a.facility_id for a in (*before, *after) if a.facility_id}
        async with self.ctx.db.read() as session:
            names = await facility_names(session, facilities)
        return backtest.report(
            current=current, proposed=proposed, source=source, before=before, after=after,
            postings=replayed.postings, first=replayed.first, last=replayed.last,
            max_changes=request.max_changes or DEFAULT_BACKTEST_CHANGES, facility_name=names,
        )

    async def GetMonitoringProfile(  # noqa: N802
        self,
        request: risk_service_pb2.GetMonitoringProfileRequest,
        context: grpc.aio.ServicerContext,
    ) -> monitoring_pb2.MonitoringProfile:
        """Return a client's monitoring profile (persons masked)."""
        client_id = names.parse(request, "name")["client"]
        async with self.ctx.db.read() as session:
            await access.check_client(session, current_principal(), client_id)
            row = await session.get(MonitoringProfileRow, client_id)
        if row is None:
            raise NotFound(f"{request.name} does not exist", reason="PROFILE_NOT_FOUND")
        return profile_message(row)

    async def UpdateMonitoringProfile(  # noqa: N802
        self,
        request: risk_service_pb2.UpdateMonitoringProfileRequest,
        context: grpc.aio.ServicerContext,
    ) -> monitoring_pb2.MonitoringProfile:
        """Replace a client's profile; the engine uses it from the client's next transaction."""
        principal = require_roles(*access.PROFILE_ROLES)
        client_id = PROFILE_NAME.parse(request.profile.name, f"{P}.name")["client"]
        profile, paths = masked_update(request.profile, request.update_mask)
        own, parties = parse_profile(profile)
        now = self.ctx.clock()

        async def store(session: AsyncSession) -> monitoring_pb2.MonitoringProfile:
            await access.check_client(session, principal, client_id)
            row = await save_profile(session, client_id, profile, own, parties, paths=paths,
                                     cipher=self.ctx.cipher, now=now)
            return profile_message(row)

        response = await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/UpdateMonitoringProfile",
            subject=principal.subject, response_type=monitoring_pb2.MonitoringProfile,
            work=store,
        )
        self.ctx.monitoring().invalidate(client_id)
        return response
