"""Tables of warnings, their signals and audit trail, and the monitoring stream's store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Float, Index, Integer, LargeBinary, String, Text, text
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL needs 64 bits for a
# transaction log that grows by thousands of rows a second.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class WarningRow(SQLModel, table=True):
    """An early warning. `open_key` equals `dedupe_key` while the warning is open and is NULL
    once it is closed, so the unique index allows one open warning per client, rule and scope."""

    __tablename__ = "risk_warning"
    __table_args__ = (Index("ix_risk_warning_client_seq", "client_id", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    client_id: str = Field(max_length=64)
    facility_id: str = Field(default="", max_length=36)
    rule: str = Field(max_length=64)
    source: str = Field(max_length=16)
    level: str = Field(max_length=8)
    base_level: str = Field(max_length=8)
    escalation_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    state: str = Field(max_length=16, index=True)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    dedupe_key: str = Field(sa_column=Column(String(255), nullable=False))
    open_key: str | None = Field(default=None, sa_column=Column(String(255), unique=True))
    owner: str = Field(default="", max_length=128, index=True)
    sla_due_time: datetime = Field(sa_column=utc_column())
    raise_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())
    acknowledge_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    close_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_by: str = Field(default="", max_length=128)
    close_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    confirmed: bool = False
    signal_count: int = 0
    version: int = 1


class WarningSignalRow(SQLModel, table=True):
    """One rule hit or external signal folded into a warning."""

    __tablename__ = "risk_warning_signal"

    seq: int | None = Field(default=None, primary_key=True)
    warning_seq: int = Field(foreign_key="risk_warning.seq", index=True)
    rule: str = Field(max_length=64)
    rule_version: str = Field(max_length=64)
    level: str = Field(max_length=8)
    message: str = Field(sa_column=Column(Text, nullable=False))
    evidence_json: str = Field(sa_column=Column(Text, nullable=False))
    facts_json: str = Field(sa_column=Column(Text, nullable=False))
    detect_time: datetime = Field(sa_column=utc_column())


class WarningActionRow(SQLModel, table=True):
    """Audit trail of a warning: raised, escalated, acknowledged, resolved, dismissed."""

    __tablename__ = "risk_warning_action"

    seq: int | None = Field(default=None, primary_key=True)
    warning_seq: int = Field(foreign_key="risk_warning.seq", index=True)
    action: str = Field(max_length=16)
    from_state: str = Field(max_length=16)
    to_state: str = Field(max_length=16)
    level: str = Field(max_length=8)
    actor: str = Field(max_length=128)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    action_time: datetime = Field(sa_column=utc_column())


class ExternalSignalRow(SQLModel, table=True):
    """An external signal about a client (litigation, tax arrears, ...)."""

    __tablename__ = "risk_external_signal"

    seq: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64, index=True)
    signal_type: str = Field(max_length=24)
    level: str = Field(max_length=8)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source_system: str = Field(default="", max_length=64)
    occur_time: datetime = Field(sa_column=utc_column())
    recorded_by: str = Field(max_length=128)
    warning_seq: int = Field(foreign_key="risk_warning.seq")
    record_time: datetime = Field(sa_column=utc_column())


class MonitorBatchRow(SQLModel, table=True):
    """One committed batch of the monitoring stream (its new postings, serialized): the log
    that replays engine state written after a unit's last checkpoint, and the history that
    rule-set back-tests replay (kept for MONITORING_HISTORY_DAYS). `partition` is the
    monitoring partition of the postings' tracing units (docs/MONITORING.md, "Partitions").

    `applied_seq` is the row's position in its partition's processing order, set by the
    partition's owner when it applies the postings to the windows (NULL while a row another
    replica received waits for the owner); the result columns are what the owner's
    processing gave, read back by the receiving replica for its acknowledgement."""

    __tablename__ = "risk_monitor_batch"
    __table_args__ = (Index("ix_risk_monitor_batch_partition_seq", "partition", "seq"),
                      Index("ix_risk_monitor_batch_receive_time", "receive_time"),
                      Index("ix_risk_monitor_batch_applied", "partition", "applied_seq",
                            unique=True),
                      Index("ix_risk_monitor_batch_pending", "partition", "seq",
                            postgresql_where=text("applied_seq IS NULL"),
                            sqlite_where=text("applied_seq IS NULL")))

    seq: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    partition: str = Field(max_length=64)
    batch_id: str = Field(default="", max_length=64)
    transaction_count: int
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    receive_time: datetime = Field(sa_column=utc_column())
    applied_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    accepted: int | None = None
    duplicates: int | None = None
    alert_count: int | None = None
    warnings_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class MonitorStateRow(SQLModel, table=True):
    """A tracing unit's engine state (a client, or a group at this bank) as of monitoring-log
    position `through_seq` (a batch seq)."""

    __tablename__ = "risk_monitor_state"

    unit_id: str = Field(primary_key=True, max_length=160)
    partition: str | None = Field(default=None, max_length=64, index=True)
    state: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    through_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    ruleset_label: str = Field(max_length=64)
    update_time: datetime = Field(sa_column=utc_column())


class MonitorPartitionRow(SQLModel, table=True):
    """A monitoring partition's lease: which replica owns it, under which epoch (fencing:
    every write of the owner checks it), until when (seconds since the epoch, database
    clock), and the last `applied_seq` of its log."""

    __tablename__ = "risk_monitor_partition"

    name: str = Field(primary_key=True, max_length=64)
    owner: str = Field(default="", max_length=128)
    epoch: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    lease_expires: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    applied_through: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class MonitorMemberRow(SQLModel, table=True):
    """A live risk replica taking part in monitoring (renewed by its heartbeat)."""

    __tablename__ = "risk_monitor_member"

    member_id: str = Field(primary_key=True, max_length=128)
    expires: float = Field(sa_column=Column(Float, nullable=False))


MONITORING_TABLES = [
    "risk_warning",
    "risk_warning_signal",
    "risk_warning_action",
    "risk_external_signal",
    "risk_monitor_batch",
    "risk_monitor_state",
    "risk_monitor_partition",
    "risk_monitor_member",
]
