"""structlog JSON logging with trace ids and personal-data masking."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace

from crm_runtime.pii import LONG_DIGIT_RUN, SECRET_KEYS, scrub_value

# Values that are never personal data in themselves (an int may be a mobile: not here).
_PLAIN = frozenset({float, bool, type(None)})

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def add_trace_ids(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add the current span's trace and span ids, so logs join up with traces."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def mask_personal_data(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask ID numbers, mobile numbers and secrets in every field before rendering."""
    for key, value in event_dict.items():
        # Fast path for the common case: a plain scalar that cannot hold an ID or a mobile
        # (no run of 11 digits) under a key that is not secret. Everything else is scrubbed.
        kind = type(value)
        plain = (kind is str and LONG_DIGIT_RUN.search(value) is None) or kind in _PLAIN
        if plain and key not in SECRET_KEYS and key.lower() not in SECRET_KEYS:
            continue
        event_dict[key] = scrub_value(key, value)
    return event_dict


def configure_logging(
    *,
    level: str = "info",
    service: str = "service",
    stream: TextIO | None = None,
    cache: bool = True,
) -> None:
    """Configure structlog to write one JSON object per line to `stream` (stdout by default).

    `cache` binds each logger once on first use (fast); tests pass False so that later
    reconfiguration (structlog.testing.capture_logs) still reaches every logger.
    """
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_trace_ids,
            structlog.processors.format_exc_info,
            mask_personal_data,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=cache,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a logger bound to a component name."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(component=name)
    return logger
