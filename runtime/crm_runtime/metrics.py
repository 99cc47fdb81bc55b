"""Metrics every process shares: semantic-convention RPC durations and gauges fed by sources.

RPC durations follow the OpenTelemetry RPC semantic conventions as of semconv 1.26
(`rpc.server.duration`, `rpc.client.duration`, histograms in milliseconds, attributes
`rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`). The attribute dict of a
(method, status) pair is built once and reused, so recording a call allocates nothing of ours.

Gauges (outbox lag, queue depths, backlogs) are observable: the exporter asks for them at
collection time and each registered source answers from memory. Whatever needs the store
(counts of rows) is sampled by a background loop (`sample_every`), never per scrape.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import grpc
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from crm_runtime.logging import get_logger

log = get_logger("metrics")
_meter = metrics.get_meter("crm_runtime.metrics")

# Calls of this platform take from tens of microseconds (a cached read) to seconds (a
# report): the default buckets (0, 5, 10, 25 ms, ...) would put every fast call in one bucket.
DURATION_BUCKETS_MS = (
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
    10000.0,
)
_collecting = False


def set_collecting(collecting: bool) -> None:
    """Say whether any metric reader is configured (configure_telemetry calls this)."""
    global _collecting  # noqa: PLW0603 - one meter provider per process.
    _collecting = collecting


class DurationHistogram:
    """An RPC duration histogram that records nothing while no reader would ever see it.

    Without a Prometheus endpoint or an OTLP exporter (the default), the SDK would still
    check, wrap and aggregate every value: about a tenth of a cached GetClient's Python time.
    """

    __slots__ = ("_instrument",)

    def __init__(self, name: str, description: str) -> None:
        self._instrument = _meter.create_histogram(
            name, unit="ms", description=description,
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS_MS,
        )

    def record(self, value: float, attributes: Mapping[str, str | int]) -> None:
        """Record one duration in milliseconds, when something collects metrics."""
        if _collecting:
            self._instrument.record(value, attributes)


server_duration = DurationHistogram(
    "rpc.server.duration",
    "Duration of inbound RPCs, from arrival to the last response (semconv 1.26)",
)
client_duration = DurationHistogram(
    "rpc.client.duration", "Duration of outbound RPCs as the caller sees them (semconv 1.26)"
)

Attributes = Mapping[str, str | int]
T = TypeVar("T")
_STATUS_NUMBERS: dict[str, int] = {code.name: int(code.value[0]) for code in grpc.StatusCode}


def status_number(name: str) -> int:
    """Return the number of a gRPC status given by name ("NOT_FOUND" → 5; UNKNOWN if no such)."""
    return _STATUS_NUMBERS.get(name, 2)


@functools.lru_cache(maxsize=8192)
def rpc_attributes(method: str, status_code: int, transport: str = "") -> Attributes:
    """Return the (shared, never mutated) attributes of an RPC of `method` ending in a status.

    `method` is the gRPC path ("/crm.client.v1.ClientService/GetClient"). `transport` is set
    only by the gateway, whose HTTP face serves the same methods as its gRPC face.
    """
    service, _, name = method.lstrip("/").partition("/")
    attributes: dict[str, str | int] = {
        "rpc.system": "grpc",
        "rpc.service": service,
        "rpc.method": name,
        "rpc.grpc.status_code": status_code,
    }
    if transport:
        attributes["crm.transport"] = transport
    return attributes


Source = Callable[[], Iterable[tuple[float, Attributes]]]
# A registered source: what it reports now, or None once its owner is gone.
_Reader = Callable[[], Iterable[tuple[float, Attributes]] | None]


class ObservedGauge:
    """One observable gauge fed by any number of sources (one per relay, worker, queue).

    Sources are held weakly (bound methods, or a reader of an owner object), so a service
    that a test built and dropped stops reporting instead of being kept alive by its gauge.
    """

    def __init__(self, name: str, *, unit: str, description: str) -> None:
        self.name = name
        self._readers: list[_Reader] = []
        _meter.create_observable_gauge(
            name, callbacks=[self._observe], unit=unit, description=description
        )

    def add(self, source: Source) -> None:
        """Report what the bound method `source` returns at every collection."""
        method = weakref.WeakMethod(source)  # type: ignore[arg-type]

        def read() -> Iterable[tuple[float, Attributes]] | None:
            bound = method()
            return None if bound is None else bound()

        self._readers.append(read)

    def add_value(
        self, owner: T, read: Callable[[T], float], attributes: Attributes | None = None
    ) -> None:
        """Report `read(owner)` (a queue's length, from memory) while `owner` lives."""
        ref = weakref.ref(owner)
        fixed = dict(attributes or {})

        def single() -> Iterable[tuple[float, Attributes]] | None:
            target = ref()
            return None if target is None else ((float(read(target)), fixed),)

        self._readers.append(single)

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        observations: list[Observation] = []
        for reader in list(self._readers):
            try:
                values = reader()
                if values is None:
                    self._readers.remove(reader)
                    continue
                observations.extend(Observation(value, dict(attrs)) for value, attrs in values)
            except Exception as exc:  # One broken source must not hide the others.
                log.warning("metric source failed", metric=self.name, error=str(exc))
        return observations


_gauges: dict[str, ObservedGauge] = {}


def gauge(name: str, *, unit: str, description: str) -> ObservedGauge:
    """Return the process's gauge of that name (created once; the SDK keeps one per name)."""
    existing = _gauges.get(name)
    if existing is None:
        existing = _gauges[name] = ObservedGauge(name, unit=unit, description=description)
    return existing


def counter(name: str, *, unit: str, description: str) -> Any:
    """Return a monotonic counter (incremented in memory; cheap on the hot path)."""
    return _meter.create_counter(name, unit=unit, description=description)


async def sample_every(interval: float, sample: Callable[[], Awaitable[None]], what: str) -> None:
    """Run `sample` every `interval` seconds until cancelled; a failed sample is logged."""
    while True:
        try:
            await sample()
        except Exception as exc:  # The store may be down; the next sample tries again.
            log.warning("metric sample failed", sample=what, error=str(exc))
        await asyncio.sleep(interval)
