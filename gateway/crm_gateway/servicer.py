"""The gateway's own API (crm.gateway.v1.GatewayService): reading and verifying its audit log.

The methods are plain coroutines from request to response; the proxy pipeline in front of
them authenticates, checks the auditor role and audits the call like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from google.protobuf import message, timestamp_pb2

from crm.gateway.v1 import audit_record_pb2, gateway_service_pb2
from crm_gateway.audit_chain import canonical_time
from crm_gateway.audit_query import list_records, verify_chains
from crm_gateway.models import AuditRow
from crm_runtime.db import Database
from crm_runtime.pagination import PageTokens, page_size

SERVICE_NAME = "crm.gateway.v1.GatewayService"
LocalMethod = Callable[[message.Message], Awaitable[message.Message]]


def _record_message(row: AuditRow) -> audit_record_pb2.AuditRecord:
    call_time = timestamp_pb2.Timestamp()
    call_time.FromJsonString(canonical_time(row.call_time))
    return audit_record_pb2.AuditRecord(
        name=f"auditRecords/{row.id}",
        chain=row.chain,
        sequence=row.seq,
        principal=row.principal,
        method=row.method,
        resource=row.resource,
        outcome=row.outcome,
        transport=row.transport,
        request_id=row.request_id,
        origin=row.origin,
        trace_id=row.trace_id,
        call_time=call_time,
        duration_micros=row.duration_micros,
        previous_hash=row.previous_hash,
        record_hash=row.record_hash,
    )


@dataclass
class GatewayApi:
    """Implementation of GatewayService over the audit store."""

    db: Database
    chain_key: bytes
    tokens: PageTokens

    async def list_audit_records(
        self, request: gateway_service_pb2.ListAuditRecordsRequest
    ) -> gateway_service_pb2.ListAuditRecordsResponse:
        """Return one page of audit records, oldest first."""
        size = page_size(request.page_size)
        query = {"principal": request.principal, "method": request.method}
        position = self.tokens.decode(request.page_token, query=query)
        after_id = int(position) if isinstance(position, int) else 0
        rows = await list_records(
            self.db,
            after_id=after_id,
            limit=size + 1,
            principal=request.principal,
            method=request.method,
        )
        reply = gateway_service_pb2.ListAuditRecordsResponse(
            audit_records=[_record_message(r) for r in rows[:size]]
        )
        if len(rows) > size and rows[size - 1].id is not None:
            reply.next_page_token = self.tokens.encode(rows[size - 1].id, query=query)
        return reply

    async def verify_audit_chain(
        self, request: gateway_service_pb2.VerifyAuditChainRequest
    ) -> gateway_service_pb2.VerifyAuditChainResponse:
        """Check every record of every chain (or of one chain)."""
        result = await verify_chains(self.db, self.chain_key, chain=request.chain)
        return gateway_service_pb2.VerifyAuditChainResponse(
            intact=result.intact,
            chain_count=result.chain_count,
            record_count=result.record_count,
            breaks=[
                audit_record_pb2.ChainBreak(
                    chain=b.chain,
                    sequence=b.sequence,
                    record=f"auditRecords/{b.record_id}" if b.record_id is not None else "",
                    problem=b.problem,
                )
                for b in result.breaks
            ],
        )

    def methods(self) -> dict[str, LocalMethod]:
        """Return the local methods by full gRPC path."""
        table: dict[str, Callable[..., Awaitable[message.Message]]] = {
            f"/{SERVICE_NAME}/ListAuditRecords": self.list_audit_records,
            f"/{SERVICE_NAME}/VerifyAuditChain": self.verify_audit_chain,
        }
        return table
