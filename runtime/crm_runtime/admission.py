"""Admission of calls into a process: a limit for unary calls and a separate one for streams.

grpc.aio's own `maximum_concurrent_rpcs` refuses in its core, before any interceptor runs: a
bare RESOURCE_EXHAUSTED ("Concurrent RPC limit exceeded!") with no RetryInfo, no log line, no
metric and no audit record, and under load callers saw CANCELLED (issue 11). Refusing here,
at once, with RESOURCE_EXHAUSTED and a RetryInfo tells a client to back off and retry, and the
refusal is counted, logged and (at the gateway) audited. Long-lived streams have their own
limit, so monitoring or push streams never starve unary calls of their slots, and the other
way round.
"""

from __future__ import annotations

from opentelemetry import metrics

from crm_runtime.errors import ResourceExhausted
from crm_runtime.logging import get_logger

log = get_logger("admission")
_refusals = metrics.get_meter("crm_runtime.admission").create_counter(
    "crm.rpc.server.overload_refusals", description="Calls refused because the process was full"
)
RETRY_AFTER_SECONDS = 0.2


class Admission:
    """Counts running unary calls and streams and refuses those beyond their limits."""

    def __init__(self, *, unary_limit: int, stream_limit: int) -> None:
        self.unary_limit = unary_limit
        self.stream_limit = stream_limit
        self.unary = 0
        self.streams = 0
        self.refused = 0

    def enter(self, method: str, *, stream: bool) -> None:
        """Count one more call, or raise RESOURCE_EXHAUSTED (counting nothing) when full."""
        if stream:
            if self.streams >= self.stream_limit:
                self._refuse(method, "streams", self.stream_limit)
            self.streams += 1
            return
        if self.unary >= self.unary_limit:
            self._refuse(method, "unary", self.unary_limit)
        self.unary += 1

    def leave(self, *, stream: bool) -> None:
        """Count one call of the kind as finished."""
        if stream:
            self.streams = max(0, self.streams - 1)
        else:
            self.unary = max(0, self.unary - 1)

    def _refuse(self, method: str, kind: str, limit: int) -> None:
        self.refused += 1
        _refusals.add(1, {"rpc.method": method, "kind": kind})
        log.warning("overloaded: call refused", rpc_method=method, kind=kind, limit=limit)
        raise ResourceExhausted(
            "the server is overloaded; retry later",
            reason="SERVER_OVERLOADED",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )
