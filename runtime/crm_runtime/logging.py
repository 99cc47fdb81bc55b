"""structlog JSON logging with trace ids and personal-data masking."""

from __future__ import annotations

import datetime
import functools
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace

from crm_runtime.pii import DIGIT_RUN_LENGTH, LONG_DIGIT_RUN, SECRET_KEYS, scrub_value

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
        # (no run of 11 digits: a shorter string cannot) under a key that is not secret.
        # Everything else is scrubbed.
        kind = type(value)
        if kind is str:
            plain = len(value) < DIGIT_RUN_LENGTH or LONG_DIGIT_RUN.search(value) is None
        else:
            plain = kind in _PLAIN
        if plain and not _secret_key(key):
            continue
        event_dict[key] = scrub_value(key, value)
    return event_dict


@functools.lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    """Return True for a key whose value is never logged (log lines reuse a few keys)."""
    return key in SECRET_KEYS or key.lower() in SECRET_KEYS


_UTC = datetime.UTC
_render_json = structlog.processors.JSONRenderer()


def render_line(_: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
    """Assemble and render one JSON log line in a single step.

    Does what the processor chain merge_contextvars, add_log_level, TimeStamper(iso, UTC),
    add_trace_ids, format_exc_info, mask_personal_data and JSONRenderer does, with the same
    keys in the same order, but as one call on the one event dict: the RPC log line is
    written on every call, and six processor calls with structlog's loop around them cost
    a large share of a cached read.
    """
    structlog.contextvars.merge_contextvars(None, method_name, event_dict)
    event_dict["level"] = "warning" if method_name == "warn" else (
        "error" if method_name == "exception" else method_name)
    event_dict["timestamp"] = datetime.datetime.now(tz=_UTC).isoformat().replace(
        "+00:00", "Z")
    add_trace_ids(None, method_name, event_dict)
    if "exc_info" in event_dict:
        structlog.processors.format_exc_info(None, method_name, event_dict)
    mask_personal_data(None, method_name, event_dict)
    return str(_render_json(None, method_name, event_dict))


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
        processors=[render_line],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=cache,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a logger bound to a component name."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(component=name)
    return logger
