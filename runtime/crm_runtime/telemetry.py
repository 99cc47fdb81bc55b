"""OpenTelemetry traces and metrics: OTLP when configured, in-process only otherwise.

The exporter endpoint comes from the standard OTEL_EXPORTER_OTLP_ENDPOINT variable, which the
SDK reads itself. Trace context crosses gRPC calls through the instrumentation interceptors
and crosses events through the outbox envelope (see inject_context / extract_context).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_provider: TracerProvider | None = None


def configure_telemetry(
    service: str, *, extra_processors: tuple[SpanProcessor, ...] = ()
) -> TracerProvider:
    """Install tracer and meter providers once per process and return the tracer provider."""
    global _provider  # noqa: PLW0603 - the SDK itself keeps one provider per process.
    if _provider is not None:
        for processor in extra_processors:
            _provider.add_span_processor(processor)
        return _provider
    resource = Resource.create({"service.name": f"crm-{service}", "service.namespace": "crm"})
    provider = TracerProvider(resource=resource)
    readers = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    _provider = provider
    return provider


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
