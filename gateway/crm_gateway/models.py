"""Tables of the gateway: its tamper-evident audit log of external calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column


class AuditRow(SQLModel, table=True):
    """One external call. `record_hash` covers every other column but `id` and the previous
    record's hash, so an edit, insertion or deletion inside a chain breaks the chain."""

    __tablename__ = "gateway_audit_record"
    __table_args__ = (
        UniqueConstraint("chain", "seq", name="uq_gateway_audit_chain_seq"),
        Index("ix_gateway_audit_principal", "principal", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=96)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    principal: str = Field(max_length=128)
    method: str = Field(sa_column=Column(String(256), nullable=False))
    resource: str = Field(sa_column=Column(String(256), nullable=False))
    outcome: str = Field(max_length=32)
    transport: str = Field(max_length=8)
    request_id: str = Field(max_length=64)
    origin: str = Field(max_length=128)
    trace_id: str = Field(max_length=32)
    call_time: datetime = Field(sa_column=utc_column())
    duration_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    previous_hash: str = Field(max_length=64)
    record_hash: str = Field(max_length=64)


GATEWAY_TABLES = ["gateway_audit_record"]
