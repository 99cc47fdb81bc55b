"""The hot path's cheap telemetry gives what the full SDK path and processor chain gave.

- `unrecorded_span` (used when nothing records spans) carries the ids the SDK would give: the
  caller's trace id and sampling flags, a fresh span id, a fresh sampled root without parent;
  baggage travels on.
- `render_line` (the one log processor) writes the same fields, in the same order, with the
  same masking, as the seven-processor chain it replaced.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from crm_runtime.logging import add_trace_ids, mask_personal_data, render_line
from crm_runtime.telemetry import IdsOnlySpan, configure_telemetry, unrecorded_span

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def _ids(span: trace.Span) -> tuple[str, str, int]:
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x"), context.trace_flags


def test_child_of_a_sampled_caller_keeps_its_trace_and_flags() -> None:
    configure_telemetry("tests")
    span, _ = unrecorded_span({"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}, "/m")
    trace_id, span_id, flags = _ids(span)
    assert (trace_id, flags) == (PARENT_TRACE, 1)
    assert span_id not in (PARENT_SPAN, "0" * 16)
    assert not span.is_recording()


def test_child_of_an_unsampled_caller_stays_unsampled() -> None:
    configure_telemetry("tests")
    span, _ = unrecorded_span({"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-00"}, "/m")
    assert _ids(span)[0] == PARENT_TRACE
    assert _ids(span)[2] == 0


def test_a_root_gets_fresh_sampled_ids() -> None:
    configure_telemetry("tests")
    first, _ = unrecorded_span({}, "/m")
    second, _ = unrecorded_span({}, "/m")
    assert first.get_span_context().is_valid
    assert _ids(first)[2] == 1  # the default sampler (parent-based, always on) samples roots
    assert _ids(first)[0] != _ids(second)[0]


def test_bound_span_is_current_and_baggage_travels() -> None:
    configure_telemetry("tests")
    carrier = {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01", "baggage": "tenant=b1"}
    with IdsOnlySpan(carrier, "/m") as span:
        assert trace.get_current_span() is span
        assert baggage.get_baggage("tenant") == "b1"
    assert trace.get_current_span() is not span
    assert baggage.get_baggage("tenant", otel_context.get_current()) is None


def _old_chain(event: dict[str, Any]) -> dict[str, Any]:
    """The processor chain render_line replaced, run on a copy of `event`."""
    out: Any = dict(event)
    for processor in (structlog.contextvars.merge_contextvars,
                      structlog.processors.add_log_level,
                      structlog.processors.TimeStamper(fmt="iso", utc=True), add_trace_ids,
                      structlog.processors.format_exc_info, mask_personal_data,
                      structlog.processors.JSONRenderer()):
        out = processor(None, "info", out)
    return dict(json.loads(out))


def test_render_line_writes_what_the_chain_wrote() -> None:
    structlog.contextvars.bind_contextvars(service="render-test")
    event = {"component": "rpc", "rpc_method": "/x/Y", "code": "OK", "duration_ms": 0.5,
             "principal": "staff/rm-1", "mobile": "13812345678", "password": "hunter2",
             "event": "rpc"}
    try:
        with IdsOnlySpan({"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}, "/x/Y"):
            new = json.loads(render_line(None, "info", dict(event)))
            old = _old_chain(event)
    finally:
        structlog.contextvars.unbind_contextvars("service")
    assert list(new) == list(old)
    new.pop("timestamp"), old.pop("timestamp")
    assert new == old
    assert new["trace_id"] == PARENT_TRACE
    assert "13812345678" not in json.dumps(new) and "hunter2" not in json.dumps(new)
