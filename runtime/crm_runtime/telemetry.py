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
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_runtime.metrics import set_collecting

_provider: TracerProvider | None = None
_exporting = False
_recording = False
_statements_traced = False


def configure_telemetry(
    service: str,
    *,
    extra_processors: tuple[SpanProcessor, ...] = (),
    metrics_host: str = "127.0.0.1",
    metrics_port: int = 0,
) -> TracerProvider:
    """Install tracer and meter providers once per process and return the tracer provider."""
    global _provider, _exporting, _recording  # noqa: PLW0603 - one provider per process.
    if _provider is not None:
        for processor in extra_processors:
            _provider.add_span_processor(processor)
        _recording = _recording or bool(extra_processors)
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
    _recording = _exporting or bool(extra_processors)
    set_collecting(bool(readers))
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


def spans_recorded() -> bool:
    """Return False when telemetry is configured and no span processor would see a span.

    The server interceptor then skips the SDK's span (attributes, events, end time) and binds
    a non-recording span that only carries trace and span ids for the log line and for
    downstream calls. Before configuration (library use, some tests) it answers True, so
    whatever tracer provider is installed behaves as it always did.
    """
    return _provider is None or _recording


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


_PROPAGATED = ("traceparent", "baggage")


def unrecorded_span(
    carrier: Mapping[str, Any], name: str
) -> tuple[NonRecordingSpan, otel_context.Context | None]:
    """Return a non-recording span carrying ids, and the context `carrier` propagated
    (for when spans_recorded() is False).

    The ids follow what the SDK would give: the caller's trace id, flags and trace state
    (W3C context in `carrier`), a fresh span id, and for a call without a parent a fresh
    trace id with the configured sampler's decision, so downstream services that do record
    see the same sampling flags as before.
    """
    assert _provider is not None  # spans_recorded() is True until configured
    carried = None
    if any(key in carrier for key in _PROPAGATED):
        carried = propagate.extract(carrier)
    parent = trace.get_current_span(carried).get_span_context() if carried else None
    ids = _provider.id_generator
    if parent is not None and parent.is_valid:
        trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
    else:
        trace_id, state = ids.generate_trace_id(), None
        sampled = _provider.sampler.should_sample(carried, trace_id, name)
        flags = TraceFlags(TraceFlags.SAMPLED if sampled.decision is Decision.RECORD_AND_SAMPLE
                           else TraceFlags.DEFAULT)
    context = SpanContext(trace_id, ids.generate_span_id(), is_remote=False,
                          trace_flags=flags, trace_state=state)
    return NonRecordingSpan(context), carried


class IdsOnlySpan:
    """Binds an unrecorded_span as the current span for the duration of a call."""

    __slots__ = ("_carrier", "_name", "_token")

    def __init__(self, carrier: Mapping[str, Any], name: str) -> None:
        self._carrier = carrier
        self._name = name

    def __enter__(self) -> trace.Span:
        span, carried = unrecorded_span(self._carrier, self._name)
        self._token = otel_context.attach(trace.set_span_in_context(span, carried))
        return span

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        otel_context.detach(self._token)
