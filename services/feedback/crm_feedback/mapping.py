"""The feedback service's own conversions: durations (well-known types: crm_runtime.wire)."""

from __future__ import annotations

from datetime import timedelta

from google.protobuf import duration_pb2


def duration(value: timedelta | None) -> duration_pb2.Duration | None:
    """Return a Duration, or None for an unknown one."""
    if value is None:
        return None
    message = duration_pb2.Duration()
    message.FromTimedelta(value)
    return message

