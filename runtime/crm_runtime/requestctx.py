"""Per-RPC context: request id and deadline, carried in context variables."""

from __future__ import annotations

import contextvars
import random
import time

REQUEST_ID_METADATA_KEY = "x-request-id"

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("crm_request_id", default="")
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "crm_deadline", default=None
)


def current_request_id() -> str:
    """Return the request id of the RPC being served, or an empty string."""
    return _request_id.get()


def new_request_id() -> str:
    """Return a fresh request id (unique enough to correlate logs; not a secret)."""
    return f"{random.getrandbits(64):016x}"


def bind(request_id: str, time_remaining: float | None) -> None:
    """Bind the request id and absolute deadline for the current task."""
    _request_id.set(request_id)
    _deadline.set(None if time_remaining is None else time.monotonic() + time_remaining)


def remaining_time() -> float | None:
    """Return seconds left before the incoming call's deadline, or None if it has none."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()
