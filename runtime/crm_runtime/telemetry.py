"""OpenTelemetry traces and metrics: OTLP when configured, in-process only otherwise.

The exporter endpoint comes from the standard OTEL_EXPORTER_OTLP_ENDPOINT variable, which the
SDK reads itself. Metrics are also served for Prometheus to scrape (`/metrics` on METRICS_PORT,
bound to the same host as the gRPC port) when that port is set; 0 turns the endpoint off.
Database spans come from the SQLAlchemy instrumentation of each store's engines, only while
traces are exported: with nothing to export them to they would be pure cost (trace_engines).
Trace context crosses gRPC calls through the instrumentation interceptors and crosses events
through the outbox envelope (see inject_context / extract_context).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

_provider: TracerProvider | None = None
_exporting = False
_statements_traced = False


def configure_telemetry(
    service: str,
    *,
    extra_processors: tuple[SpanProcessor, ...] = (),
    metrics_host: str = "127.0.0.1",
    metrics_port: int = 0,
) -> TracerProvider:
    """Install tracer and meter providers once per process and return the tracer provider."""
    global _provider, _exporting  # noqa: PLW0603 - the SDK keeps one provider per process.
    if _provider is not None:
        for processor in extra_processors:
            _provider.add_span_processor(processor)
        return _provider
    resource = Resource.create({"service.name": f"crm-{service}", "service.namespace": "crm"})
    provider = TracerProvider(resource=resource)
    readers: list[MetricReader] = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _exporting = True
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if metrics_port:
        readers.append(_prometheus_reader(metrics_host, metrics_port))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    _provider = provider
    return provider


def _prometheus_reader(host: str, port: int) -> MetricReader:
    """Serve the process's metrics at http://host:port/metrics (a daemon thread)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    reader = PrometheusMetricReader()
    start_http_server(port, addr=host)
    return reader


def traces_exported() -> bool:
    """Return True when spans leave the process (worth recording database spans for)."""
    return _provider is not None and _exporting


def trace_engines(engines: Iterable[AsyncEngine]) -> bool:
    """Record database client spans on these engines; return True if it does.

    Only while traces are exported: a span nobody receives is pure cost. Within that, only
    statements of sampled traces get spans (dbtracing), so OTEL_TRACES_SAMPLER sets the cost.
    """
    global _statements_traced  # noqa: PLW0603 - one store per process, traced once.
    if _statements_traced:
        return True
    if not traces_exported():
        return False
    from crm_runtime.dbtracing import trace_statements

    trace_statements(engines)
    _statements_traced = True
    return True


def shutdown_telemetry() -> None:
    """Flush and stop exporters (called on graceful shutdown)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def inject_context() -> dict[str, str]:
    """Return the current trace context as W3C headers for an outgoing event."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(carrier: Mapping[str, str]) -> otel_context.Context:
    """Return the trace context carried by an incoming event."""
    return propagate.extract(dict(carrier))
