"""The monitoring stream's metrics (OpenTelemetry instruments)."""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("crm_risk.monitoring")
_batch_latency = _meter.create_histogram(
    "crm.risk.monitoring.batch_latency", unit="ms",
    description="Receipt of a transaction batch to commit of it and its warnings",
)
_transactions = _meter.create_counter(
    "crm.risk.monitoring.transactions", description="Postings taken from the stream"
)
_rejected = _meter.create_counter(
    "crm.risk.monitoring.rejected", description="Postings refused on the stream"
)
_warnings = _meter.create_counter(
    "crm.risk.monitoring.warnings", description="Warnings raised or fed by monitoring alerts"
)


def record_batch(latency_ms: float, accepted: int, rejected: int) -> None:
    """Record one acknowledged batch."""
    _batch_latency.record(latency_ms)
    _transactions.add(accepted)
    _rejected.add(rejected)


def record_warnings(count: int) -> None:
    """Record warnings raised or fed by alerts."""
    _warnings.add(count)
